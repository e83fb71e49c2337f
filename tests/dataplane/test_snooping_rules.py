"""SPEC 2.2: one test per snooping rule (RFC 4541, RFC 2236, RFC 3376, Linux bridge)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.addr import ALL_SYSTEMS, ip_int
from dataplane.config import IgmpSnoopingConfig, StaticGroup
from dataplane.events import GroupLimitExceeded
from dataplane.igmp import RecordType
from dataplane.invalid import InvalidReason
from dataplane.packet import classify

from tests.dataplane._core_helpers import (
    DEVICE_MAC,
    G1,
    G2,
    G3,
    broadcast_frame,
    data,
    device,
    started,
    host_mac,
    igmp_raw,
    leave,
    pim_hello,
    ports,
    pw,
    query,
    report,
    snooping,
    table,
    unicast,
    v3_report,
    vsi_config,
)

IS_IN, IS_EX, TO_IN, TO_EX, ALLOW, BLOCK = (
    RecordType.MODE_IS_INCLUDE, RecordType.MODE_IS_EXCLUDE, RecordType.CHANGE_TO_INCLUDE,
    RecordType.CHANGE_TO_EXCLUDE, RecordType.ALLOW_NEW_SOURCES, RecordType.BLOCK_OLD_SOURCES)
S1, S2 = "10.9.9.1", "10.9.9.2"
GMI = 2 * 60.0 + 10.0  # robustness x query-interval + max-response-time, defaults


def with_router(**igmp):  # type: ignore[no-untyped-def]
    """ac1 leads to the querier; ac2 and ac3 have hosts."""
    dev = device(vsi_config(snooping(**igmp)))
    dev.receive("ac1", query(), 0.0)
    return dev


def stats(dev, vsi="iptv"):  # type: ignore[no-untyped-def]
    return dev.vsis[vsi].stats


# -- versions and record types ----------------------------------------------------------


def test_igmpv1_report_is_learned_as_any_source_membership() -> None:
    dev = with_router()
    dev.receive("ac2", report(G1, 2, version=1), 1.0)
    assert table(dev) == {(G1, "0.0.0.0"): {"ac2"}}
    assert stats(dev).reports_v1_received == 1


def test_igmpv2_report_is_learned_as_any_source_membership() -> None:
    dev = with_router()
    dev.receive("ac2", report(G1, 2), 1.0)
    assert table(dev) == {(G1, "0.0.0.0"): {"ac2"}}
    assert stats(dev).reports_v2_received == 1


def test_v3_is_include_learns_per_source_entries() -> None:
    dev = with_router()
    dev.receive("ac2", v3_report([(IS_IN, G1, (S1, S2))], 2), 1.0)
    assert table(dev) == {(G1, S1): {"ac2"}, (G1, S2): {"ac2"}}
    assert ports(dev.receive("ac1", data(G1, S1), 2.0)) == {"ac2"}
    assert ports(dev.receive("ac1", data(G1, "10.9.9.3"), 2.0)) == set()  # registered, not asked for


def test_v3_is_exclude_forwards_every_source_but_the_excluded() -> None:
    dev = with_router()
    dev.receive("ac2", v3_report([(IS_EX, G1, (S1,))], 2), 1.0)
    assert table(dev) == {(G1, "0.0.0.0"): {"ac2"}}
    assert ports(dev.receive("ac1", data(G1, S1), 2.0)) == set()
    assert ports(dev.receive("ac1", data(G1, S2), 2.0)) == {"ac2"}


def test_v3_to_include_with_sources_switches_to_those_sources() -> None:
    dev = with_router()
    dev.receive("ac2", report(G1, 2), 1.0)
    dev.receive("ac2", v3_report([(TO_IN, G1, (S1,))], 2), 2.0)
    assert (G1, S1) in table(dev)
    # the any-source membership only lingers for the last member query time
    dev.tick(2.0 + 2 * 1.0 + 0.01)
    assert table(dev) == {(G1, S1): {"ac2"}}
    assert ports(dev.receive("ac1", data(G1, S2), 5.0)) == set()
    assert ports(dev.receive("ac1", data(G1, S1), 5.0)) == {"ac2"}


def test_v3_to_exclude_moves_port_to_exclude_mode() -> None:
    dev = with_router()
    dev.receive("ac2", v3_report([(IS_IN, G1, (S1, S2))], 2), 1.0)
    dev.receive("ac2", v3_report([(TO_EX, G1, (S2,))], 2), 2.0)
    # INCLUDE(A) TO_EX(B) -> EXCLUDE(A*B, B-A): S2 was requested, so it is not excluded;
    # S1 is deleted but forwarded by the exclude mode
    assert (G1, "0.0.0.0") in table(dev)
    assert (G1, S1) not in table(dev)
    assert ports(dev.receive("ac1", data(G1, S1), 3.0)) == {"ac2"}
    dev.receive("ac2", v3_report([(TO_EX, G1, ("10.9.9.3",))], 2), 4.0)
    assert ports(dev.receive("ac1", data(G1, "10.9.9.3"), 5.0)) == {"ac2"}  # EXCLUDE(X,Y)->EXCLUDE(A-Y,Y*A)


def test_v3_allow_new_sources_adds_sources() -> None:
    dev = with_router()
    dev.receive("ac2", v3_report([(IS_IN, G1, (S1,))], 2), 1.0)
    dev.receive("ac2", v3_report([(ALLOW, G1, (S2,))], 2), 2.0)
    assert table(dev) == {(G1, S1): {"ac2"}, (G1, S2): {"ac2"}}


def test_v3_allow_in_exclude_mode_unblocks_the_source() -> None:
    dev = with_router()
    dev.receive("ac2", v3_report([(IS_EX, G1, (S1,))], 2), 1.0)
    dev.receive("ac2", v3_report([(ALLOW, G1, (S1,))], 2), 2.0)
    assert ports(dev.receive("ac1", data(G1, S1), 3.0)) == {"ac2"}


def test_v3_block_old_sources_lowers_them_to_last_member_query_time() -> None:
    dev = with_router()
    dev.receive("ac2", v3_report([(IS_IN, G1, (S1, S2))], 2), 1.0)
    dev.receive("ac2", v3_report([(BLOCK, G1, (S1,))], 2), 2.0)
    assert (G1, S1) in table(dev)  # not yet: others behind the port may still want it
    dev.tick(2.0 + 2.0 + 0.01)
    assert table(dev) == {(G1, S2): {"ac2"}}


def test_v3_to_include_empty_is_a_leave() -> None:
    dev = with_router(immediately_leave=True)
    dev.receive("ac2", report(G1, 2), 1.0)
    out = dev.receive("ac2", v3_report([(TO_IN, G1, ())], 2), 2.0)
    assert table(dev) == {}
    assert ports(out) == {"ac1"}  # forwarded to the router port


def test_v3_is_include_empty_is_a_leave() -> None:
    dev = with_router(immediately_leave=True)
    dev.receive("ac2", v3_report([(IS_EX, G1, ())], 2), 1.0)
    dev.receive("ac2", v3_report([(IS_IN, G1, ())], 2), 2.0)
    assert table(dev) == {}


# -- where protocol frames go -----------------------------------------------------------


def test_reports_are_forwarded_only_to_router_ports() -> None:
    dev = with_router()
    assert ports(dev.receive("ac2", report(G1, 2), 1.0)) == {"ac1"}


def test_reports_without_router_ports_go_nowhere() -> None:
    dev = device(vsi_config())
    assert dev.receive("ac2", report(G1, 2), 1.0) == []
    assert table(dev) == {(G1, "0.0.0.0"): {"ac2"}}


def test_leaves_are_forwarded_only_to_router_ports() -> None:
    dev = with_router()
    dev.receive("ac2", report(G1, 2), 1.0)
    assert ports(dev.receive("ac2", leave(G1, 2), 2.0)) == {"ac1"}


def test_queries_are_flooded_to_all_ports_except_ingress() -> None:
    dev = device(vsi_config())
    assert ports(dev.receive("ac1", query(), 0.0)) == {"ac2", "ac3"}


def test_split_horizon_keeps_protocol_frames_from_crossing_pw_to_pw() -> None:
    dev = device(vsi_config(pws=(pw("10.0.0.1", "pw1"), pw("10.0.0.2", "pw2"))))
    assert ports(dev.receive("pw1", query(), 0.0)) == {"ac1", "ac2", "ac3"}
    dev.receive("pw2", query("10.1.1.2"), 0.5)  # pw2 is a router port too now
    assert ports(dev.receive("pw1", report(G1, 7), 1.0)) == set()  # not to router port pw2
    assert ports(dev.receive("ac2", report(G1, 2), 1.0)) == {"pw1", "pw2"}


# -- router ports -----------------------------------------------------------------------


def test_general_query_with_source_marks_router_port() -> None:
    dev = with_router()
    assert set(dev.vsis["iptv"].snooping.router_ports) == {"ac1"}


def test_general_query_from_0_0_0_0_does_not_mark_router_port() -> None:
    dev = device(vsi_config())
    dev.receive("ac1", query("0.0.0.0"), 0.0)
    assert dev.vsis["iptv"].snooping.router_ports == {}


def test_pim_hello_marks_router_port() -> None:
    dev = device(vsi_config())
    out = dev.receive("ac3", pim_hello(), 0.0)
    assert set(dev.vsis["iptv"].snooping.router_ports) == {"ac3"}
    assert ports(out) == {"ac1", "ac2"}  # 224.0.0.13 is link-local: flooded
    assert stats(dev).pim_hellos_received == 1


def test_router_port_learning_off_learns_nothing() -> None:
    dev = with_router(router_port_learning=False)
    assert dev.vsis["iptv"].snooping.router_ports == {}


def test_dynamic_router_port_ages_after_router_aging_time() -> None:
    dev = with_router(router_aging_time=30.0)
    dev.tick(29.9)
    assert "ac1" in dev.vsis["iptv"].snooping.router_ports
    dev.tick(30.1)
    assert dev.vsis["iptv"].snooping.router_ports == {}


def test_static_router_port_never_ages() -> None:
    dev = device(vsi_config(snooping(static_router_ports=frozenset({"ac3"}), router_aging_time=30.0)))
    dev.tick(10_000.0)
    router = dev.vsis["iptv"].snooping.router_ports["ac3"]
    assert router.static and not router.dynamic
    assert ports(dev.receive("ac2", report(G1, 2), 10_001.0)) == {"ac3"}


# -- ageing and leaves ------------------------------------------------------------------


def test_membership_ages_after_group_membership_interval() -> None:
    dev = with_router()
    dev.receive("ac2", report(G1, 2), 1.0)
    dev.tick(1.0 + GMI - 0.01)
    assert table(dev) == {(G1, "0.0.0.0"): {"ac2"}}
    dev.tick(1.0 + GMI + 0.01)
    assert table(dev) == {}


def test_membership_interval_follows_configured_timers() -> None:
    dev = with_router(robustness=3, query_interval=20.0, max_response_time=5.0)
    dev.receive("ac2", report(G1, 2), 0.0)
    dev.tick(64.9)
    assert table(dev)
    dev.tick(65.1)
    assert table(dev) == {}


def test_a_refreshing_report_restarts_the_membership_timer() -> None:
    dev = with_router()
    dev.receive("ac2", report(G1, 2), 0.0)
    dev.receive("ac2", report(G1, 2), 100.0)
    dev.tick(GMI + 1.0)
    assert table(dev) == {(G1, "0.0.0.0"): {"ac2"}}


def test_static_group_never_ages_and_ignores_leaves() -> None:
    dev = device(vsi_config(snooping(static_groups=frozenset({StaticGroup(G1, "0.0.0.0", "ac3")}),
                                     immediately_leave=True)))
    dev.receive("ac3", leave(G1, 3), 1.0)
    dev.tick(100_000.0)
    assert table(dev) == {(G1, "0.0.0.0"): {"ac3"}}
    assert dev.vsis["iptv"].snooping.groups[ip_int(G1)][0].ports["ac3"].static


def test_immediately_leave_removes_the_port_at_once() -> None:
    dev = with_router(immediately_leave=True)
    dev.receive("ac2", report(G1, 2), 1.0)
    dev.receive("ac3", report(G1, 3), 1.0)
    dev.receive("ac2", leave(G1, 2), 2.0)
    assert table(dev) == {(G1, "0.0.0.0"): {"ac3"}}


def test_leave_lowers_the_port_timer_to_last_member_query_time() -> None:
    dev = with_router(last_member_query_interval=1.5)
    dev.receive("ac2", report(G1, 2), 1.0)
    dev.receive("ac2", leave(G1, 2), 2.0)
    dev.tick(2.0 + 3.0 - 0.01)
    assert table(dev) == {(G1, "0.0.0.0"): {"ac2"}}
    dev.tick(2.0 + 3.0 + 0.01)
    assert table(dev) == {}


def test_leave_as_querier_sends_group_specific_queries() -> None:
    dev = device(vsi_config(snooping(querier_enable=True)))
    dev.tick(0.0)
    dev.receive("ac2", report(G1, 2), 1.0)
    out = dev.receive("ac2", leave(G1, 2), 2.0)
    queries = [(p, classify(f)) for p, f in out if classify(f).igmp.__class__.__name__ == "IgmpQuery"]
    assert [(p, q.igmp.group) for p, q in queries] == [("ac2", ip_int(G1))]
    later = dev.tick(3.0)  # robustness 2: one more, last-member-query-interval later
    assert [(p, classify(f).igmp.group) for p, f in later] == [("ac2", ip_int(G1))]
    assert stats(dev).group_specific_queries_sent == 2


def test_group_specific_query_from_another_querier_shortens_timers() -> None:
    dev = with_router()
    dev.receive("ac2", report(G1, 2), 1.0)
    dev.receive("ac1", query(group=G1, max_resp=1.0), 2.0)
    dev.tick(2.0 + 2 * 1.0 + 0.01)
    assert table(dev) == {}


# -- data -------------------------------------------------------------------------------


def test_registered_group_goes_to_members_and_router_ports_never_ingress() -> None:
    dev = with_router()
    dev.receive("ac2", report(G1, 2), 1.0)
    assert ports(dev.receive("ac3", data(G1), 2.0)) == {"ac1", "ac2"}
    assert ports(dev.receive("ac2", data(G1), 2.0)) == {"ac1"}


def test_link_local_groups_are_flooded_and_never_learned() -> None:
    dev = with_router()
    out = dev.receive("ac2", report("224.0.0.251", 2), 1.0)
    assert table(dev) == {}
    assert ports(out) == {"ac1"}
    assert ports(dev.receive("ac1", data("224.0.0.251"), 2.0)) == {"ac2", "ac3"}


def test_unregistered_multicast_floods_with_action_flood() -> None:
    dev = with_router()
    assert ports(dev.receive("ac2", data(G2), 1.0)) == {"ac1", "ac3"}


def test_unregistered_multicast_goes_only_to_router_ports_with_action_drop() -> None:
    dev = device(vsi_config(unknown_multicast_action="drop"))
    dev.receive("ac1", query(), 0.0)
    assert ports(dev.receive("ac2", data(G2), 1.0)) == {"ac1"}
    assert dev.receive("ac1", data(G2), 1.0) == []
    assert stats(dev).data_dropped_unknown == 1


def test_broadcast_and_unknown_unicast_flood() -> None:
    dev = with_router()
    assert ports(dev.receive("ac2", broadcast_frame(host_mac(2)), 1.0)) == {"ac1", "ac3"}
    assert ports(dev.receive("ac2", unicast(host_mac(9), host_mac(2)), 1.0)) == {"ac1", "ac3"}


def test_known_unicast_follows_the_mac_table() -> None:
    dev = with_router()
    dev.receive("ac3", broadcast_frame(host_mac(3)), 1.0)
    assert ports(dev.receive("ac2", unicast(host_mac(3), host_mac(2)), 2.0)) == {"ac3"}


def test_forwarding_change_is_seen_by_the_next_data_frame() -> None:
    """The fast path's cached output ports are invalidated by a membership change."""
    dev = with_router(immediately_leave=True)
    dev.receive("ac2", report(G1, 2), 1.0)
    assert ports(dev.receive("ac1", data(G1), 2.0)) == {"ac2"}
    dev.receive("ac3", report(G1, 3), 3.0)
    assert ports(dev.receive("ac1", data(G1), 4.0)) == {"ac2", "ac3"}
    dev.receive("ac2", leave(G1, 2), 5.0)
    assert ports(dev.receive("ac1", data(G1), 6.0)) == {"ac3"}


# -- querier ----------------------------------------------------------------------------


def test_querier_enable_sends_general_queries_from_device_mac_and_address() -> None:
    dev, out = started(vsi_config(snooping(querier_enable=True, query_interval=60.0)))
    assert ports(out) == {"ac1", "ac2", "ac3"}
    packet = classify(out[0][1])
    assert packet.src == DEVICE_MAC and packet.ip.src == ip_int("10.0.0.9") and packet.ip.dst == ALL_SYSTEMS
    assert packet.igmp.is_general
    assert dev.vsis["iptv"].snooping.querier.current(0.0) == (ip_int("10.0.0.9"), True)


def test_querier_repeats_startup_queries_then_every_query_interval() -> None:
    dev, out = started(vsi_config(snooping(querier_enable=True, query_interval=60.0)))
    times = [0.0] if out else []
    now = dev.next_deadline() or 1e9
    while now < 200.0:
        if dev.tick(now):
            times.append(now)
        now = dev.next_deadline() or 1e9
    assert times[:3] == [0.0, 15.0, 75.0]  # robustness 2: one startup query at QI/4, then QI


def test_querier_sends_queries_in_the_configured_version() -> None:
    for version in (1, 2, 3):
        _, out = started(vsi_config(snooping(querier_enable=True, version=version, robustness=3,
                                             query_interval=90.0, max_response_time=40.0)))
        query_sent = classify(out[0][1]).igmp
        assert query_sent.version == version
        if version == 2:
            assert query_sent.max_resp_time == 25.5  # the most IGMPv2 can say
        if version == 3:
            assert (query_sent.qrv, query_sent.qqic_seconds, query_sent.max_resp_time) == (3, 90, 40.0)


def test_querier_election_lower_address_wins() -> None:
    dev = device(vsi_config(snooping(querier_enable=True)))
    dev.tick(0.0)
    dev.receive("ac1", query("10.0.0.1"), 1.0)  # lower than our 10.0.0.9
    assert dev.vsis["iptv"].snooping.querier.current(1.0) == (ip_int("10.0.0.1"), False)
    assert dev.tick(15.0) == []  # we stay quiet while the other querier is present


def test_querier_election_higher_address_loses() -> None:
    dev = device(vsi_config(snooping(querier_enable=True)))
    dev.tick(0.0)
    dev.receive("ac1", query("10.0.0.200"), 1.0)
    assert dev.vsis["iptv"].snooping.querier.current(1.0) == (ip_int("10.0.0.9"), True)
    assert dev.tick(15.0) != []


# -- bad input and limits -----------------------------------------------------------------


def _assert_refused(frame: bytes, reason: InvalidReason) -> None:
    dev = with_router()
    dev.receive("ac2", report(G1, 2), 1.0)
    before = table(dev)
    assert dev.receive("ac3", frame, 2.0) == []
    assert table(dev) == before
    assert stats(dev).invalid == {reason.value: 1}
    assert set(dev.vsis["iptv"].snooping.router_ports) == {"ac1"}


def test_truncated_frame_is_counted_and_changes_nothing() -> None:
    _assert_refused(report(G2, 3)[:30], InvalidReason.TRUNCATED)


def test_bad_ip_checksum_is_counted_and_changes_nothing() -> None:
    frame = bytearray(report(G2, 3))
    frame[24] ^= 0xFF
    _assert_refused(bytes(frame), InvalidReason.BAD_IP_CHECKSUM)


def test_bad_igmp_checksum_is_counted_and_changes_nothing() -> None:
    frame = bytearray(report(G2, 3))
    frame[38 + 2] ^= 0xFF
    _assert_refused(bytes(frame), InvalidReason.BAD_IGMP_CHECKSUM)


def test_wrong_igmp_length_is_counted_and_changes_nothing() -> None:
    body = bytes((0x11, 100, 0, 0)) + b"\0\0\0\0" + b"\0\0"  # a 10-byte query
    _assert_refused(igmp_raw(body, ALL_SYSTEMS, 3), InvalidReason.BAD_IGMP_LENGTH)


def test_bad_data_ip_checksum_is_counted_and_not_forwarded() -> None:
    frame = bytearray(data(G1))
    frame[24] ^= 0xFF
    _assert_refused(bytes(frame), InvalidReason.BAD_IP_CHECKSUM)


def test_unknown_igmp_type_is_counted_and_flooded() -> None:
    dev = with_router()
    frame = igmp_raw(bytes((0x13, 0, 0, 0, 0, 0, 0, 0)), ip_int("224.0.0.4"), 2)
    assert ports(dev.receive("ac2", frame, 1.0)) == {"ac1", "ac3"}
    assert stats(dev).invalid == {InvalidReason.UNKNOWN_IGMP_TYPE.value: 1}
    assert table(dev) == {}


def test_limit_max_entry_refuses_and_notifies_once_per_crossing() -> None:
    dev = with_router(limit_max_entry=2, immediately_leave=True)
    dev.receive("ac2", report(G1, 2), 1.0)
    dev.receive("ac2", report(G2, 2), 1.0)
    assert dev.receive("ac2", report(G3, 2), 1.0) == []  # refused, not forwarded
    dev.receive("ac2", report("239.1.1.4", 2), 1.0)
    assert set(table(dev)) == {(G1, "0.0.0.0"), (G2, "0.0.0.0")}
    assert stats(dev).reports_refused_by_limit == 2
    assert [e for e in dev.pop_events() if isinstance(e, GroupLimitExceeded)] == [
        GroupLimitExceeded("iptv", 2, 1.0, G3)]
    dev.receive("ac2", leave(G1, 2), 2.0)
    dev.receive("ac2", report(G3, 2), 3.0)  # room again
    dev.receive("ac2", report("239.1.1.4", 2), 4.0)  # crossing again
    assert [e.time for e in dev.pop_events() if isinstance(e, GroupLimitExceeded)] == [4.0]


def test_snooping_disabled_vsi_floods_igmp_and_learns_nothing() -> None:
    dev = device(vsi_config(IgmpSnoopingConfig(enable=False)))
    assert dev.vsis["iptv"].snooping is None
    assert ports(dev.receive("ac2", report(G1, 2), 1.0)) == {"ac1", "ac3"}
    assert ports(dev.receive("ac1", data(G1), 2.0)) == {"ac2", "ac3"}


# -- the report fast path is the codec's meaning, only faster -------------------------------


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["v1", "v2", "leave"]), group=st.integers(0xE0000000, 0xEFFFFFFF),
       host=st.integers(1, 250), flips=st.lists(st.tuples(st.integers(0, 59), st.integers(1, 255)), max_size=2))
def test_fast_report_path_accepts_only_what_classify_accepts_with_the_same_meaning(kind, group, host, flips) -> None:
    from dataplane.addr import ip_str
    from dataplane.igmp import IgmpLeave, IgmpReport
    from dataplane.vsi import _fast_membership_message
    g = ip_str(group)
    frame = bytearray({"v1": lambda: report(g, host, version=1), "v2": lambda: report(g, host),
                       "leave": lambda: leave(g, host)}[kind]())
    if not flips:
        assert _fast_membership_message(bytes(frame)) is not None
    for at, xor in flips:
        frame[at] ^= xor
    fast = _fast_membership_message(bytes(frame))
    if fast is None:
        return
    packet = classify(bytes(frame))  # must not raise
    message = packet.igmp
    assert isinstance(message, (IgmpReport, IgmpLeave))
    assert fast == (bytes(frame)[38 if frame[14] == 0x46 else 34], message.group, packet.ip.src)


@settings(max_examples=300, deadline=None)
@given(group=st.integers(0xE0000000, 0xEFFFFFFF),
       flips=st.lists(st.tuples(st.integers(0, 41), st.integers(1, 255)), min_size=1, max_size=2))
def test_data_fast_path_never_forwards_what_classify_refuses(group, flips) -> None:
    from dataplane.addr import ip_str
    from dataplane.invalid import InvalidFrame
    dev = with_router()
    frame = bytearray(data(ip_str(group)))
    for at, xor in flips:
        frame[at] ^= xor
    try:
        classify(bytes(frame))
    except InvalidFrame as error:
        assert dev.receive("ac2", bytes(frame), 1.0) == []
        assert stats(dev).invalid == {error.reason.value: 1}
        assert table(dev) == {}


# -- actions --------------------------------------------------------------------------------


def test_clear_groups_removes_learned_entries_and_keeps_static_ones() -> None:
    dev = device(vsi_config(snooping(static_groups=frozenset({StaticGroup(G2, "0.0.0.0", "ac3")}))),
                 vsi_config(name="other", acs=("ac7",)))
    dev.receive("ac2", report(G1, 2), 1.0)
    dev.receive("ac7", report(G1, 7), 1.0)
    dev.clear_groups("iptv", 2.0)
    assert table(dev) == {(G2, "0.0.0.0"): {"ac3"}}
    assert table(dev, "other") == {(G1, "0.0.0.0"): {"ac7"}}
    dev.clear_groups(None, 3.0)
    assert table(dev, "other") == {}


def test_reset_statistics_zeroes_counters_of_the_named_vsi_only() -> None:
    dev = device(vsi_config(), vsi_config(name="other", acs=("ac7",)))
    dev.receive("ac2", report(G1, 2), 1.0)
    dev.receive("ac7", report(G1, 7), 1.0)
    dev.receive("ac2", b"\x01\x00", 1.0)
    dev.reset_statistics("iptv")
    assert stats(dev).reports_v2_received == 0 and stats(dev).invalid == {}
    assert stats(dev, "other").reports_v2_received == 1
