"""The pool backend's waiting and rerunning (nngpt_core.loop.shards.run_shards), without a Prefect server.

Only the Prefect API edge is faked (`FakeRuns` stands in for nngpt_tasks.pool.PrefectShardRuns: start a flow
run, read states, read the last heartbeat, mark crashed), with a fake clock; the store is a set of
evaluated candidate ids. The real edge against a server is covered by the deployment tests.
"""

from __future__ import annotations

import pytest

from nngpt_core.errors import NngptError
from nngpt_core.loop.shards import RunState, run_shards


class FakeRuns:
    """Each started run follows `script(name, ids)`: a list of states, one per poll (the last repeats).

    A run whose state is COMPLETED has evaluated its ids (they leave `pending`), unless the
    script says otherwise through `evaluates`.
    """

    def __init__(self, script, evaluates=lambda name: True):
        self.script, self.evaluates = script, evaluates
        self.started: list[tuple[str, list[int]]] = []
        self.crashed: list[tuple[str, str]] = []
        self.polls: dict[str, int] = {}
        self.evaluated: set[int] = set()
        self.beats: dict[str, tuple[float, float]] = {}
        self.unreachable_polls = 0

    def start(self, name, candidate_ids):
        run_id = f"id-{len(self.started)}"
        self.started.append((name, list(candidate_ids)))
        self.known(run_id, name, candidate_ids)
        return run_id

    def known(self, run_id, name, candidate_ids):
        """A run this edge reports on (one started here, or an orphan an earlier driver started)."""
        self.runs = {**getattr(self, "runs", {}), run_id: (name, list(candidate_ids))}
        self.polls[run_id] = 0

    def _state(self, run_id):
        name, ids = self.runs[run_id]
        if run_id in {r for r, _ in self.crashed}:
            return RunState("CRASHED", "Crashed")
        states = self.script(name, ids)
        state = states[min(self.polls[run_id], len(states) - 1)]
        self.polls[run_id] += 1
        if state.type == "COMPLETED" and self.evaluates(name):
            self.evaluated.update(ids)
        return state

    def states(self, run_ids):
        if self.unreachable_polls:
            self.unreachable_polls -= 1
            raise ConnectionError("server restarting")
        return {run_id: self._state(run_id) for run_id in run_ids}

    def heartbeats(self, run_id):
        return self.beats.get(run_id)

    def mark_crashed(self, run_id, message):
        self.crashed.append((run_id, message))

    def pending(self, ids):
        return [i for i in ids if i not in self.evaluated]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


RUNNING, COMPLETED = RunState("RUNNING", "Running"), RunState("COMPLETED", "Completed")
CRASHED, FAILED = RunState("CRASHED", "Crashed"), RunState("FAILED", "Failed")


def wait(runs, shards, clock=None, **options):
    clock = clock or Clock()
    settings = dict(timeout_s=100, attempts=3, label="r1c0", poll_s=5, clock=clock, sleep=clock.sleep)
    settings.update(options)
    return run_shards(shards, runs, runs.pending, **settings)


def test_all_shards_started_before_waiting_then_done():
    runs = FakeRuns(lambda name, ids: [RunState("SCHEDULED", "Scheduled"), RUNNING, COMPLETED])
    report = wait(runs, [[1, 2], [3, 4], [5]])
    assert [name for name, _ in runs.started] == ["r1c0-shard0-attempt1", "r1c0-shard1-attempt1", "r1c0-shard2-attempt1"]
    assert report.to_json() == {"shards": 3, "runs_started": 3, "reruns": [], "adopted": []}
    assert runs.evaluated == {1, 2, 3, 4, 5}


def test_a_crashed_shard_runs_again_with_its_unevaluated_candidates_only():
    def script(name, ids):
        if name == "r1c0-shard1-attempt1":
            return [RUNNING, CRASHED]
        return [RUNNING, COMPLETED]

    runs = FakeRuns(script)
    runs.evaluated.add(3)  # the killed run had committed one chunk before it died
    report = wait(runs, [[1, 2], [3, 4]])
    assert runs.started[-1] == ("r1c0-shard1-attempt2", [4])
    assert report.runs_started == 3 and report.reruns == ["r1c0-shard1-attempt1 ended Crashed"]
    assert runs.pending([1, 2, 3, 4]) == []


def test_a_shard_that_keeps_failing_fails_the_cycle_after_shard_attempts_runs():
    runs = FakeRuns(lambda name, ids: [FAILED] if "shard0" in name else [COMPLETED])
    with pytest.raises(NngptError) as error:
        wait(runs, [[1, 2], [3]], attempts=2)
    assert [name for name, _ in runs.started].count("r1c0-shard0-attempt2") == 1
    assert "r1c0-shard0-attempt2" in str(error.value) and "gave up after 2 runs" in str(error.value)
    assert "2 of its 2 candidates are still unevaluated" in str(error.value)


def test_a_failed_run_whose_candidates_are_all_stored_is_done_without_a_rerun():
    # the worker died after its last commit, before it could report Completed
    runs = FakeRuns(lambda name, ids: [RUNNING, CRASHED])
    runs.evaluated.update({1, 2})
    report = wait(runs, [[1, 2]])
    assert report.runs_started == 1 and report.reruns == []


def test_a_silent_running_run_is_marked_crashed_and_rerun():
    # a worker killed with its machine: Prefect keeps the run Running, its heartbeats stop
    runs = FakeRuns(lambda name, ids: [RUNNING] if name.endswith("attempt1") else [COMPLETED])
    runs.beats["id-0"] = (700.0, 180.0)  # silent for 700 s, beating every 180 s before
    report = wait(runs, [[1, 2]], heartbeat_misses=3, heartbeat_check_s=0)
    assert runs.crashed and runs.crashed[0][0] == "id-0"
    assert "no heartbeat for 700 s, 3 times its period of 180 s" in runs.crashed[0][1]
    assert runs.started[-1] == ("r1c0-shard0-attempt2", [1, 2]) and report.runs_started == 2


def test_a_running_run_with_recent_or_no_heartbeats_is_left_alone():
    runs = FakeRuns(lambda name, ids: [RUNNING] * 4 + [COMPLETED])
    runs.beats["id-0"] = (500.0, 180.0)  # under 3 periods of its own, however this process is set up
    runs.beats["id-1"] = (80.0, 5.0)  # a 5 s gap is jitter: the period counts as at least 30 s
    # a run with fewer than two heartbeats (heartbeats off there) is left to the deadline
    report = wait(runs, [[1], [2], [3]], heartbeat_misses=3, heartbeat_check_s=0)
    assert runs.crashed == [] and report.runs_started == 3


def test_a_shard_past_its_deadline_fails_the_cycle_naming_the_flow_run_and_the_deadline():
    runs = FakeRuns(lambda name, ids: [RUNNING])
    clock = Clock()
    with pytest.raises(NngptError) as error:
        wait(runs, [[1, 2, 3]], clock=clock, timeout_s=60, attempts=1)
    message = str(error.value)
    assert "flow run 'r1c0-shard0-attempt1' (id-0)" in message
    assert "orchestration.shard_timeout_s=60 s" in message and "state: Running" in message
    assert "3 of its 3 candidates are still unevaluated" in message and "--resume" in message
    assert "\n" not in message and 60 < clock.now <= 70  # one poll after the deadline, not a hang


def test_a_shard_no_worker_picked_up_says_so_at_the_deadline():
    runs = FakeRuns(lambda name, ids: [RunState("SCHEDULED", "Late")])
    with pytest.raises(NngptError, match=r"state: Late\).*No worker of the work pool started it"):
        wait(runs, [[1]], timeout_s=30, attempts=1)


def test_a_run_stuck_pending_past_its_deadline_is_marked_crashed_and_rerun():
    # its worker died after taking it (or before starting it): Prefect keeps it Pending, no heartbeats
    PENDING = RunState("PENDING", "Pending")
    runs = FakeRuns(lambda name, ids: [PENDING] if name.endswith("attempt1") else [RUNNING, COMPLETED])
    runs.evaluated.add(2)  # committed elsewhere meanwhile: the rerun is not sent it
    clock = Clock()
    report = wait(runs, [[1, 2, 3]], clock=clock, timeout_s=60, heartbeat_misses=3, heartbeat_check_s=0)
    assert runs.crashed == [("id-0", "nngpt: not finished within shard_timeout_s=60 s (was Pending)")]
    assert runs.started == [("r1c0-shard0-attempt1", [1, 2, 3]), ("r1c0-shard0-attempt2", [1, 3])]
    assert report.reruns == ["r1c0-shard0-attempt1 is still Pending after orchestration.shard_timeout_s=60 s"]
    assert runs.pending([1, 2, 3]) == [] and 60 < clock.now <= 85


def test_a_shard_past_its_deadline_with_no_attempts_left_fails_the_cycle_in_one_line():
    runs = FakeRuns(lambda name, ids: [RunState("SCHEDULED", "Late")])
    clock = Clock()
    with pytest.raises(NngptError) as error:
        wait(runs, [[1, 2]], clock=clock, timeout_s=60, attempts=2)
    message = str(error.value)
    assert [run_id for run_id, _ in runs.crashed] == ["id-0"] and len(runs.started) == 2
    assert "flow run 'r1c0-shard0-attempt2' (id-1)" in message
    assert "orchestration.shard_timeout_s=60 s" in message and "state: Late" in message
    assert "2 of its 2 candidates are still unevaluated" in message
    assert "run 2 of orchestration.shard_attempts=2" in message
    assert "No worker of the work pool started it" in message and "--resume" in message
    assert "\n" not in message and 120 < clock.now <= 140


def test_a_run_past_its_deadline_whose_candidates_are_stored_counts_as_done():
    runs = FakeRuns(lambda name, ids: [RUNNING])
    runs.evaluated.update({1, 2})
    assert wait(runs, [[1, 2]], timeout_s=10).runs_started == 1


def test_an_unreachable_server_is_polled_again_until_the_deadline():
    runs = FakeRuns(lambda name, ids: [COMPLETED])
    runs.unreachable_polls = 2
    assert wait(runs, [[1]]).reruns == []
    runs = FakeRuns(lambda name, ids: [COMPLETED])
    runs.unreachable_polls = 100
    with pytest.raises(NngptError, match="state: in an unknown state"):
        wait(runs, [[1]], timeout_s=20)


def test_a_completed_run_that_left_candidates_pending_is_rerun():
    runs = FakeRuns(lambda name, ids: [COMPLETED], evaluates=lambda name: not name.endswith("attempt1"))
    report = wait(runs, [[1, 2]])
    assert report.reruns[0].startswith("r1c0-shard0-attempt1 completed but left 2 candidates unevaluated")
    assert "NNGPT_DATABASE_URL" in report.reruns[0]


def test_a_cancelled_shard_stops_the_cycle():
    runs = FakeRuns(lambda name, ids: [RunState("CANCELLED", "Cancelled")])
    with pytest.raises(NngptError, match="'r1c0-shard0-attempt1' .* was cancelled"):
        wait(runs, [[1]])


def test_orphans_of_a_dead_driver_are_adopted_never_started_twice():
    from nngpt_core.loop.shards import OrphanRun

    def script(name, ids):
        if name == "r1c0-shard2-attempt2":  # an adopted orphan that dies after all
            return [RUNNING, CRASHED]
        return [RUNNING, RUNNING, COMPLETED]

    runs = FakeRuns(script)
    orphans = [
        OrphanRun("old-1", "r1c0-shard1-attempt1", [3, 4], "RUNNING"),
        OrphanRun("old-2", "r1c0-shard2-attempt2", [5], "SCHEDULED"),
        OrphanRun("old-3", "r1c0-shard3-attempt1", [9], "RUNNING"),  # its candidate is stored: nothing to wait for
        OrphanRun("old-4", "r1c0-shard0-attempt1", [1], "CANCELLING"),  # someone stops it: not adopted
    ]
    for orphan in orphans:
        runs.known(orphan.run_id, orphan.name, orphan.candidate_ids)
    runs.evaluated.add(9)
    report = wait(runs, [[1, 2], [3, 4], [5, 6]], orphans=orphans, first_index=4)
    # [3, 4] belongs to an adopted orphan; of [5, 6] only 6 is new; 5 waits for its orphan, which crashes and is rerun
    assert runs.started == [("r1c0-shard4-attempt1", [1, 2]), ("r1c0-shard5-attempt1", [6]), ("r1c0-shard2-attempt3", [5])]
    assert report.adopted == ["r1c0-shard1-attempt1", "r1c0-shard2-attempt2"]
    assert runs.evaluated == {1, 2, 3, 4, 5, 6, 9} and runs.polls["old-3"] == 0 and runs.polls["old-4"] == 0
