"""The retry policy shared by all stage tasks: retries with backoff for infrastructure faults only.

    @task(name="generate", **STAGE_TASK_OPTIONS)
    def generate(cfg, cycle_id): ...

What counts as an infrastructure fault is decided by its cause (nngpt_core.faults): a dropped
connection or a locked database is retried, a missing table or a SQL syntax error fails at once.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from nngpt_core.config import RunConfig, StoreConfig
from nngpt_core.errors import first_line
from nngpt_core.faults import infrastructure_cause
from nngpt_core.store.engine import Store, open_store
from nngpt_core.store.migrate import ensure_current

log = logging.getLogger("nngpt.loop")


def retry_on_infrastructure_fault(task, task_run, state) -> bool:
    """Prefect's retry_condition_fn: retry only when the exception is an infrastructure fault."""
    try:
        state.result()
    except Exception as exc:  # the task's own exception, re-raised by the failed state
        cause = infrastructure_cause(exc)
        if cause is not None:
            log.warning("%s: %s (%s), an infrastructure fault: retrying", task.name, cause, first_line(exc))
        return cause is not None
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
    store = open_store(url)
    ensure_current(store)  # a flow run from the UI may be the first to touch a fresh store
    return store


def store_at(section: StoreConfig) -> Store:
    """One engine per database URL and process, shared by the tasks that run there, its schema at head.

    Every flow opens its store here first, so a flow run started from the Prefect UI on a fresh
    (or older) store migrates it, under the migration lock when several workers start at once."""
    return _store(section.resolved_url())


def store_for(cfg: RunConfig) -> Store:
    return store_at(cfg.store)
