"""Atomic admission: 8 processes admit near-duplicates of each other at the same moment; one per family gets in.

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
