"""The retry policy shared by all stage tasks: retries with backoff for infrastructure faults only."""

from __future__ import annotations

from functools import lru_cache

from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from nngpt_core.config import RunConfig
from nngpt_core.faults import is_infrastructure_fault
from nngpt_core.store.engine import Store, open_store


def retry_on_infrastructure_fault(task, task_run, state) -> bool:
    """Prefect's retry_condition_fn: retry only when the exception is an infrastructure fault."""
    try:
        state.result()
    except Exception as exc:  # the task's own exception, re-raised by the failed state
        return is_infrastructure_fault(exc)
    return False


STAGE_TASK_OPTIONS = dict(
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_on_infrastructure_fault,
    cache_policy=NO_CACHE,  # the store, not Prefect's cache, decides what is already done
    persist_result=False,
)


@lru_cache(maxsize=8)
def _store(url: str) -> Store:
    return open_store(url)


def store_for(cfg: RunConfig) -> Store:
    """One engine per database URL and process, shared by the tasks that run there."""
    return _store(cfg.store.resolved_url())
