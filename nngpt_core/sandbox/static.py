"""Static checks of candidate code, before anything runs: parse, imports, escape hatches, interface.

    from nngpt_core.sandbox.static import check_source
    verdict = check_source(code, allowed_imports=["torch", "torch.nn", "math"])
    if verdict is not None:
        print(verdict.status, verdict.error)     # e.g. forbidden "import of 'os' (line 1) is not allowed"

Statuses: no_code, syntax_error, forbidden, interface_error (DESIGN.md). An allowed import entry
also admits its public submodules (torch.nn admits torch.nn.init), except APIs that load or save
files, compile or spawn (torch.hub, torch.load, torch.jit, ...). Refused as escape hatches:
exec/eval/compile/__import__/open and friends, dunder and frame attributes that reach interpreter
internals, private members of modules, modules reached as attributes of others (torch.os), and
getattr-style calls with such names. This is a filter that turns obvious abuse into a clear
status; the sandbox is the boundary.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass

MAX_CODE_BYTES = 256 * 1024

FORBIDDEN_BUILTINS = frozenset({
    "exec", "eval", "compile", "__import__", "open", "input", "breakpoint", "globals", "locals", "vars",
    "exit", "quit", "help", "memoryview", "__builtins__", "__loader__", "__spec__",
})
ALLOWED_DUNDERS = frozenset({
    "__init__", "__name__", "__class__", "__qualname__", "__doc__", "__module__", "__call__", "__len__",
    "__iter__", "__next__", "__getitem__", "__setitem__", "__contains__", "__repr__", "__str__", "__enter__",
    "__exit__", "__eq__", "__hash__", "__version__", "__main__", "__post_init__", "__setstate__", "__annotations__",
})
INTERPRETER_ATTRIBUTES = frozenset({
    "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "gi_frame", "gi_code", "cr_frame", "cr_code",
    "ag_frame", "tb_frame", "tb_next", "co_code", "func_globals",
})
DENIED_APIS = (
    "torch.hub", "torch.jit", "torch.utils.cpp_extension", "torch.distributed", "torch.multiprocessing",
    "torch.package", "torch.library", "torch.ops", "torch.classes", "torch.onnx", "torch.export",
    "torch.serialization", "torch.compiler", "torch.profiler", "torch.load", "torch.save", "torch.compile",
    "torch.from_file", "typing.get_type_hints",
)
# Modules that other modules import and so expose as attributes (torch.os, nn.modules.module.sys).
ESCAPE_MODULES = frozenset({
    "os", "sys", "subprocess", "builtins", "importlib", "ctypes", "socket", "shutil", "pickle", "io",
    "pathlib", "signal", "threading", "multiprocessing", "inspect", "gc", "tempfile", "urllib", "requests",
})
ATTRIBUTE_CALLS = frozenset({"getattr", "setattr", "delattr", "hasattr"})
REQUIRED_METHODS = ("__init__", "train_setup", "learn", "forward")
MODULE_BASES = frozenset({"Module", "nn.Module", "torch.nn.Module"})


@dataclass(frozen=True)
class StaticVerdict:
    """Why code was refused before running: a status from DESIGN.md and a one-line reason."""

    status: str
    error: str


class _Refusal(Exception):
    pass


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _denied_api(dotted: str) -> bool:
    if any(part in ESCAPE_MODULES for part in dotted.split(".")[1:]):
        return True
    return any(dotted == api or dotted.startswith(api + ".") for api in DENIED_APIS)


class _ImportPolicy:
    def __init__(self, allowed: Sequence[str]):
        self.allowed = tuple(allowed)

    def admits(self, module: str) -> bool:
        if any(part.startswith("_") for part in module.split(".")) or _denied_api(module):
            return False
        return any(module == entry or module.startswith(entry + ".") for entry in self.allowed)


class _Checker(ast.NodeVisitor):
    """Walks the tree once; raises _Refusal at the first forbidden construct."""

    def __init__(self, policy: _ImportPolicy):
        self.policy = policy
        self.aliases: dict[str, str] = {}  # local name -> module path it is bound to

    def refuse(self, node: ast.AST, what: str) -> None:
        raise _Refusal(f"{what} (line {getattr(node, 'lineno', '?')}) is not allowed")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not self.policy.admits(alias.name):
                self.refuse(node, f"import of '{alias.name}'")
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.aliases[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or not self.policy.admits(module):
            self.refuse(node, f"import from '{'.' * node.level}{module}'")
        for alias in node.names:
            dotted = f"{module}.{alias.name}"
            if alias.name != "*" and (alias.name.startswith("_") or _denied_api(dotted)):
                self.refuse(node, f"import of '{dotted}'")
            self.aliases[alias.asname or alias.name] = dotted

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_BUILTINS:
            self.refuse(node, f"use of '{node.id}'")

    def _dotted(self, node: ast.AST) -> str | None:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in self.aliases:
            return ".".join([self.aliases[node.id], *reversed(parts)])
        return None

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = node.attr
        if (_is_dunder(name) and name not in ALLOWED_DUNDERS) or name in INTERPRETER_ATTRIBUTES:
            self.refuse(node, f"attribute '{name}'")
        dotted = self._dotted(node)
        if dotted is not None and (_denied_api(dotted) or name.startswith("_")):
            self.refuse(node, f"use of '{dotted}'")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in ATTRIBUTE_CALLS and len(node.args) >= 2:
            name = node.args[1]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                value = name.value
                if (_is_dunder(value) and value not in ALLOWED_DUNDERS) or value in INTERPRETER_ATTRIBUTES:
                    self.refuse(node, f"{node.func.id}(..., '{value}')")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and _is_dunder(node.value.strip()) and node.value.strip() not in ALLOWED_DUNDERS:
            self.refuse(node, f"the string '{node.value.strip()[:40]}'")


def _class_methods(node: ast.ClassDef) -> set[str]:
    return {item.name for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _interface_problem(tree: ast.Module) -> str | None:
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    functions = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assigned = {target.id for node in tree.body if isinstance(node, ast.Assign) for target in node.targets if isinstance(target, ast.Name)}
    if "supported_hyperparameters" not in functions | assigned:
        return "no function supported_hyperparameters()"
    if "Net" not in classes:
        return None if "Net" in assigned else "no class Net"
    methods: set[str] = set()
    pending, seen, verifiable = [classes["Net"]], set(), True
    while pending:
        node = pending.pop()
        seen.add(node.name)
        methods |= _class_methods(node)
        for base in node.bases:
            name = ast.unparse(base)
            if name in classes and name not in seen:
                pending.append(classes[name])
            elif name not in MODULE_BASES:
                verifiable = False  # methods may come from a base we cannot see
    missing = [name for name in REQUIRED_METHODS if name not in methods]
    if missing and verifiable:
        return f"Net lacks {', '.join(missing)}"
    init = next((item for item in classes["Net"].body if isinstance(item, ast.FunctionDef) and item.name == "__init__"), None)
    if init is not None and init.args.vararg is None:
        positional = len(init.args.posonlyargs) + len(init.args.args) - 1
        if positional < 4:
            return "Net.__init__ must accept (in_shape, out_shape, prm, device)"
    return None


def check_source(code: str | None, allowed_imports: Sequence[str], max_bytes: int = MAX_CODE_BYTES) -> StaticVerdict | None:
    """None when `code` may run in the sandbox; otherwise the verdict that refuses it."""
    if code is None or not code.strip():
        return StaticVerdict("no_code", "no code")
    size = len(code.encode("utf-8", "replace"))
    if size > max_bytes:
        return StaticVerdict("forbidden", f"code is {size:,} bytes, more than the {max_bytes:,} allowed")
    try:
        tree = ast.parse(code, filename="<candidate>")
    except SyntaxError as exc:
        return StaticVerdict("syntax_error", f"line {exc.lineno}: {exc.msg}")
    except (ValueError, RecursionError, MemoryError) as exc:
        return StaticVerdict("syntax_error", f"unparsable: {type(exc).__name__}")
    try:
        _Checker(_ImportPolicy(allowed_imports)).visit(tree)
    except _Refusal as refusal:
        return StaticVerdict("forbidden", str(refusal))
    except RecursionError:
        return StaticVerdict("forbidden", "code nested too deeply to check")
    problem = _interface_problem(tree)
    return StaticVerdict("interface_error", problem) if problem else None
