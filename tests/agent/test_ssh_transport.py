"""RFC 6242 transport rules: SSH subsystem, authentication, host key, connection lifecycle."""

from __future__ import annotations

import asyncio
import socket
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import asyncssh
import paramiko
import pytest
from lxml import etree
from ncclient.transport.errors import AuthenticationError
from ncclient.xml_ import to_ele

from agent.ssh_server import COALESCE_LIMIT, HOST_KEY_FILE, write_coalesced
from agent.xmlns import NC, VL2MC, qn
from tests.agent.test_session import TEST_NS, echo
from tests.conftest import RawNetconf, RunningAgent


def ssh_client(agent: RunningAgent, **kwargs) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    options = dict(username=agent.username, password=agent.password, look_for_keys=False,
                   allow_agent=False, timeout=30)
    options.update(kwargs)
    client.connect(agent.host, port=agent.port, **options)
    return client


def loop_tasks(agent: RunningAgent) -> int:
    """Tasks alive on the agent's loop, apart from the one counting them."""
    async def count() -> int:
        return len(asyncio.all_tasks()) - 1
    return agent.call(count())


def quiet(agent: RunningAgent) -> bool:
    return agent.wait_until(lambda s: not s.sessions and s.connection_count == 0)


# --- authentication ---------------------------------------------------------------------------

def test_wrong_password_is_refused(agent_server) -> None:
    with pytest.raises(AuthenticationError):
        agent_server.connect(password="not-the-password")


def test_connection_is_closed_after_max_auth_tries_wrong_passwords(agent_server) -> None:
    """Like OpenSSH's MaxAuthTries: password guessing costs a new connection every few tries."""
    from agent.server import MAX_AUTH_TRIES

    tries: list[str] = []

    class Guesser(asyncssh.SSHClient):
        def password_auth_requested(self) -> str | None:
            if len(tries) > MAX_AUTH_TRIES + 2:
                return None          # give up: the server never closed the connection
            tries.append(f"wrong-{len(tries)}")
            return tries[-1]

    async def guess() -> None:
        await asyncssh.connect(agent_server.host, agent_server.port, username=agent_server.username,
                               known_hosts=None, client_factory=Guesser, client_keys=None,
                               agent_path=None, preferred_auth="password")

    with pytest.raises(asyncssh.DisconnectError):
        asyncio.run(guess())
    assert len(tries) == MAX_AUTH_TRIES
    assert agent_server.wait_until(lambda server: server.connection_count == 0)


def test_unknown_user_is_refused(agent_server) -> None:
    with pytest.raises(AuthenticationError):
        agent_server.connect(username="mallory", password=agent_server.password)


def test_public_key_of_the_user_is_accepted(agent_server, tmp_path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    key.write_private_key(str(key_file))
    agent_server.server.users.add("operator", key=key.export_public_key().decode())
    nc = agent_server.connect(username="operator", password="", key_filename=str(key_file))
    try:
        assert echo(nc) == "hi"
        session = agent_server.run(lambda: agent_server.server.sessions[int(nc.session_id)])
        assert session.username == "operator"
    finally:
        nc.close_session()


def test_public_key_of_another_user_is_refused(agent_server, tmp_path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    key.write_private_key(str(key_file))
    agent_server.server.users.add("operator", key=key.export_public_key().decode())
    with pytest.raises(AuthenticationError):
        agent_server.connect(username="admin", password="wrong", key_filename=str(key_file))


def test_user_added_while_running_can_log_in_without_a_restart(agent_server) -> None:
    agent_server.server.users.add("late", password="late-password")
    nc = agent_server.connect(username="late", password="late-password")
    nc.close_session()


# --- what is served ---------------------------------------------------------------------------

def test_exec_is_refused(agent_server) -> None:
    client = ssh_client(agent_server)
    try:
        with pytest.raises(paramiko.SSHException):
            client.exec_command("id")
    finally:
        client.close()


def test_shell_is_refused(agent_server) -> None:
    client = ssh_client(agent_server)
    try:
        channel = client.get_transport().open_session()
        with pytest.raises(paramiko.SSHException):
            channel.invoke_shell()
    finally:
        client.close()


def test_other_subsystems_are_refused(agent_server) -> None:
    client = ssh_client(agent_server)
    try:
        channel = client.get_transport().open_session()
        with pytest.raises(paramiko.SSHException):
            channel.invoke_subsystem("sftp")
    finally:
        client.close()


def test_netconf_subsystem_still_works_after_a_refused_request_on_the_same_connection(agent_server) -> None:
    client = ssh_client(agent_server)
    try:
        with pytest.raises(paramiko.SSHException):
            client.exec_command("id")
        channel = client.get_transport().open_session()
        channel.invoke_subsystem("netconf")
        assert b"<hello" in channel.recv(65536)
    finally:
        client.close()


def test_port_forwarding_is_refused(agent_server) -> None:
    client = ssh_client(agent_server)
    try:
        with pytest.raises(paramiko.ChannelException):
            client.get_transport().open_channel("direct-tcpip", ("127.0.0.1", agent_server.port), ("127.0.0.1", 0))
    finally:
        client.close()


def test_listens_only_on_the_configured_address(agent_server) -> None:
    addresses = agent_server.run(agent_server.server.addresses)
    assert addresses and all(address[0] == "127.0.0.1" for address in addresses)


def test_connections_use_tcp_nodelay(agent_server, nc) -> None:
    def nodelay_flags() -> list[int]:
        return [conn.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                for conn in agent_server.server.connections()]
    flags = agent_server.run(nodelay_flags)
    assert flags and all(flags)


# --- host key ---------------------------------------------------------------------------------

def test_host_key_is_ed25519_kept_in_the_state_dir_with_mode_0600(agent_server) -> None:
    path = agent_server.state_dir / HOST_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert asyncssh.read_private_key(path).algorithm == b"ssh-ed25519"


def test_host_key_is_reused_across_restarts(agent_server) -> None:
    def served_key() -> str:
        client = ssh_client(agent_server)
        try:
            return client.get_transport().get_remote_server_key().get_base64()
        finally:
            client.close()

    before = served_key()
    agent_server.restart()
    assert served_key() == before
    assert asyncssh.read_private_key(agent_server.state_dir / HOST_KEY_FILE).export_public_key() \
        .split()[1].decode() == before


def test_host_key_readable_by_others_is_restricted_to_0600_on_start(agent_server) -> None:
    path = agent_server.state_dir / HOST_KEY_FILE
    path.chmod(0o644)
    agent_server.restart()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- connection lifecycle ---------------------------------------------------------------------

def _leaves_nothing_behind(agent: RunningAgent, act) -> None:
    # warm up: the first login starts the two auth worker threads, which then stay for reuse
    warm = agent.connect()
    warm.close_session()
    assert quiet(agent)
    tasks, threads = loop_tasks(agent), threading.active_count()
    act()
    assert quiet(agent)
    # the client library's own threads (paramiko, ncclient) wind down on their own time:
    # poll, and fail only if something is still there after a generous wait
    assert eventually(lambda: loop_tasks(agent) == tasks)
    assert eventually(lambda: threading.active_count() <= threads)


def eventually(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_disconnect_before_hello_leaves_nothing_behind(agent_server) -> None:
    def act() -> None:
        client = RawNetconf(agent_server.host, agent_server.port, agent_server.username, agent_server.password)
        client.read_eom()
        client.close()
    _leaves_nothing_behind(agent_server, act)


def test_disconnect_mid_chunk_leaves_nothing_behind(agent_server) -> None:
    def act() -> None:
        client = RawNetconf(agent_server.host, agent_server.port, agent_server.username, agent_server.password)
        client.hello()
        client.send(b"\n#1000\n<rpc xmlns='urn:ietf:params:xml:ns:netconf:base:1.0'")
        client.close()
    _leaves_nothing_behind(agent_server, act)


def test_disconnect_mid_rpc_header_leaves_nothing_behind(agent_server) -> None:
    def act() -> None:
        client = RawNetconf(agent_server.host, agent_server.port, agent_server.username, agent_server.password)
        client.hello()
        client.send(b"\n#12")
        client.close()
    _leaves_nothing_behind(agent_server, act)


def test_disconnect_during_authentication_leaves_nothing_behind(agent_server) -> None:
    def act() -> None:
        transport = paramiko.Transport((agent_server.host, agent_server.port))
        transport.start_client(timeout=30)
        transport.close()
    _leaves_nothing_behind(agent_server, act)


def test_disconnect_with_unread_replies_leaves_nothing_behind(agent_server) -> None:
    def act() -> None:
        client = RawNetconf(agent_server.host, agent_server.port, agent_server.username, agent_server.password)
        client.hello()
        big = f'<echo xmlns="{TEST_NS}">{"z" * 60000}</echo>'
        for i in range(50):
            client.send(client.frame(f'<rpc xmlns="{NC}" message-id="{i}">{big}</rpc>'.encode()))
        client.close()
    _leaves_nothing_behind(agent_server, act)


def test_idle_session_is_dropped_after_the_idle_timeout(make_agent) -> None:
    agent = make_agent(idle_timeout=0.2)
    client = RawNetconf(agent.host, agent.port, agent.username, agent.password)
    try:
        client.hello()
        assert client.wait_closed(timeout=30)
        assert agent.wait_until(lambda s: s.statistics.dropped_sessions == 1 and s.connection_count == 0)
    finally:
        client.close()


def test_client_that_sends_no_hello_is_dropped_after_the_hello_timeout(make_agent) -> None:
    agent = make_agent(hello_timeout=0.2)
    client = RawNetconf(agent.host, agent.port, agent.username, agent.password)
    try:
        client.read_eom()   # the server hello; ours never comes
        assert client.wait_closed(timeout=30)
        assert agent.wait_until(lambda s: s.statistics.in_bad_hellos == 1 and s.connection_count == 0)
    finally:
        client.close()


def test_hello_timeout_does_not_touch_an_established_session(make_agent) -> None:
    agent = make_agent(hello_timeout=0.05)
    nc = agent.connect()
    try:
        time.sleep(0.3)   # well past the hello timeout (a wait, not a timed assertion)
        assert echo(nc) == "hi"
    finally:
        nc.close_session()


def test_concurrent_sessions_each_get_their_own_replies(nc_factory) -> None:
    managers = [nc_factory() for _ in range(6)]

    def work(index: int) -> list[str]:
        return [echo(managers[index], f"s{index}-{n}") for n in range(15)]

    with ThreadPoolExecutor(len(managers)) as pool:
        results = list(pool.map(work, range(len(managers))))
    assert results == [[f"s{i}-{n}" for n in range(15)] for i in range(len(managers))]


def test_a_slow_session_does_not_block_another(raw_netconf, nc) -> None:
    slow = raw_netconf()
    slow.hello()
    slow.send(b"\n#50\n<rpc")   # half a message, then silence
    assert echo(nc) == "hi"


def test_stop_ends_every_session_and_runs_the_hooks(agent_server, nc) -> None:
    ended: list[int] = []
    agent_server.run(lambda: agent_server.server.session_end_hooks.append(lambda s: ended.append(s.id)))
    agent_server.call(agent_server.server.stop())
    assert ended == [int(nc.session_id)]
    assert agent_server.run(lambda: agent_server.server.connection_count) == 0
    agent_server.call(agent_server.server.start())   # so the fixture's teardown can stop it again


def test_reply_to_a_large_request_arrives_whole(nc) -> None:
    text = "w" * 3_000_000
    reply = nc.dispatch(to_ele(f'<echo xmlns="{TEST_NS}">{text}</echo>'))
    assert etree.fromstring(reply.xml.encode()).findtext(qn(TEST_NS, "echoed")) == text


# --- write coalescing -------------------------------------------------------------------------

class _PacketConnection:
    """Stands in for asyncssh's connection: every packet goes through ``_send``."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def _send(self, data: bytes) -> None:
        self.writes.append(data)

    def send_reply(self, *packets: bytes) -> None:
        for packet in packets:
            self._send(packet)


def test_packets_of_one_reply_leave_in_one_write_in_order() -> None:
    conn = _PacketConnection()
    write_coalesced(conn, lambda data: conn.send_reply(b"ignore", data, b"more"), b"data")
    assert conn.writes == [b"ignoredatamore"]


def test_packets_queued_before_an_error_are_still_written() -> None:
    conn = _PacketConnection()

    def failing(data: bytes) -> None:
        conn.send_reply(b"ignore", data)
        raise RuntimeError("the channel failed half-way")
    with pytest.raises(RuntimeError):
        write_coalesced(conn, failing, b"data")
    assert conn.writes == [b"ignoredata"]
    conn.send_reply(b"later")   # and the connection writes directly again afterwards
    assert conn.writes == [b"ignoredata", b"later"]


def test_nested_coalescing_writes_once_at_the_outer_end() -> None:
    conn = _PacketConnection()

    def outer(data: bytes) -> None:
        conn.send_reply(data)
        write_coalesced(conn, conn.send_reply, b"b")
        assert conn.writes == []
    write_coalesced(conn, outer, b"a")
    assert conn.writes == [b"ab"]


def test_a_big_reply_streams_packet_by_packet() -> None:
    conn = _PacketConnection()
    big = b"x" * (COALESCE_LIMIT + 1)
    write_coalesced(conn, lambda data: conn.send_reply(b"ignore", data), big)
    assert conn.writes == [b"ignore", big]


def test_a_connection_without_a_single_send_exit_is_written_as_before() -> None:
    written: list[bytes] = []
    write_coalesced(object(), written.append, b"x")
    assert written == [b"x"]


def test_a_small_reply_reaches_the_socket_in_one_write(agent_server, raw_netconf) -> None:
    client = raw_netconf()
    client.hello()
    writes: list[int] = []

    def count_transport_writes() -> None:
        for conn in agent_server.server.connections():
            transport = conn._transport
            write = transport.write

            def counting(data: bytes, write=write) -> None:
                writes.append(len(data))
                write(data)
            transport.write = counting
    agent_server.run(count_transport_writes)
    reply = client.rpc(f'<get-config><source><running/></source><filter type="subtree">'
                       f'<vsis xmlns="{VL2MC}"><vsi><name>none</name></vsi></vsis></filter></get-config>')
    assert reply.find(qn(NC, "data")) is not None
    assert len(writes) == 1
