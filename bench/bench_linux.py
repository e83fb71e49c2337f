"""Linux driver throughput: UDP multicast datagrams per second through one device, no loss.

Run as root: ``python -m bench.bench_linux [--seconds S] [--size BYTES]``. Elsewhere it
says why it cannot run and exits 0.

A lab of three network namespaces (removed afterwards, also on failure): a kernel source
``src`` and a kernel receiver ``rx`` (joined with ``IP_ADD_MEMBERSHIP``), each on a veth to
the device namespace ``dut``, where a :class:`~dataplane.linux.LinuxDataplane` runs in a
process of its own (one VSI, IGMP snooping on, unknown multicast dropped, so every
datagram is a forwarding decision). The source sends numbered datagrams at a paced rate
for ``--seconds``; the receiver counts distinct numbers. Rates double until datagrams are
lost, then the search narrows between the last clean rate and the first lossy one; the
result is the highest rate that arrived complete. A last run sends as fast as one Python
sender can, to show the rate the driver forwards under overload (and what it loses).

Source and receiver share this process; the driver has its own, so its rate is not
disguised by theirs. The machine's load average is printed: on a shared host the numbers
move with it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import sys
import time
from multiprocessing.connection import Connection

from dataplane.config import AcConfig, DeviceConfig, IgmpSnoopingConfig, VsiConfig
from dataplane.linux import LinuxDataplane
from dataplane.linux.netns import NamespaceLab, entered, netns_unavailable

GROUP = "239.7.7.7"
PORT = 5000
SOURCE = "10.77.0.1"
RECEIVER = "10.77.0.2"
SO_RCVBUFFORCE = 33


def _config() -> DeviceConfig:
    vsi = VsiConfig("bench", unknown_multicast_action="drop", acs=(AcConfig("ac-src"), AcConfig("ac-rx")),
                    igmp=IgmpSnoopingConfig(enable=True))
    return DeviceConfig(igmp_snooping_enable=True, vsis=(vsi,))


def _driver_process(ns: str, control: Connection) -> None:
    """The device: runs until told to stop, then reports its counters."""
    with entered(ns):
        asyncio.run(_drive(control))


async def _drive(control: Connection) -> None:
    dataplane = LinuxDataplane("dut", "02:00:00:00:77:01")
    dataplane.apply(_config())
    await dataplane.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_reader(control.fileno(), stop.set)
    cpu = time.process_time()
    control.send("ready")
    await stop.wait()
    control.recv()
    vsi = dataplane.device.vsis["bench"]
    ingress = dataplane.port_counters("ac-src")
    control.send({"data_forwarded": vsi.stats.data_forwarded, "cpu_seconds": time.process_time() - cpu,
                  "queue_dropped": ingress.queue_dropped if ingress else 0})
    await dataplane.stop()


class Endpoints:
    """The kernel source and receiver."""

    def __init__(self, src: str, rx: str) -> None:
        with entered(rx):
            self.receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.receiver.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
        self.receiver.bind(("", PORT))
        self.receiver.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                                 socket.inet_aton(GROUP) + socket.inet_aton(RECEIVER))
        self.receiver.setblocking(False)
        with entered(src):
            self.sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(SOURCE))
        self.sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        self.sequence = 0

    def drain(self) -> set[int]:
        seen: set[int] = set()
        recv = self.receiver.recv
        while True:
            try:
                seen.add(int.from_bytes(recv(65536)[:8], "big"))
            except BlockingIOError:
                return seen

    def send(self, rate: float | None, seconds: float, size: int) -> tuple[int, int, float]:
        """Send at ``rate`` per second (None: as fast as possible) for ``seconds``; return
        (sent, received, achieved send rate)."""
        padding = bytes(max(0, size - 8))
        sendto = self.sender.sendto
        target = (GROUP, PORT)
        received: set[int] = set()
        first = self.sequence
        start = time.perf_counter()
        end = start + seconds
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            due = int((now - start) * rate) + first if rate else self.sequence + 256
            while self.sequence < due:
                try:
                    sendto(self.sequence.to_bytes(8, "big") + padding, target)
                except BlockingIOError:
                    break
                self.sequence += 1
            received |= self.drain()
            if rate:
                time.sleep(0.0005)
        elapsed = time.perf_counter() - start
        time.sleep(0.5)
        received |= self.drain()
        sent = self.sequence - first
        return sent, len({n for n in received if n >= first}), sent / elapsed


def _join(endpoints: Endpoints) -> None:
    """Wait until the device learned the receiver's join: a datagram gets through."""
    for _ in range(200):
        _sent, received, _ = endpoints.send(1000, 0.05, 64)
        if received:
            return
    raise RuntimeError("the receiver's join was never learned by the device")


def _search(endpoints: Endpoints, seconds: float, size: int) -> tuple[float, list[tuple[float, int, int]]]:
    trials: list[tuple[float, int, int]] = []
    clean, lossy = 0.0, None
    rate = 2000.0
    while lossy is None and rate <= 1_000_000:
        sent, received, _ = endpoints.send(rate, seconds, size)
        trials.append((rate, sent, received))
        if received == sent:
            clean, rate = rate, rate * 2
        else:
            lossy = rate
    if lossy is not None:
        for _ in range(4):
            rate = (clean + lossy) / 2
            sent, received, _ = endpoints.send(rate, seconds, size)
            trials.append((rate, sent, received))
            if received == sent:
                clean = rate
            else:
                lossy = rate
    return clean, trials


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="length of each trial (default 2)")
    ap.add_argument("--size", type=int, default=64, help="UDP payload bytes (default 64)")
    args = ap.parse_args()
    reason = netns_unavailable()
    if reason is not None:
        print(f"bench_linux: not run: {reason}")
        return 0
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, payload {args.size} bytes, "
          f"{args.seconds:g} s per trial")
    with NamespaceLab(f"vsibench{os.getpid()}") as lab:
        dut, src, rx = (lab.namespace(role) for role in ("dut", "src", "rx"))
        lab.veth(dut, "ac-src", src, "eth0")
        lab.veth(dut, "ac-rx", rx, "eth0")
        lab.address(src, "eth0", f"{SOURCE}/24")
        lab.address(rx, "eth0", f"{RECEIVER}/24")
        context = multiprocessing.get_context("fork")
        ours, theirs = context.Pipe()
        driver = context.Process(target=_driver_process, args=(dut, theirs), daemon=True)
        driver.start()
        try:
            if not ours.poll(30) or ours.recv() != "ready":
                raise RuntimeError("the driver did not start")
            endpoints = Endpoints(src, rx)
            _join(endpoints)
            best, trials = _search(endpoints, args.seconds, args.size)
            for rate, sent, received in trials:
                print(f"  offered {rate:>10,.0f}/s  sent {sent:>9,}  received {received:>9,}  "
                      f"lost {sent - received:>7,}")
            print(f"highest rate without loss: {best:,.0f} datagrams/s")
            sent, received, achieved = endpoints.send(None, args.seconds, args.size)
            print(f"overload: sender {achieved:,.0f}/s, delivered {received / args.seconds:,.0f}/s "
                  f"({sent - received:,} of {sent:,} lost)")
            ours.send("stop")
            if ours.poll(10):
                counters = ours.recv()
                print(f"driver: {counters['data_forwarded']:,} datagrams forwarded, "
                      f"{counters['cpu_seconds']:.1f} s CPU, {counters['queue_dropped']:,} dropped by the "
                      f"kernel at its ingress socket (queue full)")
        finally:
            driver.terminate()
            driver.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
