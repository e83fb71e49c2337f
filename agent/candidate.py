"""RFC 6241 8.3 (:candidate) operations: commit, discard-changes, and cancel-commit (8.4).

Commit takes the confirmed-commit parameters of 8.4 too; the state machine for those is
:mod:`agent.confirmed_commit`.  Locks are honoured here: a commit writes running and reads
(and resets) the candidate, so another session's lock on either makes it fail with in-use.
"""

from __future__ import annotations

from lxml import etree

from agent.confirmed_commit import CommitParameters, confirmed_commits
from agent.datastore import CANDIDATE, RUNNING
from agent.netconf_edit import datastores
from agent.rpc import RpcContext, operation
from agent.xmlns import NC, qn


@operation(qn(NC, "commit"))
def commit(ctx: RpcContext, op: etree._Element) -> None:
    """RFC 6241 8.3.4.1 / 8.4.5.1: make the candidate the running configuration."""
    params = CommitParameters.parse(op)
    stores = datastores(ctx)
    stores.check_writable(RUNNING, ctx.session.id)
    stores.check_writable(CANDIDATE, ctx.session.id)
    confirmed_commits(ctx.server).commit(ctx.session.id, params)


@operation(qn(NC, "discard-changes"))
def discard_changes(ctx: RpcContext, op: etree._Element) -> None:
    """RFC 6241 8.3.4.2: the candidate becomes the running configuration again."""
    stores = datastores(ctx)
    stores.check_writable(CANDIDATE, ctx.session.id)
    stores.discard_changes()


@operation(qn(NC, "cancel-commit"))
def cancel_commit(ctx: RpcContext, op: etree._Element) -> None:
    """RFC 6241 8.4.4.1: roll back the pending confirmed commit before its timeout."""
    persist_id_el = op.find(qn(NC, "persist-id"))
    persist_id = None if persist_id_el is None else (persist_id_el.text or "")
    confirmed_commits(ctx.server).cancel(ctx.session.id, persist_id)
