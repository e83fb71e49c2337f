"""Differential test against the Linux bridge (``net/bridge/br_multicast.c``).

A namespace holds a bridge with ``mcast_snooping 1``, ``mcast_querier 0`` and fast leave on
its ports; each port is a veth whose peer sits in its own namespace. The same IGMP frames
(built with our codec) are sent from AF_PACKET sockets in the peer namespaces and fed to
our core; afterwards the (group, port) sets of ``bridge -j mdb show`` and of our table must
be equal. Needs root and ``ip netns``; skipped with the reason elsewhere. Everything the
test creates is removed, on failure too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from dataplane.igmp import RecordType
from dataplane.linux.netns import netns_unavailable

from tests.dataplane._core_helpers import (
    G1,
    G2,
    G3,
    device,
    leave,
    pim_hello,
    query,
    report,
    snooping,
    table,
    v3_report,
    vsi_config,
)

pytestmark = pytest.mark.root

PORTS = ("p1", "p2", "p3")
_SENDER = """
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
"""


def _why_not() -> str | None:
    reason = netns_unavailable()
    if reason is not None:
        return reason
    if not shutil.which("bridge"):
        return "needs iproute2's bridge command"
    if not shutil.which("sysctl"):
        return "needs procps (sysctl)"
    return None


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


class Lab:
    """The bridge namespace and one peer namespace per port."""

    def __init__(self) -> None:
        tag = os.getpid()
        self.bridge_ns = f"dpdiff-br-{tag}"
        self.host_ns = {port: f"dpdiff-{port}-{tag}" for port in PORTS}

    def build(self) -> None:
        _run("ip", "netns", "add", self.bridge_ns)
        for ns in self.host_ns.values():
            _run("ip", "netns", "add", ns)
        br = ("ip", "-n", self.bridge_ns)
        _run(*br, "link", "add", "br0", "type", "bridge", "mcast_snooping", "1", "mcast_querier", "0",
             "stp_state", "0")
        for port, ns in self.host_ns.items():
            peer = "h" + port[1:]
            _run(*br, "link", "add", port, "type", "veth", "peer", "name", peer, "netns", ns)
            _run(*br, "link", "set", port, "master", "br0")
            _run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            _run("ip", "-n", ns, "link", "set", peer, "up")
            _run(*br, "link", "set", port, "up")
            _run("ip", "netns", "exec", self.bridge_ns, "bridge", "link", "set", "dev", port, "fastleave", "on")
        _run(*br, "link", "set", "br0", "up")

    def destroy(self) -> None:
        for ns in (self.bridge_ns, *self.host_ns.values()):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def send(self, port: str, frame: bytes) -> None:
        _run("ip", "netns", "exec", self.host_ns[port], sys.executable, "-c", _SENDER, "h" + port[1:], frame.hex())

    def mdb(self) -> set[tuple[str, str]]:
        """(group, port) of the bridge's IPv4 port entries."""
        text = _run("ip", "netns", "exec", self.bridge_ns, "bridge", "-j", "mdb", "show")
        found: set[tuple[str, str]] = set()
        for item in _walk(json.loads(text or "[]")):
            group, port = item.get("grp"), item.get("port")
            if group and port and port != "br0" and ":" not in group and not item.get("src"):
                found.add((group, port))
        return found

    def mdb_v3(self) -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]:
        """IGMPv3 view: ((group, source, port) forwarded, (group, source, port) blocked);
        source 0.0.0.0 for a port in EXCLUDE mode (the kernel's (*,G) entry in include mode
        is only a container of its (S,G) entries and has no counterpart)."""
        text = _run("ip", "netns", "exec", self.bridge_ns, "bridge", "-j", "-d", "mdb", "show")
        forwarded: set[tuple[str, str, str]] = set()
        blocked: set[tuple[str, str, str]] = set()
        for item in _walk(json.loads(text or "[]")):
            group, port = item.get("grp"), item.get("port")
            if not group or not port or port == "br0" or ":" in group:
                continue
            if item.get("src"):
                target = blocked if "blocked" in item.get("flags", []) else forwarded
                target.add((group, item["src"], port))
            elif item.get("filter_mode", "exclude") == "exclude":
                forwarded.add((group, "0.0.0.0", port))
        return forwarded, blocked

    def router_ports(self) -> set[str]:
        text = _run("ip", "netns", "exec", self.bridge_ns, "bridge", "-j", "-d", "mdb", "show")
        found: set[str] = set()
        for item in json.loads(text or "[]"):
            for entries in (item.get("router") or {}).values():
                found.update(entry["port"] for entry in entries if "port" in entry)
        return found

    def settle(self, expected: object, read=None) -> object:  # type: ignore[no-untyped-def]
        """Poll until the kernel shows ``expected`` (frames cross veths asynchronously)."""
        read = read or self.mdb
        seen = read()
        for _ in range(100):  # up to 5 s on a busy machine; usually the first read
            if seen == expected:
                break
            time.sleep(0.05)
            seen = read()
        return seen


def _walk(node: object) -> Iterator[dict]:  # type: ignore[type-arg]
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@pytest.fixture
def lab() -> Iterator[Lab]:
    reason = _why_not()
    if reason is not None:
        pytest.skip(reason)
    lab = Lab()
    try:
        lab.build()
        yield lab
    finally:
        lab.destroy()


def _ours(dev) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(group, port) for (group, source), members in table(dev).items() if source == "0.0.0.0"
            for port in members}


def test_group_port_sets_match_the_linux_bridge(lab: Lab) -> None:
    dev = device(vsi_config(snooping(immediately_leave=True), acs=PORTS))
    steps: list[list[tuple[str, bytes]]] = [
        [("p1", report(G1, 1)), ("p2", report(G1, 2)), ("p2", report(G2, 2, version=1)),
         ("p3", v3_report([(RecordType.CHANGE_TO_EXCLUDE, G3, ())], 3)),
         ("p3", report("224.0.0.251", 3))],  # link-local: learned by neither
        [("p2", leave(G1, 2)), ("p3", v3_report([(RecordType.CHANGE_TO_INCLUDE, G3, ())], 3))],
        [("p3", report(G2, 3)), ("p1", leave(G2, 1))],  # a leave for a port that never joined
    ]
    now = 0.0
    for step in steps:
        for port, frame in step:
            now += 0.01
            lab.send(port, frame)
            dev.receive(port, frame, now)
        ours = _ours(dev)
        assert lab.settle(ours) == ours
    assert _ours(dev) == {(G1, "p1"), (G2, "p2"), (G2, "p3")}


def _ours_v3(dev) -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]:  # type: ignore[no-untyped-def]
    from dataplane.addr import ip_str
    forwarded = {(group, source, port) for (group, source), members in table(dev).items() for port in members}
    blocked = {(ip_str(entry.group), ip_str(source), port)
               for rows in dev.vsis["iptv"].snooping.groups.values() for entry in rows.values()
               for port, membership in entry.ports.items() for source in membership.excluded}
    return forwarded, blocked


def test_igmpv3_source_entries_match_the_linux_bridge(lab: Lab) -> None:
    """With ``mcast_igmp_version 3`` the kernel keeps per-source state (RFC 3376 6.4)."""
    _run("ip", "-n", lab.bridge_ns, "link", "set", "br0", "type", "bridge", "mcast_igmp_version", "3")
    dev = device(vsi_config(snooping(immediately_leave=True, version=3), acs=PORTS))
    s1, s2, s3, s4 = "10.9.9.1", "10.9.9.2", "10.9.9.3", "10.9.9.4"
    steps: list[list[tuple[str, bytes]]] = [
        [("p1", v3_report([(RecordType.MODE_IS_INCLUDE, G1, (s1, s2))], 1)),
         ("p2", v3_report([(RecordType.ALLOW_NEW_SOURCES, G1, (s3,))], 2)),
         ("p3", v3_report([(RecordType.CHANGE_TO_EXCLUDE, G2, (s4,))], 3))],
        [("p1", v3_report([(RecordType.BLOCK_OLD_SOURCES, G1, (s1,))], 1)),
         ("p2", v3_report([(RecordType.CHANGE_TO_INCLUDE, G1, ())], 2))],
    ]
    now = 0.0
    for step in steps:
        for port, frame in step:
            now += 0.01
            lab.send(port, frame)
            dev.receive(port, frame, now)
        ours = _ours_v3(dev)
        assert lab.settle(ours, lab.mdb_v3) == ours
    assert _ours_v3(dev) == ({(G1, s2, "p1"), (G2, "0.0.0.0", "p3")}, {(G2, s4, "p3")})


def test_router_ports_match_the_linux_bridge(lab: Lab) -> None:
    """General query with a source, and PIM hello. (A query from 0.0.0.0 is left out on
    purpose: RFC 4541 2.1.1 and SPEC 2.2 do not learn a router port from it, while
    br_multicast.c does.)"""
    dev = device(vsi_config(snooping(), acs=PORTS))
    for now, (port, frame) in enumerate([("p1", query("10.1.1.1")), ("p3", pim_hello("10.1.1.3"))]):
        lab.send(port, frame)
        dev.receive(port, frame, float(now))
    ours = set(dev.vsis["iptv"].snooping.router_ports)
    assert ours == {"p1", "p3"}
    assert lab.settle(ours, lab.router_ports) == ours
