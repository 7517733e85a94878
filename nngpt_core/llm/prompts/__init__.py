"""Prompt templates (the .txt files beside this module) and their rendering.

    from nngpt_core.llm.prompts import PromptTemplate, TaskSpec, Reference
    template = PromptTemplate.load("default")            # or a path to your own template file
    task = TaskSpec.for_dataset("digits32", param_budget=2_000_000)      # shapes from the data registry
    prompt = template.prompt(task, [Reference("resnet_basic", code)])
    pair = template.pair(task, [Reference("resnet_basic", code)], variant_code)   # {"prompt", "completion"}
    template.prompt(task, [Reference("vgg", code, role="network"), Reference("efficientnet", blocks, role="blocks")],
                    instruction="Write a hybrid: ...")                          # a crossover prompt

One template makes both generation prompts and SFT pairs, so the model is fine-tuned on exactly the
text it is prompted with. A prompt ends with an opening code fence and a newline, and a completion
starts with code, so the split falls on a token boundary for byte-level BPE tokenizers (a newline
followed by a letter never merges into one token). Templates use `string.Template` placeholders:
$task $dataset $in_shape $classes $param_budget $references (the rendered `reference.txt` blocks,
each labelled by its role), $instruction (what the generation mode asks for) and $fence (the
language of the answer's code fence: python, or diff in delta mode).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from nngpt_core.errors import ConfigError

TEMPLATE_DIR = Path(__file__).parent
REFERENCE_TEMPLATE = "reference"
COMPLETION_TEMPLATE = "completion"


@dataclass(frozen=True)
class TaskSpec:
    """What the prompt asks for: the dataset, its image shape (C, H, W), classes and the parameter budget."""

    dataset: str
    in_shape: tuple[int, ...]
    classes: int
    param_budget: int
    task: str = "image classification"

    @classmethod
    def for_dataset(cls, dataset: str, param_budget: int) -> TaskSpec:
        """The task of a registered dataset (NngptError for an unknown name)."""
        from nngpt_core.data.registry import get_spec

        spec = get_spec(dataset)
        return cls(dataset, tuple(spec.in_shape), spec.num_classes, param_budget)


# How a reference is introduced in the prompt, by the role it plays for the generation mode.
ROLE_LABELS = {
    "reference": "Reference architecture",  # full mode: an example to differ from
    "parent": "Parent architecture",  # mutation and delta: the file to change
    "network": "Parent network",  # crossover: the network that is kept
    "blocks": "Donor blocks from",  # crossover: the blocks that move in (the donor's block section)
}
FULL_INSTRUCTION = "Write a new architecture for this task that differs from every reference above."


@dataclass(frozen=True)
class Reference:
    """An architecture shown in the prompt (retrieval-augmented prompting), in the role its mode gives it.

    `code` is what the prompt shows: the whole file, or for a crossover donor its block section."""

    name: str
    code: str
    architecture_id: int | None = None
    role: str = "reference"


def _read_template(name_or_path: str) -> tuple[str, string.Template]:
    path = Path(name_or_path)
    if not path.suffix:
        path = TEMPLATE_DIR / f"{name_or_path}.txt"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in TEMPLATE_DIR.glob("*.txt")))
        raise ConfigError(f"generation.prompt_template: no template '{name_or_path}' (known: {known}, or a path to a .txt file)")
    return str(path), string.Template(path.read_text(encoding="utf-8"))


def _line_pattern(text: str) -> str:
    """A regex for a piece of a template line: its text literally, any other placeholder as any text."""
    parts = re.split(r"\$\{?\w+\}?", text)
    return ".*?".join(re.escape(part) for part in parts)


def _substitute(origin: str, template: string.Template, **values: object) -> str:
    try:
        return template.substitute(**values)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"{origin}: bad placeholder {exc} (known: {', '.join(sorted(values))})") from None


@dataclass(frozen=True)
class PromptTemplate:
    """A loaded prompt template plus the shared reference-block and completion templates."""

    origin: str
    body: string.Template
    reference_block: string.Template
    completion_block: string.Template

    @classmethod
    def load(cls, name_or_path: str = "default") -> PromptTemplate:
        origin, body = _read_template(name_or_path)
        return cls(origin, body, _read_template(REFERENCE_TEMPLATE)[1], _read_template(COMPLETION_TEMPLATE)[1])

    def prompt(self, task: TaskSpec, references: list[Reference] | tuple[Reference, ...] = (),
               instruction: str = FULL_INSTRUCTION, fence: str = "python") -> str:
        """The generation prompt; the model's completion continues it with code (or a diff)."""
        blocks = "".join(
            _substitute("reference.txt", self.reference_block, label=ROLE_LABELS[ref.role], name=ref.name,
                        code=ref.code.strip("\n"))
            for ref in references
        )
        return _substitute(
            self.origin,
            self.body,
            task=task.task,
            dataset=task.dataset,
            in_shape="(N, " + ", ".join(str(n) for n in task.in_shape) + ")",
            classes=task.classes,
            param_budget=f"{task.param_budget:,}",
            references=blocks,
            instruction=instruction,
            fence=fence,
        )

    def restate_budget(self, prompt: str, params: int) -> str:
        """`prompt` (made by this template) with the budget its template states replaced by `params`;
        unchanged when the template states no budget. The paper's SFT pairs state 1.5x the real
        parameter count, so the model learns what a budget means."""
        line = next((line for line in self.body.template.splitlines() if "$param_budget" in line), None)
        if line is None:
            return prompt
        before, after = line.split("$param_budget", 1)
        pattern = re.compile(_line_pattern(before) + r"([\d,]+)" + _line_pattern(after) + "$", re.MULTILINE)
        match = pattern.search(prompt)
        if match is None:
            return prompt
        return prompt[: match.start(1)] + f"{params:,}" + prompt[match.end(1):]

    def completion(self, code: str) -> str:
        """The completion a model should produce for `code` (code, then the closing fence)."""
        return _substitute("completion.txt", self.completion_block, code=code.strip("\n"))

    def pair(self, task: TaskSpec, references: list[Reference] | tuple[Reference, ...], code: str,
             instruction: str = FULL_INSTRUCTION, fence: str = "python") -> dict[str, str]:
        """An SFT example in trl's prompt/completion format (`code` is the answer: a file or a diff)."""
        return {"prompt": self.prompt(task, references, instruction, fence), "completion": self.completion(code)}
