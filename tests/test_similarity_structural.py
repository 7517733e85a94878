"""`nngpt similarity` with the structural signal: disguised copies are duplicates, other families novel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_nngpt

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "architectures"


@pytest.mark.parametrize("a, b, verdicts", [
    ("small_resnet.py", "disguised/small_resnet_renamed.py", {"near_duplicate", "exact_duplicate"}),
    ("mlp_mixer.py", "disguised/mlp_mixer_permuted.py", {"near_duplicate", "exact_duplicate"}),
    ("small_resnet.py", "mlp_mixer.py", {"novel"}),
])
def test_structural_verdicts(a, b, verdicts):
    result = run_nngpt("similarity", str(FIXTURES / a), str(FIXTURES / b))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sandbox"]["a"]["status"] == report["sandbox"]["b"]["status"] == "ok"
    assert set(report["lexical"]) >= {"estimated", "exact"} and set(report["structural"]) >= {"estimated", "exact"}
    assert report["verdict"] in verdicts
    if verdicts == {"novel"}:
        assert report["structural"]["exact"] < 0.5


def test_a_file_that_does_not_run_has_no_structural_signal(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text((FIXTURES / "plain_cnn.py").read_text().replace("def forward(self, x):", "def forward(self, x):\n        raise ValueError('no')"))
    report = json.loads(run_nngpt("similarity", str(FIXTURES / "plain_cnn.py"), str(broken)).stdout)
    assert report["structural"] is None and report["sandbox"]["b"]["status"] != "ok"
    assert report["lexical"]["exact"] > 0.8
