"""Retries for infrastructure faults only: faults are classified by cause, and a real Prefect task with
the project's retry policy (tasks/policy.py) retries a database that went away, never a bug.

Every error below is raised for real by SQLite, PostgreSQL (the session's throwaway server) or the
kernel; nothing is constructed by hand.
"""

from __future__ import annotations

import errno
import sqlite3
import threading
import time
from concurrent.futures.process import BrokenProcessPool

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

from nngpt_cli.main import describe_failure
from nngpt_core.faults import infrastructure_cause, is_infrastructure_fault
from nngpt_core.store.engine import open_store
from nngpt_core.store.migrate import upgrade
from nngpt_core.store.models import Architecture
from tests.prefect_harness import prefect_harness  # noqa: F401  (session fixture)


def raised(action) -> BaseException | None:
    """The exception `action()` raised, or None."""
    try:
        action()
    except BaseException as exc:  # noqa: BLE001 - the error is the result here
        return exc
    return None


def execute(url: str, *statements: str):
    """Run the statements on a fresh engine of the store; the error one of them raised, or None."""
    store = open_store(url, check=False)

    def run():
        with store.engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))

    try:
        return raised(run)
    finally:
        store.dispose()


# ------------------------------------------------------------------------------------ classification


@pytest.mark.parametrize("statement, problem", [
    ("SELECT * FROM no_such_table", "no such table"),
    ("SELEC 1", "syntax error"),
    ("SELECT no_such_column FROM architectures", "no such column"),
])
def test_schema_and_syntax_errors_on_sqlite_are_bugs_although_operational(sqlite_url, statement, problem):
    store = open_store(sqlite_url)
    upgrade(store)
    store.dispose()
    exc = execute(sqlite_url, statement)
    assert type(exc).__name__ == "OperationalError" and problem in str(exc)  # what used to be retried
    assert infrastructure_cause(exc) is None


@pytest.mark.parametrize("statement", ["SELECT * FROM no_such_table", "SELEC 1", "SELECT no_such_column FROM architectures"])
def test_schema_and_syntax_errors_on_postgresql_are_bugs(postgres_url, statement):
    store = open_store(postgres_url)
    upgrade(store)
    store.dispose()
    exc = execute(postgres_url, statement)
    assert exc.orig.pgcode.startswith("42")
    assert not is_infrastructure_fault(exc)


def test_a_unique_violation_is_a_bug(store):
    add = "INSERT INTO architectures (code_hash, code, name, origin, in_corpus, created_at) " \
          "VALUES ('h', 'c', 'n', 'seed', true, CURRENT_TIMESTAMP)"
    assert execute(store.url, add) is None
    exc = execute(store.url, add)
    assert "IntegrityError" in type(exc).__name__ and not is_infrastructure_fault(exc)


def test_sqlite_locked_database_is_infrastructure(tmp_path):
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
    try:
        def write():
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (1)"))

        exc = raised(write)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
    assert "database is locked" in str(exc)
    assert infrastructure_cause(exc) == "database locked"


def test_sqlite_full_disk_is_infrastructure(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'full.db'}")

    def fill():
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x BLOB)"))
            conn.execute(text("PRAGMA max_page_count = 8"))  # the database may not grow past 8 pages
            for _ in range(100):
                conn.execute(text("INSERT INTO t VALUES (randomblob(4096))"))

    exc = raised(fill)
    engine.dispose()
    assert "full" in str(exc) and infrastructure_cause(exc) == "disk full"


def test_sqlite_file_gone_is_infrastructure(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'unmounted' / 'nngpt.db'}")  # its directory is not there
    exc = raised(lambda: engine.connect().close())
    engine.dispose()
    assert "unable to open database file" in str(exc)
    assert infrastructure_cause(exc) == "database file unavailable"


def test_postgresql_connection_refused_is_infrastructure():
    exc = execute("postgresql+psycopg2://postgres@127.0.0.1:1/nothing", "SELECT 1")
    assert isinstance(exc, DBAPIError) and "refused" in str(exc)
    assert infrastructure_cause(exc) == "connection lost"


def test_a_wrong_password_or_database_is_not_retried(postgres):
    url = postgres.create_user_database("fault_user", "right-password", "fault_db")
    wrong = url.replace("right-password", "wrong-password")
    exc = execute(wrong, "SELECT 1")
    assert "password authentication failed" in str(exc) and infrastructure_cause(exc) is None
    missing = execute(url.replace("/fault_db", "/no_such_db"), "SELECT 1")
    assert "does not exist" in str(missing) and infrastructure_cause(missing) is None
    assert execute(url, "SELECT 1") is None  # the right password works


def test_postgresql_terminated_connection_is_infrastructure(postgres_url):
    store = open_store(postgres_url)
    try:
        with store.engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            with store.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            exc = raised(lambda: conn.execute(text("SELECT 1")))
    finally:
        store.dispose()
    assert isinstance(exc, DBAPIError) and is_infrastructure_fault(exc), exc


def test_postgresql_lock_timeout_is_infrastructure(postgres_url):
    store = open_store(postgres_url)
    upgrade(store)
    try:
        with store.engine.connect() as holder, store.engine.connect() as waiter:
            holder.execute(text("LOCK TABLE architectures IN ACCESS EXCLUSIVE MODE"))
            waiter.execute(text("SET lock_timeout = '100ms'"))
            exc = raised(lambda: waiter.execute(text("SELECT count(*) FROM architectures")))
            holder.rollback()
    finally:
        store.dispose()
    assert exc.orig.pgcode == "55P03" and infrastructure_cause(exc) == "lock timeout"


def test_os_and_worker_faults():
    with open("/dev/full", "w") as full:
        disk_full = raised(lambda: (full.write("x" * 8192), full.flush()))
    assert disk_full.errno == errno.ENOSPC and infrastructure_cause(disk_full) == "disk full"
    assert infrastructure_cause(raised(lambda: open("/nonexistent/file"))) is None
    assert is_infrastructure_fault(BrokenProcessPool("a worker died"))
    assert is_infrastructure_fault(RuntimeError("CUDA error: an illegal memory access was encountered"))
    assert not is_infrastructure_fault(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_infrastructure_fault(ValueError("a bug"))


def test_a_wrapped_fault_is_judged_by_its_cause():
    refused = execute("postgresql+psycopg2://postgres@127.0.0.1:1/nothing", "SELECT 1")

    def wrap():
        raise RuntimeError("could not store the evaluation") from refused

    assert infrastructure_cause(raised(wrap)) == "connection lost"


# ------------------------------------------------------------------------------ through a real task


def count_architectures_task(attempts: list[str]):
    """A task with the stages' retry policy that reads the store, recording each attempt's outcome.

    On SQLite its busy timeout is 0.2 s instead of the store's 30 s, so that a held lock fails it quickly.
    """
    from prefect import task

    from nngpt_core.store.engine import create_store_engine
    from nngpt_tasks.policy import STAGE_TASK_OPTIONS

    @task(name="count-architectures", **STAGE_TASK_OPTIONS)
    def count_architectures(url: str) -> int:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 0.2})
        else:
            engine = create_store_engine(url)
        try:
            with engine.connect() as conn:
                found = conn.execute(select(func.count()).select_from(Architecture)).scalar()
                conn.execute(text("UPDATE architectures SET name = name"))  # a write: waits for the lock on SQLite
                conn.commit()
        except Exception:
            attempts.append("failed")
            raise
        finally:
            engine.dispose()
        attempts.append("ok")
        return found

    return count_architectures


def run_in_flow(task, url: str):
    """Call the task in a flow; returns (its final state, its run_count as the Prefect API reports it)."""
    from prefect import flow
    from prefect.client.orchestration import get_client

    states = []

    @flow(name="fault-test")
    def one_task() -> None:
        states.append(task(url, return_state=True))  # kept out of the return value: the flow itself completes

    one_task()
    state = states[0]
    with get_client(sync_client=True) as client:
        task_run = client.read_task_run(state.state_details.task_run_id)
    return state, task_run.run_count


def restore_after_first_failure(attempts: list[str], restore) -> threading.Thread:
    def wait_then_restore():
        deadline = time.monotonic() + 60
        while "failed" not in attempts and time.monotonic() < deadline:
            time.sleep(0.05)
        restore()

    thread = threading.Thread(target=wait_then_restore, daemon=True)
    thread.start()
    return thread


def test_an_infrastructure_fault_is_retried_and_then_succeeds(prefect_harness, store_url, request):
    store = open_store(store_url)
    upgrade(store)
    with store.session() as session:
        session.add(Architecture(code_hash="a", code="class Net: pass", name="a", origin="seed"))
    store.dispose()
    if store_url.startswith("sqlite"):  # another process holds the write lock: "database is locked"
        holder = sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN EXCLUSIVE")

        def restore():
            holder.execute("ROLLBACK")
            holder.close()
    else:  # the PostgreSQL server is down: "connection refused"
        postgres = request.getfixturevalue("postgres")
        postgres.stop()
        restore = postgres.start
    attempts: list[str] = []
    restorer = restore_after_first_failure(attempts, restore)
    state, run_count = run_in_flow(count_architectures_task(attempts), store_url)
    restorer.join(timeout=60)
    assert state.is_completed(), state.message
    assert state.result() == 1
    assert attempts[0] == "failed" and attempts[-1] == "ok"
    assert run_count == len(attempts) >= 2


def test_a_programming_error_fails_at_once_with_one_line(prefect_harness, store_url):
    store = open_store(store_url)
    upgrade(store)
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE architectures RENAME TO architectures_old"))  # a schema the code does not expect
    store.dispose()
    attempts: list[str] = []
    started = time.monotonic()
    state, run_count = run_in_flow(count_architectures_task(attempts), store_url)
    assert state.is_failed()
    assert attempts == ["failed"] and run_count == 1
    assert time.monotonic() - started < 20  # no back-off waited
    line = describe_failure(raised(state.result))
    assert "\n" not in line and line.startswith("error: database error: ")
    assert ("no such table: architectures" in line) or ('relation "architectures" does not exist' in line), line
