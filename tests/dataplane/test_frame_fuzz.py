"""Property tests: nothing but InvalidFrame ever escapes classify, builders and parsers are
inverse, and the fast data path agrees with classify on every frame."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataplane.addr import ALL_SYSTEMS, ip_int, ip_str, is_link_local_group, is_multicast, mac_bytes, mac_str
from dataplane.ethernet import TPID_CTAG, TPID_STAG, build_ethernet, parse_ethernet
from dataplane.igmp import (
    GroupRecord,
    IgmpLeave,
    IgmpQuery,
    IgmpReport,
    IgmpV3Report,
    RecordType,
    build_igmp,
    decode_exp_code,
    parse_igmp,
)
from dataplane.invalid import InvalidFrame
from dataplane.ipv4 import build_ipv4, parse_ipv4
from dataplane.packet import Kind, build_igmp_frame, build_udp_multicast, classify, fast_data_group
from dataplane.pw_control import PwControl, PwMessageType, PwStatus, build_pw_control, parse_pw_control

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

macs = st.binary(min_size=6, max_size=6)
u32 = st.integers(0, 2**32 - 1)
groups = st.integers(0xE0000000, 0xEFFFFFFF)
vlans = st.none() | st.integers(0, 4095)

records = st.builds(
    GroupRecord,
    st.sampled_from(list(RecordType)),
    groups,
    st.lists(u32, max_size=4).map(tuple),
    st.binary(max_size=8).map(lambda b: b[: len(b) // 4 * 4]),
)
igmp_messages = st.one_of(
    st.builds(IgmpQuery, st.just(1), st.just(10.0), st.just(0) | groups),
    st.builds(IgmpQuery, st.just(2), st.integers(1, 255).map(lambda t: t / 10), st.just(0) | groups),
    st.builds(
        IgmpQuery,
        st.just(3),
        st.integers(0, 255).map(lambda c: decode_exp_code(c) / 10),
        st.just(0) | groups,
        st.booleans(),
        st.integers(0, 7),
        st.integers(0, 255).map(decode_exp_code),
        st.lists(u32, max_size=5).map(tuple),
    ),
    st.builds(IgmpReport, st.sampled_from([1, 2]), groups),
    st.builds(IgmpLeave, groups),
    st.builds(IgmpV3Report, st.lists(records, max_size=4).map(tuple)),
)
pw_messages = st.builds(
    PwControl, st.sampled_from(list(PwMessageType)), u32, u32, u32.map(PwStatus), u32
)


def igmp_frame(message, src_mac: bytes, src_ip: int, vlan: int | None) -> bytes:  # noqa: ANN001
    dst = ALL_SYSTEMS if isinstance(message, IgmpQuery) and message.group == 0 else ip_int("224.0.0.22")
    return build_igmp_frame(src_mac, src_ip, dst, build_igmp(message), vlan)


@st.composite
def valid_frames(draw: st.DrawFn) -> bytes:
    src = draw(macs)
    vlan = draw(vlans)
    kind = draw(st.sampled_from(["igmp", "data", "pw"]))
    if kind == "igmp":
        return igmp_frame(draw(igmp_messages), src, draw(u32), vlan)
    if kind == "data":
        return build_udp_multicast(src, draw(u32), draw(groups), 1, 2, draw(st.binary(max_size=64)), vlan=vlan)
    return build_pw_control(src, draw(pw_messages))


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    frame = bytearray(draw(valid_frames()))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "set", "cut", "extend"]))
        if action in ("flip", "set") and frame:
            i = draw(st.integers(0, len(frame) - 1))
            frame[i] = frame[i] ^ (1 << draw(st.integers(0, 7))) if action == "flip" else draw(st.integers(0, 255))
        elif action == "cut":
            del frame[draw(st.integers(0, len(frame))) :]
        else:
            frame += draw(st.binary(max_size=16))
    return bytes(frame)


def classify_or_none(frame: bytes):  # noqa: ANN201
    try:
        return classify(frame)
    except InvalidFrame:
        return None


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_raise_nothing_but_invalid_frame(frame: bytes) -> None:
    classify_or_none(frame)
    fast_data_group(frame)


@FUZZ
@given(mutated_frames())
def test_mutated_frames_raise_nothing_but_invalid_frame(frame: bytes) -> None:
    classify_or_none(frame)
    fast_data_group(frame)


def fast_path_eligible(frame: bytes) -> int:
    """What fast_data_group must return, derived from classify's answer."""
    packet = classify_or_none(frame)
    if packet is None or packet.kind is not Kind.DATA:
        return 0
    eth, ip = packet.eth, packet.ip
    simple_tagging = eth.vlan is None or (eth.tpid == TPID_CTAG and eth.inner_vlan is None)
    if not (eth.dst[0] & 1 and simple_tagging and ip.header_length == 20):
        return 0
    if not is_multicast(ip.dst) or is_link_local_group(ip.dst):
        return 0
    return ip.dst


@FUZZ
@given(mutated_frames() | valid_frames())
def test_fast_path_agrees_with_classify(frame: bytes) -> None:
    assert fast_data_group(frame) == fast_path_eligible(frame)


@FUZZ
@given(igmp_messages)
def test_every_igmp_message_round_trips(message) -> None:  # noqa: ANN001
    assert parse_igmp(build_igmp(message)) == message


@FUZZ
@given(igmp_messages, macs, u32, vlans)
def test_igmp_frames_round_trip_through_classify(message, src: bytes, src_ip: int, vlan: int | None) -> None:  # noqa: ANN001
    packet = classify(igmp_frame(message, src, src_ip, vlan))
    assert (packet.kind, packet.igmp, packet.src, packet.vlan, packet.ip.src) == (Kind.IGMP, message, src, vlan, src_ip)


@FUZZ
@given(pw_messages, macs)
def test_pw_control_round_trips(message: PwControl, src: bytes) -> None:
    assert parse_pw_control(parse_ethernet(build_pw_control(src, message)).payload) == message


@FUZZ
@given(macs, macs, st.integers(0x0600, 0xFFFF).filter(lambda t: t not in (TPID_CTAG, TPID_STAG)), st.binary(max_size=80), vlans, st.integers(0, 7))
def test_ethernet_round_trips(dst: bytes, src: bytes, ethertype: int, payload: bytes, vlan: int | None, pcp: int) -> None:
    frame = parse_ethernet(build_ethernet(dst, src, ethertype, payload, vlan, pcp if vlan is not None else 0))
    assert (frame.dst, frame.src, frame.ethertype, frame.vlan) == (dst, src, ethertype, vlan)
    assert frame.payload[: len(payload)] == payload


@FUZZ
@given(u32, u32, st.integers(0, 255), st.binary(max_size=100), st.integers(0, 255), st.integers(0, 255), st.booleans(), st.integers(0, 0xFFFF))
def test_ipv4_round_trips(src: int, dst: int, proto: int, payload: bytes, ttl: int, tos: int, ra: bool, ident: int) -> None:
    header, body = parse_ipv4(build_ipv4(src, dst, proto, payload, ttl, tos, ra, ident))
    assert (header.src, header.dst, header.protocol, header.ttl, header.tos, header.router_alert, header.ident) == (
        src, dst, proto, ttl, tos, ra, ident,
    )
    assert body == payload


@FUZZ
@given(macs, u32)
def test_address_text_forms_round_trip(mac: bytes, address: int) -> None:
    assert mac_bytes(mac_str(mac)) == mac
    assert ip_int(ip_str(address)) == address
