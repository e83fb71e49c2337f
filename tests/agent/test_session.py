"""RFC 6241 / RFC 6242 session rules, over real SSH (ncclient, or the raw client for bad input)."""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError
from ncclient.xml_ import to_ele

from agent.errors import ErrorTag, RpcError
from agent.rpc import RpcContext, operation
from agent.session import Session
from agent.xmlns import NC, qn
from tests.conftest import BASE_1_0, BASE_1_1, RawNetconf, RunningAgent

TEST_NS = "urn:vsi-multicast-agent:test:session"
CAP = "urn:ietf:params:netconf:capability:"


# --- test-only operations (a namespace no client would use) ---------------------------------

@operation(qn(TEST_NS, "echo"))
def _echo(ctx: RpcContext, op: etree._Element) -> etree._Element:
    out = etree.Element(qn(TEST_NS, "echoed"))
    out.text = op.text
    return out


@operation(qn(TEST_NS, "warn"))
def _warn(ctx: RpcContext, op: etree._Element) -> None:
    ctx.warnings.append(RpcError(ErrorTag.OPERATION_FAILED, "just a warning", severity="warning"))


@operation(qn(TEST_NS, "crash"))
def _crash(ctx: RpcContext, op: etree._Element) -> None:
    raise ZeroDivisionError("a bug in a handler")


def echo(nc, text: str = "hi") -> str:
    reply = nc.dispatch(to_ele(f'<echo xmlns="{TEST_NS}">{text}</echo>'))
    return etree.fromstring(reply.xml.encode()).findtext(qn(TEST_NS, "echoed"))


def raw_echo(client: RawNetconf, text: str = "hi") -> str:
    reply = client.rpc(f'<echo xmlns="{TEST_NS}">{text}</echo>')
    return reply.findtext(qn(TEST_NS, "echoed"))


def error_tag(reply: etree._Element) -> str | None:
    return reply.findtext(f"{{{NC}}}rpc-error/{{{NC}}}error-tag")


def error_info(reply: etree._Element, name: str) -> str | None:
    return reply.findtext(f"{{{NC}}}rpc-error/{{{NC}}}error-info/{{{NC}}}{name}")


def session_of(agent: RunningAgent, session_id: int) -> Session:
    return agent.run(lambda: agent.server.sessions[session_id])


# --- hello (RFC 6241 8.1) ---------------------------------------------------------------------

def test_server_hello_announces_the_capabilities(nc) -> None:
    caps = set(nc.server_capabilities)
    for uri in (BASE_1_0, BASE_1_1, CAP + "candidate:1.0", CAP + "confirmed-commit:1.1",
                CAP + "validate:1.1", CAP + "startup:1.0", CAP + "writable-running:1.0",
                CAP + "rollback-on-error:1.0", CAP + "xpath:1.0",
                CAP + "with-defaults:1.0?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim"):
        assert uri in caps
    assert not any(c.startswith(CAP + "url") for c in caps)


def test_server_hello_announces_yang_library_1_1_with_a_content_id(nc, agent_server) -> None:
    [library] = [c for c in nc.server_capabilities if c.startswith(CAP + "yang-library:")]
    assert library == f"{CAP}yang-library:1.1?revision=2019-01-04&content-id={agent_server.server.content_id()}"


def test_yang_1_0_modules_are_announced_as_module_capabilities_and_yang_1_1_are_not(nc) -> None:
    caps = list(nc.server_capabilities)
    assert any(c.startswith("urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring?module=ietf-netconf-monitoring&")
               for c in caps)
    # ietf-yang-library 2019 and our module are YANG 1.1: only yang-library announces them
    assert not any("module=ietf-yang-library" in c or "module=vsi-l2-multicast" in c for c in caps)


def test_each_session_gets_its_own_nonzero_session_id(nc_factory) -> None:
    ids = [nc_factory().session_id for _ in range(3)]
    assert len(set(ids)) == 3 and all(int(i) > 0 for i in ids)


def test_server_hello_carries_the_session_id_the_server_uses(raw_netconf, agent_server) -> None:
    client = raw_netconf()
    hello = client.hello()
    session_id = int(hello.findtext(qn(NC, "session-id")))
    assert agent_server.wait_until(lambda s: session_id in s.sessions)


def test_base_1_1_client_gets_chunked_framing(raw_netconf) -> None:
    client = raw_netconf()
    client.hello((BASE_1_0, BASE_1_1))
    client.send(b'\n#%d\n<rpc xmlns="%s" message-id="7"><echo xmlns="%s">c</echo></rpc>\n##\n' % (
        len(f'<rpc xmlns="{NC}" message-id="7"><echo xmlns="{TEST_NS}">c</echo></rpc>'),
        NC.encode(), TEST_NS.encode()))
    raw = client.read_chunked()
    assert b"]]>]]>" not in raw
    assert etree.fromstring(raw).findtext(qn(TEST_NS, "echoed")) == "c"


def test_base_1_0_client_gets_end_of_message_framing(raw_netconf) -> None:
    client = raw_netconf()
    client.hello((BASE_1_0,))
    client.send(f'<rpc xmlns="{NC}" message-id="8"><echo xmlns="{TEST_NS}">e</echo></rpc>]]>]]>'.encode())
    reply = etree.fromstring(client.read_eom())
    assert reply.get("message-id") == "8" and reply.findtext(qn(TEST_NS, "echoed")) == "e"


def test_newline_after_the_end_of_message_marker_is_tolerated(raw_netconf) -> None:
    client = raw_netconf()
    client.hello((BASE_1_0,))
    client.send(f'\n<rpc xmlns="{NC}" message-id="9"><echo xmlns="{TEST_NS}">n</echo></rpc>]]>]]>'.encode())
    assert etree.fromstring(client.read_eom()).findtext(qn(TEST_NS, "echoed")) == "n"


def test_ncclient_speaks_base_1_1_with_the_agent(nc, agent_server) -> None:
    assert echo(nc) == "hi"
    assert session_of(agent_server, int(nc.session_id)).base_1_1


@pytest.mark.parametrize("hello", [
    f'<hello xmlns="{NC}"><capabilities><capability>urn:x</capability></capabilities></hello>',
    f'<hello xmlns="{NC}"><capabilities><capability>{BASE_1_1}</capability>'
    f'</capabilities><session-id>4</session-id></hello>',
    f'<rpc xmlns="{NC}" message-id="1"><get/></rpc>',
    '<hello><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>',
    "<hello",
], ids=["no-base-capability", "client-session-id", "rpc-before-hello", "no-namespace", "not-xml"])
def test_bad_client_hello_ends_the_session(raw_netconf, agent_server, hello: str) -> None:
    client = raw_netconf()
    client.read_eom()
    client.send(hello.encode() + b"]]>]]>")
    assert client.wait_closed()
    assert agent_server.wait_until(lambda s: not s.sessions)
    assert agent_server.run(lambda: agent_server.server.statistics.in_bad_hellos) == 1


# --- rpc parsing (RFC 6241 3, 4.1) ------------------------------------------------------------

def test_malformed_xml_is_answered_with_malformed_message_and_the_session_goes_on(raw_netconf) -> None:
    client = raw_netconf()
    client.hello()
    reply = client.rpc(b"<rpc xmlns='urn:ietf:params:xml:ns:netconf:base:1.0' message-id='1'><get></rpc>")
    assert error_tag(reply) == "malformed-message"
    assert reply.get("message-id") is None   # it could not be read
    assert raw_echo(client) == "hi"


def test_doctype_is_refused_as_malformed_message(raw_netconf) -> None:
    client = raw_netconf()
    client.hello()
    reply = client.rpc(f'<?xml version="1.0"?><!DOCTYPE rpc [<!ELEMENT rpc ANY>]>'
                       f'<rpc xmlns="{NC}" message-id="1"><echo xmlns="{TEST_NS}">x</echo></rpc>')
    assert error_tag(reply) == "malformed-message"
    assert reply.find(qn(TEST_NS, "echoed")) is None


def test_entity_expansion_is_refused_and_nothing_is_expanded(raw_netconf) -> None:
    client = raw_netconf()
    client.hello()
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    reply = client.rpc(f'<?xml version="1.0"?><!DOCTYPE rpc [<!ENTITY l0 "lol">{laughs}]>'
                       f'<rpc xmlns="{NC}" message-id="1"><echo xmlns="{TEST_NS}">&l9;</echo></rpc>')
    assert error_tag(reply) == "malformed-message"
    assert b"lollol" not in etree.tostring(reply)


def test_external_entity_is_never_read(raw_netconf, tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    client = raw_netconf()
    client.hello()
    reply = client.rpc(f'<?xml version="1.0"?><!DOCTYPE rpc [<!ENTITY x SYSTEM "file://{secret}">]>'
                       f'<rpc xmlns="{NC}" message-id="1"><echo xmlns="{TEST_NS}">&x;</echo></rpc>')
    assert error_tag(reply) == "malformed-message"
    assert b"TOP-SECRET" not in etree.tostring(reply)


def test_undeclared_entity_reference_is_malformed(raw_netconf) -> None:
    client = raw_netconf()
    client.hello()
    reply = client.rpc(f'<echo xmlns="{TEST_NS}">&nope;</echo>')
    assert error_tag(reply) == "malformed-message"


def test_message_that_is_not_an_rpc_is_malformed(raw_netconf) -> None:
    client = raw_netconf()
    client.hello()
    client.send(client.frame(b'<notrpc xmlns="urn:x" message-id="3"/>'))
    reply = client.read_message()
    assert error_tag(reply) == "malformed-message"
    assert raw_echo(client) == "hi"


def test_rpc_without_message_id_gets_missing_attribute(raw_netconf) -> None:
    client = raw_netconf()
    client.hello()
    reply = client.rpc(f'<echo xmlns="{TEST_NS}">x</echo>', message_id=None)
    assert error_tag(reply) == "missing-attribute"
    assert reply.findtext(f"{{{NC}}}rpc-error/{{{NC}}}error-type") == "rpc"
    assert error_info(reply, "bad-attribute") == "message-id"
    assert error_info(reply, "bad-element") == "rpc"
    assert reply.find(qn(TEST_NS, "echoed")) is None


def test_unknown_operation_gets_operation_not_supported(nc) -> None:
    with pytest.raises(RPCError) as err:
        nc.dispatch(to_ele('<frobnicate xmlns="urn:example:nothing"/>'))
    assert err.value.tag == "operation-not-supported"
    assert err.value.type == "protocol"


def test_rpc_without_an_operation_gets_missing_element(raw_netconf) -> None:
    client = raw_netconf()
    client.hello()
    reply = client.rpc(b"")
    assert error_tag(reply) == "missing-element"


def test_reply_copies_every_rpc_attribute(raw_netconf) -> None:
    client = raw_netconf()
    client.hello()
    reply = client.rpc(f'<rpc xmlns="{NC}" xmlns:ex="urn:example:attrs" message-id="101" '
                       f'ex:user-id="fred" other="x"><echo xmlns="{TEST_NS}">a</echo></rpc>')
    assert reply.tag == qn(NC, "rpc-reply")
    assert reply.get("message-id") == "101"
    assert reply.get("{urn:example:attrs}user-id") == "fred"
    assert reply.get("other") == "x"


def test_operation_output_becomes_the_reply_content(nc) -> None:
    assert echo(nc, "payload") == "payload"


def test_warnings_go_with_ok(raw_netconf) -> None:
    client = raw_netconf()
    client.hello()
    reply = client.rpc(f'<warn xmlns="{TEST_NS}"/>')
    assert reply.findtext(f"{{{NC}}}rpc-error/{{{NC}}}error-severity") == "warning"
    assert reply.find(qn(NC, "ok")) is not None


def test_a_failing_handler_is_operation_failed_and_the_session_survives(nc) -> None:
    with pytest.raises(RPCError) as err:
        nc.dispatch(to_ele(f'<crash xmlns="{TEST_NS}"/>'))
    assert err.value.tag == "operation-failed"
    assert "a bug in a handler" not in err.value.message   # internals stay in the log
    assert echo(nc) == "hi"


# --- framing failures (RFC 6242) -------------------------------------------------------------

def test_broken_chunk_framing_is_answered_then_the_session_closes(raw_netconf, nc, agent_server) -> None:
    client = raw_netconf()
    client.hello()
    client.send(b"\n#007\n<rpc/>\n##\n")
    reply = client.read_message()
    assert error_tag(reply) == "malformed-message"
    assert client.wait_closed()
    assert echo(nc) == "hi"   # other sessions unharmed


def test_oversized_message_is_answered_too_big_then_the_session_closes(make_agent) -> None:
    agent = make_agent(max_message_size=4096)
    client = RawNetconf(agent.host, agent.port, agent.username, agent.password)
    try:
        client.hello()
        client.send_until_closed(b"\n#100000\n" + b"x" * 100000)
        reply = client.read_message()
        assert error_tag(reply) == "too-big"
        assert client.wait_closed()
    finally:
        client.close()
    other = agent.connect()
    try:
        assert echo(other) == "hi"
    finally:
        other.close_session()


def test_oversized_end_of_message_stream_is_refused(make_agent) -> None:
    agent = make_agent(max_message_size=4096)
    client = RawNetconf(agent.host, agent.port, agent.username, agent.password)
    try:
        client.hello((BASE_1_0,))
        client.send_until_closed(b"<rpc>" + b"x" * 10000)
        assert error_tag(client.read_message()) == "too-big"
        assert client.wait_closed()
    finally:
        client.close()


def test_message_split_in_many_writes_is_assembled(raw_netconf) -> None:
    client = raw_netconf()
    client.hello()
    message = f'<rpc xmlns="{NC}" message-id="5"><echo xmlns="{TEST_NS}">{"y" * 5000}</echo></rpc>'.encode()
    wire = client.frame(message)
    for i in range(0, len(wire), 7):
        client.send(wire[i:i + 7])
    assert client.read_message().findtext(qn(TEST_NS, "echoed")) == "y" * 5000


def test_several_rpcs_in_one_write_are_answered_in_order(raw_netconf) -> None:
    client = raw_netconf()
    client.hello()
    client.send(b"".join(client.frame(
        f'<rpc xmlns="{NC}" message-id="{i}"><echo xmlns="{TEST_NS}">{i}</echo></rpc>'.encode())
        for i in range(20)))
    replies = [client.read_message() for _ in range(20)]
    assert [r.get("message-id") for r in replies] == [str(i) for i in range(20)]


# --- monitoring counters (RFC 6022) ----------------------------------------------------------

def test_session_counters_count_good_and_bad_rpcs_and_errors(raw_netconf, agent_server) -> None:
    client = raw_netconf()
    session_id = int(client.hello().findtext(qn(NC, "session-id")))
    raw_echo(client)                                             # good
    client.rpc('<frob xmlns="urn:x"/>')                        # good rpc, error reply
    client.rpc(f'<echo xmlns="{TEST_NS}"/>', message_id=None)   # bad rpc
    client.rpc(b"<rpc")                                          # bad rpc
    session = session_of(agent_server, session_id)
    counters = agent_server.run(lambda: session.counters)
    assert (counters.in_rpcs, counters.in_bad_rpcs, counters.out_rpc_errors) == (2, 2, 3)
    assert session.username == "admin" and session.source_host == "127.0.0.1"
    assert session.transport_name == "netconf-ssh" and session.login_time.tzinfo is not None
    stats = agent_server.run(lambda: agent_server.server.statistics)
    assert (stats.in_sessions, stats.in_rpcs, stats.in_bad_rpcs, stats.out_rpc_errors) == (1, 2, 2, 3)


def test_client_that_drops_its_connection_counts_as_a_dropped_session(raw_netconf, agent_server) -> None:
    client = raw_netconf()
    client.hello()
    client.close()
    assert agent_server.wait_until(lambda s: s.statistics.dropped_sessions == 1 and not s.sessions)


# --- close-session / kill-session (RFC 6241 7.8, 7.9) ---------------------------------------

def test_close_session_replies_ok_and_ends_the_session(nc, agent_server) -> None:
    session_id = int(nc.session_id)
    reply = nc.close_session()
    assert reply.ok
    assert agent_server.wait_until(lambda s: session_id not in s.sessions and s.connection_count == 0)
    assert agent_server.run(lambda: agent_server.server.statistics.dropped_sessions) == 0


def test_close_session_runs_the_session_end_hooks(nc, agent_server) -> None:
    ended: list[int] = []
    agent_server.run(lambda: agent_server.server.session_end_hooks.append(lambda s: ended.append(s.id)))
    session_id = int(nc.session_id)
    nc.close_session()
    assert agent_server.wait_until(lambda s: ended == [session_id])


def test_kill_session_of_own_session_is_invalid_value(nc) -> None:
    with pytest.raises(RPCError) as err:
        nc.kill_session(nc.session_id)
    assert err.value.tag == "invalid-value"
    assert echo(nc) == "hi"


def test_kill_session_of_unknown_session_is_invalid_value(nc) -> None:
    with pytest.raises(RPCError) as err:
        nc.kill_session("4242")
    assert err.value.tag == "invalid-value"


@pytest.mark.parametrize("parameter", ["", "<session-id>abc</session-id>", "<session-id>0</session-id>",
                                       "<session-id>-3</session-id>"])
def test_kill_session_with_missing_or_bad_session_id_is_refused(nc, parameter: str) -> None:
    with pytest.raises(RPCError) as err:
        nc.dispatch(to_ele(f'<kill-session xmlns="{NC}">{parameter}</kill-session>'))
    assert err.value.tag == ("missing-element" if not parameter else "invalid-value")


def test_kill_session_ends_the_other_session_and_the_caller_stays(nc_factory, agent_server) -> None:
    victim, killer = nc_factory(), nc_factory()
    ended: list[int] = []
    agent_server.run(lambda: agent_server.server.session_end_hooks.append(lambda s: ended.append(s.id)))
    assert killer.kill_session(victim.session_id).ok
    assert ended == [int(victim.session_id)]   # hooks ran before the reply
    assert agent_server.wait_until(lambda s: int(victim.session_id) not in s.sessions)
    assert agent_server.wait_until(lambda s: s.connection_count == 1)
    assert echo(killer) == "hi"
    assert agent_server.run(lambda: agent_server.server.statistics.dropped_sessions) == 0


def test_killed_session_channel_is_closed(raw_netconf, nc) -> None:
    client = raw_netconf()
    session_id = client.hello().findtext(qn(NC, "session-id"))
    assert nc.kill_session(session_id).ok
    assert client.wait_closed()


def test_kill_session_releases_the_killed_sessions_locks(nc_factory) -> None:
    victim, killer = nc_factory(), nc_factory()
    assert victim.lock("running").ok
    with pytest.raises(RPCError) as err:
        killer.lock("running")
    assert err.value.tag == "lock-denied"
    assert killer.kill_session(victim.session_id).ok
    assert killer.lock("running").ok


def test_close_session_releases_the_sessions_locks(nc_factory, agent_server) -> None:
    first, second = nc_factory(), nc_factory()
    assert first.lock("candidate").ok
    first_id = int(first.session_id)
    first.close_session()
    assert agent_server.wait_until(lambda s: first_id not in s.sessions)
    assert second.lock("candidate").ok


def test_session_end_hooks_run_once_per_session(nc_factory, agent_server) -> None:
    ended: list[int] = []
    agent_server.run(lambda: agent_server.server.session_end_hooks.append(lambda s: ended.append(s.id)))
    victim, killer = nc_factory(), nc_factory()
    killer.kill_session(victim.session_id)
    killer.close_session()
    assert agent_server.wait_until(lambda s: not s.sessions and s.connection_count == 0)
    assert sorted(ended) == sorted([int(victim.session_id), int(killer.session_id)])
