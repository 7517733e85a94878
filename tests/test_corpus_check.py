"""`nngpt corpus check`: a table of every seed's style and probe, and a failure for a file that breaks either.

    .venv/bin/pytest tests/test_corpus_check.py
"""

from __future__ import annotations

from typer.testing import CliRunner

from nngpt_cli import corpus as corpus_cli
from nngpt_core.corpus import seed_sources
from nngpt_core.errors import NngptError


def test_check_passes_every_seed():
    result = CliRunner().invoke(corpus_cli.corpus_app, ["check"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert f"corpus check: {len(seed_sources())} files" in result.output
    assert "resnet_basic" in result.output and "175258" in result.output


def test_check_fails_on_a_broken_file(monkeypatch):
    good = dict(seed_sources())["plain_cnn"]
    broken = [("good", good), ("undefined", good.replace("ConvBlock(channels, width)", "ConvUnit(channels, width)")),
              ("wrong_shape", good.replace("nn.Linear(channels, num_classes)", "nn.Linear(channels, num_classes + 1)"))]
    monkeypatch.setattr(corpus_cli, "seed_sources", lambda: broken)
    result = CliRunner().invoke(corpus_cli.corpus_app, ["check"], terminal_width=200)
    assert isinstance(result.exception, NngptError)
    assert "2 corpus check(s) failed" in str(result.exception)
    assert "ConvUnit" in result.output and "output shape" in result.output
