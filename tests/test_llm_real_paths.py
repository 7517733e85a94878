"""What a pretrained code LLM goes through, on tiny random models of the real classes (tests/tiny_llms.py).

Chat template for instruct models and the plain prompt for base models, the code prefix decoding
starts from, end-of-turn stopping, LoRA target modules per architecture family (with lm_head),
adapters continued across two cycles, and the cumulative SFT set, on SQLite and PostgreSQL. The
4-bit (bitsandbytes NF4) and CUDA branches are chosen by configuration; their tests are skipped,
with the reason, where torch sees no CUDA device.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from nngpt_core.config import GenerationConfig, ModelConfig, RunConfig, SFTConfig
from nngpt_core.errors import ConfigError, NngptError
from nngpt_core.llm.adapters import chain_paths, load_with_adapter
from nngpt_core.llm.generate import sample
from nngpt_core.llm.loading import load_model
from nngpt_core.llm.lora_targets import LLAMA_STYLE, fully_trained_modules, lora_target_modules
from nngpt_core.llm.prompt_format import LEMUR_CODE_PREFIX, PromptFormat
from nngpt_core.llm.prompts import PromptTemplate, TaskSpec
from nngpt_core.llm.sft import completion_loss, train_adapter
from tests.tiny_llms import save_tiny_model

torch.set_num_threads(1)
NO_CUDA = "needs a CUDA device: torch.cuda.is_available() is False on this machine"
cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
PROMPT = PromptTemplate.load("default").prompt(TaskSpec.for_dataset("digits32", 2_000_000), [])
SFT = SFTConfig(r=4, alpha=8, dropout=0.0, target_modules="auto", learning_rate=5e-2, epochs=2, batch_size=2,
                max_seq_length=1024)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_llms")
    return {
        "llama-instruct": save_tiny_model(root / "tiny-llama-instruct", "llama"),
        "qwen2-instruct": save_tiny_model(root / "tiny-qwen2-instruct", "qwen2"),
        "llama-base": save_tiny_model(root / "tiny-llama-base", "llama"),  # a tokenizer with a template, a base name
        "qwen2-no-template": save_tiny_model(root / "tiny-qwen2-coder", "qwen2", chat_template=False),
        "gpt2": save_tiny_model(root / "tiny-gpt2", "gpt2", chat_template=False),
    }


def loaded(models, name, **model_fields):
    return load_model(ModelConfig(name_or_path=str(models[name]), device="cpu", **model_fields))


def pairs(count: int, tag: str) -> list[dict[str, str]]:
    template = PromptTemplate.load("default")
    task = TaskSpec.for_dataset("digits32", 2_000_000)
    return [template.pair(task, [], f"import torch\n# {tag} {i}\nclass Net:\n    pass\n") for i in range(count)]


def test_instruct_models_get_their_chat_template_and_base_models_the_plain_prompt(models):
    llama = loaded(models, "llama-instruct")
    assert llama.chat
    text = PromptFormat(llama.tokenizer, llama.chat).generation_prompt(PROMPT)
    assert text.startswith("### Instruction:\n# Task: image classification")  # BOS left to the tokenizer
    assert text.endswith("# Write a new architecture for this task that differs from every reference above.\n### Response:\n```python\n")
    ids = llama.tokenizer(text)["input_ids"]
    assert ids[0] == llama.tokenizer.bos_token_id and ids[1] != llama.tokenizer.bos_token_id  # exactly one BOS

    qwen = loaded(models, "qwen2-instruct")
    text = PromptFormat(qwen.tokenizer, qwen.chat).generation_prompt(PROMPT)
    assert qwen.chat and text.startswith("<|im_start|>user\n# Task:")
    assert text.endswith("reference above.<|im_end|>\n<|im_start|>assistant\n```python\n")

    base = loaded(models, "llama-base")
    assert not base.chat and PromptFormat(base.tokenizer, base.chat).generation_prompt(PROMPT) == PROMPT
    assert loaded(models, "llama-base", prompt_format="chat").chat
    assert not loaded(models, "qwen2-instruct", prompt_format="plain").chat
    with pytest.raises(ConfigError, match="has no chat template"):
        loaded(models, "qwen2-no-template", prompt_format="chat")


def record_generate(model) -> list[torch.Tensor]:
    """The input ids of every generate() call on `model` (which still generates as usual)."""
    calls: list[torch.Tensor] = []
    real = model.generate

    def generate(**kwargs):
        calls.append(kwargs["input_ids"].clone())
        return real(**kwargs)

    model.generate = generate
    return calls


@pytest.mark.parametrize("name", ["llama-instruct", "qwen2-instruct", "llama-base"])
def test_sampling_reads_the_rendered_prompt_and_continues_the_code_prefix(models, name):
    model = loaded(models, name)
    calls = record_generate(model.model)
    gen = GenerationConfig(max_new_tokens=16, batch_size=2, temperature=0.8, top_k=0, code_prefix="lemur")
    completions, _ = sample(model, [PROMPT, PROMPT + "# again\n```python\n"], gen, seed=3)
    expected = PromptFormat(model.tokenizer, model.chat, LEMUR_CODE_PREFIX).generation_prompt(PROMPT)
    fed = [token for token in calls[0][0].tolist() if token != model.tokenizer.pad_token_id]
    assert fed == model.tokenizer(expected)["input_ids"]
    assert all(c.text.startswith(LEMUR_CODE_PREFIX) and c.prompt in (PROMPT, PROMPT + "# again\n```python\n")
               for c in completions)
    assert completions[0].prompt == PROMPT  # the store keeps the template's prompt, not the rendering


@pytest.mark.parametrize("stop_token", ["<|im_end|>", "<|endoftext|>"])
def test_an_instruct_model_stops_at_its_end_of_turn(models, stop_token):
    qwen = loaded(models, "qwen2-instruct")
    stop_id = qwen.tokenizer.convert_tokens_to_ids(stop_token)
    # Only the stop token may be generated: the completion must end there, not run to max_new_tokens.
    qwen.model.generation_config.bad_words_ids = [[t] for t in range(len(qwen.tokenizer)) if t != stop_id]
    completions, _ = sample(qwen, [PROMPT], GenerationConfig(max_new_tokens=16, top_k=0, code_prefix="lemur"), seed=0)
    assert completions[0].stopped and completions[0].new_tokens == 0 and completions[0].text == LEMUR_CODE_PREFIX


def test_lora_targets_follow_the_architecture_family(models):
    auto = SFTConfig(target_modules="auto")
    for name in ("llama-instruct", "qwen2-instruct"):
        assert lora_target_modules(loaded(models, name).model, auto) == list(LLAMA_STYLE)
    gpt2 = loaded(models, "gpt2").model
    assert lora_target_modules(gpt2, auto) == ["c_attn", "c_proj", "c_fc"]
    assert fully_trained_modules(gpt2, auto.model_copy(update={"lm_head": True})) == ["lm_head"]
    assert fully_trained_modules(gpt2, auto) == []
    with pytest.raises(NngptError, match=r"q_proj not in the model \(its linear layers: c_attn"):
        lora_target_modules(gpt2, SFTConfig(target_modules=["q_proj"]))


def test_sft_renders_pairs_like_generation_and_adapts_lm_head(models, tmp_path):
    qwen = loaded(models, "qwen2-instruct")
    examples = pairs(2, "qwen")
    rendered = [PromptFormat(qwen.tokenizer, True).sft_pair(pair) for pair in examples]
    assert rendered[0]["prompt"].startswith("<|im_start|>user\n") and rendered[0]["completion"] == examples[0]["completion"]
    # the loss SFT reports is computed on the rendered pairs: the same as a plain model given them rendered
    as_chat = completion_loss(qwen, examples, 1024)
    assert as_chat == pytest.approx(completion_loss(dataclasses.replace(qwen, chat=False), rendered, 1024), rel=1e-6)

    head_before = qwen.model.lm_head.weight.detach().clone()
    training = train_adapter(qwen, examples, SFT.model_copy(update={"lm_head": True}), tmp_path / "a", seed=0)
    saved = json.loads((tmp_path / "a" / "adapter_config.json").read_text())
    assert set(saved["target_modules"]) == set(LLAMA_STYLE) and saved["modules_to_save"] == ["lm_head"]
    assert training.loss_after < training.loss_before
    head_keys = [key for key in lora_weights(tmp_path / "a") if "lm_head" in key]
    assert head_keys and not torch.allclose(lora_weights(tmp_path / "a")[head_keys[0]], head_before)  # trained


def lora_weights(path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path / "adapter_model.safetensors"))


def make_cycles(store, base: str, examples: list[list[dict[str, str]]]) -> tuple[int, list[int]]:
    from nngpt_core.store.models import Cycle, Run, SftExample

    with store.session() as session:
        run = Run(name="paper", base_model=base, dataset="digits32")
        session.add(run)
        session.flush()
        cycle_ids = []
        for index, cycle_examples in enumerate(examples):
            cycle = Cycle(run_id=run.id, index=index)
            session.add(cycle)
            session.flush()
            session.add_all(SftExample(run_id=run.id, cycle_id=cycle.id, prompt=p["prompt"], completion=p["completion"])
                            for p in cycle_examples)
            cycle_ids.append(cycle.id)
        return run.id, cycle_ids


def test_adapters_continue_across_two_cycles_on_the_cumulative_set(store, models, tmp_path):
    from nngpt_core.llm.finetune import cumulative_pairs
    from nngpt_core.loop.finetuning import finetune_cycle
    from nngpt_core.store.models import Adapter, Cycle

    base = str(models["llama-instruct"])
    original = pairs(1, "original")
    (tmp_path / "original.jsonl").write_text("".join(json.dumps(p) + "\n" for p in original))
    first_examples, second_examples = pairs(2, "cycle0"), pairs(1, "cycle1")
    run_id, (first_cycle, second_cycle) = make_cycles(store, base, [first_examples, second_examples])
    cfg = RunConfig(model=ModelConfig(name_or_path=base, device="cpu"), store={"data_dir": tmp_path},
                    sft=SFT.model_copy(update={"chaining": "continue", "cumulative": True,
                                               "original_pairs": tmp_path / "original.jsonl"}))
    assert cumulative_pairs(cfg, store, run_id, 0) == original + first_examples
    assert cumulative_pairs(cfg, store, run_id, 1) == original + first_examples + second_examples

    first = finetune_cycle(store, cfg, first_cycle)
    with store.session() as session:
        session.get(Cycle, second_cycle).adapter_in_id = first
    slow = cfg.model_copy(update={"sft": cfg.sft.model_copy(update={"learning_rate": 1e-9})})
    second = finetune_cycle(store, slow, second_cycle)
    with store.session() as session:
        rows = {row.id: row for row in (session.get(Adapter, first), session.get(Adapter, second))}
        assert rows[second].parent_id == first and rows[second].config["continues_parent"]
        assert not rows[first].config["continues_parent"]
        assert [rows[first].n_examples, rows[second].n_examples] == [3, 4]  # the cumulative sets
        paths = {key: row.path for key, row in rows.items()}
    assert chain_paths(store, second, base) == [paths[second]]  # the continued adapter replaces its parent

    from pathlib import Path

    before, after = lora_weights(Path(paths[first])), lora_weights(Path(paths[second]))
    assert before.keys() == after.keys()
    trained_b = [key for key in before if "lora_B" in key]
    assert trained_b and any(before[key].abs().max() > 1e-4 for key in trained_b)  # a fresh adapter's B is zero
    assert all(torch.allclose(before[key], after[key], atol=1e-5) for key in before)  # started from cycle 0's weights

    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        chained = load_with_adapter(cfg.model, store, second).model(input_ids=ids).logits
        alone = load_model(cfg.model, [paths[second]]).model(input_ids=ids).logits
        plain = load_model(cfg.model).model(input_ids=ids).logits
    assert torch.allclose(chained, alone, atol=1e-5) and not torch.allclose(chained, plain, atol=1e-4)


def test_stacking_adapters_on_a_4bit_base_is_refused_in_one_line(models):
    from nngpt_core.llm.loading import merge_adapters

    with pytest.raises(ConfigError, match="a 4-bit base takes one adapter, not a stack of 2; train with sft.chaining: continue"):
        merge_adapters(torch.nn.Linear(1, 1), [str(models["gpt2"]), str(models["gpt2"])], quantized=True)


# ----------------------------------------------------------------------------- CUDA (skipped without a GPU)
@cuda_only
def test_4bit_nf4_base_trains_and_continues_an_adapter_on_cuda(models, tmp_path):
    cfg = ModelConfig(name_or_path=str(models["qwen2-instruct"]), device="cuda", load_in_4bit=True)
    model = load_model(cfg)
    assert model.quantized and model.chat
    sft = SFT.model_copy(update={"optimizer": "paged_adamw_8bit", "gradient_checkpointing": True, "epochs": 1})
    first = train_adapter(model, pairs(2, "gpu"), sft, tmp_path / "a0")
    second = train_adapter(load_model(cfg), pairs(2, "gpu"), sft, tmp_path / "a1", continue_from=str(first.path))
    tuned = load_model(cfg, [str(second.path)])
    completions, stats = sample(tuned, [PROMPT] * 4, GenerationConfig(max_new_tokens=8, batch_size=4, code_prefix="lemur"))
    assert len(completions) == 4 and stats.new_tokens > 0 and completions[0].text.startswith(LEMUR_CODE_PREFIX)


@cuda_only
def test_bf16_batched_generation_on_cuda(models):
    model = load_model(ModelConfig(name_or_path=str(models["llama-instruct"]), device="cuda", dtype="auto"))
    assert next(model.model.parameters()).dtype == torch.bfloat16
    completions, stats = sample(model, [PROMPT] * 8, GenerationConfig(max_new_tokens=8, batch_size=8))
    assert len(completions) == 8 and stats.tokens_per_s > 0
