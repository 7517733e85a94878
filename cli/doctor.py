"""`nngpt doctor`: what this machine offers the loop: sandbox layers, torch and CUDA, the store, datasets.

    nngpt doctor
    nngpt doctor --config configs/smoke.yaml

It starts one warm sandbox worker and reports the isolation layers that are active for candidates
(and why the others are not), and, when a layer that evaluation.sandbox.require names is missing,
the one line every evaluation would refuse with; then torch/CUDA, whether the configured database
answers (password masked), and which registered datasets are on disk. Exit status 1 when the
sandbox cannot start or lacks a required layer, or the database does not answer; 0 otherwise.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url

from nngpt_core.config import RunConfig
from nngpt_core.errors import NngptError
from nngpt_core.sandbox.require import missing_layers, refusal, required_layers
from nngpt_core.sandbox.settings import LAYERS, LayerStatus
from nngpt_cli.common import ConfigOption, DbOption, load


def sandbox_layers(cfg: RunConfig) -> list[LayerStatus]:
    """The layers a candidate evaluated under `cfg` would run with, probed by starting a worker."""
    from nngpt_core.evaluate.evaluator import sandbox_settings
    from nngpt_core.sandbox.pool import SandboxPool

    with SandboxPool(sandbox_settings(cfg.evaluation, test_samples=0), tensors=None, workers=1) as pool:
        return pool.layers


def _layer_table(layers: list[LayerStatus]) -> Table:
    table = Table("layer", "active", "detail", title="sandbox layers")
    for layer in layers:
        mark = Text("yes", style="green") if layer.active else Text("no", style="yellow")
        table.add_row(layer.name, mark, Text(layer.detail or LAYERS.get(layer.name, "")))
    return table


def _torch_lines() -> list[str]:
    import torch

    lines = [f"torch {torch.__version__}"]
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count()))
        lines.append(f"CUDA {torch.version.cuda}: {names}")
    else:
        lines.append("CUDA: not available (evaluation runs on the CPU)")
    return lines


def _database_line(cfg: RunConfig) -> tuple[str, bool]:
    from nngpt_core.store.engine import open_store
    from nngpt_core.store.migrate import is_current

    url = cfg.store.resolved_url()
    masked = cfg.store.resolved_url(masked=True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        return f"{masked}: not created yet (`nngpt db upgrade` creates it)", True
    try:
        store = open_store(url)
    except NngptError as exc:
        return str(exc), False
    try:
        schema = "schema at head" if is_current(store) else "schema behind (run `nngpt db upgrade`)"
    finally:
        store.dispose()
    return f"{masked}: reachable, {schema}", True


def _dataset_table(cfg: RunConfig) -> Table:
    from nngpt_core.data import DATASETS

    table = Table("dataset", "present", "where", title=f"datasets (data dir {cfg.evaluation.data_dir})")
    for name, spec in DATASETS.items():
        present = spec.is_present(cfg.evaluation.data_dir)
        table.add_row(name, Text("yes", style="green") if present else Text("no", style="yellow"),
                      Text(spec.layout(cfg.evaluation.data_dir)))
    return table


def doctor(config: ConfigOption = None, db: DbOption = None) -> None:
    """Report sandbox layers, torch/CUDA, database reachability and datasets on this machine."""
    cfg = load(config, db)
    out = Console()
    healthy = True
    try:
        layers = sandbox_layers(cfg)
    except NngptError as exc:
        out.print(Text(f"sandbox: cannot start ({exc})", style="red"))
        healthy = False
    else:
        out.print(_layer_table(layers))
        required = required_layers(cfg.evaluation.sandbox.require)
        missing = missing_layers(layers, required)
        if missing:  # the line `nngpt run` and every evaluation would refuse with
            out.print(Text(f"error: {refusal(missing)}", style="red"))
            healthy = False
        else:
            out.print(f"sandbox: the {len(required)} required layers are there (evaluation.sandbox.require)")
    for line in _torch_lines():
        out.print(line)
    database, reachable = _database_line(cfg)
    out.print(Text(f"database: {database}", style=None if reachable else "red"))
    healthy = healthy and reachable
    out.print(_dataset_table(cfg))
    if not healthy:
        raise typer.Exit(1)
