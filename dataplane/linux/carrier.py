"""Carrier of the interfaces: one rtnetlink socket (rtnetlink(7)) on the link multicast group.

The kernel announces every link change (created, deleted, renamed, admin up/down, carrier
lost or back) as an ``RTM_NEWLINK`` / ``RTM_DELLINK`` message to ``RTMGRP_LINK``; a dump
(``RTM_GETLINK`` with ``NLM_F_DUMP``) gives the whole table at once. :class:`LinkMonitor`
keeps that table (name -> :class:`Link`) and says which names changed, so the driver
learns about a cut cable the moment the kernel does, with no polling, and sees interfaces
appear and vanish. ``/sys/class/net`` is not used: it shows the namespace sysfs was
mounted in, not the one this process runs in.

A link is *up* for the core when it is administratively up and operationally running:
``IFF_UP`` and ``IFF_RUNNING`` set, and ``IFLA_OPERSTATE`` (when sent) ``UP`` or
``UNKNOWN`` (RFC 2863 operStatus; drivers without carrier reporting say unknown).

Messages are parsed here by hand because the format is a few fixed C structs; every
message of another address family (``AF_BRIDGE`` port messages also arrive on this
group) is ignored.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
from typing import NamedTuple

__all__ = ["Link", "LinkMonitor", "parse_link_messages"]

NETLINK_ROUTE = 0
RTMGRP_LINK = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
AF_UNSPEC = 0
IFLA_IFNAME = 3
IFLA_OPERSTATE = 16
IFF_UP = 0x1
IFF_RUNNING = 0x40
IF_OPER_UNKNOWN = 0
IF_OPER_UP = 6

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_RTATTR = struct.Struct("=HH")
_RECV_SIZE = 1 << 16
_DUMP_TIMEOUT = 5.0
SO_RCVBUFFORCE = 33
#: receive buffer asked for (SO_RCVBUFFORCE as root, else capped by rmem_max): a burst
#: of link changes (a whole lab built at once) should wait here instead of overflowing
RECEIVE_BUFFER = 4 << 20
#: dumps restarted because notifications overflowed meanwhile, before giving up
_DUMP_ATTEMPTS = 16


class Link(NamedTuple):
    """One interface as rtnetlink describes it."""

    name: str
    index: int
    flags: int
    operstate: int | None

    @property
    def up(self) -> bool:
        running = self.flags & IFF_UP and self.flags & IFF_RUNNING
        return bool(running) and self.operstate in (None, IF_OPER_UP, IF_OPER_UNKNOWN)


class LinkMessage(NamedTuple):
    """A parsed RTM_NEWLINK (``deleted`` False) or RTM_DELLINK; ``seq`` is 0 for a
    notification and the request's sequence number for a dump answer."""

    link: Link
    deleted: bool
    seq: int = 0


def parse_link_messages(buffer: bytes, seq: int | None = None) -> tuple[list[LinkMessage], bool]:
    """The link messages in one netlink datagram, and whether it ended the dump ``seq``
    (an ``NLMSG_DONE``, or an ``NLMSG_ERROR`` answering it, which is raised as OSError)."""
    messages: list[LinkMessage] = []
    done = False
    offset = 0
    while offset + _NLMSGHDR.size <= len(buffer):
        length, kind, _flags, msg_seq, _pid = _NLMSGHDR.unpack_from(buffer, offset)
        if length < _NLMSGHDR.size or offset + length > len(buffer):
            break
        body = buffer[offset + _NLMSGHDR.size:offset + length]
        if kind in (RTM_NEWLINK, RTM_DELLINK):
            link = _parse_ifinfo(body)
            if link is not None:
                messages.append(LinkMessage(link, kind == RTM_DELLINK, msg_seq))
        elif seq is not None and msg_seq == seq and kind == NLMSG_DONE:
            done = True
        elif seq is not None and msg_seq == seq and kind == NLMSG_ERROR:
            code = struct.unpack_from("=i", body)[0] if len(body) >= 4 else -errno.EIO
            if code:
                raise OSError(-code, f"rtnetlink link dump failed: {os.strerror(-code)}")
        offset += (length + 3) & ~3
    return messages, done


def _parse_ifinfo(body: bytes) -> Link | None:
    if len(body) < _IFINFOMSG.size:
        return None
    family, _type, index, flags, _change = _IFINFOMSG.unpack_from(body)
    if family != AF_UNSPEC:
        return None
    name: str | None = None
    operstate: int | None = None
    offset = _IFINFOMSG.size
    while offset + _RTATTR.size <= len(body):
        length, kind = _RTATTR.unpack_from(body, offset)
        if length < _RTATTR.size:
            break
        value = body[offset + _RTATTR.size:offset + length]
        if kind == IFLA_IFNAME:
            name = value.split(b"\x00", 1)[0].decode(errors="replace")
        elif kind == IFLA_OPERSTATE and value:
            operstate = value[0]
        offset += (length + 3) & ~3
    if name is None:
        return None
    return Link(name, index, flags, operstate)


class LinkMonitor:
    """The link table of this network namespace, kept current from rtnetlink.

    ``links`` maps interface names to their :class:`Link`. :meth:`refresh` reads the whole
    table (at start, and after the kernel dropped notifications because we were slow:
    ``ENOBUFS``); :meth:`read` takes the notifications waiting on the socket. Both return
    the names whose entry appeared, vanished or changed.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        try:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
            except OSError:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            self.sock.bind((0, RTMGRP_LINK))
            self.sock.setblocking(False)
        except OSError:
            self.sock.close()
            raise
        self.links: dict[str, Link] = {}
        self._names: dict[int, str] = {}
        self._seq = 0
        self.overflows = 0
        """Times the kernel dropped notifications for us (``ENOBUFS``): each cost a dump."""

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def refresh(self) -> set[str]:
        """Dump the table; return the names that changed.

        Notifications already queued are stale (the dump is newer) and are thrown away
        first. Those that arrive while the dump runs are newer than the dump's entry for
        their link or as new, so they are applied on top of it, in order. If notifications
        overflow during the dump (``ENOBUFS``) some of them are lost: the dump is read to
        its end and made again."""
        for _attempt in range(_DUMP_ATTEMPTS):
            self._drain()
            dumped = self._dump()
            if dumped is not None:
                return self._replace(*dumped)
        raise OSError(errno.ENOBUFS, "rtnetlink link dump: notifications kept overflowing")

    def _drain(self) -> None:
        """Throw away every message waiting on the socket (an overflow error included)."""
        while True:
            try:
                self.sock.recv(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno != errno.ENOBUFS:
                    raise
                self.overflows += 1

    def _dump(self) -> tuple[list[Link], list[LinkMessage]] | None:
        """The links of one dump and the notifications that arrived meanwhile, or None
        when notifications were lost during it."""
        self._seq += 1
        seq = self._seq
        request = _NLMSGHDR.pack(_NLMSGHDR.size + _IFINFOMSG.size, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP,
                                 seq, 0) + _IFINFOMSG.pack(AF_UNSPEC, 0, 0, 0, 0)
        self.sock.sendto(request, (0, 0))
        dumped: list[Link] = []
        notes: list[LinkMessage] = []
        overflowed = False
        done = False
        while not done:
            ready, _, _ = select.select([self.sock], [], [], _DUMP_TIMEOUT)
            if not ready:
                raise TimeoutError("rtnetlink link dump: no answer from the kernel")
            try:
                buffer = self.sock.recv(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as error:
                if error.errno != errno.ENOBUFS:
                    raise
                self.overflows += 1
                overflowed = True  # read the dump to its end (the kernel refuses a second
                continue           # dump on a socket while one runs), then dump again
            messages, done = parse_link_messages(buffer, seq)
            for message in messages:
                if message.seq == seq:
                    if not message.deleted:
                        dumped.append(message.link)
                elif message.seq == 0:
                    notes.append(message)
                # any other sequence number: the tail of an earlier, abandoned dump
        return None if overflowed else (dumped, notes)

    def _replace(self, dumped: list[Link], notes: list[LinkMessage]) -> set[str]:
        """Make the table the dump with ``notes`` applied; the names whose entry differs."""
        before = self.links
        self.links, self._names = {}, {}
        for link in dumped:
            self._apply(LinkMessage(link, False))
        for message in notes:
            self._apply(message)
        return {name for name in before.keys() | self.links.keys() if before.get(name) != self.links.get(name)}

    def read(self) -> set[str]:
        """Apply every notification waiting on the socket; return the names that changed."""
        changed: set[str] = set()
        while True:
            try:
                buffer = self.sock.recv(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return changed
            except OSError as error:
                if error.errno == errno.ENOBUFS:
                    self.overflows += 1
                    return changed | self.refresh()
                raise
            messages, _ = parse_link_messages(buffer)
            for message in messages:
                changed |= self._apply(message)

    def _apply(self, message: LinkMessage) -> set[str]:
        link = message.link
        if message.deleted:
            name = self._names.get(link.index, link.name)
            return self._forget(name)
        changed: set[str] = set()
        old_name = self._names.get(link.index)
        if old_name is not None and old_name != link.name:
            changed |= self._forget(old_name)  # renamed: the old name is gone
        previous = self.links.get(link.name)
        if previous is not None and previous.index != link.index:
            self._names.pop(previous.index, None)
        if previous != link:
            changed.add(link.name)
        self.links[link.name] = link
        self._names[link.index] = link.name
        return changed

    def _forget(self, name: str) -> set[str]:
        link = self.links.pop(name, None)
        if link is None:
            return set()
        if self._names.get(link.index) == name:
            del self._names[link.index]
        return {name}
