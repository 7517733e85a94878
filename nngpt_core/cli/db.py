"""`nngpt db ...` and `nngpt import`: schema migrations, statistics, export and seed import."""

from __future__ import annotations

import typer

db_app = typer.Typer(help="Manage the results store (migrations, statistics, export).", no_args_is_help=True)


def import_architectures() -> None:
    """Import architecture files or folders of them into the store with origin 'seed'."""
    raise NotImplementedError
