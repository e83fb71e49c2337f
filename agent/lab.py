"""``vsi-agent lab``: the SPEC section 2 network in the simulator, in real time, with one
NETCONF agent per device (SPEC section 6).

One process, one event loop: the topology of :func:`dataplane.scenario.build_lab` (router
with querier and source, a learning switch, SPE1, SPE2, the UPE and two receivers) runs
under one :class:`~dataplane.sim.realtime.RealTimeRunner`; each of the three PEs is the
dataplane of its own :class:`~agent.server.Server` (UPE on ``base-port``, SPE1 on
``base-port + 1``, SPE2 on ``base-port + 2``, all on 127.0.0.1), so what a client commits
on one agent changes how that device forwards, and what it reads is that device's live
tables.

Every start configures the three devices afresh with :func:`lab_config` (VSI ``iptv``,
snooping on, ``unknown-multicast-action drop``, the feature as ``--feature`` says) through
the same path a copy-config takes, so the dataplane is configured by the agent and nothing
else; the state directory keeps users and host keys between runs.  The receivers join
239.1.1.1-3 half a second in, the source streams from one second, the router queries
every ``--querier-interval`` seconds.

The live view (:func:`render_view`) is redrawn every second: each device's PWs and group
table, and what each receiver got (frames, the longest gap so far).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from lxml import etree

from agent.dataplane_driver import SimDataplane
from agent.persist import atomic_write, make_private_dir
from agent.schema import Schema, load_schema
from agent.server import Server, ServerConfig
from agent.users import ADMIN_PASSWORD_ENV, ADMIN_PASSWORD_FILE, ADMIN_USER, UserStore
from agent.xmlns import NC, VL2MC
from dataplane.addr import ip_str
from dataplane.config import DeviceConfig
from dataplane.scenario import (
    GROUPS,
    MACS,
    RECEIVER_GROUPS,
    SPE1_ADDRESS,
    SPE2_ADDRESS,
    UPE_ADDRESS,
    VC_ID,
    VSI,
    FailoverLab,
    build_lab,
)
from dataplane.sim import DeviceNode, Simulator
from dataplane.sim.realtime import RealTimeRunner

__all__ = ["DEVICES", "Lab", "LabOptions", "lab_config", "render_view", "run_lab"]

#: The three agents, in port order (UPE at base-port, SPE1 at +1, SPE2 at +2).
DEVICES: tuple[str, ...] = ("UPE", "SPE1", "SPE2")
DEFAULT_BASE_PORT = 8301
#: Frames per second per group: enough to see a gap of 10 ms, little enough that the
#: simulation leaves the NETCONF servers most of one core.
DEFAULT_RATE = 100.0
MAX_RESPONSE_TIME = 10.0
MIN_QUERIER_INTERVAL = 2


def max_response_time(query_interval: float) -> float:
    """The lab's max-response-time: 10 s as usual, less for a short ``--querier-interval``
    (the module requires it below the query interval; half of it keeps hosts answering
    well before the next query)."""
    return float(min(MAX_RESPONSE_TIME, max(1, int(query_interval) // 2)))


@dataclass
class LabOptions:
    """What ``vsi-agent lab`` was given (SPEC section 6)."""

    base_port: int = DEFAULT_BASE_PORT
    state_dir: Path = Path("state/lab")
    feature: bool = False
    querier_interval: float = 60.0
    rate: float = DEFAULT_RATE
    host: str = "127.0.0.1"
    #: the admin password for a first start; None: $VSI_AGENT_ADMIN_PASSWORD, else generated
    admin_password: str | None = None


def lab_config(device: str, *, feature: bool, query_interval: float = 60.0) -> etree._Element:
    """The `<config>` a lab device starts with (SPEC section 6), as a NETCONF client would
    send it in a copy-config."""
    igmp = (f"<enable>true</enable><query-interval>{_seconds(query_interval)}</query-interval>"
            f"<max-response-time>{_seconds(max_response_time(query_interval))}</max-response-time>")
    if feature:
        igmp += ("<backup-query-forward>true</backup-query-forward>"
                 "<backup-query-source-mac-replace>true</backup-query-source-mac-replace>"
                 "<backup-report-forward>true</backup-report-forward>"
                 "<backup-report-source-mac-replace>true</backup-report-source-mac-replace>")
    if device == "UPE":
        acs = "<ac><interface>ac1</interface></ac><ac><interface>ac2</interface></ac>"
        pws = (f"<pw><peer-address>{SPE1_ADDRESS}</peer-address><vc-id>{VC_ID}</vc-id>"
               f"<interface>pw-spe1</interface><role>primary</role></pw>"
               f"<pw><peer-address>{SPE2_ADDRESS}</peer-address><vc-id>{VC_ID}</vc-id>"
               f"<interface>pw-spe2</interface><role>backup</role></pw>")
    elif device in ("SPE1", "SPE2"):
        acs = "<ac><interface>uplink</interface></ac>"
        pws = (f"<pw><peer-address>{UPE_ADDRESS}</peer-address><vc-id>{VC_ID}</vc-id>"
               f"<interface>pw-upe</interface></pw>")
    else:
        raise ValueError(f"the lab has no device {device!r}; it has {', '.join(DEVICES)}")
    text = (f'<config xmlns="{NC}"><l2-multicast xmlns="{VL2MC}"><igmp-snooping-enable>true'
            f'</igmp-snooping-enable><device-mac>{MACS[device]}</device-mac></l2-multicast>'
            f'<vsis xmlns="{VL2MC}"><vsi><name>{VSI}</name>'
            f'<unknown-multicast-action>drop</unknown-multicast-action>'
            f'<acs>{acs}</acs><pws>{pws}</pws><igmp-snooping>{igmp}</igmp-snooping></vsi></vsis></config>')
    return etree.fromstring(text)


def _seconds(value: float) -> str:
    if value != int(value) or value < 1:
        raise ValueError(f"the module counts these times in whole seconds, not {value!r}")
    return str(int(value))


class Lab:
    """The topology, its real-time runner and the three agents.  Build, ``await start()``,
    ``await stop()``; everything runs on the loop that started it."""

    def __init__(self, options: LabOptions, *, schema: Schema | None = None) -> None:
        self.options = options
        self.state_dir = Path(options.state_dir)
        make_private_dir(self.state_dir)
        known, self.password_file = _lab_password(self.state_dir, options.admin_password)
        #: the admin password, when known (None: the users were created earlier with another)
        self.password = known
        self.sim = Simulator()
        self.topology: FailoverLab = build_lab(
            self.sim, {name: DeviceConfig() for name in DEVICES},
            query_interval=options.querier_interval,
            max_response_time=max_response_time(options.querier_interval))
        for node in self.nodes.values():
            node.record_events = False        # a lab runs for hours: keep no event history
        for receiver in self.topology.receivers.values():
            receiver.remember_sequences = False
        self.runner = RealTimeRunner(self.sim)
        schema = schema if schema is not None else load_schema()
        self.servers: dict[str, Server] = {}
        for offset, name in enumerate(DEVICES):
            # base port 0: every agent on a free port of its own (tests)
            port = options.base_port + offset if options.base_port else 0
            config = ServerConfig(host=options.host, port=port,
                                  state_dir=self.state_dir / name, admin_password=known or "",
                                  device_name=name)
            server = Server(config, schema=schema, dataplane=SimDataplane(self.nodes[name], self.runner))
            stores = server.datastores
            stores.replace_running(stores.tree_from_config(
                lab_config(name, feature=options.feature, query_interval=options.querier_interval)))
            self.servers[name] = server

    @property
    def nodes(self) -> dict[str, DeviceNode]:
        lab = self.topology
        return {"UPE": lab.upe, "SPE1": lab.spe1, "SPE2": lab.spe2}

    async def start(self) -> None:
        """Start the clock and the traffic, then listen on the three ports."""
        lab = self.topology
        lab.router.start(0.0)
        for name, groups in RECEIVER_GROUPS.items():
            for group in groups:
                self.sim.at(0.5, lab.receivers[name].join, group)
        for group in GROUPS:
            lab.router.stream(group, self.options.rate, start=1.0)
        self.runner.start()
        try:
            for server in self.servers.values():
                await server.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for server in self.servers.values():
            await server.stop()
        self.runner.stop()

    def now(self) -> float:
        return self.runner.now()

    def endpoints(self) -> dict[str, tuple[str, int]]:
        """(host, port) of each device's NETCONF server."""
        return {name: (server.config.host, server.port) for name, server in self.servers.items()}

    def receiver_gaps(self, since: float = 0.0) -> dict[str, float]:
        """Per receiver, the longest interruption (seconds) of any of its groups that ended
        after ``since`` (virtual time), 0.0 when none did."""
        self.runner.catch_up()
        result = {}
        for name, host in self.topology.receivers.items():
            longest = 0.0
            for reception in host.receptions.values():
                for gap in reception.gaps:
                    if gap.resume_time >= since:
                        longest = max(longest, gap.duration)
            result[name] = longest
        return result


def _lab_password(state_dir: Path, given: str | None) -> tuple[str | None, Path | None]:
    """SPEC section 6's password rule, once for the lab: the given password or
    $VSI_AGENT_ADMIN_PASSWORD, else one generated on the first start and saved in
    ``DIR/admin-password`` (0600).  Returns the password to print and the file it is kept in.

    Users are created on the first start only: when they exist already, the password that
    counts is the one they were created with, so a password given now is printed only if it
    is that one, and otherwise None (the caller says the old one stands)."""
    password = given or os.environ.get(ADMIN_PASSWORD_ENV)
    path = state_dir / ADMIN_PASSWORD_FILE
    stores = [UserStore(state_dir / name) for name in DEVICES]
    if any(store.exists() for store in stores):
        saved = path.read_text(encoding="utf-8").strip() if path.exists() else None
        for candidate, where in ((password, None), (saved, path)):
            if candidate and all(store.verify_password(ADMIN_USER, candidate) for store in stores
                                 if store.exists()):
                return candidate, where
        return None, None
    if password:
        return password, None
    password = secrets.token_urlsafe(18)
    atomic_write(path, (password + "\n").encode("utf-8"))
    return password, path


# --------------------------------------------------------------------------- the live view


def render_view(lab: Lab) -> str:
    """One screen: PW states and group tables of the three devices, and the receivers."""
    now = lab.runner.catch_up()
    feature = "on" if lab.options.feature else "off"
    lines = [f"vsi-multicast-agent lab   t={now:8.1f} s   feature at start: {feature}   (Ctrl-C stops)", ""]
    lines.append(f"{'device':6} {'pseudowire':22} {'role':8} {'oper':5} {'state':8} remote")
    for name, node in lab.nodes.items():
        vsi = node.device.vsis.get(VSI)
        if vsi is None:
            lines.append(f"{name:6} (no VSI {VSI})")
            continue
        for (peer, vc_id), pw in vsi.pws.pws.items():
            lines.append(f"{name:6} {pw.interface + ' ' + peer + ':' + str(vc_id):22} {pw.role or '-':8} "
                         f"{pw.oper_status:5} {pw.forwarding_state:8} {pw.remote_status or 'unknown'}")
    lines += ["", f"{'device':6} {'group':11} {'port':8} {'flags':24} expires"]
    for name, node in lab.nodes.items():
        vsi = node.device.vsis.get(VSI)
        snooping = vsi.snooping if vsi is not None else None
        if snooping is None:
            lines.append(f"{name:6} (snooping off)")
            continue
        rows = 0
        for group, sources in snooping.groups.items():
            for entry in sources.values():
                for interface, membership in entry.ports.items():
                    flags = ["static" if membership.static else "dynamic"]
                    flags.append("forwarding" if vsi.port_forwarding(interface) else "not forwarding")
                    if membership.learned_on_backup:
                        flags.append("backup")
                    expires = "-" if membership.expires is None else f"{max(0.0, membership.expires - now):.0f} s"
                    lines.append(f"{name:6} {ip_str(group):11} {interface:8} {', '.join(flags):24} {expires}")
                    rows += 1
        if not rows:
            lines.append(f"{name:6} (no groups)")
    lines += ["", f"{'receiver':10} {'group':11} {'frames':>8} {'longest gap':>12}"]
    for name, host in lab.topology.receivers.items():
        if not host.receptions:
            lines.append(f"{name:10} (no group joined yet)")
        for group, reception in sorted(host.receptions.items()):
            longest = max((gap.duration for gap in reception.gaps), default=0.0)
            lines.append(f"{name:10} {ip_str(group):11} {reception.received:8d} {longest * 1000:9.1f} ms")
    return "\n".join(lines)


def credentials_text(lab: Lab) -> str:
    where = ", ".join(f"{name} {host}:{port}" for name, (host, port) in lab.endpoints().items())
    if lab.password is None:
        return (f"vsi-agent lab: NETCONF over SSH: {where}\n"
                f"vsi-agent lab: user {ADMIN_USER!r}, with the password it was given when {lab.state_dir} "
                f"was first used\n")
    saved = f" (saved in {lab.password_file})" if lab.password_file else ""
    return (f"vsi-agent lab: NETCONF over SSH: {where}\n"
            f"vsi-agent lab: user {ADMIN_USER!r}, password {lab.password!r}{saved}\n")


async def run_lab(options: LabOptions, *, out: TextIO = sys.stdout, refresh: float = 1.0) -> None:
    """Run the lab until SIGINT or SIGTERM, redrawing the live view every ``refresh`` s."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    lab = Lab(options)
    try:
        await lab.start()
        out.write(credentials_text(lab))
        out.flush()
        tty = out.isatty()
        while not stop.is_set():
            view = render_view(lab)
            # a terminal gets the view redrawn in place; a pipe or file gets it appended
            out.write(("\x1b[H\x1b[2J" + credentials_text(lab) + "\n" if tty else "\n") + view + "\n")
            out.flush()
            try:
                await asyncio.wait_for(stop.wait(), timeout=refresh)
            except asyncio.TimeoutError:
                pass
    finally:
        await lab.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
