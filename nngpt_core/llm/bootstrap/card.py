"""The model card (README.md) of a bootstrap checkpoint, from its training record and the experiment log.

    from nngpt_core.llm.bootstrap.card import write_model_card
    write_model_card(Path("models/bootstrap"), json.loads(Path("models/bootstrap/training.json").read_text()))

The experiment log (experiments.md beside this module) is hand-written: what was tried and what each
attempt gave. It is copied into every card, so a reproduced checkpoint carries the same history.
"""

from __future__ import annotations

from pathlib import Path

EXPERIMENT_LOG = Path(__file__).with_name("experiments.md")


def _reproduce_command(settings: dict, steps: int) -> str:
    return f"nngpt bootstrap --out {settings['out']} --steps {steps} --seed {settings['seed']}"


def write_model_card(out: Path, record: dict) -> Path:
    settings, history = record["settings"], record["history"]
    curve = history["loss_curve"]
    first, last = (curve[0][1], curve[-1][1]) if curve else (None, None)
    holdout = history["holdout_loss"]
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-generation",
        "tags: [nngpt, neural-architecture-search, code, llama]",
        "---",
        "",
        "# nngpt bootstrap model",
        "",
        "A small Llama-architecture causal LM trained from scratch, on CPU, on the nngpt training corpus of",
        "LEMUR-interface PyTorch architectures. It is the embedded default of `nngpt generate` and `nngpt run`.",
        "Given a parent network and a donor's block section it writes their hybrid (crossover); given a parent",
        "and named changes of its knobs it writes the changed file (mutation); either can be asked for as a",
        "unified diff against the parent (delta). The prompts are those of `nngpt_core/llm/modes.py`.",
        "",
        "| | |",
        "|---|---|",
        f"| parameters | {record['parameters']:,} ({settings['layers']} layers, hidden {settings['hidden_size']}, "
        f"{settings['heads']} heads, MLP {settings['intermediate_size']}, context {settings['max_length']}) |",
        f"| tokenizer | byte-level BPE, {settings['vocab_size']} tokens |",
        f"| training corpus | {record['corpus_files']} files, sha256 `{record['corpus_sha256'][:16]}...` "
        "(`training_corpus.jsonl.gz`, manifest `training_corpus.json`; `nngpt corpus build --model DIR --out OUT` writes them) |",
        f"| training examples | {record['training_examples']} prompt+completion sequences |",
        f"| training | {history['steps']} steps, {history['epochs']:.2f} epochs, {history['tokens']:,} tokens, "
        f"{history['seconds'] / 60:.1f} min on {settings['threads']} CPU threads |",
        f"| train loss per token | {first} at step {curve[0][0] if curve else '-'} -> {last} at the end |",
        f"| holdout loss per token | {holdout:.4f} |" if holdout is not None else "| holdout loss per token | - |",
        f"| saved dtype | {settings['save_dtype']} |",
        "",
        "Reproduce (same corpus, same seed; the step count fixes the schedule):",
        "",
        "```",
        _reproduce_command(settings, history["steps"]),
        "```",
        "",
        "Training settings, the loss curve and package versions are in `training.json`.",
        "",
    ]
    if EXPERIMENT_LOG.is_file():
        lines.append(EXPERIMENT_LOG.read_text(encoding="utf-8").rstrip() + "\n")
    path = out / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
