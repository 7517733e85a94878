"""The warm sandbox worker: imports torch once, then forks one confined process per candidate.

    python -I -B -c "from nngpt_core.sandbox.zygote import main; main()"   # as SandboxPool starts it

It speaks the framed protocol (nngpt_core.sandbox.protocol) on stdin/stdout and is never run by hand.

Startup: read the init message (settings, and where the shared data tensors are), leave the
network (and, without root, enter a user namespace) while still single-threaded, import the entry
module, map the data and run the warm-up (on the CPU with one thread, so no thread pool exists at
fork time). Then, per request: fork a monitor (own session, PID and mount namespaces), which forks
the candidate; the candidate confines itself and calls the entry. The worker enforces the
wall-clock limit, reads the candidate's result, output and setup report through size-bounded
pipes, then kills every process left over (its process group, its uid, every adopted orphan) and
removes the scratch directory before answering. The worker itself never runs candidate code.
In resident mode the same confined process serves many requests (nngpt_core.sandbox.resident).
"""

from __future__ import annotations

import importlib
import math
import mmap
import os
import select
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from nngpt_core.sandbox import linux
from nngpt_core.sandbox.audit import install_audit_hook
from nngpt_core.sandbox.confine import Confinement, confine_candidate, isolate_monitor, try_layer
from nngpt_core.sandbox.pipes import SETUP_REPORT_LIMIT, Sandboxed, Watch, parse_setup, write_quietly
from nngpt_core.sandbox.processes import kill_group, kill_leftovers, remove_tree
from nngpt_core.sandbox.protocol import FramedReader, ProtocolError, write_message
from nngpt_core.sandbox.resident import ResidentRunner, serve, write_all
from nngpt_core.sandbox.settings import LayerStatus, SandboxSettings

SCRATCH_ROOT = "scratch"  # in the worker's directory: scratch directories when there is no mount namespace
SANDBOX_UID_BASE = 1_500_000_000  # + the worker's pid: concurrent workers never share a uid
EXIT_SETUP_FAILED = 71
DRAIN_GRACE_S = 0.5


class Zygote:
    """The worker's state: its layers, the sandbox uid, the imported entry point and the mapped data."""

    def __init__(self, settings: SandboxSettings, data: dict[str, Any] | None, data_fd: int | None):
        self.settings = settings
        self.started_as_root = os.geteuid() == 0
        self.pid = os.getpid()
        self.environment = dict(os.environ)  # as the parent gave it, before imported libraries add their own
        self.layers = self._leave_host_namespaces()
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
        self.layers.append(LayerStatus("subreaper", True))
        # Candidates cannot ptrace or read this process's memory. Only now: undumpable, it could not
        # have written the uid map of its user namespace.
        linux.prctl(linux.PR_SET_DUMPABLE, 0)
        self.uid = SANDBOX_UID_BASE + os.getpid() if self.started_as_root and settings.enabled("uid-drop") else None
        if self.uid is None:
            reason = "disabled" if not settings.enabled("uid-drop") else "needs root"
            self.layers.append(LayerStatus("uid-drop", False, reason))
        for module in settings.preload:
            importlib.import_module(module)
        self.entry = _resolve(settings.entry) if settings.entry else None  # "": a layer probe, which runs no request
        self.tensors = map_tensors(data, data_fd) if data else {}
        self.warm_up = _resolve(settings.warmup) if settings.warmup else None
        if self.warm_up is not None:
            cpu = {"device": "cpu", "precision": "float32", "channels_last": False, "threads": 1}
            self.warm_up({**settings.warmup_request, **cpu}, self.tensors)
        self.resident = ResidentRunner(self) if settings.resident else None
        self.import_dirs = [path for path in sys.path if os.path.isdir(path)]
        work_dir = tempfile.gettempdir()  # made for this worker by the parent, which removes it
        os.chmod(work_dir, 0o711)  # the sandbox uid may reach its scratch below, but not list it
        self.scratch_root = os.path.join(work_dir, SCRATCH_ROOT)
        os.mkdir(self.scratch_root, 0o711)

    def probe(self) -> dict[str, Any]:
        """Set up one confined process without running anything: its layers, or why set-up failed.

        If the unprivileged uid cannot read the Python installation (a home directory it cannot
        enter, without a mount namespace to fix that), dropping to it would break every lazy
        import: candidates then keep the worker's uid and the report says so.
        """
        header, _ = self.run(None)
        if header["setup"].get("unreadable") and self.uid is not None:
            self.uid = None
            self.layers.append(LayerStatus("uid-drop", False, "the Python installation is unreadable for an unprivileged uid"))
            header, _ = self.run(None)
        return header

    def _leave_host_namespaces(self) -> list[LayerStatus]:
        layers = [
            LayerStatus("clean-env", True, "only PATH, locale, thread counts; HOME and TMPDIR are the scratch"),
            LayerStatus("session", True, "own process group, killed after each candidate"),
        ]
        if self.started_as_root:
            layers.append(LayerStatus("user-ns", False, "not needed: started as root", needed=False))
        else:
            uid, gid = os.getuid(), os.getgid()

            def enter_user_namespace() -> None:
                linux.unshare(linux.CLONE_NEWUSER)
                linux.map_user_to_root(uid, gid)

            try_layer(layers, self.settings, "user-ns", enter_user_namespace)
        try_layer(layers, self.settings, "net-ns", lambda: linux.unshare(linux.CLONE_NEWNET), "no interfaces up")
        return layers

    # ----------------------------------------------------------------- one candidate
    def run(self, request: dict[str, Any] | None) -> tuple[dict[str, Any], bytes]:
        """Run `request` (None: only set up and report the layers) in a confined process."""
        if self.resident is not None and request is not None:
            return self.resident.run(request)
        process = self.spawn(request)
        status, stopped = self._supervise(process, process.started + self.settings.timeout_s)
        wall = time.monotonic() - process.started
        self.finish(process)
        return self.header(process, status, stopped, wall), bytes(process.result.data[: process.result.limit])

    def spawn(self, request: dict[str, Any] | None, resident: bool = False) -> Sandboxed:
        """Fork a monitor and its confined candidate for `request` (resident: a process that serves many)."""
        host_scratch = tempfile.mkdtemp(dir=self.scratch_root)
        if self.uid is not None:
            os.chown(host_scratch, self.uid, self.uid)
        setup_r, setup_w = os.pipe()
        result_r, result_w = os.pipe()
        output_r, output_w = os.pipe()
        request_r, request_w = os.pipe() if resident else (None, None)
        started = time.monotonic()
        monitor = os.fork()
        if monitor == 0:
            for fd in (setup_r, result_r, output_r, request_w):
                if fd is not None:
                    os.close(fd)
            self._monitor(request, host_scratch, setup_w, result_w, output_w, request_r)
        for fd in (setup_w, result_w, output_w, request_r):
            if fd is not None:
                os.close(fd)
        return Sandboxed(
            monitor, host_scratch, started, Watch("setup", setup_r, SETUP_REPORT_LIMIT),
            Watch("result", result_r, self.settings.result_limit_bytes),
            Watch("output", output_r, self.settings.output_limit_kb * 1024, keep_tail=True), request_w,
        )

    def finish(self, process: Sandboxed) -> None:
        """Kill what is left of `process` and remove its scratch directory."""
        if process.request_fd is not None:
            os.close(process.request_fd)
            process.request_fd = None
        for watch in process.watches:
            watch.close()
        self.sweep(process.monitor)
        remove_tree(process.scratch)

    def header(self, process: Sandboxed, status: int | None, stopped: str | None, wall_s: float) -> dict[str, Any]:
        """What the parent learns about one request's run (the result bytes travel as the payload)."""
        exit_code, signal_number = _decode_monitor_status(status)
        return {
            "exit_code": exit_code, "signal": signal_number, "stopped": stopped, "wall_s": wall_s,
            "output_tail": bytes(process.output.data).decode("utf-8", "replace"), "output_bytes": process.output.total,
            "setup": parse_setup(bytes(process.setup.data)),
        }

    def _supervise(self, process: Sandboxed, deadline: float,
                   answered: Callable[[], bool] | None = None) -> tuple[int | None, str | None]:
        """Read the pipes until the monitor exits and they close, or until `answered()` (resident: a whole
        result arrived); stop it at the deadline or a size limit.

        Returns the monitor's wait status (None while it runs on) and why it was stopped (None,
        timeout, or the watch that overflowed).
        """
        monitor = process.monitor
        pidfd = os.pidfd_open(monitor)
        status: int | None = None
        stopped: str | None = None
        drain_until = math.inf
        try:
            while True:
                now = time.monotonic()
                if answered is not None and stopped is None and status is None and answered():
                    return None, None
                open_watches = [watch for watch in process.watches if not watch.closed]
                if status is not None and (not open_watches or now >= drain_until):
                    return status, stopped
                if status is None and stopped is None and now >= deadline:
                    stopped = "timeout"
                    kill_group(monitor)
                wake = drain_until if status is not None else deadline if stopped is None else now + 0.1
                fds = [watch.fd for watch in open_watches] + ([pidfd] if status is None else []) + [0]
                ready = select.select(fds, [], [], max(wake - now, 0.0))[0]
                if 0 in ready:  # the parent closed its end: nobody is waiting for this answer
                    kill_group(monitor)
                    self.sweep(monitor)
                    os._exit(0)
                if pidfd in ready:
                    status = os.waitpid(monitor, 0)[1]
                    self.sweep(monitor)  # leftovers would hold the pipes open
                    drain_until = time.monotonic() + DRAIN_GRACE_S
                for watch in open_watches:
                    if watch.fd not in ready:
                        continue
                    chunk = os.read(watch.fd, 1 << 16)
                    if not chunk:
                        watch.close()
                    elif not watch.add(chunk) and stopped is None:
                        stopped = watch.name
                        kill_group(monitor)
        finally:
            os.close(pidfd)

    def _monitor(self, request: dict[str, Any] | None, host_scratch: str, setup_w: int, result_w: int, output_w: int,
                 request_r: int | None) -> None:
        """The monitor process: isolate, fork the candidate, wait, exit with its encoded status."""
        code = EXIT_SETUP_FAILED
        try:
            os.setsid()
            linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)  # a dying worker takes its candidates along
            if os.getppid() != self.pid:
                return
            confinement = isolate_monitor(self.settings, self.uid, host_scratch)
            monitor_pid = os.getpid()
            candidate = os.fork()
            if candidate == 0:
                self._candidate(request, confinement, 0 if confinement.pid_ns else monitor_pid, setup_w, result_w, output_w,
                                request_r)
            for fd in (setup_w, result_w, output_w, request_r):
                if fd is not None:
                    os.close(fd)
            status = os.waitpid(candidate, 0)[1]
            code = min(os.WEXITSTATUS(status), 127) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        except BaseException as exc:  # report how setting up the sandbox failed, then die
            write_quietly(setup_w, {"error": f"monitor: {type(exc).__name__}: {exc}"})
        finally:
            os._exit(code)

    def _candidate(self, request: dict[str, Any] | None, confinement: Confinement, expected_parent: int,
                   setup_w: int, result_w: int, output_w: int, request_r: int | None) -> None:
        code = EXIT_SETUP_FAILED
        reported = False
        try:
            keep = {setup_w, result_w} | ({request_r} if request_r is not None else set())
            layers = self.layers + confine_candidate(
                self.settings, confinement, expected_parent, output_w, keep, self.environment,
            )
            audit = self.settings.enabled("audit-hook")
            layers.append(LayerStatus("audit-hook", audit, "installed before candidate code runs" if audit else "disabled"))
            report: dict[str, Any] = {"layers": [layer.to_list() for layer in layers]}
            if request is None and request_r is None:  # the start-up probe: can this identity import what the worker has not?
                report["unreadable"] = [path for path in self.import_dirs if not os.access(path, os.R_OK | os.X_OK)]
            write_quietly(setup_w, report)
            os.close(setup_w)
            reported = True
            lock_down = _once(self._lock_down(confinement.scratch) if audit else (lambda: None))
            if request_r is not None:
                warm_up = None
                if self.warm_up is not None and self.settings.warmup_request.get("device", "cpu") != "cpu":
                    # the worker warmed up on the CPU before forking; a device (CUDA) is warmed up here, after the fork
                    warm_up = lambda: self.warm_up(self.settings.warmup_request, self.tensors)  # noqa: E731
                serve(self.entry, self.tensors, request_r, result_w, lock_down, warm_up, confinement.scratch)
            elif request is not None:
                payload, _reusable = self.entry(request, self.tensors, lock_down)
                write_all(result_w, payload)
            code = 0
        except BaseException as exc:
            if not reported:
                write_quietly(setup_w, {"error": f"candidate setup: {type(exc).__name__}: {exc}"})
        finally:
            os._exit(code)

    def _lock_down(self, scratch: str) -> Callable[[], None]:
        hidden, visible = list(self.settings.hidden_paths), list(self.settings.visible_paths)
        return lambda: install_audit_hook(scratch, hidden, visible)

    def sweep(self, monitor: int) -> None:
        """Kill every process left from a candidate: its group, its uid, and every descendant of this worker."""
        kill_group(monitor)
        kill_leftovers(os.getpid(), self.uid)


def _resolve(target: str) -> Callable[..., Any]:
    """The function named by "module:function"."""
    module_name, _, function = target.partition(":")
    return getattr(importlib.import_module(module_name), function)


def _once(action: Callable[[], None]) -> Callable[[], None]:
    """`action`, run at most once however often the result is called (a resident process locks down once)."""
    done: list[bool] = []

    def run_once() -> None:
        if not done:
            done.append(True)
            action()

    return run_once


def _decode_monitor_status(status: int | None) -> tuple[int | None, int | None]:
    """(exit code, signal) of the candidate as encoded by its monitor; the monitor's own death is a signal."""
    if status is None:
        return None, None
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    code = os.WEXITSTATUS(status)
    return (None, code - 128) if code > 128 else (code, None)


def map_tensors(spec: dict[str, Any], fd: int | None) -> dict[str, Any]:
    """The parent's data tensors, mapped copy-on-write from its memfd (one physical copy for all workers)."""
    import torch

    size = os.fstat(fd).st_size
    buffer = mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    os.close(fd)
    tensors = {}
    for name, item in spec.items():
        shape = tuple(item["shape"])
        count = math.prod(shape)
        dtype = getattr(torch, item["dtype"])
        if count == 0:  # frombuffer refuses empty views
            tensors[name] = torch.empty(shape, dtype=dtype)
        else:
            tensors[name] = torch.frombuffer(buffer, dtype=dtype, count=count, offset=item["offset"]).view(shape)
    return tensors


def main() -> None:
    answers = os.dup(1)  # the protocol's own descriptor; whatever a library prints goes to the log instead
    os.dup2(2, 1)
    reader = FramedReader(0)
    init, _ = reader.read_message()
    zygote = Zygote(SandboxSettings.from_dict(init["settings"]), init.get("data"), init.get("data_fd"))
    probe = zygote.probe()
    write_message(answers, {"ready": True, "pid": os.getpid(), "uid": zygote.uid, **probe})
    while True:
        try:
            message, _ = reader.read_message()
        except ProtocolError:  # the parent closed the pipe
            return
        if message.get("op") != "run":
            return
        header, payload = zygote.run(message["request"])
        write_message(answers, header, payload)


if __name__ == "__main__":
    sys.exit(main())
