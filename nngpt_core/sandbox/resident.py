"""Resident mode: one confined process per warm worker that serves requests one after another.

    SandboxSettings(entry=..., resident=True, recycle_after=64)    # SandboxPool and the worker do the rest

Why: CUDA cannot be initialised before a fork, so a GPU candidate forked from the warm worker
pays CUDA start-up and the upload of the dataset itself. A resident process is forked and confined
exactly like a candidate (the same namespaces, uid, rlimits, no_new_privs and audit hook), then
initialises the device once (`SandboxSettings.warmup` on its own device) and keeps the data there.

Both sides live here. In the worker (trusted), `ResidentRunner` starts the process, sends each
request through a pipe, enforces the wall-clock and size limits per request exactly as in fork
mode, and replaces the process when a request did not end cleanly: a timeout, a crash, an
oversized answer, an answer the entry marked not reusable (any status but `ok`, a GPU fault, a
change to the shared library state), a process or thread left behind, or after `recycle_after`
requests. In the sandboxed process, `serve` runs the loop. Answers are frames: 8 bytes of length,
one byte of flags (1 = the process may serve again), then the entry's payload.
"""

from __future__ import annotations

import os
import select
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nngpt_core.sandbox.pipes import Sandboxed, Watch, parse_setup
from nngpt_core.sandbox.processes import leftover_pids, remove_tree
from nngpt_core.sandbox.protocol import FramedReader, ProtocolError, write_message

if TYPE_CHECKING:
    from nngpt_core.sandbox.zygote import Zygote

FRAME = struct.Struct("<QB")
REUSABLE = 1
READY_TIMEOUT_S = 300.0  # CUDA start-up, the data upload and the warm-up on a busy GPU


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_frame(fd: int, payload: bytes, reusable: bool) -> None:
    write_all(fd, FRAME.pack(len(payload), REUSABLE if reusable else 0) + payload)


def _empty_directory(path: str) -> bool:
    """Remove everything below `path` (a candidate's files must not reach the next one); False if some stays."""
    for name in os.listdir(path):
        entry = os.path.join(path, name)
        if os.path.isdir(entry) and not os.path.islink(entry):
            remove_tree(entry)
        else:
            try:
                os.remove(entry)
            except OSError:
                pass  # reported by the emptiness check below
    return not os.listdir(path)


def serve(entry: Callable[..., tuple[bytes, bool]], tensors: dict[str, Any], request_fd: int, result_fd: int,
          lock_down: Callable[[], None], warm_up: Callable[[], None] | None, scratch: str) -> None:
    """The resident process's loop: warm up on the device, say ready, then answer requests until told to stop."""
    if warm_up is not None:
        warm_up()
    write_frame(result_fd, b"", reusable=True)
    reader = FramedReader(request_fd)
    while True:
        try:
            message, _ = reader.read_message()
        except ProtocolError:  # the worker closed the pipe: replaced or shutting down
            return
        payload, reusable = entry(message["request"], tensors, lock_down)
        reusable = reusable and _empty_directory(scratch)
        write_frame(result_fd, payload, reusable)
        if not reusable:
            return


def _threads(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _read_to_end(watch: Watch, deadline: float) -> None:
    """Read what is left of a pipe the process has already finished writing (its setup report)."""
    while not watch.closed and time.monotonic() < deadline:
        if not select.select([watch.fd], [], [], max(deadline - time.monotonic(), 0.0))[0]:
            return
        chunk = os.read(watch.fd, 1 << 16)
        if not chunk or not watch.add(chunk):
            watch.close()


class ResidentRunner:
    """The worker's side of resident mode: one sandboxed process, started on demand and replaced when unclean."""

    def __init__(self, zygote: Zygote):
        self.zygote = zygote
        self.process: Sandboxed | None = None
        self.setup: dict[str, Any] = {}
        self.served = 0
        self.started_processes = 0  # how many resident processes this worker has started (tests, logs)
        self.baseline_threads: int | None = None

    def run(self, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        """Answer one request in the resident process (started first if there is none)."""
        if self.process is None:
            failure = self._start()
            if failure is not None:
                return failure, b""
        process = self.process
        started = time.monotonic()
        process.output.reset()
        process.result.reset()
        try:
            write_message(process.request_fd, {"request": request})
        except OSError:
            pass  # it died between requests: the supervision below reports how
        status, stopped = self.zygote._supervise(process, started + self.zygote.settings.timeout_s,
                                                 answered=lambda: self._frame(process) is not None or self._oversized(process))
        wall = time.monotonic() - started
        if stopped is None and self._oversized(process):
            stopped = "result"
        frame = self._frame(process) if stopped is None else None
        if frame is None:
            header = self.zygote.header(process, status, stopped, wall)
            header.update(setup=self.setup, process=self.started_processes)
            self.stop()
            return header, b""
        payload, reusable = frame
        self.served += 1
        header = {
            "exit_code": 0, "signal": None, "stopped": None, "wall_s": wall,
            "output_tail": bytes(process.output.data).decode("utf-8", "replace"), "output_bytes": process.output.total,
            "setup": self.setup, "process": self.started_processes,
        }
        if status is not None or not reusable or self.served >= self.zygote.settings.recycle_after or not self._clean(process):
            self.stop()
        return header, payload

    def _frame(self, process: Sandboxed) -> tuple[bytes, bool] | None:
        """The whole frame at the start of the result buffer, or None while it is incomplete."""
        data = process.result.data
        if len(data) < FRAME.size:
            return None
        length, flags = FRAME.unpack_from(data)
        if len(data) < FRAME.size + length:
            return None
        return bytes(data[FRAME.size:FRAME.size + length]), bool(flags & REUSABLE) and len(data) == FRAME.size + length

    def _oversized(self, process: Sandboxed) -> bool:
        """Whether the answer announces more bytes than a result may have (garbage in the pipe, or a flood)."""
        data = process.result.data
        return len(data) >= FRAME.size and FRAME.unpack_from(data)[0] > self.zygote.settings.result_limit_bytes

    def _runner_pid(self, process: Sandboxed) -> int | None:
        descendants = leftover_pids(process.monitor, None)
        return next(iter(descendants)) if len(descendants) == 1 else None

    def _clean(self, process: Sandboxed) -> bool:
        """No process besides the resident one under its monitor, and no thread more than after its warm-up."""
        pid = self._runner_pid(process)
        if pid is None:
            return False
        threads = _threads(pid)
        return threads is not None and self.baseline_threads is not None and threads <= self.baseline_threads

    def _start(self) -> dict[str, Any] | None:
        """Start a resident process and wait until it is warm; the failure header when it does not get there."""
        zygote = self.zygote
        process = zygote.spawn(None, resident=True)
        self.started_processes += 1
        deadline = process.started + max(READY_TIMEOUT_S, zygote.settings.timeout_s)
        status, stopped = zygote._supervise(process, deadline, answered=lambda: self._frame(process) is not None)
        ready = self._frame(process) if stopped is None and status is None else None
        if ready is None:
            wall = time.monotonic() - process.started
            header = zygote.header(process, status, stopped, wall)
            zygote.finish(process)
            reason = header["setup"].get("error") or header["output_tail"][-400:] or f"stopped: {stopped or 'exited'}"
            return {**header, "stopped": "worker", "output_tail": f"the resident sandbox process did not start: {reason}"}
        _read_to_end(process.setup, deadline)
        self.setup = parse_setup(bytes(process.setup.data))
        self.process, self.served = process, 0
        pid = self._runner_pid(process)
        self.baseline_threads = _threads(pid) if pid is not None else None
        return None

    def stop(self) -> None:
        """End the resident process and everything it started; the next request starts a fresh one."""
        if self.process is not None:
            self.zygote.finish(self.process)
            self.process = None
