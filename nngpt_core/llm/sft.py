"""LoRA supervised fine-tuning with peft and trl's SFTTrainer on prompt/completion pairs.

    from nngpt_core.llm.sft import train_adapter, completion_loss
    result = train_adapter(loaded, pairs, cfg.sft, out_dir, seed=0)   # loaded: base with earlier adapters merged
    print(result.losses, result.loss_before, result.loss_after)

The loss covers completion tokens only (trl's completion_only_loss on a prompt/completion dataset).
Precision follows the hardware: bfloat16 only on a CUDA device that supports it, float32 otherwise
(trl's own default asks for bf16 and fails on CPU). Gradient checkpointing is off: the models this
runs on CPU are small, and recomputation only costs time there.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from nngpt_core.config import SFTConfig
from nngpt_core.errors import NngptError
from nngpt_core.llm.loading import LoadedModel

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
    for pair in pairs:
        prompt_ids = tokenizer(pair["prompt"], add_special_tokens=False)["input_ids"]
        full_ids = tokenizer(pair["prompt"] + pair["completion"], add_special_tokens=False)["input_ids"]
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


def train_adapter(loaded: LoadedModel, pairs: list[dict[str, str]], sft: SFTConfig, out_dir: Path, seed: int = 0) -> AdapterTraining:
    """Train a fresh LoRA adapter on top of `loaded.model` and save it (adapter files only) to `out_dir`."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig as TrlSFTConfig
    from trl import SFTTrainer

    _validate_pairs(pairs)
    loss_before = completion_loss(loaded, pairs, sft.max_seq_length)
    lora = LoraConfig(r=sft.r, lora_alpha=sft.alpha, lora_dropout=sft.dropout,
                      target_modules=list(sft.target_modules), task_type="CAUSAL_LM")
    on_cuda = loaded.device.type == "cuda"
    with tempfile.TemporaryDirectory(prefix="nngpt-sft-") as scratch:
        args = TrlSFTConfig(
            output_dir=scratch,
            num_train_epochs=sft.epochs,
            per_device_train_batch_size=sft.batch_size,
            learning_rate=sft.learning_rate,
            max_length=sft.max_seq_length,
            completion_only_loss=True,
            packing=False,
            gradient_checkpointing=False,
            bf16=_bf16_available(loaded.device),
            fp16=False,
            use_cpu=not on_cuda,
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            seed=seed,
            disable_tqdm=True,
            dataloader_num_workers=0,
        )
        try:
            trainer = SFTTrainer(model=loaded.model, args=args, train_dataset=Dataset.from_list(pairs),
                                 processing_class=loaded.tokenizer, peft_config=lora)
        except ValueError as exc:  # e.g. target modules the model does not have
            raise NngptError(f"sft: {str(exc).splitlines()[0]}") from None
        trainer.train()
        losses = [round(entry["loss"], 5) for entry in trainer.state.log_history if "loss" in entry]
        peft_model = trainer.model
        peft_model.save_pretrained(out_dir)
    peft_model.eval()
    trained = LoadedModel(peft_model, loaded.tokenizer, loaded.name_or_path, loaded.device, loaded.adapter_paths)
    loss_after = completion_loss(trained, pairs, sft.max_seq_length)
    log.info("adapter saved to %s: completion loss %.4f -> %.4f over %d examples", out_dir, loss_before, loss_after, len(pairs))
    return AdapterTraining(Path(out_dir), len(pairs), losses, loss_before, loss_after, trainer.state.global_step)
