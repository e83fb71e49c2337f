"""RFC 6242 transport: NETCONF over SSH with asyncssh, a thin adapter around `Session`.

* Only the ``netconf`` subsystem is served; shells, exec requests, PTYs, port forwarding,
  agent and X11 forwarding are refused.
* Authentication: passwords (scrypt-checked in a worker thread, so one login does not stall
  every other session) and public keys, both from the users file (`agent.users`).
* The host key is an ed25519 key created once in the state directory (mode 0600) and reused,
  so clients that pinned it keep trusting the device across restarts.
* Each channel drives one :class:`agent.session.Session` synchronously from asyncssh's
  callbacks: messages of one session are handled in order, sessions run concurrently on the
  loop, and there is no per-session task or thread that could outlive a client that vanishes.
  When a session ends, its SSH connection is closed too (RFC 6241 7.8/7.9 "close any
  associated connections").
* Flow control: while the client does not read its replies, its requests are not read either.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh

from agent.persist import atomic_write
from agent.session import EndReason, Session

if TYPE_CHECKING:  # pragma: no cover
    from agent.server import Server

log = logging.getLogger(__name__)

HOST_KEY_FILE = "ssh_host_ed25519_key"
NETCONF_SUBSYSTEM = "netconf"


def load_or_create_host_key(state_dir: Path) -> asyncssh.SSHKey:
    """The device's host key: read it, or create it once (ed25519, mode 0600)."""
    path = Path(state_dir) / HOST_KEY_FILE
    if path.exists():
        if path.stat().st_mode & 0o077:
            log.warning("%s was readable by others; restricting it to mode 0600", path)
            os.chmod(path, 0o600)
        return asyncssh.read_private_key(path)
    key = asyncssh.generate_private_key("ssh-ed25519")
    atomic_write(path, key.export_private_key(), mode=0o600)
    log.info("created SSH host key %s (%s)", path, key.get_fingerprint())
    return key


#: Ciphers offered, AES first.  In SSH the client's preference picks among what both sides
#: offer; asyncssh's chacha20-poly1305 runs two cipher objects per packet from Python, while
#: AES-GCM is one OpenSSL AEAD call (AES-NI), measured about 20% of a small RPC's cost with
#: chacha20 (py-spy, bench/bench_netconf.py).  Every mainstream client (OpenSSH, paramiko /
#: ncclient, asyncssh) offers AES-GCM or AES-CTR.
CIPHERS: tuple[str, ...] = (
    "aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr",
)


async def listen(server: "Server") -> asyncssh.SSHAcceptor:
    """Listen on exactly the configured address and port."""
    host_key = load_or_create_host_key(server.state_dir)
    return await asyncssh.create_server(
        lambda: _NetconfSSHServer(server),
        server.config.host,
        server.config.port,
        server_host_keys=[host_key],
        encoding=None,
        # NETCONF is a subsystem, never a terminal: no line editing between SSH and framer.
        line_editor=False,
        encryption_algs=CIPHERS,
        allow_pty=False,
        agent_forwarding=False,
        x11_forwarding=False,
        allow_scp=False,
        login_timeout=server.config.login_timeout,
        reuse_address=True,
    )


#: Writes up to this size are coalesced (a few SSH packets of asyncssh's 32 KiB default).
COALESCE_LIMIT = 64 * 1024


def write_coalesced(conn: object, write: Callable[[bytes], None], data: bytes) -> None:
    """``write(data)``, with every SSH packet ``conn`` emits meanwhile sent in one socket write.

    asyncssh sends each channel-data packet behind an SSH_MSG_IGNORE packet (RFC 4253
    11.2), each with its own ``transport.write`` and so its own ``send()`` system call.  A
    small reply is one syscall instead of two this way (measured about 15 us of the ~250 us
    server CPU of a small RPC, bench/bench_netconf.py); the bytes on the wire are the same,
    in the same order, and whatever was queued is written even if ``write`` raises.

    A reply larger than ``COALESCE_LIMIT`` goes out packet by packet as before: there the
    syscalls do not matter, and the client can decrypt the first packets while the later ones
    are still being encrypted.

    ``_send`` is asyncssh's (private) single exit to the transport; should a future version
    not have it, packets simply go out one by one as before.
    """
    send = getattr(type(conn), "_send", None)
    if send is None or len(data) > COALESCE_LIMIT or "_send" in vars(conn):
        write(data)   # unknown asyncssh, a big reply, or already coalescing
        return
    packets: list[bytes] = []
    conn._send = packets.append  # type: ignore[attr-defined]
    try:
        write(data)
    finally:
        del conn._send  # type: ignore[attr-defined]
        if packets:
            send(conn, packets[0] if len(packets) == 1 else b"".join(packets))


class _NetconfSSHServer(asyncssh.SSHServer):
    """One SSH connection: authentication and channel creation."""

    def __init__(self, server: "Server") -> None:
        self._server = server
        self._conn: asyncssh.SSHServerConnection | None = None
        self._open_channels = 0

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        sock = conn.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # small replies must leave at once (asyncssh does this too; we do not rely on it)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._server.connection_opened(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._server.connection_closed(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True   # every user must authenticate

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        if self._server.users.verified_before(username, password):
            return True   # a repeated correct login: no scrypt, no thread hop
        ok = await self._server.run_blocking(self._server.users.verify_password, username, password)
        if not ok:
            log.info("password authentication failed for %r", username)
            # like OpenSSH's MaxAuthTries: the connection closes after too many failures
            self._server.password_attempt_failed(self._conn)
        return bool(ok)

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return self._server.users.accepts_key(username, key)

    def session_requested(self) -> asyncssh.SSHServerSession:
        assert self._conn is not None
        return _NetconfChannel(self._server, self._conn, self)

    def netconf_started(self) -> None:
        self._open_channels += 1

    def netconf_ended(self) -> None:
        """A NETCONF session ended: with no other one left, drop the connection too.

        A refused request (exec, shell, another subsystem) does not count: the client may
        still open the netconf subsystem on the same connection.
        """
        self._open_channels -= 1
        if self._open_channels == 0 and self._conn is not None:
            self._conn.close()


class _NetconfChannel(asyncssh.SSHServerSession):  # type: ignore[type-arg]
    """One SSH session channel carrying one NETCONF session (the `SessionTransport`)."""

    def __init__(self, server: "Server", conn: asyncssh.SSHServerConnection,
                 owner: _NetconfSSHServer) -> None:
        self._server = server
        self._conn = conn
        self._owner = owner
        self._chan: asyncssh.SSHServerChannel | None = None  # type: ignore[type-arg]
        self._session: Session | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._hello_timer: asyncio.TimerHandle | None = None

    # --- asyncssh callbacks --------------------------------------------------------------

    def connection_made(self, chan: asyncssh.SSHServerChannel) -> None:  # type: ignore[type-arg]
        self._chan = chan

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int],
                      term_modes: dict[int, int]) -> bool:
        return False

    def shell_requested(self) -> bool:
        return False

    def exec_requested(self, command: str) -> bool:
        log.info("refused exec request %r: only the netconf subsystem is served", command)
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        return subsystem == NETCONF_SUBSYSTEM

    def session_started(self) -> None:
        peer = self._conn.get_extra_info("peername") or ("", 0)
        self._session = self._server.open_session(
            self, username=self._conn.get_extra_info("username") or "", source_host=str(peer[0]),
        )
        self._owner.netconf_started()
        self._session.start()
        self._touch()
        if self._server.config.hello_timeout is not None:
            self._hello_timer = asyncio.get_running_loop().call_later(
                self._server.config.hello_timeout, self._hello_expired)

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        if self._session is None or datatype is not None:
            return   # extended data (stderr) carries no NETCONF
        self._touch()
        self._session.receive_data(data)

    def eof_received(self) -> bool:
        return False   # the client will send nothing more: close the channel

    def pause_writing(self) -> None:
        if self._chan is not None:
            self._chan.pause_reading()

    def resume_writing(self) -> None:
        if self._chan is not None:
            self._chan.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._idle_timer, self._hello_timer):
            if timer is not None:
                timer.cancel()
        self._idle_timer = self._hello_timer = None
        if self._session is not None:
            self._server.session_ended(self._session)
            self._session = None
            self._owner.netconf_ended()

    # --- SessionTransport ----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self._chan is not None and not self._chan.is_closing():
            write_coalesced(self._conn, self._chan.write, data)

    def close(self) -> None:
        if self._chan is not None:
            self._chan.close()

    # --- hello and idle timeouts ------------------------------------------------------

    def _touch(self) -> None:
        timeout = self._server.config.idle_timeout
        if timeout is None:
            return
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = asyncio.get_running_loop().call_later(timeout, self._idle_expired)

    def _hello_expired(self) -> None:
        self._hello_timer = None
        if self._session is not None and not self._session.established and not self._session.closed:
            log.info("session %d sent no <hello> in %ss; closing", self._session.id,
                     self._server.config.hello_timeout)
            self._server.statistics.in_bad_hellos += 1
            self._session.close(EndReason.DROPPED)

    def _idle_expired(self) -> None:
        self._idle_timer = None
        if self._session is not None:
            log.info("session %d idle for %ss; closing", self._session.id, self._server.config.idle_timeout)
            self._session.close(EndReason.DROPPED)
