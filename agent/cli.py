"""``vsi-agent``: the command line of SPEC section 6.

    vsi-agent serve [--host 127.0.0.1] [--port N] [--state-dir DIR] [--dataplane sim|linux]
                    [--router-id A.B.C.D] [--device-name NAME]
    vsi-agent lab [--base-port 8301] [--state-dir DIR] [--feature on|off] [--querier-interval S]
    vsi-agent lab --scenario failover [--json] [--plot FILE.png]
    vsi-agent users add NAME (--password-stdin | --key FILE) [--group G]... [--state-dir DIR]

The state directory defaults to ``$VSI_AGENT_STATE_DIR`` or ``./state``.  Logs go to stderr;
SIGINT and SIGTERM stop the agent cleanly (sessions ended, hooks run, sockets closed).
Each sub-command is one ``_cmd_*`` function registered in :func:`build_parser`.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.cli_types import number_in_range
from agent.dataplane_driver import Dataplane, SimDataplane, standalone_mac
from agent.lab import DEFAULT_BASE_PORT, DEFAULT_RATE, DEVICES, MIN_QUERIER_INTERVAL, LabOptions, run_lab
from agent.server import Server, ServerConfig, default_port, default_state_dir
from agent.users import UserStore, UsersError

log = logging.getLogger("agent")


class CliError(Exception):
    """A user mistake: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vsi-agent", description="NETCONF/YANG agent for VPLS PEs "
                                     "with IGMP snooping and rapid multicast forwarding on a backup device")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run one device agent (NETCONF over SSH)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=None,
                       help=f"TCP port (default 830 as root, else 8830; now {default_port()})")
    _state_dir_option(serve)
    serve.add_argument("--dataplane", choices=("sim", "linux"), default="sim",
                       help="forwarding core driver: a simulated device, or the Linux interfaces named "
                            "in the configuration (AF_PACKET; needs root or CAP_NET_RAW) (default sim)")
    serve.add_argument("--router-id", type=_ipv4, default=None, metavar="A.B.C.D",
                       help="this device's address: the LSR id in its PW status messages (what its peers "
                            "configure as peer-address) and the source of its IGMP queries")
    serve.add_argument("--device-name", default="vsi-agent", metavar="NAME", help="name in logs")
    serve.set_defaults(func=_cmd_serve)

    lab = commands.add_parser("lab", help="the section 2 network in the simulator, one agent per device")
    lab.add_argument("--base-port", type=_port, default=DEFAULT_BASE_PORT, metavar="N",
                     help=f"UPE's port; SPE1 and SPE2 listen on the next two (default {DEFAULT_BASE_PORT})")
    lab.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                     help="users and host keys of the three agents (default $VSI_AGENT_STATE_DIR/lab or ./state/lab)")
    lab.add_argument("--feature", choices=("on", "off"), default="off",
                     help="start with rapid multicast forwarding on the backup device on or off (default off)")
    lab.add_argument("--querier-interval", type=_querier_interval, default=60, metavar="S",
                     help="the router's query interval in seconds (default 60)")
    lab.add_argument("--rate", type=_rate, default=DEFAULT_RATE, metavar="FPS",
                     help=f"frames per second the source sends to each group (default {DEFAULT_RATE:g})")
    lab.add_argument("--scenario", choices=("failover",), default=None,
                     help="run the switchover in virtual time, feature off and on, and print the comparison")
    lab.add_argument("--json", action="store_true", help="with --scenario: one JSON object")
    lab.add_argument("--plot", type=Path, default=None, metavar="FILE.png",
                     help="with --scenario: write a timeline of frames received per receiver")
    lab.set_defaults(func=_cmd_lab)

    users = commands.add_parser("users", help="manage the agent's users")
    users_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = users_commands.add_parser("add", help="create a user or add a password, key or group to one")
    add.add_argument("name")
    credential = add.add_mutually_exclusive_group(required=True)
    credential.add_argument("--password-stdin", action="store_true",
                            help="read the password from the first line of standard input")
    credential.add_argument("--key", type=Path, metavar="FILE", help="OpenSSH public key file to authorize")
    add.add_argument("--group", action="append", default=[], metavar="G",
                     help="NACM group (repeatable)")
    _state_dir_option(add)
    add.set_defaults(func=_cmd_users_add)
    return parser


def _state_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                        help="datastores, users, host key (default $VSI_AGENT_STATE_DIR or ./state)")


_querier_interval = number_in_range(int, MIN_QUERIER_INTERVAL, 65535, "s", unit_name="seconds")
_rate = number_in_range(float, 0.0, 10_000.0, "frames per second", low_excluded=True)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port {port} is outside 1..65535")
    return port


# --- serve ---------------------------------------------------------------------------------

def _cmd_serve(args: argparse.Namespace) -> int:
    config = ServerConfig(host=args.host, state_dir=args.state_dir or default_state_dir(),
                          device_name=args.device_name)
    if args.port is not None:
        config.port = args.port
    asyncio.run(serve(config, dataplane=args.dataplane, router_id=args.router_id))
    return 0


def _ipv4(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 address") from None


def make_dataplane(kind: str, config: ServerConfig, router_id: str | None) -> Dataplane:
    """The dataplane ``serve --dataplane KIND`` runs: the device MAC is derived from the state
    directory (stable across restarts) until the configuration sets device-mac."""
    mac = standalone_mac(str(Path(config.state_dir).resolve()))
    if kind == "linux":
        from dataplane.linux import LinuxDataplane

        try:
            return LinuxDataplane(config.device_name, mac, querier_address=router_id)
        except OSError as exc:
            raise CliError(f"the linux dataplane cannot start: {exc.strerror or exc} "
                           "(it needs root or CAP_NET_RAW and CAP_NET_ADMIN)") from exc
    return SimDataplane.standalone(config.device_name, mac, querier_address=router_id)


async def serve(config: ServerConfig, *, dataplane: str = "sim", router_id: str | None = None) -> None:
    """Run a server until SIGINT or SIGTERM, then stop it cleanly."""
    try:
        server = Server(config, dataplane=make_dataplane(dataplane, config, router_id))
    except CliError:
        raise
    except Exception as exc:   # schema, datastore or users file problems: say what and where
        raise CliError(f"cannot start the agent with state directory {config.state_dir}: {exc}") from exc
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await server.start()
        except OSError as exc:
            raise CliError(f"cannot listen on {config.host} port {config.port}: {exc.strerror or exc}") from exc
        if server.admin_password_file is not None:
            print(f"vsi-agent: user 'admin' created; password saved in {server.admin_password_file}",
                  file=sys.stderr, flush=True)
        print(f"vsi-agent: NETCONF over SSH on {config.host} port {server.port} "
              f"(state {Path(config.state_dir).resolve()})", file=sys.stderr, flush=True)
        await stop.wait()
        log.info("shutting down")
    finally:
        await server.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


# --- lab -----------------------------------------------------------------------------------

def _cmd_lab(args: argparse.Namespace) -> int:
    if args.scenario is None:
        if args.json or args.plot is not None:
            raise CliError("--json and --plot go with --scenario failover")
        if args.base_port + len(DEVICES) - 1 > 65535:
            raise CliError(f"--base-port {args.base_port}: the lab needs {len(DEVICES)} ports from there")
        options = LabOptions(base_port=args.base_port, state_dir=args.state_dir or default_state_dir() / "lab",
                             feature=args.feature == "on", querier_interval=float(args.querier_interval),
                             rate=args.rate)
        try:
            asyncio.run(run_lab(options))
        except OSError as exc:
            raise CliError(f"cannot start the lab on ports {args.base_port}-{args.base_port + len(DEVICES) - 1}: "
                           f"{exc.strerror or exc}") from exc
        return 0
    from agent import lab_scenario

    return lab_scenario.run(json_output=args.json, plot=args.plot)


# --- users ---------------------------------------------------------------------------------

def _cmd_users_add(args: argparse.Namespace) -> int:
    store = UserStore(args.state_dir or default_state_dir())
    password = key = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError("no password on standard input")
    else:
        try:
            key = args.key.read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot read key file {args.key}: {exc.strerror or exc}") from exc
    try:
        user = store.add(args.name, password=password, key=key, groups=args.group)
    except UsersError as exc:
        raise CliError(str(exc)) from exc
    groups = ", ".join(user.groups) or "none"
    print(f"user {user.name!r} saved in {store.path} (groups: {groups})", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("asyncssh").setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"vsi-agent: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:   # Ctrl-C before the signal handlers were installed
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
