"""The core's shortcuts mean exactly what the general code means.

``Snooping.report`` learns a v1/v2 report without the set arithmetic of ``_exclude_mode``
(a refresh of a plain (G, *) membership, and a group the table does not have yet) and keeps
a group learned that way as a plain group (one tuple, a keyed timer) until anything else
touches it; ``Deadlines`` keeps the owner of a timer out of its heap entry; ``EventQueue``
keeps group events as raw fields until they are popped; ``_fast_membership_message`` reads a
v1/v2 message with one ``struct`` call. Each is held here to the plain code it replaces: the
general ``_exclude_mode`` path and objects for every group, a heap of (deadline, sequence,
owner) as the timers were first written, a list of event tuples built on the spot, and the
message read as one integer as it was first written.
"""

from __future__ import annotations

import heapq
from itertools import count

import gc

from hypothesis import example, given, settings
from hypothesis import strategies as st

from dataplane.config import IgmpSnoopingConfig, StaticGroup
from dataplane.addr import ip_str, ipv4_multicast_mac
from dataplane.events import Event, EventQueue, GroupAdded, GroupLimitExceeded, GroupRemoved
from dataplane.igmp import GroupRecord, IgmpQuery, RecordType, build_leave, build_report_v1, build_report_v2
from dataplane.ethernet import ETHERTYPE_IPV4, build_ethernet
from dataplane.ipv4 import IPPROTO_IGMP, build_ipv4
from dataplane.snooping import Snooping
from dataplane.stats import VsiStatistics
from dataplane.timers import Deadlines
from dataplane.vsi import _FAST_IGMP_TYPES, _fast_membership_message

Frames = list[tuple[str, bytes]]
PORTS = ("ac1", "ac2", "pw1")
GROUPS = (0xE8010101, 0xE8010102, 0xE8010103, 0xEFFFFFFA, 0xE00000FB)  # the last one is link-local


class _NoQueries:
    def send_query(self, frame: bytes, port: str | None, now: float) -> Frames:
        return []


def _table(config: IgmpSnoopingConfig) -> tuple[Snooping, EventQueue, list[int | None]]:
    events = EventQueue()
    changes: list[int | None] = []
    table = Snooping("iptv", config, Deadlines(), events, VsiStatistics(), changes.append, _NoQueries(),
                     0, b"\x02\x00\x00\x00\x00\xee")
    return table, events, changes


def _state(table: Snooping) -> list[tuple[object, ...]]:
    return sorted(
        (group, source, entry.since, entry.last_reporter, port, m.static, m.since, m.expires,
         m.learned_on_backup, tuple(sorted(m.excluded)), m.scheduled)
        for group, rows in table.groups.items() for source, entry in rows.items()
        for port, m in entry.ports.items())


reports = st.lists(
    st.tuples(st.sampled_from(PORTS), st.sampled_from(GROUPS), st.integers(1, 4), st.booleans(),
              st.sampled_from([0.0, 0.5, 30.0, 200.0])),
    max_size=30)


@settings(max_examples=300, deadline=None)
@given(steps=reports, limit=st.one_of(st.none(), st.integers(0, 3)))
def test_report_shortcuts_learn_what_exclude_mode_learns(
        steps: list[tuple[str, int, int, bool, float]], limit: int | None) -> None:
    """Same table, events, change notices, refusals and ageing, report after report."""
    config = IgmpSnoopingConfig(enable=True, limit_max_entry=limit)
    fast, fast_events, fast_changes = _table(config)
    slow, slow_events, slow_changes = _table(config)
    now = 1.0
    for port, group, reporter, on_backup, gap in steps:
        now += gap
        accepted = fast.report(port, group, reporter, now, on_backup)
        expected = True if group >> 8 == 0xE00000 else slow._exclude_mode(
            port, group, frozenset(), reporter, now, on_backup)
        assert accepted == expected
        fast.deadlines.run_due(now)
        slow.deadlines.run_due(now)
        assert _state(fast) == _state(slow)
        assert fast.entry_count == slow.entry_count
        assert fast.stats == slow.stats
        assert fast_events.pop() == slow_events.pop()
    assert fast_changes == slow_changes
    fast.deadlines.run_due(now + 1000.0)
    slow.deadlines.run_due(now + 1000.0)
    assert fast_events.pop() == slow_events.pop()
    assert not fast.groups and not slow.groups


def _views(table: Snooping) -> tuple[object, ...]:
    """What the VSI asks of the table for forwarding, for every group and port used."""
    return tuple((table.is_source_specific(g), table.member_ports(g, 0), table.member_ports(g, 0x0A000001))
                 for g in GROUPS) + tuple(table.count_on_port(p) for p in PORTS)


table_steps = st.lists(
    st.one_of(
        st.tuples(st.just("report"), st.sampled_from(PORTS), st.sampled_from(GROUPS), st.integers(1, 4),
                  st.booleans()),
        st.tuples(st.just("leave"), st.sampled_from(PORTS), st.sampled_from(GROUPS)),
        st.tuples(st.just("group-query"), st.sampled_from(PORTS), st.sampled_from(GROUPS)),
        st.tuples(st.just("v3"), st.sampled_from(PORTS), st.sampled_from(GROUPS),
                  st.sampled_from(list(RecordType)), st.sets(st.sampled_from([0x0A000001, 0x0A000002]))),
        st.tuples(st.just("flush"), st.sampled_from(PORTS)),
        st.tuples(st.just("clear"),),
        st.tuples(st.just("reconfigure"), st.sampled_from(GROUPS[:2]), st.sampled_from(PORTS), st.booleans(),
                  st.integers(1, 3)),
        st.tuples(st.just("stop"),),
        st.tuples(st.just("memberships"),),
        st.tuples(st.just("time"), st.sampled_from([0.0, 0.5, 2.0, 30.0, 200.0, 260.0])),
    ),
    max_size=40)


def _apply(table: Snooping, step: tuple[object, ...], now: float, plain: bool) -> object:
    """One step on ``table``; reports go through ``report`` when ``plain``, else straight to
    the general ``_exclude_mode``, so that table never holds a plain group."""
    kind = step[0]
    if kind == "report":
        _, port, group, reporter, on_backup = step
        if plain or group >> 8 == 0xE00000:
            return table.report(port, group, reporter, now, on_backup)  # type: ignore[arg-type]
        return table._exclude_mode(port, group, frozenset(), reporter, now, on_backup)  # type: ignore[arg-type]
    if kind == "leave":
        return table.leave(step[1], step[2], now)  # type: ignore[arg-type]
    if kind == "group-query":
        return table.query_received(step[1], IgmpQuery(2, 1.0, step[2]), 0x0A0000FE, now, False)  # type: ignore
    if kind == "v3":
        _, port, group, record_type, sources = step
        record = GroupRecord(record_type, group, tuple(sorted(sources)))  # type: ignore[arg-type]
        return table.v3_report(port, [record], 7, now, False)  # type: ignore[arg-type]
    if kind == "flush":
        return table.flush_port(step[1], now, "port-down")  # type: ignore[arg-type]
    if kind == "clear":
        return table.clear(now)
    if kind == "reconfigure":  # a static group added or removed; robustness moves the GMI
        _, group, port, add, robustness = step
        statics = frozenset({StaticGroup(ip_str(group), interface=port)}) if add else frozenset()  # type: ignore
        config = IgmpSnoopingConfig(enable=True, limit_max_entry=table.config.limit_max_entry,
                                    static_groups=statics, robustness=robustness)  # type: ignore[arg-type]
        return table.reconfigure(config, now)
    if kind == "stop":
        return table.stop()
    if kind == "memberships":  # hands out the live objects: every plain group is promoted
        return sorted((m.entry.group, m.entry.source, m.port, m.expires, m.scheduled) for m in table.memberships())
    return table.deadlines.run_due(now)


@settings(max_examples=400, deadline=None)
@given(steps=table_steps, limit=st.one_of(st.none(), st.integers(0, 3)))
def test_plain_groups_behave_as_the_entries_and_memberships_they_stand_for(
        steps: list[tuple[object, ...]], limit: int | None) -> None:
    """Same table as read through ``groups``, forwarding answers, events, change notices,
    replies, statistics and next deadline, whatever touches a plain group afterwards."""
    config = IgmpSnoopingConfig(enable=True, limit_max_entry=limit)
    plain, plain_events, plain_changes = _table(config)
    general, general_events, general_changes = _table(config)
    now = 1.0
    for step in steps:
        if step[0] == "time":
            now += step[1]  # type: ignore[operator]
        assert _apply(plain, step, now, True) == _apply(general, step, now, False)
        assert _state(plain) == _state(general)
        assert _views(plain) == _views(general)
        assert plain.entry_count == general.entry_count and plain.stats == general.stats
        assert plain.deadlines.next_deadline() == general.deadlines.next_deadline()
        assert plain_events.pop() == general_events.pop()
    assert plain_changes == general_changes
    assert plain.deadlines.run_due(now + 1000.0) == general.deadlines.run_due(now + 1000.0)
    assert plain_events.pop() == general_events.pop()
    assert _state(plain) == _state(general)


def test_a_plain_group_is_not_tracked_by_the_garbage_collector() -> None:
    """The reason plain groups exist: a table of them adds nothing to the collector's walks."""
    table, _, _ = _table(IgmpSnoopingConfig(enable=True))
    for group in GROUPS[:4]:
        assert table.report("ac1", group, 5, 1.0, False)
    table.report("ac1", GROUPS[0], 5, 2.0, True)  # a refresh makes a new tuple
    gc.collect()
    assert not any(gc.is_tracked(plain) for plain in table._table.values())
    assert not any(gc.is_tracked(entry) for entry in table.deadlines._heap)


def test_a_promoted_plain_group_keeps_its_timer() -> None:
    """A second port turns the group into objects; the first membership still ages out at
    its own time, from the heap entry it had, and the second at its own."""
    table, events, _ = _table(IgmpSnoopingConfig(enable=True))
    table.report("ac1", GROUPS[0], 5, 1.0, False)
    table.report("ac2", GROUPS[0], 6, 100.0, False)
    assert type(table._table[GROUPS[0]]) is dict
    table.deadlines.run_due(1.0 + table.membership_interval)
    assert set(table.groups[GROUPS[0]][0].ports) == {"ac2"}
    table.deadlines.run_due(100.0 + table.membership_interval)
    assert GROUPS[0] not in table.groups
    assert [e.reason for e in events.pop() if isinstance(e, GroupRemoved)] == ["expired"]


def test_a_stopped_table_fires_no_plain_group_timer() -> None:
    """``stop`` detaches keyed timers as it does every membership's: nothing ages any more."""
    table, events, changes = _table(IgmpSnoopingConfig(enable=True))
    table.report("ac1", GROUPS[0], 5, 1.0, False)
    table.stop()
    events.pop()
    changes.clear()
    assert table.deadlines.run_due(1000.0) == []
    assert GROUPS[0] in table.groups and not events.pop() and not changes


def test_a_dropped_table_leaves_only_numbers_in_the_heap() -> None:
    """The heap does not keep a table alive: its pending plain-group timers fire into nothing."""
    table, events, _ = _table(IgmpSnoopingConfig(enable=True))
    deadlines = table.deadlines
    table.report("ac1", GROUPS[0], 5, 1.0, False)
    del table
    gc.collect()
    assert len(deadlines) == 1
    assert deadlines.next_deadline() is None and deadlines.run_due(1000.0) == []
    assert [type(e) for e in events.pop()] == [GroupAdded]


class _Owner:
    """A timer owner that, like a membership, re-arms to its ``expires`` when fired early."""

    def __init__(self, name: int, log: list[tuple[int, float]], deadlines: object) -> None:
        self.name = name
        self.log = log
        self.deadlines = deadlines
        self.expires = 0.0
        self.scheduled: float | None = None

    def fire(self, now: float) -> Frames:
        if self.expires > now:
            self.deadlines.schedule(self, self.expires)  # type: ignore[attr-defined]
            return []
        self.log.append((self.name, now))
        return [(f"owner{self.name}", b"")]


class _HeapOfOwners:
    """The reference: one heap entry (deadline, sequence, owner) per schedule."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Owner]] = []
        self._seq = count()

    def schedule(self, owner: _Owner, deadline: float) -> None:
        if owner.scheduled is not None and owner.scheduled <= deadline:
            return
        owner.scheduled = deadline
        heapq.heappush(self._heap, (deadline, next(self._seq), owner))

    def run_due(self, now: float) -> Frames:
        out: Frames = []
        while self._heap and self._heap[0][0] <= now:
            deadline, _, owner = heapq.heappop(self._heap)
            if owner.scheduled != deadline:
                continue
            owner.scheduled = None
            out.extend(owner.fire(now))
        return out

    def next_deadline(self) -> float | None:
        while self._heap and self._heap[0][2].scheduled != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None


timer_steps = st.lists(
    st.one_of(
        st.tuples(st.just("schedule"), st.integers(0, 2), st.sampled_from([0.0, 1.0, 2.0, 2.5, 7.0])),
        st.tuples(st.just("expires"), st.integers(0, 2), st.sampled_from([0.0, 3.0, 9.0])),
        st.tuples(st.just("cancel"), st.integers(0, 2), st.just(0.0)),
        st.tuples(st.just("tick"), st.just(0), st.sampled_from([0.0, 0.5, 1.0, 3.0])),
        st.tuples(st.just("next"), st.just(0), st.just(0.0)),
    ),
    max_size=40)


@settings(max_examples=500, deadline=None)
@given(steps=timer_steps)
@example(steps=[("schedule", 0, 7.0), ("schedule", 0, 1.0), ("tick", 0, 1.0), ("schedule", 0, 7.0),
                ("tick", 0, 3.0), ("tick", 0, 3.0), ("tick", 0, 3.0)])  # a superseded entry stays silent
def test_deadlines_fire_as_a_heap_of_owners_fires(steps: list[tuple[str, int, float]]) -> None:
    """Same owners fired, in the same order, at the same ticks; same next deadline."""
    ours_log: list[tuple[int, float]] = []
    reference_log: list[tuple[int, float]] = []
    ours = Deadlines()
    reference = _HeapOfOwners()
    ours_owners = [_Owner(i, ours_log, ours) for i in range(3)]
    reference_owners = [_Owner(i, reference_log, reference) for i in range(3)]
    now = 0.0
    for action, index, value in steps:
        pair = (ours_owners[index], reference_owners[index])
        if action == "schedule":
            ours.schedule(pair[0], now + value)
            reference.schedule(pair[1], now + value)
        elif action == "expires":
            pair[0].expires = pair[1].expires = now + value
        elif action == "cancel":
            pair[0].scheduled = pair[1].scheduled = None
        elif action == "next":
            assert ours.next_deadline() == reference.next_deadline()
        else:
            now += value
            assert ours.run_due(now) == reference.run_due(now)
        assert ours_log == reference_log


addresses = st.integers(0, 2**32 - 1)
queued = st.lists(st.one_of(
    st.tuples(st.just("added"), st.sampled_from(["iptv", "voice"]), addresses, addresses, st.floats(0, 1e6)),
    st.tuples(st.just("removed"), st.sampled_from(["iptv"]), addresses, addresses, st.floats(0, 1e6),
              st.sampled_from(["expired", "left", "port-down"])),
    st.tuples(st.just("other"), st.sampled_from(["iptv"]), st.integers(0, 100), st.floats(0, 1e6)),
), max_size=20)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(queued, max_size=4))
def test_event_queue_pops_the_events_built_on_the_spot(steps: list[list[tuple[object, ...]]]) -> None:
    """Same events, same text addresses (ip_str's), same order, drained in any rhythm."""
    queue = EventQueue()
    for batch in steps:
        expected: list[Event] = []
        for step in batch:
            if step[0] == "added":
                _, vsi, group, source, now = step
                queue.group_added(vsi, group, source, now)  # type: ignore[arg-type]
                expected.append(GroupAdded(vsi, ip_str(group), ip_str(source), now))  # type: ignore[arg-type]
            elif step[0] == "removed":
                _, vsi, group, source, now, reason = step
                queue.group_removed(vsi, group, source, reason, now)  # type: ignore[arg-type]
                expected.append(GroupRemoved(vsi, ip_str(group), ip_str(source), reason, now))  # type: ignore[arg-type]
            else:
                _, vsi, limit, now = step
                event = GroupLimitExceeded(vsi, limit, now)  # type: ignore[arg-type]
                queue.append(event)
                expected.append(event)
        assert queue.pop() == expected
        assert queue.pop() == []


def _membership_message_as_one_integer(frame: bytes) -> tuple[int, int, int] | None:
    """The reference: the v1/v2 message read as one integer, as the fast path was first written."""
    if frame[12:14] != b"\x08\x00":
        return None
    first = frame[14]
    if first == 0x46:
        end, header_bits = 46, 192
    elif first == 0x45:
        end, header_bits = 42, 160
    else:
        return None
    if len(frame) < end:
        return None
    whole = int.from_bytes(frame[14:end], "big")
    message = whole & 0xFFFFFFFFFFFFFFFF
    header = whole >> 64
    if (header >> (header_bits - 32)) & 0xFFFF != end - 14 or (header >> (header_bits - 64)) & 0x3FFF:
        return None
    if first == 0x46 and header & 0xFFFFFFFF != 0x94040000:
        return None
    if not header or header % 0xFFFF or not message or message % 0xFFFF:
        return None
    kind = message >> 56
    group = message & 0xFFFFFFFF
    if kind not in _FAST_IGMP_TYPES or group >> 28 != 0xE:
        return None
    return (kind, group, (header >> (header_bits - 128)) & 0xFFFFFFFF)


@settings(max_examples=500, deadline=None)
@given(kind=st.sampled_from(["v1", "v2", "leave"]), group=st.integers(0xE0000000, 0xEFFFFFFF),
       reporter=st.integers(1, 2**32 - 1), router_alert=st.booleans(), cut=st.integers(15, 50),
       flips=st.lists(st.tuples(st.integers(0, 59), st.integers(1, 255)), max_size=3))
def test_membership_message_is_read_as_the_one_integer_reading_reads_it(
        kind: str, group: int, reporter: int, router_alert: bool, cut: int, flips: list[tuple[int, int]]) -> None:
    """Same answer, None included, for well-formed, damaged and truncated messages (down to
    15 bytes: ``receive`` never passes less, and the reference would index past the end)."""
    message = {"v1": build_report_v1, "v2": build_report_v2, "leave": build_leave}[kind](group)
    packet = build_ipv4(reporter, group, IPPROTO_IGMP, message, ttl=1, tos=0xC0, router_alert=router_alert)
    frame = bytearray(build_ethernet(ipv4_multicast_mac(group), b"\x02\x00\x00\x00\x00\x01", ETHERTYPE_IPV4,
                                     packet))
    for at, xor in flips:
        if at < len(frame):
            frame[at] ^= xor
    for candidate in (bytes(frame), bytes(frame[:cut])):
        assert _fast_membership_message(candidate) == _membership_message_as_one_integer(candidate)
