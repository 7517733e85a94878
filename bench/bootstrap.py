"""Cold-start valid rate of the bootstrap model: generate, evaluate in the sandbox, Wilson 95% interval.

    .venv/bin/python bench/bootstrap.py                              # 64 candidates on digits32, temperature 0.6
    .venv/bin/python bench/bootstrap.py --temperatures 0.3 0.6 1.0   # one row per temperature, side by side
    .venv/bin/python bench/bootstrap.py --n 8 --max-new-tokens 256   # a smoke run

Cycle 0 of the loop: each prompt carries one hand-written seed architecture as reference (what the
store holds after `nngpt corpus build`). Every completion counts in the denominator; a candidate is
valid when the evaluator returns `ok` (one epoch on the dataset). The table also counts valid
candidates that are exact copies (same normalized code) of any seed, and those that are novel
against every seed by the loop's own lexical test (nngpt_core.novelty.compare, the configured
threshold), since a copy is valid but not new; then the status breakdown of the rest.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from nngpt_core.config import NoveltyConfig, load_config
from nngpt_core.evaluate import Evaluator
from nngpt_core.llm.candidates import generate_candidates, write_candidates
from nngpt_core.llm.loading import load_model
from nngpt_core.llm.prompts import TaskSpec
from nngpt_core.llm.references import seed_references
from nngpt_core.loop.stats import wilson_interval
from nngpt_core.novelty.compare import compare_sources
from nngpt_core.novelty.normalize import code_hash


def _hash(code: str | None) -> str | None:
    try:
        return code_hash(code) if code else None
    except SyntaxError:
        return None


def novel_against(code: str, seeds: list[str], novelty: NoveltyConfig) -> bool:
    """True when no seed is an exact or near duplicate of `code` (the loop's lexical verdict)."""
    return all(compare_sources(code, seed, novelty)["verdict"] == "novel" for seed in seeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/bootstrap", help="Model directory or id.")
    parser.add_argument("--n", type=int, default=64, help="Candidates per temperature.")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.6], help="Sampling temperatures.")
    parser.add_argument("--max-new-tokens", type=int, default=1024, help="Tokens per completion at most.")
    parser.add_argument("--batch", type=int, default=8, help="Generation batch size.")
    parser.add_argument("--dataset", default="digits32", help="Evaluation dataset.")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads for generation.")
    parser.add_argument("--seed", type=int, default=0, help="Sampling seed.")
    parser.add_argument("--out", type=Path, help="Also write candidates, completions and results here.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)

    console = Console(width=200)
    pool = seed_references()
    seed_hashes = {_hash(ref.code) for ref in pool}
    table = Table("temperature", "generated", "with code", "valid (ok)", "valid rate", "Wilson 95%",
                  "valid copies of a seed", "valid and novel vs the seeds", "mean acc. of valid", "other statuses", "tokens/s",
                  title=f"cold-start valid rate: {args.model} on {args.dataset}, references: 1 seed per prompt")
    for temperature in args.temperatures:
        cfg = load_config(None, {
            "model.name_or_path": args.model, "model.device": "cpu", "evaluation.dataset": args.dataset,
            "generation.max_new_tokens": args.max_new_tokens, "generation.temperature": temperature,
            "generation.batch_size": args.batch, "generation.references_per_prompt": 1,
        })
        loaded = load_model(cfg.model)
        task = TaskSpec.for_dataset(args.dataset, cfg.generation.param_budget)
        candidates, stats = generate_candidates(loaded, cfg.generation, task, pool, args.n, args.seed)
        del loaded
        with Evaluator(cfg.evaluation) as evaluator:
            results = evaluator.evaluate_many([c.code for c in candidates])
        statuses = Counter(r.status for r in results)
        valid = [(c, r) for c, r in zip(candidates, results) if r.ok]
        copies = sum(1 for c, _ in valid if _hash(c.code) in seed_hashes)
        novel = sum(1 for c, _ in valid if novel_against(c.code, [ref.code for ref in pool], cfg.novelty))
        low, high = wilson_interval(len(valid), len(candidates))
        accuracies = [r.accuracy for _, r in valid if r.accuracy is not None]
        others = ", ".join(f"{s}={k}" for s, k in statuses.most_common() if s != "ok")
        table.add_row(f"{temperature:g}", str(len(candidates)), str(sum(1 for c in candidates if c.code)),
                      str(len(valid)), f"{len(valid) / len(candidates):.1%}", f"[{low:.1%}, {high:.1%}]",
                      str(copies), str(novel), f"{sum(accuracies) / len(accuracies):.3f}" if accuracies else "-", others or "-",
                      f"{stats.tokens_per_s:.0f}")
        if args.out:
            folder = args.out / f"t{temperature:g}"
            write_candidates(candidates, folder)
            with (folder / "results.jsonl").open("w") as handle:
                for candidate, result in zip(candidates, results):
                    handle.write(json.dumps({"index": candidate.index, "status": result.status, "error": result.error,
                                             "accuracy": result.accuracy, "references": candidate.references}) + "\n")
    console.print(table)


if __name__ == "__main__":
    main()
