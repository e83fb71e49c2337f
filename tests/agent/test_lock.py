"""RFC 6241 7.5 lock / 7.6 unlock and 8.3.5.1 (the candidate lock), over real SSH."""

from __future__ import annotations

from tests.agent.test_edit_config import edit, one_error, running, snapshot, vsi, vsis

from agent.xmlns import VL2MC


def session_id(nc) -> str:
    return str(nc.session_id)


def test_lock_held_by_another_session_is_lock_denied_with_its_session_id(nc_factory):
    first, second = nc_factory(), nc_factory()
    first.lock("running")
    error = one_error(lambda: second.lock("running"))
    assert (error["type"], error["tag"]) == ("protocol", "lock-denied")
    assert error["info"] == {"session-id": session_id(first)}


def test_locking_twice_from_the_same_session_is_lock_denied(nc):
    nc.lock("candidate")
    error = one_error(lambda: nc.lock("candidate"))
    assert error["tag"] == "lock-denied"
    assert error["info"] == {"session-id": session_id(nc)}


def test_each_datastore_has_its_own_lock(nc_factory):
    first, second = nc_factory(), nc_factory()
    first.lock("running")
    second.lock("candidate")
    second.lock("startup")


def test_edit_of_a_datastore_locked_by_another_session_is_in_use(nc_factory):
    holder, other = nc_factory(), nc_factory()
    holder.lock("running")
    before = snapshot(holder)
    error = one_error(lambda: edit(other, vsis(vsi("a"))))
    assert (error["type"], error["tag"]) == ("protocol", "in-use")
    assert error["info"] == {"session-id": session_id(holder)}
    assert snapshot(holder) == before


def test_the_lock_holder_can_edit(nc):
    nc.lock("running")
    edit(nc, vsis(vsi("a")))
    assert running(nc).xpath("//v:vsi/v:name/text()", namespaces={"v": VL2MC}) == ["a"]


def test_copy_config_to_a_datastore_locked_by_another_session_is_in_use(nc_factory):
    holder, other = nc_factory(), nc_factory()
    holder.lock("startup")
    error = one_error(lambda: other.copy_config(source="running", target="startup"))
    assert error["tag"] == "in-use"


def test_commit_while_another_session_locks_running_is_in_use(nc_factory):
    holder, other = nc_factory(), nc_factory()
    edit(other, vsis(vsi("a")), target="candidate")
    holder.lock("running")
    before = snapshot(holder)
    error = one_error(lambda: other.commit())
    assert error["tag"] == "in-use"
    assert snapshot(holder) == before


def test_unlock_of_a_lock_held_by_another_session_fails(nc_factory):
    holder, other = nc_factory(), nc_factory()
    holder.lock("running")
    error = one_error(lambda: other.unlock("running"))
    assert (error["type"], error["tag"]) == ("protocol", "operation-failed")
    assert error["info"] == {"session-id": session_id(holder)}


def test_unlock_of_an_unlocked_datastore_fails(nc):
    error = one_error(lambda: nc.unlock("running"))
    assert error["tag"] == "operation-failed"
    assert "session-id" not in error["info"]   # 0 would claim a non-NETCONF lock holder


def test_unlock_lets_another_session_lock(nc_factory):
    first, second = nc_factory(), nc_factory()
    first.lock("running")
    first.unlock("running")
    second.lock("running")


def test_locks_are_released_when_the_session_closes(nc_factory, agent_server):
    first, second = nc_factory(), nc_factory()
    first.lock("running")
    first.close_session()
    assert agent_server.wait_until(lambda server: server.datastores.holder("running") is None)
    second.lock("running")


def test_locks_are_released_when_the_session_is_killed(nc_factory):
    victim, killer = nc_factory(), nc_factory()
    victim.lock("running")
    killer.kill_session(victim.session_id)
    killer.lock("running")


def test_candidate_cannot_be_locked_while_another_session_has_uncommitted_changes(nc_factory):
    editor, locker = nc_factory(), nc_factory()
    edit(editor, vsis(vsi("a")), target="candidate")
    error = one_error(lambda: locker.lock("candidate"))
    assert error["tag"] == "lock-denied"
    assert error["info"] == {"session-id": session_id(editor)}


def test_candidate_can_be_locked_again_once_changes_are_discarded(nc_factory):
    editor, locker = nc_factory(), nc_factory()
    edit(editor, vsis(vsi("a")), target="candidate")
    editor.discard_changes()
    locker.lock("candidate")


def test_unlocking_the_candidate_discards_its_uncommitted_changes(nc):
    nc.lock("candidate")
    edit(nc, vsis(vsi("a")), target="candidate")
    nc.unlock("candidate")
    assert running(nc, "candidate").xpath("//v:vsi", namespaces={"v": VL2MC}) == []


def test_session_end_discards_the_changes_its_candidate_lock_protected(nc_factory, agent_server):
    holder, other = nc_factory(), nc_factory()
    holder.lock("candidate")
    edit(holder, vsis(vsi("a")), target="candidate")
    holder.close_session()
    assert agent_server.wait_until(lambda server: server.datastores.holder("candidate") is None)
    assert running(other, "candidate").xpath("//v:vsi", namespaces={"v": VL2MC}) == []
    other.lock("candidate")


def test_lock_of_an_unknown_datastore_is_refused(nc):
    from lxml import etree

    from agent.xmlns import NC
    request = etree.fromstring(f'<lock xmlns="{NC}"><target><scratch/></target></lock>')
    error = one_error(lambda: nc.dispatch(request))
    assert (error["type"], error["tag"]) == ("protocol", "invalid-value")
    assert error["info"] == {"bad-element": "scratch"}

