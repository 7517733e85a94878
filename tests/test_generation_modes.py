"""Generation modes: the crossover operator, prompts of each mode, diff application, the planner.

    .venv/bin/pytest tests/test_generation_modes.py
"""

from __future__ import annotations

import ast

import pytest

from nngpt_core.corpus import seed_sources
from nngpt_core.corpus.crossover import compatible, donor_section, main_block, transplant
from nngpt_core.corpus.expander import Edit
from nngpt_core.corpus.hybrids import block_family_of, family_of, split_family_pairs
from nngpt_core.llm.diffs import DiffError, apply_diff, parse_hunks, unified_diff
from nngpt_core.llm.modes import answer_code, as_delta, crossover_plan, mutation_plan, parent_roles
from nngpt_core.llm.planner import Planner
from nngpt_core.llm.prompts import PromptTemplate, Reference, TaskSpec

SEEDS = dict(seed_sources())
TASK = TaskSpec("digits32", (3, 32, 32), 10, 1_000_000)


def _classes(code: str) -> list[str]:
    return [node.name for node in ast.parse(code).body if isinstance(node, ast.ClassDef)]


def test_main_block_is_the_class_net_repeats_in_its_deepest_loop():
    assert main_block(SEEDS["resnet_basic"]) == "ResidualBlock"
    assert main_block(SEEDS["densenet"]) == "DenseLayer"  # not Transition, added once per stage
    assert main_block(SEEDS["efficientnet"]) == "MBConv"
    assert main_block(SEEDS["lenet"]) is None  # no helper class at all


def test_transplant_puts_the_donor_block_into_the_skeleton_network():
    hybrid = transplant(SEEDS["vgg"], SEEDS["efficientnet"], "Hybrid.")
    compile(hybrid, "hybrid", "exec")
    assert ast.get_docstring(ast.parse(hybrid)) == "Hybrid."
    assert _classes(hybrid) == ["ConvBlock", "SqueezeExcite", "MBConv", "Net"]  # the shared ConvBlock once
    net = ast.get_source_segment(hybrid, next(n for n in ast.parse(hybrid).body if getattr(n, "name", "") == "Net"))
    assert "MBConv(channels, width)" in net and "HIDDEN" in net  # vgg's head, efficientnet's block
    assert "EXPANSION = 4" in hybrid and "REDUCTION = 4" in hybrid  # constants the donor block needs


def test_transplant_renames_a_donor_helper_that_clashes_with_a_different_skeleton_helper():
    skeleton = SEEDS["mobilenet_v2"]  # its stem uses ConvBlock
    donor = SEEDS["vgg"].replace("self.act(self.norm(self.conv(x)))", "self.norm(self.act(self.conv(x)))")
    hybrid = transplant(skeleton, donor)
    classes = _classes(hybrid)
    assert "ConvBlock" in classes and "ConvBlock2" in classes and "InvertedResidual" not in classes
    assert "self.stem = ConvBlock(" in hybrid and "layers.append(ConvBlock2(" in hybrid


def test_compatible_refuses_same_block_and_too_few_arguments():
    assert compatible(SEEDS["resnet_basic"], SEEDS["resnet_basic"]) is None
    assert compatible(SEEDS["convmixer"], SEEDS["resnet_basic"]) is None  # MixerBlock(channels) cannot feed (in, out)
    assert compatible(SEEDS["resnet_basic"], SEEDS["convmixer"]) == ("ResidualBlock", "MixerBlock")


def test_family_names_and_the_trained_split_are_disjoint_and_reproducible():
    assert family_of("vgg__width24") == "vgg" and family_of("vgg__x__efficientnet") == "vgg"
    assert block_family_of("vgg__width24__x__efficientnet__kernel5") == "efficientnet"
    seeds = list(SEEDS.items())[:8]
    trained, held_out = split_family_pairs(seeds, 0.5, seed=0)
    assert trained and held_out and not set(trained) & set(held_out)
    assert (trained, held_out) == split_family_pairs(seeds, 0.5, seed=0)
    assert split_family_pairs(seeds, 0.5, seed=1) != (trained, held_out)


def test_split_by_donor_holds_out_every_pair_of_a_held_out_donor_family():
    seeds = list(SEEDS.items())[:12]
    trained, held_out = split_family_pairs(seeds, 0.5, seed=0, by="donor")
    trained_donors, held_out_donors = {d for _, d in trained}, {d for _, d in held_out}
    assert trained_donors and held_out_donors and not trained_donors & held_out_donors
    assert sorted(trained + held_out) == sorted(split_family_pairs(seeds, 0.5, seed=0)[0] + split_family_pairs(seeds, 0.5, seed=0)[1])
    assert (trained, held_out) == split_family_pairs(seeds, 0.5, seed=0, by="donor")
    with pytest.raises(ValueError, match="unknown family-pair split"):
        split_family_pairs(seeds, 0.5, seed=0, by="network")


def test_crossover_prompt_shows_network_and_donor_section_with_the_instruction():
    plan = crossover_plan(Reference("vgg", SEEDS["vgg"], 3), Reference("efficientnet", SEEDS["efficientnet"], 9))
    prompt = plan.prompt(PromptTemplate.load("default"), TASK)
    assert plan.mode == "crossover" and plan.parent_ids == [3, 9]
    assert "# Parent network vgg:" in prompt and "# Donor blocks from efficientnet:" in prompt
    assert donor_section(SEEDS["efficientnet"]).strip() in prompt and "class Net" in prompt.split("# Donor")[0]
    assert "its ConvBlock blocks replaced by the MBConv blocks of efficientnet" in prompt
    assert prompt.endswith("```python\n")
    assert crossover_plan(Reference("a", SEEDS["lenet"]), Reference("b", SEEDS["vgg"])) is None
    assert parent_roles("crossover", 2) == ["network", "blocks"] and parent_roles("mutation", 1) == ["parent"]


def test_mutation_prompt_names_each_change():
    plan = mutation_plan(Reference("vgg", SEEDS["vgg"]), [Edit("WIDTH", "24"), Edit("~norm-after-act", "")])
    assert plan.instruction == "Write vgg with these changes: WIDTH 16 -> 24; norm after act."


def test_delta_answers_apply_exactly_fuzzily_or_fall_back_to_a_whole_file():
    parent = SEEDS["vgg"]
    child = parent.replace("HIDDEN = 128", "HIDDEN = 256").replace("nn.Linear(channels, HIDDEN),", "nn.Linear(channels, HIDDEN, bias=False),")
    diff = unified_diff(parent, child)
    plan = as_delta(mutation_plan(Reference("vgg", parent), [Edit("WIDTH", "24")]))
    assert plan.fence == "diff" and plan.instruction.startswith("Answer with a unified diff against vgg: ")
    assert answer_code(plan, diff + "```\n")[0] == child
    # wrong header line numbers and lost indentation of the context still place the hunks
    drifted = diff.replace("@@ -", "@@ -1").replace("\n         ", "\n  ")
    assert apply_diff(parent, drifted) == child
    with pytest.raises(DiffError, match="matches no lines"):
        apply_diff(parent, "@@ -1,2 +1,2 @@\n-nothing like this\n-exists in the file\n+x = 1\n+y = 2\n")
    with pytest.raises(DiffError, match="no hunk"):
        apply_diff(parent, "no diff here\n")
    code, _, error = answer_code(plan, "@@ -1 +1 @@\n-absent line\n+x\n```\n")
    assert code is None and "matches no lines" in error
    whole = answer_code(plan, SEEDS["resnet_basic"] + "```\n")  # a complete file instead of a diff is taken
    assert whole[0] is not None and "class Net" in whole[0]
    assert len(parse_hunks(diff)) == 2


def test_planner_asks_only_for_combinations_the_model_was_never_trained_on():
    pool = [Reference(name, SEEDS[name], i) for i, name in enumerate(["vgg", "efficientnet", "resnet_basic", "mobilenet_v1"])]
    families = {ref.architecture_id: (ref.name, ref.name) for ref in pool}
    trained = [("vgg", "efficientnet"), ("vgg", "resnet_basic"), ("resnet_basic", "efficientnet")]
    planner = Planner(pool, families, {"crossover": 1.0}, trained_pairs=trained)
    plans = planner.draw(40, seed=1)
    combos = {(p.references[0].name, p.references[1].name) for p in plans}
    assert combos and not combos & set(trained)
    assert all(a != b for a, b in combos)
    mixed = Planner(pool, families, {"crossover": 1.0, "mutation": 1.0, "delta": 1.0}).draw(30, seed=2)
    assert {p.mode for p in mixed} == {"crossover", "mutation", "delta"}
    assert all(p.fence == "diff" for p in mixed if p.mode == "delta")


def test_delta_improve_requests_show_the_parent_with_its_recorded_accuracy():
    pool = [Reference("vgg", SEEDS["vgg"], 4), Reference("efficientnet", SEEDS["efficientnet"], 5)]
    planner = Planner(pool, {}, {"delta": 1.0}, delta_request="improve", accuracies={4: 0.5123}, dataset="cifar10")
    plans = planner.draw(12, seed=0)
    assert {p.mode for p in plans} == {"delta"} and all(len(p.references) == 1 and p.fence == "diff" for p in plans)
    instructions = {p.references[0].name: p.instruction for p in plans}
    assert instructions["vgg"] == ("Answer with a unified diff against vgg: improve its first-epoch accuracy "
                                   "(now 0.512 on cifar10).")
    assert instructions["efficientnet"].endswith("improve its first-epoch accuracy.")  # nothing recorded: no number


def test_planner_asks_only_for_requests_whose_operator_answer_is_novel_in_the_store(store):
    """The store holds the operator's hybrid of one combination: that request is never made again,
    the others still are; mutation answers are judged the same way."""
    from nngpt_core.config import load_config
    from nngpt_core.loop.generation import novel_against
    from nngpt_core.novelty.admission import admit

    cfg = load_config(None)
    pool = [Reference(name, SEEDS[name], i) for i, name in enumerate(["vgg", "efficientnet", "resnet_basic", "mobilenet_v1"])]
    families = {ref.architecture_id: (ref.name, ref.name) for ref in pool}
    free = Planner(pool, families, {"crossover": 1.0}).draw(40, seed=1)
    assert all(plan.answer and "class Net" in plan.answer for plan in free)
    combos = {(p.references[0].name, p.references[1].name): p.answer for p in free}
    taken = sorted(combos)[0]
    admit(store, combos[taken], novelty=cfg.novelty, name="hybrid", origin="synthetic")
    novel = novel_against(store, cfg)
    assert not novel(combos[taken]) and novel(combos[sorted(combos)[1]])
    checked = Planner(pool, families, {"crossover": 1.0}, answer_can_be_novel=novel).draw(40, seed=1)
    asked = {(p.references[0].name, p.references[1].name) for p in checked}
    assert taken not in asked and asked
    for ref in pool:  # with every parent stored, a mere width change is never worth asking for
        admit(store, ref.code, novelty=cfg.novelty, name=ref.name, origin="seed")
    planner = Planner(pool, families, {"mutation": 1.0}, answer_can_be_novel=novel)
    mutations = planner.draw(20, seed=3)
    asked_novel = [plan for plan in mutations if novel(plan.answer)]
    assert len(asked_novel) == 20 - planner.without_novel_answer  # the rest: none was found in 40 draws, asked anyway
    unchecked = Planner(pool, families, {"mutation": 1.0}).draw(20, seed=3)
    assert len(asked_novel) > sum(novel(plan.answer) for plan in unchecked)
