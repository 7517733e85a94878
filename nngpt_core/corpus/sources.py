"""Read the hand-written seed architectures shipped in nngpt_core/corpus/seeds/.

    from nngpt_core.corpus.sources import seed_sources
    for name, code in seed_sources():      # ("resnet_basic", "...source...") in name order
        ...
"""

from __future__ import annotations

from pathlib import Path

SEEDS_DIR = Path(__file__).resolve().parent / "seeds"


def seed_files() -> list[Path]:
    """The seed .py files, sorted by name."""
    return sorted(path for path in SEEDS_DIR.glob("*.py") if path.name != "__init__.py")


def seed_sources() -> list[tuple[str, str]]:
    """(name, code) of every hand-written seed, sorted by name; name is the file stem (the family)."""
    return [(path.stem, path.read_text(encoding="utf-8")) for path in seed_files()]
