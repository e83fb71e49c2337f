"""RFC 7950 section 8 validation, full and incremental (agent.validate).

Every rule is tested twice through ``mode``: ``full`` validates the edited tree from scratch,
``incremental`` validates only the :class:`Change` records that lead from a valid tree to it.
Rules that `vsi-l2-multicast` does not use (unique, min/max-elements, choice, leafref
require-instance, when on augment) come from the small modules ``rules`` and ``rules-aug``.
The last tests check with Hypothesis that incremental and full validation always agree.
"""

from __future__ import annotations

import copy
import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from agent.errors import RpcError
from agent.instance import load_instance
from agent.schema import Schema, SchemaNode, load_schema
from agent.validate import NON_UNIQUE, Change, Validator
from agent.xmlns import DEFAULT_MARK, NC, VL2MC, YANG, qn

R = "urn:test:rules"
RA = "urn:test:rules-aug"

RULES = """module rules {
  yang-version 1.1;
  namespace "urn:test:rules";
  prefix r;

  container servers {
    list server {
      key name;
      unique "ip port";
      max-elements 3;
      leaf name { type string; }
      leaf ip { type string; }
      leaf port { type uint16; }
      leaf-list tag { type string; max-elements 2; }
    }
  }
  container system {
    presence "configured";
    leaf host-name { type string; mandatory true; }
    container timers {
      leaf hold { type uint8; mandatory true; }
    }
    leaf-list dns { type string; min-elements 1; }
    choice transport {
      mandatory true;
      case tcp {
        leaf tcp-port { type uint16; }
      }
      case tls {
        leaf tls-port { type uint16; }
        leaf cert { type string; mandatory true; }
      }
    }
  }
  container refs {
    leaf server-ref {
      type leafref { path "/r:servers/r:server/r:name"; }
    }
    leaf ip-ref {
      type leafref { path "/r:servers/r:server/r:ip"; }
    }
    leaf loose-ref {
      type leafref {
        path "/r:servers/r:server/r:name";
        require-instance false;
      }
    }
    leaf limit {
      type uint8;
      must ". <= count(/r:servers/r:server) * 10";
    }
  }
}
"""

RULES_AUG = """module rules-aug {
  yang-version 1.1;
  namespace "urn:test:rules-aug";
  prefix ra;
  import rules { prefix r; }

  augment "/r:refs" {
    when "r:server-ref = 'main'";
    leaf extra { type string; }
  }
}
"""

MODES = ["full", "incremental"]


@functools.lru_cache(maxsize=None)
def rules_schema() -> Schema:
    tmp = Path(tempfile.mkdtemp(prefix="rules-yang-"))
    (tmp / "rules.yang").write_text(RULES)
    (tmp / "rules-aug.yang").write_text(RULES_AUG)
    return load_schema(["rules", "rules-aug"], [tmp])


@functools.lru_cache(maxsize=None)
def vsi_schema() -> Schema:
    return load_schema()


@functools.lru_cache(maxsize=None)
def rules_validator() -> Validator:
    return Validator(rules_schema())


@functools.lru_cache(maxsize=None)
def vsi_validator() -> Validator:
    return Validator(vsi_schema())


# --- building trees and the changes between them ---------------------------------------------


def raw_tree(body: str) -> etree._Element:
    """A datastore tree taken as written (the rules module has no defaults to fill)."""
    return etree.fromstring(f'<data xmlns="{NC}">{body}</data>')


def vsi_tree(body: str) -> etree._Element:
    """A datastore tree of our module, parsed and with its defaults, as the agent keeps it."""
    return load_instance(vsi_schema(), etree.fromstring(f'<config xmlns="{NC}">{body}</config>'))


def diff(schema: Schema, old_root: etree._Element, new_root: etree._Element) -> list[Change]:
    """The Change records that turn ``old_root`` into ``new_root`` (as edit-config records them)."""
    changes: list[Change] = []

    def identity(el: etree._Element, node: SchemaNode) -> tuple[str, ...]:
        if node.keyword == "list":
            return (el.tag,) + tuple((el.findtext(qn(node.namespace, k)) or "") for k in node.keys)
        if node.keyword == "leaf-list":
            return (el.tag, el.text or "")
        return (el.tag,)

    def walk(old: etree._Element, new: etree._Element, children: dict[str, SchemaNode]) -> None:
        olds = {identity(c, children[c.tag]): c for c in old if c.tag in children}
        news = {identity(c, children[c.tag]): c for c in new if c.tag in children}
        for key, el in news.items():
            node = children[el.tag]
            before = olds.get(key)
            if before is None:
                changes.append(Change("create", node, new, el, new=el.text if node.is_leaf else None))
            elif node.keyword == "leaf" and (before.text or "") != (el.text or ""):
                changes.append(Change("modify", node, new, el, old=before.text, new=el.text))
            elif node.keyword in ("container", "list"):
                walk(before, el, node.children)
        for key, el in olds.items():
            if key not in news:
                node = children[el.tag]
                changes.append(Change("delete", node, new, None, old=el.text if node.is_leaf else None,
                                      old_element=el))

    walk(old_root, new_root, schema.roots)
    return changes


def judged(errors: list[RpcError]) -> list[tuple[Any, ...]]:
    return [(e.tag.value, e.app_tag, e.path, e.message, tuple(e.info)) for e in errors]


def validate(mode: str, validator: Validator, before: etree._Element, after: etree._Element) -> list[RpcError]:
    """Validate ``after`` fully, or incrementally from ``before`` (which must be valid)."""
    if mode == "full":
        return validator.validate_full(after)
    assert validator.validate_full(before) == [], "the tree before the edit must be valid"
    errors = validator.validate(after, diff(validator.schema, before, after))
    assert judged(errors) == judged(validator.validate_full(copy.deepcopy(after)))
    return errors


def rules(mode: str, before: str, after: str) -> list[RpcError]:
    return validate(mode, rules_validator(), raw_tree(before), raw_tree(after))


def vsi(mode: str, before: str, after: str) -> list[RpcError]:
    return validate(mode, vsi_validator(), vsi_tree(before), vsi_tree(after))


def only(errors: list[RpcError]) -> RpcError:
    assert len(errors) == 1, errors
    return errors[0]


SERVERS = f'<servers xmlns="{R}">{{}}</servers>'


def server(name: str, ip: str | None = None, port: str | None = None, tags: tuple[str, ...] = ()) -> str:
    parts = [f"<name>{name}</name>"]
    if ip is not None:
        parts.append(f"<ip>{ip}</ip>")
    if port is not None:
        parts.append(f"<port>{port}</port>")
    parts += [f"<tag>{t}</tag>" for t in tags]
    return f"<server>{''.join(parts)}</server>"


SYSTEM_OK = (f'<system xmlns="{R}"><host-name>h</host-name><timers><hold>3</hold></timers>'
             "<dns>192.0.2.53</dns><tcp-port>22</tcp-port></system>")


def system(*, drop: str = "", add: str = "") -> str:
    body = SYSTEM_OK
    if drop:
        start = body.index(f"<{drop}>")
        end = body.index(f"</{drop}>") + len(f"</{drop}>")
        body = body[:start] + body[end:]
    return body.replace("</system>", add + "</system>")


# --- unique (RFC 7950 7.8.3, 15.1) ----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_unique_values_must_differ_between_list_entries(mode: str) -> None:
    before = SERVERS.format(server("a", "192.0.2.1", "80") + server("b", "192.0.2.1", "81"))
    after = SERVERS.format(server("a", "192.0.2.1", "80") + server("b", "192.0.2.1", "80"))
    error = only(rules(mode, before, after))
    assert (error.tag.value, error.app_tag) == ("operation-failed", "data-not-unique")
    assert error.path == "/r:servers/r:server[r:name='b']"
    assert error.info == [(NON_UNIQUE, "/r:servers/r:server[r:name='b']/r:ip"),
                          (NON_UNIQUE, "/r:servers/r:server[r:name='b']/r:port")]
    assert "/r:servers/r:server[r:name='a']" in error.message


@pytest.mark.parametrize("mode", MODES)
def test_unique_is_violated_by_a_created_entry(mode: str) -> None:
    before = SERVERS.format(server("a", "192.0.2.1", "80"))
    after = SERVERS.format(server("a", "192.0.2.1", "80") + server("b", "192.0.2.1", "80"))
    assert only(rules(mode, before, after)).app_tag == "data-not-unique"


@pytest.mark.parametrize("mode", MODES)
def test_unique_ignores_entries_missing_a_unique_leaf(mode: str) -> None:
    before = SERVERS.format(server("a", "192.0.2.1", "80") + server("b", "192.0.2.1", "81"))
    after = SERVERS.format(server("a", "192.0.2.1", "80") + server("b", "192.0.2.1"))
    assert rules(mode, before, after) == []


# --- min-elements / max-elements (RFC 7950 7.7.5, 7.7.6, 15.2, 15.3) -------------------------


@pytest.mark.parametrize("mode", MODES)
def test_max_elements_too_many_list_entries(mode: str) -> None:
    before = SERVERS.format(server("a") + server("b") + server("c"))
    after = SERVERS.format(server("a") + server("b") + server("c") + server("d"))
    error = only(rules(mode, before, after))
    assert (error.tag.value, error.app_tag) == ("operation-failed", "too-many-elements")
    assert error.path == "/r:servers/r:server"


@pytest.mark.parametrize("mode", MODES)
def test_max_elements_too_many_leaf_list_entries(mode: str) -> None:
    before = SERVERS.format(server("a", tags=("x", "y")))
    after = SERVERS.format(server("a", tags=("x", "y", "z")))
    error = only(rules(mode, before, after))
    assert error.app_tag == "too-many-elements"
    assert error.path == "/r:servers/r:server[r:name='a']/r:tag"


@pytest.mark.parametrize("mode", MODES)
def test_min_elements_too_few_leaf_list_entries(mode: str) -> None:
    error = only(rules(mode, system(), system(drop="dns")))
    assert (error.tag.value, error.app_tag) == ("operation-failed", "too-few-elements")
    assert error.path == "/r:system/r:dns"


# --- mandatory (RFC 7950 7.6.5) ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_mandatory_leaf_missing(mode: str) -> None:
    error = only(rules(mode, system(), system(drop="host-name")))
    assert error.tag.value == "missing-element"
    assert error.path == "/r:system/r:host-name"
    assert error.info == [("bad-element", "host-name")]


@pytest.mark.parametrize("mode", MODES)
def test_mandatory_leaf_inside_absent_non_presence_container(mode: str) -> None:
    error = only(rules(mode, system(), system(drop="timers")))
    assert error.tag.value == "missing-element"
    assert error.path == "/r:system/r:timers/r:hold"


@pytest.mark.parametrize("mode", MODES)
def test_mandatory_leaf_in_a_case_is_required_once_the_case_exists(mode: str) -> None:
    before = system(drop="tcp-port", add="<tls-port>443</tls-port><cert>c</cert>")
    after = system(drop="tcp-port", add="<tls-port>443</tls-port>")
    error = only(rules(mode, before, after))
    assert error.path == "/r:system/r:cert"


@pytest.mark.parametrize("mode", MODES)
def test_mandatory_rules_do_not_apply_below_an_absent_presence_container(mode: str) -> None:
    assert rules(mode, system(), "") == []


# --- choice (RFC 7950 7.9, 8.3.1, 15.6) -------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_choice_mandatory_missing(mode: str) -> None:
    error = only(rules(mode, system(), system(drop="tcp-port")))
    assert (error.tag.value, error.app_tag) == ("data-missing", "missing-choice")
    assert error.path == "/r:system"
    assert error.info == [(qn(YANG, "missing-choice"), "transport")]


@pytest.mark.parametrize("mode", MODES)
def test_choice_only_one_case_at_a_time(mode: str) -> None:
    errors = rules(mode, system(), system(add="<tls-port>443</tls-port><cert>c</cert>"))
    assert [(e.tag.value, e.path) for e in errors] == [
        ("bad-element", "/r:system/r:tls-port"), ("bad-element", "/r:system/r:cert")]
    assert "case tcp" in errors[0].message and "case tls" in errors[0].message


# --- leafref require-instance (RFC 7950 9.9, 15.5) --------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_leafref_require_instance_target_missing(mode: str) -> None:
    before = SERVERS.format(server("a")) + f'<refs xmlns="{R}"><server-ref>a</server-ref></refs>'
    after = SERVERS.format(server("a")) + f'<refs xmlns="{R}"><server-ref>b</server-ref></refs>'
    error = only(rules(mode, before, after))
    assert (error.tag.value, error.app_tag) == ("data-missing", "instance-required")
    assert error.path == "/r:refs/r:server-ref"


@pytest.mark.parametrize("mode", MODES)
def test_leafref_require_instance_broken_by_deleting_the_target(mode: str) -> None:
    before = SERVERS.format(server("a") + server("b")) + f'<refs xmlns="{R}"><server-ref>a</server-ref></refs>'
    after = SERVERS.format(server("b")) + f'<refs xmlns="{R}"><server-ref>a</server-ref></refs>'
    assert only(rules(mode, before, after)).app_tag == "instance-required"


@pytest.mark.parametrize("mode", MODES)
def test_leafref_require_instance_broken_by_changing_the_target_value(mode: str) -> None:
    refs = f'<refs xmlns="{R}"><ip-ref>192.0.2.1</ip-ref></refs>'
    before = SERVERS.format(server("a", "192.0.2.1") + server("b", "192.0.2.2")) + refs
    after = SERVERS.format(server("a", "192.0.2.3") + server("b", "192.0.2.2")) + refs
    error = only(rules(mode, before, after))
    assert (error.app_tag, error.path) == ("instance-required", "/r:refs/r:ip-ref")


@pytest.mark.parametrize("mode", MODES)
def test_leafref_require_instance_repaired_by_creating_the_target(mode: str) -> None:
    refs = f'<refs xmlns="{R}"><ip-ref>192.0.2.1</ip-ref></refs>'
    before = SERVERS.format(server("a", "192.0.2.1")) + refs
    after = SERVERS.format(server("b", "192.0.2.1")) + refs
    assert rules(mode, before, after) == []


@pytest.mark.parametrize("mode", MODES)
def test_leafref_without_require_instance_may_dangle(mode: str) -> None:
    before = SERVERS.format(server("a")) + f'<refs xmlns="{R}"><loose-ref>a</loose-ref></refs>'
    after = SERVERS.format(server("a")) + f'<refs xmlns="{R}"><loose-ref>zz</loose-ref></refs>'
    assert rules(mode, before, after) == []


# --- when (RFC 7950 7.21.5, 8.3.1) ------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_when_on_augment_false_node_must_not_exist(mode: str) -> None:
    before = SERVERS.format(server("main")) + (
        f'<refs xmlns="{R}"><server-ref>main</server-ref><extra xmlns="{RA}">x</extra></refs>')
    after = SERVERS.format(server("main") + server("other")) + (
        f'<refs xmlns="{R}"><server-ref>other</server-ref><extra xmlns="{RA}">x</extra></refs>')
    error = only(rules(mode, before, after))
    assert error.tag.value == "unknown-element"
    assert error.path == "/r:refs/ra:extra"
    assert error.path_nsmap == {"r": R, "ra": RA}


@pytest.mark.parametrize("mode", MODES)
def test_when_false_on_a_leaf_rejects_an_explicit_value(mode: str) -> None:
    on = "<l2-multicast><igmp-snooping-enable>true</igmp-snooping-enable></l2-multicast>"
    before = f'<vsis xmlns="{VL2MC}"><vsi><name>v</name><igmp-snooping><enable>true</enable>' \
             "<backup-query-forward>true</backup-query-forward>" \
             "<backup-query-source-mac-replace>true</backup-query-source-mac-replace>" \
             "</igmp-snooping></vsi></vsis>"
    after = before.replace("<backup-query-forward>true", "<backup-query-forward>false")
    before = before.replace("<vsis", f'<l2-multicast xmlns="{VL2MC}">{on[14:]}<vsis')
    after = after.replace("<vsis", f'<l2-multicast xmlns="{VL2MC}">{on[14:]}<vsis')
    error = only(vsi(mode, before, after))
    assert error.tag.value == "unknown-element"
    assert error.path == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='v']/vl2mc:igmp-snooping/" \
                         "vl2mc:backup-query-source-mac-replace"


def test_when_false_on_an_instantiated_default_is_not_an_error() -> None:
    root = vsi_tree(f'<vsis xmlns="{VL2MC}"><vsi><name>v</name></vsi></vsis>')
    defaults = root.xpath("//v:backup-query-source-mac-replace", namespaces={"v": VL2MC})
    assert defaults and defaults[0].get(DEFAULT_MARK) is not None
    assert vsi_validator().validate_full(root) == []


def test_when_holds_tells_defaults_whether_a_node_may_exist() -> None:
    root = vsi_tree(f'<vsis xmlns="{VL2MC}"><vsi><name>v</name></vsi></vsis>')
    snooping = root.xpath("//v:igmp-snooping", namespaces={"v": VL2MC})[0]
    node = vsi_schema().roots[qn(VL2MC, "vsis")].children[qn(VL2MC, "vsi")] \
        .children[qn(VL2MC, "igmp-snooping")].children[qn(VL2MC, "backup-query-source-mac-replace")]
    before = etree.tostring(root)
    assert vsi_validator().when_holds(node, snooping) is False
    snooping.find(qn(VL2MC, "backup-query-forward")).text = "true"
    assert vsi_validator().when_holds(node, snooping) is True
    assert etree.tostring(root) != before and len(root.xpath("//v:backup-query-source-mac-replace",
                                                             namespaces={"v": VL2MC})) == 1


# --- must (RFC 7950 7.5.3, 15.4) ---------------------------------------------------------------


def _vsis(*vsis: str, global_on: bool = True) -> str:
    switch = "true" if global_on else "false"
    return (f'<l2-multicast xmlns="{VL2MC}"><igmp-snooping-enable>{switch}</igmp-snooping-enable></l2-multicast>'
            f'<vsis xmlns="{VL2MC}">{"".join(vsis)}</vsis>')


def _vsi(name: str, acs: tuple[str, ...] = (), pws: tuple[tuple[str, str, str | None], ...] = (),
         snooping: str = "") -> str:
    ac_xml = "".join(f"<ac><interface>{a}</interface></ac>" for a in acs)
    pw_xml = "".join(
        f"<pw><peer-address>10.0.0.1</peer-address><vc-id>{vc}</vc-id><interface>{itf}</interface>"
        + (f"<role>{role}</role>" if role else "") + "</pw>"
        for vc, itf, role in pws)
    return (f"<vsi><name>{name}</name><acs>{ac_xml}</acs><pws>{pw_xml}</pws>"
            f"<igmp-snooping>{snooping}</igmp-snooping></vsi>")


@pytest.mark.parametrize("mode", MODES)
def test_must_interface_in_at_most_one_ac_or_pw_across_vsis(mode: str) -> None:
    before = _vsis(_vsi("a", acs=("e1",)), _vsi("b", pws=(("1", "e2", None),)))
    after = _vsis(_vsi("a", acs=("e1",)), _vsi("b", pws=(("1", "e1", None),)))
    errors = vsi(mode, before, after)
    assert [(e.app_tag, e.path) for e in errors] == [
        ("interface-in-use", "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:acs/vl2mc:ac[vl2mc:interface='e1']"
                             "/vl2mc:interface"),
        ("interface-in-use", "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='b']/vl2mc:pws/vl2mc:pw"
                             "[vl2mc:peer-address='10.0.0.1'][vl2mc:vc-id='1']/vl2mc:interface"),
    ]
    assert {e.tag.value for e in errors} == {"operation-failed"}
    assert errors[0].message.startswith("The interface is already used")


@pytest.mark.parametrize("mode", MODES)
def test_must_interface_clash_created_by_a_new_vsi(mode: str) -> None:
    before = _vsis(_vsi("a", acs=("e1",)))
    after = _vsis(_vsi("a", acs=("e1",)), _vsi("b", acs=("e1", "e3")))
    assert [e.app_tag for e in vsi(mode, before, after)] == ["interface-in-use", "interface-in-use"]


@pytest.mark.parametrize("mode", MODES)
def test_must_interface_clash_resolved_by_deleting_is_valid(mode: str) -> None:
    before = _vsis(_vsi("a", acs=("e1", "e2")))
    after = _vsis(_vsi("a", acs=("e2",)), _vsi("b", acs=("e1",)))
    assert vsi(mode, before, after) == []


@pytest.mark.parametrize("mode", MODES)
def test_must_backup_pw_needs_a_primary(mode: str) -> None:
    before = _vsis(_vsi("a", pws=(("1", "e1", "primary"), ("2", "e2", "backup"))))
    after = _vsis(_vsi("a", pws=(("1", "e1", None), ("2", "e2", "backup"))))
    error = only(vsi(mode, before, after))
    assert error.app_tag == "backup-without-primary"
    assert error.path.endswith("[vl2mc:vc-id='2']/vl2mc:role")


@pytest.mark.parametrize("mode", MODES)
def test_must_snooping_needs_the_global_switch(mode: str) -> None:
    before = _vsis(_vsi("a", snooping="<enable>true</enable>"), _vsi("b"), global_on=True)
    after = _vsis(_vsi("a", snooping="<enable>true</enable>"), _vsi("b"), global_on=False)
    error = only(vsi(mode, before, after))
    assert error.app_tag == "igmp-snooping-disabled-globally"
    assert error.path == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/vl2mc:enable"


@pytest.mark.parametrize("mode", MODES)
def test_must_reads_a_default_value(mode: str) -> None:
    # max-response-time must be below query-interval, whose default (60) is in the tree
    before = _vsis(_vsi("a", snooping="<max-response-time>20</max-response-time>"))
    after = _vsis(_vsi("a", snooping="<query-interval>20</query-interval>"
                                     "<max-response-time>20</max-response-time>"))
    assert only(vsi(mode, before, after)).app_tag == "max-response-time-too-large"


@pytest.mark.parametrize("mode", MODES)
def test_must_without_error_message_names_the_expression_and_node(mode: str) -> None:
    before = SERVERS.format(server("a")) + f'<refs xmlns="{R}"><limit>10</limit></refs>'
    after = SERVERS.format(server("a")) + f'<refs xmlns="{R}"><limit>11</limit></refs>'
    error = only(rules(mode, before, after))
    assert (error.tag.value, error.app_tag) == ("operation-failed", "must-violation")
    assert ". <= count(/r:servers/r:server) * 10" in error.message and "limit" in error.message
    assert error.path == "/r:refs/r:limit"


# --- reporting ----------------------------------------------------------------------------------


def test_every_violation_is_reported_in_document_order() -> None:
    root = raw_tree(
        SERVERS.format(server("a", "1", "1") + server("b", "1", "1") + server("c") + server("d"))
        + system(drop="host-name") + f'<refs xmlns="{R}"><server-ref>zz</server-ref></refs>')
    errors = rules_validator().validate_full(root)
    assert [e.app_tag or e.tag.value for e in errors] == [
        "too-many-elements", "data-not-unique", "missing-element", "instance-required"]


def test_an_unrelated_change_is_not_judged_by_stale_errors_elsewhere() -> None:
    # incremental validation trusts the tree before the edit: it looks only where the edit can matter
    before = raw_tree(SERVERS.format(server("a")) + f'<refs xmlns="{R}"><server-ref>zz</server-ref></refs>')
    after = copy.deepcopy(before)
    etree.SubElement(after[0][0], qn(R, "ip")).text = "192.0.2.7"
    assert rules_validator().validate(after, diff(rules_schema(), before, after)) == []
    assert [e.app_tag for e in rules_validator().validate_full(after)] == ["instance-required"]


# --- incremental and full validation agree (Hypothesis) ---------------------------------------

ITFS = ["e0", "e1", "e2", "e3", "e4", "e5"]
V = {"v": VL2MC}


def _node(*names: str) -> SchemaNode:
    node = vsi_schema().roots[qn(VL2MC, names[0])]
    for name in names[1:]:
        node = node.children[qn(VL2MC, name)]
    return node


@st.composite
def vsi_configs(draw: Callable[..., Any]) -> str:
    """Mostly valid configurations (interfaces handed out once, roles in order), some not."""
    free = draw(st.permutations(ITFS))
    clash = draw(st.sampled_from([None, *ITFS]))      # sometimes an interface used twice
    vsis = []
    for i in range(draw(st.integers(1, 3))):
        acs = tuple(free.pop() for _ in range(min(len(free), draw(st.integers(0, 2)))))
        pws = []
        for vc, role in enumerate(draw(st.sampled_from([(), (None,), ("primary",), ("primary", "backup"),
                                                         (None, None), ("backup",)]))):
            pws.append((str(vc + 1), free.pop() if free else "e9", role))
        if clash and i == 1:
            acs += (clash,) if clash not in acs else ()
        mine = list(acs) + [p[1] for p in pws]
        snooping = f"<enable>{draw(st.sampled_from(['true', 'false']))}</enable>"
        if mine and draw(st.booleans()):
            snooping += f"<static-router-port>{draw(st.sampled_from(mine + ['e9']))}</static-router-port>"
        vsis.append(_vsi(f"v{i}", acs, tuple(pws), snooping))
    return _vsis(*vsis, global_on=draw(st.sampled_from([True, True, False])))


def _created(xml: str, path: str) -> etree._Element:
    """A subtree as the agent would create it (defaults filled), detached from its temporary tree."""
    el = vsi_tree(xml).xpath(path, namespaces=V)[0]
    return copy.deepcopy(el)


def mutate(root: etree._Element, draw: Callable[..., Any]) -> Change | None:
    """One random edit applied in place; the Change that edit-config would record."""
    kind = draw(st.sampled_from(["modify", "modify", "create", "delete"]))
    if kind == "modify":
        leaf = draw(st.sampled_from([
            ("vsis/v:vsi/v:pws/v:pw/v:interface", ITFS),
            ("vsis/v:vsi/v:pws/v:pw/v:role", ["primary", "backup"]),
            ("vsis/v:vsi/v:igmp-snooping/v:enable", ["true", "false"]),
            ("vsis/v:vsi/v:igmp-snooping/v:backup-query-forward", ["true", "false"]),
            ("vsis/v:vsi/v:igmp-snooping/v:query-interval", ["5", "20", "60"]),
            ("vsis/v:vsi/v:igmp-snooping/v:max-response-time", ["5", "10", "25"]),
            ("l2-multicast/v:igmp-snooping-enable", ["true", "false"]),
            ("vsis/v:vsi/v:description", ["x", "y"]),
        ]))
        targets = root.xpath("v:" + leaf[0], namespaces=V)
        if not targets:
            return None
        el = draw(st.sampled_from(targets))
        old, new = el.text, draw(st.sampled_from(leaf[1]))
        el.text = new
        el.attrib.pop(DEFAULT_MARK, None)
        return Change("modify", vsi_validator().xpath.schema_node_of(el), el.getparent(), el, old, new)
    if kind == "delete":
        path = draw(st.sampled_from(["v:vsis/v:vsi", "v:vsis/v:vsi/v:acs/v:ac", "v:vsis/v:vsi/v:pws/v:pw",
                                     "v:vsis/v:vsi/v:pws/v:pw/v:role",
                                     "v:vsis/v:vsi/v:igmp-snooping/v:static-router-port"]))
        targets = root.xpath(path, namespaces=V)
        if not targets:
            return None
        el = draw(st.sampled_from(targets))
        parent = el.getparent()
        node = vsi_validator().xpath.schema_node_of(el)
        parent.remove(el)
        return Change("delete", node, parent, None, old=el.text if node.is_leaf else None, old_element=el)
    vsis = root.xpath("v:vsis/v:vsi", namespaces=V)
    what = draw(st.sampled_from(["vsi", "ac", "pw", "srp"]))
    itf = draw(st.sampled_from(ITFS))
    if what == "vsi" or not vsis:
        name = draw(st.sampled_from(["n1", "n2"]))
        if root.xpath(f"v:vsis/v:vsi[v:name='{name}']", namespaces=V):
            return None
        el = _created(_vsis(_vsi(name, acs=(itf,), snooping="<enable>false</enable>")), "//v:vsi")
        parent = root.find(qn(VL2MC, "vsis"))
        parent.append(el)
        return Change("create", _node("vsis", "vsi"), parent, el)
    vsi_el = draw(st.sampled_from(vsis))
    if what == "ac":
        parent = vsi_el.find(qn(VL2MC, "acs"))
        if parent is None or parent.xpath(f"v:ac[v:interface='{itf}']", namespaces=V):
            return None
        el = etree.SubElement(parent, qn(VL2MC, "ac"))
        etree.SubElement(el, qn(VL2MC, "interface")).text = itf
        return Change("create", _node("vsis", "vsi", "acs", "ac"), parent, el)
    if what == "pw":
        parent = vsi_el.find(qn(VL2MC, "pws"))
        vc = draw(st.sampled_from(["7", "8"]))
        if parent is None or parent.xpath(f"v:pw[v:vc-id='{vc}']", namespaces=V):
            return None
        role = draw(st.sampled_from([None, "primary", "backup"]))
        el = _created(_vsis(_vsi("t", pws=((vc, itf, role),))), "//v:pw")
        parent.append(el)
        return Change("create", _node("vsis", "vsi", "pws", "pw"), parent, el)
    parent = vsi_el.find(qn(VL2MC, "igmp-snooping"))
    if parent is None or parent.xpath(f"v:static-router-port[. = '{itf}']", namespaces=V):
        return None
    el = etree.SubElement(parent, qn(VL2MC, "static-router-port"))
    el.text = itf
    return Change("create", _node("vsis", "vsi", "igmp-snooping", "static-router-port"), parent, el, new=itf)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(config=vsi_configs(), tracked=st.booleans(), data=st.data())
def test_incremental_validation_agrees_with_full_validation(config: str, tracked: bool, data: st.DataObject) -> None:
    validator = vsi_validator()
    root = vsi_tree(config)
    if tracked:
        validator.track(root)     # value indexes follow the tree through the validated changes
    assume(validator.validate_full(root) == [])
    for _step in range(3):      # the same tree keeps its value indexes from one edit to the next
        change = mutate(root, data.draw)
        if change is None:
            continue
        incremental = validator.validate(root, [change])
        full = validator.validate_full(copy.deepcopy(root))
        assert judged(incremental) == judged(full)
        event(f"{change.op} {change.schema.name}: {'violations' if full else 'valid'}")
        event(f"tracked={tracked}")
        if full:
            break


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(before=vsi_configs(), after=vsi_configs())
def test_incremental_validation_of_a_whole_diff_agrees_with_full_validation(before: str, after: str) -> None:
    validator = vsi_validator()
    old, new = vsi_tree(before), vsi_tree(after)
    assume(validator.validate_full(old) == [])
    full = validator.validate_full(new)
    event("violations" if full else "valid")
    assert judged(validator.validate(new, diff(vsi_schema(), old, new))) == judged(full)


def test_a_tracked_tree_changed_behind_the_validators_back_is_forgotten_on_request() -> None:
    validator = vsi_validator()
    root = vsi_tree(_vsis(_vsi("a", acs=("e1",)), _vsi("b", acs=("e2",))))
    validator.track(root)
    assert validator.validate_full(root) == []
    ac = root.xpath("//v:vsi[v:name='a']/v:acs/v:ac", namespaces=V)[0]
    acs = ac.getparent()
    acs.remove(ac)                                     # an edit ...
    validator.validate(root, [Change("delete", _node("vsis", "vsi", "acs", "ac"), acs, None, old_element=ac)])
    acs.append(ac)                                     # ... undone without a Change
    validator.forget(root)
    pw = _created(_vsis(_vsi("t", pws=(("5", "e1", None),))), "//v:pw")
    pws = root.xpath("//v:vsi[v:name='b']/v:pws", namespaces=V)[0]
    pws.append(pw)
    errors = validator.validate(root, [Change("create", _node("vsis", "vsi", "pws", "pw"), pws, pw)])
    assert [e.app_tag for e in errors] == ["interface-in-use", "interface-in-use"]


def test_a_tracked_tree_follows_changes_it_is_only_told_about() -> None:
    validator = vsi_validator()
    root = vsi_tree(_vsis(_vsi("a", acs=("e1",)), _vsi("b", acs=("e2",))))
    validator.track(root)
    assert validator.validate_full(root) == []
    acs = root.xpath("//v:vsi[v:name='b']/v:acs", namespaces=V)[0]
    ac = etree.SubElement(acs, qn(VL2MC, "ac"))
    etree.SubElement(ac, qn(VL2MC, "interface")).text = "e3"
    validator.notice(root, [Change("create", _node("vsis", "vsi", "acs", "ac"), acs, ac)])   # test-option set
    pw = _created(_vsis(_vsi("t", pws=(("5", "e3", None),))), "//v:pw")
    pws = root.xpath("//v:vsi[v:name='a']/v:pws", namespaces=V)[0]
    pws.append(pw)
    errors = validator.validate(root, [Change("create", _node("vsis", "vsi", "pws", "pw"), pws, pw)])
    assert [e.app_tag for e in errors] == ["interface-in-use", "interface-in-use"]


# The same agreement on the `rules` modules: unique, max-elements, choice, mandatory in a case,
# leafref require-instance and a when on an augment, under random one-field edits.

RULE_FIELDS: dict[str, Any] = {
    "servers": st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from([None, "10.0.0.1", "10.0.0.2"]),
                                  st.sampled_from([None, "80", "81"]),
                                  st.lists(st.sampled_from("xyz"), max_size=3, unique=True)),
                        max_size=4, unique_by=lambda s: s[0]),
    "system": st.none() | st.fixed_dictionaries({
        "host-name": st.sampled_from([None, "h"]), "hold": st.sampled_from([None, "3"]),
        "dns": st.lists(st.sampled_from(["d1", "d2"]), max_size=2, unique=True),
        "tcp-port": st.sampled_from([None, "22"]), "tls-port": st.sampled_from([None, "443"]),
        "cert": st.sampled_from([None, "c"])}),
    "server-ref": st.sampled_from([None, "a", "b", "main"]),
    "ip-ref": st.sampled_from([None, "10.0.0.1", "10.0.0.2"]),
    "limit": st.sampled_from([None, "0", "10", "25"]),
    "extra": st.sampled_from([None, "x"]),
}


#: starting points that are valid more often than not (the edit then draws from RULE_FIELDS)
VALID_SYSTEMS = [
    {"host-name": "h", "hold": "3", "dns": ["d1"], "tcp-port": "22", "tls-port": None, "cert": None},
    {"host-name": "h", "hold": "3", "dns": ["d1", "d2"], "tcp-port": None, "tls-port": "443", "cert": "c"},
]
RULE_BASES: dict[str, Any] = dict(
    RULE_FIELDS,
    servers=st.lists(st.tuples(st.sampled_from("abmn"), st.sampled_from([None, "10.0.0.1"]),
                               st.sampled_from([None, "80", "81"]),
                               st.lists(st.sampled_from("xyz"), max_size=2, unique=True)),
                     min_size=1, max_size=3, unique_by=lambda s: s[0]).map(
        lambda servers: [(n if i else "main", ip, port, tags) for i, (n, ip, port, tags) in enumerate(servers)]),
    system=st.none() | st.sampled_from(VALID_SYSTEMS),
    limit=st.sampled_from([None, "0", "10"]),
)


def render_rules(model: dict[str, Any]) -> str:
    def leaf(name: str, value: str | None) -> str:
        return "" if value is None else f"<{name}>{value}</{name}>"

    servers = "".join(server(n, ip, port, tuple(tags)) for n, ip, port, tags in model["servers"])
    out = SERVERS.format(servers) if servers else ""
    system_model = model["system"]
    if system_model is not None:
        body = leaf("host-name", system_model["host-name"])
        if system_model["hold"] is not None:
            body += f"<timers>{leaf('hold', system_model['hold'])}</timers>"
        body += "".join(leaf("dns", d) for d in system_model["dns"])
        body += "".join(leaf(k, system_model[k]) for k in ("tcp-port", "tls-port", "cert"))
        out += f'<system xmlns="{R}">{body}</system>'
    refs = "".join(leaf(k, model[k]) for k in ("server-ref", "ip-ref", "limit"))
    if model["extra"] is not None:
        refs += f'<extra xmlns="{RA}">{model["extra"]}</extra>'
    return out + (f'<refs xmlns="{R}">{refs}</refs>' if refs else "")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(model=st.fixed_dictionaries(RULE_BASES), field=st.sampled_from(sorted(RULE_FIELDS)), data=st.data())
def test_incremental_validation_agrees_with_full_validation_on_every_rule(
        model: dict[str, Any], field: str, data: st.DataObject) -> None:
    validator = rules_validator()
    before = raw_tree(render_rules(model))
    assume(validator.validate_full(before) == [])
    edited = dict(model, **{field: data.draw(RULE_FIELDS[field])})
    after = raw_tree(render_rules(edited))
    full = validator.validate_full(after)
    event(f"{field}: {'violations' if full else 'valid'}")
    assert judged(validator.validate(after, diff(rules_schema(), before, after))) == judged(full)


# --- changes recorded by edit-config itself: a container emptied by an edit -----------------------
#
# When an edit deletes the last entries of a non-presence container, the engine removes the
# container too and records one `delete` of it (agent.edit_config, ConfigEdit._settle).  That
# change must carry what was really removed, or a leafref to a deleted key goes unnoticed.

def _apply(root: etree._Element, body: str) -> Any:
    from agent.edit_config import apply_edit
    return apply_edit(rules_schema(), root, etree.fromstring(
        f'<config xmlns="{NC}" xmlns:nc="{NC}">{body}</config>'))


@pytest.mark.parametrize("tracked", [False, True])
def test_deleting_the_last_entries_of_a_container_is_validated_incrementally_like_in_full(tracked: bool) -> None:
    validator = rules_validator()
    root = raw_tree(SERVERS.format(server("main", "10.0.0.1")) +
                    f'<refs xmlns="{R}"><ip-ref>10.0.0.1</ip-ref></refs>')
    if tracked:
        validator.track(root)
    try:
        assert validator.validate_full(root) == []
        result = _apply(root, SERVERS.format('<server nc:operation="delete"><name>main</name></server>'))
        assert root.find(qn(R, "servers")) is None                      # the emptied container went too
        (change,) = result.changes
        assert (change.op, change.schema.name) == ("delete", "servers")
        assert change.old_element.findtext(f"{{{R}}}server/{{{R}}}ip") == "10.0.0.1"
        incremental = validator.validate(root, result.changes)
        assert [(e.app_tag, e.path) for e in incremental] == [("instance-required", "/r:refs/r:ip-ref")]
        assert judged(incremental) == judged(validator.validate_full(copy.deepcopy(root)))
    finally:
        validator.forget(root)


def test_taking_back_an_edit_that_emptied_a_container_restores_every_entry_in_place() -> None:
    root = raw_tree(SERVERS.format(server("main", "10.0.0.1") + server("b", port="81")) +
                    f'<refs xmlns="{R}"><limit>10</limit></refs>')
    before = etree.tostring(root, method="c14n")
    result = _apply(root, SERVERS.format('<server nc:operation="delete"><name>b</name></server>'
                                         '<server nc:operation="remove"><name>main</name></server>')
                    + f'<refs xmlns="{R}"><limit nc:operation="delete"/></refs>')
    assert sorted(c.schema.name for c in result.changes) == ["refs", "servers"]
    assert [e.findtext(f"{{{R}}}name") for e in result.changes[0].old_element] == ["b", "main"]
    result.rollback()
    assert etree.tostring(root, method="c14n") == before


@st.composite
def emptying_edits(draw: Callable[..., Any], model: dict[str, Any]) -> str:
    """Removals that often take the last entries (and so the container) away."""
    names = [s[0] for s in model["servers"]]
    gone = draw(st.sampled_from([names, names, names[:1], names[1:]]) | st.lists(st.sampled_from(names), unique=True))
    body = SERVERS.format("".join(f'<server nc:operation="remove"><name>{n}</name></server>' for n in gone))
    if model["system"] is not None:
        parts = []
        if draw(st.booleans()):
            parts.append('<timers><hold nc:operation="remove"/></timers>')
        for dns in model["system"]["dns"]:
            if draw(st.booleans()):
                parts.append(f'<dns nc:operation="remove">{dns}</dns>')
        body += f'<system xmlns="{R}">{"".join(parts)}</system>'
    refs = [f'<{leaf} nc:operation="remove"/>' for leaf in ("server-ref", "ip-ref", "limit") if draw(st.booleans())]
    return body + f'<refs xmlns="{R}">{"".join(refs)}</refs>'


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(model=st.fixed_dictionaries(RULE_BASES), tracked=st.booleans(), data=st.data())
def test_incremental_validation_of_edits_that_empty_containers_agrees_with_full_validation(
        model: dict[str, Any], tracked: bool, data: st.DataObject) -> None:
    """The Change records come from the edit engine here, not from a diff of two trees."""
    validator = rules_validator()
    root = raw_tree(render_rules(model))
    assume(validator.validate_full(root) == [])
    if tracked:
        validator.track(root)
    try:
        before = etree.tostring(root, method="c14n")
        result = _apply(root, data.draw(emptying_edits(model)))
        full = validator.validate_full(copy.deepcopy(root))
        event("servers emptied" if root.find(qn(R, "servers")) is None else "servers left")
        event("violations" if full else "valid")
        assert judged(validator.validate(root, result.changes)) == judged(full)
        result.rollback()
        assert etree.tostring(root, method="c14n") == before
    finally:
        validator.forget(root)
