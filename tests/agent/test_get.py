"""RFC 6241 7.1 get-config and 7.7 get over real SSH with ncclient: filters of every kind,
state merged from the state provider, and precise errors for bad requests."""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from agent.state_provider import EVERYTHING, NO_PARTS, StateSelection, VsiParts
from agent.xmlns import MONITORING, NC, ORIGIN, VL2MC, YANG_LIBRARY

V = VL2MC
VSIS = f"{{{V}}}vsis"
VSI = f"{{{V}}}vsi"
NAME = f"{{{V}}}name"

CONFIG = f"""
<config xmlns="{NC}">
  <l2-multicast xmlns="{V}"><igmp-snooping-enable>true</igmp-snooping-enable></l2-multicast>
  <vsis xmlns="{V}">
    <vsi><name>a</name><description>first</description>
      <acs><ac><interface>ac1</interface></ac><ac><interface>ac2</interface></ac></acs>
      <igmp-snooping><enable>true</enable><version>3</version></igmp-snooping></vsi>
    <vsi><name>b</name><description>second</description></vsi>
    <vsi><name>c</name></vsi>
  </vsis>
</config>
"""


def data_of(reply) -> etree._Element:
    root = etree.fromstring(reply.xml.encode())
    data = root.find(f"{{{NC}}}data")
    assert data is not None, reply.xml
    return data


def vsi_names(data: etree._Element) -> list[str]:
    return [vsi.findtext(NAME) for vsi in data.iter(VSI)]


@pytest.fixture
def configured(nc):
    nc.edit_config(target="running", config=CONFIG)
    return nc


class RecordingProvider:
    """A state provider that reports AC oper-status and remembers the selections it was given."""

    def __init__(self) -> None:
        self.calls: list[StateSelection] = []

    def operational(self, selection: StateSelection) -> list[etree._Element]:
        self.calls.append(selection)
        vsis = etree.Element(VSIS, nsmap={None: V})
        for name in ("a", "b", "c"):
            if selection.parts(name) is None:
                continue
            vsi = etree.SubElement(vsis, VSI)
            etree.SubElement(vsi, NAME).text = name
            if name == "a":
                acs = etree.SubElement(vsi, f"{{{V}}}acs")
                for interface, status in (("ac1", "up"), ("ac2", "down")):
                    ac = etree.SubElement(acs, f"{{{V}}}ac")
                    etree.SubElement(ac, f"{{{V}}}interface").text = interface
                    etree.SubElement(ac, f"{{{V}}}oper-status").text = status
            snooping = etree.SubElement(vsi, f"{{{V}}}igmp-snooping")
            count = etree.SubElement(snooping, f"{{{V}}}entries-count", nsmap={"or": ORIGIN})
            count.set(f"{{{ORIGIN}}}origin", "or:system")  # a provider may state an origin
            count.text = "0"
        return [vsis]


@pytest.fixture
def provider(agent_server):
    recording = RecordingProvider()
    agent_server.run(lambda: setattr(agent_server.server, "state", recording))
    return recording


# --- get-config --------------------------------------------------------------------------------

def test_get_config_without_filter_returns_the_whole_running_configuration(configured):
    data = data_of(configured.get_config(source="running"))
    assert vsi_names(data) == ["a", "b", "c"]
    assert data.find(f"{{{MONITORING}}}netconf-state") is None


def test_get_config_reads_candidate_and_startup(configured):
    configured.edit_config(target="candidate", config=f'<config xmlns="{NC}"><vsis xmlns="{V}"><vsi><name>z</name>'
                                                      f'</vsi></vsis></config>')
    assert "z" in vsi_names(data_of(configured.get_config(source="candidate")))
    assert "z" not in vsi_names(data_of(configured.get_config(source="running")))
    assert vsi_names(data_of(configured.get_config(source="startup"))) == []


def test_empty_subtree_filter_selects_nothing(configured):
    assert len(data_of(configured.get_config(source="running", filter=f'<filter xmlns="{NC}" type="subtree"/>'))) == 0


def test_selection_node_returns_the_whole_top_level_subtree(configured):
    data = data_of(configured.get_config(source="running", filter=("subtree", f'<vsis xmlns="{V}"/>')))
    assert [etree.QName(c).localname for c in data] == ["vsis"]
    assert vsi_names(data) == ["a", "b", "c"]


def test_key_content_match_selects_one_list_entry(configured):
    data = data_of(configured.get_config(source="running", filter=(
        "subtree", f'<vsis xmlns="{V}"><vsi><name>b</name></vsi></vsis>')))
    assert vsi_names(data) == ["b"]
    assert data.findtext(f".//{{{V}}}description") == "second"


def test_containment_and_selection_nodes_return_only_the_selected_leaf_with_keys(configured):
    data = data_of(configured.get_config(source="running", filter=(
        "subtree", f'<vsis xmlns="{V}"><vsi><description/></vsi></vsis>')))
    for vsi in data.iter(VSI):
        assert [etree.QName(c).localname for c in vsi] == ["name", "description"]
    assert vsi_names(data) == ["a", "b"]


def test_sibling_content_matches_are_anded(configured):
    f = f'<vsis xmlns="{V}"><vsi><name>a</name><description>second</description></vsi></vsis>'
    assert vsi_names(data_of(configured.get_config(source="running", filter=("subtree", f)))) == []
    f = f'<vsis xmlns="{V}"><vsi><name>b</name><description>second</description></vsi></vsis>'
    assert vsi_names(data_of(configured.get_config(source="running", filter=("subtree", f)))) == ["b"]


def test_content_match_on_nested_list_key(configured):
    f = f'<vsis xmlns="{V}"><vsi><name>a</name><acs><ac><interface>ac2</interface></ac></acs></vsi></vsis>'
    data = data_of(configured.get_config(source="running", filter=("subtree", f)))
    assert [ac.findtext(f"{{{V}}}interface") for ac in data.iter(f"{{{V}}}ac")] == ["ac2"]


def test_namespace_of_the_filter_must_match(configured):
    f = '<vsis xmlns="urn:example:not-ours"/>'
    assert len(data_of(configured.get_config(source="running", filter=("subtree", f)))) == 0


def test_filter_written_without_namespaces_matches_by_local_name(configured):
    data = data_of(configured.get_config(source="running", filter=("subtree", "<vsis><vsi><name>c</name></vsi></vsis>")))
    assert vsi_names(data) == ["c"]
    assert data.find(VSIS) is not None


def test_xpath_filter_with_key_predicate_selects_one_vsi(configured):
    data = data_of(configured.get_config(source="running", filter=(
        "xpath", ({"vl2mc": V}, "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']"))))
    assert vsi_names(data) == ["a"]
    assert data.findtext(f".//{{{V}}}description") == "first"


def test_xpath_filter_result_leaf_comes_with_ancestors_and_keys(configured):
    data = data_of(configured.get_config(source="running", filter=(
        "xpath", ({"vl2mc": V}, "/vl2mc:vsis/vl2mc:vsi/vl2mc:description"))))
    assert [[etree.QName(c).localname for c in vsi] for vsi in data.iter(VSI)] == [["name", "description"]] * 2


def test_bad_xpath_is_bad_attribute_and_names_the_expression(configured):
    with pytest.raises(RPCError) as err:
        configured.get_config(source="running", filter=("xpath", ({"vl2mc": V}, "/vl2mc:vsis[")))
    assert err.value.tag == "bad-attribute"
    assert "/vl2mc:vsis[" in err.value.message


def test_unknown_filter_type_is_bad_attribute(agent_server, raw_netconf):
    raw = raw_netconf()
    raw.hello()
    reply = raw.rpc('<get-config><source><running/></source><filter type="regex">.*</filter></get-config>')
    assert reply.findtext(f".//{{{NC}}}error-tag") == "bad-attribute"
    assert reply.findtext(f".//{{{NC}}}bad-attribute") == "type"


def test_unknown_parameter_of_get_is_unknown_element(agent_server, raw_netconf):
    raw = raw_netconf()
    raw.hello()
    reply = raw.rpc("<get><depth>3</depth></get>")
    assert reply.findtext(f".//{{{NC}}}error-tag") == "unknown-element"
    assert reply.findtext(f".//{{{NC}}}bad-element") == "depth"


def test_internal_default_marks_never_reach_the_wire(configured, agent_server, raw_netconf):
    raw = raw_netconf()
    raw.hello()
    for body in ("<get-config><source><running/></source></get-config>", "<get/>",
                 '<get-config><source><running/></source><with-defaults xmlns="urn:ietf:params:xml:ns:yang:'
                 'ietf-netconf-with-defaults">report-all</with-defaults></get-config>'):
        text = etree.tostring(raw.rpc(body)).decode()
        assert "urn:vsi-multicast-agent:internal" not in text


# --- get -----------------------------------------------------------------------------------------

def test_get_includes_server_state_that_get_config_does_not(configured):
    data = data_of(configured.get())
    assert data.find(f"{{{MONITORING}}}netconf-state") is not None
    assert data.find(f"{{{YANG_LIBRARY}}}yang-library") is not None
    assert vsi_names(data) == ["a", "b", "c"]


def test_get_merges_provider_state_into_config_by_list_keys(configured, provider):
    f = f'<vsis xmlns="{V}"><vsi><name>a</name><acs/></vsi></vsis>'
    data = data_of(configured.get(filter=("subtree", f)))
    acs = [(ac.findtext(f"{{{V}}}interface"), ac.findtext(f"{{{V}}}oper-status")) for ac in data.iter(f"{{{V}}}ac")]
    assert acs == [("ac1", "up"), ("ac2", "down")]


def test_content_match_on_state_leaf_selects_entries(configured, provider):
    f = f'<vsis xmlns="{V}"><vsi><acs><ac><oper-status>down</oper-status></ac></acs></vsi></vsis>'
    data = data_of(configured.get(filter=("subtree", f)))
    assert vsi_names(data) == ["a"]
    assert [ac.findtext(f"{{{V}}}interface") for ac in data.iter(f"{{{V}}}ac")] == ["ac2"]


def test_subtree_filter_tells_the_provider_which_vsi_it_selects(configured, provider):
    configured.get(filter=("subtree", f'<vsis xmlns="{V}"><vsi><name>b</name></vsi></vsis>'))
    assert provider.calls[-1] == StateSelection.of_vsis({"b"}, tags={VSIS})


def test_xpath_filter_tells_the_provider_which_vsi_it_selects(configured, provider):
    data = data_of(configured.get(filter=("xpath", ({"vl2mc": V}, "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']"))))
    assert provider.calls[-1] == StateSelection.of_vsis({"a"}, tags={VSIS})
    assert vsi_names(data) == ["a"]


def test_origin_stated_by_the_provider_is_not_on_the_wire_of_get(configured, provider, agent_server, raw_netconf):
    raw = raw_netconf()
    raw.hello()
    reply = raw.rpc("<get/>")
    assert list(reply.iter(f"{{{V}}}entries-count"))
    assert reply.xpath("//@*[namespace-uri() = $ns]", ns=ORIGIN) == []


def test_get_without_filter_asks_the_provider_for_everything(configured, provider):
    configured.get()
    assert provider.calls[-1] == EVERYTHING


def test_filter_on_monitoring_subtree_does_not_ask_for_vsis(configured, provider):
    data = data_of(configured.get(filter=("subtree", f'<netconf-state xmlns="{MONITORING}"><sessions/></netconf-state>')))
    assert provider.calls[-1].tags == {f"{{{MONITORING}}}netconf-state"}
    assert provider.calls[-1].vsi_names == frozenset()
    assert len(list(data.iter(f"{{{MONITORING}}}session"))) >= 1


def test_read_hooks_see_every_retrieval_reply_and_may_remove_nodes(configured):
    """The plug-in point for RFC 8341 read access control."""
    from agent.netconf_get import READ_HOOKS

    def hide_vsi_b(ctx, data):
        for vsi in list(data.iter(VSI)):
            if vsi.findtext(NAME) == "b":
                vsi.getparent().remove(vsi)

    READ_HOOKS.append(hide_vsi_b)
    try:
        assert vsi_names(data_of(configured.get_config(source="running"))) == ["a", "c"]
        assert vsi_names(data_of(configured.get())) == ["a", "c"]
    finally:
        READ_HOOKS.remove(hide_vsi_b)
    assert vsi_names(data_of(configured.get())) == ["a", "b", "c"]


def test_state_in_a_container_that_held_only_defaults_is_reported_without_the_defaults(configured, provider):
    data = data_of(configured.get(filter=("subtree", f'<vsis xmlns="{V}"><vsi><name>c</name></vsi></vsis>')))
    snooping = data.find(f"{VSIS}/{VSI}/{{{V}}}igmp-snooping")
    assert [etree.QName(c).localname for c in snooping] == ["entries-count"]


def test_state_entries_missing_from_config_are_added_with_their_keys():
    from agent.netconf_get import merge_state
    from tests.agent.test_subtree_filter import mini_schema

    config = etree.fromstring(f'<vsis xmlns="{V}"><vsi><name>a</name><acs><ac><interface>ac1</interface>'
                              f'</ac></acs></vsi></vsis>')
    state = etree.fromstring(f'<vsis xmlns="{V}"><vsi><name>a</name><acs><ac><interface>ac1</interface>'
                             f'<oper-status>up</oper-status></ac><ac><interface>ac9</interface>'
                             f'<oper-status>down</oper-status></ac></acs></vsi></vsis>')
    merge_state(config, state, mini_schema().roots[VSIS], origin="learned")
    acs = [(ac.findtext(f"{{{V}}}interface"), ac.findtext(f"{{{V}}}oper-status")) for ac in config.iter(f"{{{V}}}ac")]
    assert acs == [("ac1", "up"), ("ac9", "down")]
    assert len(config.findall(VSI)) == 1


# --- the <source> of get-config (RFC 6241 7.1) ---------------------------------------------------

def get_config_op(source_body: str) -> etree._Element:
    return etree.fromstring(f'<get-config xmlns="{NC}"><source>{source_body}</source></get-config>')


@pytest.mark.parametrize("name", ["running", "candidate", "startup"])
def test_get_config_source_names_one_of_the_three_datastores(name):
    from agent.netconf_get import get_config_source

    assert get_config_source(get_config_op(f"<{name}/>")) == name


@pytest.mark.parametrize("body, tag", [
    ("", "missing-element"),                           # names no datastore
    ("<running/><candidate/>", "bad-element"),          # more than one
    ("<url>file:///tmp/x</url>", "operation-not-supported"),
    ("<config/>", "invalid-value"),                     # inline config is not a get-config source
    (f'<running xmlns="{VL2MC}"/>', "invalid-value"),   # right name, wrong namespace
])
def test_get_config_source_that_is_not_one_datastore_is_answered_with_a_precise_error(body, tag):
    from agent.errors import RpcError
    from agent.netconf_get import get_config_source

    with pytest.raises(RpcError) as err:
        get_config_source(get_config_op(body))
    assert err.value.tag.value == tag


def test_get_config_without_source_is_missing_element():
    from agent.errors import RpcError
    from agent.netconf_get import get_config_source

    with pytest.raises(RpcError) as err:
        get_config_source(etree.fromstring(f'<get-config xmlns="{NC}"/>'))
    assert err.value.tag.value == "missing-element"


def test_xpath_filter_without_the_xpath_capability_is_bad_attribute_and_subtree_does_not_ask():
    from agent.errors import RpcError
    from agent.netconf_get import parse_filter

    asked: list[bool] = []

    def capability() -> bool:
        asked.append(True)
        return False

    xpath = etree.fromstring(f'<get xmlns="{NC}"><filter type="xpath" select="/x"/></get>')
    with pytest.raises(RpcError) as err:
        parse_filter(xpath, None, xpath_enabled=capability)
    assert err.value.tag.value == "bad-attribute" and asked == [True]
    subtree = etree.fromstring(f'<get xmlns="{NC}"><filter type="subtree"/></get>')
    assert parse_filter(subtree, None, xpath_enabled=capability) is not None
    assert asked == [True]


# --- hints: what the filter can select reaches the provider, down to the group rows ----------

ONE_GROUP_SUBTREE = (f'<vsis xmlns="{V}"><vsi><name>a</name><igmp-snooping><group>'
                     f'<group-address>239.1.2.3</group-address></group></igmp-snooping></vsi></vsis>')
ONE_GROUP_XPATH = "/v:vsis/v:vsi[v:name='a']/v:igmp-snooping/v:group[v:group-address='239.1.2.3']"


def test_a_filter_for_one_group_asks_the_provider_for_that_row_only(configured, provider):
    configured.get(filter=("subtree", ONE_GROUP_SUBTREE))
    by_subtree = provider.calls[-1]
    configured.get(filter=("xpath", ({"v": V}, ONE_GROUP_XPATH)))
    assert provider.calls[-1] == by_subtree
    assert by_subtree == StateSelection.of_vsis(
        {"a"}, VsiParts(groups=frozenset({("239.1.2.3", None)}), mac_table=False), tags={VSIS})


def test_a_filter_that_selects_no_group_table_asks_for_no_row(configured, provider):
    configured.get(filter=("subtree", f'<vsis xmlns="{V}"><vsi><name>a</name><pws/></vsi></vsis>'))
    assert provider.calls[-1].parts("a") == NO_PARTS
    configured.get(filter=("xpath", ({"v": V}, "/v:vsis/v:vsi/v:igmp-snooping/v:statistics")))
    assert provider.calls[-1].parts("b") == NO_PARTS


def test_named_vsis_are_reported_in_the_order_of_running(nc, provider):
    nc.edit_config(target="running", config=f'<config xmlns="{NC}"><vsis xmlns="{V}"><vsi><name>c</name></vsi>'
                                            f'<vsi><name>a</name></vsi><vsi><name>b</name></vsi></vsis></config>')
    whole = vsi_names(data_of(nc.get()))
    f = f'<vsis xmlns="{V}"><vsi><name>b</name></vsi><vsi><name>c</name></vsi><vsi><name>a</name></vsi></vsis>'
    assert vsi_names(data_of(nc.get(filter=("subtree", f)))) == whole == ["c", "a", "b"]


# The differential rule: hints never change a reply.  Every filter is answered twice from the
# same dataplane state at the same instant, once with the hints derived from it and once with
# "everything"; the replies must be identical, byte for byte.

HINTED_CONFIG = f"""
<config xmlns="{NC}">
  <l2-multicast xmlns="{V}"><igmp-snooping-enable>true</igmp-snooping-enable></l2-multicast>
  <vsis xmlns="{V}">
    <vsi><name>c</name><description>x</description>
      <acs><ac><interface>c1</interface></ac><ac><interface>c2</interface></ac></acs>
      <igmp-snooping><enable>true</enable><version>3</version>
        <static-group><group-address>239.1.1.1</group-address><source-address>0.0.0.0</source-address>
          <interface>c1</interface></static-group></igmp-snooping></vsi>
    <vsi><name>a</name><acs><ac><interface>a1</interface></ac><ac><interface>a2</interface></ac></acs>
      <igmp-snooping><enable>true</enable><version>3</version></igmp-snooping></vsi>
    <vsi><name>d</name><acs><ac><interface>d1</interface></ac></acs></vsi>
    <vsi><name>b</name><description>y</description><acs><ac><interface>b1</interface></ac></acs>
      <igmp-snooping><enable>true</enable></igmp-snooping></vsi>
  </vsis>
</config>
"""
GROUP_POOL = ("239.1.1.1", "239.1.1.2", "239.1.2.3", "232.1.1.1", "239.9.9.9", "239.001.1.1", "no-address")
SOURCE_POOL = ("0.0.0.0", "10.9.9.1", "10.9.9.2", "10.9.9.9")
NAME_POOL = ("a", "b", "c", "d", "zz")


@pytest.fixture(scope="module")
def hinted_server(tmp_path_factory):
    """A server (not started) whose running holds HINTED_CONFIG, and whose state comes from a
    device that learned plain and (S,G) rows in three VSIs, read at a frozen instant."""
    from types import SimpleNamespace

    from agent.dataplane_config import device_config
    from agent.dataplane_state import DataplaneState
    from agent.server import Server, ServerConfig
    from dataplane.device import Device
    from dataplane.igmp import RecordType
    from tests.conftest import compiled_schema
    from tests.dataplane._core_helpers import report, v3_report

    server = Server(ServerConfig(host="127.0.0.1", port=0, state_dir=tmp_path_factory.mktemp("hints"),
                                 admin_password="differential-hints"), schema=compiled_schema())
    stores = server.datastores
    stores.replace("running", stores.tree_from_config(etree.fromstring(HINTED_CONFIG.encode())), session_id=0)
    device = Device("pe", "02:00:00:00:00:03", "10.0.0.3")
    device.apply(device_config(stores.running.root), 0.0)
    for port, frame in (("c1", report("239.1.1.2", host=1)), ("c2", report("239.1.2.3", host=2)),
                        ("c2", v3_report([(RecordType.ALLOW_NEW_SOURCES, "232.1.1.1", ("10.9.9.2", "10.9.9.1"))],
                                         host=3)),
                        ("a1", report("239.1.2.3", host=4)), ("a2", report("239.1.1.1", host=5)),
                        ("a2", v3_report([(RecordType.ALLOW_NEW_SOURCES, "239.1.2.3", ("10.9.9.1",))], host=6)),
                        ("b1", report("239.1.1.2", host=7))):
        device.receive(port, frame, 1.0)
    # a frozen instant: nothing is due, so settling runs nothing
    frozen = SimpleNamespace(device=device, now=lambda: 7.5, epoch=1_764_000_000.0,
                             settle=lambda: device.tick(7.5))
    server.state = DataplaneState(frozen)
    return server


def answer(server, filter_xml: str, mode: str | None, forced_everything: bool) -> bytes:
    from agent.netconf_get import filter_hints, operational_tops, parse_filter, retrieve

    op = etree.fromstring(f'<get xmlns="{NC}">{filter_xml}</get>')
    flt = parse_filter(op, server.schema)
    selection = EVERYTHING if forced_everything else filter_hints(flt, server.schema)
    return etree.tostring(retrieve(operational_tops(server, selection), flt, mode, server.schema, private=True))


def subtree_filters():
    from hypothesis import strategies as st

    leaf = st.sampled_from
    group = st.builds(
        lambda address, source, more: ("<group>" + (f"<group-address>{address}</group-address>" if address else "")
                                       + (f"<source-address>{source}</source-address>" if source else "")
                                       + "".join(more) + "</group>"),
        st.none() | leaf(GROUP_POOL), st.none() | leaf(SOURCE_POOL),
        st.lists(leaf(("<mac-address/>", "<up-time/>", "<port><interface/><flag/></port>", "<last-reporter/>",
                       "<mac-address>01:00:5e:01:01:02</mac-address>", "<port><interface>c2</interface></port>")),
                 max_size=2, unique=True))
    snooping = st.lists(group | leaf(("<statistics/>", "<querier/>", "<entries-count/>", "<router-port/>",
                                      "<enable>true</enable>", "<version/>", "<statistics><received/></statistics>",
                                      "<group/>")),
                        max_size=3).map(lambda children: f"<igmp-snooping>{''.join(children)}</igmp-snooping>")
    vsi = st.builds(
        lambda name, children: f"<vsi>{f'<name>{name}</name>' if name else ''}{''.join(children)}</vsi>",
        st.none() | leaf(NAME_POOL),
        st.lists(snooping | leaf(("<igmp-snooping/>", "<pws/>", "<acs/>", "<mac-table/>", "<description/>",
                                  "<description>x</description>", "<mac-table><mac-moves/></mac-table>")),
                 max_size=3))
    vsis = st.lists(vsi, max_size=3).map(lambda vs: f'<vsis xmlns="{V}">{"".join(vs)}</vsis>')
    tops = st.tuples(vsis, st.sampled_from(("", f'<l2-multicast xmlns="{V}"/>')))
    return tops.map(lambda t: f'<filter type="subtree">{t[0]}{t[1]}</filter>')


def xpath_filters():
    from hypothesis import strategies as st

    leaf = st.sampled_from
    address = leaf(GROUP_POOL).map(lambda a: f"v:group-address='{a}'")
    source = leaf(SOURCE_POOL).map(lambda s: f"v:source-address='{s}'")
    other = leaf(("v:mac-address='01:00:5e:01:01:02'", "v:up-time='6'", "1", "contains(v:group-address, '239.1')",
                  "v:group-address='239.1.1.2' or v:group-address='239.1.2.3'"))
    predicates = st.lists(address | source | other, max_size=3).map(lambda ps: "".join(f"[{p}]" for p in ps))
    group_path = st.builds(lambda p, tail: f"/v:igmp-snooping/v:group{p}{tail}", predicates,
                           leaf(("", "/v:port", "/v:up-time", "/v:port[v:interface='c2']/v:flag")))
    rest = group_path | leaf(("", "/v:pws", "/v:mac-table", "/v:igmp-snooping", "/v:igmp-snooping/v:statistics", "/*",
                              "/v:acs/v:ac[v:oper-status='up']", "/v:igmp-snooping/v:entries-count"))
    vsi_predicate = leaf(NAME_POOL).map(lambda n: f"[v:name='{n}']") | leaf(("", "[v:description='x']",
                                                                             "[v:name='a' or v:name='c']"))
    path = st.builds(lambda p, r: f"/v:vsis/v:vsi{p}{r}", vsi_predicate, rest)
    paths = st.lists(path | leaf(("/v:l2-multicast", "/v:vsis")), min_size=1, max_size=3)
    return paths.map(lambda ps: f'<filter type="xpath" xmlns:v="{V}" select="{" | ".join(ps)}"/>')


def test_hints_never_change_the_reply_of_a_subtree_filter(hinted_server):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(subtree_filters(), st.sampled_from((None, "report-all")))
    def check(filter_xml, mode):
        assert answer(hinted_server, filter_xml, mode, False) == answer(hinted_server, filter_xml, mode, True)

    check()


def test_hints_never_change_the_reply_of_an_xpath_filter(hinted_server):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(xpath_filters(), st.sampled_from((None, "report-all")))
    def check(filter_xml, mode):
        assert answer(hinted_server, filter_xml, mode, False) == answer(hinted_server, filter_xml, mode, True)

    check()


def test_hints_never_change_the_reply_of_filters_that_test_unselected_data(hinted_server):
    """Shapes a random filter rarely hits: a predicate whose truth depends on rows or tables
    the path does not select, and a position taken before the key is tested (it selects
    nothing: the first row of `c` is another group; rendering only the keyed rows would
    make it select one)."""
    whole = etree.fromstring(answer(hinted_server, "", None, True))
    row = whole.xpath("//v:vsi[v:name='b']//v:group", namespaces={"v": V})[0]
    xpaths = (f"/v:vsis/v:vsi[v:name='b']/v:igmp-snooping[v:group='{row.xpath('string()')}']/v:statistics",
              "/v:vsis/v:vsi[v:mac-table='0']/v:acs",
              "/v:vsis/v:vsi[v:name='c']/v:igmp-snooping/v:group[1][v:group-address='239.1.2.3']",
              "/v:vsis/v:vsi[v:name='a' or v:name='zz']/v:igmp-snooping/v:group[v:group-address='239.1.1.1']")
    subtrees = (f'<vsis xmlns="{V}"><vsi><name>c</name><igmp-snooping>'
                "<group><group-address>232.1.1.1</group-address><source-address>10.9.9.1</source-address></group>"
                "<group><group-address>232.1.1.1</group-address><source-address>10.9.9.2</source-address></group>"
                "</igmp-snooping></vsi></vsis>",
                f'<vsis xmlns="{V}"><vsi><igmp-snooping><group><group-address>239.1.2.3</group-address>'
                "<port><interface>a1</interface></port></group></igmp-snooping></vsi></vsis>")
    filters = ([f'<filter type="xpath" xmlns:v="{V}" select="{x}"/>' for x in xpaths]
               + [f'<filter type="subtree">{f}</filter>' for f in subtrees])
    for f in filters:
        hinted = answer(hinted_server, f, None, False)
        assert hinted == answer(hinted_server, f, None, True), f
        assert len(etree.fromstring(hinted)) > 0 or "[1]" in f, f   # the others select something


def test_the_differential_fixture_has_rows_a_hint_can_leave_out(hinted_server):
    """The rule above is not vacuous: the fixture's VSIs hold plain and (S,G) rows, and a
    filter for one row is answered with that row while the provider renders no other."""
    everything = etree.fromstring(answer(hinted_server, f'<filter type="subtree">{ONE_GROUP_SUBTREE}</filter>', None,
                                         True))
    assert len(list(etree.fromstring(answer(hinted_server, "", None, True)).iter(f"{{{V}}}group"))) == 9
    assert [g.findtext(f"{{{V}}}source-address") for g in everything.iter(f"{{{V}}}group")] == ["0.0.0.0",
                                                                                                 "10.9.9.1"]
    selection = StateSelection.of_vsis({"a"}, VsiParts(groups=frozenset({("239.1.2.3", None)}), mac_table=False))
    rendered = hinted_server.state.operational(selection)
    assert len(list(rendered[0].iter(f"{{{V}}}group"))) == 2
