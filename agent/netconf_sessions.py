"""RFC 6241 7.8 close-session and 7.9 kill-session.

Ending a session is the server's job (`Server.session_ended` releases locks, rolls back an
unconfirmed commit and runs every other session-end hook); these handlers only check the
request and say which session ends.  close-session answers `<ok/>` first and then closes the
caller's channel; kill-session ends the *other* session at once and the caller stays.
"""

from __future__ import annotations

from lxml import etree

from agent.errors import ErrorTag, ErrorType, RpcError, missing_element
from agent.rpc import RpcContext, operation
from agent.xmlns import NC, element_children, qn


@operation(qn(NC, "close-session"))
def close_session(ctx: RpcContext, op: etree._Element) -> None:
    """RFC 6241 7.8: release the session's resources and close it gracefully after the reply."""
    ctx.session.request_close()


@operation(qn(NC, "kill-session"))
def kill_session(ctx: RpcContext, op: etree._Element) -> None:
    """RFC 6241 7.9: abort another session, releasing its locks and pending confirmed commit."""
    session_id = _session_id_parameter(op)
    if session_id == ctx.session.id:
        raise _bad_session_id("a session cannot kill itself; use <close-session>")
    if session_id not in ctx.server.sessions:
        raise _bad_session_id(f"there is no session {session_id}")
    ctx.server.kill_session(session_id)


def _session_id_parameter(op: etree._Element) -> int:
    children = element_children(op)
    for child in children:
        if child.tag != qn(NC, "session-id"):
            raise RpcError(ErrorTag.UNKNOWN_ELEMENT, f"unexpected parameter <{etree.QName(child).localname}> "
                           "in <kill-session>", type=ErrorType.PROTOCOL,
                           info=[("bad-element", etree.QName(child).localname)])
    if len(children) != 1:
        if not children:
            raise missing_element("session-id", "<kill-session> needs the <session-id> of the session to end")
        raise RpcError(ErrorTag.BAD_ELEMENT, "<kill-session> takes exactly one <session-id>",
                       type=ErrorType.PROTOCOL, info=[("bad-element", "session-id")])
    text = (children[0].text or "").strip()
    # session-id-type: uint32 1..max (RFC 6241 Appendix C)
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 0xFFFFFFFF:
        raise _bad_session_id(f"'{text}' is not a session-id (an integer from 1 to 4294967295)")
    return int(text)


def _bad_session_id(message: str) -> RpcError:
    return RpcError(ErrorTag.INVALID_VALUE, message, type=ErrorType.PROTOCOL,
                    info=[("bad-element", "session-id")])
