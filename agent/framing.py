"""RFC 6242: NETCONF message framing over SSH, sans-I/O (bytes in, messages out).

Two framings exist and a session uses both: the `<hello>` messages are always sent with the
base:1.0 end-of-message marker (section 4.1, ``]]>]]>``); once both peers have advertised
base:1.1 every later message uses chunked framing (section 4.2)::

    Chunked-Message = 1*chunk end-of-chunks
    chunk           = LF HASH chunk-size LF chunk-data
    chunk-size      = 1*DIGIT1 0*DIGIT        ; 1 .. 4294967295, no leading zero
    end-of-chunks   = LF HASH HASH LF

The :class:`Framer` never touches a socket: the transport calls :meth:`Framer.receive_data`
with whatever bytes arrived, then :meth:`Framer.next_message` until it returns ``None``.
Incoming bytes are kept in one buffer that is only compacted once the consumed prefix is
large, and searches resume where the previous one stopped, so a message that arrives in many
small pieces costs linear time, not quadratic.

A peer that breaks the framing gets a :class:`FramingError`: the framer cannot resynchronise
on a byte stream whose boundaries it no longer knows, so the session answers (if it can) and
closes.  Messages larger than ``max_message_size`` raise :class:`MessageTooBig` *before* the
framer has buffered them, so one client cannot make the agent hold an unbounded message.
"""

from __future__ import annotations

from enum import Enum

#: RFC 6242 section 4.1 end-of-message marker (base:1.0 framing and every `<hello>`).
EOM = b"]]>]]>"
#: RFC 6242 section 4.2: the largest chunk-size a peer may announce.
MAX_CHUNK_SIZE = 4294967295
_MAX_CHUNK_DIGITS = len(str(MAX_CHUNK_SIZE))
_END_OF_CHUNKS = b"\n##\n"
#: Compact the receive buffer once this much of it has been consumed (amortised O(1) per byte).
_COMPACT_AT = 1 << 16


class FramingError(Exception):
    """The peer broke RFC 6242 framing; the session cannot continue on this stream."""


class MessageTooBig(FramingError):
    """A message exceeds the agent's configured maximum size."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"message exceeds the maximum size of {limit} bytes")
        self.limit = limit


class Framing(Enum):
    """Which RFC 6242 framing the stream currently uses."""

    END_OF_MESSAGE = "base:1.0"
    CHUNKED = "base:1.1"


class Framer:
    """Splits a NETCONF byte stream into messages and frames outgoing messages."""

    def __init__(self, max_message_size: int) -> None:
        if max_message_size < 1:
            raise ValueError("max_message_size must be positive")
        self.max_message_size = max_message_size
        self.framing = Framing.END_OF_MESSAGE
        self._buf = bytearray()
        self._pos = 0                    # start of the unconsumed bytes in _buf
        self._eom_scan = 0               # end-of-message search resumes here
        self._chunks: list[bytes] = []   # chunk-data of the message being assembled
        self._chunked_size = 0
        self._header_end = 0             # where the chunk-data of the last parsed header starts
        self._broken: FramingError | None = None

    # --- input ---------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Append bytes that arrived from the peer."""
        if self._broken is None:
            self._buf += data

    def switch_to_chunked(self) -> None:
        """Use chunked framing from the next message on (both peers announced base:1.1).

        Bytes already buffered after the `<hello>` are parsed with the new framing, which is
        exactly what RFC 6242 section 4.1 prescribes.
        """
        self.framing = Framing.CHUNKED

    def next_message(self) -> bytes | None:
        """The next complete message, or ``None`` until more bytes arrive.

        Raises :class:`FramingError` (for good: every later call raises it again) when the
        stream violates RFC 6242 or a message is too big.
        """
        if self._broken is not None:
            raise self._broken
        try:
            if self.framing is Framing.END_OF_MESSAGE:
                message = self._next_eom_message()
            else:
                message = self._next_chunked_message()
        except FramingError as exc:
            self._broken = exc
            self._buf = bytearray()
            self._pos = 0
            self._chunks = []
            raise
        self._compact()
        return message

    # --- output --------------------------------------------------------------------------

    def frame(self, message: bytes) -> bytes:
        """The bytes to send for ``message`` in the current framing."""
        if self.framing is Framing.END_OF_MESSAGE:
            return message + EOM
        if not message:
            raise ValueError("a chunked message needs at least one byte (RFC 6242 section 4.2)")
        if len(message) <= MAX_CHUNK_SIZE:   # every real message: one chunk, one copy
            return b"\n#%d\n%b%b" % (len(message), message, _END_OF_CHUNKS)
        parts: list[bytes] = []
        for start in range(0, len(message), MAX_CHUNK_SIZE):
            chunk = message[start:start + MAX_CHUNK_SIZE]
            parts.append(b"\n#%d\n" % len(chunk))
            parts.append(chunk)
        parts.append(_END_OF_CHUNKS)
        return b"".join(parts)

    # --- base:1.0 ------------------------------------------------------------------------

    def _next_eom_message(self) -> bytes | None:
        # Resume the search just before where the last one ended, in case the marker was
        # split across two reads.
        start = max(self._pos, self._eom_scan - (len(EOM) - 1))
        end = self._buf.find(EOM, start)
        if end < 0:
            self._eom_scan = len(self._buf)
            if len(self._buf) - self._pos > self.max_message_size + len(EOM) - 1:
                raise MessageTooBig(self.max_message_size)
            return None
        if end - self._pos > self.max_message_size:
            raise MessageTooBig(self.max_message_size)
        message = self._slice(self._pos, end)
        self._pos = end + len(EOM)
        self._eom_scan = self._pos
        return message

    # --- base:1.1 ------------------------------------------------------------------------

    def _next_chunked_message(self) -> bytes | None:
        while True:
            header = self._read_chunk_header()
            if header is None:
                return None
            if header == 0:   # end-of-chunks
                if not self._chunks:
                    raise FramingError("end-of-chunks before any chunk (RFC 6242 section 4.2)")
                message = b"".join(self._chunks)
                self._chunks = []
                self._chunked_size = 0
                return message
            if self._chunked_size + header > self.max_message_size:
                raise MessageTooBig(self.max_message_size)
            if len(self._buf) - self._header_end < header:
                return None   # wait for the whole chunk-data; the header is re-read then
            self._chunks.append(self._slice(self._header_end, self._header_end + header))
            self._chunked_size += header
            self._pos = self._header_end + header

    def _read_chunk_header(self) -> int | None:
        """Parse ``LF # chunk-size LF`` or ``LF ## LF`` at the read position.

        Returns the chunk size, 0 for end-of-chunks, or None when the header is incomplete.
        On success ``self._header_end`` is where the chunk-data starts.  The read position
        only advances once a chunk is complete, so a partial header is simply re-read.
        """
        buf, pos = self._buf, self._pos
        available = len(buf) - pos
        if available < 1:
            return None
        if buf[pos] != 0x0A:
            raise FramingError(f"expected LF to start a chunk, got {bytes(buf[pos:pos + 1])!r}")
        if available < 2:
            return None
        if buf[pos + 1] != 0x23:   # '#'
            raise FramingError("expected '#' after LF in a chunk header")
        if available < 3:
            return None
        if buf[pos + 2] == 0x23:   # second '#': end-of-chunks
            if available < 4:
                return None
            if buf[pos + 3] != 0x0A:
                raise FramingError("end-of-chunks must be LF ## LF")
            self._pos = pos + 4
            return 0
        return self._read_chunk_size(pos + 2)

    def _read_chunk_size(self, digits_at: int) -> int | None:
        buf = self._buf
        end = buf.find(b"\n", digits_at, digits_at + _MAX_CHUNK_DIGITS + 1)
        if end < 0:
            seen = bytes(buf[digits_at:digits_at + _MAX_CHUNK_DIGITS + 1])
            if not seen:
                return None
            if not seen.isdigit() or len(seen) > _MAX_CHUNK_DIGITS:
                raise FramingError(f"bad chunk-size {seen!r}: 1 to 10 decimal digits and LF expected")
            return None
        digits = bytes(buf[digits_at:end])
        if not digits or not digits.isdigit():
            raise FramingError(f"bad chunk-size {digits!r}: decimal digits expected")
        if digits[0:1] == b"0":
            raise FramingError(f"bad chunk-size {digits!r}: zero or leading zero")
        size = int(digits)
        if size > MAX_CHUNK_SIZE:
            raise FramingError(f"chunk-size {size} exceeds {MAX_CHUNK_SIZE}")
        self._header_end = end + 1
        return size

    def _slice(self, start: int, end: int) -> bytes:
        """Copy ``_buf[start:end]`` once (a bytearray slice would copy twice)."""
        with memoryview(self._buf) as view:
            return bytes(view[start:end])

    def _compact(self) -> None:
        if self._pos >= _COMPACT_AT and self._pos * 2 >= len(self._buf):
            del self._buf[:self._pos]
            self._eom_scan = max(0, self._eom_scan - self._pos)
            self._pos = 0
