"""Benchmark of `nngpt lemur import` (models and records) against the baseline `nngpt import` of ab/nn/nn/ (models only).

    .venv/bin/python bench/lemur_import.py                          # baseline on SQLite, then ours on SQLite and PostgreSQL
    .venv/bin/python bench/lemur_import.py --skip-baseline --workers 2
    .venv/bin/python bench/lemur_import.py --postgres-url postgresql+psycopg2://...   # instead of a throwaway cluster
    .venv/bin/python bench/lemur_import.py --skip-baseline --backends sqlite --keep-sqlite /tmp/lemur   # keeps lemur.db

Needs the cached archive (`nngpt lemur fetch`). The baseline extracts ab/nn/nn/ to a temporary
folder and imports it as `nngpt import` does (one ORM row and one signature at a time, no records).
Each run gets a fresh store. Printed side by side: wall and CPU seconds (this process and its
workers), files/s (model files of the archive per wall second), signatures/s (lexical signatures
made per second of the analyse-and-write stage), records/s (LEMUR records stored per wall second),
the speed-up over the baseline, and the load average, since the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, the checkout is not
    sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from nngpt_core.config import NoveltyConfig, StoreConfig  # noqa: E402
from nngpt_core.lemur.archive import MODELS_DIR, relative_parts  # noqa: E402
from nngpt_core.lemur.fetch import DEFAULT_VERSION, cached_archive  # noqa: E402
from nngpt_core.lemur.importer import import_lemur  # noqa: E402
from nngpt_core.novelty.admission import index_architecture  # noqa: E402
from nngpt_core.store.engine import open_store  # noqa: E402
from nngpt_core.store.migrate import upgrade  # noqa: E402
from nngpt_core.store.repo import import_paths  # noqa: E402
from tests.throwaway_pg import ThrowawayPostgres  # noqa: E402

TASK = "img-classification"


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _measure(run: Callable[[], dict]) -> dict:
    load = os.getloadavg()[0]
    cpu, wall = _cpu_seconds(), time.perf_counter()
    counts = run()
    return {**counts, "wall": time.perf_counter() - wall, "cpu": _cpu_seconds() - cpu, "load": (load + os.getloadavg()[0]) / 2}


def _fresh_store(url: str):
    store = open_store(url)
    upgrade(store)
    return store


def baseline(archive: Path, url: str, novelty: NoveltyConfig) -> dict:
    """What `nngpt import <ab/nn/nn>` does, on the model files extracted from the archive."""
    with tempfile.TemporaryDirectory() as folder:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = relative_parts(member.name)
                if member.isfile() and parts[:-1] == MODELS_DIR and parts[-1].endswith(".py"):
                    (Path(folder) / parts[-1]).write_bytes(tar.extractfile(member).read())
        files = len(list(Path(folder).glob("*.py")))
        store = _fresh_store(url)
        report = import_paths(store, [Path(folder)], origin="lemur",
                              on_added=lambda session, arch: index_architecture(session, arch, novelty))
        store.dispose()
    return {"files": files, "signatures": len(report.added), "records": 0, "stage": None}


def ours(archive: Path, url: str, novelty: NoveltyConfig, workers: int) -> dict:
    store = _fresh_store(url)
    summary = import_lemur(store, archive, version=DEFAULT_VERSION, task=TASK, novelty=novelty, workers=workers)
    store.dispose()
    return {"files": summary.files, "signatures": summary.signatures, "records": summary.records_new,
            "stage": summary.timings["analyse and write"], "read": summary.timings["read"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache-dir", type=Path, default=StoreConfig().resolved_data_dir() / "lemur")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--postgres-url", help="an empty PostgreSQL database (default: a throwaway cluster)")
    parser.add_argument("--keep-sqlite", type=Path, help="folder that keeps the SQLite stores (e.g. for `nngpt lemur report`)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="stores measured, comma-separated (default: both)")
    args = parser.parse_args()
    console = Console()
    archive = cached_archive(args.cache_dir)
    novelty = NoveltyConfig()
    backends = [name.strip().lower() for name in args.backends.split(",") if name.strip()]
    rows = []

    def report(method: str, backend: str, m: dict) -> None:  # one line per run as it ends, the table at the end
        rows.append((method, backend, m))
        console.print(f"{method} on {backend}: {m['wall']:.0f} s wall, {m['files']:,} files, {m['records']:,} records, "
                      f"load {m['load']:.1f}")

    with ExitStack() as stack:
        folder = args.keep_sqlite or stack.enter_context(tempfile.TemporaryDirectory())
        Path(folder).mkdir(parents=True, exist_ok=True)
        stores = {"sqlite": ("SQLite", f"sqlite:///{folder}/lemur.db")}
        if "postgresql" in backends:
            if not args.postgres_url:
                cluster = stack.enter_context(ThrowawayPostgres())
            stores["postgresql"] = ("PostgreSQL", args.postgres_url or cluster.create_database("lemur_bench"))
        if not args.skip_baseline:
            console.print("baseline: nngpt import of ab/nn/nn/ on SQLite ...")
            report("nngpt import ab/nn/nn/ (models only)", "SQLite",
                   _measure(lambda: baseline(archive, f"sqlite:///{folder}/baseline.db", novelty)))
        for backend, url in (stores[name] for name in backends):
            console.print(f"nngpt lemur import on {backend} ...")
            report(f"nngpt lemur import ({args.workers} workers)", backend,
                   _measure(lambda url=url: ours(archive, url, novelty, args.workers)))
    base = rows[0][2]["wall"] if not args.skip_baseline else None
    table = Table("method", "store", "files", "records", "wall s", "CPU s", "files/s", "signatures/s", "records/s",
                  "speed-up", "load avg", title=f"LEMUR import, nn-dataset {DEFAULT_VERSION}")
    for method, backend, m in rows:
        stage = m["stage"] or m["wall"]
        table.add_row(
            method, backend, f"{m['files']:,}", f"{m['records']:,}", f"{m['wall']:.0f}", f"{m['cpu']:.0f}",
            f"{m['files'] / m['wall']:.0f}", f"{m['signatures'] / stage:.0f}", f"{m['records'] / m['wall']:.0f}",
            f"{base / m['wall']:.2f}x" if base else "-", f"{m['load']:.1f}",
        )
    console.print(table)

if __name__ == "__main__":
    main()
