"""Named network namespaces (``ip netns``) entered by the calling thread: setns(2).

``ip netns add NAME`` keeps a namespace alive as a bind mount at ``/run/netns/NAME``.
:func:`entered` moves the calling *thread* into it and back: every socket made meanwhile
belongs to that namespace for its whole life, wherever the thread goes afterwards, and so
do interface names given to ``bind``. The driver's sockets are made by the thread that
runs its event loop, so a process that runs a driver inside ``entered(ns)`` drives the
interfaces of ``ns`` (the tests do this; the lab runs each agent with ``ip netns exec``
instead, which puts the whole process there).

Python 3.11 has no ``os.setns``; libc's is called through ctypes.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["NETNS_DIR", "NamespaceLab", "entered", "netns_unavailable", "run_ip", "setns", "write_sysctls"]

NETNS_DIR = "/run/netns"
#: present unless the kernel was booted with ``ipv6.disable=1`` (then no IPv6 sysctl exists)
IPV6_SYSCTL_DIR = "/proc/sys/net/ipv6"
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def setns(fd: int) -> None:
    """Move the calling thread into the network namespace ``fd`` refers to."""
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"setns: {os.strerror(code)}")


@contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body with the calling thread in namespace ``name``; always come back."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY)
        try:
            setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            setns(home)
    finally:
        os.close(home)


class NamespaceLab:
    """Network namespaces and veth pairs made with ``ip``, all removed by :meth:`remove`.

    Names get ``prefix`` in front so that labs of concurrent runs never meet; deleting a
    namespace deletes the veth ends inside it, and with them their peers.
    Use as a context manager: everything is removed on the way out, also after a failure.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.namespaces: list[str] = []

    def __enter__(self) -> "NamespaceLab":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def namespace(self, role: str) -> str:
        """A new namespace with loopback up and IPv6 off (no MLD or DAD chatter)."""
        name = f"{self.prefix}-{role}"
        run_ip("netns", "add", name)
        self.namespaces.append(name)
        run_ip("-n", name, "link", "set", "lo", "up")
        write_sysctls(name, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        return name

    def veth(self, ns_a: str, if_a: str, ns_b: str, if_b: str, *, up: bool = True) -> None:
        """A veth pair: ``if_a`` in ``ns_a``, ``if_b`` in ``ns_b``."""
        run_ip("-n", ns_a, "link", "add", "name", if_a, "type", "veth", "peer", "name", if_b, "netns", ns_b)
        if up:
            run_ip("-n", ns_a, "link", "set", if_a, "up")
            run_ip("-n", ns_b, "link", "set", if_b, "up")

    def address(self, ns: str, interface: str, cidr: str) -> None:
        run_ip("-n", ns, "addr", "add", cidr, "dev", interface)

    def remove(self) -> None:
        """Delete every namespace made here (errors are collected and raised at the end,
        after every namespace had its chance)."""
        failures: list[str] = []
        while self.namespaces:
            name = self.namespaces.pop()
            result = subprocess.run(["ip", "netns", "del", name], capture_output=True, text=True)
            if result.returncode != 0:
                failures.append(f"{name}: {result.stderr.strip()}")
        if failures:
            raise RuntimeError("could not remove namespaces: " + "; ".join(failures))


def run_ip(*args: str) -> None:
    """Run ``ip`` with ``args``; a failure raises with ip's own message."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def write_sysctls(ns: str, *settings: str) -> None:
    """Write ``key=value`` sysctls of namespace ``ns`` (its /proc/sys/net, seen from inside).
    IPv6 settings are skipped on a kernel without IPv6 (``ipv6.disable=1``): there is
    nothing to turn off, and their files do not exist."""
    with entered(ns):
        ipv6 = os.path.isdir(IPV6_SYSCTL_DIR)
        for setting in settings:
            key, value = setting.split("=", 1)
            if key.startswith("net.ipv6.") and not ipv6:
                continue
            path = "/proc/sys/" + key.replace(".", "/")
            with open(path, "w") as handle:
                handle.write(value)


def netns_unavailable() -> str | None:
    """Why namespace labs cannot run here (None when they can): they need root and ``ip netns``."""
    if os.geteuid() != 0:
        return "network-namespace tests need root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    probe = f"vsiprobe{os.getpid()}"
    result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if result.returncode != 0:
        return f"ip netns add failed: {result.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None
