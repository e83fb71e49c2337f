"""The core's shortcuts mean exactly what the general code means.

``Snooping.report`` learns a v1/v2 report without the set arithmetic of ``_exclude_mode``
(a refresh of a plain (G, *) membership, and a group the table does not have yet);
``Deadlines`` keeps the owner of a timer out of its heap entry; ``EventQueue`` keeps group
events as raw fields until they are popped. Each is held here to the plain code it
replaces: the general ``_exclude_mode`` path, a heap of (deadline, sequence, owner) as the
timers were first written, and a list of event tuples built on the spot.
"""

from __future__ import annotations

import heapq
from itertools import count

from hypothesis import example, given, settings
from hypothesis import strategies as st

from dataplane.config import IgmpSnoopingConfig
from dataplane.addr import ip_str
from dataplane.events import Event, EventQueue, GroupAdded, GroupLimitExceeded, GroupRemoved
from dataplane.snooping import Snooping
from dataplane.stats import VsiStatistics
from dataplane.timers import Deadlines

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
