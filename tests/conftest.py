"""Shared fixtures: a real agent over real SSH, ncclient managers, and a raw NETCONF client.

* ``agent_server`` - a :class:`agent.server.Server` on 127.0.0.1 and a free port, with a
  temporary state directory and a known admin password, running on its own asyncio loop in
  a background thread (ncclient is synchronous; the test thread plays the client).
* ``nc`` - an ncclient manager logged in as admin; ``nc_factory()`` makes more of them.
* ``raw_netconf`` - a paramiko-based client that sends arbitrary bytes (malformed XML,
  broken chunks, DOCTYPEs, oversized messages) and reads what the agent answers.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import ncclient.transport.session
import paramiko
import pytest
from lxml import etree
from ncclient import manager

from agent.server import Server, ServerConfig

# Stock ncclient waits up to 0.1 s in select() before sending each queued request.
ncclient.transport.session.TICK = 0.001

ADMIN_PASSWORD = "admin-test-password"
BASE_1_0 = "urn:ietf:params:netconf:base:1.0"
BASE_1_1 = "urn:ietf:params:netconf:base:1.1"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
T = TypeVar("T")

_SCHEMA: Any = None


def compiled_schema() -> Any:
    """The schema is immutable and costs a pyang compile: build it once per test run."""
    global _SCHEMA
    if _SCHEMA is None:
        from agent.schema import load_schema

        _SCHEMA = load_schema()
    return _SCHEMA


class LoopThread:
    """An asyncio loop on a background thread: the test thread plays the client and hands
    the loop work with :meth:`call` (coroutines) and :meth:`run` (plain functions)."""

    loop: asyncio.AbstractEventLoop
    _thread: threading.Thread | None = None

    def _start_loop(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def _stop_loop(self) -> None:
        assert self._thread is not None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()
        self._thread = None

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def run(self, func: Callable[[], T]) -> T:
        """Run a plain function on the loop (the only thread that may touch what runs there)."""
        async def wrapper() -> T:
            return func()
        return self.call(wrapper())


@dataclass
class RunningAgent(LoopThread):
    """An agent on a background event loop; what tests connect to."""

    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    username: str = "admin"
    password: str = ADMIN_PASSWORD
    config_overrides: dict[str, Any] = field(default_factory=dict)
    #: ``() -> Dataplane`` for each start; None: the server's default (a standalone simulator)
    dataplane_factory: Callable[[], Any] | None = None
    server: Server = field(init=False)

    def start(self) -> None:
        self._start_loop("agent-loop")
        options: dict[str, Any] = dict(host=self.host, port=self.port, state_dir=self.state_dir,
                                       admin_password=self.password)
        options.update(self.config_overrides)
        config = ServerConfig(**options)
        try:
            self.server = self.call(self._build_and_start(config))
        except BaseException:
            self._stop_loop()
            raise
        self.port = self.server.port

    async def _build_and_start(self, config: ServerConfig) -> Server:
        dataplane = self.dataplane_factory() if self.dataplane_factory is not None else None
        server = Server(config, schema=compiled_schema(), dataplane=dataplane)
        await server.start()
        return server

    def stop(self) -> None:
        if self._thread is None:
            return
        try:
            self.call(self.server.stop())
        finally:
            self._stop_loop()

    def restart(self) -> None:
        """Stop and start again on the same port and state directory (persistence tests)."""
        self.stop()
        self.start()

    def wait_until(self, predicate: Callable[[Server], bool], timeout: float = 10.0) -> bool:
        """Poll ``predicate(server)`` on the loop until it holds; False if it never did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run(lambda: predicate(self.server)):
                return True
            time.sleep(0.01)
        return False

    def connect(self, username: str | None = None, password: str | None = None, **kwargs: Any) -> manager.Manager:
        """An ncclient manager for this agent (admin by default)."""
        options: dict[str, Any] = dict(
            host=self.host, port=self.port,
            username=username or self.username,
            password=self.password if password is None else password,
            hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=30,
        )
        options.update(kwargs)
        return manager.connect(**options)


@pytest.fixture
def agent_server(tmp_path: Path) -> Iterator[RunningAgent]:
    agent = RunningAgent(state_dir=tmp_path / "state")
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


@pytest.fixture
def make_agent(tmp_path: Path) -> Iterator[Callable[..., RunningAgent]]:
    """``make_agent(dataplane_factory=None, **ServerConfig_overrides)``: an extra agent with
    its own state directory."""
    agents: list[RunningAgent] = []

    def make(dataplane_factory: Callable[[], Any] | None = None, **overrides: Any) -> RunningAgent:
        agent = RunningAgent(state_dir=tmp_path / f"state-{len(agents)}", config_overrides=overrides,
                             dataplane_factory=dataplane_factory)
        agent.start()
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        agent.stop()


@pytest.fixture
def nc_factory(agent_server: RunningAgent) -> Iterator[Callable[..., manager.Manager]]:
    """``nc_factory(username=None, password=None, **ncclient_options)``; all closed at teardown."""
    managers: list[manager.Manager] = []

    def factory(*args: Any, **kwargs: Any) -> manager.Manager:
        m = agent_server.connect(*args, **kwargs)
        managers.append(m)
        return m

    yield factory
    for m in managers:
        if m.connected:
            try:
                m.close_session()
            except Exception:   # the test may have killed or broken this session on purpose
                pass


@pytest.fixture
def nc(nc_factory: Callable[..., manager.Manager]) -> manager.Manager:
    return nc_factory()


# --- a raw NETCONF client ---------------------------------------------------------------------

class RawNetconf:
    """NETCONF over SSH with nothing checked on our side: for feeding the agent bad input.

    ``send`` writes bytes as given; ``hello`` does the exchange; ``rpc`` frames one message
    in the negotiated framing and returns the parsed reply.
    """

    def __init__(self, host: str, port: int, username: str, password: str) -> None:
        self.client = paramiko.SSHClient()
        self.client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        self.client.connect(host, port=port, username=username, password=password,
                            look_for_keys=False, allow_agent=False, timeout=30)
        self.channel = self.client.get_transport().open_session()
        self.channel.settimeout(30)
        self.channel.invoke_subsystem("netconf")
        self.chunked = False
        self._buf = b""
        self.server_hello: etree._Element | None = None

    def send(self, data: bytes) -> None:
        self.channel.sendall(data)

    def send_until_closed(self, data: bytes) -> None:
        """Send ``data``; the server may close the session part-way (it refused the message
        early, e.g. too big), which is not an error for the tests that use this."""
        try:
            self.channel.sendall(data)
        except OSError:
            pass

    def hello(self, capabilities: tuple[str, ...] = (BASE_1_0, BASE_1_1)) -> etree._Element:
        """Read the server hello, send ours; chunked framing if both sides announce base:1.1."""
        self.server_hello = etree.fromstring(self.read_eom())
        caps = "".join(f"<capability>{c}</capability>" for c in capabilities)
        self.send(f'<hello xmlns="{NC_NS}"><capabilities>{caps}</capabilities></hello>]]>]]>'.encode())
        server_caps = {c.text for c in self.server_hello.iter(f"{{{NC_NS}}}capability")}
        self.chunked = BASE_1_1 in capabilities and BASE_1_1 in server_caps
        return self.server_hello

    def frame(self, message: bytes) -> bytes:
        return b"\n#%d\n%s\n##\n" % (len(message), message) if self.chunked else message + b"]]>]]>"

    def rpc(self, body: str | bytes, message_id: str | None = "1") -> etree._Element:
        """Send ``<rpc>`` around ``body`` (or ``body`` itself if it is a whole message)."""
        text = body.encode() if isinstance(body, str) else body
        if not text.lstrip().startswith((b"<rpc", b"<?xml")):
            mid = b"" if message_id is None else b' message-id="%s"' % message_id.encode()
            text = b'<rpc xmlns="%s"%s>%s</rpc>' % (NC_NS.encode(), mid, text)
        self.send(self.frame(text))
        return self.read_message()

    def read_message(self) -> etree._Element:
        return etree.fromstring(self.read_chunked() if self.chunked else self.read_eom())

    def read_eom(self) -> bytes:
        while b"]]>]]>" not in self._buf:
            self._fill()
        message, _, self._buf = self._buf.partition(b"]]>]]>")
        return message

    def read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            while not re.match(rb"\n#(#|\d+)\n", self._buf):
                self._fill()
            header = re.match(rb"\n#(#|\d+)\n", self._buf)
            assert header is not None
            self._buf = self._buf[header.end():]
            if header.group(1) == b"#":
                return b"".join(parts)
            size = int(header.group(1))
            while len(self._buf) < size:
                self._fill()
            parts.append(self._buf[:size])
            self._buf = self._buf[size:]

    def _fill(self) -> None:
        data = self.channel.recv(65536)
        if not data:
            raise EOFError("the agent closed the channel")
        self._buf += data

    def wait_closed(self, timeout: float = 10.0) -> bool:
        """True once the agent has closed the channel (reading and dropping anything left)."""
        self.channel.settimeout(timeout)
        try:
            while self.channel.recv(65536):
                pass
        except (socket.timeout, TimeoutError):
            return False
        return True

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def raw_netconf(agent_server: RunningAgent) -> Iterator[Callable[..., RawNetconf]]:
    """``raw_netconf(username=None, password=None) -> RawNetconf`` (closed at teardown)."""
    clients: list[RawNetconf] = []

    def connect(username: str | None = None, password: str | None = None) -> RawNetconf:
        client = RawNetconf(agent_server.host, agent_server.port, username or agent_server.username,
                            password or agent_server.password)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


# --- the lab (issue 4): three agents over one real-time topology, in-process ------------------

@dataclass
class RunningLab(LoopThread):
    """`agent.lab.Lab` on a background event loop; agents on free ports of 127.0.0.1."""

    state_dir: Path
    feature: bool = False
    querier_interval: float = 60.0
    rate: float = 100.0
    #: 0: every agent on a free port of its own; else UPE here, SPE1 and SPE2 on the next two
    base_port: int = 0
    #: None: the lab's own rule ($VSI_AGENT_ADMIN_PASSWORD, else generated and saved)
    admin_password: str | None = ADMIN_PASSWORD
    lab: Any = field(init=False)

    def start(self) -> None:
        from agent.lab import Lab, LabOptions

        self._start_loop("lab-loop")
        options = LabOptions(base_port=self.base_port, state_dir=self.state_dir, feature=self.feature,
                             querier_interval=self.querier_interval, rate=self.rate,
                             admin_password=self.admin_password)

        async def build() -> Any:
            lab = Lab(options, schema=compiled_schema())
            await lab.start()
            return lab

        try:
            self.lab = self.call(build())
        except BaseException:
            self._stop_loop()
            raise

    def stop(self) -> None:
        if self._thread is None:
            return
        try:
            self.call(self.lab.stop())
        finally:
            self._stop_loop()

    def run(self, func: Callable[[], T]) -> T:
        """Run ``func`` on the lab's loop, the simulation brought up to the wall clock first."""
        def caught_up() -> T:
            self.lab.runner.catch_up()
            return func()
        return super().run(caught_up)

    def wait_until(self, predicate: Callable[[Any], bool], timeout: float = 30.0) -> bool:
        """Poll ``predicate(lab)`` on the loop until it holds; False if it never did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run(lambda: predicate(self.lab)):
                return True
            time.sleep(0.05)
        return False

    def port(self, device: str) -> int:
        return self.lab.servers[device].port

    def connect(self, device: str, **kwargs: Any) -> manager.Manager:
        options: dict[str, Any] = dict(
            host="127.0.0.1", port=self.port(device), username="admin", password=ADMIN_PASSWORD,
            hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=30,
        )
        options.update(kwargs)
        return manager.connect(**options)


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[Callable[..., RunningLab]]:
    """``make_lab(feature=False, querier_interval=60.0, rate=100.0, base_port=0)``: a started lab."""
    labs: list[RunningLab] = []

    def make(**options: Any) -> RunningLab:
        lab = RunningLab(state_dir=tmp_path / f"lab-{len(labs)}", **options)
        lab.start()
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.stop()


def free_consecutive_ports(count: int) -> int:
    """A base port with ``count`` free TCP ports on 127.0.0.1 from it (free when probed)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        sockets = []
        try:
            for offset in range(count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no consecutive free ports on 127.0.0.1")
