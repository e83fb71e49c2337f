"""The simulator's driver for a :class:`~dataplane.device.Device`: the sans-I/O core in
virtual time.

Everything the core returns is sent at once; after every input the node asks the core for
its ``next_deadline()`` and arms one wake-up for it (a wake-up that finds nothing due is
harmless, so no bookkeeping is needed when deadlines move later). Carrier changes on a
port's link go to ``Device.link_state``. Events drained from the core are kept (with their
virtual time) for the scenario's and the tests' inspection, unless ``record_events`` is
off (a long-running lab would keep every group event forever), and handed to each of
``listeners`` (the agent's notifications).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from dataplane.config import DeviceConfig, VsiConfig
from dataplane.device import Device
from dataplane.events import Event
from dataplane.sim.kernel import Simulator, Timer
from dataplane.sim.network import Node

__all__ = ["DeviceNode"]

Frames = list[tuple[str, bytes]]
log = logging.getLogger(__name__)


class DeviceNode(Node):
    """A VPLS PE in the simulation."""

    def __init__(self, sim: Simulator, device: Device, *, record_events: bool = True) -> None:
        super().__init__(sim, device.name, device.mac)
        self.device = device
        self.events: list[Event] = []
        self.record_events = record_events
        #: called with each batch of events drained from the core, in order
        self.listeners: list[Callable[[list[Event]], None]] = []
        self._wake: Timer | None = None

    def apply(self, config: DeviceConfig) -> None:
        """Configure the core now (raises ConfigError like Device.apply)."""
        self._emit(self.device.apply(config, self.sim.now))
        self.mac = self.device.mac

    def apply_vsis(self, changes: Mapping[str, VsiConfig | None]) -> None:
        """Change only the named VSIs (raises ConfigError like Device.apply_vsis)."""
        self._emit(self.device.apply_vsis(changes, self.sim.now))

    def switchover(self, vsi: str, pw: tuple[str, int]) -> None:
        self._emit(self.device.switchover(vsi, pw, self.sim.now))

    def clear_groups(self, vsi: str | None) -> int:
        removed = self.device.clear_groups(vsi, self.sim.now)
        self._emit([])
        return removed

    def receive(self, port: str, frame: bytes, now: float) -> None:
        self._emit(self.device.receive(port, frame, now))

    def carrier(self, port: str, up: bool, now: float) -> None:
        self._emit(self.device.link_state(port, up, now))

    def _emit(self, frames: Frames) -> None:
        for port, frame in frames:
            self.send(port, frame)
        events = self.device.pop_events()
        if events:
            if self.record_events:
                self.events.extend(events)
            for listener in self.listeners:
                try:
                    listener(events)
                except Exception:   # an observer's bug must not stop the device
                    log.exception("event listener %r failed", listener)
        self._arm()

    def _arm(self) -> None:
        deadline = self.device.next_deadline()
        if deadline is None:
            return
        wake = self._wake
        if wake is not None and not wake.cancelled and wake.time <= deadline:
            return
        self._wake = self.sim.at(deadline, self._tick)

    def _tick(self) -> None:
        self._wake = None
        self._emit(self.device.tick(self.sim.now))
