"""RFC 6241 sessions, sans-I/O: hello exchange, `<rpc>` parsing, dispatch, `<rpc-reply>`.

A :class:`Session` is driven by its transport adapter (``agent.ssh_server``): the adapter
calls :meth:`Session.start` once the SSH channel is up, :meth:`Session.receive_data` with
every piece of bytes the client sent, and tells the server when the channel is gone.  The
session writes framed bytes and asks for the channel to close through the small
:class:`SessionTransport` interface, so the whole protocol logic runs in tests without a
socket.

Rules implemented here, each named after its RFC text:

* RFC 6241 8.1 - both peers send `<hello>` at once; the server's carries the session-id; a
  client hello without a base capability, or with a session-id, ends the session.
* RFC 6242 4.1 - base:1.1 (chunked framing) is used when both peers announce it.
* RFC 6241 3 / 4.1 - every message is parsed with a hardened parser (no DTD, no entities, no
  network, no huge trees); what cannot be parsed is answered with ``malformed-message``; an
  `<rpc>` without ``message-id`` with ``missing-attribute``; an unknown operation with
  ``operation-not-supported``.  The reply copies every attribute of the `<rpc>`.
* RFC 6022 - per-session counters for ietf-netconf-monitoring.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from lxml import etree

from agent import rpc as rpc_dispatch
from agent.errors import (
    ErrorTag,
    ErrorType,
    RpcError,
    RpcErrors,
    malformed_message,
    missing_element,
    operation_not_supported,
    reply_errors,
)
from agent.framing import Framer, Framing, FramingError, MessageTooBig
from agent.xmlns import NC, element_children, qn, split_qn

if TYPE_CHECKING:  # pragma: no cover
    from agent.server import Server

log = logging.getLogger(__name__)

BASE_1_0 = "urn:ietf:params:netconf:base:1.0"
BASE_1_1 = "urn:ietf:params:netconf:base:1.1"
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_RPC_REPLY = qn(NC, "rpc-reply")
_REPLY_NSMAP: dict[str | None, str] = {None: NC}


class SessionTransport(Protocol):
    """What a session needs from its channel."""

    def write(self, data: bytes) -> None:
        """Queue bytes for the client, in order."""

    def close(self) -> None:
        """Close the channel after the queued bytes are sent (idempotent)."""


class SessionState(Enum):
    HELLO_WAIT = "hello-wait"     # server hello sent, waiting for the client's
    ESTABLISHED = "established"
    CLOSED = "closed"


class EndReason(Enum):
    """Why a session ended; RFC 6022 counts only abnormal ends as dropped-sessions."""

    CLOSED = "close-session"
    KILLED = "kill-session"
    DROPPED = "dropped"           # transport closed, idle timeout, protocol violation


@dataclass
class SessionCounters:
    """RFC 6022 `/netconf-state/sessions/session` counters."""

    in_rpcs: int = 0
    in_bad_rpcs: int = 0
    out_rpc_errors: int = 0
    out_notifications: int = 0


def hardened_parser() -> etree.XMLParser:
    """An lxml parser that cannot be made to fetch, expand or balloon anything.

    DOCTYPEs are still parsed by libxml2 (there is no switch to forbid them) but never
    loaded or resolved; :func:`parse_message` rejects any message that has one.
    """
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_message(data: bytes, parser: etree.XMLParser) -> etree._Element:
    """Parse one NETCONF message; raise ``malformed-message`` for anything unacceptable."""
    if data[:1].isspace():
        data = data.lstrip()   # base:1.0 clients often put a newline after each ]]>]]>
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise malformed_message(f"the message is not well-formed XML: {exc}") from None
    if root is None:
        raise malformed_message("the message is empty")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise malformed_message("document type declarations and entities are not allowed in NETCONF messages")
    return root


@dataclass(eq=False)
class Session:
    """One NETCONF session.  Create with :meth:`agent.server.Server.open_session`.

    Compared and hashed by identity, so sessions can key dicts and sets.
    """

    server: "Server" = field(repr=False)
    id: int
    transport: SessionTransport = field(repr=False)
    username: str
    source_host: str
    login_time: datetime
    #: RFC 6022 transport identity: ``netconf-ssh``
    transport_name: str = "netconf-ssh"
    #: NACM groups of the user (RFC 8341 section 2.5), from the users file at login
    groups: tuple[str, ...] = ()
    counters: SessionCounters = field(default_factory=SessionCounters)
    state: SessionState = SessionState.HELLO_WAIT
    #: capabilities the client announced in its hello
    client_capabilities: tuple[str, ...] = ()
    end_reason: EndReason = EndReason.DROPPED

    def __post_init__(self) -> None:
        self.framer = Framer(self.server.config.max_message_size)
        self._parser = hardened_parser()
        self._close_after_reply = False
        #: the reply content of the current rpc when its handler gave it already serialised
        self._serialized_body: bytes | None = None

    # --- transport side ------------------------------------------------------------------

    def start(self) -> None:
        """Send the server `<hello>` (RFC 6241 8.1: at once, without waiting for the client)."""
        self._write(self._server_hello())

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client; every complete message is handled before returning."""
        if self.state is SessionState.CLOSED:
            return
        self.framer.receive_data(data)
        while self.state is not SessionState.CLOSED:
            try:
                message = self.framer.next_message()
            except FramingError as exc:
                self._framing_broken(exc)
                return
            if message is None:
                return
            if self.state is SessionState.HELLO_WAIT:
                self._handle_hello(message)
            else:
                self._handle_rpc_message(message)

    @property
    def established(self) -> bool:
        """True once the hello exchange succeeded (and until the session closes)."""
        return self.state is SessionState.ESTABLISHED

    @property
    def closed(self) -> bool:
        return self.state is SessionState.CLOSED

    @property
    def base_1_1(self) -> bool:
        """True once chunked framing (base:1.1) was negotiated."""
        return self.framer.framing is Framing.CHUNKED

    def close(self, reason: EndReason | None = None) -> None:
        """End the session: nothing more is read, and the channel closes once flushed."""
        if reason is not None and self.state is not SessionState.CLOSED:
            self.end_reason = reason
        if self.state is SessionState.CLOSED:
            return
        self.state = SessionState.CLOSED
        self.transport.close()

    def request_close(self) -> None:
        """close-session (RFC 6241 7.8): the `<ok/>` reply goes out first, then the channel closes."""
        self.end_reason = EndReason.CLOSED
        self._close_after_reply = True

    def send_notification(self, notification: etree._Element) -> None:
        """Send a `<notification>` (RFC 5277) in the session's framing."""
        if self.state is not SessionState.ESTABLISHED:
            return
        self.counters.out_notifications += 1
        self.server.statistics.out_notifications += 1
        self._send_element(notification)

    # --- hello (RFC 6241 8.1) ------------------------------------------------------------

    def _server_hello(self) -> bytes:
        hello = etree.Element(qn(NC, "hello"), nsmap={None: NC})
        caps = etree.SubElement(hello, qn(NC, "capabilities"))
        for uri in self.server.capabilities():
            etree.SubElement(caps, qn(NC, "capability")).text = uri
        etree.SubElement(hello, qn(NC, "session-id")).text = str(self.id)
        return self.framer.frame(_XML_DECLARATION + etree.tostring(hello, encoding="UTF-8"))

    def _handle_hello(self, message: bytes) -> None:
        try:
            capabilities = self._parse_client_hello(message)
        except RpcError as exc:
            log.info("session %d: bad hello from %s: %s", self.id, self.source_host, exc.message)
            self.server.statistics.in_bad_hellos += 1
            self.close(EndReason.DROPPED)
            return
        self.client_capabilities = capabilities
        if BASE_1_1 in capabilities:
            self.framer.switch_to_chunked()
        self.state = SessionState.ESTABLISHED
        self.server.statistics.in_sessions += 1
        log.info("session %d: %s from %s, %s", self.id, self.username, self.source_host,
                 "base:1.1" if self.base_1_1 else "base:1.0")
        self.server.session_established(self)

    def _parse_client_hello(self, message: bytes) -> tuple[str, ...]:
        root = parse_message(message, self._parser)
        if root.tag != qn(NC, "hello"):
            raise malformed_message(f"expected <hello>, got <{split_qn(root.tag)[1]}>")
        if root.find(qn(NC, "session-id")) is not None:
            raise malformed_message("a client hello must not contain a session-id (RFC 6241 8.1)")
        capabilities = tuple(
            (cap.text or "").strip() for cap in root.iterfind(f"{{{NC}}}capabilities/{{{NC}}}capability")
        )
        if BASE_1_0 not in capabilities and BASE_1_1 not in capabilities:
            raise malformed_message("the client hello announces no NETCONF base capability")
        return capabilities

    # --- rpc (RFC 6241 4.1) --------------------------------------------------------------

    def _handle_rpc_message(self, message: bytes) -> None:
        try:
            rpc = self._parse_rpc(message)
        except RpcError as exc:
            self.counters.in_bad_rpcs += 1
            self.server.statistics.in_bad_rpcs += 1
            self._send_reply(self._reply_shell(None), [exc])
            return
        if rpc.get("message-id") is None:
            self.counters.in_bad_rpcs += 1
            self.server.statistics.in_bad_rpcs += 1
            self._send_reply(self._reply_shell(rpc), [RpcError(
                ErrorTag.MISSING_ATTRIBUTE, "the <rpc> element has no message-id attribute",
                type=ErrorType.RPC, info=[("bad-attribute", "message-id"), ("bad-element", "rpc")],
            )])
            return
        self.counters.in_rpcs += 1
        self.server.statistics.in_rpcs += 1
        reply = self._reply_shell(rpc)
        self._send_reply(reply, self._dispatch(rpc, reply))
        if self._close_after_reply:
            self.close(EndReason.CLOSED)

    def _parse_rpc(self, message: bytes) -> etree._Element:
        root = parse_message(message, self._parser)
        if root.tag != qn(NC, "rpc"):
            ns, local = split_qn(root.tag)
            where = f" in namespace {ns!r}" if ns else " without a namespace"
            raise malformed_message(f"expected <rpc> in the NETCONF base namespace, got <{local}>{where}")
        return root

    def _dispatch(self, rpc: etree._Element, reply: etree._Element) -> list[RpcError]:
        """Run the operation; put its output into ``reply``; return the errors to add."""
        operations = element_children(rpc)
        if not operations:
            return [missing_element("operation", "the <rpc> contains no operation", type=ErrorType.RPC)]
        if len(operations) > 1:
            extra = split_qn(operations[1].tag)[1]
            return [RpcError(ErrorTag.UNKNOWN_ELEMENT, f"an <rpc> carries exactly one operation; "
                             f"unexpected <{extra}> after <{split_qn(operations[0].tag)[1]}>",
                             type=ErrorType.RPC, info=[("bad-element", extra)])]
        op = operations[0]
        handler = rpc_dispatch.lookup(op.tag)
        if handler is None:
            return [operation_not_supported(split_qn(op.tag)[1])]
        ctx = rpc_dispatch.RpcContext(server=self.server, session=self, rpc=rpc)
        self.server.current_session = self
        try:
            output = handler(ctx, op)
        except (RpcError, RpcErrors) as exc:
            return list(ctx.warnings) + reply_errors(exc)
        except Exception:   # a bug in a handler must not take the session down with it
            log.exception("session %d: operation %s failed", self.id, op.tag)
            return list(ctx.warnings) + [RpcError(
                ErrorTag.OPERATION_FAILED,
                f"internal error while running '{split_qn(op.tag)[1]}'; the agent log has details",
            )]
        finally:
            self.server.current_session = None
        if output is None:
            if not ctx.warnings:
                etree.SubElement(reply, qn(NC, "ok"))
        elif isinstance(output, list):
            reply.extend(output)
        elif isinstance(output, rpc_dispatch.SerializedReply):
            self._serialized_body = output.xml
        else:
            reply.append(output)
        return list(ctx.warnings)

    def _reply_shell(self, rpc: etree._Element | None) -> etree._Element:
        """An empty `<rpc-reply>` carrying every attribute of the `<rpc>` (RFC 6241 4.2)."""
        if rpc is None:
            return etree.Element(_RPC_REPLY, nsmap=_REPLY_NSMAP)
        nsmap = rpc.nsmap
        if any(ns != NC for ns in nsmap.values()):   # prefixes the copied attributes may use
            nsmap = {None: NC, **{p: ns for p, ns in nsmap.items() if p is not None and ns != NC}}
        else:
            nsmap = _REPLY_NSMAP
        reply = etree.Element(_RPC_REPLY, nsmap=nsmap)
        for name, value in rpc.items():
            reply.set(name, value)
        return reply

    def _send_reply(self, reply: etree._Element, errors: list[RpcError]) -> None:
        for error in errors:
            reply.append(error.to_element())
        if any(error.severity == "error" for error in errors):
            self.counters.out_rpc_errors += 1
            self.server.statistics.out_rpc_errors += 1
        elif errors and len(reply) == len(errors):
            # warnings only (RFC 6241 4.3: warnings go with <ok/> or the data)
            reply.append(etree.Element(qn(NC, "ok")))
        body, self._serialized_body = self._serialized_body, None
        if body is None:
            self._send_element(reply)
            return
        # the shell is `<rpc-reply xmlns=NC ...>` (default namespace, see _reply_shell): the
        # pre-serialised content goes in front of its closing tag
        shell = etree.tostring(reply, encoding="UTF-8")
        if shell.endswith(b"/>"):
            message = shell[:-2] + b">" + body + b"</rpc-reply>"
        else:
            end = shell.rindex(b"</")
            message = shell[:end] + body + shell[end:]
        self._write(self.framer.frame(_XML_DECLARATION + message))

    # --- framing failures (RFC 6242) -----------------------------------------------------

    def _framing_broken(self, exc: FramingError) -> None:
        """Answer once, without a message-id (none could be read), and close the session."""
        if isinstance(exc, MessageTooBig):
            error = RpcError(ErrorTag.TOO_BIG, str(exc), type=ErrorType.TRANSPORT)
        else:
            error = malformed_message(f"broken RFC 6242 framing: {exc}")
        log.info("session %d: %s; closing", self.id, exc)
        if self.state is SessionState.ESTABLISHED:
            self.counters.in_bad_rpcs += 1
            self.server.statistics.in_bad_rpcs += 1
            self._send_reply(self._reply_shell(None), [error])
        else:
            self.server.statistics.in_bad_hellos += 1
        self.close(EndReason.DROPPED)

    # --- output --------------------------------------------------------------------------

    def _send_element(self, element: etree._Element) -> None:
        self._write(self.framer.frame(_XML_DECLARATION + etree.tostring(element, encoding="UTF-8")))

    def _write(self, data: bytes) -> None:
        if self.state is not SessionState.CLOSED:
            self.transport.write(data)
