"""RFC 6241 section 6: subtree filtering, schema-aware and walking only what the filter names.

The filter and the data are walked together, one sibling set at a time (section 6.2):

* **namespace selection** (6.2.1): a filter node matches data nodes of its namespace.  A node
  written without a namespace (or, by a common client slip, in the NETCONF base namespace)
  matches by local name in any namespace, as Netopeer2 and ConfD do, so that
  ``<filter><vsis/></filter>`` from a hand-written script still works;
* **attribute match expressions** (6.2.2): every attribute on a filter node must be present,
  with the same value, on the data node;
* **containment nodes** (6.2.3) recurse; **selection nodes** (6.2.4) pick whole subtrees;
* **content match nodes** (6.2.5) are ANDed per sibling set: one false test drops the data
  node; when all are true the data node is reported with the content-match nodes and
  whatever its selection/containment siblings pick, or whole when there are no such
  siblings.  A containment node that picks nothing is not reported.

List entries are always reported with their keys (RFC 6241 leaves that to the data model;
YANG makes keys mandatory in every entry).  When a containment node for a list carries
content-match nodes for every key, the entry is looked up by key instead of scanning the
list, so a filter for one VSI never visits the other VSIs (see ``bench/bench_get.py``).

The picked nodes are recorded in a :class:`Selection` (also used by the XPath filter) and
copied out in one pass at the end, so that two filter branches reaching the same data node
give one merged node, in document order.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from enum import Enum
from typing import TYPE_CHECKING

from lxml import etree

from agent.schema import Schema, SchemaNode
from agent.state_provider import EVERYTHING, NO_PARTS, NOTHING, WHOLE_VSI, GroupKey, StateSelection, VsiParts
from agent.xmlns import NC, VL2MC, element_children, qn, split_qn

if TYPE_CHECKING:  # pragma: no cover
    from agent.edit_config import EntryIndex

DATA_TAG = qn(NC, "data")
VSIS_TAG = qn(VL2MC, "vsis")
VSI_TAG = qn(VL2MC, "vsi")
VSI_NAME_TAG = qn(VL2MC, "name")

#: Namespaces a filter node may be written in to mean "match by local name, any namespace".
_WILDCARD_NAMESPACES = frozenset({"", NC})

Element = etree._Element
#: The parent of a top-level data node in a :class:`Selection` (the conceptual root node).
ROOT = None


class Pick(Enum):
    """What one sibling-set evaluation selected of a data node."""

    NOTHING = 0
    PART = 1
    WHOLE = 2


class Selection:
    """The data nodes a filter picked: whole subtrees, and the partial paths leading to them.

    Keys of ``parts`` are data elements (``ROOT`` for the conceptual root) and values the
    picked children in insertion order; ``whole`` holds nodes to copy with all descendants.
    """

    def __init__(self, schema: Schema | None) -> None:
        self.schema = schema
        self.whole: set[Element] = set()
        self.parts: dict[Element | None, dict[Element, None]] = {}

    def add_whole(self, parent: Element | None, el: Element) -> None:
        self.whole.add(el)
        self.parts.setdefault(parent, {})[el] = None

    def add_part(self, parent: Element | None, el: Element) -> None:
        self.parts.setdefault(parent, {})[el] = None

    def add_keys(self, entry: Element, snode: SchemaNode | None) -> None:
        """Pick the key leaves of a list entry that is reported partially."""
        if snode is None or snode.keyword != "list":
            return
        for key in snode.keys:
            key_el = entry.find(qn(snode.namespace, key))
            if key_el is not None:
                self.add_whole(entry, key_el)

    def add_with_ancestors(self, el: Element, top: Element) -> None:
        """Pick ``el`` whole, and every ancestor up to the top-level node ``top`` with its keys."""
        self.add_whole(el.getparent() if el is not top else ROOT, el)
        node = el
        while node is not top:
            parent = node.getparent()
            self.add_part(parent, node)
            self.add_keys(parent, schema_node_of(parent, self.schema))
            node = parent
        self.add_part(ROOT, top)

    def build(self, tops: Sequence[Element], nsmap: dict[str | None, str] | None = None) -> Element:
        """Copy the picked nodes into a new `<data>` element (declaring ``nsmap``), in document order."""
        data = etree.Element(DATA_TAG, nsmap=nsmap or {None: NC})
        for el in self._ordered(ROOT, tops):
            self._emit(data, el)
        return data

    def _ordered(self, parent: Element | None, siblings: Iterable[Element]) -> list[Element]:
        picked = list(self.parts.get(parent, ()))
        if len(picked) > 1:
            position = {el: i for i, el in enumerate(siblings)}
            picked.sort(key=lambda el: position.get(el, len(position)))
        return picked

    def _emit(self, out_parent: Element, el: Element) -> None:
        if el in self.whole:
            clone = copy.deepcopy(el)
            clone.tail = None
            out_parent.append(clone)
            return
        shell = new_child(out_parent, el)
        for child in self._ordered(el, el):
            self._emit(shell, child)


def new_child(out_parent: Element, el: Element) -> Element:
    """An empty copy of ``el`` (tag and attributes) under ``out_parent``, own default namespace."""
    ns, _ = split_qn(el.tag)
    shell = etree.SubElement(out_parent, el.tag, nsmap={None: ns} if ns and ns != _default_ns(out_parent) else None)
    for name, value in el.attrib.items():
        shell.set(name, value)
    return shell


def _default_ns(el: Element) -> str | None:
    return el.nsmap.get(None)


def schema_node_of(el: Element, schema: Schema | None) -> SchemaNode | None:
    """The schema node of a data element, found by walking up to its top-level ancestor."""
    if schema is None:
        return None
    chain: list[str] = []
    node: Element | None = el
    while node is not None and node.tag != DATA_TAG:
        chain.append(node.tag)
        node = node.getparent()
    snode = schema.root(chain.pop()) if chain else None
    while chain and snode is not None:
        snode = snode.child(chain.pop())
    return snode


# --- the filter node classification of RFC 6241 section 6.2 --------------------------------

def content_of(fnode: Element) -> str | None:
    """The match value of a content match node (6.2.5), or None for a selection node."""
    text = (fnode.text or "").strip()
    return text or None


def is_wildcard(fnode: Element) -> bool:
    return split_qn(fnode.tag)[0] in _WILDCARD_NAMESPACES


class SubtreeFilter:
    """One `<filter type="subtree">` applied to the top-level data nodes of a datastore."""

    def __init__(self, filter_el: Element, schema: Schema | None = None) -> None:
        self.filter_el = filter_el
        self.schema = schema
        self.tops: Sequence[Element] = ()
        self.index: EntryIndex | None = None

    def apply(self, tops: Sequence[Element], nsmap: dict[str | None, str] | None = None,
              index: "EntryIndex | None" = None) -> Element:
        """A new `<data>` element (declaring ``nsmap``) holding what the filter selects of ``tops``;
        ``index`` is the key index of the datastore ``tops`` belong to, if they do."""
        self.index = index
        selection = Selection(self.schema)
        fnodes = element_children(self.filter_el)
        if fnodes:  # 6.1: an empty filter selects nothing
            self.tops = tops
            pick = self._evaluate(fnodes, ROOT, None, selection)
            if pick is Pick.WHOLE:
                for top in tops:
                    selection.add_whole(ROOT, top)
        return selection.build(tops, nsmap)

    # -- one sibling set against one data node ------------------------------------------------

    def _evaluate(self, fnodes: list[Element], data: Element | None, snode: SchemaNode | None,
                  selection: Selection) -> Pick:
        content, selections, containments = _partition(fnodes)
        matched: list[Element] = []
        for fnode in content:
            value = content_of(fnode)
            hits = [d for d in self._matches(fnode, data, snode) if (d.text or "").strip() == value]
            if not hits:
                return Pick.NOTHING
            matched.extend(hits)
        if not selections and not containments:
            return Pick.WHOLE if content else Pick.NOTHING
        for d in matched:
            selection.add_whole(data, d)
        picked = bool(matched)
        for fnode in selections:
            for d in self._matches(fnode, data, snode):
                selection.add_whole(data, d)
                picked = True
        for fnode in containments:
            children = element_children(fnode)
            for d in self._matches(fnode, data, snode, children):
                pick = self._evaluate(children, d, self._child_schema(data, snode, d), selection)
                if pick is Pick.WHOLE:
                    selection.add_whole(data, d)
                elif pick is Pick.PART:
                    selection.add_part(data, d)
                picked = picked or pick is not Pick.NOTHING
        if not picked:
            return Pick.NOTHING
        if data is not None:
            selection.add_keys(data, snode)
        return Pick.PART

    # -- which data children a filter node names ---------------------------------------------

    def _child_schema(self, data: Element | None, snode: SchemaNode | None, child: Element) -> SchemaNode | None:
        if data is None:
            return self.schema.root(child.tag) if self.schema is not None else None
        return snode.child(child.tag) if snode is not None else None

    def _matches(self, fnode: Element, data: Element | None, snode: SchemaNode | None,
                 fchildren: list[Element] | None = None) -> Iterator[Element]:
        """Data children of ``data`` (or the top-level nodes) that ``fnode`` names, attributes matched."""
        candidates = self._by_key(fnode, data, snode, fchildren) if fchildren else None
        if candidates is None:
            candidates = self._by_name(fnode, data)
        attrs = dict(fnode.attrib)
        for d in candidates:
            if all(d.get(name) == value for name, value in attrs.items()):
                yield d

    def _by_name(self, fnode: Element, data: Element | None) -> Iterable[Element]:
        ns, local = split_qn(fnode.tag)
        if data is None:
            if ns in _WILDCARD_NAMESPACES:
                return [t for t in self.tops if split_qn(t.tag)[1] == local]
            return [t for t in self.tops if t.tag == fnode.tag]
        return data.iterchildren("{*}" + local if ns in _WILDCARD_NAMESPACES else fnode.tag)

    def _by_key(self, fnode: Element, data: Element | None, snode: SchemaNode | None,
                fchildren: list[Element]) -> list[Element] | None:
        """List entries found through their keys, when the filter gives a value for every key."""
        if data is None or snode is None:
            return None
        list_node = self._schema_child_for(fnode, snode)
        if list_node is None or list_node.keyword != "list" or not list_node.keys:
            return None
        values: dict[str, str] = {}
        for child in fchildren:
            value = content_of(child) if not element_children(child) else None
            ns, local = split_qn(child.tag)
            if value is not None and local in list_node.keys and ns in (list_node.namespace, *_WILDCARD_NAMESPACES):
                if local in values and values[local] != value:
                    return []  # two different values for one key: nothing can match
                values[local] = value
        if len(values) != len(list_node.keys):
            return None
        return find_entries(data, list_node, tuple(values[k] for k in list_node.keys), self.index)

    def _schema_child_for(self, fnode: Element, snode: SchemaNode) -> SchemaNode | None:
        ns, local = split_qn(fnode.tag)
        if ns not in _WILDCARD_NAMESPACES:
            return snode.child(fnode.tag)
        found = [c for c in snode.children.values() if c.name == local]
        return found[0] if len(found) == 1 else None


# --- list entries by key ------------------------------------------------------------------------

def key_values(entry: Element, list_node: SchemaNode) -> tuple[str, ...]:
    return tuple((entry.findtext(qn(list_node.namespace, k)) or "").strip() for k in list_node.keys)


def find_entries(parent: Element, list_node: SchemaNode, values: tuple[str, ...],
                 index: "EntryIndex | None" = None) -> list[Element]:
    """The entry of ``list_node`` under ``parent`` with these key values ([] if none).

    ``index``: the key index of the datastore ``parent`` belongs to (a dict lookup among
    10k VSIs); without one (a tree this request built) the entries are scanned.
    """
    if index is not None:
        entry = index.find(parent, list_node, values)
        return [entry] if entry is not None else []
    for entry in parent.iterchildren(list_node.tag):
        if key_values(entry, list_node) == values:
            return [entry]
    return []


def _partition(fnodes: list[Element]) -> tuple[list[Element], list[Element], list[Element]]:
    """Split a sibling set into content match, selection and containment nodes (6.2.3-6.2.5)."""
    content: list[Element] = []
    selections: list[Element] = []
    containments: list[Element] = []
    for fnode in fnodes:
        if element_children(fnode):
            containments.append(fnode)
        elif content_of(fnode) is not None:
            content.append(fnode)
        else:
            selections.append(fnode)
    return content, selections, containments


def apply_subtree_filter(filter_el: Element, tops: Sequence[Element], schema: Schema | None = None) -> Element:
    """Apply a subtree filter (the `<filter>` element itself) to top-level data nodes."""
    return SubtreeFilter(filter_el, schema).apply(tops)


# --- hints for the state provider ------------------------------------------------------------
#
# What a filter can select of the state (:class:`StateSelection`), read from the filter alone
# before anything is built.  Always a superset: the filter itself runs on the result.  The
# reasoning at each level is the same - content match nodes are ANDed (6.2.5), so they only
# ever narrow what their siblings select; they never need data the selection leaves out,
# because every leaf they can test is rendered with its VSI (name, description, counters) or
# with its group row.  A sibling set of content matches only selects its parent whole.

GROUP_TAG = qn(VL2MC, "group")
IGMP_SNOOPING_TAG = qn(VL2MC, "igmp-snooping")
MAC_TABLE_TAG = qn(VL2MC, "mac-table")
GROUP_ADDRESS_TAG = qn(VL2MC, "group-address")
SOURCE_ADDRESS_TAG = qn(VL2MC, "source-address")


def subtree_hints(filter_el: Element, schema: Schema | None = None) -> StateSelection:
    """What the subtree filter ``filter_el`` can select, for :class:`StateProvider`."""
    fnodes = element_children(filter_el)
    if not fnodes:
        return NOTHING  # 6.1: an empty filter selects nothing
    content, selections, containments = _partition(fnodes)
    if content and not selections and not containments:
        return EVERYTHING  # only content matches: every top-level node would be reported whole
    selection = StateSelection(tags=_top_tags(fnodes, schema), other_vsis=None)
    for fnode in fnodes:
        if _names(fnode, VSIS_TAG):
            selection = selection.union(_vsis_hints(fnode))
    return selection


def _top_tags(fnodes: list[Element], schema: Schema | None) -> frozenset[str] | None:
    tags: set[str] = set()
    for fnode in fnodes:
        if not is_wildcard(fnode):
            tags.add(fnode.tag)  # type: ignore[arg-type]
        elif schema is None:
            return None
        else:
            local = split_qn(fnode.tag)[1]
            tags |= {tag for tag, node in schema.roots.items() if node.name == local}
    return frozenset(tags)


def _names(fnode: Element, tag: str) -> bool:
    return fnode.tag == tag or (is_wildcard(fnode) and split_qn(fnode.tag)[1] == split_qn(tag)[1])


def _vsis_hints(vsis: Element) -> StateSelection:
    """The VSIs (and their parts) one ``vsis`` filter node can select."""
    vsi_nodes = _picking_children(vsis)
    if vsi_nodes is None:
        return StateSelection(tags=frozenset())  # a selection node, or content matches only: all
    selection = StateSelection(tags=frozenset(), other_vsis=None)
    for vsi in vsi_nodes:
        if not _names(vsi, VSI_TAG):
            continue  # names no child of `vsis`: selects nothing
        names = _key_values(vsi, VSI_NAME_TAG)
        parts = _vsi_parts(vsi)
        if names:  # (two different names are ANDed and select nothing: the union is a superset)
            selection = selection.union(StateSelection.of_vsis(names, parts, tags=()))
        else:
            selection = selection.union(StateSelection(tags=frozenset(), other_vsis=parts))
    return selection


def _picking_children(fnode: Element) -> list[Element] | None:
    """The selection and containment children of ``fnode``, or None when ``fnode`` is reported
    whole (it is a selection node, or its children are all content match nodes)."""
    content, selections, containments = _partition(element_children(fnode))
    if not selections and not containments:
        return None
    return selections + containments


def _vsi_parts(vsi: Element) -> VsiParts:
    """The parts of a VSI one ``vsi`` filter node can select."""
    children = _picking_children(vsi)
    if children is None:
        return WHOLE_VSI
    parts = NO_PARTS
    for child in children:
        if _names(child, IGMP_SNOOPING_TAG):
            parts = parts.union(VsiParts(groups=_snooping_groups(child), mac_table=False))
        elif _names(child, MAC_TABLE_TAG):
            parts = parts.union(VsiParts(groups=frozenset(), mac_table=True))
    return parts


def _snooping_groups(snooping: Element) -> frozenset[GroupKey] | None:
    """The group rows one ``igmp-snooping`` filter node can select (None: every row)."""
    children = _picking_children(snooping)
    if children is None:
        return None
    groups: frozenset[GroupKey] | None = frozenset()
    for child in children:
        if _names(child, GROUP_TAG):
            keys = _group_keys(child) if element_children(child) else None
            groups = None if groups is None or keys is None else groups | keys
    return groups


def _group_keys(group: Element) -> frozenset[GroupKey] | None:
    """The rows a ``group`` containment node names by key content matches (None: every row).

    Content matches on other leaves (``mac-address``, ``up-time``) are ANDed with the key
    ones, so the keys alone bound the rows; without a ``group-address`` every row can match.
    """
    addresses, sources = _key_values(group, GROUP_ADDRESS_TAG), _key_values(group, SOURCE_ADDRESS_TAG)
    if not addresses:
        return None
    each_source: set[str | None] = set(sources) or {None}
    return frozenset((address, source) for address in addresses for source in each_source)


def _key_values(fnode: Element, tag: str) -> set[str]:
    """Values of the content match children of ``fnode`` that name the leaf ``tag``."""
    return {value for c in element_children(fnode)
            if _names(c, tag) and not element_children(c) and (value := content_of(c)) is not None}
