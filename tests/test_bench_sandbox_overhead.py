"""bench/sandbox_overhead.py runs end to end on two seeds: each file is timed on both sides, and the
summary's ratio is the ratio of the per-file seconds it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(240)
def test_paired_overhead_bench_times_every_file_on_both_sides():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sandbox_overhead.py"), "--rounds", "1", "--count", "2", "--modes", "fork"],
        capture_output=True, text=True, timeout=230, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    summary = next(line for line in out.splitlines() if line.startswith("│ fork"))
    cells = [cell.strip() for cell in summary.strip("│").split("│")]
    pairs, unsandboxed, sandboxed = int(cells[1]), float(cells[2]), float(cells[3])
    ratio = float(re.match(r"([\d.]+)x \[([\d.]+), ([\d.]+)\]", cells[4]).group(1))
    assert pairs == 2 and unsandboxed > 0 and sandboxed > 0
    assert ratio == pytest.approx(sandboxed / unsandboxed, abs=0.06)  # the table's sums are rounded to 0.1 s
    per_file = {line.split("│")[1].strip(): line.split("│")[2] for line in out.splitlines()
                if line.startswith("│ alexnet_lite") or line.startswith("│ all_conv")}
    assert set(per_file) == {"alexnet_lite", "all_conv"}
    for cell in per_file.values():
        left, right = (float(x) for x in cell.split("/"))
        assert left > 0 and right > 0
