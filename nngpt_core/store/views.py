"""The SQL views that answer the paper's questions with plain SQL (same text on SQLite and PostgreSQL).

    SELECT cycle, generated, valid_rate, valid_low, valid_high, mean_accuracy, share_above, novel_admitted
    FROM cycle_metrics WHERE run_id = 1 ORDER BY cycle;
    SELECT * FROM leaderboard WHERE dataset = 'digits32' AND rank <= 10;
    SELECT parent_name, operation, child_name FROM lineage_edges WHERE run_id = 1;
    SELECT cycle, memorization, candidates, share_of_valid FROM memorization_by_cycle WHERE run_id = 1;
    SELECT * FROM lemur_vs_generated WHERE dataset = 'cifar10';
    SELECT rank, name, accuracy, code FROM top_novel_architectures WHERE dataset = 'digits32' AND rank <= 5;

docs/queries.md answers ten questions with them.

Changing a view means a new Alembic revision that drops and recreates it: the revision names the
text it creates (`views_at(revision)`), so an old revision keeps creating the view its tables support.
"""

from nngpt_core.novelty.paper import PAPER_TAU

# Wilson score interval at 95% (z = 1.96), written out so that the view needs only sqrt().
_Z2 = "3.8416"
_WILSON = f"""
    CASE WHEN generated = 0 THEN NULL ELSE
      ((CAST(ok AS DOUBLE PRECISION) / generated) + {_Z2} / (2.0 * generated)
       - 1.96 * sqrt((CAST(ok AS DOUBLE PRECISION) / generated) * (1 - CAST(ok AS DOUBLE PRECISION) / generated) / generated + {_Z2} / (4.0 * generated * generated)))
      / (1 + {_Z2} / generated) END AS valid_low,
    CASE WHEN generated = 0 THEN NULL ELSE
      ((CAST(ok AS DOUBLE PRECISION) / generated) + {_Z2} / (2.0 * generated)
       + 1.96 * sqrt((CAST(ok AS DOUBLE PRECISION) / generated) * (1 - CAST(ok AS DOUBLE PRECISION) / generated) / generated + {_Z2} / (4.0 * generated * generated)))
      / (1 + {_Z2} / generated) END AS valid_high"""

_COUNTS_0002 = """
    (SELECT count(*) FROM candidates k WHERE k.cycle_id = cy.id) AS generated,
    (SELECT count(*) FROM candidates k WHERE k.cycle_id = cy.id AND k.status = 'ok') AS ok,
    (SELECT avg(k.accuracy) FROM candidates k WHERE k.cycle_id = cy.id AND k.status = 'ok') AS mean_accuracy,
    (SELECT count(*) FROM candidates k
       WHERE k.cycle_id = cy.id AND k.status = 'ok' AND k.accuracy >= r.share_threshold) AS above,
    (SELECT count(*) FROM candidates k WHERE k.cycle_id = cy.id AND k.admitted) AS novel_admitted,
    (SELECT count(*) FROM sft_examples e WHERE e.cycle_id = cy.id) AS sft_examples,
    (SELECT count(*) FROM architectures a JOIN cycles c2 ON c2.id = a.cycle_id
       WHERE a.origin = 'generated' AND a.in_corpus AND c2.run_id = cy.run_id
         AND c2."index" <= cy."index") AS cumulative_novel"""
# 0004: each ok candidate's class and the paper's test
_COUNTS_0004 = f"""{_COUNTS_0002},
    (SELECT count(*) FROM candidates k
       WHERE k.cycle_id = cy.id AND k.status = 'ok' AND k.memorization = 'memorized') AS memorized,
    (SELECT count(*) FROM candidates k
       WHERE k.cycle_id = cy.id AND k.status = 'ok' AND k.memorization = 'repeated') AS repeated,
    (SELECT count(*) FROM candidates k
       WHERE k.cycle_id = cy.id AND k.status = 'ok' AND k.memorization = 'novel') AS novel_valid,
    (SELECT count(*) FROM candidates k
       WHERE k.cycle_id = cy.id AND k.status = 'ok' AND k.paper_similarity < {PAPER_TAU}) AS paper_novel_valid"""
_COLUMNS_0002 = f"""run_id, cycle_id, cycle, generated, ok,
    CASE WHEN generated = 0 THEN NULL ELSE CAST(ok AS DOUBLE PRECISION) / generated END AS valid_rate,{_WILSON},
    mean_accuracy,
    share_threshold,
    CASE WHEN ok = 0 THEN NULL ELSE CAST(above AS DOUBLE PRECISION) / ok END AS share_above,
    novel_admitted, sft_examples, cumulative_novel"""
_COLUMNS_0004 = f"""{_COLUMNS_0002},
    memorized, repeated, novel_valid, paper_novel_valid,
    CASE WHEN generated = 0 THEN NULL ELSE CAST(novel_valid AS DOUBLE PRECISION) / generated END AS novel_valid_rate,
    CASE WHEN ok = 0 THEN NULL ELSE CAST(memorized AS DOUBLE PRECISION) / ok END AS memorized_share"""


def _cycle_metrics(counts: str, columns: str) -> str:
    return f"""
CREATE VIEW cycle_metrics AS
WITH counts AS (
  SELECT cy.run_id, cy.id AS cycle_id, cy."index" AS cycle, r.share_threshold,{counts}
  FROM cycles cy JOIN runs r ON r.id = cy.run_id
)
SELECT {columns}
FROM counts
"""


_CYCLE_METRICS_0002 = _cycle_metrics(_COUNTS_0002, _COLUMNS_0002)
CYCLE_METRICS = _cycle_metrics(_COUNTS_0004, _COLUMNS_0004)

_LEADERBOARD_0002 = """
CREATE VIEW leaderboard AS
SELECT e.dataset, a.id AS architecture_id, a.name, a.origin, a.run_id, e.accuracy, e.train_loss,
    a.params, a.flops, e.duration_s, e.recipe,
    RANK() OVER (PARTITION BY e.dataset ORDER BY e.accuracy DESC) AS rank
FROM evaluations e JOIN architectures a ON a.id = e.architecture_id
WHERE e.status = 'ok' AND e.accuracy IS NOT NULL
"""

# 0005: evaluations carry their source (nngpt or lemur); ranks are per source and dataset.
LEADERBOARD = """
CREATE VIEW leaderboard AS
SELECT e.source, e.dataset, a.id AS architecture_id, a.name, a.origin, a.run_id, e.accuracy, e.train_loss,
    a.params, a.flops, e.duration_s, e.recipe, e.epoch,
    RANK() OVER (PARTITION BY e.source, e.dataset ORDER BY e.accuracy DESC) AS rank
FROM evaluations e JOIN architectures a ON a.id = e.architecture_id
WHERE e.status = 'ok' AND e.accuracy IS NOT NULL
"""

# The analysts' views (revision 0006). They read tables only, never the views above, so that a
# revision that recreates cycle_metrics or leaderboard need not touch them.
LINEAGE_EDGES = """
CREATE VIEW lineage_edges AS
SELECT l.parent_id, p.name AS parent_name, p.origin AS parent_origin,
    l.operation, l.role,
    l.child_id, c.name AS child_name, c.origin AS child_origin, c.in_corpus AS child_in_corpus,
    c.run_id, cy."index" AS cycle
FROM lineage l
JOIN architectures p ON p.id = l.parent_id
JOIN architectures c ON c.id = l.child_id
LEFT JOIN cycles cy ON cy.id = c.cycle_id
"""

# One row per cycle and class, the classes zero-filled; 'unclassified' counts valid candidates that
# no class was recorded for (runs from before the classification existed).
MEMORIZATION_BY_CYCLE = """
CREATE VIEW memorization_by_cycle AS
WITH classes (memorization) AS (VALUES ('memorized'), ('repeated'), ('novel'), ('unclassified')),
valid AS (
  SELECT cycle_id, COALESCE(memorization, 'unclassified') AS memorization, accuracy, admitted
  FROM candidates WHERE status = 'ok'
)
SELECT cy.run_id, cy.id AS cycle_id, cy."index" AS cycle, cl.memorization,
    count(v.cycle_id) AS candidates,
    CASE WHEN (SELECT count(*) FROM valid w WHERE w.cycle_id = cy.id) = 0 THEN NULL
         ELSE CAST(count(v.cycle_id) AS DOUBLE PRECISION) / (SELECT count(*) FROM valid w WHERE w.cycle_id = cy.id)
    END AS share_of_valid,
    avg(v.accuracy) AS mean_accuracy, max(v.accuracy) AS best_accuracy,
    sum(CASE WHEN v.admitted THEN 1 ELSE 0 END) AS admitted
FROM cycles cy CROSS JOIN classes cl
LEFT JOIN valid v ON v.cycle_id = cy.id AND v.memorization = cl.memorization
GROUP BY cy.run_id, cy.id, cy."index", cl.memorization
"""

# Valid first-epoch accuracies compared only within one dataset and recipe (other recipes train differently).
LEMUR_VS_GENERATED = """
CREATE VIEW lemur_vs_generated AS
WITH scored AS (
  SELECT e.dataset, e.recipe, a.origin, a.in_corpus, e.accuracy
  FROM evaluations e JOIN architectures a ON a.id = e.architecture_id
  WHERE e.status = 'ok' AND e.accuracy IS NOT NULL AND a.origin IN ('lemur', 'generated')
),
sides AS (
  SELECT dataset, recipe,
    sum(CASE WHEN origin = 'lemur' THEN 1 ELSE 0 END) AS lemur_architectures,
    avg(CASE WHEN origin = 'lemur' THEN accuracy END) AS lemur_mean_accuracy,
    max(CASE WHEN origin = 'lemur' THEN accuracy END) AS lemur_best_accuracy,
    sum(CASE WHEN origin = 'generated' THEN 1 ELSE 0 END) AS generated_architectures,
    avg(CASE WHEN origin = 'generated' THEN accuracy END) AS generated_mean_accuracy,
    max(CASE WHEN origin = 'generated' THEN accuracy END) AS generated_best_accuracy,
    sum(CASE WHEN origin = 'generated' AND in_corpus THEN 1 ELSE 0 END) AS novel_architectures,
    avg(CASE WHEN origin = 'generated' AND in_corpus THEN accuracy END) AS novel_mean_accuracy
  FROM scored GROUP BY dataset, recipe
)
SELECT s.*,
    (SELECT count(*) FROM scored g WHERE g.dataset = s.dataset AND g.recipe = s.recipe AND g.origin = 'generated'
       AND g.accuracy > s.lemur_best_accuracy) AS generated_above_best_lemur
FROM sides s
"""

# Novel = generated and admitted into the corpus; ranked per dataset and recipe, with the code and
# how close the admitted candidate came to its nearest stored architecture.
TOP_NOVEL_ARCHITECTURES = """
CREATE VIEW top_novel_architectures AS
WITH admitted AS (
  SELECT architecture_id, max(similarity) AS nearest_similarity, max(paper_similarity) AS paper_similarity
  FROM candidates WHERE admitted GROUP BY architecture_id
)
SELECT e.dataset, e.recipe,
    RANK() OVER (PARTITION BY e.dataset, e.recipe ORDER BY e.accuracy DESC) AS rank,
    a.id AS architecture_id, a.name, a.run_id, cy."index" AS cycle, a.operation,
    e.accuracy, e.params, e.flops, ad.nearest_similarity, ad.paper_similarity, a.code
FROM architectures a
JOIN evaluations e ON e.architecture_id = a.id
LEFT JOIN cycles cy ON cy.id = a.cycle_id
LEFT JOIN admitted ad ON ad.architecture_id = a.id
WHERE a.origin = 'generated' AND a.in_corpus AND e.status = 'ok' AND e.accuracy IS NOT NULL
"""

ANALYST_VIEWS = ("lineage_edges", "memorization_by_cycle", "lemur_vs_generated", "top_novel_architectures")
DROP_ANALYST_VIEWS = tuple(f"DROP VIEW IF EXISTS {name}" for name in ANALYST_VIEWS)

DROP_VIEWS = ("DROP VIEW IF EXISTS leaderboard", "DROP VIEW IF EXISTS cycle_metrics")
# The CREATE VIEW statements as of each revision that changed a view.
_VIEWS_BY_REVISION = {
    "0002": (_CYCLE_METRICS_0002, _LEADERBOARD_0002),
    "0004": (CYCLE_METRICS, _LEADERBOARD_0002),
    "0005": (CYCLE_METRICS, LEADERBOARD),
    "0006": (LINEAGE_EDGES, MEMORIZATION_BY_CYCLE, LEMUR_VS_GENERATED, TOP_NOVEL_ARCHITECTURES),
}
CREATE_VIEWS = _VIEWS_BY_REVISION["0005"]  # the latest cycle_metrics and leaderboard


def views_at(revision: str) -> tuple[str, ...]:
    """The CREATE VIEW statements as revision `revision` defines them."""
    return _VIEWS_BY_REVISION[revision]
