"""The operational-state boundary (RFC 8342 `<operational>`): who supplies `config false` data.

The agent never invents state values.  Whatever owns the live state (the dataplane, later)
implements :class:`StateProvider`; the retrieval code (`netconf_get`, `nmda`) merges what it
returns into a copy of `<running>` by list keys to form the operational view.

The two arguments are *hints* derived from the request's filter so that a provider can skip
building state nobody asked for (a get for one VSI must not render 10,000 VSIs' group
tables):

* ``tags``: Clark tags of the top-level data nodes the filter can select, or ``None`` for
  "all of them".  A provider may return nodes outside this set; the filter removes them.
* ``vsi_names``: names of the VSIs the filter can select, or ``None`` for "every VSI".  An
  empty set means the filter selects no VSI at all.

Returned elements are top-level data nodes (e.g. ``{vl2mc}vsis``) containing only the
`config false` descendants plus the list keys needed to place them.  A provider may put an
``or:origin`` attribute (namespace ``agent.xmlns.ORIGIN``) on a node to tell `<operational>`
where it came from (``or:learned`` for protocol-learned entries, ``or:system`` otherwise);
nodes without one are reported as learned.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from lxml import etree


@runtime_checkable
class StateProvider(Protocol):
    """Supplies the `config false` part of `<operational>`; see the module docstring."""

    def operational(self, tags: set[str] | None, vsi_names: set[str] | None) -> list[etree._Element]:
        """Top-level state subtrees for the given selection hints (``None`` = everything)."""
        ...


class NullStateProvider:
    """The provider used until the dataplane is wired in: there is no state, so it returns none."""

    def operational(self, tags: set[str] | None, vsi_names: set[str] | None) -> list[etree._Element]:
        return []
