"""Reference architectures for retrieval-augmented prompts: from the store, else the seed corpus.

    from nngpt_core.llm.references import reference_pool
    pool = reference_pool(store)          # store may be None: then the hand-written seeds

The pool is the store's corpus architectures (seeds, imported LEMUR models, admitted generated ones);
each prompt draws its references from it at random, so candidates of one cycle vary different parents.
"""

from __future__ import annotations

from sqlalchemy import func, select

from nngpt_core.errors import NngptError
from nngpt_core.llm.prompts import Reference
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Architecture

POOL_LIMIT = 2000


def seed_references() -> list[Reference]:
    try:
        from nngpt_core.corpus import seed_sources
    except ImportError:
        raise NngptError("no reference architectures: the store holds none and the seed corpus is not installed") from None
    return [Reference(name, code) for name, code in seed_sources()]


def stored_references(store: Store, limit: int = POOL_LIMIT) -> list[Reference]:
    """Up to `limit` corpus architectures of the store, a random sample when there are more."""
    with store.session() as session:
        rows = session.execute(
            select(Architecture.id, Architecture.name, Architecture.code)
            .where(Architecture.in_corpus.is_(True))
            .order_by(func.random())
            .limit(limit)
        ).all()
    return sorted((Reference(name, code, architecture_id) for architecture_id, name, code in rows),
                  key=lambda ref: ref.architecture_id)


def reference_pool(store: Store | None) -> list[Reference]:
    """The store's corpus architectures when it has any, else the hand-written seeds."""
    return (stored_references(store) if store is not None else []) or seed_references()
