"""The store's identity: a random id made with its schema (migration 0006), and the short tag derived from it.

    from nngpt_core.store.identity import store_tag
    store_tag(store)      # 'a3f09c1e': the same for every process on this store, different on another store

Two stores that report to one Prefect server (two users, two SQLite files, a test beside a real
run) both have a run 1; artifact keys carry this tag so that neither overwrites the other's report.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from nngpt_core.store.engine import Store
from nngpt_core.store.models import StoreIdentity

TAG_LENGTH = 8  # hex digits: 32 bits, so a collision between a handful of stores is out of the question


def store_id(store: Store) -> str:
    """The store's id (made here if the schema was created without migration 0006's row)."""
    with store.session() as session:
        found = session.scalar(select(StoreIdentity.id).order_by(StoreIdentity.created_at).limit(1))
        if found is None:
            found = uuid.uuid4().hex
            session.add(StoreIdentity(id=found))
        return found


def store_tag(store: Store) -> str:
    return store_id(store)[:TAG_LENGTH]
