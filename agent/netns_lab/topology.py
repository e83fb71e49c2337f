"""The lab's namespaces, links, agents and host processes (see the package docstring)."""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


#: every lab namespace starts with this; ``down`` without ``--prefix`` removes all of them
PREFIX_BASE = "vsinl"
REPO = Path(__file__).resolve().parents[2]
GROUPS = ("239.1.1.1", "239.1.1.2", "239.1.1.3")
RECEIVERS = {"rcv1": ("ac1", "198.51.100.11", GROUPS[:2]), "rcv2": ("ac2", "198.51.100.12", GROUPS[1:])}
ROUTER_ADDRESS = "198.51.100.1"
PREFIX_LEN = 24
UDP_PORT = 5001
NETCONF_PORT = 830
#: device namespace role -> (lab device name, router id); the router ids are what the
#: peers configure as peer-address (agent.lab / dataplane.scenario)
DEVICES = {"upe": ("UPE", "10.0.0.3"), "spe1": ("SPE1", "10.0.0.1"), "spe2": ("SPE2", "10.0.0.2")}
#: (namespace, interface) <-> (namespace, interface): SPEC section 2
LINKS = (
    ("upe", "ac1", "rcv1", "eth0"),
    ("upe", "ac2", "rcv2", "eth0"),
    ("upe", "pw-spe1", "spe1", "pw-upe"),
    ("upe", "pw-spe2", "spe2", "pw-upe"),
    ("spe1", "uplink", "router", "to-spe1"),
    ("spe2", "uplink", "router", "to-spe2"),
)
QUERY_RESPONSE_INTERVAL = 1.0
#: payload: run id, sequence number, send time (CLOCK_MONOTONIC)
PAYLOAD = struct.Struct("!IId")
PAYLOAD_SIZE = 64
#: seconds after which something that should happen is declared never to happen
HANG = 40.0
#: an interruption is a silence longer than this at a receiver (a few frame periods)
GAP_FLOOR = 0.005

VL2MC = "urn:vsi-multicast-agent:yang:vsi-l2-multicast"


class LabError(RuntimeError):
    """The lab could not be built or did not converge: says which step and why."""


# ------------------------------------------------------------------------------ shell helpers

def _run(*argv: str) -> str:
    result = subprocess.run(list(argv), capture_output=True, text=True)
    if result.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def _sysctl(ns: str, *settings: str) -> None:
    """Write ``key=value`` sysctls of namespace ``ns`` (IPv6 ones skipped on a kernel
    without IPv6: :func:`dataplane.linux.netns.write_sysctls`)."""
    from dataplane.linux.netns import write_sysctls

    write_sysctls(ns, *settings)


PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
#: signals that end a run the Ctrl-C way (SIGHUP: the terminal of ``up`` was closed)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def die_with_parent() -> None:
    """``preexec_fn`` of every process a lab starts: SIGTERM when the controller dies
    (PR_SET_PDEATHSIG, kept across the exec of ``ip netns exec`` and of Python), so a
    controller killed without cleanup (SIGKILL, a crash) leaves no agent streaming."""
    parent = os.getppid()
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the controller died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


@contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """Run the body to its end even if SIGINT, SIGTERM or SIGHUP arrive: they are noted
    and raised again afterwards, under the handlers of before. Cleanup runs in this, so a
    second Ctrl-C cannot leave half a lab behind. Outside the main thread (where Python
    cannot set handlers, and signals are not run anyway) the body just runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda number, _frame: caught.append(number)) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(caught):
            signal.raise_signal(sig)


def _lab_member(name: str, prefix: str) -> bool:
    """Whether namespace ``name`` belongs to the labs ``prefix`` names: all labs for
    PREFIX_BASE, else the one lab ``prefix`` (names are ``<prefix>-<role>``, so the lab of
    pid 1234 is not mistaken for the one of pid 12345)."""
    if prefix == PREFIX_BASE:
        return name.startswith(PREFIX_BASE)
    return name.startswith(prefix if prefix.endswith("-") else prefix + "-")


def lab_namespaces(prefix: str = PREFIX_BASE) -> list[str]:
    """The namespaces of lab ``prefix`` (of every lab for PREFIX_BASE), from ``ip netns list``."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return sorted(name for name in names if _lab_member(name, prefix))


def remove_leftovers(prefix: str = PREFIX_BASE) -> list[str]:
    """Kill every process still running in the namespaces of lab ``prefix`` (every lab for
    PREFIX_BASE, see :func:`lab_namespaces`), delete the namespaces (their veths go with them); returns the names removed.  Processes are
    ended by pid, as ``ip netns pids`` lists them: only what runs inside the lab."""
    if not prefix.startswith(PREFIX_BASE):
        raise ValueError(f"{prefix!r} is not a lab prefix: lab namespaces start with {PREFIX_BASE!r}, "
                         "and nothing else is removed")
    removed = []
    with stop_signals_deferred():
        for name in lab_namespaces(prefix):
            _kill_namespace_processes(name)
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            removed.append(name)
    return removed


def _kill_namespace_processes(ns: str) -> None:
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in pids:
            try:
                os.kill(int(pid), sig)
                alive.append(pid)
            except (ProcessLookupError, ValueError):
                pass
        if not alive:
            return
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and any(_running(pid) for pid in alive):
            time.sleep(0.05)
        pids = [pid for pid in alive if _running(pid)]


def _running(pid: str) -> bool:
    """Still running: a zombie (ended, its parent has not reaped it yet) is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


# ------------------------------------------------------------------------------ the lab

@dataclass
class NetnsLabOptions:
    """How a lab is built."""

    feature: bool = False
    #: the bridge querier's interval; the agents' configured query-interval matches it
    query_interval: int = 10
    #: datagrams per second per group
    rate: float = 1000.0
    prefix: str = field(default_factory=lambda: f"{PREFIX_BASE}{os.getpid()}{secrets.token_hex(2)}")


class NetnsLab:
    """Namespaces, veths, the bridge, three agents; receivers and a source on demand.

    ``with NetnsLab(options) as lab:`` builds and configures everything (agents configured
    over NETCONF, the querier started last so its start-up queries find them ready) and
    removes it all on the way out."""

    def __init__(self, options: NetnsLabOptions) -> None:
        self.options = options
        self.prefix = options.prefix
        self.password = secrets.token_urlsafe(16)
        self.state_dir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        self.namespaces: list[str] = []
        self.agents: dict[str, subprocess.Popen[bytes]] = {}
        self.receivers: dict[str, subprocess.Popen[str]] = {}
        self._processes: list[subprocess.Popen[Any]] = []
        self._started: list[int] = []
        """Pids of every process started, kept after :meth:`remove` (tests check them)."""
        self._run_id = 0

    # -- life cycle -------------------------------------------------------------------

    def __enter__(self) -> "NetnsLab":
        try:
            self.build()
            self.start_agents()
            self.configure_agents()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    @property
    def pids(self) -> list[int]:
        """Every process this lab started (agents, receivers, sources), running or not,
        also after :meth:`remove`."""
        return list(self._started)

    def _popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start a lab process: its own session (a Ctrl-C reaches only the controller, which
        then stops it in order), dying with the controller (:func:`die_with_parent`)."""
        proc: subprocess.Popen[Any] = subprocess.Popen(argv, cwd=REPO, start_new_session=True,
                                                       preexec_fn=die_with_parent, **kwargs)
        self._processes.append(proc)
        self._started.append(proc.pid)
        return proc

    def ns(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def build(self) -> None:
        """Namespaces, veth pairs and the router's bridge (down: its querier starts with
        :meth:`start_querier`)."""
        for role in ("router", "spe1", "spe2", "upe", "rcv1", "rcv2"):
            name = self.ns(role)
            _run("ip", "netns", "add", name)
            self.namespaces.append(name)
            _run("ip", "-n", name, "link", "set", "lo", "up")
            _sysctl(name, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        for ns_a, if_a, ns_b, if_b in LINKS:
            _run("ip", "-n", self.ns(ns_a), "link", "add", "name", if_a, "type", "veth",
                 "peer", "name", if_b, "netns", self.ns(ns_b))
            _run("ip", "-n", self.ns(ns_a), "link", "set", if_a, "up")
            _run("ip", "-n", self.ns(ns_b), "link", "set", if_b, "up")
        router = self.ns("router")
        centiseconds = str(self.options.query_interval * 100)
        _run("ip", "-n", router, "link", "add", "br0", "type", "bridge", "stp_state", "0",
             "mcast_snooping", "1", "mcast_igmp_version", "2", "mcast_query_use_ifaddr", "1",
             "mcast_query_interval", centiseconds,
             "mcast_startup_query_interval", str(max(100, self.options.query_interval * 25)),
             "mcast_query_response_interval", str(int(QUERY_RESPONSE_INTERVAL * 100)))
        for port in ("to-spe1", "to-spe2"):
            _run("ip", "-n", router, "link", "set", port, "master", "br0")
        _run("ip", "-n", router, "addr", "add", f"{ROUTER_ADDRESS}/{PREFIX_LEN}", "dev", "br0")
        for role, (_, address, _) in RECEIVERS.items():
            name = self.ns(role)
            _run("ip", "-n", name, "addr", "add", f"{address}/{PREFIX_LEN}", "dev", "eth0")
            _sysctl(name, "net.ipv4.conf.eth0.force_igmp_version=2", "net.ipv4.conf.all.rp_filter=0",
                    "net.ipv4.conf.eth0.rp_filter=0")

    def start_querier(self) -> None:
        """Bring br0 up as the IGMP querier: start-up queries now, then every interval."""
        router = self.ns("router")
        _run("ip", "-n", router, "link", "set", "br0", "type", "bridge", "mcast_querier", "1")
        _run("ip", "-n", router, "link", "set", "br0", "up")
        _run("ip", "-n", router, "route", "add", "224.0.0.0/4", "dev", "br0")

    def start_agents(self) -> None:
        """One ``vsi-agent serve --dataplane linux`` per device namespace, all started at
        once; returns when each says it listens."""
        env = dict(os.environ, VSI_AGENT_ADMIN_PASSWORD=self.password, PYTHONPATH=str(REPO))
        for role, (device, router_id) in DEVICES.items():
            state = self.state_dir / role
            log = open(self.state_dir / f"{role}.log", "wb")
            argv = ["ip", "netns", "exec", self.ns(role), sys.executable, "-m", "agent", "serve",
                    "--dataplane", "linux", "--router-id", router_id, "--device-name", device,
                    "--host", "127.0.0.1", "--port", str(NETCONF_PORT), "--state-dir", str(state)]
            try:
                proc = self._popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
            finally:
                log.close()
            self.agents[role] = proc
        for role, proc in self.agents.items():
            self._wait(lambda r=role: "NETCONF over SSH on" in self.agent_log(r),
                       f"agent {role} to listen", proc=proc, log=lambda r=role: self.agent_log(r))

    def agent_log(self, role: str) -> str:
        try:
            return (self.state_dir / f"{role}.log").read_text(errors="replace")
        except OSError:
            return ""

    @contextmanager
    def netconf(self, role: str) -> Iterator[Any]:
        """An ncclient manager on the agent of ``role``: the TCP socket is made inside the
        agent's namespace (this thread visits it), ncclient is handed the connected socket.
        An rpc-error becomes a LabError carrying the end of the agent's log (the log goes
        with the lab)."""
        import ncclient.transport.session
        from ncclient import manager
        from ncclient.operations.rpc import RPCError

        from dataplane.linux.netns import entered

        ncclient.transport.session.TICK = 0.001
        with entered(self.ns(role)):
            sock = socket.create_connection(("127.0.0.1", NETCONF_PORT), timeout=10)
        with manager.connect(sock=sock, host="127.0.0.1", port=NETCONF_PORT, username="admin",
                             password=self.password, hostkey_verify=False, look_for_keys=False,
                             allow_agent=False, timeout=30) as m:
            try:
                yield m
            except RPCError as error:
                raise LabError(f"agent {role} answered: {error}\n--- its log ends:\n"
                               f"{self.agent_log(role)[-3000:]}") from error

    def configure_agents(self, feature: bool | None = None) -> None:
        """edit-config (default-operation replace) of each device's lab configuration."""
        from agent.lab import lab_config

        feature = self.options.feature if feature is None else feature
        for role, (device, _) in DEVICES.items():
            config = lab_config(device, feature=feature, query_interval=self.options.query_interval)
            with self.netconf(role) as m:
                m.edit_config(target="running", config=config, default_operation="replace")

    def remove(self) -> None:
        """Stop every process started here (by pid), delete every namespace, the state dir.
        Stop signals arriving meanwhile wait until it is done (:func:`stop_signals_deferred`)."""
        with stop_signals_deferred():
            self._remove()

    def _remove(self) -> None:
        for proc in self._processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self._processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr, proc.stdin):
                if stream is not None:
                    stream.close()
        self._processes.clear()
        for name in reversed(self.namespaces):
            _kill_namespace_processes(name)          # anything a child left behind
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.namespaces.clear()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- state over NETCONF -------------------------------------------------------------

    def groups(self, role: str) -> dict[str, dict[str, dict[str, str]]]:
        """The device's group table of VSI iptv: group -> port -> {forwarding, learned-on-backup, flag}."""
        filter_ = (f'<vsis xmlns="{VL2MC}"><vsi><name>iptv</name><igmp-snooping><group/>'
                   f'</igmp-snooping></vsi></vsis>')
        with self.netconf(role) as m:
            data = m.get(filter=("subtree", filter_)).data
        ns = {"v": VL2MC}
        table: dict[str, dict[str, dict[str, str]]] = {}
        for group in data.iterfind(".//v:group", ns):
            ports = table.setdefault(group.findtext("v:group-address", namespaces=ns) or "", {})
            for port in group.iterfind("v:port", ns):
                ports[port.findtext("v:interface", namespaces=ns) or ""] = {
                    leaf: port.findtext(f"v:{leaf}", namespaces=ns) or ""
                    for leaf in ("forwarding", "learned-on-backup", "flag")}
        return table

    def pws(self, role: str) -> dict[str, dict[str, str]]:
        """interface -> {oper-status, forwarding-state, role} of the device's PWs."""
        filter_ = f'<vsis xmlns="{VL2MC}"><vsi><name>iptv</name><pws/></vsi></vsis>'
        with self.netconf(role) as m:
            data = m.get(filter=("subtree", filter_)).data
        ns = {"v": VL2MC}
        return {pw.findtext("v:interface", namespaces=ns) or "": {
                    leaf: pw.findtext(f"v:{leaf}", namespaces=ns) or ""
                    for leaf in ("oper-status", "forwarding-state", "role")}
                for pw in data.iterfind(".//v:pw", ns)}

    # -- hosts ---------------------------------------------------------------------------

    def _helper(self, role: str, *args: str, stdin: bool = False) -> subprocess.Popen[str]:
        argv = ["ip", "netns", "exec", self.ns(role), sys.executable, "-m", "agent.netns_lab", *args]
        return self._popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=dict(os.environ, PYTHONPATH=str(REPO)),
                           stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)

    def start_receivers(self) -> None:
        """The kernel hosts join their groups (the first line each prints says it has)."""
        for role, (_, address, groups) in RECEIVERS.items():
            proc = self._helper(role, "_receive", "--address", address, "--groups", ",".join(groups), stdin=True)
            self.receivers[role] = proc
        for role, proc in self.receivers.items():
            line = _read_line(proc, HANG)
            if line.strip() != "joined":
                raise LabError(f"receiver {role} did not join: {line!r} {_stderr_of(proc)}")

    def receptions(self) -> dict[str, dict[str, Any]]:
        """Each receiver's record so far: {"queries": [t...], "udp_receive_buffer_errors": n,
        "runs": {run: {group: {received, distinct, duplicates, first, last, gaps, longest}}}}."""
        return {role: self._ask(role, "record") for role in self.receivers}

    def arrivals(self, run_id: int, start: float, end: float) -> dict[str, dict[str, list[list[float]]]]:
        """Per receiver and group, (send time, arrival time) of what run ``run_id``
        delivered within [start, end]."""
        return {role: self._ask(role, f"window {start!r} {end!r}").get(str(run_id), {})
                for role in self.receivers}

    def _ask(self, role: str, command: str) -> Any:
        proc = self.receivers[role]
        assert proc.stdin is not None
        proc.stdin.write(command + "\n")
        proc.stdin.flush()
        line = _read_line(proc, HANG)
        if not line:
            raise LabError(f"receiver {role} did not answer {command!r}: {_stderr_of(proc)}")
        return json.loads(line)

    def stream(self, rate: float | None = None) -> "Stream":
        """Start the source (a new run id) until :meth:`Stream.stop`."""
        self._run_id += 1
        rate = self.options.rate if rate is None else rate
        proc = self._helper("router", "_source", "--address", ROUTER_ADDRESS, "--groups", ",".join(GROUPS),
                            "--rate", repr(rate), "--run-id", str(self._run_id))
        line = _read_line(proc, HANG)
        if line.strip() != "sending":
            raise LabError(f"the source did not start: {line!r} {_stderr_of(proc)}")
        return Stream(proc, self._run_id, rate)

    # -- waiting ---------------------------------------------------------------------------

    def wait_converged(self) -> None:
        """Until every device holds what the lab's design says it should before a cut: the
        UPE and SPE1 forward every group, and with the feature SPE2 holds them all on its
        standby PW."""
        def ready() -> bool:
            upe, spe1 = self.groups("upe"), self.groups("spe1")
            if set(upe) != set(GROUPS) or any(spe1.get(g, {}).get("pw-upe", {}).get("forwarding") != "true"
                                              for g in GROUPS):
                return False
            if self.options.feature:
                spe2 = self.groups("spe2")
                return all(spe2.get(g, {}).get("pw-upe", {}).get("learned-on-backup") == "true" for g in GROUPS)
            return True

        self._wait(ready, "the group tables to fill", interval=0.5)

    def _wait(self, condition: Callable[[], bool], what: str, *, proc: subprocess.Popen[Any] | None = None,
              log: Callable[[], str] | None = None, interval: float = 0.05) -> None:
        deadline = time.monotonic() + HANG
        while not condition():
            if proc is not None and proc.poll() is not None:
                raise LabError(f"waiting for {what}: the process ended ({proc.returncode}): "
                               f"{log() if log else ''}")
            if time.monotonic() > deadline:
                raise LabError(f"waited {HANG:g} s for {what}; {log() if log else ''}")
            time.sleep(interval)

    def packet_counts(self) -> dict[str, int]:
        """Kernel packet counters of the forwarding path (``ip -s link``): what SPE1
        received on its uplink and sent on its PW, what the UPE received on its primary PW
        and sent out of its ACs.  Differences between them locate a loss."""
        counts = {}
        for role, interface, direction in (("spe1", "uplink", "rx"), ("spe1", "pw-upe", "tx"),
                                           ("upe", "pw-spe1", "rx"), ("upe", "ac1", "tx"), ("upe", "ac2", "tx")):
            link, = json.loads(_run("ip", "-n", self.ns(role), "-s", "-j", "link", "show", interface))
            counts[f"{role} {interface} {direction}"] = int(link["stats64"][direction]["packets"])
        return counts

    def cut_primary(self) -> tuple[float, float]:
        """``ip link set pw-spe1 down`` in the UPE (carrier lost at both ends of the veth);
        returns the monotonic times just before and just after."""
        at = time.monotonic()
        _run("ip", "-n", self.ns("upe"), "link", "set", "pw-spe1", "down")
        return at, time.monotonic()


@dataclass
class Stream:
    """A running source."""

    proc: subprocess.Popen[str]
    run_id: int
    rate: float

    def stop(self) -> dict[str, dict[str, float]]:
        """Stop it; per group {sent, send_errors, first, last}."""
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=HANG)
        if self.proc.returncode != 0 or not out.strip():
            raise LabError(f"the source failed ({self.proc.returncode}): {err.strip()}")
        return json.loads(out.strip().splitlines()[-1])


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


def _stderr_of(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None or proc.stderr is None:
        return ""
    return proc.stderr.read()[-2000:]


