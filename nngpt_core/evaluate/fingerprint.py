"""Structural fingerprint: what a model computes, as tokens for a MinHash of kind `structural`.

    from nngpt_core.evaluate.fingerprint import structural_tokens
    tokens = structural_tokens(model, torch.randn(2, 3, 32, 32))
    # sorted, e.g. ['batch_norm>relu#1', 'conv2d.k3@B,16,32,32#1', 'input>conv2d.k3>batch_norm#1', ...]

The forward pass on a sample batch runs (eval mode, no gradients) under a TorchFunctionMode that
sees every top-level torch call: functional calls, tensor methods and operators. Built-in layers
show up as the functional op they call (nn.Conv2d as conv2d, nn.ReLU as relu), so a layer and its
functional spelling, or nn.Sequential and explicit calls, give the same ops. Only op kinds and
shapes are kept, never Python names, so renaming, reformatting, re-commenting or re-ordering
definitions cannot change the result. Spellings of one operation share a name (view, reshape and
flatten are `reshape`; `x += y`, `x + y` and torch.add are `add`); copies and moves (contiguous,
clone, .to) are transparent. The batch dimension is written B; other dimensions above 8 are
rounded to the nearest power of two.

Tokens follow the dataflow, not the execution order: each op gives `op@shape`, `parent>op` for the
ops feeding it and `grandparent>parent>op`, so computing independent branches in another order
changes nothing. Each token is numbered by occurrence (`#k`): repeating a block adds tokens
instead of collapsing into the set. It runs inside the sandbox on untrusted models: only the first
`max_ops` torch calls are inspected, a failure to record one call is itself a token, and only an
exception from the model's own forward propagates, for the caller to classify.
"""

from __future__ import annotations

import math
import weakref
from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

MAX_OPS = 8192  # torch calls inspected per forward pass; later calls run unrecorded

# Calls that move, copy or describe a tensor without changing what the network computes.
_IGNORED = frozenset({
    "contiguous", "clone", "detach", "to", "float", "double", "half", "bfloat16", "type", "type_as",
    "cpu", "cuda", "requires_grad", "data", "size", "dim", "numel", "set_grad_enabled", "grad",
})
# Spellings of one operation.
_ALIASES = {
    "truediv": "div", "divide": "div", "multiply": "mul", "subtract": "sub", "concat": "cat", "concatenate": "cat",
    "view": "reshape", "view_as": "reshape", "reshape_as": "reshape", "flatten": "reshape", "unflatten": "reshape",
    "squeeze": "reshape", "unsqueeze": "reshape",
    "transpose": "permute", "t": "permute", "T": "permute", "mT": "permute", "swapaxes": "permute", "movedim": "permute",
    "mm": "matmul", "bmm": "matmul", "expand_as": "expand", "repeat": "expand",
    "chunk": "split", "tensor_split": "split", "unbind": "split", "max_pool2d_with_indices": "max_pool2d",
}
# Python operator dunders whose reflected (r) or in-place (i) form means the same operation.
_REFLECTED = frozenset({"add", "sub", "mul", "truediv", "floordiv", "matmul", "pow", "mod", "and", "or", "xor"})
_CONVOLUTIONS = frozenset({"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"})


def canonical_op(func: Any) -> str | None:
    """The canonical name of a torch callable, or None for calls that do not shape the computation."""
    name = getattr(func, "__name__", None) or type(func).__name__
    if name == "__get__":  # a tensor property such as .T or .data: name it after the property
        name = getattr(getattr(func, "__self__", None), "__name__", name)
    dunder = name.startswith("__") and name.endswith("__")
    name = name.strip("_")
    if dunder and name[:1] in ("r", "i") and name[1:] in _REFLECTED:
        name = name[1:]
    name = _ALIASES.get(name, name)
    return None if name in _IGNORED or not name else name


def _conv_detail(args: tuple, kwargs: dict) -> str:
    """Kernel size and grouping of a functional convolution call: '.k3', '.k3.dw' or '.k1.g4'."""
    weight = kwargs.get("weight", args[1] if len(args) > 1 else None)
    if not isinstance(weight, torch.Tensor) or weight.ndim < 3:
        return ""
    kernel = "x".join(str(k) for k in weight.shape[2:]) if len(set(weight.shape[2:])) > 1 else str(weight.shape[2])
    groups = kwargs.get("groups", args[6] if len(args) > 6 else 1)
    if not isinstance(groups, int) or groups <= 1:
        return f".k{kernel}"
    return f".k{kernel}.dw" if weight.shape[1] == 1 else f".k{kernel}.g{groups}"


def bucket(size: int) -> int:
    """Small sizes as they are, larger ones rounded to the nearest power of two."""
    if size <= 8:
        return size
    return 2 ** round(math.log2(size))


@dataclass(frozen=True)
class OpNode:
    """One recorded operation: its canonical name and the names of the ops that produced its inputs."""

    op: str
    parent_ops: tuple[str, ...]


INPUT_NODE = OpNode("input", ())


def _tensors_in(args: tuple, kwargs: dict) -> list[torch.Tensor]:
    """Tensor arguments, including those inside a list or tuple argument (torch.cat's)."""
    found = []
    for value in (*args, *kwargs.values()):
        items = value if isinstance(value, (list, tuple)) else (value,)
        found.extend(item for item in items if isinstance(item, torch.Tensor))
    return found


class OpRecorder(TorchFunctionMode):
    """Records the dataflow of top-level torch calls while active, as raw (unnumbered) tokens.

    Each op gives `op@shape`, one `parent>op` token per distinct op feeding it and
    `grandparent>parent>op` tokens: n-grams along data edges rather than in execution order, so
    computing two independent branches in the other order changes nothing. Only the first
    `max_ops` torch calls are inspected, each adding at most `max_tokens_per_op` tokens.
    """

    def __init__(self, sample: torch.Tensor, max_ops: int = MAX_OPS, max_tokens_per_op: int = 16):
        super().__init__()
        self.batch_size = int(sample.shape[0])
        self.max_ops = max_ops
        self.max_tokens_per_op = max_tokens_per_op
        self.calls = 0
        self.tokens: list[str] = []
        # id(tensor) -> (weak reference, node); the reference tells a live entry from a reused id.
        self._nodes: dict[int, tuple[weakref.ref, OpNode]] = {}
        self._bind(sample, INPUT_NODE)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if self.calls < self.max_ops:
            self.calls += 1
            try:
                self._record(func, args, kwargs, result)
            except Exception:  # an odd argument or result must not break the candidate's forward pass
                self.tokens.append("unknown")
        return result

    def _bind(self, tensor: torch.Tensor, node: OpNode) -> None:
        self._nodes[id(tensor)] = (weakref.ref(tensor), node)

    def _node_of(self, tensor: torch.Tensor) -> OpNode | None:
        entry = self._nodes.get(id(tensor))
        return entry[1] if entry is not None and entry[0]() is tensor else None

    def _record(self, func: Any, args: tuple, kwargs: dict, result: Any) -> None:
        outputs = _tensors_in((result,), {})
        if not outputs:
            return
        parents = [node for node in map(self._node_of, _tensors_in(args, kwargs)) if node is not None]
        op = canonical_op(func)
        if op is None:  # a copy or move: its result stands for the same node as its input
            if parents:
                for tensor in outputs:
                    self._bind(tensor, parents[0])
            return
        if op in _CONVOLUTIONS:
            op += _conv_detail(args, kwargs)
        unique_parents = sorted(set(parents), key=lambda node: (node.op, node.parent_ops))
        node = OpNode(op, tuple(sorted({parent.op for parent in unique_parents})))
        shape = self._shape(outputs[0]) + (f"x{len(outputs)}" if len(outputs) > 1 else "")
        own = [f"{op}@{shape}"]
        own.extend(f"{parent_op}>{op}" for parent_op in node.parent_ops)
        own.extend(sorted({f"{grand}>{parent.op}>{op}" for parent in unique_parents for grand in parent.parent_ops}))
        self.tokens.extend(own[: self.max_tokens_per_op])
        for tensor in outputs:
            self._bind(tensor, node)

    def _shape(self, tensor: torch.Tensor) -> str:
        dims = [
            "B" if axis == 0 and size == self.batch_size else str(bucket(size))
            for axis, size in enumerate(tensor.shape)
        ]
        return ",".join(dims)


def record_tokens(model: nn.Module, sample: torch.Tensor, max_ops: int = MAX_OPS) -> list[str]:
    """Raw tokens of one forward pass of `model` on `sample`, in eval mode without gradients."""
    was_training = model.training
    recorder = OpRecorder(sample, max_ops=max_ops)
    model.eval()  # eval: BatchNorm accepts any batch and dropout is deterministic
    try:
        with torch.no_grad(), recorder:
            model(sample)
    finally:
        model.train(was_training)
    return recorder.tokens


def number_occurrences(tokens: list[str]) -> list[str]:
    """Each token suffixed with its occurrence count (`#1`, `#2`...), sorted: a multiset as a set."""
    seen: Counter[str] = Counter()
    numbered = []
    for token in tokens:
        seen[token] += 1
        numbered.append(f"{token}#{seen[token]}")
    return sorted(numbered)


def structural_tokens(model: nn.Module, sample: torch.Tensor, max_ops: int = MAX_OPS) -> list[str]:
    """The structural fingerprint of `model`: tokens of its forward pass on `sample` (see the module doc)."""
    return number_occurrences(record_tokens(model, sample, max_ops=max_ops))
