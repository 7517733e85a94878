"""`nngpt db upgrade|stats|export` and `nngpt import`: the store from the command line.

    nngpt db upgrade                      # create or migrate the schema (data is kept)
    nngpt import path/to/ab/nn/nn/        # architecture files, origin 'seed'
    nngpt db stats                        # rows per table and per run
    nngpt db export --run 1 --format jsonl > run1.jsonl
    NNGPT_READER_PASSWORD=... nngpt db grant-reader analyst   # PostgreSQL: a role that reads and changes nothing
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from nngpt_core.cli.common import ConfigOption, DbOption, connect, load
from nngpt_core.errors import NngptError
from nngpt_core.store import migrate
from nngpt_core.store.engine import open_store
from nngpt_core.store.identity import store_tag
from nngpt_core.store.repo import export_candidates, import_paths, origin_counts, run_summaries, table_counts

db_app = typer.Typer(help="Manage the results store (migrations, statistics, export).", no_args_is_help=True)
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


@db_app.command("export")
def export(
    run: Annotated[int, typer.Option("--run", help="Run id to export.")],
    format: Annotated[str, typer.Option("--format", help="Output format (jsonl).")] = "jsonl",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file (default: stdout).")] = None,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Every candidate of a run with its code, statuses and scores, one JSON object per line."""
    if format != "jsonl":
        raise NngptError(f"--format: unsupported format '{format}' (supported: jsonl)")
    store = connect(load(config, db))
    if out is None:
        written = export_candidates(store, run, sys.stdout)
    else:
        with out.open("w", encoding="utf-8") as handle:
            written = export_candidates(store, run, handle)
    console.print(f"exported {written} candidates of run {run}")


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
