"""RFC 6022 ietf-netconf-monitoring: `/netconf-state` and the `<get-schema>` operation.

`/netconf-state` is state built on demand from the live server: the capabilities of the
hello, the configuration datastores with their global locks, the schemas (every module the
schema compiler loaded, each retrievable with `<get-schema>` at location ``NETCONF``), the
sessions with their counters, and the server-wide statistics.  It is registered as built-in
state with :mod:`agent.netconf_get`, so `<get>` and `<get-data>` of `<operational>` include
it, filtered like anything else.

`<get-schema>` serves the exact text of the module file the agent compiled, so what a client
downloads is what the server runs.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from lxml import etree

from agent.errors import AppTag, ErrorTag, ErrorType, RpcError, missing_element
from agent.netconf_get import check_parameters, register_builtin_state
from agent.rpc import RpcContext, operation
from agent.schema import ModuleInfo
from agent.xmlns import MONITORING, qn

if TYPE_CHECKING:  # pragma: no cover
    from agent.server import Server

Element = etree._Element

NETCONF_STATE_TAG = qn(MONITORING, "netconf-state")
#: The configuration datastores RFC 6022 can name (its netconf-datastore-type).
CONVENTIONAL_DATASTORES = ("running", "candidate", "startup")
#: `schema-format` identities we can serve (RFC 6022 section 2.1.3).
SERVED_FORMATS = frozenset({"yang"})


def _leaf(parent: Element, name: str, text: object) -> Element:
    el = etree.SubElement(parent, qn(MONITORING, name))
    el.text = str(text)
    return el


def _identity(parent: Element, name: str, identity: str) -> None:
    """An identityref leaf of this module's own identities, written without a prefix.

    RFC 7950 9.10.3: an unprefixed identityref value is in the default namespace of its
    element, which for these leaves is always ietf-netconf-monitoring's.  A prefixed value
    would need an ``ncm`` declaration that lxml drops from copies as redundant with the
    default namespace, leaving the prefix unbound on the wire.
    """
    _leaf(parent, name, identity)


def date_and_time(moment: datetime) -> str:
    """yang:date-and-time in UTC with a ``Z`` (RFC 6991)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@register_builtin_state(NETCONF_STATE_TAG)
def netconf_state(server: "Server") -> Element:
    """The whole `/netconf-state` container for this moment."""
    state = etree.Element(NETCONF_STATE_TAG, nsmap={None: MONITORING})
    capabilities = etree.SubElement(state, qn(MONITORING, "capabilities"))
    for uri in server.capabilities():
        _leaf(capabilities, "capability", uri)
    _datastores(etree.SubElement(state, qn(MONITORING, "datastores")), server)
    _schemas(etree.SubElement(state, qn(MONITORING, "schemas")), server.schema.modules.values())
    _sessions(etree.SubElement(state, qn(MONITORING, "sessions")), server)
    _statistics(etree.SubElement(state, qn(MONITORING, "statistics")), server)
    return state


def _datastores(parent: Element, server: "Server") -> None:
    for name in CONVENTIONAL_DATASTORES:
        store = server.datastores.get(name)
        entry = etree.SubElement(parent, qn(MONITORING, "datastore"))
        _leaf(entry, "name", name)
        holder = store.lock_holder
        if holder is None:
            continue
        locked_time = store.locked_time or server.statistics.netconf_start_time  # set by every lock()
        lock = etree.SubElement(etree.SubElement(entry, qn(MONITORING, "locks")), qn(MONITORING, "global-lock"))
        _leaf(lock, "locked-by-session", holder)
        _leaf(lock, "locked-time", date_and_time(locked_time))


def _schemas(parent: Element, modules: object) -> None:
    for module in sorted(modules, key=lambda m: m.name):  # type: ignore[attr-defined]
        entry = etree.SubElement(parent, qn(MONITORING, "schema"))
        _leaf(entry, "identifier", module.name)
        _leaf(entry, "version", module.revision or "")
        _identity(entry, "format", "yang")
        _leaf(entry, "namespace", module.namespace)
        _leaf(entry, "location", "NETCONF")


def _sessions(parent: Element, server: "Server") -> None:
    for session_id in sorted(server.sessions):
        session = server.sessions[session_id]
        entry = etree.SubElement(parent, qn(MONITORING, "session"))
        _leaf(entry, "session-id", session.id)
        _identity(entry, "transport", session.transport_name)
        _leaf(entry, "username", session.username)
        if session.source_host:
            _leaf(entry, "source-host", session.source_host)
        _leaf(entry, "login-time", date_and_time(session.login_time))
        counters = session.counters
        _leaf(entry, "in-rpcs", counters.in_rpcs)
        _leaf(entry, "in-bad-rpcs", counters.in_bad_rpcs)
        _leaf(entry, "out-rpc-errors", counters.out_rpc_errors)
        _leaf(entry, "out-notifications", counters.out_notifications)


def _statistics(parent: Element, server: "Server") -> None:
    stats = server.statistics
    _leaf(parent, "netconf-start-time", date_and_time(stats.netconf_start_time))
    for name in ("in-bad-hellos", "in-sessions", "dropped-sessions", "in-rpcs", "in-bad-rpcs",
                 "out-rpc-errors", "out-notifications"):
        _leaf(parent, name, getattr(stats, name.replace("-", "_")))


# --- get-schema (RFC 6022 section 3.1) ---------------------------------------------------------

@operation(qn(MONITORING, "get-schema"))
def get_schema(ctx: RpcContext, op: Element) -> Element:
    """Return the text of one module the server implements or imports."""
    check_parameters(op, {qn(MONITORING, n) for n in ("identifier", "version", "format")})
    identifier = _text(op, "identifier")
    if identifier is None:
        raise missing_element("identifier", "<get-schema> needs the <identifier> (module name) to return")
    version = _text(op, "version")
    _check_format(op)
    module = find_schema(ctx.server.schema.modules.values(), identifier, version)
    data = etree.Element(qn(MONITORING, "data"), nsmap={None: MONITORING})
    data.text = module.path.read_text(encoding="utf-8")
    return data


def find_schema(modules: object, identifier: str, version: str | None) -> ModuleInfo:
    """The one module matching identifier (and version when given), or the RFC 6022 error."""
    named = [m for m in modules if m.name == identifier]  # type: ignore[attr-defined]
    if not named:
        raise RpcError(ErrorTag.INVALID_VALUE, f"no schema '{identifier}' on this server; "
                       "/netconf-state/schemas lists the available ones", type=ErrorType.APPLICATION,
                       info=[("bad-element", "identifier")])
    matching = [m for m in named if version is None or (m.revision or "") == version]
    if not matching:
        have = ", ".join(sorted(m.revision or "(none)" for m in named))
        raise RpcError(ErrorTag.INVALID_VALUE, f"schema '{identifier}' has no version '{version}' "
                       f"(available: {have})", type=ErrorType.APPLICATION, info=[("bad-element", "version")])
    if len(matching) > 1:
        raise RpcError(ErrorTag.OPERATION_FAILED, f"more than one version of '{identifier}' exists; "
                       "give <version>", type=ErrorType.APPLICATION, app_tag=AppTag.DATA_NOT_UNIQUE)
    return matching[0]


def _text(op: Element, name: str) -> str | None:
    el = op.find(qn(MONITORING, name))
    return None if el is None else (el.text or "").strip()


def _check_format(op: Element) -> None:
    el = op.find(qn(MONITORING, "format"))
    if el is None:
        return
    text = (el.text or "").strip()
    prefix, _, local = text.rpartition(":")
    namespace = el.nsmap.get(prefix or None)
    # A bare "yang" is what ncclient and most tools send, whatever the default namespace.
    if local in SERVED_FORMATS and (namespace == MONITORING or not prefix):
        return
    shown = f"{local} ({namespace})" if namespace and namespace != MONITORING else text
    raise RpcError(ErrorTag.INVALID_VALUE, f"schema format '{shown}' is not available; this server "
                   "serves 'yang' (ncm:yang)", type=ErrorType.APPLICATION, info=[("bad-element", "format")])

