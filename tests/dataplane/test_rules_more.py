"""SPEC 2.2 / 2.3 rules whose other tests assert too little: one test per rule.

Querier election (RFC 2236 3 and 7, RFC 3376 6.6.2), split horizon for every protocol frame
type, unknown IGMP types (RFC 4541 2.1.1), "data never crosses a standby PW" for every kind
of data, static state that never ages, the limit-max-entry notification per crossing, and
"bad input never changes state" for every reason the core counts.
"""

from __future__ import annotations

import pytest

from dataplane.addr import ALL_ROUTERS, ip_int
from dataplane.config import StaticGroup
from dataplane.device import Device
from dataplane.events import GroupLimitExceeded
from dataplane.igmp import IgmpQuery, RecordType, build_query
from dataplane.invalid import InvalidReason
from dataplane.ipv4 import internet_checksum
from dataplane.packet import Kind, build_igmp_frame, classify

from tests.dataplane._core_helpers import (
    DEVICE_MAC,
    G1,
    G2,
    G3,
    broadcast_frame,
    data,
    device,
    host_mac,
    igmp_raw,
    leave,
    ports,
    pw,
    pw_status,
    query,
    report,
    snooping,
    table,
    unicast,
    v3_report,
    vsi_config,
)

US = ip_int("10.0.0.9")
"""The device's own address (the helpers' default), the querier candidate."""
QI, QRI = 60.0, 10.0
OQPI = 2 * QI + QRI / 2
"""Other-querier-present interval with the defaults: robustness x QI + QRI / 2 = 125 s."""
GMI = 2 * QI + QRI
S1, S2 = "10.9.9.1", "10.9.9.2"
FEATURE = dict(backup_query_forward=True, backup_report_forward=True)
UNKNOWN_TYPE = 0x13
"""An IGMP type no RFC we implement defines (0x13 was DVMRP's neighbour probe family)."""


def stats(dev: Device, vsi: str = "iptv"):  # type: ignore[no-untyped-def]
    return dev.vsis[vsi].stats


def snoop(dev: Device, vsi: str = "iptv"):  # type: ignore[no-untyped-def]
    snooping_state = dev.vsis[vsi].snooping
    assert snooping_state is not None
    return snooping_state


def run_until(dev: Device, end: float) -> list[tuple[float, list[tuple[str, bytes]]]]:
    """Fire every deadline up to ``end`` in order; the (time, frames) of those that sent."""
    sent = []
    deadline = dev.next_deadline()
    while deadline is not None and deadline <= end:
        frames = dev.tick(deadline)
        if frames:
            sent.append((deadline, frames))
        deadline = dev.next_deadline()
    dev.tick(end)
    return sent


def general_queries(frames: list[tuple[str, bytes]]) -> list[tuple[str, int]]:
    """(port, IP source) of the General Queries among ``frames``."""
    out = []
    for port, frame in frames:
        packet = classify(frame)
        if isinstance(packet.igmp, IgmpQuery) and packet.igmp.is_general:
            out.append((port, packet.ip.src))
    return out


def unknown_igmp(group: str = "0.0.0.0", dst: str = "224.0.0.4", host: int = 1) -> bytes:
    return igmp_raw(bytes((UNKNOWN_TYPE, 0, 0, 0)) + ip_int(group).to_bytes(4, "big"), ip_int(dst), host)


# -- querier election (RFC 2236 3 / RFC 3376 6.6.2) -------------------------------------------


def querier_device() -> Device:
    """querier-enable with the default timers; the first general query went out at 0."""
    return device(vsi_config(snooping(querier_enable=True, query_interval=QI, max_response_time=QRI)))


def test_querier_stays_silent_while_a_lower_address_querier_keeps_querying() -> None:
    dev = querier_device()
    dev.receive("ac1", query("10.0.0.1"), 1.0)
    assert run_until(dev, 60.0) == []
    dev.receive("ac1", query("10.0.0.1"), 61.0)  # the other querier refreshes its presence
    assert run_until(dev, 61.0 + OQPI - 0.01) == []
    assert snoop(dev).querier.current(61.0 + OQPI - 0.01) == (ip_int("10.0.0.1"), False)


def test_querier_resumes_after_the_other_querier_present_interval() -> None:
    dev = querier_device()
    dev.receive("ac1", query("10.0.0.1"), 1.0)
    assert run_until(dev, 1.0 + OQPI - 0.01) == []
    assert snoop(dev).querier.current(1.0 + OQPI + 0.01) == (US, True)
    sent = run_until(dev, 1.0 + OQPI + QI)  # at the latest by our next query interval
    assert sent, "the querier never resumed"
    _, frames = sent[0]
    assert general_queries(frames) == [("ac1", US), ("ac2", US), ("ac3", US)]


def test_querier_sends_a_general_query_as_soon_as_the_other_querier_present_timer_expires() -> None:
    """RFC 2236 section 7: 'timer expired -> send general query'; the Linux bridge's
    br_multicast_querier_expired likewise restarts its own query timer at once."""
    dev = querier_device()
    dev.receive("ac1", query("10.0.0.1"), 1.0)
    run_until(dev, 1.0 + OQPI - 0.01)
    assert general_queries(dev.tick(1.0 + OQPI + 0.01))


def test_query_from_a_higher_address_never_silences_the_querier() -> None:
    dev = querier_device()
    for at in (1.0, 70.0, 130.0):
        dev.receive("ac1", query("10.0.0.200"), at)
    sent = run_until(dev, 200.0)
    assert [at for at, _ in sent] == [15.0, 75.0, 135.0, 195.0]
    assert snoop(dev).querier.current(200.0) == (US, True)


def test_query_from_0_0_0_0_never_silences_the_querier() -> None:
    dev = querier_device()
    dev.receive("ac1", query("0.0.0.0"), 1.0)
    assert snoop(dev).querier.current(1.0) == (US, True)
    assert [at for at, _ in run_until(dev, 80.0)] == [15.0, 75.0]


def test_a_higher_querier_never_replaces_the_elected_lower_one() -> None:
    dev = querier_device()
    dev.receive("ac1", query("10.0.0.1"), 1.0)
    dev.receive("ac2", query("10.0.0.5"), 2.0)  # lower than us, higher than the elected one
    assert snoop(dev).querier.current(2.0) == (ip_int("10.0.0.1"), False)


def test_elected_querier_address_is_the_lowest_heard_and_lapses_without_queries() -> None:
    dev = device(vsi_config())  # not a querier candidate: only reports who is
    assert snoop(dev).querier.current(0.0) == (None, False)
    dev.receive("ac1", query("10.1.1.5"), 1.0)
    assert snoop(dev).querier.current(1.0) == (ip_int("10.1.1.5"), False)
    dev.receive("ac2", query("10.1.1.3"), 2.0)
    assert snoop(dev).querier.current(2.0) == (ip_int("10.1.1.3"), False)
    dev.receive("ac1", query("10.1.1.7"), 3.0)
    assert snoop(dev).querier.current(3.0) == (ip_int("10.1.1.3"), False)
    assert snoop(dev).querier.current(2.0 + OQPI + 0.01) == (None, False)


def test_a_silenced_querier_sends_no_group_specific_queries_after_a_leave() -> None:
    dev = querier_device()
    dev.receive("ac1", query("10.0.0.1"), 1.0)
    dev.receive("ac2", report(G1, 2), 2.0)
    out = dev.receive("ac2", leave(G1, 2), 3.0)
    assert ports(out) == {"ac1"}  # the leave itself, to the router port, and nothing else
    assert [classify(f).igmp.__class__.__name__ for _, f in out] == ["IgmpLeave"]
    assert run_until(dev, 10.0) == []
    assert stats(dev).group_specific_queries_sent == 0


# -- split horizon for every protocol frame type (SPEC 2.2) ------------------------------------


def two_pws() -> Device:
    """ac1 and pw2 are router ports; pw1 has a host that is a member of G1."""
    dev = device(vsi_config(pws=(pw("10.0.0.1", "pw1"), pw("10.0.0.2", "pw2"))))
    dev.receive("ac1", query(), 0.0)
    dev.receive("pw2", query("10.1.1.2"), 0.5)
    dev.receive("pw1", report(G1, 7), 1.0)
    assert set(snoop(dev).router_ports) == {"ac1", "pw2"}
    return dev


def test_split_horizon_keeps_a_leave_from_crossing_pw_to_pw() -> None:
    dev = two_pws()
    assert ports(dev.receive("pw1", leave(G1, 7), 2.0)) == {"ac1"}
    assert stats(dev).leaves_forwarded == 1


def test_split_horizon_keeps_a_v3_report_from_crossing_pw_to_pw() -> None:
    dev = two_pws()
    frame = v3_report([(RecordType.MODE_IS_EXCLUDE, G2, ())], 7)
    assert ports(dev.receive("pw1", frame, 2.0)) == {"ac1"}
    assert table(dev)[(G2, "0.0.0.0")] == {"pw1"}


def test_split_horizon_keeps_an_unknown_igmp_type_from_crossing_pw_to_pw() -> None:
    dev = two_pws()
    assert ports(dev.receive("pw1", unknown_igmp(host=7), 2.0)) == {"ac1", "ac2", "ac3"}


# -- unknown IGMP types (RFC 4541 2.1.1) --------------------------------------------------------


def with_member() -> Device:
    """ac1 is the router port; ac2 is a member of G1."""
    dev = device(vsi_config(unknown_multicast_action="drop"))
    dev.receive("ac1", query(), 0.0)
    dev.receive("ac2", report(G1, 2), 1.0)
    return dev


def memberships(dev: Device) -> dict[tuple[int, int, str], tuple[float | None, bool, frozenset[int]]]:
    return {(m.entry.group, m.entry.source, m.port): (m.expires, m.static, m.excluded)
            for m in snoop(dev).memberships()}


def router_ports(dev: Device) -> dict[str, tuple[bool, bool, float | None, bool]]:
    return {name: (r.static, r.dynamic, r.expires, r.via_backup) for name, r in snoop(dev).router_ports.items()}


def test_unknown_igmp_type_is_flooded_to_all_ports_but_the_ingress_even_for_a_registered_group() -> None:
    dev = with_member()
    frame = unknown_igmp(group=G1, dst=G1, host=3)
    assert ports(dev.receive("ac3", frame, 2.0)) == {"ac1", "ac2"}  # not members + routers only
    assert ports(dev.receive("ac1", frame, 2.0)) == {"ac2", "ac3"}


def test_unknown_igmp_type_is_flooded_even_when_unknown_multicast_is_dropped() -> None:
    dev = with_member()
    assert ports(dev.receive("ac1", unknown_igmp(dst=G3, host=1), 2.0)) == {"ac2", "ac3"}
    assert stats(dev).data_dropped_unknown == 0


def test_unknown_igmp_type_never_changes_the_group_table_or_router_ports() -> None:
    dev = with_member()
    before = (memberships(dev), router_ports(dev))
    dev.receive("ac2", unknown_igmp(group=G1, dst=G1, host=2), 50.0)
    dev.receive("ac3", unknown_igmp(group=G2, dst=G2, host=3), 50.0)
    dev.receive("ac3", unknown_igmp(group="0.0.0.0", dst="224.0.0.1", host=3), 50.0)
    assert (memberships(dev), router_ports(dev)) == before
    assert stats(dev).invalid == {InvalidReason.UNKNOWN_IGMP_TYPE.value: 3}


def test_unknown_igmp_type_never_crosses_a_standby_pw() -> None:
    dev = device(vsi_config(snooping(**FEATURE), acs=("uplink", "ac9"), pws=(pw("10.0.0.3", "pw-upe"),)))
    dev.receive("pw-upe", pw_status(100, standby=True), 0.0)
    assert ports(dev.receive("uplink", unknown_igmp(), 1.0)) == {"ac9"}
    assert dev.receive("pw-upe", unknown_igmp(), 1.0) == []


# -- data never crosses a standby PW (SPEC 2.3) ------------------------------------------------


def spe2(action: str = "flood") -> Device:
    """SPE2: ``uplink`` to the router, ``ac9`` a local port, ``pw-upe`` signalled standby,
    the feature on (so protocol frames do cross the standby PW)."""
    dev = device(vsi_config(snooping(**FEATURE), acs=("uplink", "ac9"), pws=(pw("10.0.0.3", "pw-upe"),),
                            unknown_multicast_action=action))
    dev.receive("pw-upe", pw_status(100, standby=True), 0.0)
    dev.receive("uplink", query(), 0.1)
    return dev


def test_unregistered_multicast_flood_never_leaves_through_a_standby_pw() -> None:
    dev = spe2()
    assert ports(dev.receive("uplink", data(G2), 1.0)) == {"ac9"}


def test_unregistered_multicast_never_enters_through_a_standby_pw() -> None:
    dev = spe2()
    assert dev.receive("pw-upe", data(G2, src_mac=host_mac(40)), 1.0) == []
    assert stats(dev).data_dropped_on_standby == 1
    assert host_mac(40) not in dev.vsis["iptv"].mac_table


def test_link_local_multicast_never_crosses_a_standby_pw() -> None:
    dev = spe2()
    assert ports(dev.receive("uplink", data("224.0.0.251"), 1.0)) == {"ac9"}
    assert dev.receive("pw-upe", data("224.0.0.251", src_mac=host_mac(40)), 1.0) == []


def test_broadcast_never_leaves_through_a_standby_pw() -> None:
    dev = spe2()
    assert ports(dev.receive("uplink", broadcast_frame(host_mac(41)), 1.0)) == {"ac9"}


def test_broadcast_never_enters_through_a_standby_pw() -> None:
    dev = spe2()
    assert dev.receive("pw-upe", broadcast_frame(host_mac(40)), 1.0) == []
    assert stats(dev).data_dropped_on_standby == 1
    assert host_mac(40) not in dev.vsis["iptv"].mac_table


def test_unknown_unicast_never_leaves_through_a_standby_pw() -> None:
    dev = spe2()
    assert ports(dev.receive("uplink", unicast(host_mac(50), host_mac(41)), 1.0)) == {"ac9"}


def test_unknown_unicast_never_enters_through_a_standby_pw() -> None:
    dev = spe2()
    assert dev.receive("pw-upe", unicast(host_mac(50), host_mac(40)), 1.0) == []
    assert stats(dev).data_dropped_on_standby == 1
    assert host_mac(40) not in dev.vsis["iptv"].mac_table


def test_known_unicast_to_a_mac_behind_a_pw_that_turned_standby_is_not_sent_there() -> None:
    dev = device(vsi_config(snooping(**FEATURE), acs=("uplink", "ac9"), pws=(pw("10.0.0.3", "pw-upe"),)))
    dev.receive("pw-upe", broadcast_frame(host_mac(40)), 1.0)  # learned while active
    assert ports(dev.receive("uplink", unicast(host_mac(40), host_mac(41)), 2.0)) == {"pw-upe"}
    dev.receive("pw-upe", pw_status(100, standby=True), 3.0)
    assert ports(dev.receive("uplink", unicast(host_mac(40), host_mac(41)), 4.0)) == {"ac9"}


def upe_with_backup_router_port() -> Device:
    """UPE whose standby ``pw-spe2`` is a via-backup router port and ``ac2`` a member of G1."""
    dev = device(vsi_config(snooping(**FEATURE), acs=("ac1", "ac2"),
                            pws=(pw("10.0.0.1", "pw-spe1", "primary"), pw("10.0.0.2", "pw-spe2", "backup"))))
    dev.receive("pw-spe1", query("10.1.1.1"), 0.5)
    dev.receive("pw-spe2", query("10.1.1.1"), 0.5)
    dev.receive("ac2", report(G1, 2), 1.0)
    assert snoop(dev).router_ports["pw-spe2"].via_backup
    return dev


def test_registered_data_never_leaves_through_a_standby_router_port() -> None:
    dev = upe_with_backup_router_port()
    assert ports(dev.receive("ac1", data(G1, src_mac=host_mac(1)), 2.0)) == {"pw-spe1", "ac2"}


def test_unregistered_data_never_leaves_through_a_standby_router_port() -> None:
    dev = upe_with_backup_router_port()
    assert ports(dev.receive("ac1", data(G2, src_mac=host_mac(1)), 2.0)) == {"pw-spe1", "ac2"}


# -- static state never ages (SPEC 2.2) -------------------------------------------------------


def test_static_router_port_also_learned_dynamically_survives_ageing_and_clear_groups() -> None:
    dev = device(vsi_config(snooping(static_router_ports=frozenset({"ac3"}), router_aging_time=30.0)))
    dev.receive("ac3", query(), 1.0)
    run_until(dev, 1_000_000.0)
    dev.clear_groups("iptv", 1_000_000.0)
    assert router_ports(dev) == {"ac3": (True, False, None, False)}
    assert ports(dev.receive("ac2", report(G1, 2), 1_000_001.0)) == {"ac3"}


def test_static_group_refreshed_by_reports_still_never_ages() -> None:
    dev = device(vsi_config(snooping(static_groups=frozenset({StaticGroup(G1, "0.0.0.0", "ac3")}))))
    dev.receive("ac3", report(G1, 3), 1.0)
    dev.receive("ac3", v3_report([(RecordType.MODE_IS_EXCLUDE, G1, ())], 3), 2.0)
    run_until(dev, 1_000_000.0)
    assert memberships(dev) == {(ip_int(G1), 0, "ac3"): (None, True, frozenset())}


def test_static_source_specific_group_never_ages_and_survives_clear_groups() -> None:
    dev = device(vsi_config(snooping(static_groups=frozenset({StaticGroup(G1, S1, "ac3")}))))
    dev.receive("ac2", report(G2, 2), 1.0)
    run_until(dev, 1_000_000.0)
    dev.clear_groups(None, 1_000_000.0)
    assert table(dev) == {(G1, S1): {"ac3"}}
    assert ports(dev.receive("ac1", data(G1, S1), 1_000_001.0)) == {"ac3"}
    assert dev.receive("ac1", data(G1, S2), 1_000_001.0) == []


# -- limit-max-entry (SPEC 2.2) --------------------------------------------------------------


def limit_events(dev: Device) -> list[float]:
    return [e.time for e in dev.pop_events() if isinstance(e, GroupLimitExceeded)]


def limited(limit: int) -> Device:
    dev = device(vsi_config(snooping(limit_max_entry=limit)))
    dev.receive("ac1", query(), 0.0)
    return dev


def test_limit_notification_is_raised_again_after_ageing_drops_below_the_limit() -> None:
    dev = limited(1)
    dev.receive("ac2", report(G1, 2), 1.0)
    assert dev.receive("ac2", report(G2, 2), 2.0) == []
    assert dev.receive("ac3", report(G3, 3), 3.0) == []
    assert limit_events(dev) == [2.0]
    run_until(dev, 1.0 + GMI + 1.0)  # G1 ages out: below the limit again
    assert table(dev) == {}
    assert ports(dev.receive("ac2", report(G2, 2), 200.0)) == {"ac1"}
    assert dev.receive("ac2", report(G3, 2), 201.0) == []
    assert limit_events(dev) == [201.0]
    assert stats(dev).reports_refused_by_limit == 3


def test_limit_notification_is_raised_again_after_clear_groups() -> None:
    dev = limited(1)
    dev.receive("ac2", report(G1, 2), 1.0)
    dev.receive("ac2", report(G2, 2), 2.0)
    dev.clear_groups("iptv", 3.0)
    dev.receive("ac2", report(G1, 2), 4.0)
    dev.receive("ac2", report(G2, 2), 5.0)
    assert limit_events(dev) == [2.0, 5.0]


def test_limit_refuses_and_counts_a_v3_report_for_a_new_group() -> None:
    dev = limited(1)
    dev.receive("ac2", report(G1, 2), 1.0)
    assert dev.receive("ac2", v3_report([(RecordType.CHANGE_TO_EXCLUDE, G2, ())], 2), 2.0) == []
    assert set(table(dev)) == {(G1, "0.0.0.0")}
    assert stats(dev).reports_refused_by_limit == 1
    assert limit_events(dev) == [2.0]


def test_limit_never_refuses_a_report_for_a_group_already_in_the_table() -> None:
    dev = limited(1)
    dev.receive("ac2", report(G1, 2), 1.0)
    assert ports(dev.receive("ac3", report(G1, 3), 2.0)) == {"ac1"}  # a new port, not a new entry
    assert ports(dev.receive("ac2", report(G1, 2), 3.0)) == {"ac1"}
    assert table(dev) == {(G1, "0.0.0.0"): {"ac2", "ac3"}}
    assert stats(dev).reports_refused_by_limit == 0
    assert limit_events(dev) == []


# -- bad input never changes state (SPEC 2.2) --------------------------------------------------


def _fix_ip_checksum(frame: bytearray) -> bytes:
    """Recompute the header checksum of the (IHL 6, Router Alert) IPv4 header at 14..38."""
    frame[24:26] = b"\0\0"
    frame[24:26] = internet_checksum(bytes(frame[14:38])).to_bytes(2, "big")
    return bytes(frame)


def _patched(frame: bytes, at: int, value: bytes, fix_checksum: bool = False) -> bytes:
    out = bytearray(frame)
    out[at:at + len(value)] = value
    return _fix_ip_checksum(out) if fix_checksum else bytes(out)


def _fragment(frame: bytes) -> bytes:
    out = bytearray(frame)
    out[20] |= 0x20  # More Fragments
    return _fix_ip_checksum(out)


NEW_REPORT = report(G2, 9)
"""Each defective frame is one that would change state if it were accepted: a new host
reporting a new group (MAC table and group table), a query from a lower address (router
port, querier), a PW-status message saying standby (PW state)."""

BAD_FRAMES: dict[str, tuple[InvalidReason, bytes]] = {
    "truncated-ip-header": (InvalidReason.TRUNCATED, NEW_REPORT[:30]),
    "truncated-ethernet": (InvalidReason.TRUNCATED, NEW_REPORT[:13]),
    "ethertype-1501": (InvalidReason.BAD_ETHERTYPE, _patched(NEW_REPORT, 12, b"\x05\xdd")),
    "ip-version-6": (InvalidReason.BAD_IP_VERSION, _patched(NEW_REPORT, 14, b"\x66")),
    "ihl-4": (InvalidReason.BAD_IP_HEADER_LENGTH, _patched(NEW_REPORT, 14, b"\x44")),
    "total-length-past-frame": (InvalidReason.BAD_IP_LENGTH, _patched(NEW_REPORT, 16, b"\x04\x00", True)),
    "ip-checksum": (InvalidReason.BAD_IP_CHECKSUM, _patched(NEW_REPORT, 24, bytes((NEW_REPORT[24] ^ 0xFF,)))),
    "router-alert-length-3": (InvalidReason.BAD_IP_OPTIONS, _patched(NEW_REPORT, 35, b"\x03", True)),
    "igmp-fragment": (InvalidReason.IGMP_FRAGMENT, _fragment(NEW_REPORT)),
    "igmp-checksum": (InvalidReason.BAD_IGMP_CHECKSUM, _patched(NEW_REPORT, 40, bytes((NEW_REPORT[40] ^ 0xFF,)))),
    "ten-byte-query": (InvalidReason.BAD_IGMP_LENGTH,
                       igmp_raw(bytes((0x11, 100, 0, 0, 0, 0, 0, 0, 0, 0)), ip_int("224.0.0.1"), 9)),
    "report-for-unicast-group": (InvalidReason.BAD_IGMP_GROUP,
                                 igmp_raw(bytes((0x16, 0, 0, 0)) + ip_int("10.1.2.3").to_bytes(4, "big"),
                                          ip_int(G2), 9)),
    "general-query-to-all-routers": (InvalidReason.BAD_IGMP_DESTINATION,
                                     build_igmp_frame(host_mac(9), ip_int("10.0.0.1"), ALL_ROUTERS,
                                                      build_query(2, 10.0, 0))),
    "pw-control-version-2": (InvalidReason.BAD_PW_CONTROL, _patched(pw_status(100, standby=True), 14, b"\x02")),
    "pw-control-length-21": (InvalidReason.BAD_PW_CONTROL, _patched(pw_status(100, standby=True), 16, b"\x00\x15")),
}


def test_bad_frames_cover_every_reason_the_codec_raises() -> None:
    raised = {reason for reason, _ in BAD_FRAMES.values()}
    assert raised == set(InvalidReason) - {InvalidReason.UNKNOWN_IGMP_TYPE}  # that one is flooded


def busy_device() -> Device:
    """Every kind of state present: router ports, memberships on an AC and a PW, MAC
    entries, a PW the peer signalled and keepalives heard on (detection armed)."""
    dev = device(vsi_config(pws=(pw("10.0.0.1", "pw1"), pw("10.0.0.2", "pw2"))))
    dev.receive("pw1", pw_status(100, standby=False, keepalive=True), 0.0)
    dev.receive("ac1", query(), 0.0)
    dev.receive("ac2", report(G1, 2), 1.0)
    dev.receive("pw1", report(G1, 7), 1.0)
    dev.pop_events()
    return dev


def state(dev: Device, now: float) -> dict[str, object]:
    vsi = dev.vsis["iptv"]
    querier = snoop(dev).querier
    counters = vsi.stats.as_dict()
    counters.pop("invalid")
    return {
        "groups": memberships(dev),
        "router_ports": router_ports(dev),
        "querier": (querier.current(now), querier.other_address, querier.other_expires),
        "macs": {mac: (e.port.name, e.seen) for mac, e in vsi.mac_table.items()},
        "pws": {key: (p.snapshot(), p.heard, p.last_heard, p.silent, p.selected) for key, p in vsi.pws.pws.items()},
        "next_deadline": dev.next_deadline(),
        "counters": counters,
        "events": dev.pop_events(),
    }


@pytest.mark.parametrize("ingress", ["ac3", "pw1"])
@pytest.mark.parametrize("defect", sorted(BAD_FRAMES))
def test_bad_input_is_counted_under_its_reason_and_changes_nothing(defect: str, ingress: str) -> None:
    reason, frame = BAD_FRAMES[defect]
    dev = busy_device()
    before = state(dev, 5.0)
    assert dev.receive(ingress, frame, 5.0) == []
    assert state(dev, 5.0) == before
    assert stats(dev).invalid == {reason.value: 1}


def test_pw_control_for_another_vc_id_is_counted_and_changes_nothing() -> None:
    dev = busy_device()
    before = state(dev, 5.0)
    assert dev.receive("pw1", pw_status(999, standby=True), 5.0) == []
    assert state(dev, 5.0) == before
    assert stats(dev).invalid == {InvalidReason.BAD_PW_CONTROL.value: 1}


def test_every_bad_frame_is_refused_by_the_codec_for_its_reason() -> None:
    """The table above really holds what its names say (a test of the test data)."""
    from dataplane.invalid import InvalidFrame
    for defect, (reason, frame) in BAD_FRAMES.items():
        with pytest.raises(InvalidFrame) as caught:
            classify(frame)
        assert caught.value.reason == reason, defect


def test_good_versions_of_the_bad_frames_do_change_state() -> None:
    """Without the defects the same frames change state, so the tests above can fail."""
    dev = busy_device()
    dev.receive("ac3", NEW_REPORT, 5.0)
    assert (G2, "0.0.0.0") in table(dev) and host_mac(9) in dev.vsis["iptv"].mac_table
    dev.receive("ac3", build_igmp_frame(host_mac(9), ip_int("10.0.0.1"), ip_int("224.0.0.1"),
                                        build_query(2, 10.0, 0)), 5.0)
    assert "ac3" in snoop(dev).router_ports
    dev.receive("pw1", pw_status(100, standby=True), 5.0)
    assert dev.vsis["iptv"].pws.by_interface["pw1"].forwarding_state == "standby"
    assert classify(pw_status(100, standby=True)).kind == Kind.PW_CONTROL
    assert DEVICE_MAC != host_mac(9)
