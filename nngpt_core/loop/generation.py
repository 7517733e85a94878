"""Stage 1, generate: sample the cycle's missing completions and store each batch as candidates at once.

A cycle wants `generation.candidates_per_cycle` candidates with indices 0..N-1. Batch b covers
indices [first, first + batch) and is seeded by (run seed, cycle, first), so a resumed cycle samples
exactly the batches that are missing and the same seed gives the same candidates.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from sqlalchemy import func, select

from nngpt_core.config import RunConfig
from nngpt_core.loop.runs import timed_stage
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Candidate, Cycle, Run

log = logging.getLogger("nngpt.loop")


def batch_seed(run_seed: int, cycle_index: int, first_index: int) -> int:
    """A seed below 2**30: it is stored in candidates.generation_seed, a 32-bit signed INTEGER on
    PostgreSQL, and sampling adds the batch number to it."""
    digest = hashlib.sha256(f"{run_seed}:{cycle_index}:{first_index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") >> 2


def stored_candidate_count(store: Store, cycle_id: int) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(Candidate).where(Candidate.cycle_id == cycle_id)) or 0


def static_check(cfg: RunConfig):
    """Rejection sampling's quick check: the prepare stage's static check, as one line (None: passes)."""
    from nngpt_core.sandbox.static import check_source

    def check(code: str) -> str | None:
        refusal = check_source(code, cfg.evaluation.allowed_imports)
        return f"{refusal.status}: {refusal.error}" if refusal else None

    return check


def planner_for(store: Store | None, cfg: RunConfig):
    """The planner of a run: the store's reference pool and families, and what the model was trained on."""
    from nngpt_core.corpus.training import TrainingCorpus
    from nngpt_core.llm.planner import Planner
    from nngpt_core.llm.references import lineage_families, reference_pool

    pool = reference_pool(store)
    corpus = TrainingCorpus.of_model(cfg.model.name_or_path)
    dataset = cfg.evaluation.dataset
    accuracies = recorded_accuracies(store, dataset) if cfg.generation.delta_request == "improve" else {}
    return Planner(pool, lineage_families(store, pool), cfg.generation.modes, corpus.trained_pairs,
                   corpus.pair_outcomes, cfg.generation.references_per_prompt, cfg.generation.delta_request,
                   accuracies, dataset, novel_against(store, cfg) if cfg.generation.novel_requests_only else None)


def novel_against(store: Store | None, cfg: RunConfig) -> Callable[[str], bool] | None:
    """Whether code would be novel against the store now, by the loop's lexical check (exact code and
    MinHash near duplicates); None without a store."""
    from nngpt_core.novelty.admission import assess
    from nngpt_core.novelty.compare import NOVEL
    from nngpt_core.novelty.normalize import code_hash
    from nngpt_core.novelty.signature import lexical_signature

    if store is None:
        return None

    def novel(code: str) -> bool:
        try:
            digest, signature = code_hash(code), lexical_signature(code, cfg.novelty)
        except SyntaxError:
            return False
        with store.session() as session:
            return assess(session, digest, {"lexical": signature}, cfg.novelty).verdict == NOVEL

    return novel


def recorded_accuracies(store: Store | None, dataset: str) -> dict[int, float]:
    """The best recorded accuracy of each architecture on `dataset` (ours, or imported records)."""
    from nngpt_core.store.models import Evaluation

    if store is None:
        return {}
    with store.session() as session:
        rows = session.execute(select(Evaluation.architecture_id, func.max(Evaluation.accuracy))
                               .where(Evaluation.dataset == dataset, Evaluation.accuracy.is_not(None))
                               .group_by(Evaluation.architecture_id)).all()
    return dict(rows)


def generate_candidates(store: Store, cfg: RunConfig, cycle_id: int) -> int:
    """Generate and store the candidates the cycle still lacks; returns how many were added."""
    from nngpt_core.llm.adapters import load_with_adapter
    from nngpt_core.llm.candidates import fits_context
    from nngpt_core.llm.candidates import generate_candidates as sample_candidates
    from nngpt_core.llm.prompts import PromptTemplate, TaskSpec

    wanted = cfg.generation.candidates_per_cycle
    have = stored_candidate_count(store, cycle_id)
    if have >= wanted:
        return 0
    with store.session() as session:
        cycle = session.get(Cycle, cycle_id)
        run = session.get(Run, cycle.run_id)
        run_id, run_seed, cycle_index, adapter_id = run.id, run.seed, cycle.index, cycle.adapter_in_id
    added = 0
    with timed_stage(store, cycle_id, "generate"):
        loaded = load_with_adapter(cfg.model, store, adapter_id)
        task = TaskSpec.for_dataset(cfg.evaluation.dataset, cfg.generation.param_budget)
        planner = planner_for(store, cfg)
        fits = fits_context(loaded, PromptTemplate.load(cfg.generation.prompt_template), task, cfg.generation)
        for first in range(have, wanted, cfg.generation.batch_size):
            size = min(cfg.generation.batch_size, wanted - first)
            seed = batch_seed(run_seed, cycle_index, first)
            plans = planner.draw(size, seed, fits)
            generated, stats = sample_candidates(loaded, cfg.generation, task, plans, seed, check=static_check(cfg))
            with store.session() as session:
                for offset, item in enumerate(generated):
                    session.add(Candidate(
                        run_id=run_id, cycle_id=cycle_id, index=first + offset, prompt=item.prompt,
                        completion=item.completion, code=item.code,
                        status="pending" if item.code else "no_code",
                        error=None if item.code else (item.problem or "no code block in the completion"),
                        reference_ids=item.reference_ids, generation_seed=item.generation_seed,
                        mode=item.mode, instruction=item.instruction, diff=item.diff, attempts=item.attempts,
                        temperature=item.temperature,
                    ))
            added += len(generated)
            log.info("cycle %d: generated %d/%d candidates (%.0f tokens/s)", cycle_index, first + size, wanted,
                     stats.tokens_per_s)
    return added
