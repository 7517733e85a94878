"""Wait for evaluation shards that run somewhere else (flow runs on a work pool), and rerun the dead ones.

    report = run_shards(shards, runs, pending, timeout_s=3600, attempts=3, label="r1c0")

`runs` is the edge to the orchestrator (`ShardRuns`: start a run, read states, read its last
heartbeats, mark a run crashed); `tasks/pool.py` implements it with Prefect, the tests with a
fake. `pending(ids)` says which of the ids the store has not evaluated yet. Nothing here imports
Prefect.

What happens to a shard's run:
- Completed: done, once the store confirms its candidates are evaluated (else it counts as failed).
- Failed or Crashed (its process died, its worker was killed and reported it, a bug): started
  again with the candidates still pending, up to `attempts` runs in all. Rerunning is safe:
  `evaluate_candidates` only evaluates candidates whose status is still `pending`, and commits
  results chunk by chunk.
- Running, but silent for `heartbeat_misses` of its own heartbeat periods (the period is measured
  between its last two heartbeats, so it does not matter how this process is set up): the machine or
  worker died without reporting, and Prefect would keep it Running for ever. It is marked Crashed,
  then treated as above. Runs with fewer than two heartbeats (heartbeats off, or died within the
  first period) are left to the deadline: a live run is never killed on a guess.
- Cancelled: the cycle stops (someone cancelled it on purpose).
- Left behind by an earlier driver of the cycle that died (`nngpt run --resume`): every such run
  not finished (found by the tags of `shard_tags`) is adopted and treated as above; its candidates
  get no new run while it lives.
- Not finished `timeout_s` after it was started (still Scheduled/Pending: no worker took it, or
  its worker died before starting it; still Running: too slow, or silently dead before its second
  heartbeat): when the store shows its candidates evaluated anyway it counts as done; otherwise it
  is marked Crashed ("nngpt: not finished within shard_timeout_s") and treated as above, each run
  with a deadline of its own. With no runs left (or the state unknown: the server cannot be
  reached), the cycle fails with an NngptError naming the flow run and the deadline.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from nngpt_core.errors import NngptError

log = logging.getLogger("nngpt.loop")

COMPLETED, FAILED, CRASHED = "COMPLETED", "FAILED", "CRASHED"
CANCELLED, CANCELLING = "CANCELLED", "CANCELLING"
RUNNING, SCHEDULED, PENDING = "RUNNING", "SCHEDULED", "PENDING"
MIN_HEARTBEAT_PERIOD_S = 30.0  # Prefect's shortest heartbeat frequency; a shorter measured gap is jitter


@dataclass(frozen=True)
class RunState:
    """A run's state as the orchestrator reports it: the type (Prefect's StateType value), the name and its message."""

    type: str
    name: str = ""
    message: str = ""


class ShardRuns(Protocol):
    """The orchestrator edge: all that `run_shards` needs from Prefect."""

    def start(self, name: str, candidate_ids: list[int]) -> str:
        """Start a run that evaluates `candidate_ids`; returns its id."""

    def states(self, run_ids: list[str]) -> dict[str, RunState]:
        """The current state of each run (a ConnectionError when the orchestrator cannot be reached)."""

    def heartbeats(self, run_id: str) -> tuple[float, float] | None:
        """(seconds since the run's last heartbeat, seconds between its last two); None with fewer than two."""

    def mark_crashed(self, run_id: str, message: str) -> None:
        """Record that the run is dead, so that the UI and `states` say so."""


@dataclass(frozen=True)
class OrphanRun:
    """A shard run started by an earlier driver of the same cycle (found by its run and cycle tags), not finished."""

    run_id: str
    name: str
    candidate_ids: list[int]
    state: str


ADOPTABLE = (SCHEDULED, PENDING, RUNNING, "PAUSED")  # will still run, or runs now: wait for it, never start a twin


def shard_tags(run_id: int, run_created_at: datetime, cycle_index: int) -> list[str]:
    """The Prefect tags of a cycle's shard runs: a later driver of the cycle finds the orphans by them.

    The run's creation time tells apart runs of the same number in different stores on one server."""
    stamp = run_created_at.strftime("%Y%m%dT%H%M%S%f")
    return ["nngpt", "nngpt-shard", f"nngpt-run-{run_id}-{stamp}", f"nngpt-cycle-{cycle_index}"]


def shard_number(name: str) -> tuple[int, int] | None:
    """(shard index, attempt) from a shard run's name `<label>-shard<i>-attempt<n>`."""
    found = re.search(r"-shard(\d+)-attempt(\d+)$", name)
    return (int(found.group(1)), int(found.group(2))) if found else None


@dataclass
class ShardAttempt:
    index: int
    candidate_ids: list[int]
    attempt: int
    run_id: str
    name: str
    started: float
    last_heartbeat_check: float = float("-inf")


@dataclass
class ShardReport:
    shards: int = 0
    runs_started: int = 0
    reruns: list[str] = field(default_factory=list)  # one line per rerun: which run, why
    adopted: list[str] = field(default_factory=list)  # names of the orphans waited for instead of started again

    def to_json(self) -> dict:
        return {"shards": self.shards, "runs_started": self.runs_started, "reruns": list(self.reruns),
                "adopted": list(self.adopted)}


def describe(attempt: ShardAttempt) -> str:
    return f"flow run '{attempt.name}' ({attempt.run_id})"


def run_shards(
    shards: list[list[int]],
    runs: ShardRuns,
    pending: Callable[[list[int]], list[int]],
    *,
    timeout_s: float,
    attempts: int,
    label: str = "shard",
    orphans: Sequence[OrphanRun] = (),
    first_index: int = 0,
    heartbeat_misses: int | None = None,
    heartbeat_check_s: float = 30.0,
    poll_s: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ShardReport:
    """Start one run per shard, wait for all of them, rerun crashed and overdue ones; raise NngptError when one cannot finish.

    `orphans`: unfinished runs an earlier driver of this cycle started (it died). Each one whose
    candidates are still pending is adopted: waited for (and rerun if it dies) like a run started
    here, and its candidates are left out of `shards`, so nothing is evaluated twice. New shards
    are numbered from `first_index`, after those of the earlier drivers.
    """
    report = ShardReport(shards=len(shards))

    def start(index: int, ids: list[int], attempt: int) -> ShardAttempt:
        name = f"{label}-shard{index}-attempt{attempt}"
        run_id = runs.start(name, ids)
        report.runs_started += 1
        log.info("shard %d (%d candidates): started %s", index, len(ids), name)
        return ShardAttempt(index, list(ids), attempt, str(run_id), name, clock())

    active: dict[int, ShardAttempt] = {}
    covered: set[int] = set()
    for orphan in orphans:
        if orphan.state not in ADOPTABLE or not pending(orphan.candidate_ids):
            continue  # finishing, or holds nothing left to do: its results are in the store or never written twice
        index, attempt = shard_number(orphan.name) or (first_index + len(active), 1)
        active[index] = ShardAttempt(index, list(orphan.candidate_ids), attempt, orphan.run_id, orphan.name, clock())
        covered.update(orphan.candidate_ids)
        report.adopted.append(orphan.name)
        log.warning("shard %d: adopted flow run '%s' (%s, %s), started by an earlier driver of this cycle: "
                    "waiting for it instead of evaluating its %d candidates again",
                    index, orphan.name, orphan.run_id, orphan.state.capitalize(), len(orphan.candidate_ids))
    index = max([first_index - 1, *active]) + 1
    for ids in shards:
        left = [candidate for candidate in ids if candidate not in covered]
        if left:
            active[index] = start(index, left, 1)
            index += 1

    while active:
        try:
            states = runs.states([a.run_id for a in active.values()])
        except ConnectionError as exc:  # the server restarted or the network dropped: the deadline still holds
            log.warning("cannot read the state of %d shard runs (%s); trying again", len(active), exc)
            states = {}
        for index, current in list(active.items()):
            state = states.get(current.run_id)
            why = _why_rerun(current, state, runs, pending, heartbeat_misses, heartbeat_check_s, clock)
            late = False
            if why is None:
                if state is not None and state.type == COMPLETED:
                    del active[index]
                    continue
                if clock() - current.started <= timeout_s:
                    continue
                late = True
                why = f"is still {_name(state)} after orchestration.shard_timeout_s={timeout_s:g} s"
            left = pending(current.candidate_ids)
            if not left:
                log.warning("shard %d: %s %s, but the store holds all its evaluations: counted as done",
                            index, describe(current), why)
                del active[index]
                continue
            if late and (current.attempt >= attempts or state is None):  # None: the server cannot be reached
                raise NngptError(_timeout_message(current, state, left, timeout_s, attempts))
            if current.attempt >= attempts:
                raise NngptError(
                    f"evaluation shard {index}: {describe(current)} {why}; gave up after {attempts} runs "
                    f"(orchestration.shard_attempts), {len(left)} of its {len(current.candidate_ids)} "
                    f"candidates are still unevaluated"
                )
            if late:
                runs.mark_crashed(current.run_id, f"nngpt: not finished within shard_timeout_s={timeout_s:g} s "
                                                  f"(was {_name(state)})")
            report.reruns.append(f"{current.name} {why}")
            log.warning("shard %d: %s %s; starting it again for its %d unevaluated candidates",
                        index, describe(current), why, len(left))
            active[index] = start(index, left, current.attempt + 1)
        if active:
            sleep(poll_s)
    return report


def _name(state: RunState | None) -> str:
    if state is None:
        return "in an unknown state"
    return state.name or state.type.capitalize()


def _why_rerun(
    current: ShardAttempt,
    state: RunState | None,
    runs: ShardRuns,
    pending: Callable[[list[int]], list[int]],
    heartbeat_misses: int | None,
    heartbeat_check_s: float,
    clock: Callable[[], float],
) -> str | None:
    """Why the shard's run must be replaced, or None while it is fine (or done)."""
    if state is None:
        return None
    if state.type == COMPLETED:
        left = pending(current.candidate_ids)
        if not left:
            return None
        return (f"completed but left {len(left)} candidates unevaluated (does its worker use the same store? "
                "set NNGPT_DATABASE_URL there)")
    if state.type in (FAILED, CRASHED):  # the message says why (e.g. the worker's sandbox refused: a missing layer)
        return f"ended {_name(state)}" + (f" ({' '.join(state.message.split())})" if state.message else "")
    if state.type in (CANCELLED, CANCELLING):
        raise NngptError(f"evaluation shard {current.index}: {describe(current)} was cancelled; the cycle stops "
                         "(continue it with nngpt run --resume RUN)")
    if state.type == RUNNING and heartbeat_misses:
        now = clock()
        if now - current.last_heartbeat_check < heartbeat_check_s:
            return None
        current.last_heartbeat_check = now
        beats = runs.heartbeats(current.run_id)
        if beats is None:
            return None
        age, period = beats
        period = max(period, MIN_HEARTBEAT_PERIOD_S)
        if age > heartbeat_misses * period:
            why = f"sent no heartbeat for {age:.0f} s, {heartbeat_misses} times its period of {period:.0f} s (its worker is presumed dead)"
            runs.mark_crashed(current.run_id, f"nngpt: {why}")
            return why
    return None


def _timeout_message(
    current: ShardAttempt, state: RunState | None, left: list[int], timeout_s: float, attempts: int
) -> str:
    hint = ""
    if state is not None and state.type in (SCHEDULED, PENDING):
        hint = (" No worker of the work pool started it: is a worker running, with a free slot besides the one "
                "the flow run orchestrating this cycle occupies (nngpt worker --limit)?")
    return (
        f"evaluation shard {current.index}: {describe(current)} did not finish within "
        f"orchestration.shard_timeout_s={timeout_s:g} s (state: {_name(state)}); {len(left)} of its "
        f"{len(current.candidate_ids)} candidates are still unevaluated (run {current.attempt} of "
        f"orchestration.shard_attempts={attempts}).{hint} "
        f"The stored results are kept: nngpt run --resume RUN continues the run."
    )
