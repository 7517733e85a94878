"""Shared fixtures of the LLM tests: a small slice of the seed corpus and a tiny bootstrap model trained on it.

The tiny model is real (tokenizer trained by the tokenizers library, LlamaForCausalLM trained from
scratch by our loop), only small: it is trained once per test session, in seconds, so that
loading, generation and SFT tests exercise the same code paths as the shipped model.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.console import Console

SLICE_FILES = 6
TINY_STEPS = 30


@pytest.fixture(scope="session")
def corpus_slice() -> list[tuple[str, str]]:
    from nngpt_core.corpus import seed_sources

    return sorted(seed_sources(), key=lambda source: len(source[1]))[:SLICE_FILES]  # the shortest: fast tests


def tiny_training_corpus(corpus_slice: list[tuple[str, str]]):
    """A small training corpus without probing: the slice's seeds, one variant of each and the
    crossover hybrids of a few combinable seed pairs (the shipped corpus probes every file; tests
    need only its shape)."""
    from nngpt_core.corpus import seed_sources
    from nngpt_core.corpus.crossover import compatible, crossover_docstring, transplant
    from nngpt_core.corpus.expander import apply_edits, possible_edits, variant_name
    from nngpt_core.corpus.training import TrainingCorpus, TrainingFile

    seeds = dict(seed_sources())
    files = [TrainingFile(name, "seed", code) for name, code in corpus_slice]
    for name, code in corpus_slice:
        edits = possible_edits(code)[:1]
        if edits:
            files.append(TrainingFile(variant_name(name, edits), "expanded", apply_edits(code, edits), (name,),
                                      tuple((e.knob, e.value) for e in edits)))
    pairs = [("plain_cnn", "mobilenet_v1"), ("plain_cnn", "repvgg")]
    for network, donor in pairs:
        files.append(TrainingFile(network, "seed", seeds[network]))
        files.append(TrainingFile(donor, "seed", seeds[donor]))
        _, new = compatible(seeds[network], seeds[donor])
        files.append(TrainingFile(f"{network}__x__{donor}", "synthetic",
                                  transplant(seeds[network], seeds[donor], crossover_docstring(network, donor, new)),
                                  (network, donor)))
    unique = list({f.name: f for f in files}.values())
    return TrainingCorpus(unique, {"tiny": True}, pairs, [("repvgg", "plain_cnn")])


def tiny_settings(out: Path, **overrides):
    from nngpt_core.llm.bootstrap.settings import BootstrapSettings

    values = dict(out=out, vocab_size=400, hidden_size=32, layers=1, heads=2, intermediate_size=64, max_length=8192,
                  steps=TINY_STEPS, minutes=5, threads=1, batch_tokens=4096, warmup_steps=2, learning_rate=1e-2,
                  holdout_share=0.2)
    values.update(overrides)
    return BootstrapSettings.quick(**values)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, corpus_slice):
    """(path, BootstrapResult) of a tiny bootstrap model trained on the corpus slice."""
    from nngpt_core.llm.bootstrap import bootstrap

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = tmp_path_factory.mktemp("tiny_bootstrap")
    result = bootstrap(tiny_settings(out, bare_share=1.0, delta_share=0.3), tiny_training_corpus(corpus_slice),
                       console=Console(quiet=True))
    return out, result
