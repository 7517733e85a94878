"""PostgreSQL roles for analysts: a login that can read every table and view of the store and change nothing.

    from nngpt_core.store.roles import grant_reader
    grant_reader(store, "analyst", password="...")      # as the loop's role (the one that owns the schema)

The loop's role writes and migrates. A reader gets CONNECT on the database, USAGE on its schema,
SELECT on every table and view, and SELECT on what the loop's role creates later (default
privileges, so views of future migrations are readable too), and nothing else: no INSERT, UPDATE,
DELETE, TRUNCATE, no CREATE in the schema. Its sessions also start read-only
(default_transaction_read_only). SQLite has no roles: give analysts a copy of the file, or open it
read-only (`sqlite3 -readonly`).
"""

from __future__ import annotations

import re

from sqlalchemy import text

from nngpt_core.errors import NngptError
from nngpt_core.store.engine import Store

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
WRITE_PRIVILEGES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE")


def _check_name(name: str) -> str:
    if not ROLE_NAME.match(name):
        raise NngptError(f"role name '{name}': use lowercase letters, digits and _ (at most 63, not starting with a digit)")
    return name


def grant_reader(store: Store, name: str, password: str | None = None) -> bool:
    """Create (or update) the read-only login role `name`; returns whether it was created.

    Without `password` an existing role keeps its own, and a new role cannot log in with a password
    until one is set (peer or certificate authentication still work)."""
    if store.dialect != "postgresql":
        raise NngptError("read-only roles need PostgreSQL: SQLite has no roles (give analysts a copy of the file, "
                         "or let them open it with sqlite3 -readonly)")
    role = _check_name(name)
    with store.engine.begin() as conn:
        owner = conn.scalar(text("SELECT current_user"))
        if role == owner:
            raise NngptError(f"role '{role}' is the role this command connects as (the loop's role): pick another name")
        database, schema = conn.scalar(text("SELECT current_database()")), conn.scalar(text("SELECT current_schema()"))
        exists = conn.scalar(text("SELECT count(*) FROM pg_roles WHERE rolname = :role"), {"role": role}) > 0
        # identifiers cannot be bound as parameters: `role` matched ROLE_NAME, the others come from the server
        attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
        conn.execute(text(f'{"ALTER" if exists else "CREATE"} ROLE "{role}" WITH {attributes}'))
        if password is not None:
            quoted = conn.scalar(text("SELECT quote_literal(:password)"), {"password": password})
            conn.execute(text(f'ALTER ROLE "{role}" WITH PASSWORD {quoted}'))
        conn.execute(text(f'ALTER ROLE "{role}" SET default_transaction_read_only = on'))
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"'))  # views too
        conn.execute(text(f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA "{schema}" GRANT SELECT ON TABLES TO "{role}"'))
        problems = write_privileges(conn, role, schema)
    if problems:
        raise NngptError(f"role '{role}' can still change the store ({'; '.join(problems)}): revoke that as the "
                         f"database's owner, e.g. REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC (PostgreSQL before 15 grants it)")
    return not exists


def write_privileges(conn, role: str, schema: str) -> list[str]:
    """What `role` could change in `schema` (through its own grants or PUBLIC's); empty for a reader."""
    problems = []
    if conn.scalar(text("SELECT has_schema_privilege(:role, :schema, 'CREATE')"), {"role": role, "schema": schema}):
        problems.append(f"CREATE in schema {schema}")
    for privilege in WRITE_PRIVILEGES:
        tables = conn.scalars(text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relkind IN ('r', 'v', 'p') "
            "AND has_table_privilege(:role, c.oid, :privilege) ORDER BY 1"
        ), {"schema": schema, "role": role, "privilege": privilege}).all()
        if tables:
            problems.append(f"{privilege} on {', '.join(tables[:3])}{' ...' if len(tables) > 3 else ''}")
    return problems
