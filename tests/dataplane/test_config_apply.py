"""Device.apply: the whole configuration is checked first, applied atomically, and learned
state survives wherever the configuration still allows it."""

from __future__ import annotations

import dataclasses

import pytest

from dataplane.config import AcConfig, ConfigError, DeviceConfig, IgmpSnoopingConfig, StaticGroup, VsiConfig
from dataplane.device import Device

from tests.dataplane._core_helpers import (
    DEVICE_MAC,
    G1,
    G2,
    data,
    ports,
    pw,
    query,
    report,
    snooping,
    table,
    vsi_config,
)


def running(*vsis: VsiConfig) -> tuple[Device, DeviceConfig]:
    dev = Device("dut", DEVICE_MAC, "10.0.0.9")
    config = DeviceConfig(igmp_snooping_enable=True, vsis=vsis)
    dev.apply(config, 0.0)
    return dev, config


def learned() -> tuple[Device, DeviceConfig]:
    """VSI iptv with a router port and G1 on ac2; VSI other on ac7/ac8."""
    dev, config = running(vsi_config(), vsi_config(name="other", acs=("ac7", "ac8")))
    dev.receive("ac1", query(), 0.0)
    dev.receive("ac2", report(G1, 2), 1.0)
    dev.receive("ac7", report(G2, 7), 1.0)
    return dev, config


def with_vsi(config: DeviceConfig, vsi: VsiConfig) -> DeviceConfig:
    return dataclasses.replace(config, vsis=tuple(vsi if v.name == vsi.name else v for v in config.vsis))


def with_igmp(config: DeviceConfig, name: str = "iptv", **changes) -> DeviceConfig:  # type: ignore[no-untyped-def]
    vsi = next(v for v in config.vsis if v.name == name)
    return with_vsi(config, dataclasses.replace(vsi, igmp=dataclasses.replace(vsi.igmp, **changes)))


def assert_refused(config: DeviceConfig, path: str, words: str) -> None:
    """Refused with the path of the offending item, and nothing changed."""
    dev, before = learned()
    vsis_before = dict(dev.vsis)
    with pytest.raises(ConfigError) as error:
        dev.apply(config, 5.0)
    assert error.value.path == path
    assert words in error.value.message
    assert dev.config is before
    assert dev.vsis == vsis_before
    assert table(dev) == {(G1, "0.0.0.0"): {"ac2"}}
    assert ports(dev.receive("ac1", data(G1), 6.0)) == {"ac2"}


def base() -> DeviceConfig:
    return learned()[1]


# -- every refusal names its item -------------------------------------------------------------


def test_backup_pw_without_primary_is_refused() -> None:
    config = with_vsi(base(), vsi_config(pws=(pw("10.0.0.2", "pw2", "backup"),)))
    assert_refused(config, "vsi[iptv]/pw[10.0.0.2,100]/role", "needs a primary")


def test_two_primaries_are_refused() -> None:
    config = with_vsi(base(), vsi_config(pws=(pw("10.0.0.1", "pw1", "primary"), pw("10.0.0.2", "pw2", "primary"))))
    assert_refused(config, "vsi[iptv]/pw[10.0.0.2,100]/role", "at most one primary")


def test_interface_used_twice_across_vsis_is_refused() -> None:
    config = with_vsi(base(), vsi_config(name="other", acs=("ac7", "ac1")))
    assert_refused(config, "vsi[other]/ac[ac1]", "already used by vsi[iptv]/ac[ac1]")


def test_duplicate_pw_key_is_refused() -> None:
    config = with_vsi(base(), vsi_config(pws=(pw("10.0.0.1", "pw1"), pw("10.0.0.1", "pw2"))))
    assert_refused(config, "vsi[iptv]/pw[10.0.0.1,100]", "duplicate PW")


def test_bad_peer_address_is_refused() -> None:
    config = with_vsi(base(), vsi_config(pws=(pw("10.0.0", "pw1"),)))
    assert_refused(config, "vsi[iptv]/pw[10.0.0,100]/peer-address", "not an IPv4 address")


def test_vsi_snooping_without_the_global_switch_is_refused() -> None:
    config = dataclasses.replace(base(), igmp_snooping_enable=False)
    assert_refused(config, "vsi[iptv]/igmp-snooping/enable", "global igmp-snooping-enable")


def test_backup_report_forward_without_snooping_is_refused() -> None:
    config = with_igmp(base(), enable=False, backup_report_forward=True)
    assert_refused(config, "vsi[iptv]/igmp-snooping/backup-report-forward", "needs igmp-snooping enable")


def test_source_mac_replace_without_its_forward_setting_is_refused() -> None:
    config = with_igmp(base(), backup_query_source_mac_replace=True)
    assert_refused(config, "vsi[iptv]/igmp-snooping/backup-query-source-mac-replace", "needs backup-query-forward")


def test_static_router_port_outside_the_vsi_is_refused() -> None:
    config = with_igmp(base(), static_router_ports=frozenset({"ac7"}))
    assert_refused(config, "vsi[iptv]/igmp-snooping/static-router-port[ac7]", "not an AC or PW interface")


def test_static_group_that_is_not_multicast_is_refused() -> None:
    config = with_igmp(base(), static_groups=frozenset({StaticGroup("10.1.1.1", "0.0.0.0", "ac2")}))
    assert_refused(config, "vsi[iptv]/igmp-snooping/static-group[10.1.1.1,0.0.0.0,ac2]/group-address",
                   "not a multicast group")


def test_link_local_static_group_is_refused() -> None:
    config = with_igmp(base(), static_groups=frozenset({StaticGroup("224.0.0.5", "0.0.0.0", "ac2")}))
    assert_refused(config, "vsi[iptv]/igmp-snooping/static-group[224.0.0.5,0.0.0.0,ac2]/group-address",
                   "224.0.0.0/24")


def test_fast_control_holdtime_out_of_range_is_refused() -> None:
    assert_refused(with_igmp(base(), pw_fast_control_holdtime=2.0),
                   "vsi[iptv]/igmp-snooping/pw-fast-control-holdtime", "5..120")


def test_igmp_version_4_is_refused() -> None:
    assert_refused(with_igmp(base(), version=4), "vsi[iptv]/igmp-snooping/version", "1, 2 or 3")


def test_bad_vsi_name_is_refused() -> None:
    config = dataclasses.replace(base(), vsis=(*base().vsis, vsi_config(name="bad name!", acs=("ac9",))))
    assert_refused(config, "vsi[bad name!]/name", "1..31")


def test_bad_device_mac_is_refused() -> None:
    assert_refused(dataclasses.replace(base(), device_mac="02:00:00"), "device-mac", "not a MAC address")


def test_unknown_multicast_action_must_be_flood_or_drop() -> None:
    config = with_vsi(base(), vsi_config(unknown_multicast_action="forward"))  # type: ignore[arg-type]
    assert_refused(config, "vsi[iptv]/unknown-multicast-action", "'flood' or 'drop'")


def test_a_bad_vsi_refuses_the_whole_configuration_including_good_changes() -> None:
    good = vsi_config(acs=("ac1", "ac2", "ac3", "ac4"))
    bad = vsi_config(name="other", acs=("ac7",), pws=(pw("10.0.0.2", "pw2", "backup"),))
    config = dataclasses.replace(base(), vsis=(good, bad))
    assert_refused(config, "vsi[other]/pw[10.0.0.2,100]/role", "needs a primary")


# -- what survives a change ---------------------------------------------------------------------


def test_unchanged_vsis_keep_their_learned_state() -> None:
    dev, config = learned()
    other_before = dev.vsis["other"]
    dev.apply(with_vsi(config, vsi_config(acs=("ac1", "ac2", "ac3", "ac4"))), 2.0)
    assert dev.vsis["other"] is other_before
    assert table(dev, "other") == {(G2, "0.0.0.0"): {"ac7"}}


def test_changing_snooping_settings_keeps_learned_entries() -> None:
    dev, config = learned()
    dev.apply(with_igmp(config, immediately_leave=True, backup_report_forward=True, query_interval=30.0), 2.0)
    assert table(dev) == {(G1, "0.0.0.0"): {"ac2"}}
    assert set(dev.vsis["iptv"].snooping.router_ports) == {"ac1"}
    assert ports(dev.receive("ac3", data(G1), 3.0)) == {"ac1", "ac2"}


def test_new_timer_values_apply_from_the_next_report() -> None:
    dev, config = learned()
    dev.apply(with_igmp(config, query_interval=20.0, max_response_time=5.0), 2.0)
    dev.receive("ac2", report(G1, 2), 10.0)
    dev.tick(10.0 + 2 * 20.0 + 5.0 + 0.1)
    assert table(dev) == {}


def test_adding_and_removing_static_groups_changes_only_statics() -> None:
    dev, config = learned()
    static = StaticGroup(G2, "0.0.0.0", "ac3")
    dev.apply(with_igmp(config, static_groups=frozenset({static})), 2.0)
    assert table(dev) == {(G1, "0.0.0.0"): {"ac2"}, (G2, "0.0.0.0"): {"ac3"}}
    dev.apply(with_igmp(config, static_groups=frozenset()), 3.0)
    assert table(dev) == {(G1, "0.0.0.0"): {"ac2"}}


def test_adding_a_static_router_port_takes_effect_at_once() -> None:
    dev, config = learned()
    dev.apply(with_igmp(config, static_router_ports=frozenset({"ac3"})), 2.0)
    assert ports(dev.receive("ac2", report(G1, 2), 3.0)) == {"ac1", "ac3"}


def test_disabling_snooping_floods_and_forgets() -> None:
    dev, config = learned()
    dev.apply(with_igmp(config, enable=False), 2.0)
    assert dev.vsis["iptv"].snooping is None
    assert ports(dev.receive("ac1", data(G1), 3.0)) == {"ac2", "ac3"}


def test_enabling_the_querier_on_a_running_vsi_sends_a_query_now() -> None:
    dev, config = learned()
    out = dev.apply(with_igmp(config, querier_enable=True), 2.0)
    assert ports(out) == {"ac1", "ac2", "ac3"}


def test_removing_a_vsi_releases_its_ports_and_timers() -> None:
    dev, config = running(vsi_config(snooping(querier_enable=True)), vsi_config(name="other", acs=("ac7",)))
    dev.apply(DeviceConfig(True, None, (config.vsis[1],)), 1.0)
    assert set(dev.vsis) == {"other"}
    assert dev.receive("ac1", query(), 2.0) == []
    assert dev.frames_on_unknown_ports == 1
    assert dev.tick(1000.0) == []  # the removed querier is silent


def test_a_port_can_move_to_another_vsi() -> None:
    dev, config = learned()
    moved = DeviceConfig(True, None, (vsi_config(acs=("ac1", "ac2")), vsi_config(name="other", acs=("ac7", "ac8", "ac3"))))
    dev.apply(moved, 2.0)
    assert ports(dev.receive("ac3", data(G2), 3.0)) == {"ac7", "ac8"}  # in "other" now, which was rebuilt
    assert "ac3" not in ports(dev.receive("ac1", data(G1), 3.0))


def test_link_state_is_remembered_for_ports_configured_later() -> None:
    dev, config = learned()
    dev.link_state("ac4", False, 1.0)
    dev.apply(with_vsi(config, vsi_config(acs=("ac1", "ac2", "ac3", "ac4"))), 2.0)
    assert dev.vsis["iptv"].port_oper_up("ac4") is False
    assert "ac4" not in ports(dev.receive("ac1", data(G2), 3.0))


def test_config_dataclasses_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        AcConfig("ac1").interface = "ac2"  # type: ignore[misc]
    assert IgmpSnoopingConfig().membership_interval == 130.0
    assert snooping().enable


def test_changing_device_mac_keeps_learned_state_and_uses_the_new_mac() -> None:
    dev, config = running(vsi_config(snooping(querier_enable=True)))
    dev.receive("ac2", report(G1, 2), 1.0)
    out = dev.apply(dataclasses.replace(config, device_mac="02:aa:bb:cc:dd:ee"), 2.0)
    assert out == []
    assert table(dev) == {(G1, "0.0.0.0"): {"ac2"}}
    queries = dev.tick(15.0)
    assert queries and all(frame[6:12] == bytes.fromhex("02aabbccddee") for _, frame in queries)


# --- apply_vsis: only the VSIs a commit changed -------------------------------------------


def test_apply_vsis_changes_only_the_named_vsi_and_keeps_the_others() -> None:
    dev, config = learned()
    other = dev.vsis["other"]
    iptv = next(v for v in config.vsis if v.name == "iptv")
    dev.apply_vsis({"iptv": dataclasses.replace(iptv, igmp=dataclasses.replace(iptv.igmp, limit_max_entry=5))}, 2.0)
    assert dev.vsis["other"] is other and table(dev, "other")
    assert dev.vsis["iptv"].config.igmp.limit_max_entry == 5
    assert table(dev)                                  # same ports: learned entries kept
    assert {v.name: v for v in dev.config.vsis} == {v.name: v.config for v in dev.vsis.values()}


def test_apply_vsis_gives_the_same_device_as_apply_with_the_whole_configuration() -> None:
    by_parts, config = running(vsi_config(), vsi_config(name="other", acs=("ac7", "ac8")))
    whole, _ = running(vsi_config(), vsi_config(name="other", acs=("ac7", "ac8")))
    third = vsi_config(name="third", acs=("ac9",))
    by_parts.apply_vsis({"other": None, "third": third}, 1.0)
    whole.apply(dataclasses.replace(config, vsis=(config.vsis[0], third)), 1.0)
    assert by_parts.config == whole.config
    assert sorted(by_parts.vsis) == sorted(whole.vsis) == ["iptv", "third"]
    assert set(by_parts.vsis["third"].ports) == set(whole.vsis["third"].ports) == {"ac9"}


def test_apply_vsis_refuses_an_interface_another_vsi_holds_and_changes_nothing() -> None:
    dev, config = learned()
    before = dev.config
    with pytest.raises(ConfigError, match=r"'ac7' is already used by vsi\[other\]/ac\[ac7\]") as refused:
        dev.apply_vsis({"third": vsi_config(name="third", acs=("ac7",))}, 2.0)
    assert refused.value.path == "vsi[third]/ac[ac7]"
    assert dev.config is before and "third" not in dev.vsis
    assert "ac7" in dev.vsis["other"].ports and "ac7" in set().union(*table(dev, "other").values())


def test_apply_vsis_lets_an_interface_move_between_vsis_changed_together() -> None:
    dev, _ = learned()
    dev.apply_vsis({"other": vsi_config(name="other", acs=("ac8",)),
                    "third": vsi_config(name="third", acs=("ac7",))}, 2.0)
    dev.receive("ac7", report(G2, 7), 3.0)
    assert table(dev, "third") and set(dev.vsis["other"].ports) == {"ac8"}


def test_apply_vsis_removes_a_vsi_and_frees_its_interfaces() -> None:
    dev, _ = learned()
    dev.apply_vsis({"other": None}, 2.0)
    assert "other" not in dev.vsis and all(v.name != "other" for v in dev.config.vsis)
    dev.apply_vsis({"third": vsi_config(name="third", acs=("ac7",))}, 3.0)
    assert "third" in dev.vsis
