"""Running a simulation in real time on an asyncio loop (``vsi-agent serve`` and ``lab``).

The simulator's kernel is a pure virtual clock; interactive use needs virtual time to follow
the wall clock, so that a NETCONF client sees groups age, PWs time out and a stream flow at
the rate it was given.  :class:`RealTimeRunner` keeps virtual time = seconds since
:meth:`start` (monotonic clock): one asyncio timer is armed for the next event in the
kernel's heap and runs everything due when it fires.

Anything that changes the simulation from outside (a commit, an action) first calls
:meth:`catch_up`, so the change happens at the current time and not at the last event's
time, and then :meth:`reschedule`, because it may have queued an event earlier than the
armed timer.  When the machine is too busy to keep up, the runner runs late events as soon
as it can, in order: virtual time never goes backwards and nothing is skipped.
"""

from __future__ import annotations

import asyncio
import time

from dataplane.sim.kernel import Simulator

__all__ = ["RealTimeRunner"]

#: Longest sleep between two runs of the kernel, so that a wall clock jump or an event
#: queued without :meth:`RealTimeRunner.reschedule` is never noticed later than this.
MAX_SLEEP = 0.25


class RealTimeRunner:
    """Drives a :class:`Simulator` so that ``sim.now`` follows the monotonic clock."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._clock = time.monotonic
        self._origin: float | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Unix time of virtual time 0 (date-and-time leaves, notification times)
        self.epoch = 0.0

    @property
    def running(self) -> bool:
        return self._loop is not None

    def start(self) -> None:
        """Virtual time ``sim.now`` is now; start following the clock from here."""
        self._loop = asyncio.get_running_loop()
        self._origin = self._clock() - self.sim.now
        self.epoch = time.time() - self.sim.now
        self.reschedule()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._loop = None

    def now(self) -> float:
        """The virtual time that corresponds to the wall clock now (before :meth:`start`: the
        simulator's own time)."""
        if self._origin is None:
            return self.sim.now
        return max(self.sim.now, self._clock() - self._origin)

    def catch_up(self) -> float:
        """Run every event due by now; return now (in virtual time)."""
        now = self.now()
        self.sim.run(now)
        return now

    def reschedule(self) -> None:
        """Arm the timer for the earliest event (call after queueing events from outside)."""
        if self._loop is None:
            return
        if self._handle is not None:
            self._handle.cancel()
        delay = MAX_SLEEP
        next_time = self.sim.next_event_time()
        if next_time is not None:
            delay = min(MAX_SLEEP, max(0.0, next_time - self.now()))
        self._handle = self._loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._handle = None
        try:
            self.catch_up()
        finally:   # a failing event must not stop the clock for every later one
            self.reschedule()
