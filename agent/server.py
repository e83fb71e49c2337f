"""The NETCONF server object: configuration, the data model, sessions and capabilities.

`Server` is what every operation handler reaches through ``ctx.server``: the compiled
``schema``, the ``validator``, the ``datastores``, the operational ``state`` provider, the
live ``sessions`` and the event ``loop``.  It owns no protocol logic itself (that is
`agent.session`) and no transport (that is `agent.ssh_server`): it is the shared state they
and the operation modules meet at, like Netopeer2's server context.

Start-up order: compile the schema, build the validator, load the datastores (an invalid
saved file is a clear error, never a silent reset), configure the dataplane with running
(a configuration it refuses is as clear an error), let the operation modules install
their per-server parts, create the admin user on first start (SPEC section 6), start the
dataplane, then listen.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import agent.operations  # noqa: F401  (every @operation registration runs on import)
from agent import ssh_server, yang_library
from agent.dataplane_commit import DataplaneCommit
from agent.dataplane_driver import Dataplane, SimDataplane, standalone_mac
from agent.dataplane_state import DataplaneState
from agent.datastore import DatastoreLoadError, Datastores
from agent.persist import make_private_dir, tighten_private_dir
from agent.schema import Schema, load_schema
from agent.session import BASE_1_0, BASE_1_1, EndReason, Session, SessionTransport
from agent.state_provider import StateProvider
from agent.users import ADMIN_PASSWORD_ENV, UserStore, bootstrap_admin
from agent.validate import Validator
from dataplane.config import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import asyncssh

    from agent.notifications import NotificationStream

log = logging.getLogger(__name__)

#: Failed password attempts one SSH connection may make before it is closed (OpenSSH's
#: MaxAuthTries default): each wrong password costs a full scrypt in the small auth pool, so
#: without a cap one connection could keep that pool busy guessing for as long as it likes.
MAX_AUTH_TRIES = 6

#: 64 MiB: far above any real configuration, small enough that one client cannot exhaust memory.
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024
STATE_DIR_ENV = "VSI_AGENT_STATE_DIR"

_CAP = "urn:ietf:params:netconf:capability:"
#: Capabilities that do not depend on the loaded modules (RFC 6241 section 8 and friends).
#: `:url` is deliberately absent (no URL sources or targets).  Adding RFC 5277
#: notifications/interleave is one entry each here.
STATIC_CAPABILITIES: tuple[str, ...] = (
    BASE_1_0,
    BASE_1_1,
    _CAP + "candidate:1.0",
    _CAP + "confirmed-commit:1.1",
    _CAP + "validate:1.1",
    _CAP + "startup:1.0",
    _CAP + "writable-running:1.0",
    _CAP + "rollback-on-error:1.0",
    _CAP + "xpath:1.0",
    # RFC 6243 section 4: basic mode "explicit" plus every other retrieval mode
    _CAP + "with-defaults:1.0?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim",
    # RFC 8526 section 2.3: with-defaults also applies to <operational> in get-data
    _CAP + "with-operational-defaults:1.0",
)
YANG_LIBRARY_REVISION = "2019-01-04"


def default_port() -> int:
    """SPEC section 4: 830 (the IANA NETCONF-over-SSH port) when root, else 8830."""
    return 830 if os.geteuid() == 0 else 8830


def default_state_dir() -> Path:
    """``$VSI_AGENT_STATE_DIR`` or ``./state`` (gitignored)."""
    return Path(os.environ.get(STATE_DIR_ENV) or "state")


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    #: 0 lets the OS pick a free port (tests); the bound port is then ``Server.port``
    port: int = field(default_factory=default_port)
    state_dir: Path = field(default_factory=default_state_dir)
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    #: seconds without any byte from the client before the session is dropped; None = never
    idle_timeout: float | None = None
    #: password for the bootstrap ``admin`` (SPEC section 6); empty/None = generate one
    admin_password: str | None = field(default_factory=lambda: os.environ.get(ADMIN_PASSWORD_ENV))
    #: seconds a client has to authenticate
    login_timeout: float = 60.0
    #: seconds an authenticated client has to send its `<hello>`; None = no limit
    hello_timeout: float | None = 60.0
    #: the device's name (logs, the simulator); ``vsi-agent lab`` names its three devices
    device_name: str = "vsi-agent"


@dataclass
class Statistics:
    """RFC 6022 `/netconf-state/statistics`: server-wide totals, kept across sessions."""

    netconf_start_time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    in_bad_hellos: int = 0
    in_sessions: int = 0
    dropped_sessions: int = 0
    in_rpcs: int = 0
    in_bad_rpcs: int = 0
    out_rpc_errors: int = 0
    out_notifications: int = 0


class Server:
    """One device agent.  Construct (loads the model), then ``await start()``."""

    def __init__(self, config: ServerConfig, *, schema: Schema | None = None,
                 dataplane: Dataplane | None = None) -> None:
        """``schema`` may be passed to reuse an already compiled one (it is immutable).

        ``dataplane`` is the forwarding core this agent configures and reports; by default a
        device of its own in a real-time simulation with nothing wired to its ports
        (``vsi-agent lab`` passes nodes of its shared topology, ``--dataplane linux`` the
        AF_PACKET driver).
        """
        self.config = config
        self.state_dir = Path(config.state_dir)
        # keys, password hashes and the configuration live here: owner only, even when an
        # older version (or `users add` of one) created the directory with the default mode
        make_private_dir(self.state_dir)
        tighten_private_dir(self.state_dir)
        self.users = UserStore(self.state_dir)
        self.sessions: dict[int, Session] = {}
        #: run once per session when its hello exchange completes (RFC 6470 session-start)
        self.session_start_hooks: list[Callable[[Session], None]] = []
        #: run once per ending session (locks, confirmed-commit rollback, subscriptions)
        self.session_end_hooks: list[Callable[[Session], None]] = []
        #: the session whose rpc is being handled right now (handlers are synchronous), None
        #: when the server acts on its own (a confirmed-commit timeout): RFC 6470 changed-by
        self.current_session: Session | None = None
        #: capability URIs added by the operation modules' ``install`` (e.g. RFC 5277 ones)
        self.extra_capabilities: list[str] = []
        self.statistics = Statistics()
        self.loop: asyncio.AbstractEventLoop | None = None
        #: path of the generated admin password file, if this start created one
        self.admin_password_file: Path | None = None
        self.port: int = config.port
        self._next_session_id = 1
        self._listener: "asyncssh.SSHAcceptor | None" = None
        self._connections: set[Any] = set()
        #: failed password attempts per open connection (see :meth:`password_attempt_failed`)
        self._failed_auth: dict[Any, int] = {}
        self._auth_executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.schema = schema if schema is not None else load_schema()
        self.validator = Validator(self.schema)
        #: loading raises a clear error on an invalid saved file: never a silent empty start
        self.datastores = Datastores(self.schema, self.validator, self.state_dir)
        self.datastores.load()
        if dataplane is None:
            dataplane = SimDataplane.standalone(
                config.device_name, standalone_mac(str(self.state_dir.resolve())))
        self.dataplane: Dataplane = dataplane
        self._dataplane_commit = DataplaneCommit(dataplane, self.schema)
        try:
            self._dataplane_commit.load(self.datastores.running.root)
        except ConfigError as exc:
            raise DatastoreLoadError(
                f"the dataplane refuses the saved configuration: {exc}") from exc
        self.datastores.commit_hooks.append(self._dataplane_commit)
        #: the `config false` data: the dataplane's live tables
        self.state: StateProvider = DataplaneState(dataplane)
        self._content_id = self._compute_content_id()
        self._module_capabilities = self._yang_1_0_module_capabilities()
        #: RFC 5277 notifications (set by ``agent.notifications.install``)
        self.notifications: NotificationStream | None = None
        agent.operations.install(self)

    # --- capabilities (RFC 6241 8, RFC 7950 5.6.4, RFC 8526 2) ---------------------------

    def capabilities(self) -> list[str]:
        """Every capability URI of the server `<hello>`, in a stable order."""
        return [
            *STATIC_CAPABILITIES,
            *self.extra_capabilities,
            f"{_CAP}yang-library:1.1?revision={YANG_LIBRARY_REVISION}&content-id={self.content_id()}",
            *self._module_capabilities,
        ]

    def content_id(self) -> str:
        """RFC 8525 content-id: changes exactly when the module set changes."""
        return self._content_id

    def _compute_content_id(self) -> str:
        return yang_library.content_id(self.schema)

    def _yang_1_0_module_capabilities(self) -> list[str]:
        """RFC 7950 5.6.4: YANG version 1 modules are still announced in the hello (RFC 6020
        5.6.4 form) so that clients that predate yang-library see them; YANG 1.1 modules are
        announced only through the yang-library capability."""
        uris = []
        for name in sorted(self.schema.modules):
            module = self.schema.modules[name]
            if not module.implemented or _yang_version(module.path) != "1":
                continue
            uri = f"{module.namespace}?module={module.name}"
            if module.revision:
                uri += f"&revision={module.revision}"
            if module.features:
                uri += "&features=" + ",".join(module.features)
            if module.deviations:
                uri += "&deviations=" + ",".join(module.deviations)
            uris.append(uri)
        return uris

    # --- sessions ------------------------------------------------------------------------

    def open_session(self, transport: SessionTransport, *, username: str, source_host: str,
                     transport_name: str = "netconf-ssh") -> Session:
        """Allocate a session-id (RFC 6241: unique, never 0) and register the session."""
        session = Session(
            server=self, id=self._next_session_id, transport=transport, username=username,
            source_host=source_host, login_time=datetime.now(timezone.utc),
            transport_name=transport_name, groups=tuple(self.users.groups(username)),
        )
        self._next_session_id += 1
        self.sessions[session.id] = session
        return session

    def session_established(self, session: Session) -> None:
        """The session's hello exchange completed: run the session-start hooks."""
        for hook in list(self.session_start_hooks):
            try:
                hook(session)
            except Exception:   # a faulty hook must not refuse the session
                log.exception("session-start hook %r failed for session %d", hook, session.id)

    def session_ended(self, session: Session) -> None:
        """The session is gone (its channel closed, or it was killed): release what it held.

        Idempotent: a killed session ends here first, and again when its channel reports
        the close.
        """
        if self.sessions.get(session.id) is not session:
            return
        del self.sessions[session.id]
        session.close()
        if session.end_reason is EndReason.DROPPED and session.client_capabilities:
            self.statistics.dropped_sessions += 1
        for hook in list(self.session_end_hooks):
            try:
                hook(session)
            except Exception:   # one faulty hook must not keep the others from releasing
                log.exception("session-end hook %r failed for session %d", hook, session.id)
        log.info("session %d ended (%s)", session.id, session.end_reason.value)

    def kill_session(self, session_id: int) -> None:
        """RFC 6241 7.9: end another session now, release its locks, close its channel.

        The caller checks that ``session_id`` exists and is not its own session.
        """
        session = self.sessions[session_id]
        session.close(EndReason.KILLED)
        self.session_ended(session)

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Create the admin on first start, then listen for SSH on the configured address."""
        self.loop = asyncio.get_running_loop()
        await self.dataplane.start()
        self.admin_password_file = bootstrap_admin(self.users, self.config.admin_password)
        if self.admin_password_file is not None:
            log.info("created user 'admin'; its password is in %s", self.admin_password_file)
        self._auth_executor = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="vsi-auth")
        self._listener = await ssh_server.listen(self)
        self.port = self._listener.get_port()
        log.info("NETCONF over SSH listening on %s port %d", self.config.host, self.port)

    async def stop(self) -> None:
        """Stop listening, end every session (running its hooks) and close every connection."""
        if self._listener is not None:
            self._listener.close()
            await self._listener.wait_closed()
            self._listener = None
        for session in list(self.sessions.values()):
            self.session_ended(session)
        for conn in list(self._connections):
            conn.close()
        for conn in list(self._connections):
            await conn.wait_closed()
        if self._auth_executor is not None:
            self._auth_executor.shutdown(wait=True)
            self._auth_executor = None
        await self.dataplane.stop()

    # --- used by the SSH adapter ---------------------------------------------------------

    def connection_opened(self, conn: Any) -> None:
        self._connections.add(conn)

    def connection_closed(self, conn: Any) -> None:
        self._connections.discard(conn)
        self._failed_auth.pop(conn, None)

    def password_attempt_failed(self, conn: Any) -> bool:
        """Count a wrong password on ``conn``; at :data:`MAX_AUTH_TRIES` close the connection.

        Returns True when the connection was closed (the adapter then stops answering it).
        The policy lives here, not in the SSH adapter, so it is one rule for every transport
        and can be tested without a network.
        """
        failures = self._failed_auth.get(conn, 0) + 1
        self._failed_auth[conn] = failures
        if failures < MAX_AUTH_TRIES:
            return False
        log.warning("%d failed password attempts on one connection from %s; closing it",
                    failures, _peer(conn))
        self._failed_auth.pop(conn, None)
        conn.close()
        return True

    def addresses(self) -> list[tuple[Any, ...]]:
        """The socket addresses the server listens on (empty before start)."""
        return list(self._listener.get_addresses()) if self._listener is not None else []

    def connections(self) -> list[Any]:
        """The open SSH connections (asyncssh connection objects)."""
        return list(self._connections)

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    async def run_blocking(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run CPU-heavy work (scrypt) off the event loop so other sessions keep going."""
        assert self.loop is not None and self._auth_executor is not None
        return await self.loop.run_in_executor(self._auth_executor, func, *args)


def _peer(conn: Any) -> str:
    """The client's address for log messages ("?" when the transport does not say)."""
    peer = conn.get_extra_info("peername") if hasattr(conn, "get_extra_info") else None
    return str(peer[0]) if peer else "?"


_YANG_VERSION_RE = re.compile(r"""^\s*yang-version\s+["']?([0-9.]+)["']?\s*;""", re.MULTILINE)


def _yang_version(path: Path) -> str:
    """The ``yang-version`` of a module file ("1" when the statement is absent)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return "1"
    match = _YANG_VERSION_RE.search(text)
    return "1" if match is None or match.group(1) == "1" else match.group(1)
