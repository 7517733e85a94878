"""The per-file work of an import, spread over processes: parse once, check the interface, hash, sign.

    from nngpt_core.lemur.analysis import analyse_all, map_files
    for analysis in analyse_all([(name, code), ...], cfg.novelty, workers=2, on_done=bar.advance):
        analysis.problem or (analysis.digest, analysis.hashvalues)
    verdicts = list(map_files(static_verdict, files, workers=2))    # any module-level function of (name, code, *args)

Each file is parsed once: the interface check reads the tree, the normalized-code hash (the
architecture's identity, nngpt_core.novelty.normalize) unparses it, and the lexical tokens of the
novelty index rewrite it last. The results equal code_hash() and lexical_signature() of the file.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from nngpt_core.config import NoveltyConfig
from nngpt_core.errors import NngptError
from nngpt_core.novelty.lexical import lexical_tokens
from nngpt_core.novelty.normalize import parse_without_docstrings, tree_hash
from nngpt_core.novelty.signature import SignatureSettings, lexical_settings, token_signature
from nngpt_core.sandbox.static import StaticVerdict, check_source, interface_problem

CHUNK = 64  # files per task sent to a worker process
T = TypeVar("T")


@dataclass(frozen=True)
class Analysis:
    name: str
    problem: str | None  # why the file is not imported (syntax error, interface), or None
    digest: str | None = None  # code_hash
    hashvalues: np.ndarray | None = None  # lexical MinHash
    size: int = 0  # distinct shingles


def analyse(name: str, code: str, settings: SignatureSettings) -> Analysis:
    try:
        tree = parse_without_docstrings(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return Analysis(name, f"syntax error ({type(exc).__name__})")
    problem = interface_problem(tree)
    if problem:
        return Analysis(name, f"interface: {problem}")
    digest = tree_hash(tree)
    try:
        signature = token_signature(lexical_tokens(tree), settings)
    except NngptError:
        return Analysis(name, "no tokens")
    return Analysis(name, None, digest, signature.hashvalues, signature.size)


def _context() -> multiprocessing.context.BaseContext:
    """fork where there is one: a spawned worker would import the main script again (the whole CLI, torch included)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _apply(function: Callable[..., T], chunk: Sequence[tuple[str, str]], args: tuple) -> list[T]:
    return [function(name, code, *args) for name, code in chunk]


def map_files(
    function: Callable[..., T], files: Sequence[tuple[str, str]], *args: object, workers: int = 1,
    on_done: Callable[[int], None] = lambda _count: None,
) -> Iterator[T]:
    """function(name, code, *args) for each file, in order, computed by `workers` processes (1: in this one).

    `function` must be a module-level function (it is sent to the worker processes by name).
    """
    chunks = [files[start:start + CHUNK] for start in range(0, len(files), CHUNK)]
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            yield from _apply(function, chunk, args)
            on_done(len(chunk))
        return
    with ProcessPoolExecutor(workers, mp_context=_context()) as pool:
        results = pool.map(_apply, [function] * len(chunks), chunks, [args] * len(chunks))
        for chunk, outcome in zip(chunks, results):
            yield from outcome
            on_done(len(chunk))


def analyse_all(
    files: Sequence[tuple[str, str]], novelty: NoveltyConfig, workers: int = 1,
    on_done: Callable[[int], None] = lambda _count: None,
) -> Iterator[Analysis]:
    """Analyses of (name, code) pairs, in order."""
    return map_files(analyse, files, lexical_settings(novelty), workers=workers, on_done=on_done)


def static_verdict(name: str, code: str, extra_imports: tuple[str, ...]) -> StaticVerdict | None:
    """The evaluator's static check of one file (None: it would run)."""
    return check_source(code, extra_imports)
