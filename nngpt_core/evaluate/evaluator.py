"""`Evaluator`: candidate code in, `EvalResult`s out, through static checks and a warm sandbox pool.

    from nngpt_core.evaluate import Evaluator
    with Evaluator(cfg.evaluation) as evaluator:          # loads the dataset once, starts the workers
        results = evaluator.evaluate_many([code, ...])     # order kept; a rich progress bar on stderr
        print(evaluator.layers)                            # the sandbox layers active on this machine

The dataset stays in the parent; the workers get the training tensors and the test images, never
the test labels. Starting refuses (SandboxRefused, one line) when a layer that cfg.sandbox.require
names is missing on this machine. Every error text is scrubbed of host paths and secrets before it is returned.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nngpt_core.config import EvaluationConfig, StoreConfig
from nngpt_core.data.tensors import DatasetTensors
from nngpt_core.errors import NngptError
from nngpt_core.evaluate.device import resolve_evaluation_device
from nngpt_core.evaluate.recipe import Recipe
from nngpt_core.evaluate.result import EvalResult
from nngpt_core.evaluate.verdict import judge
from nngpt_core.evaluate.wire import result_limit
from nngpt_core.sandbox.pool import SandboxPool
from nngpt_core.sandbox.require import check_layers, required_layers
from nngpt_core.sandbox.scrub import Scrubber
from nngpt_core.sandbox.settings import LayerStatus, SandboxSettings
from nngpt_core.sandbox.static import check_source

ENTRY = "nngpt_core.evaluate.runner:run"
WARM_UP = "nngpt_core.evaluate.runner:warm_up"
# Imported once by each warm worker, so that candidates neither pay for nor read them.
PRELOAD = (
    "torch", "torch.nn", "torch.nn.functional", "torch.utils.flop_counter", "numpy", "math", "typing", "collections",
    "functools", "itertools", "numbers", "dataclasses", "random", "copy", "re", "enum", "types", "warnings",
)
PREDICT_BATCH = 256
# Other processes' sockets, shared memory and temp files; candidates need none of them.
SYSTEM_HIDDEN = (Path("/run"), Path("/var/run"), Path("/dev/shm"), Path("/var/tmp"))
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def host_visibility(cfg: EvaluationConfig) -> tuple[list[str], list[str]]:
    """(hidden, visible): paths candidates must not see, and paths inside them that stay visible.

    Hidden: the data and store directories, the user's home, system sockets, scikit-learn's bundled
    digits (they carry the labels) and configured extras. Visible: the Python installation and this
    package, which candidates import from even when they live in a hidden home directory.
    """
    keep = {Path(sys.prefix), Path(sys.base_prefix), _PACKAGE_ROOT}
    visible = sorted({str(path) for path in keep} | {str(path.resolve()) for path in keep})
    candidates = [cfg.data_dir, StoreConfig().resolved_data_dir(), Path.home(), *cfg.hidden_paths, *SYSTEM_HIDDEN]
    sklearn = importlib.util.find_spec("sklearn")
    if sklearn is not None and sklearn.submodule_search_locations:
        candidates.append(Path(sklearn.submodule_search_locations[0]) / "datasets" / "data")
    hidden = {str(Path(path).expanduser().resolve()) for path in candidates}
    return sorted(hidden - set(visible) - {"/"}), visible


def sandbox_settings(cfg: EvaluationConfig, test_samples: int, disabled_layers: Iterable[str] = (),
                     warmup_request: dict[str, Any] | None = None) -> SandboxSettings:
    """The sandbox of an evaluation config, for results with `test_samples` predictions.

    With `warmup_request` (a request without code), each worker warms up the evaluation path once
    before it runs candidates, so that none of them pays for torch's lazy initialisation.
    """
    hidden, visible = host_visibility(cfg)
    return SandboxSettings(
        entry=ENTRY, preload=PRELOAD, timeout_s=cfg.timeout_s,
        warmup=WARM_UP if warmup_request is not None else "", warmup_request=dict(warmup_request or {}),
        resident=cfg.resolved_worker_mode() == "resident", recycle_after=cfg.recycle_after,
        memory_limit_mb=None if cfg.on_cuda else cfg.memory_limit_mb,
        max_processes=cfg.max_processes, output_limit_kb=cfg.output_limit_kb, scratch_mb=cfg.scratch_mb,
        threads=cfg.threads, hidden_paths=tuple(hidden), visible_paths=tuple(visible), disabled_layers=tuple(disabled_layers),
        result_limit_bytes=result_limit(test_samples),
    )


class Evaluator:
    """A warm pool of sandboxed workers with the dataset loaded once; use it as a context manager.

    workers: overrides cfg.workers. progress: show a progress bar on stderr. data: tensors to
    evaluate on instead of loading cfg.dataset (benchmarks on data made in memory). static_checks
    and disabled_layers exist for tests of the sandbox boundary itself, never for production use; a
    disabled layer still counts as missing when cfg.sandbox.require names it (SandboxRefused).
    """

    def __init__(
        self, cfg: EvaluationConfig, *, workers: int | None = None, progress: bool = True,
        static_checks: bool = True, disabled_layers: Iterable[str] = (), data: DatasetTensors | None = None,
    ):
        # auto becomes this machine's device here, before anything derives from it (worker mode,
        # precision, channels_last, the device plan of each request), so results record where they were really computed
        self.cfg = cfg = cfg.model_copy(update={"device": resolve_evaluation_device(cfg.device)})
        self.data = data
        self.recipe = Recipe.from_config(cfg)
        self.workers = workers or cfg.workers
        self.progress = progress
        self.static_checks = static_checks
        self.disabled_layers = tuple(disabled_layers)
        self.pool: SandboxPool | None = None

    def __enter__(self) -> Evaluator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Load the dataset and start the warm workers (idempotent)."""
        if self.pool is not None:
            return
        from nngpt_core.data import load_dataset

        cfg = self.cfg
        data = self.data or load_dataset(
            cfg.dataset, data_dir=cfg.data_dir, download=cfg.download,
            train_subset=cfg.train_subset, test_subset=cfg.test_subset, seed=cfg.seed,
        )
        self.num_classes = data.num_classes
        self.test_labels = data.test_y.numpy().astype(np.int64)
        self.request_template: dict[str, Any] = {
            "seed": cfg.seed, "device": cfg.device, "threads": cfg.threads, "epochs": cfg.epochs,
            "batch_size": self.recipe.batch_size, "augment": cfg.augment, "hflip": data.hflip,
            "num_classes": data.num_classes, "hyperparameters": self.recipe.hyperparameters,
            "neutral_value": cfg.neutral_value, "max_params": cfg.max_params, "max_flops": cfg.max_flops,
            "predict_batch": PREDICT_BATCH, "precision": self.recipe.precision,
            "channels_last": cfg.resolved_channels_last(), "image_size": cfg.image_size, "random_flip": cfg.random_flip,
            "resident": cfg.resolved_worker_mode() == "resident",
        }
        self.settings = sandbox_settings(cfg, len(self.test_labels), self.disabled_layers, self.request_template)
        pool = SandboxPool(self.settings, {"train_x": data.train_x, "train_y": data.train_y, "test_x": data.test_x}, self.workers)
        try:  # fail closed: no candidate runs in a sandbox that lacks a required layer
            check_layers(pool.layers, required_layers(cfg.sandbox.require))
        except NngptError:
            pool.close()
            raise
        self.scrub = Scrubber.for_host(extra_paths={pool.base_dir: "<sandbox>", str(Path(cfg.data_dir).resolve()): "<data>"})
        self.pool = pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    @property
    def layers(self) -> list[LayerStatus]:
        self.start()
        return self.pool.layers

    def evaluate(self, code: str | None) -> EvalResult:
        return self.evaluate_many([code])[0]

    def evaluate_many(
        self, codes: Sequence[str | None], hyperparameters: Sequence[Mapping[str, float] | None] | None = None,
    ) -> list[EvalResult]:
        """One EvalResult per code, in order; failing candidates are results, not exceptions.

        `hyperparameters` optionally gives each code its own values (e.g. LEMUR's recorded ones, `batch`
        included) over the recipe's; that result's recipe and hash then name those values.
        """
        self.start()
        recipes = [self.recipe if not values else self.recipe.with_hyperparameters(values)
                   for values in (hyperparameters or [None] * len(codes))]
        results: list[EvalResult | None] = [None] * len(codes)
        runnable = []
        for index, code in enumerate(codes):
            verdict = check_source(code, self.cfg.allowed_imports) if self.static_checks or not (code or "").strip() else None
            if verdict is None:
                runnable.append(index)
            else:
                results[index] = self._result(verdict.status, self.scrub(verdict.error), recipe=recipes[index])
        with self._progress(len(codes)) as advance:
            advance(len(codes) - len(runnable))
            requests = [{**self.request_template, "code": codes[index], "batch_size": recipes[index].batch_size,
                         "hyperparameters": recipes[index].hyperparameters} for index in runnable]
            outcomes = self.pool.run_many(requests, on_done=lambda _index, _outcome: advance(1))
        for index, outcome in zip(runnable, outcomes):
            judgement = judge(outcome, self.test_labels, self.num_classes, self.settings)
            report = judgement.report
            results[index] = self._result(
                judgement.status, self.scrub(judgement.error), recipe=recipes[index], accuracy=judgement.accuracy, duration_s=outcome.wall_s,
                train_loss=report.train_loss if report else None,
                phase_durations=report.phases if report else {},
                params=report.params if report else None, flops=report.flops if report else None,
                structural_tokens=report.tokens if report else None,
                hyperparameters=report.hyperparameters if report else {},
            )
        return results

    def _result(self, status: str, error: str | None, recipe: Recipe, **fields: Any) -> EvalResult:
        return EvalResult(
            status=status, error=error, device=self.cfg.device, seed=self.cfg.seed, dataset=self.cfg.dataset,
            recipe=recipe.hash, recipe_config=recipe.to_dict(), **fields,
        )

    @contextmanager
    def _progress(self, total: int) -> Iterator[Callable[[int], None]]:
        if not self.progress or total == 0:
            yield lambda _steps: None
            return
        columns = (TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("evaluating", total=total)
            yield lambda steps: progress.advance(task, steps)

