"""`nngpt similarity A.py B.py`: how similar two architecture files are, as one JSON object.

    nngpt similarity net_a.py net_b.py
    {"lexical": {"estimated": 0.93, "exact": 0.94}, "structural": {"estimated": 1.0, "exact": 1.0},
     "thresholds": {...}, "verdict": "near_duplicate", "decided_by": "structural", ...}
    nngpt similarity net_a.py net_b.py --lexical-only     # no sandboxed forward pass

Both files run in the sandbox just far enough to fingerprint their forward pass (structural signal).
Thresholds and MinHash settings come from the config (section `novelty`); the verdict combines the
signals as admission against the store does: a near-duplicate when any kind reaches its threshold.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Annotated

import typer

from nngpt_core.errors import NngptError
from nngpt_core.novelty.compare import compare_sources
from nngpt_cli.common import ConfigOption, load

FileArgument = Annotated[Path, typer.Argument(help="A Python architecture file.", show_default=False)]


def _read_python(path: Path) -> str:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NngptError(f"{path}: cannot read ({type(exc).__name__})") from None
    try:
        ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise NngptError(f"{path}: not valid Python (line {exc.lineno}: {exc.msg})") from None
    return source


def _fingerprints(cfg, source_a: str, source_b: str) -> tuple[tuple[list[str], list[str]] | None, dict]:
    """Both structural fingerprints from the sandbox (None when either file does not run), and statuses."""
    from nngpt_core.evaluate.batch import fingerprint_sources

    result_a, result_b = fingerprint_sources(cfg, [source_a, source_b])
    statuses = {"a": {"status": result_a.status, "error": result_a.error},
                "b": {"status": result_b.status, "error": result_b.error}}
    if result_a.structural_tokens and result_b.structural_tokens:
        return (result_a.structural_tokens, result_b.structural_tokens), statuses
    return None, statuses


def similarity(
    file_a: FileArgument,
    file_b: FileArgument,
    lexical_only: Annotated[bool, typer.Option("--lexical-only", help="Skip the sandboxed forward pass (no structural signal).")] = False,
    config: ConfigOption = None,
) -> None:
    """Print the lexical and structural similarity of two architecture files and the combined verdict as JSON."""
    cfg = load(config)
    source_a, source_b = _read_python(file_a), _read_python(file_b)
    structural, statuses = (None, {}) if lexical_only else _fingerprints(cfg, source_a, source_b)
    report = compare_sources(source_a, source_b, cfg.novelty, structural=structural)
    report = {"a": str(file_a), "b": str(file_b), **report}
    if not lexical_only:
        report.setdefault("structural", None)
        report["sandbox"] = statuses
    novelty = cfg.novelty
    report["settings"] = {"shingle_k": novelty.shingle_k, "num_perm": novelty.num_perm, "seed": novelty.seed}
    typer.echo(json.dumps(report))
