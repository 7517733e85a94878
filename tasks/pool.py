"""The pool backend: each evaluation shard is a flow run of the `evaluate` deployment on the work pool.

The waiting and rerunning is `nngpt_core.loop.shards.run_shards`; this module is only its edge to
Prefect (`PrefectShardRuns`) and the task that ties both to the store. A shard's flow run gets the
config (as JSON) and its candidate ids, nothing else: the worker reads the code from the store and
keeps its own sandbox, dataset and model caches.

A dead worker: when only the flow run's process dies, the worker reports the run Crashed. When
the whole worker or machine dies, nobody reports anything and Prefect keeps the run Running; its
heartbeats (`prefect.flow-run.heartbeat` events, every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds on
the worker, 180 by default) stop, and after HEARTBEAT_MISSES of its periods `run_shards` marks it
Crashed and starts the shard again. The shard deadline (orchestration.shard_timeout_s) bounds
everything else: a run past it (still Scheduled/Pending, or dead before its second heartbeat) is
marked Crashed and started again too, until orchestration.shard_attempts runs are spent. (Prefect's own answer, the "Detect Zombie Flows" automation, needs setting up on
the server; this check needs nothing but the events API.)

A dead driver: when the process running the cycle dies, its shard runs go on. Each carries the tags
of its run and cycle (`shard_tags`); `nngpt run --resume` finds the ones not finished and adopts
them (run_shards waits for them and starts nothing for their candidates). A shard declared dead that
was alive after all stores nothing twice: the first result stored for an architecture wins
(nngpt_core.loop.evaluation.store_first_result).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import partial
from uuid import UUID

from prefect import task
from prefect.cache_policies import NO_CACHE

from nngpt_core.config import RunConfig
from nngpt_core.errors import NngptError
from nngpt_core.loop.evaluation import unevaluated
from nngpt_core.loop.runs import run_created_at
from nngpt_core.loop.shards import OrphanRun, RunState, run_shards, shard_number, shard_tags
from nngpt_tasks.policy import store_for

HEARTBEAT_EVENT = "prefect.flow-run.heartbeat"
HEARTBEAT_MISSES = 3  # a Running shard run silent for this many heartbeat periods is presumed dead
POLL_S = 5.0


def _transient(exc: Exception) -> bool:
    """An API error worth polling again for (network, server restarting), not a bug."""
    import httpx

    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code >= 500


class PrefectShardRuns:
    """`ShardRuns` on a Prefect server: flow runs of the evaluate deployment, read back with the client.

    `tags` (nngpt_core.loop.shards.shard_tags) mark every run started here as a shard of one cycle
    of one run, so that `tagged` finds them again from another process (a resumed driver)."""

    def __init__(self, cfg: RunConfig, tags: list[str] | None = None):
        self.deployment = cfg.orchestration.evaluate_deployment
        self.config_json = cfg.model_dump(mode="json")  # the database password masked (StoreConfig)
        self.tags = list(tags or ["nngpt", "nngpt-shard"])

    def start(self, name: str, candidate_ids: list[int]) -> str:
        from prefect.deployments import run_deployment

        flow_run = run_deployment(
            name=self.deployment,
            parameters={"config": self.config_json, "candidate_ids": list(candidate_ids)},
            flow_run_name=name,
            timeout=0,  # start it and return: run_shards waits for all shards together
            as_subflow=True,
            tags=self.tags,
        )
        return str(flow_run.id)

    def tagged(self) -> list[OrphanRun]:
        """Every flow run carrying all of this cycle's tags, whatever its state, oldest first."""
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
        from prefect.client.schemas.sorting import FlowRunSort

        found: list[OrphanRun] = []
        with get_client(sync_client=True) as client:
            while True:
                page = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=self.tags)),
                                             sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=200, offset=len(found))
                found += [OrphanRun(str(run.id), run.name, [int(i) for i in (run.parameters or {}).get("candidate_ids") or []],
                                    run.state.type.value if run.state else "UNKNOWN") for run in page]
                if len(page) < 200:
                    return found

    def states(self, run_ids: list[str]) -> dict[str, RunState]:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        try:
            with get_client(sync_client=True) as client:
                flow_runs = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(i) for i in run_ids])),
                    limit=len(run_ids),
                )
        except Exception as exc:
            if _transient(exc):
                raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
            raise
        return {
            str(run.id): RunState(run.state.type.value, run.state.name or "", run.state.message or "")
            for run in flow_runs if run.state is not None
        }

    def heartbeats(self, run_id: str) -> tuple[float, float] | None:
        from prefect.client.orchestration import get_client
        from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventResourceFilter

        now = datetime.now(timezone.utc)
        event_filter = EventFilter(
            occurred=EventOccurredFilter(since=now - timedelta(days=1), until=now),
            event=EventNameFilter(name=[HEARTBEAT_EVENT]),
            resource=EventResourceFilter(id=[f"prefect.flow-run.{run_id}"]),
        )  # newest first (the default order)
        try:
            with get_client(sync_client=True) as client:
                page = client.read_events(filter=event_filter, limit=2)
        except Exception as exc:
            if _transient(exc):
                return None  # cannot tell now: never a reason to kill a run
            raise
        if len(page.events) < 2:
            return None
        last, before = page.events[0].occurred, page.events[1].occurred
        return (now - last).total_seconds(), (last - before).total_seconds()

    def mark_crashed(self, run_id: str, message: str) -> None:
        from prefect.client.orchestration import get_client
        from prefect.states import Crashed

        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run_id, Crashed(message=message), force=True)


def check_pool(cfg: RunConfig) -> None:
    """Fail in seconds, before generation, when the evaluate deployment is not on the server."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    name = cfg.orchestration.evaluate_deployment
    if not PREFECT_API_URL.value():
        raise NngptError(
            "orchestration.evaluation_backend is pool, but PREFECT_API_URL is not set: start a Prefect "
            "server, run nngpt deploy and one or more nngpt worker, and point PREFECT_API_URL at the server"
        )
    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(name)
    except ObjectNotFound:
        raise NngptError(
            f"the deployment '{name}' (orchestration.evaluate_deployment) is not on the Prefect server at "
            f"{PREFECT_API_URL.value()}: run nngpt deploy"
        ) from None


@task(name="evaluate-on-pool", cache_policy=NO_CACHE, persist_result=False)
def evaluate_on_pool(cfg: RunConfig, shards: list[list[int]], run_id: int, cycle_index: int) -> dict:
    """Send each shard to the evaluate deployment, wait for all of them, rerun the crashed ones.

    Shard runs that an earlier driver of this cycle left running (it was killed; this is
    `nngpt run --resume`) are adopted, not started again. No task retries: a retry would start
    shards again while the first ones may still run.
    """
    store = store_for(cfg)
    pending = partial(unevaluated, store)
    todo = [left for part in shards if (left := pending(part))]
    runs = PrefectShardRuns(cfg, shard_tags(run_id, run_created_at(store, run_id), cycle_index))
    earlier = runs.tagged()
    numbers = [number[0] for run in earlier if (number := shard_number(run.name))]
    report = run_shards(
        todo, runs, pending,
        timeout_s=cfg.orchestration.shard_timeout_s,
        attempts=cfg.orchestration.shard_attempts,
        label=f"r{run_id}c{cycle_index}",
        orphans=earlier,
        first_index=max(numbers, default=-1) + 1,
        heartbeat_misses=HEARTBEAT_MISSES,
        poll_s=POLL_S,
    )
    return report.to_json()
