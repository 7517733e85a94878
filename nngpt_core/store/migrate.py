"""Schema migrations with Alembic, driven from Python (no alembic.ini to keep in sync).

    from nngpt_core.store.migrate import ensure_current, upgrade, check
    ensure_current(store)   # what every flow and command does first: to head unless it is there
    upgrade(store)          # to head; keeps the data already stored
    check(store)            # raises if the ORM models and the migrations have drifted apart

An upgrade holds a lock, so several workers starting on one fresh store at once migrate it once:
a PostgreSQL advisory lock held by the migrating transaction, or an exclusive file lock beside an
SQLite file (its own locks time out after a busy timeout; a migration may take longer). Whoever
waited then finds the schema at head and has nothing left to do. A store this code cannot migrate
(a newer schema, a role without the right to change it) raises StoreError with one line that says
what to run.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InternalError, ProgrammingError

from nngpt_core.errors import StoreError, first_line
from nngpt_core.store.engine import Store

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# pg_advisory_xact_lock key of schema migrations (any fixed 64-bit number that nothing else uses)
MIGRATION_LOCK_KEY = 0x6E6E677074_0001


def alembic_config(store: Store) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", store.url.replace("%", "%%"))
    return cfg


def _with_connection(store: Store, action, lock: bool = False) -> None:
    cfg = alembic_config(store)
    with contextlib.ExitStack() as stack:
        if lock:
            stack.enter_context(_sqlite_file_lock(store))
        conn = stack.enter_context(store.engine.begin())
        if lock and store.dialect == "postgresql":
            # released when this transaction ends; a second migrator waits here, then sees the new revision
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        action(cfg)


@contextlib.contextmanager
def _sqlite_file_lock(store: Store) -> Iterator[None]:
    """An exclusive flock on `<database file>.migrate-lock` (nothing for PostgreSQL or in-memory SQLite)."""
    database = make_url(store.url).database if store.dialect == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).expanduser().with_name(Path(database).name + ".migrate-lock")
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(store: Store, revision: str = "head") -> bool:
    """Migrate to `revision` under the migration lock; returns whether this call changed the schema
    (False when another process migrated it while this one waited). StoreError (one line) when this
    code or role cannot."""
    changed = []

    def action(cfg: Config) -> None:
        connection = cfg.attributes["connection"]
        before = MigrationContext.configure(connection).get_current_revision()  # read under the lock
        command.upgrade(cfg, revision)
        changed.append(MigrationContext.configure(connection).get_current_revision() != before)

    try:
        _with_connection(store, action, lock=True)
    except CommandError as exc:  # e.g. the store's revision is newer than this code knows
        raise StoreError(
            f"cannot migrate the store at {store.masked_url} (schema {current_revision(store) or 'empty'}, "
            f"this nngpt knows up to {head_revision()}): {first_line(exc)}; install the nngpt version that "
            "wrote it on this machine"
        ) from None
    except (ProgrammingError, InternalError) as exc:  # permission denied for schema public; a read-only session
        raise StoreError(
            f"the store at {store.masked_url} is at schema {current_revision(store) or 'empty'}, this nngpt needs "
            f"{head_revision()}, and this role cannot migrate it ({first_line(exc.orig or exc)}): run "
            "`nngpt db upgrade` as the database's owner"
        ) from None
    return changed[0]


def ensure_current(store: Store) -> bool:
    """Bring the schema to head unless it is there already; returns whether this call migrated it."""
    return False if is_current(store) else upgrade(store)


def downgrade(store: Store, revision: str) -> None:
    _with_connection(store, lambda cfg: command.downgrade(cfg, revision))


def check(store: Store) -> None:
    """Raise alembic.util.exc.AutogenerateDiffsDetected when models and migrations differ."""
    _with_connection(store, command.check)


def current_revision(store: Store) -> str | None:
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def is_current(store: Store) -> bool:
    return current_revision(store) == head_revision()
