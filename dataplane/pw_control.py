"""PW control frames: our stand-in for the LDP PW Status TLV (RFC 4447 section 5.4.3)
and for a BFD-like keepalive, carried directly on a PW link.

Frame: Ethernet, destination :data:`PW_CONTROL_MAC`, EtherType 0x88B5 (IEEE Std 802 Local
Experimental EtherType 1, reserved for exactly this kind of private protocol), then::

     0      1      2      3
    +------+------+------+------+
    |  ver | type |    length   |   ver = 1, type = STATUS 1 | KEEPALIVE 2,
    +------+------+------+------+   length = 20 (bytes of this message)
    |        sender address     |   IPv4 address of the sending device (its LSR id)
    +---------------------------+
    |           vc-id           |   the PW's VC id (RFC 4447 PWid FEC)
    +---------------------------+
    |         status code       |   RFC 4446 section 3.5 PW status bits
    +---------------------------+
    |          sequence         |   per-sender counter, lets the peer see loss
    +---------------------------+

Bytes after ``length`` are padding and ignored. The destination is 01:80:C2:00:00:0E,
the IEEE 802.1Q "Nearest Bridge" group address: every kind of bridge (customer, provider,
two-port MAC relay) filters it, so a control frame never leaks past the link it was sent
on, even if something bridges the PW link by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

from dataplane.ethernet import ETHERTYPE_PW_CONTROL, build_ethernet
from dataplane.invalid import InvalidFrame, InvalidReason

__all__ = [
    "PW_CONTROL_LEN",
    "PW_CONTROL_MAC",
    "PW_CONTROL_VERSION",
    "PwControl",
    "PwMessageType",
    "PwStatus",
    "build_pw_control",
    "encode_pw_control",
    "parse_pw_control",
]

PW_CONTROL_MAC = b"\x01\x80\xc2\x00\x00\x0e"
PW_CONTROL_VERSION = 1
PW_CONTROL_LEN = 20


class PwMessageType(IntEnum):
    STATUS = 1
    """The sender's view of this PW changed (or is refreshed): carries ``status``."""
    KEEPALIVE = 2
    """Liveness only; ``status`` repeats the last STATUS so a lost STATUS heals."""


class PwStatus(IntFlag):
    """RFC 4446 section 3.5 Pseudowire Status Codes. 0 means "forwarding, no fault"."""

    FORWARDING = 0x00
    NOT_FORWARDING = 0x01
    AC_RX_FAULT = 0x02
    AC_TX_FAULT = 0x04
    PSN_RX_FAULT = 0x08
    PSN_TX_FAULT = 0x10
    STANDBY = 0x20
    """RFC 6870: "PW forwarding standby" - the sender holds this PW as backup."""
    REQUEST_SWITCHOVER = 0x40
    """RFC 6870: asks the peer to make this PW the active one."""


@dataclass(frozen=True, slots=True)
class PwControl:
    """One PW control message."""

    msg_type: PwMessageType
    sender: int
    vc_id: int
    status: PwStatus = PwStatus.FORWARDING
    sequence: int = 0

    @property
    def signals_active(self) -> bool:
        """The sender forwards on this PW: neither standby nor not-forwarding."""
        return not self.status & (PwStatus.STANDBY | PwStatus.NOT_FORWARDING)


def parse_pw_control(payload: bytes) -> PwControl:
    """Parse the EtherType-0x88B5 payload (Ethernet padding allowed after it)."""
    if len(payload) < PW_CONTROL_LEN:
        raise InvalidFrame(InvalidReason.BAD_PW_CONTROL, f"{len(payload)} bytes, needs {PW_CONTROL_LEN}")
    if payload[0] != PW_CONTROL_VERSION:
        raise InvalidFrame(InvalidReason.BAD_PW_CONTROL, f"version {payload[0]}")
    try:
        msg_type = PwMessageType(payload[1])
    except ValueError:
        raise InvalidFrame(InvalidReason.BAD_PW_CONTROL, f"message type {payload[1]}") from None
    length = int.from_bytes(payload[2:4], "big")
    if length != PW_CONTROL_LEN:
        raise InvalidFrame(InvalidReason.BAD_PW_CONTROL, f"length field {length}")
    return PwControl(
        msg_type=msg_type,
        sender=int.from_bytes(payload[4:8], "big"),
        vc_id=int.from_bytes(payload[8:12], "big"),
        status=PwStatus(int.from_bytes(payload[12:16], "big")),
        sequence=int.from_bytes(payload[16:20], "big"),
    )


def encode_pw_control(msg: PwControl) -> bytes:
    """The 20-byte message body (what follows the EtherType)."""
    return (
        bytes((PW_CONTROL_VERSION, int(msg.msg_type)))
        + PW_CONTROL_LEN.to_bytes(2, "big")
        + msg.sender.to_bytes(4, "big")
        + msg.vc_id.to_bytes(4, "big")
        + int(msg.status).to_bytes(4, "big")
        + (msg.sequence & 0xFFFFFFFF).to_bytes(4, "big")
    )


def build_pw_control(src_mac: bytes, msg: PwControl) -> bytes:
    """A complete, padded Ethernet frame carrying ``msg``."""
    return build_ethernet(PW_CONTROL_MAC, src_mac, ETHERTYPE_PW_CONTROL, encode_pw_control(msg))
