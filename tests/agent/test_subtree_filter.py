"""RFC 6241 section 6 subtree filtering, on hand-built trees and a hand-built schema.

Each test is one rule of section 6.2 (or the schema-aware additions: keys always reported,
lookup by key).  The mini schema mirrors the shape of `vsi-l2-multicast` so the rules are
checked on the structures that matter, independently of the YANG compiler.
"""

from __future__ import annotations

from lxml import etree

from agent.schema import Schema, SchemaNode
from agent.state_provider import EVERYTHING, NO_PARTS, NOTHING, WHOLE_VSI, StateSelection, VsiParts
from agent.subtree_filter import SubtreeFilter, apply_subtree_filter, find_entries, subtree_hints
from agent.xmlns import NC, VL2MC

V = VL2MC
OTHER = "urn:example:other"


def _node(keyword, name, parent, ns=V, **kw) -> SchemaNode:
    node = SchemaNode(keyword=keyword, name=name, namespace=ns, module="m", prefix="vl2mc", parent=parent, **kw)
    if parent is not None:
        parent.children[node.tag] = node
    return node


def mini_schema() -> Schema:
    """vsis/vsi[name] with description, igmp-snooping/{enable,version}, acs/ac[interface],
    pws/pw[peer-address vc-id]/role; l2-multicast/igmp-snooping-enable; other:top/x."""
    vsis = _node("container", "vsis", None)
    vsi = _node("list", "vsi", vsis, keys=("name",))
    _node("leaf", "name", vsi)
    _node("leaf", "description", vsi)
    snoop = _node("container", "igmp-snooping", vsi)
    _node("leaf", "enable", snoop, default="false")
    _node("leaf", "version", snoop, default="2")
    _node("leaf-list", "static-router-port", snoop)
    acs = _node("container", "acs", vsi)
    ac = _node("list", "ac", acs, keys=("interface",))
    _node("leaf", "interface", ac)
    _node("leaf", "oper-status", ac, config=False)
    pws = _node("container", "pws", vsi)
    pw = _node("list", "pw", pws, keys=("peer-address", "vc-id"))
    for leaf in ("peer-address", "vc-id", "interface", "role"):
        _node("leaf", leaf, pw)
    l2 = _node("container", "l2-multicast", None)
    _node("leaf", "igmp-snooping-enable", l2, default="false")
    top = _node("container", "top", None, ns=OTHER)
    _node("leaf", "x", top, ns=OTHER)
    roots = {n.tag: n for n in (vsis, l2, top)}
    return Schema(modules={}, roots=roots, rpcs={}, notifications={}, namespaces={V: ("m", "vl2mc"), OTHER: ("o", "o")})


DATA = f"""
<data xmlns="{NC}">
  <l2-multicast xmlns="{V}"><igmp-snooping-enable>true</igmp-snooping-enable></l2-multicast>
  <vsis xmlns="{V}">
    <vsi><name>a</name><description>first</description>
      <igmp-snooping><enable>true</enable><version>3</version>
        <static-router-port>ac1</static-router-port><static-router-port>pw1</static-router-port></igmp-snooping>
      <acs><ac><interface>ac1</interface><oper-status>up</oper-status></ac>
           <ac><interface>ac2</interface><oper-status>down</oper-status></ac></acs>
      <pws><pw><peer-address>10.0.0.1</peer-address><vc-id>100</vc-id><interface>pw1</interface><role>primary</role></pw>
           <pw><peer-address>10.0.0.2</peer-address><vc-id>100</vc-id><interface>pw2</interface><role>backup</role></pw></pws>
    </vsi>
    <vsi><name>b</name><description>second</description>
      <igmp-snooping><enable>false</enable><version>2</version></igmp-snooping>
    </vsi>
    <vsi><name>c</name></vsi>
  </vsis>
  <top xmlns="{OTHER}"><x>1</x></top>
</data>
"""


def data_root() -> etree._Element:
    return etree.fromstring(DATA, etree.XMLParser(remove_blank_text=True))


def run(filter_body: str, root: etree._Element | None = None) -> etree._Element:
    root = data_root() if root is None else root
    filter_el = etree.fromstring(f'<filter xmlns="{NC}" type="subtree">{filter_body}</filter>')
    return apply_subtree_filter(filter_el, list(root), mini_schema())


def canon(xml: str | etree._Element) -> str:
    """Namespace-aware canonical text without whitespace, for exact comparison."""
    text = xml if isinstance(xml, str) else etree.tostring(xml).decode()
    el = etree.fromstring(text, etree.XMLParser(remove_blank_text=True))
    return etree.tostring(el, method="c14n2", strip_text=True).decode()


def expect(filter_body: str, expected_children: str) -> None:
    got = run(filter_body)
    assert canon(got) == canon(f'<data xmlns="{NC}">{expected_children}</data>')


def test_empty_filter_selects_nothing():
    assert len(run("")) == 0


def test_selection_node_at_top_selects_whole_subtree():
    root = data_root()
    got = run(f'<vsis xmlns="{V}"/>', root)
    assert canon(got[0]) == canon(etree.tostring(root[1]).decode())
    assert len(got) == 1


def test_namespace_selection_only_matches_the_filter_namespace():
    expect(f'<top xmlns="{OTHER}"/>', f'<top xmlns="{OTHER}"><x>1</x></top>')
    assert len(run('<vsis xmlns="urn:example:wrong"/>')) == 0


def test_filter_node_without_namespace_matches_any_namespace_by_local_name():
    got = run("<vsis><vsi><name>c</name></vsi></vsis>")
    assert canon(got) == canon(f'<data xmlns="{NC}"><vsis xmlns="{V}"><vsi><name>c</name></vsi></vsis></data>')


def test_attribute_match_expression_must_match_data_attributes():
    root = data_root()
    root[1][2].set("flag", "x")  # vsi c carries an attribute
    got = run(f'<vsis xmlns="{V}"><vsi flag="x"/></vsis>', root)
    assert [v.findtext(f"{{{V}}}name") for v in got[0]] == ["c"]
    assert len(run(f'<vsis xmlns="{V}"><vsi flag="y"/></vsis>', root)) == 0


def test_containment_node_with_selection_child_reports_that_child_in_every_entry_with_keys():
    expect(
        f'<vsis xmlns="{V}"><vsi><description/></vsi></vsis>',
        f'<vsis xmlns="{V}"><vsi><name>a</name><description>first</description></vsi>'
        f'<vsi><name>b</name><description>second</description></vsi></vsis>',
    )


def test_containment_node_that_picks_nothing_is_not_reported():
    assert len(run(f'<vsis xmlns="{V}"><vsi><nonexistent/></vsi></vsis>')) == 0


def test_content_match_alone_reports_the_whole_list_entry():
    root = data_root()
    got = run(f'<vsis xmlns="{V}"><vsi><name>b</name></vsi></vsis>', root)
    assert canon(got[0][0]) == canon(etree.tostring(root[1][1]).decode())


def test_content_match_with_selection_sibling_reports_match_and_selection_only():
    expect(
        f'<vsis xmlns="{V}"><vsi><name>a</name><igmp-snooping><version/></igmp-snooping></vsi></vsis>',
        f'<vsis xmlns="{V}"><vsi><name>a</name><igmp-snooping><version>3</version></igmp-snooping></vsi></vsis>',
    )


def test_false_content_match_drops_the_whole_sibling_set():
    assert len(run(f'<vsis xmlns="{V}"><vsi><name>zz</name><description/></vsi></vsis>')) == 0


def test_multiple_sibling_content_matches_are_anded():
    assert len(run(f'<vsis xmlns="{V}"><vsi><name>a</name><description>second</description></vsi></vsis>')) == 0
    got = run(f'<vsis xmlns="{V}"><vsi><name>b</name><description>second</description></vsi></vsis>')
    assert [v.findtext(f"{{{V}}}name") for v in got[0]] == ["b"]


def test_content_match_on_non_key_leaf_selects_entries_across_the_list():
    expect(
        f'<vsis xmlns="{V}"><vsi><igmp-snooping><enable>true</enable></igmp-snooping></vsi></vsis>',
        f'<vsis xmlns="{V}"><vsi><name>a</name><igmp-snooping><enable>true</enable><version>3</version>'
        f'<static-router-port>ac1</static-router-port><static-router-port>pw1</static-router-port>'
        f'</igmp-snooping></vsi></vsis>',
    )


def test_content_match_on_leaf_list_reports_only_the_matching_instance():
    expect(
        f'<vsis xmlns="{V}"><vsi><name>a</name><igmp-snooping><static-router-port>pw1</static-router-port>'
        f'<version/></igmp-snooping></vsi></vsis>',
        f'<vsis xmlns="{V}"><vsi><name>a</name><igmp-snooping><version>3</version>'
        f'<static-router-port>pw1</static-router-port></igmp-snooping></vsi></vsis>',
    )


def test_list_with_two_keys_matched_on_both_keys():
    expect(
        f'<vsis xmlns="{V}"><vsi><name>a</name><pws><pw><peer-address>10.0.0.2</peer-address>'
        f'<vc-id>100</vc-id><role/></pw></pws></vsi></vsis>',
        f'<vsis xmlns="{V}"><vsi><name>a</name><pws><pw><peer-address>10.0.0.2</peer-address>'
        f'<vc-id>100</vc-id><role>backup</role></pw></pws></vsi></vsis>',
    )


def test_keys_are_reported_with_entries_selected_below_the_list():
    expect(
        f'<vsis xmlns="{V}"><vsi><pws><pw><role>backup</role></pw></pws></vsi></vsis>',
        f'<vsis xmlns="{V}"><vsi><name>a</name><pws><pw><peer-address>10.0.0.2</peer-address>'
        f'<vc-id>100</vc-id><interface>pw2</interface><role>backup</role></pw></pws></vsi></vsis>',
    )


def test_two_filter_branches_reaching_one_entry_are_merged_in_document_order():
    expect(
        f'<vsis xmlns="{V}"><vsi><name>a</name><acs/></vsi><vsi><name>a</name><description/></vsi>'
        f'<vsi><name>c</name></vsi></vsis>',
        f'<vsis xmlns="{V}"><vsi><name>a</name><description>first</description>'
        f'<acs><ac><interface>ac1</interface><oper-status>up</oper-status></ac>'
        f'<ac><interface>ac2</interface><oper-status>down</oper-status></ac></acs></vsi>'
        f'<vsi><name>c</name></vsi></vsis>',
    )


def test_multiple_top_level_subtrees_are_each_selected():
    expect(
        f'<l2-multicast xmlns="{V}"/><top xmlns="{OTHER}"/>',
        f'<l2-multicast xmlns="{V}"><igmp-snooping-enable>true</igmp-snooping-enable></l2-multicast>'
        f'<top xmlns="{OTHER}"><x>1</x></top>',
    )


def test_content_match_compares_text_ignoring_surrounding_whitespace():
    got = run(f'<vsis xmlns="{V}"><vsi><name>\n  b  \n</name></vsi></vsis>')
    assert [v.findtext(f"{{{V}}}name") for v in got[0]] == ["b"]


def test_key_lookup_with_conflicting_key_values_selects_nothing():
    assert len(run(f'<vsis xmlns="{V}"><vsi><name>a</name><name>b</name><description/></vsi></vsis>')) == 0


def test_filter_does_not_modify_the_datastore_tree():
    root = data_root()
    before = etree.tostring(root)
    run(f'<vsis xmlns="{V}"><vsi><name>a</name><acs/></vsi></vsis>', root)
    assert etree.tostring(root) == before


class CountingFilter(SubtreeFilter):
    """Records which data nodes the filter evaluated a sibling set against."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.visited: list[etree._Element] = []

    def _evaluate(self, fnodes, data, snode, selection):
        if data is not None:
            self.visited.append(data)
        return super()._evaluate(fnodes, data, snode, selection)


def test_filter_with_every_key_evaluates_only_that_entry():
    root = data_root()
    flt = CountingFilter(etree.fromstring(f'<filter xmlns="{NC}"><vsis xmlns="{V}"><vsi><name>b</name>'
                                          f'<description/></vsi></vsis></filter>'), mini_schema())
    flt.apply(list(root))
    assert [v.findtext(f"{{{V}}}name") for v in flt.visited if v.tag == f"{{{V}}}vsi"] == ["b"]


def test_filter_without_keys_evaluates_every_entry():
    root = data_root()
    flt = CountingFilter(etree.fromstring(f'<filter xmlns="{NC}"><vsis xmlns="{V}"><vsi><description/>'
                                          f'</vsi></vsis></filter>'), mini_schema())
    flt.apply(list(root))
    assert [v.findtext(f"{{{V}}}name") for v in flt.visited if v.tag == f"{{{V}}}vsi"] == ["a", "b", "c"]


def test_key_index_follows_entries_added_and_replaced_after_it_was_built():
    root = data_root()
    vsis = root[1]
    vsi_node = mini_schema().roots[f"{{{V}}}vsis"].child(f"{{{V}}}vsi")
    assert find_entries(vsis, vsi_node, ("b",)) == [vsis[1]]
    added = etree.SubElement(vsis, f"{{{V}}}vsi")
    etree.SubElement(added, f"{{{V}}}name").text = "d"
    assert find_entries(vsis, vsi_node, ("d",)) == [added]
    replacement = etree.fromstring(f'<vsi xmlns="{V}"><name>b</name><description>new</description></vsi>')
    vsis.replace(vsis[1], replacement)
    assert find_entries(vsis, vsi_node, ("b",)) == [replacement]
    vsis.remove(replacement)
    assert find_entries(vsis, vsi_node, ("b",)) == []


def hints(body: str) -> StateSelection:
    return subtree_hints(etree.fromstring(f"<filter>{body}</filter>"), mini_schema())


def vsi_filter(name: str | None, inner: str) -> str:
    key = "" if name is None else f"<name>{name}</name>"
    return f'<vsis xmlns="{V}"><vsi>{key}{inner}</vsi></vsis>'


def group(address: str | None = None, source: str | None = None, more: str = "") -> str:
    a = "" if address is None else f"<group-address>{address}</group-address>"
    s = "" if source is None else f"<source-address>{source}</source-address>"
    return f"<igmp-snooping><group>{a}{s}{more}</group></igmp-snooping>"


def test_hints_name_the_top_level_tags_and_the_vsis_a_filter_selects():
    got = hints(f'<vsis xmlns="{V}"><vsi><name>a</name></vsi><vsi><name>b</name><acs/></vsi></vsis>'
                f'<top xmlns="{OTHER}"/>')
    assert got.tags == {f"{{{V}}}vsis", f"{{{OTHER}}}top"}
    assert got.vsi_names == {"a", "b"}
    assert (got.parts("a"), got.parts("b")) == (WHOLE_VSI, NO_PARTS)


def test_hints_are_every_vsi_when_a_vsi_is_not_selected_by_name():
    got = hints(f'<vsis xmlns="{V}"><vsi><description/></vsi></vsis>')
    assert got.tags == {f"{{{V}}}vsis"} and got.vsi_names is None
    assert got.parts("any") == NO_PARTS
    assert hints(f'<vsis xmlns="{V}"/>') == StateSelection(tags=frozenset({f"{{{V}}}vsis"}))


def test_hints_select_no_vsi_when_the_filter_has_no_vsis_node():
    got = hints(f'<l2-multicast xmlns="{V}"/>')
    assert got.tags == {f"{{{V}}}l2-multicast"} and got.vsi_names == frozenset()


def test_hints_resolve_namespace_less_nodes_through_the_schema():
    got = hints("<vsis><vsi><name>a</name></vsi></vsis>")
    assert got == StateSelection.of_vsis({"a"}, tags={f"{{{V}}}vsis"})


def test_hints_of_an_empty_filter_select_nothing():
    assert subtree_hints(etree.fromstring("<filter/>")) == NOTHING


def test_hints_of_group_key_content_matches_name_those_rows_only():
    got = hints(vsi_filter("v", group("239.1.2.3")))
    assert got.parts("v") == VsiParts(groups=frozenset({("239.1.2.3", None)}), mac_table=False)
    got = hints(vsi_filter("v", group("239.1.2.3", "10.0.0.1")))
    assert got.parts("v") == VsiParts(groups=frozenset({("239.1.2.3", "10.0.0.1")}), mac_table=False)


def test_hints_of_several_group_nodes_are_their_union():
    got = hints(vsi_filter("v", group(" 239.1.2.3 ") + group("239.9.9.9", "0.0.0.0")))
    assert got.parts("v").groups == {("239.1.2.3", None), ("239.9.9.9", "0.0.0.0")}


def test_hints_keep_the_key_bound_when_a_non_key_leaf_is_also_matched():
    """Content matches are ANDed: the rows with that group address still bound the result."""
    got = hints(vsi_filter("v", group("239.1.2.3", more="<mac-address>01:00:5e:01:02:03</mac-address>")))
    assert got.parts("v").groups == {("239.1.2.3", None)}


def test_hints_want_every_row_when_no_group_address_is_matched():
    assert hints(vsi_filter("v", group(more="<mac-address>01:00:5e:01:02:03</mac-address>"))).parts("v").groups is None
    assert hints(vsi_filter("v", group(source="10.0.0.1"))).parts("v").groups is None
    assert hints(vsi_filter("v", "<igmp-snooping><group/></igmp-snooping>")).parts("v").groups is None
    assert hints(vsi_filter("v", "<igmp-snooping/>")).parts("v").groups is None
    assert hints(vsi_filter("v", "<igmp-snooping><enable>true</enable></igmp-snooping>")).parts("v").groups is None


def test_hints_want_no_group_row_when_no_group_table_is_selected():
    for inner in ("<pws/>", "<igmp-snooping><statistics/></igmp-snooping>", "<acs><ac/></acs>", "<description/>"):
        parts = hints(vsi_filter("v", inner)).parts("v")
        assert parts is not None and parts.groups == frozenset(), inner


def test_hints_want_the_mac_table_only_when_it_is_selected():
    assert hints(vsi_filter("v", "<mac-table/>")).parts("v") == VsiParts(groups=frozenset(), mac_table=True)
    assert hints(vsi_filter("v", "<mac-table><entry><mac-address>02:00:00:00:00:01</mac-address></entry></mac-table>")
                 ).parts("v") == VsiParts(groups=frozenset(), mac_table=True)
    assert not hints(vsi_filter("v", group("239.1.2.3"))).parts("v").mac_table


def test_hints_select_the_whole_vsi_when_its_node_holds_content_matches_only():
    assert hints(vsi_filter("v", "")).parts("v") == WHOLE_VSI
    assert hints(vsi_filter("v", "<description>x</description>")).parts("v") == WHOLE_VSI


def test_hints_of_groups_without_a_vsi_name_apply_to_every_vsi():
    got = hints(vsi_filter(None, group("239.1.2.3")) + f'<vsis xmlns="{V}"><vsi><name>v</name><pws/></vsi></vsis>')
    assert got.vsi_names is None
    assert got.parts("w").groups == {("239.1.2.3", None)}
    assert got.parts("v").groups == {("239.1.2.3", None)}


def test_hints_select_everything_when_the_top_level_holds_content_matches_only():
    assert hints(f'<vsis xmlns="{V}">x</vsis>') == EVERYTHING


def test_keyed_filter_over_a_datastore_tree_finds_entries_through_the_datastore_key_index():
    from agent.edit_config import EntryIndex

    vsis = etree.Element(f"{{{V}}}vsis")
    for i in range(EntryIndex.MIN_ENTRIES + 8):
        etree.SubElement(etree.SubElement(vsis, f"{{{V}}}vsi"), f"{{{V}}}name").text = f"v{i}"
    vsi_node = mini_schema().roots[f"{{{V}}}vsis"].child(f"{{{V}}}vsi")
    index = EntryIndex()
    flt = SubtreeFilter(etree.fromstring(f'<filter xmlns="{NC}"><vsis xmlns="{V}"><vsi><name>v7</name></vsi>'
                                         f'</vsis></filter>'), mini_schema())
    got = flt.apply([vsis], index=index)
    assert [e.findtext(f"{{{V}}}name") for e in got.iter(f"{{{V}}}vsi")] == ["v7"]
    assert vsis in index._maps                  # the lookup went through the datastore's index
    assert find_entries(vsis, vsi_node, ("nope",), index) == []
