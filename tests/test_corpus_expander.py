"""The expander: edits splice into the seed's own text, and the stream is distinct, valid and reproducible.

    .venv/bin/pytest tests/test_corpus_expander.py
"""

from __future__ import annotations

import ast
import difflib
import itertools
import os

import pytest
import torch

from nngpt_core.corpus import expanded_sources, seed_sources
from nngpt_core.corpus.expander import Edit, apply_edits, knobs, possible_edits, within_budget
from nngpt_core.corpus.probe import probe
from nngpt_core.corpus.style import style_problems
from nngpt_core.errors import NngptError
from nngpt_core.novelty.normalize import code_hash

os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)
SEEDS = dict(seed_sources())
RESNET = SEEDS["resnet_basic"]


def _changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_knob_edit_changes_only_its_line():
    variant = apply_edits(RESNET, [Edit("WIDTH", "24"), Edit("ACTIVATION", "nn.GELU")])
    assert sorted(_changed_lines(RESNET, variant)) == ["+ACTIVATION = nn.GELU", "+WIDTH = 24", "-ACTIVATION = nn.ReLU", "-WIDTH = 16"]
    assert ast.unparse(knobs(variant)["WIDTH"]) == "24"


def test_block_order_rewrites():
    swapped = apply_edits(RESNET, [Edit("~norm-after-act", "")])
    assert _changed_lines(RESNET, swapped) == [
        "-        return self.act(self.norm(self.conv(x)))",
        "+        return self.norm(self.act(self.conv(x)))",
    ]
    branch = apply_edits(RESNET, [Edit("~act-in-branch", "")])
    assert "+        return self.act(self.norm(self.conv2(self.conv1(x)))) + self.shortcut(x)" in _changed_lines(RESNET, branch)


def test_nested_rewrite_matches_are_all_rewritten():
    code = "class A:\n    def forward(self, x):\n        return self.act(self.norm(self.act(self.norm(x))))\n"
    assert "self.norm(self.act(self.norm(self.act(x))))" in apply_edits(code, [Edit("~norm-after-act", "")])


def test_possible_edits_never_repeat_the_current_value_or_go_below_one():
    edits = possible_edits(SEEDS["efficientnet"])
    assert Edit("DEPTH", "0") not in edits and Edit("DEPTH", "2") in edits
    assert Edit("ACTIVATION", "nn.SiLU") not in edits and Edit("ACTIVATION", "nn.GELU") in edits
    assert all(apply_edits(SEEDS["efficientnet"], [edit]) != SEEDS["efficientnet"] for edit in edits)


def test_budget_rejects_a_variant_that_is_too_large():
    huge = apply_edits(RESNET, [Edit("WIDTH", "128")])
    assert probe(huge).ok
    assert not within_budget(huge)
    assert "over budget" in probe(huge, max_params=500_000).error


def test_probe_reports_a_broken_variant_in_one_line():
    broken = apply_edits(SEEDS["vit"], [Edit("HEADS", "3")])  # 64 channels do not split into 3 heads
    report = probe(broken)
    assert not report.ok and report.error.startswith("RuntimeError") and "\n" not in report.error
    assert not within_budget(broken)


@pytest.fixture(scope="module")
def stream() -> list[tuple[str, str]]:
    return list(expanded_sources(16, seed=3))


def test_stream_is_distinct_valid_and_in_house_style(stream):
    assert len(stream) == 16
    assert len({name for name, _ in stream}) == 16
    seed_hashes = {code_hash(code) for code in SEEDS.values()}
    hashes = {code_hash(code) for _, code in stream}
    assert len(hashes) == 16 and not hashes & seed_hashes
    for name, code in stream:
        assert style_problems(code) == [], name
        assert name.split("__")[0] in SEEDS
    families = {name.split("__")[0] for name, _ in stream}
    assert len(families) == 16, "the first round gives every variant a different family"


def test_stream_is_deterministic_and_seed_dependent(stream):
    assert list(expanded_sources(6, seed=3)) == stream[:6], "a shorter stream is a prefix of a longer one"
    assert list(itertools.islice(expanded_sources(16, seed=4), 6)) != stream[:6]


def test_bad_count_is_refused():
    assert list(expanded_sources(0)) == []
    with pytest.raises(NngptError, match="at least 0"):
        list(expanded_sources(-1))
