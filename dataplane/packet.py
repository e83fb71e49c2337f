"""One-shot frame classification for the core, a fast pre-classifier, and frame builders.

API note for the core (everything the forwarding code needs from the codec)
-----------------------------------------------------------------------------

``classify(frame: bytes) -> Packet`` parses a whole frame once and either returns a
:class:`Packet` or raises :class:`~dataplane.invalid.InvalidFrame` whose ``.reason`` (an
:class:`~dataplane.invalid.InvalidReason`) is what to count. A frame that raises must be
dropped and must change nothing. ``Packet`` fields:

* ``kind`` -- :class:`Kind`: ``IGMP``, ``PIM_HELLO``, ``DATA`` (any other IPv4 packet, unicast
  or multicast: look at ``ip.dst``), ``PW_CONTROL`` or ``OTHER`` (ARP, IPv6, LLC, ...: bridge
  it by MAC).
* ``eth`` -- :class:`~dataplane.ethernet.EthernetFrame` (``dst``, ``src`` 6-byte MACs,
  ``vlan`` int or None, ``ethertype``, ``pcp``); shortcuts ``packet.dst``/``src``/``vlan``.
* ``ip`` -- :class:`~dataplane.ipv4.IPv4Header` (``src``, ``dst`` ints, ``router_alert``, ...)
  for IGMP, PIM_HELLO and DATA; ``ip_payload`` the bytes after it (Ethernet padding cut).
* ``igmp`` -- for ``IGMP``: an ``IgmpQuery`` / ``IgmpReport`` / ``IgmpLeave`` / ``IgmpV3Report``
  or ``IgmpUnknown``. **IgmpUnknown is not an error**: count it under
  ``InvalidReason.UNKNOWN_IGMP_TYPE`` and flood it (RFC 4541 section 2.1.1).
* ``pw_control`` -- for ``PW_CONTROL``: a :class:`~dataplane.pw_control.PwControl`.

The fast path. At a million data frames a second there is no time for objects. Call
``fast_data_group(frame) -> int`` first: it returns the destination group (an int, never 0)
when the frame is certainly a well-formed IPv4 multicast *data* frame -- multicast
destination MAC, EtherType 0x0800 directly or under one 0x8100 tag, version 4 with no
options (first byte 0x45), Total Length consistent with the frame, a valid header
checksum, protocol not IGMP, destination in 224/4 but outside 224.0.0.0/24 -- and 0 when
the frame needs ``classify``. ``classify`` on such a frame would return ``Kind.DATA`` with
``ip.dst`` equal to that group (a property test holds the two paths to this). Offsets,
if you prefer reading them yourself: untagged, EtherType at 12..14, IPv4 at 14, protocol at
23, group ``int.from_bytes(frame[30:34], "big")``; one 802.1Q tag shifts all of these by 4
(EtherType 16..18, group at 34..38). ``fast_kind(frame)`` returns ``FAST_UNTAGGED_DATA``,
``FAST_TAGGED_DATA`` or ``FAST_SLOW`` with the same checks, for a core that reads the
group itself.

Builders: ``build_igmp_frame(src_mac, src_ip, dst_ip, igmp_bytes, vlan=None)`` (TTL 1,
ToS 0xc0, Router Alert, destination MAC from the group; IGMP bytes from
``dataplane.igmp.build_query`` / ``build_report_v1`` / ``build_report_v2`` / ``build_leave``
/ ``build_v3_report`` / ``build_igmp(message)``), ``build_udp_multicast(src_mac, src_ip,
group, sport, dport, payload)``, ``replace_source_mac(frame, mac)`` (what the
``*-source-mac-replace`` settings do), ``parse_udp(ip_payload) -> (sport, dport, data)``.
PW control frames: ``dataplane.pw_control.build_pw_control(src_mac, PwControl(...))``.
The layer codecs are ``dataplane.ethernet``, ``dataplane.ipv4``, ``dataplane.igmp`` and
``dataplane.pw_control``; addresses are in ``dataplane.addr`` (MAC = 6 bytes, IPv4 = int).
Every reason a frame can be refused is listed, with its rule, in ``dataplane.invalid``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from dataplane.addr import ALL_PIM_ROUTERS, ALL_SYSTEMS, ipv4_multicast_mac, is_multicast
from dataplane.ethernet import (
    ETHERTYPE_IPV4,
    ETHERTYPE_PW_CONTROL,
    EthernetFrame,
    build_ethernet,
    parse_ethernet,
)
from dataplane.igmp import IgmpMessage, IgmpQuery, parse_igmp
from dataplane.invalid import InvalidFrame, InvalidReason
from dataplane.ipv4 import (
    IPPROTO_IGMP,
    IPPROTO_PIM,
    IPPROTO_UDP,
    IPv4Header,
    build_ipv4,
    checksum_ok,
    internet_checksum,
    parse_ipv4,
)
from dataplane.pw_control import PwControl, parse_pw_control

__all__ = [
    "FAST_SLOW",
    "FAST_TAGGED_DATA",
    "FAST_UNTAGGED_DATA",
    "Kind",
    "Packet",
    "build_igmp_frame",
    "build_udp_multicast",
    "classify",
    "fast_data_group",
    "fast_kind",
    "parse_udp",
    "replace_source_mac",
]

UDP_HEADER_LEN = 8
_PIM_HELLO_FIRST_BYTE = 0x20  # PIM version 2, type 0 (Hello), RFC 7761 section 4.9


class Kind(IntEnum):
    OTHER = 0
    IGMP = 1
    PIM_HELLO = 2
    DATA = 3
    PW_CONTROL = 4


@dataclass(frozen=True, slots=True)
class Packet:
    """A classified frame (see the module docstring for which fields each kind has)."""

    kind: Kind
    eth: EthernetFrame
    ip: IPv4Header | None = None
    ip_payload: bytes = b""
    igmp: IgmpMessage | None = None
    pw_control: PwControl | None = None

    @property
    def dst(self) -> bytes:
        return self.eth.dst

    @property
    def src(self) -> bytes:
        return self.eth.src

    @property
    def vlan(self) -> int | None:
        return self.eth.vlan


def classify(frame: bytes) -> Packet:
    """Parse every layer we understand; raise InvalidFrame for anything malformed."""
    eth = parse_ethernet(frame)
    if eth.ethertype == ETHERTYPE_IPV4:
        return _classify_ipv4(eth)
    if eth.ethertype == ETHERTYPE_PW_CONTROL:
        return Packet(Kind.PW_CONTROL, eth, pw_control=parse_pw_control(eth.payload))
    return Packet(Kind.OTHER, eth)


def _classify_ipv4(eth: EthernetFrame) -> Packet:
    ip, payload = parse_ipv4(eth.payload)
    if ip.protocol == IPPROTO_IGMP:
        if ip.is_fragment:
            raise InvalidFrame(InvalidReason.IGMP_FRAGMENT)
        message = parse_igmp(payload)
        if isinstance(message, IgmpQuery) and message.is_general and ip.dst != ALL_SYSTEMS:
            raise InvalidFrame(InvalidReason.BAD_IGMP_DESTINATION, "general query not sent to 224.0.0.1")
        return Packet(Kind.IGMP, eth, ip, payload, igmp=message)
    if ip.protocol == IPPROTO_PIM and _is_pim_hello(ip, payload):
        return Packet(Kind.PIM_HELLO, eth, ip, payload)
    return Packet(Kind.DATA, eth, ip, payload)


def _is_pim_hello(ip: IPv4Header, payload: bytes) -> bool:
    """A PIMv2 Hello to ALL-PIM-ROUTERS with a valid PIM checksum. We are not a PIM router:
    anything else with protocol 103 is just link-local data, flooded, and teaches nothing."""
    return (
        ip.dst == ALL_PIM_ROUTERS
        and not ip.is_fragment
        and len(payload) >= 4
        and payload[0] == _PIM_HELLO_FIRST_BYTE
        and checksum_ok(payload)
    )


# -- the fast path ---------------------------------------------------------------------------

FAST_SLOW = 0
FAST_UNTAGGED_DATA = 1
FAST_TAGGED_DATA = 2

# The fast path reads the EtherType and the 20-byte IPv4 header as one big integer: one
# C call instead of a dozen index operations. In ``frame[12:34]`` (22 bytes, untagged) the
# top 24 bits are EtherType + version/IHL; total length sits at bits 128..143, protocol at
# 80..87 and the group in the low 32 bits; a tagged frame's ``frame[12:38]`` keeps the same
# low bits and adds TPID and TCI on top. As 2**16 is 1 modulo 0xFFFF, the remainder of the
# whole integer is the sum of its 16-bit words: the IPv4 header checksum verifies exactly
# when that remainder equals the remainder of the Ethernet words in front of the header.
_UNTAGGED_TOP = 0x080045  # EtherType IPv4, version 4, IHL 5
_CTAG_TPID = 0x8100


def fast_data_group(frame: bytes, _from_bytes=int.from_bytes) -> int:  # noqa: ANN001
    """The group of an IPv4 multicast data frame that needs no further checks, else 0."""
    header = _from_bytes(frame[12:34], "big")
    if header >> 152 == _UNTAGGED_TOP:
        if header % 0xFFFF != 0x0800 or not frame[0] & 1:
            return 0
        return _group_if_data(header, len(frame) - 14)
    header = _from_bytes(frame[12:38], "big")
    if header >> 192 != _CTAG_TPID or (header >> 152) & 0xFFFFFF != _UNTAGGED_TOP or not frame[0] & 1:
        return 0
    if header % 0xFFFF != (_CTAG_TPID + ((header >> 176) & 0xFFFF) + 0x0800) % 0xFFFF:
        return 0
    return _group_if_data(header, len(frame) - 18)


def _group_if_data(header: int, ip_bytes: int) -> int:
    """Group when multicast, not 224.0.0.0/24, not IGMP, and Total Length fits the frame."""
    group = header & 0xFFFFFFFF
    if group >> 28 != 0xE or group >> 8 == 0xE00000 or (header >> 80) & 0xFF == IPPROTO_IGMP:
        return 0
    if not 20 <= (header >> 128) & 0xFFFF <= ip_bytes:
        return 0
    return group


def fast_kind(frame: bytes) -> int:
    """FAST_UNTAGGED_DATA / FAST_TAGGED_DATA when :func:`fast_data_group` accepts the frame
    (read the group at 30..34 / 34..38), else FAST_SLOW."""
    if not fast_data_group(frame):
        return FAST_SLOW
    return FAST_UNTAGGED_DATA if frame[12] == 0x08 else FAST_TAGGED_DATA


# -- builders --------------------------------------------------------------------------------


def build_igmp_frame(
    src_mac: bytes,
    src_ip: int,
    dst_ip: int,
    igmp_bytes: bytes,
    vlan: int | None = None,
    *,
    dst_mac: bytes | None = None,
) -> bytes:
    """An IGMP message as hosts and routers send it: TTL 1, ToS 0xc0, Router Alert
    (RFC 2236 section 2, RFC 3376 section 4). The destination MAC follows ``dst_ip``
    (RFC 1112 mapping) unless ``dst_mac`` is given (needed for a unicast ``dst_ip``)."""
    if dst_mac is None:
        if not is_multicast(dst_ip):
            raise ValueError("a unicast IGMP destination needs dst_mac")
        dst_mac = ipv4_multicast_mac(dst_ip)
    packet = build_ipv4(src_ip, dst_ip, IPPROTO_IGMP, igmp_bytes, ttl=1, tos=0xC0, router_alert=True)
    return build_ethernet(dst_mac, src_mac, ETHERTYPE_IPV4, packet, vlan)


def build_udp_multicast(
    src_mac: bytes,
    src_ip: int,
    group: int,
    sport: int,
    dport: int,
    payload: bytes,
    *,
    ttl: int = 16,
    tos: int = 0,
    vlan: int | None = None,
    udp_checksum: bool = True,
) -> bytes:
    """A UDP datagram to ``group``. ``udp_checksum=False`` sends 0, which IPv4 allows
    (RFC 768: "no checksum")."""
    length = UDP_HEADER_LEN + len(payload)
    header = sport.to_bytes(2, "big") + dport.to_bytes(2, "big") + length.to_bytes(2, "big")
    checksum = 0
    if udp_checksum:
        pseudo = src_ip.to_bytes(4, "big") + group.to_bytes(4, "big") + bytes((0, IPPROTO_UDP))
        checksum = _udp_checksum(pseudo + length.to_bytes(2, "big") + header + b"\0\0" + payload)
    datagram = header + checksum.to_bytes(2, "big") + payload
    packet = build_ipv4(src_ip, group, IPPROTO_UDP, datagram, ttl=ttl, tos=tos)
    return build_ethernet(ipv4_multicast_mac(group), src_mac, ETHERTYPE_IPV4, packet, vlan)


def _udp_checksum(data: bytes) -> int:
    checksum = internet_checksum(data)
    return checksum or 0xFFFF  # RFC 768: a computed 0 is sent as all ones


def parse_udp(ip_payload: bytes) -> tuple[int, int, bytes]:
    """(source port, destination port, data) of a UDP datagram; data cut at the UDP length.
    The checksum is not verified: a bridge forwards data without looking at it, and the
    simulator's receivers only need the sequence number inside."""
    if len(ip_payload) < UDP_HEADER_LEN:
        raise InvalidFrame(InvalidReason.TRUNCATED, "UDP header needs 8 bytes")
    length = int.from_bytes(ip_payload[4:6], "big")
    if not UDP_HEADER_LEN <= length <= len(ip_payload):
        raise InvalidFrame(InvalidReason.TRUNCATED, f"UDP length {length} with {len(ip_payload)} bytes")
    return (
        int.from_bytes(ip_payload[0:2], "big"),
        int.from_bytes(ip_payload[2:4], "big"),
        ip_payload[UDP_HEADER_LEN:length],
    )


def replace_source_mac(frame: bytes, mac: bytes) -> bytes:
    """The frame with ``mac`` as Ethernet source (``*-source-mac-replace``)."""
    return frame[:6] + mac + frame[12:]
