"""The framed message protocol between the host and a sandbox worker process.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON, which
must encode one object (a *message*, with an ``op``). Both sides refuse a frame over a cap
(``max_bytes``) before reading it, so neither can make the other allocate without bound.

Messages (values are JSON; records are the API's JSON values)::

    worker → host  {"op": "ready", "pid"}                          hardened, waiting for runs
                   {"op": "failed", "message"}                     could not start (then exits)
    host → worker  {"op": "run", "run_id", "script", "code", "kind", "inputs",
                    "limits": {"cpu_ms", "output_bytes", "memory_bytes"}}
    worker → host  {"op": "call", "fn", "args"}                    a data call of the script
    host → worker  {"op": "result", "value"}                       its answer ...
                   {"op": "error", "code", "message", "final"}     ... or its refusal
                   {"op": "run", ...}                              a nested run (a trigger fired by
                                                                   the call), answered before the call
    worker → host  {"op": "done", "run_id", "outcome": "ok", "result", "logs", "cpu_ms",
                    "max_rss_bytes", "output_bytes"}
                   {"op": "done", "run_id", "outcome": "error", "error": {"type", "code",
                    "message", "line"}, "logs", "cpu_ms", "max_rss_bytes", "output_bytes"}

An ``error`` whose code starts with ``sandbox.limit.`` (or that says ``"final": true``) is
final: the run fails with it even if the script catches the exception.

:func:`send` and :func:`receive` work on blocking binary streams (the worker's side);
:class:`FrameReader` decodes frames from chunks read without blocking (the host's side, which
waits with a deadline).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any, BinaryIO

HEADER = struct.Struct(">I")
#: the default cap on one frame's payload, both directions
MAX_FRAME_BYTES = 16 * 1024 * 1024
LIMIT_PREFIX = "sandbox.limit."

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_decode = json.JSONDecoder().decode


class ProtocolError(Exception):
    """A frame that breaks the protocol: truncated, over the cap, or not a JSON object."""


class MessageTooDeep(ProtocolError):
    """A frame, read whole, whose JSON nests deeper than the reader's stack has room for."""


class FrameTooLarge(ProtocolError):
    """A frame (to send or received) is over the cap."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(f"a message of {size:,} bytes is over the sandbox protocol's cap of {max_bytes:,} bytes")
        self.size = size
        self.max_bytes = max_bytes


def encode(message: Mapping[str, Any], max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """One frame holding ``message``; ``TypeError``/``ValueError`` for a value JSON cannot hold
    (including NaN and infinities), :class:`FrameTooLarge` over ``max_bytes``."""
    payload = _encoder.encode(message).encode("utf-8")
    if len(payload) > max_bytes:
        raise FrameTooLarge(len(payload), max_bytes)
    return HEADER.pack(len(payload)) + payload


def decode(payload: bytes) -> dict[str, Any]:
    """The message in a frame's payload; :class:`ProtocolError` unless it is a JSON object."""
    try:
        message = _decode(payload.decode("utf-8"))
    except RecursionError:
        raise MessageTooDeep("a frame's JSON nests too deeply to decode here") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise ProtocolError(f"a frame is not UTF-8 JSON: {error}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a frame holds a JSON {type(message).__name__}, not an object")
    return message


def send(stream: BinaryIO, message: Mapping[str, Any], max_bytes: int = MAX_FRAME_BYTES) -> None:
    """Write one frame to a blocking binary stream and flush it."""
    stream.write(encode(message, max_bytes))
    stream.flush()


def receive(stream: BinaryIO, max_bytes: int = MAX_FRAME_BYTES) -> dict[str, Any]:
    """Read one frame from a blocking binary stream. ``EOFError`` when the stream ends between
    frames; :class:`ProtocolError` when it ends inside one or the frame is over ``max_bytes``."""
    header = _read_exactly(stream, HEADER.size, at_frame_start=True)
    (size,) = HEADER.unpack(header)
    if size > max_bytes:
        raise FrameTooLarge(size, max_bytes)
    return decode(_read_exactly(stream, size, at_frame_start=False))


def _read_exactly(stream: BinaryIO, size: int, *, at_frame_start: bool) -> bytes:
    chunks: list[bytes] = []
    missing = size
    while missing:
        chunk = stream.read(missing)
        if not chunk:
            if at_frame_start and missing == size:
                raise EOFError("the stream ended")
            raise ProtocolError(f"the stream ended inside a frame ({size - missing} of {size} bytes read)")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks) if len(chunks) != 1 else chunks[0]


class FrameReader:
    """Decodes frames from chunks of bytes as they arrive (for non-blocking reads)."""

    def __init__(self, max_bytes: int = MAX_FRAME_BYTES) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_message(self) -> dict[str, Any] | None:
        """The next complete message, or ``None`` until more bytes arrive."""
        if len(self._buffer) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self._buffer)
        if size > self.max_bytes:
            raise FrameTooLarge(size, self.max_bytes)
        end = HEADER.size + size
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[HEADER.size:end])
        del self._buffer[:end]
        return decode(payload)

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole frame."""
        return len(self._buffer)


def is_final(code: str, final: object = False) -> bool:
    """Whether an ``error`` answer ends the run whatever the script does."""
    return bool(final) or code.startswith(LIMIT_PREFIX)
