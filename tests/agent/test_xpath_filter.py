"""RFC 6241 8.9 / RFC 8526 XPath filters, on hand-built trees (the mini schema of the subtree tests)."""

from __future__ import annotations

import pytest
from lxml import etree

from agent.errors import ErrorTag, RpcError
from agent.state_provider import EVERYTHING, NO_PARTS, WHOLE_VSI, StateSelection, VsiParts
from agent.xmlns import NC, VL2MC
from agent.xpath_filter import XPathFilter, filter_from_element, xpath_hints
from tests.agent.test_subtree_filter import OTHER, canon, data_root, mini_schema

V = VL2MC
NS = {"vl2mc": V, "o": OTHER}


def run(select: str, root: etree._Element | None = None) -> etree._Element:
    root = data_root() if root is None else root
    return XPathFilter(select, NS).apply(list(root), mini_schema())


def expect(select: str, expected_children: str) -> None:
    assert canon(run(select)) == canon(f'<data xmlns="{NC}">{expected_children}</data>')


def test_list_entry_selected_by_key_predicate_is_returned_whole_with_ancestors():
    root = data_root()
    got = run("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']", root)
    assert canon(got) == canon(f'<data xmlns="{NC}"><vsis xmlns="{V}">{etree.tostring(root[1][0]).decode()}</vsis></data>')


def test_selected_leaf_is_returned_with_ancestors_and_list_keys():
    expect(
        "/vl2mc:vsis/vl2mc:vsi/vl2mc:igmp-snooping/vl2mc:version",
        f'<vsis xmlns="{V}"><vsi><name>a</name><igmp-snooping><version>3</version></igmp-snooping></vsi>'
        f'<vsi><name>b</name><igmp-snooping><version>2</version></igmp-snooping></vsi></vsis>',
    )


def test_keys_of_every_list_on_the_path_are_returned():
    expect(
        "/vl2mc:vsis/vl2mc:vsi/vl2mc:pws/vl2mc:pw[vl2mc:role='backup']/vl2mc:interface",
        f'<vsis xmlns="{V}"><vsi><name>a</name><pws><pw><peer-address>10.0.0.2</peer-address><vc-id>100</vc-id>'
        f'<interface>pw2</interface></pw></pws></vsi></vsis>',
    )


def test_union_of_paths_in_different_top_level_subtrees():
    expect(
        "/vl2mc:l2-multicast | /o:top/o:x",
        f'<l2-multicast xmlns="{V}"><igmp-snooping-enable>true</igmp-snooping-enable></l2-multicast>'
        f'<top xmlns="{OTHER}"><x>1</x></top>',
    )


def test_text_node_result_selects_its_parent_element():
    expect("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='c']/vl2mc:name/text()",
           f'<vsis xmlns="{V}"><vsi><name>c</name></vsi></vsis>')


def test_expression_selecting_nothing_gives_empty_data():
    assert len(run("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='none']")) == 0


def test_descendant_axis_selects_anywhere():
    expect("//vl2mc:ac[vl2mc:oper-status='down']",
           f'<vsis xmlns="{V}"><vsi><name>a</name><acs><ac><interface>ac2</interface>'
           f'<oper-status>down</oper-status></ac></acs></vsi></vsis>')


def test_syntax_error_is_bad_attribute_naming_select():
    with pytest.raises(RpcError) as err:
        XPathFilter("/vl2mc:vsis[", NS)
    assert err.value.tag is ErrorTag.BAD_ATTRIBUTE
    assert ("bad-attribute", "select") in err.value.info
    assert "/vl2mc:vsis[" in err.value.message


def test_undefined_prefix_is_reported_when_evaluated():
    with pytest.raises(RpcError) as err:
        run("/nope:vsis")
    assert err.value.tag is ErrorTag.BAD_ATTRIBUTE
    assert "prefix" in err.value.message.lower()


def test_exslt_regular_expressions_are_not_xpath_1_and_are_refused():
    """A backtracking regex in a filter would stall every session; XPath 1.0 has none."""
    namespaces = dict(NS, re="http://exslt.org/regular-expressions")
    with pytest.raises(RpcError) as err:
        XPathFilter("/vl2mc:vsis/vl2mc:vsi[re:test(vl2mc:name, '^(a+)+$')]", namespaces).apply(list(data_root()))
    assert err.value.tag is ErrorTag.BAD_ATTRIBUTE
    assert ("bad-attribute", "select") in err.value.info


def test_non_node_set_result_fails_with_invalid_value_for_get_data_leaf():
    with pytest.raises(RpcError) as err:
        XPathFilter("count(/vl2mc:vsis/vl2mc:vsi)", NS, where="xpath-filter").apply(list(data_root()))
    assert err.value.tag is ErrorTag.INVALID_VALUE
    assert "node-set" in err.value.message


def test_missing_select_attribute_is_missing_attribute():
    with pytest.raises(RpcError) as err:
        filter_from_element(etree.fromstring(f'<filter xmlns="{NC}" type="xpath"/>'))
    assert err.value.tag is ErrorTag.MISSING_ATTRIBUTE


def test_prefixes_come_from_the_filter_element_scope():
    f = etree.fromstring(f'<rpc xmlns:x="{V}"><filter type="xpath" select="/x:vsis/x:vsi[x:name=\'b\']/x:description"/></rpc>')
    got = filter_from_element(f[0]).apply(list(data_root()), mini_schema())
    assert canon(got) == canon(f'<data xmlns="{NC}"><vsis xmlns="{V}"><vsi><name>b</name>'
                               f'<description>second</description></vsi></vsis></data>')


def test_filter_does_not_modify_the_datastore_tree():
    root = data_root()
    before = etree.tostring(root)
    run("/vl2mc:vsis/vl2mc:vsi/vl2mc:acs", root)
    assert etree.tostring(root) == before


VSIS_TAG = f"{{{V}}}vsis"
G = "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='v']/vl2mc:igmp-snooping/vl2mc:group"


def test_hints_from_key_predicates():
    got = xpath_hints("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:acs | /vl2mc:vsis/vl2mc:vsi[vl2mc:name=\"b\"]", NS)
    assert got.tags == {VSIS_TAG} and got.vsi_names == {"a", "b"}
    assert (got.parts("a"), got.parts("b")) == (NO_PARTS, WHOLE_VSI)


def test_hints_give_up_on_shapes_that_can_escape_the_named_vsi():
    assert xpath_hints("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/../vl2mc:vsi", NS) == EVERYTHING
    assert xpath_hints("/vl2mc:vsis/vl2mc:vsi", NS).vsi_names is None
    assert xpath_hints("//vl2mc:vsi[vl2mc:name='a']", NS) == EVERYTHING
    assert xpath_hints("count(/vl2mc:vsis)", NS) == EVERYTHING
    assert xpath_hints("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a'][/vl2mc:vsis/vl2mc:vsi/vl2mc:name='b']", NS) == EVERYTHING
    assert xpath_hints("/vl2mc:vsis/descendant::vl2mc:vsi[vl2mc:name='a']", NS) == EVERYTHING
    assert xpath_hints("vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']", NS) == EVERYTHING


def test_hints_select_no_vsi_when_only_other_subtrees_are_named():
    got = xpath_hints("/vl2mc:l2-multicast", NS)
    assert got.tags == {f"{{{V}}}l2-multicast"} and got.vsi_names == frozenset()


def test_hints_of_group_key_predicates_name_those_rows_only():
    assert xpath_hints(f"{G}[vl2mc:group-address='239.1.2.3']", NS) == StateSelection.of_vsis(
        {"v"}, VsiParts(groups=frozenset({("239.1.2.3", None)}), mac_table=False), tags={VSIS_TAG})
    both = (f"{G}[vl2mc:group-address='239.1.2.3'][vl2mc:source-address='10.0.0.1']/vl2mc:port",
            f"{G}[vl2mc:group-address = '239.1.2.3' and '10.0.0.1' = vl2mc:source-address]/vl2mc:port")
    for select in both:
        assert xpath_hints(select, NS).parts("v").groups == {("239.1.2.3", "10.0.0.1")}, select


def test_hints_keep_the_key_bound_when_a_non_key_leaf_is_also_tested():
    got = xpath_hints(f"{G}[vl2mc:group-address='239.1.2.3' and vl2mc:mac-address='01:00:5e:01:02:03']", NS)
    assert got.parts("v").groups == {("239.1.2.3", None)}


def test_hints_want_every_row_when_no_group_address_is_tested():
    for select in (G, f"{G}[vl2mc:mac-address='01:00:5e:01:02:03']", f"{G}[vl2mc:source-address='0.0.0.0']",
                   "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='v']/vl2mc:igmp-snooping",
                   "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='v']/vl2mc:igmp-snooping/*",
                   "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='v']/vl2mc:igmp-snooping[vl2mc:group='x']/vl2mc:statistics"):
        assert xpath_hints(select, NS).parts("v").groups is None, select


def test_hints_want_no_group_row_when_no_group_table_is_selected():
    for rest in ("vl2mc:pws", "vl2mc:igmp-snooping/vl2mc:statistics", "vl2mc:description",
                 "vl2mc:acs/vl2mc:ac[vl2mc:oper-status='up']"):
        parts = xpath_hints(f"/vl2mc:vsis/vl2mc:vsi[vl2mc:name='v']/{rest}", NS).parts("v")
        assert parts == NO_PARTS, rest
    assert xpath_hints("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='v']/vl2mc:mac-table", NS).parts("v") == VsiParts(
        groups=frozenset(), mac_table=True)


def test_hints_select_the_whole_vsi_when_it_is_tested_on_more_than_its_name():
    """`vsi[igmp-snooping='...']` compares the string value of the whole container."""
    got = xpath_hints("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='v' and vl2mc:igmp-snooping='x']/vl2mc:pws", NS)
    assert got.vsi_names == {"v"} and got.parts("v") == WHOLE_VSI
    assert xpath_hints("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='v']/*", NS).parts("v") == WHOLE_VSI


def test_hints_select_everything_for_predicates_they_cannot_read():
    for predicate in ("vl2mc:group-address='239.1.2.3' or vl2mc:group-address='239.1.2.4'",
                      "contains(vl2mc:group-address, '239')", "1", "vl2mc:group-address!='239.1.2.3'",
                      "vl2mc:group-address=239", "../vl2mc:entries-count='1'", "group-address='239.1.2.3'",
                      "nope:group-address='239.1.2.3'"):
        assert xpath_hints(f"{G}[{predicate}]", NS) == EVERYTHING, predicate


def test_hints_read_quotes_and_brackets_inside_literals():
    got = xpath_hints("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a]|/x and [\"']/vl2mc:pws", NS)
    assert got.vsi_names == {"a]|/x and [\""}
