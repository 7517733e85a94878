"""RunConfig: defaults, YAML loading, environment override, one-line errors with exit code 2."""

from __future__ import annotations

import pytest

from nngpt_core.config import DATABASE_URL_ENV, RunConfig, load_config, mask_url
from nngpt_core.errors import ConfigError
from tests.cli_helpers import run_nngpt


def _fields(model_cls):
    for name, info in model_cls.model_fields.items():
        yield model_cls, name, info
        annotation = info.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            yield from _fields(annotation)


def test_every_field_has_a_default_and_a_description():
    RunConfig()  # constructible from defaults alone
    missing = [f"{cls.__name__}.{name}" for cls, name, info in _fields(RunConfig) if not info.description]
    assert missing == []


@pytest.mark.parametrize("path", ["configs/default.yaml", "configs/smoke.yaml"])
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.cycles >= 1 and cfg.evaluation.dataset.startswith("digits")


def test_smoke_is_smaller_than_default():
    default, smoke = load_config("configs/default.yaml"), load_config("configs/smoke.yaml")
    assert smoke.generation.candidates_per_cycle < default.generation.candidates_per_cycle
    assert smoke.cycles == 2 and default.cycles == 5


def test_overrides_apply_dotted_paths():
    cfg = load_config(None, {"evaluation.epochs": 3, "cycles": 5})
    assert cfg.evaluation.epochs == 3 and cfg.cycles == 5


@pytest.mark.parametrize(
    "yaml_text, field",
    [
        ("cycles: 0\n", "cycles"),
        ("evaluation:\n  epochs: many\n", "evaluation.epochs"),
        ("generation:\n  temprature: 0.5\n", "generation.temprature"),
        ("store:\n  url: mysql://u:p@h/db\n", "store.url"),
    ],
)
def test_invalid_config_names_the_field(tmp_path, yaml_text, field):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert field in message and "\n" not in message


def test_broken_yaml_reports_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("cycles: 2\nmodel: [unclosed\n")
    with pytest.raises(ConfigError, match="line"):
        load_config(path)


def test_environment_url_wins_and_is_masked(monkeypatch):
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://alice:s3cret@db.example:5432/nngpt")
    cfg = load_config(None, {"store.url": "sqlite:///x.db"})
    assert cfg.store.resolved_url().startswith("postgresql://alice:s3cret@")
    masked = cfg.store.resolved_url(masked=True)
    assert "s3cret" not in masked and "***" in masked


def test_default_url_is_sqlite_in_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    cfg = load_config(None, {"store.data_dir": str(tmp_path)})
    assert cfg.store.resolved_url() == f"sqlite:///{tmp_path / 'nngpt.db'}"


def test_mask_url_never_leaks_unparsable_input():
    assert "hunter2" not in mask_url("::not a url hunter2")


def test_cli_invalid_config_exits_2_with_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("evaluation:\n  timeout_s: -1\n")
    result = run_nngpt("db", "stats", "--config", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "evaluation.timeout_s" in lines[0]


def test_cli_bad_database_url_exits_2_without_password():
    result = run_nngpt("db", "stats", env={DATABASE_URL_ENV: "oracle://scott:tiger@host/db"})
    assert result.returncode == 2
    assert "tiger" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
