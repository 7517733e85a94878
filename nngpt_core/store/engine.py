"""Engines and sessions for the store, on SQLite (embedded default) or PostgreSQL (psycopg2).

    from nngpt_core.store.engine import open_store
    store = open_store("sqlite:///.nngpt/nngpt.db")
    with store.session() as s: ...

Connections are pinged before use (`pool_pre_ping`), so a PostgreSQL restart between operations
costs one reconnect, not a crash. SQLite runs in WAL mode with foreign keys on and a busy timeout,
so several local processes can share one file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from nngpt_core.config import mask_url, validate_database_url
from nngpt_core.errors import StoreError, first_line

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def with_default_driver(url: str) -> str:
    """`postgresql://` means psycopg2 here (SQLAlchemy 2.1 would pick psycopg 3, which we do not ship)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return url


def create_store_engine(url: str, echo: bool = False) -> Engine:
    """An Engine for `url`; creates the directory of a SQLite file. Raises ConfigError on a bad URL."""
    validate_database_url(url)
    url = with_default_driver(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": 10, "application_name": "nngpt"},
    )


def describe_db_error(exc: BaseException, url: str) -> str:
    """One line for a database error, with the URL's password masked and no SQL dumped."""
    return f"database {mask_url(url)} unreachable or refused: {first_line(getattr(exc, 'orig', None) or exc)}"


@dataclass
class Store:
    """An engine plus a session factory; the one handle the rest of the code passes around."""

    url: str
    engine: Engine

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on any error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def check(self) -> None:
        """Raise StoreError with one line when the database cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError) as exc:
            raise StoreError(describe_db_error(exc, self.url)) from None

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str, echo: bool = False, check: bool = True) -> Store:
    """Open (not migrate) the store at `url`; with `check`, fail fast with one line if it is down."""
    store = Store(url, create_store_engine(url, echo=echo))
    if check:
        store.check()
    return store
