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
"""

from __future__ import annotations

import heapq
from itertools import count
from typing import Protocol

__all__ = ["Deadlines", "TimerOwner"]

Frames = list[tuple[str, bytes]]


class TimerOwner(Protocol):
    scheduled: float | None

    def fire(self, now: float) -> Frames:
        """The deadline came: act on the object's current state, maybe re-arm."""
        ...


class Deadlines:
    """A min-heap of (deadline, sequence) and the owner of each sequence number.

    The owner is kept out of the heap entry on purpose: a tuple of a float and an int holds
    no object the garbage collector tracks, so CPython stops tracking it at its first
    collection, and a table of 100k groups no longer adds 100k tuples to every full
    collection. Sequence numbers keep equal deadlines in the order they were scheduled.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._owners: dict[int, TimerOwner] = {}
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

    def run_due(self, now: float) -> Frames:
        """Fire every owner whose deadline is at or before ``now``, in deadline order."""
        out: Frames = []
        heap, owners = self._heap, self._owners
        while heap and heap[0][0] <= now:
            deadline, seq = heapq.heappop(heap)
            owner = owners.pop(seq)
            if owner.scheduled != deadline:
                continue  # superseded by an earlier entry that already fired or is pending
            owner.scheduled = None
            out.extend(owner.fire(now))
        return out

    def next_deadline(self) -> float | None:
        """The earliest pending deadline (possibly a stale one: firing it is harmless)."""
        heap, owners = self._heap, self._owners
        while heap and owners[heap[0][1]].scheduled != heap[0][0]:
            del owners[heapq.heappop(heap)[1]]
        return heap[0][0] if heap else None

    def __len__(self) -> int:
        return len(self._heap)
