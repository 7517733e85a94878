"""Generation throughput of the bootstrap model on this CPU: one prompt at a time vs batched, side by side.

    .venv/bin/python bench/generate.py                          # 16 prompts, batch 8, 384 new tokens
    .venv/bin/python bench/generate.py --n 8 --batch 4 --max-new-tokens 128 --threads 1   # a quick run

The same prompts (crossover prompts of the hand-written seeds, as in cycle 0 of the default run), the
same sampling settings and the same seed go through both modes in one process. For each mode it prints tokens per second,
candidates per minute and the share of completions with usable code, then the batched/single ratios.
"""

from __future__ import annotations

import argparse
import os

import torch
from rich.console import Console
from rich.table import Table

from nngpt_core.config import load_config
from nngpt_core.llm.candidates import fits_context, generate_candidates
from nngpt_core.llm.loading import load_model
from nngpt_core.llm.prompts import PromptTemplate, TaskSpec
from nngpt_core.loop.generation import planner_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/bootstrap", help="Model directory or id.")
    parser.add_argument("--n", type=int, default=16, help="Prompts per mode.")
    parser.add_argument("--batch", type=int, default=8, help="Batch size of the batched mode.")
    parser.add_argument("--max-new-tokens", type=int, default=384, help="Tokens per completion at most.")
    parser.add_argument("--temperature", type=float, default=0.6, help="Sampling temperature.")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads.")
    parser.add_argument("--seed", type=int, default=0, help="Sampling seed.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)

    cfg = load_config(None, {"model.name_or_path": args.model, "model.device": "cpu",
                             "generation.max_new_tokens": args.max_new_tokens, "generation.temperature": args.temperature})
    loaded = load_model(cfg.model)
    task = TaskSpec.for_dataset("digits32", cfg.generation.param_budget)
    plans = planner_for(None, cfg).draw(args.n, args.seed, fits_context(loaded, PromptTemplate.load("default"), task, cfg.generation))
    console = Console(width=200)
    table = Table("mode", "batch", "completions", "new tokens", "seconds", "tokens/s", "candidates/min", "with code",
                  title=f"generation on CPU, {args.threads} threads: {loaded.name_or_path}, "
                        f"max_new_tokens={args.max_new_tokens}, temperature={args.temperature}")
    measured = {}
    for mode, batch in (("one at a time", 1), ("batched", args.batch)):
        with console.status(f"{mode} ..."):
            candidates, stats = generate_candidates(loaded, cfg.generation, task, plans, args.seed, batch_size=batch)
        usable = sum(1 for c in candidates if c.code)
        measured[mode] = stats
        table.add_row(mode, str(batch), str(stats.completions), str(stats.new_tokens), f"{stats.seconds:.1f}",
                      f"{stats.tokens_per_s:.1f}", f"{stats.completions_per_min:.1f}", f"{usable}/{len(candidates)}")
    console.print(table)
    single, batched = measured["one at a time"], measured["batched"]
    console.print(f"batched / one at a time: tokens/s x{batched.tokens_per_s / single.tokens_per_s:.2f}, "
                  f"candidates/min x{batched.completions_per_min / single.completions_per_min:.2f}")


if __name__ == "__main__":
    main()
