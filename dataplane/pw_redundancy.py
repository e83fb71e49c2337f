"""PW redundancy (SPEC 2.1): roles, forwarding state, PW-status signalling, keepalives,
switchover and wait-to-restore.

Vocabulary from RFC 6870 (PW preferential forwarding status) and RFC 4447 5.4.3 (PW
status): the *owner* of a redundancy pair (the UPE, where the PWs have a ``role``) decides
which PW is active and signals every PW's state to its peer; a PW without a role is active
only while its peer signals active. Absence of any status means "forwarding" (RFC 4447), so
ordinary VPLS PWs that nobody signals simply stay active.

Failure detection is carrier loss (``link_state``) at once, and a BFD-like keepalive for
silent failures: once a peer has been heard, ``interval x multiplier`` seconds of silence
take the PW down. Detection is armed by the first keepalive heard, as BFD's session comes
up only after the handshake, so a lone device in a unit test keeps its PWs up.

The module decides; the VSI acts. State changes are reported to a :class:`PwListener`
(the VSI), which updates its ports, flushes or holds entries, and emits the switchover
event with the count of entries that started forwarding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from dataplane.config import PwConfig
from dataplane.invalid import InvalidFrame, InvalidReason
from dataplane.pw_control import PwControl, PwMessageType, PwStatus, build_pw_control
from dataplane.timers import Deadlines

__all__ = ["PwListener", "PwRedundancy", "Pseudowire", "SwitchoverError"]

Frames = list[tuple[str, bytes]]
PwKey = tuple[str, int]

ACTIVE = "active"
STANDBY = "standby"


class SwitchoverError(ValueError):
    """A manual switchover that cannot be done (not a pair member, or the PW is down)."""


class PwListener(Protocol):
    def pw_changed(self, pw: Pseudowire, now: float) -> Frames:
        """A PW's oper-status, forwarding state or remote status changed; returns what the
        change makes the listener send (a recovering pair member's report solicitation)."""

    def pw_switched(self, from_pw: Pseudowire, to_pw: Pseudowire, now: float) -> None:
        """The owner moved forwarding of a redundancy pair from one PW to the other."""


class Pseudowire:
    """One PW's state; its timers (keepalive transmit, silence detection) belong to it."""

    def __init__(self, config: PwConfig) -> None:
        self.config = config
        self.key: PwKey = config.key
        self.interface = config.interface
        self.role = config.role
        self.link_up = True
        self.silent = False
        """Keepalives stopped for interval x multiplier after the peer had been heard."""
        self.heard = False
        self.last_heard: float | None = None
        self.remote_status: str | None = None
        """What the peer last signalled (None: nothing yet, which RFC 4447 reads as forwarding)."""
        self.selected = config.role != "backup"
        """For a pair member: the owner's choice. Ignored for PWs without a role."""
        self.sequence = 0

    @property
    def oper_up(self) -> bool:
        return self.link_up and not self.silent

    @property
    def active(self) -> bool:
        """Forwarding state: the owner's selection for pair members, the peer's signal otherwise."""
        if not self.oper_up:
            return False
        if self.role is not None:
            return self.selected
        return self.remote_status != STANDBY

    @property
    def forwarding_state(self) -> str:
        return ACTIVE if self.active else STANDBY

    @property
    def oper_status(self) -> str:
        return "up" if self.oper_up else "down"

    @property
    def detect_time(self) -> float:
        return self.config.keepalive_interval * self.config.keepalive_multiplier

    def signalled_status(self) -> PwStatus:
        """What we tell the peer: the owner signals standby for its unselected member;
        everyone else only reports being able to forward (never a standby of its own,
        which would make two role-less peers hold each other standby forever)."""
        if self.role is not None and not self.selected:
            return PwStatus.STANDBY
        return PwStatus.FORWARDING

    def snapshot(self) -> tuple[str, str, str | None]:
        return (self.oper_status, self.forwarding_state, self.remote_status)


class _PwTimer:
    """A timer owned by one PW (on the device's deadline heap); ``alive`` False disarms it."""

    __slots__ = ("owner", "pw", "scheduled", "alive")

    def __init__(self, owner: PwRedundancy, pw: Pseudowire) -> None:
        self.owner = owner
        self.pw = pw
        self.scheduled: float | None = None
        self.alive = True


class _KeepaliveTimer(_PwTimer):
    """Sends a keepalive every interval while the link is up."""

    __slots__ = ()

    def fire(self, now: float) -> Frames:
        if not self.alive:
            return []
        self.owner.deadlines.schedule(self, now + self.pw.config.keepalive_interval)
        if not self.pw.link_up:
            return []
        return [self.owner.control_frame(self.pw, PwMessageType.KEEPALIVE)]


class _DetectTimer(_PwTimer):
    """BFD-like detection: silence for interval x multiplier takes the PW down."""

    __slots__ = ()

    def fire(self, now: float) -> Frames:
        pw = self.pw
        if not self.alive or not pw.heard or pw.silent or pw.last_heard is None:
            return []
        expires = pw.last_heard + pw.detect_time
        if expires > now:
            self.owner.deadlines.schedule(self, expires)
            return []
        return self.owner.change(pw, now, lambda: setattr(pw, "silent", True))


class _WaitToRestore:
    """RFC 6870-style wait-to-restore: the recovered primary must stay up wtr-time seconds."""

    __slots__ = ("owner", "scheduled", "alive")

    def __init__(self, owner: PwRedundancy) -> None:
        self.owner = owner
        self.scheduled: float | None = None
        self.alive = True

    def fire(self, now: float) -> Frames:
        if not self.alive:
            return []
        return self.owner.restore_primary(now)


class PwRedundancy:
    """All PWs of one VSI and, when roles are configured, the redundancy pair they form."""

    def __init__(
        self,
        configs: tuple[PwConfig, ...],
        local_address: int,
        mac: bytes,
        deadlines: Deadlines,
        listener: PwListener,
    ) -> None:
        self.local_address = local_address
        self.mac = mac
        self.deadlines = deadlines
        self.listener = listener
        self.pws: dict[PwKey, Pseudowire] = {c.key: Pseudowire(c) for c in configs}
        self.by_interface: dict[str, Pseudowire] = {pw.interface: pw for pw in self.pws.values()}
        self.primary = next((pw for pw in self.pws.values() if pw.role == "primary"), None)
        self.backup = next((pw for pw in self.pws.values() if pw.role == "backup"), None)
        self.manual = False
        """A manual switchover pins the selection: no revert until a failure or another one."""
        self._wtr = _WaitToRestore(self)
        self._keepalives: dict[PwKey, _KeepaliveTimer] = {}
        self._detectors: dict[PwKey, _DetectTimer] = {}

    # -- life cycle ------------------------------------------------------------------

    def start(self, now: float) -> Frames:
        """Arm keepalives and tell every peer our view at once (a restart heals peers)."""
        for pw in self.pws.values():
            keepalive = self._keepalives[pw.key] = _KeepaliveTimer(self, pw)
            self._detectors[pw.key] = _DetectTimer(self, pw)
            self.deadlines.schedule(keepalive, now + pw.config.keepalive_interval)
        return [self.control_frame(pw, PwMessageType.STATUS) for pw in self.pws.values()]

    def stop(self) -> None:
        """Detach every timer (the VSI is being removed or replaced)."""
        for timer in [*self._keepalives.values(), *self._detectors.values()]:
            timer.alive = False
        self._wtr.alive = False

    @property
    def is_owner(self) -> bool:
        return self.primary is not None and self.backup is not None

    def sibling(self, pw: Pseudowire) -> Pseudowire | None:
        """The other member of ``pw``'s redundancy pair (None: not a pair member here)."""
        if not self.is_owner or pw.role is None:
            return None
        return self.backup if pw is self.primary else self.primary

    # -- inputs ----------------------------------------------------------------------

    def link_state(self, pw: Pseudowire, up: bool, now: float) -> Frames:
        """Carrier change: failure is detected at once, with no keepalive wait."""
        def apply() -> None:
            pw.link_up = up
            if not up:
                pw.heard = False  # detection re-arms with the peer's first keepalive
                pw.silent = False
        frames = self.change(pw, now, apply)
        if up:
            frames.append(self.control_frame(pw, PwMessageType.STATUS))
        return frames

    def receive_control(self, pw: Pseudowire, msg: PwControl, now: float) -> Frames:
        """A STATUS or KEEPALIVE from the peer: proof of life, and its view of the PW."""
        if msg.vc_id != pw.key[1]:
            raise InvalidFrame(InvalidReason.BAD_PW_CONTROL, f"vc-id {msg.vc_id} on PW {pw.key}")
        remote = ACTIVE if msg.signals_active else STANDBY

        def apply() -> None:
            pw.heard = True
            pw.silent = False
            pw.last_heard = now
            pw.remote_status = remote
        was_silent = pw.silent
        frames = self.change(pw, now, apply)
        detect = self._detectors.get(pw.key)
        if detect is not None:
            self.deadlines.schedule(detect, now + pw.detect_time)
        if was_silent:
            frames.append(self.control_frame(pw, PwMessageType.STATUS))
        return frames

    def switchover(self, key: PwKey, now: float) -> Frames:
        """Manual switchover: make ``key`` the active member of its pair."""
        pw = self.pws.get(key)
        if pw is None or pw.role is None or not self.is_owner:
            raise SwitchoverError(f"PW {key[0]},{key[1]} is not a member of a redundancy pair")
        if not pw.oper_up:
            raise SwitchoverError(f"PW {key[0]},{key[1]} is down and cannot become active")
        if pw.selected:
            return []

        def pin() -> None:
            self.manual = True
        return self.change(pw, now, pin, force=pw)

    def restore_primary(self, now: float) -> Frames:
        """Wait-to-restore expired: revert if the primary is still up and nobody pinned."""
        self._wtr.scheduled = None
        primary = self.primary
        if primary is None or primary.selected or not primary.oper_up or self.manual:
            return []
        return self.change(primary, now, lambda: None, force=primary)

    # -- decisions -------------------------------------------------------------------

    def change(self, pw: Pseudowire, now: float, mutate: Callable[[], None],
               force: Pseudowire | None = None) -> Frames:
        """Apply a state change, re-run the pair decision, report what changed.

        Every PW whose (oper-status, forwarding state, remote status) moved is reported
        before the switchover itself, so the listener counts entries on ports that are
        already forwarding.
        """
        before = {p.key: p.snapshot() for p in self.pws.values()}
        mutate()
        target = force if force is not None else self._decide(now)
        switched: tuple[Pseudowire, Pseudowire] | None = None
        frames: Frames = []
        if target is not None:
            switched = self._select(target)
            frames = [self.control_frame(p, PwMessageType.STATUS) for p in switched]
        for p in self.pws.values():
            if p.snapshot() != before[p.key]:
                frames += self.listener.pw_changed(p, now)
        if switched is not None:
            self.listener.pw_switched(switched[0], switched[1], now)
        return frames

    def _decide(self, now: float) -> Pseudowire | None:
        """The owner's rule: fail over at once, revert after wait-to-restore.

        Returns the PW to make active, or None to keep the current selection.
        """
        if not self.is_owner:
            return None
        primary, backup = self.primary, self.backup
        assert primary is not None and backup is not None
        active = primary if primary.selected else backup
        other = backup if active is primary else primary
        if not active.oper_up and other.oper_up:
            self.manual = False
            return other
        if active is backup and primary.oper_up and primary.config.revertive and not self.manual:
            if primary.config.wtr_time == 0:
                return primary
            if self._wtr.scheduled is None:
                self.deadlines.schedule(self._wtr, now + primary.config.wtr_time)
        elif not primary.oper_up:
            self._wtr.scheduled = None  # the primary failed again during wait-to-restore
        return None

    def _select(self, target: Pseudowire) -> tuple[Pseudowire, Pseudowire]:
        """Make ``target`` the selected member; returns (previous, target)."""
        primary, backup = self.primary, self.backup
        assert primary is not None and backup is not None
        previous = backup if target is primary else primary
        primary.selected = target is primary
        backup.selected = target is backup
        self._wtr.scheduled = None
        return (previous, target)

    def control_frame(self, pw: Pseudowire, msg_type: PwMessageType) -> tuple[str, bytes]:
        pw.sequence = (pw.sequence + 1) & 0xFFFFFFFF
        msg = PwControl(msg_type=msg_type, sender=self.local_address, vc_id=pw.key[1],
                        status=pw.signalled_status(), sequence=pw.sequence)
        return (pw.interface, build_pw_control(self.mac, msg))
