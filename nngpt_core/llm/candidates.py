"""From a loaded model and a batch of plans to candidate architectures, with rejection sampling.

    from nngpt_core.llm.candidates import generate_candidates, write_candidates
    plans = planner.draw(n=16, seed=0, fits=fits_context(loaded, template, task, cfg.generation))
    candidates, stats = generate_candidates(loaded, cfg.generation, task, plans, seed=0, check=static_check)
    write_candidates(candidates, Path("out"))   # candidate_000.py ... and completions.jsonl

Each candidate records its prompt, the raw completion, the code (extracted, or the parent with the
answer's diff applied; None -> status `no_code`, else `pending` until the evaluator has seen it), its
mode, instruction, parents and the seed of its batch. Rejection sampling (the paper's pipeline): an
answer that yields no code, or that `check` refuses (static check, interface), is sampled again, up
to `generation.attempts` times, each time `generation.temperature_step` hotter; with
`generation.error_feedback` the reason is added to the retried prompt. The last attempt is kept.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nngpt_core.config import GenerationConfig
from nngpt_core.llm.generate import SampleStats, sample
from nngpt_core.llm.loading import LoadedModel
from nngpt_core.llm.modes import Plan, answer_code
from nngpt_core.llm.prompts import PromptTemplate, TaskSpec

COMPLETIONS_FILE = "completions.jsonl"
ATTEMPT_SEED_STRIDE = 7919  # attempt k of a batch samples with seed + k * stride: new draws, reproducible


@dataclass
class GeneratedCandidate:
    index: int
    prompt: str
    completion: str
    code: str | None
    status: str  # no_code | pending
    mode: str = "full"
    instruction: str = ""
    diff: str | None = None
    problem: str | None = None  # why the last attempt was rejected (None: it passed the quick checks)
    attempts: int = 1
    temperature: float | None = None
    references: list[str] = field(default_factory=list)
    reference_ids: list[int] = field(default_factory=list)
    generation_seed: int | None = None
    new_tokens: int = 0
    stopped: bool = False

    @property
    def filename(self) -> str:
        return f"candidate_{self.index:03d}.py"


def prompt_budget(loaded: LoadedModel, gen: GenerationConfig) -> int | None:
    """Prompt tokens that leave room for half of max_new_tokens (None: no context limit known)."""
    limit = getattr(loaded.model.config, "max_position_embeddings", None)
    return None if limit is None else limit - gen.max_new_tokens // 2


def fits_context(loaded: LoadedModel, template: PromptTemplate, task: TaskSpec, gen: GenerationConfig) -> Callable[[Plan], bool]:
    """Whether a plan's prompt leaves room in the model's context (the planner's `fits`)."""
    budget = prompt_budget(loaded, gen)
    if budget is None:
        return lambda plan: True
    tokenizer = loaded.tokenizer
    return lambda plan: len(tokenizer(plan.prompt(template, task), add_special_tokens=False)["input_ids"]) <= budget


def _with_feedback(plan: Plan, problem: str) -> Plan:
    return dataclasses.replace(plan, instruction=f"{plan.instruction} The previous answer was refused ({problem}); write it again.")


def generate_candidates(loaded: LoadedModel, gen: GenerationConfig, task: TaskSpec, plans: Sequence[Plan], seed: int,
                        batch_size: int | None = None, on_batch: Callable[[int], None] | None = None,
                        check: Callable[[str], str | None] | None = None) -> tuple[list[GeneratedCandidate], SampleStats]:
    """One candidate per plan. `check(code)` returns why code is refused (None: accepted)."""
    template = PromptTemplate.load(gen.prompt_template)
    results: list[GeneratedCandidate | None] = [None] * len(plans)
    asked = list(plans)
    todo = list(range(len(plans)))
    totals = SampleStats(0, 0, 0.0)
    for attempt in range(gen.attempts):
        temperature = gen.temperature + attempt * gen.temperature_step
        settings = gen.model_copy(update={"temperature": temperature})
        prompts = [asked[i].prompt(template, task) for i in todo]
        completions, stats = sample(loaded, prompts, settings, seed=seed + attempt * ATTEMPT_SEED_STRIDE,
                                    batch_size=batch_size, on_batch=on_batch)
        totals = SampleStats(totals.completions + stats.completions, totals.new_tokens + stats.new_tokens,
                             totals.seconds + stats.seconds)
        for i, prompt, completion in zip(todo, prompts, completions):
            plan = asked[i]
            code, diff, problem = answer_code(plan, completion.text)
            if code is None:
                problem = problem or "no code in the answer"
            elif check is not None:
                problem = check(code)
            results[i] = GeneratedCandidate(
                index=i, prompt=prompt, completion=completion.text, code=code, status="pending" if code else "no_code",
                mode=plan.mode, instruction=plan.instruction, diff=diff, problem=problem, attempts=attempt + 1,
                temperature=temperature, references=[ref.name for ref in plan.references], reference_ids=plan.parent_ids,
                generation_seed=completion.seed, new_tokens=completion.new_tokens, stopped=completion.stopped,
            )
            if problem and gen.error_feedback:
                asked[i] = _with_feedback(plans[i], problem)
        todo = [i for i in todo if results[i].problem]
        if not todo:
            break
    return [result for result in results if result is not None], totals


def write_candidates(candidates: Sequence[GeneratedCandidate], out_dir: Path) -> Path:
    """One .py per candidate with code, and completions.jsonl with every completion and its status."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl = out_dir / COMPLETIONS_FILE
    with jsonl.open("w", encoding="utf-8") as handle:
        for candidate in candidates:
            record = asdict(candidate)
            record["file"] = candidate.filename if candidate.code else None
            handle.write(json.dumps(record) + "\n")
            if candidate.code:
                (out_dir / candidate.filename).write_text(candidate.code, encoding="utf-8")
    return jsonl
