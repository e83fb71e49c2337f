"""SPEC section 4: datastores persist in the state directory, written atomically; a crash
at any point leaves the last committed configuration loadable; an invalid saved file stops
the server from starting with a message that names the file and the problem."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agent import persist
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
