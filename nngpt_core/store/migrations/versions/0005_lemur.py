"""LEMUR as data: evaluations gain source, epoch, hyperparameters and transform; lemur_models maps LEMUR's files.

evaluations.source says whose measurement a row is: 'nngpt' (this project's sandbox, the default
for every existing row) or 'lemur' (a record published in nn-dataset, imported by `nngpt lemur
import`). lemur_models maps each imported LEMUR model file (version, name) to the architecture it
normalizes to, so exact copies and the records of every file stay traceable. The leaderboard ranks
per source and dataset and shows the source.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from nngpt_core.store.views import DROP_VIEWS, views_at

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    for statement in DROP_VIEWS:
        op.execute(statement)
    with op.batch_alter_table("evaluations") as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=20), nullable=False, server_default="nngpt"))
        batch_op.add_column(sa.Column("epoch", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("hyperparameters", JSON, nullable=True))
        batch_op.add_column(sa.Column("transform", sa.String(length=200), nullable=True))
    op.create_index("ix_evaluations_source_dataset", "evaluations", ["source", "dataset"])
    op.create_table(
        "lemur_models",
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("task", sa.String(length=50), nullable=False),
        sa.Column("architecture_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["architecture_id"], ["architectures.id"], name="fk_lemur_models_architecture_id_architectures",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("version", "name", name="pk_lemur_models"),
    )
    op.create_index("ix_lemur_models_architecture_id", "lemur_models", ["architecture_id"])
    for statement in views_at("0005"):
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_VIEWS:
        op.execute(statement)
    op.drop_index("ix_lemur_models_architecture_id", table_name="lemur_models")
    op.drop_table("lemur_models")
    op.drop_index("ix_evaluations_source_dataset", table_name="evaluations")
    with op.batch_alter_table("evaluations") as batch_op:
        for column in ("transform", "hyperparameters", "epoch", "source"):
            batch_op.drop_column(column)
    for statement in views_at("0004"):
        op.execute(statement)
