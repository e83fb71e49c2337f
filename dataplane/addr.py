"""MAC and IPv4 address helpers: the dataplane's one representation of addresses.

A MAC is a 6-byte ``bytes`` (what sits in the frame, so comparing and hashing cost nothing)
and an IPv4 address is an ``int`` (what the forwarding tables key on; a group is then a
plain integer compare). Text forms exist only at the edges: configuration, state, logs.
"""

from __future__ import annotations

import ipaddress

__all__ = [
    "ALL_PIM_ROUTERS",
    "ALL_ROUTERS",
    "ALL_SYSTEMS",
    "BROADCAST_MAC",
    "IGMPV3_ROUTERS",
    "ZERO_MAC",
    "ip_int",
    "ip_str",
    "ipv4_multicast_mac",
    "is_link_local_group",
    "is_multicast",
    "is_multicast_mac",
    "mac_bytes",
    "mac_str",
]

ALL_SYSTEMS = 0xE0000001
"""224.0.0.1: General Queries go here (RFC 2236 section 2.1, RFC 3376 section 4.1.12)."""
ALL_ROUTERS = 0xE0000002
"""224.0.0.2: IGMPv2 Leave Group messages go here (RFC 2236 section 3)."""
IGMPV3_ROUTERS = 0xE0000016
"""224.0.0.22: IGMPv3 Membership Reports go here (RFC 3376 section 4.2.14)."""
ALL_PIM_ROUTERS = 0xE000000D
"""224.0.0.13: PIM Hellos go here (RFC 7761 section 4.3.1); a hello marks a router port."""

BROADCAST_MAC = b"\xff" * 6
ZERO_MAC = b"\x00" * 6

_MULTICAST_MAC_PREFIX = b"\x01\x00\x5e"
_LINK_LOCAL_BLOCK = 0xE0000000  # 224.0.0.0/24, RFC 5771 Local Network Control Block


def mac_str(mac: bytes) -> str:
    """``b'\\x00\\x11...'`` -> ``'00:11:22:33:44:55'`` (lower case, the YANG mac-address form)."""
    if len(mac) != 6:
        raise ValueError(f"a MAC address is 6 bytes, got {len(mac)}")
    return mac.hex(":")


def mac_bytes(text: str) -> bytes:
    """Parse ``'00:11:22:33:44:55'`` (or with ``-`` separators, any case) into 6 bytes."""
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise ValueError(f"not a MAC address: {text!r}")
    try:
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise ValueError(f"not a MAC address: {text!r}") from None


def ip_str(address: int) -> str:
    """``0xE0000001`` -> ``'224.0.0.1'``."""
    return str(ipaddress.IPv4Address(address))


def ip_int(text: str) -> int:
    """``'224.0.0.1'`` -> ``0xE0000001``; raises ValueError for anything but dotted quad."""
    try:
        return int(ipaddress.IPv4Address(text))
    except ipaddress.AddressValueError as exc:
        raise ValueError(f"not an IPv4 address: {text!r}") from exc


def is_multicast(address: int) -> bool:
    """Class D, 224.0.0.0/4 (RFC 5771)."""
    return (address >> 28) == 0xE


def is_link_local_group(address: int) -> bool:
    """224.0.0.0/24: always flooded and never learned by snooping (RFC 4541 section 2.1.2)."""
    return (address >> 8) == (_LINK_LOCAL_BLOCK >> 8)


def is_multicast_mac(mac: bytes) -> bool:
    """The I/G bit: group addresses (broadcast included) have bit 0 of the first octet set."""
    return bool(mac[0] & 1)


def ipv4_multicast_mac(group: int) -> bytes:
    """RFC 1112 section 6.4: 01:00:5e followed by the low 23 bits of the group."""
    return _MULTICAST_MAC_PREFIX + (group & 0x7FFFFF).to_bytes(3, "big")
