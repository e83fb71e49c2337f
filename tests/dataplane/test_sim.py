"""The simulator's parts, one rule each: kernel, links, the learning segment, hosts,
sources, the querier, and the driver that runs a Device in virtual time."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dataplane.addr import ALL_ROUTERS, ALL_SYSTEMS, IGMPV3_ROUTERS, ip_int, ipv4_multicast_mac
from dataplane.config import AcConfig, DeviceConfig, IgmpSnoopingConfig, PwConfig, VsiConfig
from dataplane.device import Device
from dataplane.events import PwStateChanged
from dataplane.igmp import (
    GroupRecord,
    IgmpLeave,
    IgmpQuery,
    IgmpReport,
    IgmpV3Report,
    RecordType,
    build_leave,
    build_query,
    build_report_v2,
)
from dataplane.packet import Kind, build_igmp_frame, build_udp_multicast, classify
from dataplane.pw_control import PwMessageType
from dataplane.sim import DeviceNode, Host, Link, Node, Reception, Router, Simulator, Source, Switch
from dataplane.sim.source import STREAM_HEADER

G1 = ip_int("239.1.1.1")
G2 = ip_int("239.1.1.2")
ROUTER_IP = ip_int("192.0.2.1")


def mac(n: int) -> bytes:
    return bytes((2, 0, 0, 0, 0, n))


class Probe(Node):
    """Records what it receives and every carrier change."""

    def __init__(self, sim: Simulator, name: str, n: int = 0xEE) -> None:
        super().__init__(sim, name, mac(n))
        self.got: list[tuple[float, str, bytes]] = []
        self.carriers: list[tuple[float, str, bool]] = []

    def receive(self, port: str, frame: bytes, now: float) -> None:
        self.got.append((now, port, frame))

    def carrier(self, port: str, up: bool, now: float) -> None:
        self.carriers.append((now, port, up))

    def packets(self):  # noqa: ANN201
        return [classify(frame) for _, _, frame in self.got]


def stream_frame(seq: int, group: int = G1, sender: bytes = mac(1)) -> bytes:
    return build_udp_multicast(sender, ROUTER_IP, group, 5000, 5000, STREAM_HEADER.pack(seq, 0.0))


def test_dataplane_never_imports_the_agent_or_any_yang_or_ssh_library() -> None:
    code = (
        "import sys, dataplane.packet, dataplane.sim, dataplane.scenario\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'agent', 'lxml', 'asyncssh', 'pyang', 'yangson'})\n"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


# -- kernel ------------------------------------------------------------------------------------


def test_events_run_in_time_order_and_ties_in_scheduling_order() -> None:
    sim = Simulator()
    order: list[str] = []
    sim.at(2.0, order.append, "late")
    sim.at(1.0, order.append, "first-at-1")
    sim.at(1.0, order.append, "second-at-1")
    sim.run(5.0)
    assert order == ["first-at-1", "second-at-1", "late"]
    assert sim.now == 5.0


def test_run_stops_at_until_and_keeps_later_events() -> None:
    sim = Simulator()
    seen: list[float] = []
    sim.at(1.0, lambda: seen.append(sim.now))
    sim.at(3.0, lambda: seen.append(sim.now))
    sim.run(2.0)
    assert seen == [1.0] and sim.now == 2.0
    sim.run(3.0)
    assert seen == [1.0, 3.0]


def test_cancelled_timer_never_runs() -> None:
    sim = Simulator()
    seen: list[int] = []
    sim.after(1.0, seen.append, 1).cancel()
    sim.run(2.0)
    assert seen == []


def test_event_in_the_past_runs_now_not_back_in_time() -> None:
    sim = Simulator()
    sim.run(5.0)
    seen: list[float] = []
    sim.at(1.0, lambda: seen.append(sim.now))
    sim.run(6.0)
    assert seen == [5.0]


def test_randomness_is_a_function_of_the_seed() -> None:
    assert [Simulator(7).rng.random() for _ in range(2)] == [Simulator(7).rng.random()] * 2
    assert Simulator(7).rng.random() != Simulator(8).rng.random()


# -- links -------------------------------------------------------------------------------------


def test_link_delivers_after_its_delay_to_the_other_end() -> None:
    sim = Simulator()
    a, b = Probe(sim, "a", 1), Probe(sim, "b", 2)
    Link(sim, (a, "p"), (b, "q"), delay=0.25)
    a.send("p", b"frame-1")
    sim.run(1.0)
    assert b.got == [(0.25, "q", b"frame-1")] and a.got == []


def test_link_keeps_frame_order() -> None:
    sim = Simulator()
    a, b = Probe(sim, "a", 1), Probe(sim, "b", 2)
    Link(sim, (a, "p"), (b, "q"), delay=0.1)
    for i in range(5):
        a.send("p", bytes((i,)))
    sim.run(1.0)
    assert [frame for _, _, frame in b.got] == [bytes((i,)) for i in range(5)]


def test_lossy_link_drops_about_its_loss_probability_reproducibly() -> None:
    def delivered(seed: int) -> int:
        sim = Simulator(seed)
        a, b = Probe(sim, "a", 1), Probe(sim, "b", 2)
        link = Link(sim, (a, "p"), (b, "q"), delay=0.0, loss=0.25)
        for _ in range(4000):
            a.send("p", b"x")
        sim.run(1.0)
        assert link.lost_random + len(b.got) == 4000
        return len(b.got)

    assert delivered(3) == delivered(3)
    assert 2800 < delivered(3) < 3200


def test_cut_link_reports_carrier_loss_to_both_ends_and_drops_frames() -> None:
    sim = Simulator()
    a, b = Probe(sim, "a", 1), Probe(sim, "b", 2)
    link = Link(sim, (a, "p"), (b, "q"), delay=0.1)
    sim.run(1.0)
    link.set_up(False)
    a.send("p", b"x")
    sim.run(2.0)
    assert a.carriers == [(1.0, "p", False)] and b.carriers == [(1.0, "q", False)]
    assert b.got == [] and link.lost_down == 1


def test_frames_in_flight_when_the_link_is_cut_are_lost_and_counted() -> None:
    sim = Simulator()
    a, b = Probe(sim, "a", 1), Probe(sim, "b", 2)
    link = Link(sim, (a, "p"), (b, "q"), delay=1.0)
    a.send("p", b"x")
    a.send("p", b"y")
    sim.run(0.5)
    link.set_up(False)
    link.set_up(True)
    sim.run(3.0)
    assert b.got == [] and link.lost_in_flight == 2


def test_restored_link_carries_again() -> None:
    sim = Simulator()
    a, b = Probe(sim, "a", 1), Probe(sim, "b", 2)
    link = Link(sim, (a, "p"), (b, "q"), delay=0.0)
    link.set_up(False)
    link.set_up(True)
    a.send("p", b"x")
    sim.run(1.0)
    assert len(b.got) == 1 and b.carriers[-1][2] is True


def test_silently_failed_link_drops_everything_with_carrier_still_up() -> None:
    sim = Simulator()
    a, b = Probe(sim, "a", 1), Probe(sim, "b", 2)
    link = Link(sim, (a, "p"), (b, "q"), delay=0.0)
    link.silent_failure = True
    a.send("p", b"x")
    sim.run(1.0)
    assert b.got == [] and a.carriers == b.carriers == [] and link.lost_silently == 1


def test_port_cannot_be_wired_twice() -> None:
    sim = Simulator()
    a, b, c = Probe(sim, "a", 1), Probe(sim, "b", 2), Probe(sim, "c", 3)
    Link(sim, (a, "p"), (b, "q"))
    with pytest.raises(ValueError):
        Link(sim, (a, "p"), (c, "q"))


def test_frame_coming_back_to_its_sender_counts_as_a_loop() -> None:
    sim = Simulator()
    a, b = Probe(sim, "a", 1), Probe(sim, "b", 2)
    Link(sim, (a, "p"), (b, "q"), delay=0.0)
    b.send("q", stream_frame(0, sender=a.mac))
    b.send("q", stream_frame(1, sender=b.mac))
    sim.run(1.0)
    assert a.loops_detected == 1


# -- the learning segment ----------------------------------------------------------------------


def segment(sim: Simulator) -> tuple[Switch, list[Probe]]:
    switch = Switch(sim, "sw")
    probes = [Probe(sim, f"n{i}", 0x10 + i) for i in range(3)]
    for i, probe in enumerate(probes):
        Link(sim, (switch, f"p{i}"), (probe, "eth0"), delay=0.0)
    return switch, probes


def unicast(dst: bytes, src: bytes) -> bytes:
    return dst + src + b"\x08\x06" + bytes(46)


def test_switch_floods_multicast_and_unknown_unicast_but_not_back() -> None:
    sim = Simulator()
    _, (n0, n1, n2) = segment(sim)
    n0.send("eth0", stream_frame(0, sender=n0.mac))
    n0.send("eth0", unicast(mac(0x77), n0.mac))
    sim.run(1.0)
    assert len(n1.got) == len(n2.got) == 2 and n0.got == []


def test_switch_forwards_known_unicast_to_the_learned_port_only() -> None:
    sim = Simulator()
    _, (n0, n1, n2) = segment(sim)
    n1.send("eth0", unicast(mac(0x77), n1.mac))
    sim.run(1.0)
    n0.send("eth0", unicast(n1.mac, n0.mac))
    sim.run(2.0)
    assert [frame[:6] for _, _, frame in n1.got] == [n1.mac]
    assert [frame[:6] for _, _, frame in n2.got] == [mac(0x77)]


def test_switch_counts_a_mac_move_when_an_address_changes_port() -> None:
    sim = Simulator()
    switch, (n0, n1, _) = segment(sim)
    n0.send("eth0", unicast(mac(0x77), mac(0x55)))
    sim.run(1.0)
    n1.send("eth0", unicast(mac(0x77), mac(0x55)))
    n1.send("eth0", unicast(mac(0x77), mac(0x55)))
    sim.run(2.0)
    assert [(m.mac, m.from_port, m.to_port) for m in switch.mac_moves] == [("02:00:00:00:00:55", "p0", "p1")]


def test_switch_forgets_addresses_behind_a_port_that_loses_carrier() -> None:
    sim = Simulator()
    switch, (n0, _, _) = segment(sim)
    n0.send("eth0", unicast(mac(0x77), n0.mac))
    sim.run(1.0)
    switch.carrier("p0", False, sim.now)
    assert n0.mac not in switch.table


# -- hosts -------------------------------------------------------------------------------------


def host_with_probe(version: int = 2, seed: int = 1) -> tuple[Simulator, Host, Probe]:
    sim = Simulator(seed)
    host = Host(sim, "h", mac(0x0A), ip_int("198.51.100.10"), version=version, unsolicited_repeats=0)
    probe = Probe(sim, "p")
    Link(sim, (host, Host.PORT), (probe, "eth0"), delay=0.0)
    return sim, host, probe


def test_v2_join_sends_a_report_to_the_group_with_router_alert() -> None:
    sim, host, probe = host_with_probe(2)
    host.join(G1)
    sim.run(1.0)
    (packet,) = probe.packets()
    assert packet.igmp == IgmpReport(2, G1)
    assert packet.ip.dst == G1 and packet.dst == ipv4_multicast_mac(G1) and packet.ip.router_alert
    assert packet.ip.src == host.ip and packet.src == host.mac


def test_v3_join_sends_change_to_exclude_to_224_0_0_22() -> None:
    sim, host, probe = host_with_probe(3)
    host.join(G1)
    sim.run(1.0)
    (packet,) = probe.packets()
    assert packet.ip.dst == IGMPV3_ROUTERS
    assert packet.igmp == IgmpV3Report((GroupRecord(RecordType.CHANGE_TO_EXCLUDE, G1),))


def test_unsolicited_report_is_repeated_within_the_report_interval() -> None:
    sim = Simulator(4)
    host = Host(sim, "h", mac(0x0A), 1, unsolicited_repeats=2, unsolicited_report_interval=1.0)
    probe = Probe(sim, "p")
    Link(sim, (host, Host.PORT), (probe, "eth0"), delay=0.0)
    host.join(G1)
    sim.run(10.0)
    times = [t for t, _, _ in probe.got]
    assert len(times) == 3 and times[0] == 0.0 and times[-1] <= 2.0


def test_v2_leave_goes_to_all_routers() -> None:
    sim, host, probe = host_with_probe(2)
    host.join(G1)
    host.leave(G1)
    sim.run(1.0)
    packet = probe.packets()[-1]
    assert packet.igmp == IgmpLeave(G1) and packet.ip.dst == ALL_ROUTERS


def test_v3_leave_is_change_to_include_nothing() -> None:
    sim, host, probe = host_with_probe(3)
    host.join(G1)
    host.leave(G1)
    sim.run(1.0)
    assert probe.packets()[-1].igmp == IgmpV3Report((GroupRecord(RecordType.CHANGE_TO_INCLUDE, G1),))


def query_frame(version: int, max_resp: float, group: int = 0) -> bytes:
    return build_igmp_frame(mac(1), ROUTER_IP, group or ALL_SYSTEMS, build_query(version, max_resp, group))


def test_general_query_is_answered_per_group_within_max_response_time() -> None:
    sim, host, probe = host_with_probe(2, seed=5)
    host.join(G1)
    host.join(G2)
    sim.run(1.0)
    probe.got.clear()
    probe.send("eth0", query_frame(2, 3.0))
    sim.run(10.0)
    reports = probe.packets()
    assert sorted(p.igmp.group for p in reports) == [G1, G2]
    assert all(0 <= delay <= 3.0 for delay in host.report_delays) and len(host.report_delays) == 2


def test_group_specific_query_is_answered_only_for_that_group() -> None:
    sim, host, probe = host_with_probe(2)
    host.join(G1)
    host.join(G2)
    sim.run(1.0)
    probe.got.clear()
    probe.send("eth0", query_frame(2, 1.0, G2))
    sim.run(5.0)
    assert [p.igmp for p in probe.packets()] == [IgmpReport(2, G2)]


def test_v3_host_answers_a_general_v3_query_with_one_report_of_all_groups() -> None:
    sim, host, probe = host_with_probe(3)
    host.join(G1)
    host.join(G2)
    sim.run(1.0)
    probe.got.clear()
    probe.send("eth0", query_frame(3, 2.0))
    sim.run(5.0)
    (packet,) = probe.packets()
    assert [r.group for r in packet.igmp.records] == [G1, G2]
    assert all(r.record_type is RecordType.MODE_IS_EXCLUDE for r in packet.igmp.records)


def test_v3_host_answers_an_older_querier_in_its_version() -> None:
    sim, host, probe = host_with_probe(3)
    host.join(G1)
    sim.run(1.0)
    probe.got.clear()
    probe.send("eth0", query_frame(2, 1.0))
    sim.run(5.0)
    assert [p.igmp for p in probe.packets()] == [IgmpReport(2, G1)]


def test_v2_host_suppresses_its_report_when_another_member_answers() -> None:
    sim, host, probe = host_with_probe(2)
    host.join(G1)
    sim.run(1.0)
    probe.got.clear()
    probe.send("eth0", query_frame(2, 10.0))
    probe.send("eth0", build_igmp_frame(mac(0x0B), 2, G1, build_report_v2(G1)))
    sim.run(20.0)
    assert probe.got == []


def test_host_counts_unique_frames_duplicates_and_gaps() -> None:
    sim, host, probe = host_with_probe(2)
    host.join(G1)
    for t, seq in ((1.0, 0), (1.1, 1), (1.2, 1), (1.3, 4), (1.4, 5)):
        sim.at(t, probe.send, "eth0", stream_frame(seq))
    sim.run(2.0)
    reception = host.receptions[G1]
    assert reception.seqs == {0, 1, 4, 5} and reception.duplicates == 1
    (gap,) = reception.gaps
    assert (gap.last_seq, gap.next_seq, gap.missing) == (1, 4, 2)
    assert gap.duration == pytest.approx(0.2)
    assert reception.missing_from(range(0, 6)) == 2


def test_host_ignores_groups_it_did_not_join_but_counts_them() -> None:
    sim, host, probe = host_with_probe(2)
    host.join(G1)
    probe.send("eth0", stream_frame(0, group=G2))
    sim.run(1.0)
    assert host.unwanted_frames == 1 and host.receptions[G1].seqs == set()


def test_out_of_order_frame_is_counted_without_inventing_a_gap() -> None:
    reception = Reception(G1)
    for seq, t in ((0, 0.0), (2, 0.2), (1, 0.3), (3, 0.4)):
        reception.record(seq, t)
    assert reception.reordered == 1 and len(reception.gaps) == 1 and reception.missing_from(range(4)) == 0


# -- sources and the querier -------------------------------------------------------------------


def test_source_sends_sequence_numbers_at_its_rate() -> None:
    sim = Simulator()
    source = Source(sim, "s", mac(1), ROUTER_IP)
    probe = Probe(sim, "p")
    Link(sim, (source, Source.PORT), (probe, "eth0"), delay=0.0)
    stream = source.stream(G1, rate=100.0, start=1.0, stop=2.0)
    sim.run(5.0)
    assert stream.sent == 100 and len(probe.got) == 100
    assert probe.got[0][0] == 1.0 and probe.got[-1][0] == pytest.approx(1.99)
    packet = classify(probe.got[7][2])
    assert packet.kind is Kind.DATA and packet.ip.dst == G1
    assert STREAM_HEADER.unpack_from(packet.ip_payload[8:]) == (7, pytest.approx(1.07))


def test_stream_tells_which_sequence_numbers_were_sent_in_a_window() -> None:
    sim = Simulator()
    source = Source(sim, "s", mac(1), ROUTER_IP)
    stream = source.stream(G1, rate=10.0, start=1.0)
    sim.run(3.0)
    assert stream.sequences_sent_between(1.5, 2.0) == range(5, 10)
    assert stream.sequences_sent_between(0.0, 100.0) == range(0, stream.sent)


def router_with_probe(**kwargs) -> tuple[Simulator, Router, Probe]:  # noqa: ANN003
    sim = Simulator()
    router = Router(sim, "R", mac(1), ROUTER_IP, **kwargs)
    probe = Probe(sim, "p")
    Link(sim, (router, Router.PORT), (probe, "eth0"), delay=0.0)
    return sim, router, probe


def test_querier_sends_startup_queries_then_one_per_query_interval() -> None:
    sim, router, probe = router_with_probe(query_interval=20.0, robustness=2)
    router.start(0.0)
    sim.run(70.0)
    assert router.queries_sent == [0.0, 5.0, 25.0, 45.0, 65.0]
    assert router.next_query_time(30.0) == 45.0 and router.next_query_time(0.0) == 5.0


def test_general_queries_come_from_the_router_address_to_all_systems() -> None:
    sim, router, probe = router_with_probe(version=3, max_resp_time=4.0)
    router.start(0.0)
    sim.run(1.0)
    (packet,) = probe.packets()
    assert packet.ip.src == ROUTER_IP != 0 and packet.ip.dst == ALL_SYSTEMS
    assert isinstance(packet.igmp, IgmpQuery) and packet.igmp.version == 3 and packet.igmp.max_resp_time == 4.0


def test_router_answers_a_leave_with_last_member_queries() -> None:
    sim, router, probe = router_with_probe(robustness=2, last_member_query_interval=1.0)
    probe.send("eth0", build_igmp_frame(mac(0x0A), 2, G1, build_report_v2(G1)))
    sim.run(1.0)
    assert router.is_member(G1, sim.now)
    probe.send("eth0", build_igmp_frame(mac(0x0A), 2, ALL_ROUTERS, build_leave(G1)))
    sim.run(5.0)
    queries = [p.igmp for p in probe.packets()]
    assert queries == [IgmpQuery(2, 1.0, G1)] * 2
    assert not router.is_member(G1, sim.now)


# -- a Device in the simulation ----------------------------------------------------------------


def pe_config(feature: bool = False) -> DeviceConfig:
    igmp = IgmpSnoopingConfig(enable=True, query_interval=10.0, max_response_time=2.0)
    vsi = VsiConfig("v", unknown_multicast_action="drop", acs=(AcConfig("ac"), AcConfig("up")),
                    pws=(PwConfig("10.0.0.9", 7, "pw"),), igmp=igmp)
    return DeviceConfig(igmp_snooping_enable=True, vsis=(vsi,))


def device_in_sim() -> tuple[Simulator, DeviceNode, Host, Router, Probe, Link]:
    sim = Simulator()
    node = DeviceNode(sim, Device("PE", mac(0x30), querier_address="10.0.0.8"))
    host = Host(sim, "h", mac(0x0A), ip_int("198.51.100.10"), unsolicited_repeats=0)
    router = Router(sim, "R", mac(1), ROUTER_IP, query_interval=10.0, max_resp_time=2.0)
    peer = Probe(sim, "peer")
    Link(sim, (node, "ac"), (host, Host.PORT), delay=0.001)
    Link(sim, (node, "up"), (router, Router.PORT), delay=0.001)
    pw = Link(sim, (node, "pw"), (peer, "eth0"), delay=0.001)
    node.apply(pe_config())
    return sim, node, host, router, peer, pw


def test_device_node_forwards_a_report_to_the_router_port_learned_from_a_query() -> None:
    sim, node, host, router, _, _ = device_in_sim()
    router.start(0.0)
    sim.at(0.5, host.join, G1)
    sim.run(1.0)
    assert router.reports_received == 1 and router.is_member(G1, sim.now)


def test_device_node_delivers_data_of_a_joined_group_end_to_end() -> None:
    sim, node, host, router, _, _ = device_in_sim()
    router.start(0.0)
    sim.at(0.5, host.join, G1)
    router.stream(G1, rate=100.0, start=1.0, stop=2.0)
    sim.run(3.0)
    assert host.receptions[G1].seqs == set(range(100))


def test_device_node_runs_the_core_timers_without_being_poked() -> None:
    sim, node, _, _, peer, _ = device_in_sim()
    sim.run(1.0)
    keepalives = [p for p in peer.packets() if p.kind is Kind.PW_CONTROL and p.pw_control.msg_type is PwMessageType.KEEPALIVE]
    interval = pe_config().vsis[0].pws[0].keepalive_interval
    assert len(keepalives) >= int(0.9 / interval)


def test_carrier_loss_reaches_the_device_as_link_state() -> None:
    sim, node, _, _, _, pw = device_in_sim()
    sim.run(0.5)
    pw.set_up(False)
    sim.run(0.6)
    changes = [e for e in node.events if isinstance(e, PwStateChanged)]
    assert changes and changes[-1].oper_status == "down" and changes[-1].time == 0.5
