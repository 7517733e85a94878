"""`nngpt run` killed with SIGKILL in the middle of a cycle, then `nngpt run --resume RUN`, as a user would.

The resumed run must end as an uninterrupted one would: every cycle done, candidates_per_cycle x cycles
candidates (one per (cycle, index)), one evaluation per architecture, what was stored before the
kill kept as it was (not computed again), and one adapter per cycle. The runs use the echo model
(tests/flow_helpers.py), so every stage does real work in seconds.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from nngpt_core.store.engine import open_store
from nngpt_core.store.models import Adapter, Candidate, Cycle, Evaluation, Run, SftExample
from tests.flow_helpers import LoopProcess, loop_env, run_config, write_config

CANDIDATES = 6


def count(store, model, *where) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def cycle_row(store, index: int) -> Cycle | None:
    with store.session() as session:
        return session.scalar(select(Cycle).where(Cycle.run_id == 1, Cycle.index == index))


def evaluations(store) -> dict[int, tuple]:
    """Each stored evaluation's identity and timings: a recomputed evaluation would change them."""
    with store.session() as session:
        return {e.architecture_id: (e.id, e.duration_s, e.accuracy, repr(e.phase_durations))
                for e in session.scalars(select(Evaluation))}


def assert_finished_like_an_uninterrupted_run(store, planned: int) -> None:
    """What an uninterrupted run of `planned` cycles of CANDIDATES candidates leaves in the store."""
    with store.session() as session:
        run = session.get(Run, 1)
        assert run.status == "done" and session.scalar(select(func.count()).select_from(Run)) == 1
        cycles = session.scalars(select(Cycle).where(Cycle.run_id == 1).order_by(Cycle.index)).all()
        assert [(c.index, c.status) for c in cycles] == [(i, "done") for i in range(planned)]
        candidates = session.scalars(select(Candidate)).all()
        keys = Counter((c.cycle_id, c.index) for c in candidates)
        assert sorted(keys) == [(c.id, i) for c in cycles for i in range(CANDIDATES)] and max(keys.values()) == 1
        assert not [c for c in candidates if c.status == "pending"]
        assert {c.metrics["generated"] for c in cycles} == {CANDIDATES}
        # one evaluation per evaluated architecture, none twice
        evaluated = {c.architecture_id for c in candidates if c.evaluation_id is not None}
        rows = session.scalars(select(Evaluation.architecture_id)).all()
        assert sorted(rows) == sorted(evaluated)
        assert all(c.evaluation_id is not None for c in candidates if c.architecture_id is not None)
        # one adapter per cycle that selected SFT examples, chained through the cycles
        adapters = session.scalars(select(Adapter).order_by(Adapter.id)).all()
        trained = [c for c in cycles if c.adapter_out_id is not None]
        assert len(adapters) == len(trained) >= 1 and cycles[0].adapter_out_id == adapters[0].id
        for previous, cycle in zip(cycles, cycles[1:]):
            assert cycle.adapter_in_id == (previous.adapter_out_id or previous.adapter_in_id)
        for cycle in cycles:
            examples = session.scalars(select(SftExample.candidate_id).where(SftExample.cycle_id == cycle.id)).all()
            assert len(examples) == len(set(examples)) == (cycle.metrics["sft_examples"])


@pytest.mark.timeout(300)
def test_resume_after_a_kill_in_the_middle_of_evaluation(echo_model, sqlite_url, tmp_path):
    config = write_config(tmp_path / "run.yaml", run_config(
        echo_model, tmp_path / "data", sqlite_url,
        **{"cycles": 1, "generation.candidates_per_cycle": CANDIDATES, "generation.batch_size": CANDIDATES,
           "orchestration.shard_size": 1}))  # one shard per architecture: each is committed on its own
    env = loop_env(tmp_path)
    first = LoopProcess(["run", "--config", str(config)], tmp_path / "first.log", env)
    store = open_store(sqlite_url, check=False)

    def mid_evaluation():
        """Cycle 0 has evaluated candidates and candidates still waiting for their evaluation."""
        cycle = cycle_row(store, 0) if store_ready() else None
        if cycle is None:
            return False
        done = count(store, Candidate, Candidate.cycle_id == cycle.id, Candidate.evaluation_id.is_not(None))
        waiting = count(store, Candidate, Candidate.cycle_id == cycle.id, Candidate.status == "pending",
                        Candidate.architecture_id.is_not(None))
        return done and waiting

    def store_ready():
        from nngpt_core.store.migrate import is_current

        try:
            return is_current(store)
        except Exception:  # the file is being created and migrated by the run
            return False

    first.wait_until(mid_evaluation, timeout=200, what="cycle 0 was half evaluated")
    first.kill()
    before = evaluations(store)
    cycle = cycle_row(store, 0)
    assert cycle.status == "running" and count(store, Candidate, Candidate.cycle_id == cycle.id) == CANDIDATES
    assert count(store, Candidate, Candidate.status == "pending", Candidate.architecture_id.is_not(None)) >= 1
    assert before and count(store, Cycle) == 1

    # the killed run held the device's Prefect concurrency slot: the resumed run must not wait for it for ever
    second = LoopProcess(["run", "--resume", "1", "--config", str(config)], tmp_path / "second.log", env)
    assert second.wait(timeout=240) == 0, second.output()[-3000:]
    assert_finished_like_an_uninterrupted_run(store, planned=1)
    after = evaluations(store)
    assert {k: after[k] for k in before} == before  # what was evaluated before the kill was not evaluated again
    assert len(after) > len(before)
    store.dispose()


@pytest.mark.timeout(300)
def test_resume_after_a_kill_during_fine_tuning(echo_model, postgres_url, tmp_path):
    config = write_config(tmp_path / "run.yaml", run_config(
        echo_model, tmp_path / "data", postgres_url,
        **{"generation.candidates_per_cycle": CANDIDATES, "generation.batch_size": CANDIDATES,
           "orchestration.shard_size": CANDIDATES, "sft.epochs": 40.0}))  # 40 steps (~3 s): long enough to be caught in the act
    env = loop_env(tmp_path)
    first = LoopProcess(["run", "--config", str(config)], tmp_path / "first.log", env)
    store = open_store(postgres_url, check=False)
    # trl logs every step's loss (logging_steps=1), and the flow logs what it prints
    first.wait_until(lambda: "'loss'" in first.output(), timeout=200, what="fine-tuning of cycle 0 started")
    first.kill()
    cycle = cycle_row(store, 0)
    assert cycle.status == "running" and cycle.adapter_out_id is None
    assert count(store, SftExample, SftExample.cycle_id == cycle.id) >= 1 and count(store, Adapter) == 0
    judged = count(store, Candidate, Candidate.novelty.is_not(None))
    before = evaluations(store)

    second = LoopProcess(["run", "--resume", "1", "--config", str(config)], tmp_path / "second.log", env)
    assert second.wait(timeout=240) == 0, second.output()[-3000:]
    assert_finished_like_an_uninterrupted_run(store, planned=2)
    after = evaluations(store)
    assert {k: after[k] for k in before} == before
    with store.session() as session:
        cycle = session.get(Cycle, cycle.id)
        # cycle 0's judgements were kept; the resumed run only fine-tuned it
        assert count(store, Candidate, Candidate.cycle_id == cycle.id, Candidate.novelty.is_not(None)) == judged
        assert set(cycle.stage_timings) >= {"generate", "evaluate", "finetune"}
    store.dispose()
