"""The sandbox's framed message protocol: frames, caps, truncation, incremental decoding."""

from __future__ import annotations

import io
import struct

import pytest

from rapport.sandbox.protocol import (
    FrameReader,
    FrameTooLarge,
    MessageTooDeep,
    ProtocolError,
    decode,
    encode,
    is_final,
    receive,
    send,
)


def test_a_frame_is_a_big_endian_length_and_utf8_json() -> None:
    frame = encode({"op": "result", "value": "é"})
    payload = '{"op":"result","value":"é"}'.encode()
    assert frame == struct.pack(">I", len(payload)) + payload


def test_send_and_receive_round_trip_several_messages() -> None:
    stream = io.BytesIO()
    messages = [{"op": "run", "inputs": {"records": [{"amount": 1.5, "name": None}]}}, {"op": "done", "logs": []}]
    for message in messages:
        send(stream, message)
    stream.seek(0)
    assert [receive(stream), receive(stream)] == messages
    with pytest.raises(EOFError):
        receive(stream)


def test_receive_refuses_a_frame_over_the_cap_before_reading_it() -> None:
    stream = io.BytesIO(struct.pack(">I", 1_000_000) + b"{}")
    with pytest.raises(FrameTooLarge, match="a message of 1,000,000 bytes is over the sandbox protocol's cap of 100"):
        receive(stream, max_bytes=100)


def test_encode_refuses_a_message_over_the_cap() -> None:
    with pytest.raises(FrameTooLarge) as caught:
        encode({"value": "x" * 200}, max_bytes=100)
    assert caught.value.size > 200 and caught.value.max_bytes == 100


def test_a_stream_ending_inside_a_frame_is_a_protocol_error() -> None:
    frame = encode({"op": "call", "fn": "query"})
    with pytest.raises(ProtocolError, match="ended inside a frame"):
        receive(io.BytesIO(frame[:-3]))
    with pytest.raises(ProtocolError, match="ended inside a frame"):
        receive(io.BytesIO(frame[:2]))


@pytest.mark.parametrize(("payload", "problem"), [
    (b"[1, 2]", "a JSON list, not an object"),
    (b"{oops", "not UTF-8 JSON"),
    (b"\xff\xfe", "not UTF-8 JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nests too deeply to decode"),
])
def test_a_frame_must_hold_a_json_object(payload: bytes, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem):
        decode(payload)


def test_a_frame_too_deep_to_decode_says_so() -> None:
    """The worker tells this apart: too deep for its stack is its script's RecursionError."""
    with pytest.raises(MessageTooDeep):
        decode(b"[" * 100_000 + b"]" * 100_000)


def test_values_json_cannot_hold_are_refused_when_encoding() -> None:
    with pytest.raises(ValueError):
        encode({"value": float("nan")})
    with pytest.raises(TypeError):
        encode({"value": {1, 2}})


def test_the_frame_reader_decodes_frames_split_and_joined_arbitrarily() -> None:
    messages = [{"op": "call", "fn": "get", "args": {"id": str(i)}} for i in range(5)]
    data = b"".join(encode(m) for m in messages)
    reader = FrameReader()
    decoded = []
    for start in range(0, len(data), 7):
        reader.feed(data[start:start + 7])
        while (message := reader.next_message()) is not None:
            decoded.append(message)
    assert decoded == messages
    assert reader.pending == 0


def test_the_frame_reader_refuses_a_frame_over_its_cap_from_the_header_alone() -> None:
    reader = FrameReader(max_bytes=10)
    reader.feed(struct.pack(">I", 11))
    with pytest.raises(FrameTooLarge):
        reader.next_message()


def test_limit_errors_and_errors_marked_final_are_final() -> None:
    assert is_final("sandbox.limit.queries")
    assert is_final("sandbox.host_error", True)
    assert not is_final("records.validation_failed")
