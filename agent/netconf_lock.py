"""RFC 6241 7.5 lock and 7.6 unlock.

The lock table lives in :class:`agent.datastore.Datastores`; this module reads the request
and makes sure a session's locks die with it (RFC 6241 7.5: "a lock is released when the
session ends"), which also discards the candidate changes a candidate lock protected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from agent.datastore import CANDIDATE, RUNNING, STARTUP
from agent.netconf_edit import datastore_parameter, datastores
from agent.rpc import RpcContext, operation
from agent.xmlns import NC, qn

if TYPE_CHECKING:  # pragma: no cover
    from agent.server import Server
    from agent.session import Session

LOCKABLE = (RUNNING, CANDIDATE, STARTUP)


@operation(qn(NC, "lock"))
def lock(ctx: RpcContext, op: etree._Element) -> None:
    target = datastore_parameter(op, "target", LOCKABLE)
    assert isinstance(target, str)
    install_session_end_hook(ctx.server)
    datastores(ctx).lock(target, ctx.session.id)


@operation(qn(NC, "unlock"))
def unlock(ctx: RpcContext, op: etree._Element) -> None:
    target = datastore_parameter(op, "target", LOCKABLE)
    assert isinstance(target, str)
    datastores(ctx).unlock(target, ctx.session.id)


def release_session_locks(session: "Session") -> None:
    """Session-end hook: the ended session's locks go (and a locked candidate is discarded)."""
    session.server.datastores.release_session(session.id)


def install_session_end_hook(server: "Server") -> None:
    """Register :func:`release_session_locks` once per server (done on the first lock)."""
    if release_session_locks not in server.session_end_hooks:
        server.session_end_hooks.append(release_session_locks)
