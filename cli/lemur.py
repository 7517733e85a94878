"""`nngpt lemur fetch|import|check|report`: LEMUR (ABrain-One's nn-dataset) as data.

    nngpt lemur fetch                                   # pip-download nn-dataset 2.1.2's source archive, verify, cache
    nngpt lemur fetch --from nn_dataset-2.1.2.tar.gz    # offline: verify and cache a local copy
    nngpt lemur import                                  # image-classification models and records into the store
    nngpt lemur import --datasets cifar-10,svhn --workers 2
    nngpt lemur check                                   # how many files the static check passes, and why the rest not
    nngpt lemur report                                  # distinct architectures, families, exact copies, a plot

The archive is cached in <data dir>/lemur (`--cache-dir` overrides it) and verified before each use.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nngpt_core.lemur.fetch import DEFAULT_VERSION, cached_archive, fetch_archive
from nngpt_cli.common import ConfigOption, DbOption, connect, load

lemur_app = typer.Typer(help="LEMUR (nn-dataset) as data: fetch, import, check, report.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)
DEFAULT_TASK = "img-classification"

VersionOption = Annotated[str, typer.Option("--version", help="nn-dataset release (pinned by sha256).")]
TaskOption = Annotated[str, typer.Option("--task", help="LEMUR task whose models are used.")]
CacheOption = Annotated[Optional[Path], typer.Option("--cache-dir", help="Archive cache (default: <data dir>/lemur).")]
WorkersOption = Annotated[int, typer.Option("--workers", min=1, help="Processes for parsing, hashing and signing files.")]


def _cache_dir(cache_dir: Path | None, config: Path | None) -> Path:
    return cache_dir if cache_dir is not None else load(config).store.resolved_data_dir() / "lemur"


@contextmanager
def _stages() -> Iterator[Callable[[str, int | None], Callable[[int], None]]]:
    """A rich progress display on stderr; each stage is a bar (a counter when its total is unknown)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        def stage(name: str, total: int | None) -> Callable[[int], None]:
            task = progress.add_task(name, total=total)
            return lambda steps: progress.advance(task, steps)

        yield stage


@lemur_app.command("fetch")
def fetch(
    version: VersionOption = DEFAULT_VERSION,
    source: Annotated[Optional[Path], typer.Option("--from", help="A local copy of the archive (offline machines).")] = None,
    cache_dir: CacheOption = None,
    config: ConfigOption = None,
) -> None:
    """Download (or take --from FILE) nn-dataset's source archive, verify its pinned sha256 and cache it."""
    path = fetch_archive(_cache_dir(cache_dir, config), version, source, on_status=lambda message: console.print(message))
    typer.echo(str(path))


@lemur_app.command("import")
def import_(
    task: TaskOption = DEFAULT_TASK,
    datasets: Annotated[str, typer.Option("--datasets", help="Comma-separated LEMUR datasets whose records are imported (default: all).")] = "",
    version: VersionOption = DEFAULT_VERSION,
    workers: WorkersOption = os.cpu_count() or 1,
    cache_dir: CacheOption = None,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Import LEMUR's models of a task (origin lemur) and their recorded results (evaluations with source lemur)."""
    from nngpt_core.lemur.importer import import_lemur

    cfg = load(config, db)
    archive = cached_archive(_cache_dir(cache_dir, config), version)
    store = connect(cfg)
    chosen = [name.strip() for name in datasets.split(",") if name.strip()]
    with _stages() as stage:
        summary = import_lemur(store, archive, version=version, task=task, datasets=chosen, novelty=cfg.novelty,
                               workers=workers, progress=stage)
    _print_import(summary, store.masked_url)


def _print_import(summary, url: str) -> None:
    out = Console()
    total = summary.timings["total"]
    out.print(f"nn-dataset {summary.version}, task {summary.task}"
              + (f", datasets {', '.join(summary.datasets)}" if summary.datasets else "") + f" -> {url}")
    files = Table("model files", "count", title=f"{summary.files} model files in the archive")
    for label, count in (("new architectures", summary.new), ("exact copies of another file", summary.exact_copies),
                         ("code already in the store", summary.already_stored),
                         ("imported by an earlier run", summary.already_imported)):
        files.add_row(label, str(count))
    for reason, count in summary.skipped.most_common():
        files.add_row(f"skipped: {reason}", str(count))
    out.print(files)
    records = Table("records", "count", title=f"{summary.epoch_files} epoch files of {summary.task}")
    for label, count in (("new evaluations (source lemur)", summary.records_new), ("already stored", summary.records_stored),
                         ("duplicate trials", summary.records_duplicate), ("trials without accuracy", summary.malformed),
                         ("unreadable epoch files", len(summary.unreadable))):
        records.add_row(label, str(count))
    out.print(records)
    rates = (f"{summary.files / total:.0f} files/s" if total else "-",
             f"{summary.signatures / summary.timings['analyse and write']:.0f} signatures/s" if summary.signatures else "0 signatures",
             f"{summary.records_new / total:.0f} records/s" if total else "-")
    out.print(f"{total:.1f} s (reading {summary.timings['read']:.1f} s): " + ", ".join(rates))


@lemur_app.command("check")
def check(
    task: TaskOption = DEFAULT_TASK,
    version: VersionOption = DEFAULT_VERSION,
    workers: WorkersOption = os.cpu_count() or 1,
    cache_dir: CacheOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the evaluator's static check on every model file of a task: the share that passes, and each refusal's rule."""
    from nngpt_core.lemur.analysis import map_files, static_verdict
    from nngpt_core.lemur.archive import read_archive

    cfg = load(config)
    path = cached_archive(_cache_dir(cache_dir, config), version)
    with _stages() as stage:
        advance_reading = stage("reading archive", None)
        archive = read_archive(path, version, task, on_member=lambda: advance_reading(1), with_records=False)
        files = [(name, code) for name, code in sorted(archive.models.items()) if task in archive.tasks.get(name, ())]
        verdicts = list(map_files(static_verdict, files, tuple(cfg.evaluation.allowed_imports), workers=workers,
                                  on_done=stage("checking", len(files))))
    refused: Counter = Counter()
    rules: dict[tuple[str, str], set[str]] = {}
    for verdict in filter(None, verdicts):
        reason = (verdict.status, verdict.error.split("is not allowed: ")[-1] if verdict.status == "forbidden" else verdict.error)
        refused[reason] += 1
        rules.setdefault(reason, set()).add(verdict.rule or "")
    passed = len(files) - sum(refused.values())
    out = Console()
    table = Table("status", "reason", "refused names (examples)", "files",
                  title=f"static check of {len(files)} {task} files of nn-dataset {version}")
    for (status, reason), count in refused.most_common():
        table.add_row(status, reason, ", ".join(sorted(rules[(status, reason)])[:4]), str(count))
    out.print(table)
    out.print(f"{passed} of {len(files)} pass the static check ({passed / max(len(files), 1):.1%})")


@lemur_app.command("report")
def report(
    version: VersionOption = DEFAULT_VERSION,
    top: Annotated[int, typer.Option("--top", min=1, help="Largest families listed per criterion.")] = 8,
    out: Annotated[Optional[Path], typer.Option("--out", help="Plot file (default: <data dir>/reports/lemur_dedup.png).")] = None,
    workers: WorkersOption = os.cpu_count() or 1,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Distinct architectures of the imported LEMUR files: exact copies, families under the project's and the paper's criterion."""
    from nngpt_core.lemur.report import dedup_report, family_label, plot_report

    cfg = load(config, db)
    store = connect(cfg)
    with _stages() as stage:
        result = dedup_report(store, version, cfg.novelty, workers=workers, progress=stage)
    plot = plot_report(result, out or cfg.store.resolved_data_dir() / cfg.orchestration.reports_dir / "lemur_dedup.png")
    out_console = Console()
    summary = Table("", "count", title=f"LEMUR (nn-dataset {version}): {result.files:,} imported files")
    for label, value in (
        ("distinct normalized code", result.distinct_code),
        ("exact copies (files whose code another file has)", result.exact_copies),
        (f"families, project criterion ({result.project.criterion})", result.project.distinct),
        (f"families, paper criterion ({result.paper.criterion})", result.paper.distinct),
        ("single-file families, project / paper", f"{result.project.sizes().count(1):,} / {result.paper.sizes().count(1):,}"),
    ):
        summary.add_row(label, f"{value:,}" if isinstance(value, int) else value)
    out_console.print(summary)
    for families in (result.project, result.paper):
        table = Table("leader", "files", "architectures", "members by name", title=f"largest families: {families.criterion}")
        ranked = sorted(families.members.items(), key=lambda item: -sum(len(result.names[a]) for a in item[1]))
        for leader, members in ranked[:top]:
            files = [name for a in members for name in result.names[a]]
            table.add_row(result.names[leader][0], f"{len(files):,}", f"{len(members):,}", family_label(files))
        out_console.print(table)
    if result.copies:
        copied = ", ".join(f"{result.names[a][0]} x{n}" for a, n in result.copies[:top])
        out_console.print(f"most copied code: {copied}")
    out_console.print(f"plot: {plot}")
