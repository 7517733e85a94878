"""Back up a whole store to one file and load it into an empty store: `nngpt db export --all` / `nngpt db load`.

    from nngpt_core.store.backup import export_store, load_store
    export_store(store, Path("nngpt-backup.tar.gz"))                       # every table, adapter files included
    load_store(empty_store, Path("nngpt-backup.tar.gz"), Path(".nngpt/adapters"))

The archive is a gzipped tar with
- `manifest.json`: format version, the schema revision, rows per table, the adapter directories;
- `tables/<table>.jsonl`: every row of every table (all but alembic's own), one JSON object per row,
  bytes in base64 (MinHash signatures) and times in ISO 8601;
- `adapters/<id>/...`: the files of every LoRA adapter in the store.
It is independent of the database: a SQLite store loads into PostgreSQL and back.

Loading needs an empty store (no rows; its schema may be missing or at any revision up to the
archive's): it migrates the store to the archive's revision, inserts the rows with their ids (so
runs, cycles and candidates keep their numbers and `nngpt run --resume RUN` continues where the
archive left off), moves PostgreSQL's id sequences past them, then migrates to this nngpt's head.
Adapter path policy: the files are written to `<adapters_dir>/<the adapter directory's own name>`
and each adapter row's `path` is rewritten to that new absolute path; nothing else in the archive
names a host path. The archive holds no password: a run's stored config has its database URL masked.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, Engine, LargeBinary, MetaData, Table, func, insert, select, text

from nngpt_core.errors import NngptError
from nngpt_core.store.engine import Store
from nngpt_core.store.migrate import MIGRATIONS_DIR, current_revision, downgrade, head_revision, upgrade
from nngpt_core.versions import environment_versions

FORMAT = "nngpt-store-backup"
FORMAT_VERSION = 1
SKIPPED_TABLES = ("alembic_version",)
# Rows the schema itself makes (a store's random id, made by migration 0006): an empty store has
# them, and a restored store takes the backup's instead, since it is the same store.
MADE_WITH_SCHEMA = ("store_identity",)
BATCH_ROWS = 1000

Progress = Callable[[str, int], None]  # (what, rows done so far); called as rows go by


@dataclass
class BackupReport:
    rows: dict[str, int] = field(default_factory=dict)
    adapters: dict[int, str] = field(default_factory=dict)  # adapter id -> its directory (written or read)
    revision: str | None = None

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _tables(engine: Engine) -> list[Table]:
    """The store's tables as the database has them, parents before children (foreign keys)."""
    metadata = MetaData()
    metadata.reflect(engine, views=False)
    return [table for table in metadata.sorted_tables if table.name not in SKIPPED_TABLES]


def _primary_order(table: Table) -> list:
    return list(table.primary_key.columns) or list(table.columns)


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _decoder(table: Table) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Turns an archived row back into values for `table`'s column types (as this database has them)."""
    binary = {c.name for c in table.columns if isinstance(c.type, LargeBinary)}
    times = {c.name for c in table.columns if isinstance(c.type, DateTime)}
    known = {c.name for c in table.columns}

    def decode(row: dict[str, Any]) -> dict[str, Any]:
        unknown = set(row) - known
        if unknown:
            raise NngptError(f"backup: table {table.name} has no column {', '.join(sorted(unknown))} at this revision")
        values = dict(row)
        for name in binary & values.keys():
            if values[name] is not None:
                values[name] = base64.b64decode(values[name])
        for name in times & values.keys():
            if values[name] is not None:
                stamp = datetime.fromisoformat(values[name])
                values[name] = stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)  # SQLite keeps UTC, naive
        return values

    return decode


def _rows(engine: Engine, table: Table) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=BATCH_ROWS).execute(select(table).order_by(*_primary_order(table)))
        for row in result.mappings():
            yield {name: _encode(value) for name, value in row.items()}


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(timezone.utc).timestamp())
    archive.addfile(info, io.BytesIO(data))


def export_store(store: Store, out: Path, progress: Progress | None = None) -> BackupReport:
    """Write every row of the store and every adapter's files to the archive `out` (a .tar.gz)."""
    revision = current_revision(store)
    if revision is None:
        raise NngptError(f"{store.masked_url} has no schema: nothing to back up (nngpt db upgrade creates it)")
    report = BackupReport(revision=revision)
    tables = _tables(store.engine)
    adapters = {t.name: t for t in tables}.get("adapters")
    with store.engine.connect() as conn:
        adapter_paths = dict(conn.execute(select(adapters.c.id, adapters.c.path)).all()) if adapters is not None else {}
    for adapter_id, path in adapter_paths.items():
        if not Path(path).is_dir():
            raise NngptError(f"adapter {adapter_id}: its directory {path} is missing; a backup without its files "
                             "could not resume the run")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, "w:gz") as archive:
        for table in tables:
            buffer = io.BytesIO()
            count = 0
            for row in _rows(store.engine, table):
                buffer.write(json.dumps(row, ensure_ascii=False, sort_keys=True).encode() + b"\n")
                count += 1
                if progress is not None and count % BATCH_ROWS == 0:
                    progress(table.name, count)
            _add_bytes(archive, f"tables/{table.name}.jsonl", buffer.getvalue())
            report.rows[table.name] = count
            if progress is not None:
                progress(table.name, count)
        for adapter_id, path in sorted(adapter_paths.items()):
            archive.add(path, arcname=f"adapters/{adapter_id}")
            report.adapters[adapter_id] = path
            if progress is not None:
                progress(f"adapter {adapter_id}", 1)
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "revision": revision, "dialect": store.dialect,
            "created_at": datetime.now(timezone.utc).isoformat(), "versions": environment_versions(),
            "rows": report.rows, "adapters": {str(k): Path(v).name for k, v in report.adapters.items()},
        }
        _add_bytes(archive, "manifest.json", json.dumps(manifest, indent=1).encode())
    partial.replace(out)  # a failed export never leaves a file that looks complete
    return report


def _read_manifest(archive: tarfile.TarFile, path: Path) -> dict[str, Any]:
    try:
        manifest = json.load(archive.extractfile("manifest.json"))
    except (KeyError, ValueError, AttributeError):
        raise NngptError(f"{path}: not an nngpt store backup (no readable manifest.json)") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise NngptError(f"{path}: unsupported backup format {manifest.get('format')} "
                         f"version {manifest.get('format_version')} (this nngpt reads version {FORMAT_VERSION})")
    return manifest


def _check_empty(store: Store) -> None:
    if current_revision(store) is None:
        return
    for table in _tables(store.engine):
        if table.name in MADE_WITH_SCHEMA:
            continue
        with store.engine.connect() as conn:
            if conn.execute(select(func.count()).select_from(table)).scalar():
                raise NngptError(f"{store.masked_url} is not empty (table {table.name} has rows): "
                                 "a backup loads only into an empty store")


def _migrate_to(store: Store, revision: str, archive_path: Path) -> None:
    """Bring the (empty) store's schema to `revision`, up or down."""
    history = [script.revision for script in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()]  # head first
    if revision not in history:
        raise NngptError(f"{archive_path}: written at schema revision {revision}, which this nngpt does not know "
                         f"(its head is {head_revision()}): load it with the nngpt version that wrote it")
    current = current_revision(store)
    if current is not None and history.index(current) < history.index(revision):
        downgrade(store, revision)
    else:
        upgrade(store, revision)


def _restore_adapters(archive: tarfile.TarFile, manifest: dict[str, Any], adapters_dir: Path) -> dict[int, str]:
    """Unpack each adapter's files to adapters_dir/<its directory name>; {adapter id: new absolute path}."""
    targets: dict[int, Path] = {}
    for key, name in manifest.get("adapters", {}).items():
        target = (adapters_dir / PurePosixPath(name).name).resolve()
        if target.exists():
            raise NngptError(f"adapter {key}: {target} already exists; load into another --adapters-dir")
        targets[int(key)] = target
    staging = adapters_dir / ".nngpt-restoring"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        members = [m for m in archive.getmembers() if m.name.startswith("adapters/")]
        archive.extractall(staging, members=members, filter="data")  # refuses absolute paths, links out, devices
        for adapter_id, target in targets.items():
            (staging / "adapters" / str(adapter_id)).rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {adapter_id: str(target) for adapter_id, target in targets.items()}


def _reset_sequences(store: Store, tables: list[Table]) -> None:
    """PostgreSQL: the next generated id of every table comes after the restored ones."""
    if store.dialect != "postgresql":
        return  # SQLite's INTEGER PRIMARY KEY continues after the largest id by itself
    with store.engine.begin() as conn:
        for table in tables:
            if "id" in table.columns and table.c.id.primary_key and table.c.id.autoincrement:
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"))


def _open_backup(archive_path: Path) -> tarfile.TarFile:
    if not archive_path.is_file():
        raise NngptError(f"{archive_path}: no such backup file")
    try:
        return tarfile.open(archive_path, "r:gz")
    except (tarfile.TarError, OSError) as exc:
        raise NngptError(f"{archive_path}: not a readable backup ({type(exc).__name__})") from None


def read_backup_manifest(archive_path: Path) -> dict[str, Any]:
    """The archive's manifest; NngptError (one line) when the file is missing or not an nngpt backup."""
    with _open_backup(archive_path) as archive:
        return _read_manifest(archive, archive_path)


def load_store(store: Store, archive_path: Path, adapters_dir: Path, progress: Progress | None = None) -> BackupReport:
    """Load the archive into the empty `store`; adapter files go under `adapters_dir`. Returns what was loaded."""
    with _open_backup(archive_path) as archive:
        manifest = _read_manifest(archive, archive_path)
        revision = manifest["revision"]
        _check_empty(store)
        _migrate_to(store, revision, archive_path)  # the schema the rows were written under
        report = BackupReport(revision=revision)
        paths = _restore_adapters(archive, manifest, adapters_dir)
        tables = _tables(store.engine)
        try:
            with store.engine.begin() as conn:
                for table in tables:
                    member = f"tables/{table.name}.jsonl"
                    try:
                        handle = archive.extractfile(member)
                    except KeyError:
                        raise NngptError(f"{archive_path}: table {table.name} is missing from the backup") from None
                    decode = _decoder(table)
                    if table.name in MADE_WITH_SCHEMA:
                        conn.execute(table.delete())
                    batch: list[dict[str, Any]] = []
                    count = 0
                    for line in handle:
                        row = decode(json.loads(line))
                        if table.name == "adapters":
                            row["path"] = paths.get(row["id"], row["path"])
                        batch.append(row)
                        if len(batch) >= BATCH_ROWS:
                            conn.execute(insert(table), batch)
                            count += len(batch)
                            batch.clear()
                            if progress is not None:
                                progress(table.name, count)
                    if batch:
                        conn.execute(insert(table), batch)
                        count += len(batch)
                    report.rows[table.name] = count
                    if progress is not None:
                        progress(table.name, count)
                    if count != manifest["rows"].get(table.name, count):
                        raise NngptError(f"{archive_path}: table {table.name} holds {count} rows, "
                                         f"the manifest says {manifest['rows'][table.name]}")
        except BaseException:
            for path in paths.values():  # the rows were rolled back: leave no files behind either
                shutil.rmtree(path, ignore_errors=True)
            raise
        report.adapters = {int(k): v for k, v in paths.items()}
        _reset_sequences(store, tables)
    upgrade(store)
    return report
