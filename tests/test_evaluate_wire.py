"""The result channel from the sandbox, parsed as hostile input; and the parent's judgement of a run's ending."""

from __future__ import annotations

import json
import pickle
import signal

import numpy as np
import pytest

from nngpt_core.evaluate.verdict import judge
from nngpt_core.evaluate.wire import ChildReport, MalformedResult, decode_result, encode_result, result_limit
from nngpt_core.sandbox.pool import RawOutcome
from nngpt_core.sandbox.settings import SandboxSettings

LABELS = np.array([0, 1, 2, 3, 4, 0, 1, 2], dtype=np.int64)
SETTINGS = SandboxSettings(entry="x:y", timeout_s=7, output_limit_kb=64)


def _ok_payload(predictions, **fields) -> bytes:
    report = ChildReport(status="ok", train_loss=0.5, params=10, flops=20, phases={"train": 0.1}, tokens=["conv2d#1"])
    for key, value in fields.items():
        setattr(report, key, value)
    return encode_result(report, np.asarray(predictions))


def test_a_well_formed_result_round_trips():
    report, predictions = decode_result(_ok_payload(LABELS), len(LABELS), 5)
    assert report.status == "ok" and report.params == 10 and report.tokens == ["conv2d#1"]
    assert predictions.tolist() == LABELS.tolist()
    failure = encode_result(ChildReport(status="shape_error", error="bad shape"), None)
    assert decode_result(failure, len(LABELS), 5) == (ChildReport(status="shape_error", error="bad shape"), None)


def _header(payload: bytes) -> dict:
    return json.loads(payload.split(b"\n", 1)[0])


def _replace_header(payload: bytes, **changes) -> bytes:
    header = {**_header(payload), **changes}
    return json.dumps(header).encode() + b"\n" + payload.split(b"\n", 1)[1]


GOOD = _ok_payload(LABELS)


@pytest.mark.parametrize("payload", [
    b"",
    b"no newline at all",
    b"\x80\x04pickle\n",
    pickle.dumps({"status": "ok"}) + b"\n",
    b"[1, 2, 3]\n",
    _replace_header(GOOD, accuracy=1.0),                      # a field results do not have
    _replace_header(GOOD, status="perfect"),
    _replace_header(GOOD, params=-1),
    _replace_header(GOOD, params=True),
    _replace_header(GOOD, train_loss="low"),
    _replace_header(GOOD, phases={"bribe": 1.0}),
    _replace_header(GOOD, tokens=[1, 2]),
    _replace_header(GOOD, hyperparameters={"lr": "0.01"}),
    _replace_header(GOOD, predictions=7),
    GOOD + b"\x00" * 8,                                        # one prediction too many
    GOOD[:-8],                                                 # one too few
    _ok_payload([0, 1, 2, 3, 4, 0, 1, 9]),                      # not a class index
    _ok_payload([0, 1, 2, 3, 4, 0, 1, -1]),
    encode_result(ChildReport(status="runtime_error", error="x"), None) + b"\x00" * 8,
    b'{"status": "ok", "train_loss": NaN}\n',
    b"[" * 100_000 + b"\n",
])
def test_malformed_results_are_refused(payload):
    with pytest.raises(MalformedResult):
        decode_result(payload, len(LABELS), 5)


def test_limits_bound_the_bytes_read():
    assert result_limit(10_000) > len(_ok_payload(np.zeros(10_000, dtype=np.int64)))


@pytest.mark.parametrize(("outcome", "status", "words"), [
    (RawOutcome(stopped="timeout"), "timeout", "7 s"),
    (RawOutcome(stopped="output"), "runtime_error", "output flood"),
    (RawOutcome(stopped="result"), "runtime_error", "size limit"),
    (RawOutcome(stopped="worker", output_tail="pipe closed"), "crashed", "replaced"),
    (RawOutcome(signal=signal.SIGSEGV, output_tail='  File "<candidate>", line 12 in forward\n'), "crashed", "SIGSEGV (line 12)"),
    (RawOutcome(signal=signal.SIGXCPU), "timeout", "CPU"),
    (RawOutcome(signal=signal.SIGKILL), "memory_limit", "SIGKILL"),
    (RawOutcome(exit_code=3), "crashed", "code 3"),
    (RawOutcome(exit_code=0), "crashed", "without reporting"),
    (RawOutcome(exit_code=0, setup={"error": "monitor: OSError"}), "crashed", "set-up failed"),
    (RawOutcome(exit_code=0, payload=b"garbage"), "runtime_error", "malformed"),
])
def test_how_a_run_ended_decides_its_status(outcome, status, words):
    judgement = judge(outcome, LABELS, 5, SETTINGS)
    assert judgement.status == status and words in judgement.error and judgement.accuracy is None


def test_accuracy_is_computed_by_the_parent_from_the_predictions():
    predictions = LABELS.copy()
    predictions[:2] = [4, 4]
    judgement = judge(RawOutcome(exit_code=0, payload=_ok_payload(predictions)), LABELS, 5, SETTINGS)
    assert judgement.status == "ok" and judgement.accuracy == pytest.approx(6 / 8)
