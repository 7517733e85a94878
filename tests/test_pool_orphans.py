"""The cycle's driver dies on the pool backend (issue 12), with real processes: PostgreSQL, a Prefect
server, `nngpt deploy`, two `nngpt worker` processes and `nngpt run` as the driver (tests/scale_out_helpers.py).

Candidates train for many epochs (`SLOW`), so that shards last long enough to be caught in flight.

1. The driver is killed while a shard run evaluates (one shard at a time: one device slot). The
   shard runs go on; `nngpt run --resume 1` finds the unfinished ones by their run and cycle tags
   and adopts them: it starts no run for their candidates, waits for them, and finishes the cycle.
   Every candidate is sent to exactly one shard run and evaluated once.
2. A shard run is declared dead while it is alive: the test freezes it (SIGSTOP, the whole process
   tree) while it evaluates a candidate, so it neither progresses nor sends heartbeats; the driver
   marks it Crashed (missed heartbeats or its deadline) and reruns the shard, which stores every
   result, and the run finishes. Then the test thaws the frozen run: it ends Completed and writes
   nothing (the stored evaluations are unchanged, one per architecture).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import func, select

from nngpt_core.store.models import Evaluation, Run
from tests.flow_helpers import LoopProcess, write_config
from tests.prefect_server import cmdline, descendants
from tests.scale_out_helpers import (
    check_store, evolve_config, flow_run_logs, read_flow_run, scale_out, shard_runs, wait_until,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the process helpers read /proc")


def freeze(pids: set[int]) -> set[int]:
    """SIGSTOP the processes and all their descendants (again until the tree stops growing); returns them all."""
    frozen: set[int] = set()
    while True:
        tree = (pids | {d for pid in pids for d in descendants(pid)}) - frozen
        if not tree:
            return frozen
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        frozen |= tree


def thaw(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def driver(setup, tmp_path: Path, config: dict, *args: str, log: str) -> LoopProcess:
    """`nngpt run` against the test's Prefect server: the process that drives the cycle."""
    scratch = tmp_path / "driver-tmp"
    scratch.mkdir(exist_ok=True)
    env = {**setup.server.env, "TMPDIR": str(scratch), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    path = write_config(tmp_path / "run.yaml", config)
    return LoopProcess(["run", "--config", str(path), *args], tmp_path / log, env)


def said(process: LoopProcess) -> str:
    """The process's output with line wraps undone (Prefect's console handler wraps long log lines)."""
    return " ".join(process.output().split())


def shard_processes(setup) -> dict[str, set[int]]:
    """{flow run id: pids} of every shard flow-run process on the workers now."""
    found: dict[str, set[int]] = {}
    for worker in setup.workers:
        for run_id, pids in worker.flow_run_processes().items():
            found.setdefault(run_id, set()).update(pids)
    return found


SLOW = {"evaluation.epochs": 600, "evaluation.timeout_s": 300}  # a candidate trains for several seconds


def candidate_in_flight(pids: set[int], seen: dict[int, float]) -> bool:
    """A candidate process (below the sandbox's monitor) has lived for a second: the sandbox is up and evaluating.

    `seen` remembers when each candidate process was first seen (the start-up probe forks one for milliseconds)."""
    now = time.monotonic()
    for pid in pids:
        for zygote in (child for child in descendants(pid) if "nngpt_core.sandbox.zygote" in " ".join(cmdline(child))):
            for candidate in descendants(zygote):
                if now - seen.setdefault(candidate, now) >= 1.0:
                    return True
    return False


@pytest.mark.timeout(1200)
def test_shard_runs_of_a_killed_driver_are_adopted_on_resume_never_run_twice(tmp_path, postgres, echo_model):
    with scale_out(tmp_path, postgres) as setup:
        config = evolve_config(echo_model, setup, **{"generation.candidates_per_cycle": 4, "generation.batch_size": 4,
                                                     **SLOW})
        first = driver(setup, tmp_path, config, log="first.log")
        seen: dict[int, float] = {}
        first.wait_until(lambda: any(candidate_in_flight(pids, seen) for pids in shard_processes(setup).values()),
                         timeout=500, what="a shard run evaluating on a worker", every=0.2)
        first.kill()  # the driver dies while its shard runs evaluate (one at a time: one device slot)
        started_by_first = {r.name for r in shard_runs(setup)}

        second = driver(setup, tmp_path, config, "--resume", "1", log="second.log")
        assert second.wait(timeout=700) == 0, second.output()[-4000:]
        adopted = {name for name in started_by_first if f"adopted flow run '{name}'" in said(second)}
        assert adopted, said(second)[-3000:]  # the slow shards were still running when the resumed driver looked

        runs = shard_runs(setup)
        assert all(r.state.type.value == "COMPLETED" for r in runs), [(r.name, r.state.name) for r in runs]
        sent = Counter(i for r in runs for i in r.parameters["candidate_ids"])
        assert sent and max(sent.values()) == 1, sent  # no candidate was sent to two shard runs
        by_name = Counter(r.name for r in runs)
        assert max(by_name.values()) == 1, by_name  # the resumed driver numbered its shards after the first's
        assert "starting it again" not in said(second)  # nothing was declared dead and rerun
        with setup.store.session() as session:
            run_id = session.scalar(select(func.max(Run.id)))
        counts = check_store(setup, run_id, config)  # one evaluation per architecture, metrics = recount
        print("adopted:", sorted(adopted), "shard runs:", sorted(by_name), "store:", counts)


@pytest.mark.timeout(1200)
def test_a_shard_declared_dead_that_finishes_later_writes_nothing_twice(tmp_path, postgres, echo_model):
    with scale_out(tmp_path, postgres) as setup:
        config = evolve_config(echo_model, setup, **{
            "generation.candidates_per_cycle": 2, "generation.batch_size": 2, "orchestration.shard_size": 2,
            "orchestration.shard_timeout_s": 150, "orchestration.shard_attempts": 2, "orchestration.device_slots": 2,
            **SLOW,
        })
        run = driver(setup, tmp_path, config, log="driver.log")
        seen: dict[int, float] = {}

        def evaluating():
            runs = {str(r.id) for r in shard_runs(setup)}
            return next(((run_id, pids) for run_id, pids in shard_processes(setup).items()
                         if run_id in runs and candidate_in_flight(pids, seen)), None)

        victim, pids = run.wait_until(evaluating, timeout=500, what="the shard run evaluating a candidate", every=0.2)
        frozen = freeze(pids)  # alive, but silent: no heartbeat, no progress
        frozen_at = time.monotonic()
        try:
            assert run.wait(timeout=700) == 0, run.output()[-4000:]
            with setup.store.session() as session:
                stored = {e.id: (e.architecture_id, e.status, e.accuracy, e.duration_s, e.created_at)
                          for e in session.scalars(select(Evaluation))}
            declared = read_flow_run(setup, UUID(victim))
            assert declared.state.type.value == "CRASHED" and declared.state.message.startswith("nngpt: ")
        finally:
            thaw(frozen)
        setup.timings["frozen"] = time.monotonic() - frozen_at
        late = wait_until(lambda: (r := read_flow_run(setup, UUID(victim))).state.type.value == "COMPLETED" and r,
                          300, "the late shard run to end")
        # The late run says it wrote nothing. Read it from its worker's output as well as from the server:
        # Prefect ships a run's logs in batches from the run's process, and after minutes frozen that
        # process's connection to the server is gone, so its last batches do not always arrive.
        def said_it_wrote_nothing():
            said = flow_run_logs(setup, late.id) + "".join(worker.log() for worker in setup.workers)
            return any(warning in said for warning in (
                "another process stored its evaluation first", "evaluated elsewhere meanwhile"))

        wait_until(said_it_wrote_nothing, 60, "the late run to say that it wrote nothing")
        assert f"flow run '{late.name}' ({victim})" in said(run) and "starting it again" in said(run)

        runs = shard_runs(setup)
        assert sorted(r.name.rsplit("-", 1)[1] for r in runs) == ["attempt1", "attempt2"]
        assert all(r.state.type.value == "COMPLETED" for r in runs), [(r.name, r.state.name) for r in runs]
        with setup.store.session() as session:
            after = {e.id: (e.architecture_id, e.status, e.accuracy, e.duration_s, e.created_at)
                     for e in session.scalars(select(Evaluation))}
            run_id = session.scalar(select(func.max(Run.id)))
        assert after == stored  # the late run wrote nothing: not a row more, not a value changed
        check_store(setup, run_id, config)
