"""The operational-state boundary: a running Device's VSIs rendered as the module's
`config false` nodes, checked against the Device and validated by libyang."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from agent.dataplane_config import device_config
from agent.dataplane_state import COUNTERS, INVALID_REASONS, UNCOUNTED_STATISTICS, device_state, vsi_state
from agent.instance import load_instance
from agent.state_provider import EVERYTHING, StateSelection, VsiParts
from agent.schema import SchemaNode
from agent.xmlns import NC, VL2MC
from dataplane.config import AcConfig, DeviceConfig, IgmpSnoopingConfig, VsiConfig
from dataplane.addr import ip_int
from dataplane.device import Device
from dataplane.igmp import RecordType
from tests.agent.yang_oracles import Tree, to_xml, upe_config, yanglint_validate
from tests.conftest import compiled_schema
from tests.dataplane._core_helpers import G1, G2, G3, ROUTER_IP, data, host_mac, query, report, v3_report

V = f"{{{VL2MC}}}"
NS = {"v": VL2MC}
UPE_ADDRESS = "10.0.0.3"
PRIMARY, BACKUP = ("10.0.0.1", 100), ("10.0.0.2", 100)


# --------------------------------------------------------------------------- fixtures


def upe_tree() -> etree._Element:
    """The lab UPE with the feature on: static router port pw-spe1, static 239.1.1.1 on ac1."""
    return load_instance(compiled_schema(), etree.fromstring(to_xml(upe_config()).encode()))


@pytest.fixture
def upe() -> Device:
    """The UPE after a little traffic, in virtual time (seconds):

    1.0  host 1 on ac1 reports G2, host 2 on ac2 reports G3
    2.0  a report for G3 and a query arrive on the standby PW pw-spe2 (feature on: learned)
    3.0  the router's query and one data frame for G2 arrive on the primary pw-spe1
    3.0  a truncated frame arrives on ac1
    """
    device = Device("upe", "02:00:00:00:00:03", UPE_ADDRESS)
    device.apply(device_config(upe_tree()), 0.0)
    device.receive("ac1", report(G2, host=1), 1.0)
    device.receive("ac2", report(G3, host=2), 1.0)
    device.receive("pw-spe2", report(G3, host=7), 2.0)
    device.receive("pw-spe2", query(), 2.0)
    device.receive("pw-spe1", query(), 3.0)
    device.receive("pw-spe1", data(G2), 3.0)
    device.receive("ac1", b"\x01\x00\x5e", 3.0)
    return device


def render(device: Device, now: float, names: set[str] | None = None, **kw: Any) -> etree._Element:
    tops = device_state(device, EVERYTHING if names is None else StateSelection.of_vsis(names), now, **kw)
    assert len(tops) == 1 and tops[0].tag == f"{V}vsis"
    return tops[0]


def one(el: etree._Element, path: str) -> etree._Element:
    found = el.xpath(path, namespaces=NS)
    assert len(found) == 1, (path, found)
    return found[0]


def text(el: etree._Element, path: str) -> str | None:
    found = el.xpath(path, namespaces=NS)
    assert len(found) <= 1, (path, found)
    return found[0].text if found else None


def member(state: etree._Element, group: str, interface: str) -> etree._Element:
    return one(state, f"//v:group[v:group-address='{group}'][v:source-address='0.0.0.0']"
                      f"/v:port[v:interface='{interface}']")


def merge(target: etree._Element, source: etree._Element, nodes: dict[str, SchemaNode]) -> None:
    """Merge ``source``'s children into ``target`` by tag and list keys, as <get> does."""
    for child in source:
        node = nodes[child.tag]
        match = None
        if node.keyword in ("container", "list"):
            keys = [child.findtext(f"{V}{key}") for key in node.keys]
            match = next((c for c in target.iterfind(child.tag)
                          if [c.findtext(f"{V}{key}") for key in node.keys] == keys), None)
        if match is None:
            target.append(child)
        elif node.keyword == "list":
            merge(match, _without_keys(child, node), node.children)
        else:
            merge(match, child, node.children)


def _without_keys(entry: etree._Element, node: SchemaNode) -> etree._Element:
    for key in node.keys:
        entry.remove(entry.find(f"{V}{key}"))
    return entry


def operational_document(config: Tree, state: list[etree._Element]) -> str:
    """Configuration (as the client set it) merged with rendered state: a `<data>` reply."""
    schema = compiled_schema()
    root = load_instance(schema, etree.fromstring(to_xml(config).encode()), fill_defaults=False)
    merged = etree.Element(f"{{{NC}}}data", nsmap={None: NC})
    for top in root:
        merged.append(top)
    merge(merged, _copies(state), schema.roots)
    return etree.tostring(merged).decode()


def _copies(state: list[etree._Element]) -> etree._Element:
    """Copies of the rendered tops under one holder (merging consumes them)."""
    holder = etree.Element("holder")
    for top in state:
        holder.append(etree.fromstring(etree.tostring(top)))
    return holder


def assert_valid(config: Tree, state: list[etree._Element]) -> None:
    ok, message = yanglint_validate(operational_document(config, state), datastore="data")
    assert ok, message


# --------------------------------------------------------------------------- validity


def test_rendered_state_of_the_lab_upe_validates_as_operational_data(upe: Device) -> None:
    assert_valid(upe_config(), device_state(upe, EVERYTHING, 4.5))


def test_state_after_a_switchover_validates_as_operational_data(upe: Device) -> None:
    upe.switchover("iptv", BACKUP, 5.0)
    assert_valid(upe_config(), device_state(upe, StateSelection.of_vsis({"iptv"}), 6.0, epoch=1_764_000_000.0))


def test_vsi_without_snooping_has_statistics_but_no_group_tables() -> None:
    config = upe_config()
    vsi = config["vsis"]["vsi"][0]
    vsi["igmp-snooping"] = {"enable": "false"}
    device = Device("upe", "02:00:00:00:00:03", UPE_ADDRESS)
    device.apply(device_config(load_instance(compiled_schema(), etree.fromstring(to_xml(config).encode()))), 0.0)
    device.receive("pw-spe1", data(G1), 1.0)
    state = render(device, 2.0)
    snooping = one(state, "//v:igmp-snooping")
    assert [etree.QName(c).localname for c in snooping] == ["statistics"]
    assert text(snooping, "v:statistics/v:data/v:forwarded") == "1"
    assert_valid(config, [state])


# --------------------------------------------------------------------------- groups


def test_report_on_standby_pw_is_learned_but_not_forwarding(upe: Device) -> None:
    port = member(render(upe, 4.5), G3, "pw-spe2")
    assert text(port, "v:forwarding") == "false"
    assert text(port, "v:learned-on-backup") == "true"
    assert text(port, "v:flag") == "dynamic"


def test_member_on_an_ac_forwards_and_was_not_learned_on_backup(upe: Device) -> None:
    port = member(render(upe, 4.5), G3, "ac2")
    assert (text(port, "v:forwarding"), text(port, "v:learned-on-backup")) == ("true", "false")


def test_dynamic_members_have_expires_and_static_members_do_not(upe: Device) -> None:
    state = render(upe, 4.5)
    static = member(state, G1, "ac1")
    assert (text(static, "v:flag"), text(static, "v:expires")) == ("static", None)
    # learned at 1.0, group membership interval 2 x 60 + 10 = 130 s: expires at 131.0
    dynamic = member(state, G2, "ac1")
    assert (text(dynamic, "v:flag"), text(dynamic, "v:up-time"), text(dynamic, "v:expires")) == ("dynamic", "3", "127")


def test_entries_learned_on_standby_forward_after_the_switchover(upe: Device) -> None:
    upe.switchover("iptv", BACKUP, 5.0)
    state = render(upe, 6.0)
    port = member(state, G3, "pw-spe2")
    assert (text(port, "v:forwarding"), text(port, "v:learned-on-backup")) == ("true", "true")
    assert text(state, "//v:pw[v:peer-address='10.0.0.2']/v:forwarding-state") == "active"
    assert text(state, "//v:pw[v:peer-address='10.0.0.1']/v:forwarding-state") == "standby"


def test_group_rows_carry_address_mac_up_time_and_last_reporter(upe: Device) -> None:
    row = one(render(upe, 4.5), f"//v:group[v:group-address='{G3}']")
    assert text(row, "v:source-address") == "0.0.0.0"
    assert text(row, "v:mac-address") == "01:00:5e:01:01:03"
    assert text(row, "v:up-time") == "3"
    assert text(row, "v:last-reporter") == "192.168.0.7"
    static_row = one(render(upe, 4.5), f"//v:group[v:group-address='{G1}']")
    assert text(static_row, "v:last-reporter") is None


def test_entries_count_matches_the_device(upe: Device) -> None:
    snooping = upe.vsis["iptv"].snooping
    assert snooping is not None
    state = render(upe, 4.5)
    assert text(state, "//v:entries-count") == str(snooping.entry_count) == "3"
    rows = {(text(g, "v:group-address"), text(g, "v:source-address")) for g in state.iterfind(f".//{V}group")}
    assert rows == {(G1, "0.0.0.0"), (G2, "0.0.0.0"), (G3, "0.0.0.0")}


# --------------------------------------------------------------------------- router ports, querier


def test_static_router_port_has_no_expires(upe: Device) -> None:
    port = one(render(upe, 4.5), "//v:router-port[v:interface='pw-spe1']")
    assert (text(port, "v:type"), text(port, "v:via-backup"), text(port, "v:expires")) == ("static", "false", None)


def test_query_on_standby_pw_makes_a_via_backup_router_port(upe: Device) -> None:
    port = one(render(upe, 4.5), "//v:router-port[v:interface='pw-spe2']")
    # heard at 2.0, router-aging-time 180 s
    assert (text(port, "v:type"), text(port, "v:via-backup")) == ("dynamic", "true")
    assert (text(port, "v:up-time"), text(port, "v:expires")) == ("2", "178")


def test_querier_heard_on_the_segment_is_reported(upe: Device) -> None:
    querier = one(render(upe, 4.5), "//v:querier")
    assert (text(querier, "v:address"), text(querier, "v:is-self")) == (ROUTER_IP, "false")


def test_querier_is_self_when_this_device_queries() -> None:
    config = upe_config()
    config["vsis"]["vsi"][0]["igmp-snooping"]["querier-enable"] = "true"
    device = Device("upe", "02:00:00:00:00:03", UPE_ADDRESS)
    device.apply(device_config(load_instance(compiled_schema(), etree.fromstring(to_xml(config).encode()))), 0.0)
    state = device_state(device, StateSelection.of_vsis({"iptv"}), 1.0)
    querier = one(state[0], "//v:querier")
    assert (text(querier, "v:address"), text(querier, "v:is-self")) == (UPE_ADDRESS, "true")
    assert_valid(config, state)


def test_no_querier_address_before_any_query() -> None:
    device = Device("upe", "02:00:00:00:00:03", UPE_ADDRESS)
    device.apply(device_config(upe_tree()), 0.0)
    querier = one(render(device, 1.0), "//v:querier")
    assert (text(querier, "v:address"), text(querier, "v:is-self")) == (None, "false")


# --------------------------------------------------------------------------- ports


def test_pw_state_is_oper_status_forwarding_state_and_remote_status(upe: Device) -> None:
    state = render(upe, 4.5)
    primary = one(state, "//v:pw[v:peer-address='10.0.0.1'][v:vc-id='100']")
    backup = one(state, "//v:pw[v:peer-address='10.0.0.2'][v:vc-id='100']")
    assert [text(primary, f"v:{leaf}") for leaf in ("oper-status", "forwarding-state", "remote-status")] == \
        ["up", "active", "unknown"]
    assert [text(backup, f"v:{leaf}") for leaf in ("oper-status", "forwarding-state", "remote-status")] == \
        ["up", "standby", "unknown"]


def test_a_port_without_carrier_is_oper_status_down(upe: Device) -> None:
    upe.link_state("ac2", False, 5.0)
    upe.link_state("pw-spe1", False, 5.0)
    state = render(upe, 5.0)
    assert text(state, "//v:ac[v:interface='ac2']/v:oper-status") == "down"
    assert text(state, "//v:ac[v:interface='ac1']/v:oper-status") == "up"
    assert text(state, "//v:pw[v:peer-address='10.0.0.1']/v:oper-status") == "down"


def test_mac_table_lists_learned_addresses_with_port_and_age(upe: Device) -> None:
    vsi = upe.vsis["iptv"]
    state = render(upe, 4.5)
    entries = {text(e, "v:mac-address"): (text(e, "v:interface"), text(e, "v:age"))
               for e in state.iterfind(f".//{V}mac-table/{V}entry")}
    assert entries == {mac.hex(":"): (entry.port.name, str(int(4.5 - entry.seen)))
                       for mac, entry in vsi.mac_table.items()}
    assert entries[host_mac(1).hex(":")] == ("ac1", "3")
    assert text(state, "//v:mac-table/v:mac-moves") == str(vsi.mac_moves)


# --------------------------------------------------------------------------- statistics


def test_counters_match_the_device_statistics(upe: Device) -> None:
    counters = upe.vsis["iptv"].stats.as_dict()
    stats = one(render(upe, 4.5), "//v:statistics")
    for container, leaves in COUNTERS:
        for leaf, key in leaves:
            path = f"v:{container}/v:{leaf}" if container else f"v:{leaf}"
            assert text(stats, path) == str(counters[key]), path
    invalid = counters["invalid"]
    assert isinstance(invalid, dict)
    for leaf, reasons in INVALID_REASONS.items():
        assert text(stats, f"v:invalid/v:{leaf}") == str(sum(invalid.get(r, 0) for r in reasons))
    # the traffic of the fixture, counted
    assert text(stats, "v:received/v:reports-v2") == "3"
    assert text(stats, "v:standby-pw/v:reports-received") == "1"
    assert text(stats, "v:standby-pw/v:queries-received") == "1"
    assert text(stats, "v:data/v:forwarded") == "1"
    assert text(stats, "v:invalid/v:truncated") == "1"
    assert text(stats, "v:last-switchover") is None


def test_last_switchover_is_a_date_from_the_epoch(upe: Device) -> None:
    upe.switchover("iptv", BACKUP, 5.25)
    stats = one(render(upe, 6.0, epoch=1_764_000_000.0), "//v:statistics")
    assert text(stats, "v:switchovers") == "1"
    assert text(stats, "v:last-switchover") == "2025-11-24T16:00:05.250Z"


def below(top: etree._Element, el: etree._Element) -> str:
    """``a/b/leaf``: local names from just below ``top`` down to ``el``."""
    steps = [etree.QName(el).localname]
    for ancestor in el.iterancestors():
        if ancestor is top:
            break
        steps.append(etree.QName(ancestor).localname)
    return "/".join(reversed(steps))


def statistics_leaves(node: SchemaNode, above: str = "") -> set[str]:
    out: set[str] = set()
    for child in node.children.values():
        path = f"{above}/{child.name}" if above else child.name
        out |= {path} if child.is_leaf else statistics_leaves(child, path)
    return out


def test_every_statistics_leaf_is_rendered_or_listed_as_uncounted(upe: Device) -> None:
    upe.switchover("iptv", BACKUP, 5.0)
    stats = one(render(upe, 6.0), "//v:statistics")
    rendered = {below(stats, el) for el in stats.iter() if len(el) == 0}
    schema_stats = compiled_schema().roots[f"{V}vsis"].children[f"{V}vsi"].children[f"{V}igmp-snooping"] \
        .children[f"{V}statistics"]
    assert rendered == statistics_leaves(schema_stats) - UNCOUNTED_STATISTICS
    assert not rendered & UNCOUNTED_STATISTICS


# --------------------------------------------------------------------------- selection


class RecordingVsis(dict):  # type: ignore[type-arg]
    """Device.vsis that records the names looked up and refuses to be walked."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.looked_up: list[str] = []

    def get(self, key: Any, default: Any = None) -> Any:
        self.looked_up.append(key)
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self.looked_up.append(key)
        return super().__getitem__(key)

    def _walk(self, *args: Any) -> Any:
        raise AssertionError("every VSI was walked")

    __iter__ = values = items = keys = _walk  # type: ignore[assignment]


def three_vsis() -> Device:
    device = Device("pe", "02:00:00:00:00:03", UPE_ADDRESS)
    vsis = tuple(VsiConfig(name, acs=(AcConfig(f"{name}-ac"),), igmp=IgmpSnoopingConfig(enable=True))
                 for name in ("a", "b", "c"))
    device.apply(DeviceConfig(igmp_snooping_enable=True, vsis=vsis), 0.0)
    return device


def test_a_selection_reads_only_the_named_vsis() -> None:
    device = three_vsis()
    device.vsis = RecordingVsis(device.vsis)
    state = render(device, 1.0, {"b", "no-such-vsi"})
    assert sorted(device.vsis.looked_up) == ["b", "no-such-vsi"]
    assert state.xpath("v:vsi/v:name/text()", namespaces=NS) == ["b"]


def test_no_selection_renders_every_vsi() -> None:
    state = render(three_vsis(), 1.0)
    assert state.xpath("v:vsi/v:name/text()", namespaces=NS) == ["a", "b", "c"]


def test_vsi_state_renders_one_vsi_under_vsis() -> None:
    tops = vsi_state(three_vsis(), "c", 1.0)
    assert [t.tag for t in tops] == [f"{V}vsis"]
    assert tops[0].xpath("v:vsi/v:name/text()", namespaces=NS) == ["c"]


def test_an_unknown_vsi_renders_nothing() -> None:
    assert vsi_state(three_vsis(), "zz", 1.0) == []
    assert device_state(three_vsis(), StateSelection.of_vsis(()), 1.0) == []


def test_one_namespace_declaration_at_the_top(upe: Device) -> None:
    xml = etree.tostring(render(upe, 4.5)).decode()
    assert xml.count("xmlns") == 1 and xml.startswith(f'<vsis xmlns="{VL2MC}">')


def test_rendering_changes_nothing_in_the_device(upe: Device) -> None:
    vsi = upe.vsis["iptv"]
    before = (vsi.stats.as_dict(), len(vsi.mac_table), upe.next_deadline())
    first = etree.tostring(render(upe, 4.5))
    assert etree.tostring(render(upe, 4.5)) == first
    assert (vsi.stats.as_dict(), len(vsi.mac_table), upe.next_deadline()) == before


def test_names_from_the_configuration_are_escaped() -> None:
    device = Device("pe", "02:00:00:00:00:03", UPE_ADDRESS)
    device.apply(DeviceConfig(vsis=(VsiConfig("v", acs=(AcConfig("a<&>b"),)),)), 0.0)
    assert text(render(device, 1.0), "//v:ac/v:interface") == "a<&>b"


# --------------------------------------------------------------------------- selection of group rows


class RecordingGroups:
    """``snooping.groups`` that records the groups looked up and refuses to be walked."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.looked_up: list[int] = []

    def get(self, group: int, default: Any = None) -> Any:
        self.looked_up.append(group)
        return self.table.get(group, default)

    def _walk(self, *args: Any) -> Any:
        raise AssertionError("the whole group table was walked")

    __iter__ = __len__ = items = keys = values = __getitem__ = _walk


def rows(state: etree._Element) -> list[tuple[str | None, str | None]]:
    return [(g.findtext(f"{V}group-address"), g.findtext(f"{V}source-address")) for g in state.iter(f"{V}group")]


def only_groups(*keys: tuple[str, str | None], mac_table: bool = False) -> StateSelection:
    return StateSelection.of_vsis({"iptv"}, VsiParts(groups=frozenset(keys), mac_table=mac_table))


def sg_device() -> Device:
    """The UPE with (S,G) rows too: host 3 on ac2 joins G1 from two sources (IGMPv3 INCLUDE)."""
    config = upe_config()
    config["vsis"]["vsi"][0]["igmp-snooping"]["version"] = "3"
    device = Device("upe", "02:00:00:00:00:03", UPE_ADDRESS)
    device.apply(device_config(load_instance(compiled_schema(), etree.fromstring(to_xml(config).encode()))), 0.0)
    device.receive("ac1", report(G2, host=1), 1.0)
    device.receive("ac2", v3_report([(RecordType.ALLOW_NEW_SOURCES, G3, ("10.9.9.2", "10.9.9.1"))], host=3), 1.0)
    return device


def test_named_group_rows_are_looked_up_by_key_never_by_walking_the_table(upe: Device) -> None:
    snooping = upe.vsis["iptv"].snooping
    assert snooping is not None
    snooping.groups = RecordingGroups(snooping.groups)  # type: ignore[assignment]
    state = render_selection(upe, only_groups((G2, None), ("239.9.9.9", None)))
    assert rows(state) == [(G2, "0.0.0.0")]
    assert sorted(snooping.groups.looked_up) == [ip_int(G2), ip_int("239.9.9.9")]  # type: ignore[attr-defined]


def test_a_group_named_without_source_renders_every_source_of_it() -> None:
    state = render_selection(sg_device(), only_groups((G3, None)))
    assert rows(state) == [(G3, "10.9.9.1"), (G3, "10.9.9.2")]


def test_a_group_named_with_a_source_renders_that_row_only() -> None:
    device = sg_device()
    assert rows(render_selection(device, only_groups((G3, "10.9.9.2")))) == [(G3, "10.9.9.2")]
    assert rows(render_selection(device, only_groups((G3, "10.9.9.7")))) == []
    both = [(G3, "10.9.9.1"), (G3, "10.9.9.2")]
    assert rows(render_selection(device, only_groups((G3, "10.9.9.2"), (G3, None)))) == both
    assert rows(render_selection(device, only_groups((G3, "10.9.9.2"), (G3, "10.9.9.1")))) == both


def test_source_0_0_0_0_names_the_any_source_row(upe: Device) -> None:
    assert rows(render_selection(upe, only_groups((G2, "0.0.0.0")))) == [(G2, "0.0.0.0")]


def test_a_key_that_is_not_a_dotted_quad_names_no_row(upe: Device) -> None:
    selection = only_groups(("239.001.1.2", None), ("x", None), (G2, "nope"), ("", "0.0.0.0"))
    assert rows(render_selection(upe, selection)) == []


def test_no_group_table_selected_renders_no_row_but_the_rest_of_the_vsi(upe: Device) -> None:
    state = render_selection(upe, only_groups())
    assert rows(state) == []
    assert text(state, "//v:entries-count") == "3"   # counted by the device, not from the rows
    assert one(state, "//v:statistics") is not None and one(state, "//v:querier") is not None
    assert state.find(f".//{V}mac-table") is None


def test_the_mac_table_is_rendered_only_when_selected(upe: Device) -> None:
    assert one(render_selection(upe, only_groups(mac_table=True)), "//v:mac-table") is not None
    assert render_selection(upe, only_groups()).find(f".//{V}mac-table") is None


def test_rows_of_the_whole_table_are_in_group_then_source_order() -> None:
    device = sg_device()
    device.receive("ac1", report(G1.replace(".1", ".0", 1), host=2), 2.0)   # 239.0.1.1: learned last, sorts first
    got = rows(render(device, 3.0))
    assert got == sorted(got, key=lambda r: (ip_int(r[0] or ""), ip_int(r[1] or "")))
    assert got[0][0] == "239.0.1.1"


def test_a_selection_renders_the_rows_exactly_as_the_whole_table_has_them() -> None:
    device = sg_device()
    whole = {(g.findtext(f"{V}group-address"), g.findtext(f"{V}source-address")): etree.tostring(g)
             for g in render(device, 3.0).iter(f"{V}group")}
    for key, xml in whole.items():
        selected = list(render_selection(device, only_groups(key), now=3.0).iter(f"{V}group"))
        assert [etree.tostring(g) for g in selected] == [xml]


def test_a_named_vsi_gets_its_own_parts_and_those_selected_for_every_vsi(upe: Device) -> None:
    selection = only_groups((G2, None)).union(StateSelection(other_vsis=VsiParts(groups=frozenset({(G3, None)}),
                                                                                   mac_table=False)))
    assert rows(render_selection(upe, selection)) == [(G2, "0.0.0.0"), (G3, "0.0.0.0")]


def render_selection(device: Device, selection: StateSelection, now: float = 4.5) -> etree._Element:
    tops = device_state(device, selection, now)
    assert len(tops) == 1
    return tops[0]
