"""Nodes and links: how frames move between the simulator's devices.

A :class:`Node` has named ports; a :class:`Link` joins two (node, port) ends. A frame sent
on a port reaches the other end ``delay`` seconds later unless the loss draw drops it or
the link goes down meanwhile: a cut loses every frame in flight (counted, since the failover
scenario's bound is "only the frames in flight"). Down and up are carrier events reported
to both ends at once, as a real PHY does.

A *silent* failure (``silent_failure = True``) drops everything while the carrier stays
up, as a broken path in the middle of a PSN would: only keepalives can detect it.

Loops. Any node that receives a frame carrying its own source MAC counts a loop: with split
horizon and a single active PW, no frame may ever come back to its sender. A storm guard
stops a run whose frame count explodes, rather than letting it eat the machine.
"""

from __future__ import annotations

from dataplane.sim.kernel import Simulator

__all__ = ["Link", "LinkEnd", "Node", "StormError"]

class StormError(RuntimeError):
    """The simulation delivered more frames than any loop-free run could."""


class Node:
    """Something with ports: subclasses implement :meth:`receive` (and maybe
    :meth:`carrier`) and call :meth:`send`."""

    def __init__(self, sim: Simulator, name: str, mac: bytes) -> None:
        self.sim = sim
        self.name = name
        self.mac = mac
        self.links: dict[str, LinkEnd] = {}
        self.loops_detected = 0
        self.frames_sent = 0
        self.frames_received = 0
        self.frames_sent_on_unwired_ports = 0

    def send(self, port: str, frame: bytes) -> None:
        end = self.links.get(port)
        if end is None:
            self.frames_sent_on_unwired_ports += 1
            return
        self.frames_sent += 1
        end.link.carry(end, frame)

    def deliver(self, port: str, frame: bytes) -> None:
        """Called by a link: loop accounting, then :meth:`receive`."""
        self.frames_received += 1
        if frame[6:12] == self.mac:
            self.loops_detected += 1
        self.receive(port, frame, self.sim.now)

    def receive(self, port: str, frame: bytes, now: float) -> None:
        raise NotImplementedError

    def carrier(self, port: str, up: bool, now: float) -> None:
        """The link on ``port`` went down or came up; default: nothing to do."""

    def port_up(self, port: str) -> bool:
        end = self.links.get(port)
        return end is not None and end.link.up


class LinkEnd:
    """One side of a link."""

    __slots__ = ("link", "node", "port", "peer")

    def __init__(self, link: Link, node: Node, port: str) -> None:
        self.link = link
        self.node = node
        self.port = port
        self.peer: LinkEnd | None = None


class Link:
    """A point-to-point link with propagation delay, random loss and carrier state."""

    def __init__(
        self,
        sim: Simulator,
        a: tuple[Node, str],
        b: tuple[Node, str],
        delay: float = 0.0005,
        loss: float = 0.0,
    ) -> None:
        if not 0.0 <= loss <= 1.0 or delay < 0:
            raise ValueError("loss is a probability and delay is not negative")
        self.sim = sim
        self.delay = delay
        self.loss = loss
        self.up = True
        self.silent_failure = False
        """Drops every frame with carrier still up: a failure only keepalives can detect."""
        self._epoch = 0
        self.a = LinkEnd(self, *a)
        self.b = LinkEnd(self, *b)
        self.a.peer, self.b.peer = self.b, self.a
        for end in (self.a, self.b):
            if end.port in end.node.links:
                raise ValueError(f"{end.node.name} port {end.port} is already wired")
            end.node.links[end.port] = end
        self.name = f"{a[0].name}:{a[1]}--{b[0].name}:{b[1]}"
        self.carried = 0
        self.lost_random = 0
        self.lost_down = 0
        """Frames offered while the link was down."""
        self.lost_in_flight = 0
        """Frames on the wire when the link was cut."""
        self.lost_silently = 0
        """Frames offered during a silent failure."""

    def carry(self, origin: LinkEnd, frame: bytes) -> None:
        if not self.up:
            self.lost_down += 1
            return
        if self.silent_failure:
            self.lost_silently += 1
            return
        if self.loss and self.sim.rng.random() < self.loss:
            self.lost_random += 1
            return
        self.sim.after(self.delay, self._arrive, origin.peer, frame, self._epoch)

    def _arrive(self, end: LinkEnd, frame: bytes, epoch: int) -> None:
        if epoch != self._epoch:
            self.lost_in_flight += 1
            return
        self.carried += 1
        sim = self.sim
        sim.deliveries += 1
        if sim.deliveries > sim.storm_limit:
            raise StormError(f"more than {sim.storm_limit} frames delivered: a forwarding loop")
        end.node.deliver(end.port, frame)

    def set_up(self, up: bool) -> None:
        """Cut or restore the link; both ends see the carrier change now."""
        if up == self.up:
            return
        self.up = up
        if not up:
            self._epoch += 1
        now = self.sim.now
        self.a.node.carrier(self.a.port, up, now)
        self.b.node.carrier(self.b.port, up, now)

