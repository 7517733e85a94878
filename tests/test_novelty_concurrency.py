"""Atomic admission: 8 processes admit near-duplicates of each other at the same moment; one per family gets in,
through novelty.admission.admit directly and through the loop's admission stage.

Runs against SQLite and a throwaway PostgreSQL (the `store` fixture). Processes are spawned (no
state inherited from pytest) and released together by a barrier, so their admissions overlap.
Every copy has its own code hash (a differently renamed variable), so the unique constraint on
the hash cannot be what stops the others: only the admission lock can.
"""

from __future__ import annotations

import multiprocessing
import re
from pathlib import Path

from sqlalchemy import func, select

from nngpt_core.config import NoveltyConfig
from nngpt_core.novelty.admission import admit
from nngpt_core.novelty.normalize import code_hash
from nngpt_core.store.engine import open_store
from nngpt_core.store.models import Architecture

PAIRS = Path(__file__).parent / "fixtures" / "novelty_pairs"
FAMILIES = ("resnet_basic", "mlp_mixer")
WORKERS = 8


def renamed_copy(family: str, worker: int) -> str:
    """The family's code with its forward variable `x` renamed per worker: same tokens, other code hash."""
    return re.sub(r"\bx\b", f"x_{worker}", (PAIRS / f"{family}.py").read_text())


def admit_at_barrier(url: str, family: str, worker: int, barrier, results) -> None:
    store = open_store(url)
    code = renamed_copy(family, worker)
    barrier.wait(timeout=120)
    verdict = admit(store, code, novelty=NoveltyConfig(), name=f"{family}-{worker}", origin="generated")
    results.put((family, worker, verdict.verdict, verdict.architecture_id, verdict.similar_to_id))
    store.dispose()


def test_concurrent_near_duplicates_admit_exactly_one_per_family(store):
    assert len({code_hash(renamed_copy(FAMILIES[0], w)) for w in range(WORKERS)}) == WORKERS
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(WORKERS), context.Queue()
    processes = [
        context.Process(target=admit_at_barrier, args=(store.url, FAMILIES[w % 2], w, barrier, results))
        for w in range(WORKERS)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    for family in FAMILIES:
        mine = [o for o in outcomes if o[0] == family]
        winners = [o for o in mine if o[2] == "novel"]
        assert len(mine) == WORKERS // 2 and len(winners) == 1, mine
        winner_id = winners[0][3]
        assert all(o[2] == "near_duplicate" and o[4] == winner_id for o in mine if o is not winners[0])
    with store.session() as session:
        assert session.execute(select(func.count()).select_from(Architecture)).scalar() == len(FAMILIES)


def judge_at_barrier(url: str, candidate_id: int, barrier, results) -> None:
    from nngpt_core.config import RunConfig
    from nngpt_core.loop.admission import judge_candidate

    store = open_store(url)
    barrier.wait(timeout=120)
    results.put((candidate_id, judge_candidate(store, RunConfig(), candidate_id, bar=0.12)))
    store.dispose()


def test_the_loops_admission_admits_one_per_family_of_a_real_cycle_and_metrics_equal_a_recount(store):
    """The loop's own path (loop.admission.judge_candidate -> novelty.admission.admit): 8 ok candidates of
    one cycle, prepared as the prepare stage does, judged by 8 processes at once."""
    from nngpt_core.loop.admission import classify_candidates
    from nngpt_core.loop.runs import close_cycle
    from nngpt_core.store.models import Candidate, Cycle, Run
    from nngpt_core.store.repo import add_architecture
    from tests.flow_helpers import recount, same

    with store.session() as session:
        run = Run(name="concurrency", base_model="none", dataset="digits")
        session.add(run)
        session.flush()
        cycle = Cycle(run_id=run.id, index=0)
        session.add(cycle)
        session.flush()
        ids = []
        for worker in range(WORKERS):
            code = renamed_copy(FAMILIES[worker % 2], worker)
            architecture, _ = add_architecture(session, code, name=f"w{worker}", origin="generated", run_id=run.id,
                                               cycle_id=cycle.id, in_corpus=False)
            candidate = Candidate(run_id=run.id, cycle_id=cycle.id, index=worker, prompt="p", completion="c", code=code,
                                  status="ok", accuracy=0.5, architecture_id=architecture.id, mode="crossover")
            session.add(candidate)
            session.flush()
            ids.append(candidate.id)
        run_id, cycle_id = run.id, cycle.id
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(WORKERS), context.Queue()
    processes = [context.Process(target=judge_at_barrier, args=(store.url, i, barrier, results)) for i in ids]
    for process in processes:
        process.start()
    admitted = dict(results.get(timeout=180) for _ in processes)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    classify_candidates(store, cycle_id)
    metrics = close_cycle(store, cycle_id)
    with store.session() as session:
        candidates = session.scalars(select(Candidate).where(Candidate.cycle_id == cycle_id)).all()
        for family in range(2):
            mine = [c for c in candidates if c.index % 2 == family]
            winners = [c for c in mine if c.admitted]
            assert len(winners) == 1 and admitted[winners[0].id], [(c.index, c.novelty) for c in mine]
            assert all(c.novelty == "near_duplicate" and c.similar_to_id == winners[0].architecture_id
                       and c.memorization == "repeated" for c in mine if c is not winners[0])
            assert winners[0].memorization == "novel"
        assert session.scalar(select(func.count()).select_from(Architecture).where(Architecture.in_corpus.is_(True))) == 2
        counted = recount(session, session.get(Run, run_id), session.get(Cycle, cycle_id))
    assert same(counted, metrics) and (counted["novel_admitted"], counted["repeated"]) == (2, WORKERS - 2)
