"""Ethernet II / 802.3 / 802.1Q framing rules (dataplane/ethernet.py)."""

from __future__ import annotations

import pytest

from dataplane.ethernet import (
    ETH_MIN_FRAME,
    ETHERTYPE_IPV4,
    TPID_CTAG,
    TPID_STAG,
    build_ethernet,
    parse_ethernet,
)
from dataplane.invalid import InvalidFrame, InvalidReason

DST = bytes.fromhex("01005e010101")
SRC = bytes.fromhex("020000000001")


def test_untagged_frame_round_trips() -> None:
    frame = build_ethernet(DST, SRC, 0x86DD, b"x" * 50)
    parsed = parse_ethernet(frame)
    assert (parsed.dst, parsed.src, parsed.ethertype, parsed.vlan) == (DST, SRC, 0x86DD, None)
    assert parsed.payload == b"x" * 50
    assert parsed.header_length == 14


def test_short_frame_is_padded_to_60_bytes_with_zeros() -> None:
    frame = build_ethernet(DST, SRC, ETHERTYPE_IPV4, b"abc")
    assert len(frame) == ETH_MIN_FRAME
    assert frame[17:] == bytes(ETH_MIN_FRAME - 17)


def test_padding_stays_in_payload_for_upper_layers_to_cut() -> None:
    parsed = parse_ethernet(build_ethernet(DST, SRC, ETHERTYPE_IPV4, b"abc"))
    assert parsed.payload == b"abc" + bytes(ETH_MIN_FRAME - 17)


def test_long_frame_is_not_padded() -> None:
    assert len(build_ethernet(DST, SRC, ETHERTYPE_IPV4, b"y" * 100)) == 114


def test_8021q_tag_gives_vid_pcp_dei_and_inner_ethertype() -> None:
    frame = build_ethernet(DST, SRC, ETHERTYPE_IPV4, b"p" * 46, vlan=100, pcp=5, dei=True)
    assert frame[12:16] == bytes.fromhex("8100") + ((5 << 13) | 0x1000 | 100).to_bytes(2, "big")
    parsed = parse_ethernet(frame)
    assert (parsed.vlan, parsed.pcp, parsed.dei, parsed.tpid) == (100, 5, True, TPID_CTAG)
    assert parsed.ethertype == ETHERTYPE_IPV4
    assert parsed.payload == b"p" * 46
    assert parsed.header_length == 18


def test_priority_tag_is_vlan_zero() -> None:
    parsed = parse_ethernet(build_ethernet(DST, SRC, ETHERTYPE_IPV4, b"", vlan=0, pcp=3))
    assert (parsed.vlan, parsed.pcp) == (0, 3)


def test_8021ad_outer_tag_with_inner_ctag_gives_both_vids() -> None:
    frame = build_ethernet(DST, SRC, ETHERTYPE_IPV4, b"q", vlan=10, tpid=TPID_STAG, inner_vlan=20)
    assert frame[12:14] == b"\x88\xa8" and frame[16:18] == b"\x81\x00"
    parsed = parse_ethernet(frame)
    assert (parsed.tpid, parsed.vlan, parsed.inner_vlan) == (TPID_STAG, 10, 20)
    assert parsed.ethertype == ETHERTYPE_IPV4
    assert parsed.header_length == 22


def test_third_tag_is_not_looked_into() -> None:
    third_tag_and_ipv4 = bytes.fromhex("8100001e0800")
    frame = DST + SRC + bytes.fromhex("8100000a81000014") + third_tag_and_ipv4 + bytes(40)
    parsed = parse_ethernet(frame)
    assert (parsed.vlan, parsed.inner_vlan, parsed.ethertype) == (10, 20, TPID_CTAG)
    assert parsed.payload.startswith(third_tag_and_ipv4[2:])


def test_8023_length_field_cuts_payload_to_length() -> None:
    llc = bytes.fromhex("424203") + b"stp"
    frame = DST + SRC + len(llc).to_bytes(2, "big") + llc + bytes(40)
    parsed = parse_ethernet(frame)
    assert parsed.ethertype == len(llc)
    assert parsed.payload == llc


def test_8023_length_beyond_frame_is_truncated() -> None:
    frame = DST + SRC + (100).to_bytes(2, "big") + bytes(46)
    with pytest.raises(InvalidFrame) as info:
        parse_ethernet(frame)
    assert info.value.reason is InvalidReason.TRUNCATED


@pytest.mark.parametrize("value", [1501, 0x05FF])
def test_type_length_between_1501_and_1535_is_bad_ethertype(value: int) -> None:
    with pytest.raises(InvalidFrame) as info:
        parse_ethernet(DST + SRC + value.to_bytes(2, "big") + bytes(46))
    assert info.value.reason is InvalidReason.BAD_ETHERTYPE


@pytest.mark.parametrize("length", range(14))
def test_frame_shorter_than_header_is_truncated(length: int) -> None:
    frame = build_ethernet(DST, SRC, ETHERTYPE_IPV4, b"")
    with pytest.raises(InvalidFrame) as info:
        parse_ethernet(frame[:length])
    assert info.value.reason is InvalidReason.TRUNCATED


@pytest.mark.parametrize("length", [14, 15, 16, 17])
def test_frame_cut_inside_vlan_tag_is_truncated(length: int) -> None:
    frame = build_ethernet(DST, SRC, ETHERTYPE_IPV4, b"", vlan=7)
    with pytest.raises(InvalidFrame) as info:
        parse_ethernet(frame[:length])
    assert info.value.reason is InvalidReason.TRUNCATED


def test_frame_cut_inside_inner_tag_is_truncated() -> None:
    frame = build_ethernet(DST, SRC, ETHERTYPE_IPV4, b"", vlan=7, tpid=TPID_STAG, inner_vlan=8)
    with pytest.raises(InvalidFrame) as info:
        parse_ethernet(frame[:20])
    assert info.value.reason is InvalidReason.TRUNCATED


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vlan": 4096}, "VLAN id"),
        ({"vlan": 1, "pcp": 8}, "PCP"),
        ({"inner_vlan": 3}, "outer"),
    ],
)
def test_builder_refuses_impossible_tags(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_ethernet(DST, SRC, ETHERTYPE_IPV4, b"", **kwargs)


def test_builder_refuses_mac_of_wrong_size() -> None:
    with pytest.raises(ValueError):
        build_ethernet(DST[:5], SRC, ETHERTYPE_IPV4, b"")
