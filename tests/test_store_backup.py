"""`nngpt db export --all` and `nngpt db load` round-trip a store filled by a real run, and the restored store resumes it.

A 1-cycle `nngpt run` with the echo model (tests/flow_helpers.py) fills the store: candidates,
evaluations, architectures with their lexical signatures and LSH band keys, the seed and generated
corpus, SFT examples and a LoRA adapter on disk. The backup is loaded into an empty store (SQLite
into SQLite, PostgreSQL into PostgreSQL, and SQLite into PostgreSQL), every row of every table must
come back equal (adapter paths rewritten to the new adapter directory, whose files are byte-equal),
and (SQLite and PostgreSQL each) `nngpt run --resume 1 --cycles 2` on the restored store, with the
original adapter directory moved away, runs cycle 1 on the restored adapter and finishes the run.
"""

from __future__ import annotations

import filecmp
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, func, select

from nngpt_core.store.engine import open_store, with_default_driver
from nngpt_core.store.models import Adapter, Candidate, Cycle, Run
from tests.cli_helpers import run_nngpt
from tests.flow_helpers import loop_env, run_config, write_config

ROUND_TRIPS = [("sqlite", "sqlite"), ("postgresql", "postgresql"), ("sqlite", "postgresql")]


@dataclass
class Backup:
    """A store filled by a real 1-cycle run, its backup, and its rows as they were when it was written."""

    url: str
    config: Path
    env: dict
    archive: Path
    rows: dict[str, list[dict]]


def new_url(kind: str, name: str, folder: Path, postgres) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / f'{name}.db'}"
    return postgres.create_database(f"nngpt_backup_{name}_{folder.name[-12:]}".lower().replace("-", "_"))


def table_rows(url: str) -> dict[str, list[dict]]:
    """Every row of every table (alembic's aside), ordered by primary key; times in UTC, naive."""
    engine = create_engine(with_default_driver(url))
    metadata = MetaData()
    metadata.reflect(engine, views=False)
    rows = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            found = conn.execute(select(table).order_by(*table.primary_key.columns)).mappings().all()
            rows[table.name] = [{k: normalize(v) for k, v in row.items()} for row in found]
    engine.dispose()
    return rows


def normalize(value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return bytes(value) if isinstance(value, memoryview) else value


def nngpt(*args: str, env: dict) -> str:
    result = run_nngpt(*args, env=env, timeout=900)
    assert result.returncode == 0, f"nngpt {' '.join(args[:3])}: {result.stderr[-3000:]}"
    return result.stderr


@pytest.fixture(scope="module")
def backup_of(echo_model, tmp_path_factory, request):
    """backup_of(kind): a store of that kind filled by a real run and backed up (once per module and kind)."""
    made: dict[str, Backup] = {}

    def make(kind: str) -> Backup:
        if kind not in made:
            folder = tmp_path_factory.mktemp(f"source-{kind}")
            postgres = request.getfixturevalue("postgres") if kind == "postgresql" else None
            url = new_url(kind, "source", folder, postgres)
            config = write_config(folder / "run.yaml", run_config(echo_model, folder / "data", **{"cycles": 1}))
            env = loop_env(folder)
            nngpt("run", "--config", str(config), "--db", url, env=env)
            archive = folder / "backup" / "nngpt.tar.gz"
            said = nngpt("db", "export", "--all", "--out", str(archive), "--config", str(config), "--db", url, env=env)
            assert "exported" in said and archive.is_file()
            made[kind] = Backup(url, config, env, archive, table_rows(url))
        return made[kind]

    return make


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("source_kind, target_kind", ROUND_TRIPS, ids=[f"{a}-to-{b}" for a, b in ROUND_TRIPS])
def test_backup_round_trips_a_real_run_and_the_restored_store_resumes(source_kind, target_kind, backup_of,
                                                                      tmp_path, request):
    backup = backup_of(source_kind)
    postgres = request.getfixturevalue("postgres") if target_kind == "postgresql" else None
    target = new_url(target_kind, "target", tmp_path, postgres)
    restored_dir = tmp_path / "restored-adapters"
    said = nngpt("db", "load", str(backup.archive), "--adapters-dir", str(restored_dir), "--config", str(backup.config),
                 "--db", target, env=backup.env)
    assert "loaded" in said

    before, after = backup.rows, table_rows(target)
    assert set(before) == set(after)
    for name in ("architectures", "signatures", "lsh_bands", "index_settings", "candidates", "evaluations",
                 "adapters", "sft_examples", "cycles", "runs"):
        assert before[name], f"the run left table {name} empty: the round trip would prove nothing"
    restored = {}
    for row in after["adapters"]:
        original = next(r for r in before["adapters"] if r["id"] == row["id"])
        assert Path(row["path"]).parent == restored_dir.resolve()
        assert Path(row["path"]).name == Path(original["path"]).name
        comparison = filecmp.dircmp(original["path"], row["path"])
        assert comparison.left_list == comparison.right_list and not comparison.diff_files, original["path"]
        restored[row["id"]] = row["path"]
        row["path"] = original["path"]
    for name in before:
        assert after[name] == before[name], f"table {name} did not round-trip"

    # a second load into the now filled store is refused with one line, and changes nothing
    again = run_nngpt("db", "load", str(backup.archive), "--adapters-dir", str(tmp_path / "other"), "--db", target,
                      env=backup.env)
    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1
    assert "is not empty" in again.stderr and not (tmp_path / "other").exists()

    if source_kind != target_kind:
        return  # the cross-database load is checked row by row; resuming is checked on each kind above
    hidden = tmp_path / "original-adapters"  # the restored store must not need the original adapter files
    hidden.mkdir()
    originals = [r["path"] for r in before["adapters"]]
    for path in originals:
        shutil.move(path, hidden / Path(path).name)
    try:
        nngpt("run", "--resume", "1", "--cycles", "2", "--config", str(backup.config), "--db", target, env=backup.env)
    finally:
        for path in originals:
            shutil.move(hidden / Path(path).name, path)
    store = open_store(target)
    with store.session() as session:
        assert session.get(Run, 1).status == "done"
        cycles = session.scalars(select(Cycle).where(Cycle.run_id == 1).order_by(Cycle.index)).all()
        assert [(c.index, c.status) for c in cycles] == [(0, "done"), (1, "done")]
        first_adapter = cycles[0].adapter_out_id
        assert first_adapter is not None and cycles[1].adapter_in_id == first_adapter  # generated with the restored one
        assert session.get(Adapter, first_adapter).path == restored[first_adapter]
        candidates = session.scalars(select(Candidate).where(Candidate.cycle_id == cycles[1].id)).all()
        assert len(candidates) == 4 and all(c.status != "pending" for c in candidates)
        highest = max(r["id"] for r in before["candidates"])
        assert min(c.id for c in candidates) > highest  # new ids after the restored ones (PostgreSQL sequences)
        assert session.scalar(select(func.count()).select_from(Candidate)) == len(before["candidates"]) + 4
    store.dispose()


def test_the_seed_corpus_round_trips_on_each_database(store_url, tmp_path, request):
    """Without a run: the imported seeds with their signatures and LSH band keys, into an empty store of the same kind."""
    env = loop_env(tmp_path)
    seeds = str(Path(__file__).resolve().parent.parent / "nngpt_core" / "corpus" / "seeds")
    nngpt("import", seeds, "--db", store_url, env=env)
    archive = tmp_path / "seeds.tar.gz"
    nngpt("db", "export", "--all", "--out", str(archive), "--db", store_url, env=env)
    kind = "sqlite" if store_url.startswith("sqlite") else "postgresql"
    target = new_url(kind, "seeds_target", tmp_path, request.getfixturevalue("postgres") if kind == "postgresql" else None)
    said = nngpt("db", "load", str(archive), "--adapters-dir", str(tmp_path / "adapters"), "--db", target, env=env)
    before, after = table_rows(store_url), table_rows(target)
    assert len(before["architectures"]) >= 40 and len(before["lsh_bands"]) > len(before["architectures"])
    assert after == before and "0 adapters" in said


def test_backup_mistakes_are_one_line_and_change_nothing(sqlite_url, tmp_path):
    env = loop_env(tmp_path)
    not_an_archive = tmp_path / "notes.txt"
    not_an_archive.write_text("hello")
    cases = [
        (["db", "export", "--all", "--db", sqlite_url], "--all writes an archive: give --out FILE"),
        (["db", "export", "--all", "--run", "1", "--out", str(tmp_path / "x.tar.gz"), "--db", sqlite_url],
         "give either --run RUN"),
        (["db", "load", str(tmp_path / "missing.tar.gz"), "--db", sqlite_url], "no such backup file"),
        (["db", "load", str(not_an_archive), "--db", sqlite_url], "not a readable backup"),
    ]
    for args, message in cases:
        result = run_nngpt(*args, env=env)
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0 and len(lines) == 1 and message in lines[0], (args, result.stderr)
    assert not (tmp_path / "x.tar.gz").exists() and not Path(sqlite_url.removeprefix("sqlite:///")).exists()
