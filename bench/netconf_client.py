"""A raw NETCONF 1.1 client over asyncssh, for benchmarks.

ncclient adds its own latency (a polling loop in its session thread), so the benchmarks talk
RFC 6242 chunked framing directly: what is measured is the server, the SSH transport and
nothing else.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import asyncssh

BASE_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
HELLO = (
    f'<?xml version="1.0" encoding="UTF-8"?><hello xmlns="{BASE_NS}"><capabilities>'
    "<capability>urn:ietf:params:netconf:base:1.0</capability>"
    "<capability>urn:ietf:params:netconf:base:1.1</capability>"
    "</capabilities></hello>]]>]]>"
)
_CHUNK_HEADER = re.compile(rb"\n#(\d+)\n")


@dataclass
class Endpoint:
    host: str
    port: int
    username: str
    password: str


class RawNetconf:
    """One NETCONF session: hello, then `rpc(body) -> reply text` with chunked framing."""

    def __init__(self, conn: asyncssh.SSHClientConnection, writer, reader) -> None:
        self._conn = conn
        self._writer = writer
        self._reader = reader
        self._buf = b""
        self._message_id = 0
        self.server_hello = ""

    @classmethod
    async def connect(cls, ep: Endpoint, settle: float = 0.0) -> "RawNetconf":
        """Open SSH, run the hello exchange; ``settle`` waits after our hello before returning.

        yuma123's netconfd holds back the first chunked message that arrives right behind the
        client's `]]>]]>`-framed hello until a second message comes (seen here: the first reply
        one message late), so benchmark sessions settle briefly before their first rpc.
        """
        conn = await asyncssh.connect(
            ep.host, ep.port, username=ep.username, password=ep.password,
            known_hosts=None, client_keys=None, agent_path=None,
        )
        writer, reader, _ = await conn.open_session(subsystem="netconf", encoding=None)
        self = cls(conn, writer, reader)
        self.server_hello = (await self._read_eom()).decode()
        writer.write(HELLO.encode())
        if settle:
            await asyncio.sleep(settle)
        return self

    async def _read_eom(self) -> bytes:
        while b"]]>]]>" not in self._buf:
            data = await self._reader.read(65536)
            if not data:
                raise ConnectionError("server closed the session before its hello")
            self._buf += data
        msg, _, self._buf = self._buf.partition(b"]]>]]>")
        return msg

    async def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        pos = 0
        while True:
            while True:
                if self._buf.startswith(b"\n##\n", pos):
                    self._buf = self._buf[pos + 4:]
                    return b"".join(parts)
                m = _CHUNK_HEADER.match(self._buf, pos)
                if m and len(self._buf) >= m.end() + int(m.group(1)):
                    size = int(m.group(1))
                    parts.append(self._buf[m.end(): m.end() + size])
                    pos = m.end() + size
                    continue
                break
            data = await self._reader.read(1 << 20)
            if not data:
                raise ConnectionError("server closed the session mid-reply")
            self._buf += data

    async def rpc(self, body: str) -> str:
        self._message_id += 1
        # A trailing newline inside the chunk: yuma123's streaming XML reader otherwise waits for
        # the next message before it sees the end of this one (measured: replies came one late).
        msg = f'<rpc xmlns="{BASE_NS}" message-id="{self._message_id}">{body}</rpc>\n'.encode()
        self._writer.write(b"\n#%d\n%s\n##\n" % (len(msg), msg))
        reply = (await self._read_chunked()).decode()
        return reply

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.rpc("<close-session/>"), 5)
        except (ConnectionError, asyncio.TimeoutError, asyncssh.Error):
            pass
        self._conn.close()
        await self._conn.wait_closed()


def ok(reply: str) -> bool:
    return "<rpc-error" not in reply and ("<ok/>" in reply or "<ok " in reply or ":ok/>" in reply or "<data" in reply or ":data" in reply)


async def timed(coro) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = await coro
    return time.perf_counter() - t0, result
