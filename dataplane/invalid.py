"""The one vocabulary for bad input: why a frame was refused.

Every codec raises :class:`InvalidFrame` with one of these reasons, and the core counts
frames per reason (the YANG ``statistics`` report them by these exact strings). A frame
that raises never changes any state: parsing completes before anything is learned.

``unknown-igmp-type`` is the one member that is *not* raised: RFC 4541 section 2.1.1 says a
snooping switch floods IGMP messages it does not understand, so the codec returns an
:class:`~dataplane.igmp.IgmpUnknown` and the core counts it under this reason while flooding.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["InvalidFrame", "InvalidReason"]


class InvalidReason(StrEnum):
    """Why a frame is not acceptable; the value is the name used in statistics."""

    TRUNCATED = "truncated"
    """The frame ends inside a fixed-size header: Ethernet (14 bytes), a VLAN tag (4), the
    IPv4 header (20, or the IHL), or an 802.3 length runs past the frame; also a UDP
    datagram shorter than its header or its length field (``packet.parse_udp``). (Inside an IP
    packet the lengths come from Total Length, so short messages are ``bad-*-length``.)"""

    BAD_ETHERTYPE = "bad-ethertype"
    """The type/length field is 1501..1535: neither an 802.3 length (<= 1500) nor an
    EtherType (>= 0x0600), IEEE 802.3 clause 3.2.6."""

    BAD_IP_VERSION = "bad-ip-version"
    """EtherType 0x0800 but the version nibble is not 4."""

    BAD_IP_HEADER_LENGTH = "bad-ip-header-length"
    """IHL below 5 words (RFC 791)."""

    BAD_IP_LENGTH = "bad-ip-length"
    """Total Length below the header length, or above the bytes the frame carries.
    (Bytes beyond Total Length are Ethernet padding and are ignored, not an error.)"""

    BAD_IP_CHECKSUM = "bad-ip-checksum"
    """The IPv4 header checksum does not verify (RFC 791, RFC 1071)."""

    BAD_IP_OPTIONS = "bad-ip-options"
    """An option's length byte is missing, below 2 or runs past the header, or a Router
    Alert option (RFC 2113) is not 4 bytes long."""

    IGMP_FRAGMENT = "igmp-fragment"
    """An IGMP message in an IP fragment: it cannot be checked, and IGMP messages are far
    smaller than any MTU, so no legitimate sender fragments them."""

    BAD_IGMP_CHECKSUM = "bad-igmp-checksum"
    """The IGMP checksum over the whole IP payload does not verify (RFC 2236 section 2.3,
    RFC 3376 section 4.1.2)."""

    BAD_IGMP_LENGTH = "bad-igmp-length"
    """Under 8 bytes; a query of 9..11 bytes (RFC 3376 section 7.1); a v3 query or report
    whose source or record counts run past the message."""

    BAD_IGMP_GROUP = "bad-igmp-group"
    """A report, leave or group record for an address that is not multicast, or a query
    for a group that is neither 0.0.0.0 nor multicast."""

    BAD_IGMP_DESTINATION = "bad-igmp-destination"
    """A General Query not sent to 224.0.0.1 (RFC 2236 section 2.1, RFC 3376 section
    4.1.12; the Linux bridge refuses these too)."""

    UNKNOWN_IGMP_TYPE = "unknown-igmp-type"
    """A well-formed IGMP message of a type we do not know: counted and flooded, never
    raised (see the module docstring)."""

    BAD_PW_CONTROL = "bad-pw-control"
    """A PW control frame (EtherType 0x88B5) shorter than its 20-byte message, with a
    version other than 1, an unknown message type, or a length field other than 20."""


class InvalidFrame(Exception):
    """A frame the codec refuses, with the reason the core counts it under."""

    def __init__(self, reason: InvalidReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
