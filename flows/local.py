"""Run `evolve` on this machine without a server to start (Prefect's ephemeral mode): `nngpt run`."""

from __future__ import annotations

import os

from nngpt_core.config import RunConfig


def quiet_prefect_defaults() -> None:
    """Local runs: no telemetry, and the library's own progress lines in Prefect's console log."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "nngpt")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def run_locally(config: RunConfig, resume_run: int | None = None, cycles: int | None = None) -> int:
    quiet_prefect_defaults()
    from flows.evolve import evolve

    return evolve(config=config, resume_run=resume_run, cycles=cycles)
