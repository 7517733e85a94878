"""Checked crossover hybrids of corpus files: the synthetic part of the bootstrap model's training corpus.

    from nngpt_core.corpus.hybrids import family_of, split_family_pairs, hybrid_sources
    trained, held_out = split_family_pairs(seed_sources(), share=0.5, seed=0, by="donor")
    for hybrid in hybrid_sources(files, trained, per_pair=2, seed=0):
        hybrid.name, hybrid.network, hybrid.donor, hybrid.code

A family is a hand-written seed and every variant of it (`resnet_basic__width24` is of the family
`resnet_basic`); a hybrid has the family of its network parent as a network and that of its donor
as a block donor, so hybrids can be parents of further hybrids. The ordered family pairs (network family, donor family) whose seeds can be combined
are split once, by seed: the bootstrap model is trained on hybrids of the first part only, and
generation asks for the second, so what it writes there is no copy of its training data. A hybrid is
yielded only if its normalized code is new and it builds, trains a step and returns batch x classes on
both probe shapes within the expander's size budget.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from nngpt_core.corpus.crossover import compatible, crossover_docstring, main_block, transplant
from nngpt_core.corpus.expander import within_budget
from nngpt_core.novelty.normalize import code_hash

FAMILY_SEPARATOR = "__"
ATTEMPTS_PER_HYBRID = 3


CROSS = f"{FAMILY_SEPARATOR}x{FAMILY_SEPARATOR}"


def family_of(name: str) -> str:
    """The seed family of a corpus file's network: 'resnet_basic__width24' -> 'resnet_basic'; for a
    hybrid 'vgg__x__efficientnet', the network's family 'vgg'."""
    return name.split(FAMILY_SEPARATOR, 1)[0]


def block_family_of(name: str) -> str:
    """The seed family of a corpus file's main block: a hybrid's comes from its (last) donor."""
    return family_of(name.rsplit(CROSS, 1)[-1])


def hybrid_name(network: str, donor: str) -> str:
    return f"{network}{CROSS}{donor}"


@dataclass(frozen=True)
class Hybrid:
    name: str
    network: str  # name of the parent whose network was kept
    donor: str  # name of the parent whose main block moved in
    code: str


def combinable_pairs(seeds: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Ordered (network family, donor family) pairs whose seeds the crossover operator can combine."""
    return [(a, b) for a, code_a in seeds for b, code_b in seeds if a != b and compatible(code_a, code_b)]


SPLITS = ("pair", "donor")


def split_family_pairs(seeds: Sequence[tuple[str, str]], share: float, seed: int,
                       by: str = "pair") -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(trained, held out) combinable pairs: by "pair", a random `share` of the pairs; by "donor", the
    pairs whose donor family is in a random `share` of the donor families.

    Split by donor, a held-out hybrid's blocks never appeared as transplanted blocks in training, so
    it is no near duplicate of a training hybrid with the same donor (split by pair, about two thirds
    of the operator's own held-out hybrids were, by lexical Jaccard >= 0.7)."""
    if by not in SPLITS:
        raise ValueError(f"unknown family-pair split {by!r}; expected one of {SPLITS}")
    pairs = combinable_pairs(seeds)
    rng = random.Random(f"family-pairs:{seed}")
    if by == "pair":
        rng.shuffle(pairs)
        cut = round(share * len(pairs))
        return sorted(pairs[:cut]), sorted(pairs[cut:])
    donors = sorted({donor for _, donor in pairs})
    rng.shuffle(donors)
    trained_donors = set(donors[:round(share * len(donors))])
    return sorted(p for p in pairs if p[1] in trained_donors), sorted(p for p in pairs if p[1] not in trained_donors)


def hybrid_sources(files: Sequence[tuple[str, str]], family_pairs: Sequence[tuple[str, str]], per_pair: int,
                   seed: int, exclude_hashes: set[str] | None = None,
                   outcomes: dict[tuple[str, str], list[int]] | None = None) -> Iterator[Hybrid]:
    """Up to `per_pair` checked hybrids per family pair, parents drawn from the files of each family.

    Deterministic given the arguments. Hybrids are distinct from each other and from `exclude_hashes`
    (the rest of the corpus) by normalized code. `outcomes`, when given, receives [probed, passed]
    per family pair: how often the operator's text builds and trains for that combination."""
    rng = random.Random(f"hybrids:{seed}")
    networks: dict[str, list[tuple[str, str]]] = {}
    donors: dict[str, list[tuple[str, str]]] = {}
    for name, code in files:
        if main_block(code) is not None:
            networks.setdefault(family_of(name), []).append((name, code))
            donors.setdefault(block_family_of(name), []).append((name, code))
    seen = set(exclude_hashes or ())
    for network_family, donor_family in family_pairs:
        made = 0
        for _ in range(per_pair * ATTEMPTS_PER_HYBRID):
            if made == per_pair or not networks.get(network_family) or not donors.get(donor_family):
                break
            network, network_code = rng.choice(networks[network_family])
            donor, donor_code = rng.choice(donors[donor_family])
            blocks = compatible(network_code, donor_code)
            if blocks is None:
                continue
            code = transplant(network_code, donor_code, crossover_docstring(network, donor, blocks[1]))
            digest = code_hash(code)
            if digest in seen:
                continue
            seen.add(digest)
            passed = within_budget(code)
            if outcomes is not None:
                counts = outcomes.setdefault((network_family, donor_family), [0, 0])
                counts[0] += 1
                counts[1] += passed
            if passed:
                made += 1
                yield Hybrid(hybrid_name(network, donor), network, donor, code)
