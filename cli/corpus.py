"""`nngpt corpus build|check`: write a model's training corpus and import it into the store; check files.

    nngpt corpus build                              # the shipped model's training corpus into <data dir>/corpus, then the store
    nngpt corpus build --out corpus --no-import     # only the files: check a claimed novel architecture against them
    nngpt corpus build --model DIR --rebuild        # rebuild it from the model's recipe; fails unless identical
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

from nngpt_core.corpus import expanded_sources, seed_sources
from nngpt_core.errors import NngptError
from nngpt_cli.common import ConfigOption, DbOption, connect, load

corpus_app = typer.Typer(help="The seed corpus: hand-written architectures and their expanded variants.", no_args_is_help=True)
console = Console(stderr=True)


def _progress() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=True)


@corpus_app.command("build")
def build(
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for the corpus files (default: <data dir>/corpus).")] = None,
    model: Annotated[Optional[Path], typer.Option("--model", help="Model directory holding the training corpus (default: model.name_or_path).")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Rebuild the corpus from the model's recorded recipe (minutes: every file is probed) and check it is identical.")] = False,
    no_import: Annotated[bool, typer.Option("--no-import", help="Only write the files; leave the store alone.")] = False,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Write every architecture file a model was trained on (seeds, expanded variants, synthetic hybrids) and
    import them into the store with those origins."""
    from nngpt_core.corpus.builder import import_corpus, write_corpus
    from nngpt_core.corpus.training import TrainingCorpus

    cfg = load(config, db)
    out = out if out is not None else cfg.store.resolved_data_dir() / "corpus"
    store = None if no_import else connect(cfg)  # an unreachable store fails before any work
    corpus = TrainingCorpus.load(model if model is not None else Path(cfg.model.name_or_path))
    if rebuild:
        recipe = corpus.recipe
        with _progress() as progress:
            task = progress.add_task("rebuilding and probing", total=len(corpus.files) - len(seed_sources()))
            rebuilt = TrainingCorpus.from_recipe(recipe, on_file=lambda _file: progress.advance(task))
        if rebuilt.sha256 != corpus.sha256:
            raise NngptError(f"the rebuilt corpus (sha256 {rebuilt.sha256[:16]}...) differs from the model's "
                             f"({corpus.sha256[:16]}...): this checkout does not reproduce its training data")
        console.print(f"rebuilt {len(rebuilt.files)} files: identical to the model's training corpus")
    with _progress() as progress:
        task = progress.add_task("writing corpus", total=len(corpus.files))
        files = write_corpus(out, corpus, on_file=lambda _file: progress.advance(task))
    counts = ", ".join(f"{count} {origin}" for origin, count in corpus.manifest()["counts"].items())
    console.print(f"wrote {len(files)} files ({counts}) to {out}, sha256 {corpus.sha256[:16]}...")
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
