"""RFC 6242 framing, sans-I/O: bytes in, messages out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.framing import MAX_CHUNK_SIZE, Framer, FramingError, MessageTooBig

LIMIT = 1 << 20


def messages(framer: Framer) -> list[bytes]:
    out = []
    while (m := framer.next_message()) is not None:
        out.append(m)
    return out


def chunked() -> Framer:
    framer = Framer(LIMIT)
    framer.switch_to_chunked()
    return framer


def test_end_of_message_framing_splits_on_the_marker() -> None:
    framer = Framer(LIMIT)
    framer.receive_data(b"<a/>]]>]]><b/>]]>]]><c")
    assert messages(framer) == [b"<a/>", b"<b/>"]
    framer.receive_data(b"/>]]>]]>")
    assert messages(framer) == [b"<c/>"]


def test_end_of_message_marker_split_across_reads_is_found() -> None:
    framer = Framer(LIMIT)
    for piece in (b"<a/>]", b"]>", b"]]"):
        framer.receive_data(piece)
        assert framer.next_message() is None
    framer.receive_data(b">")
    assert framer.next_message() == b"<a/>"


def test_chunked_message_is_the_concatenation_of_its_chunks() -> None:
    framer = chunked()
    framer.receive_data(b"\n#4\n<rpc\n#17\n message-id=\"1\"/>\n##\n")
    assert messages(framer) == [b'<rpc message-id="1"/>']


def test_bytes_after_the_hello_are_read_with_chunked_framing_after_the_switch() -> None:
    framer = Framer(LIMIT)
    framer.receive_data(b"<hello/>]]>]]>\n#3\nabc\n##\n")
    assert framer.next_message() == b"<hello/>"
    framer.switch_to_chunked()
    assert framer.next_message() == b"abc"


@given(st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=5), st.integers(1, 7))
def test_chunked_frames_round_trip_whatever_the_read_boundaries(payloads: list[bytes], step: int) -> None:
    sender, receiver = chunked(), chunked()
    wire = b"".join(sender.frame(p) for p in payloads)
    got: list[bytes] = []
    for i in range(0, len(wire), step):
        receiver.receive_data(wire[i:i + step])
        got += messages(receiver)
    assert got == payloads


@pytest.mark.parametrize("wire, why", [
    (b"\n#0\n\n##\n", "chunk-size zero"),
    (b"\n#012\nabcdefghijkl\n##\n", "leading zero"),
    (b"\n#4294967296\n", "chunk-size above 4294967295"),
    (b"\n#12345678901\n", "more than ten digits"),
    (b"\n#1a\nxx", "bad digit"),
    (b"\n#\n", "no digits"),
    (b"#4\nabcd\n##\n", "missing LF before the hash"),
    (b"\nX4\nabcd\n##\n", "missing hash"),
    (b"\n#4\nabcd\n#x\n", "bad end-of-chunks"),
    (b"\n##\n", "end-of-chunks with no chunk"),
    (b"\n#4\nabcdX", "chunk-data longer than announced"),
    (b"\n## \n", "end-of-chunks without LF"),
])
def test_broken_chunked_framing_raises_framing_error(wire: bytes, why: str) -> None:
    framer = chunked()
    framer.receive_data(wire)
    with pytest.raises(FramingError):
        messages(framer)


def test_a_broken_stream_stays_broken() -> None:
    framer = chunked()
    framer.receive_data(b"\nX")
    with pytest.raises(FramingError):
        framer.next_message()
    framer.receive_data(b"\n#1\na\n##\n")
    with pytest.raises(FramingError):
        framer.next_message()


def test_largest_chunk_size_is_accepted_as_a_header() -> None:
    framer = Framer(MAX_CHUNK_SIZE)
    framer.switch_to_chunked()
    framer.receive_data(b"\n#4294967295\nabc")
    assert framer.next_message() is None   # waits for the data, no error


def test_oversized_chunked_message_is_refused_from_its_header() -> None:
    framer = Framer(100)
    framer.switch_to_chunked()
    framer.receive_data(b"\n#60\n" + b"a" * 60 + b"\n#41\n")
    with pytest.raises(MessageTooBig):
        framer.next_message()


def test_message_of_exactly_the_limit_is_accepted() -> None:
    framer = Framer(100)
    framer.receive_data(b"a" * 100 + b"]]>]]>")
    assert framer.next_message() == b"a" * 100
    framer.switch_to_chunked()
    framer.receive_data(b"\n#100\n" + b"a" * 100 + b"\n##\n")
    assert framer.next_message() == b"a" * 100


def test_oversized_end_of_message_message_is_refused_before_it_is_buffered() -> None:
    framer = Framer(100)
    framer.receive_data(b"a" * 200)
    with pytest.raises(MessageTooBig):
        framer.next_message()


def test_frame_in_each_mode() -> None:
    framer = Framer(LIMIT)
    assert framer.frame(b"<x/>") == b"<x/>]]>]]>"
    framer.switch_to_chunked()
    assert framer.frame(b"<x/>") == b"\n#4\n<x/>\n##\n"


def test_large_message_in_small_pieces_is_assembled_linearly() -> None:
    """A 16 MiB message fed 4 KiB at a time: every byte is scanned a bounded number of times.

    (Counting work, not timing it: the buffer must be compacted as it is consumed.)
    """
    payload = b"x" * (16 << 20)
    for framer in (Framer(32 << 20), chunked_with_limit(32 << 20)):
        wire = framer.frame(payload)
        got = None
        for i in range(0, len(wire), 4096):
            framer.receive_data(wire[i:i + 4096])
            got = framer.next_message() or got
        assert got == payload
        assert len(framer._buf) < 1 << 17   # consumed bytes do not pile up


def chunked_with_limit(limit: int) -> Framer:
    framer = Framer(limit)
    framer.switch_to_chunked()
    return framer
