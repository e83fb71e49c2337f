"""RFC 6241 section 8.9 (`:xpath`): `<filter type="xpath" select="...">`, and RFC 8526's
`xpath-filter` leaf of `<get-data>`.

The expression is evaluated by libxml2 (lxml) with the prefixes in scope on the element that
carries it, the context being the datastore's root node.  A datastore has several top-level
nodes but an XML document has one root element, so the expression is evaluated once per
top-level node with that node standing as the document root (lxml's ``ElementTree(el).xpath``
does this without copying) and the node-sets are united.  Consequence, documented: a
predicate that compares across *different* top-level subtrees (``/a[/b/x = 1]``) sees only
its own subtree.  A relative expression is evaluated with the top-level node as context.

Every node in the result is reported with its ancestors and, for list entries on the way,
their keys (RFC 6241 8.9: "the server returns the selected nodes and their ancestors");
attribute and text nodes select their parent element.  An expression that is not a node-set
(``count(...)``) fails the operation, as RFC 8526 requires.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lxml import etree

from agent.errors import ErrorTag, ErrorType, RpcError
from agent.schema import Schema
from agent.state_provider import EVERYTHING, NO_PARTS, NOTHING, WHOLE_VSI, GroupKey, StateSelection, VsiParts
from agent.subtree_filter import (GROUP_ADDRESS_TAG, GROUP_TAG, IGMP_SNOOPING_TAG, MAC_TABLE_TAG, SOURCE_ADDRESS_TAG,
                                  VSI_NAME_TAG, VSI_TAG, VSIS_TAG, Selection)
from agent.xmlns import NC

Element = etree._Element


class XPathFilter:
    """A checked XPath expression with its prefixes; :meth:`apply` selects from top-level nodes.

    ``where`` names the carrier for error reports: ``"select"`` for the `<filter select=...>`
    attribute (errors are ``bad-attribute``), ``"xpath-filter"`` for the get-data leaf
    (errors are ``invalid-value``).
    """

    def __init__(self, select: str, nsmap: Mapping[str | None, str], *, where: str = "select") -> None:
        self.select = select
        self.where = where
        self.namespaces = {p: ns for p, ns in nsmap.items() if p}
        try:
            etree.XPath(select, namespaces=self.namespaces, regexp=False)
        except etree.XPathError as exc:
            raise self._error(f"'{select}' is not a valid XPath 1.0 expression: {exc}") from None

    def nodes(self, tops: Sequence[Element]) -> list[tuple[Element, Element]]:
        """(selected element, its top-level node) for every node the expression selects."""
        found: list[tuple[Element, Element]] = []
        for top in tops:
            try:
                # each top-level node is its own document root, as `/` means in a filter;
                # regexp=False: lxml otherwise offers EXSLT regular expressions (re:test ...),
                # which are not XPath 1.0 and let one client stall the event loop with a
                # backtracking pattern.
                evaluate = etree.XPathDocumentEvaluator(etree.ElementTree(top), namespaces=self.namespaces,
                                                        regexp=False)
                result = evaluate(self.select)
            except etree.XPathError as exc:
                raise self._error(f"cannot evaluate XPath '{self.select}': {exc}") from None
            if not isinstance(result, list):
                raise self._error(f"XPath '{self.select}' does not select a node-set (it gives {result!r})")
            for item in result:
                el = item if isinstance(item, etree._Element) else getattr(item, "getparent", lambda: None)()
                if isinstance(el, etree._Element) and isinstance(el.tag, str):
                    found.append((el, top))
        return found

    def apply(self, tops: Sequence[Element], schema: Schema | None = None,
              nsmap: dict[str | None, str] | None = None) -> Element:
        """A new `<data>` element with the selected nodes, their ancestors and keys."""
        selection = Selection(schema)
        for el, top in self.nodes(tops):
            selection.add_with_ancestors(el, top)
        return selection.build(tops, nsmap)

    def hints(self, schema: Schema | None = None) -> StateSelection:
        """What the expression can select of the state, for :class:`StateProvider`."""
        return xpath_hints(self.select, self.namespaces)

    def _error(self, message: str) -> RpcError:
        if self.where == "select":
            return RpcError(ErrorTag.BAD_ATTRIBUTE, message, type=ErrorType.PROTOCOL,
                            info=[("bad-attribute", "select"), ("bad-element", "filter")])
        return RpcError(ErrorTag.INVALID_VALUE, message, type=ErrorType.PROTOCOL, info=[("bad-element", self.where)])


def filter_from_element(filter_el: Element) -> XPathFilter:
    """The XPath filter of a `<filter type="xpath">` element (RFC 6241 8.9)."""
    select = filter_el.get("select")
    if select is None:
        select = filter_el.get(f"{{{NC}}}select")
    if select is None:
        raise RpcError(ErrorTag.MISSING_ATTRIBUTE, "an XPath filter needs a 'select' attribute",
                       type=ErrorType.PROTOCOL, info=[("bad-attribute", "select"), ("bad-element", "filter")])
    return XPathFilter(select, filter_el.nsmap, where="select")


# --- hints -----------------------------------------------------------------------------------
#
# What an expression can select of the state, for the state provider (a superset: the
# expression itself runs on the result).  Only a union of absolute location paths of
# downward steps is read - ``/p:vsis/p:vsi[p:name='v']/p:igmp-snooping/p:group[...]`` - with
# predicates that are conjunctions of ``child = 'literal'``.  Such a predicate only tests a
# child of the node it filters, so it needs no data outside that node's subtree; where that
# subtree is not rendered whole (``vsis``, ``vsi``, ``igmp-snooping``) a test other than a key
# makes the subtree whole.  Anything else (``//``, ``..``, axes, functions, ``or``, positions,
# a relative path) selects everything.

_NCNAME = r"[A-Za-z_][\w.-]*"
#: A node test of a downward step that is not a QName: any element, text, an attribute.
_OTHER_NODE_TEST = re.compile(rf"^(?:\*|{_NCNAME}:\*|text\(\)|node\(\)|@(?:\*|(?:{_NCNAME}:)?{_NCNAME}))$")
_QNAME = re.compile(rf"^(?:(?P<prefix>{_NCNAME}):)?(?P<local>{_NCNAME})$")
_LITERAL = re.compile(r"'[^']*'|\"[^\"]*\"")
#: ``p:child = 'literal'`` (either way round), its literal masked as ``\0<index>\0``
_CONDITION = re.compile(rf"^\s*(?:(?P<n1>{_NCNAME}:{_NCNAME})\s*=\s*\x00(?P<l1>\d+)\x00"
                        rf"|\x00(?P<l2>\d+)\x00\s*=\s*(?P<n2>{_NCNAME}:{_NCNAME}))\s*$")


@dataclass(frozen=True)
class _Step:
    """One step of a location path: the element it names (Clark tag; None for any other node
    test: ``*``, ``p:*``, ``text()``, an attribute) and its ANDed (child tag, literal) tests."""

    tag: str | None
    conditions: tuple[tuple[str, str], ...]

    def values(self, tag: str) -> set[str]:
        return {value for child, value in self.conditions if child == tag}


def _split_top_level(expr: str, separator: str) -> list[str] | None:
    """``expr`` split at ``separator`` outside quotes and brackets, or None when they do not balance."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(expr):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
            if depth < 0:
                return None
        elif ch == separator and depth == 0:
            parts.append(expr[start:i])
            start = i + 1
    if quote or depth:
        return None
    parts.append(expr[start:])
    return parts


def xpath_hints(select: str, namespaces: Mapping[str, str]) -> StateSelection:
    """What a union of simple absolute paths can select (see above); everything otherwise."""
    parts = _split_top_level(select, "|")
    if parts is None:
        return EVERYTHING
    selection = NOTHING
    for part in parts:
        steps = _location_steps(part, namespaces)
        if not steps or steps[0].tag is None:
            return EVERYTHING
        selection = selection.union(_path_hints(steps))
    return selection


def _location_steps(path: str, namespaces: Mapping[str, str]) -> list[_Step] | None:
    """The steps of an absolute path of downward steps with readable predicates, or None."""
    path = path.strip()
    if not path.startswith("/"):
        return None
    raw_steps = _split_top_level(path[1:], "/")
    if raw_steps is None:
        return None
    steps = []
    for raw in raw_steps:  # (an empty one: `//`, or a trailing `/`)
        step = _step(raw.strip(), namespaces)
        if step is None:
            return None
        steps.append(step)
    return steps


def _step(raw: str, namespaces: Mapping[str, str]) -> _Step | None:
    bracket = raw.find("[")
    test = (raw if bracket < 0 else raw[:bracket]).strip()
    conditions: list[tuple[str, str]] = []
    rest = "" if bracket < 0 else raw[bracket:]
    while rest:
        predicate, rest = _first_predicate(rest)
        if predicate is None:
            return None
        readable = _conditions(predicate, namespaces)
        if readable is None:
            return None
        conditions.extend(readable)
    qname = _QNAME.match(test)
    if qname is not None:
        tag = _resolve(qname.group("prefix"), qname.group("local"), namespaces)
        return None if tag is None else _Step(tag, tuple(conditions))
    return _Step(None, tuple(conditions)) if _OTHER_NODE_TEST.match(test) else None


def _first_predicate(text: str) -> tuple[str | None, str]:
    """(the first ``[...]`` predicate's inside, what follows it); (None, "") if malformed."""
    text = text.lstrip()
    if not text.startswith("["):
        return None, ""
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return text[1:i], text[i + 1:].strip()
    return None, ""


def _conditions(predicate: str, namespaces: Mapping[str, str]) -> list[tuple[str, str]] | None:
    """(child tag, literal) of a predicate ``p:child = 'literal' and ...``, or None."""
    literals: list[str] = []

    def hide(match: re.Match[str]) -> str:
        literals.append(match.group()[1:-1])
        return f"\x00{len(literals) - 1}\x00"

    masked = _LITERAL.sub(hide, predicate)
    found = []
    for conjunct in re.split(r"\s+and\s+", masked):
        match = _CONDITION.match(conjunct)
        if match is None:
            return None
        prefix, local = (match.group("n1") or match.group("n2")).split(":")
        tag = _resolve(prefix, local, namespaces)
        if tag is None:
            return None
        found.append((tag, literals[int(match.group("l1") or match.group("l2"))]))
    return found


def _resolve(prefix: str | None, local: str, namespaces: Mapping[str, str]) -> str | None:
    """The Clark tag a name test matches (no prefix: no namespace), None for an unknown prefix."""
    if prefix is None:
        return local
    namespace = namespaces.get(prefix)
    return None if namespace is None else f"{{{namespace}}}{local}"


def _path_hints(steps: list[_Step]) -> StateSelection:
    top = steps[0]
    assert top.tag is not None
    if top.tag != VSIS_TAG:
        return StateSelection(tags=frozenset({top.tag}), other_vsis=None)
    every_vsi = StateSelection(tags=frozenset({VSIS_TAG}))
    if len(steps) == 1 or top.conditions or steps[1].tag is None:
        return every_vsi
    vsi = steps[1]
    if vsi.tag != VSI_TAG:
        return StateSelection(tags=frozenset({VSIS_TAG}), other_vsis=None)  # names no child of `vsis`
    names = vsi.values(VSI_NAME_TAG)
    other_tests = any(tag != VSI_NAME_TAG for tag, _ in vsi.conditions)
    parts = WHOLE_VSI if other_tests else _vsi_parts(steps[2:])
    if names:
        return StateSelection.of_vsis(names, parts, tags=(VSIS_TAG,))
    return StateSelection(tags=frozenset({VSIS_TAG}), other_vsis=parts)


def _vsi_parts(steps: list[_Step]) -> VsiParts:
    """What the steps below a ``vsi`` step can select of that VSI."""
    if not steps or steps[0].tag is None:
        return WHOLE_VSI
    if steps[0].tag == IGMP_SNOOPING_TAG:
        groups = None if steps[0].conditions else _groups(steps[1:])
        return VsiParts(groups=groups, mac_table=False)
    if steps[0].tag == MAC_TABLE_TAG:
        return VsiParts(groups=frozenset(), mac_table=True)
    return NO_PARTS


def _groups(steps: list[_Step]) -> frozenset[GroupKey] | None:
    """The group rows the steps below ``igmp-snooping`` can select (None: every row)."""
    if not steps or steps[0].tag is None:
        return None
    if steps[0].tag != GROUP_TAG:
        return frozenset()
    addresses, sources = steps[0].values(GROUP_ADDRESS_TAG), steps[0].values(SOURCE_ADDRESS_TAG)
    if not addresses:
        return None
    each_source: set[str | None] = set(sources) or {None}
    return frozenset((address, source) for address in addresses for source in each_source)
