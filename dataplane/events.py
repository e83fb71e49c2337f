"""What the core reports besides frames: small immutable events, drained with pop_events().

The agent turns PwSwitchover and GroupLimitExceeded into YANG notifications; the simulator
and the lab print and measure all of them. Addresses are in text form here because events
leave the core (logs, notifications).

They are NamedTuples rather than frozen dataclasses: GroupAdded is made at report rate
(hundreds of thousands a second when a table fills) and a NamedTuple is built in well
under half the time, while staying immutable, matchable (``case GroupAdded(vsi=...)``) and
``isinstance``-checkable.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Event", "EventQueue", "GroupAdded", "GroupLimitExceeded", "GroupRemoved", "PwStateChanged",
           "PwSwitchover", "dotted"]

PwKey = tuple[str, int]


class GroupAdded(NamedTuple):
    """A (group, source) entry appeared in a VSI's table (source 0.0.0.0 = any source)."""

    vsi: str
    group: str
    source: str
    time: float


class GroupRemoved(NamedTuple):
    """A (group, source) entry left the table: aged out, left, flushed or cleared."""

    vsi: str
    group: str
    source: str
    reason: str
    time: float


class PwStateChanged(NamedTuple):
    """A PW's oper-status, forwarding-state or remote status changed.

    ``forwarding_entries`` counts the group entries on the PW when it is now active: on a
    device that follows its peer's signal (SPE2) this is what the feature preinstalled.
    """

    vsi: str
    pw: PwKey
    oper_status: str
    forwarding_state: str
    remote_status: str
    time: float
    forwarding_entries: int = 0


class PwSwitchover(NamedTuple):
    """The owner of a redundancy pair moved forwarding from one PW to the other.

    ``preinstalled_groups`` counts the group entries already on the new active PW that
    started forwarding in the same step: the feature's whole point, measured.
    """

    vsi: str
    from_pw: PwKey
    to_pw: PwKey
    preinstalled_groups: int
    time: float


class GroupLimitExceeded(NamedTuple):
    """limit-max-entry refused a report; sent once per crossing of the limit.

    ``group`` is the group of the report that crossed it (dotted; None when not known)."""

    vsi: str
    limit: int
    time: float = 0.0
    group: str | None = None


Event = GroupAdded | GroupRemoved | PwStateChanged | PwSwitchover | GroupLimitExceeded


_OCTET_DOT = tuple(f"{octet}." for octet in range(256))
_OCTET = tuple(str(octet) for octet in range(256))


def dotted(address: int) -> str:
    """ip_str without the ipaddress module: group events are made at report rate, and
    joining four ready-made octet strings costs a third less than formatting them."""
    if address == 0:
        return "0.0.0.0"
    return (_OCTET_DOT[address >> 24] + _OCTET_DOT[(address >> 16) & 255] + _OCTET_DOT[(address >> 8) & 255]
            + _OCTET[address & 255])


_GROUP_ADDED = object()
_GROUP_REMOVED = object()


class EventQueue:
    """A device's events, in the order they happened, until :meth:`pop` hands them over.

    Group events are queued as their raw fields (VSI, addresses as ints, time) and become
    :class:`GroupAdded` / :class:`GroupRemoved` only when popped. While a table fills, each
    new group would otherwise format two addresses and build a tuple that lives until the
    driver drains, long enough for CPython's garbage collector to walk it and to count it
    towards the next full collection; queued raw, the fields cost a list extend and
    nothing the collector tracks. The events popped are the same values, in the same order.
    """

    __slots__ = ("_log",)

    def __init__(self) -> None:
        self._log: list[object] = []

    def append(self, event: Event) -> None:
        self._log.append(event)

    def group_added(self, vsi: str, group: int, source: int, now: float) -> None:
        self._log += (_GROUP_ADDED, vsi, group, source, now)

    def group_removed(self, vsi: str, group: int, source: int, reason: str, now: float) -> None:
        self._log += (_GROUP_REMOVED, vsi, group, source, reason, now)

    def pop(self) -> list[Event]:
        """Every queued event, oldest first; the queue is empty afterwards."""
        log, self._log = self._log, []
        events: list[Event] = []
        append, make = events.append, tuple.__new__  # make(GroupAdded, fields) == GroupAdded(*fields),
        fields = iter(log)                          # without NamedTuple's Python-level __new__
        for item in fields:
            if item is _GROUP_ADDED:  # vsi, group, source, time
                append(make(GroupAdded, (next(fields), dotted(next(fields)), dotted(next(fields)),  # type: ignore
                                         next(fields))))
            elif item is _GROUP_REMOVED:  # vsi, group, source, reason, time
                append(make(GroupRemoved, (next(fields), dotted(next(fields)), dotted(next(fields)),  # type: ignore
                                           next(fields), next(fields))))
            else:
                append(item)  # type: ignore[arg-type]
        return events

    def __bool__(self) -> bool:
        return bool(self._log)
