"""Scaling of the evaluation stage with the number of sandbox workers, and the orchestration overhead.

    .venv/bin/python bench/scale.py                          # 16 seeds on digits32, 1/2/4 workers (~5 min on 2 loaded cores)
    .venv/bin/python bench/scale.py --candidates 24 --workers 1 2 4 8 --dataset digits
    .venv/bin/python bench/scale.py --postgres               # the store on a throwaway PostgreSQL instead of SQLite
    .venv/bin/python bench/scale.py --quick --no-prefect     # smoke run: 2 candidates on digits, 1 and 2 workers (~25 s)

One run measures, side by side, the evaluation stage of a cycle as the loop runs it:
`nngpt_core.loop.evaluation.evaluate_candidates` on M pending candidates (the first M hand-written
seeds of nngpt_core/corpus, in name order, stored as the candidates of one cycle and prepared by
`prepare_candidates`). Each worker count gets a fresh store, so every run does the same work.

Table 1, evaluation stage (one row per worker count):
  wall s          evaluate_candidates end to end: dataset load, forking the warm sandbox pool, the
                  one-epoch evaluations, the store writes, and closing the pool.
  start-up s      of which Evaluator start: dataset load and forking the workers.
  store s         of which the store work: the pending query, the commits of the results and the stage
                  timing (wall minus start-up, evaluate_many and the pool's close).
  candidates/min  60 x M / wall s.
  speed-up        wall s of 1 worker / wall s of this row (same machine, same candidates).
  ok, mean acc.   candidates with status ok, and their mean accuracy: a check that each row did the
                  same work (accuracies can move slightly with scheduling, never by much).

Table 2, orchestration overhead, per candidate, with no evaluation at all:
  store writes    evaluate_candidates again on a fresh store, with the Evaluator replaced by a stub
                  that returns the results recorded in the 1-worker run at once: the pending query,
                  one session per chunk, record_evaluation and copying the result to the candidate.
  Prefect task    one Prefect task per shard (orchestration.shard_size candidates): submitted from a
                  flow and awaited, one after another (as shards run with device_slots=1), at least
                  16 of them, timed inside the flow run; with an empty body, and with a body that only
                  holds a slot of a global concurrency limit, as evaluate-shard does. That is the round
                  trip through Prefect's task engine and its API (an ephemeral server on a temporary
                  database, prefect_test_harness; its start-up and a warm-up flow are not counted).
                  Per candidate = per task / shard size.
Not measured here: the `pool` backend's flow run per shard (a worker polling, a new Python process
importing torch: seconds per shard, see tests/test_deployment_server.py) and the dask backend.

The machine is shared (2 cores, other jobs running): repeat a run before trusting a difference
under ~15%. With more workers than cores, the extra workers only add contention.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry calls from the ephemeral server
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from nngpt_core.config import RunConfig  # noqa: E402
from nngpt_core.corpus.sources import seed_sources  # noqa: E402
from nngpt_core.store.engine import Store, open_store  # noqa: E402
from nngpt_core.store.migrate import upgrade  # noqa: E402


@dataclass
class StageTimes:
    """What the instrumented Evaluator saw during one evaluate_candidates call."""

    start_s: float = 0.0
    evaluate_s: float = 0.0
    close_s: float = 0.0
    results: list = field(default_factory=list)


@contextmanager
def evaluator_replaced(factory):
    """evaluate_candidates imports nngpt_core.evaluate.Evaluator when it runs: put `factory` there."""
    import nngpt_core.evaluate as package

    had = "Evaluator" in package.__dict__
    previous = package.__dict__.get("Evaluator")
    package.Evaluator = factory
    try:
        yield
    finally:
        if had:
            package.Evaluator = previous
        else:
            del package.Evaluator


def timing_evaluator(times: StageTimes):
    """The real Evaluator, timing its start, its evaluations and its close into `times`."""
    from nngpt_core.evaluate.evaluator import Evaluator

    class TimedEvaluator(Evaluator):
        def start(self) -> None:
            if self.pool is None:
                started = time.perf_counter()
                super().start()
                times.start_s += time.perf_counter() - started

        def evaluate_many(self, codes):
            self.start()
            started = time.perf_counter()
            results = super().evaluate_many(codes)
            times.evaluate_s += time.perf_counter() - started
            times.results.extend(results)
            return results

        def close(self) -> None:
            started = time.perf_counter()
            super().close()
            times.close_s += time.perf_counter() - started

    return TimedEvaluator


def replaying_evaluator(recorded: list):
    """A stand-in Evaluator that evaluates nothing: it hands back `recorded` results in order."""
    queue = list(recorded)

    class ReplayEvaluator:
        def __init__(self, cfg, **_kwargs):
            self.cfg = cfg

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def evaluate_many(self, codes):
            out = [queue.pop(0) for _ in codes]
            return out

    return ReplayEvaluator


def fresh_cycle(store_url: str, cfg: RunConfig, sources: list[tuple[str, str]]) -> tuple[Store, list[int]]:
    """A migrated store with one run and cycle whose candidates are `sources`, prepared; the ids to evaluate."""
    from nngpt_core.loop.preparation import prepare_candidates
    from nngpt_core.loop.runs import ensure_cycle, start_run
    from nngpt_core.store.models import Candidate

    store = open_store(store_url)
    upgrade(store)
    run_id = start_run(store, cfg)
    cycle_id = ensure_cycle(store, run_id, 0)
    with store.session() as session:
        for index, (name, code) in enumerate(sources):
            session.add(Candidate(run_id=run_id, cycle_id=cycle_id, index=index, prompt=f"bench: {name}",
                                  completion=code, code=code))
    return store, prepare_candidates(store, cfg, cycle_id)


def measure_stage(store_url: str, cfg: RunConfig, sources, workers: int) -> tuple[float, StageTimes]:
    from nngpt_core.loop.evaluation import evaluate_candidates

    run_cfg = cfg.model_copy(update={"evaluation": cfg.evaluation.model_copy(update={"workers": workers})})
    store, ids = fresh_cycle(store_url, run_cfg, sources)
    times = StageTimes()
    try:
        with evaluator_replaced(timing_evaluator(times)):
            started = time.perf_counter()
            done = evaluate_candidates(store, run_cfg, ids, progress=False)
            wall = time.perf_counter() - started
    finally:
        store.dispose()
    assert done == len(ids) == len(times.results), (done, len(ids), len(times.results))
    return wall, times


def measure_store_writes(store_url: str, cfg: RunConfig, sources, recorded: list, repeats: int) -> list[float]:
    """Seconds per candidate of evaluate_candidates with no evaluation (replayed results), per repeat."""
    from nngpt_core.loop.evaluation import evaluate_candidates

    per_candidate = []
    for repeat in range(repeats):
        store, ids = fresh_cycle(store_url(repeat), cfg, sources)
        try:
            with evaluator_replaced(replaying_evaluator(recorded)):
                started = time.perf_counter()
                evaluate_candidates(store, cfg, ids, progress=False)
                per_candidate.append((time.perf_counter() - started) / len(ids))
        finally:
            store.dispose()
    return per_candidate


def measure_prefect_round_trip(tasks: int, repeats: int) -> dict[str, list[float]]:
    """Seconds per task of submitting `tasks` tasks from a flow and waiting for them, per repeat:
    an empty task, and one that holds a slot of a global concurrency limit as evaluate-shard does."""
    import logging

    from prefect import flow, get_client, task
    from prefect.cache_policies import NO_CACHE
    from prefect.concurrency.sync import concurrency
    from prefect.testing.utilities import prefect_test_harness

    slot = "bench-scale-device-slots"

    @task(name="evaluate-shard-noop", cache_policy=NO_CACHE, persist_result=False)
    def shard_noop(candidate_ids: list[int], hold_slot: bool) -> int:
        if hold_slot:
            with concurrency(slot, occupy=1):
                return len(candidate_ids)
        return len(candidate_ids)

    @flow(name="bench-shards", persist_result=False)
    def fan_out(count: int, hold_slot: bool) -> float:
        """Seconds for `count` tasks one after another (submit, wait for the result), inside the flow run."""
        started = time.perf_counter()
        for index in range(count):  # sequential: device_slots=1 (the default) runs one shard at a time
            assert shard_noop.submit(list(range(8 * index, 8 * index + 8)), hold_slot).result() == 8
        return time.perf_counter() - started

    for name in ("prefect", "prefect.flow_runs", "prefect.task_runs"):
        logging.getLogger(name).setLevel(logging.WARNING)
    per_task: dict[str, list[float]] = {"empty": [], "slot": []}
    with prefect_test_harness(server_startup_timeout=180):
        with get_client(sync_client=True) as client:
            client.upsert_global_concurrency_limit_by_name(slot, tasks)  # as many slots as tasks: no waiting
        fan_out(1, True)  # warm-up: the flow's registration and the first API connections are not counted
        for _ in range(repeats):
            for kind in ("empty", "slot"):
                per_task[kind].append(fan_out(tasks, kind == "slot") / tasks)
    return per_task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", "-m", type=int, default=16, help="M: seed architectures evaluated (at most 51)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="evaluation worker counts to compare")
    parser.add_argument("--dataset", default="digits32", help="dataset from the registry (digits32, digits, ...)")
    parser.add_argument("--timeout", type=float, default=300.0, help="per-candidate limit, seconds")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the overhead measurements (median shown)")
    parser.add_argument("--postgres", action="store_true", help="the store on a throwaway PostgreSQL cluster")
    parser.add_argument("--no-prefect", action="store_true", help="skip the Prefect task round trip")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 candidates on digits, 1 and 2 workers, 1 repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.candidates, args.workers, args.dataset, args.repeats = 2, [1, 2], "digits", 1
    sources = seed_sources()
    if not 1 <= args.candidates <= len(sources):
        parser.error(f"--candidates must be between 1 and {len(sources)} (the hand-written seeds)")
    sources = sources[: args.candidates]
    workers = sorted(set(args.workers))
    if workers[0] < 1:
        parser.error("--workers must be at least 1")

    console = Console(width=max(Console().width, 150))  # tables unwrapped also in pipes and logs
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nngpt-bench-scale-")))
        if args.postgres:
            from tests.throwaway_pg import ThrowawayPostgres

            pg = stack.enter_context(ThrowawayPostgres())
            backend = "PostgreSQL, throwaway on loopback"

            def store_url(label: object) -> str:
                return pg.create_database(f"bench_scale_{label}")
        else:
            backend = "SQLite"

            def store_url(label: object) -> str:
                return f"sqlite:///{tmp / f'store-{label}.db'}"

        cfg = RunConfig(name="bench-scale")
        cfg = cfg.model_copy(update={
            "evaluation": cfg.evaluation.model_copy(update={"dataset": args.dataset, "timeout_s": args.timeout,
                                                            "device": "cpu", "threads": 1}),
            "store": cfg.store.model_copy(update={"data_dir": tmp}),
        })
        console.print(
            f"M={len(sources)} seed architectures ({sources[0][0]} .. {sources[-1][0]}), {args.dataset}, 1 epoch, "
            f"store {backend}, on {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f})"
        )

        rows = []
        for count in workers:
            console.print(f"  evaluating with {count} worker{'s' if count > 1 else ''} ...")
            wall, times = measure_stage(store_url(f"w{count}"), cfg, sources, count)
            rows.append((count, wall, times))
        base = rows[0][1] if workers[0] == 1 else None

        table = Table("workers", "wall s", "start-up s", "store s", "candidates/min",
                      "speed-up vs 1 worker" if base else f"speed-up vs {workers[0]} workers", "ok", "mean acc.",
                      title=f"evaluation stage: evaluate_candidates on M={len(sources)} candidates")
        for count, wall, times in rows:
            ok = [r.accuracy for r in times.results if r.status == "ok"]
            store_s = max(wall - times.start_s - times.evaluate_s - times.close_s, 0.0)
            table.add_row(
                str(count), f"{wall:.1f}", f"{times.start_s:.1f}", f"{store_s:.2f}",
                f"{60 * len(sources) / wall:.1f}", f"{rows[0][1] / wall:.2f}x",
                f"{len(ok)}/{len(times.results)}", f"{statistics.mean(ok):.3f}" if ok else "-",
            )
        console.print(table)

        recorded = rows[0][2].results
        console.print("  measuring the orchestration overhead ...")
        writes = measure_store_writes(lambda r: store_url(f"writes{r}"), cfg, sources, recorded, args.repeats)
        overhead = Table("what", "per candidate ms (median)", "range ms", "how",
                         title="orchestration overhead, no evaluation")
        overhead.add_row(
            f"store writes ({backend})", f"{1000 * statistics.median(writes):.2f}",
            f"{1000 * min(writes):.2f}-{1000 * max(writes):.2f}",
            f"evaluate_candidates with replayed results, {len(sources)} candidates, {args.repeats} repeats",
        )
        if not args.no_prefect:
            shard_size = cfg.orchestration.shard_size
            tasks = max(math.ceil(len(sources) / shard_size), 16)  # enough tasks for a stable per-task time
            trips = measure_prefect_round_trip(tasks, args.repeats)
            for kind, label in (("empty", "Prefect task per shard, empty"),
                                ("slot", "Prefect task per shard, holding a device slot")):
                per_task = trips[kind]
                overhead.add_row(
                    label, f"{1000 * statistics.median(per_task) / shard_size:.2f}",
                    f"{1000 * min(per_task) / shard_size:.2f}-{1000 * max(per_task) / shard_size:.2f}",
                    f"{1000 * statistics.median(per_task):.1f} ms per task / shard_size {shard_size}; "
                    f"{tasks} tasks one after another",
                )
        console.print(overhead)
        if base:
            evaluation_ms = 1000 * base / len(sources)
            console.print(f"For scale: 1 worker spends {evaluation_ms:.0f} ms per candidate end to end.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
