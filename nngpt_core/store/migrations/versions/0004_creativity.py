"""Creativity: generation modes and lineage, the memorized / repeated / novel class, the paper's similarity.

candidates gain mode, instruction, diff, attempts, temperature, memorization, paper_similarity and
paper_similar_to_id; architectures gain operation; runs gain training_corpus; a lineage table links
an architecture to its parents. cycle_metrics gains the memorized, repeated, novel and paper-novel
counts.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from nngpt_core.store.views import DROP_VIEWS, views_at

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def candidate_columns() -> tuple[sa.Column, ...]:
    return (
        sa.Column("mode", sa.String(length=20), nullable=True),
        sa.Column("instruction", sa.Text(), nullable=True),
        sa.Column("diff", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("memorization", sa.String(length=20), nullable=True),
        sa.Column("paper_similarity", sa.Float(), nullable=True),
        sa.Column("paper_similar_to_id", sa.Integer(), nullable=True),
    )


def upgrade() -> None:
    for statement in DROP_VIEWS:
        op.execute(statement)
    with op.batch_alter_table("candidates") as batch_op:
        for column in candidate_columns():
            batch_op.add_column(column)
        batch_op.create_foreign_key("fk_candidates_paper_similar_to_id_architectures", "architectures",
                                    ["paper_similar_to_id"], ["id"])
    with op.batch_alter_table("candidates") as batch_op:
        batch_op.alter_column("attempts", server_default=None)
    with op.batch_alter_table("architectures") as batch_op:
        batch_op.add_column(sa.Column("operation", sa.String(length=20), nullable=True))
    with op.batch_alter_table("runs") as batch_op:
        batch_op.add_column(sa.Column("training_corpus", JSON, nullable=False, server_default="{}"))
    with op.batch_alter_table("runs") as batch_op:
        batch_op.alter_column("training_corpus", server_default=None)
    op.create_table(
        "lineage",
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=20), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["architectures.id"], name="fk_lineage_child_id_architectures", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["parent_id"], ["architectures.id"], name="fk_lineage_parent_id_architectures", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("child_id", "parent_id", name="pk_lineage"),
    )
    op.create_index("ix_lineage_parent_id", "lineage", ["parent_id"])
    for statement in views_at("0004"):
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_VIEWS:
        op.execute(statement)
    op.drop_index("ix_lineage_parent_id", table_name="lineage")
    op.drop_table("lineage")
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_column("training_corpus")
    with op.batch_alter_table("architectures") as batch_op:
        batch_op.drop_column("operation")
    with op.batch_alter_table("candidates") as batch_op:
        batch_op.drop_constraint("fk_candidates_paper_similar_to_id_architectures", type_="foreignkey")
        for column in reversed(candidate_columns()):
            batch_op.drop_column(column.name)
    for statement in views_at("0002"):
        op.execute(statement)
