"""The Linux driver: a :class:`~dataplane.device.Device` core on real interfaces.

The core is sans-I/O; this is the shell around it on an asyncio loop (the same loop as the
agent, so the core is never touched by two parties at once):

* every AC and PW interface named in the configuration (``apply``, or ``apply_vsis`` for
  the VSIs a commit changed) gets a :class:`PacketPort`
  (AF_PACKET, promiscuous, own frames ignored); frames read from it go to
  ``Device.receive`` with the time now, and whatever the core returns is sent at once;
* one :class:`LinkMonitor` (rtnetlink) follows the interfaces: carrier lost or back goes
  to ``Device.link_state``; an interface that does not exist is a port whose link is down
  (reported in oper-status, never an error), and the moment it is created it is bound and
  its carrier given to the core; one that vanishes is released and down;
* one timer is armed (``loop.call_at``) for the core's ``next_deadline()`` after every
  input, and runs ``Device.tick`` when it fires; an early or needless wake-up is harmless;
* core events are handed to ``listeners`` right after the input that caused them.

Core time is seconds of the monotonic clock since the driver was made; ``epoch`` is the
Unix time of core time 0.

It implements the agent's ``Dataplane`` contract (``agent.dataplane_driver``) by shape,
not by inheritance: the dataplane package never imports the agent.

Sockets belong to the network namespace of the thread that makes them: run the driver's
loop in the namespace whose interfaces it should drive (``ip netns exec``, or
:func:`dataplane.linux.netns.entered`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Mapping

from dataplane.config import ConfigError, DeviceConfig, VsiConfig, validate
from dataplane.device import Device
from dataplane.events import Event
from dataplane.linux.afpacket import PacketPort, PortCounters
from dataplane.linux.carrier import LinkMonitor

__all__ = ["LinuxDataplane"]

Frames = list[tuple[str, bytes]]
log = logging.getLogger(__name__)
EventListener = Callable[[list[Event]], None]

#: frames read from one port per wake-up before the loop serves the others
RECEIVE_BATCH = 64
#: seconds before a failed dump of the link table is tried again
RESYNC_DELAY = 1.0


class LinuxDataplane:
    """One device's forwarding core driving the Linux interfaces of this namespace."""

    def __init__(self, name: str, mac: bytes | str, querier_address: str | None = None) -> None:
        """Raises OSError (PermissionError) at once when this process may not open packet
        sockets (no CAP_NET_RAW): otherwise it would run with every port silently down."""
        _probe_packet_sockets()
        self.device = Device(name, mac, querier_address=querier_address)
        self.listeners: list[EventListener] = []
        self._clock = time.monotonic
        self._origin = self._clock()
        self._epoch = time.time()
        self._links: LinkMonitor | None = None
        self._ports: dict[str, PacketPort] = {}
        self._wanted: set[str] = set()
        """Every AC and PW interface of the configuration, bound or not."""
        self._told: dict[str, bool] = {}
        """The link state last given to the core, per wanted interface."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.TimerHandle | None = None
        self._wake_at: float | None = None
        self._resync_handle: asyncio.TimerHandle | None = None
        self.frames_unsent = 0
        """Frames the core sent to an interface that has no socket (missing or unbindable)."""
        self.bind_errors: dict[str, str] = {}
        """Interfaces that exist but could not be bound, with the reason."""
        self._open_links()

    # -- the Dataplane contract -------------------------------------------------------

    @property
    def epoch(self) -> float:
        return self._epoch

    def now(self) -> float:
        return self._clock() - self._origin

    def settle(self) -> None:
        """Run every core timer due by now (the loop's wake-up may not have fired yet)."""
        self._emit(self.device.tick(self.now()))

    def apply(self, config: DeviceConfig) -> None:
        """Configure the core, binding what it names and releasing what it no longer does.
        The core is told each new interface's carrier before its port is built, so a
        missing interface starts down instead of flapping."""
        validate(config)  # before anything changes: a refused configuration touches nothing
        now = self.now()
        wanted = {name for vsi in config.vsis for name in vsi.interfaces()}
        removed = self._wanted - wanted
        frames = self._take(wanted - self._wanted, now)
        frames += self.device.apply(config, now)
        self._give_up(removed)
        self._emit(frames)

    def apply_vsis(self, changes: Mapping[str, VsiConfig | None]) -> None:
        """Change only the named VSIs (None: remove), in O(changed) like
        ``Device.apply_vsis``; a ConfigError releases what was bound for it and changes
        nothing else."""
        now = self.now()
        vsis = self.device.vsis
        before = set().union(*(vsis[name].config.interfaces() for name in changes if name in vsis))
        after = set().union(*(vsi.interfaces() for vsi in changes.values() if vsi is not None))
        added = after - self._wanted
        frames = self._take(added, now)
        try:
            frames += self.device.apply_vsis(changes, now)
        except ConfigError:
            self._give_up(added)
            raise
        self._give_up(before - after)
        self._emit(frames)

    def switchover(self, vsi: str, pw: tuple[str, int]) -> None:
        self._emit(self.device.switchover(vsi, pw, self.now()))

    def clear_groups(self, vsi: str | None) -> int:
        removed = self.device.clear_groups(vsi, self.now())
        self._emit([])
        return removed

    def reset_statistics(self, vsi: str | None) -> None:
        self.device.reset_statistics(vsi)

    async def start(self) -> None:
        """Read every bound port and the link table on the running loop; arm the timer."""
        loop = self._loop = asyncio.get_running_loop()
        changed = self._open_links()
        assert self._links is not None
        loop.add_reader(self._links.fileno(), self._on_links)
        for name, port in self._ports.items():
            loop.add_reader(port.fileno(), self._on_port, name)
        self._links_changed(changed | self._wanted)

    async def stop(self) -> None:
        """Stop reading and release every socket (a later start binds them again)."""
        loop, self._loop = self._loop, None
        if self._wake is not None:
            self._wake.cancel()
            self._wake = self._wake_at = None
        if self._resync_handle is not None:
            self._resync_handle.cancel()
            self._resync_handle = None
        for name in list(self._ports):
            self._release(name, loop)
        if self._links is not None:
            if loop is not None:
                loop.remove_reader(self._links.fileno())
            self._links.close()
            self._links = None

    # -- what the driver adds ---------------------------------------------------------

    @property
    def bound(self) -> set[str]:
        """Interfaces with a socket now."""
        return set(self._ports)

    def port_counters(self, interface: str) -> PortCounters | None:
        """The socket-level counters of a bound interface (None when it has no socket)."""
        port = self._ports.get(interface)
        if port is None:
            return None
        port.update_queue_drops()
        return port.counters

    # -- interfaces -------------------------------------------------------------------

    def _open_links(self) -> set[str]:
        """The rtnetlink socket and a fresh table (again after a stop); the names read."""
        if self._links is not None:
            return set()
        self._links = LinkMonitor()
        return self._links.refresh()

    def _carrier(self, name: str) -> bool:
        """Up for the core: the link is up and we hold a socket on it (a port we cannot
        read or write forwards nothing, whatever its carrier)."""
        link = self._links.links.get(name) if self._links is not None else None
        return link is not None and link.up and name in self._ports

    def _take(self, names: set[str], now: float) -> Frames:
        """Start driving ``names``: bind those that exist and tell the core each carrier
        (for interfaces no VSI holds yet the core only remembers it)."""
        self._wanted |= names
        frames: Frames = []
        for name in sorted(names):
            self._sync_port(name)
            up = self._carrier(name)
            self._told[name] = up
            frames += self.device.link_state(name, up, now)
        return frames

    def _give_up(self, names: set[str]) -> None:
        """Stop driving ``names``: release their sockets and forget what we knew."""
        self._wanted -= names
        for name in names:
            self._told.pop(name, None)
            self.bind_errors.pop(name, None)
            if name in self._ports:
                self._release(name, self._loop)

    def _sync_port(self, name: str) -> None:
        """Bind ``name`` if it exists; rebind if it is a new interface under an old name."""
        if self._links is None:
            return
        link = self._links.links.get(name)
        port = self._ports.get(name)
        if port is not None and (link is None or link.index != port.ifindex):
            self._release(name, self._loop)
            port = None
        if port is not None or link is None:
            return
        try:
            port = PacketPort(name, link.index)
        except OSError as error:  # vanished in between, or not an Ethernet-like device
            reason = str(error)
            if self.bind_errors.get(name) != reason:  # once per interface and reason
                log.warning("cannot bind interface %s, its port stays down: %s", name, reason)
            self.bind_errors[name] = reason
            return
        self.bind_errors.pop(name, None)
        self._ports[name] = port
        if self._loop is not None:
            self._loop.add_reader(port.fileno(), self._on_port, name)

    def _release(self, name: str, loop: asyncio.AbstractEventLoop | None) -> None:
        port = self._ports.pop(name)
        if loop is not None:
            loop.remove_reader(port.fileno())
        port.close()

    # -- inputs -----------------------------------------------------------------------

    def _on_links(self) -> None:
        links = self._links
        if links is None:
            return
        try:
            changed = links.read()
        except Exception:  # the names it had applied are lost: compare everything again
            log.exception("reading link notifications failed; dumping the link table again")
            self._resync()
            return
        self._links_changed(changed)

    def _resync(self) -> None:
        """Dump the link table and give the core every wanted carrier that differs from
        what it was told; a failed dump is logged and tried again after RESYNC_DELAY."""
        self._resync_handle = None
        links = self._links
        if links is None:
            return
        try:
            links.refresh()
        except Exception:
            log.exception("dumping the link table failed; trying again in %.0f s", RESYNC_DELAY)
            if self._loop is not None:
                self._resync_handle = self._loop.call_later(RESYNC_DELAY, self._resync)
            return
        self._links_changed(set(self._wanted))

    def _links_changed(self, changed: set[str]) -> None:
        """Bind, rebind or release the wanted interfaces among ``changed`` and give the
        core each carrier that differs from what it was last told. A failure on one
        interface is logged and does not keep the others from being served."""
        now = self.now()
        frames: Frames = []
        try:
            for name in sorted(changed & self._wanted):
                try:
                    self._sync_port(name)
                    up = self._carrier(name)
                    if self._told.get(name) != up:
                        frames += self.device.link_state(name, up, now)
                        self._told[name] = up
                except Exception:
                    log.exception("link change of %s could not be applied", name)
        finally:
            self._emit(frames)

    def _on_port(self, name: str) -> None:
        port = self._ports.get(name)
        if port is None:
            return
        receive = self.device.receive
        send = self._send
        try:
            for frame in port.receive(RECEIVE_BATCH):
                for out_port, out_frame in receive(name, frame, self.now()):
                    send(out_port, out_frame)
        finally:
            self._emit([])

    def _tick(self) -> None:
        self._wake = self._wake_at = None
        frames: Frames = []
        try:
            frames = self.device.tick(self.now())
        finally:
            self._emit(frames)  # re-arms even when the core failed

    # -- outputs ----------------------------------------------------------------------

    def _send(self, name: str, frame: bytes) -> None:
        port = self._ports.get(name)
        if port is None:
            self.frames_unsent += 1
            return
        port.send(frame)

    def _emit(self, frames: Frames) -> None:
        """Send ``frames``, hand the core's events to the listeners, re-arm the timer; the
        timer is re-armed whatever failed before, or the core's timers would stop."""
        try:
            for name, frame in frames:
                self._send(name, frame)
            events = self.device.pop_events()
            if events:
                for listener in self.listeners:
                    try:
                        listener(events)
                    except Exception:   # an observer's bug must not stop the device
                        log.exception("event listener %r failed", listener)
        finally:
            self._arm()

    def _arm(self) -> None:
        """One wake-up for the earliest deadline; an armed earlier one is kept."""
        loop = self._loop
        deadline = self.device.next_deadline()
        if loop is None or deadline is None:
            return
        if self._wake is not None and self._wake_at is not None and self._wake_at <= deadline:
            return
        if self._wake is not None:
            self._wake.cancel()
        self._wake_at = deadline
        self._wake = loop.call_at(loop.time() + max(0.0, deadline - self.now()), self._tick)


def _probe_packet_sockets() -> None:
    """Open and close one packet socket: raises when the process lacks CAP_NET_RAW."""
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
