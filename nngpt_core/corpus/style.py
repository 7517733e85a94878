"""The corpus house style, checked: one import block, the LEMUR interface verbatim, every name defined.

    from nngpt_core.corpus.style import style_problems
    style_problems(code)        # [] when the file follows the house style, else one line per problem

A small code LM learns the corpus literally, so every file spells the shared parts the same way:
the imports, `supported_hyperparameters`, the `Net` signature and the training methods below.
"""

from __future__ import annotations

import ast
import builtins
import io
import symtable
import tokenize

IMPORT_BLOCK = ("torch", "torch.nn", "torch.nn.functional")
OPTIONAL_IMPORTS = ("math",)
ALIASES = {"torch": None, "torch.nn": "nn", "torch.nn.functional": "F", "math": None}
NET_INIT_ARGS = ["self", "in_shape", "out_shape", "prm", "device"]
TRAINING_METHODS = '''
def train_setup(self, prm):
    self.to(self.device)
    self.criteria = nn.CrossEntropyLoss().to(self.device)
    self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

def learn(self, train_data):
    self.train()
    for inputs, labels in train_data:
        inputs, labels = inputs.to(self.device), labels.to(self.device)
        self.optimizer.zero_grad()
        loss = self.criteria(self(inputs), labels)
        loss.backward()
        nn.utils.clip_grad_norm_(self.parameters(), 3)
        self.optimizer.step()
'''
_CANONICAL = {node.name: ast.dump(node) for node in ast.parse(TRAINING_METHODS).body}


def _import_problems(tree: ast.Module) -> list[str]:
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    names = []
    for node in imports:
        if isinstance(node, ast.ImportFrom) or len(node.names) != 1 or node not in tree.body:
            return [f"line {node.lineno}: only top-level `import x` / `import x as y` of {', '.join(ALIASES)}"]
        alias = node.names[0]
        if alias.name not in ALIASES or alias.asname != ALIASES[alias.name]:
            return [f"line {node.lineno}: import of '{alias.name}' is not in the house import block"]
        names.append(alias.name)
    if tuple(names[:3]) != IMPORT_BLOCK or any(name not in OPTIONAL_IMPORTS for name in names[3:]):
        return ["the imports are not exactly: import torch / import torch.nn as nn / import torch.nn.functional as F"]
    return []


def _hyperparameter_problems(tree: ast.Module) -> list[str]:
    function = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "supported_hyperparameters"), None)
    if function is None:
        return ["no top-level supported_hyperparameters()"]
    returned = function.body[-1]
    if not (isinstance(returned, ast.Return) and isinstance(returned.value, ast.Set)
            and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in returned.value.elts)):
        return ["supported_hyperparameters() must return a set of string literals"]
    declared = {element.value for element in returned.value.elts}
    used = {
        node.slice.value for node in ast.walk(tree)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "prm"
        and isinstance(node.slice, ast.Constant)
    }
    problems = [f"prm['{key}'] is used but not declared" for key in sorted(used - declared)]
    problems += [f"'{key}' is declared but never used" for key in sorted(declared - used)]
    return problems


def _net_problems(tree: ast.Module) -> list[str]:
    net = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Net"), None)
    if net is None:
        return ["no top-level class Net"]
    methods = {n.name: n for n in net.body if isinstance(n, ast.FunctionDef)}
    problems = []
    init = methods.get("__init__")
    if init is None or [a.arg for a in init.args.args] != NET_INIT_ARGS:
        problems.append("Net.__init__ must take (self, in_shape, out_shape, prm, device)")
    forward = methods.get("forward")
    if forward is None or [a.arg for a in forward.args.args] != ["self", "x"]:
        problems.append("Net.forward must take (self, x)")
    for name, canonical in _CANONICAL.items():
        if name not in methods or ast.dump(methods[name]) != canonical:
            problems.append(f"Net.{name} differs from the house training method")
    if [n.name for n in net.body if isinstance(n, ast.FunctionDef)][-2:] != list(_CANONICAL):
        problems.append("train_setup and learn must be the last methods of Net")
    return problems


def undefined_names(code: str) -> set[str]:
    """Global names the code reads but neither defines at module level nor gets from builtins."""
    table = symtable.symtable(code, "<corpus>", "exec")
    defined = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()} | set(dir(builtins))
    missing = {s.get_name() for s in table.get_symbols() if s.is_referenced() and s.get_name() not in defined}
    pending = list(table.get_children())
    while pending:
        scope = pending.pop()
        pending.extend(scope.get_children())
        missing |= {s.get_name() for s in scope.get_symbols()
                    if s.is_referenced() and s.is_global() and s.get_name() not in defined}
    return missing


def _comment_lines(code: str) -> list[int]:
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    return [token.start[0] for token in tokens if token.type == tokenize.COMMENT]


def style_problems(code: str) -> list[str]:
    """Every way `code` departs from the corpus house style (empty list: it conforms)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return [f"syntax error at line {exc.lineno}: {exc.msg}"]
    problems = []
    docstring = ast.get_docstring(tree, clean=False)
    if not docstring or "\n" in docstring:
        problems.append("the module must open with a one-line docstring naming the family")
    problems += _import_problems(tree)
    problems += _hyperparameter_problems(tree)
    problems += _net_problems(tree)
    problems += [f"name '{name}' is used but never defined" for name in sorted(undefined_names(code))]
    problems += [f"line {line}: comments are not part of the house style" for line in _comment_lines(code)]
    return problems
