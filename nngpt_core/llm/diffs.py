"""Unified diffs for delta mode: write one between two files, apply one a model wrote.

    from nngpt_core.llm.diffs import unified_diff, apply_diff, DiffError
    diff = unified_diff(parent_code, child_code)          # what a delta-mode SFT completion holds
    child = apply_diff(parent_code, model_diff)           # DiffError when no hunk can be placed

Models write diffs with wrong line numbers and counts, drifted context and lost indentation, so a
hunk's header is ignored (its counts are recomputed from its body) and its old lines are searched:
first exactly near the header's line, then exactly anywhere, then with whitespace ignored, then by
similarity (difflib ratio >= FUZZY_RATIO over a window of the same length). Hunks apply in order,
each searched after the previous one. A hunk that cannot be placed fails the whole diff: a partly
applied diff is a different architecture than the one the model meant.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from nngpt_core.errors import NngptError

FUZZY_RATIO = 0.8
CONTEXT_LINES = 2
_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@")


class DiffError(NngptError):
    """The diff is empty or one of its hunks matches nowhere in the parent."""


@dataclass
class Hunk:
    start_hint: int | None  # 0-based line of the parent where the header says the hunk starts
    lines: list[tuple[str, str]] = field(default_factory=list)  # (" ", "-" or "+", text), in order

    @property
    def old(self) -> list[str]:
        """Context and removed lines: what the hunk expects in the parent."""
        return [text for op, text in self.lines if op != "+"]

    @property
    def new(self) -> list[str]:
        return [text for op, text in self.lines if op != "-"]

    def replacement(self, matched: list[str]) -> list[str]:
        """The new lines, with context lines taken from the parent as it is (`matched`, the lines found
        for `old`), so a drifted context never rewrites the parent."""
        out, k = [], 0
        for op, text in self.lines:
            if op == "+":
                out.append(text)
                continue
            if op == " ":
                out.append(matched[k])
            k += 1
        return out


def unified_diff(parent: str, child: str, name: str = "net.py") -> str:
    """A unified diff turning `parent` into `child` (empty when they are equal)."""
    lines = difflib.unified_diff(parent.splitlines(), child.splitlines(), f"a/{name}", f"b/{name}",
                                 n=CONTEXT_LINES, lineterm="")
    return "\n".join(lines) + "\n" if parent != child else ""


def parse_hunks(diff: str) -> list[Hunk]:
    """The hunks of a unified diff; file headers, '\\ No newline' markers and prose around it are skipped."""
    hunks: list[Hunk] = []
    for line in diff.splitlines():
        header = _HUNK_HEADER.match(line)
        if header or line.startswith("@@"):
            hunks.append(Hunk(int(header.group(1)) - 1 if header else None))
        elif not hunks or line.startswith(("---", "+++", "\\")):
            continue
        elif line.startswith(("+", "-")):
            hunks[-1].lines.append((line[0], line[1:]))
        else:  # context; a model often drops the leading space of an empty context line
            hunks[-1].lines.append((" ", line[1:] if line.startswith(" ") else line))
    return [hunk for hunk in hunks if hunk.old != hunk.new]


def _find(lines: list[str], old: list[str], start: int, hint: int | None) -> int | None:
    """Where `old` starts in `lines` at or after `start`, by the strategies of the module docstring."""
    size = len(old)
    positions = range(start, len(lines) - size + 1)
    if hint is not None and hint >= start and lines[hint:hint + size] == old:
        return hint
    for position in positions:
        if lines[position:position + size] == old:
            return position
    stripped = [line.strip() for line in old]
    for position in positions:
        if [line.strip() for line in lines[position:position + size]] == stripped:
            return position
    best, best_ratio = None, FUZZY_RATIO
    target = "\n".join(stripped)
    for position in positions:
        window = "\n".join(line.strip() for line in lines[position:position + size])
        ratio = difflib.SequenceMatcher(None, window, target, autojunk=False).ratio()
        if ratio > best_ratio:
            best, best_ratio = position, ratio
    return best


def apply_diff(parent: str, diff: str) -> str:
    """`parent` with every hunk of `diff` applied; raises DiffError when the diff cannot be applied."""
    hunks = parse_hunks(diff)
    if not hunks:
        raise DiffError("the diff has no hunk that changes anything")
    lines = parent.splitlines()
    cursor = 0
    for number, hunk in enumerate(hunks, 1):
        if not hunk.old:  # pure insertion: at the hinted line, else at the end
            position = min(max(hunk.start_hint or len(lines), cursor), len(lines))
        else:
            position = _find(lines, hunk.old, cursor, hunk.start_hint)
            if position is None:
                raise DiffError(f"hunk {number} of {len(hunks)} matches no lines of the parent")
        new = hunk.replacement(lines[position:position + len(hunk.old)])
        lines[position:position + len(hunk.old)] = new
        cursor = position + len(new)
    return "\n".join(lines) + "\n"
