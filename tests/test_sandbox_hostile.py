"""The hostile suite: candidates that attack the evaluator, run through real sandboxes.

Each fixture in tests/fixtures/hostile/ is evaluated with static checks off so the runtime boundary
itself is tested: with every layer ("full"), without the Python audit hook ("no-hook"), which shows
the OS layers hold on their own, and with every layer in resident worker mode ("resident": one
sandboxed process runs candidates one after another, as on a GPU). Each must end with its expected status (or chance-level
accuracy for scoring attacks), leave no process and no file behind, and the control candidate that
follows in the same worker must evaluate normally. A fake database URL sits in this process's
environment and in a long-running host process that candidates try to read.
"""

from __future__ import annotations

import os
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from nngpt_core.evaluate import Evaluator
from nngpt_core.sandbox.settings import LAYERS
from tests.evaluator_helpers import CONTROL, HOSTILE, assert_sandbox_clean, fast_config

torch.set_num_threads(1)

FAKE_SECRET = "fake-secret-4242"
FAKE_URL = f"postgresql://nngpt:{FAKE_SECRET}@localhost/nngpt"
CHANCE_CEILING = 0.25  # 10 balanced classes, 100 test images: constant or random guesses stay well below
MARKERS = [
    "/etc/nngpt_hostile_marker", "/var/tmp/nngpt_hostile_marker", "/dev/shm/nngpt_hostile_marker",
    "/root/nngpt_hostile_marker", "/nngpt_hostile_marker", str(Path(torch.__file__).parent / "nngpt_hostile_marker"),
    "/tmp/nngpt_unpickled_marker",
]

# fixture -> expected status per mode; a mode left out does not apply (e.g. timeouts need no second run).
EXPECTED = {
    "loop_in_constructor": {"full": "timeout"},
    "loop_in_forward": {"full": "timeout"},
    "slow_model": {"full": "timeout"},
    "memory_bomb": {"full": "memory_limit", "no-hook": "memory_limit"},
    "memory_bomb_torch": {"full": "memory_limit"},
    "fork_bomb": {"full": "forbidden", "no-hook": "build_error"},
    "children_left_running": {"full": "forbidden", "no-hook": "ok"},
    "threads_left_running": {"full": "ok"},
    "writes_outside_scratch": {"full": "forbidden", "no-hook": "build_error"},
    "reads_secrets": {"full": "build_error", "no-hook": "build_error"},
    "network": {"full": "forbidden", "no-hook": "build_error"},
    "hard_exit": {"full": "crashed"},
    "sys_exit": {"full": "crashed"},
    "segfault_ctypes": {"full": "forbidden", "no-hook": "crashed"},
    "segfault_recursion": {"full": "crashed"},
    "output_flood": {"full": "runtime_error"},
    "unbounded_recursion": {"full": "runtime_error"},
    "label_hunt": {"full": "forbidden", "no-hook": "ok"},
    "patch_scoring": {"full": "ok", "no-hook": "ok"},
    "poison_result": {"full": "ok", "no-hook": "ok"},
    "poison_garbage": {"full": "runtime_error", "no-hook": "runtime_error"},
}
# Resident mode expects what full mode does, except where the process being shared matters: a forged
# result that is not a frame of the resident protocol announces an oversized answer, and patching torch is caught.
RESIDENT_DIFFERS = {"poison_result": "runtime_error", "patch_scoring": "forbidden"}
for _name, _modes in EXPECTED.items():
    _modes["resident"] = RESIDENT_DIFFERS.get(_name, _modes["full"])
CASES = [(name, mode) for name, modes in EXPECTED.items() for mode in modes]
MODES = {"full": (), "no-hook": ("audit-hook",), "resident": ()}


def test_every_hostile_fixture_has_an_expectation():
    assert sorted(path.stem for path in HOSTILE.glob("*.py")) == sorted(EXPECTED)


@pytest.fixture(scope="module")
def secret_holder():
    """The fake secret in this process's environment and in a host process's /proc/<pid>/environ."""
    previous = os.environ.get("NNGPT_DATABASE_URL")
    os.environ["NNGPT_DATABASE_URL"] = FAKE_URL
    holder = subprocess.Popen(["sleep", "600"], env={"NNGPT_DATABASE_URL": FAKE_URL, "PATH": "/usr/bin:/bin"})
    yield
    holder.kill()
    holder.wait()
    if previous is None:
        os.environ.pop("NNGPT_DATABASE_URL", None)
    else:
        os.environ["NNGPT_DATABASE_URL"] = previous


@pytest.fixture(scope="module")
def evaluators(secret_holder):
    started = {
        mode: Evaluator(fast_config(timeout_s=8, without=disabled, worker_mode="resident" if mode == "resident" else "fork"),
                        progress=False, static_checks=False, disabled_layers=disabled)
        for mode, disabled in MODES.items()
    }
    try:
        with ThreadPoolExecutor() as starting:  # both pools import torch at the same time
            list(starting.map(Evaluator.start, started.values()))
        yield started
    finally:
        for evaluator in started.values():
            evaluator.close()


@pytest.fixture
def listener(tmp_path):
    """A TCP listener on the host's loopback and a UNIX socket under /tmp, both expecting nobody."""
    tcp = socket.create_server(("127.0.0.1", 0))
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(str(tmp_path / "listener.sock"))
    unix.listen()
    for server in (tcp, unix):
        server.setblocking(False)
    yield tcp.getsockname()[1], str(tmp_path / "listener.sock"), (tcp, unix)
    tcp.close()
    unix.close()


def _source(name: str, listener_info) -> str:
    code = (HOSTILE / f"{name}.py").read_text()
    if name == "network":
        port, path, _ = listener_info
        code = code.replace("TARGET_PORT = 9", f"TARGET_PORT = {port}").replace(
            'UNIX_SOCKET = "/tmp/nngpt-hostile.sock"', f"UNIX_SOCKET = {path!r}")
    return code


def _check_specifics(name: str, mode: str, result, listener_info) -> None:
    error = result.error or ""
    assert FAKE_SECRET not in error
    if result.status == "ok" and name in ("label_hunt", "patch_scoring", "poison_result"):
        assert result.accuracy <= CHANCE_CEILING, "a scoring attack beat chance"
    if name == "reads_secrets":
        assert "CLEAN" in error
    if name == "fork_bomb" and mode == "no-hook":
        forks = int(error.split("forks stopped after ")[1].split()[0])
        assert forks < fast_config().max_processes
    if name == "writes_outside_scratch" and mode == "no-hook":
        assert "scratch ok; outside: []" in error
    if name == "network":
        for server in listener_info[2]:
            with pytest.raises(BlockingIOError):
                server.accept()
        if mode == "no-hook":
            assert "BLOCKED" in error
    if name == "output_flood":
        assert "output flood" in error
    if name == "segfault_recursion" or (name == "segfault_ctypes" and mode == "no-hook"):
        assert "SIGSEGV" in error and "(line " in error


@pytest.mark.parametrize(("name", "mode"), CASES, ids=[f"{name}-{mode}" for name, mode in CASES])
def test_hostile_candidate_is_contained(evaluators, listener, name, mode):
    evaluator = evaluators[mode]
    worker_pid = evaluator.pool.workers[0].pid
    hostile, control = evaluator.evaluate_many([_source(name, listener), CONTROL.read_text()])
    assert hostile.status == EXPECTED[name][mode], hostile.error
    assert (hostile.error is None) == (hostile.status == "ok")
    _check_specifics(name, mode, hostile, listener)
    assert control.status == "ok" and control.accuracy > 0.3
    assert evaluator.pool.workers[0].pid == worker_pid, "the warm worker was replaced"
    assert_sandbox_clean(evaluator)
    assert not any(os.path.exists(marker) for marker in MARKERS)


ENV_PROBE = '''
import os
import torch
import torch.nn as nn


def supported_hyperparameters():
    return {"lr"}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        raise RuntimeError(f"env={sorted(os.environ)} cwd={os.getcwd()} home={os.environ.get('HOME')} uid={os.getuid()} torch={torch.__file__}")

    def forward(self, x):
        return x

    def train_setup(self, prm):
        pass

    def learn(self, train_data):
        pass
'''


def test_candidate_sees_a_clean_environment_and_scrubbed_paths(evaluators):
    evaluator = evaluators["full"]
    result = evaluator.evaluate(ENV_PROBE)
    assert result.status == "build_error"
    listed = result.error.split("env=")[1].split("]")[0]
    names = {name.strip(" '[") for name in listed.split(",")}
    assert names <= {"PATH", "LANG", "LC_ALL", "USER", "LOGNAME", "PYTHONDONTWRITEBYTECODE", "OMP_NUM_THREADS",
                     "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "HOME", "TMPDIR", "CUDA_VISIBLE_DEVICES"}
    assert "cwd=<tmp> home=<tmp>" in result.error  # the private scratch tmpfs on /tmp, as scrubbed
    if os.geteuid() == 0:
        assert f"uid={evaluator.pool.workers[0].uid}" in result.error
    python_root = str(Path(torch.__file__).resolve().parents[4])
    assert python_root not in result.error and "torch=<python>" in result.error


def test_layers_are_reported_with_reasons(evaluators):
    full = {layer.name: layer for layer in evaluators["full"].layers}
    no_hook = {layer.name: layer for layer in evaluators["no-hook"].layers}
    assert set(full) == set(LAYERS)
    for name in ("clean-env", "session", "subreaper", "rlimit-memory", "rlimit-cpu", "rlimit-files", "no-new-privs", "audit-hook"):
        assert full[name].active, name
    assert not no_hook["audit-hook"].active and no_hook["audit-hook"].detail == "disabled"
    assert all(layer.detail for layer in full.values() if not layer.active)
