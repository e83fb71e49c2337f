"""Loading `<config>`/`<data>` documents (RFC 7950 8.3.1) and instantiating defaults (7.6.1, 7.7.4, 7.9.3)."""

from __future__ import annotations

import copy

import pytest
from lxml import etree

from agent.defaults import (fill_defaults, fill_tree_defaults, is_default, strip_defaults, unmark,
                            without_defaults)
from agent.errors import AppTag, ErrorTag, RpcError, RpcErrors
from agent.instance import load_instance, load_subtree, new_datastore_root
from agent.schema import Schema, SchemaNode
from agent.xmlns import DEFAULT_MARK, NC, VL2MC
from tests.agent.test_schema import LIB, SH, ours, sh, shapes

V = f"{{{VL2MC}}}"
S = f"{{{SH}}}"
VSI_PATH = "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']"


def config(body: str) -> etree._Element:
    return etree.fromstring(f'<config xmlns="{NC}">{body}</config>')


def vsi_config(vsi_body: str, extra: str = "") -> etree._Element:
    return config(f'<vsis xmlns="{VL2MC}"><vsi><name>a</name>{vsi_body}</vsi>{extra}</vsis>'
                  f'<l2-multicast xmlns="{VL2MC}"><igmp-snooping-enable>true</igmp-snooping-enable></l2-multicast>')


def load_error(schema: Schema, doc: etree._Element, **kw: object) -> RpcError:
    with pytest.raises(RpcError) as info:
        load_instance(schema, doc, **kw)  # type: ignore[arg-type]
    return info.value


def load_errors(schema: Schema, doc: etree._Element) -> list[RpcError]:
    with pytest.raises(RpcErrors) as info:
        load_instance(schema, doc)
    return info.value.errors


def explicit(el: etree._Element) -> list[str]:
    """Local names of the explicit (not default-marked) children."""
    return [etree.QName(c).localname for c in el if not is_default(c)]


# --- values ----------------------------------------------------------------------------------

def test_loaded_values_are_canonical() -> None:
    root = load_instance(ours(), vsi_config("<igmp-snooping><query-interval>+0090</query-interval>"
                                            "<enable>true</enable></igmp-snooping>"))
    igmp = root.find(f"{V}vsis/{V}vsi/{V}igmp-snooping")
    assert igmp.findtext(f"{V}query-interval") == "90"
    assert igmp.findtext(f"{V}enable") == "true"


def test_result_is_a_datastore_root_in_the_netconf_namespace() -> None:
    root = load_instance(ours(), vsi_config(""))
    assert root.tag == f"{{{NC}}}data"
    assert root.find(f"{V}vsis") is not None


def test_invalid_leaf_value_is_invalid_value_with_the_instance_path() -> None:
    err = load_error(ours(), vsi_config("<igmp-snooping><query-interval>70000</query-interval></igmp-snooping>"))
    assert err.tag is ErrorTag.INVALID_VALUE
    assert err.message == "'70000' is out of range 1..65535 for query-interval"
    assert err.path == f"{VSI_PATH}/vl2mc:igmp-snooping/vl2mc:query-interval"
    assert err.path_nsmap == {"vl2mc": VL2MC}


def test_leaf_with_child_elements_is_invalid_value() -> None:
    err = load_error(ours(), vsi_config("<description><b>x</b></description>"))
    assert err.tag is ErrorTag.INVALID_VALUE
    assert err.path == f"{VSI_PATH}/vl2mc:description"


def test_identityref_value_declares_the_canonical_prefix() -> None:
    doc = config(f'<settings xmlns="{SH}" xmlns:x="{LIB}"><transport-proto>x:tcp</transport-proto></settings>')
    root = load_instance(shapes(), doc)
    proto = root.find(f"{S}settings/{S}transport-proto")
    assert proto.text == "lib:tcp"
    assert proto.nsmap["lib"] == LIB


# --- unknown and misplaced elements ------------------------------------------------------------

def test_unknown_element_has_bad_element_and_error_path() -> None:
    err = load_error(ours(), vsi_config("<igmp-snooping><bogus>1</bogus></igmp-snooping>"))
    assert err.tag is ErrorTag.UNKNOWN_ELEMENT
    assert err.info == [("bad-element", "bogus")]
    assert err.path == f"{VSI_PATH}/vl2mc:igmp-snooping/vl2mc:bogus"


def test_unknown_top_level_element_in_a_known_namespace() -> None:
    err = load_error(ours(), config(f'<vsi xmlns="{VL2MC}"/>'))
    assert err.tag is ErrorTag.UNKNOWN_ELEMENT
    assert err.message == "unknown element 'vsi' at the top level"


def test_unknown_namespace_has_bad_namespace() -> None:
    err = load_error(ours(), config('<vsis xmlns="urn:nobody"/>'))
    assert err.tag is ErrorTag.UNKNOWN_NAMESPACE
    assert ("bad-namespace", "urn:nobody") in err.info
    assert ("bad-element", "vsis") in err.info


def test_element_without_namespace_is_unknown_namespace() -> None:
    doc = etree.fromstring('<config><vsis/></config>')
    assert load_error(ours(), doc).tag is ErrorTag.UNKNOWN_NAMESPACE


def test_state_data_in_configuration_is_invalid_value() -> None:
    err = load_error(ours(), vsi_config("<mac-table/>"))
    assert err.tag is ErrorTag.INVALID_VALUE
    assert err.message == "mac-table is state data (config false) and cannot be configured"
    assert err.path == f"{VSI_PATH}/vl2mc:mac-table"


def test_state_data_is_accepted_when_allowed() -> None:
    root = load_instance(ours(), vsi_config("<mac-table><mac-moves>3</mac-moves></mac-table>"), allow_state=True)
    assert root.findtext(f"{V}vsis/{V}vsi/{V}mac-table/{V}mac-moves") == "3"


def test_rpc_names_are_not_data() -> None:
    err = load_error(ours(), config(f'<reset-igmp-snooping-group xmlns="{VL2MC}"/>'))
    assert err.tag is ErrorTag.UNKNOWN_ELEMENT


def test_action_names_are_not_data() -> None:
    err = load_error(ours(), vsi_config("<igmp-snooping><clear-groups/></igmp-snooping>"))
    assert err.tag is ErrorTag.UNKNOWN_ELEMENT


def test_a_leaf_given_twice_is_bad_element() -> None:
    err = load_error(ours(), vsi_config("<description>x</description><description>y</description>"))
    assert err.tag is ErrorTag.BAD_ELEMENT
    assert err.info == [("bad-element", "description")]


def test_two_cases_of_one_choice_are_bad_element() -> None:
    doc = config(f'<settings xmlns="{SH}"><tcp-port>8</tcp-port><udp-port>9</udp-port></settings>')
    err = load_error(shapes(), doc)
    assert err.tag is ErrorTag.BAD_ELEMENT
    assert "choice 'transport'" in err.message
    assert err.path == "/sh:settings/sh:udp-port"


# --- lists ---------------------------------------------------------------------------------

def test_list_entry_keys_come_first_in_key_order() -> None:
    doc = vsi_config("<pws><pw><interface>p1</interface><vc-id>100</vc-id>"
                     "<peer-address>10.0.0.1</peer-address></pw></pws>")
    root = load_instance(ours(), doc)
    pw = root.find(f"{V}vsis/{V}vsi/{V}pws/{V}pw")
    assert explicit(pw) == ["peer-address", "vc-id", "interface"]
    vsi = root.find(f"{V}vsis/{V}vsi")
    assert explicit(vsi)[0] == "name"


def test_missing_list_key_is_missing_element() -> None:
    err = load_error(ours(), vsi_config("<pws><pw><vc-id>100</vc-id><interface>p1</interface></pw></pws>"))
    assert err.tag is ErrorTag.MISSING_ELEMENT
    assert err.info == [("bad-element", "peer-address")]
    assert err.path == f"{VSI_PATH}/vl2mc:pws/vl2mc:pw"


def test_invalid_key_value_is_invalid_value() -> None:
    err = load_error(ours(), vsi_config("<pws><pw><peer-address>10.0.0.300</peer-address><vc-id>1</vc-id>"
                                        "<interface>p1</interface></pw></pws>"))
    assert err.tag is ErrorTag.INVALID_VALUE


def test_duplicate_list_keys_are_data_not_unique() -> None:
    err = load_error(ours(), vsi_config("", extra="<vsi><name>a</name></vsi>"))
    assert err.tag is ErrorTag.OPERATION_FAILED
    assert err.app_tag == AppTag.DATA_NOT_UNIQUE
    assert err.path == VSI_PATH
    assert "name='a'" in err.message


def test_duplicate_keys_compare_canonical_values() -> None:
    doc = vsi_config("<pws><pw><peer-address>10.0.0.1</peer-address><vc-id>100</vc-id><interface>p1</interface></pw>"
                     "<pw><peer-address>10.0.0.1</peer-address><vc-id>+0100</vc-id><interface>p2</interface></pw></pws>")
    assert load_error(ours(), doc).app_tag == AppTag.DATA_NOT_UNIQUE


def test_a_key_leaf_given_twice_is_bad_element() -> None:
    err = load_error(ours(), vsi_config("", extra="<vsi><name>b</name><name>c</name></vsi>"))
    assert err.tag is ErrorTag.BAD_ELEMENT


def test_duplicate_leaf_list_values_in_config_are_data_not_unique() -> None:
    err = load_error(ours(), vsi_config("<igmp-snooping><static-router-port>ac1</static-router-port>"
                                        "<static-router-port>ac1</static-router-port></igmp-snooping>"))
    assert err.app_tag == AppTag.DATA_NOT_UNIQUE
    assert err.path == f"{VSI_PATH}/vl2mc:igmp-snooping/vl2mc:static-router-port[.='ac1']"


def test_leaf_list_keeps_document_order() -> None:
    root = load_instance(ours(), vsi_config("<igmp-snooping><static-router-port>b</static-router-port>"
                                            "<static-router-port>a</static-router-port></igmp-snooping>"))
    ports = root.findall(f"{V}vsis/{V}vsi/{V}igmp-snooping/{V}static-router-port")
    assert [p.text for p in ports] == ["b", "a"]


def test_every_error_is_reported_in_document_order() -> None:
    doc = vsi_config("<igmp-snooping><enable>yes</enable><bogus/></igmp-snooping><mac-table/>",
                     extra="<vsi><name>a</name></vsi>")
    errors = load_errors(ours(), doc)
    assert [e.tag for e in errors] == [ErrorTag.INVALID_VALUE, ErrorTag.UNKNOWN_ELEMENT,
                                       ErrorTag.INVALID_VALUE, ErrorTag.OPERATION_FAILED]


def test_a_failed_load_leaves_the_input_untouched() -> None:
    doc = vsi_config("<igmp-snooping><query-interval>70000</query-interval></igmp-snooping>")
    before = etree.tostring(doc)
    load_error(ours(), doc)
    assert etree.tostring(doc) == before


# --- defaults ------------------------------------------------------------------------------

def test_defaults_are_instantiated_and_marked() -> None:
    root = load_instance(ours(), vsi_config(""))
    qi = root.find(f"{V}vsis/{V}vsi/{V}igmp-snooping/{V}query-interval")
    assert qi is not None and qi.text == "60"
    assert qi.get(DEFAULT_MARK) == "1"


def test_non_presence_container_created_for_defaults_is_marked() -> None:
    root = load_instance(ours(), vsi_config(""))
    igmp = root.find(f"{V}vsis/{V}vsi/{V}igmp-snooping")
    assert is_default(igmp)


def test_explicit_values_are_not_marked() -> None:
    root = load_instance(ours(), vsi_config("<igmp-snooping><query-interval>90</query-interval></igmp-snooping>"))
    igmp = root.find(f"{V}vsis/{V}vsi/{V}igmp-snooping")
    assert not is_default(igmp)
    assert not is_default(igmp.find(f"{V}query-interval"))
    assert is_default(igmp.find(f"{V}robustness"))


def test_config_false_defaults_are_not_instantiated_in_configuration() -> None:
    root = load_instance(shapes(), config(f'<settings xmlns="{SH}"/>'))
    assert root.find(f"{S}settings/{S}mode") is None


def test_presence_container_is_never_created_for_defaults() -> None:
    root = load_instance(shapes(), config(f'<settings xmlns="{SH}"/>'))
    assert root.find(f"{S}settings/{S}tuning") is None


def test_defaults_are_filled_inside_an_existing_presence_container() -> None:
    root = load_instance(shapes(), config(f'<settings xmlns="{SH}"><tuning/></settings>'))
    assert root.findtext(f"{S}settings/{S}tuning/{S}gain") == "1"


def test_leaf_list_defaults_apply_only_when_the_leaf_list_is_empty() -> None:
    root = load_instance(shapes(), config(f'<settings xmlns="{SH}"/>'))
    assert [c.text for c in root.findall(f"{S}settings/{S}colours")] == ["red", "blue"]
    root = load_instance(shapes(), config(f'<settings xmlns="{SH}"><colours>green</colours></settings>'))
    assert [c.text for c in root.findall(f"{S}settings/{S}colours")] == ["green"]


def test_default_case_defaults_exist_when_no_case_is_chosen() -> None:
    root = load_instance(shapes(), config(f'<settings xmlns="{SH}"/>'))
    assert root.findtext(f"{S}settings/{S}tcp-port") == "80"


def test_no_defaults_in_a_case_that_is_not_chosen() -> None:
    root = load_instance(shapes(), config(f'<settings xmlns="{SH}"><udp-port>53</udp-port><a>x</a></settings>'))
    assert root.find(f"{S}settings/{S}tcp-port") is None


def test_choosing_another_case_removes_the_default_cases_defaults() -> None:
    root = load_instance(shapes(), config(f'<settings xmlns="{SH}"/>'))
    settings = root.find(f"{S}settings")
    etree.SubElement(settings, f"{S}udp-port").text = "53"
    fill_defaults(settings, sh("settings"))
    assert settings.find(f"{S}tcp-port") is None


def test_deleting_an_explicit_leaf_brings_its_default_back() -> None:
    root = load_instance(ours(), vsi_config("<igmp-snooping><query-interval>90</query-interval></igmp-snooping>"))
    igmp = root.find(f"{V}vsis/{V}vsi/{V}igmp-snooping")
    igmp.remove(igmp.find(f"{V}query-interval"))
    created = fill_defaults(igmp, ours().roots[f"{V}vsis"].children[f"{V}vsi"].children[f"{V}igmp-snooping"])
    assert [c.text for c in created] == ["60"]
    assert igmp.find(f"{V}query-interval").get(DEFAULT_MARK) == "1"


def test_defaults_are_inserted_in_schema_order() -> None:
    root = load_instance(ours(), vsi_config("<igmp-snooping><limit-max-entry>5</limit-max-entry></igmp-snooping>"))
    igmp = root.find(f"{V}vsis/{V}vsi/{V}igmp-snooping")
    names = [etree.QName(c).localname for c in igmp]
    assert names.index("querier-source-address") < names.index("limit-max-entry") < names.index("backup-query-forward")


def test_when_hook_decides_whether_a_guarded_default_exists() -> None:
    def when_ok(node: SchemaNode, parent: etree._Element) -> bool:
        return node.name != "backup-query-source-mac-replace"

    root = new_datastore_root()
    root.append(load_instance(ours(), vsi_config(""), fill_defaults=False)[0])
    fill_tree_defaults(root, ours(), when_ok)
    igmp = root.find(f"{V}vsis/{V}vsi/{V}igmp-snooping")
    assert igmp.find(f"{V}backup-query-source-mac-replace") is None
    assert igmp.find(f"{V}backup-report-source-mac-replace") is not None


def test_a_default_whose_when_turned_false_is_removed() -> None:
    root = load_instance(ours(), vsi_config(""))
    fill_tree_defaults(root, ours(), lambda node, parent: node.name != "pw-fast-control-holdtime")
    assert root.find(f"{V}vsis/{V}vsi/{V}igmp-snooping/{V}pw-fast-control-holdtime") is None


def test_when_hook_never_removes_explicit_data() -> None:
    root = load_instance(ours(), vsi_config("<igmp-snooping><pw-fast-control-holdtime>20</pw-fast-control-holdtime>"
                                            "</igmp-snooping>"))
    fill_tree_defaults(root, ours(), lambda node, parent: False)
    assert root.findtext(f"{V}vsis/{V}vsi/{V}igmp-snooping/{V}pw-fast-control-holdtime") == "20"


def test_identityref_default_declares_its_prefix() -> None:
    root = load_instance(shapes(), config(f'<settings xmlns="{SH}"/>'))
    proto = root.find(f"{S}settings/{S}transport-proto")
    assert proto.text == "lib:tcp" and proto.nsmap["lib"] == LIB


def test_fill_defaults_is_idempotent() -> None:
    root = load_instance(ours(), vsi_config(""))
    before = etree.tostring(root)
    assert fill_tree_defaults(root, ours()) == []
    assert etree.tostring(root) == before


def test_wd_default_attribute_marks_a_value_equal_to_the_default() -> None:
    wd = "urn:ietf:params:xml:ns:netconf:default:1.0"
    doc = vsi_config(f'<igmp-snooping xmlns:wd="{wd}"><query-interval wd:default="true">60</query-interval>'
                     "</igmp-snooping>")
    root = load_instance(ours(), doc)
    assert is_default(root.find(f"{V}vsis/{V}vsi/{V}igmp-snooping/{V}query-interval"))


# --- stripping -------------------------------------------------------------------------------

def test_strip_defaults_leaves_only_explicit_nodes() -> None:
    root = load_instance(ours(), vsi_config("<igmp-snooping><query-interval>90</query-interval></igmp-snooping>"))
    stripped = without_defaults(root)
    igmp = stripped.find(f"{V}vsis/{V}vsi/{V}igmp-snooping")
    assert [etree.QName(c).localname for c in igmp] == ["query-interval"]
    vsi = stripped.find(f"{V}vsis/{V}vsi")
    assert [etree.QName(c).localname for c in vsi] == ["name", "igmp-snooping"]   # no default-only leaves
    assert root.find(f"{V}vsis/{V}vsi/{V}igmp-snooping/{V}robustness") is not None   # copy, not in place


def test_unmark_makes_default_ancestors_explicit() -> None:
    root = load_instance(ours(), vsi_config(""))
    qi = root.find(f"{V}vsis/{V}vsi/{V}igmp-snooping/{V}query-interval")
    qi.text = "61"
    unmark(qi)
    stripped = strip_defaults(copy.deepcopy(root))
    assert stripped.findtext(f"{V}vsis/{V}vsi/{V}igmp-snooping/{V}query-interval") == "61"


# --- rpc input and other subtrees ----------------------------------------------------------

def test_rpc_input_is_loaded_with_its_defaults() -> None:
    ping = shapes().rpcs[f"{S}ping"]
    out = load_subtree(shapes(), ping.children["input"], etree.fromstring(f'<ping xmlns="{SH}"/>'))
    assert out.findtext(f"{S}count") == "3"


def test_rpc_input_values_are_checked_with_a_path_through_the_rpc() -> None:
    rpc = etree.fromstring(f'<rpc xmlns="{NC}"><ping xmlns="{SH}"><count>300</count></ping></rpc>')
    ping = shapes().rpcs[f"{S}ping"]
    with pytest.raises(RpcError) as info:
        load_subtree(shapes(), ping.children["input"], rpc[0])
    assert info.value.tag is ErrorTag.INVALID_VALUE
    assert info.value.path == "/sh:ping/sh:count"


def test_unknown_rpc_parameter_is_unknown_element() -> None:
    ping = shapes().rpcs[f"{S}ping"]
    with pytest.raises(RpcError) as info:
        load_subtree(shapes(), ping.children["input"], etree.fromstring(f'<ping xmlns="{SH}"><size>1</size></ping>'))
    assert info.value.tag is ErrorTag.UNKNOWN_ELEMENT
    assert info.value.message == "unknown element 'size' in the input of ping"


# --- differential: libyang must agree with what loading accepts --------------------------

#: contents of one VSI entry; libyang's verdict on each is the reference
LIBYANG_CASES = [
    "<igmp-snooping><query-interval>+0012</query-interval></igmp-snooping>",
    "<igmp-snooping><query-interval> 12 </query-interval></igmp-snooping>",
    "<igmp-snooping><query-interval>65536</query-interval></igmp-snooping>",
    "<igmp-snooping><query-interval>12.0</query-interval></igmp-snooping>",
    "<igmp-snooping><enable> true </enable></igmp-snooping>",
    "<unknown-multicast-action>drop</unknown-multicast-action>",
    "<unknown-multicast-action> drop </unknown-multicast-action>",
    "<description></description>",
    "<acs><ac><interface>p0</interface></ac></acs><pws><pw><peer-address>010.0.0.1</peer-address>"
    "<vc-id>1</vc-id><interface>p1</interface></pw></pws>",
    "<acs><ac><interface>p0</interface></ac></acs><igmp-snooping><static-group><group-address>224.0.0.5"
    "</group-address><source-address>0.0.0.0</source-address><interface>p0</interface></static-group>"
    "</igmp-snooping>",
    "<acs><ac><interface>p0</interface></ac></acs><igmp-snooping><static-group><group-address>224.0.1.1"
    "</group-address><source-address>0.0.0.0</source-address><interface>p0</interface></static-group>"
    "</igmp-snooping>",
    "<mac-table/>",
]


@pytest.mark.slow
@pytest.mark.parametrize("body", LIBYANG_CASES)
def test_load_verdict_agrees_with_libyang(body: str) -> None:
    from tests.agent import yang_oracles

    if yang_oracles.YANGLINT is None:
        pytest.skip("yanglint (libyang2-tools) is not installed: no libyang oracle")
    doc = vsi_config(body)
    libyang_ok, message = yang_oracles.yanglint_validate(etree.tostring(doc).decode())
    try:
        load_instance(ours(), doc)
        ours_ok = True
    except (RpcError, RpcErrors):
        ours_ok = False
    assert ours_ok == libyang_ok, message


# --- error-path of data still inside its request ---------------------------------------------

def _inside_request(operation: str, config_el: etree._Element) -> etree._Element:
    """``config_el`` placed where RFC 6241 puts it in an `<rpc>` (copy-config source or
    edit-config), still attached: what the server hands to the loader."""
    rpc = etree.fromstring(f'<rpc xmlns="{NC}" message-id="1"><{operation}><target><running/></target>'
                           f'{"<source/>" if operation == "copy-config" else ""}</{operation}></rpc>')
    holder = rpc[0].find(f"{{{NC}}}source") if operation == "copy-config" else rpc[0]
    holder.append(config_el)
    return config_el


@pytest.mark.parametrize("operation", ["copy-config", "edit-config"])
def test_the_error_path_of_inline_config_starts_at_the_data_not_at_the_request(operation: str) -> None:
    from tests.conftest import compiled_schema
    doc = _inside_request(operation, vsi_config("<igmp-snooping><query-interval>soon</query-interval></igmp-snooping>"))
    err = load_error(compiled_schema(), doc)
    assert err.tag is ErrorTag.INVALID_VALUE
    assert err.path == f"{VSI_PATH}/vl2mc:igmp-snooping/vl2mc:query-interval"
    assert err.path_nsmap == {"vl2mc": VL2MC}


def test_copy_config_of_inline_config_reports_a_bad_value_at_its_data_path(tmp_path) -> None:
    from agent.datastore import Datastores
    from agent.validate import Validator
    from tests.conftest import compiled_schema
    schema = compiled_schema()
    stores = Datastores(schema, Validator(schema), tmp_path)
    stores.load()
    before = etree.tostring(stores.root("running"))
    doc = _inside_request("copy-config", vsi_config("<acs><ac><interface>not a port!</interface></ac></acs>"))
    with pytest.raises(RpcError) as info:
        stores.tree_from_config(doc)
    assert info.value.tag is ErrorTag.INVALID_VALUE
    assert info.value.path == f"{VSI_PATH}/vl2mc:acs/vl2mc:ac[vl2mc:interface='not a port!']/vl2mc:interface"
    assert doc.getparent() is not None                       # the request is left as it was
    assert etree.tostring(stores.root("running")) == before
