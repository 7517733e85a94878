"""Fast bulk inserts: COPY on PostgreSQL, one executemany on SQLite.

    from nngpt_core.novelty.bulk import bulk_insert
    with store.engine.begin() as conn:
        bulk_insert(conn, "lsh_bands", ["kind", "band", "key", "architecture_id"], rows)

Used to fill the LSH index with many signatures at once (the benchmark, corpus imports);
ORM inserts would spend most of their time in Python per row.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection


def _copy_field(value: object) -> str:
    """A value in PostgreSQL's COPY text format."""
    if type(value) is int:  # the bulk of band rows: the fast path first
        return str(value)
    if value is None:
        return "\\N"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\\\x" + bytes(value).hex()
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def bulk_insert(connection: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Insert `rows` (tuples in `columns` order) into `table` inside the connection's transaction; returns the count."""
    if connection.dialect.name == "postgresql":
        buffer = io.StringIO()
        count = 0
        for row in rows:
            buffer.write("\t".join(_copy_field(value) for value in row))
            buffer.write("\n")
            count += 1
        buffer.seek(0)
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)
        finally:
            cursor.close()
        return count
    rows = list(rows)
    if not rows:  # executemany with no rows would run the statement once without parameters
        return 0
    placeholders = ", ".join("?" for _ in columns)
    quoted = ", ".join(f'"{column}"' for column in columns)
    connection.exec_driver_sql(f"INSERT INTO {table} ({quoted}) VALUES ({placeholders})", rows)
    return len(rows)
