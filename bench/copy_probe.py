"""Does a model copy the donor block shown in a crossover prompt, or write the block it memorized?

    .venv/bin/python bench/copy_probe.py                       # the shipped model, 16 crossover prompts
    .venv/bin/python bench/copy_probe.py --model DIR --n 32 --seed 1

A model that is to write novel hybrids must copy a block it has never seen from its prompt. This
probe shows it one: crossover prompts of the default planner (the seed corpus as parents), where
the donor's block section, as the prompt shows it, has every integer literal of 2 or more raised by
one (kernel sizes, expansion ratios, channel counts: a block the training corpus never held). For
every completion that defines the donor's block classes, their tokens are compared (difflib, no
junk heuristic) with the block shown and with the original block of the training corpus. A model
that copies comes out closer to the shown block; one that recalls comes out closer to the original.
Prints the counts with a Wilson 95% interval.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "nngpt_core" / "corpus" / "seeds"
INTEGER = re.compile(r"(?<![\w.\-])([2-9]|[1-9]\d+)(?![\w.])")  # a literal >= 2, not inside a name, a float or an exponent


def raise_constants(section: str) -> str:
    """The section with each integer literal >= 2 raised by one (not inside a name, a float or an exponent)."""
    return INTEGER.sub(lambda m: str(int(m.group(1)) + 1), section)


def class_tokens(code: str, names: set[str]) -> list[str]:
    """The tokens of the classes called `names` in `code` (empty when it does not parse or has none)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    text = "\n".join(ast.get_source_segment(code, node) for node in tree.body
                     if isinstance(node, ast.ClassDef) and node.name in names)
    return re.findall(r"\w+|\S", text)


def similarity(a: list[str], b: list[str]) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/bootstrap", help="Model directory or id.")
    parser.add_argument("--n", type=int, default=16, help="Crossover prompts.")
    parser.add_argument("--seed", type=int, default=0, help="Planner and sampling seed.")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from nngpt_core.config import load_config
    from nngpt_core.corpus.crossover import donor_section
    from nngpt_core.llm.candidates import fits_context, generate_candidates
    from nngpt_core.llm.loading import load_model
    from nngpt_core.llm.modes import crossover_plan
    from nngpt_core.llm.prompts import PromptTemplate, Reference, TaskSpec
    from nngpt_core.loop.generation import planner_for
    from nngpt_core.loop.stats import wilson_interval

    torch.set_num_threads(args.threads)
    cfg = load_config(None, {"model.name_or_path": args.model, "model.device": "cpu",
                             "generation.modes": {"crossover": 1.0}})
    loaded = load_model(cfg.model)
    task = TaskSpec.for_dataset("digits32", cfg.generation.param_budget)
    fits = fits_context(loaded, PromptTemplate.load("default"), task, cfg.generation)
    plans, blocks = [], []
    for plan in planner_for(None, cfg).draw(args.n, args.seed, fits):
        network, donor = plan.references
        donor_code = (SEEDS / f"{donor.name}.py").read_text()
        original = donor_section(donor_code)
        shown = raise_constants(original)
        altered = crossover_plan(Reference(network.name, network.code, None),
                                 Reference(donor.name, donor_code.replace(original, shown), None))
        if altered is None or not fits(altered):
            continue
        names = {node.name for node in ast.parse(original).body if isinstance(node, ast.ClassDef)}
        plans.append(altered)
        blocks.append((names, class_tokens(shown, names), class_tokens(original, names)))
    candidates, _ = generate_candidates(loaded, cfg.generation, task, plans, args.seed, batch_size=8)
    closer_to_shown = closer_to_original = exact_original = with_block = 0
    for candidate, (names, shown, original) in zip(candidates, blocks):
        written = class_tokens(candidate.code or "", names)
        if not written:
            continue
        with_block += 1
        to_shown, to_original = similarity(written, shown), similarity(written, original)
        closer_to_shown += to_shown > to_original
        closer_to_original += to_original > to_shown
        exact_original += written == original
    print(f"{args.model}: {len(plans)} crossover prompts with an altered donor block, "
          f"{with_block} completions define the donor's block classes")
    for label, count in (("closer to the block shown (copied)", closer_to_shown),
                         ("closer to the memorized original", closer_to_original),
                         ("exactly the memorized original", exact_original)):
        low, high = wilson_interval(count, with_block) or (0.0, 0.0)
        print(f"  {label}: {count}/{with_block} (95% CI {low:.2f}-{high:.2f})")


if __name__ == "__main__":
    main()
