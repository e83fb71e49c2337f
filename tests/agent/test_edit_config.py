"""RFC 6241 section 7.2 edit-config, one rule per test, over real SSH with ncclient.

Every refused edit is checked for its exact error (type, tag, app-tag, error-path,
bad-element) and for changing nothing (get-config before and after).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from agent.xmlns import NC, VL2MC, YANG

V = f"{{{VL2MC}}}"


# --- helpers (also used by the other datastore test modules) -------------------------------

def config(body: str) -> str:
    """A `<config>` around ``body`` with the nc, yang and v (our module) prefixes."""
    return f'<config xmlns="{NC}" xmlns:nc="{NC}" xmlns:yang="{YANG}" xmlns:v="{VL2MC}">{body}</config>'


def vsis(body: str) -> str:
    return config(f'<vsis xmlns="{VL2MC}">{body}</vsis>')


def vsi(name: str, inner: str = "", attrs: str = "") -> str:
    return f"<vsi{attrs}><name>{name}</name>{inner}</vsi>"


def running(nc: Any, source: str = "running", with_defaults: str | None = None) -> etree._Element:
    """The `<data>` of get-config on ``source``."""
    kwargs = {"with_defaults": with_defaults} if with_defaults else {}
    return etree.fromstring(nc.get_config(source=source, **kwargs).data_xml.encode())


def snapshot(nc: Any, source: str = "running") -> bytes:
    return etree.tostring(running(nc, source), method="c14n")


def errors_of(exc: RPCError) -> list[dict[str, Any]]:
    """Every rpc-error of a failed reply as a dict (info children by local name)."""
    raws = [e.xml for e in exc.errors] if getattr(exc, "errors", None) else [exc.xml]
    found = []
    for raw in raws:
        element = raw if isinstance(raw, etree._Element) else etree.fromstring(raw)
        def text(name: str) -> str | None:
            child = element.find(f"{{{NC}}}{name}")
            return None if child is None else (child.text or "").strip()
        info = element.find(f"{{{NC}}}error-info")
        found.append({
            "type": text("error-type"), "tag": text("error-tag"), "app_tag": text("error-app-tag"),
            "path": text("error-path"), "message": text("error-message"),
            "info": {etree.QName(c).localname: (c.text or "").strip() for c in info} if info is not None else {},
        })
    return found


def refused(call: Callable[[], Any]) -> list[dict[str, Any]]:
    """Run an operation that must fail; its rpc-errors."""
    with pytest.raises(RPCError) as caught:
        call()
    return errors_of(caught.value)


def one_error(call: Callable[[], Any]) -> dict[str, Any]:
    errors = refused(call)
    assert len(errors) == 1, errors
    return errors[0]


def leaf(data: etree._Element, path: str) -> str | None:
    """Text of the node at ``path`` (``v:`` prefixed steps) in get-config data, None if absent."""
    found = data.xpath(path, namespaces={"v": VL2MC})
    return found[0].text if found else None


def edit(nc: Any, body: str, target: str = "running", **kwargs: Any) -> Any:
    return nc.edit_config(target=target, config=body, **kwargs)


def base(nc: Any) -> None:
    """The global switch on and two VSIs: enough for must-valid snooping settings."""
    edit(nc, config(f'<l2-multicast xmlns="{VL2MC}"><igmp-snooping-enable>true</igmp-snooping-enable></l2-multicast>'
                    f'<vsis xmlns="{VL2MC}">{vsi("a", "<description>first</description>")}{vsi("b")}</vsis>'))


# --- operations ---------------------------------------------------------------------------

def test_merge_creates_missing_nodes_and_keeps_existing_ones(nc):
    base(nc)
    edit(nc, vsis(vsi("a", "<igmp-snooping><query-interval>30</query-interval></igmp-snooping>")))
    data = running(nc)
    assert leaf(data, "//v:vsi[v:name='a']/v:igmp-snooping/v:query-interval") == "30"
    assert leaf(data, "//v:vsi[v:name='a']/v:description") == "first"
    assert leaf(data, "//v:vsi[v:name='b']/v:name") == "b"


def test_merge_on_an_existing_leaf_sets_its_new_value(nc):
    base(nc)
    edit(nc, vsis(vsi("a", "<description>second</description>")))
    assert leaf(running(nc), "//v:vsi[v:name='a']/v:description") == "second"


def test_replace_on_a_list_entry_replaces_its_whole_content(nc):
    base(nc)
    edit(nc, vsis(vsi("a", "<unknown-multicast-action>drop</unknown-multicast-action>",
                      ' nc:operation="replace"')))
    data = running(nc)
    assert leaf(data, "//v:vsi[v:name='a']/v:description") is None
    assert leaf(data, "//v:vsi[v:name='a']/v:unknown-multicast-action") == "drop"
    assert leaf(data, "//v:vsi[v:name='b']/v:name") == "b"


def test_default_operation_replace_replaces_the_given_subtrees(nc):
    base(nc)
    edit(nc, vsis(vsi("c")), default_operation="replace")
    names = running(nc).xpath("//v:vsi/v:name/text()", namespaces={"v": VL2MC})
    assert names == ["c"]


def test_create_of_an_existing_node_is_data_exists_and_changes_nothing(nc):
    base(nc)
    before = snapshot(nc)
    error = one_error(lambda: edit(nc, vsis(vsi("a", '<description nc:operation="create">x</description>'))))
    assert (error["type"], error["tag"]) == ("application", "data-exists")
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:description"
    assert snapshot(nc) == before


def test_create_of_a_leaf_that_holds_only_its_default_succeeds(nc):
    """RFC 6243 4.5 (basic mode explicit): the default is not data the client created."""
    base(nc)
    edit(nc, vsis(vsi("a", '<unknown-multicast-action nc:operation="create">flood</unknown-multicast-action>')))
    assert leaf(running(nc), "//v:vsi[v:name='a']/v:unknown-multicast-action") == "flood"


def test_delete_of_a_missing_node_is_data_missing_and_changes_nothing(nc):
    base(nc)
    before = snapshot(nc)
    error = one_error(lambda: edit(nc, vsis(vsi("zz", attrs=' nc:operation="delete"'))))
    assert (error["type"], error["tag"]) == ("application", "data-missing")
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='zz']"
    assert snapshot(nc) == before


def test_delete_of_a_leaf_that_holds_only_its_default_is_data_missing(nc):
    """RFC 6243 4.5.2: a default the server set cannot be deleted."""
    base(nc)
    error = one_error(lambda: edit(nc, vsis(vsi("a", '<unknown-multicast-action nc:operation="delete"/>'))))
    assert error["tag"] == "data-missing"
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:unknown-multicast-action"


def test_remove_of_a_missing_node_is_not_an_error(nc):
    base(nc)
    before = snapshot(nc)
    edit(nc, vsis(vsi("zz", attrs=' nc:operation="remove"')))
    assert snapshot(nc) == before


def test_delete_removes_a_list_entry_with_its_subtree(nc):
    base(nc)
    edit(nc, vsis(vsi("a", attrs=' nc:operation="delete"')))
    assert running(nc).xpath("//v:vsi/v:name/text()", namespaces={"v": VL2MC}) == ["b"]


def test_deleting_a_leaf_with_a_default_puts_the_default_back(nc):
    base(nc)
    edit(nc, vsis(vsi("a", "<unknown-multicast-action>drop</unknown-multicast-action>")))
    edit(nc, vsis(vsi("a", '<unknown-multicast-action nc:operation="delete"/>')))
    assert leaf(running(nc), "//v:vsi[v:name='a']/v:unknown-multicast-action") is None
    tagged = running(nc, with_defaults="report-all-tagged")
    node = tagged.xpath("//v:vsi[v:name='a']/v:unknown-multicast-action", namespaces={"v": VL2MC})[0]
    assert node.text == "flood"
    assert node.get("{urn:ietf:params:xml:ns:netconf:default:1.0}default") == "true"


def test_deleting_the_last_list_entry_removes_its_empty_container(nc):
    base(nc)
    edit(nc, vsis(vsi("a", "<acs><ac><interface>eth1</interface></ac></acs>")))
    edit(nc, vsis(vsi("a", '<acs><ac nc:operation="delete"><interface>eth1</interface></ac></acs>')))
    assert running(nc).xpath("//v:vsi[v:name='a']/v:acs", namespaces={"v": VL2MC}) == []


def test_default_operation_none_needs_every_level_to_exist(nc):
    base(nc)
    before = snapshot(nc)
    error = one_error(lambda: edit(nc, vsis(vsi("zz", "<description>x</description>")),
                                   default_operation="none"))
    assert error["tag"] == "data-missing"
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='zz']"
    assert snapshot(nc) == before


def test_default_operation_none_changes_only_nodes_with_an_operation(nc):
    base(nc)
    edit(nc, vsis(vsi("a", '<description>ignored</description>'
                           '<unknown-multicast-action nc:operation="merge">drop</unknown-multicast-action>')),
         default_operation="none")
    data = running(nc)
    assert leaf(data, "//v:vsi[v:name='a']/v:description") == "first"
    assert leaf(data, "//v:vsi[v:name='a']/v:unknown-multicast-action") == "drop"


# --- request errors -----------------------------------------------------------------------

def test_list_entry_without_its_key_is_missing_element(nc):
    base(nc)
    before = snapshot(nc)
    error = one_error(lambda: edit(nc, vsis("<vsi><description>x</description></vsi>")))
    assert (error["type"], error["tag"]) == ("application", "missing-element")
    assert error["info"]["bad-element"] == "name"
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi"
    assert snapshot(nc) == before


def test_unknown_element_is_refused_with_bad_element(nc):
    base(nc)
    before = snapshot(nc)
    error = one_error(lambda: edit(nc, vsis(vsi("a", "<colour>red</colour>"))))
    assert (error["type"], error["tag"]) == ("application", "unknown-element")
    assert error["info"]["bad-element"] == "colour"
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']"
    assert snapshot(nc) == before


def test_element_in_an_unknown_namespace_is_unknown_namespace(nc):
    error = one_error(lambda: edit(nc, config('<thing xmlns="urn:example:nowhere"/>')))
    assert error["tag"] == "unknown-namespace"
    assert error["info"] == {"bad-element": "thing", "bad-namespace": "urn:example:nowhere"}


def test_state_data_cannot_be_configured(nc):
    base(nc)
    before = snapshot(nc)
    error = one_error(lambda: edit(nc, vsis(vsi("a", "<acs><ac><interface>eth1</interface>"
                                                     "<oper-status>up</oper-status></ac></acs>"))))
    assert (error["type"], error["tag"]) == ("application", "invalid-value")
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:acs/vl2mc:ac[vl2mc:interface='eth1']/vl2mc:oper-status"
    assert snapshot(nc) == before


def test_value_of_the_wrong_type_is_invalid_value_at_its_path(nc):
    base(nc)
    before = snapshot(nc)
    error = one_error(lambda: edit(nc, vsis(vsi("a", "<igmp-snooping><query-interval>soon</query-interval>"
                                                     "</igmp-snooping>"))))
    assert (error["type"], error["tag"]) == ("application", "invalid-value")
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/vl2mc:query-interval"
    assert "query-interval" in error["message"]
    assert snapshot(nc) == before


def test_unknown_operation_attribute_value_is_bad_attribute(nc):
    base(nc)
    error = one_error(lambda: edit(nc, vsis(vsi("a", '<description nc:operation="upsert">x</description>'))))
    assert (error["type"], error["tag"]) == ("protocol", "bad-attribute")
    assert error["info"] == {"bad-attribute": "operation", "bad-element": "description"}


def test_bad_default_operation_is_invalid_value(nc):
    request = etree.fromstring(f'<edit-config xmlns="{NC}"><target><running/></target>'
                               f'<default-operation>overwrite</default-operation>{vsis(vsi("a"))}</edit-config>')
    error = one_error(lambda: nc.dispatch(request))
    assert error["tag"] == "invalid-value"
    assert error["info"]["bad-element"] == "default-operation"


# --- leaf-lists, ordered-by user, choices ---------------------------------------------------

def snooping(inner: str) -> str:
    return vsis(vsi("a", f"<acs><ac><interface>eth1</interface></ac><ac><interface>eth2</interface></ac></acs>"
                         f"<igmp-snooping>{inner}</igmp-snooping>"))


def test_leaf_list_entries_are_added_and_deleted_by_value(nc):
    base(nc)
    edit(nc, snooping("<static-router-port>eth1</static-router-port><static-router-port>eth2</static-router-port>"))
    edit(nc, snooping('<static-router-port nc:operation="delete">eth1</static-router-port>'))
    ports = running(nc).xpath("//v:static-router-port/text()", namespaces={"v": VL2MC})
    assert ports == ["eth2"]


def test_delete_of_a_missing_leaf_list_value_is_data_missing(nc):
    base(nc)
    edit(nc, snooping("<static-router-port>eth1</static-router-port>"))
    error = one_error(lambda: edit(nc, snooping('<static-router-port nc:operation="delete">eth2</static-router-port>')))
    assert error["tag"] == "data-missing"
    assert error["path"] == ("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/"
                             "vl2mc:static-router-port[.='eth2']")


# --- ordered-by user lists and choices: a small test-local module ---------------------------
#
# The served modules have no ordered-by user list (vsi-l2-multicast orders by the system), so
# these rules are checked in-process on a schema compiled from ORDERED_YANG.

ORDERED_NS = "urn:example:ordered-test"
ORDERED_YANG = f"""
module ordered-test {{
  yang-version 1.1;
  namespace "{ORDERED_NS}";
  prefix ot;

  container top {{
    list rule-list {{
      key name;
      ordered-by user;
      leaf name {{ type string; }}
      leaf-list group {{ type string; }}
      list rule {{
        key name;
        ordered-by user;
        leaf name {{ type string; }}
        choice rule-type {{
          case protocol-operation {{ leaf rpc-name {{ type string; }} }}
          case data-node {{ leaf path {{ type string; }} }}
        }}
        leaf action {{ type enumeration {{ enum permit; enum deny; }} }}
      }}
    }}
    leaf-list item {{
      type string;
      ordered-by user;
    }}
  }}
}}
"""
_ORDERED_SCHEMA: Any = None


def ordered_schema(tmp_path: Any) -> Any:
    """ORDERED_YANG compiled with pyang (written to ``tmp_path`` once per test run)."""
    global _ORDERED_SCHEMA
    if _ORDERED_SCHEMA is None:
        from agent import paths
        from agent.schema import load_schema
        (tmp_path / "ordered-test.yang").write_text(ORDERED_YANG)
        _ORDERED_SCHEMA = load_schema(["ordered-test"], search_path=[tmp_path, paths.yang_dir()])
    return _ORDERED_SCHEMA


def ordered_stores(tmp_path: Any) -> Any:
    """In-process datastores over the ordered-test schema, state in ``tmp_path``."""
    from agent.datastore import Datastores
    from agent.validate import Validator
    schema = ordered_schema(tmp_path)
    stores = Datastores(schema, Validator(schema), tmp_path / "state")
    stores.load()
    return stores


def ordered_config(body: str) -> etree._Element:
    return etree.fromstring(f'<config xmlns="{NC}" xmlns:nc="{NC}" xmlns:yang="{YANG}" '
                            f'xmlns:ot="{ORDERED_NS}"><top xmlns="{ORDERED_NS}">{body}</top></config>')


def ordered_edit(stores: Any, body: str) -> Any:
    return stores.edit("running", ordered_config(body), session_id=1)


def ordered_snapshot(stores: Any) -> bytes:
    return etree.tostring(stores.root("running"), method="c14n")


def ordered_error(stores: Any, body: str) -> Any:
    """The one RpcError an edit that must fail raises."""
    from agent.errors import RpcError
    with pytest.raises(RpcError) as caught:
        ordered_edit(stores, body)
    return caught.value


def rule_lists(stores: Any) -> list[str]:
    return stores.root("running").xpath("//ot:rule-list/ot:name/text()", namespaces={"ot": ORDERED_NS})


def test_ordered_by_user_entries_go_where_insert_says(tmp_path):
    ds = ordered_stores(tmp_path)
    ordered_edit(ds, "<rule-list><name>r1</name></rule-list><rule-list><name>r2</name></rule-list>")
    ordered_edit(ds, '<rule-list yang:insert="first"><name>r0</name></rule-list>')
    ordered_edit(ds, '<rule-list yang:insert="after" yang:key="[ot:name=\'r1\']"><name>r1b</name></rule-list>')
    ordered_edit(ds, '<rule-list yang:insert="before" yang:key="[ot:name=\'r0\']"><name>top</name></rule-list>')
    ordered_edit(ds, '<rule-list yang:insert="last"><name>end</name></rule-list>')
    assert rule_lists(ds) == ["top", "r0", "r1", "r1b", "r2", "end"]


def test_insert_on_an_existing_entry_moves_it(tmp_path):
    ds = ordered_stores(tmp_path)
    ordered_edit(ds, "<rule-list><name>r1</name></rule-list><rule-list><name>r2</name></rule-list>"
                     "<rule-list><name>r3</name></rule-list>")
    ordered_edit(ds, '<rule-list yang:insert="before" yang:key="[ot:name=\'r1\']"><name>r3</name></rule-list>')
    assert rule_lists(ds) == ["r3", "r1", "r2"]


def test_replace_with_insert_replaces_the_entry_at_its_new_place(tmp_path):
    ds = ordered_stores(tmp_path)
    ordered_edit(ds, "<rule-list><name>r1</name><group>ops</group></rule-list><rule-list><name>r2</name></rule-list>")
    ordered_edit(ds, '<rule-list nc:operation="replace" yang:insert="after" yang:key="[ot:name=\'r2\']">'
                     '<name>r1</name></rule-list>')
    assert rule_lists(ds) == ["r2", "r1"]
    assert ds.root("running").xpath("//ot:rule-list/ot:group", namespaces={"ot": ORDERED_NS}) == []


def test_insert_relative_to_a_missing_entry_is_bad_attribute(tmp_path):
    ds = ordered_stores(tmp_path)
    ordered_edit(ds, "<rule-list><name>r1</name></rule-list>")
    before = ordered_snapshot(ds)
    error = ordered_error(ds, '<rule-list yang:insert="after" yang:key="[ot:name=\'nope\']">'
                              '<name>r2</name></rule-list>')
    assert (error.type.value, error.tag.value) == ("application", "bad-attribute")
    assert error.info == [("bad-attribute", "key"), ("bad-element", "rule-list")]
    assert error.path == "/ot:top/ot:rule-list[ot:name='r2']"
    assert ordered_snapshot(ds) == before


def test_insert_before_without_key_is_missing_attribute(tmp_path):
    ds = ordered_stores(tmp_path)
    ordered_edit(ds, "<rule-list><name>r1</name></rule-list>")
    before = ordered_snapshot(ds)
    error = ordered_error(ds, '<rule-list yang:insert="before"><name>r2</name></rule-list>')
    assert error.tag.value == "missing-attribute"
    assert error.info == [("bad-attribute", "key"), ("bad-element", "rule-list")]
    assert ordered_snapshot(ds) == before


def test_insert_on_a_system_ordered_list_is_bad_attribute(nc):
    before = snapshot(nc)
    error = one_error(lambda: edit(nc, vsis(vsi("a", attrs=' yang:insert="first"'))))
    assert error["tag"] == "bad-attribute"
    assert error["info"] == {"bad-attribute": "insert", "bad-element": "vsi"}
    assert snapshot(nc) == before


def test_creating_a_node_of_another_case_removes_the_old_case(tmp_path):
    """RFC 7950 7.9: rule-type is a choice; setting path drops rpc-name."""
    ds = ordered_stores(tmp_path)
    ordered_edit(ds, "<rule-list><name>r1</name><rule><name>x</name><rpc-name>get</rpc-name>"
                     "<action>permit</action></rule></rule-list>")
    ordered_edit(ds, "<rule-list><name>r1</name><rule><name>x</name><path>/v:vsis</path></rule></rule-list>")
    data = ds.root("running")
    assert data.xpath("//ot:rule/ot:rpc-name", namespaces={"ot": ORDERED_NS}) == []
    assert data.xpath("//ot:rule/ot:path/text()", namespaces={"ot": ORDERED_NS}) == ["/v:vsis"]
    assert data.xpath("//ot:rule/ot:action/text()", namespaces={"ot": ORDERED_NS}) == ["permit"]


# --- error-option and test-option -----------------------------------------------------------

BAD_AND_GOOD = vsis(vsi("a", "<description>changed</description>"
                             "<igmp-snooping><robustness>many</robustness></igmp-snooping>") + vsi("c"))


def test_stop_on_error_changes_nothing(nc):
    base(nc)
    before = snapshot(nc)
    error = one_error(lambda: edit(nc, BAD_AND_GOOD, error_option="stop-on-error"))
    assert error["tag"] == "invalid-value"
    assert snapshot(nc) == before


def test_rollback_on_error_changes_nothing(nc):
    base(nc)
    before = snapshot(nc)
    error = one_error(lambda: edit(nc, BAD_AND_GOOD, error_option="rollback-on-error"))
    assert error["tag"] == "invalid-value"
    assert snapshot(nc) == before


def test_continue_on_error_applies_the_rest_and_reports_each_error(nc):
    base(nc)
    error = one_error(lambda: edit(nc, BAD_AND_GOOD, error_option="continue-on-error"))
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/vl2mc:robustness"
    data = running(nc)
    assert leaf(data, "//v:vsi[v:name='a']/v:description") == "changed"
    assert leaf(data, "//v:vsi[v:name='c']/v:name") == "c"
    assert leaf(data, "//v:vsi[v:name='a']/v:igmp-snooping/v:robustness") is None


def test_test_only_checks_the_edit_without_applying_it(nc):
    base(nc)
    before = snapshot(nc)
    edit(nc, vsis(vsi("a", "<description>maybe</description>")), test_option="test-only")
    assert snapshot(nc) == before


def test_test_only_reports_validation_errors(nc):
    edit(nc, vsis(vsi("a")))
    before = snapshot(nc)
    error = one_error(lambda: edit(nc, vsis(vsi("a", "<igmp-snooping><enable>true</enable></igmp-snooping>")),
                                   test_option="test-only"))
    assert (error["tag"], error["app_tag"]) == ("operation-failed", "igmp-snooping-disabled-globally")
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/vl2mc:enable"
    assert snapshot(nc) == before


def test_test_option_set_on_running_still_refuses_an_invalid_result(nc):
    """Running stays valid whatever the test-option: the dataplane is fed from it."""
    edit(nc, vsis(vsi("a")))
    before = snapshot(nc)
    error = one_error(lambda: edit(nc, vsis(vsi("a", "<igmp-snooping><enable>true</enable></igmp-snooping>")),
                                   test_option="set"))
    assert (error["tag"], error["app_tag"]) == ("operation-failed", "igmp-snooping-disabled-globally")
    assert snapshot(nc) == before


def test_running_edit_that_breaks_a_must_changes_nothing(nc):
    """Snooping in a VSI needs the global switch (a must); running is validated at once."""
    edit(nc, vsis(vsi("a")))
    before = snapshot(nc)
    error = one_error(lambda: edit(nc, vsis(vsi("a", "<igmp-snooping><enable>true</enable></igmp-snooping>"))))
    assert (error["tag"], error["app_tag"]) == ("operation-failed", "igmp-snooping-disabled-globally")
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/vl2mc:enable"
    assert snapshot(nc) == before


def test_candidate_edit_is_type_checked_at_once_but_validated_at_commit(nc):
    edit(nc, vsis(vsi("a", "<igmp-snooping><enable>true</enable></igmp-snooping>")), target="candidate")
    error = one_error(lambda: edit(nc, vsis(vsi("a", "<igmp-snooping><version>9</version></igmp-snooping>")),
                                   target="candidate"))
    assert error["tag"] == "invalid-value"
    before = snapshot(nc)
    commit_error = one_error(lambda: nc.commit())
    assert (commit_error["tag"], commit_error["app_tag"]) == ("operation-failed", "igmp-snooping-disabled-globally")
    assert snapshot(nc) == before


def test_edit_config_of_startup_is_refused(nc):
    error = one_error(lambda: edit(nc, vsis(vsi("a")), target="startup"))
    assert (error["type"], error["tag"]) == ("protocol", "invalid-value")
    assert error["info"]["bad-element"] == "startup"


# --- engine-level: an ordered-by user leaf-list (none in the served modules) --------------

EX = "urn:example:ordered"


def _ordered_leaf_list_schema():
    from agent.schema import Schema, SchemaNode, YangType
    top = SchemaNode("container", "top", EX, "ex", "ex", None)
    item = SchemaNode("leaf-list", "item", EX, "ex", "ex", top, ordered_by_user=True,
                      type=YangType(base="string", name="string", lengths=[(0, 2**64 - 1)]))
    top.children[item.tag] = item
    return Schema(modules={}, roots={top.tag: top}, rpcs={}, notifications={}, namespaces={EX: ("ex", "ex")})


def _items(root) -> list[str]:
    return [e.text for e in root.iter(f"{{{EX}}}item")]


def _ex_edit(schema, root, body: str) -> None:
    from agent.edit_config import apply_edit
    apply_edit(schema, root, etree.fromstring(
        f'<config xmlns="{NC}" xmlns:yang="{YANG}"><top xmlns="{EX}">{body}</top></config>'))


def test_ordered_by_user_leaf_list_values_go_where_yang_value_says():
    from agent.datastore import empty_root
    schema, root = _ordered_leaf_list_schema(), empty_root()
    _ex_edit(schema, root, "<item>b</item><item>d</item>")
    _ex_edit(schema, root, '<item yang:insert="first">a</item>')
    _ex_edit(schema, root, '<item yang:insert="after" yang:value="b">c</item>')
    _ex_edit(schema, root, '<item yang:insert="before" yang:value="a">z</item>')
    assert _items(root) == ["z", "a", "b", "c", "d"]
    _ex_edit(schema, root, '<item yang:insert="last">z</item>')
    assert _items(root) == ["a", "b", "c", "d", "z"]


def test_yang_value_naming_no_existing_value_is_bad_attribute_and_changes_nothing():
    from agent.datastore import empty_root
    from agent.errors import RpcError
    schema, root = _ordered_leaf_list_schema(), empty_root()
    _ex_edit(schema, root, "<item>a</item>")
    before = etree.tostring(root)
    with pytest.raises(RpcError) as caught:
        _ex_edit(schema, root, '<item yang:insert="after" yang:value="nope">b</item>')
    assert caught.value.tag.value == "bad-attribute"
    assert caught.value.info == [("bad-attribute", "value"), ("bad-element", "item")]
    assert etree.tostring(root) == before


def test_get_config_shows_no_nacm_defaults_while_access_control_is_not_enforced(nc):
    """ietf-netconf-acm is not implemented yet: no `enable-nacm true` to mislead a user."""
    data = running(nc, with_defaults="report-all")
    assert data.find("{urn:ietf:params:xml:ns:yang:ietf-netconf-acm}nacm") is None
    error = one_error(lambda: edit(nc, config('<nacm xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-acm">'
                                              '<enable-nacm>false</enable-nacm></nacm>')))
    assert error["tag"] == "unknown-namespace"


# --- one node given twice (answered as copy-config answers the same content) -----------------

def _copy_config_error(nc: Any, body: str) -> dict[str, Any]:
    from tests.agent.test_commit import source
    return one_error(lambda: nc.copy_config(source=source(body), target="running"))


@pytest.mark.parametrize("error_option", ["stop-on-error", "continue-on-error", "rollback-on-error"])
def test_a_leaf_given_twice_in_one_edit_is_bad_element_like_copy_config_and_changes_nothing(nc, error_option):
    base(nc)
    before = snapshot(nc)
    body = vsis(vsi("a", "<description>one</description><description>two</description>") + vsi("c"))
    error = one_error(lambda: edit(nc, body, error_option=error_option))
    assert (error["type"], error["tag"], error["app_tag"]) == ("application", "bad-element", None)
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:description"
    assert error["info"] == {"bad-element": "description"}
    assert snapshot(nc) == before
    assert error == _copy_config_error(nc, body)
    assert snapshot(nc) == before


def test_a_container_given_twice_in_one_edit_is_bad_element_like_copy_config(nc):
    base(nc)
    before = snapshot(nc)
    body = vsis(vsi("a", "<igmp-snooping><robustness>3</robustness></igmp-snooping>"
                         "<igmp-snooping><version>3</version></igmp-snooping>"))
    error = one_error(lambda: edit(nc, body))
    assert (error["tag"], error["path"]) == ("bad-element", "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping")
    assert error == _copy_config_error(nc, body)
    assert snapshot(nc) == before


def test_a_list_entry_given_twice_in_one_edit_is_data_not_unique_like_copy_config(nc):
    base(nc)
    before = snapshot(nc)
    body = vsis(vsi("a", "<description>one</description>") + vsi("a", "<description>two</description>"))
    error = one_error(lambda: edit(nc, body))
    assert (error["type"], error["tag"], error["app_tag"]) == ("application", "operation-failed", "data-not-unique")
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']"
    assert error == _copy_config_error(nc, body)
    assert snapshot(nc) == before


def test_a_key_leaf_given_twice_in_one_edit_is_bad_element_like_copy_config(nc):
    base(nc)
    before = snapshot(nc)
    body = vsis("<vsi><name>a</name><name>a</name><description>x</description></vsi>")
    error = one_error(lambda: edit(nc, body))
    assert (error["tag"], error["path"]) == ("bad-element", "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:name")
    assert error == _copy_config_error(nc, body)
    assert snapshot(nc) == before


def test_a_leaf_list_value_given_twice_in_one_edit_is_data_not_unique_like_copy_config(nc):
    base(nc)
    before = snapshot(nc)
    body = snooping("<static-router-port>eth1</static-router-port><static-router-port>eth1</static-router-port>")
    error = one_error(lambda: edit(nc, body))
    assert (error["tag"], error["app_tag"]) == ("operation-failed", "data-not-unique")
    assert error["path"] == ("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/"
                             "vl2mc:static-router-port[.='eth1']")
    assert error == _copy_config_error(nc, body)
    assert snapshot(nc) == before


def test_the_same_entry_under_two_different_parents_is_not_a_repeat(nc):
    base(nc)
    edit(nc, vsis(vsi("a", "<acs><ac><interface>eth1</interface></ac></acs>")
                  + vsi("b", "<acs><ac><interface>eth2</interface></ac></acs>")))
    data = running(nc)
    assert leaf(data, "//v:vsi[v:name='a']/v:acs/v:ac/v:interface") == "eth1"
    assert leaf(data, "//v:vsi[v:name='b']/v:acs/v:ac/v:interface") == "eth2"


# --- RFC 7950 8.2: an edit that makes a `when` false deletes the node it guarded -----------------

def snooping_of(nc: Any, name: str, source: str = "running", with_defaults: str | None = None) -> etree._Element:
    data = running(nc, source, with_defaults)
    found = data.find(f"{V}vsis/{V}vsi[{V}name='{name}']/{V}igmp-snooping")
    assert found is not None
    return found


def test_switching_backup_query_forward_off_deletes_the_source_mac_replace_it_guarded(nc):
    base(nc)
    edit(nc, vsis(vsi("a", "<igmp-snooping><enable>true</enable><backup-query-forward>true</backup-query-forward>"
                           "<backup-query-source-mac-replace>true</backup-query-source-mac-replace></igmp-snooping>")))
    edit(nc, vsis(vsi("a", "<igmp-snooping><backup-query-forward>false</backup-query-forward></igmp-snooping>")))
    snooping = snooping_of(nc, "a", with_defaults="report-all")
    assert snooping.findtext(f"{V}backup-query-forward") == "false"
    assert snooping.find(f"{V}backup-query-source-mac-replace") is None


def test_deleting_pw_fast_control_deletes_its_configured_holdtime(nc):
    base(nc)
    edit(nc, vsis(vsi("a", "<igmp-snooping><pw-fast-control>true</pw-fast-control>"
                           "<pw-fast-control-holdtime>30</pw-fast-control-holdtime></igmp-snooping>")))
    edit(nc, vsis(vsi("a", '<igmp-snooping><pw-fast-control nc:operation="delete"/></igmp-snooping>')))
    snooping = snooping_of(nc, "a", with_defaults="report-all")
    assert snooping.find(f"{V}pw-fast-control-holdtime") is None


def test_a_when_made_false_in_the_candidate_deletes_the_node_there_and_the_commit_carries_it(nc):
    base(nc)
    edit(nc, vsis(vsi("a", "<igmp-snooping><enable>true</enable><backup-report-forward>true</backup-report-forward>"
                           "<backup-report-source-mac-replace>true</backup-report-source-mac-replace></igmp-snooping>")))
    edit(nc, vsis(vsi("a", "<igmp-snooping><backup-report-forward>false</backup-report-forward></igmp-snooping>")),
         target="candidate")
    assert snooping_of(nc, "a", "candidate").find(f"{V}backup-report-source-mac-replace") is None
    assert snooping_of(nc, "a").findtext(f"{V}backup-report-source-mac-replace") == "true"
    nc.commit()
    assert snooping_of(nc, "a").find(f"{V}backup-report-source-mac-replace") is None


def test_setting_a_node_whose_when_is_false_in_the_same_edit_is_still_unknown_element(nc):
    """RFC 7950 8.3.2: the request itself creates the node its `when` forbids."""
    base(nc)
    before = snapshot(nc)
    error = one_error(lambda: edit(nc, vsis(vsi("a", "<igmp-snooping><backup-query-forward>false</backup-query-forward>"
                                                     "<backup-query-source-mac-replace>true"
                                                     "</backup-query-source-mac-replace></igmp-snooping>"))))
    assert error["tag"] == "unknown-element"
    assert error["path"].endswith("vl2mc:backup-query-source-mac-replace")
    assert snapshot(nc) == before
