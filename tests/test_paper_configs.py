"""The paper's set-up by config alone: configs/paper-cifar10*.yaml load and validate, and `nngpt doctor --config`
explains in one screen what a machine lacks for them (here: CUDA, bitsandbytes, the 7B model, CIFAR-10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nngpt_core.config import load_config
from nngpt_core.needs import config_needs, memory_estimate
from tests.cli_helpers import run_nngpt

ROOT = Path(__file__).resolve().parent.parent
PAPER_CONFIGS = {"paper-cifar10.yaml": "deepseek-ai/deepseek-coder-7b-instruct-v1.5",
                 "paper-cifar10-qwen.yaml": "Qwen/Qwen2.5-Coder-7B-Instruct"}
SCREEN_LINES = 50


@pytest.mark.parametrize(("name", "model"), PAPER_CONFIGS.items())
def test_paper_configs_load_with_the_papers_values(name, model):
    cfg = load_config(ROOT / "configs" / name)
    assert cfg.model.name_or_path == model and cfg.model.load_in_4bit and cfg.model.bnb_4bit_quant_type == "nf4"
    assert cfg.model.prompt_format == "chat" and cfg.model.max_context == 8192
    sft = cfg.sft
    assert (sft.r, sft.alpha, sft.dropout, sft.learning_rate, sft.weight_decay, sft.warmup_steps) == (32, 32, 0.05, 1e-5, 0.01, 20)
    assert sft.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    assert (sft.lr_scheduler, sft.epochs, sft.batch_size, sft.gradient_accumulation_steps) == ("cosine", 5, 1, 8)
    assert (sft.optimizer, sft.max_grad_norm, sft.chaining, sft.cumulative) == ("paged_adamw_8bit", 1.0, "continue", True)
    gen = cfg.generation
    assert (gen.temperature, gen.top_k, gen.top_p, gen.candidates_per_cycle, gen.code_prefix) == (0.7, 100, 0.95, 150, "lemur")
    assert cfg.cycles == 22
    ev = cfg.evaluation
    assert (ev.dataset, ev.epochs, ev.image_size, ev.random_flip) == ("cifar10", 1, 256, True)
    assert ev.hyperparameters == {"lr": 0.01, "batch": 16, "dropout": 0.2, "momentum": 0.9}
    assert ev.resolved_worker_mode() == "resident" and ev.resolved_precision() == "bfloat16"
    sel = cfg.selection
    assert (sel.min_accuracy, sel.min_examples, sel.top_up_floor) == (0.40, 15, 0.35)


def test_a_config_with_a_wrong_new_field_fails_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "configs" / "paper-cifar10.yaml").read_text().replace("chaining: continue", "chaining: sideways"))
    result = run_nngpt("doctor", "--config", str(bad))
    assert result.returncode == 2 and result.stderr.startswith("error: ") and result.stderr.strip().count("\n") == 0
    assert "sft.chaining" in result.stderr


def test_needs_of_the_paper_config_name_what_is_missing_here():
    cfg = load_config(ROOT / "configs" / "paper-cifar10.yaml")
    needs = {need.what: need for need in config_needs(cfg)}
    assert set(needs) >= {"CUDA device", "bitsandbytes", f"model {cfg.model.name_or_path}", "dataset cifar10", "GPU memory"}
    assert "model.load_in_4bit" in needs["CUDA device"].why and "evaluation.device: cuda" in needs["CUDA device"].why
    model = needs[f"model {cfg.model.name_or_path}"]
    assert not model.met and f"hf download {cfg.model.name_or_path}" in model.detail
    assert not needs["dataset cifar10"].met and "cifar-10-batches-py" in needs["dataset cifar10"].detail
    assert not needs["GPU memory"].met and "unknown until the model is on disk" in needs["GPU memory"].detail


def test_memory_estimate_counts_a_model_on_disk_exactly(tmp_path):
    from tests.tiny_llms import save_tiny_model

    path = save_tiny_model(tmp_path / "tiny-llama-instruct", "llama")
    cfg = load_config(ROOT / "configs" / "paper-cifar10.yaml", {"model.name_or_path": str(path)})
    estimate = memory_estimate(cfg)
    from transformers import AutoModelForCausalLM

    assert estimate.parameters == sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(path).parameters())
    four_bit, full = estimate, memory_estimate(cfg.model_copy(update={"model": cfg.model.model_copy(update={"load_in_4bit": False})}))
    assert four_bit.generation_gib < full.generation_gib  # 4-bit weights take less than bf16
    assert estimate.evaluation_gib > 4 * 0.6  # four resident GPU workers, each with its CUDA context
    assert estimate.peak_gib == max(estimate.generation_gib, estimate.finetuning_gib, estimate.evaluation_gib)


def test_doctor_explains_on_one_screen_what_this_machine_lacks(tmp_path):
    result = run_nngpt("doctor", "--config", str(ROOT / "configs" / "paper-cifar10.yaml"),
                       "--db", f"sqlite:///{tmp_path / 'nngpt.db'}", timeout=600)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert len(out.splitlines()) <= SCREEN_LINES, out
    assert "what " in out and "paper-cifar10.yaml needs" in out
    lacks = next(line for line in out.splitlines() if line.startswith("this machine lacks:"))
    for missing in ("CUDA device", "bitsandbytes", "model deepseek-ai/deepseek-coder-7b-instruct-v1.5", "dataset cifar10"):
        assert missing in lacks
    assert "sandbox:" in out and "layers active" in out and "database:" in out


def test_doctor_passes_a_config_this_machine_can_run(tmp_path):
    result = run_nngpt("doctor", "--config", str(ROOT / "configs" / "smoke.yaml"),
                       "--db", f"sqlite:///{tmp_path / 'nngpt.db'}", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "this machine has everything the config needs" in result.stdout
    assert "CUDA device" not in result.stdout  # nothing in the smoke config asks for one


@pytest.mark.parametrize(("name", "model"), [("paper-delta.yaml", PAPER_CONFIGS["paper-cifar10.yaml"]),
                                             ("paper-delta-qwen.yaml", PAPER_CONFIGS["paper-cifar10-qwen.yaml"])])
def test_delta_configs_load_with_the_follow_ups_values(name, model):
    cfg = load_config(ROOT / "configs" / name)
    gen = cfg.generation
    assert cfg.model.name_or_path == model and gen.modes == {"delta": 1.0} and gen.delta_request == "improve"
    assert (gen.temperature, gen.top_k, gen.top_p, gen.max_new_tokens, gen.candidates_per_cycle) == (0.35, 50, 0.9, 1024, 50)
    assert cfg.sft.epochs == 3 and cfg.sft.lm_head and cfg.evaluation.dataset == "cifar10"
