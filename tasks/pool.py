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
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import partial
from uuid import UUID

from prefect import task
from prefect.cache_policies import NO_CACHE

from nngpt_core.config import RunConfig
from nngpt_core.errors import NngptError
from nngpt_core.loop import stages
from nngpt_core.loop.shards import RunState, run_shards
from tasks.policy import store_for

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
    """`ShardRuns` on a Prefect server: flow runs of the evaluate deployment, read back with the client."""

    def __init__(self, cfg: RunConfig):
        self.deployment = cfg.orchestration.evaluate_deployment
        self.config_json = cfg.model_dump(mode="json")

    def start(self, name: str, candidate_ids: list[int]) -> str:
        from prefect.deployments import run_deployment

        flow_run = run_deployment(
            name=self.deployment,
            parameters={"config": self.config_json, "candidate_ids": list(candidate_ids)},
            flow_run_name=name,
            timeout=0,  # start it and return: run_shards waits for all shards together
            as_subflow=True,
            tags=["nngpt", "nngpt-shard"],
        )
        return str(flow_run.id)

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
def evaluate_on_pool(cfg: RunConfig, shards: list[list[int]], label: str) -> dict:
    """Send each shard to the evaluate deployment, wait for all of them, rerun the crashed ones.

    No task retries: a retry would start shards again while the first ones may still run.
    """
    pending = partial(stages.unevaluated, store_for(cfg))
    todo = [left for part in shards if (left := pending(part))]
    report = run_shards(
        todo, PrefectShardRuns(cfg), pending,
        timeout_s=cfg.orchestration.shard_timeout_s,
        attempts=cfg.orchestration.shard_attempts,
        label=label,
        heartbeat_misses=HEARTBEAT_MISSES,
        poll_s=POLL_S,
    )
    return report.to_json()
