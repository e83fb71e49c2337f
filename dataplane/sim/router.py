"""The upstream router R: the IGMP querier of the segment, and the multicast source.

As a querier (RFC 2236 section 3 / RFC 3376 section 6.1, 8.x timer names): at start it
sends Startup Query Count (= robustness) General Queries a quarter query-interval apart,
then one every query-interval, always from its non-zero address to 224.0.0.1 (a source of
0.0.0.0 would not mark router ports, RFC 4541 2.1.1). It keeps the membership it hears
(Group Membership Interval ageing) and answers a Leave with Last Member Query Count
group-specific queries, like a real multicast router would on a LAN. It keeps streaming
whatever it hears: PIM forwarding state is not what this simulation is about.
"""

from __future__ import annotations

import math

from dataplane.addr import ALL_SYSTEMS
from dataplane.igmp import IgmpLeave, IgmpReport, IgmpV3Report, RecordType, build_query
from dataplane.invalid import InvalidFrame
from dataplane.packet import Kind, build_igmp_frame, classify
from dataplane.sim.kernel import Simulator
from dataplane.sim.source import Source

__all__ = ["Router"]


class Router(Source):
    """Querier and source on one port (``eth0``)."""

    def __init__(
        self,
        sim: Simulator,
        name: str,
        mac: bytes,
        ip: int,
        *,
        version: int = 2,
        query_interval: float = 60.0,
        max_resp_time: float = 10.0,
        robustness: int = 2,
        last_member_query_interval: float = 1.0,
    ) -> None:
        super().__init__(sim, name, mac, ip)
        self.version = version
        self.query_interval = query_interval
        self.max_resp_time = max_resp_time
        self.robustness = robustness
        self.last_member_query_interval = last_member_query_interval
        self.queries_sent: list[float] = []
        self.group_queries_sent = 0
        self.reports_received = 0
        self.leaves_received = 0
        self.invalid_received = 0
        self.started_at = 0.0
        self.members: dict[int, float] = {}
        """group -> membership expiry (Group Membership Interval after the last report)."""

    @property
    def membership_interval(self) -> float:
        return self.robustness * self.query_interval + self.max_resp_time

    def start(self, at: float = 0.0) -> None:
        """Begin querying: startup queries a quarter interval apart, then the interval."""
        self.started_at = at
        for i in range(self.robustness):
            self.sim.at(at + i * self.query_interval / 4, self._startup_query)
        self.sim.at(self.last_startup_query_time + self.query_interval, self._periodic_query)

    @property
    def last_startup_query_time(self) -> float:
        """RFC 3376 8.6/8.7: Startup Query Count queries, Startup Query Interval apart."""
        return self.started_at + (self.robustness - 1) * self.query_interval / 4

    def next_query_time(self, after: float) -> float:
        """When the first General Query strictly after ``after`` goes out."""
        for i in range(self.robustness):
            startup = self.started_at + i * self.query_interval / 4
            if startup > after:
                return startup
        periods = math.floor((after - self.last_startup_query_time) / self.query_interval) + 1
        return self.last_startup_query_time + periods * self.query_interval

    def _startup_query(self) -> None:
        self.send_general_query()

    def _periodic_query(self) -> None:
        self.send_general_query()
        self.sim.after(self.query_interval, self._periodic_query)

    def send_general_query(self) -> None:
        igmp = build_query(self.version, self.max_resp_time, 0,
                           qrv=self.robustness, qqic_seconds=int(self.query_interval))
        self.send(self.PORT, build_igmp_frame(self.mac, self.ip, ALL_SYSTEMS, igmp))
        self.queries_sent.append(self.sim.now)

    def _group_query(self, group: int) -> None:
        igmp = build_query(self.version, self.last_member_query_interval, group,
                           qrv=self.robustness, qqic_seconds=int(self.query_interval))
        self.send(self.PORT, build_igmp_frame(self.mac, self.ip, group, igmp))
        self.group_queries_sent += 1

    def receive(self, port: str, frame: bytes, now: float) -> None:
        try:
            packet = classify(frame)
        except InvalidFrame:
            self.invalid_received += 1
            return
        if packet.kind is not Kind.IGMP:
            return
        message = packet.igmp
        if isinstance(message, IgmpReport):
            self.reports_received += 1
            self.members[message.group] = now + self.membership_interval
        elif isinstance(message, IgmpV3Report):
            self.reports_received += 1
            for record in message.records:
                leaving = record.record_type in (RecordType.CHANGE_TO_INCLUDE, RecordType.MODE_IS_INCLUDE) \
                    and not record.sources
                if leaving:
                    self._leave(record.group)
                else:
                    self.members[record.group] = now + self.membership_interval
        elif isinstance(message, IgmpLeave):
            self.leaves_received += 1
            self._leave(message.group)

    def _leave(self, group: int) -> None:
        """RFC 2236 section 3: Last Member Query Count queries, then the group may go."""
        if group not in self.members or self.version == 1:
            return
        for i in range(self.robustness):
            self.sim.after(i * self.last_member_query_interval, self._group_query, group)
        self.members[group] = min(self.members[group], self.sim.now + self.robustness * self.last_member_query_interval)

    def is_member(self, group: int, now: float) -> bool:
        return self.members.get(group, -1.0) > now
