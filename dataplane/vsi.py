"""One VSI: a learning bridge with VPLS split horizon, IGMP snooping and PW redundancy.

Per frame, in order: PW control frames go to :mod:`dataplane.pw_redundancy`; a standby PW
passes only what the backup-forwarding settings allow (SPEC 2.3); everything else is
bridged: MAC learning and move counting, IGMP handled by :mod:`dataplane.snooping`,
multicast data forwarded per group, unicast per MAC table.

The data fast path reads a few bytes and does one dict lookup: each port keeps a cache
``group -> (output ports, withheld-from-standby)`` computed once per (ingress, group) and
invalidated when that group's membership changes (or for everyone, when a port or router
port changes). Split horizon is baked into the cached tuples. Reports are learned on a
second fast path; every other frame is parsed once by :func:`dataplane.packet.classify`.

PW recovery (SPEC 2.1: the revert is as rapid as the switchover). A PW that goes down loses
its entries on both of its ends, and on the owner its router port; the peer behind it would
learn the groups again only when the querier next asks and the hosts answer, up to a query
interval later, so the revert after wait-to-restore would find it empty. Snooping switches solve the same
problem after a topology change by asking the hosts themselves (Cisco's TCN query solicit,
RFC 4541 2.1.1's proxy queries). So when a member of a redundancy pair comes back up on its
owner, while IGMP snooping and ``backup-report-forward`` are on:

* it becomes a router port (flagged ``via-backup`` while standby) if its sibling is one: a
  redundancy pair protects one upstream, so the routers behind one member are behind the
  other, and ``backup-report-forward`` sends reports only to router ports. The router's
  next query through the peer refreshes it; if none comes, it ages out like any other;
* the owner sends one General Query from 0.0.0.0 (configured version and max-response-time,
  device MAC) out of its ACs, counted in ``queries_solicited``. Hosts report within
  max-response-time, the reports cross the recovered standby PW, and the peer holds the
  entries long before wait-to-restore ends. The null source keeps the query out of every
  querier election and router-port learning.

Without ``backup-report-forward`` nothing could cross the standby PW, so nothing is sent.
"""

from __future__ import annotations

import struct

from dataplane.addr import BROADCAST_MAC, is_link_local_group
from dataplane.config import VsiConfig
from dataplane.events import EventQueue, PwStateChanged, PwSwitchover
from dataplane.igmp import (
    IGMP_LEAVE,
    IGMP_V1_REPORT,
    IGMP_V2_REPORT,
    IgmpLeave,
    IgmpQuery,
    IgmpReport,
    IgmpUnknown,
    IgmpV3Report,
)
from dataplane.invalid import InvalidFrame, InvalidReason
from dataplane.packet import Kind, Packet, classify, replace_source_mac
from dataplane.pw_redundancy import Pseudowire, PwRedundancy
from dataplane.snooping import Snooping
from dataplane.stats import VsiStatistics
from dataplane.timers import Deadlines

__all__ = ["MAC_AGING_TIME", "MacEntry", "Port", "Vsi"]

Frames = list[tuple[str, bytes]]
MAC_AGING_TIME = 300.0
"""IEEE 802.1Q default ageing time for learned MAC entries."""

_IEEE_RESERVED_PREFIX = b"\x01\x80\xc2\x00\x00"  # 01-80-C2-00-00-0x: never bridged (802.1Q 8.6.3)
_SOURCE_SPECIFIC: tuple[tuple[str, ...], bool] = ((), False)
"""Cache marker: this group's forwarding depends on the data's source; look up by (group, source)."""
_CACHE_LIMIT = 65536
"""Decisions cached per ingress port before the cache starts over."""
_SLOW_PROTOCOLS = frozenset((2, 103))
"""IGMP and PIM: never data, snooping has to look at them."""
_FAST_IGMP_TYPES = frozenset((IGMP_V1_REPORT, IGMP_V2_REPORT, IGMP_LEAVE))


class Port:
    """An AC or PW of the VSI as the forwarding code sees it."""

    __slots__ = ("name", "pw", "link_up", "forwarding", "standby", "oper_up", "flood",
                 "cache", "router_out", "hold")

    def __init__(self, name: str, pw: Pseudowire | None, link_up: bool) -> None:
        self.name = name
        self.pw = pw
        self.link_up = link_up
        self.forwarding = False
        """Data may enter and leave: an AC that is up, or an active PW."""
        self.standby = False
        """A PW that is up but standby: protocol frames only, and only with the feature."""
        self.oper_up = False
        self.flood: tuple[str, ...] = ()
        """Where a flooded frame entering here goes (split horizon applied)."""
        self.cache: dict[int, tuple[tuple[str, ...], bool]] = {}
        self.router_out: tuple[tuple[str, ...], int] | None = None
        """Cached (router ports for reports from here, standby PWs among them)."""
        self.hold: _FastControlHold | None = None

    @property
    def is_pw(self) -> bool:
        return self.pw is not None

    def refresh(self) -> None:
        pw = self.pw
        if pw is None:
            self.oper_up = self.forwarding = self.link_up
            self.standby = False
        else:
            self.oper_up = pw.oper_up
            self.forwarding = pw.active
            self.standby = pw.oper_up and not pw.active


class MacEntry:
    """A learned MAC address; ages after MAC_AGING_TIME without traffic from it."""

    __slots__ = ("vsi", "mac", "port", "seen", "since", "scheduled")

    def __init__(self, vsi: Vsi, mac: bytes, port: Port, now: float) -> None:
        self.vsi = vsi
        self.mac = mac
        self.port = port
        self.seen = now
        self.since = now
        self.scheduled: float | None = None

    def fire(self, now: float) -> Frames:
        expires = self.seen + MAC_AGING_TIME
        if expires > now:
            self.vsi.deadlines.schedule(self, expires)
        elif self.vsi.mac_table.get(self.mac) is self:
            del self.vsi.mac_table[self.mac]
        return []


class _FastControlHold:
    """pw-fast-control: a PW that went down keeps its entries for the holdtime."""

    __slots__ = ("vsi", "port", "scheduled")

    def __init__(self, vsi: Vsi, port: Port) -> None:
        self.vsi = vsi
        self.port = port
        self.scheduled: float | None = None

    def fire(self, now: float) -> Frames:
        if self.port.hold is self:
            self.port.hold = None
            if not self.port.oper_up and self.vsi.snooping is not None:
                self.vsi.snooping.flush_port(self.port.name, now, "pw-fast-control-holdtime")
        return []


class Vsi:
    """A virtual switch instance."""

    def __init__(
        self,
        config: VsiConfig,
        *,
        snooping_enabled: bool,
        device_mac: bytes,
        local_address: int,
        deadlines: Deadlines,
        events: EventQueue,
        link_up: dict[str, bool],
    ) -> None:
        self.name = config.name
        self.config = config
        self.device_mac = device_mac
        self.local_address = local_address
        self.deadlines = deadlines
        self.events = events
        self.stats = VsiStatistics()
        self.mac_table: dict[bytes, MacEntry] = {}
        self.mac_moves = 0
        self.flood_unknown = config.unknown_multicast_action == "flood"
        self.pws = PwRedundancy(config.pws, local_address, device_mac, deadlines, self)
        self.ports: dict[str, Port] = {}
        for ac in config.acs:
            self.ports[ac.interface] = Port(ac.interface, None, link_up.get(ac.interface, True))
        for pw in self.pws.pws.values():
            pw.link_up = link_up.get(pw.interface, True)
            self.ports[pw.interface] = Port(pw.interface, pw, pw.link_up)
        self.snooping: Snooping | None = None
        if snooping_enabled and config.igmp.enable:
            self.snooping = self._new_snooping(config)
        self._source_specific_cached: set[int] = set()
        self._cached: set[int] = set()
        """Groups with a cached decision on some port: a change elsewhere costs nothing."""
        self._ports_changed()

    def _new_snooping(self, config: VsiConfig) -> Snooping:
        return Snooping(self.name, config.igmp, self.deadlines, self.events, self.stats, self.invalidate,
                        self, self.local_address, self.device_mac)

    def start(self, now: float) -> Frames:
        frames = self.pws.start(now)
        if self.snooping is not None:
            frames += self.snooping.start(now)
        return frames

    def stop(self) -> None:
        self.pws.stop()
        if self.snooping is not None:
            self.snooping.stop()
        for entry in self.mac_table.values():
            entry.scheduled = None
        for port in self.ports.values():
            if port.hold is not None:
                port.hold.scheduled = None

    def set_device_mac(self, mac: bytes) -> None:
        """device-mac changed: replaced and self-originated frames use the new one from now."""
        self.device_mac = mac
        self.pws.mac = mac
        if self.snooping is not None:
            self.snooping.device_mac = mac

    def reconfigure(self, config: VsiConfig, snooping_enabled: bool, now: float) -> Frames:
        """Change settings that keep the ports: learned state stays where it still applies."""
        self.config = config
        self.flood_unknown = config.unknown_multicast_action == "flood"
        frames: Frames = []
        want = snooping_enabled and config.igmp.enable
        if self.snooping is not None and not want:
            self.snooping.stop()
            self.snooping = None
        elif want and self.snooping is None:
            self.snooping = self._new_snooping(config)
            frames += self.snooping.start(now)
        elif want and self.snooping is not None:
            frames += self.snooping.reconfigure(config.igmp, now)
        self.invalidate(None)
        return frames

    # -- receive --------------------------------------------------------------------

    def receive(self, port: Port, frame: bytes, now: float, _from_bytes=int.from_bytes) -> Frames:  # noqa: ANN001
        """Everything a frame arriving on ``port`` causes; two fast paths first.

        Bytes 12..34 (EtherType and a 20-byte IPv4 header) read as one integer give
        version/IHL, protocol and group, and the header checksum verifies when that integer
        is 0x0800 modulo 0xFFFF (RFC 1071 arithmetic: 2**16 is 1 modulo 0xFFFF, so the
        remainder is the sum of the 16-bit words, the EtherType included). Untagged IPv4
        multicast data without options is forwarded from the per-port cache; plain v1/v2
        reports and leaves are learned without building objects; everything else (tags,
        options, v3, queries, PIM, link-local groups, unicast, bad input) goes through
        ``classify``. Property tests hold both fast paths to the codec.
        """
        if port.forwarding and frame[:1] == b"\x01":
            header = _from_bytes(frame[12:34], "big")
            top = header >> 152
            group = header & 0xFFFFFFFF
            if top == 0x080045 and header % 0xFFFF == 0x0800 and 0xE0000100 <= group <= 0xEFFFFFFF \
                    and (header >> 80) & 0xFF not in _SLOW_PROTOCOLS \
                    and 20 <= (header >> 128) & 0xFFFF <= len(frame) - 14:
                src = frame[6:12]
                entry = self.mac_table.get(src)
                if entry is not None and entry.port is port:
                    entry.seen = now
                else:
                    self._learn(src, port, now)
                decision = port.cache.get(group)
                if decision is None or decision is _SOURCE_SPECIFIC:
                    decision = self._decision(port, group, _from_bytes(frame[26:30], "big"))
                names, withheld = decision
                if withheld:
                    self.stats.data_dropped_on_standby += 1
                if names:
                    self.stats.data_forwarded += 1
                    if len(names) == 1:
                        return [(names[0], frame)]
                    return [(name, frame) for name in names]
                self.stats.data_dropped_unknown += 1
                return []
            if (top == 0x080046 or top == 0x080045) and group >> 8 != 0xE00000 and self.snooping is not None \
                    and (header >> 80) & 0xFF == 2:
                fast = _fast_membership_message(frame)
                if fast is not None:
                    return self._fast_membership(port, fast, frame, now)
        return self._receive_slow(port, frame, now)

    def _fast_membership(self, port: Port, fast: tuple[int, int, int], frame: bytes, now: float) -> Frames:
        """A plain v1/v2 report or v2 leave on a forwarding port (see _fast_membership_message)."""
        snooping = self.snooping
        assert snooping is not None
        kind, group, reporter = fast
        src = frame[6:12]
        entry = self.mac_table.get(src)
        if entry is not None and entry.port is port:
            entry.seen = now
        else:
            self._learn(src, port, now)
        stats = self.stats
        if kind == IGMP_V2_REPORT or kind == IGMP_V1_REPORT:
            if kind == IGMP_V2_REPORT:
                stats.reports_v2_received += 1
            else:
                stats.reports_v1_received += 1
            if not snooping.report(port.name, group, reporter, now, False):
                return []
            # _forward_membership inlined: this is the learning hot path (one call is ~3 %)
            out = self._to_router_ports(port, frame, False)
            if out:
                stats.reports_forwarded += 1
            return out
        stats.leaves_received += 1
        return self._forward_membership(port, frame, True, False, snooping.leave(port.name, group, now))

    def _receive_slow(self, port: Port, frame: bytes, now: float) -> Frames:
        try:
            packet = classify(frame)
        except InvalidFrame as error:
            self.stats.count_invalid(error.reason.value)
            return []
        if packet.kind == Kind.PW_CONTROL:
            return self._pw_control(port, packet, now)
        if port.standby:
            return self._receive_on_standby(port, packet, frame, now)
        if not port.forwarding:
            return []
        if packet.dst[:5] == _IEEE_RESERVED_PREFIX:
            return []
        self._learn(packet.src, port, now)
        if self.snooping is not None:
            if packet.kind == Kind.IGMP:
                return self._igmp(port, packet, frame, now)
            if packet.kind == Kind.PIM_HELLO:
                self.stats.pim_hellos_received += 1
                self.snooping.mark_router(port.name, now, via_backup=False)
        if packet.kind in (Kind.DATA, Kind.PIM_HELLO) and packet.ip is not None and packet.dst[0] & 1 \
                and packet.ip.dst >> 28 == 0xE:
            return self._multicast_data(port, packet.ip.dst, packet.ip.src, frame)
        return self._bridge(port, packet.dst, frame)

    def _pw_control(self, port: Port, packet: Packet, now: float) -> Frames:
        """PW status and keepalives terminate here; on an AC they are simply not bridged."""
        if port.pw is None or packet.pw_control is None:
            return []
        try:
            return self.pws.receive_control(port.pw, packet.pw_control, now)
        except InvalidFrame as error:
            self.stats.count_invalid(error.reason.value)
            return []

    def _receive_on_standby(self, port: Port, packet: Packet, frame: bytes, now: float) -> Frames:
        """SPEC 2.3: a standby PW passes protocol frames only as the backup settings say."""
        snooping = self.snooping
        message = packet.igmp
        if snooping is not None and packet.kind == Kind.IGMP and packet.ip is not None:
            igmp = snooping.config
            if isinstance(message, IgmpQuery) and igmp.backup_query_forward:
                self.stats.queries_received_on_standby_pw += 1
                snooping.query_received(port.name, message, packet.ip.src, now, via_backup=True)
                return []  # accepted, and not flooded further
            if isinstance(message, (IgmpReport, IgmpLeave, IgmpV3Report)) and igmp.backup_report_forward:
                self.stats.reports_received_on_standby_pw += 1
                return self._membership_message(port, packet, message, frame, now, on_backup=True)
        if packet.kind in (Kind.IGMP, Kind.PIM_HELLO):
            self.stats.protocol_dropped_on_standby_pw += 1
        else:
            self.stats.data_dropped_on_standby += 1
        return []

    # -- IGMP -----------------------------------------------------------------------

    def _igmp(self, port: Port, packet: Packet, frame: bytes, now: float) -> Frames:
        assert self.snooping is not None and packet.ip is not None
        message = packet.igmp
        if isinstance(message, IgmpQuery):
            self.snooping.query_received(port.name, message, packet.ip.src, now, via_backup=False)
            out = self._flood_query(port, frame)
            if out:
                self.stats.queries_forwarded += 1
            return out
        if isinstance(message, (IgmpReport, IgmpLeave, IgmpV3Report)):
            return self._membership_message(port, packet, message, frame, now, on_backup=False)
        assert isinstance(message, IgmpUnknown)
        self.stats.count_invalid(InvalidReason.UNKNOWN_IGMP_TYPE.value)
        return [(name, frame) for name in port.flood]  # RFC 4541 2.1.1: flood what we don't know

    def _membership_message(self, port: Port, packet: Packet, message: IgmpReport | IgmpLeave | IgmpV3Report,
                            frame: bytes, now: float, on_backup: bool) -> Frames:
        """Reports and leaves: learn, then forward to router ports only."""
        assert self.snooping is not None and packet.ip is not None
        stats, reporter = self.stats, packet.ip.src
        queries: Frames = []
        if isinstance(message, IgmpReport):
            if message.version == 1:
                stats.reports_v1_received += 1
            else:
                stats.reports_v2_received += 1
            accepted = self.snooping.report(port.name, message.group, reporter, now, on_backup)
        elif isinstance(message, IgmpLeave):
            stats.leaves_received += 1
            queries = self.snooping.leave(port.name, message.group, now)
            accepted = True
        else:
            stats.reports_v3_received += 1
            accepted, queries = self.snooping.v3_report(port.name, message.records, reporter, now, on_backup)
        if not accepted:
            return queries
        return self._forward_membership(port, frame, isinstance(message, IgmpLeave), on_backup, queries)

    def _forward_membership(self, port: Port, frame: bytes, is_leave: bool, on_backup: bool,
                            queries: Frames) -> Frames:
        """An accepted report or leave goes to the router ports only (RFC 4541 2.1.1), plus
        the group-specific queries a leave made us send; one place for both receive paths."""
        out = self._to_router_ports(port, frame, arrived_on_standby=on_backup)
        if out:
            if is_leave:
                self.stats.leaves_forwarded += 1
            else:
                self.stats.reports_forwarded += 1
        return out + queries if queries else out

    def _flood_query(self, ingress: Port | None, frame: bytes) -> Frames:
        """Queries flood to every port but the ingress; with backup-query-forward also out of
        standby PWs (never PW to PW), with our MAC when source-mac-replace is on."""
        names = ingress.flood if ingress is not None else self._all_forwarding()
        out = [(name, frame) for name in names]
        snooping = self.snooping
        if snooping is None or not snooping.config.backup_query_forward:
            return out
        if ingress is not None and ingress.is_pw:
            return out
        standby = [p.name for p in self.ports.values() if p.standby and p is not ingress]
        if not standby:
            return out
        copy = frame
        if snooping.config.backup_query_source_mac_replace and frame[6:12] != self.device_mac:
            copy = replace_source_mac(frame, self.device_mac)
            self.stats.source_macs_replaced += len(standby)
        self.stats.queries_sent_on_standby_pw += len(standby)
        return out + [(name, copy) for name in standby]

    def _to_router_ports(self, ingress: Port, frame: bytes, arrived_on_standby: bool) -> Frames:
        """Reports and leaves go to router ports only (RFC 4541 2.1.1), never back, never PW
        to PW; standby router PWs too with backup-report-forward."""
        assert self.snooping is not None
        routes = ingress.router_out
        if routes is None:
            routes = ingress.router_out = self._router_out(ingress)
        names, standby_out = routes
        if not names:
            return []
        if standby_out:
            self.stats.reports_sent_on_standby_pw += standby_out
        if arrived_on_standby and self.snooping.config.backup_report_source_mac_replace:
            frame = replace_source_mac(frame, self.device_mac)
            self.stats.source_macs_replaced += 1
        if len(names) == 1:
            return [(names[0], frame)]
        return [(name, frame) for name in names]

    def _router_out(self, ingress: Port) -> tuple[tuple[str, ...], int]:
        """(router ports a report from ``ingress`` goes to, how many of them are standby PWs)."""
        assert self.snooping is not None
        forward_to_standby = self.snooping.config.backup_report_forward
        names: list[str] = []
        standby_out = 0
        for port in self.ports.values():
            if port.name not in self.snooping.router_ports or port is ingress or (ingress.is_pw and port.is_pw):
                continue
            if port.forwarding:
                names.append(port.name)
            elif port.standby and forward_to_standby:
                names.append(port.name)
                standby_out += 1
        return (tuple(names), standby_out)

    def send_query(self, frame: bytes, port: str | None, now: float) -> Frames:
        """Self-originated queries (we are the querier)."""
        if port is None:
            return self._flood_query(None, frame)
        target = self.ports.get(port)
        if target is None:
            return []
        if target.forwarding:
            return [(port, frame)]
        if target.standby and self.snooping is not None and self.snooping.config.backup_query_forward:
            self.stats.queries_sent_on_standby_pw += 1
            return [(port, frame)]
        return []

    # -- data -----------------------------------------------------------------------

    def _multicast_data(self, port: Port, group: int, source: int, frame: bytes) -> Frames:
        names, withheld = self._decision(port, group, source)
        if withheld:
            self.stats.data_dropped_on_standby += 1
        if names:
            self.stats.data_forwarded += 1
        else:
            self.stats.data_dropped_unknown += 1
        return [(name, frame) for name in names]

    def _decision(self, port: Port, group: int, source: int) -> tuple[tuple[str, ...], bool]:
        cache = port.cache
        decision = cache.get(group)
        if decision is not None and decision is not _SOURCE_SPECIFIC:
            return decision
        if len(cache) >= _CACHE_LIMIT or len(self._cached) >= _CACHE_LIMIT:
            # A storm of distinct groups or sources (random unknown multicast, say) must not
            # grow memory: start every cache over.
            self.invalidate(None)
            decision = None
        if decision is _SOURCE_SPECIFIC:
            key = (group << 32) | source
            decision = cache.get(key)
            if decision is None:
                decision = cache[key] = self._compute(port, group, source)
            return decision
        if self.snooping is not None and self.snooping.is_source_specific(group):
            cache[group] = _SOURCE_SPECIFIC
            self._source_specific_cached.add(group)
            return self._decision(port, group, source)
        decision = cache[group] = self._compute(port, group, source)
        self._cached.add(group)
        return decision

    def _compute(self, ingress: Port, group: int, source: int) -> tuple[tuple[str, ...], bool]:
        """SPEC 2.2 data rules: members that forward + router ports, never the ingress;
        224.0.0.0/24 floods; unregistered groups go to router ports and flood or drop."""
        snooping = self.snooping
        if snooping is None or is_link_local_group(group):
            return (ingress.flood, False)
        allowed = set(ingress.flood)
        chosen = {name for name in snooping.router_ports if name in allowed}
        members = snooping.member_ports(group, source)
        withheld = False
        if members is None:
            if self.flood_unknown:
                chosen = allowed
        else:
            chosen |= members & allowed
            withheld = any(self.ports[m].standby for m in members if m in self.ports)
        return (tuple(p.name for p in self.ports.values() if p.name in chosen), withheld)

    def _bridge(self, ingress: Port, dst: bytes, frame: bytes) -> Frames:
        """Broadcast, non-IP multicast and unknown unicast flood; known unicast follows the
        MAC table (filtered when the destination sits behind the ingress)."""
        if not dst[0] & 1:
            entry = self.mac_table.get(dst)
            if entry is not None:
                out = entry.port
                if out is ingress or (ingress.is_pw and out.is_pw) or not out.forwarding:
                    return []
                return [(out.name, frame)]
        return [(name, frame) for name in ingress.flood]

    def _learn(self, src: bytes, port: Port, now: float) -> None:
        """Source learning; a known address seen on another port is a MAC move."""
        if src[0] & 1 or src == BROADCAST_MAC:
            return
        entry = self.mac_table.get(src)
        if entry is None:
            entry = self.mac_table[src] = MacEntry(self, src, port, now)
            self.deadlines.schedule(entry, now + MAC_AGING_TIME)
            return
        if entry.port is not port:
            self.mac_moves += 1
            entry.port = port
            entry.since = now
        entry.seen = now

    # -- ports, PW state --------------------------------------------------------------

    def link_state(self, name: str, up: bool, now: float) -> Frames:
        port = self.ports[name]
        port.link_up = up
        if port.pw is not None:
            return self.pws.link_state(port.pw, up, now)
        self._port_changed(port, now)
        return []

    def pw_changed(self, pw: Pseudowire, now: float) -> Frames:
        port = self.ports[pw.interface]
        was_up = port.oper_up
        self._port_changed(port, now)
        forwarding_entries = 0
        if port.forwarding and self.snooping is not None:
            forwarding_entries = self.snooping.count_on_port(port.name)
        self.events.append(PwStateChanged(self.name, pw.key, pw.oper_status, pw.forwarding_state,
                                          pw.remote_status or "active", now, forwarding_entries))
        if not was_up and port.oper_up:
            return self._pair_member_recovered(port, now)
        return []

    def _pair_member_recovered(self, port: Port, now: float) -> Frames:
        """Prepare the peer behind a recovered pair member before it is needed (module
        docstring: "PW recovery"): the PW becomes a router port like its sibling, and the
        hosts are asked to report so that their reports cross it at once."""
        snooping = self.snooping
        pw = port.pw
        sibling = self.pws.sibling(pw) if pw is not None else None
        if snooping is None or sibling is None or not snooping.config.backup_report_forward:
            return []
        if sibling.interface in snooping.router_ports and port.name not in snooping.router_ports:
            snooping.mark_router(port.name, now, via_backup=port.standby)
        acs = [p.name for p in self.ports.values() if not p.is_pw and p.forwarding]
        if not acs:
            return []
        self.stats.queries_solicited += 1
        query = snooping.solicitation_query()
        return [(name, query) for name in acs]

    def pw_switched(self, from_pw: Pseudowire, to_pw: Pseudowire, now: float) -> None:
        preinstalled = self.snooping.count_on_port(to_pw.interface) if self.snooping is not None else 0
        self.stats.switchovers += 1
        self.stats.last_switchover_time = now
        self.events.append(PwSwitchover(self.name, from_pw.key, to_pw.key, preinstalled, now))

    def _port_changed(self, port: Port, now: float) -> None:
        """Apply a port's new state: entries learned on a PW that turns active forward in this
        very step (the caches are rebuilt); a port that goes down loses its entries at once,
        or after the pw-fast-control holdtime."""
        was_up, was_forwarding = port.oper_up, port.forwarding
        port.refresh()
        if was_forwarding and not port.forwarding:
            for mac in [m for m, e in self.mac_table.items() if e.port is port]:
                self.mac_table[mac].scheduled = None
                del self.mac_table[mac]
        if was_up and not port.oper_up and self.snooping is not None:
            if port.is_pw and self.snooping.config.pw_fast_control:
                port.hold = _FastControlHold(self, port)
                self.deadlines.schedule(port.hold, now + self.snooping.config.pw_fast_control_holdtime)
            else:
                self.snooping.flush_port(port.name, now, "port-down")
        if port.oper_up and port.hold is not None:
            port.hold.scheduled = None
            port.hold = None
        self._ports_changed()

    def _ports_changed(self) -> None:
        for port in self.ports.values():
            port.refresh()
        for port in self.ports.values():
            port.flood = tuple(p.name for p in self.ports.values()
                               if p is not port and p.forwarding and not (port.is_pw and p.is_pw))
        self.invalidate(None)

    def _all_forwarding(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.ports.values() if p.forwarding)

    def invalidate(self, group: int | None) -> None:
        """Forget cached decisions for ``group`` (None: all) after a state change."""
        if group is None or group in self._source_specific_cached:
            for port in self.ports.values():
                port.cache.clear()
                port.router_out = None
            self._source_specific_cached.clear()
            self._cached.clear()
            return
        if group in self._cached:
            self._cached.discard(group)
            for port in self.ports.values():
                port.cache.pop(group, None)

    # -- read access for operational state --------------------------------------------

    def port_forwarding(self, name: str) -> bool:
        """Whether data may leave through ``name`` now (a membership's ``forwarding`` leaf)."""
        port = self.ports.get(name)
        return port is not None and port.forwarding

    def port_oper_up(self, name: str) -> bool:
        port = self.ports.get(name)
        return port is not None and port.oper_up

    # -- actions --------------------------------------------------------------------

    def clear_groups(self, now: float) -> None:
        if self.snooping is not None:
            self.snooping.clear(now)


_ROUTER_ALERT_OPTION = 0x94040000
"""IPv4 option word of a Router Alert (RFC 2113): type 148, length 4, value 0."""
_V2_MESSAGE = struct.Struct("!H2xH2xH4xI4xB3xI")
"""From the EtherType, IHL 5: EtherType, Total Length, flags/fragment offset, source (the
reporter), then the IGMP type and group; the bytes between are checked by the checksums."""
_V2_MESSAGE_AFTER_ROUTER_ALERT = struct.Struct("!H2xH2xH4xI4xIB3xI")
"""The same for IHL 6, with the one option word before the IGMP message."""


def _fast_membership_message(frame: bytes, _from_bytes=int.from_bytes) -> tuple[int, int, int] | None:  # noqa: ANN001
    """(type, group, reporter) of an untagged, well-formed IGMPv1/v2 report or v2 leave, else
    None (then ``classify`` decides, errors included). Learning runs at report rate, so the
    fields are read by one precompiled ``struct`` call and each checksum as one integer,
    instead of objects. It accepts only what ``classify`` accepts with the same meaning: IHL
    5, or 6 holding exactly a Router Alert; not a fragment; Total Length = header + 8; both
    checksums verify; a multicast group. A test holds the two paths together."""
    if len(frame) < 42:
        return None
    first = frame[14]
    if first == 0x46:
        if len(frame) < 46:
            return None
        ethertype, length, fragment, reporter, option, kind, group = \
            _V2_MESSAGE_AFTER_ROUTER_ALERT.unpack_from(frame, 12)
        if option != _ROUTER_ALERT_OPTION:
            return None
        end = 46
    elif first == 0x45:
        ethertype, length, fragment, reporter, kind, group = _V2_MESSAGE.unpack_from(frame, 12)
        end = 42
    else:
        return None
    if ethertype != 0x0800 or length != end - 14 or fragment & 0x3FFF:
        return None  # not IPv4, Total Length is not header + 8, or a fragment
    header = _from_bytes(frame[14:end - 8], "big")
    message = _from_bytes(frame[end - 8:end], "big")
    if not header or header % 0xFFFF or not message or message % 0xFFFF:
        return None  # a checksum does not verify (RFC 1071: the sum of all words is 0xFFFF)
    if kind not in _FAST_IGMP_TYPES or group >> 28 != 0xE:
        return None
    return (kind, group, reporter)
