"""What the warm worker reads from a sandboxed process: its pipes, each bounded, and its set-up report.

    process = Sandboxed(monitor, scratch, started, Watch("setup", fd, SETUP_REPORT_LIMIT), ...)
    process.result.add(chunk)        # False once the pipe sent more than its limit
    parse_setup(bytes(process.setup.data))      # {"layers": [...]} or {"error": "..."}

Used by the worker (nngpt_core.sandbox.zygote) for forked candidates and by resident mode
(nngpt_core.sandbox.resident), whose pipes carry many requests and are reset between them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

OUTPUT_TAIL_BYTES = 16384  # room for a crash dump, whose module list alone takes ~6 KB
SETUP_REPORT_LIMIT = 1 << 16


@dataclass
class Watch:
    """One pipe from the candidate and what has been read from it (bounded)."""

    name: str
    fd: int
    limit: int
    keep_tail: bool = False
    data: bytearray = field(default_factory=bytearray)
    total: int = 0
    closed: bool = False

    def add(self, chunk: bytes) -> bool:
        """Append `chunk`; False once more than `limit` bytes arrived."""
        self.total += len(chunk)
        self.data += chunk
        if self.keep_tail:
            del self.data[:-OUTPUT_TAIL_BYTES]
        return self.total <= self.limit

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
            self.closed = True

    def reset(self) -> None:
        """Count from zero again (a resident process's pipes carry many requests)."""
        self.data.clear()
        self.total = 0


@dataclass
class Sandboxed:
    """A confined process the worker forked: its monitor, scratch, and the worker's ends of its pipes."""

    monitor: int
    scratch: str
    started: float
    setup: Watch
    result: Watch
    output: Watch
    request_fd: int | None = None  # resident: where requests go

    @property
    def watches(self) -> list[Watch]:
        return [self.setup, self.result, self.output]


def write_quietly(fd: int, message: dict[str, Any]) -> None:
    try:
        os.write(fd, json.dumps(message).encode()[:SETUP_REPORT_LIMIT])
    except OSError:
        pass  # already closed: the report was sent


def parse_setup(data: bytes) -> dict[str, Any]:
    try:
        report = json.loads(data)
    except ValueError:
        return {"error": "no setup report" if not data else "malformed setup report"}
    return report if isinstance(report, dict) else {"error": "malformed setup report"}
