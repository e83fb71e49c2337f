"""RFC 6241 8.4 confirmed commit 1.1, over real SSH: timeout, confirming commit, persist /
persist-id, cancel-commit and rollback when the session that asked for it goes away."""

from __future__ import annotations

from lxml import etree

from agent.xmlns import NC
from tests.agent.test_edit_config import edit, one_error, snapshot, vsi, vsis
from tests.agent.test_commit import names


def pending(server) -> bool:
    state = server.datastores.confirmed_commits
    return state is not None and state.pending is not None


def confirmed_change(nc, name: str = "new", **commit_args) -> None:
    """running holds VSI ``old``; the candidate adds ``name``, committed with <confirmed/>."""
    edit(nc, vsis(vsi(name)), target="candidate")
    nc.commit(confirmed=True, **commit_args)


def test_confirmed_commit_applies_the_candidate_at_once(nc):
    edit(nc, vsis(vsi("old")))
    confirmed_change(nc)
    assert names(nc) == ["old", "new"]


def test_without_confirmation_running_rolls_back_when_the_timeout_expires(nc, agent_server):
    edit(nc, vsis(vsi("old")))
    before = snapshot(nc)
    confirmed_change(nc, timeout="1")
    assert agent_server.wait_until(lambda server: not pending(server))
    assert snapshot(nc) == before


def test_rollback_restores_the_saved_running_file_too(nc, agent_server):
    edit(nc, vsis(vsi("old")))
    saved = (agent_server.state_dir / "running.xml").read_bytes()
    confirmed_change(nc, timeout="1")
    assert (agent_server.state_dir / "running.xml").read_bytes() != saved
    assert agent_server.wait_until(lambda server: not pending(server))
    agent_server.restart()
    assert names(agent_server.connect()) == ["old"]


def test_confirming_commit_makes_the_change_permanent(nc, agent_server):
    edit(nc, vsis(vsi("old")))
    confirmed_change(nc, timeout="1")
    nc.commit()
    assert not agent_server.run(lambda: pending(agent_server.server))
    assert names(nc) == ["old", "new"]


def test_cancel_commit_rolls_back_at_once(nc, agent_server):
    edit(nc, vsis(vsi("old")))
    before = snapshot(nc)
    confirmed_change(nc)
    nc.cancel_commit()
    assert snapshot(nc) == before
    assert not agent_server.run(lambda: pending(agent_server.server))


def test_cancel_commit_without_a_pending_confirmed_commit_fails(nc):
    error = one_error(lambda: nc.cancel_commit())
    assert (error["type"], error["tag"]) == ("protocol", "operation-failed")


def test_session_end_rolls_back_a_non_persistent_confirmed_commit(nc_factory, agent_server):
    asker, watcher = nc_factory(), nc_factory()
    edit(asker, vsis(vsi("old")))
    before = snapshot(watcher)
    confirmed_change(asker)
    asker.close_session()
    assert agent_server.wait_until(lambda server: not pending(server))
    assert snapshot(watcher) == before


def test_dropped_connection_rolls_back_a_non_persistent_confirmed_commit(nc_factory, agent_server):
    """RFC 6241 8.4.1: the session ending for any reason, not only <close-session>."""
    asker, watcher = nc_factory(), nc_factory()
    edit(asker, vsis(vsi("old")))
    before = snapshot(watcher)
    confirmed_change(asker)
    asker._session._transport.close()      # the TCP connection goes, no close-session
    assert agent_server.wait_until(lambda server: not pending(server))
    assert snapshot(watcher) == before


def test_kill_session_rolls_back_the_killed_sessions_confirmed_commit(nc_factory, agent_server):
    asker, killer = nc_factory(), nc_factory()
    edit(asker, vsis(vsi("old")))
    before = snapshot(killer)
    confirmed_change(asker)
    killer.kill_session(str(asker.session_id))
    assert not agent_server.run(lambda: pending(agent_server.server))
    assert snapshot(killer) == before


def test_another_session_cannot_cancel_a_non_persistent_confirmed_commit(nc_factory):
    asker, other = nc_factory(), nc_factory()
    confirmed_change(asker)
    error = one_error(lambda: other.cancel_commit())
    assert (error["type"], error["tag"]) == ("protocol", "in-use")
    assert error["info"] == {"session-id": str(asker.session_id)}
    assert names(other) == ["new"]


def test_follow_up_confirmed_commit_replaces_the_timeout(nc, agent_server):
    """RFC 6241 8.4.5.1: a follow-up confirmed commit restarts the timer with its own timeout."""
    edit(nc, vsis(vsi("old")))
    confirmed_change(nc, name="first", timeout="600")
    confirmed_change(nc, name="second", timeout="1")
    assert agent_server.wait_until(lambda server: not pending(server))
    assert names(nc) == ["old"]


def test_another_session_cannot_confirm_a_non_persistent_confirmed_commit(nc_factory):
    asker, other = nc_factory(), nc_factory()
    confirmed_change(asker)
    error = one_error(lambda: other.commit())
    assert (error["type"], error["tag"]) == ("protocol", "in-use")
    assert error["info"] == {"session-id": str(asker.session_id)}


def test_persistent_confirmed_commit_survives_its_session_and_any_session_confirms_it(nc_factory, agent_server):
    asker, other = nc_factory(), nc_factory()
    confirmed_change(asker, persist="token-1")
    asker.close_session()
    assert agent_server.wait_until(lambda server: server.sessions.get(asker.session_id) is None)
    assert agent_server.run(lambda: pending(agent_server.server))
    other.commit(persist_id="token-1")
    assert not agent_server.run(lambda: pending(agent_server.server))
    assert names(other) == ["new"]


def test_persistent_confirmed_commit_needs_its_persist_id_to_be_confirmed(nc):
    confirmed_change(nc, persist="token-2")
    error = one_error(lambda: nc.commit())
    assert (error["tag"], error["info"]) == ("missing-element", {"bad-element": "persist-id"})


def test_wrong_persist_id_is_invalid_value(nc):
    confirmed_change(nc, persist="token-3")
    error = one_error(lambda: nc.commit(persist_id="other"))
    assert (error["type"], error["tag"]) == ("protocol", "invalid-value")
    assert error["info"] == {"bad-element": "persist-id"}
    error = one_error(lambda: nc.cancel_commit(persist_id="other"))
    assert error["tag"] == "invalid-value"


def test_cancel_commit_of_a_persistent_confirmed_commit_from_another_session(nc_factory):
    asker, other = nc_factory(), nc_factory()
    edit(asker, vsis(vsi("old")))
    before = snapshot(asker)
    confirmed_change(asker, persist="token-4")
    other.cancel_commit(persist_id="token-4")
    assert snapshot(other) == before


def test_follow_up_confirmed_commit_keeps_the_original_rollback_point(nc):
    edit(nc, vsis(vsi("old")))
    before = snapshot(nc)
    confirmed_change(nc, name="first")
    confirmed_change(nc, name="second")
    assert names(nc) == ["old", "first", "second"]
    nc.cancel_commit()
    assert snapshot(nc) == before


def test_persist_id_without_a_pending_confirmed_commit_is_invalid_value(nc):
    error = one_error(lambda: nc.commit(persist_id="nothing"))
    assert error["tag"] == "invalid-value"


def test_confirm_timeout_must_be_a_positive_number(nc):
    request = etree.fromstring(f'<commit xmlns="{NC}"><confirmed/><confirm-timeout>0</confirm-timeout></commit>')
    error = one_error(lambda: nc.dispatch(request))
    assert (error["tag"], error["info"]) == ("invalid-value", {"bad-element": "confirm-timeout"})


def test_rollback_runs_the_commit_hooks(nc, agent_server):
    edit(nc, vsis(vsi("old")))
    seen: list[list[tuple[str, str]]] = []
    agent_server.run(lambda: agent_server.server.datastores.commit_hooks.append(
        lambda root, changes: seen.append([(c.op, c.schema.name) for c in changes])))
    confirmed_change(nc)
    nc.cancel_commit()
    assert seen == [[("create", "vsi")], [("delete", "vsi")]]
    assert names(nc) == ["old"]




def test_a_restart_before_the_confirming_commit_restores_the_old_running(nc, agent_server):
    """RFC 6241 8.4.1: a reboot counts as no confirmation."""
    edit(nc, vsis(vsi("old")))
    confirmed_change(nc, persist="survives-sessions-not-reboots")
    agent_server.restart()
    client = agent_server.connect()
    assert names(client) == ["old"]
    assert names(client, "candidate") == ["old"]
    assert not (agent_server.state_dir / "confirmed-commit-rollback.xml").exists()


def test_a_confirmed_commit_that_was_confirmed_survives_a_restart(nc, agent_server):
    edit(nc, vsis(vsi("old")))
    confirmed_change(nc)
    nc.commit()
    agent_server.restart()
    assert names(agent_server.connect()) == ["old", "new"]
