"""Static checks of candidate code, before anything runs: parse, the policy on names, escape hatches, interface.

    from nngpt_core.sandbox.static import check_source
    verdict = check_source(code)                          # the built-in policy (nngpt_core.sandbox.policy)
    verdict = check_source(code, extra_imports=["tqdm"])  # ... extended by evaluation.allowed_imports
    if verdict is not None:
        print(verdict.status, verdict.error)  # forbidden "use of 'os.system' (line 4) is not allowed: file access: ..."

Statuses: no_code, syntax_error, forbidden, interface_error (docs/evaluation.md, Statuses). Names are judged by their
use, not their spelling: an import nothing uses is dead code and passes (LEMUR's files carry
thousands of unused `import os, gc, traceback`); every use of a name bound by an import is judged
as the dotted name it reaches (`np.load` is `numpy.load`, `torch.os` is `torch.os`), by
`ImportPolicy`. A builtin such as `input` or `open` is refused where the name means the builtin,
not where a function binds its own `input` (a parameter of `forward`). Attributes and strings that
reach interpreter internals (`__globals__`, `__subclasses__`, frames) are refused on any object.
This is defence in depth that turns obvious abuse into a clear status; the sandbox is the boundary.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from nngpt_core.sandbox.policy import (
    FORBIDDEN_BUILTINS,
    MODULE_NAMESPACE,
    REFUSED_ATTRIBUTES,
    STAR_IMPORTS,
    ImportPolicy,
)
from nngpt_core.sandbox.scopes import Scope, Walker, build_scopes, definite_bindings, signature_expressions

MAX_CODE_BYTES = 256 * 1024
ATTRIBUTE_CALLS = frozenset({"getattr", "setattr", "delattr", "hasattr"})
REQUIRED_METHODS = ("__init__", "train_setup", "learn", "forward")
MODULE_BASES = frozenset({"Module", "nn.Module", "torch.nn.Module"})
_MODULE_NAMESPACE_REASON = "a module's namespace holds the modules it imported"


@dataclass(frozen=True)
class StaticVerdict:
    """Why code was refused before running: a candidate status (docs/evaluation.md), a one-line reason, and the rule that refused it."""

    status: str
    error: str
    rule: str | None = None  # e.g. "numpy.load", "builtin input", "attribute __globals__" (for tallies)


class _Refusal(Exception):
    def __init__(self, message: str, rule: str):
        super().__init__(message)
        self.rule = rule


class _Checker(Walker):
    """Second pass: judges every use of a name in the scope it is used in; raises _Refusal at the first refused one."""

    def __init__(self, policy: ImportPolicy, scopes: dict[int, Scope]):
        self.policy = policy
        self.scopes = scopes
        self.scope: Scope | None = None
        self.bound: list[set[str]] = []  # module or class code: names bound on every path to here, per open block

    def refuse(self, node: ast.AST, what: str, reason: str, rule: str) -> None:
        raise _Refusal(f"{what} (line {getattr(node, 'lineno', '?')}) is not allowed: {reason}", rule)

    def _in(self, node: ast.AST, children: list[ast.AST]) -> None:
        outer = self.scope, self.bound
        self.scope, self.bound = self.scopes[id(node)], [set()]
        for child in children:
            self.visit(child)
        self.scope, self.bound = outer

    def block(self, statements: list[ast.stmt]) -> None:
        self.bound.append(set())
        for statement in statements:
            self.visit(statement)
            self.bound[-1] |= definite_bindings(statement)
        self.bound.pop()

    def visit_Module(self, node: ast.Module) -> None:
        outer, self.scope = self.scope, self.scopes[id(node)]
        self.block(node.body)
        self.scope = outer

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for child in [*node.decorator_list, *signature_expressions(node.args), *([node.returns] if node.returns else [])]:
            self.visit(child)
        outer = self.scope, self.bound
        self.scope, self.bound = self.scopes[id(node)], []
        self.block(node.body)
        self.scope, self.bound = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for child in signature_expressions(node.args):
            self.visit(child)
        self._in(node, [node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for child in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(child)
        outer = self.scope, self.bound
        self.scope, self.bound = self.scopes[id(node)], []
        self.block(node.body)
        self.scope, self.bound = outer

    def comprehension_scope(self, node: ast.AST) -> None:
        self._in(node, list(ast.iter_child_nodes(node)))

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = comprehension_scope

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                for names in self.bound:
                    names.discard(target.id)
        self.generic_visit(node)

    def _binding(self, name: str) -> tuple[str, list[str]]:
        """('import', dotted names), ('own', []) for a name the code binds itself, or ('builtin', []).

        A function's own names always shadow the builtins. Module and class code falls back to the
        builtins wherever its name is not bound yet, so there a name counts as the code's own only
        where it is bound on every path to the use (`if __name__ == "__main__": input = ...; net(input)`).
        """
        scope, own = self.scope, True
        while scope is not None:
            if scope.kind == "class" and not own:
                scope = scope.parent
                continue
            if name in scope.imports:
                return "import", scope.imports[name]
            if name in scope.names:
                if scope.kind == "function" or (own and any(name in names for names in self.bound)):
                    return "own", []
                return "builtin", []
            own = False
            scope = scope.parent
        return "builtin", []

    def _judge_module(self, node: ast.AST, dotted: str) -> None:
        reason = self.policy.judge(dotted)
        if reason:
            self.refuse(node, f"use of '{dotted}'", reason, dotted)

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            return
        kind, dotted_names = self._binding(node.id)
        for dotted in dotted_names:
            self._judge_module(node, dotted)
        if kind == "builtin" and node.id in FORBIDDEN_BUILTINS:
            self.refuse(node, f"use of '{node.id}'", FORBIDDEN_BUILTINS[node.id], f"builtin {node.id}")

    def _module_chain(self, node: ast.AST) -> tuple[list[str], list[str]] | None:
        """For `a.b.c` rooted at a name bound by imports: (dotted names it reaches, attribute names); else None."""
        attributes = []
        while isinstance(node, ast.Attribute):
            attributes.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        kind, roots = self._binding(node.id)
        if kind != "import":
            return None
        attributes.reverse()
        return [".".join([root, *attributes]) for root in roots], attributes

    def _check_attribute_name(self, node: ast.AST, name: str) -> None:
        if name in REFUSED_ATTRIBUTES:
            self.refuse(node, f"attribute '{name}'", REFUSED_ATTRIBUTES[name], f"attribute {name}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain = self._module_chain(node)
        if chain is None:
            self._check_attribute_name(node, node.attr)
            self.visit(node.value)
            return
        dotted_names, attributes = chain
        for name in attributes:
            self._check_attribute_name(node, name)
            if name == MODULE_NAMESPACE:
                self.refuse(node, f"attribute '{name}' of a module", _MODULE_NAMESPACE_REASON, f"attribute {name}")
        for dotted in dotted_names:
            self._judge_module(node, dotted)

    def visit_Call(self, node: ast.Call) -> None:
        for keyword in node.keywords:
            if keyword.arg == "eval_str" and not (isinstance(keyword.value, ast.Constant) and not keyword.value.value):
                self.refuse(node, "eval_str=", "evaluates annotation strings as code (inspect.signature(f, eval_str=True))", "eval_str")
        if isinstance(node.func, ast.Name) and node.func.id in ATTRIBUTE_CALLS and len(node.args) >= 2:
            target, name = node.args[0], node.args[1]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                self._check_attribute_name(node, name.value)
                chain = self._module_chain(target)
                if chain and name.value == MODULE_NAMESPACE:
                    self.refuse(node, f"attribute '{name.value}' of a module", _MODULE_NAMESPACE_REASON, f"attribute {name.value}")
                for dotted in chain[0] if chain else ():
                    self._judge_module(node, f"{dotted}.{name.value}")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and node.value.strip() in REFUSED_ATTRIBUTES:
            name = node.value.strip()
            self.refuse(node, f"the string '{name}'", REFUSED_ATTRIBUTES[name], f"attribute {name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.refuse(node, f"relative import from '{'.' * node.level}{node.module or ''}'",
                        "a candidate is a single file", "relative import")
        if any(alias.name == "*" for alias in node.names) and node.module not in STAR_IMPORTS:
            self.refuse(node, f"star import from '{node.module}'",
                        "it binds names the check cannot see (from numpy import * binds numpy.load)", "star import")


def _class_methods(node: ast.ClassDef) -> set[str]:
    return {item.name for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}


def interface_problem(tree: ast.Module) -> str | None:
    """Why a parsed file does not follow LEMUR's interface (Net, its methods, supported_hyperparameters), or None."""
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


def check_tree(tree: ast.Module, policy: ImportPolicy) -> StaticVerdict | None:
    """The policy and interface verdict on an already parsed file (None: it may run)."""
    try:
        _Checker(policy, build_scopes(tree)).visit(tree)
    except _Refusal as refusal:
        return StaticVerdict("forbidden", str(refusal), refusal.rule)
    except RecursionError:
        return StaticVerdict("forbidden", "code nested too deeply to check", "nesting")
    problem = interface_problem(tree)
    return StaticVerdict("interface_error", problem, "interface") if problem else None


def parse_candidate(code: str | None, max_bytes: int = MAX_CODE_BYTES) -> ast.Module | StaticVerdict:
    """The syntax tree of `code`, or the verdict that refuses it before any policy applies."""
    if code is None or not code.strip():
        return StaticVerdict("no_code", "no code", "no code")
    size = len(code.encode("utf-8", "replace"))
    if size > max_bytes:
        return StaticVerdict("forbidden", f"code is {size:,} bytes, more than the {max_bytes:,} allowed", "size")
    try:
        return ast.parse(code, filename="<candidate>")
    except SyntaxError as exc:
        return StaticVerdict("syntax_error", f"line {exc.lineno}: {exc.msg}", "syntax")
    except (ValueError, RecursionError, MemoryError) as exc:
        return StaticVerdict("syntax_error", f"unparsable: {type(exc).__name__}", "syntax")


@lru_cache(maxsize=16)
def policy_for(extra_imports: tuple[str, ...] = ()) -> ImportPolicy:
    """The built-in policy extended by `extra_imports` (evaluation.allowed_imports), built once."""
    return ImportPolicy(extra_imports)


def check_source(code: str | None, extra_imports: Sequence[str] = (), max_bytes: int = MAX_CODE_BYTES) -> StaticVerdict | None:
    """None when `code` may run in the sandbox; otherwise the verdict that refuses it."""
    tree = parse_candidate(code, max_bytes)
    if isinstance(tree, StaticVerdict):
        return tree
    return check_tree(tree, policy_for(tuple(extra_imports)))
