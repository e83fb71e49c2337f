"""Every NETCONF operation module, imported for its ``@operation`` registrations.

A module that needs per-server state (a notification log, hooks on the datastores) also
defines ``install(server)``; :func:`install` calls each one once, at the end of
``Server.__init__``, in the order listed here.

`Server` imports this module once at construction.  The imports are plain on purpose: a
module listed here that is missing or broken is an ImportError at start-up, never an
operation that silently answers operation-not-supported.
"""

import sys
from typing import TYPE_CHECKING

from agent import (  # noqa: F401  (imported for their registrations)
    actions,            # RFC 7950 7.14, 7.15 the module's rpcs and <action>
    candidate,          # RFC 6241 8.3 commit, discard-changes; 8.4 cancel-commit
    confirmed_commit,   # RFC 6241 8.4 confirmed-commit:1.1
    monitoring,         # RFC 6022 get-schema, netconf-state
    netconf_edit,       # RFC 6241 7.2-7.4, 8.6 edit-config, copy-config, delete-config, validate
    netconf_get,        # RFC 6241 7.1, 7.7 get-config, get
    netconf_lock,       # RFC 6241 7.5, 7.6 lock, unlock
    netconf_sessions,   # RFC 6241 7.8, 7.9 close-session, kill-session
    nmda,               # RFC 8526 get-data, edit-data
    notifications,      # RFC 5277 create-subscription, NETCONF stream; RFC 6470 events
    yang_library,       # RFC 8525 yang-library
)

if TYPE_CHECKING:  # pragma: no cover
    from agent.server import Server

__all__ = [
    "actions",
    "notifications",
    "candidate", "confirmed_commit", "monitoring", "netconf_edit", "netconf_get",
    "netconf_lock", "netconf_sessions", "nmda", "yang_library",
]


def install(server: "Server") -> None:
    """Give every listed module that defines ``install(server)`` its per-server set-up."""
    for name in __all__:
        module = sys.modules[f"agent.{name}"]
        setup = getattr(module, "install", None)
        if setup is not None:
            setup(server)
