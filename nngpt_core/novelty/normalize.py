"""Code normalization for identity: the architecture hash ignores comments, docstrings and formatting.

    from nngpt_core.novelty.normalize import normalize_code, code_hash
    code_hash(src) == code_hash(reformatted_src)   # True

The raw code is stored as written; only the hash uses the normal form. `parse_without_docstrings`
is the shared first step of this normal form and of the lexical tokens (nngpt_core.novelty.lexical).
"""

from __future__ import annotations

import ast
import hashlib


_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _strip_docstrings(node: ast.AST) -> None:
    """Remove the docstrings of the module and of every class and function in it.

    Definitions are statements, so only statement blocks are walked (a tenth of the nodes of a full walk).
    """
    if isinstance(node, _DOCUMENTED):
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    for field in _BLOCKS:
        for child in getattr(node, field, ()):
            _strip_docstrings(child)


def parse_without_docstrings(source: str) -> ast.Module:
    """The syntax tree of `source` with module, class and function docstrings removed. Raises SyntaxError."""
    tree = ast.parse(source)
    _strip_docstrings(tree)
    return tree


def normalize_code(source: str) -> str:
    """Source without comments, docstrings or formatting differences. Raises SyntaxError."""
    return ast.unparse(parse_without_docstrings(source))


def code_hash(source: str) -> str:
    """SHA-256 hex digest of the normalized code: an architecture's identity."""
    return tree_hash(parse_without_docstrings(source))


def tree_hash(tree: ast.Module) -> str:
    """code_hash of the source `tree` came from (a tree from parse_without_docstrings, not modified since)."""
    return hashlib.sha256(ast.unparse(tree).encode()).hexdigest()
