"""``python -m dataplane failover|revert [--json]``: the same as ``python -m dataplane.scenario``."""

from __future__ import annotations

import sys

from dataplane.scenario import main

if __name__ == "__main__":
    sys.exit(main())
