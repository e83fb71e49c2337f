"""PW status / keepalive control frames: dataplane/pw_control.py."""

from __future__ import annotations

import pytest

from dataplane.addr import ip_int
from dataplane.ethernet import ETHERTYPE_PW_CONTROL, parse_ethernet
from dataplane.invalid import InvalidFrame, InvalidReason
from dataplane.pw_control import (
    PW_CONTROL_MAC,
    PwControl,
    PwMessageType,
    PwStatus,
    build_pw_control,
    encode_pw_control,
    parse_pw_control,
)

MAC = bytes.fromhex("020000000003")
UPE = ip_int("10.0.0.3")


def expect(payload: bytes) -> None:
    with pytest.raises(InvalidFrame) as info:
        parse_pw_control(payload)
    assert info.value.reason is InvalidReason.BAD_PW_CONTROL


@pytest.mark.parametrize("msg_type", list(PwMessageType))
@pytest.mark.parametrize("status", [PwStatus.FORWARDING, PwStatus.STANDBY, PwStatus.NOT_FORWARDING | PwStatus.PSN_RX_FAULT])
def test_every_message_type_and_status_round_trips(msg_type: PwMessageType, status: PwStatus) -> None:
    msg = PwControl(msg_type, UPE, 100, status, 4_000_000_000)
    frame = build_pw_control(MAC, msg)
    eth = parse_ethernet(frame)
    assert parse_pw_control(eth.payload) == msg


def test_frame_goes_to_nearest_bridge_address_with_local_experimental_ethertype() -> None:
    frame = build_pw_control(MAC, PwControl(PwMessageType.KEEPALIVE, UPE, 100))
    assert frame[0:6] == PW_CONTROL_MAC == bytes.fromhex("0180c200000e")
    assert frame[6:12] == MAC
    assert frame[12:14] == b"\x88\xb5" and ETHERTYPE_PW_CONTROL == 0x88B5
    assert len(frame) == 60


def test_wire_layout_is_version_type_length_sender_vcid_status_sequence() -> None:
    body = encode_pw_control(PwControl(PwMessageType.STATUS, UPE, 100, PwStatus.STANDBY, 7))
    assert body == bytes.fromhex("01010014" "0a000003" "00000064" "00000020" "00000007")


def test_status_bits_follow_rfc_4446() -> None:
    assert (PwStatus.NOT_FORWARDING, PwStatus.STANDBY, PwStatus.REQUEST_SWITCHOVER) == (0x01, 0x20, 0x40)


@pytest.mark.parametrize(
    ("status", "active"),
    [(PwStatus.FORWARDING, True), (PwStatus.STANDBY, False), (PwStatus.NOT_FORWARDING, False), (PwStatus.AC_RX_FAULT, True)],
)
def test_signals_active_means_neither_standby_nor_not_forwarding(status: PwStatus, active: bool) -> None:
    assert PwControl(PwMessageType.STATUS, UPE, 100, status).signals_active is active


def test_unknown_status_bits_are_kept() -> None:
    body = bytearray(encode_pw_control(PwControl(PwMessageType.STATUS, UPE, 1)))
    body[12:16] = (0x8000_0020).to_bytes(4, "big")
    assert int(parse_pw_control(bytes(body)).status) == 0x8000_0020


def test_padding_after_the_message_is_ignored() -> None:
    msg = PwControl(PwMessageType.KEEPALIVE, UPE, 100, sequence=3)
    assert parse_pw_control(encode_pw_control(msg) + bytes(26)) == msg


@pytest.mark.parametrize("length", range(20))
def test_message_shorter_than_20_bytes_is_bad_pw_control(length: int) -> None:
    expect(encode_pw_control(PwControl(PwMessageType.STATUS, UPE, 100))[:length])


@pytest.mark.parametrize("version", [0, 2, 255])
def test_version_other_than_1_is_bad_pw_control(version: int) -> None:
    body = bytearray(encode_pw_control(PwControl(PwMessageType.STATUS, UPE, 100)))
    body[0] = version
    expect(bytes(body))


@pytest.mark.parametrize("msg_type", [0, 3, 200])
def test_unknown_message_type_is_bad_pw_control(msg_type: int) -> None:
    body = bytearray(encode_pw_control(PwControl(PwMessageType.STATUS, UPE, 100)))
    body[1] = msg_type
    expect(bytes(body))


@pytest.mark.parametrize("length", [0, 19, 21, 60])
def test_length_field_other_than_20_is_bad_pw_control(length: int) -> None:
    body = bytearray(encode_pw_control(PwControl(PwMessageType.STATUS, UPE, 100)) + bytes(40))
    body[2:4] = length.to_bytes(2, "big")
    expect(bytes(body))
