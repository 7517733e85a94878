"""The per-cycle figures of the paper, recounted from the candidates table (the source of truth).

    from nngpt_core.loop.metrics import run_metrics
    with store.session() as s: rows = run_metrics(s, run_id)   # list[CycleMetrics], one per cycle

The SQL view `cycle_metrics` computes the same numbers for users of plain SQL; this module adds the
median and the per-status counts, and is what reports and artifacts show.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nngpt_core.errors import NngptError
from nngpt_core.loop.stats import median, wilson_interval
from nngpt_core.novelty.paper import PAPER_TAU
from nngpt_core.store.models import Architecture, Candidate, Cycle, Run, SftExample


@dataclass
class CycleMetrics:
    run_id: int
    cycle: int
    generated: int
    ok: int
    valid_rate: float | None
    valid_low: float | None
    valid_high: float | None
    mean_accuracy: float | None
    median_accuracy: float | None
    share_threshold: float
    share_above: float | None
    novel_admitted: int
    sft_examples: int
    cumulative_novel: int
    memorized: int = 0  # ok candidates that copy an architecture not generated in a run (training corpus, LEMUR)
    repeated: int = 0  # ok candidates that copy an architecture generated earlier
    novel_valid: int = 0  # ok candidates that copy nothing (the project's calibrated thresholds)
    paper_novel_valid: int = 0  # ok candidates below the paper's tau = 0.90 against the corpus
    novel_valid_rate: float | None = None  # novel_valid / generated
    novel_low: float | None = None
    novel_high: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    accuracies: list[float] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def cycle_metrics(session: Session, run: Run, cycle: Cycle) -> CycleMetrics:
    candidates = session.execute(
        select(Candidate.status, Candidate.accuracy, Candidate.admitted, Candidate.memorization, Candidate.paper_similarity)
        .where(Candidate.cycle_id == cycle.id)
    ).all()
    generated = len(candidates)
    accuracies = [c.accuracy for c in candidates if c.status == "ok" and c.accuracy is not None]
    ok = sum(1 for c in candidates if c.status == "ok")
    interval = wilson_interval(ok, generated)
    classes = Counter(c.memorization for c in candidates if c.status == "ok")
    novel_interval = wilson_interval(classes["novel"], generated)
    sft_examples = session.scalar(select(func.count()).select_from(SftExample).where(SftExample.cycle_id == cycle.id))
    cumulative = session.scalar(
        select(func.count())
        .select_from(Architecture)
        .join(Cycle, Cycle.id == Architecture.cycle_id)
        .where(Architecture.origin == "generated", Architecture.in_corpus.is_(True),
               Cycle.run_id == run.id, Cycle.index <= cycle.index)
    )
    return CycleMetrics(
        run_id=run.id,
        cycle=cycle.index,
        generated=generated,
        ok=ok,
        valid_rate=ok / generated if generated else None,
        valid_low=interval[0] if interval else None,
        valid_high=interval[1] if interval else None,
        mean_accuracy=sum(accuracies) / len(accuracies) if accuracies else None,
        median_accuracy=median(accuracies),
        share_threshold=run.share_threshold,
        share_above=sum(a >= run.share_threshold for a in accuracies) / ok if ok else None,
        novel_admitted=sum(1 for c in candidates if c.admitted),
        sft_examples=sft_examples or 0,
        cumulative_novel=cumulative or 0,
        memorized=classes["memorized"],
        repeated=classes["repeated"],
        novel_valid=classes["novel"],
        paper_novel_valid=sum(1 for c in candidates if c.status == "ok" and c.paper_similarity is not None
                              and c.paper_similarity < PAPER_TAU),
        novel_valid_rate=classes["novel"] / generated if generated else None,
        novel_low=novel_interval[0] if novel_interval else None,
        novel_high=novel_interval[1] if novel_interval else None,
        statuses=dict(Counter(c.status for c in candidates)),
        accuracies=sorted(accuracies),
    )


def run_metrics(session: Session, run_id: int) -> list[CycleMetrics]:
    run = session.get(Run, run_id)
    if run is None:
        raise NngptError(f"run {run_id} not found")
    cycles = session.scalars(select(Cycle).where(Cycle.run_id == run_id).order_by(Cycle.index)).all()
    return [cycle_metrics(session, run, cycle) for cycle in cycles]
