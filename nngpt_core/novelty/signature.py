"""MinHash signatures (datasketch) with their settings, and the LSH band keys derived from them.

    from nngpt_core.novelty.signature import lexical_signature, exact_jaccard
    a = lexical_signature(source_a, cfg.novelty)
    a.jaccard(lexical_signature(source_b, cfg.novelty))   # estimated Jaccard of the shingle sets

A signature remembers how it was made (kind, num_perm, seed, scheme, shingle size). Comparing
two signatures made differently raises SignatureMismatchError instead of returning a number
that means nothing. The scheme string names everything that changes the hash values: the
datasketch permutation scheme and input hash, the token stream version and the band-key
function, so it stays meaningful across datasketch releases.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from datasketch import MinHash

from nngpt_core.config import NoveltyConfig
from nngpt_core.errors import NngptError, SignatureMismatchError
from nngpt_core.novelty.lexical import TOKENS_VERSION, lexical_tokens, shingles

DATASKETCH_SCHEME = "affine32"  # datasketch 2.x: fmix32 pre-mix, a*h+b mod 2^32; input hash sha1_hash32
BAND_KEY_VERSION = "bandkey-fmix64-v1"
STRUCTURAL_TOKENS_VERSION = "structural-v1"
HASH_DTYPE = np.dtype("<u4")  # stored little-endian, 4 bytes per permutation


def minhash_scheme(tokens_version: str) -> str:
    """The recorded scheme: datasketch hashing + token stream + band keys, e.g. for the lexical kind."""
    return f"datasketch-{DATASKETCH_SCHEME}-sha1_32|{tokens_version}|{BAND_KEY_VERSION}"


@dataclass(frozen=True)
class SignatureSettings:
    """How a signature is made; two signatures are comparable only when these are equal."""

    kind: str
    num_perm: int
    seed: int
    scheme: str
    shingle_k: int | None  # None: the tokens themselves are the set elements

    def require_same(self, other: SignatureSettings, what: str = "signature") -> None:
        """Raise SignatureMismatchError naming the first setting that differs."""
        for field in ("kind", "num_perm", "seed", "scheme", "shingle_k"):
            mine, theirs = getattr(self, field), getattr(other, field)
            if mine != theirs:
                raise SignatureMismatchError(
                    f"{what} was made with {field}={theirs!r}, not {field}={mine!r}; "
                    "signatures made with other settings are never compared (re-index with one setting)"
                )


def lexical_settings(cfg: NoveltyConfig) -> SignatureSettings:
    return SignatureSettings("lexical", cfg.num_perm, cfg.seed, minhash_scheme(TOKENS_VERSION), cfg.shingle_k)


def structural_settings(cfg: NoveltyConfig, tokens_version: str = STRUCTURAL_TOKENS_VERSION) -> SignatureSettings:
    """Settings for structural tokens: each token is one set element (no shingling)."""
    return SignatureSettings("structural", cfg.num_perm, cfg.seed, minhash_scheme(tokens_version), None)


@dataclass(frozen=True, eq=False)
class MinHashSignature:
    settings: SignatureSettings
    hashvalues: np.ndarray  # uint32, one per permutation
    size: int  # distinct set elements hashed

    def jaccard(self, other: MinHashSignature) -> float:
        """Estimated Jaccard similarity; refuses a signature made with other settings."""
        self.settings.require_same(other.settings)
        return float(np.count_nonzero(self.hashvalues == other.hashvalues)) / len(self.hashvalues)

    def to_bytes(self) -> bytes:
        return self.hashvalues.astype(HASH_DTYPE).tobytes()

    @classmethod
    def from_bytes(cls, settings: SignatureSettings, data: bytes, size: int = 0) -> MinHashSignature:
        values = np.frombuffer(data, dtype=HASH_DTYPE).astype(np.uint32)
        if len(values) != settings.num_perm:
            raise SignatureMismatchError(f"stored signature has {len(values)} values, settings say num_perm={settings.num_perm}")
        return cls(settings, values, size)

    def to_datasketch(self) -> MinHash:
        s = self.settings
        return MinHash(
            num_perm=s.num_perm, seed=s.seed, hashvalues=self.hashvalues, scheme=DATASKETCH_SCHEME,
            permutations=_permutations(s.num_perm, s.seed),
        )


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> np.ndarray:
    return MinHash(num_perm=num_perm, seed=seed, scheme=DATASKETCH_SCHEME).permutations


def signature_of_set(elements: Iterable[bytes], settings: SignatureSettings) -> MinHashSignature:
    """MinHash of a set of byte strings with the given settings. Refuses an empty set."""
    elements = list(elements)
    if not elements:
        raise NngptError(f"cannot make a {settings.kind} signature of nothing: no tokens")
    minhash = MinHash(
        num_perm=settings.num_perm, seed=settings.seed, scheme=DATASKETCH_SCHEME,
        permutations=_permutations(settings.num_perm, settings.seed),
    )
    minhash.update_batch(elements)
    return MinHashSignature(settings, minhash.hashvalues.astype(np.uint32), len(elements))


def token_set(tokens: list[str], settings: SignatureSettings) -> set[bytes]:
    """The set a signature is made of: k-shingles of the tokens, or the tokens themselves."""
    if settings.shingle_k:
        return shingles(tokens, settings.shingle_k)
    return {token.encode() for token in tokens}


def token_signature(tokens: list[str], settings: SignatureSettings) -> MinHashSignature:
    """Signature of any token list (the structural kind passes its fingerprint tokens here)."""
    return signature_of_set(token_set(tokens, settings), settings)


def lexical_signature(source: str, cfg: NoveltyConfig) -> MinHashSignature:
    """Lexical signature of Python source. Raises SyntaxError when it does not parse."""
    return token_signature(lexical_tokens(source), lexical_settings(cfg))


def exact_jaccard(a: set, b: set) -> float:
    """|a ∩ b| / |a ∪ b| (1.0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def collision_probability(similarity: float | np.ndarray, bands: int, rows: int):
    """Probability that two signatures of this Jaccard similarity share at least one band key."""
    return 1.0 - (1.0 - np.asarray(similarity) ** rows) ** bands


def lsh_parameters(threshold: float, num_perm: int, recall_at_threshold: float = 0.95) -> tuple[int, int]:
    """Bands x rows that make a pair exactly at `threshold` a candidate with probability >= `recall_at_threshold`,
    with the fewest candidates below the threshold (smallest area under the collision curve on [0, threshold]).

    For a given number of rows, the fewest bands reaching the recall is best (more bands only add
    false candidates); among the row counts that fit in num_perm, the one with the smallest area wins.
    Falls back to one row per band (the most sensitive index) when no setting reaches the recall.
    """
    below = np.linspace(0.0, threshold, 1001)
    best, best_area = (num_perm, 1), float("inf")
    for rows in range(1, num_perm + 1):
        at_threshold = threshold**rows
        if at_threshold >= 1.0:
            bands = 1
        else:
            bands = math.ceil(math.log1p(-recall_at_threshold) / math.log1p(-at_threshold))
        if bands * rows > num_perm:
            break  # more rows need ever more bands: nothing further fits
        area = float(np.trapezoid(collision_probability(below, bands, rows), below))
        if area < best_area:
            best, best_area = (bands, rows), area
    return best


_FMIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(33)


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _SHIFT)
    h = h * _FMIX_1
    h = h ^ (h >> _SHIFT)
    h = h * _FMIX_2
    return h ^ (h >> _SHIFT)


def band_keys(hashvalues: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Signed 64-bit key of each band: shape (bands,) for one signature, (n, bands) for a matrix of n.

    Vectorized over signatures and bands so that bulk indexing of 10^6 signatures stays fast.
    """
    matrix = np.atleast_2d(hashvalues).astype(np.uint64)
    if matrix.shape[1] < bands * rows:
        raise SignatureMismatchError(f"signature has {matrix.shape[1]} values, the index needs {bands}x{rows}")
    values = matrix[:, : bands * rows].reshape(len(matrix), bands, rows)
    keys = _fmix64(np.broadcast_to(np.arange(1, bands + 1, dtype=np.uint64) * _GOLDEN, (len(matrix), bands)))
    for row in range(rows):
        keys = _fmix64(keys ^ values[:, :, row])
    signed = keys.view(np.int64)
    return signed[0] if np.ndim(hashvalues) == 1 else signed
