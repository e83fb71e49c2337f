"""RFC 6243 section 4.5.2: the `wd:default` attribute in edit-config and copy-config content.

A client that sends a leaf tagged ``wd:default="true"`` states that its value is the schema
default.  When it is not, the request is refused with `invalid-value` (error-type
application, error-path at the node) and nothing changes; when it is (compared canonical),
the leaf is a default node afterwards, exactly as if the server had set it.  The attribute
is an XSD boolean, so ``"1"`` means true as well.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from lxml import etree

from agent.datastore import Datastores
from agent.errors import RpcError
from agent.validate import Validator
from agent.xmlns import DEFAULT_MARK, NC, VL2MC, WD_ATTR
from tests.agent.test_commit import source
from tests.agent.test_edit_config import edit, one_error, running, snapshot
from tests.conftest import compiled_schema

V = f"{{{VL2MC}}}"
QUERY_INTERVAL_PATH = "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/vl2mc:query-interval"


def stores(tmp_path: Path) -> Datastores:
    schema = compiled_schema()
    result = Datastores(schema, Validator(schema), tmp_path)
    result.load()
    return result


def vsi_a(snooping: str) -> str:
    return (f'<config xmlns="{NC}" xmlns:nc="{NC}" xmlns:wd="{WD_ATTR}"><vsis xmlns="{VL2MC}">'
            f'<vsi><name>a</name><igmp-snooping>{snooping}</igmp-snooping></vsi></vsis></config>')


def cfg(snooping: str) -> etree._Element:
    return etree.fromstring(vsi_a(snooping))


def c14n(root: etree._Element) -> tuple:
    return (root.tag, tuple(sorted(root.attrib.items())), (root.text or "").strip(),
            tuple(c14n(child) for child in root if isinstance(child.tag, str)))


def query_interval(ds: Datastores) -> etree._Element:
    return ds.root("running").find(f"{V}vsis/{V}vsi/{V}igmp-snooping/{V}query-interval")


def refused_edit(ds: Datastores, snooping: str) -> RpcError:
    """The error of a running edit that must be refused, after checking it changed nothing."""
    before = c14n(ds.root("running"))
    with pytest.raises(RpcError) as caught:
        ds.edit("running", cfg(snooping), session_id=1)
    assert c14n(ds.root("running")) == before
    return caught.value


# --- edit-config ------------------------------------------------------------------------------

def test_edit_config_wd_default_on_a_value_that_is_not_the_default_is_invalid_value_and_changes_nothing(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg("<query-interval>90</query-interval>"), session_id=1)
    error = refused_edit(ds, '<query-interval wd:default="true">30</query-interval>')
    assert (error.type.value, error.tag.value, error.app_tag) == ("application", "invalid-value", None)
    assert error.path == QUERY_INTERVAL_PATH
    assert error.info == [("bad-element", "query-interval")]
    assert "'30'" in error.message and "'60'" in error.message
    assert query_interval(ds).text == "90"


def test_edit_config_wd_default_on_a_leaf_without_a_schema_default_is_invalid_value(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg(""), session_id=1)
    before = c14n(ds.root("running"))
    with pytest.raises(RpcError) as caught:
        ds.edit("running", etree.fromstring(
            f'<config xmlns="{NC}" xmlns:wd="{WD_ATTR}"><vsis xmlns="{VL2MC}"><vsi><name>a</name>'
            f'<description wd:default="true">x</description></vsi></vsis></config>'), session_id=1)
    assert (caught.value.tag.value, caught.value.path) == (
        "invalid-value", "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:description")
    assert "no schema default" in caught.value.message
    assert c14n(ds.root("running")) == before


def test_edit_config_wd_default_on_a_leaf_list_value_that_is_not_a_default_is_invalid_value(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg(""), session_id=1)
    error = refused_edit(ds, '<static-router-port wd:default="true">eth1</static-router-port>')
    assert error.tag.value == "invalid-value"
    assert error.path == ("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/"
                          "vl2mc:static-router-port[.='eth1']")


def test_edit_config_merge_of_the_default_value_tagged_wd_default_makes_the_leaf_a_default_again(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg("<query-interval>90</query-interval>"), session_id=1)
    result = ds.edit("running", cfg('<query-interval wd:default="true">60</query-interval>'), session_id=1)
    leaf = query_interval(ds)
    assert (leaf.text, leaf.get(DEFAULT_MARK)) == ("60", "1")
    assert [(c.op, c.schema.name, c.old, c.new) for c in result.changes] == [("modify", "query-interval", "90", "60")]
    snooping = leaf.getparent()
    assert snooping.get(DEFAULT_MARK) == "1"          # it holds only defaults again


def test_wd_default_compares_canonical_values(tmp_path):
    """`060` is the uint16 value 60, the schema default of query-interval."""
    ds = stores(tmp_path)
    ds.edit("running", cfg("<query-interval>90</query-interval>"), session_id=1)
    ds.edit("running", cfg('<query-interval wd:default="true">060</query-interval>'), session_id=1)
    assert (query_interval(ds).text, query_interval(ds).get(DEFAULT_MARK)) == ("60", "1")


def test_wd_default_one_is_the_xsd_boolean_true(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg("<query-interval>90</query-interval>"), session_id=1)
    error = refused_edit(ds, '<query-interval wd:default="1">30</query-interval>')
    assert error.tag.value == "invalid-value"
    ds.edit("running", cfg('<query-interval wd:default="1">60</query-interval>'), session_id=1)
    assert query_interval(ds).get(DEFAULT_MARK) == "1"


def test_wd_default_false_is_an_ordinary_explicit_value(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg('<query-interval wd:default="false">60</query-interval>'), session_id=1)
    assert (query_interval(ds).text, query_interval(ds).get(DEFAULT_MARK)) == ("60", None)


def test_wd_default_that_is_not_a_boolean_is_bad_attribute_and_changes_nothing(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg("<query-interval>90</query-interval>"), session_id=1)
    error = refused_edit(ds, '<query-interval wd:default="yes">60</query-interval>')
    assert (error.type.value, error.tag.value) == ("application", "bad-attribute")
    assert error.path == QUERY_INTERVAL_PATH
    assert error.info == [("bad-attribute", "default"), ("bad-element", "query-interval")]


def test_create_of_a_leaf_holding_its_default_tagged_wd_default_leaves_it_a_default(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg(""), session_id=1)
    before = c14n(ds.root("running"))
    result = ds.edit("running", cfg('<query-interval nc:operation="create" wd:default="true">60</query-interval>'),
                     session_id=1)
    assert result.changes == []
    assert c14n(ds.root("running")) == before


def test_create_of_an_explicit_leaf_tagged_wd_default_is_still_data_exists(tmp_path):
    """RFC 6243 4.5.2 with erratum 4688: an existing node answers `create` with data-exists."""
    ds = stores(tmp_path)
    ds.edit("running", cfg("<query-interval>90</query-interval>"), session_id=1)
    error = refused_edit(ds, '<query-interval nc:operation="create" wd:default="true">60</query-interval>')
    assert (error.tag.value, error.path) == ("data-exists", QUERY_INTERVAL_PATH)


def test_a_new_list_entry_with_a_leaf_tagged_wd_default_gets_it_as_a_default(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg('<query-interval wd:default="true">60</query-interval>'), session_id=1)
    assert query_interval(ds).get(DEFAULT_MARK) == "1"


def test_candidate_edit_with_a_wrong_wd_default_is_refused_at_once(tmp_path):
    ds = stores(tmp_path)
    before = c14n(ds.root("candidate"))
    with pytest.raises(RpcError) as caught:
        ds.edit("candidate", cfg('<query-interval wd:default="true">30</query-interval>'), session_id=1)
    assert (caught.value.tag.value, caught.value.path) == ("invalid-value", QUERY_INTERVAL_PATH)
    assert c14n(ds.root("candidate")) == before


# --- copy-config ------------------------------------------------------------------------------

def test_copy_config_wd_default_on_a_value_that_is_not_the_default_is_invalid_value(tmp_path):
    ds = stores(tmp_path)
    with pytest.raises(RpcError) as caught:
        ds.tree_from_config(cfg('<query-interval wd:default="true">30</query-interval>'))
    assert (caught.value.type.value, caught.value.tag.value) == ("application", "invalid-value")
    assert caught.value.path == QUERY_INTERVAL_PATH
    assert caught.value.info == [("bad-element", "query-interval")]


def test_copy_config_refuses_a_wrong_wd_default_on_a_leaf_list_at_the_value(tmp_path):
    with pytest.raises(RpcError) as caught:
        stores(tmp_path).tree_from_config(cfg('<static-router-port wd:default="true">eth1</static-router-port>'))
    assert caught.value.tag.value == "invalid-value"
    assert caught.value.path == ("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/"
                                 "vl2mc:static-router-port[.='eth1']")


def test_copy_config_of_the_default_value_tagged_wd_default_loads_it_as_a_default(tmp_path):
    tree = stores(tmp_path).tree_from_config(cfg('<query-interval wd:default="1">060</query-interval>'))
    leaf = tree.find(f"{V}vsis/{V}vsi/{V}igmp-snooping/{V}query-interval")
    assert (leaf.text, leaf.get(DEFAULT_MARK)) == ("60", "1")


# --- over the wire ----------------------------------------------------------------------------

def test_edit_and_copy_config_answer_a_wrong_wd_default_alike_over_netconf(nc):
    edit(nc, vsi_a("<query-interval>90</query-interval>"))
    before = snapshot(nc)
    bad = vsi_a('<query-interval wd:default="true">30</query-interval>')
    edit_error = one_error(lambda: edit(nc, bad))
    copy_error = one_error(lambda: nc.copy_config(source=source(bad), target="running"))
    for error in (edit_error, copy_error):
        assert (error["type"], error["tag"], error["path"]) == ("application", "invalid-value", QUERY_INTERVAL_PATH)
        assert error["info"] == {"bad-element": "query-interval"}
    assert snapshot(nc) == before


def test_merge_of_the_tagged_default_is_reported_as_a_default_over_netconf(nc):
    edit(nc, vsi_a("<query-interval>90</query-interval>"))
    edit(nc, vsi_a('<query-interval wd:default="true">60</query-interval>'))
    explicit = running(nc)
    assert explicit.find(f"{V}vsis/{V}vsi/{V}igmp-snooping/{V}query-interval") is None
    tagged = running(nc, with_defaults="report-all-tagged")
    leaf = tagged.find(f"{V}vsis/{V}vsi/{V}igmp-snooping/{V}query-interval")
    assert (leaf.text, leaf.get(f"{{{WD_ATTR}}}default")) == ("60", "true")
