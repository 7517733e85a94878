"""MinHash signatures: settings are enforced, estimates track exact Jaccard, band keys and LSH parameters behave."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from nngpt_core.config import NoveltyConfig
from nngpt_core.errors import NngptError, SignatureMismatchError
from nngpt_core.novelty.lexical import lexical_tokens
from nngpt_core.novelty.signature import (
    MinHashSignature,
    band_keys,
    collision_probability,
    exact_jaccard,
    lexical_settings,
    lexical_signature,
    lsh_parameters,
    structural_settings,
    token_set,
    token_signature,
)

PAIRS = Path(__file__).parent / "fixtures" / "novelty_pairs"


@pytest.fixture
def source() -> str:
    return (PAIRS / "resnet_basic.py").read_text()


@pytest.mark.parametrize("change", [{"num_perm": 64}, {"seed": 2}, {"shingle_k": 7}])
def test_signatures_made_with_other_settings_are_refused(source, change):
    mine = lexical_signature(source, NoveltyConfig())
    other = lexical_signature(source, NoveltyConfig(**change))
    with pytest.raises(SignatureMismatchError, match=next(iter(change))):
        mine.jaccard(other)


def test_other_scheme_or_kind_is_refused(source):
    mine = lexical_signature(source, NoveltyConfig())
    other_scheme = MinHashSignature(dataclasses.replace(mine.settings, scheme="datasketch-legacy"), mine.hashvalues, mine.size)
    with pytest.raises(SignatureMismatchError, match="scheme"):
        mine.jaccard(other_scheme)
    structural = token_signature(lexical_tokens(source), structural_settings(NoveltyConfig()))
    with pytest.raises(SignatureMismatchError, match="kind"):
        mine.jaccard(structural)


def test_bytes_round_trip_and_length_check(source):
    signature = lexical_signature(source, NoveltyConfig())
    data = signature.to_bytes()
    assert len(data) == 4 * signature.settings.num_perm
    again = MinHashSignature.from_bytes(signature.settings, data)
    assert again.jaccard(signature) == 1.0
    with pytest.raises(SignatureMismatchError):
        MinHashSignature.from_bytes(signature.settings, data[:-4])


def test_estimate_tracks_exact_jaccard_on_the_labelled_pairs():
    cfg = NoveltyConfig(num_perm=256)
    settings = lexical_settings(cfg)
    names = ["lenet", "lenet__restructured", "vgg_small", "alexnet_small", "vgg_small__widths"]
    sets = {n: token_set(lexical_tokens((PAIRS / f"{n}.py").read_text()), settings) for n in names}
    signatures = {n: lexical_signature((PAIRS / f"{n}.py").read_text(), cfg) for n in names}
    errors = [abs(signatures[a].jaccard(signatures[b]) - exact_jaccard(sets[a], sets[b])) for a in names for b in names]
    assert max(errors) < 0.12  # 256 permutations: standard error <= 0.03
    assert np.mean(errors) < 0.04


def test_structural_kind_accepts_any_token_list_as_a_set():
    settings = structural_settings(NoveltyConfig())
    a = token_signature(["conv3x3", "bn", "relu", "conv3x3", "pool"], settings)
    b = token_signature(["pool", "relu", "bn", "conv3x3"], settings)
    assert a.jaccard(b) == 1.0
    assert a.size == 4
    with pytest.raises(NngptError, match="no tokens"):
        token_signature([], settings)


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
@pytest.mark.parametrize("num_perm", [64, 128, 256])
def test_lsh_parameters_reach_the_recall_target_within_num_perm(threshold, num_perm):
    bands, rows = lsh_parameters(threshold, num_perm, recall_at_threshold=0.95)
    assert bands * rows <= num_perm
    assert collision_probability(threshold, bands, rows) >= 0.95
    assert collision_probability(threshold - 0.3, bands, rows) < 0.5  # well below the threshold, mostly no candidate


def test_band_keys_are_signed_64_bit_and_depend_only_on_their_band():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 2**32, size=(4, 128), dtype=np.uint32)
    keys = band_keys(values, 17, 5)
    assert keys.dtype == np.int64 and keys.shape == (4, 17)
    assert (keys < 0).any() and (keys > 0).any()
    np.testing.assert_array_equal(band_keys(values[2], 17, 5), keys[2])
    changed = values[0].copy()
    changed[7] += 1  # row 7 lies in band 1 (rows 5-9)
    new = band_keys(changed, 17, 5)
    assert new[1] != keys[0, 1]
    np.testing.assert_array_equal(np.delete(new, 1), np.delete(keys[0], 1))
    with pytest.raises(SignatureMismatchError):
        band_keys(values[:, :50], 17, 5)
