"""Model loading errors: offline ids, missing directories, 4-bit without CUDA; all one line."""

from __future__ import annotations

import pytest

from nngpt_core.config import ModelConfig
from nngpt_core.errors import ConfigError, NngptError
from nngpt_core.llm.loading import load_model, resolve_model_path
from tests.cli_helpers import run_nngpt


def test_hub_id_not_in_cache_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_hf_home"))  # an empty cache: nothing is downloaded
    with pytest.raises(NngptError) as err:
        load_model(ModelConfig(name_or_path="nngpt-test/no-such-model", device="cpu"))
    message = str(err.value)
    assert "not available offline" in message and "hf download nngpt-test/no-such-model" in message
    assert "\n" not in message


def test_missing_local_directory_names_the_fix(tmp_path):
    with pytest.raises(NngptError, match="nngpt bootstrap"):
        load_model(ModelConfig(name_or_path=str(tmp_path / "nothing_here"), device="cpu"))


def test_4bit_needs_cuda(tmp_path):
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        load_model(ModelConfig(name_or_path=str(tmp_path), device="cpu", load_in_4bit=True))


def test_default_model_path_resolves_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    resolved = resolve_model_path("models/bootstrap")
    assert resolved.endswith("models/bootstrap") and resolved != "models/bootstrap"


def test_cli_generate_with_missing_model_fails_in_one_line(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"model:\n  name_or_path: {tmp_path / 'absent'}\n")
    result = run_nngpt("generate", "--n", "1", "--out", str(tmp_path / "out"), "--config", str(config),
                       "--db", f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error: model")
