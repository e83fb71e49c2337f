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
import os
import socket
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
                                      complete_checksum)
from dataplane.linux.carrier import IFF_RUNNING, IFF_UP, RTM_DELLINK, RTM_NEWLINK, Link, parse_link_messages
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
