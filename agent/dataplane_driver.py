"""The dataplane as the agent drives it: one device's forwarding core behind a driver.

The agent (commit hooks, operational state, actions, notifications) talks to a
:class:`Dataplane` and never to a simulator or a socket: the same agent code runs on the
simulator (``vsi-agent serve``, ``vsi-agent lab``) and on Linux interfaces (``--dataplane
linux``).  A driver owns the :class:`~dataplane.device.Device` core and its clock; every
method runs on the agent's event loop, so the core is never touched by two parties at once.

Contract (what every driver provides):

* ``device``: the core, read directly by :mod:`agent.dataplane_state` between calls, after
  ``settle()`` has run every timer due by now;
* ``now()``: the core's time now (seconds; what ``up-time`` and ``expires`` count from) and
  ``epoch``: the Unix time of core time 0 (for ``date-and-time`` leaves);
* ``apply(config)``: make ``config`` the core's configuration, atomically (a
  :class:`~dataplane.config.ConfigError` changes nothing); ``apply_vsis(changes)`` the same
  for only the VSIs a commit changed (``Device.apply_vsis``: O(changed), not O(device));
* ``switchover``, ``clear_groups``, ``reset_statistics``: the actions, raising
  :class:`~dataplane.device.UnknownVsiError` or
  :class:`~dataplane.pw_redundancy.SwitchoverError`;
* ``listeners``: callables given each batch of core events (``dataplane.events``) in order,
  on the loop, right after the input that caused them.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping

from dataplane.config import DeviceConfig, VsiConfig
from dataplane.device import Device
from dataplane.events import Event
from dataplane.linux import LinuxDataplane
from dataplane.sim import DeviceNode, Simulator
from dataplane.sim.realtime import RealTimeRunner

__all__ = ["Dataplane", "EventListener", "SimDataplane", "standalone_mac"]

EventListener = Callable[[list[Event]], None]


class Dataplane(ABC):
    """One device's forwarding core and the driver that feeds it (see the module docstring)."""

    device: Device
    listeners: list[EventListener]

    @property
    @abstractmethod
    def epoch(self) -> float:
        """Unix time of core time 0."""

    @abstractmethod
    def now(self) -> float:
        """The core's time now."""

    @abstractmethod
    def settle(self) -> None:
        """Run what is due by now, so that the core can be read (a membership that expired
        a moment ago is gone, not shown with 0 s left)."""

    @abstractmethod
    def apply(self, config: DeviceConfig) -> None:
        """Configure the core; ConfigError leaves it as it was."""

    @abstractmethod
    def apply_vsis(self, changes: Mapping[str, VsiConfig | None]) -> None:
        """Change only the named VSIs (None: remove) in O(changed), like
        ``Device.apply_vsis``; ConfigError leaves the core as it was."""

    @abstractmethod
    def switchover(self, vsi: str, pw: tuple[str, int]) -> None:
        """Manual switchover: ``pw`` becomes the active PW of its redundancy pair."""

    @abstractmethod
    def clear_groups(self, vsi: str | None) -> int:
        """Drop the dynamic group entries of ``vsi`` (None: every VSI); return how many went."""

    @abstractmethod
    def reset_statistics(self, vsi: str | None) -> None:
        """Zero the statistics of ``vsi`` (None: every VSI)."""

    async def start(self) -> None:
        """Begin running (called by ``Server.start``)."""

    async def stop(self) -> None:
        """Stop running (called by ``Server.stop``)."""


class SimDataplane(Dataplane):
    """A device of a simulation that runs in real time.

    ``vsi-agent serve`` makes one alone in its own simulator (:meth:`standalone`: its ports
    lead nowhere, so it learns nothing until something is wired to it); ``vsi-agent lab``
    gives each of its three agents one node of a shared topology and one shared runner.
    Every input from the agent first brings the simulation up to the wall clock, so it
    happens now, then re-arms the runner for the events it queued.
    """

    def __init__(self, node: DeviceNode, runner: RealTimeRunner, *, owns_runner: bool = False) -> None:
        self.node = node
        self.device = node.device
        self.runner = runner
        self._owns_runner = owns_runner
        self.listeners = node.listeners

    @classmethod
    def standalone(cls, name: str, mac: str | bytes, querier_address: str | None = None) -> "SimDataplane":
        """A device with nothing wired to its ports, in a simulator of its own."""
        sim = Simulator()
        node = DeviceNode(sim, Device(name, mac, querier_address=querier_address), record_events=False)
        return cls(node, RealTimeRunner(sim), owns_runner=True)

    @property
    def epoch(self) -> float:
        return self.runner.epoch

    def now(self) -> float:
        return self.runner.now()

    def settle(self) -> None:
        self.runner.catch_up()
        self.runner.reschedule()

    async def start(self) -> None:
        if self._owns_runner and not self.runner.running:
            self.runner.start()

    async def stop(self) -> None:
        if self._owns_runner:
            self.runner.stop()

    def apply(self, config: DeviceConfig) -> None:
        self.runner.catch_up()
        self.node.apply(config)
        self.runner.reschedule()

    def apply_vsis(self, changes: Mapping[str, VsiConfig | None]) -> None:
        self.runner.catch_up()
        self.node.apply_vsis(changes)
        self.runner.reschedule()

    def switchover(self, vsi: str, pw: tuple[str, int]) -> None:
        self.runner.catch_up()
        self.node.switchover(vsi, pw)
        self.runner.reschedule()

    def clear_groups(self, vsi: str | None) -> int:
        self.runner.catch_up()
        removed = self.node.clear_groups(vsi)
        self.runner.reschedule()
        return removed

    def reset_statistics(self, vsi: str | None) -> None:
        self.runner.catch_up()
        self.device.reset_statistics(vsi)


def standalone_mac(seed: str) -> bytes:
    """A stable, locally administered unicast MAC for a device that has no configured
    ``device-mac`` (derived from ``seed``, e.g. the state directory, so it survives restarts)."""
    digest = bytearray(hashlib.sha256(seed.encode()).digest()[:6])
    digest[0] = (digest[0] & 0xFC) | 0x02
    return bytes(digest)


# The Linux driver lives in the dataplane package, which never imports the agent: it meets
# the contract without inheriting from it, and is registered here so that it is a Dataplane.
Dataplane.register(LinuxDataplane)
