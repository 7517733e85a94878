"""Static checks: what is refused before anything runs, with which status, and what real architectures pass."""

from __future__ import annotations

import pytest

from nngpt_core.config import EvaluationConfig
from nngpt_core.sandbox.static import check_source
from tests.evaluator_helpers import CONTROL, FIXTURES

ALLOWED = EvaluationConfig().allowed_imports
INTERFACE = '''
def supported_hyperparameters():
    return {"lr"}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()

    def forward(self, x):
        return x

    def train_setup(self, prm):
        pass

    def learn(self, train_data):
        pass
'''


def _with_interface(header: str) -> str:
    return "import torch\nimport torch.nn as nn\n" + header + "\n" + INTERFACE


def test_real_architectures_pass():
    paths = [CONTROL, *sorted((FIXTURES / "architectures").rglob("*.py"))]
    assert len(paths) > 5
    for path in paths:
        assert check_source(path.read_text(), ALLOWED) is None, path.name


@pytest.mark.parametrize(("code", "status"), [
    (None, "no_code"),
    ("   \n\t", "no_code"),
    ("def f(:\n", "syntax_error"),
    ("x = 1\0", "syntax_error"),
    ("(" * 500 + ")" * 500, "syntax_error"),
])
def test_empty_and_unparsable_code(code, status):
    verdict = check_source(code, ALLOWED)
    assert verdict is not None and verdict.status == status and verdict.error


@pytest.mark.parametrize("header", [
    "import os",
    "import subprocess as sp",
    "from os import system",
    "import torch.utils.cpp_extension",
    "from torch import hub",
    "from torch.hub import load",
    "from . import sibling",
    "import torch._C",
    "x = torch.load('weights.pt')",
    "y = torch.hub.load('repo', 'model')",
    "z = nn.modules.module._global_forward_hooks",
    "w = torch.os.system",
    "exec('print(1)')",
    "e = eval",
    "f = __import__('os')",
    "g = open('/etc/passwd').read()",
    "h = ().__class__.__base__.__subclasses__()",
    "i = getattr(torch, '__builtins__')",
    "j = (lambda: 0).__globals__",
    "k = [].__class__.__mro__",
    "def f():\n    import sys\n    return sys._getframe().f_back.f_globals",
    "s = '__subclasses__'",
    "c = torch.compile",
])
def test_escape_hatches_are_forbidden(header):
    verdict = check_source(_with_interface(header), ALLOWED)
    assert verdict is not None and verdict.status == "forbidden", header
    assert "not allowed" in verdict.error and "line" in verdict.error


@pytest.mark.parametrize("header", [
    "import torch.nn.functional as F",
    "from torch.nn import init",
    "import math, functools, itertools, collections, typing, numbers, dataclasses",
    "from collections import OrderedDict",
    "name = getattr(nn, 'ReLU')",
    "def f(self):\n    return self.__class__.__name__",
    "if __name__ == '__main__':\n    pass",
    "torch.backends.cudnn.benchmark = True",
])
def test_ordinary_code_passes(header):
    assert check_source(_with_interface(header), ALLOWED) is None


def test_the_allow_list_comes_from_config():
    code = _with_interface("import numpy as np")
    assert check_source(code, ALLOWED).status == "forbidden"
    assert check_source(code, [*ALLOWED, "numpy"]) is None


@pytest.mark.parametrize(("code", "message"), [
    ("import torch\nclass Net:\n    pass\n", "no function supported_hyperparameters()"),
    ("def supported_hyperparameters():\n    return {'lr'}\n", "no class Net"),
    (INTERFACE.replace("    def learn(self, train_data):\n        pass\n", ""), "Net lacks learn"),
    (INTERFACE.replace("in_shape, out_shape, prm, device", "in_shape"), "Net.__init__ must accept"),
])
def test_missing_interface(code, message):
    verdict = check_source("import torch\nimport torch.nn as nn\n" + code, ALLOWED)
    assert verdict is not None and verdict.status == "interface_error" and message in verdict.error


def test_methods_inherited_from_a_local_base_count():
    code = INTERFACE.replace("class Net(nn.Module):", "class Base(nn.Module):") + (
        "\n\nclass Net(Base):\n    def __init__(self, in_shape, out_shape, prm, device):\n        super().__init__(in_shape, out_shape, prm, device)\n"
    )
    assert check_source("import torch\nimport torch.nn as nn\n" + code, ALLOWED) is None


def test_oversized_code_is_refused():
    verdict = check_source(_with_interface("x = 1\n" * 60_000), ALLOWED)
    assert verdict.status == "forbidden" and "bytes" in verdict.error
