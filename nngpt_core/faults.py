"""Which failures are infrastructure faults (retry the stage) and which are results (store them, go on).

A candidate that fails is a result, never an exception out of a stage. What does escape a stage is
either a bug or the infrastructure: the database dropped a connection, a worker died, the GPU failed.
Only the latter is worth a retry.
"""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,  # connection refused / dropped, server restarting
    InterfaceError,
    DisconnectionError,
    ConnectionError,
    TimeoutError,
    BrokenProcessPool,
    EOFError,  # a worker pipe closed under us
)
CUDA_FAULT_MARKERS = ("CUDA error", "CUBLAS_STATUS", "cuDNN error", "NCCL error", "device-side assert")


def is_infrastructure_fault(exc: BaseException) -> bool:
    if isinstance(exc, INFRASTRUCTURE_ERRORS):
        return True
    return isinstance(exc, RuntimeError) and any(marker in str(exc) for marker in CUDA_FAULT_MARKERS)
