"""evaluation.device: `auto` picks what the evaluating machine has; a device it lacks fails in one line."""

from __future__ import annotations

import pytest

from nngpt_core.config import load_config
from nngpt_core.errors import ConfigError, NngptError
from nngpt_core.evaluate import device as device_module
from nngpt_core.evaluate.device import resolve_evaluation_device
from nngpt_core.loop import preflight


@pytest.mark.parametrize(("gpus", "spec", "resolved"), [
    (0, "auto", "cpu"), (1, "auto", "cuda"), (0, "cpu", "cpu"), (2, "cuda", "cuda"), (2, "cuda:1", "cuda:1"),
])
def test_auto_picks_what_the_machine_has(monkeypatch, gpus, spec, resolved):
    # the GPU count is the edge this machine cannot reach (it has no GPU): set it, the rule is real
    monkeypatch.setattr(device_module, "cuda_device_count", lambda: gpus)
    assert resolve_evaluation_device(spec) == resolved


@pytest.mark.parametrize(("gpus", "spec", "fragment"), [
    (0, "cuda", "'cuda' requested but this machine has no CUDA device (use auto or cpu)"),
    (1, "cuda:1", "'cuda:1' requested but this machine has 1 CUDA device(s)"),
    (0, "gpu", "unknown device 'gpu'"),
])
def test_a_device_the_machine_lacks_fails_in_one_line(monkeypatch, gpus, spec, fragment):
    monkeypatch.setattr(device_module, "cuda_device_count", lambda: gpus)
    with pytest.raises(ConfigError) as refused:
        resolve_evaluation_device(spec)
    assert fragment in str(refused.value) and "\n" not in str(refused.value)


def test_this_machine_resolves_auto_and_preflight_refuses_a_missing_gpu(tmp_path):
    import torch

    assert resolve_evaluation_device("auto") == ("cuda" if torch.cuda.device_count() else "cpu")
    assert load_config(None).evaluation.device == "auto"  # the default a Quick run from the UI gets
    if torch.cuda.device_count() == 0:
        cfg = load_config(None, {"evaluation.device": "cuda", "store.data_dir": str(tmp_path)})
        with pytest.raises(NngptError, match="no CUDA device"):
            preflight.check(cfg)
        assert not (tmp_path / "nngpt.db").exists()  # refused before the store was touched
