"""Batched sampling of completions from a loaded causal LM, with throughput in tokens per second.

    from nngpt_core.llm.generate import sample
    completions, stats = sample(loaded, prompts, cfg.generation, seed=7)
    print(stats.tokens_per_s, completions[0].text)

Prompts are sampled `batch_size` at a time (left-padded). Batch b is seeded with `seed + b`, so the
same prompts, settings and seed give the same completions. Generation stops at an end-of-sequence
token (the tokenizer's or the generation config's: an instruct model's end of turn) or at
`max_new_tokens`, capped so that prompt plus completion fit the model's context. Each template
prompt is rendered for the model first (chat template or plain, then `generation.code_prefix`:
nngpt_core.llm.prompt_format); a completion's text starts with that prefix, the prompt recorded
with it is the template's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from nngpt_core.config import GenerationConfig
from nngpt_core.errors import NngptError
from nngpt_core.llm.loading import LoadedModel
from nngpt_core.llm.prompt_format import PromptFormat, code_prefix_text

log = logging.getLogger(__name__)


@dataclass
class Completion:
    prompt: str
    text: str
    new_tokens: int
    seed: int
    stopped: bool  # ended with end-of-sequence rather than at the token limit


@dataclass
class SampleStats:
    completions: int
    new_tokens: int
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def completions_per_min(self) -> float:
        return 60 * self.completions / self.seconds if self.seconds > 0 else 0.0


def _stop_ids(loaded: LoadedModel) -> list[int]:
    """Token ids that end a completion: the tokenizer's end of sequence and the model's generation config's."""
    configured = getattr(getattr(loaded.model, "generation_config", None), "eos_token_id", None)
    configured = configured if isinstance(configured, list) else [configured]
    ids = [loaded.tokenizer.eos_token_id, *configured]
    return list(dict.fromkeys(i for i in ids if i is not None))


def _sample_batch(loaded: LoadedModel, prompts: Sequence[str], gen: GenerationConfig, seed: int,
                  fmt: PromptFormat) -> list[Completion]:
    tokenizer, model = loaded.tokenizer, loaded.model
    # Special tokens as the tokenizer adds them, as trl's SFT trainer tokenizes: train and sample see the same ids.
    texts = [fmt.generation_prompt(prompt) for prompt in prompts]
    encoded = tokenizer(texts, return_tensors="pt", padding=True).to(loaded.device)
    prompt_len = encoded["input_ids"].shape[1]
    max_new = gen.max_new_tokens
    limit = loaded.max_context
    if limit is not None:
        if prompt_len >= limit - 16:
            raise NngptError(f"prompt of {prompt_len} tokens does not fit the model's context of {limit} tokens; use fewer or shorter references")
        max_new = min(max_new, limit - prompt_len)
    stop = _stop_ids(loaded)
    torch.manual_seed(seed)
    if loaded.device.type == "cuda":
        torch.cuda.manual_seed_all(seed)
    with torch.inference_mode():
        output = model.generate(
            **encoded,
            do_sample=True,
            temperature=gen.temperature,
            top_p=gen.top_p,
            top_k=gen.top_k,  # 0 disables it (None would fall back to the model default)
            max_new_tokens=max_new,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=stop,
        )
    completions = []
    for prompt, row in zip(prompts, output[:, prompt_len:].tolist()):
        end = next((i for i, token in enumerate(row) if token in stop), None)  # rows that stopped early are padded after it
        tokens = row if end is None else row[:end]
        text = fmt.completion(tokenizer.decode(tokens, skip_special_tokens=True))
        completions.append(Completion(prompt, text, len(tokens), seed, end is not None))
    return completions


def sample(
    loaded: LoadedModel,
    prompts: Sequence[str],
    gen: GenerationConfig,
    seed: int | None = None,
    batch_size: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[list[Completion], SampleStats]:
    """One completion per prompt, sampled in batches; `on_batch(n)` reports progress."""
    seed = gen.seed if seed is None else seed
    size = batch_size or gen.batch_size
    fmt = PromptFormat(loaded.tokenizer, loaded.chat, code_prefix_text(gen))
    completions: list[Completion] = []
    start = time.perf_counter()
    for b, first in enumerate(range(0, len(prompts), size)):
        batch = prompts[first : first + size]
        completions.extend(_sample_batch(loaded, batch, gen, seed + b, fmt))
        if on_batch:
            on_batch(len(batch))
    stats = SampleStats(len(completions), sum(c.new_tokens for c in completions), time.perf_counter() - start)
    log.info("sampled %d completions, %d tokens in %.1fs: %.1f tokens/s",
             stats.completions, stats.new_tokens, stats.seconds, stats.tokens_per_s)
    return completions, stats
