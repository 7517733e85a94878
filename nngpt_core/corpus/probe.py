"""Build a corpus file in this process and measure it: parameters, FLOPs, a forward and backward pass.

    from nngpt_core.corpus.probe import probe
    report = probe(code, max_params=500_000)     # ProbeReport(params=..., flops=..., error=None)
    report.ok                                    # built, ran and trained a step on every shape, in budget

For the corpus's own trusted files only (seeds and their variants, which use nothing outside torch):
it executes the code unsandboxed. Generated code goes through nngpt_core.evaluate instead.
"""

from __future__ import annotations

import types
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

# The dataset shapes every corpus file must handle, largest first: digits32 (3x32x32) and digits (1x8x8).
SHAPES = ((3, 32, 32), (1, 8, 8))
NUM_CLASSES = 10
BATCH = 2
HYPERPARAMETERS = {"lr": 0.01, "momentum": 0.9, "dropout": 0.2}


@dataclass(frozen=True)
class ProbeReport:
    params: int | None = None  # at the first (largest) shape
    flops: int | None = None  # forward FLOPs per sample at the first shape
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class OverBudget(Exception):
    pass


def load_module(code: str, name: str = "corpus_file") -> types.ModuleType:
    """Execute `code` as a fresh module (trusted corpus code only)."""
    module = types.ModuleType(name)
    exec(compile(code, f"<{name}>", "exec"), module.__dict__)
    return module


def _check_logits(logits: torch.Tensor, shape: tuple[int, ...]) -> None:
    if tuple(logits.shape) != (BATCH, NUM_CLASSES):
        raise ValueError(f"output shape {tuple(logits.shape)} for input {shape}, expected {(BATCH, NUM_CLASSES)}")
    if not torch.isfinite(logits).all():
        raise ValueError(f"non-finite output for input {shape}")


def probe(code: str, shapes=SHAPES, max_params: int | None = None, max_flops: int | None = None) -> ProbeReport:
    """Build `code`'s Net at each shape, run it, train one step; stop early when over a budget.

    The error is one line: the exception of a failing file, or 'over budget: ...'.
    """
    params = flops = None
    try:
        module = load_module(code)
        for index, shape in enumerate(shapes):
            torch.manual_seed(0)
            net = module.Net((BATCH, *shape), (NUM_CLASSES,), dict(HYPERPARAMETERS), torch.device("cpu"))
            inputs = torch.randn(BATCH, *shape)
            if index == 0:
                params = sum(p.numel() for p in net.parameters())
                if max_params is not None and params > max_params:
                    raise OverBudget(f"{params} parameters > {max_params}")
            net.eval()
            counter = FlopCounterMode(display=False)
            with torch.no_grad(), counter:
                _check_logits(net(inputs), shape)
            if index == 0:
                flops = counter.get_total_flops() // BATCH
                if max_flops is not None and flops > max_flops:
                    raise OverBudget(f"{flops} FLOPs per sample > {max_flops}")
            net.train_setup(dict(HYPERPARAMETERS))
            net.learn([(inputs, torch.arange(BATCH) % NUM_CLASSES)])
    except OverBudget as exc:
        return ProbeReport(params, flops, f"over budget: {exc}")
    except Exception as exc:  # any failure of the probed file is a verdict, not a crash
        message = str(exc).strip().splitlines()
        return ProbeReport(params, flops, f"{type(exc).__name__}: {message[0] if message else ''}"[:300])
    return ProbeReport(params, flops)
