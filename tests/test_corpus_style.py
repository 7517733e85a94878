"""The hand-written seeds follow one house style, and the style checker catches each kind of departure.

    .venv/bin/pytest tests/test_corpus_style.py
"""

from __future__ import annotations

import ast

import pytest

from nngpt_core.corpus import seed_sources
from nngpt_core.corpus.style import style_problems, undefined_names
from nngpt_core.novelty.normalize import code_hash

SEEDS = seed_sources()
GOOD = dict(SEEDS)["plain_cnn"]


def test_at_least_forty_distinct_seed_families():
    assert len(SEEDS) >= 40
    assert len({code_hash(code) for _, code in SEEDS}) == len(SEEDS)
    docstrings = {ast.get_docstring(ast.parse(code)) for _, code in SEEDS}
    assert len(docstrings) == len(SEEDS), "each family names itself differently"


@pytest.mark.parametrize("name,code", SEEDS, ids=[name for name, _ in SEEDS])
def test_seed_follows_house_style(name, code):
    assert style_problems(code) == []
    assert len(code.splitlines()) <= 110


def _class_source(code: str, class_name: str) -> str | None:
    for node in ast.parse(code).body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return ast.get_source_segment(code, node)
    return None


def test_shared_helper_is_spelled_identically_everywhere():
    conv_blocks = {_class_source(code, "ConvBlock") for _, code in SEEDS} - {None}
    assert len(conv_blocks) == 1
    users = [name for name, code in SEEDS if _class_source(code, "ConvBlock")]
    assert len(users) >= 30


@pytest.mark.parametrize(
    "edit,expected",
    [
        (lambda c: c.replace("import torch.nn.functional as F", "import torch.nn.functional as F\nimport os"), "import of 'os'"),
        (lambda c: c.replace("import torch\n", "from torch import nn\n", 1), "only top-level"),
        (lambda c: c.replace("ConvBlock(channels, width)", "ConvUnit(channels, width)"), "name 'ConvUnit' is used but never defined"),
        (lambda c: c.replace("clip_grad_norm_(self.parameters(), 3)", "clip_grad_norm_(self.parameters(), 5)"), "Net.learn differs"),
        (lambda c: c.replace("lr=prm['lr']", "lr=0.1"), "Net.train_setup differs"),
        (lambda c: c.replace("nn.Dropout(prm['dropout'])", "nn.Dropout(0.2)"), "'dropout' is declared but never used"),
        (lambda c: c.replace("{'lr', 'momentum', 'dropout'}", "{'lr', 'momentum'}"), "prm['dropout'] is used but not declared"),
        (lambda c: c.replace("WIDTH = 16", "WIDTH = 16  # base width"), "comments are not part"),
        (lambda c: c.replace("in_shape, out_shape, prm, device", "in_shape, out_shape, prm"), "Net.__init__ must take"),
        (lambda c: c.split("\n", 1)[1], "one-line docstring"),
        (lambda c: c.replace("class Net(", "class Model("), "no top-level class Net"),
        (lambda c: c + "\n  broken(", "syntax error"),
    ],
)
def test_style_checker_names_each_departure(edit, expected):
    changed = edit(GOOD)
    assert changed != GOOD
    problems = style_problems(changed)
    assert any(expected in problem for problem in problems), problems


def test_undefined_names_sees_through_nested_scopes():
    code = "import torch\nSIZE = 3\n\nclass A:\n    def f(self):\n        return [SIZE + k for k in range(LIMIT)]\n"
    assert undefined_names(code) == {"LIMIT"}
    assert undefined_names(code.replace("LIMIT", "SIZE")) == set()
