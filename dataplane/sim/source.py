"""A multicast source: UDP streams with sequence numbers at a fixed rate.

Each datagram's payload starts with ``!Qd``: the sequence number (0, 1, 2, ...) and the
virtual send time, so a receiver can count loss, duplicates and gaps without asking the
sender. The UDP checksum is 0 (IPv4 allows it), so every frame's headers are built once
per stream and only the payload changes. Send times are computed as ``start + seq / rate`` (no accumulated float error),
which also lets the scenario tell exactly which sequence numbers were sent in a window.
"""

from __future__ import annotations

import math
import struct

from dataplane.packet import build_udp_multicast
from dataplane.sim.kernel import Simulator
from dataplane.sim.network import Node

__all__ = ["STREAM_HEADER", "MulticastStream", "Source", "decode_stream_payload"]

STREAM_HEADER = struct.Struct("!Qd")


def decode_stream_payload(data: bytes) -> tuple[int, float] | None:
    """(sequence, send time) from a stream datagram's payload, None if it is not one."""
    if len(data) < STREAM_HEADER.size:
        return None
    return STREAM_HEADER.unpack_from(data)


class MulticastStream:
    """One group's stream out of one port of ``node``."""

    def __init__(
        self,
        node: Node,
        port: str,
        src_ip: int,
        group: int,
        rate: float,
        start: float,
        stop: float | None = None,
        sport: int = 5000,
        dport: int = 5000,
        payload_size: int = 64,
    ) -> None:
        if rate <= 0:
            raise ValueError("a stream's rate is positive")
        self.node = node
        self.port = port
        self.src_ip = src_ip
        self.group = group
        self.rate = rate
        self.start = start
        self.stop = stop
        self.sport = sport
        self.dport = dport
        padding = bytes(max(0, payload_size - STREAM_HEADER.size))
        template = build_udp_multicast(node.mac, src_ip, group, sport, dport,
                                       bytes(STREAM_HEADER.size) + padding, udp_checksum=False)
        self._head = template[:42]  # Ethernet 14 + IPv4 20 + UDP 8: identical in every frame
        self._tail = template[42 + STREAM_HEADER.size:]
        self.sent = 0
        node.sim.at(start, self._send)

    def send_time(self, seq: int) -> float:
        return self.start + seq / self.rate

    def sequences_sent_between(self, t0: float, t1: float) -> range:
        """Sequence numbers whose send time is in [t0, t1) and that were actually sent."""
        first = max(0, _ceil((t0 - self.start) * self.rate))
        last = min(self.sent, _ceil((t1 - self.start) * self.rate))
        return range(first, max(first, last))

    def _send(self) -> None:
        sim = self.node.sim
        if self.stop is not None and sim.now >= self.stop:
            return
        self.node.send(self.port, self._head + STREAM_HEADER.pack(self.sent, sim.now) + self._tail)
        self.sent += 1
        sim.at(self.send_time(self.sent), self._send)


def _ceil(value: float) -> int:
    """Ceiling that ignores float noise below a billionth of a frame interval."""
    return math.ceil(value - 1e-9)


class Source(Node):
    """A host that only sends multicast streams (and ignores what it receives)."""

    PORT = "eth0"

    def __init__(self, sim: Simulator, name: str, mac: bytes, ip: int) -> None:
        super().__init__(sim, name, mac)
        self.ip = ip
        self.streams: dict[int, MulticastStream] = {}

    def stream(
        self, group: int, rate: float, start: float, stop: float | None = None, **kwargs: int
    ) -> MulticastStream:
        """Start sending to ``group`` at ``rate`` frames per second from ``start``."""
        stream = self.streams[group] = MulticastStream(self, self.PORT, self.ip, group, rate, start, stop, **kwargs)
        return stream

    def receive(self, port: str, frame: bytes, now: float) -> None:
        return None
