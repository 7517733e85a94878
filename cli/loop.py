"""`nngpt run | status | report`: run the closed loop locally, see where a run stands, write its report.

    nngpt run --config configs/default.yaml          # 3 cycles on the embedded default
    nngpt run --resume 1                             # continue run 1 after a kill
    nngpt status 1
    nngpt report 1 --out reports/run-1
    nngpt transfer --run 1 --dataset svhn            # run 1's final adapter on another dataset

The orchestration itself lives in flows/ (Prefect); this module hands over to it at call time, so
the library stays importable without Prefect.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from nngpt_core.loop.report import build_report, cycle_table
from nngpt_core.loop.runs import run_status
from nngpt_cli.common import ConfigOption, DbOption, connect, load

RunArgument = Annotated[int, typer.Argument(help="Run id.")]


def run(
    config: ConfigOption = None,
    cycles: Annotated[Optional[int], typer.Option("--cycles", min=1, help="Cycles in total (default: the config's).")] = None,
    resume: Annotated[Optional[int], typer.Option("--resume", help="Continue this stored run where it stopped.")] = None,
    db: DbOption = None,
) -> None:
    """Run generate -> evaluate -> filter -> admit -> fine-tune cycles locally (no server needed)."""
    from nngpt_flows.local import run_locally
    from nngpt_core.loop import preflight
    from nngpt_core.loop.runs import stored_config

    cfg = load(config, db)
    if resume is None:
        # before the store is migrated and Prefect starts: a bad run fails in seconds, with one line
        # and nothing written (the model and dataset are checked before the store is opened)
        preflight.check(cfg)
    store = connect(cfg)
    if resume is not None:  # the run exists and what it was started with can still run here
        preflight.check(stored_config(store, resume).model_copy(update={"store": cfg.store}))
    run_id = run_locally(cfg, resume_run=resume, cycles=cycles)
    report = build_report(store, run_id)
    out = Console()
    out.print(cycle_table(report.metrics, title=f"run {run_id}: cycle metrics"))
    out.print(f"store: {store.masked_url} · report: nngpt report {run_id} --out DIR")


def status(run_id: RunArgument, config: ConfigOption = None, db: DbOption = None,
           as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Where a run stands: its status and each cycle's candidates by status, adapters and stage times."""
    state = run_status(connect(load(config, db)), run_id)
    if as_json:
        print(json.dumps(state, indent=2, default=str))
        return
    out = Console()
    out.print(f"run {state['run']} ({state['name']}): {state['status']}, {len(state['cycles'])}/{state['planned_cycles']} "
              f"cycles, dataset {state['dataset']}, model {state['base_model']}")
    for cycle in state["cycles"]:
        statuses = ", ".join(f"{k}={v}" for k, v in sorted(cycle["statuses"].items())) or "no candidates yet"
        out.print(f"  cycle {cycle['cycle']}: {cycle['status']}; {cycle['candidates']} candidates ({statuses}); "
                  f"{cycle['sft_examples']} SFT examples; adapter {cycle['adapter_in']} -> {cycle['adapter_out']}")


def report(
    run_id: RunArgument,
    out: Annotated[Optional[Path], typer.Option("--out", help="Directory for summary.md, plots and code (default: <data dir>/reports/run-ID).")] = None,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Write a run's plots (PNG), markdown summary and best architectures; print the cycle table."""
    from nngpt_core.loop.report import report_dir

    cfg = load(config, db)
    built = build_report(connect(cfg), run_id, out or report_dir(cfg, run_id))
    console = Console()
    console.print(cycle_table(built.metrics, title=f"run {run_id}: cycle metrics"))
    console.print(f"wrote {built.summary_path} and {len(built.plot_paths or [])} plots")


def transfer(
    source: Annotated[int, typer.Option("--run", help="The finished run whose final adapter generates.")],
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset of the transfer run (cifar100, svhn, digits32, ...).")],
    cycles: Annotated[int, typer.Option("--cycles", min=1, help="Cycles of the transfer run.")] = 1,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Generate with a run's final adapter on another dataset, and print both runs' cycles side by side."""
    from nngpt_flows.local import quiet_prefect_defaults, release_stale_device_slots
    from nngpt_core.loop import preflight
    from nngpt_core.loop.report import cycle_table
    from nngpt_core.loop.transfer import transfer_config, transfer_rows

    cfg = load(config, db)
    store = connect(cfg)
    target = transfer_config(store, source, dataset, cycles)
    preflight.check(target.model_copy(update={"store": cfg.store}))  # a missing dataset fails before Prefect starts
    quiet_prefect_defaults()
    release_stale_device_slots()
    from nngpt_flows.transfer import transfer as transfer_flow

    run_id = transfer_flow(config=cfg, source_run=source, dataset=dataset, cycles=cycles)
    out = Console()
    for label, name, metrics in transfer_rows(store, source, run_id):
        out.print(cycle_table(metrics, title=f"{label} on {name}"))
