"""Settings of `nngpt bootstrap`: model shape, data and training budget, with the full and quick presets.

    from nngpt_core.llm.bootstrap.settings import BootstrapSettings
    full = BootstrapSettings()                 # the shipped checkpoint
    quick = BootstrapSettings.quick()          # a tiny model in a minute or two, for tests and smoke runs
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from nngpt_core.config import Section


class BootstrapSettings(Section):
    """The defaults are the shipped checkpoint's recipe (v4); the model card's experiment log says what the
    other settings (held out by donor, more hybrids per pair, renamed identifiers) gave."""

    out: Path = Field(Path("models/bootstrap"), description="Directory the model, tokenizer and model card are written to.")
    seed: int = Field(0, description="Seed for initialisation, pairing and batch order.")
    vocab_size: int = Field(4096, ge=300, description="Byte-level BPE vocabulary size.")
    hidden_size: int = Field(128, ge=16, description="Llama hidden size.")
    layers: int = Field(4, ge=1, description="Llama decoder layers.")
    heads: int = Field(2, ge=1, description="Attention heads (hidden_size must divide by it).")
    intermediate_size: int = Field(384, ge=16, description="MLP inner size.")
    max_length: int = Field(3584, ge=128, description="Context length; longer training examples are dropped.")
    expanded_files: int = Field(150, ge=0, description="Expanded variants of the seeds: the mutation examples (seed + named changes -> variant), and parents of hybrids.")
    hybrids_per_pair: int = Field(1, ge=0, description="Checked crossover hybrids per trained family pair: the crossover examples (network + donor blocks -> hybrid).")
    trained_share: float = Field(0.35, ge=0, le=1, description="Share of the combinable (network family, donor family) pairs (or of the donor families, split by donor) the model is trained on; generation asks for the rest.")
    held_out_split: Literal["pair", "donor"] = Field("pair", description="How family pairs are held out: at random ('pair'), or every pair of a held-out donor family ('donor': a held-out hybrid's blocks were never transplanted in training, so it can be new).")
    delta_share: float = Field(0.15, ge=0, le=1, description="Share of the examples answered as a unified diff against the parent (delta mode).")
    rename_share: float = Field(0.75, ge=0, le=1, description="Share of pairs whose helper class/function names are randomized (same in reference and target), teaching the model to copy names from the reference.")
    rename_identifiers: bool = Field(False, description="Renamed pairs also get random module constants and self attributes, so no block can be recalled from memory, only copied from the prompt.")
    completion_only_loss: bool = Field(True, description="Predict only the completion's tokens, not the prompt and its reference.")
    bare_share: float = Field(0.1, ge=0, le=1, description="Share of the seeds also given as the answer to a prompt without references (full mode).")
    batch_tokens: int = Field(8192, ge=256, description="Tokens (padded) per optimizer step.")
    learning_rate: float = Field(2e-3, gt=0, description="Peak AdamW learning rate (cosine decay to 10%).")
    warmup_steps: int = Field(30, ge=0, description="Linear warm-up steps.")
    weight_decay: float = Field(0.05, ge=0, description="AdamW weight decay.")
    minutes: float = Field(90.0, gt=0, description="Wall-clock training budget; the schedule follows it unless steps is set.")
    steps: int | None = Field(None, ge=1, description="Fixed number of optimizer steps (reproduces a run exactly); None = train for `minutes`.")
    holdout_share: float = Field(0.03, ge=0, lt=0.5, description="Share of examples held out to report a validation loss.")
    threads: int = Field(2, ge=1, description="torch CPU threads.")
    bf16_autocast: bool | None = Field(
        None, description="Train under bfloat16 autocast; None = only where the CPU computes bfloat16 natively (AVX512-BF16 or AMX): "
                          "measured 1.6-7x faster than float32 there, 3.8x slower on a CPU without it.",
    )
    save_dtype: Literal["float32", "float16", "bfloat16"] = Field("float16", description="Dtype of the saved weights (float16 halves the checkpoint).")

    @classmethod
    def quick(cls, **overrides) -> BootstrapSettings:
        """A tiny model trained briefly on a slice of the corpus (a minute or two on 2 cores)."""
        values = dict(
            vocab_size=600, hidden_size=64, layers=2, heads=2, intermediate_size=176, max_length=3072,
            expanded_files=20, hybrids_per_pair=1, trained_share=0.1, batch_tokens=4096, learning_rate=3e-3,
            warmup_steps=5, minutes=1.0, steps=None, save_dtype="float32",
        )
        values.update(overrides)
        return cls(**values)
