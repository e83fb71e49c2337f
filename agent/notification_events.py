"""What the agent has to tell its subscribers: the contents of its notifications.

Two sources feed the NETCONF stream (:mod:`agent.notifications`), each turned into the YANG
notification its module defines, and nothing else:

* RFC 6470 (`ietf-netconf-notifications`), the server's own life: ``netconf-session-start``
  when a hello exchange completes, ``netconf-session-end`` with the termination reason (and
  ``killed-by``), ``netconf-config-change`` after running changed, with who changed it and an
  ``edit`` per changed node, and ``netconf-confirmed-commit`` for the confirmed-commit
  procedure;
* the dataplane (`vsi-l2-multicast`): ``pw-switchover`` from
  :class:`dataplane.events.PwSwitchover` and ``group-limit-exceeded`` from
  :class:`dataplane.events.GroupLimitExceeded`.  Core times are seconds of the core's clock;
  the driver's ``epoch`` makes them wall-clock times.

The builders here only build elements; :class:`EventSources` hooks them to the server
(session hooks, commit listeners, dataplane listeners) and hands each body to ``publish``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from lxml import etree

from agent.schema import Schema
from agent.session import EndReason, Session
from agent.validate import Change
from agent.xmlns import NC_NOTIFICATIONS, VL2MC, qn
from agent.yang_types import instance_path
from dataplane.events import Event, GroupLimitExceeded, PwSwitchover

if TYPE_CHECKING:  # pragma: no cover
    from agent.dataplane_driver import Dataplane
    from agent.server import Server

Element = etree._Element
#: ``publish(body, event_time)``: what :class:`agent.notifications.NotificationStream` offers
Publish = Callable[[Element, datetime | None], None]

#: RFC 6470 termination-reason for each way a session can end (`agent.session.EndReason`).
#: "timeout" and "bad-hello" are not told apart from "dropped" by the session layer.
TERMINATION_REASONS: dict[EndReason, str] = {
    EndReason.CLOSED: "closed",
    EndReason.KILLED: "killed",
    EndReason.DROPPED: "dropped",
}

#: RFC 6470 edit operation (ietf-netconf edit-operation-type) for each kind of datastore
#: change: what happened to the node, whatever operation the client wrote.
EDIT_OPERATIONS: dict[str, str] = {"create": "create", "delete": "delete", "modify": "replace"}

#: RFC 6470 confirm-event values.
CONFIRM_EVENTS = frozenset({"start", "cancel", "timeout", "extend", "complete"})


def date_and_time(moment: datetime) -> str:
    """yang:date-and-time in UTC with microseconds (RFC 3339): the form of every eventTime
    and time leaf, precise enough to order a switchover against the frames around it."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _leaf(parent: Element, ns: str, name: str, value: object) -> Element:
    el = etree.SubElement(parent, qn(ns, name))
    el.text = str(value)
    return el


def _ncn(name: str) -> Element:
    return etree.Element(qn(NC_NOTIFICATIONS, name), nsmap={None: NC_NOTIFICATIONS})


# --- RFC 6470 ---------------------------------------------------------------------------------

def _session_parameters(parent: Element, session: Session) -> None:
    """RFC 6470 common-session-parms: username, session-id, source-host (an IP address only)."""
    _leaf(parent, NC_NOTIFICATIONS, "username", session.username)
    _leaf(parent, NC_NOTIFICATIONS, "session-id", session.id)
    if _is_ip_address(session.source_host):
        _leaf(parent, NC_NOTIFICATIONS, "source-host", session.source_host)


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def session_start(session: Session) -> Element:
    """RFC 6470 netconf-session-start."""
    body = _ncn("netconf-session-start")
    _session_parameters(body, session)
    return body


def session_end(session: Session, killed_by: int | None = None) -> Element:
    """RFC 6470 netconf-session-end; ``killed_by`` is the session that ran kill-session."""
    body = _ncn("netconf-session-end")
    _session_parameters(body, session)
    reason = TERMINATION_REASONS[session.end_reason]
    if reason == "killed" and killed_by is not None:
        _leaf(body, NC_NOTIFICATIONS, "killed-by", killed_by)
    _leaf(body, NC_NOTIFICATIONS, "termination-reason", reason)
    return body


def _changed_by(parent: Element, session: Session | None) -> None:
    """RFC 6470 changed-by: the session, or `<server/>` when the server acted on its own."""
    changed_by = etree.SubElement(parent, qn(NC_NOTIFICATIONS, "changed-by"))
    if session is None:
        etree.SubElement(changed_by, qn(NC_NOTIFICATIONS, "server"))
    else:
        _session_parameters(changed_by, session)


def config_change(changes: Iterable[Change], schema: Schema, session: Session | None,
                  datastore: str = "running") -> Element:
    """RFC 6470 netconf-config-change: one ``edit`` per changed node (the topmost of a created
    or deleted subtree stands for its descendants)."""
    body = _ncn("netconf-config-change")
    _changed_by(body, session)
    _leaf(body, NC_NOTIFICATIONS, "datastore", datastore)
    for (path, nsmap), operation in net_edits(topmost_changes(list(changes)), schema):
        edit = etree.SubElement(body, qn(NC_NOTIFICATIONS, "edit"))
        target = etree.SubElement(edit, qn(NC_NOTIFICATIONS, "target"), nsmap=nsmap)
        target.text = path
        _leaf(edit, NC_NOTIFICATIONS, "operation", operation)
    return body


def net_edits(changes: list[Change], schema: Schema) -> list[tuple[tuple[str, dict[str, str]], str]]:
    """(target, operation) per changed node, net: a node deleted and created again in one
    batch (how a commit replays the touched subtrees into the old running) is one
    ``replace``, or nothing when it came back the same."""
    edits: dict[str, tuple[tuple[str, dict[str, str]], str, Change]] = {}
    for change in changes:
        target = edit_target(change, schema)
        previous = edits.get(target[0])
        if previous is not None and previous[2].op == "delete" and change.op == "create":
            if _same_subtree(previous[2].old_element, change.element):
                del edits[target[0]]
            else:
                edits[target[0]] = (target, "replace", change)
            continue
        edits[target[0]] = (target, EDIT_OPERATIONS[change.op], change)
    return [(target, operation) for target, operation, _ in edits.values()]


def _same_subtree(a: Element | None, b: Element | None) -> bool:
    """Equal data: tags, texts and children in order (attributes are bookkeeping marks)."""
    if a is None or b is None:
        return False
    if a.tag != b.tag or (a.text or "").strip() != (b.text or "").strip() or len(a) != len(b):
        return False
    return all(_same_subtree(x, y) for x, y in zip(a, b))


def topmost_changes(changes: list[Change]) -> list[Change]:
    """The changes not inside a subtree another change of the batch created or deleted."""
    created = {id(c.element) for c in changes if c.op == "create" and c.element is not None}
    deleted = {id(c.old_element) for c in changes if c.op == "delete" and c.old_element is not None}
    kept = []
    for change in changes:
        start = change.element.getparent() if change.element is not None else change.parent
        if not any(id(node) in created or id(node) in deleted for node in _self_and_ancestors(start)):
            kept.append(change)
    return kept


def _self_and_ancestors(node: Element | None) -> Iterable[Element]:
    while node is not None:
        yield node
        node = node.getparent()


def edit_target(change: Change, schema: Schema) -> tuple[str, dict[str, str]]:
    """The instance identifier of the changed node, and the prefixes it uses.

    A deleted node is no longer in the tree: its path is its parent's plus its own step,
    with the keys (or leaf-list value) it had.
    """
    if change.element is not None:
        return instance_path(change.element, schema)
    if change.parent.getparent() is None:       # a top-level node: its parent is the datastore
        base, nsmap = "", {}
    else:
        base, nsmap = instance_path(change.parent, schema)
    node = change.schema
    prefix = _prefix(node.namespace, schema, nsmap)
    step = f"{base}/{prefix}:{node.name}"
    if node.keyword == "leaf-list" and change.old is not None:
        return step + f"[.={_quote(change.old)}]", nsmap
    if node.keyword == "list" and change.old_element is not None:
        for key in node.keys:
            value = change.old_element.findtext(qn(node.namespace, key)) or ""
            step += f"[{prefix}:{key}={_quote(value)}]"
    return step, nsmap


def _prefix(namespace: str, schema: Schema, nsmap: dict[str, str]) -> str:
    prefix = schema.namespaces[namespace][1]
    nsmap[prefix] = namespace
    return prefix


def _quote(value: str) -> str:
    return f"'{value}'" if "'" not in value else f'"{value}"'


def confirmed_commit(event: str, session: Session | None, timeout: int | None = None) -> Element:
    """RFC 6470 netconf-confirmed-commit.  The session parameters are absent for "timeout"
    (the server rolled back on its own); ``timeout`` goes with "start" and "extend"."""
    if event not in CONFIRM_EVENTS:
        raise ValueError(f"unknown confirm-event {event!r}")
    body = _ncn("netconf-confirmed-commit")
    if event != "timeout" and session is not None:
        _session_parameters(body, session)
    _leaf(body, NC_NOTIFICATIONS, "confirm-event", event)
    if event in ("start", "extend") and timeout is not None:
        _leaf(body, NC_NOTIFICATIONS, "timeout", timeout)
    return body


# --- the dataplane (vsi-l2-multicast) ----------------------------------------------------------

PwInterface = Callable[[str, tuple[str, int]], str | None]


def pw_switchover(event: PwSwitchover, when: datetime, interface_of: PwInterface | None = None) -> Element:
    """vsi-l2-multicast pw-switchover: ``interface_of(vsi, pw key)`` names the PWs' ports."""
    body = etree.Element(qn(VL2MC, "pw-switchover"), nsmap={None: VL2MC})
    _leaf(body, VL2MC, "vsi", event.vsi)
    for name, pw in (("from-pw", event.from_pw), ("to-pw", event.to_pw)):
        ref = etree.SubElement(body, qn(VL2MC, name))
        if pw:                                   # "empty if none was" (the module's words)
            _leaf(ref, VL2MC, "peer-address", pw[0])
            _leaf(ref, VL2MC, "vc-id", pw[1])
            interface = interface_of(event.vsi, pw) if interface_of is not None else None
            if interface is not None:
                _leaf(ref, VL2MC, "interface", interface)
    _leaf(body, VL2MC, "preinstalled-groups", event.preinstalled_groups)
    _leaf(body, VL2MC, "time", date_and_time(when))
    return body


def group_limit_exceeded(event: GroupLimitExceeded) -> Element:
    """vsi-l2-multicast group-limit-exceeded, with the group of the refused report when the
    core knows it."""
    body = etree.Element(qn(VL2MC, "group-limit-exceeded"), nsmap={None: VL2MC})
    _leaf(body, VL2MC, "vsi", event.vsi)
    _leaf(body, VL2MC, "limit", event.limit)
    if event.group is not None:
        _leaf(body, VL2MC, "group-address", event.group)
    return body


# --- wiring -----------------------------------------------------------------------------------

class EventSources:
    """Hooks the builders above to one server; every body goes to ``publish``."""

    def __init__(self, server: "Server", publish: Publish) -> None:
        self.server = server
        self.publish = publish
        #: sessions whose netconf-session-start was sent: only they get a session-end (a
        #: client that never completed its hello never had a session to end)
        self._started: set[int] = set()

    def install(self) -> None:
        self.server.session_start_hooks.append(self.session_started)
        self.server.session_end_hooks.append(self.session_ended)
        self.server.datastores.commit_listeners.append(self.running_changed)
        self.server.datastores.startup_listeners.append(self.datastore_changed)
        dataplane = getattr(self.server, "dataplane", None)
        if dataplane is not None:
            dataplane.listeners.append(self.dataplane_events)

    # -- RFC 6470 ---------------------------------------------------------------------------

    def session_started(self, session: Session) -> None:
        self._started.add(session.id)
        self.publish(session_start(session), None)

    def session_ended(self, session: Session) -> None:
        if session.id not in self._started:
            return
        self._started.discard(session.id)
        killer = self.server.current_session          # kill-session runs in the killer's rpc
        killed_by = killer.id if killer is not None and killer is not session else None
        self.publish(session_end(session, killed_by), None)

    def running_changed(self, changes: list[Change]) -> None:
        self.datastore_changed("running", changes)

    def datastore_changed(self, datastore: str, changes: list[Change]) -> None:
        """RFC 6470 netconf-config-change for ``datastore`` (running or startup)."""
        if not changes:
            return
        body = config_change(changes, self.server.schema, self.server.current_session, datastore)
        if body.find(qn(NC_NOTIFICATIONS, "edit")) is not None:   # the datastore really changed
            self.publish(body, None)

    def confirmed_commit_event(self, event: str, session: Session | None, timeout: int | None = None) -> None:
        """RFC 6470 netconf-confirmed-commit: `agent.confirmed_commit` reports each
        confirm-event through this."""
        self.publish(confirmed_commit(event, session, timeout), None)

    # -- the dataplane ----------------------------------------------------------------------

    def dataplane_events(self, events: list[Event]) -> None:
        """A `Dataplane` listener: the events that are YANG notifications are published."""
        dataplane = self.server.dataplane
        for event in events:
            if isinstance(event, PwSwitchover):
                when = _wall_clock(dataplane, event.time)
                self.publish(pw_switchover(event, when, lambda vsi, pw: pw_interface(dataplane, vsi, pw)), when)
            elif isinstance(event, GroupLimitExceeded):
                self.publish(group_limit_exceeded(event), _wall_clock(dataplane, event.time))


def _wall_clock(dataplane: "Dataplane", core_time: float) -> datetime:
    return datetime.fromtimestamp(dataplane.epoch + core_time, timezone.utc)


def pw_interface(dataplane: "Dataplane", vsi: str, pw: tuple[str, int]) -> str | None:
    """The port of PW ``pw`` of ``vsi`` in the core's configuration (None if it has gone)."""
    core_vsi = dataplane.device.vsis.get(vsi)
    pseudowire = core_vsi.pws.pws.get(pw) if core_vsi is not None else None
    return pseudowire.interface if pseudowire is not None else None
