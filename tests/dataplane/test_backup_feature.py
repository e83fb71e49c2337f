"""SPEC 2.3: rapid multicast data forwarding on a backup device, one test per table row,
plus "data never crosses a standby PW", same-step forwarding and pw-fast-control.

Two vantage points of the SPEC 2 topology:
* SPE2: ``uplink`` to the router, ``pw-upe`` (no role) which the UPE signals standby;
* UPE: ``ac1``/``ac2`` receivers, ``pw-spe1`` primary (active), ``pw-spe2`` backup (standby).
"""

from __future__ import annotations

from dataplane.addr import ip_int
from dataplane.events import PwSwitchover
from dataplane.packet import classify

from tests.dataplane._core_helpers import (
    DEVICE_MAC,
    G1,
    ROUTER_MAC,
    data,
    device,
    host_mac,
    leave,
    ports,
    pw,
    pw_status,
    query,
    report,
    snooping,
    table,
    vsi_config,
)

FEATURE = dict(backup_query_forward=True, backup_report_forward=True)
REPLACE = dict(backup_query_source_mac_replace=True, backup_report_source_mac_replace=True)


def spe2(action: str = "flood", **igmp):  # type: ignore[no-untyped-def]
    """SPE2 with its PW to the UPE signalled standby and the router behind the uplink."""
    dev = device(vsi_config(snooping(**igmp), acs=("uplink",), pws=(pw("10.0.0.3", "pw-upe"),),
                            unknown_multicast_action=action))
    dev.receive("pw-upe", pw_status(100, standby=True), 0.0)
    dev.receive("uplink", query(), 0.1)
    dev.pop_events()
    return dev


def upe(**igmp):  # type: ignore[no-untyped-def]
    dev = device(vsi_config(snooping(**igmp), acs=("ac1", "ac2"),
                            pws=(pw("10.0.0.1", "pw-spe1", "primary"), pw("10.0.0.2", "pw-spe2", "backup"))))
    dev.pop_events()
    return dev


def stats(dev):  # type: ignore[no-untyped-def]
    return dev.vsis["iptv"].stats


def membership(dev, group: str, port: str):  # type: ignore[no-untyped-def]
    return dev.vsis["iptv"].snooping.groups[ip_int(group)][0].ports[port]


def test_standby_pw_setup_is_standby() -> None:
    assert spe2().vsis["iptv"].pws.by_interface["pw-upe"].forwarding_state == "standby"
    assert upe().vsis["iptv"].pws.by_interface["pw-spe2"].forwarding_state == "standby"


# -- backup-query-forward -----------------------------------------------------------------


def test_backup_query_forward_sends_flooded_queries_out_of_standby_pws() -> None:
    dev = spe2(backup_query_forward=True)
    assert ports(dev.receive("uplink", query(), 1.0)) == {"pw-upe"}
    assert stats(dev).queries_sent_on_standby_pw == 2


def test_without_backup_query_forward_queries_do_not_reach_standby_pws() -> None:
    dev = spe2()
    assert dev.receive("uplink", query(), 1.0) == []


def test_backup_query_forward_sends_own_queries_out_of_standby_pws() -> None:
    dev = device(vsi_config(snooping(querier_enable=True, backup_query_forward=True), acs=("uplink",),
                            pws=(pw("10.0.0.3", "pw-upe"),)))
    dev.receive("pw-upe", pw_status(100, standby=True), 0.0)
    assert ports(dev.tick(15.0)) == {"uplink", "pw-upe"}


def test_query_on_standby_pw_is_accepted_as_via_backup_router_port_and_not_flooded() -> None:
    dev = upe(backup_query_forward=True)
    out = dev.receive("pw-spe2", query("10.1.1.2"), 1.0)
    assert out == []
    router = dev.vsis["iptv"].snooping.router_ports["pw-spe2"]
    assert router.via_backup and router.dynamic
    assert stats(dev).queries_received_on_standby_pw == 1


def test_without_backup_query_forward_a_query_on_standby_pw_is_dropped() -> None:
    dev = upe()
    assert dev.receive("pw-spe2", query("10.1.1.2"), 1.0) == []
    assert dev.vsis["iptv"].snooping.router_ports == {}
    assert stats(dev).protocol_dropped_on_standby_pw == 1


# -- backup-query-source-mac-replace ------------------------------------------------------


def test_backup_query_source_mac_replace_puts_device_mac_on_standby_copies_only() -> None:
    dev = device(vsi_config(snooping(backup_query_forward=True, backup_query_source_mac_replace=True),
                            acs=("uplink", "ac9"), pws=(pw("10.0.0.3", "pw-upe"),)))
    dev.receive("pw-upe", pw_status(100, standby=True), 0.0)
    out = dict(dev.receive("uplink", query(), 1.0))
    assert out["pw-upe"][6:12] == DEVICE_MAC
    assert out["ac9"][6:12] == ROUTER_MAC
    assert out["pw-upe"][12:] == out["ac9"][12:]
    assert stats(dev).source_macs_replaced == 1


# -- backup-report-forward ----------------------------------------------------------------


def _upe_with_routers(**igmp):  # type: ignore[no-untyped-def]
    dev = upe(**igmp)
    dev.receive("pw-spe1", query("10.1.1.1"), 0.5)
    dev.receive("pw-spe2", query("10.1.1.1"), 0.5)  # needs backup-query-forward to count
    return dev


def test_backup_report_forward_sends_reports_to_standby_router_ports_too() -> None:
    dev = _upe_with_routers(**FEATURE)
    assert ports(dev.receive("ac1", report(G1, 1), 1.0)) == {"pw-spe1", "pw-spe2"}
    assert ports(dev.receive("ac1", leave(G1, 1), 2.0)) == {"pw-spe1", "pw-spe2"}
    assert stats(dev).reports_sent_on_standby_pw == 2


def test_without_backup_report_forward_reports_skip_standby_router_ports() -> None:
    dev = _upe_with_routers(backup_query_forward=True)
    assert ports(dev.receive("ac1", report(G1, 1), 1.0)) == {"pw-spe1"}


def test_report_on_standby_pw_is_learned_but_not_forwarding() -> None:
    dev = spe2(**FEATURE)
    out = dev.receive("pw-upe", report(G1, 1), 1.0)
    assert ports(out) == {"uplink"}  # forwarded to this device's router ports as usual
    m = membership(dev, G1, "pw-upe")
    assert m.learned_on_backup
    assert dev.vsis["iptv"].port_forwarding("pw-upe") is False
    assert stats(dev).reports_received_on_standby_pw == 1


def test_leave_on_standby_pw_is_accepted_with_backup_report_forward() -> None:
    dev = spe2(immediately_leave=True, **FEATURE)
    dev.receive("pw-upe", report(G1, 1), 1.0)
    assert ports(dev.receive("pw-upe", leave(G1, 1), 2.0)) == {"uplink"}
    assert table(dev) == {}


def test_without_backup_report_forward_a_report_on_standby_pw_is_dropped() -> None:
    dev = spe2(backup_query_forward=True)
    assert dev.receive("pw-upe", report(G1, 1), 1.0) == []
    assert table(dev) == {}
    assert stats(dev).protocol_dropped_on_standby_pw == 1


# -- backup-report-source-mac-replace -----------------------------------------------------


def test_backup_report_source_mac_replace_rewrites_reports_from_standby_pw() -> None:
    dev = spe2(**FEATURE, **REPLACE)
    (port, frame), = dev.receive("pw-upe", report(G1, 1), 1.0)
    assert port == "uplink" and frame[6:12] == DEVICE_MAC
    assert classify(frame).igmp.group == ip_int(G1)


def test_reports_from_active_ports_keep_their_source_mac_with_replace_on() -> None:
    dev = spe2(**FEATURE, **REPLACE)
    dev.receive("pw-upe", pw_status(100, standby=False), 1.0)
    (port, frame), = dev.receive("pw-upe", report(G1, 1), 2.0)
    assert frame[6:12] == host_mac(1)


def test_device_mac_config_overrides_the_built_in_mac() -> None:
    from dataplane.config import DeviceConfig
    dev = spe2(**FEATURE, **REPLACE)
    config = DeviceConfig(True, "02:aa:bb:cc:dd:ee", (dev.vsis["iptv"].config,))
    dev.apply(config, 1.0)
    dev.receive("pw-upe", pw_status(100, standby=True), 1.0)
    dev.receive("uplink", query(), 1.1)
    (port, frame), = dev.receive("pw-upe", report(G1, 1), 2.0)
    assert frame[6:12] == bytes.fromhex("02aabbccddee")


# -- standby PWs and data -----------------------------------------------------------------


def test_without_the_feature_a_standby_pw_drops_every_frame() -> None:
    dev = spe2()
    for frame in (query("10.1.1.9"), report(G1, 1), leave(G1, 1), data(G1)):
        assert dev.receive("pw-upe", frame, 1.0) == []
    assert table(dev) == {}
    assert set(dev.vsis["iptv"].snooping.router_ports) == {"uplink"}


def test_data_never_leaves_through_a_standby_pw() -> None:
    dev = spe2(**FEATURE)
    dev.receive("pw-upe", report(G1, 1), 1.0)
    assert dev.receive("uplink", data(G1), 2.0) == []
    assert stats(dev).data_dropped_on_standby == 1


def test_data_never_enters_through_a_standby_pw() -> None:
    dev = upe(**FEATURE)
    dev.receive("ac1", report(G1, 1), 1.0)
    assert dev.receive("pw-spe2", data(G1), 2.0) == []
    assert stats(dev).data_dropped_on_standby == 1
    assert host_mac(1) in dev.vsis["iptv"].mac_table
    assert bytes.fromhex("020000000005") not in dev.vsis["iptv"].mac_table  # no learning on standby


def test_entries_learned_on_standby_pw_forward_in_the_same_step_it_turns_active() -> None:
    dev = spe2(**FEATURE)
    dev.receive("pw-upe", report(G1, 1), 1.0)
    dev.pop_events()
    dev.receive("pw-upe", pw_status(100, standby=False), 5.0)  # the UPE switched over
    assert dev.vsis["iptv"].port_forwarding("pw-upe")
    assert ports(dev.receive("uplink", data(G1), 5.0)) == {"pw-upe"}
    changed, = dev.pop_events()
    assert (changed.forwarding_state, changed.forwarding_entries) == ("active", 1)


def test_without_the_feature_the_new_active_pw_has_no_entries() -> None:
    dev = spe2(action="drop")
    dev.receive("pw-upe", report(G1, 1), 1.0)
    dev.receive("pw-upe", pw_status(100, standby=False), 5.0)
    assert dev.receive("uplink", data(G1), 5.0) == []


def test_switchover_event_counts_preinstalled_groups() -> None:
    dev = upe(**FEATURE)
    dev.receive("pw-spe2", report(G1, 7), 1.0)  # e.g. a receiver behind SPE2's side
    dev.link_state("pw-spe1", False, 2.0)
    switchovers = [e for e in dev.pop_events() if isinstance(e, PwSwitchover)]
    assert switchovers == [PwSwitchover("iptv", ("10.0.0.1", 100), ("10.0.0.2", 100), 1, 2.0)]
    assert ports(dev.receive("ac1", data(G1, src_mac=host_mac(5)), 2.0)) == {"pw-spe2"}


# -- pw-fast-control ------------------------------------------------------------------------


def _spe_active(**igmp):  # type: ignore[no-untyped-def]
    dev = device(vsi_config(snooping(**igmp), acs=("uplink",), pws=(pw("10.0.0.3", "pw-upe"),)))
    dev.receive("uplink", query(), 0.0)
    dev.receive("pw-upe", report(G1, 1), 1.0)
    return dev


def test_pw_down_flushes_its_entries_at_once_without_fast_control() -> None:
    dev = _spe_active()
    dev.link_state("pw-upe", False, 2.0)
    assert table(dev) == {}


def test_pw_fast_control_keeps_entries_for_the_holdtime() -> None:
    dev = _spe_active(pw_fast_control=True, pw_fast_control_holdtime=10.0)
    dev.link_state("pw-upe", False, 2.0)
    dev.tick(11.9)
    assert table(dev) == {(G1, "0.0.0.0"): {"pw-upe"}}
    dev.tick(12.1)
    assert table(dev) == {}


def test_pw_fast_control_entries_forward_at_once_when_the_pw_returns() -> None:
    dev = _spe_active(pw_fast_control=True, pw_fast_control_holdtime=10.0)
    dev.link_state("pw-upe", False, 2.0)
    assert dev.receive("uplink", data(G1), 3.0) == []
    dev.link_state("pw-upe", True, 4.0)
    assert ports(dev.receive("uplink", data(G1), 4.0)) == {"pw-upe"}
    dev.tick(20.0)
    assert table(dev) == {(G1, "0.0.0.0"): {"pw-upe"}}
