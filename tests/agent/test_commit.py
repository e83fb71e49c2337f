"""RFC 6241 8.3 candidate (commit, discard-changes), 7.3 copy-config, 7.4 delete-config, 8.6
validate, and the commit hooks the dataplane will use - over real SSH."""

from __future__ import annotations

from lxml import etree

from agent.errors import ErrorTag, RpcError
from agent.xmlns import NC, VL2MC
from tests.agent.test_edit_config import (base, config, edit, leaf, one_error, refused, running, snapshot, vsi,
                                       vsis)

NAMES = "//v:vsi/v:name/text()"


def element(text: str) -> etree._Element:
    """ncclient takes an inline validate source as the `<config>` element."""
    return etree.fromstring(text)


def source(text: str) -> etree._Element:
    """...and an inline copy-config source as the whole `<source>` element."""
    return etree.fromstring(f'<source xmlns="{NC}">{text}</source>')


def names(nc, source: str = "running") -> list[str]:
    return running(nc, source).xpath(NAMES, namespaces={"v": VL2MC})


# --- commit and discard-changes -----------------------------------------------------------

def test_candidate_changes_are_invisible_in_running_until_commit(nc):
    edit(nc, vsis(vsi("a")), target="candidate")
    assert names(nc, "candidate") == ["a"]
    assert names(nc) == []
    nc.commit()
    assert names(nc) == ["a"]


def test_after_commit_candidate_and_running_are_equal(nc):
    edit(nc, vsis(vsi("a") + vsi("b")), target="candidate")
    nc.commit()
    edit(nc, vsis(vsi("a", attrs=' nc:operation="delete"') + vsi("c", "<description>x</description>")),
         target="candidate")
    nc.commit()
    assert snapshot(nc, "candidate") == snapshot(nc, "running")
    assert names(nc) == ["b", "c"]


def test_discard_changes_makes_the_candidate_running_again(nc):
    edit(nc, vsis(vsi("a")))
    edit(nc, vsis(vsi("a", attrs=' nc:operation="delete"') + vsi("b")), target="candidate")
    nc.discard_changes()
    assert snapshot(nc, "candidate") == snapshot(nc, "running")
    assert names(nc, "candidate") == ["a"]


def test_invalid_candidate_commit_is_refused_and_changes_nothing(nc):
    edit(nc, vsis(vsi("a", "<igmp-snooping><enable>true</enable></igmp-snooping>")), target="candidate")
    before = snapshot(nc)
    error = one_error(lambda: nc.commit())
    assert (error["type"], error["tag"], error["app_tag"]) == (
        "application", "operation-failed", "igmp-snooping-disabled-globally")
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/vl2mc:enable"
    assert snapshot(nc) == before
    assert names(nc, "candidate") == ["a"]          # the candidate keeps the edit to fix it


def test_commit_validates_changes_accumulated_over_several_edits(nc):
    edit(nc, vsis(vsi("a", "<acs><ac><interface>eth1</interface></ac></acs>")), target="candidate")
    edit(nc, vsis(vsi("b", "<acs><ac><interface>eth1</interface></ac></acs>")), target="candidate")
    errors = refused(lambda: nc.commit())
    assert {(e["tag"], e["app_tag"]) for e in errors} == {("operation-failed", "interface-in-use")}
    assert {e["path"] for e in errors} == {
        f"/vl2mc:vsis/vl2mc:vsi[vl2mc:name='{name}']/vl2mc:acs/vl2mc:ac[vl2mc:interface='eth1']/vl2mc:interface"
        for name in ("a", "b")}
    assert names(nc) == []


def test_a_clean_candidate_follows_edits_of_running(nc):
    edit(nc, vsis(vsi("a")))
    assert names(nc, "candidate") == ["a"]


def test_commit_after_running_changed_under_a_dirty_candidate_commits_the_candidate(nc_factory):
    first, second = nc_factory(), nc_factory()
    edit(first, vsis(vsi("cand")), target="candidate")
    edit(second, vsis(vsi("run")))
    first.commit()
    assert names(first) == ["cand"]
    assert snapshot(first, "candidate") == snapshot(first, "running")


def test_commit_of_an_unchanged_candidate_is_ok(nc):
    nc.commit()
    assert names(nc) == []


# --- commit hooks (the dataplane push) ----------------------------------------------------

def test_commit_hook_sees_the_committed_changes(nc, agent_server):
    seen = []
    agent_server.run(lambda: agent_server.server.datastores.commit_hooks.append(
        lambda root, changes: seen.append([(c.op, c.schema.name) for c in changes])))
    edit(nc, vsis(vsi("a", "<description>x</description>")))
    edit(nc, vsis(vsi("a", "<description>y</description>")), target="candidate")
    nc.commit()
    assert seen == [[("create", "vsis")], [("modify", "description")]]


def test_commit_hook_refusal_aborts_the_commit_with_nothing_changed(nc, agent_server):
    def refuse(root, changes):
        raise RpcError(ErrorTag.RESOURCE_DENIED, "the dataplane has no room for this VSI")
    agent_server.run(lambda: agent_server.server.datastores.commit_hooks.append(refuse))
    edit(nc, vsis(vsi("a")), target="candidate")
    before = snapshot(nc)
    error = one_error(lambda: nc.commit())
    assert error["tag"] == "resource-denied"
    assert snapshot(nc) == before
    error = one_error(lambda: edit(nc, vsis(vsi("b"))))
    assert error["tag"] == "resource-denied"
    assert snapshot(nc) == before


# --- copy-config --------------------------------------------------------------------------

def test_copy_config_running_to_startup_saves_running(nc):
    edit(nc, vsis(vsi("a")))
    nc.copy_config(source="running", target="startup")
    assert names(nc, "startup") == ["a"]


def test_copy_config_inline_config_replaces_the_candidate(nc):
    edit(nc, vsis(vsi("a")))
    nc.copy_config(source=source(vsis(vsi("x") + vsi("y"))), target="candidate")
    assert names(nc, "candidate") == ["x", "y"]
    nc.commit()
    assert names(nc) == ["x", "y"]
    assert snapshot(nc, "candidate") == snapshot(nc, "running")


def test_copy_config_to_running_is_validated_in_full(nc):
    edit(nc, vsis(vsi("a")))
    before = snapshot(nc)
    error = one_error(lambda: nc.copy_config(
        source=source(vsis(vsi("a", "<igmp-snooping><enable>true</enable></igmp-snooping>"))),
        target="running"))
    assert (error["tag"], error["app_tag"]) == ("operation-failed", "igmp-snooping-disabled-globally")
    assert snapshot(nc) == before


def test_copy_config_startup_to_running_restores_the_saved_configuration(nc):
    edit(nc, vsis(vsi("saved")))
    nc.copy_config(source="running", target="startup")
    edit(nc, vsis(vsi("later")))
    nc.copy_config(source="startup", target="running")
    assert names(nc) == ["saved"]


def test_copy_config_with_an_invalid_inline_value_is_invalid_value(nc):
    before = snapshot(nc, "candidate")
    error = one_error(lambda: nc.copy_config(
        source=source(vsis(vsi("a", "<unknown-multicast-action>sometimes</unknown-multicast-action>"))),
        target="candidate"))
    assert error["tag"] == "invalid-value"
    assert error["path"] == "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:unknown-multicast-action"
    assert snapshot(nc, "candidate") == before


def test_copy_config_onto_itself_is_refused(nc):
    error = one_error(lambda: nc.copy_config(source="running", target="running"))
    assert (error["type"], error["tag"]) == ("protocol", "invalid-value")


# --- delete-config ------------------------------------------------------------------------

def test_delete_config_empties_startup(nc, agent_server):
    edit(nc, vsis(vsi("a")))
    nc.copy_config(source="running", target="startup")
    nc.delete_config(target="startup")
    assert names(nc, "startup") == []
    assert not (agent_server.state_dir / "startup.xml").exists()


def test_delete_config_of_running_is_refused(nc):
    edit(nc, vsis(vsi("a")))
    error = one_error(lambda: nc.delete_config(target="running"))
    assert (error["type"], error["tag"]) == ("protocol", "operation-not-supported")
    assert names(nc) == ["a"]


# --- validate -----------------------------------------------------------------------------

def test_validate_candidate_reports_what_commit_would_refuse(nc):
    edit(nc, vsis(vsi("a", "<igmp-snooping><enable>true</enable></igmp-snooping>")), target="candidate")
    error = one_error(lambda: nc.validate(source="candidate"))
    assert (error["tag"], error["app_tag"]) == ("operation-failed", "igmp-snooping-disabled-globally")


def test_validate_accepts_a_valid_inline_config(nc):
    base(nc)
    nc.validate(source=element(config(f'<vsis xmlns="{VL2MC}">{vsi("z")}</vsis>')))


def test_validate_of_an_inline_config_finds_must_violations(nc):
    request = element(vsis(vsi("a", "<igmp-snooping><enable>true</enable></igmp-snooping>")))
    error = one_error(lambda: nc.validate(source=request))
    assert error["app_tag"] == "igmp-snooping-disabled-globally"


def test_validate_running_is_ok(nc):
    base(nc)
    nc.validate(source="running")
    assert leaf(running(nc), "//v:vsi[v:name='a']/v:description") == "first"


def test_validate_with_a_url_source_is_not_supported(nc):
    request = etree.fromstring(f'<validate xmlns="{NC}"><source><url>file:///tmp/x.xml</url></source></validate>')
    error = one_error(lambda: nc.dispatch(request))
    assert error["tag"] == "operation-not-supported"
