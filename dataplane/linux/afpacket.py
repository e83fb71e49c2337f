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
  completed before the core sees the frame (RFC 1071 arithmetic). Segmentation-offloaded
  super-frames (``gso_type`` set: a local TCP sender) are larger than the MTU and cannot be
  forwarded as one frame; they are dropped and counted (``oversize_dropped``).

Sending: ``send`` writes one frame (behind an empty ``virtio_net_hdr``). A send that fails
(interface down or gone, queue full) is counted, never raised: a driver must not stop
forwarding on other ports because one port is failing.
"""

from __future__ import annotations

import errno
import socket
import struct
from dataclasses import dataclass

__all__ = ["PacketPort", "PortCounters", "complete_checksum"]

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
    oversize_dropped: int = 0
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
            frame = self._wire_frame(bytes(self._frame[:size - VNET_HDR_LEN]), ancdata)
            if frame is not None:
                counters.received += 1
                frames.append(frame)
        return frames

    def _wire_frame(self, frame: bytes, ancdata: list[tuple[int, int, bytes]]) -> bytes | None:
        flags, gso_type, _hdr_len, _gso_size, csum_start, csum_offset = _VNET_HDR.unpack_from(self._header)
        if gso_type != VIRTIO_NET_HDR_GSO_NONE:
            self.counters.oversize_dropped += 1
            return None
        if flags & VIRTIO_NET_HDR_F_NEEDS_CSUM:
            frame = complete_checksum(frame, csum_start, csum_offset)
            self.counters.checksums_completed += 1
        for level, kind, payload in ancdata:
            if level == SOL_PACKET and kind == PACKET_AUXDATA and len(payload) >= _AUXDATA.size:
                status, _len, _snaplen, _mac, _net, tci, tpid = _AUXDATA.unpack_from(payload)
                if status & TP_STATUS_VLAN_VALID:
                    if not status & TP_STATUS_VLAN_TPID_VALID:
                        tpid = ETH_P_8021Q
                    frame = frame[:12] + struct.pack("!HH", tpid, tci) + frame[12:]
        return frame

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
