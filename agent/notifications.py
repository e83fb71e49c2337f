"""RFC 5277 NETCONF event notifications: the NETCONF stream, create-subscription, replay.

One event stream exists, ``NETCONF`` (RFC 5277 3.2.3): every notification the agent sends
(RFC 6470 base events and the dataplane's, see :mod:`agent.notification_events`) goes
through :meth:`NotificationStream.publish`, which wraps the content in
``<notification><eventTime>`` (2.2.1), sends it to every subscription whose filter it
passes, and keeps it in a bounded replay log (:data:`REPLAY_LOG_SIZE` notifications; the
oldest go first).

Rules implemented here, each named after its RFC text:

* 2.1.1 - ``create-subscription`` with ``stream``, ``filter`` (subtree, or XPath: the same
  filters as get, applied to each notification's content; a notification is sent whole when
  the filter selects anything of it), ``startTime`` and ``stopTime``.  A stream other than
  NETCONF is ``invalid-value``; ``stopTime`` without ``startTime`` is ``missing-element``; a
  ``startTime`` in the future or a ``stopTime`` before ``startTime`` is ``bad-element``;
  a second subscription on one session is ``in-use``.  Nothing is subscribed when any
  check fails.
* 2.1.1 replay - with ``startTime`` the logged notifications from that time (to
  ``stopTime``) are sent after the `<rpc-reply>`, then ``replayComplete``; notifications
  that arrive meanwhile wait in the log and are replayed in order, never twice.
* 2.1.1 stop - when ``stopTime`` is reached (an event-loop timer), ``notificationComplete``
  is sent and the subscription ends; the session may subscribe again.
* 3.4 - ``/netconf/streams`` (module nc-notifications) lists the stream, its replay support
  and when its log began.
* 6 - interleave: the session keeps answering rpcs while subscribed (handlers never block);
  ``:interleave:1.0`` is announced with ``:notification:1.0``.
* A subscription ends with its session (a session-end hook).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Union

from lxml import etree

from agent.errors import ErrorTag, ErrorType, RpcError, bad_element, missing_element
from agent.netconf_get import check_parameters, register_builtin_state
from agent.notification_events import EventSources, date_and_time
from agent.rpc import RpcContext, operation
from agent.subtree_filter import SubtreeFilter
from agent.xmlns import NC, NETMOD_NOTIFICATION, NOTIFICATION, element_children, qn, split_qn
from agent.xpath_filter import XPathFilter, filter_from_element

if TYPE_CHECKING:  # pragma: no cover
    from agent.server import Server
    from agent.session import Session

log = logging.getLogger(__name__)

NOTIFICATION_CAPABILITY = "urn:ietf:params:netconf:capability:notification:1.0"
INTERLEAVE_CAPABILITY = "urn:ietf:params:netconf:capability:interleave:1.0"
#: RFC 5277 3.2.3: the default stream, and the only one this agent has.
NETCONF_STREAM = "NETCONF"
NETCONF_STREAM_DESCRIPTION = ("every notification of this device: RFC 6470 NETCONF events "
                              "and the vsi-l2-multicast events")
#: Notifications kept for replay; the oldest is dropped when a new one would exceed it.
REPLAY_LOG_SIZE = 1000

Element = etree._Element
Filter = Union[SubtreeFilter, XPathFilter]

NOTIFICATION_TAG = qn(NOTIFICATION, "notification")
EVENT_TIME_TAG = qn(NOTIFICATION, "eventTime")
CREATE_SUBSCRIPTION_TAG = qn(NOTIFICATION, "create-subscription")
REPLAY_COMPLETE_TAG = qn(NETMOD_NOTIFICATION, "replayComplete")
NOTIFICATION_COMPLETE_TAG = qn(NETMOD_NOTIFICATION, "notificationComplete")
STREAMS_ROOT_TAG = qn(NETMOD_NOTIFICATION, "netconf")

#: create-subscription parameters; `filter` is also accepted in the base namespace, where
#: ncclient (and RFC 6241's own filter) put it
_PARAMETERS = frozenset({qn(NOTIFICATION, name) for name in ("stream", "filter", "startTime", "stopTime")}
                        | {qn(NC, "filter")})
_FILTER_TAGS = (qn(NOTIFICATION, "filter"), qn(NC, "filter"))
#: yang:date-and-time (RFC 6991), the lexical form RFC 3339 gives
_DATE_AND_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# --- one logged notification -------------------------------------------------------------------

@dataclass(frozen=True)
class LoggedNotification:
    """A notification as published: its content alone (what filters are applied to, as the
    root of its own document) and the `<notification>` message sent for it."""

    event_time: datetime
    body: Element
    message: Element


def notification_message(body: Element, event_time: datetime) -> Element:
    """RFC 5277 2.2.1: `<notification><eventTime>...</eventTime>content</notification>`."""
    message = etree.Element(NOTIFICATION_TAG, nsmap={None: NOTIFICATION})
    etree.SubElement(message, EVENT_TIME_TAG).text = date_and_time(event_time)
    message.append(body)
    return message


# --- create-subscription parameters ------------------------------------------------------------

@dataclass(frozen=True)
class SubscriptionRequest:
    """The checked parameters of one `<create-subscription>` (RFC 5277 2.1.1)."""

    stream: str = NETCONF_STREAM
    filter: Filter | None = None
    start_time: datetime | None = None
    stop_time: datetime | None = None

    @classmethod
    def parse(cls, op: Element, now: datetime) -> "SubscriptionRequest":
        check_parameters(op, _PARAMETERS)
        stream = _single_text(op, "stream")
        if stream is not None and stream != NETCONF_STREAM:
            raise RpcError(ErrorTag.INVALID_VALUE, f"there is no event stream '{stream}'; this "
                           f"server has only '{NETCONF_STREAM}'", type=ErrorType.PROTOCOL,
                           info=[("bad-element", "stream")])
        start = _time_parameter(op, "startTime")
        stop = _time_parameter(op, "stopTime")
        if stop is not None and start is None:
            raise missing_element("stopTime", "stopTime is only meaningful with startTime (a replay); "
                                  "give startTime too, or leave stopTime out")
        if start is not None and start > now:
            raise bad_element("startTime", f"startTime {date_and_time(start)} is in the future "
                              f"(the server's time is {date_and_time(now)})")
        if start is not None and stop is not None and stop < start:
            raise bad_element("stopTime", f"stopTime {date_and_time(stop)} is earlier than "
                              f"startTime {date_and_time(start)}")
        return cls(stream or NETCONF_STREAM, parse_filter(op), start, stop)


def _single(op: Element, name: str) -> Element | None:
    found = list(op.iterchildren(qn(NOTIFICATION, name)))
    if len(found) > 1:
        raise bad_element(name, f"<{name}> may be given only once")
    return found[0] if found else None


def _single_text(op: Element, name: str) -> str | None:
    el = _single(op, name)
    return None if el is None else (el.text or "").strip()


def _time_parameter(op: Element, name: str) -> datetime | None:
    text = _single_text(op, name)
    if text is None:
        return None
    return parse_date_and_time(text, name)


def parse_date_and_time(text: str, name: str) -> datetime:
    """A yang:date-and-time value (RFC 3339, with a time zone), or ``bad-element``."""
    if _DATE_AND_TIME.fullmatch(text) is not None:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    raise bad_element(name, f"{name} '{text}' is not a date-and-time "
                      "(RFC 3339, e.g. 2026-01-31T12:00:00Z)")


def parse_filter(op: Element) -> Filter | None:
    """The subscription's `<filter>` (RFC 5277 2.1.1: the form of RFC 6241's filter)."""
    found = [child for child in element_children(op) if child.tag in _FILTER_TAGS]
    if not found:
        return None
    if len(found) > 1:
        raise bad_element("filter", "<filter> may be given only once")
    filter_el = found[0]
    kind = filter_el.get("type", filter_el.get(qn(NC, "type"), "subtree"))
    if kind == "subtree":
        return SubtreeFilter(filter_el)
    if kind == "xpath":
        xpath = filter_from_element(filter_el)
        xpath.nodes([etree.Element(qn(NOTIFICATION, "probe"))])   # refuses what is not a node-set now
        return xpath
    raise RpcError(ErrorTag.BAD_ATTRIBUTE, f"filter type '{kind}' is not supported; use 'subtree' or 'xpath'",
                   type=ErrorType.PROTOCOL, info=[("bad-attribute", "type"), ("bad-element", "filter")])


def passes(flt: Filter | None, body: Element) -> bool:
    """True when ``flt`` selects anything of the notification content ``body``."""
    if flt is None:
        return True
    try:
        if isinstance(flt, XPathFilter):
            return bool(flt.nodes([body]))
        return len(flt.apply([body])) > 0
    except RpcError as exc:            # an expression that gives no node-set for this content
        log.info("notification filter failed on <%s>: %s", split_qn(body.tag)[1], exc.message)
        return False


# --- subscriptions -----------------------------------------------------------------------------

@dataclass(eq=False)
class Subscription:
    """One session's subscription to the NETCONF stream."""

    session: "Session"
    request: SubscriptionRequest
    #: False until the replay is done: live notifications wait in the log meanwhile
    live: bool = False
    stop_timer: asyncio.TimerHandle | None = None

    def wants(self, logged: LoggedNotification) -> bool:
        return passes(self.request.filter, logged.body)

    def in_replay_window(self, logged: LoggedNotification) -> bool:
        start, stop = self.request.start_time, self.request.stop_time
        assert start is not None
        return start <= logged.event_time and (stop is None or logged.event_time <= stop)


class NotificationStream:
    """The NETCONF event stream of one server: publish, replay log, subscriptions.

    Everything runs on the server's event loop (publishers are rpc handlers, session hooks
    and dataplane listeners, all called there).
    """

    def __init__(self, server: "Server", log_size: int = REPLAY_LOG_SIZE) -> None:
        self.server = server
        self.log: deque[LoggedNotification] = deque(maxlen=log_size)
        #: RFC 5277 3.4 replayLogCreationTime
        self.log_created = utc_now()
        self.subscriptions: dict["Session", Subscription] = {}
        #: what feeds the stream (RFC 6470 and dataplane events), set by :func:`install`
        self.sources: EventSources | None = None

    # -- publishing -----------------------------------------------------------------------

    def publish(self, body: Element, event_time: datetime | None = None) -> None:
        """Send ``body`` (the notification's content element, e.g. ``{vl2mc}pw-switchover``) to
        every live subscription it passes, and log it for replay.  ``body`` is not modified.
        """
        when = event_time if event_time is not None else utc_now()
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        standalone = copy.deepcopy(body)
        logged = LoggedNotification(when, standalone, notification_message(copy.deepcopy(body), when))
        self.log.append(logged)
        for subscription in list(self.subscriptions.values()):
            if subscription.live and subscription.wants(logged):
                subscription.session.send_notification(logged.message)

    # -- subscribing ----------------------------------------------------------------------

    def subscribe(self, session: "Session", request: SubscriptionRequest) -> Subscription:
        """Start ``request`` for ``session``; a replay begins once the reply has gone out."""
        if session in self.subscriptions:
            raise RpcError(ErrorTag.IN_USE, f"session {session.id} already has a subscription; a "
                           "session holds at most one (RFC 5277 2.1.1)", type=ErrorType.PROTOCOL)
        subscription = Subscription(session, request)
        if request.start_time is not None:
            loop = self.server.loop
            if loop is None:
                raise RpcError(ErrorTag.OPERATION_FAILED, "the server has no event loop to run the replay")
            loop.call_soon(self._replay, subscription)   # after the rpc-reply is written
        else:
            subscription.live = True
        self.subscriptions[session] = subscription
        return subscription

    def _replay(self, subscription: Subscription) -> None:
        if self.subscriptions.get(subscription.session) is not subscription:
            return                                      # the session ended meanwhile
        session = subscription.session
        # in event-time order: a publisher may give a notification an earlier time than the
        # one logged before it (the dataplane's events carry the core's time)
        replay = sorted((logged for logged in self.log if subscription.in_replay_window(logged)),
                        key=lambda logged: logged.event_time)
        for logged in replay:
            if subscription.wants(logged):
                session.send_notification(logged.message)
        session.send_notification(self._control(REPLAY_COMPLETE_TAG))
        stop = subscription.request.stop_time
        if stop is not None and stop <= utc_now():
            self._complete(subscription)
            return
        subscription.live = True
        if stop is not None:
            self._arm_stop(subscription, stop)

    def _arm_stop(self, subscription: Subscription, stop: datetime) -> None:
        loop = self.server.loop
        assert loop is not None
        delay = max(0.0, (stop - utc_now()).total_seconds())
        subscription.stop_timer = loop.call_later(delay, self._complete, subscription)

    def _complete(self, subscription: Subscription) -> None:
        """stopTime reached: notificationComplete, and the subscription is over."""
        if self.subscriptions.get(subscription.session) is not subscription:
            return
        subscription.session.send_notification(self._control(NOTIFICATION_COMPLETE_TAG))
        self._remove(subscription)

    def _control(self, tag: str) -> Element:
        """replayComplete / notificationComplete: per subscription, never logged or filtered."""
        return notification_message(etree.Element(tag, nsmap={None: NETMOD_NOTIFICATION}), utc_now())

    def _remove(self, subscription: Subscription) -> None:
        if subscription.stop_timer is not None:
            subscription.stop_timer.cancel()
            subscription.stop_timer = None
        if self.subscriptions.get(subscription.session) is subscription:
            del self.subscriptions[subscription.session]

    def session_ended(self, session: "Session") -> None:
        """Session-end hook: its subscription goes with it."""
        subscription = self.subscriptions.get(session)
        if subscription is not None:
            self._remove(subscription)

    # -- RFC 5277 3.4 ---------------------------------------------------------------------

    def streams_state(self) -> Element:
        """``/netconf/streams`` of nc-notifications."""
        root = etree.Element(STREAMS_ROOT_TAG, nsmap={None: NETMOD_NOTIFICATION})
        stream = etree.SubElement(etree.SubElement(root, qn(NETMOD_NOTIFICATION, "streams")),
                                  qn(NETMOD_NOTIFICATION, "stream"))
        etree.SubElement(stream, qn(NETMOD_NOTIFICATION, "name")).text = NETCONF_STREAM
        etree.SubElement(stream, qn(NETMOD_NOTIFICATION, "description")).text = NETCONF_STREAM_DESCRIPTION
        etree.SubElement(stream, qn(NETMOD_NOTIFICATION, "replaySupport")).text = "true"
        etree.SubElement(stream, qn(NETMOD_NOTIFICATION, "replayLogCreationTime")).text = \
            date_and_time(self.log_created)
        return root


def notification_stream(server: "Server") -> NotificationStream:
    stream = getattr(server, "notifications", None)
    if not isinstance(stream, NotificationStream):
        raise RpcError(ErrorTag.OPERATION_FAILED, "notifications are not set up on this server")
    return stream


# --- operations and state ----------------------------------------------------------------------

@operation(CREATE_SUBSCRIPTION_TAG)
def create_subscription(ctx: RpcContext, op: Element) -> None:
    """RFC 5277 2.1.1 `<create-subscription>`."""
    stream = notification_stream(ctx.server)
    stream.subscribe(ctx.session, SubscriptionRequest.parse(op, utc_now()))


@register_builtin_state(STREAMS_ROOT_TAG)
def netconf_streams(server: "Server") -> Element:
    """RFC 5277 3.4: the streams a client can subscribe to."""
    return notification_stream(server).streams_state()


def install(server: "Server") -> None:
    """Give ``server`` its NETCONF stream (``server.notifications``) and the event sources."""
    stream = NotificationStream(server)
    server.notifications = stream
    server.extra_capabilities += [NOTIFICATION_CAPABILITY, INTERLEAVE_CAPABILITY]
    server.session_end_hooks.append(stream.session_ended)
    stream.sources = EventSources(server, stream.publish)
    stream.sources.install()
