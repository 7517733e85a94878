"""Hand-written seed architectures in the LEMUR interface, one family per file.

These files are data: `nngpt_core.corpus.seed_sources()` reads them as text, and nothing imports
them as modules. Each is a complete program that `nngpt evaluate` (or the corpus tests) can run.
"""
