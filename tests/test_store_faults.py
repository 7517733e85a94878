"""Faults: an unreachable database, a PostgreSQL restart mid-session, a database down during a write."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from nngpt_core.errors import StoreError
from nngpt_core.store.engine import open_store
from nngpt_core.store.migrate import upgrade
from nngpt_core.store.models import Architecture
from tests.cli_helpers import run_nngpt


def test_unreachable_database_is_one_line_and_nonzero():
    url = "postgresql://alice:topsecret@127.0.0.1:1/nngpt"
    result = run_nngpt("db", "stats", "--db", url)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unreachable" in lines[0]
    assert "topsecret" not in result.stderr + result.stdout


def test_open_store_fails_fast_on_missing_server():
    with pytest.raises(StoreError, match="unreachable"):
        open_store("postgresql+psycopg2://postgres@127.0.0.1:1/nothing")


def _count(store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(Architecture))


def _add(store, name: str) -> None:
    with store.session() as session:
        session.add(Architecture(code_hash=name, code="class Net: pass", name=name, origin="seed"))


def test_postgres_restart_mid_session_reconnects_and_keeps_commits(postgres, postgres_url):
    store = open_store(postgres_url)
    upgrade(store)
    _add(store, "before")
    assert _count(store) == 1  # the pool now holds a connection that the restart will kill
    postgres.restart()
    _add(store, "after")  # pool_pre_ping replaces the dead connection
    assert _count(store) == 2
    store.dispose()


def test_write_while_database_down_fails_cleanly_and_loses_nothing(postgres, postgres_url):
    store = open_store(postgres_url)
    upgrade(store)
    _add(store, "committed")
    postgres.stop()
    try:
        with pytest.raises(OperationalError):
            _add(store, "lost-with-the-server")
        with pytest.raises(StoreError):
            store.check()
    finally:
        postgres.start()
    assert _count(store) == 1
    store.dispose()
