"""LoRA SFT with trl on a tiny real model, the adapter registry in the store, and the CLI round trip."""

from __future__ import annotations

import json

import pytest
import torch

from nngpt_core.config import GenerationConfig, ModelConfig, SFTConfig
from nngpt_core.errors import NngptError
from nngpt_core.llm.adapters import adapter_chain, chain_paths, load_with_adapter, register_adapter
from nngpt_core.llm.generate import sample
from nngpt_core.llm.loading import load_model
from nngpt_core.llm.prompts import PromptTemplate, Reference, TaskSpec
from nngpt_core.llm.sft import train_adapter
from tests.cli_helpers import run_nngpt
from tests.llm_helpers import corpus_slice, tiny_model  # noqa: F401  (fixtures)

torch.set_num_threads(1)
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SFT = SFTConfig(r=8, alpha=16, dropout=0.0, target_modules=ALL_LINEAR, learning_rate=3e-2, epochs=24, batch_size=2,
                max_seq_length=4096)
GEN = GenerationConfig(max_new_tokens=32, batch_size=2, temperature=0.7, top_k=0)


def sft_pairs(corpus_slice, count=2):
    """Pairs with short completions (a file's first lines), which a tiny model can fit in a few steps."""
    template = PromptTemplate.load("default")
    task = TaskSpec.for_dataset("digits32", 2_000_000)
    heads = ["\n".join(code.splitlines()[:12]) for _, code in corpus_slice]
    return [template.pair(task, [Reference(*corpus_slice[i + 1])], heads[i]) for i in range(count)]


@pytest.fixture(scope="module")
def base_cfg(tiny_model):
    return ModelConfig(name_or_path=str(tiny_model[0]), device="cpu")


@pytest.fixture(scope="module")
def two_adapters(base_cfg, corpus_slice, tmp_path_factory):
    """Adapter 1 trained on the base, adapter 2 trained on the base with adapter 1 merged."""
    root = tmp_path_factory.mktemp("adapters")
    pairs = sft_pairs(corpus_slice)
    first = train_adapter(load_model(base_cfg), pairs, SFT, root / "a1", seed=0)
    second = train_adapter(load_model(base_cfg, [str(first.path)]), sft_pairs(corpus_slice[2:]), SFT, root / "a2", seed=0)
    return pairs, first, second


def test_sft_lowers_completion_loss_and_changes_generation(base_cfg, two_adapters):
    pairs, first, _ = two_adapters
    assert first.loss_after < first.loss_before * 0.95
    assert first.losses and first.n_examples == 2
    before, _ = sample(load_model(base_cfg), [p["prompt"] for p in pairs], GEN, seed=5)
    after, _ = sample(load_model(base_cfg, [str(first.path)]), [p["prompt"] for p in pairs], GEN, seed=5)
    assert [c.text for c in before] != [c.text for c in after]


def logits(loaded, ids):
    with torch.no_grad():
        return loaded.model(input_ids=ids).logits


def test_adapter_round_trip_applies_every_ancestor(store, base_cfg, two_adapters):
    _, first, second = two_adapters
    first_id = register_adapter(store, first, base_model=base_cfg.name_or_path, parent_id=None, run_id=None, config={"r": 4})
    second_id = register_adapter(store, second, base_model=base_cfg.name_or_path, parent_id=first_id, run_id=None, config={"r": 4})
    with store.session() as session:
        chain = adapter_chain(session, second_id)
        assert [row.id for row in chain] == [first_id, second_id]
        assert chain[1].n_examples == 2 and chain[1].losses == second.losses
    assert chain_paths(store, second_id, base_cfg.name_or_path) == [str(first.path.resolve()), str(second.path.resolve())]
    metadata = json.loads((second.path / "nngpt_adapter.json").read_text())
    assert metadata["id"] == second_id and metadata["parent_id"] == first_id

    ids = torch.tensor([[5, 6, 7, 8, 9]])
    stacked = logits(load_with_adapter(base_cfg, store, second_id), ids)
    assert torch.allclose(stacked, logits(load_model(base_cfg, [str(first.path), str(second.path)]), ids), atol=1e-5)
    assert not torch.allclose(stacked, logits(load_model(base_cfg, [str(second.path)]), ids), atol=1e-4)  # dropping 1 shows
    assert not torch.allclose(stacked, logits(load_model(base_cfg), ids), atol=1e-4)


def test_missing_or_mismatched_adapters_are_errors(store, base_cfg, two_adapters, tmp_path):
    _, first, _ = two_adapters
    with pytest.raises(NngptError, match="adapter 999 is not in the store"):
        chain_paths(store, 999, base_cfg.name_or_path)
    other_base = register_adapter(store, first, base_model="some/other-model", parent_id=None, run_id=None, config={})
    with pytest.raises(NngptError, match="trained on base model 'some/other-model'"):
        chain_paths(store, other_base, base_cfg.name_or_path)
    with pytest.raises(NngptError, match="refusing to load without it"):
        load_model(base_cfg, [str(tmp_path / "deleted_adapter")])


def test_cli_finetune_then_generate_with_the_adapter(tiny_model, corpus_slice, tmp_path):
    model_dir, _ = tiny_model
    config = tmp_path / "c.yaml"
    config.write_text(
        f"model:\n  name_or_path: {model_dir}\n  device: cpu\n"
        "generation:\n  max_new_tokens: 32\n  batch_size: 4\n  modes:\n    crossover: 1.0\n"
        "sft:\n  r: 4\n  alpha: 8\n  epochs: 1\n  batch_size: 2\n  max_seq_length: 4096\n"
        f"store:\n  data_dir: {tmp_path / 'data'}\n"
    )
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in sft_pairs(corpus_slice)))
    db = f"sqlite:///{tmp_path / 'nngpt.db'}"
    tuned = run_nngpt("finetune", "--pairs", str(pairs), "--config", str(config), "--db", db)
    assert tuned.returncode == 0, tuned.stderr
    adapter_id = int(tuned.stdout.strip().splitlines()[-1])
    out = tmp_path / "gen"
    generated = run_nngpt("generate", "--n", "3", "--out", str(out), "--adapter", str(adapter_id),
                          "--config", str(config), "--db", db)
    assert generated.returncode == 0, generated.stderr
    records = [json.loads(line) for line in (out / "completions.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(r["status"] in ("pending", "no_code") for r in records)
    assert all(r["mode"] == "crossover" and len(r["references"]) == 2 for r in records)  # network and donor
    for record in records:
        assert (record["file"] is not None) == (record["status"] == "pending")
        if record["file"]:
            assert (out / record["file"]).read_text() == record["code"]
    assert f"adapter {adapter_id}" in generated.stderr
    bad = run_nngpt("generate", "--n", "1", "--out", str(out), "--adapter", "77", "--config", str(config), "--db", db)
    assert bad.returncode == 1 and "adapter 77 is not in the store" in bad.stderr


def test_finetune_on_a_cycle_trains_on_its_examples_and_links_the_adapter(store, base_cfg, corpus_slice, two_adapters, tmp_path):
    from nngpt_core.config import RunConfig
    from nngpt_core.llm.finetune import finetune, pairs_from_cycle
    from nngpt_core.store.models import Cycle, Run, SftExample

    _, first, _ = two_adapters
    parent_id = register_adapter(store, first, base_model=base_cfg.name_or_path, parent_id=None, run_id=None, config={})
    pairs = sft_pairs(corpus_slice, count=3)
    with store.session() as session:
        run = Run(name="t", base_model=base_cfg.name_or_path, dataset="digits32")
        session.add(run)
        session.flush()
        cycle = Cycle(run_id=run.id, index=0, adapter_in_id=parent_id)
        session.add(cycle)
        session.flush()
        session.add_all(SftExample(run_id=run.id, cycle_id=cycle.id, prompt=p["prompt"], completion=p["completion"]) for p in pairs)
        run_id = run.id
    with pytest.raises(NngptError, match="run .* has no cycle 5"):
        pairs_from_cycle(store, run_id, 5)
    examples, cycle_row = pairs_from_cycle(store, run_id, 0)
    assert examples == pairs
    cfg = RunConfig(model=base_cfg, sft=SFT.model_copy(update={"epochs": 1}), store={"data_dir": tmp_path})
    adapter_id = finetune(cfg, store, examples, parent_id=cycle_row.adapter_in_id, run_id=run_id, cycle=cycle_row)
    with store.session() as session:
        assert session.get(Cycle, cycle_row.id).adapter_out_id == adapter_id
        chain = adapter_chain(session, adapter_id)
        assert [row.id for row in chain] == [parent_id, adapter_id]
        assert chain[-1].run_id == run_id and chain[-1].n_examples == 3
        assert chain[-1].path.startswith(str(tmp_path.resolve())) and "run" in chain[-1].path
