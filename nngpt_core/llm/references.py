"""Reference architectures for retrieval-augmented prompts: from the store, else the seed corpus.

    from nngpt_core.llm.references import reference_pool, lineage_families
    pool = reference_pool(store)          # store may be None: then the hand-written seeds
    families = lineage_families(store, pool)      # architecture id -> (network family, block family)

The pool is the store's corpus architectures that prompts may show as parents: hand-written seeds,
imported LEMUR models and admitted generated ones. The expanded variants and synthetic hybrids of a
model's training corpus are in the corpus (a copy of one is memorized, not novel) but are not drawn
as parents. Admitted architectures thus become parents of later cycles, so novelty compounds.

Families say which seed family a parent's network and main block come from: a seed's are its own
name; a generated architecture's follow its lineage (a crossover takes the network family of its
network parent and the block family of its donor; a mutation or delta keeps its parent's; a full
generation starts a family of its own). The planner uses them to ask for combinations the model was
never trained on.
"""

from __future__ import annotations

from sqlalchemy import func, select

from nngpt_core.errors import NngptError
from nngpt_core.llm.prompts import Reference
from nngpt_core.store.engine import Store
from nngpt_core.store.models import Architecture, Lineage

POOL_LIMIT = 2000
PARENT_ORIGINS = ("seed", "lemur", "generated")


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
            .where(Architecture.in_corpus.is_(True), Architecture.origin.in_(PARENT_ORIGINS))
            .order_by(func.random())
            .limit(limit)
        ).all()
    return sorted((Reference(name, code, architecture_id) for architecture_id, name, code in rows),
                  key=lambda ref: ref.architecture_id)


def reference_pool(store: Store | None) -> list[Reference]:
    """The store's corpus architectures when it has any, else the hand-written seeds."""
    return (stored_references(store) if store is not None else []) or seed_references()


def lineage_families(store: Store | None, pool: list[Reference]) -> dict[int | str, tuple[str, str]]:
    """(network family, block family) of every pool reference, by architecture id (by name for seeds
    outside a store)."""
    from nngpt_core.corpus.hybrids import block_family_of, family_of

    if store is None:
        return {ref.name: (family_of(ref.name), block_family_of(ref.name)) for ref in pool}
    with store.session() as session:
        names = dict(session.execute(select(Architecture.id, Architecture.name).where(Architecture.origin != "generated")).all())
        parents: dict[int, list[tuple[int, str]]] = {}
        for child, parent, role in session.execute(select(Lineage.child_id, Lineage.parent_id, Lineage.role)):
            parents.setdefault(child, []).append((parent, role))
    known: dict[int, tuple[str, str]] = {}

    def families(architecture_id: int, depth: int = 0) -> tuple[str, str]:
        if architecture_id in known:
            return known[architecture_id]
        if architecture_id in names:
            name = names[architecture_id]
            result = (family_of(name), block_family_of(name))
        else:
            roles = {role: parent for parent, role in parents.get(architecture_id, [])}
            own = f"#{architecture_id}"
            if depth > 50 or not roles or "reference" in roles:
                result = (own, own)
            elif "network" in roles:
                network = families(roles["network"], depth + 1)[0]
                block = families(roles["blocks"], depth + 1)[1] if "blocks" in roles else own
                result = (network, block)
            else:
                result = families(roles["parent"], depth + 1)
        known[architecture_id] = result
        return result

    return {ref.architecture_id: families(ref.architecture_id) for ref in pool if ref.architecture_id is not None}
