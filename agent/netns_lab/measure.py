"""Measuring the lab: the switchover at the receivers, and the highest lossless rate."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.netns_lab.topology import GAP_FLOOR, NetnsLab, NetnsLabOptions, QUERY_RESPONSE_INTERVAL, RECEIVERS

# ------------------------------------------------------------------------------ measuring

@dataclass
class GroupReception:
    """One receiver's view of one group during one run."""

    receiver: str
    group: str
    sent: int
    received: int
    lost: int
    duplicates: int
    longest_gap_ms: float
    """The longest silence between two arrivals over the whole run (also a tail: sent
    after the last arrival), cut or not: jitter of the hosts and agents shows here."""
    gap_at_cut_ms: float | None
    """The silence the cut caused (:func:`_silence_at_cut`; None: no cut)."""
    resumed_after_cut_ms: float | None
    """The end of that silence minus the cut; 0.0 when it was no longer than GAP_FLOOR
    (the stream went on); None: no cut, or never resumed."""
    first_query_after_cut_ms: float | None
    """When the first IGMP query after the cut reached this receiver, from the cut."""
    longest_gap_starts_ms: float | None
    """Where the longest gap began: from the cut (negative: before it), else from the
    stream's first datagram."""


@dataclass
class FailoverRun:
    """One switchover on real interfaces."""

    feature: bool
    rate_per_group: float
    query_interval_s: int
    lost_frames: int
    interruption_ms: float
    """The longest silence at the cut over every receiver and group (GroupReception.gap_at_cut_ms)."""
    duplicate_frames: int
    longest_gap_ms: float
    """The longest silence anywhere in the run (the cut's, or jitter elsewhere)."""
    cut_took_ms: float
    """How long ``ip link set pw-spe1 down`` took to return."""
    receptions: list[GroupReception]
    spe2_groups_before_cut: int
    """Groups SPE2 held on its pw-upe (learned on the standby PW) when the cut came."""
    pws_after: dict[str, dict[str, str]]


def _group_receptions(record: dict[str, Any], receiver: str, run_id: int, sent: dict[str, dict[str, float]],
                      cut: tuple[float, float] | None = None, window: dict[str, list[list[float]]] | None = None
                      ) -> list[GroupReception]:
    """One row per group the receiver joined: ``record`` is its ``record`` answer,
    ``window`` its arrival times from before the cut to the end (``window`` answer)."""
    queries = record["queries"]
    runs = record["runs"].get(str(run_id), {})
    rows = []
    for group in RECEIVERS[receiver][2]:
        got = runs.get(group, {"received": 0, "distinct": 0, "duplicates": 0, "gaps": [], "first": None,
                               "last": None, "longest": (0.0, 0.0)})
        start, end = got["longest"]
        longest, longest_start = (end - start, start) if end > start else (0.0, None)
        tail = float(sent[group]["last"]) - got["last"] if got["last"] is not None else 0.0
        if tail > longest:                  # sent later than the last arrival: never came back
            longest, longest_start = tail, got["last"]
        origin = cut[0] if cut is not None else got["first"]
        starts = None if longest_start is None or origin is None else round((longest_start - origin) * 1000, 1)
        at_cut = resumed = query = None
        if cut is not None:
            query = next(((t - cut[0]) * 1000 for t in queries if t > cut[0]), None)
            at_cut, resumed = _silence_at_cut((window or {}).get(group, []), cut, float(sent[group]["last"]))
        count = int(sent[group]["sent"])
        rows.append(GroupReception(receiver, group, count, got["received"], count - got["distinct"],
                                   got["duplicates"], _ms(longest), at_cut, resumed,
                                   None if query is None else round(query, 1), starts))
    return rows


def _silence_at_cut(pairs: list[list[float]], cut: tuple[float, float], last_sent: float
                    ) -> tuple[float, float | None]:
    """(the silence the cut caused, when the stream was back, from the cut) in ms.

    Datagrams sent before the cut began took the old path (or were lost on it), those sent
    after ``ip link set down`` returned can only take the new one.  The silence is the
    longest one between consecutive arrivals from the last old-path arrival to the first
    new-path arrival, whenever they came: a receive queue still draining the old path
    shifts the silence later, and it is still found.  0.0 for "back": no silence longer
    than GAP_FLOOR.  Never back: the silence lasts to the source's last datagram, None."""
    began, done = cut
    old = [arrived for sent, arrived in pairs if sent <= began]
    new = [arrived for sent, arrived in pairs if sent > done]
    last_old = max(old) if old else began
    if not new:
        return _ms(last_sent - last_old), None
    low, high = sorted((last_old, min(new)))
    times = sorted(arrived for _, arrived in pairs if low <= arrived <= high)
    longest, back = 0.0, high
    for a, b in zip(times, times[1:]):
        if b - a > longest:
            longest, back = b - a, b
    return _ms(longest), (_ms(back - began) if longest > GAP_FLOOR else 0.0)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def run_failover(options: NetnsLabOptions, *, before: float = 3.0, after: float | None = None,
                 lab_hook: Callable[[NetnsLab], None] | None = None) -> FailoverRun:
    """Build a lab, stream, cut the primary, measure, remove the lab.

    ``after`` defaults to 2 s with the feature and to query interval + response interval +
    3 s without (the stream must have the chance to come back after the next query).
    ``lab_hook`` is called with the converged lab before the stream starts (tests read
    the tables there)."""
    if after is None:
        after = 2.0 if options.feature else options.query_interval + QUERY_RESPONSE_INTERVAL + 3.0
    with NetnsLab(options) as lab:
        lab.start_receivers()
        lab.start_querier()
        lab.wait_converged()
        if lab_hook is not None:
            lab_hook(lab)
        spe2_before = sum(1 for ports in lab.groups("spe2").values() if "pw-upe" in ports)
        stream = lab.stream()
        time.sleep(before)
        cut = lab.cut_primary()
        time.sleep(after)
        sent = stream.stop()
        time.sleep(0.3)                                 # the last datagrams are delivered
        records = lab.receptions()
        windows = lab.arrivals(stream.run_id, cut[0] - 1.0, time.monotonic())
        pws_after = lab.pws("upe")
    rows = [row for receiver, record in records.items()
            for row in _group_receptions(record, receiver, stream.run_id, sent, cut, windows[receiver])]
    return FailoverRun(
        feature=options.feature, rate_per_group=options.rate, query_interval_s=options.query_interval,
        lost_frames=sum(r.lost for r in rows), interruption_ms=max(r.gap_at_cut_ms or 0.0 for r in rows),
        duplicate_frames=sum(r.duplicates for r in rows), longest_gap_ms=max(r.longest_gap_ms for r in rows),
        cut_took_ms=_ms(cut[1] - cut[0]), receptions=rows, spe2_groups_before_cut=spe2_before,
        pws_after=pws_after)


def run_throughput(options: NetnsLabOptions, rates: Sequence[float], *, seconds: float = 5.0
                   ) -> list[dict[str, Any]]:
    """Stream at each rate (per group) for ``seconds`` on one converged lab; per step the
    datagrams sent, lost and duplicated at the receivers.  No cut."""
    steps = []
    with NetnsLab(options) as lab:
        lab.start_receivers()
        lab.start_querier()
        lab.wait_converged()
        host_drops_before = 0
        for rate in rates:
            counted = lab.packet_counts()
            stream = lab.stream(rate)
            time.sleep(seconds)
            sent = stream.stop()
            time.sleep(0.5)
            records = lab.receptions()
            path = {key: value - counted[key] for key, value in lab.packet_counts().items()}
            rows = [row for receiver, record in records.items()
                    for row in _group_receptions(record, receiver, stream.run_id, sent, None)]
            offered = sum(int(v["sent"]) for v in sent.values())
            host_drops = sum(record["udp_receive_buffer_errors"] for record in records.values()) - host_drops_before
            host_drops_before += host_drops
            elapsed = max(v["last"] for v in sent.values()) - min(v["first"] for v in sent.values())
            steps.append({
                "rate_per_group": rate,
                "offered_per_second": round(offered / elapsed) if elapsed > 0 else 0,
                # the UPE forwards 4 receptions of 3 groups: what reaches the hosts per second
                "delivered_per_second": round(sum(r.received for r in rows) / elapsed) if elapsed > 0 else 0,
                "sent": offered, "source_errors": int(sum(v["send_errors"] for v in sent.values())),
                "lost": sum(r.lost for r in rows), "dropped_by_receiving_hosts": host_drops,
                "duplicates": sum(r.duplicates for r in rows),
                "longest_gap_ms": max(r.longest_gap_ms for r in rows),
                # kernel counters along the path (IGMP and PW control frames included)
                "path_packets": path})
    return steps


def format_comparison(without: FailoverRun, with_: FailoverRun) -> str:
    def q(run: FailoverRun) -> str:
        times = [r.first_query_after_cut_ms for r in run.receptions if r.first_query_after_cut_ms is not None]
        return f"{min(times):,.0f} ms" if times else "none in the run"

    def resumed(run: FailoverRun) -> str:
        times = [r.resumed_after_cut_ms for r in run.receptions]
        if any(t is None for t in times):
            return "not within the run"
        slowest = max(t for t in times if t is not None)
        return f"{slowest:,.1f} ms" if slowest else f"no silence > {GAP_FLOOR * 1000:g} ms"

    rows = [
        ("datagrams lost at receivers", f"{without.lost_frames:,}", f"{with_.lost_frames:,}"),
        ("interruption at the cut", f"{without.interruption_ms:,.1f} ms", f"{with_.interruption_ms:,.1f} ms"),
        ("longest silence in the run", f"{without.longest_gap_ms:,.1f} ms", f"{with_.longest_gap_ms:,.1f} ms"),
        ("duplicate datagrams", f"{without.duplicate_frames:,}", f"{with_.duplicate_frames:,}"),
        ("stream back after the cut (slowest)", resumed(without), resumed(with_)),
        ("first IGMP query at a host after the cut", q(without), q(with_)),
        ("SPE2 groups on its PW before the cut", str(without.spe2_groups_before_cut),
         str(with_.spe2_groups_before_cut)),
        ("`ip link set pw-spe1 down` took", f"{without.cut_took_ms:,.1f} ms", f"{with_.cut_took_ms:,.1f} ms"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"switchover on real interfaces: {with_.rate_per_group:g} datagrams/s per group, "
             f"query interval {with_.query_interval_s} s, primary cut by carrier loss",
             f"{'':{width}}  {'without feature':>18}  {'with feature':>14}"]
    lines += [f"{a:{width}}  {b:>18}  {c:>14}" for a, b, c in rows]
    return "\n".join(lines)


