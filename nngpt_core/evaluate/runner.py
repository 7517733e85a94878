"""The sandboxed side of an evaluation: build, check, train one epoch, predict the test images.

Runs only inside a confined sandbox process (SandboxSettings.entry is "nngpt_core.evaluate.runner:run";
in fork mode one process per candidate, in resident mode one long-lived process per worker that
runs candidates one after another); the parent never imports candidate code. Steps:

    load      exec the code as module "<candidate>"                      -> build_error
    (interface: Net, its methods, supported_hyperparameters)             -> interface_error
    build     Net(in_shape, out_shape, prm, device); .to(device); train_setup(prm) -> build_error
    check     lazy modules (nn.LazyLinear, ...) materialised by a forward pass on a zero batch of the
              dataset's shape; parameter budget; one sample forward: output is (1, classes); FLOPs of
              it with FlopCounterMode and the FLOP budget; structural fingerprint
                                                                         -> too_large / shape_error / nonfinite
    train     learn(batches) once per epoch; train loss from a forward hook -> runtime_error / nonfinite
    predict   argmax over test images in eval mode                       -> shape_error / nonfinite

The test labels are not here: predictions go back as raw int64 and the parent computes accuracy.
`lock_down` (the audit hook) is called once trusted set-up is done, just before candidate code runs.
Device, precision (bf16 autocast), channels_last and the recipe's image size come from the request
(nngpt_core.evaluate.placement). `warm_up` runs a trusted model through every phase once, so that what
torch initialises lazily (the optimizers import torch._dynamo, ~4 s) is paid once per worker, not per candidate.
"""

from __future__ import annotations

import faulthandler
import gc
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parameter import is_lazy
from torch.utils.flop_counter import FlopCounterMode

from nngpt_core.data.tensors import iterate_batches, random_hflip
from nngpt_core.evaluate.placement import DATA_KEYS, DevicePlan, batches, is_device_fault
from nngpt_core.evaluate.failures import CANDIDATE_FILE, CandidateFailure, classify
from nngpt_core.evaluate.fingerprint import structural_tokens
from nngpt_core.evaluate.integrity import library_changes, remember_library_state
from nngpt_core.evaluate.recipe import HyperparameterError, fill_hyperparameters, requested_keys
from nngpt_core.evaluate.wire import ChildReport, encode_result
from nngpt_core.sandbox.audit import first_violation

REQUIRED_METHODS = ("train_setup", "learn", "forward")
FINGERPRINT_SAMPLES = 2
LAZY_BATCH = 2  # images in the zero batch that materialises lazy modules


class LossTracker:
    """Mean cross-entropy of the model's outputs on the batches it trains on, seen through a forward hook."""

    def __init__(self, model: nn.Module, num_classes: int):
        self.num_classes = num_classes
        self.labels: torch.Tensor | None = None
        self.total: torch.Tensor | None = None
        self.count = 0
        self.handle = model.register_forward_hook(self._observe)

    def _observe(self, _module: nn.Module, _inputs: Any, output: Any) -> None:
        logits = output[0] if isinstance(output, (tuple, list)) and output else output
        labels = self.labels
        if labels is None or not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (len(labels), self.num_classes):
            return
        loss = F.cross_entropy(logits.detach().float(), labels, reduction="sum")
        self.total = loss if self.total is None else self.total + loss
        self.count += len(labels)

    def watch(self, batches: Iterator[tuple[torch.Tensor, torch.Tensor]]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for inputs, labels in batches:
            self.labels = labels
            yield inputs, labels
        self.labels = None

    def mean(self) -> float | None:
        self.handle.remove()
        return None if self.total is None else float(self.total) / self.count


class Run:
    """One candidate's evaluation inside the sandbox, phase by phase."""

    def __init__(self, request: dict[str, Any], tensors: dict[str, torch.Tensor]):
        self.request = request
        self.plan = DevicePlan.from_request(request)
        self.device = self.plan.device
        data = self.plan.resident(tensors)
        self.train_x, self.train_y, self.test_x = data["train_x"], data["train_y"], data["test_x"]
        self.in_shape = self.plan.in_shape(tuple(self.train_x.shape[1:]))
        self.num_classes = int(request["num_classes"])
        self.report = ChildReport(status="ok")
        self.device_fault = False  # the GPU context is unusable: this process must not run another candidate

    @contextmanager
    def phase(self, name: str, failure_status: str):
        started = time.perf_counter()
        try:
            yield
        except BaseException as exc:  # candidate code may raise anything, SystemExit included
            raise CandidateFailure(*classify(exc, failure_status, self.in_shape)) from None
        finally:
            self.report.phases[name] = self.report.phases.get(name, 0.0) + time.perf_counter() - started

    def load(self, code: str) -> tuple[type, list[str]]:
        namespace: dict[str, Any] = {"__name__": "candidate", "__builtins__": __builtins__}
        with self.phase("load", "build_error"):
            exec(compile(code, CANDIDATE_FILE, "exec"), namespace)
        net = namespace.get("Net")
        if not isinstance(net, type) or not issubclass(net, nn.Module):
            raise CandidateFailure("interface_error", "no class Net derived from torch.nn.Module")
        missing = [name for name in REQUIRED_METHODS if not callable(getattr(net, name, None))]
        if missing:
            raise CandidateFailure("interface_error", f"Net lacks {', '.join(missing)}")
        declare = namespace.get("supported_hyperparameters")
        if not callable(declare):
            raise CandidateFailure("interface_error", "no function supported_hyperparameters()")
        with self.phase("load", "interface_error"):
            try:
                keys = requested_keys(declare())
            except HyperparameterError as exc:
                raise CandidateFailure("interface_error", str(exc)) from None
        return net, keys

    def build(self, net: type, keys: list[str]) -> nn.Module:
        request = self.request
        prm = fill_hyperparameters(keys, request["hyperparameters"], request["neutral_value"], request["batch_size"])
        batch_shape = (request["batch_size"], *self.in_shape)
        with self.phase("build", "build_error"):
            model = net(batch_shape, (self.num_classes,), prm, self.device)
            model.to(self.device)
            model.train_setup(prm)
        self.report.hyperparameters = {key: prm[key] for key in keys}
        return model

    def check(self, model: nn.Module) -> None:
        request = self.request
        with self.phase("check", "shape_error"):
            if _has_lazy_state(model):  # parameters cannot be counted before their shapes are inferred
                model.eval()
                with torch.no_grad():
                    model(torch.zeros((LAZY_BATCH, *self.in_shape), device=self.device))
            self.report.params = sum(parameter.numel() for parameter in model.parameters())
            if self.report.params > request["max_params"]:
                raise CandidateFailure("too_large", f"{self.report.params:,} parameters exceed the budget of {request['max_params']:,}")
            model.eval()
            plan = self.plan

            def first_forward() -> Any:
                with torch.no_grad(), plan.precision():
                    return model(plan.inputs(self.train_x[:1]))

            self._check_logits(plan.adopt_memory_format(model, first_forward), 1, "the first forward pass")
            self.report.flops = _count_flops(model, plan.inputs(self.train_x[:1]))
            if self.report.flops is not None and self.report.flops > request["max_flops"]:
                raise CandidateFailure("too_large", f"{self.report.flops:,} FLOPs per sample exceed the budget of {request['max_flops']:,}")
            self.report.tokens = structural_tokens(model, plan.inputs(self.train_x[:FINGERPRINT_SAMPLES]))

    def _check_logits(self, output: Any, batch: int, where: str) -> None:
        expected = (batch, self.num_classes)
        if not isinstance(output, torch.Tensor):
            raise CandidateFailure("shape_error", f"{where} returned {type(output).__name__}, not a tensor of shape {expected}")
        if tuple(output.shape) != expected:
            raise CandidateFailure("shape_error", f"{where} returned shape {tuple(output.shape)}, not (batch, classes) = {expected}")
        if not torch.isfinite(output).all():
            raise CandidateFailure("nonfinite", f"{where} returned NaN or infinite logits")

    def train(self, model: nn.Module) -> None:
        request = self.request
        batch = request["batch_size"]
        tracker = LossTracker(model, self.num_classes)
        with self.phase("train", "runtime_error"), self.plan.precision():
            model.train()
            for epoch in range(request["epochs"]):
                generator = torch.Generator().manual_seed(request["seed"] + epoch)
                stored = iterate_batches(
                    self.train_x, self.train_y, batch, shuffle=True, generator=generator, augment=request["augment"],
                    hflip=request["hflip"], drop_last=len(self.train_x) % batch == 1,  # BatchNorm cannot train on one sample
                )
                if request.get("random_flip"):
                    stored = ((random_hflip(images, generator), labels) for images, labels in stored)
                model.learn(tracker.watch(batches(self.plan, stored)))
        loss = tracker.mean()
        if loss is not None and not np.isfinite(loss):
            raise CandidateFailure("nonfinite", "training loss became NaN or infinite")
        self.report.train_loss = loss

    def predict(self, model: nn.Module) -> np.ndarray:
        predictions = []
        size = self.request["predict_batch"]
        with self.phase("predict", "runtime_error"), self.plan.precision():
            model.eval()
            with torch.no_grad():
                for start in range(0, len(self.test_x), size):
                    images = self.plan.inputs(self.test_x[start:start + size])
                    logits = model(images)
                    self._check_logits(logits, len(images), "forward on test images")
                    predictions.append(logits.argmax(dim=1).to("cpu", torch.int64))
        return torch.cat(predictions).numpy()


def _has_lazy_state(model: nn.Module) -> bool:
    """Whether a lazy module still waits for its first input (uninitialized parameters or buffers)."""
    return any(is_lazy(tensor) for tensor in (*model.parameters(), *model.buffers()))


def _count_flops(model: nn.Module, sample: torch.Tensor) -> int | None:
    """FLOPs of one forward pass on `sample`; None where torch's counter cannot follow the model."""
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(sample)
    except Exception:  # the forward already passed without the counter: do not fail a working model
        return None
    return int(counter.get_total_flops())


def _evaluate(run: Run, lock_down: Callable[[], None]) -> np.ndarray:
    seed = run.request["seed"]
    torch.manual_seed(seed)
    random.seed(seed)  # candidates may draw from Python's and numpy's generators too
    np.random.seed(seed % 2**32)
    lock_down()
    net, keys = run.load(run.request["code"])
    model = run.build(net, keys)
    run.check(model)
    run.train(model)
    return run.predict(model)


def run(request: dict[str, Any], tensors: dict[str, torch.Tensor], lock_down: Callable[[], None]) -> tuple[bytes, bool]:
    """Sandbox entry point: evaluate `request["code"]`.

    Returns the result payload and whether this process may run another candidate (resident
    mode): only after an `ok` that left the GPU and the shared library state as they were.
    """
    faulthandler.enable()  # a crash dump on stderr names the candidate's line
    torch.set_num_threads(int(request["threads"]))
    evaluation = Run(request, tensors)
    predictions = None
    try:
        predictions = _evaluate(evaluation, lock_down)
    except BaseException as exc:  # candidate code can reach past the phases (hooks, __del__, threads)
        evaluation.report.status, evaluation.report.error = classify(exc, "runtime_error", evaluation.in_shape)
        evaluation.device_fault = is_device_fault(exc)
    violation = first_violation()
    # Only a resident process runs later candidates that a changed library could mislead.
    changes = library_changes() if request.get("resident") else []
    if violation:  # refused at some point, even if the candidate swallowed the exception
        evaluation.report.status, evaluation.report.error, predictions = "forbidden", f"sandbox refused: {violation}", None
    elif changes:
        evaluation.report.status, predictions = "forbidden", None
        evaluation.report.error = f"changed shared torch state that later candidates use: {', '.join(changes[:5])}"
    payload = encode_result(evaluation.report, predictions if evaluation.report.status == "ok" else None)
    reusable = evaluation.report.status == "ok" and not evaluation.device_fault
    del evaluation
    if reusable:
        DevicePlan.from_request(request).release()
    return payload, reusable


WARM_UP_CODE = """
import torch
import torch.nn as nn
import torch.nn.functional as F


def supported_hyperparameters():
    return {"lr", "momentum", "dropout"}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        channels = in_shape[1]
        self.conv = nn.Sequential(nn.Conv2d(channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(8, 8, 1), nn.GELU())
        self.attention = nn.MultiheadAttention(8, 2, batch_first=True)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Sequential(nn.Dropout(prm["dropout"]), nn.Linear(8, out_shape[0]))

    def forward(self, x):
        x = self.conv(x)
        tokens = self.norm(x.flatten(2).transpose(1, 2))
        tokens = tokens + self.attention(tokens, tokens, tokens, need_weights=False)[0]
        pooled = F.adaptive_avg_pool2d(x, 1).flatten(1) + tokens.mean(1)
        return self.head(torch.cat([pooled], dim=1))

    def train_setup(self, prm):
        self.criterion = nn.CrossEntropyLoss()
        self.optimizers = [torch.optim.SGD(self.parameters(), lr=prm["lr"], momentum=prm["momentum"]),
                           torch.optim.Adam(self.parameters(), lr=1e-3), torch.optim.AdamW(self.parameters(), lr=1e-3)]

    def learn(self, train_data):
        for inputs, labels in train_data:
            for optimizer in self.optimizers:
                optimizer.zero_grad()
                self.criterion(self(inputs), labels).backward()
                optimizer.step()
"""
WARM_UP_SAMPLES = 8


def preload_torchvision() -> None:
    """Import torchvision's models and ops here, in the trusted worker: their import loads torchvision's
    native extension (a dlopen), which the sandbox refuses to candidate code, so a candidate that builds
    on torchvision.models (as LEMUR's classics do) finds them already loaded."""
    try:
        import torchvision.models  # noqa: F401
        import torchvision.ops  # noqa: F401
    except ImportError:  # torchvision is optional for the evaluator; a candidate importing it gets the error
        pass


def warm_up(request: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """Evaluate a trusted model on a few samples with `request`'s settings, in this process, result discarded.

    Called by the warm worker before it forks candidates (on the CPU, one thread, so that no thread
    pool exists at fork time) and by a resident worker on its device before its first candidate.
    """
    preload_torchvision()
    small = {name: tensors[name][:WARM_UP_SAMPLES] for name in DATA_KEYS}
    payload, _ = run({**request, "code": WARM_UP_CODE, "epochs": 1}, small, lambda: None)
    if not payload.startswith(b'{"status":"ok"'):
        raise RuntimeError(f"the warm-up evaluation failed: {payload[:300].decode('utf-8', 'replace')}")
    remember_library_state()
    gc.freeze()  # what the warm-up left is permanent: later collections skip it, forked children do not copy it
