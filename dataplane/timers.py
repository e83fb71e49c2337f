"""One heap of deadlines for a whole device, with lazy invalidation.

Every timer belongs to the object it ages (a port membership, a router port, a MAC entry,
a PW's keepalive): the object keeps its own ``expires`` and a ``scheduled`` deadline, and
implements ``fire(now)``. Refreshing a timer (a report every query interval for 100k
groups) only writes ``expires``: nothing is pushed unless the new deadline is *earlier*
than the one already in the heap. When a heap entry comes due, ``fire`` looks at the
object's current ``expires`` and either acts or re-arms itself. Entries of objects that
were deleted simply fire into an object that knows it is dead. So the heap holds at most
one live entry per object and ``tick`` costs O(log n) per due deadline, whatever the
table size.

A table of many small timers can also own its timers by *key* instead of as one object each
(:meth:`Deadlines.schedule_key`): the snooping table keeps a plain group as a tuple of
numbers and strings, which CPython's garbage collector does not track, and an object per
timer would bring the tracked objects back. Such a heap entry is (deadline, sequence, owner
number, key), all ints and floats, and the owner is asked whether that sequence number is
still its live one.
"""

from __future__ import annotations

import heapq
from itertools import count
from typing import Protocol
from weakref import WeakValueDictionary

__all__ = ["Deadlines", "KeyedTimerOwner", "TimerOwner"]

Frames = list[tuple[str, bytes]]


class TimerOwner(Protocol):
    scheduled: float | None

    def fire(self, now: float) -> Frames:
        """The deadline came: act on the object's current state, maybe re-arm."""
        ...


class KeyedTimerOwner(Protocol):
    def pending(self, key: int, seq: int) -> bool:
        """Whether heap entry ``seq`` is still the live timer of ``key``."""
        ...

    def fire_key(self, key: int, seq: int, now: float) -> Frames:
        """Heap entry ``seq`` of ``key`` came due: act if it is still live, maybe re-arm."""
        ...


class Deadlines:
    """A min-heap of (deadline, sequence) and the owner of each sequence number.

    The owner is kept out of the heap entry on purpose: a tuple of a float and an int holds
    no object the garbage collector tracks, so CPython stops tracking it at its first
    collection, and a table of 100k groups no longer adds 100k tuples to every full
    collection. Sequence numbers keep equal deadlines in the order they were scheduled.
    Keyed entries (deadline, sequence, owner number, key) need no per-entry bookkeeping at
    all until an object adopts them.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int] | tuple[float, int, int, int]] = []
        self._owners: dict[int, TimerOwner] = {}
        self._keyed: WeakValueDictionary[int, KeyedTimerOwner] = WeakValueDictionary()
        """owner number -> keyed owner, while the owner lives: the heap holds only numbers,
        so a dropped table's pending entries fire into nothing and keep nothing alive."""
        self._seq = count()

    def schedule(self, owner: TimerOwner, deadline: float) -> None:
        """Make sure ``owner.fire`` runs no later than ``deadline``."""
        current = owner.scheduled
        if current is not None and current <= deadline:
            return
        owner.scheduled = deadline
        seq = next(self._seq)
        self._owners[seq] = owner
        heapq.heappush(self._heap, (deadline, seq))

    def register(self, owner: KeyedTimerOwner) -> int:
        """The number under which ``owner`` schedules keyed timers (``schedule_key``)."""
        number = next(self._seq)
        self._keyed[number] = owner
        return number

    def schedule_key(self, number: int, key: int, deadline: float) -> int:
        """Push a timer for ``key`` of registered owner ``number`` and return its sequence
        number, which the owner keeps: entries it no longer knows are stale, as a superseded
        ``scheduled`` is."""
        seq = next(self._seq)
        heapq.heappush(self._heap, (deadline, seq, number, key))
        return seq

    def adopt(self, seq: int, owner: TimerOwner) -> None:
        """Hand the pending keyed entry ``seq`` to ``owner`` (whose ``scheduled`` must be its
        deadline): a compact record became an object and keeps its place in the heap."""
        self._owners[seq] = owner

    def run_due(self, now: float) -> Frames:
        """Fire every owner whose deadline is at or before ``now``, in deadline order."""
        out: Frames = []
        heap, owners = self._heap, self._owners
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            deadline, seq = entry[0], entry[1]
            owner = owners.pop(seq, None)
            if owner is None:  # a keyed entry nobody adopted
                keyed = self._keyed.get(entry[2])  # type: ignore[misc]
                if keyed is not None:
                    out.extend(keyed.fire_key(entry[3], seq, now))  # type: ignore[misc]
                continue
            if owner.scheduled != deadline:
                continue  # superseded by an earlier entry that already fired or is pending
            owner.scheduled = None
            out.extend(owner.fire(now))
        return out

    def next_deadline(self) -> float | None:
        """The earliest pending deadline (possibly a stale one: firing it is harmless)."""
        heap = self._heap
        while heap and self._stale(heap[0]):
            self._owners.pop(heapq.heappop(heap)[1], None)
        return heap[0][0] if heap else None

    def _stale(self, entry: tuple[float, int] | tuple[float, int, int, int]) -> bool:
        owner = self._owners.get(entry[1])
        if owner is not None:
            return owner.scheduled != entry[0]
        keyed = self._keyed.get(entry[2])  # type: ignore[misc]
        return keyed is None or not keyed.pending(entry[3], entry[1])  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self._heap)
