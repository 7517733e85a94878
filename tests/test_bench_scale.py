"""bench/scale.py --quick runs end to end and prints both tables (the Prefect part is left out: its
ephemeral server alone takes longer than the rest of the smoke run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(150)
def test_scale_bench_quick_prints_its_tables():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--quick", "--no-prefect"],
        capture_output=True, text=True, timeout=140, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "evaluation stage: evaluate_candidates on M=2 candidates" in out
    for header in ("workers", "wall s", "start-up s", "candidates/min", "speed-up vs 1 worker"):
        assert header in out
    rows = [line for line in out.splitlines() if line.startswith("│ 1 ") or line.startswith("│ 2 ")]
    assert len(rows) == 2 and all("2/2" in row for row in rows), out  # both seeds ok with 1 and 2 workers
    assert "1.00x" in rows[0]
    assert "orchestration overhead, no evaluation" in out and "store writes (SQLite)" in out
