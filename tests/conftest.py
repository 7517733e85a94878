"""Shared fixtures: a throwaway PostgreSQL cluster per test session, and `store` on SQLite and PostgreSQL.

`store` is parametrized over both backends: every test that takes it runs twice. Set
NNGPT_TEST_DATABASE_URL to use an existing PostgreSQL server instead of starting one
(its database is dropped and recreated for each test that asks for it).
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from nngpt_flows.local import quiet_prefect_defaults
from nngpt_core.store.engine import Store, open_store
from nngpt_core.store.migrate import upgrade
from tests.throwaway_pg import ThrowawayPostgres, create_role_and_database

TEST_DB_ENV = "NNGPT_TEST_DATABASE_URL"
_db_counter = itertools.count()

# Several processes of tests (and helpers running beside them) share 2 cores: keep torch to one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.pop("NNGPT_DATABASE_URL", None)  # tests never touch a user's real database
os.environ.pop("NNGPT_DATA_DIR", None)
# Prefect reads its settings when it is first imported: a throwaway PREFECT_HOME and no telemetry, set
# before any test module imports it (`nngpt run` subprocesses inherit them too).
_PREFECT_HOME = tempfile.mkdtemp(prefix="nngpt-test-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, True)
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
quiet_prefect_defaults()  # as `nngpt run` does: the library's progress lines reach the flow-run logs


class ExternalPostgres:
    """An existing server named by NNGPT_TEST_DATABASE_URL; databases are created in it per test."""

    def __init__(self, url: str):
        self.base = make_url(url)

    def _admin(self) -> dict:
        return dict(host=self.base.host, port=self.base.port or 5432, user=self.base.username,
                    password=self.base.password, dbname=self.base.database or "postgres")

    def create_database(self, name: str) -> str:
        import psycopg2

        conn = psycopg2.connect(**self._admin())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.base.set(drivername="postgresql+psycopg2", database=name).render_as_string(hide_password=False)

    def create_user_database(self, user: str, password: str, database: str) -> str:
        """A role with `password` and a database it owns (whether the password is checked is the server's pg_hba)."""
        create_role_and_database(self._admin(), user, password, database)
        return self.base.set(drivername="postgresql+psycopg2", username=user, password=password,
                             database=database).render_as_string(hide_password=False)

    def restart(self) -> None:
        pytest.skip("cannot restart an external PostgreSQL server")


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the whole test session (throwaway cluster unless NNGPT_TEST_DATABASE_URL)."""
    if os.environ.get(TEST_DB_ENV):
        yield ExternalPostgres(os.environ[TEST_DB_ENV])
        return
    with ThrowawayPostgres() as pg:
        yield pg


@pytest.fixture
def postgres_url(postgres) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return postgres.create_database(f"nngpt_test_{os.getpid()}_{next(_db_counter)}")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'nngpt.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path: Path) -> str:
    """An empty database URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nngpt.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url: str) -> Store:
    """A migrated, empty store on SQLite and on PostgreSQL."""
    opened = open_store(store_url)
    upgrade(opened)
    yield opened
    opened.dispose()


@pytest.fixture(scope="session")
def echo_model(tmp_path_factory) -> Path:
    """A tiny real code LLM that writes known valid architectures (tests/flow_helpers.py), trained once."""
    from tests.flow_helpers import train_echo_model

    return train_echo_model(tmp_path_factory.mktemp("echo_model"))
