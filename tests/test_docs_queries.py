"""docs/queries.md: each of its ten SQL answers, run against a store that a real run filled, on SQLite and PostgreSQL.

The store: a two-cycle `evolve` with the echo model (tests/flow_helpers.py: real generation,
sandboxed evaluation, novelty, admission and LoRA SFT), plus two seed files imported as LEMUR
architectures and evaluated for real under the run's recipe. The memorized / repeated / novel class
and the lineage are the loop's own records.
Every query's rows are compared with the same answer computed here from the ORM, not from SQL views.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select, text

from nngpt_core.config import config_from_dict
from nngpt_core.loop.stats import wilson_interval
from nngpt_core.store.engine import open_store
from nngpt_core.store.models import (
    Adapter, Architecture, Candidate, Cycle, Evaluation, Lineage, Run,
)
from tests.flow_helpers import recount, run_config
from tests.prefect_harness import prefect_harness  # noqa: F401  (the one session harness)

DOC = Path(__file__).resolve().parent.parent / "docs" / "queries.md"
LEMUR_FILES = ("mlp", "lenet")  # seeds imported under origin lemur: LEMUR's own files are not shipped


def doc_queries() -> dict[int, str]:
    """The numbered questions' SQL blocks of docs/queries.md."""
    found = re.findall(r"^## (\d+)\. .+?\n.*?```sql\n(.*?)```", DOC.read_text(), flags=re.M | re.S)
    return {int(number): sql for number, sql in found}


def test_the_document_answers_ten_questions():
    assert sorted(doc_queries()) == list(range(1, 11))


# ------------------------------------------------------------------------------------------- the store


def _add_lemur(store, cfg) -> None:
    from nngpt_core.corpus import seed_sources
    from nngpt_core.evaluate.batch import evaluate_architectures
    from nngpt_core.store.repo import import_sources

    with store.session() as session:
        sources = [(name, code, None) for name, code in seed_sources() if name in LEMUR_FILES]
        assert len(import_sources(session, sources, origin="lemur").added) == len(LEMUR_FILES)
        added = session.scalars(select(Architecture.id).where(Architecture.origin == "lemur")).all()
    evaluate_architectures(store, cfg, added)  # the sandbox, one epoch, the run's recipe


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def analyst_store(request, tmp_path_factory, prefect_harness, echo_model):
    from nngpt_flows.evolve import evolve

    tmp = tmp_path_factory.mktemp(f"queries-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'nngpt.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database(f"nngpt_queries_{tmp.name.replace('-', '_')}")
    cfg = config_from_dict(run_config(echo_model, tmp / "data", url))
    state = evolve(config=cfg, return_state=True)
    assert state.is_completed(), state
    store = open_store(url)
    _add_lemur(store, cfg)
    yield store
    store.dispose()


# ------------------------------------------------------------------------------ answers from the ORM


def _newest_run(session) -> Run:
    return session.scalars(select(Run).order_by(Run.id.desc())).first()


def _cycles(session, run: Run) -> list[Cycle]:
    return session.scalars(select(Cycle).where(Cycle.run_id == run.id).order_by(Cycle.index)).all()


def _ranked(pairs: list[tuple[float, str]]) -> list[tuple[int, float, str]]:
    """SQL's RANK() over accuracy, highest first."""
    return [(1 + sum(other > accuracy for other, _ in pairs), accuracy, key) for accuracy, key in pairs]


def _valid_evaluations(session):
    return session.execute(select(Evaluation, Architecture).join(Architecture, Architecture.id == Evaluation.architecture_id)
                           .where(Evaluation.status == "ok", Evaluation.accuracy.is_not(None))).all()


def answer_1(session):
    run = _newest_run(session)
    rows = []
    for cycle in _cycles(session, run):
        counted = recount(session, run, cycle)
        low, high = wilson_interval(counted["ok"], counted["generated"])
        rows.append((cycle.index, counted["generated"], counted["ok"], counted["valid_rate"], low, high,
                     counted["mean_accuracy"], counted["novel_admitted"]))
    return rows


def answer_2(session):
    by_dataset = defaultdict(list)
    for evaluation, arch in _valid_evaluations(session):
        by_dataset[evaluation.dataset].append((evaluation.accuracy, (arch.name, arch.origin, evaluation.params)))
    rows = []
    for dataset, pairs in by_dataset.items():
        for rank, accuracy, (name, origin, params) in _ranked(pairs):
            if rank <= 5:
                rows.append((dataset, rank, name, origin, accuracy, params))
    return sorted(rows, key=lambda r: (r[0], r[1], r[2]))


def answer_3(session):
    run = _newest_run(session)
    rows = []
    for cycle in _cycles(session, run):
        valid = session.scalars(select(Candidate).where(Candidate.cycle_id == cycle.id, Candidate.status == "ok")).all()
        for name in sorted({c.memorization or "unclassified" for c in valid}):
            members = [c.accuracy for c in valid if (c.memorization or "unclassified") == name]
            rows.append((cycle.index, name, len(members), len(members) / len(valid), sum(members) / len(members)))
    return rows


def answer_4(session):
    rows = []
    for edge in session.scalars(select(Lineage)):
        child, parent = session.get(Architecture, edge.child_id), session.get(Architecture, edge.parent_id)
        if child.in_corpus:
            cycle = session.get(Cycle, child.cycle_id).index if child.cycle_id else None
            rows.append((cycle, child.name, edge.operation, edge.role, parent.name, parent.origin))
    return sorted(rows, key=lambda r: (r[0], r[1], r[4]))


def answer_5(session):
    children = defaultdict(set)
    for edge in session.scalars(select(Lineage)):
        children[edge.parent_id].add(edge.child_id)
    has_parent = {child for kids in children.values() for child in kids}
    rows = []
    for arch in session.scalars(select(Architecture)):
        if arch.id in has_parent:
            continue
        seen, frontier, depth = set(), {arch.id}, 0
        while frontier := {kid for node in frontier for kid in children[node]} - seen:
            seen |= frontier
            depth += 1
        if depth:
            rows.append((arch.name, arch.origin, len(seen), depth))
    return sorted(rows, key=lambda r: (-r[2], r[0]))


def answer_6(session):
    groups = defaultdict(lambda: {"lemur": [], "generated": [], "novel": []})
    for evaluation, arch in _valid_evaluations(session):
        if arch.origin in ("lemur", "generated"):
            group = groups[(evaluation.dataset, evaluation.recipe)]
            group[arch.origin].append(evaluation.accuracy)
            if arch.origin == "generated" and arch.in_corpus:
                group["novel"].append(evaluation.accuracy)
    rows = []
    for (dataset, recipe), group in sorted(groups.items()):
        if group["lemur"] and group["generated"]:
            best_lemur = max(group["lemur"])
            rows.append((dataset, recipe, len(group["lemur"]), best_lemur, len(group["generated"]), max(group["generated"]),
                         len(group["novel"]), sum(a > best_lemur for a in group["generated"])))
    return rows


def answer_7(session):
    groups = defaultdict(list)
    for evaluation, arch in _valid_evaluations(session):
        if arch.origin == "generated" and arch.in_corpus:
            admitted = session.scalars(select(Candidate.similarity).where(Candidate.architecture_id == arch.id,
                                                                            Candidate.admitted.is_(True))).all()
            cycle = session.get(Cycle, arch.cycle_id).index if arch.cycle_id else None
            groups[(evaluation.dataset, evaluation.recipe)].append(
                (evaluation.accuracy, (arch.name, cycle, arch.operation, evaluation.params,
                                       max((s for s in admitted if s is not None), default=None), arch.code)))
    rows = []
    for (dataset, recipe), pairs in sorted(groups.items()):
        ranked = sorted(_ranked(pairs), key=lambda r: (r[0], r[2][0]))
        rows += [(dataset, rank, name, cycle, operation, accuracy, params, nearest, code)
                 for rank, accuracy, (name, cycle, operation, params, nearest, code) in ranked if rank <= 3]
    return rows


def answer_8(session):
    run = _newest_run(session)
    rows = []
    for cycle in _cycles(session, run):
        by_status = defaultdict(list)
        for candidate in session.scalars(select(Candidate).where(Candidate.cycle_id == cycle.id)):
            by_status[candidate.status].append(candidate.error)
        errors = {status: sorted(e for e in found if e is not None) for status, found in by_status.items()}
        rows += sorted(((cycle.index, status, len(found), (errors[status] or [None])[0]) for status, found in by_status.items()),
                       key=lambda r: (-r[2], r[1]))
    return rows


def answer_9(session):
    groups = defaultdict(list)
    for candidate in session.scalars(select(Candidate).where(Candidate.novelty.in_(("near_duplicate", "exact_duplicate")))):
        if candidate.similar_to_id is not None:
            arch = session.get(Architecture, candidate.similar_to_id)
            groups[(arch.name, arch.origin, candidate.novelty)].append(candidate.similarity)
    rows = [(*key, len(found), max((s for s in found if s is not None), default=None)) for key, found in groups.items()]
    return sorted(rows, key=lambda r: (-r[3], r[0], r[2]))


def answer_10(session):
    rows = []
    for cycle in _cycles(session, _newest_run(session)):
        adapter = session.get(Adapter, cycle.adapter_out_id) if cycle.adapter_out_id else None
        rows.append((cycle.index, cycle.adapter_in_id, cycle.adapter_out_id, adapter.n_examples if adapter else None))
    return rows


ANSWERS = {number: globals()[f"answer_{number}"] for number in range(1, 11)}


def _same(actual, expected) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        return actual is not None and expected is not None and actual == pytest.approx(expected)
    return actual == expected


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("number", range(1, 11))
def test_each_query_answers_its_question(analyst_store, number):
    sql = doc_queries()[number]
    with analyst_store.engine.connect() as conn:
        got = [tuple(row) for row in conn.execute(text(sql))]
    with analyst_store.session() as session:
        expected = ANSWERS[number](session)
    assert expected, f"question {number}: the run left nothing to answer it with"
    assert len(got) == len(expected), (number, got, expected)
    for row, want in zip(got, expected):
        assert len(row) == len(want) and all(_same(a, e) for a, e in zip(row, want)), (number, row, want)
