"""`nngpt db upgrade|stats|export|load` and `nngpt import`: the store from the command line.

    nngpt db upgrade                      # create or migrate the schema (data is kept)
    nngpt import path/to/ab/nn/nn/        # architecture files, origin 'seed'
    nngpt db stats                        # rows per table and per run
    nngpt db export --run 1 --format jsonl > run1.jsonl
    NNGPT_READER_PASSWORD=... nngpt db grant-reader analyst   # PostgreSQL: a role that reads and changes nothing
    nngpt db export --all --out backup.tar.gz                 # every table and the adapter files
    nngpt db load backup.tar.gz --db postgresql://...         # into an empty store (see nngpt_core/store/backup.py)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from nngpt_core.errors import NngptError
from nngpt_core.store import migrate
from nngpt_core.store.backup import export_store, load_store, read_backup_manifest
from nngpt_core.store.engine import open_store
from nngpt_core.store.identity import store_tag
from nngpt_core.store.repo import export_candidates, import_paths, origin_counts, run_summaries, table_counts
from nngpt_cli.common import ConfigOption, DbOption, connect, load

db_app = typer.Typer(help="Manage the results store (migrations, statistics, export, backups).", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)


@db_app.command("upgrade")
def upgrade(config: ConfigOption = None, db: DbOption = None) -> None:
    """Create the schema or migrate it to the latest revision, keeping stored data."""
    cfg = load(config, db)
    store = open_store(cfg.store.resolved_url())
    before = migrate.current_revision(store)
    migrate.upgrade(store)
    after = migrate.current_revision(store)
    console.print(f"{store.masked_url}: schema {before or 'empty'} -> {after}")


@db_app.command("grant-reader")
def grant_reader_role(
    name: Annotated[str, typer.Argument(help="The role to create or update (lowercase letters, digits, _).")],
    password_env: Annotated[str, typer.Option("--password-env", help="Environment variable holding its password (never a command-line argument).")] = "NNGPT_READER_PASSWORD",
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """PostgreSQL: a login role that can query every table and view of the store and change nothing."""
    from nngpt_core.store.roles import grant_reader

    store = connect(load(config, db))  # at head first, so that every view exists to be granted
    password = os.environ.get(password_env) or None
    created = grant_reader(store, name, password)
    console.print(f"{'created' if created else 'updated'} read-only role {name} on {store.masked_url}"
                  + ("" if password else f" (no password set: put one in {password_env} and run this again)"))


@db_app.command("stats")
def stats(config: ConfigOption = None, db: DbOption = None) -> None:
    """Row counts per table, architectures per origin, and a line per run."""
    store = connect(load(config, db))
    with store.session() as session:
        counts, origins, runs = table_counts(session), origin_counts(session), run_summaries(session)
    out = Console()
    out.print(f"store: {store.masked_url} (id {store_tag(store)}, as in flow-run names and artifact keys)")
    tables = Table("table", "rows", title="tables")
    for name, rows in counts.items():
        tables.add_row(name, str(rows))
    out.print(tables)
    if origins:
        out.print("architectures by origin: " + ", ".join(f"{k}={v}" for k, v in sorted(origins.items())))
    if runs:
        per_run = Table(*runs[0].keys(), title="runs")
        for run in runs:
            per_run.add_row(*(str(value) for value in run.values()))
        out.print(per_run)


@contextmanager
def _progress(verb: str) -> Iterator[Callable[[str, int], None]]:
    """A live status line ("exporting lsh_bands: 12000 rows") on stderr while a backup runs."""
    with console.status(f"{verb}...") as status:
        yield lambda what, rows: status.update(f"{verb} {what}: {rows} rows")


@db_app.command("export")
def export(
    run: Annotated[Optional[int], typer.Option("--run", help="Run id to export (its candidates as JSON lines).")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Back up the whole store and the adapter files to one archive (--out).")] = False,
    format: Annotated[str, typer.Option("--format", help="Output format of --run (jsonl).")] = "jsonl",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file (default for --run: stdout; --all needs one, e.g. backup.tar.gz).")] = None,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """A run's candidates with code, statuses and scores as JSON lines (--run), or a backup of everything (--all)."""
    if (run is None) == (not everything):
        raise NngptError("give either --run RUN (a run's candidates) or --all (a backup of the whole store)")
    if everything:
        if out is None:
            raise NngptError("--all writes an archive: give --out FILE (e.g. --out nngpt-backup.tar.gz)")
        store = connect(load(config, db))
        with _progress("exporting") as progress:
            report = export_store(store, out, progress)
        console.print(f"exported {report.total_rows} rows of {len(report.rows)} tables and {len(report.adapters)} "
                      f"adapters (schema {report.revision}) from {store.masked_url} to {out}")
        return
    if format != "jsonl":
        raise NngptError(f"--format: unsupported format '{format}' (supported: jsonl)")
    store = connect(load(config, db))
    if out is None:
        written = export_candidates(store, run, sys.stdout)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as handle:
            written = export_candidates(store, run, handle)
    console.print(f"exported {written} candidates of run {run}")


@db_app.command("load")
def load_backup(
    archive: Annotated[Path, typer.Argument(help="A backup written by nngpt db export --all.")],
    adapters_dir: Annotated[Optional[Path], typer.Option("--adapters-dir", help="Where the adapter files go (default: <data dir>/<sft.output_dir>); each adapter's stored path is rewritten to it.")] = None,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Load a backup into an empty store (ids kept: nngpt run --resume RUN continues its runs)."""
    cfg = load(config, db)
    read_backup_manifest(archive)  # a wrong file fails before the store is opened (or an SQLite file created)
    store = open_store(cfg.store.resolved_url())
    target = adapters_dir or (cfg.sft.output_dir if cfg.sft.output_dir.is_absolute()
                              else cfg.store.resolved_data_dir() / cfg.sft.output_dir)
    with _progress("loading") as progress:
        report = load_store(store, archive, target, progress)
    console.print(f"loaded {report.total_rows} rows of {len(report.rows)} tables and {len(report.adapters)} adapters "
                  f"(into {target}) from {archive} into {store.masked_url}; schema now {migrate.current_revision(store)}")


def import_architectures(
    paths: Annotated[list[Path], typer.Argument(help="Architecture .py files or folders of them (e.g. LEMUR's ab/nn/nn/).")],
    origin: Annotated[str, typer.Option("--origin", help="Origin recorded for the imported architectures: seed or lemur.")] = "seed",
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Import architecture files or folders of them into the store (origin 'seed' by default)."""
    from nngpt_core.novelty.admission import index_architecture

    cfg = load(config, db)
    store = connect(cfg)
    report = import_paths(store, paths, origin=origin,
                          on_added=lambda session, arch: index_architecture(session, arch, cfg.novelty))
    for source, reason in report.skipped:
        console.print(f"[yellow]skipped[/] {source}: {reason}")
    console.print(
        f"imported {len(report.added)} new, {len(report.already_stored)} already stored, "
        f"{len(report.skipped)} skipped into {store.masked_url}"
    )
