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

from lxml import etree

from agent.errors import ErrorTag, ErrorType, RpcError
from agent.schema import Schema
from agent.subtree_filter import VSI_NAME_TAG, VSI_TAG, VSIS_TAG, Selection
from agent.xmlns import NC, split_qn

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

    def hints(self, schema: Schema | None = None) -> tuple[set[str] | None, set[str] | None]:
        """(top-level tags, VSI names) for :class:`StateProvider`, when the expression is simple."""
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

_STEP = r"(?P<{n}>[A-Za-z_][\w.-]*):(?P<{n}l>[A-Za-z_][\w.-]*)"
_FIRST_STEP = re.compile(r"^\s*/" + _STEP.format(n="p") + r"(?![\w.:-])")
_VSI_BY_NAME = re.compile(
    r"^\s*/(?P<a>[\w.-]+):vsis/(?P<b>[\w.-]+):vsi\[\s*(?P<c>[\w.-]+):name\s*=\s*(?:'(?P<q1>[^']*)'|\"(?P<q2>[^\"]*)\")\s*\]"
)


def _split_union(expr: str) -> list[str] | None:
    """Top-level `|` operands, or None when quoting/brackets make that unsafe to tell."""
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
        elif ch == "|" and depth == 0:
            parts.append(expr[start:i])
            start = i + 1
    if quote or depth:
        return None
    parts.append(expr[start:])
    return parts


def xpath_hints(select: str, namespaces: Mapping[str, str]) -> tuple[set[str] | None, set[str] | None]:
    """Which top-level tags and VSI names a union of simple absolute paths can reach.

    Only shapes that are certainly confined are narrowed: ``/p:top...`` gives its tag, and
    ``/p:vsis/p:vsi[p:name='x']...`` without ``..``, axes or ``//`` gives VSI ``x``.
    """
    parts = _split_union(select)
    if parts is None:
        return None, None
    tags: set[str] = set()
    names: set[str] | None = set()
    for part in parts:
        first = _FIRST_STEP.match(part)
        if first is None or "//" in part or first.group("p") not in namespaces:
            return None, None
        tag = f"{{{namespaces[first.group('p')]}}}{first.group('pl')}"
        tags.add(tag)
        if tag != VSIS_TAG or names is None:
            continue
        names = _vsi_name(part, namespaces, names)
    return tags, names


def _vsi_name(part: str, namespaces: Mapping[str, str], names: set[str]) -> set[str] | None:
    m = _VSI_BY_NAME.match(part)
    if m is None or ".." in part or "::" in part:
        return None
    vsi_ns, _ = split_qn(VSI_TAG)
    if not all(namespaces.get(m.group(g)) == vsi_ns for g in ("a", "b", "c")) or split_qn(VSI_NAME_TAG)[0] != vsi_ns:
        return None
    rest = part[m.end():]
    if re.search(r"\b[\w.-]+:vsis\b", rest):
        return None
    names.add(m.group("q1") if m.group("q1") is not None else m.group("q2"))
    return names
