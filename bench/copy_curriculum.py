"""Can the bootstrap model learn to copy from its prompt? Continue a checkpoint on pairs that only copying answers.

    .venv/bin/python bench/copy_curriculum.py --eval-only                      # the shipped model's copy losses
    .venv/bin/python bench/copy_curriculum.py --out /tmp/c1 --minutes 35 --files 0.5
    .venv/bin/python bench/copy_curriculum.py --model /tmp/c1 --out /tmp/c2 --minutes 25 --snippets 3 --no-mutations
    .venv/bin/python bench/copy_curriculum.py --model /tmp/c2 --out /tmp/c3 --minutes 15 --snippets 3 --random 4 --no-mutations
    .venv/bin/python bench/copy_curriculum.py --model /tmp/c3 --out /tmp/c4 --minutes 12 --random 3 --no-mutations
    .venv/bin/python bench/copy_probe.py --model /tmp/c4                        # then the probe on the result
    .venv/bin/python bench/copy_curriculum.py --short --out /tmp/s1 --minutes 6 --lr 2e-3   # copying first, then the style
    .venv/bin/python bench/copy_curriculum.py --model /tmp/s1 --out /tmp/s2 --minutes 13 --snippets 2 --random 1 --files 0.5

bench/copy_probe.py shows that the shipped model writes the donor block it memorized, never the one
its prompt shows. This bench asks whether any training signal teaches the model to copy within a
CPU budget. Every pass draws fresh pairs of these kinds:

- crossover: every crossover example of the model's training corpus, with one random map of the
  integer literals >= 2 over both parents and the hybrid (so the hybrid's numbers are those shown),
  and in 75% of them every helper, constant and attribute renamed (pairs.rename_helpers);
- mutation: the corpus's mutation examples as the model was trained on them (`--no-mutations` drops them);
- file (`--files`, per seed or variant): a whole training file, remapped and renamed, asked for with no changes;
- snippet (`--snippets`, per crossover): 8-40 consecutive lines of a training file, remapped and renamed,
  asked for with no changes;
- random (`--random`, per crossover): 20-120 random word-like vocabulary tokens, asked for with no
  changes: no memory can answer it, only a copy.

`--short` trains instead on short copies without any prompt: 10-20 random token ids, a fence, and
the same ids again (the task on which a model's copying forms fastest; it forgets the house style).

Before and after training it prints the mean loss per completion token on 40 fresh pairs of the
crossover, snippet and random kinds: a model that copies from its prompt gets near 0 on snippet and
random pairs (uniform guessing over the vocabulary is ln(vocabulary) nats).
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

from copy_probe import INTEGER

ROOT = Path(__file__).resolve().parents[1]
NO_CHANGES = "Write {name} with these changes: none."


def remap_integers(codes: list[str], rng: random.Random) -> list[str]:
    """`codes` with every integer literal >= 2 replaced through one random map of values (consistent across them)."""
    values = sorted({int(value) for code in codes for value in INTEGER.findall(code)})
    mapping = {value: max(2, value + rng.choice((-1, 1, 2, 3)) * max(1, value // 8)) for value in values}
    return [INTEGER.sub(lambda match: str(mapping[int(match.group(1))]), code) for code in codes]


def copy_pair(template, task, name: str, text: str) -> dict[str, str]:
    """`text` shown as the parent and asked for unchanged."""
    from nngpt_core.llm.prompts import Reference

    return template.pair(task, (Reference(name, text, None, role="parent"),), text, NO_CHANGES.format(name=name))


def random_text(rng: random.Random, words: list[str]) -> str:
    text = "".join(rng.choice(words) for _ in range(rng.randint(20, 120))).strip()
    return "\n".join(text[i:i + 60] for i in range(0, len(text), 60))


def draw_pairs(corpus, tokenizer, rng: random.Random, files: float, snippets: float, random_share: float,
               mutations: bool) -> dict[str, list[dict[str, str]]]:
    """One pass of fresh pairs, by kind."""
    from nngpt_core.llm.bootstrap import training_tasks
    from nngpt_core.llm.bootstrap.pairs import mutation_example, rename_helpers
    from nngpt_core.llm.modes import crossover_plan
    from nngpt_core.llm.prompts import PromptTemplate, Reference

    template, tasks, code_of = PromptTemplate.load("default"), training_tasks(), corpus.code_of()
    kinds: dict[str, list[dict[str, str]]] = {"crossover": [], "mutation": [], "file": [], "snippet": [], "random": []}

    def renamed(pair: dict[str, str]) -> dict[str, str]:
        prompt, completion = rename_helpers([pair["prompt"], pair["completion"]], rng, identifiers=True)
        return {"prompt": prompt, "completion": completion}

    for file in corpus.files:
        task = rng.choice(tasks)
        if file.origin == "synthetic":
            network, donor = file.parents
            network_code, donor_code, hybrid = remap_integers([code_of[network], code_of[donor], file.code], rng)
            plan = crossover_plan(Reference(network, network_code), Reference(donor, donor_code))
            if plan is not None:
                pair = template.pair(task, plan.references, hybrid, plan.instruction, plan.fence)
                kinds["crossover"].append(renamed(pair) if rng.random() < 0.75 else pair)
        elif file.origin == "expanded" and mutations:
            kinds["mutation"].append(mutation_example(template, task, file, code_of, rng.random() < 0.15))
        if file.origin in ("seed", "expanded") and rng.random() < files:
            kinds["file"].append(renamed(copy_pair(template, task, file.name, remap_integers([file.code], rng)[0])))
    for _ in range(int(len(kinds["crossover"]) * snippets)):
        file = rng.choice(corpus.files)
        lines = file.code.splitlines()
        length = rng.randint(8, 40)
        start = rng.randrange(max(1, len(lines) - length))
        snippet = remap_integers(["\n".join(lines[start:start + length])], rng)[0]
        kinds["snippet"].append(renamed(copy_pair(template, rng.choice(tasks), f"{file.name}_part", snippet)))
    words = [token.replace("\u0120", " ") for token in tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
             if token.isascii() and re.fullmatch(r"\u0120?\w+", token)]
    for _ in range(int(len(kinds["crossover"]) * random_share)):
        kinds["random"].append(copy_pair(template, rng.choice(tasks), f"sequence_{rng.randint(1, 99)}", random_text(rng, words)))
    return kinds


def short_copies(tokenizer, rng: random.Random, n: int = 4000) -> list:
    """`n` sequences of 10-20 random token ids, a fence, the same ids again; only the repeat is predicted."""
    from nngpt_core.llm.bootstrap.train import Example

    fence = tokenizer.convert_tokens_to_ids("```")
    examples = []
    for _ in range(n):
        ids = [rng.randrange(10, len(tokenizer)) for _ in range(rng.randint(10, 20))]
        examples.append(Example(ids + [fence] + ids + [tokenizer.eos_token_id], len(ids) + 1))
    return examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models/bootstrap", help="Checkpoint to continue.")
    parser.add_argument("--corpus", type=Path, default=ROOT / "models/bootstrap",
                        help="Model directory whose training corpus and tokenizer to use.")
    parser.add_argument("--out", type=Path, help="Where the continued model is saved.")
    parser.add_argument("--minutes", type=float, default=15.0, help="Training budget.")
    parser.add_argument("--lr", type=float, default=1e-3, help="Peak learning rate.")
    parser.add_argument("--files", type=float, default=0.0, help="Share of the seeds and variants also given as whole-file copy pairs.")
    parser.add_argument("--snippets", type=float, default=0.0, help="Snippet copy pairs per crossover pair.")
    parser.add_argument("--random", type=float, default=0.0, help="Random-token copy pairs per crossover pair.")
    parser.add_argument("--no-mutations", dest="mutations", action="store_false", help="Leave out the mutation examples.")
    parser.add_argument("--short", action="store_true", help="Train on short random-token copies only (no prompt).")
    parser.add_argument("--eval-only", action="store_true", help="Only print the copy losses of --model.")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not args.eval_only and args.out is None:
        parser.error("--out is required unless --eval-only")

    import json

    import torch
    from rich.console import Console
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    from nngpt_core.corpus.training import TrainingCorpus
    from nngpt_core.llm.bootstrap import BootstrapResult, save
    from nngpt_core.llm.bootstrap.settings import BootstrapSettings
    from nngpt_core.llm.bootstrap.train import encode_examples, mean_loss, train_model

    torch.set_num_threads(args.threads)
    console = Console(stderr=True)
    corpus = TrainingCorpus.load(args.corpus)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(args.corpus)
    recipe = json.loads((args.corpus / "training.json").read_text())["settings"]
    settings = BootstrapSettings(**{**recipe, "out": args.out or args.model, "minutes": args.minutes, "steps": None,
                                    "learning_rate": args.lr, "warmup_steps": 20, "bf16_autocast": None, "threads": args.threads,
                                    "batch_tokens": 2048 if args.short else recipe["batch_tokens"]})
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    probe = draw_pairs(corpus, tokenizer, random.Random("probe"), 0.0, 1.0, 1.0, False)

    def report(when: str) -> None:
        for kind in ("crossover", "snippet", "random"):
            examples, _ = encode_examples(tokenizer, probe[kind][:40], settings.model_copy(update={"holdout_share": 0.0}))
            loss = mean_loss(model, examples, tokenizer.pad_token_id, settings.batch_tokens)
            console.print(f"{when}: {kind} copy loss {loss:.3f} nats/token")

    report(f"{args.model}")
    if args.eval_only:
        return

    def epoch(k: int):
        if args.short:
            return short_copies(tokenizer, random.Random(f"pass {k}")), short_copies(tokenizer, random.Random("holdout"), 200)
        kinds = draw_pairs(corpus, tokenizer, random.Random(f"pass {k}"), args.files, args.snippets, args.random, args.mutations)
        pairs = [pair for group in kinds.values() for pair in group]
        random.Random(k).shuffle(pairs)
        if k == 0:
            console.print("pairs per pass: " + ", ".join(f"{kind} {len(group)}" for kind, group in kinds.items()))
        return encode_examples(tokenizer, pairs, settings)

    train, holdout = epoch(0)
    history = train_model(model, train, holdout, settings, tokenizer.pad_token_id, console, next_epoch=lambda k: epoch(k)[0])
    save(model, tokenizer, settings, BootstrapResult(args.out, sum(p.numel() for p in model.parameters()),
                                                     len(corpus.files), len(train), corpus.sha256, history))
    console.print(f"{history.steps} steps, {history.epochs:.1f} passes, holdout loss {history.holdout_loss:.3f}")
    report(f"{args.out}")


if __name__ == "__main__":
    main()
