"""Discrete-event simulator for the dataplane: virtual time, deterministic for a seed.

``Simulator`` (clock, event heap, seeded RNG), ``Link`` (delay, loss, carrier), ``Switch``
(the upstream learning segment, counting MAC moves), ``Host`` (IGMP receiver with exact
per-sequence accounting), ``Source`` / ``Router`` (multicast streams; the querier), and
``DeviceNode``, which drives a sans-I/O :class:`~dataplane.device.Device`.
"""

from dataplane.sim.device_node import DeviceNode
from dataplane.sim.host import Gap, Host, Reception
from dataplane.sim.kernel import Simulator, Timer
from dataplane.sim.network import Link, Node, StormError
from dataplane.sim.router import Router
from dataplane.sim.source import MulticastStream, Source, decode_stream_payload
from dataplane.sim.switch import MacMove, Switch

__all__ = [
    "DeviceNode",
    "Gap",
    "Host",
    "Link",
    "MacMove",
    "MulticastStream",
    "Node",
    "Reception",
    "Router",
    "Simulator",
    "Source",
    "StormError",
    "Switch",
    "Timer",
    "decode_stream_payload",
]
