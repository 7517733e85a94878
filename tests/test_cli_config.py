"""`nngpt config show [--docs]`: the effective config as YAML that loads back, every field documented, no password."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel

from nngpt_core.config import RunConfig, config_from_dict
from tests.cli_helpers import run_nngpt

ROOT = Path(__file__).resolve().parent.parent


def descriptions(model: type[BaseModel]) -> list[str]:
    found = []
    for field in model.model_fields.values():
        found.append(field.description)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            found += descriptions(field.annotation)
    return found


def test_docs_list_every_field_with_its_default_and_description_and_load_back():
    result = run_nngpt("config", "show", "--docs")
    assert result.returncode == 0, result.stderr
    assert config_from_dict(yaml.safe_load(result.stdout)) == RunConfig()
    comments = {line.strip() for line in result.stdout.splitlines() if line.strip().startswith("#")}
    missing = [text for text in descriptions(RunConfig) if f"# {text}" not in comments]
    assert not missing and len(descriptions(RunConfig)) > 80
    assert "  # type: int, >= 1; default: 32" in result.stdout.splitlines()  # generation.candidates_per_cycle
    assert "`nngpt config show --docs`" in (ROOT / "configs" / "default.yaml").read_text()  # the pointer holds


def test_show_applies_the_file_and_the_database_option_and_masks_the_password(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"cycles": 5, "evaluation": {"dataset": "digits"},
                                    "orchestration": {"evaluation_backend": "pool"}}))
    result = run_nngpt("config", "show", "--config", str(path), "--db", "postgresql://alice:hunter2@db.example/nngpt")
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert shown["cycles"] == 5 and shown["evaluation"]["dataset"] == "digits"
    assert shown["evaluation"]["sandbox"]["require"] == "all"  # the pool backend's default
    assert shown["store"]["url"] == "postgresql://alice:***@db.example/nngpt" and "hunter2" not in result.stdout


def test_a_bad_config_is_one_line(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("evaluation: {timeout_s: -1}\n")
    result = run_nngpt("config", "show", "--config", str(path))
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        f"error: {path}: evaluation.timeout_s: Input should be greater than 0 (got -1)"]
