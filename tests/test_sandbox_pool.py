"""The warm pool: framing, shared data, parallel order, a killed worker replaced, and cleanup when layers are missing."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import torch

from nngpt_core.evaluate import Evaluator
from nngpt_core.sandbox.pool import SharedTensors
from nngpt_core.sandbox.processes import leftover_pids
from nngpt_core.sandbox.protocol import FramedReader, ProtocolError, write_message
from nngpt_core.sandbox.zygote import map_tensors
from tests.evaluator_helpers import CONTROL, assert_sandbox_clean, fast_config, read_fixture

torch.set_num_threads(1)


def test_framed_messages_round_trip_and_are_bounded():
    read_fd, write_fd = os.pipe()
    try:
        write_message(write_fd, {"op": "run", "text": "a\nb"}, payload=b"\x00\x01raw")
        header, payload = FramedReader(read_fd).read_message(deadline=time.monotonic() + 5)
        assert header == {"op": "run", "text": "a\nb", "payload": 5} and payload == b"\x00\x01raw"
        write_message(write_fd, {"op": "big"}, payload=b"x" * 100)
        with pytest.raises(ProtocolError, match="exceeds"):
            FramedReader(read_fd).read_message(deadline=time.monotonic() + 5, max_payload=10)
    finally:
        os.close(write_fd)
        os.close(read_fd)


def test_a_silent_or_garbled_peer_raises_instead_of_hanging():
    read_fd, write_fd = os.pipe()
    try:
        reader = FramedReader(read_fd)
        with pytest.raises(ProtocolError, match="deadline"):
            reader.read_message(deadline=time.monotonic() + 0.2)
        os.write(write_fd, b"not json\n")
        with pytest.raises(ProtocolError, match="not JSON"):
            reader.read_message(deadline=time.monotonic() + 5)
        os.write(write_fd, b'[1, 2]\n')
        with pytest.raises(ProtocolError, match="framed"):
            reader.read_message(deadline=time.monotonic() + 5)
    finally:
        os.close(write_fd)
        os.close(read_fd)


def test_shared_tensors_map_back_identically_and_copy_on_write():
    tensors = {"train_x": torch.randn(7, 3, 4, 4), "train_y": torch.arange(7), "test_x": torch.randn(0, 3, 4, 4)}
    shared = SharedTensors(tensors)
    try:
        mapped = map_tensors(shared.spec, os.dup(shared.fd))
        for name, tensor in tensors.items():
            assert mapped[name].dtype == tensor.dtype and torch.equal(mapped[name], tensor)
        mapped["train_x"].zero_()  # a private mapping: the shared copy does not change
        again = map_tensors(shared.spec, os.dup(shared.fd))
        assert torch.equal(again["train_x"], tensors["train_x"])
    finally:
        shared.close()


LOOP = read_fixture("hostile/loop_in_forward.py")


@pytest.fixture(scope="module")
def two_workers():
    with Evaluator(fast_config(workers=2, timeout_s=3), progress=False) as evaluator:
        yield evaluator


def test_parallel_workers_keep_the_order_of_results(two_workers):
    codes = [CONTROL.read_text(), "def broken(:", LOOP, read_fixture("hostile/hard_exit.py"), CONTROL.read_text()]
    assert len({worker.pid for worker in two_workers.pool.workers}) == 2
    results = two_workers.evaluate_many(codes)
    assert [result.status for result in results] == ["ok", "syntax_error", "timeout", "forbidden", "ok"]
    assert results[0].accuracy == results[4].accuracy  # same code, same seed, same score
    assert_sandbox_clean(two_workers)


def test_a_killed_worker_is_replaced_and_the_batch_goes_on(two_workers):
    results = []
    batch = threading.Thread(target=lambda: results.extend(two_workers.evaluate_many([LOOP, LOOP, CONTROL.read_text()])))
    batch.start()
    busy, deadline = None, time.monotonic() + 30
    while busy is None and time.monotonic() < deadline:
        busy = next((w for w in two_workers.pool.workers if leftover_pids(w.pid, None)), None)
        time.sleep(0.02)  # until an endless candidate runs in one of the workers (both get one)
    old_pid, old_uid = busy.pid, busy.uid
    os.kill(old_pid, signal.SIGKILL)
    batch.join(timeout=60)
    assert sorted(result.status for result in results[:2]) == ["crashed", "timeout"]
    assert "replaced" in next(result.error for result in results if result.status == "crashed")
    assert results[2].status == "ok"
    assert old_pid not in {worker.pid for worker in two_workers.pool.workers}
    if old_uid is not None:
        assert leftover_pids(None, old_uid) == set()
    assert_sandbox_clean(two_workers)


SCRATCH_AND_CHILD = '''
import os
import time
import torch
import torch.nn as nn


def supported_hyperparameters():
    return {"lr"}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        with open("left_in_scratch.bin", "wb") as handle:
            handle.write(b"x" * 1000)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                while True:
                    time.sleep(1)
            os._exit(0)
        raise RuntimeError("wrote to scratch, left a daemon")

    def forward(self, x):
        return x

    def train_setup(self, prm):
        pass

    def learn(self, train_data):
        pass
'''


def test_without_pid_and_mount_namespaces_the_sweep_still_cleans_up():
    degraded = ("pid-ns", "mount-ns", "audit-hook")
    with Evaluator(fast_config(without=degraded), progress=False, static_checks=False,
                   disabled_layers=degraded) as evaluator:
        layers = {layer.name: layer for layer in evaluator.layers}
        assert not layers["pid-ns"].active and not layers["mount-ns"].active
        assert layers["read-only-root"].detail == "needs mount-ns"
        failed, control = evaluator.evaluate_many([SCRATCH_AND_CHILD, CONTROL.read_text()])
        assert failed.status == "build_error" and "left a daemon" in failed.error
        assert control.status == "ok"
        assert_sandbox_clean(evaluator)
