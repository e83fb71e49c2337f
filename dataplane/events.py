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

__all__ = ["Event", "GroupAdded", "GroupLimitExceeded", "GroupRemoved", "PwStateChanged", "PwSwitchover"]

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
    """limit-max-entry refused a report; sent once per crossing of the limit."""

    vsi: str
    limit: int
    time: float = 0.0


Event = GroupAdded | GroupRemoved | PwStateChanged | PwSwitchover | GroupLimitExceeded
