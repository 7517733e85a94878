"""A database password given to a real run appears nowhere: not in a log line, an artifact, a report, an
exported file, a Prefect parameter or the store.

The run is a real 1-cycle `nngpt run` with the echo model (tests/flow_helpers.py) on PostgreSQL, as a
role whose password the server checks (scram-sha-256), the URL with the password in the config file.
Then every command a user would run next: status, report, both exports, stats, config show, doctor.
The password is then searched, as bytes, in their output, in every file below the test's folder (the
data directory with adapters and reports, the exports with each archive member unpacked, Prefect's
home with the ephemeral server's database, the temporary directory) except the config file itself,
in every row of every table of the store, and in the parameters, logs and artifacts of every flow run
Prefect recorded.
"""

from __future__ import annotations

import gzip
import secrets
import sqlite3
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, select

from nngpt_core.store.engine import with_default_driver
from tests.cli_helpers import run_nngpt
from tests.flow_helpers import loop_env, run_config, write_config


def file_texts(root: Path, skip: set[Path]) -> dict[str, bytes]:
    """Every file below root as bytes; gzip files and tar archives also as their unpacked members."""
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p not in skip):
        data = path.read_bytes()
        found[str(path)] = data
        if data[:2] == b"\x1f\x8b":
            found[f"{path} (gunzipped)"] = gzip.decompress(data)
        if tarfile.is_tarfile(path):
            with tarfile.open(path) as archive:
                for member in archive.getmembers():
                    if member.isfile():
                        found[f"{path}!{member.name}"] = archive.extractfile(member).read()
    return found


def store_rows(url: str) -> list[str]:
    engine = create_engine(with_default_driver(url))
    metadata = MetaData()
    metadata.reflect(engine, views=False)
    with engine.connect() as conn:
        rows = [f"{table.name}: {row!r}" for table in metadata.sorted_tables for row in conn.execute(select(table))]
    engine.dispose()
    return rows


def prefect_records(prefect_home: Path) -> dict[str, list[str]]:
    """Parameters of every flow run, every log message and every artifact the local Prefect server stored."""
    database = prefect_home / "prefect.db"
    with sqlite3.connect(database) as conn:
        return {
            "parameters": [row[0] for row in conn.execute("SELECT parameters FROM flow_run")],
            "logs": [row[0] for row in conn.execute("SELECT message FROM log")],
            "artifacts": [str(row) for row in conn.execute("SELECT key, data, description FROM artifact")],
        }


@pytest.mark.timeout(1800)
def test_a_database_password_appears_nowhere(echo_model, postgres, tmp_path):
    password = "pw-" + secrets.token_hex(12)
    url = postgres.create_user_database("nngpt_secret_user", password, "nngpt_secret_db")
    masked = url.replace(password, "***")
    config = write_config(tmp_path / "run.yaml", run_config(echo_model, tmp_path / "data", url, **{"cycles": 1}))
    assert password in config.read_text()  # the only place it may be
    env = loop_env(tmp_path)
    wrong = run_nngpt("db", "stats", "--db", url.replace(password, "not-the-password"), env=env)
    assert wrong.returncode == 1 and "password authentication failed" in wrong.stderr  # the server checks it

    outputs = {}
    for args in (
        ["run"], ["status", "1"], ["report", "1", "--out", str(tmp_path / "report")],
        ["db", "export", "--run", "1", "--out", str(tmp_path / "export" / "run-1.jsonl")],
        ["db", "export", "--all", "--out", str(tmp_path / "export" / "backup.tar.gz")],
        ["db", "stats"], ["config", "show", "--docs"], ["doctor"],
    ):
        result = run_nngpt(*args, "--config", str(config), env=env, timeout=900)
        assert result.returncode == 0, f"nngpt {' '.join(args)}: {result.stderr[-3000:]}"
        outputs[" ".join(args)] = result.stdout + result.stderr

    leaks = [f"output of nngpt {name}" for name, text in outputs.items() if password in text]
    files = file_texts(tmp_path, skip={config})
    assert any("prefect.db" in name for name in files) and any("backup.tar.gz!tables/runs.jsonl" in name for name in files)
    assert any(name.endswith("nngpt_adapter.json") for name in files) and any(name.endswith("summary.md") for name in files)
    leaks += [name for name, data in files.items() if password.encode() in data]
    rows = store_rows(url)
    leaks += [row[:120] for row in rows if password in row]
    records = prefect_records(tmp_path / "prefect")
    leaks += [f"prefect {kind}: {text[:200]}" for kind, texts in records.items() for text in texts if password in text]
    assert not leaks, leaks

    # what was searched held the URL, masked: the parameters and the stored run config name the database
    assert any(masked in text for text in records["parameters"]), records["parameters"][:2]
    # (the stored run config keeps no URL since flows take the store as their own parameter; its row is searched above)
    assert any(row.startswith("runs:") for row in rows)
    assert records["logs"] and records["artifacts"]
    assert masked in outputs["config show --docs"]
