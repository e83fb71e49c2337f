"""SPEC section 4: datastores persist in the state directory, written atomically; a crash
at any point leaves the last committed configuration loadable; an invalid saved file stops
the server from starting with a message that names the file and the problem."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent import persist
from agent.errors import RpcError, RpcErrors
from agent.datastore import Datastores, DatastoreLoadError
from agent.validate import Validator
from agent.xmlns import NC, VL2MC
from tests.agent.test_commit import names
from tests.agent.test_edit_config import edit, vsi, vsis
from tests.conftest import compiled_schema


def stores_in(state_dir: Path) -> Datastores:
    schema = compiled_schema()
    stores = Datastores(schema, Validator(schema), state_dir)
    stores.load()
    return stores


def vsi_names(stores: Datastores, name: str = "running") -> list[str]:
    return stores.root(name).xpath("//v:vsi/v:name/text()", namespaces={"v": VL2MC})


# --- across restarts ----------------------------------------------------------------------

def test_running_survives_a_restart(nc, agent_server):
    edit(nc, vsis(vsi("a", "<description>kept</description>")))
    agent_server.restart()
    assert names(agent_server.connect()) == ["a"]


def test_committed_candidate_survives_a_restart(nc, agent_server):
    edit(nc, vsis(vsi("a")), target="candidate")
    nc.commit()
    agent_server.restart()
    assert names(agent_server.connect()) == ["a"]


def test_uncommitted_candidate_changes_do_not_survive_a_restart(nc, agent_server):
    edit(nc, vsis(vsi("a")), target="candidate")
    agent_server.restart()
    assert names(agent_server.connect(), "candidate") == []


def test_startup_is_what_the_server_starts_from(nc, agent_server):
    edit(nc, vsis(vsi("saved")))
    nc.copy_config(source="running", target="startup")
    edit(nc, vsis(vsi("unsaved")))
    agent_server.restart()
    client = agent_server.connect()
    assert names(client) == ["saved"]
    assert names(client, "startup") == ["saved"]


def test_after_delete_config_of_startup_the_server_starts_from_running(nc, agent_server):
    nc.copy_config(source="running", target="startup")
    nc.delete_config(target="startup")
    edit(nc, vsis(vsi("a")))
    agent_server.restart()
    assert names(agent_server.connect()) == ["a"]


def test_saved_files_are_readable_by_the_owner_only(nc, agent_server):
    edit(nc, vsis(vsi("a")))
    nc.copy_config(source="running", target="startup")
    for name in ("running.xml", "startup.xml"):
        mode = stat.S_IMODE((agent_server.state_dir / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))


# --- crash safety -------------------------------------------------------------------------

def test_leftover_temporary_file_does_not_break_loading(tmp_path):
    first = stores_in(tmp_path)
    first.edit("running", _config(vsi("a")), session_id=1)
    (tmp_path / f"{persist.TEMP_PREFIX}running.xml.abc123").write_bytes(b"<data xmlns=")  # a crash mid-write
    second = stores_in(tmp_path)
    assert vsi_names(second) == ["a"]
    assert not any(persist.is_temp_file(p) for p in tmp_path.iterdir())


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "running.xml"
    persist.atomic_write(target, b"old")

    def crash(src, dst):
        raise OSError("disk gone")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        persist.atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["running.xml"]


def test_failed_persist_leaves_running_loadable_as_it_was(tmp_path, monkeypatch):
    stores = stores_in(tmp_path)
    stores.edit("running", _config(vsi("a")), session_id=1)

    def crash(src, dst):
        raise OSError("disk gone")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        stores.edit("running", _config(vsi("b")), session_id=1)
    monkeypatch.undo()
    assert vsi_names(stores_in(tmp_path)) == ["a"]


def test_a_file_without_default_marks_loads_with_defaults_instantiated(tmp_path):
    """A hand-written running.xml (no internal marks) is a plain configuration."""
    (tmp_path / "running.xml").write_text(
        f'<config xmlns="{NC}"><vsis xmlns="{VL2MC}"><vsi><name>hand</name></vsi></vsis></config>')
    stores = stores_in(tmp_path)
    action = stores.root("running").xpath("//v:vsi/v:unknown-multicast-action", namespaces={"v": VL2MC})
    assert [a.text for a in action] == ["flood"]


# --- refusing to start ----------------------------------------------------------------------

def test_truncated_running_file_stops_the_start_with_its_name(tmp_path):
    (tmp_path / "running.xml").write_bytes(b'<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><vsis')
    with pytest.raises(DatastoreLoadError) as caught:
        stores_in(tmp_path)
    assert str(tmp_path / "running.xml") in str(caught.value)
    assert "not a readable XML document" in str(caught.value)


def test_invalid_running_file_stops_the_start_naming_the_first_errors(tmp_path):
    (tmp_path / "running.xml").write_text(
        f'<data xmlns="{NC}"><vsis xmlns="{VL2MC}"><vsi><name>a</name>'
        f'<igmp-snooping><enable>true</enable></igmp-snooping></vsi></vsis></data>')
    with pytest.raises(DatastoreLoadError) as caught:
        stores_in(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "running.xml") in message
    assert "igmp-snooping-disabled-globally" in message
    assert "/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/vl2mc:enable" in message


def test_running_file_with_unknown_elements_stops_the_start(tmp_path):
    (tmp_path / "running.xml").write_text(f'<data xmlns="{NC}"><vsis xmlns="{VL2MC}"><bogus/></vsis></data>')
    with pytest.raises(DatastoreLoadError) as caught:
        stores_in(tmp_path)
    assert "unknown-element" in str(caught.value)


def test_server_refuses_to_start_on_an_invalid_running_file(agent_server):
    agent_server.stop()
    (agent_server.state_dir / "running.xml").write_text(f'<data xmlns="{NC}"><nonsense/></data>')
    with pytest.raises(DatastoreLoadError):
        agent_server.start()
    (agent_server.state_dir / "running.xml").unlink()
    agent_server.start()          # the fixture stops it again


def _config(body: str):
    from lxml import etree
    return etree.fromstring(vsis(body))


# --- running.xml holds what was configured, not the defaults --------------------------------

def _config(body: str):
    from lxml import etree
    return etree.fromstring(f'<config xmlns="{NC}" xmlns:nc="{NC}"><vsis xmlns="{VL2MC}">{body}</vsis></config>')


def test_running_file_holds_no_defaults_and_loads_with_them(tmp_path):
    from lxml import etree
    from agent.xmlns import INTERNAL
    stores = stores_in(tmp_path)
    stores.edit("running", _config("<vsi><name>a</name><description>d</description>"
                                   "<igmp-snooping><query-interval>30</query-interval></igmp-snooping></vsi>"),
                session_id=1)
    saved = etree.parse(str(stores.running_file)).getroot()
    assert INTERNAL.encode() not in stores.running_file.read_bytes()
    assert [etree.QName(el).localname for el in saved.iter(f"{{{VL2MC}}}*")] == [
        "vsis", "vsi", "name", "description", "igmp-snooping", "query-interval"]
    assert same_data(stores_in(tmp_path).root("running"), stores.root("running"))


def same_data(loaded, held) -> bool:
    """Equal trees, defaults and marks included; the order of the top-level nodes is free
    (a loaded file gets its defaults in schema order, an edit appends a new top-level node)."""
    from tests.agent.test_datastore import c14n
    tag, attrib, text, children = c14n(loaded)
    other_tag, other_attrib, other_text, other_children = c14n(held)
    return (tag, attrib, text, sorted(children)) == (other_tag, other_attrib, other_text, sorted(other_children))


PERSIST_STEPS = st.lists(st.tuples(
    st.sampled_from([
        "<vsi><name>{n}</name><description>{n}-{q}</description></vsi>",
        '<vsi nc:operation="remove"><name>{n}</name></vsi>',
        "<vsi><name>{n}</name><igmp-snooping><query-interval>{q}</query-interval></igmp-snooping></vsi>",
        '<vsi><name>{n}</name><igmp-snooping nc:operation="remove"/></vsi>',
        "<vsi><name>{n}</name><acs><ac><interface>if-{n}</interface></ac></acs></vsi>",
        '<vsi nc:operation="replace"><name>{n}</name><unknown-multicast-action>drop</unknown-multicast-action></vsi>',
    ]),
    st.sampled_from("abc"), st.integers(1, 99),
    st.sampled_from(["candidate+commit", "candidate+discard", "running", "running test-only", "copy-config",
                     "restore"])), min_size=1, max_size=10)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=PERSIST_STEPS)
def test_after_any_sequence_the_saved_running_loads_equal_to_running(tmp_path_factory, steps):
    """The saved form is re-serialised only for the entries that changed: any change that did
    not reach it would show here as a difference after a restart."""
    state_dir = tmp_path_factory.mktemp("state")
    stores = stores_in(state_dir)
    snapshot = stores.copy_of("running")
    for template, name, q, how in steps:
        config = _config(template.format(n=name, q=q))
        try:
            if how.startswith("candidate"):
                stores.edit("candidate", config, session_id=1)
                stores.commit() if how.endswith("commit") else stores.discard_changes()
            elif how == "running":
                stores.edit("running", config, session_id=1)
            elif how == "running test-only":
                stores.edit("running", config, session_id=1, test_option="test-only")
            elif how == "copy-config":
                stores.replace("running", stores.copy_of("running"), session_id=1)
            else:
                stores.restore_running(snapshot)
                snapshot = stores.copy_of("running")
        except (RpcError, RpcErrors):
            stores.discard_changes()
        assert same_data(stores_in(state_dir).root("running"), stores.root("running"))


def test_an_entry_replayed_into_the_other_tree_is_saved_with_its_new_content(tmp_path):
    """Running and candidate swap trees at each commit; the commit replays its changes into
    the tree that was running (and was saved) before, which is saved again one commit later."""
    stores = stores_in(tmp_path)
    stores.edit("running", _config("<vsi><name>a</name><description>one</description></vsi>"), session_id=1)
    stores.edit("candidate", _config("<vsi><name>a</name><description>two</description></vsi>"), session_id=1)
    stores.commit()
    stores.edit("candidate", _config("<vsi><name>b</name></vsi>"), session_id=1)
    stores.commit()
    restarted = stores_in(tmp_path)
    assert restarted.root("running").xpath("//v:vsi[v:name='a']/v:description/text()",
                                           namespaces={"v": VL2MC}) == ["two"]
    assert same_data(restarted.root("running"), stores.root("running"))


# --- the state directory is private (it holds the host key and password hashes) ------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_creates_missing_directories_owner_only_whatever_the_umask(tmp_path):
    old_umask = os.umask(0o022)
    try:
        persist.atomic_write(tmp_path / "outer" / "state" / "running.xml", b"<data/>")
    finally:
        os.umask(old_umask)
    assert _mode(tmp_path / "outer") == 0o700
    assert _mode(tmp_path / "outer" / "state") == 0o700
    assert (tmp_path / "outer" / "state" / "running.xml").read_bytes() == b"<data/>"


def test_atomic_write_leaves_the_mode_of_an_existing_directory_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    persist.atomic_write(shared / "file", b"x")
    assert _mode(shared) == 0o755


def test_server_start_restricts_a_state_dir_it_owns_to_0700_and_logs_it(tmp_path, caplog):
    from agent.server import Server, ServerConfig

    state = tmp_path / "state"
    state.mkdir()
    os.chmod(state, 0o755)
    with caplog.at_level("WARNING", logger="agent.persist"):
        Server(ServerConfig(port=0, state_dir=state, admin_password="pw"), schema=compiled_schema())
    assert _mode(state) == 0o700
    assert any("0755" in r.getMessage() and str(state) in r.getMessage() for r in caplog.records)


def test_server_creates_a_missing_state_dir_owner_only(tmp_path):
    from agent.server import Server, ServerConfig

    state = tmp_path / "new" / "state"
    old_umask = os.umask(0o022)
    try:
        Server(ServerConfig(port=0, state_dir=state, admin_password="pw"), schema=compiled_schema())
    finally:
        os.umask(old_umask)
    assert _mode(state) == 0o700
    assert _mode(state.parent) == 0o700


def test_a_private_state_dir_is_left_as_it_is_and_nothing_is_logged(tmp_path, caplog):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.chmod(state, 0o700)
    with caplog.at_level("WARNING", logger="agent.persist"):
        assert persist.tighten_private_dir(state) is False
    assert _mode(state) == 0o700
    assert caplog.records == []
