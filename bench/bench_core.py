"""Dataplane core benchmarks: forwarding decisions/s, report learning/s, memory of 100k groups.

Run: ``python -m bench.bench_core [--runs N]`` (prints a table; the goals are in the last
column, with ``ok`` or ``MISSED`` judged on CPU time). Virtual time is passed in, as drivers
do. Each rate is the best of N runs and is given twice: by wall clock, and by the CPU time
of this process (``time.process_time``), because on a shared machine the wall clock also
counts the time other processes held the CPU; the load average is printed for the same
reason.

One row is a diagnosis, not a goal: learning new groups with the cyclic garbage collector
paused (here, in the benchmark only). The difference to the row above is what CPython's
collections cost while the table grows: most of it while every group was four tracked
objects, little since plain groups are untracked tuples (see ``dataplane/snooping.py``).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc
from collections.abc import Callable

from dataplane.addr import ip_int
from dataplane.config import AcConfig, DeviceConfig, IgmpSnoopingConfig, PwConfig, VsiConfig
from dataplane.device import Device
from dataplane.igmp import build_report_v2
from dataplane.packet import build_igmp_frame, build_udp_multicast

HOSTS = 8
BASE_GROUP = ip_int("232.0.0.0")
Rate = tuple[float, float]
"""(per second by wall clock, per second of CPU time)."""


def _device() -> Device:
    """One VSI: 8 receiver ACs and a primary/backup PW pair, snooping on, unknown dropped."""
    acs = tuple(AcConfig(f"ac{i}") for i in range(1, HOSTS + 1))
    pws = (PwConfig("10.0.0.1", 100, "pw1", role="primary"), PwConfig("10.0.0.2", 100, "pw2", role="backup"))
    vsi = VsiConfig("iptv", acs=acs, pws=pws, unknown_multicast_action="drop",
                    igmp=IgmpSnoopingConfig(enable=True))
    dev = Device("bench", "02:00:00:00:00:ee", "10.0.0.3")
    dev.apply(DeviceConfig(igmp_snooping_enable=True, vsis=(vsi,)), 0.0)
    return dev


def _reports(count: int) -> list[tuple[str, bytes]]:
    """IGMPv2 reports for ``count`` groups, spread over the 8 hosts."""
    out = []
    for i in range(count):
        group = BASE_GROUP + i
        host = i % HOSTS + 1
        mac = bytes((2, 0, 0, 0, 1, host))
        out.append((f"ac{host}", build_igmp_frame(mac, ip_int(f"192.168.0.{host}"), group, build_report_v2(group))))
    return out


def _rate(count: int, run: Callable[[], None], collector: bool = True) -> Rate:
    gc.collect()
    if not collector:
        gc.disable()
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)
    finally:
        gc.enable()


def _best(rates: list[Rate]) -> Rate:
    return max(r[0] for r in rates), max(r[1] for r in rates)


def bench_forwarding(frames: int = 1_000_000, groups: int = 1000) -> Rate:
    """Multicast data from the active PW to 1000 registered groups (one receiver each)."""
    dev = _device()
    for port, frame in _reports(groups):
        dev.receive(port, frame, 1.0)
    data = [build_udp_multicast(b"\x02\x00\x00\x00\x00\x05", ip_int("10.1.1.5"), BASE_GROUP + g, 5000, 5001,
                                b"\x00" * 64) for g in range(groups)]
    stream = (data * (frames // groups + 1))[:frames]
    receive = dev.receive

    def run() -> None:
        for frame in stream:
            receive("pw1", frame, 2.0)
    rate = _rate(frames, run)
    assert dev.vsis["iptv"].stats.data_forwarded >= frames
    return rate


def bench_learning(reports: int = 300_000, collector: bool = True) -> tuple[Rate, Rate]:
    """(new groups learned, refreshing reports): v2 reports from 8 hosts, events drained
    every 1024 frames as a driver does. ``collector=False`` pauses the cyclic GC."""
    dev = _device()
    frames = _reports(reports)
    receive, pop = dev.receive, dev.pop_events

    def run(now: float) -> None:
        for i, (port, frame) in enumerate(frames):
            receive(port, frame, now)
            if not i & 1023:
                pop()
    learn = _rate(reports, lambda: run(1.0), collector)
    snooping = dev.vsis["iptv"].snooping
    assert snooping is not None and snooping.entry_count == reports
    refresh = _rate(reports, lambda: run(2.0), collector)
    return learn, refresh


def bench_memory(groups: int = 100_000) -> tuple[float, float]:
    """MB held by 100k learned groups (tracemalloc), and tick() cost with nothing due."""
    dev = _device()
    frames = _reports(groups)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i, (port, frame) in enumerate(frames):
        dev.receive(port, frame, 1.0)
        if not i & 1023:
            dev.pop_events()  # as a driver does; the events are not the table
    dev.pop_events()
    del frames
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    start = time.perf_counter()
    for i in range(10_000):
        dev.tick(2.0 + i * 1e-6)
    tick_us = (time.perf_counter() - start) / 10_000 * 1e6
    return used / 1e6, tick_us


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="best of this many runs per rate (default 3)")
    runs = max(1, ap.parse_args().runs)
    load = os.getloadavg()[0]
    forwarding = _best([bench_forwarding() for _ in range(runs)])
    learned = [bench_learning() for _ in range(runs)]
    learning, refresh = _best([r[0] for r in learned]), _best([r[1] for r in learned])
    paused = _best([bench_learning(collector=False)[0] for _ in range(runs)])
    memory, tick_us = bench_memory()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.2f} at start, "
          f"best of {runs} runs")
    rows = [
        ("data forwarding decisions/s (1k groups)", forwarding, 1_000_000),
        ("v2 reports/s creating 300k new groups", learning, 300_000),
        ("v2 reports/s refreshing 300k groups", refresh, 300_000),
    ]
    width = max(len(r[0]) for r in rows) + 12
    print(f"{'measure':<{width}}{'wall':>12}{'CPU time':>12}  goal")
    for name, (wall, cpu), goal in rows:
        verdict = "ok" if cpu >= goal else "MISSED"
        print(f"{name:<{width}}{wall:>12,.0f}{cpu:>12,.0f}  >= {goal:,} {verdict}")
    name = "  same, garbage collector paused (diagnosis)"
    print(f"{name:<{width}}{paused[0]:>12,.0f}{paused[1]:>12,.0f}")
    verdict = "ok" if memory <= 200 else "MISSED"
    print(f"{'memory of 100k groups (tracemalloc)':<{width}}{memory:>11.1f}M{'':>12}  <= 200 MB {verdict}"
          f" ({memory * 10:.0f} bytes a group)")
    print(f"{'tick() with 100k groups, nothing due':<{width}}{tick_us:>10.2f}us{'':>12}  cheap")


if __name__ == "__main__":
    main()
