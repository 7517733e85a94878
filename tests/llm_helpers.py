"""Shared fixtures of the LLM tests: a small slice of the seed corpus and a tiny bootstrap model trained on it.

The tiny model is real (tokenizer trained by the tokenizers library, LlamaForCausalLM trained from
scratch by our loop), only small: it is trained once per test session, in seconds, so that
loading, generation and SFT tests exercise the same code paths as the shipped model.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.console import Console

SLICE_FILES = 6
TINY_STEPS = 30


@pytest.fixture(scope="session")
def corpus_slice() -> list[tuple[str, str]]:
    from nngpt_core.corpus import seed_sources

    return sorted(seed_sources(), key=lambda source: len(source[1]))[:SLICE_FILES]  # the shortest: fast tests


def tiny_settings(out: Path, **overrides):
    from nngpt_core.llm.bootstrap.settings import BootstrapSettings

    values = dict(out=out, vocab_size=400, hidden_size=32, layers=1, heads=2, intermediate_size=64, max_length=4096,
                  steps=TINY_STEPS, minutes=5, threads=1, batch_tokens=4096, warmup_steps=2, learning_rate=1e-2,
                  holdout_share=0.2)
    values.update(overrides)
    return BootstrapSettings.quick(**values)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, corpus_slice):
    """(path, BootstrapResult) of a tiny bootstrap model trained on the corpus slice."""
    from nngpt_core.llm.bootstrap import bootstrap

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = tmp_path_factory.mktemp("tiny_bootstrap")
    result = bootstrap(tiny_settings(out), corpus_slice, console=Console(quiet=True))
    return out, result
