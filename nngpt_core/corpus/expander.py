"""Expand the hand-written seeds into many distinct, checked source variants.

    from nngpt_core.corpus.expander import expanded_sources
    for name, code in expanded_sources(n=1000, seed=0):     # lazy, deterministic given (n, seed)
        ...

Each variant changes one to three knobs of one seed: a module-level constant (WIDTH, DEPTH, KERNEL,
ACTIVATION, NORM, DOWNSAMPLE, POOL, ...) or a block-order rewrite (normalization after the activation,
activation inside the residual branch). Edits splice new text into the seed's own source, so a variant
keeps the house style line for line. A variant is yielded only if its normalized code is new and it
builds, trains a step and returns batch x classes on 1x8x8 and 3x32x32 within the size budget.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from nngpt_core.corpus.sources import seed_sources
from nngpt_core.errors import NngptError
from nngpt_core.novelty.normalize import code_hash

MAX_PARAMS = 500_000
MAX_FLOPS = 60_000_000  # forward FLOPs per 3x32x32 sample: one CPU epoch of digits32 stays within seconds
ATTEMPTS_PER_VARIANT = 20

ACTIVATIONS = ["nn.ReLU", "nn.GELU", "nn.SiLU", "nn.LeakyReLU", "nn.ELU", "nn.Hardswish", "nn.Mish", "nn.ReLU6", "nn.CELU", "nn.SELU"]
# Only swaps that still learn in one epoch: without BatchNorm2d (none, or InstanceNorm2d) a spot check
# of 100 variants found every such file at chance accuracy after one epoch on digits and digits32.
NORMS = {"nn.LayerNorm": ["nn.RMSNorm"], "nn.BatchNorm1d": ["nn.LayerNorm"]}
CHOICES = {
    "DEPTH": lambda d: [d - 1, d + 1, d + 2],
    "STAGES": lambda d: [d - 1, d + 1],
    "KERNEL": lambda d: [3, 5, 7, 9],
    "STEM_KERNEL": lambda d: [3, 5, 7],
    "EXPANSION": lambda d: [2, 3, 4, 6],
    "GROWTH": lambda d: [6, 8, 12, 16, 24],
    "GROUPS": lambda d: [2, 4, 8, 16],
    "REDUCTION": lambda d: [2, 4, 8, 16],
    "HEADS": lambda d: [1, 2, 4, 8],
    "GRID": lambda d: [2, 4, 8],
    "SCALES": lambda d: [2, 3, 4],
    "ALPHA": lambda d: [16, 24, 32, 48, 64, 96],
    "COLUMNS": lambda d: [2, 3, 4],
    "PIECES": lambda d: [2, 3, 4],
    "STEPS": lambda d: [1, 2, 3, 4],
    "WIDEN": lambda d: [2, 3, 4],
    "HIDDEN": lambda d: [64, 96, 128, 192, 256],
    "LEVELS": lambda d: [(1,), (1, 2), (1, 2, 4), (1, 3), (1, 2, 3)],
    "WIDTH": lambda d: [max(4, round(d * factor / 4) * 4) for factor in (0.5, 0.75, 1.25, 1.5, 2)],
}
SYMBOLIC_CHOICES = {
    "ACTIVATION": lambda d: ACTIVATIONS,
    "NORM": lambda d: NORMS.get(d, []),
    "DOWNSAMPLE": lambda d: ["nn.MaxPool2d", "nn.AvgPool2d"],
    "POOL": lambda d: ["nn.AdaptiveAvgPool2d", "nn.AdaptiveMaxPool2d"],
}


@dataclass(frozen=True)
class Edit:
    """One change: a knob set to a value (source text), or a named rewrite of the code."""

    knob: str
    value: str

    @property
    def slug(self) -> str:
        """A short file-name part: 'width24', 'activation-gelu', 'levels1-2-4', 'norm-after-act'."""
        if self.knob.startswith("~"):
            return self.knob[1:]
        value = self.value.removeprefix("nn.").lower().strip("()").replace(", ", "-").rstrip(",")
        separator = "" if value[0].isdigit() else "-"
        return f"{self.knob.lower().replace('_', '')}{separator}{value}"


def _is_attribute_call(node: ast.AST, attribute: str) -> bool:
    return (isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords
            and isinstance(node.func, ast.Attribute) and node.func.attr == attribute
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "self")


def _norm_after_act(node: ast.AST) -> ast.AST | None:
    """self.act(self.norm(X)) -> self.norm(self.act(X))."""
    if _is_attribute_call(node, "act") and _is_attribute_call(node.args[0], "norm"):
        inner = node.args[0]
        return ast.Call(func=inner.func, args=[ast.Call(func=node.func, args=inner.args, keywords=[])], keywords=[])
    return None


def _act_in_branch(node: ast.AST) -> ast.AST | None:
    """self.act(A + B) -> self.act(A) + B: the residual sum is left unactivated."""
    if _is_attribute_call(node, "act") and isinstance(node.args[0], ast.BinOp) and isinstance(node.args[0].op, ast.Add):
        total = node.args[0]
        return ast.BinOp(left=ast.Call(func=node.func, args=[total.left], keywords=[]), op=ast.Add(), right=total.right)
    return None


REWRITES: dict[str, Callable[[ast.AST], ast.AST | None]] = {
    "~norm-after-act": _norm_after_act,
    "~act-in-branch": _act_in_branch,
}


class _Rewriter(ast.NodeTransformer):
    def __init__(self, rule: Callable[[ast.AST], ast.AST | None]):
        self.rule = rule

    def visit(self, node: ast.AST) -> ast.AST:
        node = self.generic_visit(node)
        return self.rule(node) or node


def _offsets(code: str) -> list[int]:
    starts, total = [], 0
    for line in code.splitlines(keepends=True):
        starts.append(total)
        total += len(line.encode())
    return starts


def _splice(code: str, replacements: list[tuple[ast.AST, str]]) -> str:
    """Replace each node's source span with new text (spans must not overlap)."""
    data, starts = code.encode(), _offsets(code)
    spans = [(starts[n.lineno - 1] + n.col_offset, starts[n.end_lineno - 1] + n.end_col_offset, text) for n, text in replacements]
    for start, end, text in sorted(spans, reverse=True):
        data = data[:start] + text.encode() + data[end:]
    return data.decode()


def _outermost_matches(tree: ast.AST, rule: Callable[[ast.AST], ast.AST | None]) -> list[ast.AST]:
    matches, pending = [], [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.expr) and rule(node) is not None:
            matches.append(node)
        else:
            pending.extend(ast.iter_child_nodes(node))
    return matches


def knobs(code: str) -> dict[str, ast.expr]:
    """The module-level constants of a corpus file that the expander may change: name -> value node."""
    found = {}
    for node in ast.parse(code).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in CHOICES.keys() | SYMBOLIC_CHOICES.keys()):
            found[node.targets[0].id] = node.value
    return found


def possible_edits(code: str) -> list[Edit]:
    """Every single edit applicable to `code` that changes it."""
    edits = []
    for name, node in knobs(code).items():
        current = ast.unparse(node)
        if name in CHOICES:
            numbers = CHOICES[name](ast.literal_eval(node))
            values = [repr(value) for value in numbers if not isinstance(value, int) or value >= 1]
        else:
            values = SYMBOLIC_CHOICES[name](current)
        edits += [Edit(name, value) for value in dict.fromkeys(values) if value != current]
    tree = ast.parse(code)
    edits += [Edit(name, "") for name, rule in REWRITES.items() if _outermost_matches(tree, rule)]
    return edits


def apply_edits(code: str, edits: list[Edit]) -> str:
    """`code` with each knob set to its new value and each rewrite applied, formatting kept."""
    values = {edit.knob: edit.value for edit in edits if not edit.knob.startswith("~")}
    constants = knobs(code)
    code = _splice(code, [(constants[name], value) for name, value in values.items()])
    for edit in edits:
        if edit.knob.startswith("~"):
            rule = REWRITES[edit.knob]
            matches = _outermost_matches(ast.parse(code), rule)
            code = _splice(code, [(node, ast.unparse(_Rewriter(rule).visit(node))) for node in matches])
    return code


def variant_name(seed_name: str, edits: list[Edit]) -> str:
    return "__".join([seed_name, *(edit.slug for edit in edits)])


def _sample_edits(rng: random.Random, options: list[Edit]) -> list[Edit]:
    count = rng.choices((1, 2, 3), weights=(3, 4, 3))[0]
    chosen: dict[str, Edit] = {}
    for edit in rng.sample(options, len(options)):
        if edit.knob not in chosen:
            chosen[edit.knob] = edit
        if len(chosen) == count:
            break
    order = [edit.knob for edit in options]
    return sorted(chosen.values(), key=lambda edit: order.index(edit.knob))


def within_budget(code: str) -> bool:
    """True when `code` builds, trains a step and runs on both probe shapes within the size budget."""
    from nngpt_core.corpus.probe import probe  # torch is imported only when variants are made

    return probe(code, max_params=MAX_PARAMS, max_flops=MAX_FLOPS).ok


@dataclass(frozen=True)
class Variant:
    name: str
    seed: str  # the seed file it varies
    edits: tuple[Edit, ...]
    code: str


def expanded_sources(n: int = 1000, seed: int = 0) -> Iterator[tuple[str, str]]:
    """Yield `n` (name, code) variants of the seeds: `expanded_variants` without the edits."""
    return ((variant.name, variant.code) for variant in expanded_variants(n, seed))


def expanded_variants(n: int = 1000, seed: int = 0) -> Iterator[Variant]:
    """Yield `n` variants of the seeds, distinct by normalized-code hash from each other and from the
    seeds, each checked by `probe`. Deterministic given (n, seed); families take turns, in a shuffled
    order each round, so any prefix of the stream covers the families evenly."""
    if n < 0:
        raise NngptError(f"the number of expanded files must be at least 0, got {n}")
    rng = random.Random(seed)
    seeds = seed_sources()
    options = {name: possible_edits(code) for name, code in seeds}
    seen = {code_hash(code) for _, code in seeds}
    produced = 0
    while produced < n:
        produced_this_round = 0
        for name, code in rng.sample(seeds, len(seeds)):
            if produced == n:
                return
            for _ in range(ATTEMPTS_PER_VARIANT):
                edits = _sample_edits(rng, options[name])
                variant = apply_edits(code, edits)
                digest = code_hash(variant)
                if digest in seen:
                    continue
                seen.add(digest)
                if within_budget(variant):
                    produced += 1
                    produced_this_round += 1
                    yield Variant(variant_name(name, edits), name, tuple(edits), variant)
                    break
        if produced_this_round == 0:
            raise NngptError(f"the seeds ran out of distinct valid variants after {produced} files")
