"""An outside reviewer's check of admitted architectures against every file the model was trained on.

    .venv/bin/nngpt corpus build --out /tmp/corpus --no-import                  # the training corpus, as files
    .venv/bin/python bench/novelty_audit.py --corpus /tmp/corpus --db sqlite:///.nngpt/nngpt.db [--run 1]
    .venv/bin/python bench/novelty_audit.py --corpus /tmp/corpus --db URL --tau 0.8 --show 5

For every architecture the loop admitted (origin generated, in the corpus), the highest exact Jaccard
of abstracted token 10-shingles (nngpt_core.novelty.paper: identifiers, numbers and strings become
ID, NUM, STR) to any file under --corpus, read from disk, not from the store. An admitted
architecture at or above --tau (the paper's 0.90) counts as a copy. Prints the share of copies with
its Wilson 95% interval, the distribution of the nearest similarities, and the closest cases.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import select  # noqa: E402

from nngpt_core.loop.stats import wilson_interval  # noqa: E402
from nngpt_core.novelty.paper import PAPER_TAU, PaperIndex  # noqa: E402
from nngpt_core.store.engine import open_store  # noqa: E402
from nngpt_core.store.models import Architecture  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="Folder of the training corpus files (nngpt corpus build --out).")
    parser.add_argument("--db", required=True, help="Store URL.")
    parser.add_argument("--run", type=int, help="Only this run's admitted architectures.")
    parser.add_argument("--tau", type=float, default=PAPER_TAU)
    parser.add_argument("--show", type=int, default=5, help="Closest cases to print.")
    args = parser.parse_args()
    console = Console(width=200)
    files = sorted(args.corpus.rglob("*.py"))
    index = PaperIndex({i: path.read_text(encoding="utf-8") for i, path in enumerate(files)})
    store = open_store(args.db)
    with store.session() as session:
        query = select(Architecture.id, Architecture.name, Architecture.code).where(
            Architecture.origin == "generated", Architecture.in_corpus.is_(True))
        if args.run is not None:
            query = query.where(Architecture.run_id == args.run)
        admitted = session.execute(query.order_by(Architecture.id)).all()
    results = []
    for architecture_id, name, code in admitted:
        similarity, nearest = index.nearest(code)
        results.append((similarity, architecture_id, name, files[nearest].relative_to(args.corpus) if nearest is not None else None))
    copies = sum(1 for similarity, *_ in results if similarity >= args.tau)
    low, high = wilson_interval(copies, len(results)) or (0.0, 0.0)
    console.print(f"{len(files)} training files, {len(admitted)} admitted architectures; at tau {args.tau}: "
                  f"{copies} copies ({copies / max(len(results), 1):.1%}, Wilson 95% [{low:.1%}, {high:.1%}])")
    bins = [0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01]
    table = Table("nearest similarity", "admitted")
    for lo, hi in zip(bins, bins[1:]):
        table.add_row(f"[{lo:.1f}, {min(hi, 1.0):.1f}{']' if hi > 1 else ')'}", str(sum(lo <= s < hi for s, *_ in results)))
    console.print(table)
    closest = Table("architecture", "nearest training file", "similarity", title="closest admitted architectures")
    for similarity, architecture_id, name, path in sorted(results, reverse=True)[: args.show]:
        closest.add_row(f"{architecture_id} {name}", str(path), f"{similarity:.3f}")
    console.print(closest)


if __name__ == "__main__":
    main()
