"""A device: its VSIs, the port map, the one heap of deadlines, and the events queue.

Sans-I/O: every input carries ``now``; every output is a list of ``(port, frame)`` to
send. Drivers (the simulator, the Linux AF_PACKET adapter) call ``receive``, ``tick`` at
``next_deadline()``, ``link_state`` and the actions; the agent calls ``apply`` with a
:class:`~dataplane.config.DeviceConfig` (or ``apply_vsis`` with only the VSIs a commit
changed) and reads ``vsis`` to render operational state.

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

from collections.abc import Mapping

from dataplane.addr import ip_int, mac_bytes
from dataplane.config import DeviceConfig, VsiConfig, validate, validate_vsis
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
        self._config: DeviceConfig | None = DeviceConfig()
        self._snooping_enable = False
        self._device_mac: str | None = None
        self.vsis: dict[str, Vsi] = {}
        self.deadlines = Deadlines()
        self._events = EventQueue()
        self._ports: dict[str, Port] = {}
        self._port_vsi: dict[str, Vsi] = {}
        self._link_up: dict[str, bool] = {}
        self.frames_on_unknown_ports = 0

    @property
    def config(self) -> DeviceConfig:
        """The running configuration (after ``apply_vsis``, assembled from the VSIs on first read)."""
        if self._config is None:
            self._config = DeviceConfig(self._snooping_enable, self._device_mac,
                                        tuple(vsi.config for vsi in self.vsis.values()))
        return self._config

    @property
    def mac(self) -> bytes:
        """The device MAC: configured device-mac, else the one the device was built with."""
        if self._device_mac:
            return mac_bytes(self._device_mac)
        return self.base_mac

    # -- configuration ----------------------------------------------------------------

    def apply(self, config: DeviceConfig, now: float) -> Frames:
        """Make ``config`` the running configuration; raise ConfigError and change nothing
        if any part of it is refused."""
        validate(config)
        old_mac = self._device_mac
        global_changed = (self._snooping_enable != config.igmp_snooping_enable or old_mac != config.device_mac)
        self._config = config
        self._snooping_enable, self._device_mac = config.igmp_snooping_enable, config.device_mac
        if old_mac != config.device_mac:
            for vsi in self.vsis.values():
                vsi.set_device_mac(self.mac)
        wanted = {v.name: v for v in config.vsis}
        frames: Frames = []
        for name in [n for n in self.vsis if n not in wanted]:
            self.vsis.pop(name).stop()
        vsis: dict[str, Vsi] = {}
        for name, vsi_config in wanted.items():
            vsis[name] = self._configure_vsi(self.vsis.get(name), vsi_config, global_changed, now, frames)
        self.vsis = vsis
        self._index_ports()
        return frames

    def apply_vsis(self, changes: Mapping[str, VsiConfig | None], now: float) -> Frames:
        """Change only the named VSIs (None: remove it); everything else stays as it is.

        What a commit that touched k of n VSIs needs: validation, reconfiguration and the
        port index cost O(k), where :meth:`apply` with the whole configuration costs O(n).
        Atomic like :meth:`apply`: a ConfigError changes nothing.
        """
        changed = set(changes)
        validate_vsis([c for c in changes.values() if c is not None], self._snooping_enable,
                      lambda interface: self._owner_path(interface, changed))
        frames: Frames = []
        for name, vsi_config in changes.items():
            current = self.vsis.get(name)
            if current is not None:
                self._unindex_ports(current)
            if vsi_config is None:
                if current is not None:
                    del self.vsis[name]
                    current.stop()
                continue
            vsi = self._configure_vsi(current, vsi_config, False, now, frames)
            self.vsis[name] = vsi
            self._index_vsi_ports(vsi)
        self._config = None          # rebuilt when read: O(VSIs), which a commit must not pay
        return frames

    def _configure_vsi(self, current: Vsi | None, config: VsiConfig, global_changed: bool, now: float,
                       frames: Frames) -> Vsi:
        """The VSI that runs ``config``: ``current`` kept, reconfigured in place (same
        ports: it keeps its PW state and group table) or replaced by a new one."""
        if current is not None and current.config == config and not global_changed:
            return current
        if current is not None and _same_ports(current.config, config):
            frames += current.reconfigure(config, self._snooping_enable, now)
            return current
        if current is not None:
            current.stop()
        vsi = self._new_vsi(config)
        frames += vsi.start(now)
        return vsi

    def _owner_path(self, interface: str, excluded: set[str]) -> str | None:
        """The configuration path of the AC or PW that holds ``interface`` in a VSI not in
        ``excluded`` (the VSIs being replaced), in :func:`validate`'s words; None if free."""
        vsi = self._port_vsi.get(interface)
        if vsi is None or vsi.name in excluded:
            return None
        for ac in vsi.config.acs:
            if ac.interface == interface:
                return f"vsi[{vsi.name}]/ac[{interface}]"
        for pw in vsi.config.pws:
            if pw.interface == interface:
                return f"vsi[{vsi.name}]/pw[{pw.peer_address},{pw.vc_id}]/interface"
        return f"vsi[{vsi.name}]"

    def _new_vsi(self, config: VsiConfig) -> Vsi:
        return Vsi(config, snooping_enabled=self._snooping_enable, device_mac=self.mac,
                   local_address=self.address, deadlines=self.deadlines, events=self._events,
                   link_up=self._link_up)

    def _index_ports(self) -> None:
        self._ports = {}
        self._port_vsi = {}
        for vsi in self.vsis.values():
            self._index_vsi_ports(vsi)

    def _index_vsi_ports(self, vsi: Vsi) -> None:
        for name, port in vsi.ports.items():
            self._ports[name] = port
            self._port_vsi[name] = vsi

    def _unindex_ports(self, vsi: Vsi) -> None:
        for name in vsi.ports:
            if self._port_vsi.get(name) is vsi:
                del self._ports[name]
                del self._port_vsi[name]

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

    def clear_groups(self, vsi: str | None, now: float) -> int:
        """clear-groups action / reset-igmp-snooping-group RPC (None = every VSI); returns
        how many group entries went (static ones stay)."""
        removed = 0
        for target in self._targets(vsi):
            if target.snooping is None:
                continue
            before = target.snooping.entry_count
            target.clear_groups(now)
            removed += before - target.snooping.entry_count
        return removed

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
