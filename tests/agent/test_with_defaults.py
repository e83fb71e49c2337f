"""RFC 6243 with-defaults modes on hand-built marked trees (exact expected XML per mode)."""

from __future__ import annotations

import pytest
from lxml import etree

from agent.errors import ErrorTag, RpcError
from agent.subtree_filter import Selection
from agent.with_defaults import apply_with_defaults, data_nsmap, parse_mode
from agent.xmlns import DEFAULT_MARK, INTERNAL, NC, NMDA, ORIGIN, VL2MC, WD_ATTR, WITH_DEFAULTS
from tests.agent.test_subtree_filter import canon, mini_schema

V = VL2MC
I = INTERNAL

#: vsi a: version set explicitly to its default 2, enable marked default;
#: vsi b: igmp-snooping container exists only for defaults (marked, and its leaves marked).
STORE = f"""
<data xmlns="{NC}" xmlns:i="{I}">
  <l2-multicast xmlns="{V}"><igmp-snooping-enable i:dflt="1">false</igmp-snooping-enable></l2-multicast>
  <vsis xmlns="{V}">
    <vsi><name>a</name><igmp-snooping><enable i:dflt="1">false</enable><version>2</version></igmp-snooping></vsi>
    <vsi><name>b</name><igmp-snooping i:dflt="1"><enable i:dflt="1">false</enable><version i:dflt="1">2</version></igmp-snooping></vsi>
    <vsi><name>c</name><igmp-snooping><enable>true</enable><version i:dflt="1">2</version></igmp-snooping></vsi>
  </vsis>
</data>
"""


def reply(mode: str | None) -> str:
    store = etree.fromstring(STORE, etree.XMLParser(remove_blank_text=True))
    selection = Selection(mini_schema())
    for top in store:
        selection.add_whole(None, top)
    data = selection.build(list(store), nsmap=data_nsmap(mode))
    out = apply_with_defaults(data, mode, mini_schema())
    text = etree.tostring(out).decode()
    assert INTERNAL not in text, "the internal namespace reached the reply"
    return canon(text)


def expect(mode: str | None, body: str, *, wd: bool = False) -> None:
    decl = f' xmlns:wd="{WD_ATTR}"' if wd else ""
    assert reply(mode) == canon(f'<data xmlns="{NC}"{decl}>{body}</data>')


def test_report_all_reports_every_node_without_marks():
    expect("report-all",
           f'<l2-multicast xmlns="{V}"><igmp-snooping-enable>false</igmp-snooping-enable></l2-multicast>'
           f'<vsis xmlns="{V}"><vsi><name>a</name><igmp-snooping><enable>false</enable><version>2</version></igmp-snooping></vsi>'
           f'<vsi><name>b</name><igmp-snooping><enable>false</enable><version>2</version></igmp-snooping></vsi>'
           f'<vsi><name>c</name><igmp-snooping><enable>true</enable><version>2</version></igmp-snooping></vsi></vsis>')


def test_explicit_drops_default_nodes_but_keeps_values_set_to_the_default():
    expect("explicit",
           f'<vsis xmlns="{V}"><vsi><name>a</name><igmp-snooping><version>2</version></igmp-snooping></vsi>'
           f'<vsi><name>b</name></vsi>'
           f'<vsi><name>c</name><igmp-snooping><enable>true</enable></igmp-snooping></vsi></vsis>')


def test_basic_mode_is_explicit():
    assert reply(None) == reply("explicit")


def test_trim_drops_every_value_equal_to_its_default_and_empty_containers():
    expect("trim",
           f'<vsis xmlns="{V}"><vsi><name>a</name></vsi><vsi><name>b</name></vsi>'
           f'<vsi><name>c</name><igmp-snooping><enable>true</enable></igmp-snooping></vsi></vsis>')


def test_report_all_tagged_tags_every_node_trim_would_drop():
    expect("report-all-tagged",
           f'<l2-multicast xmlns="{V}"><igmp-snooping-enable wd:default="true">false</igmp-snooping-enable></l2-multicast>'
           f'<vsis xmlns="{V}"><vsi><name>a</name><igmp-snooping><enable wd:default="true">false</enable>'
           f'<version wd:default="true">2</version></igmp-snooping></vsi>'
           f'<vsi><name>b</name><igmp-snooping><enable wd:default="true">false</enable>'
           f'<version wd:default="true">2</version></igmp-snooping></vsi>'
           f'<vsi><name>c</name><igmp-snooping><enable>true</enable><version wd:default="true">2</version>'
           f'</igmp-snooping></vsi></vsis>', wd=True)


def test_internal_marks_never_reach_the_reply_in_any_mode():
    for mode in ("report-all", "report-all-tagged", "trim", "explicit"):
        assert "dflt" not in reply(mode)


def test_parse_mode_reads_the_with_defaults_namespace():
    op = etree.fromstring(f'<get xmlns="{NC}"><with-defaults xmlns="{WITH_DEFAULTS}">trim</with-defaults></get>')
    assert parse_mode(op) == "trim"
    assert parse_mode(etree.fromstring(f'<get xmlns="{NC}"/>')) is None


def test_unknown_mode_is_invalid_value_naming_the_modes():
    op = etree.fromstring(f'<get xmlns="{NC}"><with-defaults xmlns="{WITH_DEFAULTS}">everything</with-defaults></get>')
    with pytest.raises(RpcError) as err:
        parse_mode(op)
    assert err.value.tag is ErrorTag.INVALID_VALUE
    assert "everything" in err.value.message and "report-all-tagged" in err.value.message


def test_mark_constant_is_the_internal_namespace():
    assert DEFAULT_MARK == f"{{{I}}}dflt"



@pytest.mark.parametrize("with_origin", [False, True])
@pytest.mark.parametrize("mode", [None, "report-all", "report-all-tagged", "trim", "explicit"])
def test_nothing_selected_is_an_empty_data_element_declaring_what_the_mode_uses(mode, with_origin):
    empty = etree.Element(f"{{{NC}}}data", nsmap={None: NC})
    out = apply_with_defaults(empty, mode, mini_schema(), with_origin=with_origin)
    assert out is not empty and len(out) == 0 and not out.text
    nsmap = {None: NC}
    if mode == "report-all-tagged":
        nsmap["wd"] = WD_ATTR
    if with_origin:
        nsmap["or"] = ORIGIN
    assert out.nsmap == nsmap


def test_nothing_selected_answers_exactly_like_a_selection_of_defaults_only():
    """An empty selection and one whose nodes are all dropped by explicit give the same bytes."""
    only_defaults = etree.fromstring(
        f'<data xmlns="{NC}" xmlns:i="{I}"><l2-multicast xmlns="{V}" i:dflt="1">'
        f'<igmp-snooping-enable i:dflt="1">false</igmp-snooping-enable></l2-multicast></data>')
    empty = etree.Element(f"{{{NC}}}data", nsmap={None: NC})
    for root_tag in (f"{{{NC}}}data", f"{{{NMDA}}}data"):
        assert (etree.tostring(apply_with_defaults(empty, "explicit", mini_schema(), root_tag=root_tag))
                == etree.tostring(apply_with_defaults(only_defaults, "explicit", mini_schema(), root_tag=root_tag)))


def test_explicit_drops_containers_emptied_at_every_level_but_keeps_presence_containers():
    """outer/inner/leaf with only a default inside: both containers go; a presence container
    and an explicitly set empty leaf stay."""
    from agent.schema import Schema
    from tests.agent.test_subtree_filter import _node

    outer = _node("container", "outer", None)
    inner = _node("container", "inner", outer)
    _node("leaf", "level", inner, default="1")
    _node("container", "switch", outer, presence=True)
    _node("leaf", "note", outer)
    schema = Schema(modules={}, roots={outer.tag: outer}, rpcs={}, notifications={}, namespaces={V: ("m", "vl2mc")})
    store = etree.fromstring(
        f'<data xmlns="{NC}" xmlns:i="{I}"><outer xmlns="{V}"><inner><level i:dflt="1">1</level></inner>'
        f'</outer></data>')
    assert canon(etree.tostring(apply_with_defaults(store, "explicit", schema)).decode()) == canon(f'<data xmlns="{NC}"/>')
    store = etree.fromstring(
        f'<data xmlns="{NC}" xmlns:i="{I}"><outer xmlns="{V}"><inner><level i:dflt="1">1</level></inner>'
        f'<switch/><note></note></outer></data>')
    assert (canon(etree.tostring(apply_with_defaults(store, "explicit", schema)).decode())
            == canon(f'<data xmlns="{NC}"><outer xmlns="{V}"><switch/><note></note></outer></data>'))

# --- over SSH, on the real schema and the datastore's own default marks --------------------------

from tests.agent.test_get import data_of  # noqa: E402

WD_CONFIG = f"""
<config xmlns="{NC}">
  <l2-multicast xmlns="{V}"><igmp-snooping-enable>true</igmp-snooping-enable></l2-multicast>
  <vsis xmlns="{V}"><vsi><name>a</name><igmp-snooping><enable>true</enable><version>2</version></igmp-snooping></vsi></vsis>
</config>
"""
WD_FILTER = (f'<vsis xmlns="{V}"><vsi><name>a</name><unknown-multicast-action/>'
             f'<igmp-snooping><enable/><version/><robustness/></igmp-snooping></vsi></vsis>')


@pytest.fixture
def wd_nc(nc):
    nc.edit_config(target="running", config=WD_CONFIG)
    return nc


def wire(nc, mode: str, operation: str = "get_config") -> str:
    call = getattr(nc, operation)
    kwargs = {"source": "running"} if operation == "get_config" else {}
    return canon(data_of(call(filter=("subtree", WD_FILTER), with_defaults=mode, **kwargs)))


def expected(vsi_body: str, *, wd: bool = False) -> str:
    decl = f' xmlns:wd="{WD_ATTR}"' if wd else ""
    return canon(f'<data xmlns="{NC}"{decl}><vsis xmlns="{V}"><vsi><name>a</name>{vsi_body}</vsi></vsis></data>')


@pytest.mark.parametrize("operation", ["get_config", "get"])
def test_report_all_over_ssh_shows_defaults_untagged(wd_nc, operation):
    assert wire(wd_nc, "report-all", operation) == expected(
        "<unknown-multicast-action>flood</unknown-multicast-action>"
        "<igmp-snooping><enable>true</enable><version>2</version><robustness>2</robustness></igmp-snooping>")


@pytest.mark.parametrize("operation", ["get_config", "get"])
def test_trim_over_ssh_hides_values_equal_to_default_even_if_set(wd_nc, operation):
    assert wire(wd_nc, "trim", operation) == expected("<igmp-snooping><enable>true</enable></igmp-snooping>")


@pytest.mark.parametrize("operation", ["get_config", "get"])
def test_explicit_over_ssh_shows_what_the_client_set(wd_nc, operation):
    assert wire(wd_nc, "explicit", operation) == expected(
        "<igmp-snooping><enable>true</enable><version>2</version></igmp-snooping>")


@pytest.mark.parametrize("operation", ["get_config", "get"])
def test_report_all_tagged_over_ssh_tags_default_values(wd_nc, operation):
    assert wire(wd_nc, "report-all-tagged", operation) == expected(
        '<unknown-multicast-action wd:default="true">flood</unknown-multicast-action>'
        '<igmp-snooping><enable>true</enable><version wd:default="true">2</version>'
        '<robustness wd:default="true">2</robustness></igmp-snooping>', wd=True)


def test_no_with_defaults_parameter_uses_basic_mode_explicit(wd_nc):
    got = canon(data_of(wd_nc.get_config(source="running", filter=("subtree", WD_FILTER))))
    assert got == wire(wd_nc, "explicit")


def test_unknown_mode_over_ssh_is_invalid_value_and_changes_nothing(wd_nc, raw_netconf):
    raw = raw_netconf()
    raw.hello()
    reply = raw.rpc(f'<get-config><source><running/></source><with-defaults xmlns="{WITH_DEFAULTS}">all'
                    f'</with-defaults></get-config>')
    assert reply.findtext(f".//{{{NC}}}error-tag") == "invalid-value"
    assert "report-all" in reply.findtext(f".//{{{NC}}}error-message")
    assert wire(wd_nc, "explicit") == expected("<igmp-snooping><enable>true</enable><version>2</version></igmp-snooping>")
