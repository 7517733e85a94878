"""Similarity signals between two pieces of code, and the novelty verdict they imply.

    from nngpt_core.novelty.compare import compare_sources
    report = compare_sources(code_a, code_b, cfg.novelty)
    report["verdict"], report["lexical"]["estimated"], report["lexical"]["exact"]

Each signal kind is a function in SIGNALS returning at least {"estimated": MinHash Jaccard,
"exact": Jaccard of the sets}; adding a kind (the evaluator's `structural`) means adding one
entry there and its threshold field in THRESHOLD_FIELDS. `strongest_duplicate` is the one rule
that turns similarities into a verdict, used here and by admission against the store: a
candidate is a near-duplicate when any kind reaches its threshold from NoveltyConfig.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nngpt_core.config import NoveltyConfig
from nngpt_core.novelty.lexical import lexical_tokens
from nngpt_core.novelty.normalize import code_hash
from nngpt_core.novelty.signature import (
    SignatureSettings, exact_jaccard, lexical_settings, signature_of_set, structural_settings, token_set,
)

NOVEL, NEAR_DUPLICATE, EXACT_DUPLICATE = "novel", "near_duplicate", "exact_duplicate"
THRESHOLD_FIELDS = {"lexical": "lexical_threshold", "structural": "structural_threshold"}


def threshold_for(kind: str, cfg: NoveltyConfig) -> float:
    return getattr(cfg, THRESHOLD_FIELDS[kind])


@dataclass(frozen=True)
class Match:
    """Similarity of one signal kind to one other piece of code (a stored architecture, when known)."""

    kind: str
    similarity: float
    architecture_id: int | None = None


def strongest_duplicate(matches: Iterable[Match], cfg: NoveltyConfig) -> Match | None:
    """The most similar match at or above its kind's threshold, or None when the code is novel."""
    over = [match for match in matches if match.similarity >= threshold_for(match.kind, cfg)]
    return max(over, key=lambda match: match.similarity) if over else None


def _similarity(tokens_a: list[str], tokens_b: list[str], settings: SignatureSettings) -> dict[str, float]:
    """MinHash-estimated and exact Jaccard of two token lists under one signature's settings."""
    set_a, set_b = token_set(tokens_a, settings), token_set(tokens_b, settings)
    estimated = signature_of_set(set_a, settings).jaccard(signature_of_set(set_b, settings))
    return {"estimated": round(estimated, 4), "exact": round(exact_jaccard(set_a, set_b), 4)}


def lexical_signal(source_a: str, source_b: str, cfg: NoveltyConfig) -> dict[str, float]:
    return _similarity(lexical_tokens(source_a), lexical_tokens(source_b), lexical_settings(cfg))


SIGNALS: dict[str, Callable[[str, str, NoveltyConfig], dict[str, float]]] = {"lexical": lexical_signal}


def structural_signal(tokens_a: list[str], tokens_b: list[str], cfg: NoveltyConfig) -> dict[str, float]:
    """Similarity of two structural fingerprints (token lists from the sandboxed forward pass)."""
    return _similarity(tokens_a, tokens_b, structural_settings(cfg))


def compare_sources(source_a: str, source_b: str, cfg: NoveltyConfig,
                    structural: tuple[list[str], list[str]] | None = None) -> dict:
    """Every signal of SIGNALS for the two sources, the thresholds used and the verdict.

    Raises SyntaxError when either source does not parse.
    """
    report: dict = {kind: signal(source_a, source_b, cfg) for kind, signal in SIGNALS.items()}
    if structural is not None:
        report["structural"] = structural_signal(*structural, cfg)
    if code_hash(source_a) == code_hash(source_b):
        verdict, decided_by = EXACT_DUPLICATE, "code_hash"
    else:
        match = strongest_duplicate((Match(kind, values["estimated"]) for kind, values in report.items()), cfg)
        verdict, decided_by = (NEAR_DUPLICATE, match.kind) if match else (NOVEL, None)
    report["thresholds"] = {kind: threshold_for(kind, cfg) for kind in list(report)}
    report["verdict"] = verdict
    report["decided_by"] = decided_by
    return report
