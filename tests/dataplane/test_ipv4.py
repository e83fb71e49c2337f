"""IPv4 header rules (RFC 791, RFC 1071 checksum, RFC 2113 Router Alert): dataplane/ipv4.py."""

from __future__ import annotations

import random

import pytest

from dataplane.invalid import InvalidFrame, InvalidReason
from dataplane.ipv4 import (
    IPPROTO_IGMP,
    IPPROTO_UDP,
    build_ipv4,
    checksum_ok,
    internet_checksum,
    parse_ipv4,
)

SRC = 0x0A000009
DST = 0xEF010101


def reference_checksum(data: bytes) -> int:
    """RFC 1071 section 4.1, literally: add 16-bit words with end-around carry."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def with_checksum(header: bytearray) -> bytes:
    header[10:12] = b"\0\0"
    header[10:12] = internet_checksum(bytes(header)).to_bytes(2, "big")
    return bytes(header)


def expect(reason: InvalidReason, data: bytes) -> None:
    with pytest.raises(InvalidFrame) as info:
        parse_ipv4(data)
    assert info.value.reason is reason


def test_rfc1071_example_checksum() -> None:
    # RFC 1071 section 3: words 0001 f203 f4f5 f6f7 sum to ddf2 (checksum 220d).
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


@pytest.mark.parametrize("seed", range(50))
def test_checksum_matches_the_word_by_word_definition(seed: int) -> None:
    rng = random.Random(seed)
    data = rng.randbytes(rng.randrange(0, 70))
    assert internet_checksum(data) == reference_checksum(data)


def test_checksum_of_all_zero_data_is_all_ones() -> None:
    assert internet_checksum(bytes(20)) == 0xFFFF == reference_checksum(bytes(20))


def test_checksum_of_sum_congruent_to_zero_is_zero() -> None:
    assert internet_checksum(b"\xff\xff") == 0 == reference_checksum(b"\xff\xff")


def test_data_with_its_checksum_verifies() -> None:
    packet = build_ipv4(SRC, DST, IPPROTO_UDP, b"payload")
    assert checksum_ok(packet[:20])
    assert reference_checksum(packet[:20]) == 0


def test_build_then_parse_round_trips_every_field() -> None:
    packet = build_ipv4(SRC, DST, IPPROTO_UDP, b"hello", ttl=33, tos=0x28, ident=777, flags=0x2)
    header, payload = parse_ipv4(packet)
    assert (header.src, header.dst, header.protocol) == (SRC, DST, IPPROTO_UDP)
    assert (header.ttl, header.tos, header.ident, header.flags, header.frag_offset) == (33, 0x28, 777, 2, 0)
    assert (header.header_length, header.total_length) == (20, 25)
    assert header.options == b"" and not header.router_alert
    assert payload == b"hello"


def test_igmp_defaults_are_ttl_1_and_internetwork_control() -> None:
    header, _ = parse_ipv4(build_ipv4(SRC, DST, IPPROTO_IGMP, b"12345678"))
    assert (header.ttl, header.tos) == (1, 0xC0)


def test_router_alert_option_is_built_and_recognised() -> None:
    packet = build_ipv4(SRC, DST, IPPROTO_IGMP, b"12345678", router_alert=True)
    assert packet[0] == 0x46 and packet[20:24] == bytes((148, 4, 0, 0))
    header, payload = parse_ipv4(packet)
    assert header.router_alert and header.header_length == 24 and header.options == bytes((148, 4, 0, 0))
    assert payload == b"12345678"


def raw_header(options: bytes, payload: bytes = b"", total: int | None = None) -> bytes:
    ihl = (20 + len(options)) // 4
    length = 20 + len(options) + len(payload) if total is None else total
    header = bytearray(bytes((0x40 | ihl, 0)) + length.to_bytes(2, "big") + bytes(4))
    header += bytes((1, IPPROTO_IGMP, 0, 0)) + SRC.to_bytes(4, "big") + DST.to_bytes(4, "big") + options
    return with_checksum(header) + payload


def test_router_alert_after_nops_and_other_options_is_found() -> None:
    options = bytes((1, 1, 7, 3, 4)) + bytes((148, 4, 0, 0)) + bytes((0, 0, 0))
    header, _ = parse_ipv4(raw_header(options))
    assert header.router_alert


def test_options_after_end_of_list_are_not_read() -> None:
    options = bytes((0, 148, 4, 0))
    header, _ = parse_ipv4(raw_header(options))
    assert not header.router_alert


@pytest.mark.parametrize(
    "options",
    [
        bytes((7, 0, 0, 0)),  # length below 2
        bytes((1, 1, 1, 7)),  # length byte missing
        bytes((7, 9, 0, 0)),  # runs past the header
        bytes((148, 3, 0, 1)),  # Router Alert of the wrong size
    ],
)
def test_malformed_options_are_bad_ip_options(options: bytes) -> None:
    expect(InvalidReason.BAD_IP_OPTIONS, raw_header(options))


def test_ethernet_padding_after_total_length_is_ignored() -> None:
    packet = build_ipv4(SRC, DST, IPPROTO_UDP, b"abc") + bytes(23)
    header, payload = parse_ipv4(packet)
    assert payload == b"abc" and header.total_length == 23


@pytest.mark.parametrize("length", range(20))
def test_header_shorter_than_20_bytes_is_truncated(length: int) -> None:
    expect(InvalidReason.TRUNCATED, build_ipv4(SRC, DST, IPPROTO_UDP, b"x" * 10)[:length])


def test_header_shorter_than_its_ihl_is_truncated() -> None:
    packet = build_ipv4(SRC, DST, IPPROTO_IGMP, b"", router_alert=True)
    expect(InvalidReason.TRUNCATED, packet[:22])


@pytest.mark.parametrize("version", [0, 5, 6, 15])
def test_version_other_than_4_is_bad_ip_version(version: int) -> None:
    packet = bytearray(build_ipv4(SRC, DST, IPPROTO_UDP, b"x"))
    packet[0] = (version << 4) | 5
    expect(InvalidReason.BAD_IP_VERSION, with_checksum(packet[:20]) + packet[20:])


@pytest.mark.parametrize("ihl", range(5))
def test_ihl_below_5_is_bad_ip_header_length(ihl: int) -> None:
    packet = bytearray(build_ipv4(SRC, DST, IPPROTO_UDP, b"x"))
    packet[0] = 0x40 | ihl
    expect(InvalidReason.BAD_IP_HEADER_LENGTH, with_checksum(packet[:20]) + packet[20:])


def test_total_length_below_header_is_bad_ip_length() -> None:
    expect(InvalidReason.BAD_IP_LENGTH, raw_header(b"", b"x" * 8, total=19))


def test_total_length_beyond_the_data_is_bad_ip_length() -> None:
    expect(InvalidReason.BAD_IP_LENGTH, raw_header(b"", b"x" * 8, total=29))


def test_corrupted_header_checksum_is_bad_ip_checksum() -> None:
    packet = bytearray(build_ipv4(SRC, DST, IPPROTO_UDP, b"x"))
    packet[11] ^= 0x01
    expect(InvalidReason.BAD_IP_CHECKSUM, bytes(packet))


@pytest.mark.parametrize("offset", [1, 4, 8, 12, 16, 19])
def test_any_corrupted_header_byte_fails_the_checksum(offset: int) -> None:
    packet = bytearray(build_ipv4(SRC, DST, IPPROTO_UDP, b"x" * 30))
    packet[offset] ^= 0x10
    expect(InvalidReason.BAD_IP_CHECKSUM, bytes(packet))


def test_payload_is_not_covered_by_the_header_checksum() -> None:
    packet = bytearray(build_ipv4(SRC, DST, IPPROTO_UDP, b"x" * 30))
    packet[25] ^= 0xFF
    parse_ipv4(bytes(packet))


def test_fragment_fields_are_reported() -> None:
    packet = bytearray(build_ipv4(SRC, DST, IPPROTO_UDP, b"x" * 8))
    packet[6:8] = ((0x1 << 13) | 185).to_bytes(2, "big")
    header, _ = parse_ipv4(with_checksum(packet[:20]) + packet[20:])
    assert (header.flags, header.frag_offset, header.is_fragment) == (1, 185, True)
