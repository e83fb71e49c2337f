"""The operational-state boundary (RFC 8342 `<operational>`): who supplies `config false` data.

The agent never invents state values.  Whatever owns the live state (the dataplane)
implements :class:`StateProvider`; the retrieval code (`netconf_get`, `nmda`) merges what it
returns into a copy of `<running>` by list keys to form the operational view.

The argument is a :class:`StateSelection`: what the request's filter can reach, derived from
the filter *before* anything is built (``subtree_filter.subtree_hints``,
``xpath_filter.xpath_hints``), so that a provider can skip state nobody asked for - a get for
one VSI must not render 10,000 VSIs, and a get for one group must not render the other
99,999 groups of its VSI.  A selection is a *superset* hint: the filter still runs on the
result, so a provider may always return more than selected (and the hint derivation, when
unsure, selects everything), but never less.

Returned elements are top-level data nodes (e.g. ``{vl2mc}vsis``) containing only the
`config false` descendants plus the list keys needed to place them.  A provider may put an
``or:origin`` attribute (namespace ``agent.xmlns.ORIGIN``) on a node to tell `<operational>`
where it came from (``or:learned`` for protocol-learned entries, ``or:system`` otherwise);
nodes without one are reported as learned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from lxml import etree

__all__ = ["EVERYTHING", "NOTHING", "NO_PARTS", "WHOLE_VSI", "GroupKey", "StateProvider",
           "StateSelection", "VsiParts"]

#: A row of a VSI's ``igmp-snooping/group`` list as a filter names it: (``group-address``,
#: ``source-address``), the texts as written; a source of None means every source of the group.
GroupKey = tuple[str, str | None]


def _union_groups(a: frozenset[GroupKey] | None, b: frozenset[GroupKey] | None) -> frozenset[GroupKey] | None:
    return None if a is None or b is None else a | b


@dataclass(frozen=True)
class VsiParts:
    """Which of a VSI's potentially large state tables a filter can reach.

    The rest of a VSI's state (AC and PW status, querier, router ports, counters) is a few
    lines and always rendered whole; only these two tables grow with the traffic.

    ``groups``: the ``igmp-snooping/group`` rows, None for the whole table, empty for none.
    ``mac_table``: whether the ``mac-table`` container is wanted at all.
    """

    groups: frozenset[GroupKey] | None = None
    mac_table: bool = True

    def union(self, other: VsiParts) -> VsiParts:
        return VsiParts(_union_groups(self.groups, other.groups), self.mac_table or other.mac_table)


#: The whole of a VSI's state.
WHOLE_VSI = VsiParts()
#: A VSI's small state only: no group row, no MAC table.
NO_PARTS = VsiParts(groups=frozenset(), mac_table=False)


def _union_vsis(a: Mapping[str, VsiParts], b: Mapping[str, VsiParts]) -> dict[str, VsiParts]:
    merged = dict(a)
    for name, parts in b.items():
        merged[name] = merged[name].union(parts) if name in merged else parts
    return merged


@dataclass(frozen=True)
class StateSelection:
    """What a request can select of the state, for :meth:`StateProvider.operational`.

    ``tags``: Clark tags of the top-level data nodes the filter can select, None for all.
    ``vsis``: VSIs selected by name, with their parts.
    ``other_vsis``: the parts of *every* VSI (named or not), None when only named VSIs are
    selected.  A named VSI gets the union of its own parts and these.

    ``StateSelection()`` is "everything"; :meth:`union` combines the selections of the
    branches of a filter (subtree sibling nodes, XPath ``|`` operands).
    """

    tags: frozenset[str] | None = None
    vsis: Mapping[str, VsiParts] = field(default_factory=dict)
    other_vsis: VsiParts | None = WHOLE_VSI

    @classmethod
    def of_vsis(cls, names: Iterable[str], parts: VsiParts = WHOLE_VSI,
                tags: Iterable[str] | None = None) -> StateSelection:
        """Only the named VSIs, each with ``parts`` (tags: None = any top-level node)."""
        return cls(tags=None if tags is None else frozenset(tags), vsis={name: parts for name in names},
                   other_vsis=None)

    @property
    def vsi_names(self) -> frozenset[str] | None:
        """Names of the VSIs that can be selected; None for every VSI, empty for none."""
        return None if self.other_vsis is not None else frozenset(self.vsis)

    def wants(self, tag: str) -> bool:
        """Whether the top-level node ``tag`` can be selected."""
        return self.tags is None or tag in self.tags

    def parts(self, vsi_name: str) -> VsiParts | None:
        """What of the VSI ``vsi_name`` can be selected, None if the VSI cannot be."""
        named, other = self.vsis.get(vsi_name), self.other_vsis
        if named is None or other is None:
            return named if other is None else other
        return named.union(other)

    def union(self, other: StateSelection) -> StateSelection:
        tags = None if self.tags is None or other.tags is None else self.tags | other.tags
        if self.other_vsis is None or other.other_vsis is None:
            every = self.other_vsis if other.other_vsis is None else other.other_vsis
        else:
            every = self.other_vsis.union(other.other_vsis)
        return StateSelection(tags, _union_vsis(self.vsis, other.vsis), every)


#: No restriction: what a request without a filter (or with one the hints cannot read) gets.
EVERYTHING = StateSelection()
#: Nothing at all: an empty filter (RFC 6241 6.1); the identity of :meth:`StateSelection.union`.
NOTHING = StateSelection(tags=frozenset(), other_vsis=None)


@runtime_checkable
class StateProvider(Protocol):
    """Supplies the `config false` part of `<operational>`; see the module docstring."""

    def operational(self, selection: StateSelection) -> list[etree._Element]:
        """Top-level state subtrees covering at least ``selection``."""
        ...
