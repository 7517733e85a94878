"""The from-scratch training loop of the bootstrap model (a small LlamaForCausalLM on CPU).

    from nngpt_core.llm.bootstrap.train import build_model, encode_examples, train_model
    model = build_model(settings, tokenizer)
    train, holdout = encode_examples(tokenizer, pairs, settings)
    history = train_model(model, train, holdout, settings, pad_id, console)

Examples are never packed together: each sequence is one prompt plus its completion, so attention
sees exactly what it will see at generation time. With `completion_only_loss` (the default) only
the completion's tokens are predicted: the reference in the prompt is given at generation time, and
learning to predict it taught the model to recall families instead of reading them. Batches group examples of similar length up to
`batch_tokens` padded tokens. The learning rate warms up, then follows a cosine to 10% of its
peak over `steps`, or over the wall-clock budget `minutes` when no step count is fixed (the step
count reached is recorded, so `--steps` reproduces a timed run).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from nngpt_core.llm.bootstrap.settings import BootstrapSettings

IGNORE_INDEX = -100
LOG_EVERY_STEPS = 25


class Example(list):
    """Token ids of one prompt + completion + end-of-sequence; the first `prompt_tokens` are the prompt."""

    def __init__(self, ids: list[int], prompt_tokens: int):
        super().__init__(ids)
        self.prompt_tokens = prompt_tokens


@dataclass
class TrainingHistory:
    steps: int = 0
    tokens: int = 0
    seconds: float = 0.0
    epochs: float = 0.0
    loss_curve: list[tuple[int, float]] = field(default_factory=list)  # (step, mean train loss per token since last point)
    holdout_loss: float | None = None


def build_model(settings: BootstrapSettings, tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=settings.hidden_size,
        intermediate_size=settings.intermediate_size,
        num_hidden_layers=settings.layers,
        num_attention_heads=settings.heads,
        num_key_value_heads=settings.heads,
        max_position_embeddings=settings.max_length,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(settings.seed)
    return LlamaForCausalLM(config)


def encode_examples(tokenizer, pairs: Sequence[dict[str, str]], settings: BootstrapSettings) -> tuple[list[Example], list[Example]]:
    """The pairs as Examples, split (train, holdout): the first `holdout_share` of the pairs are held
    out (the same pairs in every epoch); too-long ones are dropped."""
    encoded = []
    for pair in pairs:
        prompt = tokenizer(pair["prompt"], add_special_tokens=False)["input_ids"]
        ids = prompt + tokenizer(pair["completion"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        unlabelled = len(prompt) if settings.completion_only_loss else 0
        encoded.append(Example(ids, unlabelled) if len(ids) <= settings.max_length else None)
    holdout = int(len(encoded) * settings.holdout_share)
    return [ids for ids in encoded[holdout:] if ids], [ids for ids in encoded[:holdout] if ids]


def _batches(examples: list[Example], batch_tokens: int, rng: random.Random) -> list[list[Example]]:
    """Length-sorted batches of at most batch_tokens padded tokens, in random order."""
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i]), rng.random()))
    batches, current, longest = [], [], 0
    for i in order:
        length = len(examples[i])
        if current and max(longest, length) * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(examples[i])
        longest = max(longest, length)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def _collate(batch: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded ids and labels, without an attention mask: under causal attention no real token
    can see the padding after it, and a mask would push CPU attention off its fused kernel (measured
    2x slower for 2k-token sequences)."""
    longest = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), longest), IGNORE_INDEX, dtype=torch.long)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, ids.prompt_tokens : len(ids)] = torch.tensor(ids[ids.prompt_tokens :])
    return {"input_ids": input_ids, "labels": labels}


def _learning_rate(settings: BootstrapSettings, step: int, progress: float) -> float:
    if step < settings.warmup_steps:
        return settings.learning_rate * (step + 1) / settings.warmup_steps
    return settings.learning_rate * (0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0))))


@torch.no_grad()
def mean_loss(model, examples: list[Example], pad_id: int, batch_tokens: int) -> float | None:
    """Mean loss per predicted token over `examples` (None when there are none)."""
    if not examples:
        return None
    model.eval()
    total, count = 0.0, 0
    for batch in _batches(examples, batch_tokens, random.Random(0)):
        inputs = _collate(batch, pad_id)
        predicted = int((inputs["labels"][:, 1:] != IGNORE_INDEX).sum())
        total += float(model(**inputs).loss) * predicted
        count += predicted
    model.train()
    return total / count


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (Linux CPU flags); without it autocast emulates and is slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def train_model(model, train: list[Example], holdout: list[Example], settings: BootstrapSettings,
                pad_id: int, console: Console,
                next_epoch: Callable[[int], list[Example]] | None = None) -> TrainingHistory:
    """Train until `steps` or `minutes` run out; returns the loss curve and the holdout loss.

    `next_epoch(k)`, when given, supplies the training examples of epoch k >= 1 (fresh random names)."""
    torch.set_num_threads(settings.threads)
    autocast = cpu_has_native_bf16() if settings.bf16_autocast is None else settings.bf16_autocast
    rng = random.Random(settings.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, betas=(0.9, 0.95),
                                  weight_decay=settings.weight_decay)
    history = TrainingHistory()
    budget_s = settings.minutes * 60
    tokens_per_epoch = sum(len(ids) for ids in train)
    window_loss, window_tokens = 0.0, 0
    start = time.perf_counter()
    model.train()

    def progress() -> float:
        if settings.steps:
            return history.steps / settings.steps
        return (time.perf_counter() - start) / budget_s

    with Progress(TextColumn("[bold]bootstrap training"), BarColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("", total=1.0)
        epoch = 0
        while progress() < 1.0:
            if epoch and next_epoch is not None:
                train = next_epoch(epoch)
            epoch += 1
            for batch in _batches(train, settings.batch_tokens, rng):
                for group in optimizer.param_groups:
                    group["lr"] = _learning_rate(settings, history.steps, progress())
                inputs = _collate(batch, pad_id)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                    loss = model(**inputs).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                predicted = int((inputs["labels"][:, 1:] != IGNORE_INDEX).sum())
                window_loss += float(loss.detach()) * predicted
                window_tokens += predicted
                history.steps += 1
                history.tokens += sum(len(ids) for ids in batch)
                if history.steps % LOG_EVERY_STEPS == 0:
                    history.loss_curve.append((history.steps, round(window_loss / window_tokens, 4)))
                    window_loss, window_tokens = 0.0, 0
                    elapsed = time.perf_counter() - start
                    console.log(f"step {history.steps}  loss {history.loss_curve[-1][1]:.3f}  "
                                f"epoch {history.tokens / tokens_per_epoch:.2f}  {history.tokens / elapsed:.0f} tokens/s")
                bar.update(task, completed=min(progress(), 1.0),
                           description=f"step {history.steps} loss {float(loss.detach()):.3f}")
                if progress() >= 1.0:
                    break
    if window_tokens:
        history.loss_curve.append((history.steps, round(window_loss / window_tokens, 4)))
    history.seconds = time.perf_counter() - start
    history.epochs = history.tokens / tokens_per_epoch
    history.holdout_loss = mean_loss(model, holdout, pad_id, settings.batch_tokens)
    model.eval()
    return history
