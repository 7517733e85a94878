"""Evaluating the same candidates in several processes at once writes each evaluation once (SQLite and PostgreSQL).

This is what happens when a pool shard is declared dead while it is alive (lost heartbeats, a
deadline passed during a long pause) and its rerun evaluates the same candidates: three real
processes call `evaluate_candidates` on the same pending candidates of a real store. Each evaluates
them in its own sandbox; then, so that the writes really collide, every process waits at a barrier
(a file per process, the Evaluator's `evaluate_many` wrapped in the child: the test's only
intervention) until all have their results, and all store them at the same moment. Exactly one
write per architecture may win; the others must write nothing and end without an error.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from nngpt_core.store.engine import open_store
from nngpt_core.store.models import Candidate, Evaluation
from tests.evaluator_helpers import EVALUATE, pending_candidates

PROCESSES = 3
SOURCES = [EVALUATE / "small_cnn.py", EVALUATE / "lemur_spellings.py"]

CHILD = textwrap.dedent('''
    import json, os, sys, time
    from pathlib import Path

    import nngpt_core.evaluate as evaluate
    from nngpt_core.config import load_config
    from nngpt_core.loop.evaluation import evaluate_candidates
    from nngpt_core.store.engine import open_store

    url, ids, barrier, processes = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])

    class AtTheBarrier(evaluate.Evaluator):
        def evaluate_many(self, codes):
            results = super().evaluate_many(codes)
            (barrier / str(os.getpid())).touch()
            deadline = time.monotonic() + 600
            while len(list(barrier.iterdir())) < processes:  # every process has its results: write together
                assert time.monotonic() < deadline, "the other processes never reached the barrier"
                time.sleep(0.01)
            return results

    evaluate.Evaluator = AtTheBarrier
    cfg = load_config(None, {"store.url": url, "evaluation.dataset": "digits", "evaluation.train_subset": 200,
                             "evaluation.test_subset": 100, "evaluation.workers": 1, "evaluation.timeout_s": 120})
    print("stored", evaluate_candidates(open_store(url), cfg, ids, progress=False), flush=True)
''')


@pytest.mark.timeout(900)
def test_three_processes_evaluating_the_same_candidates_store_each_once(store_url, tmp_path: Path):
    import json

    ids = pending_candidates(store_url, [path.read_text() for path in SOURCES])
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    children = [subprocess.Popen([sys.executable, "-c", CHILD, store_url, json.dumps(ids), str(barrier), str(PROCESSES)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 cwd=Path(__file__).resolve().parent.parent)
                for _ in range(PROCESSES)]
    outcomes = [child.communicate(timeout=800) for child in children]
    for child, (out, err) in zip(children, outcomes):
        assert child.returncode == 0, err[-3000:]
    assert len(list(barrier.iterdir())) == PROCESSES  # all evaluated before any wrote
    stored = [int(out.split("stored")[1]) for out, _ in outcomes]
    assert sum(stored) == len(ids), stored  # one write per architecture, whoever won it
    lost = sum(err.count("another process stored its evaluation first") for _, err in outcomes)
    assert lost == (PROCESSES - 1) * len(ids)

    store = open_store(store_url)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Evaluation)) == len(ids)
        candidates = session.scalars(select(Candidate).order_by(Candidate.id)).all()
        evaluations = {e.id: e for e in session.scalars(select(Evaluation))}
        for candidate in candidates:
            evaluation = evaluations[candidate.evaluation_id]
            assert candidate.status == evaluation.status == "ok" and candidate.accuracy == evaluation.accuracy
            assert evaluation.architecture_id == candidate.architecture_id and evaluation.structural_tokens
    store.dispose()
