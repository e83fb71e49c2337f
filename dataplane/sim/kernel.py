"""The simulator's kernel: a virtual clock and one event queue.

Everything in a simulation happens in a callback the kernel calls at a virtual time; there
are no threads and no real clock, so a run is a pure function of its inputs and ``seed``.
Ties are broken by the order in which events were scheduled (a counter in the heap key),
never by comparing callbacks, and all randomness comes from the kernel's one seeded
``random.Random``.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from itertools import count
from typing import Any

__all__ = ["Simulator", "Timer"]


class Timer:
    """A handle to a scheduled callback; :meth:`cancel` makes it a no-op."""

    __slots__ = ("time", "cancelled")

    def __init__(self, time: float) -> None:
        self.time = time
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Simulator:
    """Virtual time and the event heap of one simulation run."""

    def __init__(self, seed: int = 1, storm_limit: int = 50_000_000) -> None:
        self.now = 0.0
        self.deliveries = 0
        """Frames delivered by links: a forwarding loop shows as an explosion here."""
        self.storm_limit = storm_limit
        self.rng = random.Random(seed)
        self._heap: list[tuple[float, int, Timer, Callable[..., Any], tuple[Any, ...]]] = []
        self._seq = count()
        self.events_run = 0

    def at(self, time: float, callback: Callable[..., Any], *args: Any) -> Timer:
        """Run ``callback(*args)`` at virtual ``time`` (never earlier than now)."""
        when = max(time, self.now)
        timer = Timer(when)
        heapq.heappush(self._heap, (when, next(self._seq), timer, callback, args))
        return timer

    def after(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        """Run ``callback(*args)`` ``delay`` seconds from now."""
        return self.at(self.now + delay, callback, *args)

    def run(self, until: float) -> None:
        """Run every event due at or before ``until``, then leave the clock at ``until``."""
        heap = self._heap
        while heap and heap[0][0] <= until:
            when, _, timer, callback, args = heapq.heappop(heap)
            if timer.cancelled:
                continue
            self.now = when
            self.events_run += 1
            callback(*args)
        self.now = max(self.now, until)

    def next_event_time(self) -> float | None:
        """Virtual time of the earliest queued event (maybe a cancelled one), None if none."""
        return self._heap[0][0] if self._heap else None

    def pending(self) -> int:
        """Events still queued (cancelled ones included until they are popped)."""
        return len(self._heap)
