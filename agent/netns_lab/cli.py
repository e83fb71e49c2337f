"""``python -m agent.netns_lab`` (and ``scripts/netns-lab``): up, failover, throughput, down."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict

from agent.cli_types import number_in_range
from agent.netns_lab.hosts import receiver_main, source_main
from agent.netns_lab.measure import FailoverRun, format_comparison, run_failover, run_throughput
from agent.netns_lab.topology import (LabError, NETCONF_PORT, NetnsLab, NetnsLabOptions, PREFIX_BASE, STOP_SIGNALS,
                                      remove_leftovers)

# ------------------------------------------------------------------------------ CLI

def _feature_runs(arg: str | None) -> list[bool]:
    return [False, True] if arg is None else [arg == "on"]


def _cmd_up(args: argparse.Namespace) -> int:
    options = NetnsLabOptions(feature=args.feature == "on", query_interval=args.query_interval, rate=args.rate)
    with NetnsLab(options) as lab:
        lab.start_receivers()
        lab.start_querier()
        lab.wait_converged()
        stream = lab.stream()
        print(f"netns lab {lab.prefix} up (feature {'on' if options.feature else 'off'}): namespaces "
              f"{', '.join(lab.namespaces)}; agents on 127.0.0.1:{NETCONF_PORT} in upe/spe1/spe2 "
              f"(enter with `ip netns exec {lab.ns('upe')} ...`), user admin, password {lab.password}; "
              "Ctrl-C removes it", flush=True)
        try:
            while stream.proc.poll() is None:
                time.sleep(1)
        finally:
            if stream.proc.poll() is None:
                stream.stop()
    return 0


def _cmd_failover(args: argparse.Namespace) -> int:
    results: dict[str, FailoverRun] = {}
    for feature in _feature_runs(args.feature):
        options = NetnsLabOptions(feature=feature, query_interval=args.query_interval, rate=args.rate)
        results["with_feature" if feature else "without_feature"] = run_failover(options)
    if args.json:
        print(json.dumps({key: asdict(run) for key, run in results.items()}, indent=2))
    elif len(results) == 2:
        print(format_comparison(results["without_feature"], results["with_feature"]))
    else:
        (key, run), = results.items()
        print(f"{key}: lost {run.lost_frames}, longest interruption {run.interruption_ms:.1f} ms, "
              f"duplicates {run.duplicate_frames}")
    return 0


def _cmd_throughput(args: argparse.Namespace) -> int:
    rates = args.rates
    options = NetnsLabOptions(feature=args.feature != "off", query_interval=args.query_interval)
    steps = run_throughput(options, rates, seconds=args.seconds)
    lossless = [s for s in steps if s["lost"] == 0 and s["duplicates"] == 0 and s["source_errors"] == 0]
    best = max(lossless, key=lambda s: s["rate_per_group"], default=None)
    if args.json:
        print(json.dumps({"steps": steps, "highest_lossless_rate_per_group": best and best["rate_per_group"]},
                         indent=2))
        return 0
    print(f"{'per group/s':>11} {'sent/s':>8} {'to hosts/s':>10} {'lost':>7} {'in hosts':>8} {'dup':>5} "
          f"{'longest gap':>12}")
    for s in steps:
        print(f"{s['rate_per_group']:11g} {s['offered_per_second']:8d} {s['delivered_per_second']:10d} "
              f"{s['lost']:7d} {s['dropped_by_receiving_hosts']:8d} {s['duplicates']:5d} "
              f"{s['longest_gap_ms']:9.1f} ms")
    print("packets along the path per step (kernel counters, control frames included):")
    for s in steps:
        print(f"{s['rate_per_group']:11g}  " + ", ".join(f"{k} {v}" for k, v in s["path_packets"].items()))
    print("highest lossless rate per group:", "none" if best is None else f"{best['rate_per_group']:g}/s")
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    removed = remove_leftovers(args.prefix)
    print(f"removed {len(removed)} namespaces" + (f": {', '.join(removed)}" if removed else ""))
    return 0


MIN_QUERY_INTERVAL, MAX_QUERY_INTERVAL = 2, 3600
MAX_RATE = 100_000.0


_query_interval = number_in_range(int, MIN_QUERY_INTERVAL, MAX_QUERY_INTERVAL, "s", unit_name="seconds")
_rate = number_in_range(float, 0.0, MAX_RATE, "datagrams per second", low_excluded=True)
_seconds = number_in_range(float, 0.5, 600.0, "s", unit_name="seconds")


def _prefix(text: str) -> str:
    if not text.startswith(PREFIX_BASE):
        raise argparse.ArgumentTypeError(f"{text!r} is not a lab prefix: lab namespaces start with "
                                         f"{PREFIX_BASE!r}, and nothing else is removed")
    return text


def _rates(text: str) -> list[float]:
    return [_rate(part) for part in text.split(",")]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netns-lab", description="the section 2 network in network "
                                     "namespaces: kernel hosts, a Linux bridge querier, one agent per device")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, func, text in (("up", _cmd_up, "build it, stream, and wait for Ctrl-C"),
                             ("failover", _cmd_failover, "cut the primary while streaming, without and "
                                                         "with the feature, and compare"),
                             ("throughput", _cmd_throughput, "highest lossless rate end to end")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--feature", choices=("on", "off"), default=None,
                         help="failover: only this run (default both); up: default off; throughput: default on")
        sub.add_argument("--query-interval", type=_query_interval, default=10, metavar="S",
                         help=f"the bridge querier's interval, {MIN_QUERY_INTERVAL}..{MAX_QUERY_INTERVAL} "
                              "whole seconds (default 10)")
        sub.add_argument("--rate", type=_rate, default=1000.0, metavar="PPS",
                         help="datagrams per second per group (default 1000)")
        sub.add_argument("--json", action="store_true", help="one JSON object")
        sub.set_defaults(func=func)
        if name == "throughput":
            sub.add_argument("--rates", type=_rates, default=_rates("1000,2000,4000,8000,10000,12000"),
                             help="per-group rate steps, comma-separated (default 1000,...,12000)")
            sub.add_argument("--seconds", type=_seconds, default=5.0, help="length of each step (default 5)")
    down = commands.add_parser("down", help="remove labs left behind (kill what runs in them, delete them)")
    down.add_argument("--prefix", type=_prefix, default=PREFIX_BASE,
                      help=f"one lab's prefix as `up` prints it ({PREFIX_BASE}<pid><hex>: its namespaces are "
                           "<prefix>-<role>); default: all labs")
    down.set_defaults(func=_cmd_down)
    source = commands.add_parser("_source")
    source.add_argument("--address", required=True)
    source.add_argument("--groups", required=True)
    source.add_argument("--rate", type=float, required=True)
    source.add_argument("--run-id", type=int, required=True)
    source.set_defaults(func=lambda a: source_main(a.address, a.groups.split(","), a.rate, a.run_id))
    receive = commands.add_parser("_receive")
    receive.add_argument("--address", required=True)
    receive.add_argument("--groups", required=True)
    receive.set_defaults(func=lambda a: receiver_main(a.address, a.groups.split(",")))
    return parser


def stop_like_ctrl_c() -> None:
    """SIGINT (also when started in the background, where it arrives ignored), SIGTERM and
    SIGHUP (the terminal of ``up`` closed) take the Ctrl-C path: every ``with NetnsLab``
    removes what it made."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.default_int_handler)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command.startswith("_"):
        return int(args.func(args))
    if args.command == "up" and args.feature is None:
        args.feature = "off"
    from dataplane.linux.netns import netns_unavailable

    why = netns_unavailable()
    if why is not None:
        print(f"netns-lab: {why}", file=sys.stderr)
        return 2
    stop_like_ctrl_c()
    try:
        return int(args.func(args))
    except LabError as exc:
        print(f"netns-lab: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

