"""The RPC dispatch table: operation modules register their handlers here.

A handler is a plain function ``handler(ctx, op) -> reply`` where ``op`` is the element of
the operation inside `<rpc>` (e.g. the `<edit-config>` element) and the reply is:

* ``None``: the reply is `<ok/>`;
* one element or a list of elements: they become the children of `<rpc-reply>` (e.g. a
  `<data>` element);
* a :class:`SerializedReply`: those bytes become the children of `<rpc-reply>`;
* raising :class:`agent.errors.RpcError` / :class:`agent.errors.RpcErrors`: the reply is
  those `<rpc-error>` elements (together with any ``ctx.warnings``).

Handlers are synchronous on purpose: every operation is CPU work on in-memory trees, and
running them one at a time on the event loop gives NETCONF's per-datastore atomicity for
free.  Anything that must happen later (confirmed-commit timeout) uses ``ctx.server.loop``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lxml import etree

if TYPE_CHECKING:  # pragma: no cover
    from agent.server import Server
    from agent.session import Session

@dataclass(frozen=True)
class SerializedReply:
    """Reply content already serialised: the bytes of the `<rpc-reply>`'s children.

    For replies the agent keeps ready as bytes (the explicit form of running, which the
    datastore maintains entry by entry for its saved file): parsing them back into elements
    only to serialise them again would cost more than the whole request.
    """

    xml: bytes


Reply = etree._Element | list[etree._Element] | SerializedReply | None


@dataclass
class RpcContext:
    """What a handler may use: the server (schema, datastores, sessions) and the calling session."""

    server: "Server"
    session: "Session"
    #: the `<rpc>` element itself (attributes such as message-id live here)
    rpc: etree._Element
    #: rpc-errors with error-severity "warning" to add to a successful reply
    warnings: list[Any] = field(default_factory=list)


Handler = Callable[[RpcContext, etree._Element], Reply]

_HANDLERS: dict[str, Handler] = {}


def operation(tag: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` for the operation element ``tag`` (Clark notation)."""

    def register(handler: Handler) -> Handler:
        if tag in _HANDLERS and _HANDLERS[tag] is not handler:
            raise RuntimeError(f"two handlers registered for {tag}")
        _HANDLERS[tag] = handler
        return handler

    return register


def lookup(tag: str) -> Handler | None:
    """The handler for an operation element tag, or None if nothing registered it."""
    return _HANDLERS.get(tag)


def registered() -> frozenset[str]:
    return frozenset(_HANDLERS)
