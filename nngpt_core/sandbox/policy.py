"""The static-check policy: which modules, members, builtins and attributes candidate code may use, and why not.

    from nngpt_core.sandbox.policy import ImportPolicy
    policy = ImportPolicy(extra=["tqdm"])          # the built-in policy, extended by evaluation.allowed_imports
    policy.judge("numpy.random.seed")              # None: allowed
    policy.judge("numpy.load")                     # "unpickles files (numpy.load(allow_pickle=True)) ..."

The OS sandbox is the boundary; this policy is defence in depth. It refuses what has no place in an
architecture file and could help an escape or a forged score, and allows the ordinary
scientific-Python and torchvision surface. A dotted name is judged by its longest matching rule:

1. a rule that refuses it for a reason (REFUSED): refused, and `evaluation.allowed_imports` cannot
   lift it;
2. a private part (`_name`) below the matched rule: refused (private internals), unless a longer
   rule allows exactly that private name (PRIVATE_ALLOWED: what torchvision's own models use);
3. an allowed rule (ALLOWED, PRIVATE_ALLOWED or the configured extras): allowed;
4. no rule: refused when the module is installed here (an unreviewed package may wrap files,
   processes or the network), allowed when it is not (the import cannot succeed; the file fails at
   run time with build_error, or falls back as its author intended in `except ImportError`).

docs/evaluation.md lists every rule with its reason; tests check that the two agree.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from functools import lru_cache

from nngpt_core.errors import ConfigError

_FILES = "file access: reads host files, writes outside the scratch directory"
_PROCESSES = "process control: starts, signals or replaces processes"
_NETWORK = "network access"
_DESERIALIZE = "deserialization runs code: a pickle can call any function"
_NATIVE = "foreign function calls and raw memory, below every Python-level check"
_IMPORT = "dynamic import: loads modules by computed name, past these rules"
_FRAMES = "frame and code-object introspection: reaches the evaluator's locals and globals"
_COMPILE = "compiles and runs generated native code (C++ and compiler processes)"
_EVALUATOR = "the evaluator's own modules: the audit hook's state, the result channel, the store"
_STORE = "database and orchestration clients: they reach the store and the network with the run's credentials"
_HUB = "downloads code or weights and unpickles them"
_ANNOTATIONS = "evaluates annotation strings as code"
_LABELS = "bundles datasets with their labels (scikit-learn's digits are the digits test set): a forged score"

# Modules (and their public members and submodules) an architecture file may use, with why they belong.
ALLOWED: dict[str, str] = {
    "torch": "the model itself (except the members refused below)",
    "torchvision": "model and ops building blocks (torchvision.models, torchvision.ops, transforms)",
    "numpy": "array helpers (np.sqrt(5) in initializers, shape arithmetic)",
    "scipy": "numerical helpers (special functions, optimize)",
    "einops": "tensor rearrangement in attention models (when installed)",
    "math": "scalar math", "cmath": "complex scalar math", "random": "seeded random choices",
    "copy": "deepcopy of modules", "re": "parsing layer specifications", "enum": "configuration enums",
    "types": "SimpleNamespace, MethodType, type checks", "warnings": "deprecation warnings",
    "functools": "partial, reduce, lru_cache", "collections": "OrderedDict, namedtuple, deque",
    "typing": "annotations", "typing_extensions": "annotations", "dataclasses": "configuration records",
    "__future__": "annotations", "itertools": "iteration helpers", "numbers": "numeric type checks",
    "abc": "abstract base classes", "operator": "functional operators", "string": "string constants",
    "contextlib": "context managers (nullcontext)", "time": "timing", "json": "configuration strings",
    "logging": "log messages (stderr is capped by the sandbox)", "packaging.version": "version comparisons", "statistics": "means and medians",
    "fractions": "exact ratios", "decimal": "exact decimals", "heapq": "priority queues", "bisect": "sorted search",
}

# Names refused for a reason, even inside allowed modules; evaluation.allowed_imports cannot lift these.
REFUSED: dict[str, str] = {
    # process, file, environment and interpreter access
    "os": "files, processes and the environment with its secrets (os.open, os.fork, os.system, os.environ)",
    "posix": _FILES + "; " + _PROCESSES,
    "sys": "interpreter internals: sys.modules reaches every loaded module (the evaluator's too), sys._getframe frames, sys.settrace",
    "builtins": "exec, eval, open and __import__ under other names",
    "subprocess": _PROCESSES, "pty": _PROCESSES, "signal": _PROCESSES, "multiprocessing": _PROCESSES,
    "concurrent": _PROCESSES, "_thread": _PROCESSES, "resource": "changes the sandbox's resource limits",
    "faulthandler": "re-routes the crash dump the evaluator reads",
    "pathlib": _FILES, "io": _FILES, "shutil": _FILES, "tempfile": _FILES, "glob": _FILES, "fileinput": _FILES,
    "zipfile": _FILES, "tarfile": _FILES, "linecache": _FILES, "mmap": _NATIVE, "sqlite3": _FILES, "dbm": _FILES,
    "getpass": "reads the terminal and the user's identity", "pwd": "host account database", "grp": "host account database",
    "platform": "host identification (and processes to find it)", "sysconfig": "the host's installation paths",
    "site": "the host's installation paths", "webbrowser": _PROCESSES, "atexit": "code run after the evaluation",
    # network
    "socket": _NETWORK, "ssl": _NETWORK, "select": _NETWORK, "selectors": _NETWORK, "asyncio": _NETWORK + " and " + _PROCESSES,
    "http": _NETWORK, "urllib": _NETWORK, "ftplib": _NETWORK, "smtplib": _NETWORK, "socketserver": _NETWORK,
    "xmlrpc": _NETWORK, "requests": _NETWORK, "httpx": _NETWORK, "urllib3": _NETWORK, "aiohttp": _NETWORK,
    # native code, dynamic import, frames, deserialization
    "ctypes": _NATIVE, "cffi": _NATIVE, "importlib": _IMPORT, "imp": _IMPORT, "pkgutil": _IMPORT, "runpy": _IMPORT,
    "zipimport": _IMPORT, "inspect": _FRAMES + " (inspect.currentframe, stack, getsource)",
    "traceback": _FRAMES + " (traceback.walk_stack)", "code": _FRAMES, "codeop": _FRAMES, "dis": _FRAMES,
    "pickle": _DESERIALIZE, "marshal": _DESERIALIZE, "shelve": _DESERIALIZE, "copyreg": _DESERIALIZE,
    "dill": _DESERIALIZE, "cloudpickle": _DESERIALIZE, "joblib": _DESERIALIZE + "; " + _PROCESSES,
    "gc": "heap introspection: gc.get_objects and get_referrers reach the evaluator's state",
    "types.CodeType": "builds code objects from raw bytecode: code no check has seen",
    "typing.get_type_hints": _ANNOTATIONS, "functools.singledispatch": _ANNOTATIONS + " (register reads type hints)",
    "functools.singledispatchmethod": _ANNOTATIONS + " (register reads type hints)",
    "logging.config": "logging.config.listen runs a socket server; fileConfig reads files",
    "logging.handlers": _NETWORK + " and " + _FILES,
    # the evaluator, the store, datasets with labels, hubs
    "nngpt_core": _EVALUATOR, "nngpt_tasks": _EVALUATOR, "nngpt_flows": _EVALUATOR, "nngpt_cli": _EVALUATOR,
    "tasks": _EVALUATOR, "flows": _EVALUATOR, "cli": _EVALUATOR,  # the same folders, importable from a checkout
    "prefect": _STORE, "sqlalchemy": _STORE, "psycopg2": _STORE, "alembic": _STORE, "dask": _STORE,
    "distributed": _STORE, "docker": _PROCESSES, "fsspec": _FILES + "; " + _NETWORK,
    "sklearn": _LABELS, "datasets": _HUB + "; " + _FILES, "huggingface_hub": _HUB, "transformers": _HUB,
    # torch
    "torch.hub": _HUB, "torch.utils.model_zoo": _HUB, "torch.load": _DESERIALIZE + " (torch.load unpickles files)",
    "torch.save": _FILES, "torch.from_file": _FILES, "torch.serialization": _DESERIALIZE,
    "torch.package": _DESERIALIZE, "torch.utils.cpp_extension": _COMPILE, "torch.compile": _COMPILE,
    "torch.compiler": _COMPILE, "torch._dynamo": _COMPILE, "torch._inductor": _COMPILE,
    "torch.export": _FILES + " (exported programs)", "torch.onnx": _FILES + " (ONNX export)",
    "torch.jit": "TorchScript compilation and serialization (torch.jit.load/save read and write files); architecture code needs only its decorators and flags",
    "torch.distributed": _NETWORK + " and " + _PROCESSES, "torch.multiprocessing": _PROCESSES,
    "torch.library": "registers operators and loads native libraries",
    "torch.ops.load_library": "loads native operator libraries", "torch.ops.import_module": _IMPORT,
    "torch.classes.load_library": "loads native class libraries", "torch.profiler": _FILES + " (traces) and /proc",
    "torch.utils.tensorboard": _FILES, "torch.utils.bottleneck": _PROCESSES, "torch.utils.collect_env": _PROCESSES,
    "torch._C": "the raw C++ bindings: below every Python-level check",
    "torch._utils": _DESERIALIZE + " (tensor rebuild helpers)", "torch._ops": "loads native operator libraries",
    "torch._library": "registers operators", "torch.utils._python_dispatch": "intercepts every tensor operation",
    # numpy, scipy, torchvision
    "numpy.load": _DESERIALIZE + " (numpy.load with allow_pickle)", "numpy.save": _FILES, "numpy.savez": _FILES,
    "numpy.savez_compressed": _FILES, "numpy.savetxt": _FILES, "numpy.loadtxt": _FILES, "numpy.genfromtxt": _FILES,
    "numpy.fromfile": _FILES, "numpy.fromregex": _FILES, "numpy.memmap": _FILES, "numpy.DataSource": _FILES + "; " + _NETWORK,
    "numpy.lib.npyio": _FILES, "numpy.lib.format": _DESERIALIZE, "numpy.ctypeslib": _NATIVE, "numpy.f2py": _COMPILE,
    "numpy.distutils": _COMPILE, "scipy.io": _FILES, "scipy.datasets": _HUB, "scipy.LowLevelCallable": _NATIVE,
    "torchvision.io": _FILES, "torchvision.datasets": _FILES + "; " + _NETWORK,
}

# Exceptions inside refused or private namespaces: flags, decorators, base classes and helpers that
# torchvision's and PyTorch's own model code uses. Each admits what lies below it, private names included.
PRIVATE_ALLOWED: dict[str, str] = {
    **{f"torch.jit.{name}": "TorchScript flag or decorator" for name in (
        "is_scripting", "is_tracing", "unused", "ignore", "export", "interface", "Final", "annotate", "Attribute",
        "isinstance", "script_if_tracing", "_overload_method", "_overload")},
    "torch.onnx.is_in_onnx_export": "export flag", "torch.onnx.operators": "shape helpers",
    "torch.compiler.is_compiling": "compile flag", "torch.compiler.is_dynamo_compiling": "compile flag",
    "torch._dynamo.is_compiling": "compile flag", "torch._assert": "assertion that survives tracing",
    "torch._C._log_api_usage_once": "torchvision's usage logging (a no-op here)",
    "torch._C._TensorMeta": "metaclass of tensor subclasses", "torch._C._disabled_torch_function_impl": "tensor subclassing",
    "torch.Tensor._make_subclass": "tensor subclassing",
    "torchvision.utils._log_api_usage_once": "torchvision's usage logging (a no-op here)",
    "torchvision._is_tracing": "tracing flag",
    "gc.collect": "frees memory between batches", "gc.enable": "collector switch", "gc.disable": "collector switch",
    "gc.isenabled": "collector switch",
    **{f"inspect.{name}": "type predicate or signature" for name in (
        "isclass", "isfunction", "ismethod", "isbuiltin", "isroutine", "isabstract", "signature", "Parameter", "Signature",
        "getfullargspec")},
    **{f"torch.nn.{path}": "base class or helper of torch.nn's own layers" for path in (
        "functional._Reduction", "functional._canonical_mask", "functional._none_or_dtype", "functional._in_projection_packed",
        "_reduction", "init._calculate_fan_in_and_fan_out", "init._calculate_correct_fan", "init._no_grad_trunc_normal_",
        "modules.conv._ConvNd", "modules.batchnorm._BatchNorm", "modules.batchnorm._NormBase",
        "modules.instancenorm._InstanceNorm", "modules.dropout._DropoutNd", "modules.pooling._MaxPoolNd",
        "modules.pooling._AvgPoolNd", "modules.pooling._AdaptiveAvgPoolNd", "modules.loss._Loss", "modules.loss._WeightedLoss",
        "modules.loss._Reduction", "modules.utils._single", "modules.utils._pair", "modules.utils._triple",
        "modules.utils._quadruple", "modules.utils._ntuple", "modules.utils._reverse_repeat_tuple",
        "common_types._size_1_t", "common_types._size_2_t", "common_types._size_3_t", "common_types._size_any_t",
        "common_types._ratio_2_t", "common_types._ratio_any_t")},
    "torch.types._size": "type alias", "torch.optim.lr_scheduler._LRScheduler": "scheduler base class",
    "torchvision.models._api": "weights and model registry of torchvision's models",
    "torchvision.models._utils": "helpers of torchvision's models (_make_divisible, _ovewrite_named_param)",
    "torchvision.models._meta": "class names of torchvision's weights",
}

# Builtins refused when the name means the builtin (a local variable or parameter of that name is fine).
FORBIDDEN_BUILTINS: dict[str, str] = {
    "exec": "runs code the check has not seen", "eval": "runs code the check has not seen",
    "compile": "makes code objects from strings", "__import__": _IMPORT, "open": _FILES,
    "input": "reads standard input: an architecture has nothing to read",
    "breakpoint": "starts a debugger that takes commands from standard input",
    "globals": "hands out the module namespace: the modules and builtins behind the checked names",
    "locals": "hands out a frame's namespace", "vars": "hands out a namespace (vars(module) holds its imports)",
    "__builtins__": "the builtins namespace (exec, open, __import__)", "__loader__": "the module's import machinery",
    "__spec__": "the module's import machinery",
}
# Attributes refused on any object (dunders also as string constants, so getattr(x, "__globals__") is caught).
REFUSED_ATTRIBUTES: dict[str, str] = {
    "__globals__": "a function's module namespace: exec, open and every imported module",
    "__builtins__": FORBIDDEN_BUILTINS["__builtins__"],
    "__code__": "function internals: rewrites what checked code does", "__closure__": "function internals",
    "__defaults__": "function internals", "__kwdefaults__": "function internals",
    "__subclasses__": "walks the class hierarchy to any loaded class (the classic sandbox escape)",
    "__bases__": "walks the class hierarchy", "__base__": "walks the class hierarchy", "__mro__": "walks the class hierarchy",
    "__self__": "a builtin function's module (print.__self__ is builtins)",
    "__traceback__": "an exception's frames reach the evaluator's locals",
    "__loader__": "import machinery", "__spec__": "import machinery", "__import__": _IMPORT,
    "__getattribute__": "reads attributes by computed name past these checks (object.__getattribute__(module, name))",
    **{name: _FRAMES for name in (
        "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "f_trace", "gi_frame", "gi_code", "cr_frame",
        "cr_code", "ag_frame", "ag_code", "tb_frame", "tb_next", "co_code", "co_consts", "func_globals", "func_code")},
}
MODULE_NAMESPACE = "__dict__"  # refused on names bound to modules: a module's namespace holds the modules it imported
# Module names refused when they appear below another module (torch.os, nn.modules.module.sys).
ESCAPE_PARTS = frozenset({
    "os", "sys", "subprocess", "builtins", "importlib", "ctypes", "socket", "shutil", "pickle", "io", "pathlib",
    "inspect", "gc", "tempfile", "urllib", "multiprocessing", "marshal", "traceback",
})
# Modules a star import may come from: every public name they bind is allowed.
STAR_IMPORTS = frozenset({
    "math", "cmath", "collections", "functools", "itertools", "abc", "typing", "dataclasses", "enum", "numbers",
    "operator", "string", "statistics", "fractions", "heapq", "bisect",
})
UNLISTED = "not on the allow-list of reviewed modules (an installed package may wrap files, processes or the network; evaluation.allowed_imports extends the list)"
PRIVATE = "private to its package (internals outside the reviewed list)"


def _prefixes(dotted: str) -> list[str]:
    """'a.b.c' -> ['a.b.c', 'a.b', 'a'], longest first."""
    parts = dotted.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def _is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


@lru_cache(maxsize=1024)
def is_installed(top_level: str) -> bool:
    """Whether a top-level module can be imported in this environment (the sandbox's)."""
    try:
        return importlib.util.find_spec(top_level) is not None
    except (ImportError, ValueError):
        return False


class ImportPolicy:
    """The rules above plus configured extras; `judge(dotted)` returns the refusal reason or None."""

    def __init__(self, extra: Iterable[str] = ()):
        self.extra = tuple(extra)
        for entry in self.extra:
            problem = extra_import_problem(entry)
            if problem:
                raise ConfigError(f"evaluation.allowed_imports: {problem}")
        self.allowed = {**ALLOWED, **PRIVATE_ALLOWED, **{entry: "configured" for entry in self.extra}}

    def judge(self, dotted: str) -> str | None:
        """None when code may use `dotted` (a module, or a member reached through one); else why not."""
        parts = dotted.split(".")
        for prefix in _prefixes(dotted):
            if prefix in self.allowed:
                below = parts[len(prefix.split(".")):]
                return _below_problem(below, prefix, private_ok=prefix in PRIVATE_ALLOWED)
            if prefix in REFUSED:
                return REFUSED[prefix]
        if not is_installed(parts[0]):
            return None  # cannot be imported here: the run fails with build_error or takes its ImportError fallback
        return _below_problem(parts[1:], parts[0]) or UNLISTED


def _below_problem(below: list[str], matched: str, private_ok: bool = False) -> str | None:
    """Why the parts below an allowed name are refused: an escape module reached through it, or a private part."""
    for index, part in enumerate(below):
        if part in ESCAPE_PARTS:
            return f"the module '{part}' reached through {'.'.join([matched, *below[:index]])}: {REFUSED[part]}"
    return PRIVATE if not private_ok and any(_is_private(part) for part in below) else None


def refused_reason(dotted: str) -> str | None:
    """The reason a REFUSED rule gives for `dotted` (not counting exceptions), or None."""
    return next((REFUSED[prefix] for prefix in _prefixes(dotted) if prefix in REFUSED), None)


def extra_import_problem(entry: str) -> str | None:
    """Why `entry` cannot extend the policy (not a dotted name, or refused for a reason), or None."""
    if not all(part.isidentifier() for part in entry.split(".")):
        return f"'{entry}' is not a dotted module name"
    reason = refused_reason(entry)
    return f"'{entry}' is refused by the static-check policy ({reason}) and cannot be allowed" if reason else None
