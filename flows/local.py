"""Run `evolve` on this machine without a server to start (Prefect's ephemeral mode): `nngpt run`."""

from __future__ import annotations

import logging
import os

from nngpt_core.config import RunConfig

# "nngpt.loop" (the stages' progress lines) and the nngpt_core.* modules that log under their own name
LIBRARY_LOGGERS = ("nngpt", "nngpt_core")


def quiet_prefect_defaults() -> None:
    """Local runs: no telemetry, and the library's own progress lines in Prefect's console log."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # the ephemeral server gets 20 s by default to answer: too few on a busy machine importing torch beside it
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", ",".join(LIBRARY_LOGGERS))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:  # else the root logger's WARNING level drops the INFO progress lines
            logger.setLevel(logging.INFO)


def release_stale_device_slots() -> list[str]:
    """Free the device slots that a killed local run left taken; returns the names of those limits.

    Prefect's ephemeral server keeps concurrency leases in memory only. When a run is killed while
    an evaluation shard holds its device slot, the slot stays taken in PREFECT_HOME's database, and
    the next run (a `--resume` included) waits for it for ever. A local run's server is its own, so
    a slot taken before the run starts is stale. A real server (PREFECT_API_URL) is left alone: it
    frees the slots of expired leases itself.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
    from prefect.settings import get_current_settings

    from nngpt_tasks.concurrency import DEVICE_SLOT_PREFIX

    if get_current_settings().api.url:
        return []
    freed = []
    with get_client(sync_client=True) as client:  # starts the ephemeral server the flow then uses
        for limit in client.read_global_concurrency_limits(limit=200):
            if limit.name.startswith(DEVICE_SLOT_PREFIX) and limit.active_slots:
                client.update_global_concurrency_limit(limit.name, GlobalConcurrencyLimitUpdate(active_slots=0))
                freed.append(limit.name)
    for name in freed:
        logging.getLogger("nngpt.loop").warning("freed the slot of %s that a killed run had left taken", name)
    return freed


def run_locally(config: RunConfig, resume_run: int | None = None, cycles: int | None = None) -> int:
    quiet_prefect_defaults()
    release_stale_device_slots()
    from nngpt_flows.evolve import evolve

    return evolve(config=config, resume_run=resume_run, cycles=cycles)
