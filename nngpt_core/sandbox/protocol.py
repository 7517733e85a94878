"""Framing between the parent and its warm sandbox workers: one JSON line, then raw payload bytes.

    write_message(fd, {"op": "evaluate", ...}, payload=b"")
    reader = FramedReader(fd)
    header, payload = reader.read_message(deadline=time.monotonic() + 30, max_payload=2**20)

Nothing here unpickles or evaluates: headers are JSON objects, payloads are opaque bytes whose
length the header declares, and every read is bounded in size and, where a deadline is given, in time.
"""

from __future__ import annotations

import json
import os
import select
import time
from typing import Any

MAX_HEADER_BYTES = 16 * 2**20  # requests carry the candidate's source code
_CHUNK = 1 << 16


class ProtocolError(Exception):
    """The other side closed the pipe, sent something malformed, or missed its deadline."""


def write_message(fd: int, header: dict[str, Any], payload: bytes = b"") -> None:
    data = json.dumps({**header, "payload": len(payload)}, separators=(",", ":")).encode() + b"\n" + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FramedReader:
    """Reads framed messages from a pipe, never more than asked for, never past a deadline."""

    def __init__(self, fd: int):
        self.fd = fd
        self._buffer = bytearray()

    def _fill(self, deadline: float | None) -> None:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
                raise ProtocolError("no reply before the deadline")
        chunk = os.read(self.fd, _CHUNK)
        if not chunk:
            raise ProtocolError("the other side closed the pipe")
        self._buffer += chunk

    def read_line(self, max_bytes: int, deadline: float | None = None) -> bytes:
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) > max_bytes:
                raise ProtocolError(f"header longer than {max_bytes} bytes")
            self._fill(deadline)

    def read_exact(self, size: int, deadline: float | None = None) -> bytes:
        while len(self._buffer) < size:
            self._fill(deadline)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read_message(self, deadline: float | None = None, max_payload: int = 1 << 30) -> tuple[dict[str, Any], bytes]:
        line = self.read_line(MAX_HEADER_BYTES, deadline)
        try:
            header = json.loads(line)
        except ValueError:
            raise ProtocolError("header is not JSON") from None
        if not isinstance(header, dict) or not isinstance(header.get("payload"), int):
            raise ProtocolError("header is not a framed message")
        size = header["payload"]
        if not 0 <= size <= max_payload:
            raise ProtocolError(f"payload of {size} bytes exceeds {max_payload}")
        return header, self.read_exact(size, deadline)
