"""The Linux driver on real interfaces: veth pairs between network namespaces.

Each test builds its own lab (``NamespaceLab``: removed afterwards, also on failure): a
device namespace ``dut`` whose interfaces ``ac-src``, ``ac-r1``, ``ac-r2`` and ``pw1`` are
veth ends leading to a multicast source, two receivers and a PW peer, each in a namespace
of its own. The hosts are plain kernel hosts: they join groups with ``IP_ADD_MEMBERSHIP``
(their own IGMP stack sends the reports) and send with ordinary UDP sockets.

The driver runs in this process: the test thread enters ``dut`` (setns) for the whole test,
so the driver's sockets, made on the test's event loop, belong to ``dut``; sockets for the
hosts are made with a short visit to their namespace. This keeps the core in reach of the
assertions (its group table, PW state and counters are read directly), which a driver in
an ``ip netns exec`` subprocess would hide behind some protocol.

Waiting uses generous deadlines that only bound a hang (something that never happens), no
speed is asserted.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import sys
import os
import socket
import subprocess
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from dataplane.addr import ip_int
from dataplane.config import AcConfig, ConfigError, DeviceConfig, IgmpSnoopingConfig, PwConfig, VsiConfig
from dataplane.events import Event, GroupAdded
from dataplane.linux import LinuxDataplane
from dataplane.linux.afpacket import (ETH_P_ALL, PACKET_AUXDATA, SOL_PACKET, TP_STATUS_VLAN_VALID,
                                      VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
                                      VIRTIO_NET_HDR_GSO_UDP_L4, SegmentationError, complete_checksum, segment)
from dataplane.linux.carrier import (IFF_RUNNING, IFF_UP, RTM_DELLINK, RTM_NEWLINK, Link, LinkMonitor,
                                     parse_link_messages)
from dataplane.linux import driver as linux_driver
from dataplane.linux import netns as linux_netns
from dataplane.linux.netns import NamespaceLab, entered, netns_unavailable, run_ip

GROUP = "239.1.2.3"
PORT = 5000
SOURCE_ADDRESS = "10.9.0.1"
PW_KEY = ("10.255.0.2", 100)
HANG = 20.0
SIOCGIFHWADDR = 0x8927
"""Seconds after which something that should happen is declared never to happen."""


# -- the lab ----------------------------------------------------------------------------

@dataclass
class Lab:
    namespaces: NamespaceLab
    dut: str
    src: str
    r1: str
    r2: str
    peer: str

    def socket(self, ns: str, family: int, kind: int, proto: int = 0) -> socket.socket:
        """A socket of namespace ``ns`` (the thread comes back to ``dut`` at once)."""
        with entered(ns):
            sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        return sock

    def add_host(self, role: str, interface: str, address: str) -> str:
        """A kernel host in a new namespace, its ``eth0`` on the device's ``interface``."""
        ns = self.namespaces.namespace(role)
        self.namespaces.veth(self.dut, interface, ns, "eth0")
        self.namespaces.address(ns, "eth0", f"{address}/24")
        return ns

    def member(self, ns: str, address: str, group: str = GROUP) -> socket.socket:
        """A UDP socket of host ``ns`` that joined ``group``: the kernel reports it."""
        sock = self.socket(ns, socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("", PORT))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                        socket.inet_aton(group) + socket.inet_aton(address))
        return sock

    def sender(self) -> socket.socket:
        sock = self.socket(self.src, socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(SOURCE_ADDRESS))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        return sock

    def capture(self, ns: str, interface: str = "eth0") -> socket.socket:
        """A packet socket seeing every frame on ``interface`` of ``ns``."""
        sock = self.socket(ns, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.bind((interface, ETH_P_ALL))
        return sock


@pytest.fixture
def lab() -> Iterator[Lab]:
    reason = netns_unavailable()
    if reason is not None:
        print(f"skipping the Linux driver tests: {reason}")
        pytest.skip(reason)
    with NamespaceLab(f"vsilx{os.getpid()}") as namespaces:
        dut, src, r1, r2, peer = (namespaces.namespace(role) for role in ("dut", "src", "r1", "r2", "peer"))
        built = Lab(namespaces, dut, src, r1, r2, peer)
        for ns, interface, address in ((src, "ac-src", SOURCE_ADDRESS), (r1, "ac-r1", "10.9.0.2"),
                                        (r2, "ac-r2", "10.9.0.3")):
            namespaces.veth(dut, interface, ns, "eth0")
            namespaces.address(ns, "eth0", f"{address}/24")
        namespaces.veth(dut, "pw1", peer, "eth0")
        with entered(dut):
            yield built


def device_config(*acs: str, snooping: bool = True, unknown: str = "drop", **igmp: object) -> DeviceConfig:
    """One VSI ``v`` with ``acs`` and the PW ``pw1`` (no redundancy role)."""
    return DeviceConfig(igmp_snooping_enable=snooping, vsis=(VsiConfig(
        "v", unknown_multicast_action=unknown,  # type: ignore[arg-type]
        acs=tuple(AcConfig(name) for name in acs),
        pws=(PwConfig(PW_KEY[0], PW_KEY[1], "pw1"),),
        igmp=IgmpSnoopingConfig(enable=snooping, **igmp)),))  # type: ignore[arg-type]


LAB_ACS = ("ac-src", "ac-r1", "ac-r2")


@asynccontextmanager
async def running(config: DeviceConfig, querier_address: str | None = None) -> AsyncIterator[LinuxDataplane]:
    dataplane = LinuxDataplane("dut", "02:00:00:00:00:01", querier_address=querier_address)
    try:
        dataplane.apply(config)
        await dataplane.start()
        yield dataplane
    finally:
        await dataplane.stop()


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait (serving the loop) until ``condition`` holds; fail if it never does."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + HANG
    while not condition():
        if loop.time() > give_up:
            pytest.fail(f"never happened: {what}")
        await asyncio.sleep(0.01)


async def receive(sock: socket.socket, count: int) -> list[bytes]:
    loop = asyncio.get_running_loop()
    return [await asyncio.wait_for(loop.sock_recv(sock, 65536), HANG) for _ in range(count)]


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def group_ports(dataplane: LinuxDataplane, group: str = GROUP) -> set[str]:
    snooping = dataplane.device.vsis["v"].snooping
    assert snooping is not None
    rows = snooping.groups.get(ip_int(group), {})
    return {port for entry in rows.values() for port in entry.ports}


def incoming(sock: socket.socket) -> list[bytes]:
    """Frames that arrived on a capture socket so far (not the host's own)."""
    frames = []
    while True:
        try:
            frame, address = sock.recvfrom(65536)
        except BlockingIOError:
            return frames
        if address[2] != socket.PACKET_OUTGOING:
            frames.append(frame)


def mac_of(ns: str, interface: str = "eth0") -> bytes:
    with entered(ns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        request = struct.pack("256s", interface.encode())
        return fcntl.ioctl(sock.fileno(), SIOCGIFHWADDR, request)[18:24]


def to_group(frame: bytes, group: str = GROUP) -> bool:
    return frame[12:14] == b"\x08\x00" and frame[30:34] == socket.inet_aton(group)


# -- rules ------------------------------------------------------------------------------

def test_kernel_host_join_appears_in_group_table_on_its_port(lab: Lab) -> None:
    async def scenario() -> None:
        async with running(device_config(*LAB_ACS)) as dataplane:
            member = lab.member(lab.r1, "10.9.0.2")  # noqa: F841 (closing it would leave the group)
            await eventually(lambda: group_ports(dataplane) == {"ac-r1"}, "r1's join learned on ac-r1")
    run(scenario)


def test_listeners_get_the_core_events_of_a_join(lab: Lab) -> None:
    async def scenario() -> None:
        seen: list[Event] = []
        async with running(device_config(*LAB_ACS)) as dataplane:
            dataplane.listeners.append(seen.extend)
            member = lab.member(lab.r1, "10.9.0.2")  # noqa: F841 (closing it would leave the group)
            await eventually(lambda: any(isinstance(e, GroupAdded) and e.group == GROUP for e in seen),
                             "a GroupAdded event for the join")
    run(scenario)


def test_multicast_data_reaches_joined_receiver_and_not_a_non_member(lab: Lab) -> None:
    """With unknown-multicast-action drop, a group goes only where it was joined. The
    datagrams also prove the offloaded UDP checksums were completed: a kernel receiver
    drops a datagram whose checksum is wrong."""
    async def scenario() -> None:
        async with running(device_config(*LAB_ACS)) as dataplane:
            member = lab.member(lab.r1, "10.9.0.2")
            watcher = lab.capture(lab.r2)
            await eventually(lambda: group_ports(dataplane) == {"ac-r1"}, "r1's join learned")
            sender = lab.sender()
            for number in range(20):
                sender.sendto(number.to_bytes(4, "big"), (GROUP, PORT))
            got = await receive(member, 20)
            assert [int.from_bytes(d, "big") for d in got] == list(range(20))
            # a link-local group is flooded everywhere: once r2 has it, anything sent to r2
            # before it has arrived too
            sender.sendto(b"marker", ("224.0.0.251", PORT))
            frames: list[bytes] = []
            await eventually(lambda: any(to_group(f, "224.0.0.251") for f in frames.__iadd__(incoming(watcher))),
                             "the link-local marker reached r2")
            assert not [f for f in frames if to_group(f)]
            assert dataplane.device.vsis["v"].stats.data_forwarded == 20 + 1  # the marker too
    run(scenario)


def test_carrier_loss_on_pw_link_is_pw_oper_status_down(lab: Lab) -> None:
    async def scenario() -> None:
        async with running(device_config(*LAB_ACS)) as dataplane:
            pw = dataplane.device.vsis["v"].pws.pws[PW_KEY]
            assert pw.oper_status == "up"
            run_ip("-n", lab.peer, "link", "set", "eth0", "down")
            await eventually(lambda: pw.oper_status == "down", "PW oper-status down after the cut")
            run_ip("-n", lab.peer, "link", "set", "eth0", "up")
            await eventually(lambda: pw.oper_status == "up", "PW oper-status up after the repair")
    run(scenario)


def test_admin_down_of_an_ac_is_ac_oper_status_down(lab: Lab) -> None:
    async def scenario() -> None:
        async with running(device_config(*LAB_ACS)) as dataplane:
            vsi = dataplane.device.vsis["v"]
            run_ip("-n", lab.dut, "link", "set", "ac-r2", "down")
            await eventually(lambda: not vsi.port_oper_up("ac-r2"), "ac-r2 oper-status down")
            assert vsi.port_oper_up("ac-r1")
    run(scenario)


def test_interface_missing_at_apply_is_reported_down_and_works_once_created(lab: Lab) -> None:
    async def scenario() -> None:
        async with running(device_config(*LAB_ACS, "ac-r9")) as dataplane:
            vsi = dataplane.device.vsis["v"]
            assert not vsi.port_oper_up("ac-r9")
            assert "ac-r9" not in dataplane.bound
            r9 = lab.add_host("r9", "ac-r9", "10.9.0.9")
            await eventually(lambda: vsi.port_oper_up("ac-r9"), "ac-r9 up once created")
            member = lab.member(r9, "10.9.0.9")
            await eventually(lambda: group_ports(dataplane) == {"ac-r9"}, "r9's join learned on ac-r9")
            lab.sender().sendto(b"hello", (GROUP, PORT))
            assert await receive(member, 1) == [b"hello"]
    run(scenario)


def test_interface_deleted_is_reported_down_and_rebound_when_recreated(lab: Lab) -> None:
    async def scenario() -> None:
        async with running(device_config(*LAB_ACS)) as dataplane:
            vsi = dataplane.device.vsis["v"]
            run_ip("-n", lab.dut, "link", "del", "ac-r1")
            await eventually(lambda: not vsi.port_oper_up("ac-r1") and "ac-r1" not in dataplane.bound,
                             "ac-r1 down and released after deletion")
            lab.namespaces.veth(lab.dut, "ac-r1", lab.r1, "eth0")
            lab.namespaces.address(lab.r1, "eth0", "10.9.0.2/24")
            await eventually(lambda: vsi.port_oper_up("ac-r1"), "ac-r1 up again once recreated")
            member = lab.member(lab.r1, "10.9.0.2")  # noqa: F841 (closing it would leave the group)
            await eventually(lambda: group_ports(dataplane) == {"ac-r1"}, "a join on the new ac-r1 learned")
    run(scenario)


def test_own_transmitted_frames_are_not_received_back(lab: Lab) -> None:
    """A packet socket also sees what leaves its interface. Two senders matter: the driver
    itself (forwarded data out of ac-r1) and anything else in the device's namespace (here
    another packet socket, as the host stack or a tool would). Read back on ac-r1, either
    would be learned there: the source MAC would move to ac-r1, or a MAC that never
    arrived on the wire would be learned."""
    async def scenario() -> None:
        async with running(device_config(*LAB_ACS)) as dataplane:
            vsi = dataplane.device.vsis["v"]
            member = lab.member(lab.r1, "10.9.0.2")
            await eventually(lambda: group_ports(dataplane) == {"ac-r1"}, "r1's join learned")
            sender = lab.sender()
            for number in range(10):
                sender.sendto(number.to_bytes(4, "big"), (GROUP, PORT))
            await receive(member, 10)
            stranger = b"\x02\xbb\x00\x00\x00\x07"
            lab.capture(lab.dut, "ac-r1").send(b"\xff" * 6 + stranger + b"\x88\xb6" + bytes(46))
            # r1's next frame queues on ac-r1's socket behind anything read back there: once
            # it crossed the device, such frames would have reached the core
            listener = lab.socket(lab.src, socket.AF_INET, socket.SOCK_DGRAM)
            listener.bind(("", 7000))
            poke = lab.socket(lab.r1, socket.AF_INET, socket.SOCK_DGRAM)
            poke.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            poke.sendto(b"after", ("10.9.0.255", 7000))
            assert await receive(listener, 1) == [b"after"]
            assert vsi.mac_table[mac_of(lab.src)].port.name == "ac-src"
            assert vsi.mac_moves == 0
            assert stranger not in vsi.mac_table
            assert vsi.stats.data_forwarded == 10
            assert vsi.stats.data_dropped_unknown == 0
    run(scenario)


def test_tagged_frames_keep_their_802_1q_tag_through_the_device(lab: Lab) -> None:
    """veth strips a tag into the frame's metadata on receive, on our side and on r1's:
    r1 sees the tag (in its own packet socket's auxdata) only if we put it back."""
    async def scenario() -> None:
        async with running(device_config(*LAB_ACS, snooping=False, unknown="flood")):
            watcher = lab.capture(lab.r1)
            watcher.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            tagged = (b"\xff" * 6 + bytes.fromhex("02aa00000001") + struct.pack("!HH", 0x8100, 100)
                      + b"\x88\xb6" + b"tagged frame".ljust(46, b"."))
            lab.capture(lab.src).send(tagged)
            tcis: list[int | None] = []
            await eventually(lambda: bool(tcis.__iadd__(vlan_tags_of_frames_from(watcher, b"\x02\xaa"))),
                             "the tagged frame reached r1")
            assert tcis == [100]
    run(scenario)


def vlan_tags_of_frames_from(sock: socket.socket, mac_prefix: bytes) -> list[int | None]:
    """The 802.1Q VID (None: untagged) of each frame read from ``sock`` whose source MAC
    starts with ``mac_prefix``, from the kernel's auxdata."""
    tags: list[int | None] = []
    while True:
        try:
            frame, ancdata, _flags, _address = sock.recvmsg(65536, socket.CMSG_SPACE(20))
        except BlockingIOError:
            return tags
        if frame[6:6 + len(mac_prefix)] != mac_prefix:
            continue
        tag = None
        for level, kind, data in ancdata:
            if level == SOL_PACKET and kind == PACKET_AUXDATA:
                status, _len, _snap, _mac, _net, tci, _tpid = struct.unpack("=IIIHHHH", data[:20])
                if status & TP_STATUS_VLAN_VALID:
                    tag = tci & 0x0FFF
        if tag is None and frame[12:14] == b"\x81\x00":
            tag = int.from_bytes(frame[14:16], "big") & 0x0FFF
        tags.append(tag)


def test_link_change_lost_in_a_failed_read_is_recovered_from_a_new_dump(lab: Lab) -> None:
    """A read of the notifications that fails after applying some of them (a timeout in
    the dump after an overflow, say) must not leave the core with a stale carrier."""
    async def scenario() -> None:
        async with running(device_config(*LAB_ACS)) as dataplane:
            vsi = dataplane.device.vsis["v"]
            monitor = dataplane._links
            assert monitor is not None
            real_read = monitor.read

            def failing_read() -> set[str]:
                real_read()  # the table has the change, the names are lost with the error
                monitor.read = real_read  # type: ignore[method-assign]
                raise TimeoutError("rtnetlink link dump: no answer from the kernel")

            monitor.read = failing_read  # type: ignore[method-assign]
            run_ip("-n", lab.dut, "link", "set", "ac-r2", "down")
            await eventually(lambda: not vsi.port_oper_up("ac-r2"), "ac-r2 oper-status down despite the failure")
            assert monitor.read is real_read  # the failure did happen
    run(scenario)


def test_bind_failure_is_logged_once_per_interface_and_reason(lab: Lab, caplog: pytest.LogCaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    real_port = linux_driver.PacketPort

    def refusing_port(name: str, ifindex: int) -> object:
        if name == "ac-r1":
            raise PermissionError(1, "Operation not permitted")
        return real_port(name, ifindex)

    monkeypatch.setattr(linux_driver, "PacketPort", refusing_port)

    async def scenario() -> None:
        async with running(device_config(*LAB_ACS)) as dataplane:
            for state in ("down", "up", "down", "up"):  # each flap tries to bind again
                run_ip("-n", lab.dut, "link", "set", "ac-r1", state)
            run_ip("-n", lab.dut, "link", "set", "ac-r2", "down")  # after ac-r1's flaps
            vsi = dataplane.device.vsis["v"]
            await eventually(lambda: not vsi.port_oper_up("ac-r2"), "every link change read")
            assert dataplane.bind_errors == {"ac-r1": "[Errno 1] Operation not permitted"}

    with caplog.at_level(logging.WARNING, logger=linux_driver.__name__):
        run(scenario)
    warnings = [r.getMessage() for r in caplog.records if "cannot bind" in r.getMessage()]
    assert warnings == ["cannot bind interface ac-r1, its port stays down: [Errno 1] Operation not permitted"]


_UNPRIVILEGED = """
import os, sys
from agent.cli import CliError, make_dataplane
from agent.server import ServerConfig
from dataplane.linux import LinuxDataplane
os.setgid(65534); os.setuid(65534)  # nobody (after the imports): no CAP_NET_RAW
try:
    LinuxDataplane("dut", "02:00:00:00:00:01")
except PermissionError:
    print("driver refused")
try:
    make_dataplane("linux", ServerConfig(state_dir=sys.argv[1]), None)
except CliError as error:
    print("cli:", error)
"""


def test_driver_without_raw_socket_privilege_fails_at_once() -> None:
    if os.geteuid() != 0:
        pytest.skip("dropping privileges to test their lack needs root")
    result = subprocess.run([sys.executable, "-c", _UNPRIVILEGED, "/tmp"], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "driver refused"
    assert lines[1].startswith("cli: the linux dataplane cannot start: Operation not permitted")


def test_core_timers_run_on_the_real_clock(lab: Lab) -> None:
    """PW keepalives are sent by the core's timers only: several on the wire means the
    driver wakes the core at its deadlines."""
    async def scenario() -> None:
        watcher = lab.capture(lab.peer)
        async with running(device_config(*LAB_ACS)):
            frames: list[bytes] = []
            await eventually(lambda: sum(f[12:14] == b"\x88\xb5" for f in frames.__iadd__(incoming(watcher))) >= 5,
                             "five PW control frames on pw1")
    run(scenario)


def test_clear_groups_returns_how_many_entries_went(lab: Lab) -> None:
    async def scenario() -> None:
        async with running(device_config(*LAB_ACS)) as dataplane:
            member = lab.member(lab.r1, "10.9.0.2")  # noqa: F841 (closing it would leave the group)
            await eventually(lambda: group_ports(dataplane) == {"ac-r1"}, "r1's join learned")
            assert dataplane.clear_groups("v") == 1
            assert group_ports(dataplane) == set()
    run(scenario)


def test_refused_configuration_changes_nothing_and_binds_nothing(lab: Lab) -> None:
    async def scenario() -> None:
        async with running(device_config("ac-src")) as dataplane:
            before = dataplane.device.config
            bad = DeviceConfig(vsis=(VsiConfig("v", acs=(AcConfig("ac-r1"), AcConfig("ac-r1"))),))
            with pytest.raises(ConfigError) as refused:
                dataplane.apply(bad)
            assert refused.value.path == "vsi[v]/ac[ac-r1]"
            assert dataplane.device.config is before
            assert dataplane.bound == {"ac-src", "pw1"}
    run(scenario)


def test_interfaces_no_longer_configured_are_released(lab: Lab) -> None:
    async def scenario() -> None:
        async with running(device_config(*LAB_ACS)) as dataplane:
            dataplane.apply(device_config("ac-src"))
            assert dataplane.bound == {"ac-src", "pw1"}
    run(scenario)


def test_changing_one_vsi_binds_its_new_interfaces_and_releases_its_old_ones(lab: Lab) -> None:
    async def scenario() -> None:
        async with running(device_config(*LAB_ACS)) as dataplane:
            moved = VsiConfig("w", acs=(AcConfig("ac-r2"),))
            dataplane.apply_vsis({"v": VsiConfig("v", acs=(AcConfig("ac-src"), AcConfig("ac-r1"))), "w": moved})
            assert dataplane.bound == {"ac-src", "ac-r1", "ac-r2"}
            assert dataplane.device.vsis["w"].port_oper_up("ac-r2")
            dataplane.apply_vsis({"w": None})
            assert dataplane.bound == {"ac-src", "ac-r1"}
    run(scenario)


def test_refused_vsi_change_binds_nothing_and_changes_nothing(lab: Lab) -> None:
    async def scenario() -> None:
        async with running(device_config("ac-src")) as dataplane:
            before = dataplane.device.config
            taken = VsiConfig("w", acs=(AcConfig("ac-r1"), AcConfig("ac-src")))
            with pytest.raises(ConfigError) as refused:
                dataplane.apply_vsis({"w": taken})
            assert refused.value.path == "vsi[w]/ac[ac-src]"
            assert dataplane.device.config == before
            assert dataplane.bound == {"ac-src", "pw1"}
    run(scenario)


# -- the wire formats, without root ----------------------------------------------------

def _newlink(kind: int, index: int, flags: int, name: str, operstate: int | None, family: int = 0) -> bytes:
    attrs = _rtattr(3, name.encode() + b"\x00")
    if operstate is not None:
        attrs += _rtattr(16, bytes([operstate]))
    body = struct.pack("=BxHiII", family, 1, index, flags, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body


def _rtattr(kind: int, value: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(value), kind) + value
    return raw + b"\x00" * (-len(raw) % 4)


def test_namespace_is_made_on_a_kernel_without_ipv6(monkeypatch: pytest.MonkeyPatch) -> None:
    """Booted with ipv6.disable=1 there is no net.ipv6 sysctl to write: it is skipped."""
    reason = netns_unavailable()
    if reason is not None:
        pytest.skip(reason)
    monkeypatch.setattr(linux_netns, "IPV6_SYSCTL_DIR", "/proc/sys/net/no-ipv6-here")
    with NamespaceLab(f"vsi6x{os.getpid()}") as namespaces:
        ns = namespaces.namespace("plain")
        with entered(ns):
            if os.path.isdir("/proc/sys/net/ipv6"):  # this kernel has IPv6: it was left alone
                with open("/proc/sys/net/ipv6/conf/all/disable_ipv6") as handle:
                    assert handle.read().strip() == "0"


def test_rtnetlink_link_is_up_only_when_admin_up_and_running() -> None:
    buffer = (_newlink(RTM_NEWLINK, 7, IFF_UP | IFF_RUNNING, "pw1", 6)
              + _newlink(RTM_NEWLINK, 8, IFF_UP, "ac-r1", 2)
              + _newlink(RTM_DELLINK, 9, 0, "gone", None))
    messages, done = parse_link_messages(buffer)
    assert [(m.link, m.deleted) for m in messages] == [
        (Link("pw1", 7, IFF_UP | IFF_RUNNING, 6), False),
        (Link("ac-r1", 8, IFF_UP, 2), False),
        (Link("gone", 9, 0, None), True)]
    assert [m.link.up for m in messages] == [True, False, False]
    assert not done


def test_rtnetlink_bridge_port_messages_are_not_links() -> None:
    messages, _ = parse_link_messages(_newlink(RTM_DELLINK, 7, 0, "pw1", None, family=socket.AF_BRIDGE))
    assert messages == []


def test_rtnetlink_truncated_message_is_ignored() -> None:
    whole = _newlink(RTM_NEWLINK, 7, IFF_UP | IFF_RUNNING, "pw1", 6)
    messages, _ = parse_link_messages(whole[:-6])
    assert messages == []


def test_link_table_after_notification_overflow_has_no_deleted_interface() -> None:
    """The kernel drops notifications when the monitor reads too slowly (ENOBUFS); the
    table is then dumped again, and queued notifications older than the dump must not
    bring back an interface the dump no longer has."""
    reason = netns_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with NamespaceLab(f"vsilm{os.getpid()}") as namespaces:
        ns = namespaces.namespace("links")
        with entered(ns):
            monitor = LinkMonitor()
        try:
            monitor.refresh()
            monitor.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # overflow soon
            # the first pair's announcements are what stays queued; its deletion is lost
            commands = [f"link add a{i} type veth peer name b{i}" for i in range(50)] + ["link del a0"]
            subprocess.run(["ip", "-n", ns, "-batch", "-"], input="\n".join(commands) + "\n",
                           check=True, capture_output=True, text=True)
            monitor.read()
            assert monitor.overflows >= 1  # the case under test did happen
            assert "a0" not in monitor.links and "b0" not in monitor.links
            assert {f"a{i}" for i in range(1, 50)} <= monitor.links.keys()
        finally:
            monitor.close()


def test_offloaded_udp_checksum_is_completed_as_a_nic_would() -> None:
    src, dst = socket.inet_aton("10.9.0.1"), socket.inet_aton("239.1.2.3")
    payload = b"numbered datagram!!"
    length = 8 + len(payload)
    pseudo = sum(struct.unpack("!4H", src + dst)) + 17 + length
    pseudo = (pseudo & 0xFFFF) + (pseudo >> 16)
    udp = struct.pack("!HHHH", 4000, 5000, length, pseudo) + payload
    frame = bytes(14 + 20) + udp
    done = complete_checksum(frame, 34, 6)
    whole = src + dst + struct.pack("!HH", 17, length) + done[34:] + b"\x00" * (len(udp) % 2)
    assert sum(struct.unpack(f"!{len(whole) // 2}H", whole)) % 0xFFFF == 0
    assert done[:40] == frame[:40] and done[42:] == frame[42:]


# -- segmentation of offloaded super-frames --------------------------------------------

def _checksum_ok(data: bytes) -> bool:
    if len(data) & 1:
        data += b"\x00"
    return int.from_bytes(data, "big") % 0xFFFF == 0


def _tcp_superframe(family: int, payload: bytes, flags: int, vlan: bool = False) -> bytes:
    """A super-frame as a TSO sender hands it over: one header, all the payload."""
    tcp = struct.pack("!HHIIBBHHH", 40000, 5001, 0xFFFFFF00, 7, 5 << 4, flags, 512, 0, 0)
    if family == socket.AF_INET:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0xFFFE, 0x4000, 64, 6, 0,
                         socket.inet_aton("10.9.0.2"), socket.inet_aton("10.9.0.3"))
        ethertype = b"\x08\x00"
    else:
        ip = struct.pack("!IHBB16s16s", 6 << 28, len(tcp) + len(payload), 6, 64,
                         socket.inet_pton(socket.AF_INET6, "fd00::2"), socket.inet_pton(socket.AF_INET6, "fd00::3"))
        ethertype = b"\x86\xdd"
    tag = b"\x81\x00\x00\x0a" if vlan else b""
    return bytes(6) + b"\x02" + bytes(5) + tag + ethertype + ip + tcp + payload


def _tcp_pseudo(ip: bytes, family: int, l4_length: int) -> bytes:
    if family == socket.AF_INET:
        return ip[12:20] + struct.pack("!BBH", 0, 6, l4_length)
    return ip[8:40] + struct.pack("!I3xB", l4_length, 6)


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_tcp_super_frame_is_cut_at_gso_size_with_every_checksum_valid(family: int) -> None:
    payload = bytes(range(256)) * 20 + b"tail"  # 5124 bytes: 3 full segments of 1448 and a rest
    gso = VIRTIO_NET_HDR_GSO_TCPV4 if family == socket.AF_INET else VIRTIO_NET_HDR_GSO_TCPV6
    frame = _tcp_superframe(family, payload, flags=0x80 | 0x10 | 0x08 | 0x01)  # CWR ACK PSH FIN
    segments = segment(frame, gso, 1448)
    ip_length = 20 if family == socket.AF_INET else 40
    rebuilt = b""
    for index, seg in enumerate(segments):
        ip, tcp = seg[14:14 + ip_length], seg[14 + ip_length:]
        rebuilt += tcp[20:]
        if family == socket.AF_INET:
            assert struct.unpack("!H", ip[2:4])[0] == len(seg) - 14
            assert struct.unpack("!H", ip[4:6])[0] == (0xFFFE + index) & 0xFFFF
            assert _checksum_ok(ip)
        else:
            assert struct.unpack("!H", ip[4:6])[0] == len(tcp)
        assert _checksum_ok(_tcp_pseudo(ip, family, len(tcp)) + tcp)
        assert struct.unpack("!I", tcp[4:8])[0] == (0xFFFFFF00 + index * 1448) & 0xFFFFFFFF
        last, first = index == len(segments) - 1, index == 0
        assert bool(tcp[13] & 0x01) == last and bool(tcp[13] & 0x08) == last  # FIN, PSH
        assert bool(tcp[13] & 0x80) == first  # CWR
        assert tcp[13] & 0x10  # ACK on all
    assert [len(s) - 14 - ip_length - 20 for s in segments] == [1448, 1448, 1448, 5124 - 3 * 1448]
    assert rebuilt == payload


def test_super_frame_keeps_its_in_band_vlan_tag_in_every_segment() -> None:
    frame = _tcp_superframe(socket.AF_INET, bytes(3000), flags=0x10, vlan=True)
    segments = segment(frame, VIRTIO_NET_HDR_GSO_TCPV4, 1000)
    assert len(segments) == 3
    assert all(s[12:16] == b"\x81\x00\x00\x0a" and s[16:18] == b"\x08\x00" for s in segments)
    assert all(_checksum_ok(s[18:38]) for s in segments)


def test_udp_segmentation_offload_gives_datagrams_with_own_length_and_checksum() -> None:
    payload = b"x" * 2500
    udp = struct.pack("!HHHH", 4000, 5000, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     socket.inet_aton("10.9.0.1"), socket.inet_aton("10.9.0.3"))
    segments = segment(bytes(12) + b"\x08\x00" + ip + udp, VIRTIO_NET_HDR_GSO_UDP_L4, 1000)
    assert [len(s) - 42 for s in segments] == [1000, 1000, 500]
    for seg in segments:
        datagram = seg[34:]
        assert struct.unpack("!H", datagram[4:6])[0] == len(datagram)
        assert _checksum_ok(seg[26:34] + struct.pack("!BBH", 0, 17, len(datagram)) + datagram)


def test_super_frame_of_a_kind_not_handled_is_refused() -> None:
    frame = _tcp_superframe(socket.AF_INET, bytes(3000), flags=0x10)
    with pytest.raises(SegmentationError):
        segment(frame, 3, 1000)  # VIRTIO_NET_HDR_GSO_UDP (UFO: IP fragmentation)
    with pytest.raises(SegmentationError):
        segment(frame, VIRTIO_NET_HDR_GSO_TCPV6, 1000)  # says IPv6, is IPv4


def test_tcp_stream_through_the_device_arrives_intact(lab: Lab) -> None:
    """A sender behind a veth hands the device TSO super-frames: they must be cut into
    wire frames, or the transfer stalls."""
    data = os.urandom(3 << 20)

    async def scenario() -> None:
        async with running(device_config(*LAB_ACS, snooping=False, unknown="flood")) as dataplane:
            loop = asyncio.get_running_loop()
            server = lab.socket(lab.r2, socket.AF_INET, socket.SOCK_STREAM)
            server.bind(("10.9.0.3", 5001))
            server.listen(1)
            client = lab.socket(lab.r1, socket.AF_INET, socket.SOCK_STREAM)

            async def send() -> None:
                await loop.sock_connect(client, ("10.9.0.3", 5001))
                await loop.sock_sendall(client, data)
                client.shutdown(socket.SHUT_WR)

            async def take() -> bytes:
                conn, _ = await loop.sock_accept(server)
                conn.setblocking(False)
                chunks = []
                while chunk := await loop.sock_recv(conn, 1 << 16):
                    chunks.append(chunk)
                conn.close()
                return b"".join(chunks)

            sending = asyncio.ensure_future(send())
            got = await asyncio.wait_for(take(), 60)
            await sending
            client.close()
            server.close()
            assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
            counters = dataplane.port_counters("ac-r1")
            assert counters is not None and counters.oversize_dropped == 0
    run(scenario)
