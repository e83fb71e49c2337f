"""The dataplane's configuration: frozen dataclasses the agent translates YANG into.

The agent validates against the YANG schema; :func:`validate` repeats the rules the
dataplane itself depends on (so the simulator and tests, which build these objects by hand,
cannot hand the core something it would misbehave on). Every refusal is a
:class:`ConfigError` whose ``path`` names the offending item in the YANG tree's shape
(``vsi[iptv]/pw[10.0.0.2,100]/role``) so the agent can map it back to an ``error-path``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Literal

from dataplane.addr import ip_int, is_link_local_group, is_multicast, mac_bytes

__all__ = [
    "AcConfig",
    "ConfigError",
    "DeviceConfig",
    "IgmpSnoopingConfig",
    "PwConfig",
    "StaticGroup",
    "VsiConfig",
    "validate",
    "validate_vsis",
]

PwRole = Literal["primary", "backup"]
UnknownMulticastAction = Literal["flood", "drop"]

_VSI_NAME = re.compile(r"[A-Za-z0-9._-]{1,31}")
PW_FAST_CONTROL_HOLDTIME_RANGE = (5.0, 120.0)


class ConfigError(ValueError):
    """A configuration the dataplane refuses; ``path`` names the offending item."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class StaticGroup:
    """A configured membership: never ages, never removed by leaves."""

    group_address: str
    source_address: str = "0.0.0.0"
    interface: str = ""


@dataclass(frozen=True)
class IgmpSnoopingConfig:
    """Per-VSI IGMP snooping settings (RFC 2236 / RFC 3376 timer names, seconds)."""

    enable: bool = False
    version: int = 2
    query_interval: float = 60.0
    max_response_time: float = 10.0
    last_member_query_interval: float = 1.0
    robustness: int = 2
    router_aging_time: float = 180.0
    router_port_learning: bool = True
    immediately_leave: bool = False
    querier_enable: bool = False
    limit_max_entry: int | None = None
    backup_query_forward: bool = False
    backup_query_source_mac_replace: bool = False
    backup_report_forward: bool = False
    backup_report_source_mac_replace: bool = False
    pw_fast_control: bool = False
    pw_fast_control_holdtime: float = 5.0
    static_router_ports: frozenset[str] = frozenset()
    static_groups: frozenset[StaticGroup] = frozenset()

    @property
    def membership_interval(self) -> float:
        """Group Membership Interval, RFC 2236 8.4 / RFC 3376 8.4."""
        return self.robustness * self.query_interval + self.max_response_time

    @property
    def last_member_query_time(self) -> float:
        """How long a port stays after a leave when not leaving immediately (RFC 3376 8.14)."""
        return self.last_member_query_interval * self.robustness

    @property
    def other_querier_present_interval(self) -> float:
        """RFC 2236 8.5 / RFC 3376 8.5: robustness x QI + QRI / 2."""
        return self.robustness * self.query_interval + self.max_response_time / 2


@dataclass(frozen=True)
class AcConfig:
    """An attachment circuit: a dataplane port facing customers."""

    interface: str


@dataclass(frozen=True)
class PwConfig:
    """A pseudowire, keyed by (peer-address, vc-id) as in LDP signalling (RFC 4762)."""

    peer_address: str
    vc_id: int
    interface: str
    role: PwRole | None = None
    revertive: bool = True
    wtr_time: float = 30.0
    keepalive_interval: float = 0.1
    keepalive_multiplier: int = 3

    @property
    def key(self) -> tuple[str, int]:
        return (self.peer_address, self.vc_id)


@dataclass(frozen=True)
class VsiConfig:
    """One virtual switch instance."""

    name: str
    description: str | None = None
    unknown_multicast_action: UnknownMulticastAction = "flood"
    acs: tuple[AcConfig, ...] = ()
    pws: tuple[PwConfig, ...] = ()
    igmp: IgmpSnoopingConfig = field(default_factory=IgmpSnoopingConfig)

    def interfaces(self) -> set[str]:
        return {ac.interface for ac in self.acs} | {pw.interface for pw in self.pws}


@dataclass(frozen=True)
class DeviceConfig:
    """The whole device: the global switch, the device MAC, and the VSIs."""

    igmp_snooping_enable: bool = False
    device_mac: str | None = None
    vsis: tuple[VsiConfig, ...] = ()


def validate(config: DeviceConfig) -> None:
    """Refuse anything the core cannot run; raise the first problem as ConfigError."""
    if config.device_mac is not None:
        _check(_is_mac(config.device_mac), "device-mac", f"not a MAC address: {config.device_mac!r}")
    names: set[str] = set()
    owners: dict[str, str] = {}
    for vsi in config.vsis:
        path = f"vsi[{vsi.name}]"
        _check(bool(_VSI_NAME.fullmatch(vsi.name)), f"{path}/name",
               "a VSI name is 1..31 letters, digits, '.', '_' or '-'")
        _check(vsi.name not in names, path, "duplicate VSI name")
        names.add(vsi.name)
        _validate_vsi(vsi, path, config.igmp_snooping_enable, owners)


def validate_vsis(vsis: Iterable[VsiConfig], global_enable: bool, owner_of: Callable[[str], str | None]) -> None:
    """:func:`validate` for VSIs that join an already valid configuration in place of their
    old selves: each is checked like there, and an interface may not be one that
    ``owner_of(interface)`` says another VSI, staying as it is, already holds (it returns that
    holder's path, or None).  The cost depends on these VSIs only, not on the device's size.
    """
    owners = _Owners(owner_of)
    names: set[str] = set()
    for vsi in vsis:
        path = f"vsi[{vsi.name}]"
        _check(bool(_VSI_NAME.fullmatch(vsi.name)), f"{path}/name",
               "a VSI name is 1..31 letters, digits, '.', '_' or '-'")
        _check(vsi.name not in names, path, "duplicate VSI name")
        names.add(vsi.name)
        _validate_vsi(vsi, path, global_enable, owners)


class _Owners(MutableMapping[str, str]):
    """Interface -> owner path: claims made now, over the holders ``owner_of`` knows."""

    def __init__(self, owner_of: Callable[[str], str | None]) -> None:
        self._claimed: dict[str, str] = {}
        self._owner_of = owner_of

    def __getitem__(self, interface: str) -> str:
        owner = self._claimed.get(interface) or self._owner_of(interface)
        if owner is None:
            raise KeyError(interface)
        return owner

    def __contains__(self, interface: object) -> bool:
        return interface in self._claimed or (isinstance(interface, str) and self._owner_of(interface) is not None)

    def __setitem__(self, interface: str, path: str) -> None:
        self._claimed[interface] = path

    def __delitem__(self, interface: str) -> None:
        del self._claimed[interface]

    def __iter__(self) -> Iterator[str]:
        return iter(self._claimed)

    def __len__(self) -> int:
        return len(self._claimed)


def _validate_vsi(vsi: VsiConfig, path: str, global_enable: bool, owners: MutableMapping[str, str]) -> None:
    _check(vsi.unknown_multicast_action in ("flood", "drop"), f"{path}/unknown-multicast-action",
           f"must be 'flood' or 'drop', not {vsi.unknown_multicast_action!r}")
    for ac in vsi.acs:
        _claim_interface(owners, ac.interface, f"{path}/ac[{ac.interface}]")
    keys: set[tuple[str, int]] = set()
    for pw in vsi.pws:
        pw_path = f"{path}/pw[{pw.peer_address},{pw.vc_id}]"
        _validate_pw(pw, pw_path)
        _check(pw.key not in keys, pw_path, "duplicate PW (peer-address, vc-id)")
        keys.add(pw.key)
        _claim_interface(owners, pw.interface, f"{pw_path}/interface")
    _validate_roles(vsi, path)
    _validate_igmp(vsi, f"{path}/igmp-snooping", global_enable)


def _validate_pw(pw: PwConfig, path: str) -> None:
    _check(_is_ipv4(pw.peer_address), f"{path}/peer-address", f"not an IPv4 address: {pw.peer_address!r}")
    _check(1 <= pw.vc_id <= 0xFFFFFFFF, f"{path}/vc-id", "vc-id is 1..4294967295")
    _check(bool(pw.interface), f"{path}/interface", "interface is mandatory")
    _check(pw.role in (None, "primary", "backup"), f"{path}/role", f"unknown role {pw.role!r}")
    _check(pw.wtr_time >= 0, f"{path}/wtr-time", "wtr-time cannot be negative")
    _check(pw.keepalive_interval > 0, f"{path}/keepalive-interval", "must be positive")
    _check(pw.keepalive_multiplier >= 1, f"{path}/keepalive-multiplier", "must be at least 1")


def _validate_roles(vsi: VsiConfig, path: str) -> None:
    """A redundancy pair is one primary and one backup in the same VSI."""
    for role in ("primary", "backup"):
        holders = [pw for pw in vsi.pws if pw.role == role]
        if len(holders) > 1:
            pw = holders[1]
            raise ConfigError(f"{path}/pw[{pw.peer_address},{pw.vc_id}]/role",
                              f"a VSI has at most one {role} PW")
    backups = [pw for pw in vsi.pws if pw.role == "backup"]
    if backups and not any(pw.role == "primary" for pw in vsi.pws):
        pw = backups[0]
        raise ConfigError(f"{path}/pw[{pw.peer_address},{pw.vc_id}]/role",
                          "a backup PW needs a primary PW in the same VSI")


def _validate_igmp(vsi: VsiConfig, path: str, global_enable: bool) -> None:
    igmp = vsi.igmp
    if igmp.enable:
        _check(global_enable, f"{path}/enable", "IGMP snooping needs the global igmp-snooping-enable")
    _check(igmp.version in (1, 2, 3), f"{path}/version", "version is 1, 2 or 3")
    for name in ("query_interval", "max_response_time", "last_member_query_interval", "router_aging_time"):
        _check(getattr(igmp, name) > 0, f"{path}/{_yang(name)}", "must be positive")
    _check(igmp.max_response_time < igmp.query_interval, f"{path}/max-response-time",
           "must be less than query-interval (RFC 3376 8.3)")
    _check(igmp.robustness >= 1, f"{path}/robustness", "robustness is at least 1")
    if igmp.limit_max_entry is not None:
        _check(igmp.limit_max_entry >= 1, f"{path}/limit-max-entry", "must be at least 1")
    for name in ("backup_query_forward", "backup_report_forward"):
        if getattr(igmp, name):
            _check(igmp.enable, f"{path}/{_yang(name)}", "needs igmp-snooping enable")
    for replace, forward in (("backup_query_source_mac_replace", "backup_query_forward"),
                             ("backup_report_source_mac_replace", "backup_report_forward")):
        if getattr(igmp, replace):
            _check(getattr(igmp, forward), f"{path}/{_yang(replace)}", f"needs {_yang(forward)}")
    low, high = PW_FAST_CONTROL_HOLDTIME_RANGE
    _check(low <= igmp.pw_fast_control_holdtime <= high, f"{path}/pw-fast-control-holdtime",
           f"must be {low:g}..{high:g} seconds")
    ports = vsi.interfaces()
    for port in sorted(igmp.static_router_ports):
        _check(port in ports, f"{path}/static-router-port[{port}]", "not an AC or PW interface of this VSI")
    for sg in sorted(igmp.static_groups, key=lambda s: (s.group_address, s.source_address, s.interface)):
        _validate_static_group(sg, f"{path}/static-group[{sg.group_address},{sg.source_address},{sg.interface}]",
                               ports)


def _validate_static_group(sg: StaticGroup, path: str, ports: set[str]) -> None:
    _check(_is_ipv4(sg.group_address) and is_multicast(ip_int(sg.group_address)), f"{path}/group-address",
           f"not a multicast group: {sg.group_address!r}")
    _check(not is_link_local_group(ip_int(sg.group_address)), f"{path}/group-address",
           "224.0.0.0/24 is always flooded and cannot be a static group")
    source_ok = _is_ipv4(sg.source_address) and not is_multicast(ip_int(sg.source_address))
    _check(source_ok, f"{path}/source-address", f"not a unicast source (or 0.0.0.0): {sg.source_address!r}")
    _check(sg.interface in ports, f"{path}/interface", "not an AC or PW interface of this VSI")


def _claim_interface(owners: MutableMapping[str, str], interface: str, path: str) -> None:
    """SPEC 3 global rule: one interface belongs to at most one AC or PW across all VSIs."""
    _check(bool(interface), path, "interface name is empty")
    if interface in owners:
        raise ConfigError(path, f"interface {interface!r} is already used by {owners[interface]}")
    owners[interface] = path


def _check(ok: bool, path: str, message: str) -> None:
    if not ok:
        raise ConfigError(path, message)


def _is_ipv4(text: str) -> bool:
    try:
        ip_int(text)
    except ValueError:
        return False
    return True


def _is_mac(text: str) -> bool:
    try:
        mac_bytes(text)
    except ValueError:
        return False
    return True


def _yang(attribute: str) -> str:
    return attribute.replace("_", "-")
