"""Python's name scopes for the static check: which scope binds a name, and what an import binds it to.

    from nngpt_core.sandbox.scopes import build_scopes, Walker
    scopes = build_scopes(tree)            # id(scope node) -> Scope (module, classes, functions, comprehensions)

`Walker` is a faster ast.NodeVisitor (one dispatch table per class, no string building per node)
that also reports statement blocks, so a subclass can tell which names are bound on every path
to a statement. Both passes of nngpt_core.sandbox.static walk the tree in the same order, so an
expression is judged in the scope where Python evaluates it: decorators, defaults and bases in
the enclosing scope, bodies in their own.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass(eq=False)
class Scope:
    kind: str  # module | class | function (functions, lambdas and comprehensions)
    parent: Scope | None
    names: set[str] = field(default_factory=set)  # bound here other than by import
    imports: dict[str, list[str]] = field(default_factory=dict)  # name -> dotted modules/members it is bound to here
    declared_global: set[str] = field(default_factory=set)


def parameters(args: ast.arguments) -> list[ast.arg]:
    return args.posonlyargs + args.args + args.kwonlyargs + [arg for arg in (args.vararg, args.kwarg) if arg]


def signature_expressions(args: ast.arguments) -> list[ast.expr]:
    """What a signature evaluates in the enclosing scope: defaults and annotations."""
    return [*args.defaults, *(d for d in args.kw_defaults if d), *(a.annotation for a in parameters(args) if a.annotation)]


class Walker:
    """Visits every node once: `visit_<Type>` where defined, else the children; statement lists go through `block`."""

    _dispatch: dict[type, object] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._dispatch = {
            node_type: getattr(cls, f"visit_{node_type.__name__}")
            for node_type in _node_types() if hasattr(cls, f"visit_{node_type.__name__}")
        }

    def visit(self, node: ast.AST) -> None:
        method = self._dispatch.get(type(node))
        if method is None:
            self.generic_visit(node)
        else:
            method(self, node)

    def generic_visit(self, node: ast.AST) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                if value and isinstance(value[0], ast.stmt):
                    self.block(value)
                else:
                    for item in value:
                        if isinstance(item, ast.AST):
                            self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def block(self, statements: list[ast.stmt]) -> None:
        for statement in statements:
            self.visit(statement)


def _node_types() -> list[type]:
    pending, found = [ast.AST], []
    while pending:
        node_type = pending.pop()
        found.append(node_type)
        pending.extend(node_type.__subclasses__())
    return found


class _ScopeBuilder(Walker):
    """Records, per scope node, the names the scope binds and what its imports bind them to."""

    def __init__(self) -> None:
        self.scopes: dict[int, Scope] = {}
        self.scope: Scope | None = None

    def _enter(self, node: ast.AST, kind: str) -> Scope:
        scope = Scope(kind, self.scope)
        self.scopes[id(node)] = scope
        return scope

    def bind(self, name: str, dotted: str | None = None) -> None:
        scope = self.scope
        if scope.kind == "function" and name in scope.declared_global:
            while scope.parent is not None:
                scope = scope.parent
        if dotted is None:
            scope.names.add(name)
        else:
            scope.imports.setdefault(name, []).append(dotted)

    def _in(self, scope: Scope, nodes: list[ast.AST]) -> None:
        outer, self.scope = self.scope, scope
        for node in nodes:
            self.visit(node)
        self.scope = outer

    def visit_Module(self, node: ast.Module) -> None:
        self._in(self._enter(node, "module"), node.body)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.bind(node.name)
        for child in [*node.decorator_list, *signature_expressions(node.args), *([node.returns] if node.returns else [])]:
            self.visit(child)
        scope = self._enter(node, "function")
        scope.names.update(arg.arg for arg in parameters(node.args))
        self._in(scope, node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for child in signature_expressions(node.args):
            self.visit(child)
        scope = self._enter(node, "function")
        scope.names.update(arg.arg for arg in parameters(node.args))
        self._in(scope, [node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.bind(node.name)
        for child in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(child)
        self._in(self._enter(node, "class"), node.body)

    def comprehension_scope(self, node: ast.AST) -> None:
        self._in(self._enter(node, "function"), list(ast.iter_child_nodes(node)))

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = comprehension_scope

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self.bind(node.id)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.bind(alias.asname, alias.name)
            else:
                top = alias.name.split(".")[0]
                self.bind(top, top)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.bind(alias.asname or alias.name, None if node.level else f"{node.module}.{alias.name}")

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.declared_global.update(node.names)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bind(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.bind(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.bind(node.rest)
        self.generic_visit(node)


def build_scopes(tree: ast.Module) -> dict[int, Scope]:
    """id(node) -> Scope for the module and every class, function, lambda and comprehension in it."""
    builder = _ScopeBuilder()
    builder.visit(tree)
    return builder.scopes


def definite_bindings(statement: ast.stmt) -> set[str]:
    """Names bound on every path through `statement` once it completes (assignments, defs, imports, with-as)."""
    targets: list[ast.AST] = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
        targets = [statement.target]
    elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    elif isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {alias.asname or alias.name.split(".")[0] for alias in statement.names if alias.name != "*"}
    elif isinstance(statement, (ast.With, ast.AsyncWith)):
        targets = [item.optional_vars for item in statement.items if item.optional_vars is not None]
    names: set[str] = set()
    while targets:
        target = targets.pop()
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            targets.extend(target.elts)
        elif isinstance(target, ast.Starred):
            targets.append(target.value)
    return names
