"""From a loaded model to candidate architectures: prompts with references, sampling, extraction.

    from nngpt_core.llm.candidates import generate_candidates, write_candidates
    candidates, stats = generate_candidates(loaded, cfg.generation, task, pool, n=16, seed=0)
    write_candidates(candidates, Path("out"))   # candidate_000.py ... and completions.jsonl

Each candidate records its prompt, the raw completion, the extracted code (None -> status `no_code`,
else `pending` until the evaluator has seen it), its references and the seed of its batch. Prompt i
draws its references with a generator seeded by (seed, i), so the prompts do not depend on batching.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nngpt_core.config import GenerationConfig
from nngpt_core.errors import NngptError
from nngpt_core.llm.extract import extract_code
from nngpt_core.llm.generate import SampleStats, sample
from nngpt_core.llm.loading import LoadedModel
from nngpt_core.llm.prompts import PromptTemplate, Reference, TaskSpec

COMPLETIONS_FILE = "completions.jsonl"
REDRAWS = 20  # attempts to draw several references that fit the context together


@dataclass
class GeneratedCandidate:
    index: int
    prompt: str
    completion: str
    code: str | None
    status: str  # no_code | pending
    references: list[str] = field(default_factory=list)
    reference_ids: list[int] = field(default_factory=list)
    generation_seed: int | None = None
    new_tokens: int = 0
    stopped: bool = False

    @property
    def filename(self) -> str:
        return f"candidate_{self.index:03d}.py"


def _prompt_budget(loaded: LoadedModel, gen: GenerationConfig) -> int | None:
    """Prompt tokens that leave room for half of max_new_tokens (None: no context limit known)."""
    limit = getattr(loaded.model.config, "max_position_embeddings", None)
    return None if limit is None else limit - gen.max_new_tokens // 2


def build_prompts(template: PromptTemplate, task: TaskSpec, pool: Sequence[Reference], n: int, per_prompt: int,
                  seed: int, count_tokens: Callable[[str], int], max_tokens: int | None) -> list[tuple[str, list[Reference]]]:
    """`n` prompts, each with `per_prompt` references drawn from the part of `pool` that fits the context."""
    if max_tokens is not None and per_prompt:
        pool = [ref for ref in pool if count_tokens(template.prompt(task, [ref])) <= max_tokens]
        if not pool:
            raise NngptError(f"no reference architecture fits the model's context (prompt limit {max_tokens} tokens); "
                             "lower generation.max_new_tokens or set generation.references_per_prompt: 0")
    k = min(per_prompt, len(pool))
    prompts = []
    for i in range(n):
        rng = random.Random(f"{seed}:{i}")
        for _ in range(REDRAWS):
            refs = rng.sample(list(pool), k)
            prompt = template.prompt(task, refs)
            if max_tokens is None or count_tokens(prompt) <= max_tokens:
                break
        else:
            raise NngptError(f"{k} references drawn together never fit the model's context of {max_tokens} prompt tokens; "
                             "lower generation.references_per_prompt")
        prompts.append((prompt, refs))
    return prompts


def generate_candidates(loaded: LoadedModel, gen: GenerationConfig, task: TaskSpec, pool: Sequence[Reference],
                        n: int, seed: int, batch_size: int | None = None,
                        on_batch: Callable[[int], None] | None = None) -> tuple[list[GeneratedCandidate], SampleStats]:
    """Sample `n` completions and extract their code."""
    template = PromptTemplate.load(gen.prompt_template)
    tokenizer = loaded.tokenizer
    prompts = build_prompts(template, task, pool, n, gen.references_per_prompt, seed,
                            lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]),
                            _prompt_budget(loaded, gen))
    completions, stats = sample(loaded, [p for p, _ in prompts], gen, seed=seed, batch_size=batch_size, on_batch=on_batch)
    candidates = []
    for index, ((prompt, refs), completion) in enumerate(zip(prompts, completions)):
        code = extract_code(completion.text)
        candidates.append(GeneratedCandidate(
            index=index, prompt=prompt, completion=completion.text, code=code,
            status="pending" if code else "no_code",
            references=[ref.name for ref in refs],
            reference_ids=[ref.architecture_id for ref in refs if ref.architecture_id is not None],
            generation_seed=completion.seed, new_tokens=completion.new_tokens, stopped=completion.stopped,
        ))
    return candidates, stats


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
