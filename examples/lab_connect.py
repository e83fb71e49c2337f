"""How the examples reach the three devices of ``vsi-agent lab`` (shared by every script).

The lab listens on 127.0.0.1: UPE at the base port (default 8301), SPE1 at base+1, SPE2 at
base+2.  The password is ``--password``, else ``$VSI_AGENT_ADMIN_PASSWORD``, else the one
the lab generated in ``admin-password`` of its state directory (``--state-dir``: what was
given to ``vsi-agent lab --state-dir``; by default ``$VSI_AGENT_STATE_DIR/lab`` or
``state/lab``, where the lab keeps it by default).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import ncclient.transport.session
from ncclient import manager

# Stock ncclient waits up to 0.1 s before sending each request; scripts need not.
ncclient.transport.session.TICK = 0.001

DEVICES = ("UPE", "SPE1", "SPE2")
VL2MC = "urn:vsi-multicast-agent:yang:vsi-l2-multicast"
NS = {"v": VL2MC}


def arguments(description: str) -> argparse.ArgumentParser:
    """The connection options every example takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--base-port", type=int, default=8301, help="the lab's --base-port (UPE's port)")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default=None,
                        help="default: $VSI_AGENT_ADMIN_PASSWORD, else STATE_DIR/admin-password")
    parser.add_argument("--state-dir", type=Path,
                        default=Path(os.environ.get("VSI_AGENT_STATE_DIR") or "state") / "lab",
                        help="the lab's --state-dir (default $VSI_AGENT_STATE_DIR/lab or ./state/lab)")
    return parser


def password(args: argparse.Namespace) -> str:
    if args.password:
        return args.password
    if os.environ.get("VSI_AGENT_ADMIN_PASSWORD"):
        return os.environ["VSI_AGENT_ADMIN_PASSWORD"]
    saved = args.state_dir / "admin-password"
    try:
        return saved.read_text(encoding="utf-8").strip()
    except OSError:
        raise SystemExit(f"no --password given, $VSI_AGENT_ADMIN_PASSWORD unset and {saved} unreadable") from None


def connect(args: argparse.Namespace, device: str) -> manager.Manager:
    """An ncclient session to one lab device."""
    port = args.base_port + DEVICES.index(device)
    return manager.connect(host=args.host, port=port, username=args.user, password=password(args),
                           hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=30)
