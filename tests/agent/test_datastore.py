"""The datastore layer in-process: change records, undo, the incremental commit's replay
(candidate and running must end up identical), the list index, and whole-tree diffs."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from agent.datastore import Datastores, diff_trees, strip_internal
from agent.edit_config import EntryIndex, apply_edit, attach, detach, find_list_entry, relocate
from agent.errors import ErrorTag, RpcError, RpcErrors
from agent.validate import Validator
from agent.xmlns import DEFAULT_MARK, INTERNAL, NC, VL2MC
from tests.agent.test_edit_config import ordered_config, ordered_stores
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


def test_deleting_the_last_entries_of_a_container_reports_the_container_with_its_old_entries(tmp_path):
    """The emptied `acs` goes with them; its one delete must still show which ACs went."""
    ds = stores(tmp_path)
    ds.edit("running", cfg("<vsi><name>a</name><acs><ac><interface>e1</interface></ac>"
                           "<ac><interface>e2</interface></ac></acs></vsi>"), session_id=1)
    result = ds.edit("running", cfg('<vsi><name>a</name><acs><ac nc:operation="delete"><interface>e1</interface></ac>'
                                    '<ac nc:operation="delete"><interface>e2</interface></ac></acs></vsi>'),
                     session_id=1)
    (change,) = result.changes
    assert (change.op, change.schema.name, change.parent.findtext(f"{V}name")) == ("delete", "acs", "a")
    assert [ac.findtext(f"{V}interface") for ac in change.old_element] == ["e1", "e2"]
    assert ds.root("running").find(f"{V}vsis/{V}vsi/{V}acs") is None
    # the freed interfaces can be used again at once (the validator's index followed the change)
    ds.edit("running", cfg("<vsi><name>b</name><acs><ac><interface>e1</interface></ac></acs></vsi>"), session_id=1)


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


ORDERED_EDITS = st.sampled_from([
    '<rule-list><name>{n}</name></rule-list>',
    '<rule-list yang:insert="first"><name>{n}</name></rule-list>',
    '<rule-list yang:insert="last"><name>{n}</name></rule-list>',
    '<rule-list yang:insert="after" yang:key="[ot:name=\'{m}\']"><name>{n}</name></rule-list>',
    '<rule-list yang:insert="before" yang:key="[ot:name=\'{m}\']"><name>{n}</name></rule-list>',
    '<rule-list nc:operation="remove"><name>{n}</name></rule-list>',
    '<item>{n}</item>',
    '<item yang:insert="first">{n}</item>',
    '<item yang:insert="after" yang:value="{m}">{n}</item>',
    '<item yang:insert="before" yang:value="{m}">{n}</item>',
    '<item nc:operation="remove">{n}</item>',
])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(ORDERED_EDITS, st.sampled_from("pqrs"), st.sampled_from("pqrs"), st.booleans()),
                      min_size=1, max_size=15))
def test_user_ordered_lists_keep_the_same_order_in_candidate_and_running(tmp_path_factory, steps):
    """Lists and leaf-lists of the test-local module (tests.agent.test_edit_config.ORDERED_YANG)."""
    ds = ordered_stores(tmp_path_factory.mktemp("ds"))
    for template, name, anchor, commit in steps:
        try:
            ds.edit("candidate", ordered_config(template.format(n=name, m=anchor)), session_id=1)
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


# --- the validator's value index follows running and candidate ----------------------------
#
# The rule "an interface belongs to one AC or PW" is checked through a value index the
# validator keeps for running and candidate (agent.validate, "keyed unit").  An index that
# missed a change would let a second AC take an interface already in use: every test below
# changes a tree in one of the ways that bypass validate() and then tries exactly that.

def _ac(vsi: str, interface: str, attrs: str = "") -> str:
    return f"<vsi{attrs}><name>{vsi}</name><acs><ac><interface>{interface}</interface></ac></acs></vsi>"


def _interface_in_use(call) -> bool:
    """True when ``call`` is refused because an interface is used twice (nothing else)."""
    try:
        call()
    except RpcErrors as exc:
        return all(e.app_tag == "interface-in-use" for e in exc.errors)
    except RpcError as exc:
        return exc.app_tag == "interface-in-use"
    return False


def _clash_refused(ds: Datastores, interface: str, vsi: str = "clash") -> bool:
    """A new VSI with an AC on ``interface`` is refused by a commit of the candidate (and the
    candidate is then put back)."""
    ds.edit("candidate", cfg(_ac(vsi, interface)), session_id=1)
    try:
        return _interface_in_use(ds.commit)
    finally:
        ds.discard_changes()


def _tracked(ds: Datastores) -> Datastores:
    """``ds`` with a used interface and the value indexes of both trees built (VSI k keeps the
    VSI list from being emptied, which would record the deletions differently)."""
    ds.edit("running", cfg(_ac("a", "e1") + _ac("k", "e9")), session_id=1)
    assert _clash_refused(ds, "e1")          # builds and uses the candidate's index
    assert _interface_in_use(lambda: ds.edit("running", cfg(_ac("b", "e1")), session_id=1))
    return ds


def test_running_and_candidate_stay_tracked_by_the_validator_whatever_replaces_them(tmp_path):
    ds = stores(tmp_path)
    inline = etree.fromstring(f'<config xmlns="{NC}"><vsis xmlns="{VL2MC}">{_ac("x", "e7")}</vsis></config>')
    steps = [lambda: None,
             lambda: ds.replace("running", ds.tree_from_config(inline), session_id=1),
             lambda: ds.replace("candidate", ds.copy_of("running"), session_id=1),
             ds.commit,
             lambda: ds.restore_running(ds.tree_from_config(inline)),
             lambda: ds.edit("candidate", cfg(_ac("y", "e8")), session_id=1),
             ds.commit,
             ds.load]
    for step in steps:
        step()
        for root in (ds.running.root, ds.candidate.root):
            assert ds.validator._tracked[id(root)].root is root


def test_an_interface_freed_by_a_test_only_delete_is_still_in_use(tmp_path):
    ds = _tracked(stores(tmp_path))
    ds.edit("running", cfg(_ac("a", "e1", ' nc:operation="delete"')), session_id=1, test_option="test-only")
    assert _interface_in_use(lambda: ds.edit("running", cfg(_ac("b", "e1")), session_id=1))
    ds.edit("candidate", cfg(_ac("a", "e1", ' nc:operation="delete"')), session_id=1, test_option="test-only")
    assert _clash_refused(ds, "e1")


def test_an_interface_freed_by_a_refused_running_edit_is_still_in_use(tmp_path):
    ds = _tracked(stores(tmp_path))
    # deleting VSI a and creating two ACs on one interface: validated, refused, taken back
    assert _interface_in_use(lambda: ds.edit(
        "running", cfg(_ac("a", "e1", ' nc:operation="delete"') + _ac("b", "e2") + _ac("c", "e2")), session_id=1))
    assert _interface_in_use(lambda: ds.edit("running", cfg(_ac("d", "e1")), session_id=1))
    assert _clash_refused(ds, "e1")


def test_an_interface_freed_by_a_refused_hook_is_still_in_use(tmp_path):
    ds = _tracked(stores(tmp_path))

    def refuse(root, changes):
        raise RpcError(ErrorTag.OPERATION_FAILED, "the dataplane refuses")
    ds.commit_hooks.append(refuse)
    with pytest.raises(RpcError):
        ds.edit("running", cfg(_ac("a", "e1", ' nc:operation="delete"')), session_id=1)
    ds.commit_hooks.remove(refuse)
    assert _interface_in_use(lambda: ds.edit("running", cfg(_ac("b", "e1")), session_id=1))


def test_an_interface_freed_by_discarded_changes_is_in_use_again(tmp_path):
    ds = _tracked(stores(tmp_path))
    ds.edit("candidate", cfg(_ac("a", "e1", ' nc:operation="delete"')), session_id=1)
    ds.discard_changes()
    assert _clash_refused(ds, "e1")


def test_an_interface_taken_by_a_commit_is_in_use_in_both_trees(tmp_path):
    ds = _tracked(stores(tmp_path))
    ds.edit("candidate", cfg(_ac("b", "e2")), session_id=1)
    ds.commit()
    assert _clash_refused(ds, "e2")
    assert _interface_in_use(lambda: ds.edit("running", cfg(_ac("c", "e2")), session_id=1))
    ds.edit("candidate", cfg(_ac("b", "e2", ' nc:operation="delete"')), session_id=1)
    ds.commit()
    ds.edit("running", cfg(_ac("c", "e2")), session_id=1)      # free again: accepted


def test_an_interface_set_by_a_running_edit_is_in_use_in_the_clean_candidate(tmp_path):
    ds = _tracked(stores(tmp_path))
    ds.edit("running", cfg(_ac("b", "e2")), session_id=1)
    assert _clash_refused(ds, "e2")


def test_an_interface_brought_by_copy_config_is_in_use(tmp_path):
    ds = _tracked(stores(tmp_path))
    inline = etree.fromstring(f'<config xmlns="{NC}"><vsis xmlns="{VL2MC}">{_ac("x", "e7")}</vsis></config>')
    ds.replace("running", ds.tree_from_config(inline), session_id=1)
    assert _interface_in_use(lambda: ds.edit("running", cfg(_ac("y", "e7")), session_id=1))
    assert _clash_refused(ds, "e7")
    ds.edit("running", cfg(_ac("y", "e1")), session_id=1)      # e1 went with the old running
    ds.replace("candidate", ds.copy_of("running"), session_id=1)
    assert _clash_refused(ds, "e1", vsi="z")


def test_an_interface_restored_by_a_confirmed_commit_rollback_is_in_use(tmp_path):
    ds = _tracked(stores(tmp_path))
    snapshot = ds.copy_of("running")
    ds.edit("candidate", cfg(_ac("a", "e1", ' nc:operation="delete"')), session_id=1)
    ds.commit()
    ds.edit("running", cfg(_ac("b", "e3")), session_id=1)
    ds.restore_running(snapshot)
    assert _interface_in_use(lambda: ds.edit("running", cfg(_ac("c", "e1")), session_id=1))
    ds.edit("running", cfg(_ac("c", "e3")), session_id=1)      # e3 is free again


def test_an_interface_loaded_at_start_up_is_in_use(tmp_path):
    _tracked(stores(tmp_path))
    ds = stores(tmp_path)                    # a restart: running.xml is loaded
    assert _interface_in_use(lambda: ds.edit("running", cfg(_ac("b", "e1")), session_id=1))
    assert _clash_refused(ds, "e1")


INDEX_OPS = st.sampled_from(["create", "delete", "test-only-delete", "refused-delete", "commit", "discard",
                             "running-create", "running-delete", "copy-running-to-candidate"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(INDEX_OPS, st.sampled_from("abc"), st.sampled_from(["e1", "e2", "e3"])),
                      min_size=1, max_size=10))
def test_after_any_sequence_a_used_interface_is_refused_and_a_free_one_accepted(tmp_path_factory, steps):
    ds = stores(tmp_path_factory.mktemp("ds"))

    def refusing_hook(root, changes):
        raise RpcError(ErrorTag.OPERATION_FAILED, "refused")

    for op, name, interface in steps:
        delete = cfg(f'<vsi nc:operation="remove"><name>{name}</name></vsi>')
        try:
            if op == "create":
                ds.edit("candidate", cfg(_ac(name, interface)), session_id=1)
            elif op == "delete":
                ds.edit("candidate", delete, session_id=1)
            elif op == "test-only-delete":
                ds.edit("running", delete, session_id=1, test_option="test-only")
                ds.edit("candidate", delete, session_id=1, test_option="test-only")
            elif op == "refused-delete":
                ds.commit_hooks.append(refusing_hook)
                try:
                    ds.edit("running", delete, session_id=1)
                finally:
                    ds.commit_hooks.remove(refusing_hook)
            elif op == "commit":
                ds.commit()
            elif op == "discard":
                ds.discard_changes()
            elif op == "running-create":
                ds.edit("running", cfg(_ac(name, interface)), session_id=1)
            elif op == "running-delete":
                ds.edit("running", delete, session_id=1)
            else:
                ds.replace("candidate", ds.copy_of("running"), session_id=1)
        except (RpcError, RpcErrors):
            pass
        for tree_name in ("running", "candidate"):
            tree = ds.root(tree_name)
            used = {i.text for i in tree.iter(f"{V}interface")}
            for candidate_interface in ("e1", "e2", "e3"):
                probe = cfg(_ac("probe", candidate_interface))
                refused = _interface_in_use(lambda: ds.edit(tree_name, probe, session_id=1, test_option="test-only"))
                assert refused == (candidate_interface in used), (tree_name, candidate_interface, used)


# --- deleting many entries at once ----------------------------------------------------------

def test_removing_2000_vsis_with_one_edit_commits_and_frees_their_interfaces(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", cfg("".join(_ac(f"v{i}", f"if{i}") for i in range(2000))), session_id=1)
    assert _clash_refused(ds, "if1999")
    ds.edit("candidate", etree.fromstring(
        f'<config xmlns="{NC}" xmlns:nc="{NC}"><vsis xmlns="{VL2MC}" nc:operation="remove"/></config>'), session_id=1)
    changes = ds.commit()
    assert [(c.op, c.schema.name) for c in changes] == [("delete", "vsis")]
    assert ds.root("running").find(f"{V}vsis") is None
    assert c14n(ds.root("candidate")) == c14n(ds.root("running"))
    ds.edit("candidate", cfg(_ac("new", "if1999")), session_id=1)
    ds.commit()                                   # the interface is free: accepted


def test_after_a_commit_no_index_keeps_elements_of_deleted_subtrees(tmp_path):
    """What lxml has to free when the last reference into a big deleted subtree goes: if an
    index kept a proxy for each deleted entry, lxml would free them one by one, each time
    searching the deleted subtree for the others (quadratic: the "shutdown stall").  So after
    the commit every element an index holds is still in running or candidate."""
    ds = stores(tmp_path)
    ds.edit("running", cfg("".join(_ac(f"v{i}", f"if{i}") for i in range(2000))), session_id=1)
    assert _clash_refused(ds, "if7")                                  # value indexes built
    ds.edit("candidate", cfg(_ac("v5", "x")), session_id=1)            # entry indexes built
    ds.commit()
    ds.edit("candidate", etree.fromstring(
        f'<config xmlns="{NC}" xmlns:nc="{NC}"><vsis xmlns="{VL2MC}" nc:operation="remove"/></config>'), session_id=1)
    ds.commit()
    held = [el for store in (ds.running, ds.candidate) for el in _entry_index_elements(store.index)]
    for root in (ds.running.root, ds.candidate.root):
        held += _value_index_elements(ds.validator, root)
    live = (ds.running.root, ds.candidate.root)
    assert [el for el in held if not any(_inside(el, root) for root in live)] == []


def _entry_index_elements(index: EntryIndex) -> list[etree._Element]:
    found = []
    for parent, maps in index._maps.items():
        found.append(parent)
        for list_map in maps.values():
            found += list(list_map.entries.values())
    return found


def _value_index_elements(validator: Validator, root: etree._Element) -> list[etree._Element]:
    tree = validator._tracked.get(id(root))
    if tree is None:
        return []
    return [entry for index in tree.indexes.values() for entry, _ in index.by_entry.values()]


def _inside(element: etree._Element, root: etree._Element) -> bool:
    return any(ancestor is root for ancestor in element.iterancestors()) or element is root


def test_moving_a_big_element_keeps_children_order_tails_and_namespaces(tmp_path):
    root = etree.fromstring(f'<data xmlns="{NC}" xmlns:i="{INTERNAL}"><vsis xmlns="{VL2MC}">'
                            + "".join(f'<vsi><name>v{i}</name><d i:dflt="1">x</d></vsi>tail{i}' for i in range(40))
                            + "</vsis></data>")
    vsis = root[0]
    before = (c14n(vsis), [vsi.tail for vsi in vsis])
    index = EntryIndex()
    detach(root, vsis, index)
    assert (c14n(vsis), [vsi.tail for vsi in vsis]) == before
    assert len(root) == 0
    attach(root, vsis, 0, index)
    assert (c14n(root[0]), [vsi.tail for vsi in root[0]]) == before
    assert all(el.get(DEFAULT_MARK) == "1" for el in root.iter(f"{V}d"))


# --- defaults guarded by a `when` -----------------------------------------------------------

SNOOPING_ON = (f'<config xmlns="{NC}"><l2-multicast xmlns="{VL2MC}"><igmp-snooping-enable>true'
               f'</igmp-snooping-enable></l2-multicast></config>')


def _snooping(ds: Datastores, tree: str = "running") -> list[tuple[str, str | None, str | None]]:
    """The backup-* and pw-fast-control* leaves of VSI a's igmp-snooping, in order:
    (name, value, default mark)."""
    container = ds.root(tree).find(f"{V}vsis/{V}vsi/{V}igmp-snooping")
    return [(etree.QName(leaf).localname, leaf.text, leaf.get(DEFAULT_MARK)) for leaf in container
            if etree.QName(leaf).localname.startswith(("backup-query", "pw-fast"))]


def _snooping_edit(inner: str, attrs: str = "") -> etree._Element:
    return cfg(f"<vsi><name>a</name><igmp-snooping{attrs}><enable>true</enable>{inner}</igmp-snooping></vsi>")


def test_a_default_whose_when_is_false_is_not_instantiated(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", etree.fromstring(SNOOPING_ON), session_id=1)
    ds.edit("running", _snooping_edit(""), session_id=1)
    assert _snooping(ds) == [("backup-query-forward", "false", "1"), ("pw-fast-control", "false", "1")]


def test_a_default_appears_in_schema_order_when_its_when_becomes_true_and_goes_when_false(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", etree.fromstring(SNOOPING_ON), session_id=1)
    ds.edit("running", _snooping_edit("<backup-query-forward>true</backup-query-forward>"), session_id=1)
    assert _snooping(ds) == [("backup-query-forward", "true", None),
                             ("backup-query-source-mac-replace", "false", "1"), ("pw-fast-control", "false", "1")]
    ds.edit("running", _snooping_edit("<backup-query-forward>false</backup-query-forward>"), session_id=1)
    assert _snooping(ds) == [("backup-query-forward", "false", None), ("pw-fast-control", "false", "1")]


def test_deleting_the_leaf_a_when_reads_removes_the_default_it_guarded(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", etree.fromstring(SNOOPING_ON), session_id=1)
    ds.edit("running", _snooping_edit("<backup-query-forward>true</backup-query-forward>"), session_id=1)
    ds.edit("running", _snooping_edit('<backup-query-forward nc:operation="delete"/>'), session_id=1)
    assert _snooping(ds) == [("backup-query-forward", "false", "1"), ("pw-fast-control", "false", "1")]


def test_when_guarded_defaults_follow_a_commit_of_the_candidate(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", etree.fromstring(SNOOPING_ON), session_id=1)
    ds.edit("candidate", _snooping_edit("<pw-fast-control>true</pw-fast-control>"), session_id=1)
    ds.commit()
    expected = [("backup-query-forward", "false", "1"), ("pw-fast-control", "true", None),
                ("pw-fast-control-holdtime", "10", "1")]
    assert _snooping(ds) == expected and _snooping(ds, "candidate") == expected
    ds.edit("candidate", _snooping_edit("", ' nc:operation="replace"'), session_id=1)
    ds.commit()
    expected = [("backup-query-forward", "false", "1"), ("pw-fast-control", "false", "1")]
    assert _snooping(ds) == expected and _snooping(ds, "candidate") == expected


def test_report_all_does_not_show_a_default_whose_when_is_false(tmp_path):
    from agent.with_defaults import apply_with_defaults
    ds = stores(tmp_path)
    ds.edit("running", etree.fromstring(SNOOPING_ON), session_id=1)
    ds.edit("running", _snooping_edit(""), session_id=1)
    reply = apply_with_defaults(copy.deepcopy(ds.root("running")), "report-all", ds.schema)
    names = {etree.QName(el).localname for el in reply.iter(f"{V}*")}
    assert "backup-query-forward" in names and "pw-fast-control" in names
    assert "backup-query-source-mac-replace" not in names and "pw-fast-control-holdtime" not in names


def test_a_loaded_file_gets_when_guarded_defaults_only_where_the_when_holds(tmp_path):
    ds = stores(tmp_path)
    ds.edit("running", etree.fromstring(SNOOPING_ON), session_id=1)
    ds.edit("running", _snooping_edit("<pw-fast-control>true</pw-fast-control>"), session_id=1)
    restarted = stores(tmp_path)
    assert _snooping(restarted) == [("backup-query-forward", "false", "1"), ("pw-fast-control", "true", None),
                                    ("pw-fast-control-holdtime", "10", "1")]


def test_a_big_element_is_linked_and_unlinked_without_its_children(tmp_path):
    """lxml re-homes the namespaces of every node a link/unlink moves, in time quadratic in
    the nodes whose namespace is declared outside the moved subtree (our default marks):
    a big element must be moved empty, its children one by one (agent.edit_config.relocate)."""
    root = etree.fromstring(f'<data xmlns="{NC}" xmlns:i="{INTERNAL}"><vsis xmlns="{VL2MC}">'
                            + "".join(f'<vsi><name>v{i}</name><d i:dflt="1">x</d></vsi>' for i in range(2000))
                            + "</vsis></data>")
    vsis = root[0]
    sizes_when_moved: list[int] = []

    def unlink() -> None:
        sizes_when_moved.append(len(vsis))
        root.remove(vsis)

    def link() -> None:
        sizes_when_moved.append(len(vsis))
        root.append(vsis)

    relocate(vsis, unlink)
    assert len(vsis) == 2000 and vsis.getparent() is None
    relocate(vsis, link)
    assert len(vsis) == 2000 and vsis.getparent() is root
    assert sizes_when_moved == [0, 0]
    assert [vsi.findtext(f"{V}name") for vsi in vsis] == [f"v{i}" for i in range(2000)]
