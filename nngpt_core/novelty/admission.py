"""Atomic admission of code into the architecture corpus: novel code gets in, duplicates get a verdict.

    from nngpt_core.novelty.admission import admit
    verdict = admit(store, code, novelty=cfg.novelty, name="cand-3", origin="generated")
    verdict.verdict, verdict.architecture_id, verdict.similar_to_id, verdict.similarity
    admit(store, code, novelty=..., name=..., origin="generated", architecture_id=7, candidate_id=3,
          enter=accuracy > bar)       # the loop: a stored candidate architecture, admitted only above the bar

One transaction takes a global admission lock (PostgreSQL: pg_advisory_xact_lock on a fixed
key; SQLite: BEGIN IMMEDIATE, its write lock), looks for the same normalized code and for
near-duplicates in the LSH index, then either inserts the Architecture with its signatures and
band keys, or inserts nothing. Two workers admitting near-duplicates of each other at the same
moment are serialized by the lock, so the second sees the first and only one gets in. The loop
admits through the same function: its candidate already has an architecture row (outside the
corpus, made when its code was prepared), which a novel verdict brings into the corpus.
Signatures are computed before the lock, so the lock is held only for a few queries.

For seeds imported without a verdict, `index_architecture` adds the lexical signature of an
existing Architecture row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from nngpt_core.config import NoveltyConfig
from nngpt_core.errors import NngptError
from nngpt_core.novelty.compare import EXACT_DUPLICATE, NEAR_DUPLICATE, NOVEL, Match, strongest_duplicate, threshold_for
from nngpt_core.novelty.index import LshIndex
from nngpt_core.novelty.normalize import code_hash
from nngpt_core.novelty.signature import MinHashSignature, lexical_settings, lexical_signature
from nngpt_core.store.engine import Store
from nngpt_core.store.models import ORIGINS, Architecture, Candidate, Signature

ADMISSION_LOCK_KEY = 0x6E6E67707441  # fixed 64-bit key ("nngptA") of the PostgreSQL advisory lock


@dataclass(frozen=True)
class NoveltyVerdict:
    verdict: str  # novel | near_duplicate | exact_duplicate
    architecture_id: int | None = None  # the architecture admitted (novel only)
    similar_to_id: int | None = None  # the stored architecture it duplicates
    similarity: float | None = None  # estimated Jaccard to it (1.0 for an exact duplicate)
    decided_by: str | None = None  # signature kind that decided, or "code_hash"
    admitted: bool = False  # entered the corpus (novel, and admissible)


def take_admission_lock(session: Session) -> None:
    """Serialize admissions: must be the first statement of the session's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADMISSION_LOCK_KEY})
    else:
        session.execute(text("BEGIN IMMEDIATE"))


def open_index(session: Session, signature: MinHashSignature, novelty: NoveltyConfig) -> LshIndex:
    return LshIndex.open(
        session, signature.settings, threshold_for(signature.settings.kind, novelty), novelty.lsh_recall_at_threshold
    )


def find_exact_duplicate(session: Session, digest: str, own_id: int | None = None) -> int | None:
    """Id of the stored architecture whose normalized code has hash `digest`, if any (other than `own_id`)."""
    query = select(Architecture.id).where(Architecture.code_hash == digest)
    if own_id is not None:
        query = query.where(Architecture.id != own_id)
    return session.execute(query).scalar()


def nearest_duplicate(session: Session, signatures: Mapping[str, MinHashSignature], novelty: NoveltyConfig) -> Match | None:
    """The closest corpus architecture at or above its kind's threshold, over every signature kind."""
    matches = []
    for kind, signature in signatures.items():
        nearest = open_index(session, signature, novelty).query(session, signature, top_k=1, bucket_rows=novelty.bucket_rows)
        if nearest:
            matches.append(Match(kind, nearest[0].similarity, nearest[0].architecture_id))
    return strongest_duplicate(matches, novelty)


def assess(session: Session, digest: str, signatures: Mapping[str, MinHashSignature], novelty: NoveltyConfig,
           own_id: int | None = None) -> NoveltyVerdict:
    """The verdict for code with hash `digest` and these signatures against the store, without admitting it
    (`own_id`: the code's own stored row, which is no duplicate of it).

    Takes no lock: the answer may be stale by the time it is used, unlike admit()'s.
    """
    existing = find_exact_duplicate(session, digest, own_id)
    if existing is not None:
        return NoveltyVerdict(EXACT_DUPLICATE, similar_to_id=existing, similarity=1.0, decided_by="code_hash")
    match = nearest_duplicate(session, signatures, novelty)
    if match is None:
        return NoveltyVerdict(NOVEL)
    return NoveltyVerdict(NEAR_DUPLICATE, similar_to_id=match.architecture_id, similarity=match.similarity, decided_by=match.kind)


def _record_on_candidate(session: Session, candidate_id: int, verdict: NoveltyVerdict, own_row: bool) -> None:
    candidate = session.get(Candidate, candidate_id)
    if candidate is None:
        raise NngptError(f"candidate {candidate_id} does not exist")
    candidate.novelty = verdict.verdict
    candidate.similar_to_id = verdict.similar_to_id
    candidate.similarity = verdict.similarity
    candidate.admitted = verdict.admitted
    if not own_row:  # without a row of its own, a candidate points at the architecture it was found to be
        candidate.architecture_id = verdict.architecture_id or verdict.similar_to_id


def admit(
    store: Store,
    code: str,
    *,
    novelty: NoveltyConfig,
    name: str,
    origin: str,
    extra_signatures: Mapping[str, MinHashSignature] | None = None,
    candidate_id: int | None = None,
    architecture_id: int | None = None,
    enter: bool = True,
    **architecture_fields: object,
) -> NoveltyVerdict:
    """Admit `code` unless it duplicates a stored architecture, atomically across processes and machines.

    `extra_signatures` adds kinds beyond lexical (e.g. {"structural": sig}); they take part in the
    verdict and are stored with the architecture. `architecture_fields` are further Architecture
    columns (parent_id, run_id, cycle_id, source, params, flops, operation). With `candidate_id`, the
    verdict is also written to that candidate in the same transaction. `architecture_id` names the
    code's own stored row (outside the corpus): a novel verdict brings that row into the corpus
    instead of inserting one. With `enter` False a novel verdict is recorded but nothing enters the
    corpus (the loop's accuracy bar).
    """
    try:
        digest = code_hash(code)
        signatures = {"lexical": lexical_signature(code, novelty), **(extra_signatures or {})}
    except SyntaxError as exc:
        raise NngptError(f"{name}: not valid Python (line {exc.lineno}: {exc.msg})") from None
    if origin not in ORIGINS:
        raise NngptError(f"{name}: origin {origin!r} is not one of {', '.join(ORIGINS)}")
    for kind, signature in signatures.items():
        if signature.settings.kind != kind:
            raise NngptError(f"{name}: a {signature.settings.kind} signature was given as {kind}")
    with store.session() as session:
        take_admission_lock(session)
        verdict = assess(session, digest, signatures, novelty, own_id=architecture_id)
        if verdict.verdict == NOVEL and enter:
            if architecture_id is None:
                architecture = Architecture(code_hash=digest, code=code, name=name, origin=origin, **architecture_fields)
                session.add(architecture)
                session.flush()
            else:
                architecture = session.get(Architecture, architecture_id)
                architecture.in_corpus = True
                for field, value in architecture_fields.items():
                    setattr(architecture, field, value)
            for signature in signatures.values():
                open_index(session, signature, novelty).add(session, architecture.id, signature)
            verdict = NoveltyVerdict(NOVEL, architecture_id=architecture.id, admitted=True)
        if candidate_id is not None:
            _record_on_candidate(session, candidate_id, verdict, own_row=architecture_id is not None)
    return verdict


def index_architecture(session: Session, architecture: Architecture, novelty: NoveltyConfig) -> bool:
    """Add the lexical signature of a stored architecture unless it has one; True when added.

    Raises NngptError when its code does not parse (such code should not have been stored).
    """
    settings = lexical_settings(novelty)
    has_signature = session.execute(
        select(Signature.id).where(Signature.architecture_id == architecture.id, Signature.kind == settings.kind)
    ).first()
    if has_signature:
        return False
    try:
        signature = lexical_signature(architecture.code, novelty)
    except SyntaxError as exc:
        raise NngptError(f"architecture {architecture.id} ({architecture.name}): not valid Python (line {exc.lineno})") from None
    open_index(session, signature, novelty).add(session, architecture.id, signature)
    return True
