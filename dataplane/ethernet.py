"""Ethernet II / IEEE 802.3 framing with IEEE 802.1Q tags: the wire format, nothing else.

Frames here have no preamble and no FCS (what AF_PACKET and the simulator carry), so the
minimum frame is 60 bytes and :func:`build_ethernet` pads to that.

VLAN tags. A tag is TPID 0x8100 (C-tag, 802.1Q) or 0x88a8 (S-tag, 802.1ad). The outermost
tag's VID is ``vlan`` (that is the service-delimiting tag of a VPLS attachment circuit) and
its TPID is ``tpid``. A second tag directly under it (Q-in-Q: 0x88a8 then 0x8100, or two
0x8100) gives ``inner_vlan``. ``ethertype`` and ``payload`` are always what follows the last
tag parsed, so IPv4 is found under zero, one or two tags. VID 0 is a priority tag: ``vlan``
is then 0 and only ``pcp`` carries meaning. A third tag is not looked into: the frame's
``ethertype`` is then that tag's TPID, which makes it "other" traffic.

Type/length field: values <= 1500 are an 802.3 length (LLC frames such as STP): ``ethertype``
holds the length and ``payload`` is exactly that many bytes; values 1501..1535 are invalid.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataplane.invalid import InvalidFrame, InvalidReason

__all__ = [
    "ETH_HEADER_LEN",
    "ETH_MIN_FRAME",
    "ETHERTYPE_IPV4",
    "ETHERTYPE_PW_CONTROL",
    "TPID_CTAG",
    "TPID_STAG",
    "EthernetFrame",
    "build_ethernet",
    "parse_ethernet",
]

ETH_HEADER_LEN = 14
ETH_MIN_FRAME = 60
"""64 bytes on the wire minus the 4-byte FCS."""

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_PW_CONTROL = 0x88B5
"""IEEE Std 802 Local Experimental EtherType 1: our PW status / keepalive frames."""
TPID_CTAG = 0x8100
TPID_STAG = 0x88A8

_MAX_8023_LENGTH = 1500
_MIN_ETHERTYPE = 0x0600
_TAG_TPIDS = (TPID_CTAG, TPID_STAG)


@dataclass(frozen=True, slots=True)
class EthernetFrame:
    """A parsed frame. ``payload`` keeps any Ethernet padding: upper layers use their own
    length fields to ignore it."""

    dst: bytes
    src: bytes
    ethertype: int
    payload: bytes
    vlan: int | None = None
    pcp: int = 0
    dei: bool = False
    tpid: int | None = None
    inner_vlan: int | None = None

    @property
    def header_length(self) -> int:
        """Bytes before ``payload``: 14, 18 with one tag, 22 with two."""
        return ETH_HEADER_LEN + 4 * ((self.vlan is not None) + (self.inner_vlan is not None))


def parse_ethernet(data: bytes) -> EthernetFrame:
    """Split a frame into addresses, tags, EtherType and payload (see module docstring)."""
    if len(data) < ETH_HEADER_LEN:
        raise InvalidFrame(InvalidReason.TRUNCATED, f"Ethernet header needs 14 bytes, got {len(data)}")
    dst = data[0:6]
    src = data[6:12]
    ethertype = int.from_bytes(data[12:14], "big")
    offset = ETH_HEADER_LEN
    vlan: int | None = None
    inner_vlan: int | None = None
    tpid: int | None = None
    pcp = 0
    dei = False
    if ethertype in _TAG_TPIDS:
        tpid = ethertype
        tci, ethertype = _read_tag(data, offset)
        vlan, pcp, dei = tci & 0x0FFF, tci >> 13, bool(tci & 0x1000)
        offset += 4
        if ethertype in _TAG_TPIDS:
            inner_tci, ethertype = _read_tag(data, offset)
            inner_vlan = inner_tci & 0x0FFF
            offset += 4
    payload = _payload(data, offset, ethertype)
    return EthernetFrame(dst, src, ethertype, payload, vlan, pcp, dei, tpid, inner_vlan)


def _read_tag(data: bytes, offset: int) -> tuple[int, int]:
    """Return (TCI, next type/length) of the tag whose TCI starts at ``offset``."""
    if len(data) < offset + 4:
        raise InvalidFrame(InvalidReason.TRUNCATED, f"VLAN tag at offset {offset - 2} is cut short")
    return int.from_bytes(data[offset : offset + 2], "big"), int.from_bytes(data[offset + 2 : offset + 4], "big")


def _payload(data: bytes, offset: int, type_or_length: int) -> bytes:
    if type_or_length >= _MIN_ETHERTYPE:
        return data[offset:]
    if type_or_length > _MAX_8023_LENGTH:
        raise InvalidFrame(InvalidReason.BAD_ETHERTYPE, f"type/length 0x{type_or_length:04x} is neither")
    if len(data) - offset < type_or_length:
        raise InvalidFrame(
            InvalidReason.TRUNCATED,
            f"802.3 length {type_or_length} but only {len(data) - offset} bytes follow",
        )
    return data[offset : offset + type_or_length]


def build_ethernet(
    dst: bytes,
    src: bytes,
    ethertype: int,
    payload: bytes,
    vlan: int | None = None,
    pcp: int = 0,
    *,
    dei: bool = False,
    tpid: int = TPID_CTAG,
    inner_vlan: int | None = None,
) -> bytes:
    """Build a frame, tagged when ``vlan`` is given, zero-padded to the 60-byte minimum."""
    if len(dst) != 6 or len(src) != 6:
        raise ValueError("MAC addresses are 6 bytes")
    header = dst + src
    if vlan is not None:
        header += _tag(tpid, vlan, pcp, dei)
        if inner_vlan is not None:
            header += _tag(TPID_CTAG, inner_vlan, 0, False)
    elif inner_vlan is not None:
        raise ValueError("inner_vlan needs an outer vlan")
    frame = header + ethertype.to_bytes(2, "big") + payload
    if len(frame) < ETH_MIN_FRAME:
        frame += bytes(ETH_MIN_FRAME - len(frame))
    return frame


def _tag(tpid: int, vid: int, pcp: int, dei: bool) -> bytes:
    if not 0 <= vid <= 0x0FFF or not 0 <= pcp <= 7:
        raise ValueError(f"VLAN id 0..4095 and PCP 0..7, got {vid} and {pcp}")
    tci = (pcp << 13) | (int(dei) << 12) | vid
    return tpid.to_bytes(2, "big") + tci.to_bytes(2, "big")
