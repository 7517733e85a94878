"""`nngpt bootstrap`: train the embedded default model from scratch on the seed corpus, on CPU.

    from nngpt_core.llm.bootstrap import bootstrap
    from nngpt_core.llm.bootstrap.settings import BootstrapSettings
    result = bootstrap(BootstrapSettings.quick(out=Path("/tmp/boot")))    # or BootstrapSettings() for the full one

Steps: build the training corpus (hand-written seeds, expanded variants, crossover hybrids of the
trained family pairs: nngpt_core.corpus.training), turn it into crossover, mutation and delta
examples (pairs.py), train a byte-level BPE tokenizer on them (tokenizer.py), train a small Llama
from scratch (train.py), and save everything in Hugging Face format with the training corpus and its
manifest, training.json (settings, corpus hash, loss curve, versions) and a model card (card.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from rich.console import Console

from nngpt_core.config import GenerationConfig
from nngpt_core.errors import NngptError
from nngpt_core.llm.bootstrap.card import write_model_card
from nngpt_core.corpus.training import TrainingCorpus
from nngpt_core.llm.bootstrap.pairs import training_pairs
from nngpt_core.llm.bootstrap.settings import BootstrapSettings
from nngpt_core.llm.bootstrap.tokenizer import train_tokenizer
from nngpt_core.llm.bootstrap.train import (
    TrainingHistory, build_model, cpu_has_native_bf16, encode_examples, train_model,
)
from nngpt_core.llm.prompts import PromptTemplate, TaskSpec
from nngpt_core.versions import environment_versions

TRAINING_RECORD = "training.json"


@dataclass
class BootstrapResult:
    out: Path
    parameters: int
    corpus_files: int
    examples: int
    corpus_sha256: str
    history: TrainingHistory


def training_tasks() -> list[TaskSpec]:
    """One task per registered dataset, with the default parameter budget, to vary prompt headers."""
    from nngpt_core.data.registry import DATASETS

    budget = GenerationConfig().param_budget
    return [TaskSpec.for_dataset(name, budget) for name in DATASETS]


def build_training_corpus(settings: BootstrapSettings, console: Console) -> TrainingCorpus:
    """The corpus of the settings' recipe, with a progress line per 50 files (variants and hybrids are probed)."""
    made = 0

    def progress(file) -> None:
        nonlocal made
        made += 1
        if made % 50 == 0:
            console.log(f"training corpus: {made} checked files ({file.origin} {file.name})")

    return TrainingCorpus.build(settings.expanded_files, settings.hybrids_per_pair, settings.trained_share,
                                settings.seed, settings.held_out_split, on_file=progress)


def bootstrap(settings: BootstrapSettings, corpus: TrainingCorpus | None = None,
              console: Console | None = None) -> BootstrapResult:
    """Train and save the bootstrap model; `corpus` overrides the settings' recipe (tests pass a small one)."""
    console = console or Console(stderr=True)
    if settings.bf16_autocast is None:  # recorded as decided, so training.json says how the model was trained
        settings = settings.model_copy(update={"bf16_autocast": cpu_has_native_bf16()})
    console.log(f"bfloat16 autocast: {'on' if settings.bf16_autocast else 'off'}")
    corpus = corpus if corpus is not None else build_training_corpus(settings, console)
    corpus.save(settings.out)  # first: what the model is trained on is on disk before training starts
    template = PromptTemplate.load("default")
    tasks = training_tasks()

    def make_pairs(rename_round: int) -> list[dict[str, str]]:
        return training_pairs(corpus, template, tasks, settings.seed, settings.rename_share, settings.delta_share,
                              settings.bare_share, rename_round, settings.rename_identifiers)

    pairs = make_pairs(0)
    if len(pairs) < 2:
        raise NngptError(f"bootstrap needs at least 2 training examples, the corpus gave {len(pairs)}")
    console.log(f"{len(corpus.files)} corpus files ({corpus.manifest()['counts']}) -> {len(pairs)} prompt/completion examples")
    tokenizer = train_tokenizer((pair["prompt"] + pair["completion"] for pair in pairs), settings.vocab_size)
    train, holdout = encode_examples(tokenizer, pairs, settings)
    if not train:
        raise NngptError(f"every training example is longer than max_length={settings.max_length} tokens")
    model = build_model(settings, tokenizer)
    parameters = sum(p.numel() for p in model.parameters())
    console.log(f"model: {parameters / 1e6:.2f}M parameters, {len(train)} training / {len(holdout)} holdout examples, "
                f"{sum(map(len, train)) / len(train):.0f} tokens per example")
    history = train_model(model, train, holdout, settings, tokenizer.pad_token_id, console,
                          next_epoch=lambda epoch: encode_examples(tokenizer, make_pairs(epoch), settings)[0])
    result = BootstrapResult(settings.out, parameters, len(corpus.files), len(train), corpus.sha256, history)
    save(model, tokenizer, settings, result)
    console.log(f"saved to {settings.out}: {history.steps} steps, {history.epochs:.2f} epochs, "
                f"holdout loss {history.holdout_loss}")
    return result


def save(model, tokenizer, settings: BootstrapSettings, result: BootstrapResult) -> None:
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.to(getattr(torch, settings.save_dtype)).save_pretrained(out)
    model.float()
    tokenizer.save_pretrained(out)
    record = {
        "settings": json.loads(settings.model_dump_json()),
        "parameters": result.parameters,
        "corpus_files": result.corpus_files,
        "training_examples": result.examples,
        "corpus_sha256": result.corpus_sha256,
        "history": asdict(result.history),
        "versions": environment_versions(),
    }
    (out / TRAINING_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    write_model_card(out, record)
