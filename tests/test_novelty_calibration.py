"""The configured novelty defaults on the labelled pairs, and the calibration script that chose them."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from nngpt_core.config import NoveltyConfig
from nngpt_core.novelty.compare import compare_sources

ROOT = Path(__file__).parent.parent
PAIRS = ROOT / "tests" / "fixtures" / "novelty_pairs"


def test_defaults_never_call_different_architectures_duplicates_and_catch_every_textual_copy():
    cfg = NoveltyConfig()
    with open(PAIRS / "pairs.csv", newline="") as handle:
        pairs = list(csv.DictReader(handle))
    assert len(pairs) >= 30 and {p["label"] for p in pairs} == {"duplicate", "different"}
    false_duplicates, missed_copies = [], []
    for pair in pairs:
        verdict = compare_sources((PAIRS / pair["a"]).read_text(), (PAIRS / pair["b"]).read_text(), cfg)["verdict"]
        if pair["label"] == "different" and verdict != "novel":
            false_duplicates.append(pair)
        # restructured copies are rewritten by hand: the structural signature, not the lexical one, must catch them
        if pair["transform"] in {"renamed", "reformatted", "renamed_reformatted", "widths"} and verdict == "novel":
            missed_copies.append(pair)
    assert false_duplicates == []
    assert missed_copies == []


def test_calibration_script_prints_the_grid_for_every_setting():
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "novelty_calibration.py"), "--seeds", "1"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    with open(PAIRS / "pairs.csv", newline="") as handle:
        assert f"{len(list(csv.DictReader(handle)))} labelled pairs" in out
    grid_rows = [line for line in out.splitlines() if line.count("/") >= 8 and line.strip().startswith("│")]
    assert len(grid_rows) == 4 * 3  # k in {3,5,7,10} x num_perm in {64,128,256}
    assert "architecture only" in out and "with train_setup/learn" in out
