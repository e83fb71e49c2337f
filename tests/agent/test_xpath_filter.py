"""RFC 6241 8.9 / RFC 8526 XPath filters, on hand-built trees (the mini schema of the subtree tests)."""

from __future__ import annotations

import pytest
from lxml import etree

from agent.errors import ErrorTag, RpcError
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


def test_hints_from_key_predicates():
    assert xpath_hints("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:acs | /vl2mc:vsis/vl2mc:vsi[vl2mc:name=\"b\"]",
                       NS) == ({f"{{{V}}}vsis"}, {"a", "b"})


def test_hints_give_up_on_shapes_that_can_escape_the_named_vsi():
    assert xpath_hints("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/../vl2mc:vsi", NS)[1] is None
    assert xpath_hints("/vl2mc:vsis/vl2mc:vsi", NS)[1] is None
    assert xpath_hints("//vl2mc:vsi[vl2mc:name='a']", NS) == (None, None)
    assert xpath_hints("count(/vl2mc:vsis)", NS) == (None, None)


def test_hints_select_no_vsi_when_only_other_subtrees_are_named():
    assert xpath_hints("/vl2mc:l2-multicast", NS) == ({f"{{{V}}}l2-multicast"}, set())
