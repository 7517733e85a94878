"""bench/novelty.py --quick: every method answers, the database indexes find what brute force finds."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
METHODS = ("brute force (numpy)", "datasketch MinHashLSH (memory)", "database index, SQLite", "database index, PostgreSQL")


def test_quick_benchmark_prints_all_methods_side_by_side(postgres_url):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "novelty.py"), "--quick", "--postgres-url", postgres_url],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {}
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if cells and cells[0] in METHODS:
            rows[cells[0]] = cells
    assert set(rows) == set(METHODS)
    for name, (_, fill_s, p50, p95, speedup, found) in rows.items():
        assert float(p50) > 0 and float(p95) >= float(p50) and speedup.endswith("x")
        needed = re.fullmatch(r"(\d+)/(\d+)", found)
        assert needed and int(needed.group(2)) > 0, found
        if name != "brute force (numpy)":
            # LSH may miss a neighbour just above the threshold, rarely; the index must not miss many
            assert int(needed.group(1)) >= 0.9 * int(needed.group(2)), (name, found)
