"""A device: its VSIs, the port map, the one heap of deadlines, and the events queue.

Sans-I/O: every input carries ``now``; every output is a list of ``(port, frame)`` to
send. Drivers (the simulator, the Linux AF_PACKET adapter) call ``receive``, ``tick`` at
``next_deadline()``, ``link_state`` and the actions; the agent calls ``apply`` with a
:class:`~dataplane.config.DeviceConfig` and reads ``vsis`` to render operational state.

Operational state, read straight from the objects (one VSI at a time, nothing copied):

* ``device.vsis[name]`` -> :class:`~dataplane.vsi.Vsi`: ``stats`` (``as_dict()``),
  ``mac_table[mac]`` (``port.name``, ``seen``: age = now - seen), ``mac_moves``,
  ``port_oper_up(interface)`` (AC oper-status), ``port_forwarding(interface)``
  (a membership's ``forwarding`` leaf);
* ``vsi.pws.pws[(peer, vc_id)]`` -> ``Pseudowire``: ``oper_status``, ``forwarding_state``,
  ``remote_status`` (None until the peer signals);
* ``vsi.snooping`` (None when snooping is off) -> ``Snooping``: ``entry_count``;
  ``groups[group][source]`` -> ``Entry`` (``since``, ``last_reporter``, ``mac``, ``ports``);
  ``entry.ports[interface]`` -> ``Membership`` (``static``, ``since``, ``expires``,
  ``learned_on_backup``); ``router_ports[interface]`` -> ``RouterPort`` (``static``,
  ``dynamic``, ``via_backup``, ``since``, ``expires``); ``querier.current(now)`` ->
  (address or None, is-self). Addresses are ints (``dataplane.addr.ip_str`` for text).
  A group learned by one v1/v2 report on one port is kept compact (a plain group, see
  :mod:`dataplane.snooping`): its Entry and Membership are built when read, so read them
  and let go; do not keep or change them.

``apply`` is atomic: the whole new configuration is validated first and a ConfigError
leaves everything untouched. VSIs whose configuration did not change keep all their learned
state; a VSI whose ports stay the same keeps its PW state and its group table (settings,
statics and the querier role change in place). A VSI whose ACs or PWs change is rebuilt.
"""

from __future__ import annotations

from dataplane.addr import ip_int, mac_bytes
from dataplane.config import DeviceConfig, VsiConfig, validate
from dataplane.events import Event, EventQueue
from dataplane.pw_redundancy import SwitchoverError
from dataplane.timers import Deadlines
from dataplane.vsi import Port, Vsi

__all__ = ["Device", "SwitchoverError", "UnknownVsiError"]

Frames = list[tuple[str, bytes]]


class UnknownVsiError(KeyError):
    """An action named a VSI the device does not have."""


class Device:
    """One VPLS PE's dataplane."""

    def __init__(self, name: str, mac: bytes | str, querier_address: str | None = None) -> None:
        self.name = name
        self.base_mac = mac_bytes(mac) if isinstance(mac, str) else bytes(mac)
        self.address = ip_int(querier_address) if querier_address else 0
        """Source of our queries (querier election) and of PW control frames (LSR id)."""
        self.config = DeviceConfig()
        self.vsis: dict[str, Vsi] = {}
        self.deadlines = Deadlines()
        self._events = EventQueue()
        self._ports: dict[str, Port] = {}
        self._port_vsi: dict[str, Vsi] = {}
        self._link_up: dict[str, bool] = {}
        self.frames_on_unknown_ports = 0

    @property
    def mac(self) -> bytes:
        """The device MAC: configured device-mac, else the one the device was built with."""
        if self.config.device_mac:
            return mac_bytes(self.config.device_mac)
        return self.base_mac

    # -- configuration ----------------------------------------------------------------

    def apply(self, config: DeviceConfig, now: float) -> Frames:
        """Make ``config`` the running configuration; raise ConfigError and change nothing
        if any part of it is refused."""
        validate(config)
        old = self.config
        global_changed = (old.igmp_snooping_enable != config.igmp_snooping_enable
                          or old.device_mac != config.device_mac)
        self.config = config
        if old.device_mac != config.device_mac:
            for vsi in self.vsis.values():
                vsi.set_device_mac(self.mac)
        wanted = {v.name: v for v in config.vsis}
        frames: Frames = []
        for name in [n for n in self.vsis if n not in wanted]:
            self.vsis.pop(name).stop()
        vsis: dict[str, Vsi] = {}
        for name, vsi_config in wanted.items():
            current = self.vsis.get(name)
            if current is not None and current.config == vsi_config and not global_changed:
                vsis[name] = current
            elif current is not None and _same_ports(current.config, vsi_config):
                frames += current.reconfigure(vsi_config, config.igmp_snooping_enable, now)
                vsis[name] = current
            else:
                if current is not None:
                    current.stop()
                vsi = self._new_vsi(vsi_config)
                frames += vsi.start(now)
                vsis[name] = vsi
        self.vsis = vsis
        self._index_ports()
        return frames

    def _new_vsi(self, config: VsiConfig) -> Vsi:
        return Vsi(config, snooping_enabled=self.config.igmp_snooping_enable, device_mac=self.mac,
                   local_address=self.address, deadlines=self.deadlines, events=self._events,
                   link_up=self._link_up)

    def _index_ports(self) -> None:
        self._ports = {}
        self._port_vsi = {}
        for vsi in self.vsis.values():
            for name, port in vsi.ports.items():
                self._ports[name] = port
                self._port_vsi[name] = vsi

    # -- inputs -----------------------------------------------------------------------

    def receive(self, port: str, frame: bytes, now: float) -> Frames:
        """A frame arrived on ``port``; returns what to send where."""
        target = self._ports.get(port)
        if target is None:
            self.frames_on_unknown_ports += 1
            return []
        return self._port_vsi[port].receive(target, frame, now)

    def tick(self, now: float) -> Frames:
        """Run every timer due at or before ``now``."""
        return self.deadlines.run_due(now)

    def next_deadline(self) -> float | None:
        return self.deadlines.next_deadline()

    def link_state(self, port: str, up: bool, now: float) -> Frames:
        """Carrier up/down on ``port`` (remembered even for ports not configured yet)."""
        self._link_up[port] = up
        vsi = self._port_vsi.get(port)
        if vsi is None:
            return []
        return vsi.link_state(port, up, now)

    # -- actions ----------------------------------------------------------------------

    def switchover(self, vsi: str, pw: tuple[str, int], now: float) -> Frames:
        """Manual switchover: make ``pw`` the active member of its redundancy pair.
        Raises UnknownVsiError or SwitchoverError (not a pair member, or down)."""
        return self._vsi(vsi).pws.switchover(pw, now)

    def clear_groups(self, vsi: str | None, now: float) -> None:
        """clear-groups action / reset-igmp-snooping-group RPC (None = every VSI)."""
        for target in self._targets(vsi):
            target.clear_groups(now)

    def reset_statistics(self, vsi: str | None = None) -> None:
        for target in self._targets(vsi):
            target.stats.reset()

    def pop_events(self) -> list[Event]:
        return self._events.pop()

    def _targets(self, vsi: str | None) -> list[Vsi]:
        return list(self.vsis.values()) if vsi is None else [self._vsi(vsi)]

    def _vsi(self, name: str) -> Vsi:
        try:
            return self.vsis[name]
        except KeyError:
            raise UnknownVsiError(f"no VSI named {name!r}") from None


def _same_ports(old: VsiConfig, new: VsiConfig) -> bool:
    return old.acs == new.acs and old.pws == new.pws
