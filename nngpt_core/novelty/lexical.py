"""Lexical tokens of an architecture file, blind to renaming, comments, docstrings, formatting and import order.

    from nngpt_core.novelty.lexical import lexical_tokens, shingles
    tokens = lexical_tokens(open("net.py").read())   # ['import', 'torch', '<NL>', ..., 'class', 'Net', ...]
    shingles(tokens, k=5)                             # set of 5-token windows, as bytes for MinHash

Steps: parse and drop docstrings (the normal form of nngpt_core.novelty.normalize); drop the
LEMUR training boilerplate (`supported_hyperparameters`, `Net.train_setup`, `Net.learn`), which
nearly every file shares and which says nothing about the architecture (measured in
docs/novelty.md: with it, different architectures look up to 0.58 similar, without it 0.40); sort the
module-level imports; rename every identifier the file itself defines (classes, functions,
methods, attributes, globals, parameters, local variables) to a canonical name numbered by
order of first appearance; unparse (which fixes formatting and drops comments) and tokenize.
Names the file does not define (torch, nn, F, Python builtins, attributes such as `.view`)
are kept, and so are dunders and the LEMUR interface (Net, forward, train_setup, learn,
supported_hyperparameters), because they carry meaning shared by every file.

Local variables are numbered per top-level function or method, members (methods and
attributes) and module-level names per file, so an edit in one method does not shift the
canonical names of the others. Keyword arguments of calls to the file's own functions and
classes follow their parameters.
"""

from __future__ import annotations

import ast
import io
import tokenize

from nngpt_core.novelty.normalize import parse_without_docstrings

TOKENS_VERSION = "lexical-v1"  # bump when the token stream changes: stored signatures become incomparable
INTERFACE_NAMES = frozenset({"Net", "forward", "train_setup", "learn", "supported_hyperparameters"})
TRAINING_BOILERPLATE = frozenset({"supported_hyperparameters", "train_setup", "learn"})
_LAYOUT_TOKENS = {tokenize.NEWLINE: "<NL>", tokenize.INDENT: "<IN>", tokenize.DEDENT: "<DE>"}
_SKIPPED_TOKENS = {tokenize.ENCODING, tokenize.ENDMARKER, tokenize.NL, tokenize.COMMENT}
_SHINGLE_SEPARATOR = "\x1f"


def _kept(name: str) -> bool:
    return name in INTERFACE_NAMES or (name.startswith("__") and name.endswith("__"))


def _parameter_nodes(args: ast.arguments) -> list[ast.arg]:
    """Parameters in the order they are numbered (self first)."""
    vararg = [args.vararg] if args.vararg else []
    kwarg = [args.kwarg] if args.kwarg else []
    return args.posonlyargs + args.args + vararg + args.kwonlyargs + kwarg


def _parameters(args: ast.arguments) -> list[str]:
    return [arg.arg for arg in _parameter_nodes(args)]


def _init_parameters(node: ast.ClassDef) -> list[str]:
    for statement in node.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name == "__init__":
            return _parameters(statement.args)
    return []


class _Definitions(ast.NodeVisitor):
    """First pass: the names the file defines, by category, with the parameters of its callables."""

    def __init__(self) -> None:
        self.classes: dict[str, list[str]] = {}  # class name -> its __init__ parameters
        self.functions: dict[str, list[str]] = {}  # module-level function -> parameters
        self.members: dict[str, list[str]] = {}  # method or attribute name -> method parameters
        self.globals: set[str] = set()
        self.locals: dict[int, set[str]] = {}  # id(top-level function node) -> its local names
        self._scope: ast.AST | None = None
        self._class_depth = 0

    def _store(self, name: str) -> None:
        if self._scope is not None:
            self.locals[id(self._scope)].add(name)
        elif self._class_depth:
            self.members.setdefault(name, [])
        else:
            self.globals.add(name)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.setdefault(node.name, _init_parameters(node))
        self._class_depth += 1
        self.generic_visit(node)
        self._class_depth -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        parameters = _parameters(node.args)
        if self._scope is not None:
            self._store(node.name)
        elif self._class_depth:
            self.members[node.name] = parameters
        else:
            self.functions[node.name] = parameters
        outer = self._scope
        if outer is None:
            self._scope = node
            self.locals[id(node)] = set()
        for name in parameters:
            self._store(name)
        self.generic_visit(node)
        self._scope = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for name in _parameters(node.args):
            self._store(name)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self._store(node.id)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self._store(node.name)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if not isinstance(node.ctx, ast.Load):
            self.members.setdefault(node.attr, [])
        self.generic_visit(node)


class _Canonicalizer(ast.NodeTransformer):
    """Second pass: rename the file's own names to C#/F#/M#/G#/V# in order of first appearance."""

    def __init__(self, definitions: _Definitions) -> None:
        self.defs = definitions
        self.numbers: dict[str, dict[str, str]] = {"C": {}, "F": {}, "M": {}, "G": {}}
        self._scope_node: ast.AST | None = None
        self._scope_numbers: dict[str, str] = {}
        self._class_depth = 0

    def _number(self, table: dict[str, str], prefix: str, name: str) -> str:
        return table.setdefault(name, f"{prefix}{len(table)}")

    def _canonical(self, name: str) -> str:
        if _kept(name):
            return name
        if self._scope_node is not None and name in self.defs.locals[id(self._scope_node)]:
            return self._number(self._scope_numbers, "V", name)
        if self._scope_node is None and self._class_depth and name in self.defs.members:
            return self._number(self.numbers["M"], "M", name)
        for prefix, known in (("G", self.defs.globals), ("F", self.defs.functions), ("C", self.defs.classes)):
            if name in known:
                return self._number(self.numbers[prefix], prefix, name)
        return name

    def _member(self, name: str) -> str:
        return name if _kept(name) else self._number(self.numbers["M"], "M", name)

    def _rename_parameters(self, args: ast.arguments) -> None:
        for arg in _parameter_nodes(args):
            arg.arg = self._canonical(arg.arg)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        node.name = self._canonical(node.name)
        self._class_depth += 1
        self.generic_visit(node)
        self._class_depth -= 1
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        for decorator in node.decorator_list:
            self.visit(decorator)
        if self._scope_node is None:
            node.name = self._member(node.name) if self._class_depth else self._canonical(node.name)
        else:
            node.name = self._canonical(node.name)
        outer = (self._scope_node, self._scope_numbers)
        if self._scope_node is None:
            self._scope_node, self._scope_numbers = node, {}
        self._rename_parameters(node.args)  # first, so that parameter i is always V<i> of its method
        self.visit(node.args)
        if node.returns:
            self.visit(node.returns)
        node.body = [self.visit(statement) for statement in node.body]
        self._scope_node, self._scope_numbers = outer
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> ast.Lambda:
        self._rename_parameters(node.args)
        self.generic_visit(node)
        return node

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self._canonical(node.id)
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.ExceptHandler:
        if node.name:
            node.name = self._canonical(node.name)
        self.generic_visit(node)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.Attribute:
        self.generic_visit(node)
        if node.attr in self.defs.members:
            node.attr = self._member(node.attr)
        return node

    def _callee_parameters(self, func: ast.expr) -> list[str] | None:
        if isinstance(func, ast.Name):
            return self.defs.functions.get(func.id) or self.defs.classes.get(func.id)
        if isinstance(func, ast.Attribute):
            return self.defs.members.get(func.attr)
        return None

    def visit_Call(self, node: ast.Call) -> ast.Call:
        parameters = self._callee_parameters(node.func)  # before visiting: names are still the originals
        self.generic_visit(node)
        for keyword in node.keywords:
            if parameters and keyword.arg in parameters:
                keyword.arg = f"V{parameters.index(keyword.arg)}"
        return node


def _sorted_imports(tree: ast.Module) -> None:
    """Split module-level imports to one name each and put them first, sorted."""
    imports: list[ast.stmt] = []
    rest: list[ast.stmt] = []
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            imports += [ast.Import(names=[alias]) for alias in statement.names]
        elif isinstance(statement, ast.ImportFrom):
            imports += [ast.ImportFrom(module=statement.module, names=[alias], level=statement.level) for alias in statement.names]
        else:
            rest.append(statement)
    tree.body = sorted(imports, key=ast.unparse) + rest


def _drop_training_boilerplate(tree: ast.Module) -> None:
    def kept(statements: list[ast.stmt]) -> list[ast.stmt]:
        return [s for s in statements if not (isinstance(s, ast.FunctionDef) and s.name in TRAINING_BOILERPLATE)]

    tree.body = kept(tree.body)
    for statement in tree.body:
        if isinstance(statement, ast.ClassDef) and statement.name == "Net":
            statement.body = kept(statement.body) or [ast.Pass()]


def canonical_code(source: str | ast.Module, keep_training_boilerplate: bool = False) -> str:
    """The source in canonical form: no docstrings, comments or training boilerplate, sorted imports, local names renamed.

    `source` may also be a tree from parse_without_docstrings (saves a parse); it is rewritten in place.
    `keep_training_boilerplate` exists for the calibration that measures its effect.
    Raises SyntaxError when `source` is not valid Python.
    """
    tree = parse_without_docstrings(source) if isinstance(source, str) else source
    if not keep_training_boilerplate:
        _drop_training_boilerplate(tree)
    _sorted_imports(tree)
    definitions = _Definitions()
    definitions.visit(tree)
    tree = _Canonicalizer(definitions).visit(tree)
    return ast.unparse(tree)  # unparse needs no source positions


def lexical_tokens(source: str | ast.Module, keep_training_boilerplate: bool = False) -> list[str]:
    """The token stream of the canonical form; layout tokens stand for newlines and indentation."""
    code = canonical_code(source, keep_training_boilerplate)
    tokens = []
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type in _SKIPPED_TOKENS:
            continue
        tokens.append(_LAYOUT_TOKENS.get(token.type, token.string))
    return tokens


def shingles(tokens: list[str], k: int) -> set[bytes]:
    """The distinct windows of `k` consecutive tokens (one window of all tokens when there are fewer)."""
    if k < 1:
        raise ValueError("shingle size k must be at least 1")
    if len(tokens) <= k:
        return {_SHINGLE_SEPARATOR.join(tokens).encode()} if tokens else set()
    return {_SHINGLE_SEPARATOR.join(tokens[i : i + k]).encode() for i in range(len(tokens) - k + 1)}
