"""Training examples for the bootstrap model, in the generation modes it is asked for (llm/modes.py).

    from nngpt_core.llm.bootstrap.pairs import training_pairs
    pairs = training_pairs(corpus, template, tasks, seed=0, rename_share=0.75, delta_share=0.15)

Every synthetic hybrid of the training corpus becomes a crossover example (its network parent and
its donor's block section -> the hybrid) and every expanded variant a mutation example (its seed and
the named changes -> the variant), some answered as a unified diff (delta). The prompts are made by
the same plans generation uses, so the model learns exactly the requests it gets; since the hybrids
cover only the trained family pairs, what it writes for a held-out pair is new. Tasks (dataset,
shapes) are drawn per example, so the header varies as it does across real runs.

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
from functools import lru_cache

from nngpt_core.corpus.expander import Edit
from nngpt_core.corpus.training import TrainingCorpus, TrainingFile
from nngpt_core.llm.diffs import unified_diff
from nngpt_core.llm.modes import Plan, as_delta, crossover_plan, mutation_plan
from nngpt_core.llm.prompts import PromptTemplate, Reference, TaskSpec


KEPT_NAMES = {"Net", "supported_hyperparameters"}
KEPT_ATTRIBUTES = {"criteria", "optimizer", "device", "in_shape", "out_shape", "prm"}  # the LEMUR interface's own
_NAME_PARTS = (
    ("Conv", "Res", "Mix", "Dense", "Gate", "Fuse", "Split", "Stem", "Core", "Pool", "Skip", "Wide", "Deep", "Fast",
     "Light", "Dual", "Tri", "Spatial", "Channel", "Token", "Patch", "Cross", "Local", "Global"),
    ("Block", "Unit", "Layer", "Cell", "Stage", "Module", "Branch", "Path", "Op", "Mixer", "Net2", "Head"),
)
_DEFINED = re.compile(r"^(?:class|def) (\w+)", re.MULTILINE)


_ATTRIBUTE_PARTS = (("mix", "proj", "gate", "fuse", "path", "core", "unit", "tap", "lane", "stack", "scale", "bank"),
                    ("a", "b", "in", "out", "mid", "up", "lo", "hi", "x", "y", "z", "q"))
_CONSTANT_PARTS = (("MIX", "BASE", "RATE", "SPAN", "TAPS", "LANES", "GRID", "STEP", "SIZE", "FOLD"),
                   ("A", "B", "C", "N", "K", "M", "X", "Y"))
_ASSIGNED_ATTRIBUTE = re.compile(r"\bself\.(\w+)\s*(?:=|\+=|:)")
_CONSTANT = re.compile(r"^([A-Z][A-Z0-9_]*)\s*=", re.MULTILINE)


@lru_cache(maxsize=1)
def _library_names() -> frozenset[str]:
    """Names torch, its modules and tensors already use: an attribute of that name may be theirs."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    names = set(dir(torch)) | set(dir(nn)) | set(dir(F)) | set(dir(torch.Tensor)) | set(dir(nn.Module))
    for module in (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm, nn.Sequential, nn.ModuleList,
                   nn.MultiheadAttention, nn.Dropout, nn.Embedding, nn.LSTM, nn.GRU):
        names |= set(dir(module))
    return frozenset(names)


def _fresh(rng: random.Random, parts: tuple[tuple[str, ...], tuple[str, ...]], joiner: str, taken: set[str], text: str,
           digit_chance: float = 0.5) -> str:
    """A random name from `parts` (sometimes with a digit) that is not in `taken` (which receives it) nor in `text`."""
    while True:
        new = rng.choice(parts[0]) + joiner + rng.choice(parts[1]) + (str(rng.randint(2, 9)) if rng.random() < digit_chance else "")
        if new not in taken and not re.search(rf"\b{new}\b", text):
            taken.add(new)
            return new


def rename_helpers(codes: Sequence[str], rng: random.Random, identifiers: bool = False) -> list[str]:
    """`codes` with their top-level helper names replaced by random ones, one mapping for all.

    With `identifiers`, also the module constants and the attributes a class assigns to `self`
    (those no torch module or tensor has, so a rename never hits a library's attribute), so that no
    block's text can be recalled from memory: it can only be copied from the prompt."""
    joined = "\n".join(codes)
    # longest first (so no name is replaced inside a longer one), ties by name: a set's order depends on the hash seed
    names = sorted({name for name in _DEFINED.findall(joined) if name not in KEPT_NAMES}, key=lambda name: (-len(name), name))
    mapping: dict[str, str] = {}
    for name in names:
        # checked against the names given so far as they were given (a function's in snake case)
        new = _fresh(rng, _NAME_PARTS, "", set(mapping.values()), joined, digit_chance=0.3)
        if name.islower():
            new = re.sub(r"(?<!^)(?=[A-Z])", "_", new).lower()
        mapping[name] = new
    renamed = codes
    if mapping:
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, mapping)) + r")\b")
        renamed = [pattern.sub(lambda match: mapping[match.group(1)], code) for code in codes]
    if not identifiers:
        return list(renamed)
    taken = set(mapping.values())
    constants = {name: _fresh(rng, _CONSTANT_PARTS, "_", taken, joined) for name in sorted(set(_CONSTANT.findall(joined)))}
    attributes = {name: _fresh(rng, _ATTRIBUTE_PARTS, "_", taken, joined)
                  for name in sorted(set(_ASSIGNED_ATTRIBUTE.findall(joined)) - _library_names() - KEPT_ATTRIBUTES)}
    if constants:
        pattern = re.compile(r"(?<![.\w])(" + "|".join(map(re.escape, constants)) + r")\b")
        renamed = [pattern.sub(lambda match: constants[match.group(1)], code) for code in renamed]
    if attributes:
        pattern = re.compile(r"(?<=\.)(" + "|".join(map(re.escape, attributes)) + r")\b")
        renamed = [pattern.sub(lambda match: attributes[match.group(1)], code) for code in renamed]
    return list(renamed)


def _example(template: PromptTemplate, task: TaskSpec, plan: Plan, parent_code: str, target: str, delta: bool) -> dict[str, str]:
    if delta:
        plan = as_delta(plan)
        return template.pair(task, plan.references, unified_diff(parent_code, target), plan.instruction, plan.fence)
    return template.pair(task, plan.references, target, plan.instruction, plan.fence)


def crossover_example(template: PromptTemplate, task: TaskSpec, hybrid: TrainingFile, code_of: dict[str, str],
                      delta: bool = False) -> dict[str, str] | None:
    """Parent network and donor blocks -> the hybrid (or the diff from the network to it)."""
    network, donor = hybrid.parents
    plan = crossover_plan(Reference(network, code_of[network]), Reference(donor, code_of[donor]))
    return None if plan is None else _example(template, task, plan, code_of[network], hybrid.code, delta)


def mutation_example(template: PromptTemplate, task: TaskSpec, variant: TrainingFile, code_of: dict[str, str],
                     delta: bool = False) -> dict[str, str]:
    """A seed and the named changes -> its variant (or the diff from the seed to it)."""
    (seed_name,) = variant.parents
    plan = mutation_plan(Reference(seed_name, code_of[seed_name]), [Edit(knob, value) for knob, value in variant.edits])
    return _example(template, task, plan, code_of[seed_name], variant.code, delta)


def training_pairs(corpus: TrainingCorpus, template: PromptTemplate, tasks: Sequence[TaskSpec], seed: int = 0,
                   rename_share: float = 0.0, delta_share: float = 0.0, bare_share: float = 0.0,
                   rename_round: int = 0, rename_identifiers: bool = False) -> list[dict[str, str]]:
    """Prompt/completion pairs for every hybrid (crossover) and every variant (mutation) of the corpus.

    `delta_share` of them ask for the answer as a diff; `bare_share` of the seeds also appear as the
    answer to a prompt without references. `seed` fixes which pairs exist, their order and form;
    `rename_round` only draws the random helper names, so each epoch sees the same pairs under fresh
    names. A renamed pair has one mapping for its prompt and its completion; `rename_identifiers` renames
    its constants and attributes too."""
    rng = random.Random(seed)
    names_rng = random.Random(f"{seed}:{rename_round}")
    code_of = corpus.code_of()
    pairs = []
    for file in corpus.files:
        task, delta = rng.choice(tasks), rng.random() < delta_share
        if file.origin == "synthetic":
            pair = crossover_example(template, task, file, code_of, delta)
        elif file.origin == "expanded":
            pair = mutation_example(template, task, file, code_of, delta)
        else:
            pair = template.pair(task, [], file.code) if rng.random() < bare_share else None
        if pair is None:
            continue
        if rng.random() < rename_share:
            pair = dict(zip(("prompt", "completion"),
                            rename_helpers([pair["prompt"], pair["completion"]], names_rng, rename_identifiers)))
        pairs.append(pair)
    rng.shuffle(pairs)
    return pairs
