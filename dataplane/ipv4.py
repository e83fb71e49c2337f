"""IPv4 header codec (RFC 791): checks, options with Router Alert (RFC 2113), checksum.

The checksum uses the identity behind RFC 1071's end-around carry: 2**16 is 1 modulo
0xFFFF, so the one's-complement sum of the 16-bit big-endian words of ``data`` is congruent
to ``int.from_bytes(data, "big")`` modulo 0xFFFF. One big-integer remainder replaces a
Python loop over words; a header verifies when that remainder is 0 (the bytes are never all
zero, as the version nibble is 4).
"""

from __future__ import annotations

from dataclasses import dataclass

from dataplane.invalid import InvalidFrame, InvalidReason

__all__ = [
    "IPPROTO_IGMP",
    "IPPROTO_PIM",
    "IPPROTO_UDP",
    "IPV4_MIN_HEADER",
    "IPv4Header",
    "build_ipv4",
    "checksum_ok",
    "internet_checksum",
    "parse_ipv4",
]

IPPROTO_IGMP = 2
IPPROTO_UDP = 17
IPPROTO_PIM = 103
IPV4_MIN_HEADER = 20

FLAG_DF = 0x2
FLAG_MF = 0x1

_OPT_END = 0
_OPT_NOP = 1
_OPT_ROUTER_ALERT = 148  # copied flag set, class 0, number 20
_ROUTER_ALERT = bytes((_OPT_ROUTER_ALERT, 4, 0, 0))


@dataclass(frozen=True, slots=True)
class IPv4Header:
    """A parsed header. ``flags`` is the 3-bit field (DF 0x2, MF 0x1); ``frag_offset`` in
    8-byte units; ``options`` the raw option bytes (padding included)."""

    src: int
    dst: int
    protocol: int
    ttl: int
    tos: int
    ident: int
    flags: int
    frag_offset: int
    options: bytes
    router_alert: bool
    total_length: int
    header_length: int

    @property
    def is_fragment(self) -> bool:
        return bool(self.flags & FLAG_MF) or self.frag_offset != 0


def internet_checksum(data: bytes) -> int:
    """RFC 1071 checksum of ``data`` (odd lengths padded with a zero byte)."""
    value = int.from_bytes(data, "big")
    if len(data) % 2:
        value <<= 8
    folded = value % 0xFFFF
    if folded == 0:
        # A non-zero sum congruent to 0 folds to 0xFFFF (one's-complement "negative zero").
        return 0 if value else 0xFFFF
    return 0xFFFF - folded


def checksum_ok(data: bytes) -> bool:
    """True when ``data`` including its checksum field sums to 0xFFFF, i.e. verifies."""
    value = int.from_bytes(data, "big")
    if len(data) % 2:
        value <<= 8
    return value != 0 and value % 0xFFFF == 0


def parse_ipv4(data: bytes) -> tuple[IPv4Header, bytes]:
    """Parse and verify an IPv4 header; return it and the payload cut at Total Length.

    Checks, in order: 20 bytes present (truncated), version 4, IHL >= 5, the IHL's bytes
    present (truncated), IHL*4 <= Total Length <= bytes present (anything after Total
    Length is Ethernet padding), the header checksum, then the options' syntax.
    """
    if len(data) < IPV4_MIN_HEADER:
        raise InvalidFrame(InvalidReason.TRUNCATED, f"IPv4 header needs 20 bytes, got {len(data)}")
    first = data[0]
    if first >> 4 != 4:
        raise InvalidFrame(InvalidReason.BAD_IP_VERSION, f"version {first >> 4}")
    header_length = (first & 0x0F) * 4
    if header_length < IPV4_MIN_HEADER:
        raise InvalidFrame(InvalidReason.BAD_IP_HEADER_LENGTH, f"IHL {first & 0x0F}")
    if len(data) < header_length:
        raise InvalidFrame(InvalidReason.TRUNCATED, f"IHL says {header_length} bytes, got {len(data)}")
    total_length = int.from_bytes(data[2:4], "big")
    if not header_length <= total_length <= len(data):
        raise InvalidFrame(
            InvalidReason.BAD_IP_LENGTH,
            f"total length {total_length} with a {header_length}-byte header and {len(data)} bytes present",
        )
    if not checksum_ok(data[:header_length]):
        raise InvalidFrame(InvalidReason.BAD_IP_CHECKSUM)
    options = data[IPV4_MIN_HEADER:header_length]
    flags_frag = int.from_bytes(data[6:8], "big")
    header = IPv4Header(
        src=int.from_bytes(data[12:16], "big"),
        dst=int.from_bytes(data[16:20], "big"),
        protocol=data[9],
        ttl=data[8],
        tos=data[1],
        ident=int.from_bytes(data[4:6], "big"),
        flags=flags_frag >> 13,
        frag_offset=flags_frag & 0x1FFF,
        options=options,
        router_alert=_has_router_alert(options) if options else False,
        total_length=total_length,
        header_length=header_length,
    )
    return header, data[header_length:total_length]


def _has_router_alert(options: bytes) -> bool:
    """Walk the option list (RFC 791 section 3.1); True when a Router Alert is present."""
    found = False
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == _OPT_END:
            break
        if kind == _OPT_NOP:
            i += 1
            continue
        if i + 1 >= len(options) or options[i + 1] < 2 or i + options[i + 1] > len(options):
            raise InvalidFrame(InvalidReason.BAD_IP_OPTIONS, f"option {kind} at offset {i} has a bad length")
        length = options[i + 1]
        if kind == _OPT_ROUTER_ALERT:
            if length != 4:
                raise InvalidFrame(InvalidReason.BAD_IP_OPTIONS, f"Router Alert of length {length}")
            found = True
        i += length
    return found


def build_ipv4(
    src: int,
    dst: int,
    protocol: int,
    payload: bytes,
    ttl: int = 1,
    tos: int = 0xC0,
    router_alert: bool = False,
    ident: int = 0,
    *,
    flags: int = 0,
) -> bytes:
    """Build a header with a correct checksum, followed by ``payload``.

    The defaults are those of IGMP (RFC 2236 section 2 / RFC 3376 section 4: TTL 1,
    Internetwork Control precedence); data senders pass their own ttl and tos.
    """
    options = _ROUTER_ALERT if router_alert else b""
    header_length = IPV4_MIN_HEADER + len(options)
    total_length = header_length + len(payload)
    if total_length > 0xFFFF:
        raise ValueError(f"IPv4 packet of {total_length} bytes")
    header = bytearray(
        bytes((0x40 | header_length // 4, tos))
        + total_length.to_bytes(2, "big")
        + ident.to_bytes(2, "big")
        + (flags << 13).to_bytes(2, "big")
        + bytes((ttl, protocol, 0, 0))
        + src.to_bytes(4, "big")
        + dst.to_bytes(4, "big")
        + options
    )
    header[10:12] = internet_checksum(header).to_bytes(2, "big")
    return bytes(header) + payload
