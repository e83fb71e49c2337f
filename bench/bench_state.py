"""Operational state over NETCONF: get-data (RFC 8526, ``ds:operational``) with 100k learned groups.

    python -m bench.bench_state [--groups 100000] [--vsis 1000] [--others 10] [--repeat 5]

Two agents are measured, each a real ``agent.server.Server`` in a child process of its own
with a simulator dataplane (``SimDataplane.standalone``), reached over SSH by the raw
NETCONF 1.1 client (``bench.netconf_client``):

* **one VSI**: ``vsi0`` holds ``--groups`` learned groups; rows: the whole operational
  datastore, and a subtree filter selecting one group of that VSI;
* **``--vsis`` VSIs**: the same big VSI among ``--vsis`` VSIs, each other one holding
  ``--others`` groups; rows: a subtree filter for the big VSI, for one group of it, and for
  one small VSI (which must not pay for the big one).

How the state gets there, honestly: the client configures the VSIs over NETCONF
(edit-config into ``<candidate>``, commit: the commit hook pushes them into the dataplane);
then the child feeds real IGMPv2 report frames (``dataplane.packet.build_igmp_frame``, one
group each, from 8 hosts on 8 ACs of the big VSI, one host on the AC of every other VSI)
into the device through the driver's node, on the server's event loop, at the driver's
current time: the groups are learned by the snooping core as they would be from the wire.

Measured per request (repeated ``--repeat`` times; median and best wall time):

* **time**: from writing the rpc to the last byte of the reply at the client (the server's
  work, SSH and framing; the client only collects bytes), and the server process's CPU time
  over the same interval (``/proc/PID/stat``, 10 ms ticks: what other load on the machine
  does not inflate);
* **memory**: the server process's peak RSS growth during the request, read from
  ``/proc/PID/status``: ``VmHWM`` after the reply minus ``VmRSS`` before, with the high-water
  mark reset just before the request (``echo 5 > /proc/PID/clear_refs``). RSS and not
  tracemalloc, because the reply is an lxml tree: libxml2 allocates with malloc, which
  tracemalloc never sees. Memory the allocator kept from an earlier request is reused
  without growing RSS, so the largest growth over the repetitions is reported (the first
  request's, as a rule).

Every reply is checked (no rpc-error, the expected number of groups) before it is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.netconf_client import Endpoint, RawNetconf, ok

V = "urn:vsi-multicast-agent:yang:vsi-l2-multicast"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DATASTORES = "urn:ietf:params:xml:ns:yang:ietf-datastores"
BIG_VSI = "vsi0"
BIG_ACS = 8
BASE_GROUP = 0xE8000000  # 232.0.0.0: the big VSI's groups count up from here
OTHER_BASE_GROUP = 0xE9000000  # 233.0.0.0: every other VSI's
ADMIN = "admin"
#: seconds: the groups must outlive the run (membership interval = 2 x this + 10 s); the
#: default 60 s would age them out after 130 s, in the middle of the whole-table rows
QUERY_INTERVAL = 3600


# --- the server side (child process) ----------------------------------------------------------

def _dotted(address: int) -> str:
    return ".".join(str(address >> shift & 0xFF) for shift in (24, 16, 8, 0))


def _report_frames(vsis: int, groups: int, others: int) -> Iterator[tuple[str, bytes]]:
    """(port, IGMPv2 report frame): ``groups`` for the big VSI spread over its 8 ACs, then
    ``others`` for every other VSI on its one AC."""
    from dataplane.addr import ip_int
    from dataplane.igmp import build_report_v2
    from dataplane.packet import build_igmp_frame

    for i in range(groups):
        host = i % BIG_ACS + 1
        group = BASE_GROUP + i
        yield (f"big-ac{host}", build_igmp_frame(bytes((2, 0, 0, 0, 1, host)), ip_int(f"192.168.0.{host}"),
                                                 group, build_report_v2(group)))
    for v in range(1, vsis):
        mac = bytes((2, 0, 1, v >> 8 & 0xFF, v & 0xFF, 1))
        for i in range(others):
            group = OTHER_BASE_GROUP + i
            yield (f"ac{v}", build_igmp_frame(mac, ip_int("192.168.1.1"), group, build_report_v2(group)))


async def _serve(vsis: int, groups: int, others: int) -> None:
    """Run one agent; answer the parent's ``learn`` on stdin; stop at end of input."""
    from agent.dataplane_driver import SimDataplane
    from agent.server import Server, ServerConfig

    password = os.environ["VSI_AGENT_ADMIN_PASSWORD"]
    with tempfile.TemporaryDirectory(prefix="bench-state-") as state_dir:
        dataplane = SimDataplane.standalone("bench", "02:00:00:00:00:ee", querier_address="10.0.0.3")
        server = Server(ServerConfig(host="127.0.0.1", port=0, state_dir=Path(state_dir), admin_password=password,
                                     device_name="bench"), dataplane=dataplane)
        await server.start()
        print(f"ready {server.port}", flush=True)
        loop = asyncio.get_running_loop()
        try:
            while line := await loop.run_in_executor(None, sys.stdin.readline):
                if line.strip() == "learn":
                    print(f"learned {_learn(dataplane, vsis, groups, others)}", flush=True)
        finally:
            await server.stop()


def _learn(dataplane: object, vsis: int, groups: int, others: int) -> int:
    """Feed the reports into the device at the driver's time now; return the entries held."""
    from agent.dataplane_driver import SimDataplane

    assert isinstance(dataplane, SimDataplane)
    now = dataplane.runner.catch_up()
    receive = dataplane.node.receive
    for port, frame in _report_frames(vsis, groups, others):
        receive(port, frame, now)
    dataplane.runner.reschedule()
    return sum(vsi.snooping.entry_count for vsi in dataplane.device.vsis.values() if vsi.snooping is not None)


# --- the client side (this process) -----------------------------------------------------------

@dataclass
class Row:
    label: str
    body: str
    groups_expected: int
    times_ms: list[float]
    cpu_ms: list[float] = field(default_factory=list)
    peak_growth_mb: float = 0.0
    reply_bytes: int = 0


class Agent:
    """A child process running one server, and its /proc view."""

    def __init__(self, vsis: int, groups: int, others: int) -> None:
        self.password = secrets.token_urlsafe(16)
        env = dict(os.environ, VSI_AGENT_ADMIN_PASSWORD=self.password)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_state", "--serve", "--vsis", str(vsis), "--groups", str(groups),
             "--others", str(others)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
        self.port = int(self._expect("ready"))

    def _expect(self, word: str) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith(word + " "):
            raise RuntimeError(f"agent said {line!r}, expected {word!r} (exit status {self.proc.poll()})")
        return line.split()[1]

    def learn(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write("learn\n")
        self.proc.stdin.flush()
        return int(self._expect("learned"))

    def status_kb(self, field: str) -> int:
        match = re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{self.proc.pid}/status").read_text(), re.M)
        if match is None:
            raise RuntimeError(f"no {field} in /proc/{self.proc.pid}/status")
        return int(match.group(1))

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (clock-tick resolution)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def reset_peak(self) -> None:
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _config(vsis: int) -> str:
    """The VSIs, IGMP snooping on: the big one with 8 ACs, every other with one."""
    entries = []
    for v in range(vsis):
        acs = [f"big-ac{i}" for i in range(1, BIG_ACS + 1)] if v == 0 else [f"ac{v}"]
        ac_xml = "".join(f"<ac><interface>{name}</interface></ac>" for name in acs)
        entries.append(f"<vsi><name>vsi{v}</name><acs>{ac_xml}</acs>"
                       f"<igmp-snooping><enable>true</enable><query-interval>{QUERY_INTERVAL}</query-interval>"
                       "</igmp-snooping></vsi>")
    return (f'<l2-multicast xmlns="{V}"><igmp-snooping-enable>true</igmp-snooping-enable></l2-multicast>'
            f'<vsis xmlns="{V}">{"".join(entries)}</vsis>')


def _get_data(subtree: str | None) -> str:
    selection = "" if subtree is None else f"<subtree-filter>{subtree}</subtree-filter>"
    return (f'<get-data xmlns="{NMDA}" xmlns:ds="{DATASTORES}"><datastore>ds:operational</datastore>'
            f"{selection}</get-data>")


def _vsi_filter(name: str, group: str | None = None) -> str:
    inner = "" if group is None else (
        f"<igmp-snooping><group><group-address>{group}</group-address></group></igmp-snooping>")
    return f'<vsis xmlns="{V}"><vsi><name>{name}</name>{inner}</vsi></vsis>'


def _rows(vsis: int, groups: int, others: int) -> list[Row]:
    one_group = _dotted(BASE_GROUP + groups // 2)
    if vsis == 1:
        return [
            Row("whole operational datastore", _get_data(None), groups, []),
            Row(f"one group of {BIG_VSI} (subtree filter)", _get_data(_vsi_filter(BIG_VSI, one_group)), 1, []),
        ]
    small = f"vsi{vsis // 2}"
    return [
        Row(f"{BIG_VSI}, all its groups (subtree filter)", _get_data(_vsi_filter(BIG_VSI)), groups, []),
        Row(f"one group of {BIG_VSI} (subtree filter)", _get_data(_vsi_filter(BIG_VSI, one_group)), 1, []),
        Row(f"{small}, a small VSI (subtree filter)", _get_data(_vsi_filter(small)), others, []),
    ]


def _group_count(reply: str) -> int:
    return reply.count("<group-address>") + len(re.findall(r"<\w+:group-address>", reply))


async def _measure(agent: Agent, vsis: int, groups: int, others: int, repeat: int) -> tuple[list[Row], dict[str, float]]:
    nc = await RawNetconf.connect(Endpoint("127.0.0.1", agent.port, ADMIN, agent.password))
    info: dict[str, float] = {}
    try:
        start = time.perf_counter()
        for body in (f'<edit-config><target><candidate/></target><config>{_config(vsis)}</config></edit-config>',
                     "<commit/>"):
            reply = await nc.rpc(body)
            if not ok(reply):
                raise RuntimeError(f"configuration refused: {reply[:600]}")
        info["configure_s"] = time.perf_counter() - start
        start = time.perf_counter()
        info["entries"] = agent.learn()
        info["learn_s"] = time.perf_counter() - start
        expected_entries = groups + (vsis - 1) * others
        if info["entries"] != expected_entries:
            raise RuntimeError(f"the device learned {info['entries']} groups, not {expected_entries}")
        info["rss_mb"] = agent.status_kb("VmRSS") / 1024
        rows = _rows(vsis, groups, others)
        for row in rows:
            for _ in range(repeat):
                before = agent.status_kb("VmRSS")
                agent.reset_peak()
                cpu, started = agent.cpu_seconds(), time.perf_counter()
                reply = await nc.rpc(row.body)
                row.times_ms.append((time.perf_counter() - started) * 1000)
                row.cpu_ms.append((agent.cpu_seconds() - cpu) * 1000)
                row.peak_growth_mb = max(row.peak_growth_mb, (agent.status_kb("VmHWM") - before) / 1024)
                if "<rpc-error" in reply or _group_count(reply) != row.groups_expected:
                    raise RuntimeError(f"{row.label}: {_group_count(reply)} groups in the reply, "
                                       f"expected {row.groups_expected}: {reply[:600]}")
                row.reply_bytes = len(reply.encode())
        return rows, info
    finally:
        await nc.close()


def _print(title: str, rows: list[Row], info: dict[str, float]) -> None:
    print(f"\n{title}: {int(info['entries']):,} groups learned in {info['learn_s']:.2f} s "
          f"(configured over NETCONF in {info['configure_s']:.2f} s); server RSS {info['rss_mb']:.0f} MB")
    print(f"{'get-data ds:operational':44} {'median ms':>10} {'best ms':>9} {'server CPU ms':>14} "
          f"{'peak RSS +MB':>13} {'reply':>10}")
    for row in rows:
        print(f"{row.label:44} {statistics.median(row.times_ms):10.1f} {min(row.times_ms):9.1f} "
              f"{statistics.median(row.cpu_ms):14.0f} {row.peak_growth_mb:13.1f} {row.reply_bytes / 1e6:8.2f}MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=100_000, help="groups learned in the big VSI (100000)")
    parser.add_argument("--vsis", type=int, default=1000, help="VSIs of the second agent (1000)")
    parser.add_argument("--others", type=int, default=10, help="groups learned in every other VSI (10)")
    parser.add_argument("--repeat", type=int, default=5, help="requests per row (5)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.vsis, args.groups, args.others))
        return 0
    print(f"get-data over NETCONF/SSH, raw client; {args.repeat} requests per row; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for vsis, title in ((1, "one VSI"), (args.vsis, f"{args.vsis:,} VSIs")):
        agent = Agent(vsis, args.groups, args.others)
        try:
            rows, info = asyncio.run(_measure(agent, vsis, args.groups, args.others, args.repeat))
        finally:
            agent.close()
        _print(title, rows, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
