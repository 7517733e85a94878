"""`nngpt db grant-reader NAME`: a PostgreSQL role that reads every table and view and changes nothing.

Run as a user would (the console script, its password from NNGPT_READER_PASSWORD), against a store
that holds rows. The reader then connects as itself: every table and view answers a SELECT, and
INSERT, UPDATE, DELETE, TRUNCATE and DDL fail, also after it turns its read-only default off (the
privileges, not only the session default, refuse them). A table created later by the loop's role
is readable too. On SQLite the command says in one line that roles need PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from nngpt_core.errors import NngptError, StoreError
from nngpt_core.store import migrate
from nngpt_core.store.engine import open_store
from nngpt_core.store.models import Architecture, Run
from nngpt_core.store.roles import grant_reader

NNGPT = [sys.executable, "-m", "nngpt_cli.main"]
WRITES = [
    "INSERT INTO runs (name, created_at, status, seed, base_model, dataset, share_threshold, config, versions, training_corpus) "
    "VALUES ('x', now(), 'done', 0, 'm', 'd', 0.4, '{}', '{}', '{}')",
    "UPDATE runs SET name = 'changed'",
    "DELETE FROM architectures",
    "TRUNCATE candidates CASCADE",
    "CREATE TABLE notes (id integer)",
    "CREATE VIEW mine AS SELECT 1 AS one",
    "ALTER TABLE runs ADD COLUMN extra integer",
    "DROP VIEW leaderboard",
    "CREATE INDEX ix_mine ON runs (name)",
]


def _grant(url: str, name: str, password: str | None = "s3cret", env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, **(env or {})}
    environment.pop("NNGPT_READER_PASSWORD", None)
    if password is not None:
        environment["NNGPT_READER_PASSWORD"] = password
    return subprocess.run([*NNGPT, "db", "grant-reader", name, "--db", url], capture_output=True, text=True,
                          env=environment, timeout=600)


def _connect_as(url: str, role: str, password: str = "s3cret"):
    parsed = make_url(url)
    conn = psycopg2.connect(host=parsed.host, port=parsed.port, user=role, password=password, dbname=parsed.database)
    conn.autocommit = True
    return conn


def _filled(url: str):
    store = open_store(url)
    migrate.upgrade(store)
    with store.session() as session:
        session.add(Run(name="r", base_model="m", dataset="digits"))
        session.add(Architecture(code_hash="h", code="x", name="a", origin="seed"))
    return store


def test_reader_reads_every_table_and_view_and_changes_nothing(postgres_url: str):
    store = _filled(postgres_url)
    done = _grant(postgres_url, "analyst")
    assert done.returncode == 0, done.stderr
    assert "created read-only role analyst" in done.stderr and "s3cret" not in done.stderr + done.stdout

    reader = _connect_as(postgres_url, "analyst")
    try:
        with reader.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")
            relations = [row[0] for row in cur.fetchall()]
            assert {"runs", "candidates", "lineage", "cycle_metrics", "leaderboard", "lineage_edges",
                    "memorization_by_cycle", "lemur_vs_generated", "top_novel_architectures"} <= set(relations)
            for relation in relations:  # every table and view answers
                cur.execute(f'SELECT count(*) FROM "{relation}"')
                cur.fetchone()
            cur.execute("SELECT name FROM runs")
            assert cur.fetchall() == [("r",)]
            cur.execute("SHOW default_transaction_read_only")
            assert cur.fetchone() == ("on",)
            for read_only in ("on", "off"):  # refused by the session default, and by the privileges without it
                cur.execute(f"SET default_transaction_read_only = {read_only}")
                for statement in WRITES:
                    with pytest.raises(psycopg2.Error) as refused:
                        cur.execute(statement)
                    assert refused.value.pgcode in ("42501", "25006"), (statement, refused.value.pgerror)
                    if read_only == "off":
                        assert refused.value.pgcode == "42501", statement  # insufficient_privilege
    finally:
        reader.close()
    with store.session() as session:  # nothing changed
        assert session.execute(text("SELECT name FROM runs")).all() == [("r",)]
        assert session.execute(text("SELECT count(*) FROM architectures")).scalar() == 1

    # what the loop's role creates later (a future migration's view) is readable without granting again
    with store.engine.begin() as conn:
        conn.execute(text("CREATE VIEW later AS SELECT name FROM runs"))
    reader = _connect_as(postgres_url, "analyst")
    try:
        with reader.cursor() as cur:
            cur.execute("SELECT name FROM later")
            assert cur.fetchall() == [("r",)]
    finally:
        reader.close()

    # again: the role is updated, not duplicated, with its new password
    password_hash = "SELECT rolpassword FROM pg_authid WHERE rolname = 'analyst'"
    with store.engine.connect() as conn:
        before = conn.execute(text(password_hash)).scalar()
    again = _grant(postgres_url, "analyst", password="other")
    assert again.returncode == 0 and "updated read-only role analyst" in again.stderr, again.stderr
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pg_roles WHERE rolname = 'analyst'")).scalar() == 1
        after = conn.execute(text(password_hash)).scalar()
    assert before and after and before != after
    store.dispose()


def test_a_reader_cannot_migrate_and_says_who_can(postgres_url: str):
    """A role without the right to change the schema gets one line naming the command, not a traceback."""
    store = open_store(postgres_url)
    assert _grant(postgres_url, "analyst").returncode == 0  # (it brings the store to head first)
    migrate.downgrade(store, "0004")  # an older schema, as a store that an older nngpt wrote
    as_reader = open_store(make_url(postgres_url).set(username="analyst", password="s3cret").render_as_string(hide_password=False))
    with pytest.raises(StoreError) as refused:
        migrate.ensure_current(as_reader)
    message = str(refused.value)
    assert "\n" not in message and "this role cannot migrate it" in message and "nngpt db upgrade" in message
    assert "s3cret" not in message
    assert migrate.current_revision(store) == "0004"  # nothing half-done
    as_reader.dispose()
    store.dispose()


def test_bad_role_names_and_the_loops_own_role_are_refused_in_one_line(postgres_url: str):
    store = _filled(postgres_url)
    for name in ("Robert'); DROP TABLE runs; --", "9lives", "x" * 64, "Analyst"):
        with pytest.raises(NngptError, match="^role name") as refused:
            grant_reader(store, name)
        assert "\n" not in str(refused.value)
    with pytest.raises(NngptError, match="the role this command connects as"):
        grant_reader(store, make_url(postgres_url).username)
    with store.session() as session:
        assert session.execute(text("SELECT count(*) FROM runs")).scalar() == 1
    store.dispose()


def test_sqlite_has_no_roles(tmp_path: Path):
    done = _grant(f"sqlite:///{tmp_path / 'nngpt.db'}", "analyst")
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: read-only roles need PostgreSQL")
