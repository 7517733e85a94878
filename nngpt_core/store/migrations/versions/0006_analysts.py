"""The store for analysts: lineage, memorization, LEMUR-versus-generated and top-novel views; the store's id.

lineage_edges (parent -> child with the operation that made it), memorization_by_cycle (memorized /
repeated / novel valid candidates per cycle), lemur_vs_generated (valid accuracies side by side per
dataset and recipe) and top_novel_architectures (admitted generated architectures ranked, with code);
store_identity holds one random id that keeps Prefect artifact keys of different stores apart.

Revision ID: 0006
Revises: 0005
"""

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from nngpt_core.store.views import DROP_ANALYST_VIEWS, views_at

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    identity = op.create_table(
        "store_identity",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_store_identity"),
    )
    op.bulk_insert(identity, [{"id": uuid.uuid4().hex, "created_at": datetime.now(timezone.utc)}])
    for statement in views_at(revision):
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_ANALYST_VIEWS:
        op.execute(statement)
    op.drop_table("store_identity")
