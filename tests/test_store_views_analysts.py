"""The analysts' views (revision 0006) on hand-made rows whose answers are known, on SQLite and PostgreSQL.

lineage_edges, memorization_by_cycle, lemur_vs_generated and top_novel_architectures; the store's
identity; and revision 0006 going down and up again without touching the data. docs/queries.md runs
the same views against a store filled by a real run (tests/test_docs_queries.py).
"""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text

from nngpt_core.store import migrate
from nngpt_core.store.identity import store_id, store_tag
from nngpt_core.store.models import Architecture, Candidate, Cycle, Evaluation, Lineage, Run, StoreIdentity
from nngpt_core.store.views import ANALYST_VIEWS


def _fill(store) -> dict[str, int]:
    """Two cycles of one run, a seed, two LEMUR architectures and four generated ones (ids by name)."""
    with store.session() as session:
        run = Run(name="r", base_model="m", dataset="digits")
        session.add(run)
        session.flush()
        c0, c1 = Cycle(run_id=run.id, index=0), Cycle(run_id=run.id, index=1)
        session.add_all([c0, c1])
        session.flush()

        def arch(name, origin, cycle=None, in_corpus=True, operation=None):
            found = Architecture(code_hash=name, code=f"# {name}", name=name, origin=origin, in_corpus=in_corpus,
                                 run_id=run.id if cycle else None, cycle_id=cycle.id if cycle else None, operation=operation)
            session.add(found)
            return found

        seed, lemur_a, lemur_b = arch("seed", "seed"), arch("lemur_a", "lemur"), arch("lemur_b", "lemur")
        g1 = arch("g1", "generated", c0, operation="full")
        g2 = arch("g2", "generated", c1, operation="mutation")
        g3 = arch("g3", "generated", c0, in_corpus=False)  # valid, not admitted (a repeat)
        g4 = arch("g4", "generated", c1, operation="crossover")
        session.flush()
        session.add_all([
            Lineage(child_id=g1.id, parent_id=seed.id, operation="full", role="parent"),
            Lineage(child_id=g2.id, parent_id=g1.id, operation="mutation", role="parent"),
            Lineage(child_id=g4.id, parent_id=g1.id, operation="crossover", role="skeleton"),
            Lineage(child_id=g4.id, parent_id=seed.id, operation="crossover", role="donor"),
        ])
        for found, accuracy in [(lemur_a, 0.5), (lemur_b, 0.7), (g1, 0.8), (g2, 0.6), (g3, 0.3), (g4, 0.75)]:
            session.add(Evaluation(architecture_id=found.id, dataset="digits", recipe="r1", status="ok", accuracy=accuracy,
                                   params=100))
        session.add(Evaluation(architecture_id=g1.id, dataset="digits", recipe="r2", status="ok", accuracy=0.95))
        session.add(Evaluation(architecture_id=lemur_a.id, dataset="cifar10", recipe="r1", status="timeout"))

        def candidate(cycle, index, status, accuracy=None, memorization=None, found=None, admitted=False, similarity=None):
            session.add(Candidate(run_id=run.id, cycle_id=cycle.id, index=index, prompt="p", completion="c", status=status,
                                  accuracy=accuracy, memorization=memorization, architecture_id=found.id if found else None,
                                  admitted=admitted, similarity=similarity))

        candidate(c0, 0, "ok", 0.5, "memorized", seed, similarity=0.95)
        candidate(c0, 1, "ok", 0.3, "repeated", g3, similarity=0.8)
        candidate(c0, 2, "ok", 0.8, "novel", g1, admitted=True, similarity=0.2)
        candidate(c0, 3, "syntax_error")
        candidate(c1, 0, "ok", 0.6, "novel", g2, admitted=True, similarity=0.4)
        candidate(c1, 1, "ok", 0.75, "novel", g4, admitted=True, similarity=0.5)
        candidate(c1, 2, "ok", 0.4)  # classified by nothing: a run from before the classification
        return {"run": run.id, **{a.name: a.id for a in (seed, lemur_a, lemur_b, g1, g2, g3, g4)}}


def _rows(store, sql: str, **params) -> list:
    with store.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def test_lineage_edges_name_parent_child_and_operation(store):
    ids = _fill(store)
    rows = _rows(store, "SELECT parent_name, parent_origin, operation, role, child_name, child_origin, run_id, cycle "
                        "FROM lineage_edges ORDER BY child_name, role")
    assert [tuple(row) for row in rows] == [
        ("seed", "seed", "full", "parent", "g1", "generated", ids["run"], 0),
        ("g1", "generated", "mutation", "parent", "g2", "generated", ids["run"], 1),
        ("seed", "seed", "crossover", "donor", "g4", "generated", ids["run"], 1),
        ("g1", "generated", "crossover", "skeleton", "g4", "generated", ids["run"], 1),
    ]


def test_memorization_by_cycle_counts_every_class_per_cycle(store):
    ids = _fill(store)
    rows = _rows(store, "SELECT cycle, memorization, candidates, share_of_valid, mean_accuracy, admitted "
                        "FROM memorization_by_cycle WHERE run_id = :run ORDER BY cycle, memorization", run=ids["run"])
    table = {(row.cycle, row.memorization): row for row in rows}
    assert len(rows) == 8  # two cycles x four classes, zeros included
    expected = {  # cycle 0: 3 valid; cycle 1: 3 valid, one of them unclassified
        (0, "memorized"): (1, 1 / 3, 0.5, 0), (0, "repeated"): (1, 1 / 3, 0.3, 0), (0, "novel"): (1, 1 / 3, 0.8, 1),
        (0, "unclassified"): (0, 0.0, None, 0), (1, "memorized"): (0, 0.0, None, 0), (1, "repeated"): (0, 0.0, None, 0),
        (1, "novel"): (2, 2 / 3, 0.675, 2), (1, "unclassified"): (1, 1 / 3, 0.4, 0),
    }
    for key, (count, share, mean, admitted) in expected.items():
        row = table[key]
        assert (row.candidates, row.admitted) == (count, admitted), key
        assert row.share_of_valid == pytest.approx(share), key
        assert row.mean_accuracy == (None if mean is None else pytest.approx(mean)), key
    # the counts agree with cycle_metrics, which counts the same classes its own way
    metrics = {row.cycle: row for row in _rows(store, "SELECT cycle, memorized, repeated, novel_valid FROM cycle_metrics")}
    for cycle, row in metrics.items():
        assert (row.memorized, row.repeated, row.novel_valid) == tuple(
            table[(cycle, name)].candidates for name in ("memorized", "repeated", "novel"))


def test_lemur_vs_generated_compares_within_one_dataset_and_recipe(store):
    _fill(store)
    rows = _rows(store, "SELECT * FROM lemur_vs_generated ORDER BY dataset, recipe")
    assert [(row.dataset, row.recipe) for row in rows] == [("digits", "r1"), ("digits", "r2")]
    same = rows[0]  # the timed-out cifar10 evaluation counts nowhere: it has no accuracy
    assert (same.lemur_architectures, same.generated_architectures, same.novel_architectures) == (2, 4, 3)
    assert same.lemur_mean_accuracy == pytest.approx(0.6) and same.lemur_best_accuracy == pytest.approx(0.7)
    assert same.generated_mean_accuracy == pytest.approx((0.8 + 0.6 + 0.3 + 0.75) / 4)
    assert same.generated_best_accuracy == pytest.approx(0.8)
    assert same.novel_mean_accuracy == pytest.approx((0.8 + 0.6 + 0.75) / 3)
    assert same.generated_above_best_lemur == 2  # g1 and g4 beat lemur_b's 0.7
    other = rows[1]  # g1 under another recipe is not compared with LEMUR's r1 scores
    assert (other.lemur_architectures, other.generated_architectures, other.generated_above_best_lemur) == (0, 1, 0)


def test_top_novel_architectures_ranks_admitted_generated_code(store):
    _fill(store)
    rows = _rows(store, "SELECT rank, name, cycle, operation, accuracy, nearest_similarity, code "
                        "FROM top_novel_architectures WHERE dataset = 'digits' AND recipe = 'r1' ORDER BY rank")
    assert [(row.rank, row.name, row.cycle, row.operation) for row in rows] == [
        (1, "g1", 0, "full"), (2, "g4", 1, "crossover"), (3, "g2", 1, "mutation")]  # g3 was not admitted
    assert [row.nearest_similarity for row in rows] == pytest.approx([0.2, 0.5, 0.4])
    assert rows[0].code == "# g1"


def test_store_identity_is_made_once_per_store(store_url, tmp_path):
    from nngpt_core.store.engine import open_store

    store = open_store(store_url)
    migrate.upgrade(store)
    first = store_id(store)
    migrate.upgrade(store)  # nothing to do, nothing new
    with store.session() as session:
        assert session.scalars(select(StoreIdentity.id)).all() == [first]
    other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    migrate.upgrade(other)
    assert store_tag(other) != store_tag(store) and len(store_tag(store)) == 8
    store.dispose()
    other.dispose()


def test_revision_0006_goes_down_and_up_keeping_the_data(store):
    ids = _fill(store)
    migrate.downgrade(store, "0005")
    names = set(inspect(store.engine).get_view_names())
    assert not names & set(ANALYST_VIEWS) and {"cycle_metrics", "leaderboard"} <= names
    assert "store_identity" not in inspect(store.engine).get_table_names()
    migrate.upgrade(store)
    assert set(ANALYST_VIEWS) <= set(inspect(store.engine).get_view_names())
    assert len(_rows(store, "SELECT * FROM lineage_edges WHERE run_id = :run", run=ids["run"])) == 4
