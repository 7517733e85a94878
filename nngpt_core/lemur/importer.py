"""`nngpt lemur import`: LEMUR's model files as architectures (origin lemur), its records as evaluations (source lemur).

    from nngpt_core.lemur.importer import import_lemur
    summary = import_lemur(store, archive_path, version="2.1.2", task="img-classification",
                           datasets={"cifar-10"}, novelty=cfg.novelty, workers=2)
    summary.new, summary.exact_copies, summary.skipped, summary.records_new

A model file is imported when its record folders name the task (a model's task is known only from
them; some hold only empty epoch files), it parses and it follows LEMUR's interface; every other file is counted by reason. Each
batch of files is one transaction holding its architectures, their lexical signatures and LSH band
keys (the novelty index), the file-to-architecture map (lemur_models) and all their records, so an
interrupted import leaves whole files only. Records are Evaluation rows with source 'lemur': dataset
and epoch as LEMUR names them, accuracy, hyperparameters, transform and duration, never mixed up
with this project's own measurements (source 'nngpt'). Files already imported and records already
stored are skipped, so a second run changes nothing.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, insert, select

from nngpt_core.config import NoveltyConfig
from nngpt_core.lemur.analysis import Analysis, analyse_all
from nngpt_core.lemur.archive import LemurArchive, Record, read_archive
from nngpt_core.novelty.bulk import bulk_insert
from nngpt_core.novelty.compare import threshold_for
from nngpt_core.novelty.index import LshIndex
from nngpt_core.novelty.signature import lexical_settings
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Architecture, Evaluation, LemurModel, utcnow

BATCH_FILES = 500  # model files per transaction
# A stage of the import: (name, total or None) -> a function that advances its progress by n.
Progress = Callable[[str, int | None], Callable[[int], None]]
EVALUATION_COLUMNS = (
    "architecture_id", "dataset", "recipe", "recipe_config", "status", "accuracy", "duration_s", "phase_durations",
    "versions", "created_at", "source", "epoch", "hyperparameters", "transform",
)


def _no_progress(_stage: str, _total: int | None) -> Callable[[int], None]:
    return lambda _steps: None


@dataclass
class ImportSummary:
    version: str
    task: str
    datasets: tuple[str, ...]
    files: int = 0  # model files in the archive
    new: int = 0  # architectures created
    exact_copies: int = 0  # files whose normalized code another file of this archive already has
    already_stored: int = 0  # files whose code the store held before (seeds, an earlier version, ...)
    already_imported: int = 0  # files this store imported from this version before
    skipped: Counter = field(default_factory=Counter)  # reason -> files
    signatures: int = 0
    epoch_files: int = 0
    records_new: int = 0
    records_stored: int = 0  # already in the store
    records_duplicate: int = 0  # the same trial twice in one epoch file
    malformed: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds

    @property
    def imported_files(self) -> int:
        return self.new + self.exact_copies + self.already_stored


def import_lemur(
    store: Store, archive_path: Path, *, version: str, task: str, novelty: NoveltyConfig,
    datasets: Iterable[str] = (), workers: int = 1, progress: Progress = _no_progress,
) -> ImportSummary:
    """Import the model files of `task` and their records from a verified archive into `store`."""
    chosen = tuple(sorted(set(datasets)))
    summary = ImportSummary(version, task, chosen)
    started = time.perf_counter()
    archive = read_archive(archive_path, version, task, on_member=_counter(progress("reading archive", None)))
    summary.timings["read"] = time.perf_counter() - started
    summary.files, summary.epoch_files = len(archive.models) + len(archive.undecodable), archive.epoch_files
    summary.malformed, summary.unreadable = archive.malformed, archive.unreadable
    summary.skipped.update({"not UTF-8": len(archive.undecodable)} if archive.undecodable else {})

    writer = _Writer(store, archive, summary, novelty, chosen)
    pending = writer.select_files()
    stage = time.perf_counter()
    advance_analysis = progress("analysing files", len(pending))
    advance_writing = progress("writing", len(pending))
    batch: list[Analysis] = []
    for analysis in analyse_all(pending, novelty, workers, on_done=advance_analysis):
        batch.append(analysis)
        if len(batch) == BATCH_FILES:
            writer.write_batch(batch)
            advance_writing(len(batch))
            batch = []
    writer.write_batch(batch)
    advance_writing(len(batch))
    writer.write_records_of_imported_files()
    summary.timings["analyse and write"] = time.perf_counter() - stage
    summary.timings["total"] = time.perf_counter() - started
    return summary


def _counter(advance: Callable[[int], None]) -> Callable[[], None]:
    return lambda: advance(1)


class _Writer:
    """The store side of an import: what is there already, and one transaction per batch of files."""

    def __init__(self, store: Store, archive: LemurArchive, summary: ImportSummary, novelty: NoveltyConfig, datasets: tuple[str, ...]):
        self.store, self.archive, self.summary, self.novelty, self.datasets = store, archive, summary, novelty, datasets
        settings = lexical_settings(novelty)
        with store.engine.begin() as conn:
            self.index = LshIndex.open(conn, settings, threshold_for("lexical", novelty), novelty.lsh_recall_at_threshold)
            self.known = dict(conn.execute(select(Architecture.code_hash, Architecture.id)).all())
            self.imported = dict(conn.execute(
                select(LemurModel.name, LemurModel.architecture_id).where(LemurModel.version == archive.version)).all())
            self.stored_recipes = set(conn.execute(select(Evaluation.recipe).where(Evaluation.source == "lemur")).scalars())
        self.stored_before = set(self.known)  # code already in the store when the import started
        self.imported_before = set(self.imported)
        self.written_recipes: set[str] = set()
        self.timestamp = utcnow()

    def select_files(self) -> list[tuple[str, str]]:
        """(name, code) of the files to analyse; the others are counted by reason or as imported before."""
        archive, summary = self.archive, self.summary
        pending = []
        for name in sorted(archive.models):
            tasks = archive.tasks.get(name)
            if not tasks:
                summary.skipped["no records (task unknown)"] += 1
            elif archive.task not in tasks:
                summary.skipped[f"task {', '.join(sorted(tasks))}"] += 1
            elif self.datasets and not archive.datasets[name] & set(self.datasets):
                summary.skipped["no record folder on the chosen datasets"] += 1
            elif name in self.imported:
                summary.already_imported += 1
            else:
                pending.append((name, archive.models[name]))
        return pending

    def _records(self, name: str) -> list[Record]:
        records = self.archive.records.get(name, [])
        return [record for record in records if record.dataset in self.datasets] if self.datasets else records

    def write_batch(self, batch: Sequence[Analysis]) -> None:
        """One transaction: new architectures with their signatures, the file map, and every record of the batch."""
        files = []
        for analysis in batch:
            if analysis.problem:
                self.summary.skipped[analysis.problem] += 1
            else:
                files.append(analysis)
        if not files:
            return
        with self.store.engine.begin() as conn:
            created = self._insert_architectures(conn, files)
            rows = [(self.archive.version, f.name, self.archive.task, self.known[f.digest]) for f in files]
            bulk_insert(conn, "lemur_models", ["version", "name", "task", "architecture_id"], rows)
            self._insert_records(conn, [(f.name, self.known[f.digest]) for f in files])
        for analysis in files:
            self.imported[analysis.name] = self.known[analysis.digest]
        self.summary.new += created

    def _insert_architectures(self, conn: Connection, files: Sequence[Analysis]) -> int:
        fresh: dict[str, Analysis] = {}
        for analysis in files:
            if analysis.digest in self.known or analysis.digest in fresh:
                if analysis.digest in self.stored_before:
                    self.summary.already_stored += 1
                else:
                    self.summary.exact_copies += 1
            else:
                fresh[analysis.digest] = analysis
        if not fresh:
            return 0
        version = self.archive.version
        rows = [
            dict(code_hash=digest, code=self.archive.models[a.name], name=a.name, origin="lemur",
                 source=f"nn-dataset=={version}:ab/nn/nn/{a.name}.py", created_at=self.timestamp)
            for digest, a in fresh.items()
        ]
        table = Architecture.__table__
        returned = conn.execute(insert(table).returning(table.c.code_hash, table.c.id), rows).all()
        ids = dict(returned)
        self.known.update(ids)
        order = list(fresh)
        self.index.add_many(conn, [ids[d] for d in order], np.stack([fresh[d].hashvalues for d in order]), [fresh[d].size for d in order])
        self.summary.signatures += len(order)
        return len(order)

    def _insert_records(self, conn: Connection, files: Sequence[tuple[str, int]]) -> None:
        created_at = self._timestamp_for(conn)
        versions = json.dumps({"nn_dataset": self.archive.version})
        rows = []
        for name, architecture_id in files:
            for record in self._records(name):
                recipe = record.recipe
                if recipe in self.stored_recipes:
                    self.summary.records_stored += 1
                    continue
                if recipe in self.written_recipes:
                    self.summary.records_duplicate += 1
                    continue
                self.written_recipes.add(recipe)
                config = {"source": "lemur", "nn_dataset": self.archive.version, "model": name, "task": self.archive.task,
                          "metric": record.metric, "uid": record.uid}
                rows.append((
                    architecture_id, record.dataset, recipe, json.dumps(config), "ok", record.accuracy, record.duration_s,
                    "{}", versions, created_at, "lemur", record.epoch, record.hyperparameters_json, record.transform,
                ))
        self.summary.records_new += bulk_insert(conn, "evaluations", EVALUATION_COLUMNS, rows)

    def write_records_of_imported_files(self) -> None:
        """Records of files imported by an earlier run that are not stored yet (e.g. another --datasets)."""
        earlier = [(name, self.imported[name]) for name in sorted(self.imported_before)
                   if name in self.archive.models and self._records(name)]
        for start in range(0, len(earlier), BATCH_FILES):
            with self.store.engine.begin() as conn:
                self._insert_records(conn, earlier[start:start + BATCH_FILES])

    def _timestamp_for(self, conn: Connection) -> datetime | str:
        if conn.dialect.name == "sqlite":  # the text form SQLAlchemy itself stores in SQLite
            return self.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f")
        return self.timestamp
