"""The SQL views that answer the paper's questions with plain SQL (same text on SQLite and PostgreSQL).

    SELECT cycle, generated, valid_rate, valid_low, valid_high, mean_accuracy, share_above, novel_admitted
    FROM cycle_metrics WHERE run_id = 1 ORDER BY cycle;
    SELECT * FROM leaderboard WHERE dataset = 'digits32' AND rank <= 10;

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

_CYCLE_METRICS_0002 = f"""
CREATE VIEW cycle_metrics AS
WITH counts AS (
  SELECT cy.run_id, cy.id AS cycle_id, cy."index" AS cycle, r.share_threshold,
    (SELECT count(*) FROM candidates k WHERE k.cycle_id = cy.id) AS generated,
    (SELECT count(*) FROM candidates k WHERE k.cycle_id = cy.id AND k.status = 'ok') AS ok,
    (SELECT avg(k.accuracy) FROM candidates k WHERE k.cycle_id = cy.id AND k.status = 'ok') AS mean_accuracy,
    (SELECT count(*) FROM candidates k
       WHERE k.cycle_id = cy.id AND k.status = 'ok' AND k.accuracy >= r.share_threshold) AS above,
    (SELECT count(*) FROM candidates k WHERE k.cycle_id = cy.id AND k.admitted) AS novel_admitted,
    (SELECT count(*) FROM sft_examples e WHERE e.cycle_id = cy.id) AS sft_examples,
    (SELECT count(*) FROM architectures a JOIN cycles c2 ON c2.id = a.cycle_id
       WHERE a.origin = 'generated' AND a.in_corpus AND c2.run_id = cy.run_id
         AND c2."index" <= cy."index") AS cumulative_novel
  FROM cycles cy JOIN runs r ON r.id = cy.run_id
)
SELECT run_id, cycle_id, cycle, generated, ok,
    CASE WHEN generated = 0 THEN NULL ELSE CAST(ok AS DOUBLE PRECISION) / generated END AS valid_rate,{_WILSON},
    mean_accuracy,
    share_threshold,
    CASE WHEN ok = 0 THEN NULL ELSE CAST(above AS DOUBLE PRECISION) / ok END AS share_above,
    novel_admitted, sft_examples, cumulative_novel
FROM counts
"""

CYCLE_METRICS = f"""
CREATE VIEW cycle_metrics AS
WITH counts AS (
  SELECT cy.run_id, cy.id AS cycle_id, cy."index" AS cycle, r.share_threshold,
    (SELECT count(*) FROM candidates k WHERE k.cycle_id = cy.id) AS generated,
    (SELECT count(*) FROM candidates k WHERE k.cycle_id = cy.id AND k.status = 'ok') AS ok,
    (SELECT avg(k.accuracy) FROM candidates k WHERE k.cycle_id = cy.id AND k.status = 'ok') AS mean_accuracy,
    (SELECT count(*) FROM candidates k
       WHERE k.cycle_id = cy.id AND k.status = 'ok' AND k.accuracy >= r.share_threshold) AS above,
    (SELECT count(*) FROM candidates k WHERE k.cycle_id = cy.id AND k.admitted) AS novel_admitted,
    (SELECT count(*) FROM sft_examples e WHERE e.cycle_id = cy.id) AS sft_examples,
    (SELECT count(*) FROM architectures a JOIN cycles c2 ON c2.id = a.cycle_id
       WHERE a.origin = 'generated' AND a.in_corpus AND c2.run_id = cy.run_id
         AND c2."index" <= cy."index") AS cumulative_novel,
    (SELECT count(*) FROM candidates k
       WHERE k.cycle_id = cy.id AND k.status = 'ok' AND k.memorization = 'memorized') AS memorized,
    (SELECT count(*) FROM candidates k
       WHERE k.cycle_id = cy.id AND k.status = 'ok' AND k.memorization = 'repeated') AS repeated,
    (SELECT count(*) FROM candidates k
       WHERE k.cycle_id = cy.id AND k.status = 'ok' AND k.memorization = 'novel') AS novel_valid,
    (SELECT count(*) FROM candidates k
       WHERE k.cycle_id = cy.id AND k.status = 'ok' AND k.paper_similarity < {PAPER_TAU}) AS paper_novel_valid
  FROM cycles cy JOIN runs r ON r.id = cy.run_id
)
SELECT run_id, cycle_id, cycle, generated, ok,
    CASE WHEN generated = 0 THEN NULL ELSE CAST(ok AS DOUBLE PRECISION) / generated END AS valid_rate,{_WILSON},
    mean_accuracy,
    share_threshold,
    CASE WHEN ok = 0 THEN NULL ELSE CAST(above AS DOUBLE PRECISION) / ok END AS share_above,
    novel_admitted, sft_examples, cumulative_novel,
    memorized, repeated, novel_valid, paper_novel_valid,
    CASE WHEN generated = 0 THEN NULL ELSE CAST(novel_valid AS DOUBLE PRECISION) / generated END AS novel_valid_rate,
    CASE WHEN ok = 0 THEN NULL ELSE CAST(memorized AS DOUBLE PRECISION) / ok END AS memorized_share
FROM counts
"""

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

DROP_VIEWS = ("DROP VIEW IF EXISTS leaderboard", "DROP VIEW IF EXISTS cycle_metrics")
# The CREATE VIEW statements as of each revision that changed a view.
_VIEWS_BY_REVISION = {
    "0002": (_CYCLE_METRICS_0002, _LEADERBOARD_0002),
    "0004": (CYCLE_METRICS, _LEADERBOARD_0002),
    "0005": (CYCLE_METRICS, LEADERBOARD),
}
CREATE_VIEWS = _VIEWS_BY_REVISION["0005"]  # the latest


def views_at(revision: str) -> tuple[str, ...]:
    """The CREATE VIEW statements as revision `revision` defines them."""
    return _VIEWS_BY_REVISION[revision]
