"""Generation modes: what a prompt asks the model for, and how its answer becomes code.

    from nngpt_core.llm.modes import crossover_plan, mutation_plan, full_plan, answer_code
    plan = crossover_plan(Reference("vgg", vgg_code, 3), Reference("efficientnet", eff_code, 9))
    prompt = plan.prompt(template, task)          # parents in their roles, the instruction, the open fence
    plan.answer                                   # the operator's own hybrid: what a right answer looks like
    code, diff, error = answer_code(plan, completion)

- full: one or more references; "write a new architecture that differs from every reference".
- crossover: a parent network and a donor's block section; "the network of A built from the blocks
  of B" (nngpt_core.corpus.crossover makes the training targets of this mode).
- mutation: one parent and named changes of its knobs (nngpt_core.corpus.expander's edits).
- delta: a crossover or a mutation answered as a unified diff against the parent, or (the delta
  paper's request) a parent with its recorded accuracy to improve, answered as a diff; applied with
  fuzzy hunk matching (nngpt_core.llm.diffs); a complete file in the answer is taken as it is.

The same plans make the bootstrap model's training pairs and the loop's prompts, so the model is
asked at generation time exactly what it was trained to do. A plan's references carry the parents'
architecture ids: the candidate's lineage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nngpt_core.corpus.crossover import compatible, crossover_docstring, donor_section, transplant
from nngpt_core.corpus.expander import Edit, apply_edits
from nngpt_core.llm.diffs import DiffError, apply_diff
from nngpt_core.llm.extract import extract_code
from nngpt_core.llm.prompts import FULL_INSTRUCTION, PromptTemplate, Reference, TaskSpec

MODES = ("full", "crossover", "mutation", "delta")
DIFF_INSTRUCTION = "Answer with a unified diff against {name}: "


@dataclass(frozen=True)
class Plan:
    """One prompt's request: the mode, the references in their roles, the instruction and the answer's fence."""

    mode: str
    references: tuple[Reference, ...]
    instruction: str
    fence: str = "python"
    # the operator's own answer to the request (the crossover's transplant, the mutation's edits applied),
    # the file the bootstrap model was trained to write for such a prompt; None where no operator defines one
    answer: str | None = None

    def prompt(self, template: PromptTemplate, task: TaskSpec) -> str:
        return template.prompt(task, self.references, self.instruction, self.fence)

    @property
    def parent(self) -> Reference | None:
        """The file a delta answer is applied to (the first reference)."""
        return self.references[0] if self.references else None

    @property
    def parent_ids(self) -> list[int]:
        return [ref.architecture_id for ref in self.references if ref.architecture_id is not None]


def parent_roles(mode: str, parents: int) -> list[str]:
    """The roles of a candidate's parents (its reference ids in prompt order), for its lineage."""
    if mode in ("crossover", "delta") and parents == 2:
        return ["network", "blocks"]
    if mode in ("mutation", "delta"):
        return ["parent"] * parents
    return ["reference"] * parents


def full_plan(references: list[Reference] | tuple[Reference, ...]) -> Plan:
    return Plan("full", tuple(references), FULL_INSTRUCTION)


def crossover_instruction(network: str, donor: str, old: str, new: str) -> str:
    return f"Write a hybrid: the network of {network} with its {old} blocks replaced by the {new} blocks of {donor}."


def crossover_plan(network: Reference, donor: Reference) -> Plan | None:
    """Network of `network` with the main block of `donor`; None when the two cannot be combined."""
    try:
        blocks = compatible(network.code, donor.code)
        section = donor_section(donor.code) if blocks else None
    except (SyntaxError, ValueError):
        return None
    if blocks is None or section is None:
        return None
    old, new = blocks
    shown_donor = Reference(donor.name, section, donor.architecture_id, role="blocks")
    return Plan("crossover", (Reference(network.name, network.code, network.architecture_id, role="network"), shown_donor),
                crossover_instruction(network.name, donor.name, old, new),
                answer=transplant(network.code, donor.code, crossover_docstring(network.name, donor.name, new)))


def describe_edits(code: str, edits: list[Edit]) -> str:
    """The changes in words: 'WIDTH 16 -> 24; ACTIVATION nn.ReLU -> nn.GELU; norm after act'."""
    from nngpt_core.corpus.expander import knobs
    import ast

    constants = knobs(code)
    parts = []
    for edit in edits:
        if edit.knob.startswith("~"):
            parts.append(edit.knob[1:].replace("-", " "))
        else:
            parts.append(f"{edit.knob} {ast.unparse(constants[edit.knob])} -> {edit.value}")
    return "; ".join(parts)


def mutation_plan(parent: Reference, edits: list[Edit]) -> Plan:
    instruction = f"Write {parent.name} with these changes: {describe_edits(parent.code, edits)}."
    return Plan("mutation", (Reference(parent.name, parent.code, parent.architecture_id, role="parent"),), instruction,
                answer=apply_edits(parent.code, edits))


def as_delta(plan: Plan) -> Plan:
    """The same request answered as a unified diff against the plan's first reference (its parent)."""
    parent = plan.references[0]
    instruction = DIFF_INSTRUCTION.format(name=parent.name) + plan.instruction
    return Plan("delta", plan.references, instruction, fence="diff", answer=plan.answer)


def improve_plan(parent: Reference, accuracy: float | None, dataset: str) -> Plan:
    """The delta paper's request: a baseline with its accuracy, improved, answered as a diff."""
    known = f" (now {accuracy:.3f} on {dataset})" if accuracy is not None else ""
    instruction = DIFF_INSTRUCTION.format(name=parent.name) + f"improve its first-epoch accuracy{known}."
    return Plan("delta", (Reference(parent.name, parent.code, parent.architecture_id, role="parent"),), instruction, fence="diff")


_DIFF_END = re.compile(r"^```", re.MULTILINE)


def answer_code(plan: Plan, completion: str) -> tuple[str | None, str | None, str | None]:
    """(code, diff, error) of a completion: the extracted file, or the parent with the diff applied.

    A delta answer that holds a whole file with class Net is taken as that file (the fallback the
    delta paper uses); a diff that cannot be applied gives no code and the reason."""
    if plan.fence != "diff":
        return extract_code(completion), None, None
    diff = _DIFF_END.split(completion, maxsplit=1)[0]
    try:
        return apply_diff(plan.parent.code, diff), diff, None
    except DiffError as exc:
        code = extract_code(completion)
        if code is not None and "class Net" in code:
            return code, diff, None
        return None, diff, str(exc)
