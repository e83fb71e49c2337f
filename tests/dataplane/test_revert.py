"""SPEC 2.1: the revert is as rapid as the switchover. When a PW of its redundancy pair comes
back up, the owner (UPE) prepares the peer behind it before wait-to-restore ends: the PW
becomes a router port like its sibling, and one General Query from 0.0.0.0 out of the ACs
makes the hosts report, so their reports cross the recovered standby PW
(``backup-report-forward``). One test per rule; the whole revert is measured in
test_revert_scenario.py.

Vantage point: the UPE of SPEC 2, ``ac1``/``ac2`` receivers, ``pw-spe1`` primary,
``pw-spe2`` backup, a router behind both SPEs.
"""

from __future__ import annotations

from dataplane.addr import ALL_SYSTEMS, ip_int
from dataplane.igmp import IgmpQuery
from dataplane.packet import Kind, classify

from tests.dataplane._core_helpers import (
    DEVICE_MAC,
    G1,
    device,
    ports,
    pw,
    pw_status,
    query,
    report,
    snooping,
    vsi_config,
)

FEATURE = dict(backup_query_forward=True, backup_report_forward=True)


def upe(wtr_time: float = 30.0, **igmp):  # type: ignore[no-untyped-def]
    """The UPE with the router seen behind both PWs (the backup's through backup-query-forward
    when the feature is on)."""
    dev = device(vsi_config(snooping(**igmp), acs=("ac1", "ac2"),
                            pws=(pw("10.0.0.1", "pw-spe1", "primary", wtr_time=wtr_time),
                                 pw("10.0.0.2", "pw-spe2", "backup"))))
    dev.receive("pw-spe1", query("10.1.1.1"), 0.5)
    dev.receive("pw-spe2", query("10.1.1.1"), 0.5)
    dev.pop_events()
    return dev


def after_primary_outage(**igmp):  # type: ignore[no-untyped-def]
    """The UPE whose primary PW lost carrier at 2 s (backup active since); returns the device
    and what it sent when the primary's carrier came back at 4 s."""
    dev = upe(**igmp)
    dev.link_state("pw-spe1", False, 2.0)
    return dev, dev.link_state("pw-spe1", True, 4.0)


def queries(frames: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    return [(port, frame) for port, frame in frames if classify(frame).kind is Kind.IGMP
            and isinstance(classify(frame).igmp, IgmpQuery)]


def stats(dev):  # type: ignore[no-untyped-def]
    return dev.vsis["iptv"].stats


def router_ports(dev):  # type: ignore[no-untyped-def]
    return dev.vsis["iptv"].snooping.router_ports


# -- the solicitation ---------------------------------------------------------------------


def test_owner_solicits_reports_from_its_acs_when_a_pair_pw_comes_back_up() -> None:
    dev, out = after_primary_outage(**FEATURE)
    assert ports(queries(out)) == {"ac1", "ac2"}
    assert stats(dev).queries_solicited == 1  # one query, whatever the number of ACs


def test_owner_solicits_reports_when_keepalives_are_heard_again_on_a_silent_pair_pw() -> None:
    dev = upe(**FEATURE)
    dev.receive("pw-spe1", pw_status(100, False, keepalive=True), 1.0)
    dev.tick(2.0)  # silence for interval x multiplier: the primary is down
    assert dev.vsis["iptv"].pws.by_interface["pw-spe1"].oper_status == "down"
    out = dev.receive("pw-spe1", pw_status(100, False, keepalive=True), 3.0)
    assert ports(queries(out)) == {"ac1", "ac2"}
    assert stats(dev).queries_solicited == 1


def test_owner_solicits_reports_when_the_backup_pw_comes_back_up_too() -> None:
    dev = upe(**FEATURE)
    dev.link_state("pw-spe2", False, 2.0)
    out = dev.link_state("pw-spe2", True, 4.0)
    assert ports(queries(out)) == {"ac1", "ac2"}


def test_solicitation_is_a_general_query_from_0_0_0_0_in_the_vsi_version_and_max_response_time() -> None:
    for version, max_response_time in ((2, 10.0), (3, 4.0)):
        _, out = after_primary_outage(version=version, max_response_time=max_response_time, **FEATURE)
        (_, frame), *_ = queries(out)
        packet = classify(frame)
        assert packet.src == DEVICE_MAC
        assert packet.ip is not None and (packet.ip.src, packet.ip.dst) == (0, ALL_SYSTEMS)
        assert packet.igmp == IgmpQuery(version, max_response_time, 0, qrv=packet.igmp.qrv,
                                        qqic_seconds=packet.igmp.qqic_seconds)
        assert packet.igmp.is_general


def test_solicitation_query_makes_no_router_port_and_changes_no_querier() -> None:
    _, out = after_primary_outage(**FEATURE)
    (_, solicitation), *_ = queries(out)
    # A snooping switch downstream of the UPE that hears a real querier on ac1 ...
    heard = device(vsi_config(snooping(), acs=("ac1", "ac2")))
    heard.receive("ac1", query("10.1.1.1"), 1.0)
    # ... and one that is the querier itself (0.0.0.0 would win any election it entered).
    querier = device(vsi_config(snooping(querier_enable=True), acs=("ac1", "ac2")))
    for dev in (heard, querier):
        dev.receive("ac2", solicitation, 5.0)
    assert set(router_ports(heard)) == {"ac1"}
    assert heard.vsis["iptv"].snooping.querier.current(5.0) == (ip_int("10.1.1.1"), False)
    assert router_ports(querier) == {}
    assert querier.vsis["iptv"].snooping.querier.current(5.0) == (ip_int("10.0.0.9"), True)


def test_solicitation_leaves_the_owners_own_querier_and_acs_alone() -> None:
    dev = upe(**FEATURE)
    dev.link_state("pw-spe1", False, 2.0)
    querier = dev.vsis["iptv"].snooping.querier
    before = querier.current(4.0)
    dev.link_state("pw-spe1", True, 4.0)
    assert querier.current(4.0) == before == (ip_int("10.1.1.1"), False)
    assert not {"ac1", "ac2"} & set(router_ports(dev))
    assert stats(dev).queries_sent == 0  # not a querier's query: counted as solicited only


def test_without_backup_report_forward_no_solicitation() -> None:
    for igmp in ({}, {"backup_query_forward": True}):
        dev, out = after_primary_outage(**igmp)
        assert queries(out) == []
        assert stats(dev).queries_solicited == 0
        assert "pw-spe1" not in router_ports(dev)


def test_a_pw_without_a_role_solicits_nothing_when_it_comes_back_up() -> None:
    dev = device(vsi_config(snooping(**FEATURE), acs=("uplink",), pws=(pw("10.0.0.3", "pw-upe"),)))
    dev.link_state("pw-upe", False, 2.0)
    assert queries(dev.link_state("pw-upe", True, 4.0)) == []
    assert stats(dev).queries_solicited == 0


def test_carrier_up_on_a_pw_that_never_went_down_solicits_nothing() -> None:
    dev = upe(**FEATURE)
    assert queries(dev.link_state("pw-spe1", True, 4.0)) == []
    assert stats(dev).queries_solicited == 0


# -- the recovered PW as a router port ----------------------------------------------------


def test_recovered_pair_pw_becomes_a_via_backup_router_port_like_its_sibling() -> None:
    dev, _ = after_primary_outage(**FEATURE)
    router = router_ports(dev)["pw-spe1"]
    assert router.dynamic and router.via_backup
    assert router.expires == 4.0 + dev.vsis["iptv"].snooping.config.router_aging_time


def test_solicited_reports_reach_the_recovered_standby_pw() -> None:
    dev, _ = after_primary_outage(**FEATURE)
    assert dev.vsis["iptv"].pws.by_interface["pw-spe1"].forwarding_state == "standby"
    assert ports(dev.receive("ac1", report(G1, 1), 6.0)) == {"pw-spe1", "pw-spe2"}


def test_recovered_pw_becomes_no_router_port_when_its_sibling_is_none() -> None:
    dev = device(vsi_config(snooping(**FEATURE), acs=("ac1", "ac2"),
                            pws=(pw("10.0.0.1", "pw-spe1", "primary"), pw("10.0.0.2", "pw-spe2", "backup"))))
    dev.link_state("pw-spe1", False, 2.0)
    dev.link_state("pw-spe1", True, 4.0)
    assert router_ports(dev) == {}
    assert stats(dev).queries_solicited == 1  # the hosts are still asked


def test_revert_after_wait_to_restore_keeps_the_recovered_router_port() -> None:
    dev, _ = after_primary_outage(**FEATURE)
    dev.tick(34.0)  # wait-to-restore (30 s) from the recovery at 4 s
    assert dev.vsis["iptv"].pws.by_interface["pw-spe1"].forwarding_state == "active"
    assert ports(dev.receive("ac1", report(G1, 1), 35.0)) == {"pw-spe1", "pw-spe2"}
