"""Prompt templates and prompt building: task fields, references, the open fence, context limits."""

from __future__ import annotations

import pytest

from nngpt_core.errors import ConfigError, NngptError
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


def test_planner_draws_only_plans_that_fit_and_is_reproducible():
    from nngpt_core.llm.planner import Planner

    template = PromptTemplate.load("default")
    task = TaskSpec.for_dataset("digits32", 1_000_000)
    pool = [Reference("huge", "x = 1\n" * 500), *(Reference(f"small_{i}", f"import torch\nWIDTH = {i}\n") for i in range(5))]
    limit = len(template.prompt(task, [pool[1]])) + 10  # characters stand in for tokens
    fits = lambda plan: len(plan.prompt(template, task)) <= limit  # noqa: E731
    planner = Planner(pool, {}, {"full": 1.0})
    plans = planner.draw(12, seed=3, fits=fits)
    assert all(plan.references[0].name.startswith("small_") for plan in plans)
    assert len({plan.references[0].name for plan in plans}) > 1  # references vary between prompts
    assert plans == planner.draw(12, seed=3, fits=fits)
    assert Planner(pool, {}, {"full": 1.0}, references_per_prompt=0).draw(3, seed=3)[0].references == ()
    with pytest.raises(NngptError, match="none of the 1 reference architectures fits"):
        Planner(pool[:1], {}, {"full": 1.0}).draw(1, seed=0, fits=fits)


def test_restate_budget_replaces_only_the_stated_budget():
    template = PromptTemplate.load("default")
    task = TaskSpec.for_dataset("digits32", 2_000_000)
    prompt = template.prompt(task, [Reference("ref", "x = 2000000\n")])
    restated = template.restate_budget(prompt, 75_150)
    assert "at most 75,150 parameters" in restated and "2,000,000" not in restated
    assert restated.replace("75,150", "2,000,000") == prompt  # nothing else changed (the reference's 2000000 kept)
    assert "x = 2000000" in restated


def test_restate_budget_leaves_a_prompt_without_budget_unchanged(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("# $task on $dataset\n$references# $instruction\n```$fence\n")
    template = PromptTemplate.load(str(path))
    prompt = template.prompt(TaskSpec.for_dataset("digits", 1000))
    assert template.restate_budget(prompt, 5) == prompt
