"""Checks made before any work starts, so a bad run fails in seconds with one line, not mid-cycle.

    preflight.check(cfg)    # the store answers, the model loads offline, the device, dataset and sandbox layers are there
"""

from __future__ import annotations

from nngpt_core.config import RunConfig
from nngpt_core.errors import NngptError
from nngpt_core.store.engine import open_store


def check_dataset(cfg: RunConfig) -> None:
    from nngpt_core.data.registry import get_spec

    spec = get_spec(cfg.evaluation.dataset)
    if not cfg.evaluation.download and not spec.is_present(cfg.evaluation.data_dir):
        raise NngptError(
            f"dataset '{spec.name}' not found: expected {spec.layout(cfg.evaluation.data_dir)} "
            "(set evaluation.download: true to download it)"
        )


def check_sandbox(cfg: RunConfig) -> None:
    """The layers evaluation.sandbox.require names are there (a probe worker, about a second).

    Off the local backend the shards are evaluated on other machines, which check when they start."""
    from nngpt_core.evaluate.evaluator import sandbox_settings
    from nngpt_core.sandbox.require import check_layers, probe_layers, required_layers

    if cfg.orchestration.evaluation_backend != "local":
        return
    required = required_layers(cfg.evaluation.sandbox.require)
    if required:
        check_layers(probe_layers(sandbox_settings(cfg.evaluation, test_samples=0)), required)


def check(cfg: RunConfig) -> None:
    """Raise NngptError (one line) when the run cannot start.

    The store comes last: opening an SQLite store creates its file, which a run that cannot start
    (a wrong model path, a missing dataset) should not leave behind."""
    from nngpt_core.evaluate.device import resolve_evaluation_device
    from nngpt_core.llm.loading import ensure_model_available

    ensure_model_available(cfg.model)
    if cfg.orchestration.evaluation_backend == "local":  # elsewhere the evaluating machines resolve it
        resolve_evaluation_device(cfg.evaluation.device)  # cuda without a GPU fails here, not per candidate
    check_dataset(cfg)
    check_sandbox(cfg)
    open_store(cfg.store.resolved_url()).dispose()
