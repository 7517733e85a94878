"""`nngpt corpus build|check`: write the seed corpus and import it into the store; check its files.

    nngpt corpus build                              # seeds + 1000 variants into <data dir>/corpus, then the store
    nngpt corpus build --out corpus --n 200 --seed 1 --no-import
    nngpt corpus check                              # house style and a build/train-step probe of every seed
    nngpt corpus check --expanded 20 --evaluate     # ... plus 20 variants, each also evaluated in the sandbox
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nngpt_core.cli.common import ConfigOption, DbOption, connect, load
from nngpt_core.corpus import expanded_sources, seed_sources
from nngpt_core.errors import NngptError

corpus_app = typer.Typer(help="The seed corpus: hand-written architectures and their expanded variants.", no_args_is_help=True)
console = Console(stderr=True)


def _progress() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=True)


@corpus_app.command("build")
def build(
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for the corpus files (default: <data dir>/corpus).")] = None,
    n: Annotated[int, typer.Option("--n", min=0, help="Expanded variants to write besides the hand-written seeds.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the expander (the same seed writes the same files).")] = 0,
    no_import: Annotated[bool, typer.Option("--no-import", help="Only write the files; leave the store alone.")] = False,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Write the seeds and N checked variants to a folder and import them into the store with origin 'seed'."""
    from nngpt_core.corpus.builder import import_corpus, write_corpus

    cfg = load(config, db)
    out = out if out is not None else cfg.store.resolved_data_dir() / "corpus"
    store = None if no_import else connect(cfg)  # an unreachable store fails before minutes of expansion
    with _progress() as progress:
        task = progress.add_task("writing corpus", total=len(seed_sources()) + n)
        files = write_corpus(out, n, seed, on_file=lambda _file: progress.advance(task))
    seeds = sum(f.kind == "seed" for f in files)
    console.print(f"wrote {seeds} seeds and {len(files) - seeds} expanded variants to {out}")
    if store is None:
        return
    from nngpt_core.novelty.admission import index_architecture

    with _progress() as progress:
        tracked = progress.track(files, description="importing")
        report = import_corpus(store, tracked, on_added=lambda session, arch: index_architecture(session, arch, cfg.novelty))
    for source, reason in report.skipped:
        console.print(f"[yellow]skipped[/] {source}: {reason}")
    console.print(
        f"imported {len(report.added)} new, {len(report.already_stored)} already stored, "
        f"{len(report.skipped)} skipped into {store.masked_url}"
    )


@corpus_app.command("check")
def check(
    expanded: Annotated[int, typer.Option("--expanded", min=0, help="Also check this many expanded variants (seed 0).")] = 0,
    evaluate: Annotated[bool, typer.Option("--evaluate", help="Also evaluate each file in the sandbox on the configured dataset.")] = False,
    config: ConfigOption = None,
) -> None:
    """Check the house style of every seed (and N variants) and build, train a step and run each on 1x8x8 and 3x32x32."""
    from nngpt_core.corpus.probe import probe
    from nngpt_core.corpus.style import style_problems

    cfg = load(config)
    files = seed_sources() + list(expanded_sources(expanded, 0))
    rows, failed = [], 0
    with _progress() as progress:
        for name, code in progress.track(files, description="probing"):
            problems = style_problems(code)
            report = probe(code)
            problem = "; ".join(problems) or report.error or ""
            failed += bool(problem)
            rows.append([name, str(len(code.splitlines())), str(report.params or "-"),
                         f"{report.flops / 1e6:.1f}" if report.flops else "-", problem or "ok"])
    header = ["file", "lines", "params", "MFLOPs", "check"]
    if evaluate:
        from nngpt_core.evaluate import Evaluator

        with Evaluator(cfg.evaluation) as evaluator:
            results = evaluator.evaluate_many([code for _, code in files])
        header += [f"{cfg.evaluation.dataset} status", "accuracy"]
        for row, result in zip(rows, results):
            failed += not result.ok
            row += [result.status if result.ok else f"{result.status}: {result.error}",
                    f"{result.accuracy:.3f}" if result.accuracy is not None else "-"]
    table = Table(*header, title=f"corpus check: {len(files)} files")
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    if failed:
        raise NngptError(f"{failed} corpus check(s) failed (see the table)")
