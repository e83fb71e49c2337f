"""RFC 4541 IGMP snooping state of one VSI: the group table, router ports and the querier.

Vocabulary of RFC 2236 / RFC 3376 and the Linux bridge (``br_multicast.c``): a port's
membership of a (group, source) entry ages with the *membership interval*; a *leave* lowers
it to the *last member query time*; *router ports* are marked by General Queries with a
non-zero source and by PIM Hellos and age with *router-aging-time*; the *querier* election
keeps the lowest address.

Per-source state (RFC 3376 6.4, as seen by a snooping switch). A port is in EXCLUDE mode for
a group when it is a member of the ``(G, 0.0.0.0)`` entry; that membership carries the
*exclude list* (sources not forwarded to it). A port's membership of a ``(G, S)`` entry is a
source with a running timer: INCLUDE mode's forwarded sources, or EXCLUDE mode's requested
list, which survives the group timer (RFC 3376 6.5: EXCLUDE falls back to INCLUDE with the
sources still running). Two simplifications, both on the safe side of forwarding: an
EXCLUDE-mode requested source whose timer runs out is dropped rather than moved to the
exclude list, and BLOCK in EXCLUDE mode does not shorten anything.

Timers belong to the object they age (:class:`Membership`, :class:`RouterPort`,
:class:`Querier`, :class:`GroupQueryRetransmit`) and run on the device's
:class:`~dataplane.timers.Deadlines`.

Plain groups. Nearly every group is learned by one v1/v2 report on one port and then only
refreshed: a (G, *) entry with one dynamic EXCLUDE({}) membership. Kept as objects, that is
four objects CPython's cyclic garbage collector tracks (the entry, its rows and ports dicts,
the membership), and while a table of 100k groups fills, the collector's full passes over
them took most of the learning time. So such a group is kept as one tuple of numbers and
strings (:data:`PlainGroup`), which the collector stops tracking, and its membership timer is
owned by the table under the group's key (``Deadlines.schedule_key``). Anything else that
touches the group (a second port, a leave, a query, v3, a static, a flush) first turns it
into the :class:`Entry` and :class:`Membership` it stands for (``_promote``), keeping its
place in the deadline heap, and the general code runs unchanged. Readers see no difference:
``groups`` shows a plain group as the Entry and Membership it stands for, built on reading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol

from dataplane.addr import ALL_SYSTEMS, ip_int, ip_str, ipv4_multicast_mac, is_link_local_group
from dataplane.config import IgmpSnoopingConfig, StaticGroup
from dataplane.events import EventQueue, GroupLimitExceeded
from dataplane.igmp import GroupRecord, IgmpQuery, RecordType, build_query
from dataplane.packet import build_igmp_frame
from dataplane.stats import VsiStatistics
from dataplane.timers import Deadlines

__all__ = ["ANY_SOURCE", "Entry", "GroupQueryRetransmit", "GroupTable", "Membership", "PlainGroup", "Querier",
           "RouterPort", "Snooping"]

Frames = list[tuple[str, bytes]]
ANY_SOURCE = 0
_NONE: frozenset[int] = frozenset()
"""The one empty source set. Every membership of an any-source group carries an exclude
list, nearly always empty: sharing one object instead of a new ``frozenset()`` each saves
200 bytes and one object the garbage collector has to walk, per group."""


PlainGroup = tuple[str, float, int, float, bool, float | None, int]
"""A plain group (see the module docstring): (port, since, last reporter, expires,
learned on backup, scheduled deadline or None, sequence number of that heap entry). A plain
tuple on purpose: a tuple subclass (NamedTuple) is never untracked by the collector."""
_PORT, _SINCE, _REPORTER, _EXPIRES, _ON_BACKUP, _SCHEDULED, _SEQ = range(7)


class QueryOutput(Protocol):
    def send_query(self, frame: bytes, port: str | None, now: float) -> Frames:
        """Send a self-originated query: to ``port`` only, or flooded when None."""


class Membership:
    """One port's membership of one (group, source) entry; owns that port's timer."""

    __slots__ = ("table", "entry", "port", "static", "expires", "since", "learned_on_backup",
                 "excluded", "scheduled")

    def __init__(self, table: Snooping, entry: Entry, port: str, now: float, static: bool) -> None:
        self.table = table
        self.entry = entry
        self.port = port
        self.static = static
        self.expires: float | None = None
        self.since = now
        self.learned_on_backup = False
        self.excluded: frozenset[int] = _NONE
        """EXCLUDE mode's exclude list (only on the any-source entry)."""
        self.scheduled: float | None = None

    def fire(self, now: float) -> Frames:
        if self.static or self.expires is None:
            return []
        if self.expires > now:
            self.table.deadlines.schedule(self, self.expires)
            return []
        self.table.remove_membership(self, now, "expired")
        return []


class Entry:
    """A (group, source) row of the table; source 0.0.0.0 means any source."""

    __slots__ = ("group", "source", "ports", "since", "last_reporter")

    def __init__(self, group: int, source: int, now: float) -> None:
        self.group = group
        self.source = source
        self.ports: dict[str, Membership] = {}
        self.since = now
        self.last_reporter = 0

    @property
    def mac(self) -> bytes:
        return ipv4_multicast_mac(self.group)


class GroupTable(Mapping[int, dict[int, Entry]]):
    """``snooping.groups``: group -> {source -> Entry}, whichever way a group is kept.

    A plain group is shown as a fresh Entry with its one Membership, built on each read:
    a snapshot to read, not to change (the table does not see writes to it).
    """

    __slots__ = ("_snooping",)

    def __init__(self, snooping: Snooping) -> None:
        self._snooping = snooping

    def __getitem__(self, group: int) -> dict[int, Entry]:
        rows = self._snooping._table[group]
        if type(rows) is tuple:
            return {ANY_SOURCE: self._snooping._plain_entry(group, rows)}
        return rows

    def __iter__(self) -> Iterator[int]:
        return iter(self._snooping._table)

    def __len__(self) -> int:
        return len(self._snooping._table)


class RouterPort:
    """A port leading to a multicast router (RFC 4541 2.1.1); static ones never age."""

    __slots__ = ("table", "port", "static", "dynamic", "expires", "via_backup", "since", "scheduled")

    def __init__(self, table: Snooping, port: str, now: float) -> None:
        self.table = table
        self.port = port
        self.static = False
        self.dynamic = False
        self.expires: float | None = None
        self.via_backup = False
        self.since = now
        self.scheduled: float | None = None

    def fire(self, now: float) -> Frames:
        if not self.dynamic or self.expires is None:
            return []
        if self.expires > now:
            self.table.deadlines.schedule(self, self.expires)
            return []
        self.table.unmark_router(self.port, now)
        return []


class Querier:
    """RFC 3376 6.6 querier election and the general-query timer.

    We query only while ``querier-enable`` is set and no other querier with a lower address
    was heard within the other-querier-present interval. An address of 0.0.0.0 (a device
    without one) loses to every real querier, as in the Linux bridge.
    """

    __slots__ = ("table", "address", "other_address", "other_expires", "startup_left", "scheduled", "alive")

    def __init__(self, table: Snooping, address: int) -> None:
        self.table = table
        self.address = address
        self.other_address: int | None = None
        self.other_expires: float | None = None
        self.startup_left = table.config.robustness
        self.scheduled: float | None = None
        self.alive = True

    def is_self(self, now: float) -> bool:
        return self.table.config.querier_enable and not self.other_present(now)

    def other_present(self, now: float) -> bool:
        return self.other_expires is not None and self.other_expires > now

    def heard(self, source: int, now: float) -> None:
        """A general query from ``source``: remember it unless a lower querier is already
        present or we are querier with a lower address (RFC 3376 6.6.2)."""
        if source == 0 or source == self.address:
            return
        if self.other_present(now) and self.other_address is not None and self.other_address < source:
            return
        if self.table.config.querier_enable and self.address != 0 and self.address < source:
            return
        self.other_address = source
        self.other_expires = now + self.table.config.other_querier_present_interval
        if self.alive and self.table.config.querier_enable:
            # RFC 2236 7 / RFC 3376 6.6.2: when the other querier falls silent we take over
            # at once, not at our next query-interval tick (as the Linux bridge does)
            self.table.deadlines.schedule(self, self.other_expires)

    def current(self, now: float) -> tuple[int | None, bool]:
        """(querier address, is-self) for the operational state."""
        if self.is_self(now):
            return (self.address, True)
        if self.other_present(now):
            return (self.other_address, False)
        return (None, False)

    def fire(self, now: float) -> Frames:
        if not self.alive or not self.table.config.querier_enable:
            return []
        config = self.table.config
        if self.startup_left > 1:
            self.startup_left -= 1
            interval = config.query_interval / 4  # RFC 3376 8.6 startup query interval
        else:
            interval = config.query_interval
        if self.other_present(now):
            assert self.other_expires is not None
            self.table.deadlines.schedule(self, min(now + interval, self.other_expires))
            return []
        self.table.deadlines.schedule(self, now + interval)
        return self.table.send_general_query(now)


class GroupQueryRetransmit:
    """Group-specific queries after a leave, robustness times, last-member-query-interval
    apart (RFC 2236 3 / RFC 3376 6.6.3.1); only while we are the querier."""

    __slots__ = ("table", "group", "port", "left", "scheduled")

    def __init__(self, table: Snooping, group: int, port: str, count: int) -> None:
        self.table = table
        self.group = group
        self.port = port
        self.left = count
        self.scheduled: float | None = None

    def fire(self, now: float) -> Frames:
        querier = self.table.querier
        if self.left <= 0 or not querier.alive or not querier.is_self(now):
            return []
        self.left -= 1
        if self.left > 0:
            self.table.deadlines.schedule(self, now + self.table.config.last_member_query_interval)
        return self.table.send_group_query(self.group, self.port, now)


class Snooping:
    """The snooping state of one VSI."""

    def __init__(
        self,
        vsi: str,
        config: IgmpSnoopingConfig,
        deadlines: Deadlines,
        events: EventQueue,
        stats: VsiStatistics,
        on_change: Callable[[int | None], None],
        output: QueryOutput,
        querier_address: int,
        device_mac: bytes,
    ) -> None:
        self.vsi = vsi
        self.config = config
        self.deadlines = deadlines
        self.events = events
        self.stats = stats
        self.on_change = on_change
        """Called with a group whose forwarding changed, or None when anything may have."""
        self.output = output
        self.device_mac = device_mac
        self._table: dict[int, dict[int, Entry] | PlainGroup] = {}
        """group -> its rows, or the plain group's tuple; one dict, so groups keep the order
        they were learned in whichever way they are kept."""
        self.groups = GroupTable(self)
        self._timers = deadlines.register(self)
        """Our number for the plain groups' timers (``Deadlines.schedule_key``)."""
        self.router_ports: dict[str, RouterPort] = {}
        self.entry_count = 0
        self.limit_crossed = False
        self.querier = Querier(self, querier_address)
        self.membership_interval = config.membership_interval

    # -- configuration -----------------------------------------------------------------

    def start(self, now: float) -> Frames:
        """Install static state and, as querier, send the first general query now."""
        for port in sorted(self.config.static_router_ports):
            self._router_port(port, now).static = True
        self._install_static_groups(self.config.static_groups, now)
        self.on_change(None)
        if self.config.querier_enable:
            return self.querier.fire(now)
        return []

    def reconfigure(self, config: IgmpSnoopingConfig, now: float) -> Frames:
        """New settings on a running table: learned entries stay; statics are added and
        removed by difference; the querier starts or stops."""
        old, self.config = self.config, config
        self.membership_interval = config.membership_interval
        if config.limit_max_entry is None or self.entry_count < config.limit_max_entry:
            self.limit_crossed = False
        for port in old.static_router_ports - config.static_router_ports:
            router = self.router_ports.get(port)
            if router is not None:
                router.static = False
                if not router.dynamic:
                    self.unmark_router(port, now)
        for port in config.static_router_ports - old.static_router_ports:
            self._router_port(port, now).static = True
        for sg in old.static_groups - config.static_groups:
            entry = (self._rows(ip_int(sg.group_address)) or {}).get(ip_int(sg.source_address))
            membership = entry.ports.get(sg.interface) if entry is not None else None
            if membership is not None and membership.static:
                self.remove_membership(membership, now, "unconfigured")
        self._install_static_groups(config.static_groups - old.static_groups, now)
        self.on_change(None)
        if config.querier_enable and not old.querier_enable:
            self.querier.alive = False
            self.querier = Querier(self, self.querier.address)
            return self.querier.fire(now)
        if not config.querier_enable:
            self.querier.scheduled = None
        return []

    def _install_static_groups(self, groups: Iterable[StaticGroup], now: float) -> None:
        for sg in sorted(groups, key=lambda s: (s.group_address, s.source_address, s.interface)):
            membership = self._membership(ip_int(sg.group_address), ip_int(sg.source_address), sg.interface,
                                          now, static=True)
            if membership is not None:
                membership.static = True
                membership.expires = None
                membership.scheduled = None

    def stop(self) -> None:
        """Detach every timer: the VSI's snooping is being removed or replaced."""
        self.querier.alive = False
        self.querier.scheduled = None
        table = self._table
        for group, rows in table.items():
            if type(rows) is tuple:
                table[group] = rows[:_SCHEDULED] + (None, -1)
                continue
            for entry in rows.values():
                for membership in entry.ports.values():
                    membership.scheduled = None
        for router in self.router_ports.values():
            router.scheduled = None

    # -- router ports ------------------------------------------------------------------

    def _router_port(self, port: str, now: float) -> RouterPort:
        router = self.router_ports.get(port)
        if router is None:
            router = self.router_ports[port] = RouterPort(self, port, now)
            self.on_change(None)
        return router

    def mark_router(self, port: str, now: float, via_backup: bool) -> None:
        """br_multicast_mark_router: a query or PIM hello showed a router behind ``port``."""
        if not self.config.router_port_learning:
            return
        router = self._router_port(port, now)
        router.dynamic = True
        router.via_backup = via_backup
        router.expires = now + self.config.router_aging_time
        self.deadlines.schedule(router, router.expires)

    def unmark_router(self, port: str, now: float) -> None:
        router = self.router_ports.get(port)
        if router is None:
            return
        router.dynamic = False
        router.expires = None
        router.via_backup = False
        router.scheduled = None
        if not router.static:
            del self.router_ports[port]
            self.on_change(None)

    # -- queries -----------------------------------------------------------------------

    def query_received(self, port: str, query: IgmpQuery, source: int, now: float, via_backup: bool) -> None:
        """A query: mark the router port (general, non-zero source), run the election,
        and for a group-specific query shorten that group's timers as the Linux bridge does
        (max response time x robustness), so a leave handled by another querier ages fast."""
        if query.is_general:
            self.stats.general_queries_received += 1
            if source != 0:
                self.mark_router(port, now, via_backup)
                self.querier.heard(source, now)
            return
        self.stats.group_specific_queries_received += 1
        deadline = now + query.max_resp_time * self.config.robustness
        rows = self._rows(query.group)
        if rows is None:
            return
        sources = set(query.sources)
        for entry in list(rows.values()):
            if sources and entry.source not in sources:
                continue
            for membership in list(entry.ports.values()):
                self._lower(membership, deadline)

    def send_general_query(self, now: float) -> Frames:
        self.stats.queries_sent += 1
        return self.output.send_query(self._query_frame(0, ALL_SYSTEMS, self.config.max_response_time), None, now)

    def solicitation_query(self) -> bytes:
        """A General Query from 0.0.0.0 that makes the hosts report within max-response-time.

        RFC 4541 2.1.1 lets a snooping switch that is not the querier send such "proxy"
        queries: the null source keeps them out of querier election and router-port
        learning everywhere (``Querier.heard`` and ``query_received`` ignore source 0), so
        asking the hosts changes nobody's view of where the routers are."""
        return self._query_frame(0, ALL_SYSTEMS, self.config.max_response_time, source=0)

    def send_group_query(self, group: int, port: str, now: float) -> Frames:
        self.stats.group_specific_queries_sent += 1
        frame = self._query_frame(group, group, self.config.last_member_query_interval)
        return self.output.send_query(frame, port, now)

    def _query_frame(self, group: int, destination: int, max_resp_time: float, source: int | None = None) -> bytes:
        """A query in the configured version, from our querier address unless ``source`` is
        given. IGMPv2 carries 0.1..25.5 s (RFC 2236 2.2); QRV is 0 when robustness exceeds 7
        (RFC 3376 4.1.6); QQIC saturates (4.1.7)."""
        config = self.config
        if config.version == 2:
            max_resp_time = max(0.1, min(max_resp_time, 25.5))
        igmp = build_query(config.version, max_resp_time, group,
                           qrv=config.robustness if config.robustness <= 7 else 0,
                           qqic_seconds=min(int(config.query_interval), 31744))
        address = self.querier.address if source is None else source
        return build_igmp_frame(self.device_mac, address, destination, igmp)

    # -- reports and leaves ------------------------------------------------------------

    def report(self, port: str, group: int, reporter: int, now: float, on_backup: bool) -> bool:
        """IGMPv1/v2 report = IGMPv3 IS_EX({}) (RFC 3376 7.3.2). False when the limit refused it.

        The common cases, a new group and a host refreshing a plain group or a plain (G, *)
        membership, are done right here.
        """
        if group >> 8 == 0xE00000:  # 224.0.0.0/24 is never learned
            return True
        rows = self._table.get(group)
        if rows is None:
            return self._new_plain_group(port, group, reporter, now, on_backup)
        if type(rows) is tuple:
            if rows[_PORT] == port:  # _refresh of a plain group: a new tuple, re-armed only if earlier
                expires = now + self.membership_interval
                scheduled, seq = rows[_SCHEDULED], rows[_SEQ]
                if scheduled is None or expires < scheduled:
                    scheduled, seq = expires, self.deadlines.schedule_key(self._timers, group, expires)
                self._table[group] = (port, rows[_SINCE], reporter, expires, on_backup, scheduled, seq)
                return True
            rows = self._promote(group, rows)
        if len(rows) == 1:
            entry = rows.get(ANY_SOURCE)
            membership = entry.ports.get(port) if entry is not None else None
            if membership is not None and not membership.excluded:
                entry.last_reporter = reporter  # type: ignore[union-attr]
                if not membership.static:
                    membership.learned_on_backup = on_backup
                    expires = membership.expires = now + self.membership_interval
                    scheduled = membership.scheduled
                    if scheduled is None or expires < scheduled:  # shorter timers after a reconfigure
                        self.deadlines.schedule(membership, expires)
                return True
        return self._exclude_mode(port, group, _NONE, reporter, now, on_backup)

    def _new_plain_group(self, port: str, group: int, reporter: int, now: float, on_backup: bool) -> bool:
        """A v1/v2 report for a group the table does not have: exactly what
        ``_exclude_mode`` does then (one (G, *) entry, one EXCLUDE({}) membership, a GMI),
        kept as a plain group, because a filling table runs this once per group."""
        if self.config.limit_max_entry is not None and not self._room_for_entry(group, now):
            return False
        expires = now + self.membership_interval
        seq = self.deadlines.schedule_key(self._timers, group, expires)
        self._table[group] = (port, now, reporter, expires, on_backup, expires, seq)
        self.entry_count += 1
        self.events.group_added(self.vsi, group, ANY_SOURCE, now)
        self.on_change(group)
        return True

    def pending(self, group: int, seq: int) -> bool:
        """KeyedTimerOwner: heap entry ``seq`` is the live timer of plain group ``group``."""
        plain = self._table.get(group)
        return type(plain) is tuple and plain[_SEQ] == seq

    def fire_key(self, group: int, seq: int, now: float) -> Frames:
        """KeyedTimerOwner: ``Membership.fire`` for a plain group's one membership."""
        plain = self._table.get(group)
        if type(plain) is not tuple or plain[_SEQ] != seq:
            return []  # superseded, promoted, removed or stopped
        expires = plain[_EXPIRES]
        if expires > now:
            seq = self.deadlines.schedule_key(self._timers, group, expires)
            self._table[group] = plain[:_SCHEDULED] + (expires, seq)
            return []
        self._remove_plain(group, "expired", now)
        return []

    def _remove_plain(self, group: int, reason: str, now: float) -> None:
        """``remove_membership`` of a plain group's one membership: the group goes."""
        del self._table[group]
        self._entry_removed(group, ANY_SOURCE, reason, now)
        self.on_change(group)

    def _plain_entry(self, group: int, plain: PlainGroup) -> Entry:
        """The Entry and Membership a plain group stands for, as new objects."""
        port, since, reporter, expires, on_backup, scheduled, _ = plain
        entry = Entry(group, ANY_SOURCE, since)
        entry.last_reporter = reporter
        membership = entry.ports[port] = Membership(self, entry, port, since, False)
        membership.expires = expires
        membership.learned_on_backup = on_backup
        membership.scheduled = scheduled
        return entry

    def _promote(self, group: int, plain: PlainGroup) -> dict[int, Entry]:
        """Keep a plain group as objects from now on; its pending timer entry moves to the
        new Membership, so it fires at the same place in the heap."""
        entry = self._plain_entry(group, plain)
        rows = self._table[group] = {ANY_SOURCE: entry}
        if plain[_SCHEDULED] is not None:
            self.deadlines.adopt(plain[_SEQ], entry.ports[plain[_PORT]])
        return rows

    def _rows(self, group: int) -> dict[int, Entry] | None:
        """The group's rows as objects (promoting a plain group), or None."""
        rows = self._table.get(group)
        if type(rows) is tuple:
            return self._promote(group, rows)
        return rows  # type: ignore[return-value]

    def _promote_all(self) -> None:
        """Promote every plain group, in table order."""
        for group, rows in list(self._table.items()):
            if type(rows) is tuple:
                self._promote(group, rows)

    def leave(self, port: str, group: int, now: float) -> Frames:
        """IGMPv2 leave = v3 TO_IN({}): the port leaves the whole group."""
        if is_link_local_group(group):
            return []
        rows = self._rows(group)
        if rows is None:
            return []
        memberships = [entry.ports[port] for entry in rows.values() if port in entry.ports]
        return self._leave(memberships, group, port, now)

    def v3_report(self, port: str, records: Iterable[GroupRecord], reporter: int, now: float,
                  on_backup: bool) -> tuple[bool, Frames]:
        """Apply each group record (RFC 3376 6.4); (any record accepted, queries to send)."""
        accepted = False
        frames: Frames = []
        for record in records:
            if is_link_local_group(record.group):
                accepted = True
                continue
            ok, out = self._record(port, record, reporter, now, on_backup)
            accepted |= ok
            frames += out
        return accepted, frames

    def _record(self, port: str, record: GroupRecord, reporter: int, now: float,
                on_backup: bool) -> tuple[bool, Frames]:
        group, sources = record.group, frozenset(record.sources)
        kind = record.record_type
        if kind in (RecordType.MODE_IS_INCLUDE, RecordType.CHANGE_TO_INCLUDE) and not sources:
            return True, self.leave(port, group, now)  # SPEC 2.2: TO_IN{} / IS_IN{} is a leave
        if kind in (RecordType.MODE_IS_EXCLUDE, RecordType.CHANGE_TO_EXCLUDE):
            return self._exclude_mode(port, group, sources, reporter, now, on_backup), []
        if kind in (RecordType.MODE_IS_INCLUDE, RecordType.ALLOW_NEW_SOURCES, RecordType.CHANGE_TO_INCLUDE):
            ok = self._allow(port, group, sources, reporter, now, on_backup)
            frames: Frames = []
            if kind == RecordType.CHANGE_TO_INCLUDE:
                frames = self._query_sources(port, group, self._include_sources(port, group) - sources, now)
                any_source = (self._rows(group) or {}).get(ANY_SOURCE)
                if any_source is not None and port in any_source.ports:
                    frames += self._leave([any_source.ports[port]], group, port, now)
            return ok, frames
        if kind == RecordType.BLOCK_OLD_SOURCES:
            any_source = (self._rows(group) or {}).get(ANY_SOURCE)
            if any_source is not None and port in any_source.ports:
                return True, []  # EXCLUDE mode: BLOCK shortens nothing (see module docstring)
            return True, self._query_sources(port, group, self._include_sources(port, group) & sources, now)
        return False, []

    def _exclude_mode(self, port: str, group: int, sources: frozenset[int], reporter: int, now: float,
                      on_backup: bool) -> bool:
        """IS_EX(B) / TO_EX(B) and v1/v2 reports: the port is in EXCLUDE mode afterwards."""
        rows = self._rows(group)
        any_source = rows.get(ANY_SOURCE) if rows is not None else None
        previous = any_source.ports.get(port) if any_source is not None else None
        include = self._include_sources(port, group) if rows is not None else _NONE
        membership = self._membership(group, ANY_SOURCE, port, now, static=False)
        if membership is None:
            return False
        if previous is not None:
            excluded = previous.excluded & sources  # EXCLUDE(X,Y) -> EXCLUDE(A-Y, Y*A)
        else:
            excluded = sources - include  # INCLUDE(A) -> EXCLUDE(A*B, B-A)
        for source in include - sources:  # Delete (A-B) / (X-A)
            self._remove_port(group, source, port, now, "left")
        self._refresh(membership, excluded or _NONE, reporter, now, on_backup)
        return True

    def _allow(self, port: str, group: int, sources: frozenset[int], reporter: int, now: float,
               on_backup: bool) -> bool:
        """IS_IN(B) / ALLOW(B) / TO_IN(B): the sources of B are forwarded for a GMI."""
        accepted = False
        any_source = (self._rows(group) or {}).get(ANY_SOURCE)
        if any_source is not None and port in any_source.ports:
            exclude_mode = any_source.ports[port]
            if exclude_mode.excluded & sources:
                exclude_mode.excluded = (exclude_mode.excluded - sources) or _NONE  # EXCLUDE(X+A, Y-A)
                self.on_change(group)
        for source in sorted(sources):
            membership = self._membership(group, source, port, now, static=False)
            if membership is None:
                continue
            accepted = True
            self._refresh(membership, _NONE, reporter, now, on_backup)
        return accepted

    def _include_sources(self, port: str, group: int) -> frozenset[int]:
        rows = self._rows(group) or {}
        return frozenset(s for s, entry in rows.items() if s != ANY_SOURCE and port in entry.ports)

    def _query_sources(self, port: str, group: int, sources: frozenset[int], now: float) -> Frames:
        """RFC 3376 "Send Q(G,S)": those sources' timers drop to the last member query time."""
        rows = self._rows(group) or {}
        memberships = [rows[s].ports[port] for s in sorted(sources) if s in rows and port in rows[s].ports]
        return self._leave(memberships, group, port, now)

    def _leave(self, memberships: list[Membership], group: int, port: str, now: float) -> Frames:
        """Immediately-leave removes at once; otherwise timers drop to the last member query
        time and, as querier, we ask the port's remaining hosts with group-specific queries."""
        dynamic = [m for m in memberships if not m.static]
        if not dynamic:
            return []
        if self.config.immediately_leave:
            for membership in dynamic:
                self.remove_membership(membership, now, "left")
            return []
        deadline = now + self.config.last_member_query_time
        for membership in dynamic:
            self._lower(membership, deadline)
        if not self.querier.is_self(now):
            return []
        retransmit = GroupQueryRetransmit(self, group, port, self.config.robustness)
        return retransmit.fire(now)

    def _lower(self, membership: Membership, deadline: float) -> None:
        if membership.static or membership.expires is None or membership.expires <= deadline:
            return
        membership.expires = deadline
        self.deadlines.schedule(membership, deadline)

    def _refresh(self, membership: Membership, excluded: frozenset[int], reporter: int, now: float,
                 on_backup: bool) -> None:
        if membership.excluded != excluded:
            membership.excluded = excluded
            self.on_change(membership.entry.group)
        membership.entry.last_reporter = reporter
        if membership.static:
            return
        membership.learned_on_backup = on_backup
        membership.expires = now + self.membership_interval
        self.deadlines.schedule(membership, membership.expires)

    # -- the table ---------------------------------------------------------------------

    def _membership(self, group: int, source: int, port: str, now: float, static: bool) -> Membership | None:
        """Find or create; None when a new dynamic entry would exceed limit-max-entry."""
        rows = self._rows(group)
        entry = rows.get(source) if rows is not None else None
        if entry is not None:
            membership = entry.ports.get(port)
            if membership is not None:
                return membership
        elif not static and not self._room_for_entry(group, now):
            return None
        else:
            if rows is None:
                rows = self._table[group] = {}
            entry = rows[source] = Entry(group, source, now)
            self.entry_count += 1
            self.events.group_added(self.vsi, group, source, now)
        membership = entry.ports[port] = Membership(self, entry, port, now, static)
        self.on_change(group)
        return membership

    def _room_for_entry(self, group: int, now: float) -> bool:
        limit = self.config.limit_max_entry
        if limit is None or self.entry_count < limit:
            return True
        self.stats.reports_refused_by_limit += 1
        if not self.limit_crossed:
            self.limit_crossed = True
            self.events.append(GroupLimitExceeded(self.vsi, limit, now, ip_str(group)))
        return False

    def _remove_port(self, group: int, source: int, port: str, now: float, reason: str) -> None:
        entry = (self._rows(group) or {}).get(source)
        if entry is not None and port in entry.ports and not entry.ports[port].static:
            self.remove_membership(entry.ports[port], now, reason)

    def remove_membership(self, membership: Membership, now: float, reason: str) -> None:
        entry = membership.entry
        if entry.ports.get(membership.port) is not membership:
            return
        del entry.ports[membership.port]
        membership.scheduled = None
        if not entry.ports:
            rows = self._table[entry.group]
            del rows[entry.source]  # type: ignore[arg-type]
            if not rows:
                del self._table[entry.group]
            self._entry_removed(entry.group, entry.source, reason, now)
        self.on_change(entry.group)

    def _entry_removed(self, group: int, source: int, reason: str, now: float) -> None:
        self.entry_count -= 1
        limit = self.config.limit_max_entry
        if limit is not None and self.entry_count < limit:
            self.limit_crossed = False
        self.events.group_removed(self.vsi, group, source, reason, now)

    def flush_port(self, port: str, now: float, reason: str) -> None:
        """The port went down: its dynamic memberships and dynamic router port go at once."""
        self._remove_dynamic(port, now, reason)
        if port in self.router_ports:
            self.unmark_router(port, now)

    def clear(self, now: float) -> None:
        """clear-groups / reset-igmp-snooping-group: drop every dynamic membership."""
        self._remove_dynamic(None, now, "cleared")

    def _remove_dynamic(self, port: str | None, now: float, reason: str) -> None:
        """Remove every dynamic membership (on ``port`` only, when given) in table order;
        a plain group goes as it is, without becoming objects first."""
        doomed: list[int | Membership] = []
        for group, rows in self._table.items():
            if type(rows) is tuple:
                if port is None or rows[_PORT] == port:
                    doomed.append(group)
                continue
            doomed.extend(m for entry in rows.values() for m in entry.ports.values()  # type: ignore[union-attr]
                          if not m.static and (port is None or m.port == port))
        for item in doomed:
            if type(item) is int:
                self._remove_plain(item, reason, now)
            else:
                self.remove_membership(item, now, reason)  # type: ignore[arg-type]

    def memberships(self) -> Iterator[Membership]:
        """Every membership as the live object: plain groups are promoted first."""
        self._promote_all()
        for rows in self._table.values():
            for entry in rows.values():  # type: ignore[union-attr]
                yield from entry.ports.values()

    def count_on_port(self, port: str) -> int:
        """Entries with a membership on ``port`` (the switchover's preinstalled groups)."""
        count = 0
        for rows in self._table.values():
            if type(rows) is tuple:
                count += rows[_PORT] == port
            else:
                count += sum(1 for entry in rows.values() if port in entry.ports)  # type: ignore[union-attr]
        return count

    # -- forwarding view ---------------------------------------------------------------

    def is_source_specific(self, group: int) -> bool:
        """Whether forwarding for ``group`` depends on the data's source address."""
        rows = self._table.get(group)
        if rows is None or type(rows) is tuple:
            return False
        if len(rows) > 1 or ANY_SOURCE not in rows:
            return True
        return any(m.excluded for m in rows[ANY_SOURCE].ports.values())

    def member_ports(self, group: int, source: int) -> set[str] | None:
        """Ports that asked for (group, source); None when the group is unregistered."""
        rows = self._table.get(group)
        if rows is None:
            return None
        if type(rows) is tuple:
            return {rows[_PORT]}
        ports: set[str] = set()
        any_source = rows.get(ANY_SOURCE)
        if any_source is not None:
            ports.update(p for p, m in any_source.ports.items() if source not in m.excluded)
        specific = rows.get(source) if source != ANY_SOURCE else None
        if specific is not None:
            ports.update(specific.ports)
        return ports
