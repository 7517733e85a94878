"""Lexical tokens: renaming, formatting, comments, docstrings, import order and training boilerplate change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from nngpt_core.novelty.lexical import canonical_code, lexical_tokens, shingles
from nngpt_core.novelty.normalize import code_hash

PAIRS = Path(__file__).parent / "fixtures" / "novelty_pairs"
BASES = sorted(p.stem for p in PAIRS.glob("*.py") if "__" not in p.stem)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("transform", ["renamed", "reformatted"])
def test_renamed_and_reformatted_copies_have_the_same_tokens(base, transform):
    original = (PAIRS / f"{base}.py").read_text()
    copy = (PAIRS / f"{base}__{transform}.py").read_text()
    assert copy != original
    assert lexical_tokens(copy) == lexical_tokens(original)


def test_different_architectures_have_different_tokens():
    streams = {base: tuple(lexical_tokens((PAIRS / f"{base}.py").read_text())) for base in BASES}
    assert len(set(streams.values())) == len(BASES)


def test_api_names_and_builtins_are_kept_local_names_are_not():
    source = (
        "import torch.nn as nn\n"
        "class Stem(nn.Module):\n"
        "    def __init__(self, width):\n"
        "        super().__init__()\n"
        "        self.my_conv = nn.Conv2d(3, width, kernel_size=3)\n"
        "    def forward(self, images):\n"
        "        return [self.my_conv(image) for image in range(len(images))]\n"
    )
    tokens = lexical_tokens(source)
    for kept in ("nn", "Conv2d", "kernel_size", "super", "__init__", "forward", "range", "len", "Module"):
        assert kept in tokens
    for renamed in ("Stem", "width", "my_conv", "images", "image", "self"):
        assert renamed not in tokens


def test_keyword_arguments_follow_the_parameters_they_name():
    def program(param: str) -> str:
        return (
            f"def block({param}, stride=1):\n    return nn.Conv2d({param}, {param}, 3, stride=stride)\n"
            f"x = block({param}=8, stride=2)\n"
        )

    assert lexical_tokens(program("channels")) == lexical_tokens(program("c"))
    code = canonical_code(program("c"))
    assert "F0(V0=8, V1=2)" in code  # keywords of the file's own function follow its parameters
    assert "stride=V1" in code  # the keyword of torch's Conv2d is kept


def test_renaming_in_one_method_does_not_shift_names_in_another():
    def program(name: str) -> str:
        return (
            "class Net:\n"
            f"    def a(self, {name}):\n        return {name} + 1\n"
            "    def b(self, y, z):\n        return y * z\n"
        )

    first, second = canonical_code(program("x")), canonical_code(program("totally_different"))
    assert first == second
    assert "def M1(V0, V1, V2)" in first  # locals are numbered per method


def test_import_order_and_grouping_do_not_matter():
    a = "import torch\nimport torch.nn as nn\nfrom torch import optim, nn as n2\nx = 1\n"
    b = "from torch import nn as n2\nimport torch.nn as nn\nfrom torch import optim\nimport torch\nx = 1\n"
    assert lexical_tokens(a) == lexical_tokens(b)


def test_training_boilerplate_is_left_out_but_the_architecture_counts():
    base = (PAIRS / "lenet.py").read_text()
    sgd = "torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])"
    other_optimizer = base.replace(sgd, "torch.optim.Adam(self.parameters(), lr=prm['lr'])")
    other_layer = base.replace("nn.AvgPool2d(2)", "nn.MaxPool2d(2)")
    assert other_optimizer != base and other_layer != base
    assert lexical_tokens(other_optimizer) == lexical_tokens(base)
    assert lexical_tokens(other_layer) != lexical_tokens(base)
    assert lexical_tokens(other_optimizer, keep_training_boilerplate=True) != lexical_tokens(base, keep_training_boilerplate=True)


def test_shingles_are_windows_of_k_tokens():
    tokens = ["a", "b", "c", "a", "b", "c"]
    assert len(shingles(tokens, 3)) == 3  # abc, bca, cab
    assert len(shingles(tokens, 6)) == 1
    assert shingles(tokens[:2], 5) == shingles(tokens[:2], 9)  # shorter than k: one shingle of everything
    assert shingles([], 5) == set()
    with pytest.raises(ValueError):
        shingles(tokens, 0)


def test_code_hash_ignores_comments_and_docstrings_but_not_renaming():
    base = (PAIRS / "lenet.py").read_text()
    recommented = base.replace('    """LeNet-5 style', '    # a comment\n    """LeNet-5 style')
    assert code_hash(recommented) == code_hash(base)
    assert code_hash((PAIRS / "lenet__renamed.py").read_text()) != code_hash(base)


def test_invalid_python_raises_syntax_error():
    with pytest.raises(SyntaxError):
        lexical_tokens("def broken(:\n")
