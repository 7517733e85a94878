"""Extraction of code from completions: fences, unfenced code, several blocks, truncation, nothing usable."""

from __future__ import annotations

import ast

import pytest

from nngpt_core.llm.extract import extract_code

NET = """import torch.nn as nn


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.fc = nn.Linear(4, out_shape[0])

    def forward(self, x):
        return self.fc(x)
"""

HELPER = """import torch

def helper(x):
    return x * 2
"""


def defines_net(code: str) -> bool:
    return any(isinstance(node, ast.ClassDef) and node.name == "Net" for node in ast.parse(code).body)


def test_fenced_block_with_prose_around():
    completion = f"Here is a new model:\n```python\n{NET}```\nIt uses a linear layer."
    assert extract_code(completion) == NET


def test_completion_that_starts_inside_the_prompts_fence():
    # the prompt ends with an opening fence, so a completion is code followed by the closing fence
    assert extract_code(NET + "```\n") == NET


def test_unfenced_code_after_prose():
    code = extract_code("Sure, this should work well:\n" + NET)
    assert code == NET


def test_several_blocks_picks_the_one_defining_net():
    completion = f"```python\n{HELPER}```\nand the model:\n```py\n{NET}```\n```python\n{HELPER}```\n"
    assert extract_code(completion) == NET


def test_without_net_returns_the_largest_code_block():
    small = "import math\n"
    completion = f"```python\n{small}```\n```python\n{HELPER}```"
    assert extract_code(completion) == HELPER


def test_truncated_output_is_trimmed_to_last_complete_top_level_statement():
    truncated = HELPER + "\n\n" + NET + "\n\nclass Extra(nn.Module):\n    def forward(self, x):\n        return torch.cat([x,"
    code = extract_code(truncated)
    assert code is not None and defines_net(code)
    assert "Extra" not in code
    ast.parse(code)


def test_truncated_inside_net_keeps_what_parses():
    cut = NET[: NET.index("return self.fc")] + "return self.fc(x"
    code = extract_code("```python\n" + cut)
    assert code is not None
    assert "class Net" not in code  # the unfinished class is dropped, the imports stay
    assert code.startswith("import torch.nn as nn")


@pytest.mark.parametrize("completion", [
    "",
    "   \n\n",
    "```\n```\n```\n",
    "I cannot help with that.",
    "Sure",  # parses as an expression, but it is not code
    "```python\ndef broken(:\n```",
    "\x00\x01 garbage",
])
def test_nothing_usable_is_none(completion):
    assert extract_code(completion) is None
