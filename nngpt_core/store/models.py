"""SQLAlchemy 2 ORM of the results store (docs/store.md).

runs → cycles → candidates; architectures (unique by normalized-code hash) → evaluations,
signatures and LSH band keys; adapters and SFT examples. JSON columns are JSONB on PostgreSQL.
Schema changes go through Alembic (`nngpt db upgrade`); tests run `alembic check` against these models.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JsonType = JSON().with_variant(JSONB(), "postgresql")

# Candidate statuses (docs/evaluation.md, Statuses); `pending` is a candidate not yet evaluated.
CANDIDATE_STATUSES = (
    "ok", "no_code", "syntax_error", "forbidden", "interface_error", "build_error", "shape_error",
    "runtime_error", "nonfinite", "timeout", "memory_limit", "crashed", "too_large",
)
NOVELTY_VERDICTS = ("novel", "near_duplicate", "exact_duplicate")
# Where an architecture came from. seed: hand-written; expanded: a programmatic variant of a seed;
# synthetic: a programmatic hybrid of corpus files (crossover training data); lemur: imported from
# LEMUR; generated: written by the model in a run. Everything a shipped model was trained on is
# stored under the first three before a run's cycle 0, so a memorized example is never "novel".
ORIGINS = ("seed", "expanded", "synthetic", "lemur", "generated")
TRAINING_ORIGINS = ("seed", "expanded", "synthetic")
# Generation modes (docs/creativity.md).
GENERATION_MODES = ("full", "crossover", "mutation", "delta")
# What an ok candidate is, measured against the store: a copy of the model's training corpus
# (memorized), a copy of an architecture generated earlier (repeated), or neither (novel).
MEMORIZATION_CLASSES = ("memorized", "repeated", "novel")
SIGNATURE_KINDS = ("lexical", "structural")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {dict[str, Any]: JsonType, list[Any]: JsonType}


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="running")
    seed: Mapped[int] = mapped_column(Integer, default=0)
    base_model: Mapped[str] = mapped_column(String(500))
    dataset: Mapped[str] = mapped_column(String(100))
    share_threshold: Mapped[float] = mapped_column(Float, default=0.40)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    training_corpus: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the model's corpus manifest imported

    cycles: Mapped[list[Cycle]] = relationship(back_populates="run", order_by="Cycle.index")


class Cycle(Base):
    __tablename__ = "cycles"
    __table_args__ = (UniqueConstraint("run_id", "index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="running")
    adapter_in_id: Mapped[int | None] = mapped_column(ForeignKey("adapters.id"))
    adapter_out_id: Mapped[int | None] = mapped_column(ForeignKey("adapters.id"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stage_timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)

    run: Mapped[Run] = relationship(back_populates="cycles")


class Architecture(Base):
    __tablename__ = "architectures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(300))
    origin: Mapped[str] = mapped_column(String(20), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("architectures.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id", ondelete="SET NULL"))
    source: Mapped[str | None] = mapped_column(String(1000))
    params: Mapped[int | None] = mapped_column(BigInteger)
    flops: Mapped[int | None] = mapped_column(BigInteger)
    in_corpus: Mapped[bool] = mapped_column(Boolean, default=True)
    operation: Mapped[str | None] = mapped_column(String(20))  # generation mode that made it (generated only)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Lineage(Base):
    """One parent of an architecture: which architecture it came from, by which operation and in which role."""

    __tablename__ = "lineage"

    child_id: Mapped[int] = mapped_column(ForeignKey("architectures.id", ondelete="CASCADE"), primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("architectures.id", ondelete="CASCADE"), primary_key=True, index=True)
    operation: Mapped[str] = mapped_column(String(20))  # a generation mode
    role: Mapped[str] = mapped_column(String(20))  # parent | skeleton | donor


# Whose measurement an evaluation is: this project's sandbox, or a record LEMUR published (nn-dataset).
EVALUATION_SOURCES = ("nngpt", "lemur")


class Evaluation(Base):
    __tablename__ = "evaluations"
    __table_args__ = (
        UniqueConstraint("architecture_id", "dataset", "recipe"),
        Index("ix_evaluations_source_dataset", "source", "dataset"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    architecture_id: Mapped[int] = mapped_column(ForeignKey("architectures.id", ondelete="CASCADE"), index=True)
    dataset: Mapped[str] = mapped_column(String(100))
    recipe: Mapped[str] = mapped_column(String(64))  # hash of the recipe settings (epochs, hyperparameters, seed, subsets)
    recipe_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    accuracy: Mapped[float | None] = mapped_column(Float)
    train_loss: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    phase_durations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    params: Mapped[int | None] = mapped_column(BigInteger)
    flops: Mapped[int | None] = mapped_column(BigInteger)
    device: Mapped[str | None] = mapped_column(String(50))
    seed: Mapped[int | None] = mapped_column(Integer)
    structural_tokens: Mapped[list[Any] | None] = mapped_column()  # fingerprint of the forward pass
    versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source: Mapped[str] = mapped_column(String(20), default="nngpt", server_default="nngpt")  # EVALUATION_SOURCES
    epoch: Mapped[int | None] = mapped_column(Integer)  # LEMUR records: the epoch the accuracy was measured after
    hyperparameters: Mapped[dict[str, Any] | None] = mapped_column()  # the values the model was trained with
    transform: Mapped[str | None] = mapped_column(String(200))  # LEMUR records: the input transform (e.g. norm_64_flip)


class LemurModel(Base):
    """One model file of LEMUR's nn-dataset and the architecture its code normalizes to (exact copies share one)."""

    __tablename__ = "lemur_models"

    version: Mapped[str] = mapped_column(String(20), primary_key=True)  # nn-dataset release
    name: Mapped[str] = mapped_column(String(300), primary_key=True)  # file name without .py
    task: Mapped[str] = mapped_column(String(50))  # e.g. img-classification
    architecture_id: Mapped[int] = mapped_column(ForeignKey("architectures.id", ondelete="CASCADE"), index=True)


class Candidate(Base):
    __tablename__ = "candidates"
    __table_args__ = (UniqueConstraint("cycle_id", "index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    completion: Mapped[str] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    architecture_id: Mapped[int | None] = mapped_column(ForeignKey("architectures.id"))
    evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("evaluations.id"))
    accuracy: Mapped[float | None] = mapped_column(Float)
    novelty: Mapped[str | None] = mapped_column(String(20))
    similar_to_id: Mapped[int | None] = mapped_column(ForeignKey("architectures.id"))
    similarity: Mapped[float | None] = mapped_column(Float)
    admitted: Mapped[bool] = mapped_column(Boolean, default=False)
    reference_ids: Mapped[list[Any]] = mapped_column(default=list)  # the parents in the prompt, in prompt order
    generation_seed: Mapped[int | None] = mapped_column(Integer)
    mode: Mapped[str | None] = mapped_column(String(20))  # generation mode (GENERATION_MODES)
    instruction: Mapped[str | None] = mapped_column(Text)  # what the prompt asked for, in words
    diff: Mapped[str | None] = mapped_column(Text)  # delta mode: the unified diff the model wrote
    attempts: Mapped[int] = mapped_column(Integer, default=1)  # rejection sampling: prompts tried
    temperature: Mapped[float | None] = mapped_column(Float)  # of the attempt that was kept
    memorization: Mapped[str | None] = mapped_column(String(20))  # ok candidates: MEMORIZATION_CLASSES
    paper_similarity: Mapped[float | None] = mapped_column(Float)  # paper's test: max exact Jaccard to the corpus
    paper_similar_to_id: Mapped[int | None] = mapped_column(ForeignKey("architectures.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StoreIdentity(Base):
    """The store's random id, made with its schema: Prefect artifacts of two stores that report to one
    server carry it in their keys, so they never overwrite each other (nngpt_core/store/identity.py)."""

    __tablename__ = "store_identity"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # uuid4 hex
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IndexSettings(Base):
    """The MinHash settings of each signature kind, fixed at first use; other settings are refused."""

    __tablename__ = "index_settings"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    num_perm: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    scheme: Mapped[str] = mapped_column(String(100))
    bands: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    shingle_k: Mapped[int | None] = mapped_column(Integer)


class Signature(Base):
    __tablename__ = "signatures"
    __table_args__ = (UniqueConstraint("architecture_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    architecture_id: Mapped[int] = mapped_column(ForeignKey("architectures.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    num_perm: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    scheme: Mapped[str] = mapped_column(String(100))
    hashvalues: Mapped[bytes] = mapped_column(LargeBinary)  # num_perm little-endian uint32 (datasketch affine32, see scheme)
    tokens: Mapped[int] = mapped_column(Integer, default=0)  # number of distinct shingles
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LshBand(Base):
    """One LSH band key of one signature: workers on any machine query the shared index through SQL."""

    __tablename__ = "lsh_bands"
    __table_args__ = (Index("ix_lsh_bands_lookup", "kind", "band", "key"),)

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    band: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    architecture_id: Mapped[int] = mapped_column(
        ForeignKey("architectures.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Adapter(Base):
    """A LoRA adapter; the cycle that produced it points here through cycles.adapter_out_id."""

    __tablename__ = "adapters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("adapters.id"))  # adapter this one was trained on top of
    base_model: Mapped[str] = mapped_column(String(500))
    path: Mapped[str] = mapped_column(String(1000))
    n_examples: Mapped[int] = mapped_column(Integer, default=0)
    losses: Mapped[list[Any]] = mapped_column(default=list)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SftExample(Base):
    __tablename__ = "sft_examples"
    __table_args__ = (UniqueConstraint("cycle_id", "candidate_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id", ondelete="CASCADE"))
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id", ondelete="SET NULL"))
    architecture_id: Mapped[int | None] = mapped_column(ForeignKey("architectures.id"))
    prompt: Mapped[str] = mapped_column(Text)
    completion: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(40), default="qualified")  # qualified | top_up
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
