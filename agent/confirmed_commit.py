"""RFC 6241 8.4: the confirmed commit, version 1.1 (`:confirmed-commit:1.1`).

A `<commit><confirmed/></commit>` applies the candidate to running *provisionally*: unless a
confirming commit arrives within ``confirm-timeout`` seconds (default 600), running goes back
exactly to what it was before the first confirmed commit.  Without `<persist>` the pending
commit belongs to its session: only that session may extend or confirm it, and it is rolled
back when that session ends.  With `<persist>token</persist>` it outlives the session and any
session that presents `<persist-id>token</persist-id>` may confirm, extend or cancel it.

The rollback goes through :meth:`Datastores.restore_running`, so running is persisted and the
commit hooks (the dataplane) see the restoring change like any other.  The rollback point is
also saved to the state directory while the commit is pending: a server that restarts before
the confirming commit comes back with the old running (RFC 6241 8.4.1).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from agent.datastore import RUNNING, Datastores
from agent.errors import ErrorTag, ErrorType, RpcError, RpcErrors, in_use, missing_element, reply_errors
from agent.xmlns import NC, qn

if TYPE_CHECKING:  # pragma: no cover
    from agent.server import Server
    from agent.session import Session

log = logging.getLogger(__name__)

DEFAULT_CONFIRM_TIMEOUT = 600          # seconds, RFC 6241 8.4.5.1
MAX_CONFIRM_TIMEOUT = 0xFFFFFFFF        # uint32


@dataclass(frozen=True)
class CommitParameters:
    """The parameters of `<commit>` (RFC 6241 8.4.5.1)."""

    confirmed: bool = False
    confirm_timeout: int = DEFAULT_CONFIRM_TIMEOUT
    #: the token a persistent confirmed commit is identified by (`<persist>`)
    persist: str | None = None
    #: the token presented to confirm / extend a persistent confirmed commit (`<persist-id>`)
    persist_id: str | None = None

    @classmethod
    def parse(cls, op: etree._Element) -> "CommitParameters":
        confirmed = op.find(qn(NC, "confirmed")) is not None
        timeout_el = op.find(qn(NC, "confirm-timeout"))
        timeout = DEFAULT_CONFIRM_TIMEOUT
        if timeout_el is not None:
            text = (timeout_el.text or "").strip()
            if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_CONFIRM_TIMEOUT):
                raise RpcError(ErrorTag.INVALID_VALUE, f"confirm-timeout '{text}' is not a number of "
                               "seconds from 1 to 4294967295", type=ErrorType.PROTOCOL,
                               info=[("bad-element", "confirm-timeout")])
            timeout = int(text)
        persist_el = op.find(qn(NC, "persist"))
        persist_id_el = op.find(qn(NC, "persist-id"))
        params = cls(confirmed, timeout,
                     None if persist_el is None else (persist_el.text or ""),
                     None if persist_id_el is None else (persist_id_el.text or ""))
        if not confirmed:
            for given, name in ((timeout_el is not None, "confirm-timeout"), (persist_el is not None, "persist")):
                if given:
                    raise RpcError(ErrorTag.INVALID_VALUE, f"<{name}> is only meaningful with <confirmed/>",
                                   type=ErrorType.PROTOCOL, info=[("bad-element", name)])
        return params


@dataclass
class PendingConfirmedCommit:
    """A confirmed commit waiting for its confirming commit."""

    #: running as it was before the first confirmed commit: what a rollback restores
    rollback_to: etree._Element
    #: the session that issued it (0 once that session ended, for persistent ones)
    session_id: int
    persist: str | None
    timer: asyncio.TimerHandle | None = None

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class ConfirmedCommits:
    """The confirmed-commit state machine of one server (at most one pending commit)."""

    def __init__(self, server: "Server") -> None:
        self.server = server
        self.pending: PendingConfirmedCommit | None = None

    @property
    def datastores(self) -> Datastores:
        return self.server.datastores

    # ----- commit -----------------------------------------------------------------------

    def commit(self, session_id: int, params: CommitParameters) -> None:
        """`<commit>` in every form: plain, confirmed, follow-up confirmed, confirming."""
        pending = self.pending
        if pending is None:
            if params.persist_id is not None:
                raise _persist_id_error("no persistent confirmed commit is pending")
            if not params.confirmed:
                self.datastores.commit()
                return
            snapshot = self.datastores.copy_of(RUNNING)
            # saved first: a crash right after the commit must still come back to the old running
            self.datastores.save_rollback_point(snapshot)
            try:
                self.datastores.commit()
            except BaseException:
                self.datastores.drop_rollback_point()
                raise
            self.pending = PendingConfirmedCommit(snapshot, session_id, params.persist)
            self._arm(params.confirm_timeout)
            self._report("start", self.server.sessions.get(session_id), params.confirm_timeout)
            return
        self._check_may_act(pending, session_id, params.persist_id, "confirm or extend")
        self.datastores.commit()
        if params.confirmed:                      # follow-up confirmed commit: extend
            pending.persist = params.persist if params.persist is not None else pending.persist
            pending.session_id = session_id
            self._arm(params.confirm_timeout)
            self._report("extend", self.server.sessions.get(session_id), params.confirm_timeout)
        else:                                     # confirming commit
            pending.cancel_timer()
            self.pending = None
            self.datastores.drop_rollback_point()
            self._report("complete", self.server.sessions.get(session_id))

    def cancel(self, session_id: int, persist_id: str | None) -> None:
        """RFC 6241 8.4.4.1 `<cancel-commit>`: roll back the pending confirmed commit now."""
        pending = self.pending
        if pending is None:
            raise RpcError(ErrorTag.OPERATION_FAILED, "no confirmed commit is pending",
                           type=ErrorType.PROTOCOL)
        self._check_may_act(pending, session_id, persist_id, "cancel")
        self.rollback("cancel-commit")
        self._report("cancel", self.server.sessions.get(session_id))

    def _check_may_act(self, pending: PendingConfirmedCommit, session_id: int, persist_id: str | None,
                       what: str) -> None:
        if pending.persist is not None:
            if persist_id is None:
                raise missing_element("persist-id", f"a persistent confirmed commit is pending; "
                                      f"give its <persist-id> to {what} it")
            if persist_id != pending.persist:
                raise _persist_id_error(f"persist-id '{persist_id}' does not match the pending "
                                        "confirmed commit")
            return
        if persist_id is not None:
            raise _persist_id_error("the pending confirmed commit is not persistent; it has no persist-id")
        if session_id != pending.session_id:
            raise in_use(RUNNING, pending.session_id,
                         f"a confirmed commit of that session is pending; only it can {what} it")

    def _arm(self, timeout: int) -> None:
        assert self.pending is not None
        self.pending.cancel_timer()
        loop = self.server.loop
        if loop is None:
            raise RpcError(ErrorTag.OPERATION_FAILED, "the server has no event loop to time the "
                           "confirmed commit")
        self.pending.timer = loop.call_later(timeout, self._timed_out, self.pending)

    # ----- rollback ---------------------------------------------------------------------

    def _timed_out(self, pending: PendingConfirmedCommit) -> None:
        if self.pending is pending:
            self.rollback("confirm-timeout expired")
            self._report("timeout", None)

    def session_ended(self, session: "Session") -> None:
        """Session-end hook: a non-persistent confirmed commit dies with its session."""
        pending = self.pending
        if pending is not None and pending.persist is None and pending.session_id == session.id:
            # the server rolls back, also when another session's kill-session ended this one:
            # RFC 6470 changed-by names the server, not the session whose rpc is running
            acting, self.server.current_session = self.server.current_session, None
            try:
                self.rollback(f"session {session.id} ended before confirming")
            finally:
                self.server.current_session = acting
            self._report("cancel", session)

    def _report(self, event: str, session: "Session | None", timeout: int | None = None) -> None:
        """RFC 6470 netconf-confirmed-commit, when the server sends notifications."""
        notifications = getattr(self.server, "notifications", None)
        if notifications is not None:
            notifications.sources.confirmed_commit_event(event, session, timeout)

    def rollback(self, reason: str) -> None:
        """Running becomes exactly what it was before the first confirmed commit."""
        pending = self.pending
        assert pending is not None
        pending.cancel_timer()
        self.pending = None
        log.warning("confirmed commit rolled back (%s)", reason)
        try:
            self.datastores.restore_running(pending.rollback_to)
            self.datastores.drop_rollback_point()
        except (RpcError, RpcErrors) as exc:
            log.error("rollback of the confirmed commit was refused: %s",
                      "; ".join(e.message for e in reply_errors(exc)))
            raise


def confirmed_commits(server: "Server") -> ConfirmedCommits:
    """The server's confirmed-commit state, created (and its session hook installed) once."""
    state = server.datastores.confirmed_commits
    if state is None:
        state = server.datastores.confirmed_commits = ConfirmedCommits(server)
        server.session_end_hooks.append(state.session_ended)
    assert isinstance(state, ConfirmedCommits)
    return state


def _persist_id_error(message: str) -> RpcError:
    return RpcError(ErrorTag.INVALID_VALUE, message, type=ErrorType.PROTOCOL,
                    info=[("bad-element", "persist-id")])
