"""Where the YANG modules live on disk.

Our own module is in the repository's top-level ``yang/``; the IETF modules the server
implements are *not* copied into the repo (SPEC section 1) but read from the module
directory that the installed ``pyang`` package ships, so the agent serves exactly the
revisions its compiler understood.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: The repository root (``agent/`` is one level below it).
REPO_DIR = Path(__file__).resolve().parent.parent


def yang_dir() -> Path:
    """``yang/`` of the repository, or ``$VSI_AGENT_YANG_DIR`` when a test or a lab overrides it.

    Read at call time so an override set after import still counts.
    """
    override = os.environ.get("VSI_AGENT_YANG_DIR")
    return Path(override) if override else REPO_DIR / "yang"


#: The YANG directory as it was when the agent was imported (see :func:`yang_dir`).
YANG_DIR: Path = yang_dir()


def pyang_module_dirs() -> list[Path]:
    """pyang's bundled module directories (``.../share/yang/modules/ietf`` and ``iana``).

    pyang installs them as data files under the installation prefix, so they are found
    from ``sys.prefix`` (a venv) first, then relative to the installed package (a
    ``--user`` or system install lays ``share/`` next to ``lib/``).
    """
    import pyang  # local import: only schema compilation needs pyang

    candidates = [Path(sys.prefix), Path(sys.base_prefix)]
    package_dir = Path(pyang.__file__).resolve().parent
    candidates += [package_dir.parents[i] for i in range(2, 5) if i < len(package_dir.parents)]
    for prefix in candidates:
        base = prefix / "share" / "yang" / "modules"
        if (base / "ietf").is_dir():
            return [d for d in (base / "ietf", base / "iana") if d.is_dir()]
    raise FileNotFoundError(
        "pyang's module directory (share/yang/modules/ietf) was not found under "
        + ", ".join(str(c) for c in candidates)
    )
