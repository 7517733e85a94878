"""Turning what a candidate raised into a candidate status (docs/evaluation.md) and a short error text.

    from nngpt_core.evaluate.failures import CandidateFailure, classify
    status, message = classify(exc, phase_status="build_error", in_shape=(1, 8, 8))

Rules: a refusal of the audit hook is `forbidden`; running out of memory (host or GPU) is
`memory_limit`; a GPU fault (illegal address, device-side assert) is `runtime_error` with the text
"GPU fault: ..."; sys.exit is `crashed`; an error about sizes in the build or first forward pass is the phase's
status (`build_error` / `shape_error`), and when the input is smaller than what the architecture
needs, the message says so ("input 1x8x8 is too small for this architecture: ..."). Runs inside
the sandbox; the parent scrubs the text again before storing it.
"""

from __future__ import annotations

import re
import traceback

from nngpt_core.evaluate.placement import is_device_fault
from nngpt_core.sandbox.audit import SandboxViolation, first_violation

CANDIDATE_FILE = "<candidate>"
MAX_MESSAGE_CHARS = 400
SMALL_INPUT_SIDE = 32  # LEMUR's architectures are written for CIFAR-sized or larger images

_MEMORY = re.compile(r"out of memory|can't allocate memory|cannot allocate memory|failed to allocate", re.I)
_TOO_SMALL = re.compile(
    r"output size is too small|kernel size can't be greater|smaller than kernel size|padded input size"
    r"|negative dimension|non-positive|padding size should be less|pad should be at most half|output size is 0",
    re.I,
)
_SHAPE = re.compile(
    r"shape|size mismatch|sizes of tensors|mat1 and mat2|dimension|expected input|expected .*channels"
    r"|given groups|must match the size|invalid for input of size|view size|kernel size|too small|out of bounds",
    re.I,
)


class CandidateFailure(Exception):
    """A candidate failed with a known status; the message is ready for the report."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def candidate_line(exc: BaseException) -> int | None:
    """The line of the candidate's code where `exc` was raised (the innermost frame in it)."""
    lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == CANDIDATE_FILE]
    return lines[-1] if lines else None


def describe(exc: BaseException) -> str:
    """'Type: first line of the message (line N)', bounded."""
    text = str(exc).strip().splitlines()
    message = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    line = candidate_line(exc)
    suffix = f" (line {line})" if line else ""
    return message[: MAX_MESSAGE_CHARS - len(suffix)] + suffix


def classify(exc: BaseException, phase_status: str, in_shape: tuple[int, ...]) -> tuple[str, str]:
    """(status, message) for `exc` raised while the candidate was in a phase whose failures are `phase_status`."""
    if isinstance(exc, CandidateFailure):
        return exc.status, exc.message
    violation = first_violation()
    if violation or isinstance(exc, SandboxViolation):
        return "forbidden", f"sandbox refused: {violation}" if violation else describe(exc)
    message = describe(exc)
    if isinstance(exc, SystemExit):
        return "crashed", f"candidate called sys.exit({exc.code!r:.40})"
    if isinstance(exc, MemoryError) or _MEMORY.search(message):
        return "memory_limit", message
    if is_device_fault(exc):
        return "runtime_error", f"GPU fault: {message}"
    if isinstance(exc, RecursionError):
        return "runtime_error", message
    small_input = min(in_shape[-2:]) < SMALL_INPUT_SIDE
    shape_like = bool(_SHAPE.search(message))
    if phase_status in ("build_error", "shape_error") and (_TOO_SMALL.search(message) or (small_input and shape_like)):
        size = "x".join(str(side) for side in in_shape)
        return phase_status, f"input {size} is too small for this architecture: {message}"
    if phase_status in ("shape_error", "runtime_error"):
        return ("shape_error" if shape_like else "runtime_error"), message
    return phase_status, message
