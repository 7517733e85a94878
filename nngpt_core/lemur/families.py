"""Near-duplicate families of a corpus, as admission would form them: greedy, in a fixed order.

    from nngpt_core.lemur.families import lexical_families, paper_families
    families = lexical_families(ids, hashvalues, threshold=0.7)      # the project's criterion
    families = paper_families(ids, shingle_hashes, tau=0.90)         # the paper's criterion
    families.distinct, families.members[leader_id]

Files are taken in order; a file joins the family of the most similar earlier leader at or above
the threshold, otherwise it becomes a leader itself, exactly as the project's admission keeps the
first of a family and refuses the rest. Leaders are therefore the distinct architectures under
the criterion. Both criteria are decided exactly, not through LSH: the lexical one compares each
file's MinHash with every leader's (vectorized), the paper's one filters leaders with a MinHash of
the shingle hashes and confirms each candidate with the exact Jaccard of the sets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from nngpt_core.novelty.paper import PAPER_TAU, paper_shingles

PAPER_PERMUTATIONS = 128
PAPER_PREFILTER = 0.75  # MinHash estimate below which a pair cannot reach tau = 0.90 (4 standard deviations at 128)
_SEPARATOR = "\x1f"


@dataclass
class Families:
    criterion: str
    leaders: list[int] = field(default_factory=list)  # distinct architectures, in order
    members: dict[int, list[int]] = field(default_factory=dict)  # leader -> its family, leader first

    @property
    def distinct(self) -> int:
        return len(self.leaders)

    def sizes(self) -> list[int]:
        """Family sizes, largest first."""
        return sorted((len(members) for members in self.members.values()), reverse=True)


def _greedy(ids: Sequence[int], best_leader: Callable[[int, list[int]], int | None], criterion: str) -> Families:
    families = Families(criterion)
    leader_rows: list[int] = []
    for row, architecture_id in enumerate(ids):
        found = best_leader(row, leader_rows)
        if found is None:
            leader_rows.append(row)
            families.leaders.append(architecture_id)
            families.members[architecture_id] = [architecture_id]
        else:
            families.members[ids[found]].append(architecture_id)
    return families


def lexical_families(ids: Sequence[int], hashvalues: np.ndarray, threshold: float) -> Families:
    """Families under the project's lexical criterion: estimated Jaccard of the stored MinHash signatures >= threshold."""
    leaders = np.empty_like(hashvalues)
    count = 0

    def best_leader(row: int, leader_rows: list[int]) -> int | None:
        nonlocal count
        if count:
            similarity = np.count_nonzero(leaders[:count] == hashvalues[row], axis=1) / hashvalues.shape[1]
            best = int(np.argmax(similarity))
            if similarity[best] >= threshold:
                return leader_rows[best]
        leaders[count] = hashvalues[row]
        count += 1
        return None

    return _greedy(ids, best_leader, f"lexical MinHash >= {threshold:.2f}")


def shingle_hashes(name: str, code: str) -> np.ndarray | None:
    """The paper's 10-shingles of a file as sorted unique 64-bit hashes (None when it does not parse)."""
    try:
        shingles = paper_shingles(code)
    except SyntaxError:
        return None
    values = [int.from_bytes(hashlib.blake2b(_SEPARATOR.join(s).encode(), digest_size=8).digest(), "little") for s in shingles]
    return np.unique(np.asarray(values, dtype=np.uint64))


def _minhash(sets: Sequence[np.ndarray], permutations: int, seed: int = 1) -> np.ndarray:
    generator = np.random.default_rng(seed)
    multipliers = generator.integers(1, 2**63, size=permutations, dtype=np.uint64) | np.uint64(1)
    offsets = generator.integers(0, 2**63, size=permutations, dtype=np.uint64)
    signatures = np.empty((len(sets), permutations), dtype=np.uint64)
    with np.errstate(over="ignore"):  # multiply-add modulo 2^64 is the hash family
        for row, values in enumerate(sets):
            signatures[row] = (values[:, None] * multipliers + offsets).min(axis=0)
    return signatures


def paper_families(ids: Sequence[int], sets: Sequence[np.ndarray], tau: float = PAPER_TAU) -> Families:
    """Families under the paper's criterion: exact Jaccard of the abstracted-token 10-shingle sets >= tau."""
    signatures = _minhash(sets, PAPER_PERMUTATIONS)
    sizes = np.array([len(values) for values in sets])
    leaders = np.empty_like(signatures)
    count = 0

    def best_leader(row: int, leader_rows: list[int]) -> int | None:
        nonlocal count
        if count:
            estimate = np.count_nonzero(leaders[:count] == signatures[row], axis=1) / PAPER_PERMUTATIONS
            rows = np.asarray(leader_rows)
            ratio = np.minimum(sizes[rows], sizes[row]) / np.maximum(np.maximum(sizes[rows], sizes[row]), 1)
            best, best_similarity = None, tau
            for candidate in np.flatnonzero((estimate >= PAPER_PREFILTER) & (ratio >= tau)):
                other = leader_rows[candidate]
                shared = len(np.intersect1d(sets[row], sets[other], assume_unique=True))
                similarity = shared / (sizes[row] + sizes[other] - shared)
                if similarity > best_similarity or (best is None and similarity >= tau):
                    best, best_similarity = other, similarity
            if best is not None:
                return best
        leaders[count] = signatures[row]
        count += 1
        return None

    return _greedy(ids, best_leader, f"paper: exact Jaccard of 10-shingles >= {tau:.2f}")
