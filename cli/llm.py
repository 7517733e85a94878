"""`nngpt bootstrap`, `nngpt generate` and `nngpt finetune`: the LLM from the command line.

    nngpt bootstrap [--quick] [--out models/bootstrap] [--minutes 60] [--steps N]
    nngpt generate --n 16 --out out/gen [--adapter ID] [--config FILE] [--db URL]
    nngpt finetune --run 1 --cycle 0                # SFT on that cycle's selected examples
    nngpt finetune --pairs pairs.jsonl [--adapter ID]

`generate` writes one .py per candidate with usable code and completions.jsonl with every
completion and its status; `finetune` prints the id of the adapter it registered, which
`generate --adapter ID` (or model.adapter_id in the config) then uses with all its ancestors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nngpt_core.errors import NngptError
from nngpt_cli.common import ConfigOption, DbOption, connect, load

console = Console(stderr=True)


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bootstrap(
    quick: Annotated[bool, typer.Option("--quick", help="A tiny model on a corpus slice in a minute or two (tests, smoke runs).")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output directory (default: models/bootstrap).")] = None,
    minutes: Annotated[Optional[float], typer.Option("--minutes", help="Wall-clock training budget in minutes.")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Fixed optimizer steps (reproduces a recorded run).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Training seed.")] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", help="torch CPU threads.")] = None,
) -> None:
    """Train the embedded default model (tokenizer + small Llama) from scratch on the seed corpus, on CPU."""
    from nngpt_core.llm.bootstrap import bootstrap as run_bootstrap
    from nngpt_core.llm.bootstrap.settings import BootstrapSettings

    _offline()
    overrides = {key: value for key, value in dict(out=out, minutes=minutes, steps=steps, seed=seed, threads=threads).items()
                 if value is not None}
    settings = BootstrapSettings.quick(**overrides) if quick else BootstrapSettings(**overrides)
    result = run_bootstrap(settings, console=console)
    Console().print(f"bootstrap model: {result.out} ({result.parameters / 1e6:.2f}M parameters, "
                    f"{result.history.steps} steps, holdout loss {result.history.holdout_loss})")


def generate(
    n: Annotated[int, typer.Option("--n", min=1, help="Completions to sample.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for candidate_NNN.py files and completions.jsonl.")],
    adapter: Annotated[Optional[int], typer.Option("--adapter", help="Stored adapter id (its ancestors are applied too).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Sampling seed (default: generation.seed).")] = None,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Sample N candidate architectures from the model, with parents from the store in each prompt (generation.modes)."""
    from nngpt_core.llm.adapters import load_with_adapter
    from nngpt_core.llm.candidates import fits_context, generate_candidates, write_candidates
    from nngpt_core.llm.prompts import PromptTemplate, TaskSpec
    from nngpt_core.loop.generation import planner_for, static_check

    _offline()
    cfg = load(config, db)
    store = connect(cfg)
    adapter_id = adapter if adapter is not None else cfg.model.adapter_id
    task = TaskSpec.for_dataset(cfg.evaluation.dataset, cfg.generation.param_budget)
    with console.status("loading model"):
        loaded = load_with_adapter(cfg.model, store, adapter_id)
    seed = cfg.generation.seed if seed is None else seed
    plans = planner_for(store, cfg).draw(n, seed, fits_context(loaded, PromptTemplate.load(cfg.generation.prompt_template),
                                                               task, cfg.generation))
    with Progress(TextColumn("[bold]generating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task_id = bar.add_task("", total=n)
        candidates, stats = generate_candidates(loaded, cfg.generation, task, plans, seed, check=static_check(cfg),
                                                on_batch=lambda done: bar.advance(task_id, done))
    jsonl = write_candidates(candidates, out)
    usable = sum(1 for c in candidates if c.code)
    table = Table("completions", "with code", "no_code", "tokens", "tokens/s", "candidates/min", title=f"nngpt generate -> {out}")
    table.add_row(str(n), str(usable), str(n - usable), str(stats.new_tokens), f"{stats.tokens_per_s:.1f}",
                  f"{stats.completions_per_min:.1f}")
    Console().print(table)
    console.print(f"model {loaded.name_or_path}" + (f" + adapter {adapter_id} chain ({len(loaded.adapter_paths)})" if adapter_id else "")
                  + f"; completions in {jsonl}")


def finetune(
    run: Annotated[Optional[int], typer.Option("--run", help="Run id whose cycle's SFT examples to train on.")] = None,
    cycle: Annotated[Optional[int], typer.Option("--cycle", help="Cycle index within --run.")] = None,
    pairs: Annotated[Optional[Path], typer.Option("--pairs", help="JSONL of {prompt, completion} pairs instead of a cycle.")] = None,
    adapter: Annotated[Optional[int], typer.Option("--adapter", help="Parent adapter for --pairs (default: model.adapter_id).")] = None,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """LoRA fine-tuning on a cycle's selected candidates (or a pairs file); registers the adapter."""
    from nngpt_core.llm.finetune import finetune as run_finetune
    from nngpt_core.llm.finetune import pairs_from_cycle, pairs_from_file

    _offline()
    if (pairs is None) == (cycle is None):
        raise NngptError("give either --run ID --cycle K or --pairs FILE.jsonl")
    if cycle is not None and run is None:
        raise NngptError("--cycle needs --run")
    if cycle is not None and adapter is not None:
        raise NngptError("--adapter applies to --pairs only; a cycle fine-tunes on the adapter it generated with")
    cfg = load(config, db)
    store = connect(cfg)
    if pairs is not None:
        examples, cycle_row = pairs_from_file(pairs), None
        parent = adapter if adapter is not None else cfg.model.adapter_id
    else:
        examples, cycle_row = pairs_from_cycle(store, run, cycle)
        parent = cycle_row.adapter_in_id
    with console.status(f"fine-tuning on {len(examples)} examples"):
        adapter_id = run_finetune(cfg, store, examples, parent_id=parent, run_id=run, cycle=cycle_row)
    console.print(f"adapter {adapter_id} registered (parent {parent}); use it with `nngpt generate --adapter {adapter_id}`")
    Console().print(adapter_id)
