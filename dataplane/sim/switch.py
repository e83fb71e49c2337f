"""The shared L2 segment upstream of the SPEs: a plain IEEE 802.1D learning bridge.

It floods broadcast, multicast and unknown unicast (no snooping: the router's multicast
reaches both SPEs), forwards known unicast by its MAC table, and counts **MAC moves**: a
source address learned on one port showing up on another. Upstream MAC moves are what
``*-source-mac-replace`` exists to prevent (a host's report relayed by SPE1 and SPE2 would
otherwise teach the segment the host's MAC on two ports), so the scenario reports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataplane.addr import mac_str
from dataplane.sim.kernel import Simulator
from dataplane.sim.network import Node

__all__ = ["MacMove", "Switch"]

AGING_TIME = 300.0
"""IEEE 802.1D default ageing time."""


@dataclass(frozen=True)
class MacMove:
    time: float
    mac: str
    from_port: str
    to_port: str


class Switch(Node):
    """A learning bridge with any number of ports."""

    def __init__(self, sim: Simulator, name: str, mac: bytes = b"\x02\x00\x00\x00\xff\x01") -> None:
        super().__init__(sim, name, mac)
        self.table: dict[bytes, tuple[str, float]] = {}
        self.mac_moves: list[MacMove] = []

    def receive(self, port: str, frame: bytes, now: float) -> None:
        dst, src = frame[0:6], frame[6:12]
        self._learn(src, port, now)
        if not dst[0] & 1:
            known = self.table.get(dst)
            if known is not None and now - known[1] < AGING_TIME:
                if known[0] != port:
                    self.send(known[0], frame)
                return
        for out in self.links:
            if out != port:
                self.send(out, frame)

    def carrier(self, port: str, up: bool, now: float) -> None:
        """A port that loses carrier forgets the addresses behind it (802.1D flush)."""
        if not up:
            self.table = {mac: entry for mac, entry in self.table.items() if entry[0] != port}

    def _learn(self, src: bytes, port: str, now: float) -> None:
        if src[0] & 1:
            return
        known = self.table.get(src)
        if known is not None and known[0] != port and now - known[1] < AGING_TIME:
            self.mac_moves.append(MacMove(now, mac_str(src), known[0], port))
        self.table[src] = (port, now)
