"""The kernel hosts' processes: the numbered-datagram source and the receivers that join
with ordinary sockets (run inside their namespaces by ``python -m agent.netns_lab``)."""

from __future__ import annotations

import array
import json
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.netns_lab.topology import GAP_FLOOR, PAYLOAD, PAYLOAD_SIZE, UDP_PORT

# ------------------------------------------------------------------------------ the hosts

def source_main(address: str, groups: Sequence[str], rate: float, run_id: int) -> int:
    """Send numbered datagrams to every group at ``rate`` each until SIGTERM; print
    "sending" first and the per-group summary (JSON) last."""
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 8)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    padding = bytes(PAYLOAD_SIZE - PAYLOAD.size)
    sent = {group: 0 for group in groups}
    errors = {group: 0 for group in groups}
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    print("sending", flush=True)
    start = time.monotonic()
    seq = 0
    while not stop:
        due = int((time.monotonic() - start) * rate) + 1
        while seq < due and not stop:
            for group in groups:
                now = time.monotonic()
                try:
                    sock.sendto(PAYLOAD.pack(run_id, seq, now) + padding, (group, UDP_PORT))
                except OSError:
                    errors[group] += 1
                    continue
                sent[group] += 1
                first.setdefault(group, now)
                last[group] = now
            seq += 1
        next_due = start + due / rate
        time.sleep(max(0.0, min(0.05, next_due - time.monotonic())))
    print(json.dumps({g: {"sent": sent[g], "send_errors": errors[g], "first": first.get(g, start),
                          "last": last.get(g, start)} for g in groups}), flush=True)
    return 0


class _GroupRecord:
    """Arrivals of one group in one run: every (sequence number, send time, arrival time),
    in order of arrival."""

    __slots__ = ("seqs", "sent", "times")

    def __init__(self) -> None:
        self.seqs = array.array("I")
        self.sent = array.array("d")
        self.times = array.array("d")

    def add(self, seq: int, sent: float, now: float) -> None:
        self.seqs.append(seq)
        self.sent.append(sent)
        self.times.append(now)

    def summary(self) -> dict[str, Any]:
        """Counts and the silences longer than GAP_FLOOR (the longest one always)."""
        times = self.times
        gaps: list[tuple[float, float]] = []
        longest = (0.0, 0.0)
        for i in range(1, len(times)):
            silence = times[i] - times[i - 1]
            if silence > GAP_FLOOR:
                gaps.append((times[i - 1], times[i]))
            if silence > longest[1] - longest[0]:
                longest = (times[i - 1], times[i])
        distinct = len(set(self.seqs))
        return {"received": len(self.seqs), "distinct": distinct, "duplicates": len(self.seqs) - distinct,
                "first": times[0] if times else None, "last": times[-1] if times else None,
                "gaps": gaps[-10000:], "longest": longest}

    def window(self, start: float, end: float) -> list[tuple[float, float]]:
        """(send time, arrival time) of the datagrams that arrived within [start, end]."""
        return [(s, t) for s, t in zip(self.sent, self.times) if start <= t <= end]


def receiver_main(address: str, groups: Sequence[str]) -> int:
    """Join ``groups`` on the interface holding ``address`` with IP_ADD_MEMBERSHIP (the
    kernel reports), print "joined", then record every datagram and every IGMP query that
    arrives.  Commands on stdin, each answered with one JSON line: ``record`` (counts and
    silences per run and group, query times, the host's socket drops) and ``window A B``
    ((send time, arrival time) of what arrived within [A, B], per run and group).  SIGTERM or end of stdin ends it."""
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    data = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    data.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        data.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)          # SO_RCVBUFFORCE (root)
    except OSError:
        data.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    data.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)        # which group each datagram went to
    data.bind(("", UDP_PORT))
    for group in groups:
        data.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                        socket.inet_aton(group) + socket.inet_aton(address))
    data.setblocking(False)
    igmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IGMP)
    igmp.setblocking(False)
    records: dict[int, dict[str, _GroupRecord]] = {}
    queries: list[float] = []
    print("joined", flush=True)
    while not stop:
        try:
            ready, _, _ = select.select([data, igmp, sys.stdin], [], [], 0.1)
        except InterruptedError:
            continue
        if data in ready:
            _read_data(data, records)
        if igmp in ready:
            _read_queries(igmp, queries)
        if sys.stdin in ready:
            command = sys.stdin.readline().split()
            if not command:
                break                                        # the controller is gone
            _data_drained(data, records)
            print(json.dumps(_answer(command, records, queries)), flush=True)
    return 0


def _answer(command: list[str], records: dict[int, dict[str, _GroupRecord]], queries: list[float]) -> Any:
    if command[0] == "window":
        start, end = float(command[1]), float(command[2])
        return {str(run): {g: r.window(start, end) for g, r in by_group.items()}
                for run, by_group in records.items()}
    return {"queries": queries, "udp_receive_buffer_errors": _udp_receive_buffer_errors(),
            "runs": {str(run): {g: r.summary() for g, r in by_group.items()} for run, by_group in records.items()}}


def _data_drained(sock: socket.socket, records: dict[int, dict[str, _GroupRecord]]) -> None:
    """Read what is queued before answering: an answer covers everything that arrived."""
    while select.select([sock], [], [], 0)[0]:
        if not _read_data(sock, records):
            return


def _udp_receive_buffer_errors() -> int:
    """Datagrams this namespace's kernel dropped because a socket's buffer was full
    (``Udp: RcvbufErrors`` of /proc/net/snmp): loss in the host, not in the network."""
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")]
    names, values = lines[0], lines[1]
    return int(values[names.index("RcvbufErrors")])


def _read_queries(sock: socket.socket, queries: list[float]) -> None:
    while True:
        try:
            packet = sock.recv(2048)
        except BlockingIOError:
            return
        header = (packet[0] & 0x0F) * 4
        if len(packet) > header and packet[header] == 0x11:      # membership query
            queries.append(time.monotonic())


def _read_data(sock: socket.socket, records: dict[int, dict[str, _GroupRecord]]) -> int:
    """Read up to a batch of datagrams; returns how many."""
    count = 0
    for count in range(256):
        try:
            payload, ancillary, _, _ = sock.recvmsg(256, 64)
        except BlockingIOError:
            return count
        now = time.monotonic()
        if len(payload) < PAYLOAD.size:
            continue
        run_id, seq, sent = PAYLOAD.unpack_from(payload)
        group = _destination(ancillary)
        if group is None:
            continue
        records.setdefault(run_id, {}).setdefault(group, _GroupRecord()).add(seq, sent, now)
    return count + 1


_IP_PKTINFO = 8
_PKTINFO = struct.Struct("=i4s4s")


def _destination(ancillary: list[tuple[int, int, bytes]]) -> str | None:
    for level, kind, value in ancillary:
        if level == socket.IPPROTO_IP and kind == _IP_PKTINFO and len(value) >= _PKTINFO.size:
            return socket.inet_ntoa(_PKTINFO.unpack_from(value)[2])
    return None


