"""RFC 6241 7.1 get-config and 7.7 get over real SSH with ncclient: filters of every kind,
state merged from the state provider, and precise errors for bad requests."""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

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
    """A state provider that reports AC oper-status and remembers the hints it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[set[str] | None, set[str] | None]] = []

    def operational(self, tags, vsi_names):
        self.calls.append((tags, vsi_names))
        vsis = etree.Element(VSIS, nsmap={None: V})
        for name in ("a", "b", "c"):
            if vsi_names is not None and name not in vsi_names:
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
    reply = raw.rpc(f'<get-config><source><running/></source><filter type="regex">.*</filter></get-config>')
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
    assert provider.calls[-1] == ({VSIS}, {"b"})


def test_xpath_filter_tells_the_provider_which_vsi_it_selects(configured, provider):
    data = data_of(configured.get(filter=("xpath", ({"vl2mc": V}, "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']"))))
    assert provider.calls[-1] == ({VSIS}, {"a"})
    assert vsi_names(data) == ["a"]


def test_origin_stated_by_the_provider_is_not_on_the_wire_of_get(configured, provider, agent_server, raw_netconf):
    raw = raw_netconf()
    raw.hello()
    reply = raw.rpc("<get/>")
    assert list(reply.iter(f"{{{V}}}entries-count"))
    assert reply.xpath("//@*[namespace-uri() = $ns]", ns=ORIGIN) == []


def test_get_without_filter_asks_the_provider_for_everything(configured, provider):
    configured.get()
    assert provider.calls[-1] == (None, None)


def test_filter_on_monitoring_subtree_does_not_ask_for_vsis(configured, provider):
    data = data_of(configured.get(filter=("subtree", f'<netconf-state xmlns="{MONITORING}"><sessions/></netconf-state>')))
    assert provider.calls[-1] == ({f"{{{MONITORING}}}netconf-state"}, set())
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
