"""Crossover of two corpus files: the network of one parent built from the blocks of another.

    from nngpt_core.corpus.crossover import transplant, main_block, donor_section
    hybrid = transplant(skeleton_code, donor_code)     # None when the parents cannot be combined
    main_block(code)                                   # 'ResidualBlock': the class Net repeats in its body
    donor_section(code)                                # the donor's block with its helpers and constants

A house-style file (see style.py) is module constants, helper classes and functions, and `Net`,
whose `__init__` repeats one helper class, the main block, in a loop. The hybrid keeps everything of
the skeleton parent (constants, stem, stage schedule, head, the helpers its network still uses) and
puts the donor's main block, with the helpers and constants it needs, where the skeleton's own block
was; each call of the old block becomes a call of the new one with the arguments the donor accepts.
Spliced from the parents' own source text, so the hybrid keeps the house style line for line. It is
an operator on text: whether the hybrid builds and learns is for the probe (expander) or the
evaluator to say.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

KEPT_TOP_LEVEL = {"Net", "supported_hyperparameters"}


@dataclass(frozen=True)
class FileParts:
    """The top-level pieces of a house-style file, each with its exact source text."""

    docstring: str | None
    imports: list[str]
    constants: dict[str, str]  # name -> the whole assignment line(s)
    helpers: dict[str, str]  # helper class or function name -> source, in file order
    hyperparameters: str
    net: str
    net_node: ast.ClassDef

    @classmethod
    def parse(cls, code: str) -> FileParts:
        """The parts of `code` (cached: crossover looks at the same parents many times; do not mutate)."""
        return _parse_parts(code)

    @classmethod
    def _parse(cls, code: str) -> FileParts:
        tree = ast.parse(code)
        docstring = ast.get_docstring(tree, clean=False)
        imports, constants, helpers = [], {}, {}
        hyperparameters = net = None
        net_node = None
        for node in tree.body:
            source = ast.get_source_segment(code, node)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append(source)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                constants[node.targets[0].id] = source
            elif isinstance(node, ast.FunctionDef) and node.name == "supported_hyperparameters":
                hyperparameters = source
            elif isinstance(node, ast.ClassDef) and node.name == "Net":
                net, net_node = source, node
            elif isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                helpers[node.name] = source
        if net is None or hyperparameters is None:
            raise ValueError("not a house-style file: no Net or no supported_hyperparameters()")
        return cls(docstring, imports, constants, helpers, hyperparameters, net, net_node)


@lru_cache(maxsize=4096)
def _parse_parts(code: str) -> FileParts:
    return FileParts._parse(code)


@lru_cache(maxsize=16384)
def _names(source: str) -> frozenset[str]:
    return frozenset(node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name))


def _closure(roots: Iterable[str], parts: FileParts, exclude: frozenset[str] = frozenset()) -> list[str]:
    """Helper names reachable from `roots` (source snippets), in file order, never through `exclude`."""
    pending, seen = list(roots), set(exclude)
    while pending:
        names = _names(pending.pop())
        for name in names & parts.helpers.keys() - seen:
            seen.add(name)
            pending.append(parts.helpers[name])
    return [name for name in parts.helpers if name in seen - exclude]


def _constants_used(sources: Iterable[str], parts: FileParts) -> list[str]:
    used = set().union(*(_names(source) for source in sources))
    return [name for name in parts.constants if name in used]


def _loop_depths(init: ast.FunctionDef) -> dict[str, int]:
    """For each name called inside loops or comprehensions of a function, its deepest loop nesting."""
    depths: dict[str, int] = {}

    def visit(node: ast.AST, depth: int) -> None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and depth:
            depths[node.func.id] = max(depths.get(node.func.id, 0), depth)
        inner = depth + isinstance(node, (ast.For, ast.While, ast.ListComp, ast.GeneratorExp))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(init, 0)
    return depths


def _net_init(parts: FileParts) -> ast.FunctionDef | None:
    return next((n for n in parts.net_node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)


@lru_cache(maxsize=4096)
def main_block(code: str) -> str | None:
    """The helper class Net.__init__ instantiates in its most deeply nested loop (the last defined, on a tie)."""
    parts = FileParts.parse(code)
    init = _net_init(parts)
    if init is None:
        return None
    depths = _loop_depths(init)
    classes = [name for name in parts.helpers if name in depths and parts.helpers[name].startswith("class ")]
    if not classes:
        return None
    deepest = max(depths[name] for name in classes)
    return [name for name in classes if depths[name] == deepest][-1]


def _init_signature(class_source: str) -> tuple[int, int, list[str]] | None:
    """(required positional parameters, all positional parameters, their names) of a class's __init__."""
    node = ast.parse(class_source).body[0]
    init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if init is None or init.args.vararg or init.args.kwonlyargs:
        return None
    names = [arg.arg for arg in init.args.args[1:]]
    return len(names) - len(init.args.defaults), len(names), names


def donor_section(code: str) -> str | None:
    """The donor's main block with its helpers and the constants they use: what a crossover prompt shows."""
    parts = FileParts.parse(code)
    block = main_block(code)
    if block is None:
        return None
    helpers = _closure([parts.helpers[block]], parts) if block in parts.helpers else []
    helpers = [name for name in parts.helpers if name in set(helpers) | {block}]
    constants = _constants_used((parts.helpers[name] for name in helpers), parts)
    return "\n".join(parts.constants[name] for name in constants) + "\n\n\n" + "\n\n\n".join(parts.helpers[n] for n in helpers) + "\n"


def _fresh(name: str, taken: set[str]) -> str:
    for suffix in range(2, 100):
        if f"{name}{suffix}" not in taken:
            return f"{name}{suffix}"
    raise ValueError(f"no fresh name for {name}")


def _rename(source: str, mapping: dict[str, str]) -> str:
    """`source` with the Name and def/class identifiers of `mapping` replaced (token-exact, via the AST)."""
    if not mapping:
        return source
    tree = ast.parse(source)
    spans = []
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in mapping:
            spans.append((starts[node.lineno - 1] + node.col_offset, len(node.id), mapping[node.id]))
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name in mapping:
            keyword = "class " if isinstance(node, ast.ClassDef) else "def "
            offset = starts[node.lineno - 1] + lines[node.lineno - 1].index(keyword + node.name) + len(keyword)
            spans.append((offset, len(node.name), mapping[node.name]))
    for start, length, new in sorted(spans, reverse=True):
        source = source[:start] + new + source[start + length:]
    return source


def _retarget_calls(net_source: str, old: str, new: str, accepted: int, required: int) -> str | None:
    """Net's source with every call `old(args)` made `new(args[:accepted])`; None if a call has too few."""
    tree = ast.parse(net_source)
    lines = net_source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    edits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == old:
            if node.keywords or len(node.args) < required:
                return None
            args = ", ".join(ast.get_source_segment(net_source, arg) for arg in node.args[:accepted])
            start = starts[node.lineno - 1] + node.col_offset
            end = starts[node.end_lineno - 1] + node.end_col_offset
            edits.append((start, end, f"{new}({args})"))
    if not edits:
        return None
    for start, end, text in sorted(edits, reverse=True):
        net_source = net_source[:start] + text + net_source[end:]
    return net_source


def crossover_docstring(network: str, donor: str, new: str) -> str:
    """The docstring of a hybrid: which parents it combines (training targets carry it)."""
    return f"Hybrid: the network of {network} built from the {new} blocks of {donor}."


def compatible(skeleton: str, donor: str) -> tuple[str, str] | None:
    """(skeleton's main block, donor's main block) when the donor's block can replace the skeleton's:
    both have one, they differ, and every call of the old block passes what the new one requires."""
    a, b = FileParts.parse(skeleton), FileParts.parse(donor)
    old, new = main_block(skeleton), main_block(donor)
    if old is None or new is None or a.helpers[old] == b.helpers[new]:
        return None
    signature = _init_signature(b.helpers[new])
    if signature is None or _retarget_calls(a.net, old, new, signature[1], signature[0]) is None:
        return None
    return old, new


def transplant(skeleton: str, donor: str, docstring: str | None = None) -> str | None:
    """The skeleton's network built from the donor's main block, or None when they do not fit.

    Helpers of the donor that clash with a different helper of the skeleton by name get a fresh
    name; identical ones are shared. Constants the donor's block needs and the skeleton lacks are
    added after the skeleton's own (a constant both define keeps the skeleton's value)."""
    blocks = compatible(skeleton, donor)
    if blocks is None:
        return None
    old, new = blocks
    a, b = FileParts.parse(skeleton), FileParts.parse(donor)
    kept = _closure([a.net], a, exclude=frozenset({old}))
    donated = _closure([b.helpers[new]], b) + [new]
    donated = [name for name in b.helpers if name in donated]
    taken = set(a.helpers) | set(a.constants) | set(b.helpers) | set(b.constants) | KEPT_TOP_LEVEL
    mapping = {}
    for name in donated:  # a donor helper whose name the skeleton keeps for other code gets a fresh name
        if name in kept and a.helpers[name] != b.helpers[name]:
            mapping[name] = _fresh(name, taken)
            taken.add(mapping[name])
    donated_sources = [_rename(b.helpers[name], mapping) for name in donated if name not in kept or name in mapping]
    required, accepted, _ = _init_signature(b.helpers[new])
    net = _retarget_calls(a.net, old, mapping.get(new, new), accepted, required)
    extra_constants = [name for name in _constants_used(donated_sources, b) if name not in a.constants]
    # the donor's block sits where the skeleton's block stood: after the helpers defined before it
    position = list(a.helpers).index(old)
    before = [a.helpers[n] for n in kept if list(a.helpers).index(n) < position]
    after = [a.helpers[n] for n in kept if list(a.helpers).index(n) > position]
    imports = list(dict.fromkeys(a.imports + b.imports))
    constants = [a.constants[name] for name in a.constants] + [b.constants[name] for name in extra_constants]
    doc = docstring if docstring is not None else a.docstring
    head = ([f'"""{doc}"""'] if doc else []) + ["\n".join(imports), "\n".join(constants)]
    body = [a.hyperparameters, *before, *donated_sources, *after, net]
    return "\n\n".join(head) + "\n\n\n" + "\n\n\n".join(part.strip("\n") for part in body) + "\n"
