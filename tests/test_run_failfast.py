"""`nngpt run` that cannot work fails at once: non-zero exit, exactly one line on stderr, nothing started.

Nothing started means: no data directory (no SQLite file, no run row, no adapters or reports) and
no Prefect server (PREFECT_HOME stays empty), so the error comes in seconds, not mid-cycle.
The cases run as parallel subprocesses (each is mostly Python start-up).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tests.flow_helpers import loop_env

CASES = {
    # name: (config, extra arguments, exit code, what the one line says, files the data directory may hold)
    "unknown_field": ({"evaluation": {"bogus": 1}}, [], 2, "evaluation.bogus: Extra inputs are not permitted", None),
    "bad_value": ({"evaluation": {"timeout_s": -1}}, [], 2, "evaluation.timeout_s: Input should be greater than 0", None),
    "unreachable_database": ({"store": {"url": "postgresql://nobody@127.0.0.1:1/x"}}, [], 1,
                             "database postgresql://nobody@127.0.0.1:1/x unreachable or refused", None),
    "missing_model": ({"model": {"name_or_path": "{tmp}/no-such-model"}}, [], 1, "is not a loadable model directory", None),
    # the store must be opened to look the run up: only its (migrated, empty) SQLite file and the
    # migration lock beside it may remain
    "resume_of_an_unknown_run": ({}, ["--resume", "7"], 1, "run 7 not found",
                                 {"nngpt.db", "nngpt.db-wal", "nngpt.db-shm", "nngpt.db.migrate-lock"}),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Start every case at once; {name: (exit code, stderr, its tmp folder)}."""
    started = {}
    for name, (overrides, extra, *_) in CASES.items():
        folder = tmp_path_factory.mktemp(name)
        config = yaml.safe_load(yaml.safe_dump(overrides).replace("{tmp}", str(folder)))
        config = {"cycles": 1, **config, "store": {"data_dir": str(folder / "data"), **config.get("store", {})}}
        path = folder / "run.yaml"
        path.write_text(yaml.safe_dump(config))
        env = loop_env(folder)
        started[name] = (subprocess.Popen(
            [sys.executable, "-m", "nngpt_cli.main", "run", "--config", str(path), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=folder,
        ), folder)
    results = {}
    for name, (process, folder) in started.items():
        try:
            _, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
        results[name] = (process.returncode, stderr, folder)
    return results


@pytest.mark.timeout(180)
@pytest.mark.parametrize("case", list(CASES))
def test_run_fails_fast_with_one_line_and_starts_nothing(case, outcomes):
    _, _, exit_code, message, allowed = CASES[case]
    returncode, stderr, folder = outcomes[case]
    assert returncode == exit_code, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], stderr
    data = folder / "data"
    if allowed is None:
        assert not data.exists(), sorted(p.name for p in data.rglob("*"))
    else:
        assert {p.name for p in data.iterdir()} <= allowed
    assert os.listdir(folder / "prefect") == [], "a Prefect server was started"
