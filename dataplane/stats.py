"""Per-VSI counters: what the YANG ``statistics`` container reports.

Plain integer attributes on a slotted object, because the data fast path increments one of
them per frame. Invalid frames are counted by :class:`~dataplane.invalid.InvalidReason`
value, the one vocabulary for bad input.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

__all__ = ["VsiStatistics"]


@dataclass(slots=True)
class VsiStatistics:
    """Counters of one VSI; :meth:`reset` is the reset-igmp-snooping-statistics RPC."""

    # IGMP messages received, by type
    general_queries_received: int = 0
    group_specific_queries_received: int = 0
    reports_v1_received: int = 0
    reports_v2_received: int = 0
    reports_v3_received: int = 0
    leaves_received: int = 0
    pim_hellos_received: int = 0
    # IGMP messages sent out, by type (one per frame, whatever the number of ports)
    queries_forwarded: int = 0
    reports_forwarded: int = 0
    leaves_forwarded: int = 0
    queries_sent: int = 0
    group_specific_queries_sent: int = 0
    # the backup-forwarding feature (SPEC 2.3)
    queries_sent_on_standby_pw: int = 0
    queries_received_on_standby_pw: int = 0
    reports_sent_on_standby_pw: int = 0
    reports_received_on_standby_pw: int = 0
    protocol_dropped_on_standby_pw: int = 0
    source_macs_replaced: int = 0
    queries_solicited: int = 0
    """General queries from 0.0.0.0 the owner sent to its ACs when a PW of its redundancy
    pair came back up (one per recovery, whatever the number of ACs): see dataplane.vsi."""
    # data
    data_forwarded: int = 0
    data_dropped_on_standby: int = 0
    data_dropped_unknown: int = 0
    # limits and bad input
    reports_refused_by_limit: int = 0
    invalid: dict[str, int] = field(default_factory=dict)
    # PW redundancy
    switchovers: int = 0
    last_switchover_time: float | None = None

    def count_invalid(self, reason: str) -> None:
        self.invalid[reason] = self.invalid.get(reason, 0) + 1

    def reset(self) -> None:
        for f in fields(self):
            if f.name == "invalid":
                self.invalid.clear()
            elif f.name == "last_switchover_time":
                self.last_switchover_time = None
            else:
                setattr(self, f.name, 0)

    def as_dict(self) -> dict[str, object]:
        """Counter name (YANG spelling) -> value, for rendering and tests."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name.replace("_", "-")] = dict(value) if isinstance(value, dict) else value
        return out
