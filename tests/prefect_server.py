"""A real Prefect server and process workers in subprocesses, for tests and benchmarks.

    with prefect_server(tmp_path) as server:                    # SQLite in a temporary PREFECT_HOME
        subprocess.run(["prefect", "work-pool", "ls"], env=server.env, check=True)
        with prefect_worker(server, tmp_path / "worker.log", pool="gpu"):
            ...                                                 # flow runs on the pool are picked up

    with prefect_server(tmp_path, database_url=postgres_url):   # the server's own database on PostgreSQL
        ...

`prefect server start --host 127.0.0.1 --port <free port>` runs in its own session (process group),
with PREFECT_HOME in a temporary directory, analytics and the UI off; its output goes to a log file.
`server.env` is the environment a client needs (PREFECT_API_URL, the same PREFECT_HOME); every
process started from it carries a marker variable, so on exit the helpers kill the process group,
every descendant (also those that started their own session, such as a worker's flow-run process)
and anything else still carrying the marker, and then check that nothing is left. A leftover
raises `LeftoverProcesses`.

The pytest fixture `prefect_server_on_sqlite` gives a server for one test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

VENV_BIN = Path(sys.executable).parent
MARKER = "NNGPT_TEST_PREFECT_MARKER"  # carried by every process these helpers start, to find leftovers


class LeftoverProcesses(AssertionError):
    """Processes started by a helper were still alive after it stopped them."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def executable(name: str) -> str:
    """The console script `name` of this virtual environment (prefect, nngpt)."""
    path = shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} is not installed next to {sys.executable}")
    return path


def nngpt_deploy(env: dict[str, str], cwd: Path, timeout_s: float) -> float:
    """Run `nngpt deploy` against the server named in `env`; asserts it succeeded; returns its wall time."""
    started = time.monotonic()
    deployed = subprocess.run([executable("nngpt"), "deploy"], env=env, cwd=cwd,
                              capture_output=True, text=True, timeout=timeout_s)
    assert deployed.returncode == 0, deployed.stderr[-3000:] + deployed.stdout[-3000:]
    return time.monotonic() - started


def asyncpg_url(url: str) -> str:
    """A PostgreSQL SQLAlchemy URL with the asyncpg driver, which the Prefect server needs."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


# ---------------------------------------------------------------------------------------------- processes


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, pgid) of a live process, None when it is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), int(fields[2])


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def descendants(pid: int) -> set[int]:
    """Every live descendant of `pid` (through any number of generations)."""
    children: dict[int, list[int]] = {}
    for other in _pids():
        info = _stat(other)
        if info is not None:
            children.setdefault(info[0], []).append(other)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def marked(marker: str) -> set[int]:
    """Live processes of this user whose environment holds MARKER=marker."""
    needle = f"{MARKER}={marker}".encode()
    found = set()
    for pid in _pids():
        if pid == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0") and _stat(pid) is not None:
            found.add(pid)
    return found


def cmdline(pid: int) -> list[str]:
    try:
        return [part.decode(errors="replace") for part in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if part]
    except OSError:
        return []


def _signal(pids: set[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_process_tree(process: subprocess.Popen, marker: str | None = None, grace_s: float = 15.0) -> None:
    """SIGTERM the process's group and all its descendants, SIGKILL what is left after grace_s, and
    raise LeftoverProcesses if anything (a descendant, or a process carrying `marker`) survives."""

    def alive() -> set[int]:
        pids = descendants(process.pid) | ({process.pid} if process.poll() is None else set())
        return pids | (marked(marker) if marker else set())

    targets = alive()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)  # the group leader is the process: start_new_session=True
    _signal(targets, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        process.poll()
        targets = alive()
        if not targets:
            break
        time.sleep(0.2)
    if targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        _signal(targets, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        time.sleep(0.5)
    process.poll()
    survivors = alive()
    if survivors:
        described = ", ".join(f"{pid} {' '.join(cmdline(pid))[:120]}" for pid in sorted(survivors))
        raise LeftoverProcesses(f"still running after SIGKILL: {described}")


# ------------------------------------------------------------------------------------------------- server


@dataclass
class PrefectServer:
    api_url: str
    env: dict[str, str]  # what a client (CLI, worker, PrefectClient in a subprocess) needs
    home: Path
    log_path: Path
    process: subprocess.Popen
    marker: str
    started_s: float = 0.0  # seconds until /api/health answered
    children: list[subprocess.Popen] = field(default_factory=list)

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    @property
    def ui_url(self) -> str:
        """The web UI's address (served only by a server started with ui=True)."""
        return self.api_url.removesuffix("/api")

    def healthy(self) -> bool:
        return _healthy(self.api_url)


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=5) as response:
            return response.status == 200 and response.read().strip() == b"true"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def client_env(api_url: str, home: Path, marker: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ without the user's Prefect settings, pointed at this server and PREFECT_HOME."""
    env = {k: v for k, v in (base if base is not None else os.environ).items() if not k.startswith("PREFECT_")}
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_CLI_PROMPT": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1"),
        MARKER: marker,
    })
    return env


@contextlib.contextmanager
def prefect_server(
    workdir: Path,
    database_url: str | None = None,
    port: int | None = None,
    services: bool = True,
    startup_timeout_s: float = 180.0,
    ui: bool = False,
) -> Iterator[PrefectServer]:
    """Start `prefect server start` on 127.0.0.1 (database: SQLite in PREFECT_HOME, or `database_url`
    on PostgreSQL), wait for /api/health, yield it, then stop it and everything it or its clients
    started, and check that nothing is left running. With `ui`, it also serves the web UI at
    `server.ui_url`."""
    workdir = Path(workdir)
    home = workdir / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    marker = uuid.uuid4().hex
    env = client_env(api_url, home, marker)
    server_env = {
        **env,
        "PREFECT_SERVER_UI_ENABLED": "true" if ui else "false",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_API_DATABASE_MIGRATE_ON_START": "true",
    }
    server_env.pop("PREFECT_API_URL")  # the server itself needs no client URL
    if ui:
        server_env["PREFECT_UI_API_URL"] = api_url  # the UI's pages call the API on this port, not on 4200
    if database_url:
        server_env["PREFECT_API_DATABASE_CONNECTION_URL"] = asyncpg_url(database_url)
    command = [executable("prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--analytics-off"]
    if not services:
        command.append("--no-services")
    log_path = workdir / "prefect-server.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=server_env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = PrefectServer(api_url, env, home, log_path, process, marker)
    try:
        while not _healthy(api_url):
            if process.poll() is not None:
                raise RuntimeError(f"prefect server exited with {process.returncode}:\n{_tail(log_path, 40)}")
            if time.monotonic() - started > startup_timeout_s:
                raise TimeoutError(f"prefect server not healthy after {startup_timeout_s:.0f} s:\n{_tail(log_path, 40)}")
            time.sleep(0.5)
        server.started_s = time.monotonic() - started
        yield server
    finally:
        failing = sys.exc_info()[0] is not None  # don't hide the test's own failure behind a leftover
        errors = []
        for child in reversed(server.children):  # workers first: they still talk to the server
            try:
                stop_process_tree(child, grace_s=20.0)
            except LeftoverProcesses as exc:
                errors.append(exc)
        try:
            stop_process_tree(process, marker=marker)
        except LeftoverProcesses as exc:
            errors.append(exc)
        if errors and not failing:
            raise LeftoverProcesses("; ".join(str(e) for e in errors))


# ------------------------------------------------------------------------------------------------ workers


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        return _tail(self.log_path, lines)

    def interpreters(self) -> set[str]:
        """argv[0] of the running Python processes of this worker (the `prefect worker` process, ...)."""
        pids = descendants(self.process.pid) | {self.process.pid}
        return {cmd[0] for cmd in map(cmdline, pids) if cmd and "python" in Path(cmd[0]).name}


def start_worker(
    server: PrefectServer,
    log_path: Path,
    pool: str = "gpu",
    via: str = "nngpt",
    limit: int = 1,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> WorkerProcess:
    """Start a process worker on `pool` in its own process group, its output in `log_path`.

    via="nngpt" runs `nngpt worker --pool POOL` (which runs `prefect worker start --type process`);
    via="prefect" runs `prefect worker start --pool POOL --type process` directly. The server's
    context stops it (and the flow runs it started) on exit; stop_worker() stops it earlier."""
    if via == "nngpt":
        command = [executable("nngpt"), "worker", "--pool", pool, "--limit", str(limit)]
    elif via == "prefect":
        command = [executable("prefect"), "worker", "start", "--pool", pool, "--type", "process", "--limit", str(limit)]
    else:
        raise ValueError(f"via must be nngpt or prefect, not {via!r}")
    worker_env = {
        **server.env,
        "PREFECT_WORKER_QUERY_SECONDS": "1",  # default 10: poll the pool often, tests wait on it
        "PREFECT_WORKER_HEARTBEAT_SECONDS": "10",
        **(env or {}),
    }
    log_path = Path(log_path)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=worker_env, cwd=cwd or log_path.parent, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    server.children.append(process)
    return WorkerProcess(process, log_path)


def stop_worker(server: PrefectServer, worker: WorkerProcess) -> None:
    stop_process_tree(worker.process, grace_s=20.0)
    if worker.process in server.children:
        server.children.remove(worker.process)


# ------------------------------------------------------------------------------------------------ fixture


@pytest.fixture
def prefect_server_on_sqlite(tmp_path: Path) -> Iterator[PrefectServer]:
    """A real Prefect server on 127.0.0.1 for one test, its database SQLite in tmp_path."""
    with prefect_server(tmp_path) as server:
        yield server
