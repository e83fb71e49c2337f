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
SPE2 held on its PW when the failure came.

``python -m dataplane.scenario failover [--json]`` runs it twice and prints both.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass

from dataplane.addr import ip_int, mac_bytes, mac_str
from dataplane.config import AcConfig, DeviceConfig, IgmpSnoopingConfig, PwConfig, VsiConfig
from dataplane.device import Device
from dataplane.sim import DeviceNode, Host, Link, MacMove, Router, Simulator, Switch

__all__ = ["FailoverLab", "FailoverResult", "build_lab", "device_configs", "format_table", "main", "run_failover"]

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
) -> dict[str, DeviceConfig]:
    """SPEC section 6's configuration of the three devices, feature on or off."""
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
            (PwConfig(SPE1_ADDRESS, VC_ID, "pw-spe1", role="primary"),
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
    """
    if failure not in FAILURES:
        raise ValueError(f"failure is one of {', '.join(FAILURES)}, not {failure!r}")
    sim = Simulator(seed)
    configs = device_configs(feature, source_mac_replace=source_mac_replace, query_interval=query_interval,
                             max_response_time=max_response_time, version=version)
    lab = build_lab(sim, configs, query_interval=query_interval, max_response_time=max_response_time,
                    version=version, pw_delay=pw_delay)
    lab.router.start(0.0)
    for name, groups in RECEIVER_GROUPS.items():
        for group in groups:
            sim.at(0.5, lab.receivers[name].join, group)
    streams = [lab.router.stream(group, rate, start=1.0) for group in GROUPS]
    cut = fail_at if fail_at is not None else lab.router.last_startup_query_time + query_interval / 2
    end = lab.router.next_query_time(cut) + max_response_time + 2.0

    sim.run(cut)
    spe2_entries = _entries_on(lab.spe2, "pw-upe")
    if failure == "carrier":
        lab.primary_link.set_up(False)
    else:
        lab.primary_link.silent_failure = True
    sim.run(end)

    window = (2.0, end - 1.0)
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
            gaps = [g for g in reception.gaps if g.resume_time >= cut]
            if gaps:
                interruption = max(interruption, max(g.duration for g in gaps) - 1.0 / rate)
            recovered.append(_first_after(reception, cut, sim))
    relocations = _relocations(lab.segment.mac_moves, cut)
    nodes = [lab.router, lab.segment, lab.spe1, lab.spe2, lab.upe, *lab.receivers.values()]
    return FailoverResult(
        lost_frames=lost,
        interruption_ms=round(interruption * 1000, 3),
        duplicate_frames=duplicates,
        mac_moves=len(lab.segment.mac_moves) - len(relocations),
        loops=sum(node.loops_detected for node in nodes),
        feature=feature,
        lost_in_flight=lab.primary_link.lost_in_flight,
        station_moves_after_switchover=len(relocations),
        frames_expected=expected,
        spe2_entries_before_failure=spe2_entries,
        failure=failure,
        fail_at=cut,
        recovered_at=None if None in recovered else round(max(r for r in recovered if r is not None), 6),
        seed=seed,
    )


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


def _first_after(reception, cut: float, sim: Simulator) -> float | None:  # noqa: ANN001
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


def format_table(without: FailoverResult, with_feature: FailoverResult) -> str:
    """The side-by-side view of the two runs."""
    left, right = without.as_dict(), with_feature.as_dict()
    width = max(len(label) for _, label in _ROWS)
    lines = [f"{'':<{width}}  {'without feature':>16}  {'with feature':>14}"]
    for key, label in _ROWS:
        lines.append(f"{label:<{width}}  {_cell(left[key]):>16}  {_cell(right[key]):>14}")
    lines.append(f"(primary PW {_FAILURE_WORDS[without.failure]} at t={without.fail_at:g} s; seed {without.seed}; "
                 f"{without.frames_expected} frames expected per run)")
    return "\n".join(lines)


_FAILURE_WORDS = {"carrier": "cut", "silent": "silently broken"}


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dataplane.scenario", description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["failover"])
    parser.add_argument("--json", action="store_true", help="one JSON object: without_feature, with_feature")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--query-interval", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--max-response-time", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--rate", type=float, default=1000.0, help="frames/s per group (default 1000)")
    parser.add_argument("--igmp-version", type=int, choices=[2, 3], default=2)
    parser.add_argument("--failure", choices=FAILURES, default="carrier",
                        help="carrier: link down at both ends (default); silent: keepalives must detect it")
    args = parser.parse_args(argv)
    common = {"seed": args.seed, "query_interval": args.query_interval, "max_response_time": args.max_response_time,
              "rate": args.rate, "version": args.igmp_version, "failure": args.failure}
    without = run_failover(False, **common)
    with_feature = run_failover(True, **common)
    if args.json:
        print(json.dumps({"without_feature": without.as_dict(), "with_feature": with_feature.as_dict()}))
    else:
        print(format_table(without, with_feature))
    return 0


if __name__ == "__main__":
    sys.exit(main())
