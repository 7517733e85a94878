"""LoRA supervised fine-tuning with peft and trl's SFTTrainer on prompt/completion pairs.

    from nngpt_core.llm.sft import train_adapter, completion_loss
    result = train_adapter(loaded, pairs, cfg.sft, out_dir, seed=0)   # loaded: base with earlier adapters merged
    result = train_adapter(loaded, pairs, cfg.sft, out_dir, continue_from="adapters/run1-cycle0-...")  # keep training it
    print(result.losses, result.loss_before, result.loss_after)

The loss covers completion tokens only (trl's completion_only_loss on a prompt/completion dataset).
Pairs are rendered for the model as generation renders its prompts (chat template or plain:
nngpt_core.llm.prompt_format). LoRA wraps `sft.target_modules` (or the family's projections:
nngpt_core.llm.lora_targets); `continue_from` loads an earlier adapter as trainable instead of a
fresh one (the paper's chaining). A 4-bit base is prepared for k-bit training first (peft).
Precision follows the hardware: bfloat16 only on a CUDA device that supports it, float32 otherwise
(trl's own default asks for bf16 and fails on CPU). Optimizer, schedule, warm-up, accumulation,
clipping and gradient checkpointing come from SFTConfig.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from nngpt_core.config import SFTConfig
from nngpt_core.errors import NngptError
from nngpt_core.llm.loading import LoadedModel, check_adapter
from nngpt_core.llm.lora_targets import fully_trained_modules, lora_target_modules
from nngpt_core.llm.prompt_format import PromptFormat

log = logging.getLogger(__name__)


@dataclass
class AdapterTraining:
    path: Path
    n_examples: int
    losses: list[float]  # training loss per optimizer step
    loss_before: float
    loss_after: float
    steps: int


@torch.no_grad()
def completion_loss(loaded: LoadedModel, pairs: list[dict[str, str]], max_length: int) -> float:
    """Mean loss per completion token (end-of-sequence included) over `pairs`, as SFT measures it."""
    model, tokenizer = loaded.model, loaded.tokenizer
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for pair in map(PromptFormat(tokenizer, loaded.chat).sft_pair, pairs):
        prompt_ids = tokenizer(pair["prompt"])["input_ids"]  # special tokens as trl adds them
        full_ids = tokenizer(pair["prompt"] + pair["completion"])["input_ids"]
        ids = (full_ids + [tokenizer.eos_token_id])[:max_length]
        labels = [-100] * len(prompt_ids) + ids[len(prompt_ids):]
        if len(ids) <= len(prompt_ids):
            continue
        device = next(model.parameters()).device
        out = model(input_ids=torch.tensor([ids], device=device), labels=torch.tensor([labels], device=device))
        predicted = len(ids) - len(prompt_ids)
        total += float(out.loss) * predicted
        count += predicted
    model.train(was_training)
    if count == 0:
        raise NngptError("no SFT pair has completion tokens within sft.max_seq_length")
    return total / count


def _validate_pairs(pairs: list[dict[str, str]]) -> None:
    if not pairs:
        raise NngptError("no SFT examples to train on")
    for i, pair in enumerate(pairs):
        if not isinstance(pair.get("prompt"), str) or not isinstance(pair.get("completion"), str) or not pair["completion"].strip():
            raise NngptError(f"SFT example {i} needs string fields 'prompt' and a non-empty 'completion'")


def _bf16_available(device: torch.device) -> bool:
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def _trainable(loaded: LoadedModel, sft: SFTConfig, continue_from: str | None):
    """(model, peft_config for the trainer): a fresh LoRA config, or the earlier adapter loaded as trainable."""
    from peft import LoraConfig, PeftModel, prepare_model_for_kbit_training

    model = loaded.model
    if loaded.quantized:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=sft.gradient_checkpointing)
    if continue_from is not None:
        check_adapter(continue_from)
        return PeftModel.from_pretrained(model, continue_from, is_trainable=True), None
    lora = LoraConfig(r=sft.r, lora_alpha=sft.alpha, lora_dropout=sft.dropout, target_modules=lora_target_modules(model, sft),
                      modules_to_save=fully_trained_modules(model, sft) or None, task_type="CAUSAL_LM")
    return model, lora


def _trainer_arguments(trl_config, output_dir: str, sft: SFTConfig, device: torch.device, seed: int):
    """trl's SFTConfig for one adapter's training (ValueError for settings transformers refuses)."""
    return trl_config(
        output_dir=output_dir,
        num_train_epochs=sft.epochs,
        per_device_train_batch_size=sft.batch_size,
        gradient_accumulation_steps=sft.gradient_accumulation_steps,
        learning_rate=sft.learning_rate,
        weight_decay=sft.weight_decay,
        warmup_steps=sft.warmup_steps,
        lr_scheduler_type=sft.lr_scheduler,
        optim=sft.optimizer,
        max_grad_norm=sft.max_grad_norm,
        max_length=sft.max_seq_length,
        completion_only_loss=True,
        packing=False,
        gradient_checkpointing=sft.gradient_checkpointing,
        bf16=_bf16_available(device),
        fp16=False,
        use_cpu=device.type != "cuda",
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )


def train_adapter(loaded: LoadedModel, pairs: list[dict[str, str]], sft: SFTConfig, out_dir: Path, seed: int = 0,
                  continue_from: str | None = None) -> AdapterTraining:
    """Train a LoRA adapter on top of `loaded.model` and save it (adapter files only) to `out_dir`.

    continue_from: an adapter directory whose weights training starts from (the result replaces
    it, it does not stack on it); None trains a fresh adapter.
    """
    from datasets import Dataset
    from trl import SFTConfig as TrlSFTConfig
    from trl import SFTTrainer

    _validate_pairs(pairs)
    model, lora = _trainable(loaded, sft, continue_from)
    starting = dataclasses.replace(loaded, model=model)
    loss_before = completion_loss(starting, pairs, sft.max_seq_length)
    rendered = [PromptFormat(loaded.tokenizer, loaded.chat).sft_pair(pair) for pair in pairs]
    with tempfile.TemporaryDirectory(prefix="nngpt-sft-") as scratch:
        try:
            args = _trainer_arguments(TrlSFTConfig, scratch, sft, loaded.device, seed)
            trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rendered),
                                 processing_class=loaded.tokenizer, peft_config=lora)
        except (ValueError, ImportError) as exc:  # target modules the model lacks, an optimizer without bitsandbytes
            raise NngptError(f"sft: {str(exc).splitlines()[0]}") from None
        trainer.train()
        losses = [round(entry["loss"], 5) for entry in trainer.state.log_history if "loss" in entry]
        peft_model = trainer.model
        peft_model.save_pretrained(out_dir)
    peft_model.eval()
    trained = dataclasses.replace(loaded, model=peft_model)
    loss_after = completion_loss(trained, pairs, sft.max_seq_length)
    log.info("adapter saved to %s: completion loss %.4f -> %.4f over %d examples", out_dir, loss_before, loss_after, len(pairs))
    return AdapterTraining(Path(out_dir), len(pairs), losses, loss_before, loss_after, trainer.state.global_step)
