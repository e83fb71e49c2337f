"""NETCONF server benchmark, our agent side by side with netconfd (yuma123).

    python -m bench.bench_netconf [--peer 127.0.0.1:2830] [--sizes 1000,10000]

Starts our agent (`vsi-agent serve`) on a free loopback port with a fresh state directory,
and, if `--peer` is given (start it with `../shared/peers/netconfd.sh start`), measures
netconfd in the same run so the result is a ratio on the same noisy machine.  Both servers
get the same shape of data: a list `vsis/vsi[name]` with a `description` leaf (our module and
`peer-vsi.yang` agree on that part).  Measured through a raw NETCONF 1.1 client
(`bench.netconf_client`) so ncclient's own polling delay is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.netconf_client import Endpoint, RawNetconf, ok

OUR_NS = "urn:vsi-multicast-agent:yang:vsi-l2-multicast"
PEER_NS = "urn:example:peer-vsi"


@dataclass
class Target:
    label: str
    endpoint: Endpoint
    ns: str
    #: server processes whose CPU time is charged to the small RPCs (empty: not measured)
    pids: tuple[int, ...] = ()
    results: dict[str, float] = field(default_factory=dict)


def cpu_seconds(pids: tuple[int, ...]) -> float:
    """User + system CPU time of processes so far (Linux /proc), summed."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])   # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def _vsis(ns: str, start: int, stop: int) -> str:
    entries = "".join(
        f"<vsi><name>vsi{i:05d}</name><description>vsi number {i}</description></vsi>"
        for i in range(start, stop)
    )
    return f'<vsis xmlns="{ns}">{entries}</vsis>'


def _edit(ns: str, config: str) -> str:
    return (
        "<edit-config><target><candidate/></target>"
        f"<config>{config}</config></edit-config>"
    )


async def _must(nc: RawNetconf, body: str) -> str:
    reply = await nc.rpc(body)
    if not ok(reply):
        raise RuntimeError(f"rpc failed: {body[:120]}... -> {reply[:600]}")
    return reply


async def _connect_time(ep: Endpoint, n: int) -> float:
    """Median time from TCP connect to a usable session (SSH, auth, both hellos)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        nc = await RawNetconf.connect(ep)
        times.append(time.perf_counter() - t0)
        await nc.close()
    return statistics.median(times)


async def measure(t: Target, sizes: list[int], rpc_count: int, commit_repeats: dict[int, int]) -> None:
    t.results["connect_ms"] = 1000 * await _connect_time(t.endpoint, 10)
    nc = await RawNetconf.connect(t.endpoint, settle=0.2)
    small = (f"<get-config><source><running/></source><filter type=\"subtree\">"
             f"<vsis xmlns=\"{t.ns}\"><vsi><name>none</name></vsi></vsis></filter></get-config>")
    cpu0 = cpu_seconds(t.pids)
    t0 = time.perf_counter()
    for _ in range(rpc_count):
        await _must(nc, small)
    t.results["small_rpc_per_s"] = rpc_count / (time.perf_counter() - t0)
    if t.pids:
        # less noisy than the rate on a shared machine; clock ticks, so use --rpcs >= 2000
        t.results["small_rpc_server_cpu_us"] = 1e6 * (cpu_seconds(t.pids) - cpu0) / rpc_count

    have = 0
    for size in sizes:
        t0 = time.perf_counter()
        await _must(nc, _edit(t.ns, _vsis(t.ns, have, size)))
        await _must(nc, "<commit/>")
        t.results[f"populate_{size}_s"] = time.perf_counter() - t0
        have = size
        times = []
        for k in range(commit_repeats.get(size, 5)):
            edit = _edit(t.ns, f'<vsis xmlns="{t.ns}"><vsi><name>vsi00001</name>'
                               f"<description>changed {k} at {size}</description></vsi></vsis>")
            t0 = time.perf_counter()
            await _must(nc, edit)
            await _must(nc, "<commit/>")
            times.append(time.perf_counter() - t0)
        t.results[f"one_leaf_commit_{size}_ms"] = 1000 * statistics.median(times)
    biggest = sizes[-1]
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        reply = await _must(nc, f'<get-config><source><running/></source></get-config>')
        times.append(time.perf_counter() - t0)
    t.results[f"get_config_{biggest}_ms"] = 1000 * statistics.median(times)
    t.results[f"get_config_{biggest}_bytes"] = len(reply)
    # leave the peer as we found it
    await _must(nc, _edit(t.ns, f'<vsis xmlns="{t.ns}" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="remove"/>'))
    await _must(nc, "<commit/>")
    await nc.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_our_agent(state_dir: Path, password: str) -> tuple[subprocess.Popen, int]:
    """Start `vsi-agent serve` on a free port; its log goes to ``state_dir/agent.log``."""
    port = _free_port()
    exe = Path(sys.executable).with_name("vsi-agent")
    env = dict(os.environ, VSI_AGENT_ADMIN_PASSWORD=password)
    log = (state_dir / "agent.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--state-dir", str(state_dir)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"agent exited: {(state_dir / 'agent.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("agent did not start listening within 30 s")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer", help="netconfd endpoint HOST:PORT (user nctest / nctest-pw)")
    ap.add_argument("--peer-pids", default="",
                    help="comma-separated pids of long-lived peer processes (e.g. netconfd) for the "
                         "server CPU per small RPC; per-connection processes (sshd, netconf-subsystem) "
                         "are not counted")
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--rpcs", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_our_agent(Path(tmp), "bench-pw")
        try:
            targets = [Target("vsi-agent", Endpoint("127.0.0.1", port, "admin", "bench-pw"), OUR_NS,
                              pids=(proc.pid,))]
            if args.peer:
                host, _, pport = args.peer.rpartition(":")
                peer_pids = tuple(int(p) for p in args.peer_pids.split(",") if p)
                targets.append(Target("netconfd", Endpoint(host, int(pport), "nctest", "nctest-pw"), PEER_NS,
                                      pids=peer_pids))
            for t in targets:
                repeats = {s: (3 if (t.label == "netconfd" and s >= 5000) else 11) for s in sizes}
                asyncio.run(measure(t, sizes, args.rpcs, repeats))
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    if args.json:
        print(json.dumps({t.label: t.results for t in targets}, indent=2))
        return
    keys = list(targets[0].results)
    print(f"{'metric':32} " + " ".join(f"{t.label:>14}" for t in targets) + ("  ratio ours/peer" if len(targets) > 1 else ""))
    for k in keys:
        vals = [t.results.get(k, float('nan')) for t in targets]
        row = f"{k:32} " + " ".join(f"{v:14.3f}" for v in vals)
        if len(vals) > 1 and vals[1]:
            row += f"  {vals[0] / vals[1]:10.4f}"
        print(row)


if __name__ == "__main__":
    main()
