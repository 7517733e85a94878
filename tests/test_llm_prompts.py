"""Prompt templates and prompt building: task fields, references, the open fence, context limits."""

from __future__ import annotations

import pytest

from nngpt_core.errors import ConfigError, NngptError
from nngpt_core.llm.candidates import build_prompts
from nngpt_core.llm.prompts import PromptTemplate, Reference, TaskSpec


def test_unknown_template_is_a_config_error():
    with pytest.raises(ConfigError, match="no template 'nope'"):
        PromptTemplate.load("nope")


def test_prompt_carries_task_references_and_ends_with_open_fence():
    template = PromptTemplate.load("default")
    task = TaskSpec.for_dataset("digits", 123_456)
    prompt = template.prompt(task, [Reference("tiny_a", "import torch\n"), Reference("tiny_b", "import math\n")])
    assert "digits" in prompt and "(N, 1, 8, 8)" in prompt and "10 classes" in prompt and "123,456" in prompt
    assert prompt.index("tiny_a") < prompt.index("tiny_b")
    assert prompt.endswith("```python\n")
    assert "Reference" not in template.prompt(task, [])
    assert template.completion("\nimport torch\n\n") == "import torch\n```\n"


def test_prompts_draw_only_references_that_fit_and_are_reproducible():
    template = PromptTemplate.load("default")
    task = TaskSpec.for_dataset("digits32", 1_000_000)
    pool = [Reference("huge", "x = 1\n" * 500), *(Reference(f"small_{i}", f"import torch\nWIDTH = {i}\n") for i in range(5))]
    count = len  # characters stand in for tokens
    limit = count(template.prompt(task, [pool[1]])) + 10
    prompts = build_prompts(template, task, pool, 12, 1, seed=3, count_tokens=count, max_tokens=limit)
    assert all(refs[0].name.startswith("small_") for _, refs in prompts)
    assert len({refs[0].name for _, refs in prompts}) > 1  # references vary between prompts
    assert prompts == build_prompts(template, task, pool, 12, 1, seed=3, count_tokens=count, max_tokens=limit)
    assert build_prompts(template, task, pool, 3, 0, seed=3, count_tokens=count, max_tokens=limit)[0][1] == []
    with pytest.raises(NngptError, match="no reference architecture fits"):
        build_prompts(template, task, pool[:1], 1, 1, seed=0, count_tokens=count, max_tokens=limit)
