"""Store operations shared by the CLI, the tasks and the benchmarks: import, statistics, export.

    from nngpt_core.store.repo import import_paths, table_counts, export_candidates
    report = import_paths(store, [Path("nngpt_core/corpus/seeds")], origin="seed")

Each imported file is its own transaction (a savepoint): a file that fails is reported and leaves
nothing behind, and the files before it stay stored.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nngpt_core.errors import NngptError
from nngpt_core.novelty.normalize import code_hash
from nngpt_core.store.engine import Store
from nngpt_core.store.models import ORIGINS, Architecture, Base, Candidate, Cycle, Evaluation, Run

# Called for every newly stored architecture (e.g. to add its lexical signature to the novelty index).
ArchitectureHook = Callable[[Session, Architecture], None]


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    already_stored: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)


def iter_python_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The .py files named, and those below the folders named, in a stable order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.py") if p.name != "__init__.py")
        elif path.is_file():
            yield path
        else:
            raise NngptError(f"{path}: no such file or directory")


def architecture_problem(code: str) -> str | None:
    """Why `code` is not an importable architecture, or None when it is."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return f"syntax error at line {exc.lineno}: {exc.msg}"
    if not any(isinstance(node, ast.ClassDef) and node.name == "Net" for node in tree.body):
        return "no top-level class Net"
    return None


def add_architecture(
    session: Session, code: str, name: str, origin: str, source: str | None = None, **fields: Any
) -> tuple[Architecture, bool]:
    """The stored architecture with this normalized code, created if new: (architecture, created)."""
    if origin not in ORIGINS:
        raise NngptError(f"unknown origin '{origin}' (one of {', '.join(ORIGINS)})")
    digest = code_hash(code)
    existing = session.scalar(select(Architecture).where(Architecture.code_hash == digest))
    if existing is not None:
        return existing, False
    architecture = Architecture(code_hash=digest, code=code, name=name, origin=origin, source=source, **fields)
    session.add(architecture)
    session.flush()
    return architecture, True


def import_sources(
    session: Session,
    items: Iterable[tuple[str, str, str | None]],
    origin: str = "seed",
    on_added: ArchitectureHook | None = None,
) -> ImportReport:
    """Store (name, code, source) items; each in its own savepoint so a bad one leaves nothing behind."""
    report = ImportReport()
    for name, code, source in items:
        label = source or name
        problem = architecture_problem(code)
        if problem:
            report.skipped.append((label, problem))
            continue
        savepoint = session.begin_nested()
        try:
            architecture, created = add_architecture(session, code, name, origin, source=source)
            if created and on_added is not None:
                on_added(session, architecture)
            savepoint.commit()
        except Exception as exc:  # a failing file is reported; the others go on
            savepoint.rollback()
            report.skipped.append((label, f"{type(exc).__name__}: {exc}".splitlines()[0]))
            continue
        (report.added if created else report.already_stored).append(label)
    return report


def read_sources(files: Iterable[Path], report: ImportReport) -> Iterator[tuple[str, str, str]]:
    for path in files:
        try:
            yield path.stem, path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            report.skipped.append((str(path), f"unreadable: {type(exc).__name__}"))


def import_paths(
    store: Store, paths: Iterable[Path], origin: str = "seed", on_added: ArchitectureHook | None = None
) -> ImportReport:
    """Import architecture files, or folders of them (e.g. a LEMUR checkout's ab/nn/nn/)."""
    files = list(iter_python_files(paths))
    unreadable = ImportReport()
    with store.session() as session:
        report = import_sources(session, read_sources(files, unreadable), origin, on_added)
    report.skipped[:0] = unreadable.skipped
    return report


def table_counts(session: Session) -> dict[str, int]:
    """Rows per table of the ORM, in schema order."""
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def run_summaries(session: Session) -> list[dict[str, Any]]:
    """Per run: name, status, cycles, candidates, ok candidates, admitted candidates."""
    candidates = (
        select(
            Candidate.run_id,
            func.count().label("candidates"),
            func.count().filter(Candidate.status == "ok").label("ok"),
            func.count().filter(Candidate.admitted.is_(True)).label("admitted"),
        )
        .group_by(Candidate.run_id)
        .subquery()
    )
    cycles = select(Cycle.run_id, func.count().label("cycles")).group_by(Cycle.run_id).subquery()
    rows = session.execute(
        select(
            Run.id, Run.name, Run.status, Run.dataset,
            func.coalesce(cycles.c.cycles, 0), func.coalesce(candidates.c.candidates, 0),
            func.coalesce(candidates.c.ok, 0), func.coalesce(candidates.c.admitted, 0),
        )
        .outerjoin(cycles, cycles.c.run_id == Run.id)
        .outerjoin(candidates, candidates.c.run_id == Run.id)
        .order_by(Run.id)
    )
    keys = ("run", "name", "status", "dataset", "cycles", "candidates", "ok", "admitted")
    return [dict(zip(keys, row)) for row in rows]


def origin_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Architecture.origin, func.count()).group_by(Architecture.origin))
    return {origin: count for origin, count in rows}


def candidate_records(session: Session, run_id: int) -> Iterator[dict[str, Any]]:
    """Every candidate of a run with its cycle, code, statuses and scores, in generation order."""
    if session.get(Run, run_id) is None:
        raise NngptError(f"run {run_id} not found")
    query = (
        select(Candidate, Cycle.index, Evaluation)
        .join(Cycle, Cycle.id == Candidate.cycle_id)
        .outerjoin(Evaluation, Evaluation.id == Candidate.evaluation_id)
        .where(Candidate.run_id == run_id)
        .order_by(Cycle.index, Candidate.index)
    )
    for candidate, cycle_index, evaluation in session.execute(query):
        yield {
            "run": run_id,
            "cycle": cycle_index,
            "candidate": candidate.index,
            "id": candidate.id,
            "status": candidate.status,
            "error": candidate.error,
            "accuracy": candidate.accuracy,
            "novelty": candidate.novelty,
            "similar_to": candidate.similar_to_id,
            "similarity": candidate.similarity,
            "admitted": candidate.admitted,
            "architecture_id": candidate.architecture_id,
            "train_loss": evaluation.train_loss if evaluation else None,
            "duration_s": evaluation.duration_s if evaluation else None,
            "params": evaluation.params if evaluation else None,
            "flops": evaluation.flops if evaluation else None,
            "prompt": candidate.prompt,
            "completion": candidate.completion,
            "code": candidate.code,
        }


def export_candidates(store: Store, run_id: int, out: TextIO) -> int:
    """Write a run's candidates as JSON lines to `out`; returns how many were written."""
    written = 0
    with store.session() as session:
        for record in candidate_records(session, run_id):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
    return written
