"""Stage 5, select: the cycle's admitted candidates that become prompt/completion pairs for LoRA SFT.

The paper's rule: novel (admitted) and first-epoch accuracy >= `selection.min_accuracy` (0.40).
Top-up rule: when fewer than `selection.min_examples` qualify, the best remaining admitted
candidates (highest accuracy first, all above the admission bar and `selection.top_up_floor`)
fill up to that number, marked `top_up`. At most `selection.max_examples` are kept. A cycle that admitted nothing selects nothing,
trains no adapter, and the next cycle keeps the current one.

Each pair is the very prompt that produced the candidate and the completion the template expects
for its code, stored in sft_examples so any adapter can be rebuilt from the database. With
`selection.budget_in_pairs` (the paper: 1.5) the prompt's stated budget becomes that multiple of the
candidate's real parameter count.
"""

from __future__ import annotations

from sqlalchemy import func, select

from nngpt_core.config import RunConfig
from nngpt_core.loop.runs import timed_stage
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Candidate, Cycle, Evaluation, SftExample


def choose(candidates: list[Candidate], cfg: RunConfig) -> list[tuple[Candidate, str]]:
    """(candidate, reason) pairs from admitted candidates sorted best first."""
    rule = cfg.selection
    qualified = [c for c in candidates if c.accuracy >= rule.min_accuracy]
    chosen = [(c, "qualified") for c in qualified[: rule.max_examples]]
    if len(chosen) < rule.min_examples:
        rest = [c for c in candidates if rule.top_up_floor <= c.accuracy < rule.min_accuracy]
        chosen += [(c, "top_up") for c in rest[: rule.min_examples - len(chosen)]]
    return chosen


def pair_prompt(session, candidate: Candidate, template, cfg: RunConfig) -> str:
    """The candidate's prompt, its stated budget restated from its real size when the config asks."""
    multiple = cfg.selection.budget_in_pairs
    params = session.get(Evaluation, candidate.evaluation_id).params if multiple and candidate.evaluation_id else None
    return template.restate_budget(candidate.prompt, round(multiple * params)) if params else candidate.prompt


def select_sft_examples(store: Store, cfg: RunConfig, cycle_id: int) -> int:
    """Store the cycle's SFT examples once; returns how many the cycle has."""
    from nngpt_core.llm.prompts import PromptTemplate

    with timed_stage(store, cycle_id, "select"), store.session() as session:
        existing = session.scalar(select(func.count()).select_from(SftExample).where(SftExample.cycle_id == cycle_id))
        if existing:
            return existing
        cycle = session.get(Cycle, cycle_id)
        admitted = session.scalars(
            select(Candidate)
            .where(Candidate.cycle_id == cycle_id, Candidate.admitted.is_(True))
            .order_by(Candidate.accuracy.desc(), Candidate.index)
        ).all()
        template = PromptTemplate.load(cfg.generation.prompt_template)
        chosen = choose(list(admitted), cfg)
        for candidate, reason in chosen:
            session.add(SftExample(
                run_id=cycle.run_id, cycle_id=cycle_id, candidate_id=candidate.id,
                architecture_id=candidate.architecture_id, prompt=pair_prompt(session, candidate, template, cfg),
                completion=template.completion(candidate.code), reason=reason,
            ))
        return len(chosen)
