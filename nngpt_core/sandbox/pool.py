"""The parent side of the sandbox: a pool of warm workers that run requests in confined processes.

    from nngpt_core.sandbox.pool import SandboxPool
    with SandboxPool(settings, tensors={"train_x": x, ...}, workers=2) as pool:
        outcomes = pool.run_many([request, ...], on_done=lambda index, outcome: ...)

Each worker is a `python -I -B` process (nngpt_core.sandbox.zygote) with a clean environment and its
own session. The data tensors go into one memfd that every worker maps copy-on-write, so N workers
hold one physical copy. A worker that dies or stops answering is killed with everything it started
and replaced; its request comes back as an outcome with `stopped="worker"`, and the batch goes on.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nngpt_core.errors import NngptError
from nngpt_core.sandbox.processes import kill_group, kill_leftovers, remove_tree
from nngpt_core.sandbox.protocol import FramedReader, ProtocolError, write_message
from nngpt_core.sandbox.settings import LayerStatus, SandboxSettings
from nngpt_core.sandbox.zygote import SCRATCH_ROOT

STARTUP_TIMEOUT_S = 180.0  # importing torch on a busy machine is slow
REPLY_SLACK_S = 30.0  # beyond the candidate's own limit: fork, sweep and transfer
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_ALIGN = 64


class SandboxError(NngptError):
    """The sandbox cannot be started on this machine."""


@dataclass
class RawOutcome:
    """What a worker reports about one confined run; the payload is the untrusted result bytes."""

    exit_code: int | None = None
    signal: int | None = None
    stopped: str | None = None  # timeout | output | result | setup | worker
    wall_s: float = 0.0
    output_tail: str = ""
    output_bytes: int = 0
    setup: dict[str, Any] = field(default_factory=dict)
    payload: bytes = b""
    process: int | None = None  # resident mode: which of the worker's sandboxed processes answered (1, 2, ...)

    @classmethod
    def from_header(cls, header: dict[str, Any], payload: bytes) -> RawOutcome:
        return cls(
            exit_code=header.get("exit_code"), signal=header.get("signal"), stopped=header.get("stopped"),
            wall_s=float(header.get("wall_s") or 0.0), output_tail=str(header.get("output_tail") or ""),
            output_bytes=int(header.get("output_bytes") or 0), setup=dict(header.get("setup") or {}), payload=payload,
            process=header.get("process"),
        )


def sandbox_environment(threads: int) -> dict[str, str]:
    """The only variables a worker (and so a candidate) sees: none of the host's, except the GPU choice."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


class SharedTensors:
    """CPU tensors copied once into an anonymous memory file that workers inherit and map."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        self.fd = os.memfd_create("nngpt-data", 0)
        self.spec: dict[str, dict[str, Any]] = {}
        offset = 0
        for name, tensor in tensors.items():
            array = np.ascontiguousarray(tensor.detach().cpu().numpy())
            offset = -(-offset // _ALIGN) * _ALIGN
            self.spec[name] = {"offset": offset, "shape": list(array.shape), "dtype": str(array.dtype)}
            _write_all(self.fd, array, offset)
            offset += array.nbytes
        os.ftruncate(self.fd, max(offset, 1))

    def close(self) -> None:
        os.close(self.fd)


def _write_all(fd: int, array: np.ndarray, offset: int) -> None:
    view = memoryview(array.reshape(-1).view(np.uint8))
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


class SandboxWorker:
    """One warm worker process; `run` is not thread-safe (the pool gives each worker to one thread at a time)."""

    def __init__(self, settings: SandboxSettings, data: SharedTensors | None, base_dir: str, index: int):
        self.settings = settings
        self.data = data
        self.base_dir = base_dir
        self.index = index
        self.log_path = os.path.join(base_dir, f"worker-{index}.log")
        self.work_dir: str | None = None
        self.process: subprocess.Popen | None = None
        self.reader: FramedReader | None = None
        self.pid: int | None = None
        self.uid: int | None = None
        self.layers: list[LayerStatus] = []

    def spawn(self) -> None:
        """Start the worker process and send it its settings; `wait_ready` completes the start."""
        command = [
            sys.executable, "-I", "-B", "-c",
            f"import sys; sys.path.insert(0, {_PACKAGE_ROOT!r}); from nngpt_core.sandbox.zygote import main; main()",
        ]
        self.work_dir = tempfile.mkdtemp(prefix=f"worker-{self.index}-", dir=self.base_dir)
        env = {**sandbox_environment(self.settings.threads), "HOME": self.work_dir, "TMPDIR": self.work_dir}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, cwd=self.work_dir,
                pass_fds=(self.data.fd,) if self.data else (), start_new_session=True, bufsize=0,
            )
        self.pid = self.process.pid
        self.reader = FramedReader(self.process.stdout.fileno())
        init = {"settings": self.settings.to_dict()}
        if self.data:
            init.update(data=self.data.spec, data_fd=self.data.fd)
        try:
            write_message(self.process.stdin.fileno(), init)
        except OSError:
            pass  # it died at once: wait_ready reports why

    def wait_ready(self) -> None:
        """Wait for the worker's start-up report (its layers); SandboxError if it does not come."""
        try:
            header, _ = self.reader.read_message(deadline=time.monotonic() + STARTUP_TIMEOUT_S, max_payload=0)
        except (ProtocolError, OSError) as exc:
            self.stop()
            raise SandboxError(f"sandbox worker did not start ({exc}): {self.log_tail()}") from None
        setup = header.get("setup") or {}
        if "error" in setup:
            self.stop()
            raise SandboxError(f"sandbox set-up failed: {setup['error']}")
        self.uid = header.get("uid")
        self.layers = [LayerStatus.from_list(item) for item in setup.get("layers", [])]

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    @property
    def scratch_root(self) -> str:
        """Where this worker puts candidates' scratch directories when it has no mount namespace."""
        return os.path.join(self.work_dir, SCRATCH_ROOT)

    def log_tail(self, size: int = 400) -> str:
        try:
            text = Path(self.log_path).read_bytes()[-size:].decode("utf-8", "replace")
        except OSError:
            return ""
        return " | ".join(line for line in text.splitlines() if line.strip())[-size:]

    def run(self, request: dict[str, Any]) -> RawOutcome:
        """Run one request; a worker that fails is replaced and the outcome says stopped='worker'."""
        deadline = time.monotonic() + self.settings.timeout_s + REPLY_SLACK_S
        try:
            write_message(self.process.stdin.fileno(), {"op": "run", "request": request})
            header, payload = self.reader.read_message(deadline=deadline, max_payload=self.settings.result_limit_bytes)
            return RawOutcome.from_header(header, payload)
        except (ProtocolError, OSError) as exc:
            reason = f"sandbox worker failed ({exc}); replaced"
        self.stop()
        self.start()
        return RawOutcome(stopped="worker", output_tail=reason)

    def stop(self) -> None:
        """End the worker and everything it started (idempotent). Its files go with the pool's directory."""
        if self.process is None:
            return
        kill_group(self.process.pid)  # nothing in a worker needs a graceful exit
        self.process.wait()
        self.process.stdin.close()
        self.process.stdout.close()
        kill_leftovers(None, self.uid)  # its monitors die with it (parent-death signal); this catches a race
        remove_tree(self.work_dir)  # with the scratch of a candidate it was running
        self.process = None


class SandboxPool:
    """Warm workers sharing one copy of the data; requests run in parallel, results keep their order."""

    def __init__(self, settings: SandboxSettings, tensors: dict[str, torch.Tensor] | None = None, workers: int = 1):
        self.settings = settings
        self.base_dir = tempfile.mkdtemp(prefix="nngpt-sandbox-")
        self.data = SharedTensors(tensors) if tensors else None
        self.workers = [SandboxWorker(settings, self.data, self.base_dir, index) for index in range(workers)]
        try:
            for worker in self.workers:  # all import torch at the same time
                worker.spawn()
            for worker in self.workers:
                worker.wait_ready()
        except BaseException:
            self.close()
            raise

    @property
    def layers(self) -> list[LayerStatus]:
        return self.workers[0].layers if self.workers else []

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run_many(
        self, requests: Sequence[dict[str, Any]], on_done: Callable[[int, RawOutcome], None] | None = None,
    ) -> list[RawOutcome]:
        idle: queue.Queue[SandboxWorker] = queue.Queue()
        for worker in self.workers:
            idle.put(worker)

        def run_one(index: int) -> RawOutcome:
            worker = idle.get()
            try:
                outcome = worker.run(requests[index])
            finally:
                idle.put(worker)
            if on_done is not None:
                on_done(index, outcome)
            return outcome

        with ThreadPoolExecutor(max_workers=len(self.workers), thread_name_prefix="sandbox") as executor:
            return list(executor.map(run_one, range(len(requests))))

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []
        if self.data is not None:
            self.data.close()
            self.data = None
        remove_tree(self.base_dir)
