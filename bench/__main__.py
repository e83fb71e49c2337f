"""Run every benchmark in turn: `python -m bench` (what `make bench` does).

Each benchmark is its own module and process (`python -m bench.<name>`), so one's memory and
warm caches do not colour the next.  The NETCONF comparison needs netconfd running
(`../shared/peers/netconfd.sh start`); it is included when `--peer HOST:PORT` is given.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

MODULES = ["bench_codec", "bench_core", "bench_validate", "bench_commit", "bench_get", "bench_state", "bench_netconf", "bench_linux"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer", help="netconfd endpoint for bench_netconf, e.g. 127.0.0.1:2830")
    ap.add_argument("only", nargs="*", help="run only these modules")
    args = ap.parse_args()
    failed = 0
    for name in args.only or MODULES:
        cmd = [sys.executable, "-m", f"bench.{name}"]
        if name == "bench_netconf" and args.peer:
            cmd += ["--peer", args.peer]
        print(f"\n=== {' '.join(cmd[1:])}", flush=True)
        failed += subprocess.run(cmd).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
