"""`nngpt similarity A.py B.py --lexical-only`: one JSON object with lexical estimated/exact Jaccard and the verdict.

The structural signal (a sandboxed forward pass) is tested in test_similarity_structural.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from nngpt_cli.main import app
from nngpt_core.errors import NngptError

PAIRS = Path(__file__).parent / "fixtures" / "novelty_pairs"
NNGPT = Path(sys.executable).parent / "nngpt"


def similarity(*args: str) -> dict:
    result = CliRunner().invoke(app, ["similarity", "--lexical-only", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_renamed_copy_is_a_near_duplicate():
    report = similarity(str(PAIRS / "inception_mini.py"), str(PAIRS / "inception_mini__renamed.py"))
    assert report["lexical"] == {"estimated": 1.0, "exact": 1.0}
    assert (report["verdict"], report["decided_by"]) == ("near_duplicate", "lexical")
    assert report["thresholds"] == {"lexical": 0.7} and "structural" not in report


def test_different_architectures_are_novel():
    report = similarity(str(PAIRS / "vit_tiny.py"), str(PAIRS / "densenet_tiny.py"))
    assert report["verdict"] == "novel" and report["decided_by"] is None
    assert 0 < report["lexical"]["exact"] < 0.5 and report["lexical"]["estimated"] < report["thresholds"]["lexical"]


def test_same_normalized_code_is_an_exact_duplicate(tmp_path):
    copy = tmp_path / "copy.py"
    copy.write_text("# a comment the hash ignores\n" + (PAIRS / "mlp.py").read_text())
    report = similarity(str(PAIRS / "mlp.py"), str(copy))
    assert (report["verdict"], report["decided_by"]) == ("exact_duplicate", "code_hash")


def test_threshold_and_settings_come_from_the_config(tmp_path):
    config = tmp_path / "strict.yaml"
    config.write_text("novelty:\n  lexical_threshold: 0.99\n  num_perm: 256\n  shingle_k: 7\n")
    a, b = str(PAIRS / "se_cnn.py"), str(PAIRS / "se_cnn__widths.py")
    assert similarity(a, b)["verdict"] == "near_duplicate"
    strict = similarity(a, b, "--config", str(config))
    assert strict["verdict"] == "novel"
    assert strict["settings"] == {"shingle_k": 7, "num_perm": 256, "seed": 1}


def test_console_script_prints_one_json_line_and_fails_cleanly(tmp_path):
    ok = subprocess.run([str(NNGPT), "similarity", "--lexical-only", str(PAIRS / "lenet.py"), str(PAIRS / "lenet__reformatted.py")],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.strip().splitlines()) == 1
    assert json.loads(ok.stdout)["verdict"] == "near_duplicate"

    broken = tmp_path / "broken.py"
    broken.write_text("class Net(nn.Module:\n    pass\n")
    bad = subprocess.run([str(NNGPT), "similarity", "--lexical-only", str(PAIRS / "lenet.py"), str(broken)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stdout == ""
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {broken}: not valid Python (line 1")


def test_missing_file_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(app, ["similarity", "--lexical-only", str(PAIRS / "lenet.py"), str(tmp_path / "nope.py")])
    assert isinstance(result.exception, NngptError)
    assert str(result.exception) == f"{tmp_path / 'nope.py'}: cannot read (FileNotFoundError)"
