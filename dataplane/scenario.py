"""The failover scenario (SPEC sections 2 and 6), in virtual time.

Topology::

      Router R (querier, source 239.1.1.1-3)
            |
        [segment]  learning switch: counts upstream MAC moves
         /      \\
   SPE1 uplink   SPE2 uplink
   SPE1 pw-upe   SPE2 pw-upe         (peer 10.0.0.3, vc-id 100)
        \\           /
  UPE pw-spe1    UPE pw-spe2         primary (10.0.0.1, 100) / backup (10.0.0.2, 100)
        UPE ac1, ac2 -- receivers

VSI ``iptv`` on all three devices, IGMP snooping on, ``unknown-multicast-action drop``.
Receiver 1 joins 239.1.1.1 and .2, receiver 2 joins .2 and .3; the router streams each
group at ``rate`` frames/s. Mid-stream the primary PW's link is cut (carrier loss at both
ends). With ``feature`` the three devices run backup-query-forward and
backup-report-forward with source-mac-replace, so SPE2 learns the groups over the standby
PW beforehand; without it SPE2 learns nothing until the next query and report.

Measured per run (:class:`FailoverResult`): frames lost at the receivers in the measured
window, the longest interruption, duplicates, upstream MAC moves, loops (a node receiving
its own frames), and for context the frames lost in flight on the cut link and the entries
SPE2 held on its PW when the failure came. Each run also carries a
:class:`ReceptionTimeline`: the frames each receiver got per time bin (10 ms by default)
from a second before the cut to the end of the run, what a plot of the switchover shows.

The revert scenario (:func:`run_revert`, :class:`RevertResult`) goes on from there: the
primary comes back after an outage, and wait-to-restore later the UPE reverts to it. With
the feature SPE1 must hold the groups by then (the UPE solicits reports when the primary
comes back, see :mod:`dataplane.vsi`), so the revert costs what the switchover costs.

``python -m dataplane.scenario failover|revert [--json]`` runs one of them twice, without
and with the feature, and prints both.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field, fields

from dataplane.addr import ip_int, mac_bytes
from dataplane.config import AcConfig, DeviceConfig, IgmpSnoopingConfig, PwConfig, VsiConfig
from dataplane.device import Device
from dataplane.events import PwStateChanged, PwSwitchover
from dataplane.sim import DeviceNode, Host, Link, MacMove, MulticastStream, Router, Simulator, Switch

__all__ = ["FailoverLab", "FailoverResult", "ReceptionTimeline", "RevertResult", "TimelineRecorder", "build_lab",
           "device_configs", "format_revert_table", "format_table", "main", "run_failover", "run_revert"]

VSI = "iptv"
VC_ID = 100
GROUPS = (ip_int("239.1.1.1"), ip_int("239.1.1.2"), ip_int("239.1.1.3"))
RECEIVER_GROUPS = {"receiver1": GROUPS[:2], "receiver2": GROUPS[1:]}

SPE1_ADDRESS, SPE2_ADDRESS, UPE_ADDRESS = "10.0.0.1", "10.0.0.2", "10.0.0.3"
MACS = {
    "R": "02:00:00:00:00:01",
    "SPE1": "02:00:00:00:01:01",
    "SPE2": "02:00:00:00:01:02",
    "UPE": "02:00:00:00:01:03",
    "receiver1": "02:00:00:00:0a:01",
    "receiver2": "02:00:00:00:0a:02",
}
ROUTER_IP = ip_int("192.0.2.1")
FAILURES = ("carrier", "silent")
RECEIVER_IPS = {"receiver1": ip_int("198.51.100.11"), "receiver2": ip_int("198.51.100.12")}


@dataclass(frozen=True)
class ReceptionTimeline:
    """Frames each receiver got per time bin: the shape of an interruption, not just its size.

    ``counts[receiver][i]`` counts every multicast data frame of a joined group (duplicates
    included: they are frames received too) that reached the receiver in
    ``[start + i * bin_width, start + (i + 1) * bin_width)``, virtual seconds.
    """

    start: float
    bin_width: float
    counts: dict[str, tuple[int, ...]] = field(hash=False)
    cut: float
    """When the primary PW failed: the moment a plot marks."""

    def bin_starts(self) -> list[float]:
        """Each bin's start time (absolute virtual seconds)."""
        bins = len(next(iter(self.counts.values()), ()))
        return [self.start + i * self.bin_width for i in range(bins)]

    def total(self, receiver: str) -> int:
        return sum(self.counts[receiver])


class TimelineRecorder:
    """Reads each receiver's frame count at every bin boundary of ``[start, stop)``.

    It samples the hosts' own reception records from simulator events instead of hooking
    their receive path: the hosts stay as they are, and a sample costs one event per bin
    rather than one record per frame. It sends nothing and draws no random number, so a
    run with a recorder is the same run as without one.
    """

    def __init__(self, sim: Simulator, receivers: dict[str, Host], *, start: float, stop: float,
                 bin_width: float, cut: float) -> None:
        if not bin_width > 0:
            raise ValueError(f"a timeline bin is a positive number of seconds, not {bin_width!r}")
        if not stop - start >= bin_width or start < sim.now:
            raise ValueError(f"a timeline window holds at least one bin ({bin_width:g} s) from now "
                             f"({sim.now:g} s) on: {start!r}..{stop!r} does not")
        self.receivers = receivers
        self.start = start
        self.bin_width = bin_width
        self.cut = cut
        self.bins = int((stop - start) / bin_width)  # whole bins: the last sample is never after stop
        self.stop = start + self.bins * bin_width
        self._samples: dict[str, list[int]] = {name: [] for name in receivers}
        for i in range(self.bins + 1):
            sim.at(start + i * bin_width, self._sample)

    def _sample(self) -> None:
        for name, host in self.receivers.items():
            self._samples[name].append(_frames_received(host))

    def timeline(self) -> ReceptionTimeline:
        """The counts per bin; the simulation must have run past the window's end."""
        samples = next(iter(self._samples.values()), [])
        if len(samples) != self.bins + 1:
            raise RuntimeError(f"the simulation has not reached the timeline's end ({self.stop:g} s)")
        counts = {name: tuple(b - a for a, b in zip(taken, taken[1:])) for name, taken in self._samples.items()}
        return ReceptionTimeline(start=self.start, bin_width=self.bin_width, counts=counts, cut=self.cut)


def _frames_received(host: Host) -> int:
    """Every data frame of a joined group the host got so far, duplicates included (the
    counters, not the sequence sets, which a long-running lab's hosts do not keep)."""
    return sum(reception.received + reception.duplicates for reception in host.receptions.values())


@dataclass(frozen=True)
class FailoverResult:
    """One run's measurements. The first four keys are the SPEC section 6 contract."""

    lost_frames: int
    interruption_ms: float
    duplicate_frames: int
    mac_moves: int
    """Upstream MAC moves, except each receiver's one relocation after the switchover."""
    loops: int
    feature: bool
    lost_in_flight: int
    """Frames on the primary PW's wire when it was cut (the floor of any loss)."""
    frames_expected: int
    station_moves_after_switchover: int
    """Addresses that moved once from SPE1's side to SPE2's after the cut and stayed: the
    station move any topology change causes, which is not a flap and not counted above."""
    spe2_entries_before_failure: int
    failure: str
    fail_at: float
    recovered_at: float | None
    """When the last receiver got its first frame after the failure (None: never)."""
    seed: int
    timeline: ReceptionTimeline | None = field(default=None, hash=False)
    """Frames per receiver per bin around the cut (None when the run recorded none)."""

    def as_dict(self) -> dict[str, object]:
        """The measurements, without the timeline: thousands of bins are a plot's data, not
        a report's."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "timeline"}


@dataclass(frozen=True)
class RevertResult:
    """One revert run's measurements, over the frames sent from the primary's restore on."""

    lost_frames: int
    interruption_ms: float
    """The longest gap that ended at or after the revert."""
    duplicate_frames: int
    mac_moves: int
    """Upstream MAC moves after the failure towards the standby side: flaps."""
    loops: int
    feature: bool
    frames_expected: int
    spe1_entries_at_revert: int
    """Entries SPE1 held on its PW when the revert made it active: what forwarded at once."""
    queries_solicited: int
    """General queries the UPE sent its hosts when a PW of its pair came back up."""
    station_moves: int
    """Moves after the failure to the side the UPE forwards on: the network following the
    switchover and the revert, not flaps."""
    failure: str
    fail_at: float
    restored_at: float
    reverted_at: float | None
    """When the UPE made the primary active again (None: it never did)."""
    recovered_at: float | None
    """When the last receiver got its first frame after the revert (None: never)."""
    wtr_time: float
    seed: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class FailoverLab:
    """Every node and link of the topology, for the scenario and for interactive labs."""

    sim: Simulator
    router: Router
    segment: Switch
    spe1: DeviceNode
    spe2: DeviceNode
    upe: DeviceNode
    receivers: dict[str, Host]
    primary_link: Link
    backup_link: Link
    links: list[Link]


def device_configs(
    feature: bool,
    *,
    source_mac_replace: bool = True,
    query_interval: float = 60.0,
    max_response_time: float = 10.0,
    version: int = 2,
    wtr_time: float = 30.0,
) -> dict[str, DeviceConfig]:
    """SPEC section 6's configuration of the three devices, feature on or off; ``wtr_time``
    is the UPE primary PW's wait-to-restore."""
    igmp = IgmpSnoopingConfig(
        enable=True,
        version=version,
        query_interval=query_interval,
        max_response_time=max_response_time,
        backup_query_forward=feature,
        backup_query_source_mac_replace=feature and source_mac_replace,
        backup_report_forward=feature,
        backup_report_source_mac_replace=feature and source_mac_replace,
    )

    def device(name: str, acs: tuple[AcConfig, ...], pws: tuple[PwConfig, ...]) -> DeviceConfig:
        vsi = VsiConfig(VSI, unknown_multicast_action="drop", acs=acs, pws=pws, igmp=igmp)
        return DeviceConfig(igmp_snooping_enable=True, device_mac=MACS[name], vsis=(vsi,))

    spe = (AcConfig("uplink"),), (PwConfig(UPE_ADDRESS, VC_ID, "pw-upe"),)
    return {
        "UPE": device(
            "UPE",
            (AcConfig("ac1"), AcConfig("ac2")),
            (PwConfig(SPE1_ADDRESS, VC_ID, "pw-spe1", role="primary", wtr_time=wtr_time),
             PwConfig(SPE2_ADDRESS, VC_ID, "pw-spe2", role="backup")),
        ),
        "SPE1": device("SPE1", *spe),
        "SPE2": device("SPE2", *spe),
    }


def build_lab(
    sim: Simulator,
    configs: dict[str, DeviceConfig],
    *,
    query_interval: float = 60.0,
    max_response_time: float = 10.0,
    version: int = 2,
    pw_delay: float = 0.001,
    lan_delay: float = 0.0001,
) -> FailoverLab:
    """Wire the topology and configure the devices at the simulator's current time."""
    router = Router(sim, "R", mac_bytes(MACS["R"]), ROUTER_IP, version=version,
                    query_interval=query_interval, max_resp_time=max_response_time)
    segment = Switch(sim, "segment")
    nodes = {
        name: DeviceNode(sim, Device(name, MACS[name], querier_address=address))
        for name, address in (("SPE1", SPE1_ADDRESS), ("SPE2", SPE2_ADDRESS), ("UPE", UPE_ADDRESS))
    }
    receivers = {
        name: Host(sim, name, mac_bytes(MACS[name]), RECEIVER_IPS[name], version=version)
        for name in RECEIVER_GROUPS
    }
    spe1, spe2, upe = nodes["SPE1"], nodes["SPE2"], nodes["UPE"]
    primary = Link(sim, (upe, "pw-spe1"), (spe1, "pw-upe"), delay=pw_delay)
    backup = Link(sim, (upe, "pw-spe2"), (spe2, "pw-upe"), delay=pw_delay)
    links = [
        Link(sim, (router, Router.PORT), (segment, "to-R"), delay=lan_delay),
        Link(sim, (segment, "to-SPE1"), (spe1, "uplink"), delay=lan_delay),
        Link(sim, (segment, "to-SPE2"), (spe2, "uplink"), delay=lan_delay),
        primary,
        backup,
        Link(sim, (upe, "ac1"), (receivers["receiver1"], Host.PORT), delay=lan_delay),
        Link(sim, (upe, "ac2"), (receivers["receiver2"], Host.PORT), delay=lan_delay),
    ]
    for name, node in nodes.items():
        node.apply(configs[name])
    return FailoverLab(sim, router, segment, spe1, spe2, upe, receivers, primary, backup, links)


def _streaming_lab(feature: bool, seed: int, failure: str, *, source_mac_replace: bool, query_interval: float,
                   max_response_time: float, rate: float, version: int, pw_delay: float,
                   wtr_time: float | None = None
                   ) -> tuple[dict[str, DeviceConfig], FailoverLab, list[MulticastStream]]:
    """The lab both scenarios run: configured devices, receivers joined, streams started."""
    if failure not in FAILURES:
        raise ValueError(f"failure is one of {', '.join(FAILURES)}, not {failure!r}")
    options = {} if wtr_time is None else {"wtr_time": wtr_time}
    configs = device_configs(feature, source_mac_replace=source_mac_replace, query_interval=query_interval,
                             max_response_time=max_response_time, version=version, **options)
    lab = build_lab(Simulator(seed), configs, query_interval=query_interval, max_response_time=max_response_time,
                    version=version, pw_delay=pw_delay)
    return configs, lab, _start_traffic(lab, rate)


def run_failover(
    feature: bool,
    seed: int = 1,
    *,
    source_mac_replace: bool = True,
    query_interval: float = 60.0,
    max_response_time: float = 10.0,
    rate: float = 1000.0,
    version: int = 2,
    fail_at: float | None = None,
    pw_delay: float = 0.001,
    failure: str = "carrier",
    timeline_bin: float = 0.01,
    timeline_before: float = 1.0,
) -> FailoverResult:
    """Build the lab, stream, cut the primary PW's link mid-stream, measure.

    Timeline: the router starts querying at 0, receivers join at 0.5 s, streams start at
    1 s. The cut comes at ``fail_at`` (default: half a query interval after the router's
    last startup query, so the next query is half an interval away: the expected wait).
    The run ends when, without the feature, the next query and the reports it triggers
    must have restored the stream: that query's time plus max-response-time plus 2 s.
    Loss is counted over sequence numbers sent from 2 s until one second before the end.

    ``failure`` is ``"carrier"`` (the link goes down: both ends see carrier loss at once)
    or ``"silent"`` (the link drops everything with carrier up: the PW keepalives must
    detect it, interval x multiplier later).

    The result's timeline counts frames per receiver in ``timeline_bin`` second bins from
    ``timeline_before`` seconds before the cut (never before 0) to the end of the run.
    """
    configs, lab, streams = _streaming_lab(feature, seed, failure, source_mac_replace=source_mac_replace,
                                           query_interval=query_interval, max_response_time=max_response_time,
                                           rate=rate, version=version, pw_delay=pw_delay)
    cut = fail_at if fail_at is not None else lab.router.last_startup_query_time + query_interval / 2
    end = lab.router.next_query_time(cut) + max_response_time + 2.0
    if timeline_before < 0:
        raise ValueError(f"timeline_before is seconds before the cut, not {timeline_before!r}")
    recorder = TimelineRecorder(lab.sim, lab.receivers, start=max(0.0, cut - timeline_before), stop=end,
                                bin_width=timeline_bin, cut=cut)

    lab.sim.run(cut)
    spe2_entries = _entries_on(lab.spe2, "pw-upe")
    _break(lab.primary_link, failure)
    lab.sim.run(end)

    reception = _measure(lab, streams, (2.0, end - 1.0), cut, rate)
    relocations = _relocations(lab.segment.mac_moves, cut)
    return FailoverResult(
        lost_frames=reception.lost,
        interruption_ms=reception.interruption_ms,
        duplicate_frames=reception.duplicates,
        mac_moves=len(lab.segment.mac_moves) - len(relocations),
        loops=_loops(lab),
        feature=feature,
        lost_in_flight=lab.primary_link.lost_in_flight,
        station_moves_after_switchover=len(relocations),
        frames_expected=reception.expected,
        spe2_entries_before_failure=spe2_entries,
        failure=failure,
        fail_at=cut,
        recovered_at=reception.recovered_at,
        seed=seed,
        timeline=recorder.timeline(),
    )


def run_revert(
    feature: bool,
    seed: int = 1,
    *,
    source_mac_replace: bool = True,
    query_interval: float = 60.0,
    max_response_time: float = 10.0,
    rate: float = 1000.0,
    version: int = 2,
    wtr_time: float = 30.0,
    outage: float = 3.0,
    fail_at: float | None = None,
    pw_delay: float = 0.001,
    failure: str = "carrier",
) -> RevertResult:
    """Build the lab, stream, break the primary PW for ``outage`` seconds, restore it, and
    measure the revert that wait-to-restore brings (SPEC 2.1: as rapid as the switchover).

    Timeline as in :func:`run_failover` up to the break. The break comes at ``fail_at``
    (default: the outage and wait-to-restore centred between two of the router's queries,
    so no query helps SPE1 relearn before the revert: the case the feature must cover).
    The primary is restored ``outage`` seconds later; the UPE reverts ``wtr_time`` after
    it sees the PW up again. The run ends when, without the feature, the first query after
    the revert and the reports it triggers must have restored the stream: that query's time
    plus max-response-time plus 2 s. Loss is counted over sequence numbers sent from the
    restore until one second before the end; the failover itself is run_failover's business.
    """
    if outage <= 0:
        raise ValueError(f"outage must be positive, not {outage!r}")
    configs, lab, streams = _streaming_lab(feature, seed, failure, source_mac_replace=source_mac_replace,
                                           query_interval=query_interval, max_response_time=max_response_time,
                                           rate=rate, version=version, pw_delay=pw_delay, wtr_time=wtr_time)
    last_startup = lab.router.last_startup_query_time
    cut = fail_at if fail_at is not None else last_startup + max(0.0, (query_interval - outage - wtr_time) / 2)
    restore = cut + outage
    # A silent failure heals when the UPE hears SPE1's next keepalive: one interval at most.
    detection = configs["UPE"].vsis[0].pws[0].keepalive_interval + pw_delay if failure == "silent" else 0.0
    expected_revert = restore + detection + wtr_time
    end = lab.router.next_query_time(expected_revert) + max_response_time + 2.0

    lab.sim.run(cut)
    _break(lab.primary_link, failure)
    lab.sim.run(restore)
    _repair(lab.primary_link, failure)
    lab.sim.run(end)

    reverted_at = _revert_time(lab.upe, restore)
    if reverted_at is not None:
        reverted_at = round(reverted_at, 6)
    reception = _measure(lab, streams, (restore, end - 1.0), reverted_at if reverted_at is not None else restore,
                         rate)
    flaps = _flaps(lab, cut)
    return RevertResult(
        lost_frames=reception.lost,
        interruption_ms=reception.interruption_ms,
        duplicate_frames=reception.duplicates,
        mac_moves=len(flaps),
        loops=_loops(lab),
        feature=feature,
        frames_expected=reception.expected,
        spe1_entries_at_revert=0 if reverted_at is None else _entries_when_active(lab.spe1, reverted_at),
        queries_solicited=int(lab.upe.device.vsis[VSI].stats.queries_solicited),
        station_moves=len([m for m in lab.segment.mac_moves if m.time >= cut]) - len(flaps),
        failure=failure,
        fail_at=cut,
        restored_at=restore,
        reverted_at=reverted_at,
        recovered_at=reception.recovered_at,
        wtr_time=wtr_time,
        seed=seed,
    )


@dataclass(frozen=True)
class _Reception:
    """What the receivers got in a measured window, summed over every (receiver, group)."""

    expected: int
    lost: int
    duplicates: int
    interruption_ms: float
    recovered_at: float | None


def _start_traffic(lab: FailoverLab, rate: float) -> list[MulticastStream]:
    """The router queries from 0, the receivers join at 0.5 s, every group streams from 1 s."""
    lab.router.start(0.0)
    for name, groups in RECEIVER_GROUPS.items():
        for group in groups:
            lab.sim.at(0.5, lab.receivers[name].join, group)
    return [lab.router.stream(group, rate, start=1.0) for group in GROUPS]


def _break(link: Link, failure: str) -> None:
    if failure == "carrier":
        link.set_up(False)
    else:
        link.silent_failure = True


def _repair(link: Link, failure: str) -> None:
    if failure == "carrier":
        link.set_up(True)
    else:
        link.silent_failure = False


def _measure(lab: FailoverLab, streams: list[MulticastStream], window: tuple[float, float], since: float,
             rate: float) -> _Reception:
    """Loss and duplicates over the frames sent in ``window``; the longest interruption and
    the recovery among gaps that ended at or after ``since`` (the failure, or the revert)."""
    expected = lost = duplicates = 0
    interruption = 0.0
    recovered: list[float | None] = []
    for name, groups in RECEIVER_GROUPS.items():
        host = lab.receivers[name]
        for group in groups:
            stream = next(s for s in streams if s.group == group)
            sent = stream.sequences_sent_between(*window)
            reception = host.receptions[group]
            expected += len(sent)
            lost += reception.missing_from(sent)
            duplicates += reception.duplicates
            gaps = [g for g in reception.gaps if g.resume_time >= since]
            if gaps:
                interruption = max(interruption, max(g.duration for g in gaps) - 1.0 / rate)
            recovered.append(_first_after(reception, since))
    return _Reception(
        expected=expected,
        lost=lost,
        duplicates=duplicates,
        interruption_ms=round(interruption * 1000, 3),
        recovered_at=None if None in recovered else round(max(r for r in recovered if r is not None), 6),
    )


def _loops(lab: FailoverLab) -> int:
    nodes = [lab.router, lab.segment, lab.spe1, lab.spe2, lab.upe, *lab.receivers.values()]
    return sum(node.loops_detected for node in nodes)


def _revert_time(upe: DeviceNode, after: float) -> float | None:
    """When the UPE moved forwarding back to the primary after ``after`` (None: it did not)."""
    for event in upe.events:
        if isinstance(event, PwSwitchover) and event.time >= after and event.to_pw == (SPE1_ADDRESS, VC_ID):
            return event.time
    return None


def _entries_when_active(spe: DeviceNode, after: float) -> int:
    """Entries the SPE held on its PW when the UPE's signal made it active at or after
    ``after`` (the revert): what started forwarding in that step (0 when it never did)."""
    for event in spe.events:
        if isinstance(event, PwStateChanged) and event.time >= after and event.forwarding_state == "active":
            return event.forwarding_entries
    return 0


def _flaps(lab: FailoverLab, since: float) -> list[MacMove]:
    """Upstream MAC moves since ``since`` that do not follow the topology: a station moving
    to the uplink of the SPE whose PW the UPE forwards on is the network following the
    switchover or the revert; a move anywhere else (to the standby side) is a flap."""
    active_side = "to-SPE1"
    changes = sorted((e.time, "to-SPE1" if e.to_pw[0] == SPE1_ADDRESS else "to-SPE2")
                     for e in lab.upe.events if isinstance(e, PwSwitchover))
    flaps: list[MacMove] = []
    for move in lab.segment.mac_moves:
        while changes and changes[0][0] <= move.time:
            active_side = changes.pop(0)[1]
        if move.time >= since and move.to_port != active_side:
            flaps.append(move)
    return flaps


def _relocations(moves: list[MacMove], cut: float) -> list[MacMove]:
    """Each address's single move from the primary SPE's port to the backup's after the
    cut, provided it never moves again."""
    by_mac: dict[str, list[MacMove]] = {}
    for move in moves:
        if move.time >= cut:
            by_mac.setdefault(move.mac, []).append(move)
    return [
        mac_moves[0]
        for mac_moves in by_mac.values()
        if len(mac_moves) == 1 and (mac_moves[0].from_port, mac_moves[0].to_port) == ("to-SPE1", "to-SPE2")
    ]


def _entries_on(node: DeviceNode, port: str) -> int:
    snooping = node.device.vsis[VSI].snooping
    return 0 if snooping is None else snooping.count_on_port(port)


def _first_after(reception, cut: float) -> float | None:  # noqa: ANN001
    """Receive time of the first frame after the cut: the end of the gap spanning it, or
    the cut itself when no gap spans it (nothing was lost)."""
    for gap in reception.gaps:
        if gap.last_time <= cut <= gap.resume_time:
            return gap.resume_time
    if reception.last_time is not None and reception.last_time < cut:
        return None  # the stream never came back
    return cut


# -- command line -------------------------------------------------------------------------------

_ROWS = (
    ("lost_frames", "frames lost at receivers"),
    ("interruption_ms", "longest interruption (ms)"),
    ("duplicate_frames", "duplicate frames"),
    ("mac_moves", "MAC moves upstream"),
    ("loops", "loops detected"),
    ("station_moves_after_switchover", "station moves after switchover"),
    ("lost_in_flight", "frames in flight on the cut link"),
    ("spe2_entries_before_failure", "SPE2 entries on its PW before"),
)


_REVERT_ROWS = (
    ("lost_frames", "frames lost at receivers"),
    ("interruption_ms", "longest interruption (ms)"),
    ("duplicate_frames", "duplicate frames"),
    ("mac_moves", "MAC moves upstream"),
    ("loops", "loops detected"),
    ("station_moves", "station moves (switchover, revert)"),
    ("queries_solicited", "UPE report solicitations"),
    ("spe1_entries_at_revert", "SPE1 entries on its PW at revert"),
)


def format_table(without: FailoverResult, with_feature: FailoverResult) -> str:
    """The side-by-side view of the two runs."""
    lines = _side_by_side(without.as_dict(), with_feature.as_dict(), _ROWS)
    lines.append(f"(primary PW {_FAILURE_WORDS[without.failure]} at t={without.fail_at:g} s; seed {without.seed}; "
                 f"{without.frames_expected} frames expected per run)")
    return "\n".join(lines)


def format_revert_table(without: RevertResult, with_feature: RevertResult) -> str:
    """The side-by-side view of the two revert runs."""
    lines = _side_by_side(without.as_dict(), with_feature.as_dict(), _REVERT_ROWS)
    reverted = "never" if with_feature.reverted_at is None else f"t={with_feature.reverted_at:g} s"
    lines.append(f"(primary PW {_FAILURE_WORDS[without.failure]} at t={without.fail_at:g} s, restored at "
                 f"t={without.restored_at:g} s, reverted {reverted} (wtr-time {without.wtr_time:g} s); "
                 f"seed {without.seed}; {without.frames_expected} frames expected per run)")
    return "\n".join(lines)


def _side_by_side(left: dict[str, object], right: dict[str, object], rows: tuple[tuple[str, str], ...]) -> list[str]:
    width = max(len(label) for _, label in rows)
    lines = [f"{'':<{width}}  {'without feature':>16}  {'with feature':>14}"]
    for key, label in rows:
        lines.append(f"{label:<{width}}  {_cell(left[key]):>16}  {_cell(right[key]):>14}")
    return lines


_FAILURE_WORDS = {"carrier": "cut", "silent": "silently broken"}


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dataplane.scenario", description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["failover", "revert"],
                        help="failover: the primary fails; revert: it fails, comes back, and wait-to-restore reverts")
    parser.add_argument("--json", action="store_true", help="one JSON object: without_feature, with_feature")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--query-interval", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--max-response-time", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--rate", type=float, default=1000.0, help="frames/s per group (default 1000)")
    parser.add_argument("--igmp-version", type=int, choices=[2, 3], default=2)
    parser.add_argument("--failure", choices=FAILURES, default="carrier",
                        help="carrier: link down at both ends (default); silent: keepalives must detect it")
    parser.add_argument("--wtr-time", type=float, default=30.0, help="revert: wait-to-restore seconds (default 30)")
    parser.add_argument("--outage", type=float, default=3.0, help="revert: seconds the primary stays down (default 3)")
    args = parser.parse_args(argv)
    common = {"seed": args.seed, "query_interval": args.query_interval, "max_response_time": args.max_response_time,
              "rate": args.rate, "version": args.igmp_version, "failure": args.failure}
    if args.scenario == "revert":
        revert = {"wtr_time": args.wtr_time, "outage": args.outage}
        runs = run_revert(False, **common, **revert), run_revert(True, **common, **revert)
        table = format_revert_table(*runs)
    else:
        runs = run_failover(False, **common), run_failover(True, **common)
        table = format_table(*runs)
    if args.json:
        print(json.dumps({"without_feature": runs[0].as_dict(), "with_feature": runs[1].as_dict()}))
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
