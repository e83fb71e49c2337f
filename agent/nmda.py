"""RFC 8526 (NETCONF for NMDA, RFC 8342): `<get-data>` and `<edit-data>`.

Datastores are named by ietf-datastores identities: ``ds:running``, ``ds:candidate``,
``ds:startup``, ``ds:intended`` and ``ds:operational``.

**Intended is running.**  RFC 8342 defines `<intended>` as running after configuration
transformations (templates expanded, inactive nodes removed).  This agent has no templates
and no inactive configuration, so `<intended>` is exactly `<running>`, and is read-only.

**Operational** is running merged with state (see :func:`agent.netconf_get.operational_tops`).
Its config nodes carry the origin ``or:intended`` (inherited from the top-level node), except
nodes that exist only as schema defaults (``or:default``); state merged from the dataplane is
``or:learned`` unless the provider says otherwise, and the server's own state (monitoring,
yang-library) is ``or:system``.

`<get-data>` applies its filters in the order RFC 8526 3.1.1 ANDs them: the subtree or XPath
filter, ``config-filter``, the origin filters (config nodes only; state is never
origin-filtered), ``max-depth`` (counted from the top-level nodes; list keys always stay),
then with-defaults (from the ietf-netconf-nmda namespace) and ``with-origin``.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from agent.errors import ErrorTag, ErrorType, RpcError, missing_element, operation_not_supported
from agent.netconf_get import (STATE_ORIGIN_MARK, Filter, check_parameters, filter_hints, finish_reply,
                               gather, operational_tops, select)
from agent.rpc import RpcContext, operation
from agent.schema import Schema, SchemaNode
from agent.subtree_filter import Selection, SubtreeFilter
from agent.with_defaults import apply_with_defaults, parse_mode
from agent.xmlns import DATASTORES, DEFAULT_MARK, INTERNAL, NC, NMDA, ORIGIN, element_children, qn
from agent.xpath_filter import XPathFilter

Element = etree._Element

CONVENTIONAL = ("running", "candidate", "startup")
DATASTORE_NAMES = (*CONVENTIONAL, "intended", "operational")
WRITABLE = ("running", "candidate")
#: ietf-origin identities; every one derives from the base ``origin`` directly.
ORIGINS = frozenset({"origin", "intended", "dynamic", "system", "learned", "default", "unknown"})
ORIGIN_ATTR = qn(ORIGIN, "origin")

_PARAMETERS = {qn(NMDA, n) for n in (
    "datastore", "subtree-filter", "xpath-filter", "config-filter", "origin-filter",
    "negated-origin-filter", "max-depth", "with-origin", "with-defaults")}
_EDIT_PARAMETERS = {qn(NMDA, n) for n in ("datastore", "default-operation", "config", "url")}


# --- parameters --------------------------------------------------------------------------------

def identity(el: Element, namespace: str, allowed: tuple[str, ...] | frozenset[str], what: str) -> str:
    """The local name of an identityref value, its prefix resolved in the element's scope."""
    text = (el.text or "").strip()
    prefix, _, local = text.rpartition(":")
    if el.nsmap.get(prefix or None) != namespace or local not in allowed:
        raise RpcError(ErrorTag.INVALID_VALUE,
                       f"'{text}' is not a {what} of this server; use one of "
                       + ", ".join(f"{p}:{n}" for p, n in (("ds" if namespace == DATASTORES else "or", a)
                                                            for a in sorted(allowed))),
                       type=ErrorType.PROTOCOL, info=[("bad-element", etree.QName(el).localname)])
    return local


def parse_datastore(op: Element, allowed: tuple[str, ...]) -> str:
    el = op.find(qn(NMDA, "datastore"))
    if el is None:
        raise missing_element("datastore", f"<{etree.QName(op).localname}> needs a <datastore> (e.g. ds:running)")
    return identity(el, DATASTORES, allowed, "datastore")


def _parse_filter(op: Element, schema: Schema) -> Filter | None:
    subtree = op.find(qn(NMDA, "subtree-filter"))
    xpath = op.find(qn(NMDA, "xpath-filter"))
    if subtree is not None and xpath is not None:
        raise RpcError(ErrorTag.BAD_ELEMENT, "give either <subtree-filter> or <xpath-filter>, not both",
                       type=ErrorType.PROTOCOL, info=[("bad-element", "xpath-filter")])
    if subtree is not None:
        return SubtreeFilter(subtree, schema)
    if xpath is not None:
        return XPathFilter((xpath.text or "").strip(), xpath.nsmap, where="xpath-filter")
    return None


def _parse_boolean(op: Element, name: str) -> bool | None:
    el = op.find(qn(NMDA, name))
    if el is None:
        return None
    text = (el.text or "").strip()
    if text not in ("true", "false"):
        raise RpcError(ErrorTag.INVALID_VALUE, f"<{name}> must be 'true' or 'false', not '{text}'",
                       type=ErrorType.PROTOCOL, info=[("bad-element", name)])
    return text == "true"


def _parse_max_depth(op: Element) -> int | None:
    el = op.find(qn(NMDA, "max-depth"))
    text = "unbounded" if el is None else (el.text or "").strip()
    if text == "unbounded":
        return None
    if text.isascii() and text.isdigit() and 1 <= int(text) <= 65535:
        return int(text)
    raise RpcError(ErrorTag.INVALID_VALUE, f"<max-depth> must be 1..65535 or 'unbounded', not '{text}'",
                   type=ErrorType.PROTOCOL, info=[("bad-element", "max-depth")])


def _parse_origin_filter(op: Element) -> Callable[[str], bool] | None:
    """A predicate on an origin's local name, from origin-filter / negated-origin-filter."""
    positive = op.findall(qn(NMDA, "origin-filter"))
    negative = op.findall(qn(NMDA, "negated-origin-filter"))
    if positive and negative:
        raise RpcError(ErrorTag.BAD_ELEMENT, "give <origin-filter> or <negated-origin-filter>, not both",
                       type=ErrorType.PROTOCOL, info=[("bad-element", "negated-origin-filter")])
    values = {identity(el, ORIGIN, ORIGINS, "origin") for el in positive or negative}
    if not values:
        return None

    def derived_from_any(origin: str) -> bool:
        return "origin" in values or origin in values

    return derived_from_any if positive else (lambda origin: not derived_from_any(origin))


# --- get-data ------------------------------------------------------------------------------------

@operation(qn(NMDA, "get-data"))
def get_data(ctx: RpcContext, op: Element) -> Element:
    """RFC 8526 3.1.1: read any NMDA datastore with its filters."""
    check_parameters(op, _PARAMETERS)
    schema: Schema = ctx.server.schema
    datastore = parse_datastore(op, DATASTORE_NAMES)
    operational = datastore == "operational"
    flt = _parse_filter(op, schema)
    config_filter = _parse_boolean(op, "config-filter")
    origin_filter = _parse_origin_filter(op)
    max_depth = _parse_max_depth(op)
    with_origin = op.find(qn(NMDA, "with-origin")) is not None
    mode = parse_mode(op, NMDA)
    if not operational and (with_origin or origin_filter is not None):
        what = "with-origin" if with_origin else "origin filters"
        raise RpcError(ErrorTag.INVALID_VALUE, f"{what} apply only to ds:operational, not ds:{datastore}",
                       type=ErrorType.PROTOCOL,
                       info=[("bad-element", "with-origin" if with_origin else "origin-filter")])

    if operational:
        tops = operational_tops(ctx.server, filter_hints(flt, schema))
        root, index = None, None
    else:
        store = ctx.server.datastores.get("running" if datastore == "intended" else datastore)
        root, index = store.root, store.index
        tops = [top for top in root if isinstance(top.tag, str)]
    reshaped = config_filter is not None or origin_filter is not None or with_origin or max_depth is not None
    if root is None:            # operational: the tops are this request's own copies
        source = gather(tops) if flt is None else select(tops, flt, schema, {None: NC})
    elif flt is None and not reshaped:
        source = root           # read directly by the with-defaults copy
    else:                       # the steps below edit in place: work on a copy
        source = select(tops, flt, schema, {None: NC}, index)
    if config_filter is not None:
        source = apply_config_filter(source, config_filter, schema, {None: NC})
    if operational:
        if origin_filter is not None:
            prune_by_origin(source, origin_filter, schema)
        if with_origin:
            annotate_origin(source, schema)
    if max_depth is not None:
        limit_depth(source, max_depth, schema)
    return finish_reply(ctx, apply_with_defaults(source, mode, schema, root_tag=qn(NMDA, "data"),
                                                 with_origin=with_origin))


# --- config-filter --------------------------------------------------------------------------------

_STATE_ROOTS: dict[int, tuple[Schema, etree.XPath | None]] = {}


def state_roots_xpath(schema: Schema) -> etree.XPath | None:
    """One XPath union of every `config false` node whose parent is config (relative to `<data>`)."""
    cached = _STATE_ROOTS.get(id(schema))
    if cached is None or cached[0] is not schema:
        prefixes: dict[str, str] = {}
        paths: list[str] = []

        def walk(node: SchemaNode, path: str) -> None:
            prefix = prefixes.setdefault(node.namespace, f"n{len(prefixes)}")
            here = f"{path}/{prefix}:{node.name}" if path else f"{prefix}:{node.name}"
            if not node.config:
                paths.append(here)
                return
            for child in node.children.values():
                if child.keyword in ("container", "list", "leaf", "leaf-list", "anydata", "anyxml"):
                    walk(child, here)

        for root in schema.roots.values():
            walk(root, "")
        xpath = etree.XPath(" | ".join(paths), namespaces={p: ns for ns, p in prefixes.items()}) if paths else None
        cached = _STATE_ROOTS[id(schema)] = (schema, xpath)
    return cached[1]


def apply_config_filter(data: Element, config: bool, schema: Schema, nsmap: dict[str | None, str]) -> Element:
    """config-filter true: drop state; false: keep only state, with ancestors and keys."""
    xpath = state_roots_xpath(schema)
    found: list[Element] = xpath(data) if xpath is not None else []
    if config:
        for el in found:
            el.getparent().remove(el)
        _drop_empty_config_shells(data, schema)
        return data
    selection = Selection(schema)
    for el in found:
        selection.add_with_ancestors(el, _top_of(el))
    tops = [top for top in data if isinstance(top.tag, str)]
    return selection.build(tops, nsmap)


def _drop_empty_config_shells(data: Element, schema: Schema) -> None:
    """Top-level nodes left empty after removing their state (all-state top containers)."""
    for top in list(data):
        node = schema.root(top.tag) if isinstance(top.tag, str) else None
        if node is not None and node.keyword == "container" and not node.presence and len(top) == 0:
            data.remove(top)


def _top_of(el: Element) -> Element:
    while el.getparent() is not None and el.getparent().tag != qn(NC, "data"):
        el = el.getparent()
    return el


# --- origin ---------------------------------------------------------------------------------------

def own_origin(el: Element, snode: SchemaNode | None, is_top: bool) -> str | None:
    """The origin a node states itself (None: inherited from its parent)."""
    if el.get(DEFAULT_MARK) == "1":
        return "default"
    marked = el.get(STATE_ORIGIN_MARK)
    if marked:
        return marked.rpartition(":")[2]
    if is_top:
        return "intended" if snode is None or snode.config else "system"
    return None


def prune_by_origin(data: Element, matches: Callable[[str], bool], schema: Schema) -> None:
    """Remove config nodes whose (inherited) origin does not match; keep ancestors and keys."""
    for top in list(data):
        if not isinstance(top.tag, str):
            continue
        snode = schema.root(top.tag)
        if not _keep_by_origin(top, own_origin(top, snode, True) or "unknown", snode, matches):
            data.remove(top)


def _keep_by_origin(el: Element, origin: str, snode: SchemaNode | None, matches: Callable[[str], bool]) -> bool:
    if snode is not None and not snode.config:
        return True  # RFC 8526: system state is not affected by origin filters
    keys = set(snode.keys) if snode is not None and snode.keyword == "list" else set()
    kept_children = False
    for child in element_children(el):
        cnode = snode.child(child.tag) if snode is not None else None
        if cnode is not None and cnode.name in keys and cnode.namespace == snode.namespace:  # type: ignore[union-attr]
            continue
        child_origin = own_origin(child, cnode, False) or origin
        if _keep_by_origin(child, child_origin, cnode, matches):
            kept_children = True
        else:
            el.remove(child)
    return kept_children or matches(origin)


def annotate_origin(data: Element, schema: Schema) -> None:
    """with-origin: ``or:origin`` on each top-level node and wherever the origin changes below."""
    for top in data:
        if isinstance(top.tag, str):
            top.set(ORIGIN_ATTR, f"or:{own_origin(top, schema.root(top.tag), True)}")
    for el in _ORIGIN_MARKED(data):
        if el.getparent() is data:
            continue
        origin = own_origin(el, None, False)
        if origin is not None and origin != _inherited_origin(el, data, schema):
            el.set(ORIGIN_ATTR, f"or:{origin}")


_ORIGIN_MARKED = etree.XPath("descendant::*[@i:dflt or @i:origin]", namespaces={"i": INTERNAL})


def _inherited_origin(el: Element, data: Element, schema: Schema) -> str:
    node = el.getparent()
    while node is not None and node.getparent() is not data:
        origin = own_origin(node, None, False)
        if origin is not None:
            return origin
        node = node.getparent()
    if node is None:
        return "unknown"
    return own_origin(node, schema.root(node.tag), True) or "unknown"


# --- max-depth ------------------------------------------------------------------------------------

def limit_depth(data: Element, depth: int, schema: Schema) -> None:
    """Remove nodes deeper than ``depth`` below the root (top-level nodes are depth 1), keys kept."""
    from agent.subtree_filter import schema_node_of

    too_deep = data.xpath("/".join(["*"] * (depth + 1)))
    for el in too_deep:
        parent = el.getparent()
        pnode = schema_node_of(parent, schema)
        is_key = (pnode is not None and pnode.keyword == "list" and etree.QName(el).localname in pnode.keys
                  and etree.QName(el).namespace == pnode.namespace)
        if not is_key:
            parent.remove(el)


# --- edit-data ------------------------------------------------------------------------------------

@operation(qn(NMDA, "edit-data"))
def edit_data(ctx: RpcContext, op: Element) -> None:
    """RFC 8526 3.2.1: edit running or candidate; any error restores the datastore."""
    check_parameters(op, _EDIT_PARAMETERS)
    datastore = parse_datastore(op, DATASTORE_NAMES)
    if datastore not in WRITABLE:
        raise RpcError(ErrorTag.INVALID_VALUE, f"ds:{datastore} is not writable with <edit-data>; "
                       "write ds:running or ds:candidate" + (" (startup: copy-config)" if datastore == "startup" else ""),
                       type=ErrorType.PROTOCOL, info=[("bad-element", "datastore")])
    default_el = op.find(qn(NMDA, "default-operation"))
    default_operation = "merge" if default_el is None else (default_el.text or "").strip()
    config = op.find(qn(NMDA, "config"))
    if config is None:
        if op.find(qn(NMDA, "url")) is not None:
            raise operation_not_supported("url")
        raise missing_element("config", "<edit-data> needs the <config> to apply")
    ctx.server.datastores.edit(datastore, config, session_id=ctx.session.id,
                               default_operation=default_operation, error_option="rollback-on-error")
