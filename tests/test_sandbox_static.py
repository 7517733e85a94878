"""Static checks: what is refused before anything runs, with which status, and what real architectures pass.

Each allowed and each refused construct of the policy (nngpt_core/sandbox/policy.py) has a case here,
and so has every attack of the hostile suite (which itself runs with static checks off).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nngpt_core.config import EvaluationConfig, load_config
from nngpt_core.errors import ConfigError
from nngpt_core.sandbox.policy import ALLOWED, FORBIDDEN_BUILTINS, PRIVATE_ALLOWED, REFUSED, REFUSED_ATTRIBUTES, ImportPolicy
from nngpt_core.sandbox.static import check_source
from tests.evaluator_helpers import CONTROL, FIXTURES, HOSTILE

DOCS = Path(__file__).parents[1] / "docs" / "evaluation.md"
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


def _refused(header: str, extra: tuple[str, ...] = ()):
    verdict = check_source(_with_interface(header), extra)
    assert verdict is not None and verdict.status == "forbidden", header
    assert "not allowed" in verdict.error and "line" in verdict.error
    return verdict


def test_real_architectures_pass():
    paths = [CONTROL, *sorted((FIXTURES / "architectures").rglob("*.py"))]
    assert len(paths) > 5
    for path in paths:
        assert check_source(path.read_text()) is None, path.name


@pytest.mark.parametrize(("code", "status"), [
    (None, "no_code"),
    ("   \n\t", "no_code"),
    ("def f(:\n", "syntax_error"),
    ("x = 1\0", "syntax_error"),
    ("(" * 500 + ")" * 500, "syntax_error"),
])
def test_empty_and_unparsable_code(code, status):
    verdict = check_source(code)
    assert verdict is not None and verdict.status == status and verdict.error


# (header, the rule that refuses it): every kind of refusal the policy knows.
REFUSED_CASES = [
    ("import os\nos.system('id')", "os.system"),
    ("import subprocess as sp\nsp.run(['id'])", "subprocess.run"),
    ("from os import system\nsystem('id')", "os.system"),
    ("from os import environ\nsecret = environ['NNGPT_DATABASE_URL']", "os.environ"),
    ("import socket\nsocket.create_connection(('example.com', 80))", "socket.create_connection"),
    ("import ctypes\nctypes.string_at(0)", "ctypes.string_at"),
    ("import importlib\nimportlib.import_module('os')", "importlib.import_module"),
    ("import inspect\nframe = inspect.currentframe()", "inspect.currentframe"),
    ("import traceback\nframes = list(traceback.walk_stack(None))", "traceback.walk_stack"),
    ("import sys\nsys.modules['os']", "sys.modules"),
    ("import pickle\npickle.loads(b'')", "pickle.loads"),
    ("import builtins\nbuiltins.open('/etc/passwd')", "builtins.open"),
    ("import gc\nobjects = gc.get_objects()", "gc.get_objects"),
    ("import nngpt_core.sandbox.audit as audit\naudit.first_violation()", "nngpt_core.sandbox.audit.first_violation"),
    ("from sklearn.datasets import load_digits\nload_digits()", "sklearn.datasets.load_digits"),
    ("import torch.utils.cpp_extension\ntorch.utils.cpp_extension.load_inline('x', '')", "torch.utils.cpp_extension.load_inline"),
    ("from torch import hub\nhub.load('repo', 'model')", "torch.hub.load"),
    ("x = torch.load('weights.pt')", "torch.load"),
    ("y = torch.hub.load('repo', 'model')", "torch.hub.load"),
    ("c = torch.compile", "torch.compile"),
    ("s = torch.jit.script", "torch.jit.script"),
    ("t = torch.jit.load('m.pt')", "torch.jit.load"),
    ("torch.ops.load_library('/tmp/x.so')", "torch.ops.load_library"),
    ("import numpy as np\nnp.load('a.npy', allow_pickle=True)", "numpy.load"),
    ("import numpy as np\nnp.ctypeslib.as_array(0)", "numpy.ctypeslib.as_array"),
    ("import torchvision\ntorchvision.io.read_file('/etc/passwd')", "torchvision.io.read_file"),
    ("import types\ncode = types.CodeType", "types.CodeType"),
    ("import typing\ntyping.get_type_hints(Net)", "typing.get_type_hints"),
    ("import functools\nregister = functools.singledispatch", "functools.singledispatch"),
    ("import logging.config\nlogging.config.listen(9999)", "logging.config.listen"),
    ("z = nn.modules.module._global_forward_hooks", "torch.nn.modules.module._global_forward_hooks"),
    ("w = torch.os.system", "torch.os.system"),
    ("v = nn.modules.module.sys", "torch.nn.modules.module.sys"),
    ("u = getattr(torch, 'os')", "torch.os"),
    ("import numpy as np\nl = getattr(np, 'load')", "numpy.load"),
    ("t = torch._C._get_tracing_state", "torch._C._get_tracing_state"),
    ("p = torch._foreach_add_", "torch._foreach_add_"),
    ("import tqdm\nbar = tqdm.tqdm", "tqdm.tqdm"),
    ("exec('print(1)')", "builtin exec"),
    ("e = eval", "builtin eval"),
    ("f = __import__('os')", "builtin __import__"),
    ("g = open('/etc/passwd').read()", "builtin open"),
    ("answer = input()", "builtin input"),
    ("def forward(x):\n    return input()", "builtin input"),
    ("breakpoint()", "builtin breakpoint"),
    ("namespace = globals()", "builtin globals"),
    ("namespace = vars(torch)", "builtin vars"),
    ("if False:\n    open = print\nopen('/etc/passwd')", "builtin open"),
    ("def f():\n    global input\n    input = 1\ndef g():\n    return input()", "builtin input"),
    ("h = ().__class__.__base__.__subclasses__()", "attribute __subclasses__"),
    ("i = getattr(torch, '__builtins__')", "attribute __builtins__"),
    ("j = (lambda: 0).__globals__", "attribute __globals__"),
    ("k = [].__class__.__mro__", "attribute __mro__"),
    ("m = print.__self__", "attribute __self__"),
    ("n = object.__getattribute__(torch, 'os')", "attribute __getattribute__"),
    ("o = torch.__dict__['os']", "attribute __dict__"),
    ("def f():\n    try:\n        1 / 0\n    except Exception as e:\n        return e.__traceback__", "attribute __traceback__"),
    ("def f(g):\n    return g.gi_frame", "attribute gi_frame"),
    ("s = '__subclasses__'", "attribute __subclasses__"),
    ("import inspect\nsig = inspect.signature(Net, eval_str=True)", "eval_str"),
    ("from . import sibling", "relative import"),
    ("from numpy import *", "star import"),
]


@pytest.mark.parametrize(("header", "rule"), REFUSED_CASES, ids=[rule for _, rule in REFUSED_CASES])
def test_refused_constructs(header, rule):
    assert _refused(header).rule == rule


# Ordinary scientific Python, torchvision and the idioms of LEMUR's files: all pass.
ALLOWED_CASES = [
    "import torch.nn.functional as F\ny = F.relu",
    "from torch.nn import init\ninit.kaiming_normal_",
    "import math, functools, itertools, collections, typing, numbers, dataclasses",
    "import numpy as np\nscale = np.sqrt(5)\nnp.random.seed(0)",
    "import random, copy, re, enum, types, warnings\nrandom.random(); copy.deepcopy([]); re.compile('a'); warnings.warn('x')",
    "from types import SimpleNamespace, FunctionType\nns = SimpleNamespace(a=1)",
    "from __future__ import annotations",
    "import abc, operator, string, contextlib, time, json, logging, statistics, heapq, bisect\nlogging.getLogger('x').info('y')",
    "from collections import *\nd = OrderedDict()",
    "from functools import *\np = partial(print)",
    "import scipy.special\nscipy.special.erf(0.5)",
    "import torchvision\nm = torchvision.models.resnet18",
    "from torchvision.ops import StochasticDepth\nfrom torchvision.ops.misc import Conv2dNormActivation, SqueezeExcitation",
    "from torchvision.models._api import WeightsEnum, register_model\nfrom torchvision.models._utils import _make_divisible\n_make_divisible(10, 8)",
    "from torchvision.transforms import InterpolationMode",
    "from torch.utils.checkpoint import checkpoint\nimport torch.utils.checkpoint as cp",
    "from torch.amp import autocast, GradScaler",
    "flag = torch.jit.is_scripting() or torch.jit.is_tracing()\nfinal = torch.jit.Final\nunused = torch.jit.unused\nov = torch.jit._overload_method",
    "from torch.jit import Final",
    "flag = torch.onnx.is_in_onnx_export()",
    "torch._assert(True, 'ok')\ntorch._C._log_api_usage_once('x')",
    "r = nn.functional._Reduction.get_enum('mean')\nfrom torch.nn.modules.utils import _pair\n_pair(3)",
    "from torch.nn.modules.batchnorm import _BatchNorm\nfrom torch.nn.modules.conv import _ConvNd",
    "fan = nn.init._calculate_fan_in_and_fan_out",
    "import gc\ngc.collect()",
    "import inspect\nok = inspect.isclass(Net)",
    "import os\nimport gc\nimport traceback",  # dead imports: LEMUR's generated files carry them by the thousand
    "import subprocess\nimport socket",
    "try:\n    from apex.normalization import FusedLayerNorm as LayerNorm\nexcept ImportError:\n    LayerNorm = nn.LayerNorm",
    "import einops_is_not_installed_here\nx = einops_is_not_installed_here.rearrange",  # fails at run time, build_error
    "name = getattr(nn, 'ReLU')",
    "def f(self):\n    return self.__class__.__name__",
    "def f(self):\n    return self.__dict__",
    "def f(self, name):\n    object.__delattr__(self, name)",
    "if __name__ == '__main__':\n    pass",
    "torch.backends.cudnn.benchmark = True",
    "def forward(self, input):\n    return self.layer(input)",
    "def f(input=None):\n    return [input for input in range(3)]",
    "f = lambda input: input * 2",
    "if __name__ == '__main__':\n    input = torch.randn(2, 3)\n    print(input)",
    "def f(open):\n    return open(1)",
    "def f():\n    vars = 3\n    return vars",
    "import inspect\nsig = inspect.signature(Net, eval_str=False)",
]


@pytest.mark.parametrize("header", ALLOWED_CASES)
def test_allowed_constructs(header):
    assert check_source(_with_interface(header)) is None


# Every hostile fixture that attacks the host or the score is refused before it runs; those that only
# burn resources pass the static check and are stopped by the sandbox (tests/test_sandbox_hostile.py).
HOSTILE_RULES = {
    "children_left_running": "os.fork", "fork_bomb": "os.fork", "hard_exit": "os._exit", "label_hunt": "os.path.join",
    "network": "socket.create_connection", "patch_scoring": "builtins.round", "poison_garbage": "builtin open",
    "poison_result": "os.listdir", "reads_secrets": "builtin open", "segfault_ctypes": "ctypes.string_at",
    "segfault_recursion": "sys.setrecursionlimit", "sys_exit": "sys.exit", "threads_left_running": "threading.Thread",
    "writes_outside_scratch": "os.path.join",
}
RESOURCE_ATTACKS = {"loop_in_constructor", "loop_in_forward", "memory_bomb", "memory_bomb_torch", "output_flood", "slow_model",
                    "unbounded_recursion"}


def test_every_hostile_fixture_is_classified():
    assert sorted(path.stem for path in HOSTILE.glob("*.py")) == sorted([*HOSTILE_RULES, *RESOURCE_ATTACKS])


@pytest.mark.parametrize("name", sorted(HOSTILE_RULES))
def test_hostile_attacks_are_refused_statically(name):
    verdict = check_source((HOSTILE / f"{name}.py").read_text())
    assert verdict is not None and verdict.status == "forbidden" and verdict.rule == HOSTILE_RULES[name], verdict


@pytest.mark.parametrize("name", sorted(RESOURCE_ATTACKS))
def test_resource_attacks_are_left_to_the_sandbox(name):
    assert check_source((HOSTILE / f"{name}.py").read_text()) is None


def test_config_extends_the_policy_but_cannot_lift_a_reasoned_refusal():
    code = _with_interface("import tqdm\nbar = tqdm.tqdm")
    assert check_source(code).status == "forbidden"
    assert check_source(code, ("tqdm",)) is None
    assert load_config(None, {"evaluation.allowed_imports": ["tqdm"]}).evaluation.allowed_imports == ["tqdm"]
    assert EvaluationConfig().allowed_imports == []
    for entry in ("os", "os.path", "torch.jit.script", "nngpt_core", "not a module"):
        with pytest.raises(ConfigError, match="allowed_imports"):
            load_config(None, {"evaluation.allowed_imports": [entry]})
        with pytest.raises(ConfigError, match="allowed_imports"):
            ImportPolicy([entry])


def test_docs_give_the_reason_for_every_refused_name():
    text = DOCS.read_text()
    for name in [*REFUSED, *FORBIDDEN_BUILTINS, *REFUSED_ATTRIBUTES]:
        assert re.search(rf"`{re.escape(name)}`", text), f"docs/evaluation.md does not list `{name}`"
    for name in [*ALLOWED, *PRIVATE_ALLOWED]:
        assert re.search(rf"`{re.escape(name)}`", text), f"docs/evaluation.md does not list the allowed `{name}`"


@pytest.mark.parametrize(("code", "message"), [
    ("import torch\nclass Net:\n    pass\n", "no function supported_hyperparameters()"),
    ("def supported_hyperparameters():\n    return {'lr'}\n", "no class Net"),
    (INTERFACE.replace("    def learn(self, train_data):\n        pass\n", ""), "Net lacks learn"),
    (INTERFACE.replace("in_shape, out_shape, prm, device", "in_shape"), "Net.__init__ must accept"),
])
def test_missing_interface(code, message):
    verdict = check_source("import torch\nimport torch.nn as nn\n" + code)
    assert verdict is not None and verdict.status == "interface_error" and message in verdict.error


def test_methods_inherited_from_a_local_base_count():
    code = INTERFACE.replace("class Net(nn.Module):", "class Base(nn.Module):") + (
        "\n\nclass Net(Base):\n    def __init__(self, in_shape, out_shape, prm, device):\n        super().__init__(in_shape, out_shape, prm, device)\n"
    )
    assert check_source("import torch\nimport torch.nn as nn\n" + code) is None


def test_oversized_code_is_refused():
    verdict = check_source(_with_interface("x = 1\n" * 60_000))
    assert verdict.status == "forbidden" and "bytes" in verdict.error
