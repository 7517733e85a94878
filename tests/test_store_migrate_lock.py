"""Several workers that start at once on one fresh store migrate it exactly once (SQLite and PostgreSQL).

Each process opens the store and calls `ensure_current`, as every flow does first (tasks/policy.py);
they are released together. Without the migration lock they would race: both see an empty schema and
the second fails on a table the first created, or the store gets two identities. A store at a
revision this code does not know fails in one line that says what to do.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from nngpt_core.errors import StoreError
from nngpt_core.store import migrate
from nngpt_core.store.engine import open_store

WORKERS = 4
WORKER = """
import sys, time
from pathlib import Path
from nngpt_core.store.engine import open_store
from nngpt_core.store.migrate import ensure_current
store = open_store(sys.argv[1])
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
print("migrated" if ensure_current(store) else "already current")
"""


def test_workers_starting_together_migrate_a_fresh_store_once(store_url: str, tmp_path: Path):
    go = tmp_path / "go"
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, store_url, str(go)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(WORKERS)]
    time.sleep(15)  # every worker imported SQLAlchemy and Alembic and waits on the file
    go.touch()
    outputs = [worker.communicate(timeout=600) for worker in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-2000:]
    said = sorted(out.strip() for out, _ in outputs)
    assert said == ["already current"] * (WORKERS - 1) + ["migrated"], said  # one migrated, the others waited

    store = open_store(store_url)
    assert migrate.current_revision(store) == migrate.head_revision()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM store_identity")).scalar() == 1  # migration 0006 ran once
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    store.dispose()


def test_a_store_newer_than_this_code_fails_in_one_line(store: object):
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError) as refused:
        migrate.ensure_current(store)
    message = str(refused.value)
    assert "\n" not in message and "9999" in message and "install the nngpt version that wrote it" in message
