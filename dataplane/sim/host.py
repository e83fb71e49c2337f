"""A receiver host: joins and leaves with real IGMP frames, answers queries, and keeps an
exact record of the multicast data it gets.

IGMP behaviour (RFC 2236 section 3, RFC 3376 section 5): a join sends an unsolicited
report at once and repeats it ``unsolicited_repeats`` times within the Unsolicited Report
Interval; a leave sends a Leave (v2, to 224.0.0.2) or a TO_IN{} record (v3, to
224.0.0.22). A query is answered after a uniformly random delay in [0, Max Resp Time]
(an already pending earlier answer is kept); v1/v2 hosts cancel a pending report when they
hear another host report the group (suppression). A host answers in the query's version
when that is older than its own (RFC 3376 section 7.2.1, without the Older Version Querier
Present timer, which no part of these scenarios depends on).

Data: every datagram of a joined group is looked up by its sequence number
(:mod:`dataplane.sim.source` payload): unique frames, duplicates and gaps (with the receive
times on both sides of each gap) are kept per group in a :class:`Reception`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dataplane.addr import ALL_ROUTERS, IGMPV3_ROUTERS
from dataplane.igmp import (
    GroupRecord,
    IgmpQuery,
    IgmpReport,
    RecordType,
    build_leave,
    build_report_v1,
    build_report_v2,
    build_v3_report,
)
from dataplane.invalid import InvalidFrame
from dataplane.packet import Kind, build_igmp_frame, classify, fast_data_group, parse_udp
from dataplane.sim.kernel import Simulator, Timer
from dataplane.sim.network import Node
from dataplane.sim.source import decode_stream_payload

__all__ = ["Gap", "Host", "Reception"]


@dataclass(frozen=True)
class Gap:
    """Frames missing between two received ones."""

    last_seq: int
    next_seq: int
    last_time: float
    resume_time: float

    @property
    def missing(self) -> int:
        return self.next_seq - self.last_seq - 1

    @property
    def duration(self) -> float:
        """Receive time of the first frame after the gap minus that of the last before."""
        return self.resume_time - self.last_time


@dataclass
class Reception:
    """One group's stream as one receiver saw it."""

    group: int
    remember: bool = True
    """Keep every sequence number seen (exact duplicate and loss counts). A long-running lab
    turns it off: memory stays flat, and a number at or below the highest counts as a
    duplicate when equal to it, else as reordered."""
    seqs: set[int] = field(default_factory=set)
    received: int = 0
    duplicates: int = 0
    reordered: int = 0
    highest: int = -1
    last_time: float | None = None
    first_time: float | None = None
    gaps: list[Gap] = field(default_factory=list)

    def record(self, seq: int, now: float) -> None:
        if self.remember:
            if seq in self.seqs:
                self.duplicates += 1
                return
            self.seqs.add(seq)
        elif seq == self.highest:
            self.duplicates += 1
            return
        self.received += 1
        if self.first_time is None:
            self.first_time = now
        if seq < self.highest:
            self.reordered += 1
            return
        if self.highest >= 0 and seq > self.highest + 1 and self.last_time is not None:
            self.gaps.append(Gap(self.highest, seq, self.last_time, now))
        self.highest = seq
        self.last_time = now

    def missing_from(self, sent: range) -> int:
        """How many of the ``sent`` sequence numbers never arrived."""
        return sum(1 for seq in sent if seq not in self.seqs)


class Host(Node):
    """An IGMP host with one port, ``eth0``."""

    PORT = "eth0"

    def __init__(
        self,
        sim: Simulator,
        name: str,
        mac: bytes,
        ip: int,
        *,
        version: int = 2,
        unsolicited_repeats: int = 1,
        unsolicited_report_interval: float = 1.0,
        remember_sequences: bool = True,
    ) -> None:
        if version not in (1, 2, 3):
            raise ValueError(f"IGMP version {version}")
        super().__init__(sim, name, mac)
        self.ip = ip
        self.version = version
        self.unsolicited_repeats = unsolicited_repeats
        self.unsolicited_report_interval = unsolicited_report_interval
        self.remember_sequences = remember_sequences
        """See :attr:`Reception.remember`."""
        self.joined: set[int] = set()
        self.receptions: dict[int, Reception] = {}
        self.unwanted_frames = 0
        """Multicast data for groups this host never joined (flooding made visible)."""
        self.reports_sent = 0
        self.leaves_sent = 0
        self.queries_heard = 0
        self.report_delays: list[float] = []
        """Seconds from each query heard to the report it caused (checks max-resp-time)."""
        self._pending: dict[int, tuple[Timer, int]] = {}
        self._pending_general: Timer | None = None

    # -- membership -------------------------------------------------------------------

    def join(self, group: int) -> None:
        """Join now: an unsolicited report, repeated within the report interval."""
        self.joined.add(group)
        self.receptions.setdefault(group, Reception(group, remember=self.remember_sequences))
        self._unsolicited(group, self.unsolicited_repeats)

    def _unsolicited(self, group: int, repeats_left: int) -> None:
        if group not in self.joined:
            return
        self._send_report(group, self.version, RecordType.CHANGE_TO_EXCLUDE)
        if repeats_left > 0:
            delay = self.sim.rng.uniform(0, self.unsolicited_report_interval)
            self.sim.after(delay, self._unsolicited, group, repeats_left - 1)

    def leave(self, group: int) -> None:
        """Leave now: a v2 Leave or a v3 TO_IN{} record (a v1 host just goes quiet)."""
        if group not in self.joined:
            return
        self.joined.discard(group)
        pending = self._pending.pop(group, None)
        if pending is not None:
            pending[0].cancel()
        if self.version == 2:
            self._send(ALL_ROUTERS, build_leave(group))
            self.leaves_sent += 1
        elif self.version == 3:
            self._send(IGMPV3_ROUTERS, build_v3_report((GroupRecord(RecordType.CHANGE_TO_INCLUDE, group),)))
            self.leaves_sent += 1

    # -- frames ----------------------------------------------------------------------

    def receive(self, port: str, frame: bytes, now: float) -> None:
        group = fast_data_group(frame)
        if group:  # the common case, read at the fast path's fixed offsets
            self._data(group, frame[34:] if frame[12] == 0x08 else frame[38:], now)
            return
        try:
            packet = classify(frame)
        except InvalidFrame:
            return
        if packet.kind is Kind.DATA and packet.ip is not None and packet.ip.dst >> 28 == 0xE:
            self._data(packet.ip.dst, packet.ip_payload, now)
        elif packet.kind is Kind.IGMP:
            if isinstance(packet.igmp, IgmpQuery):
                self._query(packet.igmp, now)
            elif isinstance(packet.igmp, IgmpReport):
                self._suppress(packet.igmp.group)

    def _data(self, group: int, udp: bytes, now: float) -> None:
        if group not in self.joined:
            self.unwanted_frames += 1
            return
        try:
            _, _, payload = parse_udp(udp)
        except InvalidFrame:
            return
        decoded = decode_stream_payload(payload)
        if decoded is not None:
            self.receptions[group].record(decoded[0], now)

    def _query(self, query: IgmpQuery, now: float) -> None:
        self.queries_heard += 1
        version = min(self.version, query.version)
        delay = self.sim.rng.uniform(0, query.max_resp_time)
        if version == 3 and query.is_general:
            if self.joined and (self._pending_general is None or self._pending_general.time > now + delay):
                if self._pending_general is not None:
                    self._pending_general.cancel()
                self._pending_general = self.sim.after(delay, self._answer_general, now)
            return
        groups = sorted(self.joined) if query.is_general else [query.group] if query.group in self.joined else []
        for group in groups:
            pending = self._pending.get(group)
            if pending is not None and pending[0].time <= now + delay:
                continue
            if pending is not None:
                pending[0].cancel()
            self._pending[group] = (self.sim.after(delay, self._answer, group, version, now), version)

    def _answer(self, group: int, version: int, asked: float) -> None:
        self._pending.pop(group, None)
        if group in self.joined:
            self.report_delays.append(self.sim.now - asked)
            self._send_report(group, version, RecordType.MODE_IS_EXCLUDE)

    def _answer_general(self, asked: float) -> None:
        self._pending_general = None
        if self.joined:
            self.report_delays.append(self.sim.now - asked)
            records = tuple(GroupRecord(RecordType.MODE_IS_EXCLUDE, g) for g in sorted(self.joined))
            self._send(IGMPV3_ROUTERS, build_v3_report(records))
            self.reports_sent += 1

    def _suppress(self, group: int) -> None:
        """RFC 2236 section 3: another member answered, ours is not needed."""
        pending = self._pending.get(group)
        if pending is not None and pending[1] < 3:
            pending[0].cancel()
            del self._pending[group]

    def _send_report(self, group: int, version: int, v3_type: RecordType) -> None:
        if version == 1:
            self._send(group, build_report_v1(group))
        elif version == 2:
            self._send(group, build_report_v2(group))
        else:
            self._send(IGMPV3_ROUTERS, build_v3_report((GroupRecord(v3_type, group),)))
        self.reports_sent += 1

    def _send(self, destination: int, igmp: bytes) -> None:
        self.send(self.PORT, build_igmp_frame(self.mac, self.ip, destination, igmp))
