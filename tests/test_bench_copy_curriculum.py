"""bench/copy_curriculum.py's pairs: one integer map per crossover (parents and hybrid agree), and copy
pairs whose answer stands verbatim in their prompt, drawn afresh from the shipped model's corpus."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from copy_curriculum import draw_pairs, remap_integers, short_copies  # noqa: E402
from copy_probe import INTEGER  # noqa: E402


def test_remap_integers_maps_each_value_the_same_way_in_every_file():
    network, donor = "WIDTH = 16\nnn.Conv2d(c, 16, 3, padding=1)\n", "KERNEL = 3\nEXPANSION = 4\nx = 1e-5 * y2\n"
    new_network, new_donor = remap_integers([network, donor], random.Random(0))
    assert new_network != network and new_donor != donor
    width, conv_width, _ = INTEGER.findall(new_network)
    assert width == conv_width != "16"  # one value, one new value, wherever it stands
    assert re.search(r"nn\.Conv2d\(c, \d+, (\d+),", new_network).group(1) == re.search(r"KERNEL = (\d+)", new_donor).group(1)
    assert "padding=1" in new_network and "1e-5 * y2" in new_donor  # 1, floats and names untouched


def test_copy_pairs_can_be_answered_only_from_the_prompt_and_change_every_pass():
    from transformers import PreTrainedTokenizerFast

    from nngpt_core.corpus.training import TrainingCorpus

    corpus = TrainingCorpus.load(ROOT / "models/bootstrap")
    tokenizer = PreTrainedTokenizerFast.from_pretrained(ROOT / "models/bootstrap")
    first = draw_pairs(corpus, tokenizer, random.Random("pass 0"), 0.2, 1.0, 1.0, mutations=True)
    second = draw_pairs(corpus, tokenizer, random.Random("pass 1"), 0.2, 1.0, 1.0, mutations=True)
    crossovers = len(first["crossover"])
    assert crossovers > 100 and len(first["snippet"]) == len(first["random"]) == crossovers
    assert first["mutation"] and first["file"]
    for kind in ("file", "snippet", "random"):
        for pair in first[kind][:30]:
            answer = pair["completion"].rsplit("\n```", 1)[0]
            assert answer in pair["prompt"], kind
    for pair in first["crossover"][:30]:  # every number of the hybrid is one the prompt shows
        assert set(INTEGER.findall(pair["completion"])) <= set(INTEGER.findall(pair["prompt"]))
    assert first["snippet"][0] != second["snippet"][0] and first["crossover"][0] != second["crossover"][0]


def test_short_copies_predict_only_the_repeat():
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast.from_pretrained(ROOT / "models/bootstrap")
    examples = short_copies(tokenizer, random.Random(0), n=50)
    assert len({tuple(example) for example in examples}) == 50
    for example in examples:
        shown = example[: example.prompt_tokens - 1]
        assert 10 <= len(shown) <= 20 and example[example.prompt_tokens:-1] == shown
        assert example[-1] == tokenizer.eos_token_id
