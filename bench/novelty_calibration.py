"""Choose the lexical shingle size k, num_perm and threshold by measurement on labelled pairs.

    .venv/bin/python bench/novelty_calibration.py                 # tests/fixtures/novelty_pairs, seeds 1-5
    .venv/bin/python bench/novelty_calibration.py --pairs DIR --seeds 3

For every k in {3, 5, 7, 10}, num_perm in {64, 128, 256} and threshold, it prints the precision
and recall of "estimated Jaccard >= threshold means duplicate" over the pairs of `pairs.csv`,
averaged over several MinHash seeds (the estimate is random, the labels are not). A second table
shows, per k, the exact Jaccard that separates the classes (lowest duplicate per transform,
highest different pair), with and without the LEMUR training boilerplate in the tokens, and a
third the recall per transform at the configured defaults.
"""

from __future__ import annotations

import argparse
import csv
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nngpt_core.config import NoveltyConfig
from nngpt_core.novelty.lexical import lexical_tokens, shingles
from nngpt_core.novelty.signature import SignatureSettings, exact_jaccard, lexical_settings, signature_of_set

K_VALUES = (3, 5, 7, 10)
NUM_PERMS = (64, 128, 256)
THRESHOLDS = (0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)
DEFAULT_PAIRS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "novelty_pairs"


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    duplicate: bool
    transform: str


def load_pairs(directory: Path) -> tuple[list[Pair], dict[str, str]]:
    with open(directory / "pairs.csv", newline="") as handle:
        pairs = [Pair(r["a"], r["b"], r["label"] == "duplicate", r["transform"]) for r in csv.DictReader(handle)]
    names = {p.a for p in pairs} | {p.b for p in pairs}
    return pairs, {name: (directory / name).read_text() for name in names}


def precision_recall(predicted: list[bool], truth: list[bool]) -> tuple[float, float]:
    true_positive = sum(p and t for p, t in zip(predicted, truth))
    predicted_positive, positive = sum(predicted), sum(truth)
    precision = true_positive / predicted_positive if predicted_positive else 1.0
    return precision, true_positive / positive


def estimated_similarities(pairs, sets_by_name, k, num_perm, seed) -> list[float]:
    settings = SignatureSettings("lexical", num_perm, seed, "calibration", k)
    signatures = {name: signature_of_set(elements, settings) for name, elements in sets_by_name.items()}
    return [signatures[p.a].jaccard(signatures[p.b]) for p in pairs]


def grid_table(pairs, sources, seeds: int) -> Table:
    truth = [p.duplicate for p in pairs]
    table = Table(title=f"precision / recall of estimated Jaccard >= t, mean over MinHash seeds 1-{seeds}")
    for column in ("k", "num_perm", *(f"t={t}" for t in THRESHOLDS)):
        table.add_column(column, justify="right")
    tokens = {name: lexical_tokens(source) for name, source in sources.items()}
    for k in K_VALUES:
        sets_by_name = {name: shingles(t, k) for name, t in tokens.items()}
        for num_perm in NUM_PERMS:
            runs = [estimated_similarities(pairs, sets_by_name, k, num_perm, seed) for seed in range(1, seeds + 1)]
            cells = []
            for t in THRESHOLDS:
                scores = [precision_recall([s >= t for s in similarities], truth) for similarities in runs]
                precision = statistics.mean(p for p, _ in scores)
                recall = statistics.mean(r for _, r in scores)
                cells.append(f"{precision:.2f}/{recall:.2f}")
            table.add_row(str(k), str(num_perm), *cells)
    return table


def separation_table(pairs, sources) -> Table:
    transforms = sorted({p.transform for p in pairs if p.duplicate})
    table = Table(title="exact Jaccard: lowest duplicate per transform vs highest different pair")
    for column in ("tokens", "k", *(f"dup {t} min" for t in transforms), "different max", "different mean"):
        table.add_column(column, justify="right")
    for keep, label in ((True, "with train_setup/learn"), (False, "architecture only")):
        tokens = {name: lexical_tokens(source, keep_training_boilerplate=keep) for name, source in sources.items()}
        for k in K_VALUES:
            sets_by_name = {name: shingles(t, k) for name, t in tokens.items()}
            exact = [exact_jaccard(sets_by_name[p.a], sets_by_name[p.b]) for p in pairs]
            lowest = defaultdict(lambda: 1.0)
            for pair, similarity in zip(pairs, exact):
                if pair.duplicate:
                    lowest[pair.transform] = min(lowest[pair.transform], similarity)
            different = [s for p, s in zip(pairs, exact) if not p.duplicate]
            table.add_row(
                label, str(k), *(f"{lowest[t]:.2f}" for t in transforms), f"{max(different):.2f}", f"{statistics.mean(different):.2f}"
            )
    return table


def defaults_table(pairs, sources, cfg: NoveltyConfig) -> Table:
    settings = lexical_settings(cfg)
    signatures = {name: signature_of_set(shingles(lexical_tokens(s), cfg.shingle_k), settings) for name, s in sources.items()}
    found = defaultdict(list)
    for pair in pairs:
        found[pair.transform].append(signatures[pair.a].jaccard(signatures[pair.b]) >= cfg.lexical_threshold)
    table = Table(
        title=f"defaults k={cfg.shingle_k}, num_perm={cfg.num_perm}, seed={cfg.seed}, threshold={cfg.lexical_threshold}: "
        "share of pairs called near-duplicate"
    )
    for column in ("transform", "pairs", "called duplicate"):
        table.add_column(column, justify="right")
    for transform, calls in sorted(found.items()):
        table.add_row(transform, str(len(calls)), f"{sum(calls) / len(calls):.2f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS, help="directory with pairs.csv and the files it names")
    parser.add_argument("--seeds", type=int, default=5, help="MinHash seeds to average over")
    args = parser.parse_args()
    pairs, sources = load_pairs(args.pairs)
    console = Console(width=200)
    duplicates = sum(p.duplicate for p in pairs)
    console.print(f"{len(pairs)} labelled pairs from {args.pairs}: {duplicates} duplicate, {len(pairs) - duplicates} different")
    console.print(separation_table(pairs, sources))
    console.print(grid_table(pairs, sources, args.seeds))
    console.print(defaults_table(pairs, sources, NoveltyConfig()))


if __name__ == "__main__":
    main()
