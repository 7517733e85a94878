"""Evaluate files or stored architectures and record the results: what `nngpt eval` and the
`evaluate` flow share.

    results = evaluate_files(cfg, [Path("a.py")], store=store, origin="seed")   # list of dicts
    results = evaluate_architectures(store, cfg, [3, 4])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from nngpt_core.config import RunConfig
from nngpt_core.errors import NngptError
from nngpt_core.evaluate.evaluator import Evaluator
from nngpt_core.evaluate.record import record_evaluation
from nngpt_core.evaluate.result import EvalResult
from nngpt_core.store.engine import Store
from nngpt_core.store.models import ORIGINS, Architecture
from nngpt_core.store.repo import add_architecture


def read_sources(files: list[Path]) -> list[str]:
    sources = []
    for path in files:
        if not path.is_file():
            raise NngptError(f"{path}: no such file")
        sources.append(path.read_bytes().decode("utf-8", "replace"))
    return sources


def store_results(store: Store, files: list[Path], sources: list[str], results: list[EvalResult], origin: str) -> list[dict[str, Any]]:
    """Record each parsable file's architecture and evaluation; what was stored, per file."""
    if origin not in ORIGINS:
        raise NngptError(f"unknown origin '{origin}' (one of {', '.join(ORIGINS)})")
    stored = []
    for path, source, result in zip(files, sources, results):
        with store.session() as session:
            try:
                architecture, _ = add_architecture(session, source, name=path.stem, origin=origin, source=str(path))
            except (SyntaxError, ValueError):  # not Python: nothing to identify it by
                stored.append({"stored": False})
                continue
            evaluation = record_evaluation(session, architecture.id, result)
            evaluation.structural_tokens = result.structural_tokens
            stored.append({"stored": True, "architecture_id": architecture.id, "evaluation_id": evaluation.id})
    return stored


def result_record(result: EvalResult) -> dict[str, Any]:
    """The JSON fields of a result that people read (the fingerprint tokens are left out)."""
    return {key: value for key, value in result.to_json().items() if key != "structural_tokens"}


def evaluate_files(cfg: RunConfig, files: list[Path], store: Store | None = None, origin: str = "seed",
                   progress: bool = True) -> list[dict[str, Any]]:
    """Evaluate architecture files; with `store`, record them. One dict per file, in order."""
    sources = read_sources(files)
    with Evaluator(cfg.evaluation, progress=progress) as evaluator:
        results = evaluator.evaluate_many(sources)
    stored = store_results(store, files, sources, results, origin) if store is not None else [{} for _ in files]
    return [{"file": str(path), **result_record(result), **record} for path, result, record in zip(files, results, stored)]


def evaluate_architectures(store: Store, cfg: RunConfig, architecture_ids: list[int], progress: bool = True) -> list[dict[str, Any]]:
    """Evaluate stored architectures on cfg.evaluation's dataset and recipe and record the evaluations."""
    with store.session() as session:
        rows = session.execute(select(Architecture.id, Architecture.code).where(Architecture.id.in_(architecture_ids))).all()
    missing = set(architecture_ids) - {row.id for row in rows}
    if missing:
        raise NngptError(f"architectures not in the store: {sorted(missing)}")
    with Evaluator(cfg.evaluation, progress=progress) as evaluator:
        results = evaluator.evaluate_many([row.code for row in rows])
    records = []
    with store.session() as session:
        for row, result in zip(rows, results):
            evaluation = record_evaluation(session, row.id, result)
            evaluation.structural_tokens = result.structural_tokens
            records.append({"architecture_id": row.id, **result_record(result)})
    return records


FINGERPRINT_SUBSET = 64  # images: enough to build, run forward and train one short epoch


def fingerprint_sources(cfg: RunConfig, sources: list[str]) -> list[EvalResult]:
    """Run sources in the sandbox just far enough for their structural fingerprints (a small subset)."""
    quick = cfg.evaluation.model_copy(update={
        "train_subset": FINGERPRINT_SUBSET, "test_subset": FINGERPRINT_SUBSET, "epochs": 1,
        "workers": min(cfg.evaluation.workers, len(sources)),
    })
    with Evaluator(quick, progress=False) as evaluator:
        return evaluator.evaluate_many(sources)
