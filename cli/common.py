"""Options and helpers shared by the CLI commands: loading the config and opening the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nngpt_core.config import RunConfig, load_config
from nngpt_core.store.engine import Store, open_store
from nngpt_core.store.migrate import ensure_current

ConfigOption = Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML config file (default: built-in defaults).")]
DbOption = Annotated[Optional[str], typer.Option("--db", help="Database URL (overrides config and NNGPT_DATABASE_URL).", show_default=False)]


def load(config: Path | None, db: str | None = None) -> RunConfig:
    """The run config from `config`, with `--db` applied on top."""
    return load_config(config, {"store.url": db} if db else None)


def connect(cfg: RunConfig, migrate: bool = True) -> Store:
    """Open the configured store; bring its schema to head unless told not to (data is kept)."""
    store = open_store(cfg.store.resolved_url())
    if migrate:
        ensure_current(store)
    return store
