"""`nngpt eval` and `nngpt doctor` through the real console entry point, in a subprocess."""

from __future__ import annotations

import json
import sqlite3

import pytest

from nngpt_cli.evaluate import evaluate_files
from nngpt_core.errors import ConfigError, NngptError
from tests.cli_helpers import run_nngpt
from tests.evaluator_helpers import CONTROL, EVALUATE

MARKUP = CONTROL.read_text().replace("self.device = device", "self.device = device\n        raise ValueError('[red]not markup[/red]')")


def test_eval_json_store_and_doctor(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("class Net(:\n")
    files = [str(CONTROL), str(EVALUATE / "lenet_cifar.py"), str(broken)]
    db = f"sqlite:///{tmp_path / 'nngpt.db'}"
    done = run_nngpt("eval", *files, "--dataset", "digits", "--timeout", "60", "--json", "--store", "--db", db)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["file"] for line in lines] == files
    assert [line["status"] for line in lines] == ["ok", "shape_error", "syntax_error"]
    for line in lines:
        assert {"file", "status", "accuracy", "error", "duration_s", "params", "flops"} <= set(line)
    assert lines[0]["accuracy"] > 0.5 and lines[0]["params"] == 2762 and lines[0]["error"] is None
    assert "too small" in lines[1]["error"]
    assert [line["stored"] for line in lines] == [True, True, False]
    with sqlite3.connect(tmp_path / "nngpt.db") as conn:
        architectures = conn.execute("SELECT name, origin, params FROM architectures ORDER BY id").fetchall()
        evaluations = conn.execute("SELECT status, dataset FROM evaluations ORDER BY id").fetchall()
    assert architectures == [("small_cnn", "seed", 2762), ("lenet_cifar", "seed", 61706)]  # counted before the failing forward
    assert evaluations == [("ok", "digits"), ("shape_error", "digits")]

    doctor = run_nngpt("doctor", "--db", db)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    for words in ("sandbox layers", "pid-ns", "audit-hook", "torch", "reachable, schema at head", "digits32"):
        assert words in doctor.stdout


def test_eval_table_shows_candidate_text_literally(tmp_path, capsys, monkeypatch):
    candidate = tmp_path / "markup.py"
    candidate.write_text(MARKUP)
    monkeypatch.setenv("COLUMNS", "200")
    evaluate_files([candidate, CONTROL], dataset="digits", timeout=60)
    table = capsys.readouterr().out
    assert "build_error" in table and "[red]not markup[/red]" in table
    assert "small_cnn.py" in table and "2,762" in table


def test_eval_refuses_bad_input_before_evaluating(tmp_path):
    with pytest.raises(NngptError, match="missing.py: no such file") as missing:
        evaluate_files([CONTROL, tmp_path / "missing.py"])
    assert missing.value.exit_code == 1
    with pytest.raises(ConfigError, match="evaluation.epochs") as bad_epochs:
        evaluate_files([CONTROL], epochs=0)
    assert bad_epochs.value.exit_code == 2
    with pytest.raises(NngptError, match="unknown origin"):
        evaluate_files([CONTROL], store=True, origin="alien")
