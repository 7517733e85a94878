"""The seed corpus: hand-written LEMUR-interface architectures and programmatic variants of them.

    from nngpt_core.corpus import seed_sources, expanded_sources
    seeds = seed_sources()                            # [(name, code)], one per family
    for name, code in expanded_sources(n=1000, seed=0):
        ...                                           # distinct, checked variants, deterministic

`nngpt corpus build` writes both to a folder and imports them into the store (docs/corpus.md).
"""

from nngpt_core.corpus.expander import expanded_sources
from nngpt_core.corpus.sources import seed_sources

__all__ = ["expanded_sources", "seed_sources"]
