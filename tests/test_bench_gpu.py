"""bench/gpu.py --smoke runs end to end on the CPU with tiny sizes and prints both of its tables, so the
prepared GPU benchmark is known to run before it meets a device."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(900)
def test_gpu_bench_smoke_prints_its_tables():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu.py"), "--smoke"],
        capture_output=True, text=True, timeout=880, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "device: CPU (smoke sizes)" in out
    table_rows = [line for line in out.splitlines() if line.startswith("│")]
    rows = {name: next((line for line in table_rows if name in line), None) for name in (
        "paper: DataLoader, 1 worker", "ours: sandbox, 1 worker(s), data resident on the CPU, fp32, 32 px",
        "same transform, 40 px", "one at a time (2 prompts)", "batched (4 prompts in one call)")}
    assert all(rows.values()), out
    for name in ("paper: DataLoader, 1 worker", "32 px", "same transform, 40 px"):
        assert "(2 ok)" in rows[next(key for key in rows if name in key)], out  # both candidates trained and predicted
    assert "tokens/s" in out and "vs paper" in out
