"""Which failures are infrastructure faults (retry the stage) and which are results or bugs (do not).

    from nngpt_core.faults import infrastructure_cause, is_infrastructure_fault
    infrastructure_cause(exc)     # "database locked", "connection lost", ... or None for a bug
    is_infrastructure_fault(exc)  # what Prefect's retry condition asks (tasks/policy.py)

A candidate that fails is a result, never an exception out of a stage. What does escape a stage is
either a bug or the infrastructure: the database dropped a connection, a worker died, the GPU failed.
Only the latter is worth a retry, so faults are told apart by their cause, not by their class:
SQLAlchemy raises `OperationalError` both for a dropped connection and, on SQLite, for "no such
table" or a SQL syntax error, which no retry can fix. The cause is read from what the driver says:

- SQLite: the result code of the error (sqlite3's `sqlite_errorcode`): busy or locked (a lock
  timeout), a full disk, an I/O error, a file that cannot be opened, out of memory. SQLITE_ERROR,
  the code of "no such table", "no such column" and syntax errors, is never infrastructure.
- PostgreSQL: the SQLSTATE of the error (psycopg2's `pgcode`): class 08 (connection exception),
  53 (insufficient resources: disk full, out of memory, too many connections), 57P01-57P03 (the
  server shutting down or starting), 40001/40P01 (serialization failure, deadlock) and 55P03 (lock
  timeout). Errors without a SQLSTATE come from libpq: a refused, reset or closed connection, except
  the server's refusals at login (a wrong password, a database or role that does not exist). Class
  42 (undefined table, syntax error) and every other SQLSTATE is a bug.
- The operating system: a refused, reset or aborted connection, a timeout, a full disk (ENOSPC),
  a broken worker pool or pipe, and CUDA errors.

Exceptions raised `from` another exception are judged by that cause too.
"""

from __future__ import annotations

import errno
from concurrent.futures.process import BrokenProcessPool

from sqlalchemy.exc import DBAPIError, DisconnectionError

CUDA_FAULT_MARKERS = ("CUDA error", "CUBLAS_STATUS", "cuDNN error", "NCCL error", "device-side assert")

# sqlite3 primary result codes (https://sqlite.org/rescode.html); extended codes carry them in the low byte
_SQLITE_CAUSES = {
    5: "database locked",  # SQLITE_BUSY: another connection holds the lock past the busy timeout
    6: "database locked",  # SQLITE_LOCKED: a table lock within the same database file
    7: "out of memory",  # SQLITE_NOMEM
    10: "disk I/O error",  # SQLITE_IOERR
    13: "disk full",  # SQLITE_FULL
    14: "database file unavailable",  # SQLITE_CANTOPEN: the file system went away
    15: "database locked",  # SQLITE_PROTOCOL: a WAL lock race
}
# PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html)
_PG_CLASS_CAUSES = {"08": "connection lost", "53": "server out of resources"}
_PG_CODE_CAUSES = {
    "57P01": "server shutting down",  # admin_shutdown: terminating connection due to administrator command
    "57P02": "server shutting down",  # crash_shutdown
    "57P03": "server starting",  # cannot_connect_now
    "40001": "serialization failure",
    "40P01": "deadlock",
    "55P03": "lock timeout",  # lock_not_available
}
# libpq reports a server's refusal at connect time without a SQLSTATE; no retry changes the answer
_LIBPQ_REFUSALS = ("password authentication failed", "no password supplied", "does not exist", "no pg_hba.conf entry")
_OS_CAUSES = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "broken pipe",
    errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
}


def _driver_cause(orig: BaseException) -> str | None:
    """The cause behind a DBAPI exception (sqlite3 or psycopg2), or None when it is a bug."""
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return _SQLITE_CAUSES.get(sqlite_code & 0xFF)
    if type(orig).__module__.split(".")[0] == "psycopg2":
        pgcode = getattr(orig, "pgcode", None)
        if pgcode is None:  # libpq's own error: refused, reset or closed connection, no server answer
            import psycopg2

            if any(marker in str(orig) for marker in _LIBPQ_REFUSALS):
                return None  # the server answered, and said no: a wrong URL or password, not a fault
            return "connection lost" if isinstance(orig, (psycopg2.OperationalError, psycopg2.InterfaceError)) else None
        return _PG_CODE_CAUSES.get(pgcode) or _PG_CLASS_CAUSES.get(pgcode[:2])
    return None


def _own_cause(exc: BaseException) -> str | None:
    if isinstance(exc, DisconnectionError):
        return "connection lost"
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return "connection lost"
        return _driver_cause(exc.orig) if exc.orig is not None else None
    if isinstance(exc, BrokenProcessPool):
        return "worker process died"
    if isinstance(exc, EOFError):
        return "worker pipe closed"
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return _OS_CAUSES.get(exc.errno, "connection lost") if exc.errno else "connection lost"
    if isinstance(exc, OSError) and exc.errno in _OS_CAUSES:
        return _OS_CAUSES[exc.errno]
    if isinstance(exc, RuntimeError) and any(marker in str(exc) for marker in CUDA_FAULT_MARKERS):
        return "CUDA error"
    if type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg2"):  # raw driver errors outside SQLAlchemy
        return _driver_cause(exc)
    return None


def infrastructure_cause(exc: BaseException) -> str | None:
    """What failed in the infrastructure to raise `exc` ("database locked", ...), or None for a bug."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        cause = _own_cause(current)
        if cause is not None:
            return cause
        current = current.__cause__
    return None


def is_infrastructure_fault(exc: BaseException) -> bool:
    return infrastructure_cause(exc) is not None
