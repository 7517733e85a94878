"""The bootstrap pipeline on a small corpus slice: tokenizer, pairs, training, saving, loading and sampling."""

from __future__ import annotations

import ast
import json
import os
import random
import re

import pytest
import torch

from nngpt_core.config import GenerationConfig, ModelConfig
from nngpt_core.corpus.training import TrainingCorpus
from nngpt_core.llm.bootstrap import TRAINING_RECORD, training_tasks
from nngpt_core.llm.bootstrap.pairs import KEPT_NAMES, rename_helpers, training_pairs
from nngpt_core.llm.bootstrap.tokenizer import train_tokenizer
from nngpt_core.llm.generate import sample
from nngpt_core.llm.loading import load_model
from nngpt_core.llm.prompts import PromptTemplate, Reference, TaskSpec
from tests.llm_helpers import TINY_STEPS, corpus_slice, tiny_model, tiny_training_corpus  # noqa: F401  (fixtures)

torch.set_num_threads(1)


def test_tokenizer_round_trips_code_and_prompts_end_on_a_token_boundary(corpus_slice):
    template = PromptTemplate.load("default")
    pairs = training_pairs(tiny_training_corpus(corpus_slice), template, training_tasks(), seed=3, delta_share=0.5,
                           bare_share=1.0)
    tokenizer = train_tokenizer((p["prompt"] + p["completion"] for p in pairs), vocab_size=500)
    name, code = corpus_slice[0]
    assert tokenizer.decode(tokenizer(code, add_special_tokens=False)["input_ids"]) == code
    assert len(tokenizer(code)["input_ids"]) < len(code.encode()) / 2  # merges learned: code is compressed
    for pair in pairs:
        joint = tokenizer(pair["prompt"] + pair["completion"], add_special_tokens=False)["input_ids"]
        split = (tokenizer(pair["prompt"], add_special_tokens=False)["input_ids"]
                 + tokenizer(pair["completion"], add_special_tokens=False)["input_ids"])
        assert joint == split


def test_pairs_teach_crossover_mutation_and_delta_from_the_corpus(corpus_slice):
    from nngpt_core.llm.diffs import apply_diff

    corpus = tiny_training_corpus(corpus_slice)
    code_of = corpus.code_of()
    template = PromptTemplate.load("default")
    task = [TaskSpec("digits32", (3, 32, 32), 10, 1000)]
    pairs = training_pairs(corpus, template, task, seed=0, delta_share=0.0, bare_share=0.0)
    hybrids = [f for f in corpus.files if f.origin == "synthetic"]
    variants = [f for f in corpus.files if f.origin == "expanded"]
    assert len(pairs) == len(hybrids) + len(variants)  # seeds appear only as parents without bare_share
    hybrid = hybrids[0]
    network, donor = hybrid.parents
    pair = next(p for p in pairs if p["completion"] == template.completion(hybrid.code))
    assert f"# Parent network {network}:" in pair["prompt"] and f"# Donor blocks from {donor}:" in pair["prompt"]
    assert "Write a hybrid: the network of" in pair["prompt"] and code_of[network].strip() in pair["prompt"]
    variant = variants[0]
    pair = next(p for p in pairs if p["completion"] == template.completion(variant.code))
    knob, value = variant.edits[0]
    assert f"with these changes: {knob} " in pair["prompt"] and f"-> {value}" in pair["prompt"]
    deltas = training_pairs(corpus, template, task, seed=0, delta_share=1.0, bare_share=0.0)
    assert all(p["prompt"].endswith("```diff\n") for p in deltas)
    diff = next(p for p in deltas if "Answer with a unified diff against " + network in p["prompt"])["completion"]
    assert apply_diff(code_of[network], diff.removesuffix("```\n")) == hybrid.code


def _top_level_names(code: str) -> list[str]:
    return [node.name for node in ast.parse(code).body if isinstance(node, (ast.ClassDef, ast.FunctionDef))]


def test_renaming_is_consistent_across_reference_and_target_and_keeps_the_interface():
    from nngpt_core.corpus import seed_sources

    seeds = dict(seed_sources())
    codes = [seeds["resnet_basic"], seeds["se_resnet"]]  # both define ConvBlock and ResidualBlock
    renamed = rename_helpers(codes, random.Random(0))
    mappings = []
    for before, after in zip(codes, renamed):
        old, new = _top_level_names(before), _top_level_names(after)
        assert [a == b for a, b in zip(old, new)] == [a in KEPT_NAMES for a in old]  # only helpers change
        mappings.append(dict(zip(old, new)))
    assert mappings[0]["ConvBlock"] == mappings[1]["ConvBlock"] != "ConvBlock"  # one mapping for both files
    assert mappings[0]["ResidualBlock"] == mappings[1]["ResidualBlock"]
    assert "ConvBlock" not in renamed[0] and renamed[0].count(mappings[0]["ConvBlock"]) == codes[0].count("ConvBlock")
    assert rename_helpers(codes, random.Random(0)) == renamed and rename_helpers(codes, random.Random(1)) != renamed


def test_renaming_is_the_same_in_every_process():
    """Training pairs are reproducible: the renaming does not depend on the interpreter's hash seed."""
    import subprocess
    import sys

    script = ("import random; from nngpt_core.corpus import seed_sources; "
              "from nngpt_core.llm.bootstrap.pairs import rename_helpers; s = dict(seed_sources()); "
              "print([rename_helpers([c, s['resnet_basic']], random.Random(i), i % 2 == 0) for i, c in enumerate(s.values())])")
    outputs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(hash_seed)}).stdout for hash_seed in (1, 2, 3)}
    assert len(outputs) == 1 and len(next(iter(outputs))) > 10_000


def test_renaming_identifiers_leaves_nothing_of_a_block_to_recall_and_the_file_still_works():
    from nngpt_core.corpus import seed_sources
    from nngpt_core.corpus.probe import probe

    seeds = dict(seed_sources())
    codes = [seeds["resnet_basic"], seeds["se_resnet"]]
    renamed = rename_helpers(codes, random.Random(0), identifiers=True)
    assert "WIDTH" in codes[0] and "WIDTH" not in renamed[0]  # module constants
    assert "self.conv1" in codes[0] and "self.conv1" not in renamed[0]  # attributes of the helpers
    assert "self.norm" in renamed[0]  # an attribute torch's modules also have (e.g. a norm layer's) is kept
    # one mapping for both files: the constants they share get the same new names
    new_names = [set(re.findall(r"^([A-Z][A-Z0-9_]*) =", code, re.MULTILINE)) for code in renamed]
    assert len(new_names[0] & new_names[1]) >= 2 and not new_names[0] & {"WIDTH", "NORM"}
    for code in renamed:
        assert probe(code).ok  # renaming keeps the file working
    assert rename_helpers(codes, random.Random(0), identifiers=True) == renamed


def test_bootstrap_saves_a_loadable_model_with_record_and_card(tiny_model, corpus_slice):
    path, result = tiny_model
    for name in ("config.json", "model.safetensors", "tokenizer.json", TRAINING_RECORD, "README.md"):
        assert (path / name).is_file(), name
    record = json.loads((path / TRAINING_RECORD).read_text())
    corpus = TrainingCorpus.load(path)  # the training corpus is saved beside the model, verified by its manifest
    assert record["corpus_sha256"] == corpus.sha256 == tiny_training_corpus(corpus_slice).sha256
    assert record["history"]["steps"] == TINY_STEPS
    curve = record["history"]["loss_curve"]
    assert curve[-1][1] < curve[0][1]  # training lowered the loss
    assert f"--steps {TINY_STEPS}" in (path / "README.md").read_text()
    loaded = load_model(ModelConfig(name_or_path=str(path), device="cpu"))
    assert sum(p.numel() for p in loaded.model.parameters()) == result.parameters
    assert loaded.tokenizer.padding_side == "left"


@pytest.fixture(scope="module")
def loaded_tiny(tiny_model):
    return load_model(ModelConfig(name_or_path=str(tiny_model[0]), device="cpu"))


def test_sampling_shapes_and_seed_determinism(loaded_tiny, corpus_slice):
    template = PromptTemplate.load("default")
    task = TaskSpec.for_dataset("digits32", 2_000_000)
    prompts = [template.prompt(task, [Reference(*corpus_slice[i % 2])]) for i in range(5)]
    gen = GenerationConfig(max_new_tokens=24, batch_size=2, temperature=1.0, top_k=0)
    first, stats = sample(loaded_tiny, prompts, gen, seed=11)
    again, _ = sample(loaded_tiny, prompts, gen, seed=11)
    other, _ = sample(loaded_tiny, prompts, gen, seed=12)
    assert len(first) == 5 and [c.prompt for c in first] == prompts
    assert all(0 < c.new_tokens <= 24 for c in first)
    assert [c.seed for c in first] == [11, 11, 12, 12, 13]  # one seed per batch
    assert stats.new_tokens == sum(c.new_tokens for c in first) and stats.tokens_per_s > 0
    assert [c.text for c in again] == [c.text for c in first]
    assert [c.text for c in other] != [c.text for c in first]


def test_rejection_sampling_retries_hotter_and_stops_at_its_limit(loaded_tiny, corpus_slice):
    from nngpt_core.llm.candidates import generate_candidates
    from nngpt_core.llm.modes import full_plan

    task = TaskSpec.for_dataset("digits32", 2_000_000)
    plans = [full_plan([Reference(*corpus_slice[i % 2])]) for i in range(3)]
    gen = GenerationConfig(max_new_tokens=16, batch_size=3, temperature=0.5, top_k=0, attempts=3, temperature_step=0.25,
                           error_feedback=True)
    refused = []
    candidates, stats = generate_candidates(loaded_tiny, gen, task, plans, seed=5,
                                            check=lambda code: refused.append(code) or "forbidden: always")
    assert [c.attempts for c in candidates] == [3, 3, 3] and [c.temperature for c in candidates] == [1.0, 1.0, 1.0]
    assert stats.completions == 9  # every prompt sampled three times, no more
    assert all(c.problem for c in candidates)
    assert all("The previous answer was refused (" in c.prompt for c in candidates)  # the reason was fed back
    accepted, stats = generate_candidates(loaded_tiny, gen, task, plans, seed=5, check=lambda code: None)
    # answers without code are retried; an answer that passes the check is kept at once
    assert all(c.attempts == 1 for c in accepted if c.code) and stats.completions <= 9
