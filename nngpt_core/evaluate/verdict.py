"""The parent's judgement of one sandboxed run: status, error text, validated report and accuracy.

    judgement = judge(outcome, test_labels, num_classes, settings)
    judgement.status, judgement.error, judgement.accuracy

How the process ended decides first (the worker died, a limit stopped it, a signal, an exit
without a result); otherwise the result payload is decoded as hostile input (nngpt_core.evaluate.wire)
and, for `ok`, accuracy is computed here from the predictions and the labels that never left the parent.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass

import numpy as np

from nngpt_core.evaluate.wire import ChildReport, MalformedResult, decode_result
from nngpt_core.sandbox.pool import RawOutcome
from nngpt_core.sandbox.settings import SandboxSettings

_CANDIDATE_FRAME = re.compile(r'File "<candidate>", line (\d+)')


@dataclass
class Judgement:
    status: str
    error: str | None = None
    report: ChildReport | None = None
    accuracy: float | None = None


def _where(output_tail: str) -> str:
    """' (line N)' for the last candidate frame in a crash dump (faulthandler output), if any."""
    lines = _CANDIDATE_FRAME.findall(output_tail)
    return f" (line {lines[-1]})" if lines else ""


def _ending(outcome: RawOutcome, settings: SandboxSettings) -> Judgement | None:
    """The judgement when the way the process ended decides it; None when its result payload does."""
    if outcome.stopped == "worker":
        return Judgement("crashed", f"the sandbox worker failed and was replaced: {outcome.output_tail}")
    if outcome.stopped == "timeout":
        return Judgement("timeout", f"exceeded the wall-clock limit of {settings.timeout_s:g} s")
    if outcome.stopped == "output":
        return Judgement("runtime_error", f"output flood: more than {settings.output_limit_kb} KiB written to stdout/stderr")
    if outcome.stopped in ("result", "setup"):
        return Judgement("runtime_error", f"sent more than the {outcome.stopped} size limit")
    if "error" in outcome.setup:
        return Judgement("crashed", f"sandbox set-up failed: {outcome.setup['error']}")
    where = _where(outcome.output_tail)
    if outcome.signal == signal.SIGXCPU:
        return Judgement("timeout", "exceeded the CPU-time limit")
    if outcome.signal == signal.SIGKILL:
        return Judgement("memory_limit", "killed by SIGKILL (out of memory?)")
    if outcome.signal is not None:
        try:
            name = signal.Signals(outcome.signal).name
        except ValueError:
            name = f"signal {outcome.signal}"
        return Judgement("crashed", f"killed by {name}{where}")
    if outcome.exit_code != 0:
        return Judgement("crashed", f"exited with code {outcome.exit_code} before reporting a result{where}")
    if not outcome.payload:
        return Judgement("crashed", f"exited without reporting a result{where}")
    return None


def judge(outcome: RawOutcome, test_labels: np.ndarray, num_classes: int, settings: SandboxSettings) -> Judgement:
    ended = _ending(outcome, settings)
    if ended is not None:
        return ended
    try:
        report, predictions = decode_result(outcome.payload, len(test_labels), num_classes)
    except MalformedResult as exc:
        return Judgement("runtime_error", f"malformed result from the sandbox: {exc}")
    if report.status != "ok":
        return Judgement(report.status, report.error or report.status, report)
    return Judgement("ok", None, report, float(np.mean(predictions == test_labels)))
