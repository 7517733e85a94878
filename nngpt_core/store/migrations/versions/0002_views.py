"""SQL views: cycle_metrics (the metrics of each run and cycle) and leaderboard.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from nngpt_core.store.views import DROP_VIEWS, views_at

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in views_at(revision):
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_VIEWS:
        op.execute(statement)
