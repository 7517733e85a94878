"""Training examples for the bootstrap model: "prompt with a reference architecture -> a close variant".

    from nngpt_core.llm.bootstrap.pairs import variant_pairs
    pairs = variant_pairs(sources, template, tasks, references_per_target=2, bare_share=0.1, seed=0)

Each corpus file becomes the completion of prompts that carry one of its nearest neighbours as the
reference (similarity = Jaccard of the sets of stripped source lines, so variants of one seed find
each other whatever their names). The model thus learns what generation asks of it: write a close
but different variant of the architecture in the prompt. A share of prompts carries no reference,
so prompting without retrieval still works. Tasks (dataset, shapes) are drawn per example, so the
header varies as it does across real runs.

In `rename_share` of the pairs, the helper classes and functions (every top-level name but `Net`
and `supported_hyperparameters`) get random names, the same in reference and target. Those names
can only be predicted by reading them from the reference, which teaches the model to take its
building blocks from the prompt (each epoch draws new names, so they cannot be memorized): trained without it, the model recalled blocks from memory, mixed
families, and used names it never defined.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from nngpt_core.llm.prompts import PromptTemplate, Reference, TaskSpec


KEPT_NAMES = {"Net", "supported_hyperparameters"}
_NAME_PARTS = (
    ("Conv", "Res", "Mix", "Dense", "Gate", "Fuse", "Split", "Stem", "Core", "Pool", "Skip", "Wide", "Deep", "Fast",
     "Light", "Dual", "Tri", "Spatial", "Channel", "Token", "Patch", "Cross", "Local", "Global"),
    ("Block", "Unit", "Layer", "Cell", "Stage", "Module", "Branch", "Path", "Op", "Mixer", "Net2", "Head"),
)
_DEFINED = re.compile(r"^(?:class|def) (\w+)", re.MULTILINE)


def rename_helpers(codes: Sequence[str], rng: random.Random) -> list[str]:
    """`codes` with their top-level helper names replaced by random ones, one mapping for all."""
    joined = "\n".join(codes)
    names = sorted({name for name in _DEFINED.findall(joined) if name not in KEPT_NAMES}, key=len, reverse=True)
    mapping: dict[str, str] = {}
    for name in names:
        while True:
            new = rng.choice(_NAME_PARTS[0]) + rng.choice(_NAME_PARTS[1]) + (str(rng.randint(2, 9)) if rng.random() < 0.3 else "")
            if new not in mapping.values() and not re.search(rf"\b{new}\b", joined):
                break
        if name.islower():
            new = re.sub(r"(?<!^)(?=[A-Z])", "_", new).lower()
        mapping[name] = new
    if not mapping:
        return list(codes)
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, mapping)) + r")\b")
    return [pattern.sub(lambda match: mapping[match.group(1)], code) for code in codes]


def _line_set(code: str) -> frozenset[str]:
    return frozenset(line.strip() for line in code.splitlines() if line.strip())


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def nearest_neighbours(sources: Sequence[tuple[str, str]], k: int) -> list[list[int]]:
    """For each source, the indices of its k most similar other sources (most similar first)."""
    lines = [_line_set(code) for _, code in sources]
    neighbours = []
    for i, own in enumerate(lines):
        scored = sorted(((_jaccard(own, other), j) for j, other in enumerate(lines) if j != i and other != own), reverse=True)
        neighbours.append([j for _, j in scored[:k]])
    return neighbours


def variant_pairs(
    sources: Sequence[tuple[str, str]],
    template: PromptTemplate,
    tasks: Sequence[TaskSpec],
    references_per_target: int = 2,
    bare_share: float = 0.1,
    seed: int = 0,
    rename_share: float = 0.0,
    rename_round: int = 0,
) -> list[dict[str, str]]:
    """Prompt/completion pairs: every source as the variant of each of its nearest neighbours.

    `seed` fixes which pairs exist, their order and which are renamed; `rename_round` only draws the
    random names, so each training epoch can see the same pairs under fresh names."""
    rng = random.Random(seed)
    names_rng = random.Random(f"{seed}:{rename_round}")
    pairs = []
    for (name, code), near in zip(sources, nearest_neighbours(sources, references_per_target)):
        for j in near:
            ref_name, ref_code = sources[j]
            target = code
            if rng.random() < rename_share:
                ref_code, target = rename_helpers([ref_code, code], names_rng)
            pairs.append(template.pair(rng.choice(tasks), [Reference(ref_name, ref_code)], target))
        if rng.random() < bare_share:
            pairs.append(template.pair(rng.choice(tasks), [], code))
    rng.shuffle(pairs)
    return pairs
