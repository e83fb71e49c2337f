"""RFC 5277 event notifications and RFC 6470 base events, with real ncclient sessions.

Every notification a test receives is also validated by libyang (``yanglint -t nc-notif``)
against the module that defines it, so a body the agent invents would fail here.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import ncclient.transport.session
import pytest
from lxml import etree
from ncclient import manager

from agent import notification_events
from agent.notifications import (
    INTERLEAVE_CAPABILITY,
    NOTIFICATION_CAPABILITY,
    REPLAY_LOG_SIZE,
    NotificationStream,
    SubscriptionRequest,
)
from agent.paths import YANG_DIR, pyang_module_dirs
from agent.schema import RFC5277_YANG_DIR
from agent.xmlns import NC, NC_NOTIFICATIONS, NETMOD_NOTIFICATION, NOTIFICATION, VL2MC, qn
from dataplane.events import GroupAdded, GroupLimitExceeded, PwSwitchover
from tests.agent.yang_oracles import to_xml, upe_config

ncclient.transport.session.TICK = 0.001

YANGLINT = shutil.which("yanglint")
NCN_MODULE = next(d for d in pyang_module_dirs() if (d / "ietf-netconf-notifications.yang").exists()) \
    / "ietf-netconf-notifications.yang"
NC_NOTIFICATIONS_MODULE = RFC5277_YANG_DIR / "nc-notifications@2008-07-14.yang"
VL2MC_MODULE_FILE = YANG_DIR / "vsi-l2-multicast.yang"
EVENT_TIME = qn(NOTIFICATION, "eventTime")
WAIT = 10.0   # seconds a notification may take to arrive before the test fails (not a timing check)


# --- helpers ---------------------------------------------------------------------------------------

def yanglint_notification(message: bytes | str, operational: str | None = None) -> tuple[bool, str]:
    """libyang's verdict on a whole `<notification>` message (envelope and content), with the
    modules of every notification the agent sends loaded (instance-identifiers in
    netconf-config-change name our module's nodes); ``operational`` holds the data that
    leafrefs in the content point to."""
    if YANGLINT is None:
        pytest.fail("yanglint (libyang2-tools) is not installed")
    text = message.encode() if isinstance(message, str) else message
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "notification.xml"
        data.write_bytes(text)
        command = [YANGLINT, "-D"]
        for directory in [YANG_DIR, RFC5277_YANG_DIR, *pyang_module_dirs()]:
            command += ["-p", str(directory)]
        command += ["-t", "nc-notif"]
        if operational is not None:
            # an empty datastore is not a valid XML file; the empty JSON object is the same data
            op_file = Path(tmp) / ("operational.xml" if operational else "operational.json")
            op_file.write_text(operational or "{}")
            command += ["-O", str(op_file)]
        modules = [str(m) for m in (NCN_MODULE, NC_NOTIFICATIONS_MODULE, VL2MC_MODULE_FILE)]
        proc = subprocess.run([*command, *modules, str(data)], capture_output=True, text=True, timeout=60)
    return proc.returncode == 0, (proc.stderr + proc.stdout).strip()


def publish(agent: Any, xml: str, event_time: datetime | None = None) -> None:
    """Publish a notification content on the agent's loop, as any agent module would."""
    agent.run(lambda: agent.server.notifications.publish(etree.fromstring(xml), event_time))


def marker(name: str) -> str:
    """A notification content of our module used to tell which notifications arrived."""
    return f'<group-limit-exceeded xmlns="{VL2MC}"><vsi>{name}</vsi><limit>1</limit></group-limit-exceeded>'


#: a subtree filter for the markers only (a session's own RFC 6470 events are in the log too)
MARKERS = ("subtree", f'<group-limit-exceeded xmlns="{VL2MC}"/>')


def take(nc: manager.Manager) -> etree._Element:
    received = nc.take_notification(block=True, timeout=WAIT)
    assert received is not None, "no notification arrived"
    return received.notification_ele


def content(notification: etree._Element) -> etree._Element:
    children = [c for c in notification if c.tag != EVENT_TIME]
    assert len(children) == 1
    return children[0]


def take_content(nc: manager.Manager, tag: str) -> tuple[etree._Element, etree._Element]:
    """The next notification with content ``tag`` (others, e.g. session events, are skipped)."""
    for _ in range(50):
        message = take(nc)
        if content(message).tag == tag:
            return message, content(message)
    raise AssertionError(f"no {tag} notification arrived")


def marker_vsi(notification: etree._Element) -> str | None:
    return content(notification).findtext(qn(VL2MC, "vsi"))


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def error_of(reply: etree._Element) -> dict[str, Any]:
    """The one rpc-error of a raw reply: tag, type and error-info children by local name."""
    errors = reply.findall(qn(NC, "rpc-error"))
    assert len(errors) == 1, etree.tostring(reply)
    error = errors[0]
    info = error.find(qn(NC, "error-info"))
    return {
        "tag": error.findtext(qn(NC, "error-tag")),
        "type": error.findtext(qn(NC, "error-type")),
        "info": {etree.QName(c).localname: c.text for c in info} if info is not None else {},
    }


def create_subscription(raw: Any, body: str = "") -> etree._Element:
    return raw.rpc(f'<create-subscription xmlns="{NOTIFICATION}">{body}</create-subscription>')


@pytest.fixture
def raw_session(raw_netconf: Callable[..., Any]) -> Any:
    raw = raw_netconf()
    raw.hello()
    return raw


def subscription_count(agent: Any) -> int:
    return agent.run(lambda: len(agent.server.notifications.subscriptions))


# --- RFC 5277: capabilities, publish, interleave -------------------------------------------------

def test_hello_announces_notification_and_interleave_capabilities(nc: manager.Manager) -> None:
    assert NOTIFICATION_CAPABILITY in nc.server_capabilities
    assert INTERLEAVE_CAPABILITY in nc.server_capabilities


def test_published_notification_reaches_a_subscriber_with_its_event_time(agent_server: Any, nc: manager.Manager) -> None:
    nc.create_subscription()
    when = datetime(2026, 1, 31, 12, 0, 0, 250000, tzinfo=timezone.utc)
    publish(agent_server, marker("iptv"), when)
    message = take(nc)
    assert message.tag == qn(NOTIFICATION, "notification")
    assert message[0].tag == EVENT_TIME and message[0].text == "2026-01-31T12:00:00.250000Z"
    assert content(message).tag == qn(VL2MC, "group-limit-exceeded")
    operational = f'<vsis xmlns="{VL2MC}"><vsi><name>iptv</name></vsi></vsis>'
    ok, why = yanglint_notification(etree.tostring(message), operational)
    assert ok, why


def test_notifications_go_only_to_subscribed_sessions(agent_server: Any, nc_factory: Callable[..., Any]) -> None:
    subscribed, other = nc_factory(), nc_factory()
    subscribed.create_subscription()
    publish(agent_server, marker("a"))
    assert marker_vsi(take(subscribed)) == "a"
    other.get_config(source="running")     # its only messages are replies
    assert other.take_notification(block=False) is None


def test_session_keeps_answering_rpcs_while_subscribed(agent_server: Any, nc: manager.Manager) -> None:
    """RFC 5277 6 (interleave): rpcs and notifications share the subscribed session."""
    nc.create_subscription()
    publish(agent_server, marker("before"))
    assert nc.get_config(source="running").ok
    assert marker_vsi(take(nc)) == "before"
    publish(agent_server, marker("after"))
    assert nc.get(filter=("subtree", f'<netconf xmlns="{NETMOD_NOTIFICATION}"/>')).ok
    assert marker_vsi(take(nc)) == "after"


# --- RFC 5277 2.1.1: bad requests ----------------------------------------------------------------

def _subscribes_nothing(agent: Any, raw: Any) -> None:
    assert subscription_count(agent) == 0
    assert create_subscription(raw).find(qn(NC, "ok")) is not None   # a valid request still works


def test_unknown_stream_is_invalid_value_and_subscribes_nothing(agent_server: Any, raw_session: Any) -> None:
    error = error_of(create_subscription(raw_session, "<stream>SYSLOG</stream>"))
    assert error == {"tag": "invalid-value", "type": "protocol", "info": {"bad-element": "stream"}}
    _subscribes_nothing(agent_server, raw_session)


def test_netconf_stream_may_be_named_explicitly(agent_server: Any, nc: manager.Manager) -> None:
    nc.create_subscription(stream_name="NETCONF")
    publish(agent_server, marker("named"))
    assert marker_vsi(take(nc)) == "named"


def test_stop_time_without_start_time_is_missing_element(agent_server: Any, raw_session: Any) -> None:
    stop = rfc3339(datetime.now(timezone.utc))
    error = error_of(create_subscription(raw_session, f"<stopTime>{stop}</stopTime>"))
    assert error == {"tag": "missing-element", "type": "protocol", "info": {"bad-element": "stopTime"}}
    _subscribes_nothing(agent_server, raw_session)


def test_start_time_in_the_future_is_bad_element(agent_server: Any, raw_session: Any) -> None:
    start = rfc3339(datetime.now(timezone.utc) + timedelta(hours=1))
    error = error_of(create_subscription(raw_session, f"<startTime>{start}</startTime>"))
    assert error == {"tag": "bad-element", "type": "protocol", "info": {"bad-element": "startTime"}}
    _subscribes_nothing(agent_server, raw_session)


def test_stop_time_before_start_time_is_bad_element(agent_server: Any, raw_session: Any) -> None:
    start = datetime.now(timezone.utc) - timedelta(minutes=1)
    body = f"<startTime>{rfc3339(start)}</startTime><stopTime>{rfc3339(start - timedelta(seconds=1))}</stopTime>"
    error = error_of(create_subscription(raw_session, body))
    assert error == {"tag": "bad-element", "type": "protocol", "info": {"bad-element": "stopTime"}}
    _subscribes_nothing(agent_server, raw_session)


@pytest.mark.parametrize("value", ["yesterday", "2026-01-31T12:00:00", "2026-13-01T00:00:00Z", ""])
def test_start_time_that_is_not_a_date_and_time_is_bad_element(agent_server: Any, raw_session: Any,
                                                                value: str) -> None:
    error = error_of(create_subscription(raw_session, f"<startTime>{value}</startTime>"))
    assert error == {"tag": "bad-element", "type": "protocol", "info": {"bad-element": "startTime"}}
    _subscribes_nothing(agent_server, raw_session)


def test_unknown_parameter_is_unknown_element(agent_server: Any, raw_session: Any) -> None:
    error = error_of(create_subscription(raw_session, "<replay>yes</replay>"))
    assert error["tag"] == "unknown-element" and error["info"] == {"bad-element": "replay"}
    _subscribes_nothing(agent_server, raw_session)


def test_unknown_filter_type_is_bad_attribute(agent_server: Any, raw_session: Any) -> None:
    error = error_of(create_subscription(raw_session, f'<filter xmlns="{NC}" type="regex"/>'))
    assert error["tag"] == "bad-attribute" and error["info"] == {"bad-attribute": "type", "bad-element": "filter"}
    _subscribes_nothing(agent_server, raw_session)


def test_invalid_xpath_filter_is_refused(agent_server: Any, raw_session: Any) -> None:
    error = error_of(create_subscription(raw_session, f'<filter xmlns="{NC}" type="xpath" select="/a["/>'))
    assert error["tag"] == "bad-attribute" and error["info"]["bad-attribute"] == "select"
    _subscribes_nothing(agent_server, raw_session)


def test_xpath_filter_that_selects_no_node_set_is_refused(agent_server: Any, raw_session: Any) -> None:
    error = error_of(create_subscription(raw_session, f'<filter xmlns="{NC}" type="xpath" select="count(/*)"/>'))
    assert error["tag"] == "bad-attribute" and error["info"]["bad-attribute"] == "select"
    _subscribes_nothing(agent_server, raw_session)


@pytest.mark.parametrize("body", [
    "<stream>NETCONF</stream><stream>NETCONF</stream>",
    "<startTime>2026-01-31T12:00:00Z</startTime><startTime>2026-01-31T12:00:00Z</startTime>",
    f'<filter xmlns="{NC}"/><filter xmlns="{NC}"/>',
])
def test_a_parameter_given_twice_is_bad_element(agent_server: Any, raw_session: Any, body: str) -> None:
    error = error_of(create_subscription(raw_session, body))
    assert error["tag"] == "bad-element" and error["type"] == "protocol"
    _subscribes_nothing(agent_server, raw_session)


def test_second_subscription_on_a_session_is_in_use(agent_server: Any, raw_session: Any) -> None:
    assert create_subscription(raw_session).find(qn(NC, "ok")) is not None
    error = error_of(create_subscription(raw_session))
    assert error["tag"] == "in-use" and error["type"] == "protocol"
    assert subscription_count(agent_server) == 1


# --- RFC 5277 2.1.1: filters -----------------------------------------------------------------------

def test_subtree_filter_selects_the_notifications_sent(agent_server: Any, nc: manager.Manager) -> None:
    nc.create_subscription(filter=("subtree", f'<group-limit-exceeded xmlns="{VL2MC}"><vsi>b</vsi>'
                                              "</group-limit-exceeded>"))
    publish(agent_server, marker("a"))
    publish(agent_server, f'<pw-switchover xmlns="{VL2MC}"><vsi>b</vsi></pw-switchover>')
    publish(agent_server, marker("b"))
    message = take(nc)
    assert marker_vsi(message) == "b"
    # sent whole: the filter picks which notifications, not which of their leaves
    assert content(message).findtext(qn(VL2MC, "limit")) == "1"


def test_filter_in_the_notification_namespace_is_accepted(agent_server: Any, raw_session: Any) -> None:
    """RFC 5277's own schema puts `filter` in the notification namespace."""
    body = (f'<filter type="subtree"><group-limit-exceeded xmlns="{VL2MC}"><vsi>b</vsi>'
            "</group-limit-exceeded></filter>")
    assert create_subscription(raw_session, body).find(qn(NC, "ok")) is not None
    publish(agent_server, marker("a"))
    publish(agent_server, marker("b"))
    assert marker_vsi(raw_session.read_message()) == "b"


def test_xpath_filter_selects_the_notifications_sent(agent_server: Any, nc: manager.Manager) -> None:
    nc.create_subscription(filter=("xpath", ({"v": VL2MC}, "/v:group-limit-exceeded[v:vsi='b']")))
    publish(agent_server, marker("a"))
    publish(agent_server, marker("b"))
    assert marker_vsi(take(nc)) == "b"


# --- RFC 5277 2.1.1: replay ------------------------------------------------------------------------

def test_replay_sends_logged_notifications_from_start_time_then_replay_complete(
        agent_server: Any, nc: manager.Manager) -> None:
    base = datetime.now(timezone.utc) - timedelta(minutes=10)
    for i, name in enumerate(("old", "r1", "r2")):
        publish(agent_server, marker(name), base + timedelta(minutes=i))
    nc.create_subscription(filter=MARKERS, start_time=rfc3339(base + timedelta(seconds=30)))
    replayed = [take(nc), take(nc)]
    assert [marker_vsi(m) for m in replayed] == ["r1", "r2"]
    assert replayed[0][0].text == notification_events.date_and_time(base + timedelta(minutes=1))
    complete = take(nc)
    assert content(complete).tag == qn(NETMOD_NOTIFICATION, "replayComplete")
    ok, why = yanglint_notification(etree.tostring(complete))
    assert ok, why
    publish(agent_server, marker("live"))          # the subscription goes on after the replay
    assert marker_vsi(take(nc)) == "live"


def test_replay_starts_after_the_rpc_reply(agent_server: Any, raw_session: Any) -> None:
    start = datetime.now(timezone.utc) - timedelta(seconds=1)
    publish(agent_server, marker("logged"), start)
    reply = create_subscription(raw_session, f'<filter type="subtree"><group-limit-exceeded xmlns="{VL2MC}"/>'
                                             f"</filter><startTime>{rfc3339(start)}</startTime>")
    assert reply.tag == qn(NC, "rpc-reply") and reply.find(qn(NC, "ok")) is not None
    assert marker_vsi(raw_session.read_message()) == "logged"
    assert content(raw_session.read_message()).tag == qn(NETMOD_NOTIFICATION, "replayComplete")


def test_replay_applies_the_filter(agent_server: Any, nc: manager.Manager) -> None:
    start = datetime.now(timezone.utc) - timedelta(seconds=1)
    publish(agent_server, marker("a"), start)
    publish(agent_server, marker("b"), start)
    nc.create_subscription(filter=("xpath", ({"v": VL2MC}, "/v:group-limit-exceeded[v:vsi='b']")),
                           start_time=rfc3339(start))
    assert marker_vsi(take(nc)) == "b"
    assert content(take(nc)).tag == qn(NETMOD_NOTIFICATION, "replayComplete")


def test_replay_up_to_a_past_stop_time_ends_with_notification_complete(agent_server: Any, nc: manager.Manager) -> None:
    base = datetime.now(timezone.utc) - timedelta(minutes=10)
    for i, name in enumerate(("in", "out")):
        publish(agent_server, marker(name), base + timedelta(minutes=i))
    nc.create_subscription(filter=MARKERS, start_time=rfc3339(base), stop_time=rfc3339(base + timedelta(seconds=30)))
    assert marker_vsi(take(nc)) == "in"
    assert content(take(nc)).tag == qn(NETMOD_NOTIFICATION, "replayComplete")
    complete = take(nc)
    assert content(complete).tag == qn(NETMOD_NOTIFICATION, "notificationComplete")
    ok, why = yanglint_notification(etree.tostring(complete))
    assert ok, why
    assert subscription_count(agent_server) == 0
    nc.create_subscription()                        # over: the session may subscribe again
    publish(agent_server, marker("again"))
    assert marker_vsi(take(nc)) == "again"


def test_subscription_ends_when_its_stop_time_passes(agent_server: Any, nc: manager.Manager) -> None:
    now = datetime.now(timezone.utc)
    nc.create_subscription(filter=MARKERS, start_time=rfc3339(now),
                           stop_time=rfc3339(now + timedelta(milliseconds=300)))
    assert content(take(nc)).tag == qn(NETMOD_NOTIFICATION, "replayComplete")
    assert content(take(nc)).tag == qn(NETMOD_NOTIFICATION, "notificationComplete")
    assert subscription_count(agent_server) == 0


def test_notifications_published_before_the_replay_runs_are_sent_once_in_order(agent_server: Any) -> None:
    """The replay runs after the rpc-reply; what is published in between waits in the log."""
    sent: list[etree._Element] = []

    class Subscriber:
        id = 99

        def send_notification(self, message: etree._Element) -> None:
            sent.append(message)

    def subscribe_then_publish() -> None:
        stream = agent_server.server.notifications
        start = datetime.now(timezone.utc) - timedelta(seconds=1)
        stream.publish(etree.fromstring(marker("logged")), start)
        stream.subscribe(Subscriber(), SubscriptionRequest(start_time=start))
        stream.publish(etree.fromstring(marker("meanwhile")))

    agent_server.run(subscribe_then_publish)
    agent_server.run(lambda: None)                # the replay callback has run by now
    names = [marker_vsi(m) if content(m).tag == qn(VL2MC, "group-limit-exceeded") else "replayComplete"
             for m in sent]
    assert names == ["logged", "meanwhile", "replayComplete"]


def test_replay_log_keeps_the_newest_notifications_up_to_its_size(agent_server: Any) -> None:
    def fill() -> list[str]:
        stream = NotificationStream(agent_server.server)
        for i in range(REPLAY_LOG_SIZE + 5):
            stream.publish(etree.fromstring(marker(f"v{i}")))
        return [logged.body.findtext(qn(VL2MC, "vsi")) for logged in stream.log]

    names = agent_server.run(fill)
    assert REPLAY_LOG_SIZE == 1000
    assert len(names) == REPLAY_LOG_SIZE and names[0] == "v5" and names[-1] == f"v{REPLAY_LOG_SIZE + 4}"


def test_publish_does_not_modify_or_keep_the_callers_element(agent_server: Any, nc: manager.Manager) -> None:
    nc.create_subscription()
    body = etree.fromstring(marker("mine"))
    agent_server.run(lambda: agent_server.server.notifications.publish(body))
    assert body.getparent() is None and body.findtext(qn(VL2MC, "vsi")) == "mine"
    body.find(qn(VL2MC, "vsi")).text = "changed"
    assert marker_vsi(take(nc)) == "mine"


# --- session end, /netconf/streams ----------------------------------------------------------------

def test_subscription_is_removed_when_its_session_ends(agent_server: Any, nc_factory: Callable[..., Any]) -> None:
    subscriber = nc_factory()
    subscriber.create_subscription()
    assert subscription_count(agent_server) == 1
    subscriber.close_session()
    assert agent_server.wait_until(lambda server: not server.notifications.subscriptions)


def test_streams_state_lists_the_netconf_stream_with_replay(agent_server: Any, nc: manager.Manager) -> None:
    reply = nc.get(filter=("subtree", f'<netconf xmlns="{NETMOD_NOTIFICATION}"><streams/></netconf>'))
    streams = reply.data_ele.findall(f"{{{NETMOD_NOTIFICATION}}}netconf/{{{NETMOD_NOTIFICATION}}}streams/"
                                     f"{{{NETMOD_NOTIFICATION}}}stream")
    assert [s.findtext(qn(NETMOD_NOTIFICATION, "name")) for s in streams] == ["NETCONF"]
    assert streams[0].findtext(qn(NETMOD_NOTIFICATION, "replaySupport")) == "true"
    created = streams[0].findtext(qn(NETMOD_NOTIFICATION, "replayLogCreationTime"))
    assert datetime.fromisoformat(created) <= datetime.now(timezone.utc)


def test_rfc5277_modules_are_announced_and_served_by_get_schema(nc: manager.Manager) -> None:
    """Clients discover create-subscription and /netconf/streams like any other module."""
    assert any(c.startswith(f"{NOTIFICATION}?module=notifications") for c in nc.server_capabilities)
    assert any(c.startswith(f"{NETMOD_NOTIFICATION}?module=nc-notifications") for c in nc.server_capabilities)
    for name in ("notifications", "nc-notifications"):
        text = nc.get_schema(name).data
        assert text == (RFC5277_YANG_DIR / f"{name}@2008-07-14.yang").read_text(encoding="utf-8")


# --- RFC 6470 ---------------------------------------------------------------------------------------

NCN = NC_NOTIFICATIONS


def test_session_start_names_user_session_and_host(nc_factory: Callable[..., Any]) -> None:
    watcher = nc_factory()
    watcher.create_subscription()
    other = nc_factory()
    message, body = take_content(watcher, qn(NCN, "netconf-session-start"))
    assert body.findtext(qn(NCN, "username")) == "admin"
    assert body.findtext(qn(NCN, "session-id")) == str(other.session_id)
    assert body.findtext(qn(NCN, "source-host")) == "127.0.0.1"
    ok, why = yanglint_notification(etree.tostring(message))
    assert ok, why


def test_session_end_after_close_session_is_closed(nc_factory: Callable[..., Any]) -> None:
    watcher = nc_factory()
    watcher.create_subscription()
    other = nc_factory()
    other_id = str(other.session_id)
    other.close_session()
    message, body = take_content(watcher, qn(NCN, "netconf-session-end"))
    assert body.findtext(qn(NCN, "session-id")) == other_id
    assert body.findtext(qn(NCN, "termination-reason")) == "closed"
    assert body.find(qn(NCN, "killed-by")) is None
    ok, why = yanglint_notification(etree.tostring(message))
    assert ok, why


def test_session_end_after_kill_session_is_killed_and_names_the_killer(nc_factory: Callable[..., Any]) -> None:
    watcher = nc_factory()
    watcher.create_subscription()
    victim, killer = nc_factory(), nc_factory()
    victim_id = str(victim.session_id)
    killer.kill_session(session_id=victim_id)
    message, body = take_content(watcher, qn(NCN, "netconf-session-end"))
    assert body.findtext(qn(NCN, "session-id")) == victim_id
    assert body.findtext(qn(NCN, "termination-reason")) == "killed"
    assert body.findtext(qn(NCN, "killed-by")) == str(killer.session_id)
    ok, why = yanglint_notification(etree.tostring(message))
    assert ok, why


def test_session_end_of_a_dropped_transport_is_dropped(nc_factory: Callable[..., Any], raw_netconf: Any) -> None:
    watcher = nc_factory()
    watcher.create_subscription()
    raw = raw_netconf()
    raw.hello()
    take_content(watcher, qn(NCN, "netconf-session-start"))
    raw.close()
    _, body = take_content(watcher, qn(NCN, "netconf-session-end"))
    assert body.findtext(qn(NCN, "termination-reason")) == "dropped"


CONFIG_ON = (f'<config xmlns="{NC}"><l2-multicast xmlns="{VL2MC}"><igmp-snooping-enable>true</igmp-snooping-enable>'
             "</l2-multicast></config>")


def watching(nc_factory: Callable[..., Any], event: str) -> manager.Manager:
    """A new session subscribed to one RFC 6470 event (``netconf-config-change`` ...) only."""
    watcher = nc_factory()
    watcher.create_subscription(filter=("subtree", f'<{event} xmlns="{NCN}"/>'))
    return watcher


def running_data(nc: manager.Manager) -> str:
    """Running as an operational data file for yanglint: netconf-config-change targets are
    instance-identifiers, which must point to an existing node."""
    reply = nc.get_config(source="running", with_defaults="report-all")   # a default node exists too
    return "".join(etree.tostring(top).decode() for top in reply.data_ele)


def _edits(body: etree._Element) -> list[tuple[str | None, str | None]]:
    return [(e.findtext(qn(NCN, "target")), e.findtext(qn(NCN, "operation"))) for e in body.iter(qn(NCN, "edit"))]


def test_config_change_names_the_session_and_the_changed_node(nc_factory: Callable[..., Any]) -> None:
    watcher = nc_factory()
    watcher.create_subscription()
    editor = nc_factory()
    editor.edit_config(target="running", config=CONFIG_ON)
    message, body = take_content(watcher, qn(NCN, "netconf-config-change"))
    by = body.find(qn(NCN, "changed-by"))
    assert by.findtext(qn(NCN, "username")) == "admin"
    assert by.findtext(qn(NCN, "session-id")) == str(editor.session_id)
    assert body.findtext(qn(NCN, "datastore")) == "running"
    assert _edits(body) == [("/vl2mc:l2-multicast/vl2mc:igmp-snooping-enable", "replace")]
    target = body.find(f"{{{NCN}}}edit/{{{NCN}}}target")
    assert target.nsmap["vl2mc"] == VL2MC          # the instance-identifier's prefix is declared
    ok, why = yanglint_notification(etree.tostring(message), running_data(editor))
    assert ok, why


def test_config_change_reports_a_created_subtree_once_and_a_deleted_entry_with_its_keys(
        nc_factory: Callable[..., Any]) -> None:
    watcher = watching(nc_factory, "netconf-config-change")
    editor = nc_factory()
    editor.edit_config(target="running", config=f'<config xmlns="{NC}"><vsis xmlns="{VL2MC}"><vsi><name>iptv</name>'
                                                 "<description>tv</description></vsi></vsis></config>")
    _, created = take_content(watcher, qn(NCN, "netconf-config-change"))
    assert _edits(created) == [("/vl2mc:vsis", "create")]
    editor.edit_config(target="running", config=f'<config xmlns="{NC}"><vsis xmlns="{VL2MC}"><vsi><name>iptv</name></vsi>'
                                                 f'<vsi><name>news</name></vsi></vsis></config>')
    _, added = take_content(watcher, qn(NCN, "netconf-config-change"))
    assert _edits(added) == [("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='news']", "create")]
    before = running_data(editor)                 # a deleted node's target is checked against it
    editor.edit_config(target="running", config=f'<config xmlns="{NC}" xmlns:nc="{NC}"><vsis xmlns="{VL2MC}">'
                                                 '<vsi nc:operation="delete"><name>iptv</name></vsi>'
                                                 "</vsis></config>")
    message, deleted = take_content(watcher, qn(NCN, "netconf-config-change"))
    assert _edits(deleted) == [("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='iptv']", "delete")]
    ok, why = yanglint_notification(etree.tostring(message), before)
    assert ok, why


def test_config_change_of_a_commit_reports_the_net_change_only(agent_server: Any,
                                                                 nc_factory: Callable[..., Any]) -> None:
    """Edits the candidate went through and undid are not changes of running (RFC 6470)."""
    editor = nc_factory()
    editor.edit_config(target="running", config=f'<config xmlns="{NC}"><vsis xmlns="{VL2MC}"><vsi><name>a</name>'
                                                 '<description>d0</description></vsi></vsis></config>')
    watcher = nc_factory()
    watcher.create_subscription(filter=etree.fromstring(
        f'<filter xmlns="{NC}" type="subtree"><netconf-config-change xmlns="{NCN}"/>{MARKERS[1]}</filter>'))
    for edit in ('<vsi><name>x</name></vsi>', f'<vsi xmlns:nc="{NC}" nc:operation="delete"><name>x</name></vsi>',
                 '<vsi><name>a</name><description>d1</description></vsi>',
                 '<vsi><name>a</name><description>d0</description></vsi>'):
        editor.edit_config(target="candidate", config=f'<config xmlns="{NC}"><vsis xmlns="{VL2MC}">{edit}</vsis></config>')
    editor.commit()
    publish(agent_server, marker("after-commit"))
    assert marker_vsi(take(watcher)) == "after-commit"          # no config-change came before it
    editor.edit_config(target="candidate", config=f'<config xmlns="{NC}"><vsis xmlns="{VL2MC}"><vsi><name>y</name>'
                                                 '</vsi><vsi><name>a</name><description>d2</description></vsi>'
                                                 '</vsis></config>')
    editor.edit_config(target="candidate", config=f'<config xmlns="{NC}"><vsis xmlns="{VL2MC}"><vsi><name>a</name>'
                                                 '<description>d3</description></vsi></vsis></config>')
    editor.commit()
    _, change = take_content(watcher, qn(NCN, "netconf-config-change"))
    assert sorted(_edits(change)) == [("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:description", "replace"),
                                      ("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='y']", "create")]


def test_saving_to_startup_is_a_config_change_of_startup(nc_factory: Callable[..., Any]) -> None:
    watcher = watching(nc_factory, "netconf-config-change")
    editor = nc_factory()
    editor.edit_config(target="running", config=CONFIG_ON)
    take_content(watcher, qn(NCN, "netconf-config-change"))        # running's own change
    editor.copy_config(source="running", target="startup")
    _, saved = take_content(watcher, qn(NCN, "netconf-config-change"))
    enable = "/vl2mc:l2-multicast/vl2mc:igmp-snooping-enable"     # its default (false) was there
    assert saved.findtext(qn(NCN, "datastore")) == "startup"
    assert _edits(saved) == [(enable, "replace")]
    editor.delete_config(target="startup")
    _, deleted = take_content(watcher, qn(NCN, "netconf-config-change"))
    assert deleted.findtext(qn(NCN, "datastore")) == "startup"
    assert _edits(deleted) == [(enable, "replace")]                 # back to the default


def test_rollback_after_a_kill_session_names_the_server(nc_factory: Callable[..., Any]) -> None:
    watcher = watching(nc_factory, "netconf-config-change")
    victim = nc_factory()
    victim.edit_config(target="candidate", config=CONFIG_ON)
    victim.commit(confirmed=True, timeout="600")
    take_content(watcher, qn(NCN, "netconf-config-change"))     # the confirmed commit itself
    killer = nc_factory()
    killer.kill_session(victim.session_id)
    _, rollback = take_content(watcher, qn(NCN, "netconf-config-change"))
    assert rollback.find(f"{{{NCN}}}changed-by/{{{NCN}}}server") is not None


def test_config_change_made_by_the_server_itself_names_the_server(nc_factory: Callable[..., Any]) -> None:
    """A confirmed commit that times out is rolled back by the server: changed-by is `<server/>`."""
    watcher = watching(nc_factory, "netconf-config-change")
    editor = nc_factory()
    editor.edit_config(target="candidate", config=CONFIG_ON)
    editor.commit(confirmed=True, timeout="1")
    _, by_session = take_content(watcher, qn(NCN, "netconf-config-change"))
    assert by_session.findtext(f"{{{NCN}}}changed-by/{{{NCN}}}session-id") == str(editor.session_id)
    message, by_server = take_content(watcher, qn(NCN, "netconf-config-change"))   # the rollback
    assert by_server.find(f"{{{NCN}}}changed-by/{{{NCN}}}server") is not None
    assert by_server.find(f"{{{NCN}}}changed-by/{{{NCN}}}session-id") is None
    ok, why = yanglint_notification(etree.tostring(message), running_data(editor))
    assert ok, why


@pytest.mark.parametrize("event, timeout", [("start", 600), ("extend", 30), ("complete", None),
                                            ("cancel", None), ("timeout", None)])
def test_confirmed_commit_notification_is_valid_for_every_event(agent_server: Any, nc_factory: Callable[..., Any],
                                                                event: str, timeout: int | None) -> None:
    watcher = watching(nc_factory, "netconf-confirmed-commit")

    def emit() -> None:
        session = agent_server.server.sessions[int(watcher.session_id)]
        agent_server.server.notifications.sources.confirmed_commit_event(event, session, timeout)

    agent_server.run(emit)
    message, body = take_content(watcher, qn(NCN, "netconf-confirmed-commit"))
    assert body.findtext(qn(NCN, "confirm-event")) == event
    assert (body.find(qn(NCN, "session-id")) is None) == (event == "timeout")
    assert body.findtext(qn(NCN, "timeout")) == (str(timeout) if timeout is not None else None)
    ok, why = yanglint_notification(etree.tostring(message))
    assert ok, why


def _confirm_events(watcher: Any, count: int) -> list[tuple[str | None, str | None, str | None]]:
    found = []
    for _ in range(count):
        _, body = take_content(watcher, qn(NCN, "netconf-confirmed-commit"))
        found.append((body.findtext(qn(NCN, "confirm-event")), body.findtext(qn(NCN, "session-id")),
                      body.findtext(qn(NCN, "timeout"))))
    return found


def test_confirmed_commits_report_start_extend_and_complete(nc_factory: Callable[..., Any]) -> None:
    watcher = watching(nc_factory, "netconf-confirmed-commit")
    editor = nc_factory()
    editor.edit_config(target="candidate", config=CONFIG_ON)
    editor.commit(confirmed=True, timeout="600")
    editor.commit(confirmed=True, timeout="300")
    editor.commit()
    me = str(editor.session_id)
    assert _confirm_events(watcher, 3) == [("start", me, "600"), ("extend", me, "300"), ("complete", me, None)]


def test_cancelled_and_abandoned_confirmed_commits_report_cancel(nc_factory: Callable[..., Any]) -> None:
    watcher = watching(nc_factory, "netconf-confirmed-commit")
    editor = nc_factory()
    editor.edit_config(target="candidate", config=CONFIG_ON)
    editor.commit(confirmed=True, timeout="600")
    editor.cancel_commit()
    leaver = nc_factory()
    leaver.edit_config(target="candidate", config=CONFIG_ON)
    leaver.commit(confirmed=True, timeout="600")
    leaver_id = str(leaver.session_id)
    leaver.close_session()
    assert _confirm_events(watcher, 4) == [("start", str(editor.session_id), "600"),
                                           ("cancel", str(editor.session_id), None),
                                           ("start", leaver_id, "600"), ("cancel", leaver_id, None)]


def test_a_confirmed_commit_that_times_out_reports_timeout(nc_factory: Callable[..., Any]) -> None:
    watcher = watching(nc_factory, "netconf-confirmed-commit")
    editor = nc_factory()
    editor.edit_config(target="candidate", config=CONFIG_ON)
    editor.commit(confirmed=True, timeout="1")
    assert _confirm_events(watcher, 2) == [("start", str(editor.session_id), "1"), ("timeout", None, None)]


# --- the dataplane's notifications ----------------------------------------------------------------

OPERATIONAL_IPTV = f'<vsis xmlns="{VL2MC}"><vsi><name>iptv</name></vsi></vsis>'


def _dataplane_events(agent: Any, events: list[Any]) -> None:
    agent.run(lambda: agent.server.notifications.sources.dataplane_events(events))


def test_install_listens_to_the_dataplane(agent_server: Any) -> None:
    sources = agent_server.run(lambda: agent_server.server.notifications.sources)
    assert sources.dataplane_events in agent_server.server.dataplane.listeners


def test_pw_switchover_event_becomes_a_pw_switchover_notification(agent_server: Any, nc: manager.Manager) -> None:
    nc.create_subscription()
    epoch = agent_server.server.dataplane.epoch
    event = PwSwitchover("iptv", ("10.0.0.1", 100), ("10.0.0.2", 100), 3, 12.5)
    _dataplane_events(agent_server, [event])
    message, body = take_content(nc, qn(VL2MC, "pw-switchover"))
    when = notification_events.date_and_time(datetime.fromtimestamp(epoch + 12.5, timezone.utc))
    assert message.findtext(EVENT_TIME) == when
    assert body.findtext(qn(VL2MC, "vsi")) == "iptv"
    assert body.findtext(f"{{{VL2MC}}}from-pw/{{{VL2MC}}}peer-address") == "10.0.0.1"
    assert body.findtext(f"{{{VL2MC}}}to-pw/{{{VL2MC}}}peer-address") == "10.0.0.2"
    assert body.findtext(f"{{{VL2MC}}}to-pw/{{{VL2MC}}}vc-id") == "100"
    assert body.findtext(qn(VL2MC, "preinstalled-groups")) == "3"
    assert body.findtext(qn(VL2MC, "time")) == when
    ok, why = yanglint_notification(etree.tostring(message), OPERATIONAL_IPTV)
    assert ok, why


def test_pw_switchover_names_the_pw_ports_the_dataplane_knows(agent_server: Any, nc: manager.Manager) -> None:
    nc.edit_config(target="running", config=to_xml(upe_config()))
    nc.create_subscription(filter=("subtree", f'<pw-switchover xmlns="{VL2MC}"/>'))
    _dataplane_events(agent_server, [PwSwitchover("iptv", ("10.0.0.1", 100), ("10.0.0.2", 100), 0, 1.0)])
    message, body = take_content(nc, qn(VL2MC, "pw-switchover"))
    assert body.findtext(f"{{{VL2MC}}}from-pw/{{{VL2MC}}}interface") == "pw-spe1"
    assert body.findtext(f"{{{VL2MC}}}to-pw/{{{VL2MC}}}interface") == "pw-spe2"
    ok, why = yanglint_notification(etree.tostring(message), OPERATIONAL_IPTV)
    assert ok, why


def test_group_limit_exceeded_event_becomes_a_group_limit_exceeded_notification(
        agent_server: Any, nc: manager.Manager) -> None:
    nc.create_subscription()
    epoch = agent_server.server.dataplane.epoch
    _dataplane_events(agent_server, [GroupLimitExceeded("iptv", 2, 7.0, "239.1.1.3")])
    message, body = take_content(nc, qn(VL2MC, "group-limit-exceeded"))
    assert message.findtext(EVENT_TIME) == notification_events.date_and_time(
        datetime.fromtimestamp(epoch + 7.0, timezone.utc))
    assert (body.findtext(qn(VL2MC, "vsi")), body.findtext(qn(VL2MC, "limit")),
            body.findtext(qn(VL2MC, "group-address"))) == ("iptv", "2", "239.1.1.3")
    ok, why = yanglint_notification(etree.tostring(message), OPERATIONAL_IPTV)
    assert ok, why


def test_other_dataplane_events_are_not_notifications(agent_server: Any, nc: manager.Manager) -> None:
    nc.create_subscription()
    _dataplane_events(agent_server, [GroupAdded("iptv", "239.1.1.1", "0.0.0.0", 1.0),
                                     GroupLimitExceeded("last", 1, 2.0)])
    assert marker_vsi(take(nc)) == "last"


def test_dataplane_events_are_logged_for_replay(agent_server: Any, nc: manager.Manager) -> None:
    dataplane = agent_server.server.dataplane
    core_time = agent_server.run(dataplane.now) - 1.0
    _dataplane_events(agent_server, [GroupLimitExceeded("iptv", 2, core_time)])
    start = datetime.fromtimestamp(dataplane.epoch + core_time, timezone.utc)
    nc.create_subscription(filter=MARKERS, start_time=rfc3339(start))
    assert marker_vsi(take(nc)) == "iptv"
    assert content(take(nc)).tag == qn(NETMOD_NOTIFICATION, "replayComplete")
