"""The configuration boundary: YANG datastore trees become dataplane dataclasses, and the
dataplane's refusals come back as instance identifiers of the node they name."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from lxml import etree

from agent.dataplane_config import UNMAPPED_LEAVES, config_error_path, device_config
from agent.instance import load_instance
from agent.schema import Schema, SchemaNode
from agent.xmlns import VL2MC
from dataplane.config import (
    AcConfig,
    ConfigError,
    DeviceConfig,
    IgmpSnoopingConfig,
    PwConfig,
    StaticGroup,
    VsiConfig,
)
from dataplane.device import Device
from dataplane.scenario import device_configs
from tests.agent.yang_oracles import Tree, to_xml, upe_config, yanglint_validate
from tests.conftest import compiled_schema

NS = {"vl2mc": VL2MC}


def schema() -> Schema:
    return compiled_schema()


def tree_of(config: Tree) -> etree._Element:
    """A datastore tree (defaults instantiated) holding ``config``."""
    return load_instance(schema(), etree.fromstring(to_xml(config).encode()))


def lab_upe() -> Tree:
    """The lab's UPE with the feature on, and every optional leaf set to a non-default value."""
    config = upe_config()
    vsi = config["vsis"]["vsi"][0]
    vsi["description"] = "IPTV to the receivers"
    primary, backup = vsi["pws"]["pw"]
    primary.update({"revertive": "false", "wtr-time": "45", "keepalive-interval": "250",
                    "keepalive-multiplier": "5"})
    vsi["igmp-snooping"].update({
        "version": "3", "query-interval": "30", "max-response-time": "5",
        "last-member-query-interval": "2", "robustness": "3", "router-aging-time": "100",
        "router-port-learning": "false", "immediately-leave": "true", "querier-enable": "true",
        "limit-max-entry": "500",
    })
    return config


def node_at(root: etree._Element, path: str, nsmap: dict[str, str]) -> etree._Element:
    """The one node an instance identifier names, evaluated below the datastore root."""
    found = root.xpath("." + path, namespaces=nsmap)
    assert len(found) == 1, (path, found)
    return found[0]


def local(el: etree._Element) -> str:
    return etree.QName(el).localname


# --------------------------------------------------------------------------- translation


def test_lab_upe_translates_field_by_field() -> None:
    expected = DeviceConfig(
        igmp_snooping_enable=True,
        device_mac="02:00:00:00:00:03",
        vsis=(VsiConfig(
            name="iptv",
            description="IPTV to the receivers",
            unknown_multicast_action="drop",
            acs=(AcConfig("ac1"), AcConfig("ac2")),
            pws=(
                PwConfig("10.0.0.1", 100, "pw-spe1", role="primary", revertive=False, wtr_time=45.0,
                         keepalive_interval=0.25, keepalive_multiplier=5),
                PwConfig("10.0.0.2", 100, "pw-spe2", role="backup", revertive=True, wtr_time=30.0,
                         keepalive_interval=0.1, keepalive_multiplier=3),
            ),
            igmp=IgmpSnoopingConfig(
                enable=True, version=3, query_interval=30.0, max_response_time=5.0,
                last_member_query_interval=2.0, robustness=3, router_aging_time=100.0,
                router_port_learning=False, immediately_leave=True, querier_enable=True,
                limit_max_entry=500,
                backup_query_forward=True, backup_query_source_mac_replace=True,
                backup_report_forward=True, backup_report_source_mac_replace=True,
                pw_fast_control=True, pw_fast_control_holdtime=20.0,
                static_router_ports=frozenset({"pw-spe1"}),
                static_groups=frozenset({StaticGroup("239.1.1.1", "0.0.0.0", "ac1")}),
            ),
        ),),
    )
    assert device_config(tree_of(lab_upe())) == expected


def test_yang_defaults_come_through() -> None:
    minimal = {"vsis": {"vsi": [{"name": "v", "acs": {"ac": [{"interface": "ac1"}]},
                                 "pws": {"pw": [{"peer-address": "10.0.0.1", "vc-id": "7", "interface": "pw1"}]}}]}}
    config = device_config(tree_of(minimal))
    assert (config.igmp_snooping_enable, config.device_mac) == (False, None)
    vsi = config.vsis[0]
    assert (vsi.description, vsi.unknown_multicast_action) == (None, "flood")
    assert vsi.pws == (PwConfig("10.0.0.1", 7, "pw1", role=None, revertive=True, wtr_time=30.0,
                                keepalive_interval=0.1, keepalive_multiplier=3),)
    igmp = vsi.igmp
    assert (igmp.enable, igmp.version, igmp.query_interval, igmp.max_response_time) == (False, 2, 60.0, 10.0)
    assert (igmp.last_member_query_interval, igmp.robustness, igmp.router_aging_time) == (1.0, 2, 180.0)
    assert (igmp.router_port_learning, igmp.immediately_leave, igmp.querier_enable) == (True, False, False)
    assert igmp.limit_max_entry is None
    assert (igmp.backup_query_forward, igmp.backup_query_source_mac_replace) == (False, False)
    assert (igmp.backup_report_forward, igmp.backup_report_source_mac_replace) == (False, False)
    assert igmp.pw_fast_control is False
    assert (igmp.static_router_ports, igmp.static_groups) == (frozenset(), frozenset())


def test_keepalive_interval_milliseconds_become_seconds() -> None:
    config = lab_upe()
    config["vsis"]["vsi"][0]["pws"]["pw"][1]["keepalive-interval"] = "10"
    assert device_config(tree_of(config)).vsis[0].pws[1].keepalive_interval == pytest.approx(0.01)


def test_an_empty_datastore_is_a_device_without_vsis() -> None:
    assert device_config(tree_of({})) == DeviceConfig()


def test_vsis_acs_and_pws_keep_document_order() -> None:
    config = lab_upe()
    second = copy.deepcopy(config["vsis"]["vsi"][0])
    second.update({"name": "alpha", "acs": {"ac": [{"interface": "ac9"}, {"interface": "ac3"}]}, "pws": {}})
    second["igmp-snooping"] = {"enable": "true"}
    config["vsis"]["vsi"].append(second)
    translated = device_config(tree_of(config))
    assert [v.name for v in translated.vsis] == ["iptv", "alpha"]
    assert [ac.interface for ac in translated.vsis[1].acs] == ["ac9", "ac3"]


#: For every configuration leaf: another value the tree can hold.  A leaf added to the module
#: must be added here (and translated) or to UNMAPPED_LEAVES.
OTHER_VALUE: dict[str, str] = {
    "l2-multicast/igmp-snooping-enable": "false",
    "l2-multicast/device-mac": "02:00:00:00:00:42",
    "vsis/vsi/name": "other",
    "vsis/vsi/description": "changed",
    "vsis/vsi/unknown-multicast-action": "flood",
    "vsis/vsi/acs/ac/interface": "ac7",
    "vsis/vsi/pws/pw/peer-address": "10.9.9.9",
    "vsis/vsi/pws/pw/vc-id": "200",
    "vsis/vsi/pws/pw/interface": "pw-x",
    "vsis/vsi/pws/pw/role": "backup",
    "vsis/vsi/pws/pw/revertive": "true",
    "vsis/vsi/pws/pw/wtr-time": "0",
    "vsis/vsi/pws/pw/keepalive-interval": "1000",
    "vsis/vsi/pws/pw/keepalive-multiplier": "9",
    "vsis/vsi/igmp-snooping/enable": "false",
    "vsis/vsi/igmp-snooping/version": "1",
    "vsis/vsi/igmp-snooping/query-interval": "90",
    "vsis/vsi/igmp-snooping/max-response-time": "7",
    "vsis/vsi/igmp-snooping/last-member-query-interval": "4",
    "vsis/vsi/igmp-snooping/robustness": "5",
    "vsis/vsi/igmp-snooping/router-aging-time": "7",
    "vsis/vsi/igmp-snooping/router-port-learning": "true",
    "vsis/vsi/igmp-snooping/immediately-leave": "false",
    "vsis/vsi/igmp-snooping/querier-enable": "false",
    "vsis/vsi/igmp-snooping/limit-max-entry": "9",
    "vsis/vsi/igmp-snooping/backup-query-forward": "false",
    "vsis/vsi/igmp-snooping/backup-query-source-mac-replace": "false",
    "vsis/vsi/igmp-snooping/backup-report-forward": "false",
    "vsis/vsi/igmp-snooping/backup-report-source-mac-replace": "false",
    "vsis/vsi/igmp-snooping/pw-fast-control": "false",
    "vsis/vsi/igmp-snooping/pw-fast-control-holdtime": "99",
    "vsis/vsi/igmp-snooping/static-router-port": "ac2",
    "vsis/vsi/igmp-snooping/static-group/group-address": "239.9.9.9",
    "vsis/vsi/igmp-snooping/static-group/source-address": "10.1.1.5",
    "vsis/vsi/igmp-snooping/static-group/interface": "ac2",
}


def config_leaves(nodes: dict[str, SchemaNode], above: str = "") -> list[str]:
    """Local-name paths of every configuration leaf and leaf-list of our module."""
    paths: list[str] = []
    for node in nodes.values():
        if node.namespace != VL2MC or not node.config or node.keyword in ("action", "notification"):
            continue
        path = f"{above}/{node.name}" if above else node.name
        if node.keyword in ("leaf", "leaf-list"):
            paths.append(path)
        else:
            paths += config_leaves(node.children, path)
    return paths


def prefixed(path: str) -> str:
    return "/" + "/".join(f"vl2mc:{step}" for step in path.split("/"))


def test_every_config_leaf_reaches_the_dataplane_or_is_listed_as_unmapped() -> None:
    leaves = config_leaves(schema().roots)
    assert {prefixed(p) for p in leaves} == {prefixed(p) for p in OTHER_VALUE} | UNMAPPED_LEAVES
    base_tree = tree_of(lab_upe())
    base = device_config(base_tree)
    for path, value in OTHER_VALUE.items():
        changed = copy.deepcopy(base_tree)
        node_at_path = changed.xpath("." + prefixed(path), namespaces=NS)[0]
        assert node_at_path.text != value, path
        node_at_path.text = value
        assert device_config(changed) != base, f"{path} does not reach the dataplane"


def test_unmapped_leaves_do_not_change_the_translation() -> None:
    base_tree = tree_of(lab_upe())
    changed = copy.deepcopy(base_tree)
    for path in UNMAPPED_LEAVES:
        for el in changed.xpath("." + path, namespaces=NS):
            el.text = "10.9.9.9"
    assert device_config(changed) == device_config(base_tree)


# --------------------------------------------------------------------------- the lab configs


def as_tree(config: DeviceConfig) -> Tree:
    """The YANG form of a dataplane configuration (the inverse of device_config)."""
    def number(value: float) -> str:
        return str(int(value)) if value == int(value) else str(value)

    def pw(p: PwConfig) -> Tree:
        out: Tree = {"peer-address": p.peer_address, "vc-id": str(p.vc_id), "interface": p.interface}
        if p.role is not None:
            out["role"] = p.role
        out.update({"revertive": str(p.revertive).lower(), "wtr-time": number(p.wtr_time),
                    "keepalive-interval": str(round(p.keepalive_interval * 1000)),
                    "keepalive-multiplier": str(p.keepalive_multiplier)})
        return out

    def igmp(i: IgmpSnoopingConfig) -> Tree:
        out: Tree = {"enable": str(i.enable).lower(), "version": str(i.version),
                     "query-interval": number(i.query_interval), "max-response-time": number(i.max_response_time),
                     "last-member-query-interval": number(i.last_member_query_interval),
                     "robustness": str(i.robustness), "router-aging-time": number(i.router_aging_time),
                     "router-port-learning": str(i.router_port_learning).lower(),
                     "immediately-leave": str(i.immediately_leave).lower(),
                     "querier-enable": str(i.querier_enable).lower()}
        if i.limit_max_entry is not None:
            out["limit-max-entry"] = str(i.limit_max_entry)
        for forward, replace in (("backup_query_forward", "backup_query_source_mac_replace"),
                                 ("backup_report_forward", "backup_report_source_mac_replace")):
            out[forward.replace("_", "-")] = str(getattr(i, forward)).lower()
            if getattr(i, forward):   # `when` the forward flag is on
                out[replace.replace("_", "-")] = str(getattr(i, replace)).lower()
        out["pw-fast-control"] = str(i.pw_fast_control).lower()
        if i.pw_fast_control:
            out["pw-fast-control-holdtime"] = number(i.pw_fast_control_holdtime)
        out["static-router-port"] = sorted(i.static_router_ports)
        out["static-group"] = [{"group-address": g.group_address, "source-address": g.source_address,
                                "interface": g.interface} for g in sorted(i.static_groups, key=repr)]
        return out

    def vsi(v: VsiConfig) -> Tree:
        out: Tree = {"name": v.name}
        if v.description is not None:
            out["description"] = v.description
        out.update({"unknown-multicast-action": v.unknown_multicast_action,
                    "acs": {"ac": [{"interface": a.interface} for a in v.acs]},
                    "pws": {"pw": [pw(p) for p in v.pws]}, "igmp-snooping": igmp(v.igmp)})
        return out

    glob: Tree = {"igmp-snooping-enable": str(config.igmp_snooping_enable).lower()}
    if config.device_mac is not None:
        glob["device-mac"] = config.device_mac
    return {"l2-multicast": glob, "vsis": {"vsi": [vsi(v) for v in config.vsis]}}


def without_idle_holdtime(config: DeviceConfig) -> DeviceConfig:
    """pw-fast-control-holdtime means nothing (and YANG drops it) while pw-fast-control is off."""
    vsis = tuple(dataclasses.replace(v, igmp=dataclasses.replace(v.igmp, pw_fast_control_holdtime=0.0))
                 if not v.igmp.pw_fast_control else v for v in config.vsis)
    return dataclasses.replace(config, vsis=vsis)


LAB_CONFIGS = [(f"{device}-feature-{'on' if feature else 'off'}", config)
               for feature in (False, True) for device, config in device_configs(feature).items()]


@pytest.mark.parametrize("config", [c for _, c in LAB_CONFIGS], ids=[name for name, _ in LAB_CONFIGS])
def test_lab_configs_round_trip_through_yang_and_the_device_accepts_them(config: DeviceConfig) -> None:
    xml = to_xml(as_tree(config))
    ok, message = yanglint_validate(xml)
    assert ok, message
    translated = device_config(tree_of(as_tree(config)))
    assert without_idle_holdtime(translated) == without_idle_holdtime(config)
    device = Device("dut", "02:00:00:00:00:ee", "10.0.0.9")
    device.apply(translated, 0.0)
    assert set(device.vsis) == {v.name for v in config.vsis}


# --------------------------------------------------------------------------- error paths

IPTV = "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='iptv']"
PW2 = f"{IPTV}/vl2mc:pws/vl2mc:pw[vl2mc:peer-address='10.0.0.2'][vl2mc:vc-id='100']"
SNOOP = f"{IPTV}/vl2mc:igmp-snooping"
STATIC_GROUP = f"{SNOOP}/vl2mc:static-group[vl2mc:group-address='239.1.1.1'][vl2mc:source-address='0.0.0.0']" \
               "[vl2mc:interface='ac1']"

#: Every path form dataplane/config.py builds, on the lab UPE, and the instance identifier
#: of the node it names.
PATH_FORMS: list[tuple[str, str]] = [
    ("device-mac", "/vl2mc:l2-multicast/vl2mc:device-mac"),
    ("vsi[iptv]", IPTV),
    ("vsi[iptv]/name", f"{IPTV}/vl2mc:name"),
    ("vsi[iptv]/unknown-multicast-action", f"{IPTV}/vl2mc:unknown-multicast-action"),
    ("vsi[iptv]/ac[ac1]", f"{IPTV}/vl2mc:acs/vl2mc:ac[vl2mc:interface='ac1']"),
    ("vsi[iptv]/pw[10.0.0.2,100]", PW2),
    *[(f"vsi[iptv]/pw[10.0.0.2,100]/{leaf}", f"{PW2}/vl2mc:{leaf}")
      for leaf in ("peer-address", "vc-id", "interface", "role", "wtr-time", "keepalive-interval",
                   "keepalive-multiplier")],
    *[(f"vsi[iptv]/igmp-snooping/{leaf}", f"{SNOOP}/vl2mc:{leaf}")
      for leaf in ("enable", "version", "query-interval", "max-response-time", "last-member-query-interval",
                   "router-aging-time", "robustness", "backup-query-forward", "backup-report-forward",
                   "backup-query-source-mac-replace", "backup-report-source-mac-replace",
                   "pw-fast-control-holdtime")],
    ("vsi[iptv]/igmp-snooping/static-router-port[pw-spe1]", f"{SNOOP}/vl2mc:static-router-port[.='pw-spe1']"),
    *[(f"vsi[iptv]/igmp-snooping/static-group[239.1.1.1,0.0.0.0,ac1]/{leaf}", f"{STATIC_GROUP}/vl2mc:{leaf}")
      for leaf in ("group-address", "source-address", "interface")],
]


@pytest.mark.parametrize(("dataplane_path", "expected"), PATH_FORMS, ids=[p for p, _ in PATH_FORMS])
def test_each_dataplane_path_form_maps_to_the_node_it_names(dataplane_path: str, expected: str) -> None:
    path, nsmap = config_error_path(ConfigError(dataplane_path, "refused"), schema())
    assert (path, nsmap) == (expected, NS)
    node = node_at(tree_of(lab_upe()), path, nsmap)
    last_step = dataplane_path.rsplit("/", 1)[-1].split("[")[0]
    assert local(node) == last_step


def variant(change: Any) -> Tree:
    """The lab UPE with one change applied by ``change(config, vsi, igmp)``."""
    config = lab_upe()
    vsi = config["vsis"]["vsi"][0]
    change(config, vsi, vsi["igmp-snooping"])
    return config


def second_vsi(config: Tree, ac: str) -> None:
    config["vsis"]["vsi"].append({"name": "other", "acs": {"ac": [{"interface": ac}]}})


# Configurations the schema loads (types, keys) but the dataplane refuses, as the YANG
# `must`s would; each with the local name and parent key of the node the refusal names.
REFUSED: list[tuple[str, Any, str]] = [
    ("two-primary-pws", lambda c, v, i: v["pws"]["pw"][1].update(role="primary"),
     f"{PW2}/vl2mc:role"),
    ("backup-without-primary", lambda c, v, i: v["pws"]["pw"][0].pop("role"),
     f"{PW2}/vl2mc:role"),
    ("interface-used-by-two-vsis", lambda c, v, i: second_vsi(c, "ac1"),
     "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='other']/vl2mc:acs/vl2mc:ac[vl2mc:interface='ac1']"),
    ("pw-interface-used-by-an-ac", lambda c, v, i: v["pws"]["pw"][1].update(interface="ac2"),
     f"{PW2}/vl2mc:interface"),
    ("snooping-without-the-global-switch",
     lambda c, v, i: c["l2-multicast"].update({"igmp-snooping-enable": "false"}),
     f"{SNOOP}/vl2mc:enable"),
    ("max-response-time-not-below-query-interval",
     lambda c, v, i: i.update({"query-interval": "5", "max-response-time": "5"}),
     f"{SNOOP}/vl2mc:max-response-time"),
    ("static-router-port-outside-the-vsi", lambda c, v, i: i.update({"static-router-port": ["ac9"]}),
     f"{SNOOP}/vl2mc:static-router-port[.='ac9']"),
    ("static-group-port-outside-the-vsi",
     lambda c, v, i: i.update({"static-group": [{"group-address": "239.1.1.1", "source-address": "0.0.0.0",
                                                 "interface": "ac9"}]}),
     f"{SNOOP}/vl2mc:static-group[vl2mc:group-address='239.1.1.1'][vl2mc:source-address='0.0.0.0']"
     "[vl2mc:interface='ac9']/vl2mc:interface"),
    ("backup-forwarding-without-snooping",
     lambda c, v, i: i.update({"enable": "false", "backup-report-forward": "false",
                               "backup-report-source-mac-replace": "false"}),
     f"{SNOOP}/vl2mc:backup-query-forward"),
]


@pytest.mark.parametrize(("change", "expected"), [(c, e) for _, c, e in REFUSED], ids=[n for n, _, _ in REFUSED])
def test_a_dataplane_refusal_points_at_the_offending_node(change: Any, expected: str) -> None:
    tree = tree_of(variant(change))
    device = Device("dut", "02:00:00:00:00:ee", "10.0.0.9")
    with pytest.raises(ConfigError) as refused:
        device.apply(device_config(tree), 0.0)
    path, nsmap = config_error_path(refused.value, schema())
    assert path == expected
    assert node_at(tree, path, nsmap) is not None
    assert device.vsis == {}


def test_a_step_the_schema_does_not_have_stops_at_the_deepest_known_node() -> None:
    path, nsmap = config_error_path(ConfigError("vsi[iptv]/no-such-leaf", "refused"), schema())
    assert (path, nsmap) == (IPTV, NS)


def test_keys_that_do_not_fit_the_list_stop_at_its_parent() -> None:
    path, _ = config_error_path(ConfigError("vsi[iptv]/pw[10.0.0.2]/role", "refused"), schema())
    assert path == f"{IPTV}/vl2mc:pws"


def test_a_path_outside_the_schema_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no-such-node"):
        config_error_path(ConfigError("no-such-node", "refused"), schema())


def test_a_key_with_an_apostrophe_is_quoted_with_double_quotes() -> None:
    path, _ = config_error_path(ConfigError("vsi[it's]/name", "refused"), schema())
    assert path == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name=\"it's\"]/vl2mc:name"
