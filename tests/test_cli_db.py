"""`nngpt db upgrade|stats|export` and `nngpt import` through the real console entry, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import func, select

from nngpt_core.store.engine import open_store
from nngpt_core.store.models import Architecture, Candidate, Cycle, Run, Signature
from tests.cli_helpers import run_nngpt

SEEDS = Path(__file__).resolve().parent.parent / "nngpt_core" / "corpus" / "seeds"


def _folder_with_a_broken_file(tmp_path: Path) -> Path:
    folder = tmp_path / "ab" / "nn" / "nn"
    folder.mkdir(parents=True)
    for name in ("resnet_basic.py", "vgg.py", "mlp_mixer.py"):
        shutil.copy(SEEDS / name, folder / name)
    (folder / "Broken.py").write_text("class Net(nn.Module:\n    pass\n")
    (folder / "NotAnArchitecture.py").write_text("def helper():\n    return 1\n")
    return folder


def test_upgrade_import_stats_export(store_url, tmp_path):
    assert run_nngpt("db", "upgrade", "--db", store_url).returncode == 0
    folder = _folder_with_a_broken_file(tmp_path)
    result = run_nngpt("import", str(folder), "--db", store_url)
    assert result.returncode == 0, result.stderr
    assert "imported 3 new" in result.stderr and "Broken.py" in result.stderr and "NotAnArchitecture.py" in result.stderr
    again = run_nngpt("import", str(folder), "--db", store_url)
    assert "imported 0 new, 3 already stored" in again.stderr

    store = open_store(store_url)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Architecture)) == 3
        assert set(session.scalars(select(Architecture.origin))) == {"seed"}
        assert session.scalar(select(func.count()).select_from(Signature)) == 3  # indexed for novelty
        run = Run(name="r", base_model="m", dataset="digits")
        session.add(run)
        session.flush()
        cycle = Cycle(run_id=run.id, index=0)
        session.add(cycle)
        session.flush()
        session.add_all([
            Candidate(run_id=run.id, cycle_id=cycle.id, index=i, prompt="p", completion=f"c{i}", code=f"x = {i}",
                      status=status, accuracy=acc)
            for i, (status, acc) in enumerate([("ok", 0.5), ("no_code", None)])
        ])
        run_id = run.id
    store.dispose()

    stats = run_nngpt("db", "stats", "--db", store_url)
    assert stats.returncode == 0
    assert "architectures" in stats.stdout and "seed=3" in stats.stdout

    exported = run_nngpt("db", "export", "--run", str(run_id), "--format", "jsonl", "--db", store_url)
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [(r["candidate"], r["status"], r["accuracy"], r["code"]) for r in rows] == [
        (0, "ok", 0.5, "x = 0"), (1, "no_code", None, "x = 1")]
    missing = run_nngpt("db", "export", "--run", "999", "--db", store_url)
    assert missing.returncode == 1 and "run 999 not found" in missing.stderr


def test_import_of_a_missing_path_is_one_line(sqlite_url, tmp_path):
    result = run_nngpt("import", str(tmp_path / "nowhere"), "--db", sqlite_url)
    assert result.returncode == 1 and result.stderr.strip().count("\n") == 0 and "no such file" in result.stderr
