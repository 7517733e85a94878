"""`nngpt doctor`: what this machine offers the loop: sandbox layers, torch and CUDA, the store, datasets.

    nngpt doctor
    nngpt doctor --config configs/paper-cifar10.yaml

Without --config it starts one warm sandbox worker and reports the isolation layers that are active
for candidates (and why the others are not), and, when a layer that evaluation.sandbox.require
names is missing, the one line every evaluation would refuse with; then torch/CUDA, whether the
configured database answers (password masked), and which registered datasets are on disk. With
--config it fits on one screen: what that config needs (CUDA, bitsandbytes, the model and dataset
on disk, the GPU memory estimate: nngpt_core.needs), each marked present or missing with what to
do, then one line each for the sandbox (the layer table only when a required layer is missing),
torch and the database. Exit status 1 when the sandbox cannot start or lacks a required layer, the
database does not answer, or the config needs something this machine lacks; 0 otherwise.
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


def _needs_table(cfg: RunConfig, origin: str) -> tuple[Table, list[str]]:
    """The config's needs, and the names of those this machine lacks."""
    from nngpt_core.needs import config_needs

    table = Table("need", "asked for by", "here", "detail", title=f"what {origin} needs")
    missing = []
    for need in config_needs(cfg):
        table.add_row(need.what, Text(need.why), Text("yes", style="green") if need.met else Text("no", style="red"),
                      Text(need.detail))
        if not need.met:
            missing.append(need.what)
    return table, missing


def _layers_line(layers: list[LayerStatus]) -> Text:
    off = [f"{layer.name} ({layer.detail})" for layer in layers if not layer.active]
    text = f"sandbox: {len(layers) - len(off)}/{len(layers)} layers active" + (f"; off: {', '.join(off)}" if off else "")
    return Text(text)


def doctor(config: ConfigOption = None, db: DbOption = None) -> None:
    """Report sandbox layers, torch/CUDA, database reachability and datasets; with --config, what that config needs."""
    cfg = load(config, db)
    out = Console()
    healthy = True
    missing: list[str] = []
    if config is not None:
        table, missing = _needs_table(cfg, str(config))
        out.print(table)
    try:
        layers = sandbox_layers(cfg)
    except NngptError as exc:
        out.print(Text(f"sandbox: cannot start ({exc})", style="red"))
        healthy = False
    else:
        required = required_layers(cfg.evaluation.sandbox.require)
        absent = missing_layers(layers, required)
        # with --config one line, unless a required layer is missing: then the table says why
        out.print(_layers_line(layers) if config is not None and not absent else _layer_table(layers))
        if absent:  # the line `nngpt run` and every evaluation would refuse with
            out.print(Text(f"error: {refusal(absent)}", style="red"))
            healthy = False
        else:
            out.print(f"sandbox: the {len(required)} required layers are there (evaluation.sandbox.require)")
    for line in _torch_lines():
        out.print(line)
    database, reachable = _database_line(cfg)
    out.print(Text(f"database: {database}", style=None if reachable else "red"))
    healthy = healthy and reachable
    if config is None:
        out.print(_dataset_table(cfg))
    elif missing:
        out.print(Text(f"this machine lacks: {', '.join(missing)}", style="red"), soft_wrap=True)  # one line, greppable
    else:
        out.print(Text("this machine has everything the config needs", style="green"))
    if not healthy or missing:
        raise typer.Exit(1)
