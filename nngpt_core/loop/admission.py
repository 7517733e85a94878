"""Stage 4, novelty and admission: judge each ok candidate against the corpus and admit the novel ones.

Under the global admission lock (see nngpt_core.novelty.admission), a candidate's architecture is
compared on its lexical and structural signatures with every corpus architecture; it enters the
corpus (in_corpus, signatures and band keys) when nothing is near and its accuracy beats
`selection.chance_multiplier` x chance. Exact duplicates were settled in the prepare stage.
"""

from __future__ import annotations

from sqlalchemy import select

from nngpt_core.config import RunConfig
from nngpt_core.loop.runs import timed_stage
from nngpt_core.novelty.admission import nearest_duplicate, open_index, take_admission_lock
from nngpt_core.novelty.compare import NEAR_DUPLICATE, NOVEL
from nngpt_core.novelty.signature import MinHashSignature, lexical_signature, structural_settings, token_signature
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Architecture, Candidate, Evaluation


def admission_bar(cfg: RunConfig) -> float:
    """The accuracy an admitted architecture must exceed: chance_multiplier x chance on the dataset."""
    from nngpt_core.data.registry import get_spec

    return cfg.selection.chance_multiplier / get_spec(cfg.evaluation.dataset).num_classes


def signatures_of(architecture: Architecture, evaluation: Evaluation | None, cfg: RunConfig) -> dict[str, MinHashSignature]:
    signatures = {"lexical": lexical_signature(architecture.code, cfg.novelty)}
    if evaluation is not None and evaluation.structural_tokens:
        signatures["structural"] = token_signature(evaluation.structural_tokens, structural_settings(cfg.novelty))
    return signatures


def judge_candidate(store: Store, cfg: RunConfig, candidate_id: int, bar: float) -> bool:
    """Give one ok candidate its novelty verdict and admit it when it qualifies; True when admitted."""
    with store.session() as session:
        candidate = session.get(Candidate, candidate_id)
        architecture = session.get(Architecture, candidate.architecture_id)
        signatures = signatures_of(architecture, session.get(Evaluation, candidate.evaluation_id), cfg)
    with store.session() as session:
        take_admission_lock(session)
        candidate = session.get(Candidate, candidate_id)
        architecture = session.get(Architecture, candidate.architecture_id)
        match = nearest_duplicate(session, signatures, cfg.novelty)
        if match is not None:
            candidate.novelty, candidate.similar_to_id, candidate.similarity = NEAR_DUPLICATE, match.architecture_id, match.similarity
            return False
        candidate.novelty = NOVEL
        if candidate.accuracy is None or candidate.accuracy <= bar:
            return False
        architecture.in_corpus = True
        for signature in signatures.values():
            open_index(session, signature, cfg.novelty).add(session, architecture.id, signature)
        candidate.admitted = True
        return True


def judge_and_admit(store: Store, cfg: RunConfig, cycle_id: int) -> int:
    """Judge the cycle's ok candidates that have no verdict yet; returns how many were admitted."""
    bar = admission_bar(cfg)
    with store.session() as session:
        waiting = session.scalars(
            select(Candidate.id)
            .where(Candidate.cycle_id == cycle_id, Candidate.status == "ok", Candidate.novelty.is_(None))
            .order_by(Candidate.index)
        ).all()
    with timed_stage(store, cycle_id, "admit"):
        return sum(judge_candidate(store, cfg, candidate_id, bar) for candidate_id in waiting)
