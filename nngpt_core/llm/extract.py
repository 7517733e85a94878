"""Pull the architecture's Python source out of a model completion.

    from nngpt_core.llm.extract import extract_code
    code = extract_code(completion)        # None means the candidate's status is `no_code`

The completion is cut at code-fence lines into segments (fenced blocks, and the text around them,
which covers unfenced code and completions that start inside the fence the prompt opened). Each
segment is trimmed to its longest prefix of complete top-level statements that parses, which
repairs output truncated by max_new_tokens. A segment counts as code only if it imports, defines
or assigns something (prose that happens to parse as an expression does not). The segment that
defines `class Net` wins; without one, the largest code segment is returned, and the evaluator
reports the missing interface.
"""

from __future__ import annotations

import ast
import re

NET_CLASS = "Net"
_FENCE = re.compile(r"^\s*```")
_CODE_STATEMENTS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):  # ValueError: source holds a NUL byte
        return None


def _segments(completion: str) -> list[str]:
    segments: list[list[str]] = [[]]
    for line in completion.splitlines():
        if _FENCE.match(line):
            segments.append([])
        else:
            segments[-1].append(line)
    return ["\n".join(lines) for lines in segments if any(line.strip() for line in lines)]


def _parsable_prefix(segment: str) -> tuple[str, ast.Module] | None:
    """The longest prefix ending before a top-level statement start that parses (None if none does)."""
    lines = segment.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line[:1] not in ("", " ", "\t", ")", "]", "}")]
    for end in [len(lines), *reversed(starts)]:
        source = "\n".join(lines[:end]).rstrip()
        tree = _parse(source) if source else None
        if tree is not None and tree.body:
            return source + "\n", tree
    return None


def _defines_net(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.ClassDef) and node.name == NET_CLASS for node in tree.body)


def _is_code(tree: ast.Module) -> bool:
    return any(isinstance(node, _CODE_STATEMENTS) for node in tree.body)


def _without_leading_prose(segment: str) -> str:
    """Drop prose lines before the first line that can start a module (unfenced answers)."""
    lines = segment.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"(import |from |class |def |@|#|[A-Za-z_][A-Za-z_0-9]* *=)", line):
            return "\n".join(lines[i:])
    return segment


def extract_code(completion: str) -> str | None:
    """The Python source of the best code segment of `completion`, or None when there is none."""
    best: tuple[bool, int, str] | None = None
    for segment in _segments(completion):
        parsed = _parsable_prefix(_without_leading_prose(segment))
        if parsed is None or not _is_code(parsed[1]):
            continue
        source, tree = parsed
        rank = (_defines_net(tree), len(tree.body), source)
        if best is None or rank[:2] > best[:2]:
            best = rank
    return best[2] if best else None
