"""Stage 4, novelty and admission: judge each ok candidate against the corpus, admit the novel ones,
and class every ok candidate as memorized, repeated or novel.

Each candidate goes through `nngpt_core.novelty.admission.admit`, the one tested admission path:
under the global admission lock its architecture is compared on its lexical and structural
signatures with every corpus architecture, and it enters the corpus when nothing is near and its
accuracy beats `selection.chance_multiplier` x chance. Exact duplicates were settled in the prepare
stage.

The class of an ok candidate follows from what it duplicates:
- memorized: an exact or near copy of an architecture that was not generated in a run, i.e. the
  model's training corpus (seed, expanded, synthetic) or an imported LEMUR model;
- repeated: a copy of an architecture generated earlier;
- novel: a copy of nothing.
Beside it, the paper's test (nngpt_core.novelty.paper) records the highest exact Jaccard of abstracted
10-shingles to any corpus architecture, so novelty can also be counted at the paper's tau = 0.90.
"""

from __future__ import annotations

from sqlalchemy import select

from nngpt_core.config import RunConfig
from nngpt_core.loop.runs import timed_stage
from nngpt_core.novelty.admission import admit
from nngpt_core.novelty.compare import NOVEL
from nngpt_core.novelty.paper import PaperIndex
from nngpt_core.novelty.signature import structural_settings, token_signature
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Architecture, Candidate, Evaluation

MEMORIZED, REPEATED = "memorized", "repeated"


def admission_bar(cfg: RunConfig) -> float:
    """The accuracy an admitted architecture must exceed: chance_multiplier x chance on the dataset."""
    from nngpt_core.data.registry import get_spec

    return cfg.selection.chance_multiplier / get_spec(cfg.evaluation.dataset).num_classes


def memorization_class(novelty: str, similar_origin: str | None) -> str:
    """memorized / repeated / novel, from a candidate's verdict and the origin of what it duplicates."""
    if novelty == NOVEL or similar_origin is None:
        return NOVEL
    return REPEATED if similar_origin == "generated" else MEMORIZED


def judge_candidate(store: Store, cfg: RunConfig, candidate_id: int, bar: float) -> bool:
    """Give one ok candidate its novelty verdict and admit it when it qualifies; True when admitted."""
    with store.session() as session:
        candidate = session.get(Candidate, candidate_id)
        architecture = session.get(Architecture, candidate.architecture_id)
        evaluation = session.get(Evaluation, candidate.evaluation_id)
        code, name, architecture_id, mode = architecture.code, architecture.name, architecture.id, candidate.mode
        accuracy = candidate.accuracy
        structural = evaluation.structural_tokens if evaluation is not None else None
    extra = {}
    if structural:
        extra["structural"] = token_signature(structural, structural_settings(cfg.novelty))
    verdict = admit(store, code, novelty=cfg.novelty, name=name, origin="generated", extra_signatures=extra,
                    candidate_id=candidate_id, architecture_id=architecture_id,
                    enter=accuracy is not None and accuracy > bar, operation=mode)
    return verdict.admitted


def _corpus_index(store: Store) -> PaperIndex:
    with store.session() as session:
        rows = session.execute(select(Architecture.id, Architecture.code).where(Architecture.in_corpus.is_(True))).all()
    return PaperIndex(dict(rows))


def classify_candidates(store: Store, cycle_id: int, index: PaperIndex | None = None) -> int:
    """Give the cycle's judged ok candidates their memorization class and paper similarity; returns how many.

    The paper similarity is measured against the corpus as it stands (`index`, built from the store
    when not given), excluding an admitted candidate's own architecture."""
    index = index or _corpus_index(store)
    with store.session() as session:
        waiting = session.scalars(
            select(Candidate).where(Candidate.cycle_id == cycle_id, Candidate.status == "ok",
                                    Candidate.novelty.is_not(None), Candidate.memorization.is_(None))
            .order_by(Candidate.index)
        ).all()
        for candidate in waiting:
            similar = session.get(Architecture, candidate.similar_to_id) if candidate.similar_to_id else None
            candidate.memorization = memorization_class(candidate.novelty, similar.origin if similar else None)
            try:
                # an admitted candidate's own architecture is in the corpus now: no copy of itself
                similarity, nearest = index.nearest(candidate.code,
                                                    exclude=candidate.architecture_id if candidate.admitted else None)
            except SyntaxError:  # ok code parses; kept for code stored by older versions
                continue
            candidate.paper_similarity, candidate.paper_similar_to_id = round(similarity, 4), nearest
        return len(waiting)


def judge_and_admit(store: Store, cfg: RunConfig, cycle_id: int) -> int:
    """Judge the cycle's ok candidates that have no verdict yet, then class them; returns how many were admitted."""
    bar = admission_bar(cfg)
    with store.session() as session:
        waiting = session.scalars(
            select(Candidate.id)
            .where(Candidate.cycle_id == cycle_id, Candidate.status == "ok", Candidate.novelty.is_(None))
            .order_by(Candidate.index)
        ).all()
    with timed_stage(store, cycle_id, "admit"):
        admitted = sum(judge_candidate(store, cfg, candidate_id, bar) for candidate_id in waiting)
        classify_candidates(store, cycle_id)
        return admitted
