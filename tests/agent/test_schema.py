"""Schema compilation: pyang's statement tree as the agent's SchemaNode / YangType objects.

Three small modules (`shapes`, its submodule and `shapes-lib`) exercise every statement the
compiler flattens; our own `vsi-l2-multicast` is checked for the facts other modules rely on.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest

from agent import paths
from agent.schema import IETF_MODULES, Schema, SchemaError, SchemaNode, load_schema
from agent.xmlns import NACM, NC, VL2MC

SH = "urn:test:shapes"
LIB = "urn:test:shapes-lib"

SHAPES = """module shapes {
  yang-version 1.1;
  namespace "urn:test:shapes";
  prefix sh;

  import shapes-lib { prefix lib; }
  include shapes-sub;

  revision 2026-02-01 { description "Second."; }
  revision 2026-01-01 { description "First."; }

  feature fancy;
  feature plain;

  typedef level {
    type uint8;
    default "3";
  }

  container settings {
    leaf level { type level; }
    leaf mode {
      type string;
      config false;
    }
    leaf-list colours {
      type string;
      default "red";
      default "blue";
      ordered-by user;
    }
    container tuning {
      presence "tuning is on";
      leaf gain { type uint8; default "1"; }
    }
    leaf fancy-leaf {
      if-feature fancy;
      type string;
    }
    leaf transport-proto {
      type identityref { base lib:proto; }
      default "lib:tcp";
    }
    leaf plain-leaf {
      if-feature plain;
      type string;
    }
    choice transport {
      default tcp;
      case tcp {
        leaf tcp-port { type uint16; default "80"; }
      }
      case udp {
        when "level > 2";
        leaf udp-port { type uint16; }
        choice extra {
          mandatory true;
          leaf a { type string; }
          leaf b { type string; }
        }
      }
      leaf shorthand { type empty; }
    }
    uses lib:endpoint {
      when "level = 3";
    }
  }

  list item {
    key "id";
    unique "name sh:label/sh:text";
    min-elements 1;
    max-elements 10;
    leaf id { type int32; }
    leaf name { type string; }
    container label { leaf text { type string; } }
    leaf ref {
      type leafref { path "/sh:item/sh:id"; require-instance false; }
    }
    action reset {
      input { leaf why { type string; mandatory true; } }
    }
    notification changed { leaf what { type string; } }
  }

  augment "/sh:settings" {
    when "sh:level > 1";
    leaf augmented { type string; default "yes"; }
  }

  rpc ping {
    input { leaf count { type uint8; default "3"; } }
    output { leaf rtt { type uint32; } }
  }

  notification alarm {
    leaf text { type string; }
  }
}
"""

SHAPES_LIB = """module shapes-lib {
  yang-version 1.1;
  namespace "urn:test:shapes-lib";
  prefix lib;

  revision 2026-01-01 { description "Lib."; }

  identity proto;
  identity tcp { base proto; }
  grouping endpoint {
    leaf address {
      type string;
      must "string-length(.) > 0";
    }
    leaf proto { type identityref { base lib:proto; } }
  }
}
"""

SHAPES_SUB = """submodule shapes-sub {
  yang-version 1.1;
  belongs-to shapes { prefix sh; }
  revision 2026-01-01 { description "Sub."; }
  container from-sub { leaf x { type string; } }
}
"""

_TMP = tempfile.TemporaryDirectory(prefix="shapes-")


def _write(name: str, text: str) -> Path:
    path = Path(_TMP.name) / name
    path.write_text(text)
    return path


@functools.cache
def shapes() -> Schema:
    _write("shapes.yang", SHAPES)
    _write("shapes-lib.yang", SHAPES_LIB)
    _write("shapes-sub.yang", SHAPES_SUB)
    return load_schema(["shapes"], [Path(_TMP.name)], features={"shapes": ("plain",)})


@functools.cache
def ours() -> Schema:
    return load_schema()


def sh(*names: str) -> SchemaNode:
    """The node at /sh:names[0]/sh:names[1]/... (children looked up in the shapes namespace)."""
    schema = shapes()
    node = schema.roots[f"{{{SH}}}{names[0]}"]
    for name in names[1:]:
        node = node.children[name if name in ("input", "output") else f"{{{SH}}}{name}"]
    return node


def vl(*names: str) -> SchemaNode:
    node = ours().roots[f"{{{VL2MC}}}{names[0]}"]
    for name in names[1:]:
        node = node.children[f"{{{VL2MC}}}{name}"]
    return node


# --- loading -------------------------------------------------------------------------------

def test_default_modules_are_ours_and_the_ietf_modules_the_server_implements() -> None:
    modules = ours().modules
    assert modules["vsi-l2-multicast"].implemented
    for name in IETF_MODULES:
        assert name in modules
    assert modules["ietf-netconf"].implemented
    assert modules["ietf-datastores"].implemented          # identities only, still implemented
    assert not modules["ietf-yang-types"].implemented       # typedefs only: import-only
    assert not modules["ietf-inet-types"].implemented


def test_ietf_modules_come_from_pyangs_module_directory() -> None:
    path = ours().modules["ietf-netconf"].path
    assert path.parent in paths.pyang_module_dirs()
    assert ours().modules["vsi-l2-multicast"].path == (paths.yang_dir() / "vsi-l2-multicast.yang").resolve()


def test_module_info_carries_revision_features_and_submodules() -> None:
    info = shapes().modules["shapes"]
    assert info.revision == "2026-02-01"                    # the newest revision
    assert info.features == ("plain",)
    assert info.submodules == ("shapes-sub",)
    assert info.prefix == "sh" and info.namespace == SH
    assert shapes().modules["shapes-sub"].namespace == SH
    assert not shapes().modules["shapes-lib"].implemented


def test_ietf_netconf_features_exclude_url() -> None:
    features = ours().modules["ietf-netconf"].features
    assert "candidate" in features and "xpath" in features
    assert "url" not in features


def test_namespaces_map_to_module_and_prefix() -> None:
    assert ours().namespaces[VL2MC] == ("vsi-l2-multicast", "vl2mc")
    assert ours().namespaces[NC] == ("ietf-netconf", "nc")


def test_pyang_errors_fail_loading_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "broken.yang").write_text(
        'module broken { namespace "urn:b"; prefix b; '
        'typedef p { type uint8 { range "0..100"; } default "50"; }\n'
        'leaf small { type p { range "0..10"; } } }')
    with pytest.raises(SchemaError) as info:
        load_schema(["broken"], [tmp_path])
    assert any("broken.yang:2" in e for e in info.value.errors)


def test_missing_module_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="module 'nowhere' not found"):
        load_schema(["nowhere"], [tmp_path])


# --- data nodes ------------------------------------------------------------------------------

def test_submodule_nodes_are_in_the_modules_namespace() -> None:
    assert f"{{{SH}}}from-sub" in shapes().roots


def test_config_false_is_inherited() -> None:
    assert not sh("settings", "mode").config
    assert not vl("vsis", "vsi", "igmp-snooping", "router-port", "interface").config
    assert vl("vsis", "vsi", "igmp-snooping", "query-interval").config


def test_presence_container() -> None:
    assert sh("settings", "tuning").presence
    assert not sh("settings").presence


def test_list_keys_unique_and_cardinality() -> None:
    item = sh("item")
    assert item.keys == ("id",)
    assert item.unique == [("name", "label/text")]
    assert (item.min_elements, item.max_elements) == (1, 10)


def test_leaf_list_defaults_and_ordered_by_user() -> None:
    colours = sh("settings", "colours")
    assert colours.default == ("red", "blue")
    assert colours.ordered_by_user


def test_leaf_default_is_inherited_from_its_typedef() -> None:
    assert sh("settings", "level").default == "3"


def test_identityref_default_is_canonical_with_the_identitys_module_prefix() -> None:
    proto = sh("settings", "transport-proto")
    assert proto.default == "lib:tcp"
    assert proto.type is not None and proto.type.identities == frozenset({f"{{{LIB}}}tcp"})


def test_false_if_feature_removes_the_node() -> None:
    settings = sh("settings")
    assert f"{{{SH}}}plain-leaf" in settings.children
    assert f"{{{SH}}}fancy-leaf" not in settings.children


def test_choices_are_flattened_with_their_path() -> None:
    settings = sh("settings")
    assert settings.children[f"{{{SH}}}tcp-port"].choice_path == (("transport", "tcp"),)
    assert settings.children[f"{{{SH}}}a"].choice_path == (("transport", "udp"), ("extra", "a"))
    assert settings.children[f"{{{SH}}}shorthand"].choice_path == (("transport", "shorthand"),)


def test_choice_info_has_default_case_and_mandatory() -> None:
    choices = {c.name: c for c in sh("settings").choices}
    assert choices["transport"].default_case == "tcp"
    assert choices["transport"].cases == ("tcp", "udp", "shorthand")
    assert choices["extra"].mandatory
    assert choices["extra"].outer == (("transport", "udp"),)


def test_when_on_a_case_applies_to_its_nodes_with_the_parent_as_context() -> None:
    udp = sh("settings", "udp-port")
    assert [(w.expr.text, w.context_is_parent) for w in udp.whens] == [("level > 2", True)]


def test_when_on_uses_and_augment_has_the_parent_as_context() -> None:
    address = sh("settings", "address")
    assert address.when is not None and address.when.context_is_parent
    assert address.when.expr.text == "level = 3"
    augmented = sh("settings", "augmented")
    assert augmented.when is not None and augmented.when.context_is_parent
    assert augmented.when.expr.nsmap == {"sh": SH, "lib": LIB}


def test_grouping_nodes_take_the_users_namespace_and_keep_the_groupings_prefixes() -> None:
    address = sh("settings", "address")
    assert address.namespace == SH
    assert address.musts[0].expr.nsmap == {"lib": LIB}
    assert address.musts[0].expr.default_ns == SH


def test_leafref_has_its_path_target_type_and_require_instance() -> None:
    ref = sh("item", "ref").type
    assert ref is not None and ref.base == "leafref"
    assert ref.leafref_path is not None and ref.leafref_path.text == "/sh:item/sh:id"
    assert ref.target_type is not None and ref.target_type.base == "int32"
    assert not ref.require_instance


def test_rpc_input_and_output() -> None:
    ping = shapes().rpcs[f"{{{SH}}}ping"]
    assert ping.children["input"].children[f"{{{SH}}}count"].default == "3"
    assert f"{{{SH}}}rtt" in ping.children["output"].children


def test_actions_and_nested_notifications_are_children_by_keyword() -> None:
    item = sh("item")
    assert item.children[f"{{{SH}}}reset"].keyword == "action"
    assert item.children[f"{{{SH}}}reset"].children["input"].children[f"{{{SH}}}why"].mandatory
    assert item.children[f"{{{SH}}}changed"].keyword == "notification"
    assert f"{{{SH}}}alarm" in shapes().notifications


def test_schema_path_leaves_choices_out() -> None:
    assert sh("settings", "a").schema_path() == "/sh:settings/sh:a"


# --- our module: the facts the rest of the agent relies on --------------------------------

def test_vsi_list_is_keyed_by_name_and_pw_by_peer_and_vc_id() -> None:
    assert vl("vsis", "vsi").keys == ("name",)
    assert vl("vsis", "vsi", "pws", "pw").keys == ("peer-address", "vc-id")


def test_igmp_snooping_defaults_are_canonical_strings() -> None:
    igmp = ("vsis", "vsi", "igmp-snooping")
    assert vl(*igmp, "enable").default == "false"
    assert vl(*igmp, "query-interval").default == "60"
    assert vl(*igmp, "robustness").default == "2"
    assert vl("vsis", "vsi", "pws", "pw", "wtr-time").default == "30"
    assert vl("vsis", "vsi", "unknown-multicast-action").default == "flood"


def test_feature_switches_carry_their_musts_and_whens() -> None:
    igmp = ("vsis", "vsi", "igmp-snooping")
    assert vl(*igmp, "enable").musts
    assert vl(*igmp, "backup-query-forward").musts
    assert vl(*igmp, "backup-report-forward").musts
    assert vl(*igmp, "backup-query-source-mac-replace").when is not None
    assert vl(*igmp, "backup-report-source-mac-replace").when is not None


def test_musts_carry_the_modules_prefix_map() -> None:
    must = vl("vsis", "vsi", "igmp-snooping", "enable").musts[0]
    assert must.expr.nsmap["vl2mc"] == VL2MC


def test_interface_uniqueness_must_uses_count() -> None:
    interface = vl("vsis", "vsi", "acs", "ac", "interface")
    assert any("count(" in m.expr.text for m in interface.musts)


def test_ietf_netconf_rpcs_are_compiled_with_augments_from_with_defaults() -> None:
    get_config = ours().rpcs[f"{{{NC}}}get-config"]
    wd = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
    assert f"{{{wd}}}with-defaults" in get_config.children["input"].children
    edit = ours().rpcs[f"{{{NC}}}edit-config"].children["input"]
    assert edit.children[f"{{{NC}}}default-operation"].default == "merge"


def test_yang_dir_can_be_overridden_by_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VSI_AGENT_YANG_DIR", str(tmp_path))
    assert paths.yang_dir() == tmp_path
    (tmp_path / "solo.yang").write_text('module solo { yang-version 1.1; namespace "urn:solo"; prefix s; '
                                        'leaf on { type boolean; default "true"; } }')
    schema = load_schema(["solo"])
    assert schema.roots["{urn:solo}on"].default == "true"


def test_nacm_is_not_implemented_until_something_enforces_it() -> None:
    """Advertising ietf-netconf-acm (and its `enable-nacm true` default) with no access control
    behind it would make a user believe access is controlled."""
    assert "ietf-netconf-acm" not in IETF_MODULES
    modules = ours().modules
    assert "ietf-netconf-acm" not in modules or not modules["ietf-netconf-acm"].implemented
    assert NACM not in {node.namespace for node in ours().roots.values()}
