"""Frame classification, the fast data path and the frame builders: dataplane/packet.py."""

from __future__ import annotations

import pytest

from dataplane.addr import ALL_PIM_ROUTERS, ALL_ROUTERS, ALL_SYSTEMS, IGMPV3_ROUTERS, ip_int, ipv4_multicast_mac
from dataplane.ethernet import ETHERTYPE_IPV4, build_ethernet
from dataplane.igmp import (
    GroupRecord,
    IgmpLeave,
    IgmpQuery,
    IgmpReport,
    IgmpUnknown,
    IgmpV3Report,
    RecordType,
    build_leave,
    build_query,
    build_report_v2,
    build_v3_report,
)
from dataplane.invalid import InvalidFrame, InvalidReason
from dataplane.ipv4 import IPPROTO_IGMP, IPPROTO_PIM, IPPROTO_UDP, build_ipv4, internet_checksum
from dataplane.packet import (
    FAST_SLOW,
    FAST_TAGGED_DATA,
    FAST_UNTAGGED_DATA,
    Kind,
    Packet,
    build_igmp_frame,
    build_udp_multicast,
    classify,
    fast_data_group,
    fast_kind,
    parse_udp,
    replace_source_mac,
)
from dataplane.pw_control import PwControl, PwMessageType, PwStatus, build_pw_control

HOST_MAC = bytes.fromhex("020000000a01")
ROUTER_MAC = bytes.fromhex("020000000001")
HOST = ip_int("192.168.1.10")
ROUTER = ip_int("192.168.1.1")
G1 = ip_int("239.1.1.1")


def expect(reason: InvalidReason, frame: bytes) -> None:
    with pytest.raises(InvalidFrame) as info:
        classify(frame)
    assert info.value.reason is reason


def igmp_with_fixed_checksum(message: bytearray) -> bytes:
    message[2:4] = b"\0\0"
    message[2:4] = internet_checksum(bytes(message)).to_bytes(2, "big")
    return bytes(message)


# -- classify ----------------------------------------------------------------------------------


def test_v2_report_is_igmp_with_ip_header_and_router_alert() -> None:
    packet = classify(build_igmp_frame(HOST_MAC, HOST, G1, build_report_v2(G1)))
    assert packet.kind is Kind.IGMP
    assert packet.igmp == IgmpReport(2, G1)
    assert (packet.src, packet.dst, packet.vlan) == (HOST_MAC, ipv4_multicast_mac(G1), None)
    assert (packet.ip.src, packet.ip.dst, packet.ip.ttl, packet.ip.tos) == (HOST, G1, 1, 0xC0)
    assert packet.ip.router_alert


def test_general_query_to_all_systems_is_igmp() -> None:
    packet = classify(build_igmp_frame(ROUTER_MAC, ROUTER, ALL_SYSTEMS, build_query(2, 10.0)))
    assert packet.igmp == IgmpQuery(2, 10.0, 0)


def test_general_query_not_to_all_systems_is_bad_igmp_destination() -> None:
    expect(InvalidReason.BAD_IGMP_DESTINATION, build_igmp_frame(ROUTER_MAC, ROUTER, G1, build_query(2, 10.0)))


def test_group_specific_query_goes_to_the_group() -> None:
    packet = classify(build_igmp_frame(ROUTER_MAC, ROUTER, G1, build_query(2, 1.0, G1)))
    assert packet.igmp == IgmpQuery(2, 1.0, G1)


def test_leave_and_v3_report_are_igmp() -> None:
    leave = classify(build_igmp_frame(HOST_MAC, HOST, ALL_ROUTERS, build_leave(G1)))
    record = GroupRecord(RecordType.CHANGE_TO_EXCLUDE, G1)
    report = classify(build_igmp_frame(HOST_MAC, HOST, IGMPV3_ROUTERS, build_v3_report((record,))))
    assert leave.igmp == IgmpLeave(G1)
    assert report.igmp == IgmpV3Report((record,))


def test_unknown_igmp_type_is_classified_not_raised() -> None:
    message = igmp_with_fixed_checksum(bytearray(bytes((0x13, 0, 0, 0)) + bytes(4)))
    packet = classify(build_igmp_frame(ROUTER_MAC, ROUTER, ALL_ROUTERS, message))
    assert packet.kind is Kind.IGMP
    assert packet.igmp == IgmpUnknown(0x13, message)


def test_igmp_in_an_ip_fragment_is_igmp_fragment() -> None:
    packet = build_ipv4(HOST, G1, IPPROTO_IGMP, build_report_v2(G1), flags=0x1)
    expect(InvalidReason.IGMP_FRAGMENT, build_ethernet(ipv4_multicast_mac(G1), HOST_MAC, ETHERTYPE_IPV4, packet))


def test_tagged_igmp_is_classified_with_its_vlan() -> None:
    packet = classify(build_igmp_frame(HOST_MAC, HOST, G1, build_report_v2(G1), vlan=42))
    assert packet.kind is Kind.IGMP and packet.vlan == 42 and packet.igmp == IgmpReport(2, G1)


def test_igmp_padding_after_ip_total_length_is_ignored() -> None:
    frame = build_igmp_frame(HOST_MAC, HOST, G1, build_report_v2(G1))
    assert len(frame) == 60  # 14 + 24 + 8 = 46 bytes of content, 14 of padding
    assert classify(frame + bytes(100)).ip_payload == build_report_v2(G1)


def test_igmp_checksum_error_is_reported_through_classify() -> None:
    frame = bytearray(build_igmp_frame(HOST_MAC, HOST, G1, build_report_v2(G1)))
    frame[14 + 24 + 7] ^= 1
    expect(InvalidReason.BAD_IGMP_CHECKSUM, bytes(frame))


def test_multicast_udp_is_data_with_its_group() -> None:
    frame = build_udp_multicast(ROUTER_MAC, ROUTER, G1, 4000, 5000, b"\x00\x00\x00\x07")
    packet = classify(frame)
    assert packet.kind is Kind.DATA
    assert (packet.ip.src, packet.ip.dst, packet.ip.protocol) == (ROUTER, G1, IPPROTO_UDP)
    assert parse_udp(packet.ip_payload) == (4000, 5000, b"\x00\x00\x00\x07")


def test_unicast_ip_is_data_too() -> None:
    frame = build_ethernet(HOST_MAC, ROUTER_MAC, ETHERTYPE_IPV4, build_ipv4(ROUTER, HOST, IPPROTO_UDP, bytes(8), ttl=64))
    packet = classify(frame)
    assert packet.kind is Kind.DATA and packet.ip.dst == HOST


def pim(first_byte: int = 0x20, dst: int = ALL_PIM_ROUTERS) -> bytes:
    message = bytearray(bytes((first_byte, 0, 0, 0)) + bytes.fromhex("0001000200690000"))
    message[2:4] = internet_checksum(bytes(message)).to_bytes(2, "big")
    return build_ethernet(ipv4_multicast_mac(dst), ROUTER_MAC, ETHERTYPE_IPV4, build_ipv4(ROUTER, dst, IPPROTO_PIM, bytes(message)))


def test_pim_hello_to_all_pim_routers_is_pim_hello() -> None:
    assert classify(pim()).kind is Kind.PIM_HELLO


def test_other_pim_messages_are_data() -> None:
    assert classify(pim(first_byte=0x23)).kind is Kind.DATA
    assert classify(pim(dst=G1)).kind is Kind.DATA


def test_pim_hello_with_bad_checksum_is_data_not_a_router_signal() -> None:
    frame = bytearray(pim())
    frame[14 + 20 + 5] ^= 1
    assert classify(bytes(frame)).kind is Kind.DATA


def test_pw_control_frame_is_pw_control() -> None:
    msg = PwControl(PwMessageType.STATUS, ip_int("10.0.0.3"), 100, PwStatus.STANDBY, 1)
    packet = classify(build_pw_control(ROUTER_MAC, msg))
    assert packet.kind is Kind.PW_CONTROL and packet.pw_control == msg


def test_arp_is_other() -> None:
    packet = classify(build_ethernet(b"\xff" * 6, HOST_MAC, 0x0806, bytes(28)))
    assert packet.kind is Kind.OTHER and packet.ip is None


def test_ipv4_errors_are_reported_through_classify() -> None:
    frame = bytearray(build_udp_multicast(ROUTER_MAC, ROUTER, G1, 1, 2, b""))
    frame[14] = 0x65
    expect(InvalidReason.BAD_IP_VERSION, bytes(frame))


def truncation_cases() -> list[tuple[str, bytes, int]]:
    """(name, frame, bytes that matter): cutting below the last is an error."""
    report = build_igmp_frame(HOST_MAC, HOST, G1, build_report_v2(G1))
    query = build_igmp_frame(ROUTER_MAC, ROUTER, ALL_SYSTEMS, build_query(3, 10.0, sources=(1, 2, 3)))
    data = build_udp_multicast(ROUTER_MAC, ROUTER, G1, 1, 2, bytes(64), vlan=9)
    pw = build_pw_control(ROUTER_MAC, PwControl(PwMessageType.KEEPALIVE, 1, 100))
    return [("v2-report", report, 14 + 32), ("v3-query", query, 14 + 24 + 24), ("tagged-data", data, 18 + 20 + 72), ("pw", pw, 34)]


@pytest.mark.parametrize(("name", "frame", "needed"), truncation_cases(), ids=[c[0] for c in truncation_cases()])
def test_frame_truncated_at_every_offset_is_refused_with_the_layer_reason(name: str, frame: bytes, needed: int) -> None:
    eth_header = 18 if name == "tagged-data" else 14
    ip_header = 24 if name in ("v2-report", "v3-query") else 20
    for cut in range(needed):
        with pytest.raises(InvalidFrame) as info:
            classify(frame[:cut])
        if cut < eth_header:
            assert info.value.reason is InvalidReason.TRUNCATED, cut
        elif name == "pw":
            assert info.value.reason is InvalidReason.BAD_PW_CONTROL, cut
        elif cut < eth_header + ip_header:
            assert info.value.reason is InvalidReason.TRUNCATED, cut
        else:
            assert info.value.reason is InvalidReason.BAD_IP_LENGTH, cut
    for cut in range(needed, len(frame) + 1):
        assert meaning(classify(frame[:cut])) == meaning(classify(frame))


def meaning(packet: Packet) -> tuple:
    """Everything but the Ethernet payload (which keeps whatever padding there was)."""
    eth = packet.eth
    return (packet.kind, eth.dst, eth.src, eth.vlan, eth.ethertype, packet.ip, packet.ip_payload, packet.igmp, packet.pw_control)


# -- the fast path -----------------------------------------------------------------------------


def test_fast_path_accepts_untagged_multicast_udp() -> None:
    frame = build_udp_multicast(ROUTER_MAC, ROUTER, G1, 1, 2, b"x")
    assert fast_data_group(frame) == G1 == int.from_bytes(frame[30:34], "big")
    assert fast_kind(frame) == FAST_UNTAGGED_DATA


def test_fast_path_accepts_8021q_tagged_multicast_udp_with_group_at_34() -> None:
    frame = build_udp_multicast(ROUTER_MAC, ROUTER, G1, 1, 2, b"x", vlan=300)
    assert fast_data_group(frame) == G1 == int.from_bytes(frame[34:38], "big")
    assert fast_kind(frame) == FAST_TAGGED_DATA


def corrupt(frame: bytes, offset: int, value: int) -> bytes:
    return frame[:offset] + bytes((value,)) + frame[offset + 1 :]


MCAST = build_udp_multicast(ROUTER_MAC, ROUTER, G1, 1, 2, b"x")
SLOW_CASES = {
    "igmp": build_igmp_frame(HOST_MAC, HOST, G1, build_report_v2(G1)),
    "link-local": build_udp_multicast(ROUTER_MAC, ROUTER, ip_int("224.0.0.251"), 5353, 5353, b"x"),
    "unicast-ip": build_ethernet(ipv4_multicast_mac(G1), ROUTER_MAC, ETHERTYPE_IPV4, build_ipv4(ROUTER, HOST, IPPROTO_UDP, bytes(8))),
    "unicast-mac": HOST_MAC + MCAST[6:],
    "ip-options": build_ethernet(ipv4_multicast_mac(G1), ROUTER_MAC, ETHERTYPE_IPV4, build_ipv4(ROUTER, G1, IPPROTO_UDP, bytes(8), router_alert=True)),
    "bad-checksum": corrupt(MCAST, 24, 0x55),
    "tagged-bad-checksum": corrupt(build_udp_multicast(ROUTER_MAC, ROUTER, G1, 1, 2, b"x", vlan=5), 28, 0x55),
    "total-length-too-big": corrupt(MCAST, 16, 0x7F),
    "stag": MCAST[:12] + b"\x88\xa8\x00\x05" + MCAST[12:],
    "arp": build_ethernet(b"\xff" * 6, HOST_MAC, 0x0806, bytes(28)),
    "short": MCAST[:33],
    "empty": b"",
}


@pytest.mark.parametrize("name", list(SLOW_CASES))
def test_fast_path_leaves_everything_else_to_classify(name: str) -> None:
    assert fast_data_group(SLOW_CASES[name]) == 0
    assert fast_kind(SLOW_CASES[name]) == FAST_SLOW


# -- builders ----------------------------------------------------------------------------------


def test_igmp_frame_destination_mac_follows_the_group() -> None:
    frame = build_igmp_frame(HOST_MAC, HOST, ip_int("239.129.1.1"), build_report_v2(ip_int("239.129.1.1")))
    assert frame[:6] == bytes.fromhex("01005e010101")


def test_unicast_igmp_destination_needs_an_explicit_mac() -> None:
    with pytest.raises(ValueError):
        build_igmp_frame(ROUTER_MAC, ROUTER, HOST, build_query(2, 1.0, G1))
    frame = build_igmp_frame(ROUTER_MAC, ROUTER, HOST, build_query(2, 1.0, G1), dst_mac=HOST_MAC)
    assert classify(frame).dst == HOST_MAC


def test_udp_checksum_verifies_over_the_pseudo_header() -> None:
    frame = build_udp_multicast(ROUTER_MAC, ROUTER, G1, 1234, 5678, b"odd")
    udp = classify(frame).ip_payload
    pseudo = ROUTER.to_bytes(4, "big") + G1.to_bytes(4, "big") + bytes((0, IPPROTO_UDP)) + len(udp).to_bytes(2, "big")
    assert internet_checksum(pseudo + udp) == 0


def test_udp_checksum_may_be_zero_in_ipv4() -> None:
    frame = build_udp_multicast(ROUTER_MAC, ROUTER, G1, 1, 2, b"x", udp_checksum=False)
    assert classify(frame).ip_payload[6:8] == b"\0\0"


def test_udp_shorter_than_its_header_or_length_is_refused() -> None:
    for bad in (bytes(7), (1).to_bytes(2, "big") * 2 + (20).to_bytes(2, "big") + bytes(4)):
        with pytest.raises(InvalidFrame):
            parse_udp(bad)


def test_replace_source_mac_changes_only_the_source() -> None:
    frame = build_igmp_frame(HOST_MAC, HOST, G1, build_report_v2(G1))
    replaced = replace_source_mac(frame, ROUTER_MAC)
    assert replaced[6:12] == ROUTER_MAC
    assert replaced[:6] + replaced[12:] == frame[:6] + frame[12:]
