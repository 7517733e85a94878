"""`nngpt eval FILE...`: evaluate architecture files in the sandbox.

    nngpt eval arch.py other.py --dataset digits --epochs 1
    nngpt eval arch.py --json                 # one JSON object per file on stdout
    nngpt eval seeds/*.py --store             # also record architectures and evaluations in the store

Exits 0 when every evaluation completed, whatever the candidates' statuses (a failing candidate is
a result); non-zero only when the evaluation itself could not run (bad option, missing file, no sandbox).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from nngpt_core.config import load_config
from nngpt_core.evaluate import batch
from nngpt_cli.common import ConfigOption, DbOption, connect


def _table(records: list[dict[str, Any]]) -> Table:
    table = Table("file", "status", "accuracy", "params", "FLOPs", "seconds", "error", title="evaluation")
    for record in records:
        table.add_row(
            Text(record["file"]), Text(record["status"], style="green" if record["status"] == "ok" else "red"),
            "" if record["accuracy"] is None else f"{record['accuracy']:.3f}",
            "" if record["params"] is None else f"{record['params']:,}",
            "" if record["flops"] is None else f"{record['flops']:,}",
            f"{record['duration_s']:.2f}", Text(record["error"] or ""),  # Text: candidate text is never markup
        )
    return table


def evaluate_files(
    files: Annotated[list[Path], typer.Argument(help="Architecture files (.py) to evaluate.", show_default=False)],
    dataset: Annotated[Optional[str], typer.Option(help="Dataset from the registry (default from config: digits32).")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="Directory holding torchvision datasets.")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Training epochs per candidate (default 1).")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="Wall-clock limit per candidate, seconds.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Sandbox workers in parallel.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object per file instead of a table.")] = False,
    store: Annotated[bool, typer.Option("--store", help="Record architectures and evaluations in the store.")] = False,
    origin: Annotated[str, typer.Option(help="Origin of architectures recorded with --store.")] = "seed",
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Evaluate architecture files in the sandbox (build, one epoch, test accuracy)."""
    overrides = {
        "evaluation.dataset": dataset, "evaluation.data_dir": data_dir and str(data_dir), "evaluation.epochs": epochs,
        "evaluation.timeout_s": timeout, "evaluation.workers": workers, "store.url": db,
    }
    cfg = load_config(config, {key: value for key, value in overrides.items() if value is not None})
    target = connect(cfg) if store else None
    try:
        records = batch.evaluate_files(cfg, files, store=target, origin=origin, progress=not json_output)
    finally:
        if target is not None:
            target.dispose()
    if json_output:
        for record in records:
            print(json.dumps(record))
    else:
        Console().print(_table(records))
