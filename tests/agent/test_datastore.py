"""The datastore layer in-process: change records, undo, the incremental commit's replay
(candidate and running must end up identical), the list index, and whole-tree diffs."""

from __future__ import annotations

import copy
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from agent.datastore import Datastores, diff_trees, strip_internal
from agent.edit_config import EntryIndex, apply_edit, find_list_entry
from agent.validate import Validator
from agent.xmlns import DEFAULT_MARK, INTERNAL, NC, VL2MC
from tests.conftest import compiled_schema

V = f"{{{VL2MC}}}"


def stores(tmp_path: Path) -> Datastores:
    schema = compiled_schema()
    result = Datastores(schema, Validator(schema), tmp_path)
    result.load()
    return result


def cfg(body: str) -> etree._Element:
    return etree.fromstring(f'<config xmlns="{NC}" xmlns:nc="{NC}"><vsis xmlns="{VL2MC}">{body}</vsis></config>')


def c14n(root: etree._Element) -> tuple:
    """The tree as nested tuples: tags, attributes (marks included), text, children in order.

    Namespace *prefixes* are left out on purpose: copies made at different times may spell
    the internal namespace with different prefixes, which means nothing.
    """
    return (root.tag, tuple(sorted(root.attrib.items())), (root.text or "").strip(),
            tuple(c14n(child) for child in root if isinstance(child.tag, str)))


# --- change records -----------------------------------------------------------------------

def test_a_one_leaf_edit_records_one_modify_with_old_and_new_value(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg("<vsi><name>a</name><description>one</description></vsi>"), session_id=1)
    result = ds.edit("running", cfg("<vsi><name>a</name><description>two</description></vsi>"), session_id=1)
    assert [(c.op, c.schema.name, c.old, c.new) for c in result.changes] == [("modify", "description", "one", "two")]
    assert result.changes[0].element.text == "two"


def test_creating_a_subtree_records_only_its_top_node(tmp_path):
    ds = stores(tmp_path)
    result = ds.edit("running", cfg("<vsi><name>a</name><acs><ac><interface>e1</interface></ac></acs></vsi>"),
                     session_id=1)
    assert [(c.op, c.schema.name) for c in result.changes] == [("create", "vsis")]


def test_a_deleted_node_is_reported_with_its_old_subtree(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg("<vsi><name>a</name></vsi><vsi><name>b</name></vsi>"), session_id=1)
    result = ds.edit("running", cfg('<vsi nc:operation="delete"><name>a</name></vsi>'), session_id=1)
    (change,) = result.changes
    assert (change.op, change.schema.name, change.element) == ("delete", "vsi", None)
    assert change.old_element.findtext(f"{V}name") == "a"


def test_setting_a_leaf_inside_a_default_container_makes_the_container_explicit(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg("<vsi><name>a</name></vsi>"), session_id=1)
    snooping = ds.root("running").find(f"{V}vsis/{V}vsi/{V}igmp-snooping")
    assert snooping.get(DEFAULT_MARK) == "1"
    ds.edit("running", cfg("<vsi><name>a</name><igmp-snooping><robustness>3</robustness></igmp-snooping></vsi>"),
            session_id=1)
    assert snooping.get(DEFAULT_MARK) is None
    assert snooping.find(f"{V}version").get(DEFAULT_MARK) == "1"


def test_a_when_guarded_default_appears_when_its_condition_becomes_true(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", etree.fromstring(
        f'<config xmlns="{NC}"><l2-multicast xmlns="{VL2MC}"><igmp-snooping-enable>true</igmp-snooping-enable>'
        f'</l2-multicast></config>'), session_id=1)
    ds.edit("running", cfg("<vsi><name>a</name></vsi>"), session_id=1)
    snooping = ds.root("running").find(f"{V}vsis/{V}vsi/{V}igmp-snooping")
    assert snooping.find(f"{V}backup-query-source-mac-replace") is None
    ds.edit("running", cfg("<vsi><name>a</name><igmp-snooping><enable>true</enable>"
                           "<backup-query-forward>true</backup-query-forward></igmp-snooping></vsi>"), session_id=1)
    replaced = snooping.find(f"{V}backup-query-source-mac-replace")
    assert (replaced.text, replaced.get(DEFAULT_MARK)) == ("false", "1")


# --- undo ---------------------------------------------------------------------------------

def test_rollback_restores_the_tree_byte_for_byte(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg("<vsi><name>a</name><description>d</description></vsi><vsi><name>b</name></vsi>"),
            session_id=1)
    tree = ds.root("running")
    before = etree.tostring(tree)
    result = apply_edit(ds.schema, tree, cfg(
        '<vsi nc:operation="delete"><name>a</name></vsi>'
        '<vsi><name>b</name><acs><ac><interface>x</interface></ac></acs>'
        '<igmp-snooping><query-interval nc:operation="replace">5</query-interval></igmp-snooping></vsi>'
        '<vsi><name>c</name></vsi>'), index=ds.running.index)
    assert etree.tostring(tree) != before
    result.rollback()
    assert etree.tostring(tree) == before


# --- incremental commit: candidate and running stay identical -----------------------------

EDITS = st.sampled_from([
    "<vsi><name>{n}</name></vsi>",
    "<vsi><name>{n}</name><description>{n}-text</description></vsi>",
    '<vsi nc:operation="remove"><name>{n}</name></vsi>',
    '<vsi><name>{n}</name><description nc:operation="remove"/></vsi>',
    "<vsi><name>{n}</name><acs><ac><interface>if-{n}</interface></ac></acs></vsi>",
    '<vsi><name>{n}</name><acs><ac nc:operation="remove"><interface>if-{n}</interface></ac></acs></vsi>',
    "<vsi><name>{n}</name><igmp-snooping><query-interval>{q}</query-interval></igmp-snooping></vsi>",
    '<vsi><name>{n}</name><igmp-snooping nc:operation="remove"/></vsi>',
    '<vsi nc:operation="replace"><name>{n}</name><unknown-multicast-action>drop</unknown-multicast-action></vsi>',
    "<vsi><name>{n}</name><igmp-snooping><static-router-port>if-{n}</static-router-port></igmp-snooping></vsi>",
])
STEPS = st.lists(st.tuples(EDITS, st.sampled_from("abcd"), st.integers(1, 99), st.sampled_from(["commit", "discard", "more"])),
                 min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_after_every_commit_or_discard_candidate_equals_running(tmp_path_factory, steps):
    ds = stores(tmp_path_factory.mktemp("ds"))
    reference = stores(tmp_path_factory.mktemp("ref"))   # the same edits applied straight to running
    pending: list[etree._Element] = []
    for template, name, q, then in steps:
        body = template.format(n=name, q=q)
        ds.edit("candidate", cfg(body), session_id=1)
        pending.append(cfg(body))
        if then == "more":
            continue
        if then == "commit":
            try:
                ds.commit()
            except Exception:
                ds.discard_changes()
                pending.clear()
            else:
                for edit in pending:
                    reference.running.root = _applied(reference, edit)
                pending.clear()
        else:
            ds.discard_changes()
            pending.clear()
        assert c14n(ds.root("candidate")) == c14n(ds.root("running"))
        assert c14n(ds.root("running")) == c14n(reference.root("running"))


def _applied(reference: Datastores, edit: etree._Element) -> etree._Element:
    tree = copy.deepcopy(reference.running.root)
    apply_edit(reference.schema, tree, edit, when_ok=reference.validator.when_holds)
    return tree


def test_commit_validates_only_the_pending_changes(tmp_path):
    class Spy(Validator):
        def __init__(self, schema):
            super().__init__(schema)
            self.calls: list[str] = []

        def validate(self, root, changes):
            self.calls.append("incremental:" + ",".join(c.schema.name for c in changes))
            return super().validate(root, changes)

        def validate_full(self, root):
            self.calls.append("full")
            return super().validate_full(root)

    schema = compiled_schema()
    ds = Datastores(schema, Spy(schema), tmp_path)
    ds.load()
    ds.edit("candidate", cfg("<vsi><name>a</name><description>x</description></vsi>"), session_id=1)
    ds.commit()
    ds.edit("candidate", cfg("<vsi><name>a</name><description>y</description></vsi>"), session_id=1)
    ds.validator.calls.clear()
    ds.commit()
    assert ds.validator.calls == ["incremental:description"]


def test_running_changed_under_a_dirty_candidate_makes_the_next_commit_whole(tmp_path):
    ds = stores(tmp_path)
    ds.edit("candidate", cfg("<vsi><name>cand</name></vsi>"), session_id=1)
    ds.edit("running", cfg("<vsi><name>run</name></vsi>"), session_id=2)
    assert ds.candidate.diverged
    ds.commit()
    assert ds.root("running").xpath("//v:name/text()", namespaces={"v": VL2MC}) == ["cand"]
    assert c14n(ds.root("candidate")) == c14n(ds.root("running"))


# --- list index ---------------------------------------------------------------------------

def _vsis_tree(count: int) -> etree._Element:
    vsis = etree.Element(f"{V}vsis")
    for i in range(count):
        etree.SubElement(etree.SubElement(vsis, f"{V}vsi"), f"{V}name").text = f"v{i}"
    return vsis


def test_index_finds_entries_like_a_scan(tmp_path):
    schema = compiled_schema()
    vsi_schema = schema.root(f"{V}vsis").child(f"{V}vsi")
    vsis = _vsis_tree(100)
    index = EntryIndex()
    for key in ("v0", "v57", "v99", "missing"):
        assert index.find(vsis, vsi_schema, (key,)) is find_list_entry(vsis, vsi_schema, (key,))


def test_index_sees_entries_added_behind_its_back(tmp_path):
    schema = compiled_schema()
    vsi_schema = schema.root(f"{V}vsis").child(f"{V}vsi")
    vsis = _vsis_tree(50)
    index = EntryIndex()
    assert index.find(vsis, vsi_schema, ("late",)) is None
    late = etree.SubElement(vsis, f"{V}vsi")
    etree.SubElement(late, f"{V}name").text = "late"
    assert index.find(vsis, vsi_schema, ("late",)) is late
    vsis.remove(late)
    assert index.find(vsis, vsi_schema, ("late",)) is None


# --- diffs and output ---------------------------------------------------------------------

def test_diff_of_two_trees_lists_created_deleted_and_modified_nodes(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg("<vsi><name>a</name><description>x</description></vsi><vsi><name>b</name></vsi>"),
            session_id=1)
    old = copy.deepcopy(ds.root("running"))
    ds.edit("running", cfg('<vsi><name>a</name><description>y</description></vsi>'
                           '<vsi nc:operation="delete"><name>b</name></vsi><vsi><name>c</name></vsi>'), session_id=1)
    changes = diff_trees(ds.schema, old, ds.root("running"))
    assert sorted((c.op, c.schema.name, c.old, c.new) for c in changes) == [
        ("create", "vsi", None, None), ("delete", "vsi", None, None), ("modify", "description", "x", "y")]


def test_strip_internal_removes_every_internal_attribute_and_namespace(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg("<vsi><name>a</name></vsi>"), session_id=1)
    out = strip_internal(copy.deepcopy(ds.root("running")))
    text = etree.tostring(out).decode()
    assert INTERNAL not in text
    assert out.find(f"{V}vsis/{V}vsi/{V}unknown-multicast-action").text == "flood"


ACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
RULE_LIST_EDITS = st.sampled_from([
    '<rule-list><name>{n}</name></rule-list>',
    '<rule-list yang:insert="first"><name>{n}</name></rule-list>',
    '<rule-list yang:insert="last"><name>{n}</name></rule-list>',
    '<rule-list yang:insert="after" yang:key="[n:name=\'{m}\']"><name>{n}</name></rule-list>',
    '<rule-list yang:insert="before" yang:key="[n:name=\'{m}\']"><name>{n}</name></rule-list>',
    '<rule-list nc:operation="remove"><name>{n}</name></rule-list>',
])


def nacm_cfg(body: str) -> etree._Element:
    return etree.fromstring(f'<config xmlns="{NC}" xmlns:nc="{NC}" xmlns:yang="urn:ietf:params:xml:ns:yang:1" '
                            f'xmlns:n="{ACM}"><nacm xmlns="{ACM}">{body}</nacm></config>')


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(RULE_LIST_EDITS, st.sampled_from("pqrs"), st.sampled_from("pqrs"), st.booleans()),
                      min_size=1, max_size=15))
def test_user_ordered_lists_keep_the_same_order_in_candidate_and_running(tmp_path_factory, steps):
    ds = stores(tmp_path_factory.mktemp("ds"))
    for template, name, anchor, commit in steps:
        try:
            ds.edit("candidate", nacm_cfg(template.format(n=name, m=anchor)), session_id=1)
        except Exception:          # an anchor that does not exist (yet): refused, nothing changed
            pass
        if commit:
            ds.commit()
            assert c14n(ds.root("candidate")) == c14n(ds.root("running"))
    ds.commit()
    assert c14n(ds.root("candidate")) == c14n(ds.root("running"))


def test_a_whole_config_gets_when_guarded_defaults_only_where_the_when_holds(tmp_path):
    ds = stores(tmp_path)
    tree = ds.tree_from_config(etree.fromstring(
        f'<config xmlns="{NC}"><vsis xmlns="{VL2MC}">'
        f'<vsi><name>on</name><igmp-snooping><backup-query-forward>true</backup-query-forward></igmp-snooping></vsi>'
        f'<vsi><name>off</name></vsi></vsis></config>'))
    replaced = {vsi.findtext(f"{V}name"): vsi.find(f"{V}igmp-snooping/{V}backup-query-source-mac-replace")
                for vsi in tree.iter(f"{V}vsi")}
    assert replaced["on"] is not None and replaced["on"].get(DEFAULT_MARK) == "1"
    assert replaced["off"] is None
