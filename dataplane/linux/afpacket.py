"""One Linux interface as a dataplane port: an AF_PACKET ``SOCK_RAW`` socket (packet(7)).

What the kernel hands a packet socket is not quite the frame that was on the wire, and the
core must see the wire frame, so three repairs happen here and nowhere else:

* **Own frames.** A packet socket bound with ``ETH_P_ALL`` also sees every frame sent out of
  its interface (``PACKET_OUTGOING``) by anyone else in the namespace: the host stack,
  another packet socket (the kernel never loops a socket's own sends back to it, and each
  port sends and receives on one socket). Fed to the core they would be learned on the
  wrong port and forwarded again. ``PACKET_IGNORE_OUTGOING`` (Linux 4.20) asks the kernel
  not to queue them at all; the ``pkttype`` of each received address is checked as well,
  so an older kernel is covered too.
* **VLAN tags.** Interfaces with receive VLAN offload (veth has it) strip the 802.1Q tag
  into the packet's metadata; ``PACKET_AUXDATA`` returns it as ``tp_vlan_tci`` /
  ``tp_vlan_tpid`` and the tag is put back in place, so a tagged frame reaches the core
  with its tag, as it was sent.
* **Checksums not yet computed.** A frame a local kernel sent through a veth carries its
  UDP/TCP checksum offloaded (``CHECKSUM_PARTIAL``): the field holds only the pseudo-header
  sum, which the "hardware" would have completed. Forwarded out of another interface as is,
  the receiving kernel would drop it as corrupt. With ``PACKET_VNET_HDR`` every frame comes
  with a ``virtio_net_hdr`` that says where the checksum starts and where it goes; it is
  completed before the core sees the frame (RFC 1071 arithmetic).
* **Super-frames.** A TCP sender behind a veth (TSO) and GRO on a real NIC hand the socket
  one frame of up to 64 KiB standing for many wire frames (``gso_type`` set in the
  ``virtio_net_hdr``). It cannot be forwarded as one frame, so it is cut back into the
  frames it stands for, as the NIC would have (:func:`segment`: TCP over IPv4 and IPv6,
  and UDP segmentation offload ``GSO_UDP_L4``); the core sees each of them. A super-frame
  of another kind (UFO, tunnels) or one that does not parse is dropped and counted
  (``oversize_dropped``).

Sending: ``send`` writes one frame (behind an empty ``virtio_net_hdr``). A send that fails
(interface down or gone, queue full) is counted, never raised: a driver must not stop
forwarding on other ports because one port is failing.
"""

from __future__ import annotations

import errno
import socket
import struct
from dataclasses import dataclass

__all__ = ["PacketPort", "PortCounters", "SegmentationError", "complete_checksum", "segment"]

ETH_P_ALL = 0x0003
ETH_P_8021Q = 0x8100
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_STATISTICS = 6
PACKET_AUXDATA = 8
PACKET_VNET_HDR = 15
PACKET_IGNORE_OUTGOING = 23
PACKET_OUTGOING = 4
SO_RCVBUFFORCE = 33

# struct tpacket_auxdata (linux/if_packet.h)
_AUXDATA = struct.Struct("=IIIHHHH")
TP_STATUS_CSUMNOTREADY = 1 << 3
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6

# struct virtio_net_hdr (linux/virtio_net.h), host byte order for a packet socket
_VNET_HDR = struct.Struct("=BBHHHH")
VNET_HDR_LEN = _VNET_HDR.size
VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
VIRTIO_NET_HDR_GSO_NONE = 0
VIRTIO_NET_HDR_GSO_TCPV4 = 1
VIRTIO_NET_HDR_GSO_TCPV6 = 4
VIRTIO_NET_HDR_GSO_UDP_L4 = 5
VIRTIO_NET_HDR_GSO_ECN = 0x80
_EMPTY_VNET_HDR = bytes(VNET_HDR_LEN)

# struct packet_mreq: ifindex, type, address length, address[8]
_PACKET_MREQ = struct.Struct("=iHH8s")

#: largest frame read: 64 KiB of IP packet, Ethernet header, one tag
RECV_SIZE = 65536 + 14 + 4
_ANC_SIZE = socket.CMSG_SPACE(_AUXDATA.size)

#: socket receive buffer asked for (SO_RCVBUFFORCE as root, else capped by rmem_max): a
#: burst waits here while the loop serves other ports; the default (~200 KiB) holds only
#: a few hundred small frames
RECEIVE_BUFFER = 4 << 20

#: errors a port's socket reports when its interface went down or away; the next read is
#: clean again, so they end a batch and nothing else
_LINK_ERRORS = frozenset({errno.ENETDOWN, errno.ENXIO, errno.ENODEV})


@dataclass(slots=True)
class PortCounters:
    """What happened on one port's socket (the driver's own view, below the core)."""

    received: int = 0
    sent: int = 0
    send_errors: int = 0
    outgoing_ignored: int = 0
    checksums_completed: int = 0
    segmented: int = 0
    """Super-frames cut back into wire frames (each of those counts in ``received``)."""
    oversize_dropped: int = 0
    """Super-frames that could not be segmented (a kind not handled, or unparsable)."""
    queue_dropped: int = 0
    """Frames the kernel dropped because the socket's receive queue was full (updated by
    :meth:`PacketPort.update_queue_drops`)."""


class PacketPort:
    """A non-blocking packet socket bound to one interface, in promiscuous mode."""

    def __init__(self, interface: str, ifindex: int) -> None:
        self.interface = interface
        self.ifindex = ifindex
        self.counters = PortCounters()
        # Protocol 0 at creation: the socket receives nothing until bound to its interface,
        # so no frame of another interface can slip in between socket() and bind().
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            self._configure(sock)
            sock.bind((interface, ETH_P_ALL))
        except OSError:
            sock.close()
            raise
        self.sock = sock
        # one pair of receive buffers, reused: the virtio header lands in the first, the
        # frame in the second, and only the frame's own bytes are copied out
        self._header = bytearray(VNET_HDR_LEN)
        self._frame = memoryview(bytearray(RECV_SIZE))
        self._buffers = [memoryview(self._header), self._frame]

    def _configure(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        try:
            sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:
            pass  # kernel older than 4.20: the pkttype check in receive() does the job
        sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        mreq = _PACKET_MREQ.pack(self.ifindex, PACKET_MR_PROMISC, 0, b"")
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self, limit: int) -> list[bytes]:
        """Up to ``limit`` frames waiting on the socket, repaired (module docstring)."""
        frames: list[bytes] = []
        recvmsg_into, buffers = self.sock.recvmsg_into, self._buffers
        counters = self.counters
        while len(frames) < limit:
            try:
                size, ancdata, _flags, address = recvmsg_into(buffers, _ANC_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                if error.errno in _LINK_ERRORS:
                    break
                raise
            if address[2] == PACKET_OUTGOING:
                counters.outgoing_ignored += 1
                continue
            wire = self._wire_frames(bytes(self._frame[:size - VNET_HDR_LEN]), ancdata)
            counters.received += len(wire)
            frames += wire
        return frames

    def _wire_frames(self, frame: bytes, ancdata: list[tuple[int, int, bytes]]) -> list[bytes]:
        """The wire frames one received frame stands for: itself with its checksum
        completed, or the segments of a super-frame; each with its VLAN tag back."""
        flags, gso_type, _hdr_len, gso_size, csum_start, csum_offset = _VNET_HDR.unpack_from(self._header)
        if gso_type != VIRTIO_NET_HDR_GSO_NONE:
            try:
                frames = segment(frame, gso_type, gso_size)
            except SegmentationError:
                self.counters.oversize_dropped += 1
                return []
            self.counters.segmented += 1
        elif flags & VIRTIO_NET_HDR_F_NEEDS_CSUM:
            frames = [complete_checksum(frame, csum_start, csum_offset)]
            self.counters.checksums_completed += 1
        else:
            frames = [frame]
        tag = _vlan_tag(ancdata)
        if tag is not None:
            frames = [f[:12] + tag + f[12:] for f in frames]
        return frames

    def send(self, frame: bytes) -> bool:
        """Send one frame; False (and counted) when the kernel refused it."""
        try:
            self.sock.sendmsg((_EMPTY_VNET_HDR, frame))
        except OSError:
            self.counters.send_errors += 1
            return False
        self.counters.sent += 1
        return True

    def update_queue_drops(self) -> int:
        """Add the kernel's count of frames dropped on this socket since the last call
        (``PACKET_STATISTICS`` resets on reading) to ``counters``; return the total."""
        _packets, drops = struct.unpack("=II", self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
        self.counters.queue_dropped += drops
        return self.counters.queue_dropped

    def close(self) -> None:
        """Release the socket (the kernel drops its promiscuous membership with it)."""
        self.sock.close()


def _vlan_tag(ancdata: list[tuple[int, int, bytes]]) -> bytes | None:
    """The 802.1Q tag the interface stripped into the packet's metadata, wire-encoded."""
    for level, kind, payload in ancdata:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(payload) >= _AUXDATA.size:
            status, _len, _snaplen, _mac, _net, tci, tpid = _AUXDATA.unpack_from(payload)
            if status & TP_STATUS_VLAN_VALID:
                if not status & TP_STATUS_VLAN_TPID_VALID:
                    tpid = ETH_P_8021Q
                return struct.pack("!HH", tpid, tci)
    return None


def complete_checksum(frame: bytes, start: int, offset: int) -> bytes:
    """Finish an offloaded checksum as the NIC would: the one's complement of the sum of
    everything from ``start`` (the field already holds the pseudo-header sum) goes to
    ``start + offset``. RFC 1071: 2**16 is 1 modulo 0xFFFF, so the big-endian integer of
    the bytes modulo 0xFFFF is their one's complement sum."""
    body = frame[start:]
    if len(body) & 1:
        body += b"\x00"
    total = int.from_bytes(body, "big") % 0xFFFF
    checksum = (~total & 0xFFFF) or 0xFFFF  # a UDP checksum of 0 would mean "none"
    at = start + offset
    return frame[:at] + checksum.to_bytes(2, "big") + frame[at + 2:]


# -- software segmentation (what a NIC does with a TSO/USO frame) -------------------------

class SegmentationError(ValueError):
    """A super-frame that cannot be cut: a kind not handled, or headers that do not parse."""


ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
_VLAN_TPIDS = frozenset({0x8100, 0x88A8, 0x9100})
_IPPROTO_TCP = 6
_IPPROTO_UDP = 17
#: IPv6 extension headers walked over to reach TCP/UDP: hop-by-hop, routing, destination
_IPV6_EXTENSIONS = frozenset({0, 43, 60})
_TCP_FIN, _TCP_PSH, _TCP_CWR = 0x01, 0x08, 0x80


def segment(frame: bytes, gso_type: int, gso_size: int) -> list[bytes]:
    """Cut a segmentation-offloaded super-frame into the wire frames it stands for.

    The headers are parsed from the frame itself (Ethernet, in-band VLAN tags, IPv4 or
    IPv6 with its extension headers, TCP or UDP): the ``hdr_len`` a packet socket reports
    is the skb's linear length, not reliably the header length. The payload after the
    headers is cut every ``gso_size`` bytes; each segment gets its own IPv4 total length,
    identification (incremented per segment) and header checksum, or IPv6 payload length;
    TCP: the sequence number advanced by the bytes before it, FIN and PSH only on the last
    segment, CWR only on the first; UDP (``GSO_UDP_L4``): its own length. The transport
    checksum is computed in full for every segment (RFC 793/768 pseudo-header).
    """
    kind = gso_type & ~VIRTIO_NET_HDR_GSO_ECN
    if kind not in (VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4):
        raise SegmentationError(f"segmentation offload type {gso_type} is not handled")
    if gso_size <= 0:
        raise SegmentationError("segment size 0")
    l3, ethertype = _l3_offset(frame)
    if ethertype == ETH_P_IP:
        if kind == VIRTIO_NET_HDR_GSO_TCPV6:
            raise SegmentationError("TCPv6 segmentation of an IPv4 packet")
        l4, protocol, end = _ipv4_headers(frame, l3)
    elif ethertype == ETH_P_IPV6:
        if kind == VIRTIO_NET_HDR_GSO_TCPV4:
            raise SegmentationError("TCPv4 segmentation of an IPv6 packet")
        l4, protocol, end = _ipv6_headers(frame, l3)
    else:
        raise SegmentationError(f"segmentation of ethertype {ethertype:#06x}")
    wanted = _IPPROTO_UDP if kind == VIRTIO_NET_HDR_GSO_UDP_L4 else _IPPROTO_TCP
    if protocol != wanted:
        raise SegmentationError(f"segmentation offload type {gso_type} on IP protocol {protocol}")
    if protocol == _IPPROTO_TCP:
        if l4 + 20 > end:
            raise SegmentationError("truncated TCP header")
        payload_at = l4 + (frame[l4 + 12] >> 4) * 4
    else:
        payload_at = l4 + 8
    if payload_at > end or payload_at < l4 + 8:
        raise SegmentationError("truncated transport header")
    header, payload = frame[:payload_at], frame[payload_at:end]
    count = max(1, -(-len(payload) // gso_size))
    return [_segment_frame(header, l3, l4, ethertype, protocol, payload[i * gso_size:(i + 1) * gso_size],
                           i, count, i * gso_size) for i in range(count)]


def _l3_offset(frame: bytes) -> tuple[int, int]:
    """Where the IP header starts, after Ethernet and any in-band VLAN tags, and its type."""
    offset = 12
    while offset + 2 <= len(frame):
        ethertype = int.from_bytes(frame[offset:offset + 2], "big")
        if ethertype not in _VLAN_TPIDS:
            return offset + 2, ethertype
        offset += 4
    raise SegmentationError("truncated Ethernet header")


def _ipv4_headers(frame: bytes, l3: int) -> tuple[int, int, int]:
    if l3 + 20 > len(frame) or frame[l3] >> 4 != 4:
        raise SegmentationError("truncated or not an IPv4 header")
    ihl = (frame[l3] & 0x0F) * 4
    total = int.from_bytes(frame[l3 + 2:l3 + 4], "big")
    # a total length of 0 (BIG TCP over 64 KiB) means "as long as the frame"
    end = l3 + total if total else len(frame)
    if ihl < 20 or end > len(frame) or l3 + ihl > end:
        raise SegmentationError("inconsistent IPv4 lengths")
    return l3 + ihl, frame[l3 + 9], end


def _ipv6_headers(frame: bytes, l3: int) -> tuple[int, int, int]:
    if l3 + 40 > len(frame) or frame[l3] >> 4 != 6:
        raise SegmentationError("truncated or not an IPv6 header")
    length = int.from_bytes(frame[l3 + 4:l3 + 6], "big")
    end = l3 + 40 + length if length else len(frame)
    if end > len(frame):
        raise SegmentationError("inconsistent IPv6 payload length")
    protocol, offset = frame[l3 + 6], l3 + 40
    while protocol in _IPV6_EXTENSIONS:
        if offset + 8 > end:
            raise SegmentationError("truncated IPv6 extension header")
        protocol, offset = frame[offset], offset + (frame[offset + 1] + 1) * 8
    return offset, protocol, end


def _segment_frame(header: bytes, l3: int, l4: int, ethertype: int, protocol: int, payload: bytes,
                   index: int, count: int, sent_before: int) -> bytes:
    """Segment ``index`` of ``count``: the super-frame's headers fixed for ``payload``."""
    out = bytearray(header)
    out += payload
    l4_length = len(out) - l4
    if ethertype == ETH_P_IP:
        struct.pack_into("!H", out, l3 + 2, len(out) - l3)
        ident = int.from_bytes(out[l3 + 4:l3 + 6], "big")
        struct.pack_into("!H", out, l3 + 4, (ident + index) & 0xFFFF)
        struct.pack_into("!H", out, l3 + 10, 0)
        ihl = (out[l3] & 0x0F) * 4
        struct.pack_into("!H", out, l3 + 10, _fold(bytes(out[l3:l3 + ihl])))
        pseudo = bytes(out[l3 + 12:l3 + 20]) + struct.pack("!BBH", 0, protocol, l4_length)
    else:
        struct.pack_into("!H", out, l3 + 4, len(out) - l3 - 40)
        pseudo = bytes(out[l3 + 8:l3 + 40]) + struct.pack("!I3xB", l4_length, protocol)
    if protocol == _IPPROTO_TCP:
        seq = int.from_bytes(out[l4 + 4:l4 + 8], "big")
        struct.pack_into("!I", out, l4 + 4, (seq + sent_before) & 0xFFFFFFFF)
        flags = out[l4 + 13]
        if index != count - 1:
            flags &= ~(_TCP_FIN | _TCP_PSH)
        if index != 0:
            flags &= ~_TCP_CWR
        out[l4 + 13] = flags
        at = l4 + 16
    else:
        struct.pack_into("!H", out, l4 + 4, l4_length)
        at = l4 + 6
    struct.pack_into("!H", out, at, 0)
    checksum = _fold(pseudo + bytes(out[l4:]))
    if protocol == _IPPROTO_UDP and checksum == 0:
        checksum = 0xFFFF  # 0 would mean "no checksum"
    struct.pack_into("!H", out, at, checksum)
    return bytes(out)


def _fold(data: bytes) -> int:
    """The Internet checksum of ``data`` (RFC 1071; see :func:`complete_checksum`)."""
    if len(data) & 1:
        data += b"\x00"
    total = int.from_bytes(data, "big") % 0xFFFF
    return ~total & 0xFFFF
