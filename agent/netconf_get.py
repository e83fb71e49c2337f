"""RFC 6241 7.1 `<get-config>` and 7.7 `<get>`, and the retrieval pipeline NMDA shares.

A retrieval is: pick the top-level nodes to read from, filter them (subtree, RFC 6241 6, or
XPath, 8.9), apply the with-defaults mode (RFC 6243), strip the internal marks.  The filter
output is always a fresh copy, so the datastore trees are only ever read.

`<get>` reads running *plus state*.  The state comes from the server's own modules
(ietf-netconf-monitoring, ietf-yang-library) and from ``server.state`` (the
:class:`~agent.state_provider.StateProvider`), merged into a copy of running by list keys.
What the filter can select (a :class:`~agent.state_provider.StateSelection`: which top-level
nodes, which VSIs, which of their group rows, whether their MAC tables) goes to the provider,
and the copy of running is limited to the same VSIs, so a `<get>` for one group of one VSI
copies one VSI and renders one group row.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Union

from lxml import etree

from agent.errors import ErrorTag, ErrorType, RpcError
from agent.rpc import RpcContext, SerializedReply, operation
from agent.schema import Schema, SchemaNode
from agent.state_provider import EVERYTHING, StateSelection
from agent.subtree_filter import (VSI_TAG, VSIS_TAG, Selection, SubtreeFilter, find_entries, key_values,
                                  subtree_hints)
from agent.with_defaults import BASIC_MODE, apply_with_defaults, parse_mode
from agent.xmlns import DEFAULT_MARK, INTERNAL, NC, ORIGIN, WITH_DEFAULTS, element_children, qn, split_qn
from agent.xpath_filter import XPathFilter, filter_from_element

if TYPE_CHECKING:  # pragma: no cover
    from agent.edit_config import EntryIndex
    from agent.server import Server

Element = etree._Element
Filter = Union[SubtreeFilter, XPathFilter]

FILTER_TAG = qn(NC, "filter")
XPATH_CAPABILITY = "urn:ietf:params:netconf:capability:xpath:1.0"
#: Internal attribute on state subtrees merged into `<operational>`: where they came from
#: (turned into ``or:origin`` by NMDA's with-origin, stripped otherwise).
STATE_ORIGIN_MARK = qn(INTERNAL, "origin")


# --- request parameters -------------------------------------------------------------------------

def check_parameters(op: Element, allowed: Iterable[str]) -> None:
    """Refuse parameters the operation does not define (RFC 6241 4.3: unknown-element)."""
    if not isinstance(allowed, (set, frozenset)):
        allowed = set(allowed)
    for child in element_children(op):
        if child.tag not in allowed:
            ns, local = split_qn(child.tag)
            raise RpcError(ErrorTag.UNKNOWN_ELEMENT,
                           f"<{split_qn(op.tag)[1]}> has no parameter <{local}>" + (f" in namespace {ns}" if ns else ""),
                           type=ErrorType.PROTOCOL, info=[("bad-element", local)])


def parse_filter(op: Element, schema: Schema | None, *,
                 xpath_enabled: bool | Callable[[], bool] = True) -> Filter | None:
    """The `<filter>` of get / get-config (RFC 6241 6.1, 8.9.1), or None for "everything".

    ``xpath_enabled`` may be a callable: it is then asked only when an XPath filter arrives.
    """
    found = list(op.iterchildren(FILTER_TAG))   # (findall goes through ElementPath: slower)
    if not found:
        return None
    if len(found) > 1:
        raise RpcError(ErrorTag.BAD_ELEMENT, "only one <filter> may be given", type=ErrorType.PROTOCOL,
                       info=[("bad-element", "filter")])
    filter_el = found[0]
    kind = filter_el.get("type", filter_el.get(qn(NC, "type"), "subtree"))
    if kind == "subtree":
        return SubtreeFilter(filter_el, schema)
    if kind == "xpath" and (xpath_enabled() if callable(xpath_enabled) else xpath_enabled):
        return filter_from_element(filter_el)
    raise RpcError(ErrorTag.BAD_ATTRIBUTE, f"filter type '{kind}' is not supported; use 'subtree' or 'xpath'",
                   type=ErrorType.PROTOCOL, info=[("bad-attribute", "type"), ("bad-element", "filter")])


def filter_hints(flt: Filter | None, schema: Schema | None) -> StateSelection:
    """What the filter can select of the state (a superset), for the state provider."""
    if flt is None:
        return EVERYTHING
    if isinstance(flt, XPathFilter):
        return flt.hints(schema)
    return subtree_hints(flt.filter_el, schema)


# --- selection ---------------------------------------------------------------------------------

def select(tops: Sequence[Element], flt: Filter | None, schema: Schema | None,
           nsmap: dict[str | None, str], index: EntryIndex | None = None) -> Element:
    """A new `<data>` element with what ``flt`` selects of ``tops`` (everything when None);
    ``index``: the key index of the datastore ``tops`` belong to, if they do."""
    if flt is None:
        selection = Selection(schema)
        for top in tops:
            selection.add_whole(None, top)
        return selection.build(tops, nsmap)
    if isinstance(flt, XPathFilter):
        return flt.apply(tops, schema, nsmap)
    return flt.apply(tops, nsmap, index)


def retrieve(tops: Sequence[Element], flt: Filter | None, mode: str | None, schema: Schema | None, *,
             root: Element | None = None, private: bool = False, index: EntryIndex | None = None) -> Element:
    """Filter, then with-defaults: the reply's `<data>`.

    ``root``: the datastore root ``tops`` come from; without a filter the with-defaults copy
    reads it directly (no intermediate copy).  ``private``: ``tops`` are copies this request
    owns (the operational view), so they may be moved instead of copied.
    """
    if flt is None and root is not None:
        source = root
    elif flt is None and private:
        source = gather(tops)
    else:
        source = select(tops, flt, schema, {None: NC}, index)
    return apply_with_defaults(source, mode, schema)


def gather(tops: Sequence[Element]) -> Element:
    """A `<data>` element adopting ``tops`` (moved, not copied: they must be private)."""
    data = etree.Element(qn(NC, "data"), nsmap={None: NC})
    data.extend(tops)
    return data


# --- the operational view: running + state ------------------------------------------------------

#: Built-in state: top-level tag -> builder(server).  Filled by `monitoring` and `yang_library`
#: (they register here so this module does not import them, and vice versa).
BUILTIN_STATE: dict[str, Callable[["Server"], Element]] = {}


def register_builtin_state(tag: str) -> Callable[[Callable[["Server"], Element]], Callable[["Server"], Element]]:
    def register(builder: Callable[["Server"], Element]) -> Callable[["Server"], Element]:
        BUILTIN_STATE[tag] = builder
        return builder
    return register


def operational_tops(server: "Server", selection: StateSelection = EVERYTHING,
                     config_root: Element | None = None) -> list[Element]:
    """Top-level nodes of `<operational>` (config of running, merged with state), limited to
    what ``selection`` (from :func:`filter_hints`) says the filter can reach.

    Each returned node is a private copy and the root of its own document (what the XPath
    filter needs).  ``config_root`` defaults to running (intended = running here).
    """
    schema: Schema = server.schema
    root = server.datastores.root("running") if config_root is None else config_root
    index = server.datastores.running.index if root is server.datastores.running.root else None
    tops: dict[str, Element] = {}
    for top in root:
        if isinstance(top.tag, str) and selection.wants(top.tag):
            tops[top.tag] = _restricted_copy(top, selection.vsi_names, schema, index)
    for tag, builder in BUILTIN_STATE.items():
        if selection.wants(tag):
            _merge_top(tops, builder(server), schema, origin="system")
    for state in server.state.operational(selection):
        _adopt_origin_attributes(state)
        _merge_top(tops, state, schema, origin="learned")
    order = {tag: i for i, tag in enumerate(schema.roots)}
    return sorted(tops.values(), key=lambda el: order.get(el.tag, len(order)))


_PROVIDER_ORIGINS = etree.XPath("descendant-or-self::*[@o:origin]", namespaces={"o": ORIGIN})


def _adopt_origin_attributes(state: Element) -> None:
    """A provider's ``or:origin`` attributes become internal marks: they reach the wire only
    through with-origin, which writes them back with the reply's own ``or`` prefix."""
    attr = qn(ORIGIN, "origin")
    for el in _PROVIDER_ORIGINS(state):
        el.set(STATE_ORIGIN_MARK, el.attrib.pop(attr))


def _restricted_copy(top: Element, vsi_names: frozenset[str] | None, schema: Schema,
                     index: EntryIndex | None) -> Element:
    """A copy of a top-level node; for `vsis`, only the named VSIs when names are known, in
    the order of running (as the unfiltered view has them).

    The copy declares the internal namespace on itself: merged state entries are marked
    with :data:`STATE_ORIGIN_MARK`, and an entry whose ancestors do not declare it gets a
    declaration of its own - 100k of them made the namespace clean-up of the reply
    quadratic (23 s of a 29 s get-data of 100k groups)."""
    shell = etree.Element(top.tag, dict(top.attrib), nsmap={None: split_qn(top.tag)[0], "vi": INTERNAL})
    vsi_node = schema.root(VSIS_TAG).child(VSI_TAG) if schema.root(VSIS_TAG) is not None else None
    if top.tag != VSIS_TAG or vsi_names is None or vsi_node is None:
        # one copy of the whole subtree (its namespace declarations stay on the copy's top),
        # moved under the shell: the moved nodes find their namespaces declared there
        whole = copy.deepcopy(top)
        shell.text = whole.text
        shell.extend(list(whole))
        return shell
    entries = [entry for name in vsi_names for entry in find_entries(top, vsi_node, (name,), index)]
    if len(entries) > 1:
        entries.sort(key=top.index)  # (index walks the siblings in C: ~30 us among 10k VSIs)
    for entry in entries:
        clone = copy.deepcopy(entry)
        clone.tail = None
        shell.append(clone)
    return shell


def _merge_top(tops: dict[str, Element], state: Element, schema: Schema, *, origin: str) -> None:
    existing = tops.get(state.tag)
    if existing is None:
        if state.get(STATE_ORIGIN_MARK) is None:
            state.set(STATE_ORIGIN_MARK, origin)
        tops[state.tag] = _own_document(state)
        return
    merge_state(existing, state, schema.root(state.tag), origin=origin)


def _own_document(el: Element) -> Element:
    """``el`` as the root element of its own document (a copy if it has a parent)."""
    if el.getparent() is None:
        return el
    clone = copy.deepcopy(el)
    clone.tail = None
    return clone


def merge_state(target: Element, source: Element, snode: SchemaNode | None, *, origin: str) -> None:
    """Merge a state subtree into a config subtree, matching list entries by their keys.

    Nodes only in ``source`` are moved into ``target`` and marked with their origin; a
    container that was only there for defaults stops being a default once it holds state.
    """
    target.attrib.pop(DEFAULT_MARK, None)
    keys = {qn(snode.namespace, k) for k in snode.keys} if snode is not None and snode.keyword == "list" else ()
    indexes: dict[str, dict[tuple[str, ...], Element]] = {}
    for child in element_children(source):
        if child.tag in keys:
            continue  # the entry was matched by these very values
        cnode = snode.child(child.tag) if snode is not None else None
        match = _find_match(target, child, cnode, indexes)
        if match is None:
            target.append(child)       # first: the mark then uses the target's declaration
            if child.get(STATE_ORIGIN_MARK) is None:
                child.set(STATE_ORIGIN_MARK, origin)
        elif cnode.is_leaf if cnode is not None else not element_children(child):
            match.text = child.text
        else:
            merge_state(match, child, cnode, origin=origin)


def _find_match(target: Element, child: Element, cnode: SchemaNode | None,
                indexes: dict[str, dict[tuple[str, ...], Element]]) -> Element | None:
    if cnode is None or cnode.keyword in ("container", "leaf"):
        return target.find(child.tag)
    if cnode.keyword == "leaf-list":
        return next((e for e in target.iterchildren(child.tag) if e.text == child.text), None)
    if cnode.keyword == "list":
        index = indexes.get(child.tag)
        if index is None:
            index = indexes[child.tag] = {key_values(e, cnode): e for e in target.iterchildren(child.tag)}
        # state-only lists (100k group rows) have no configured entries to match: no key needed
        return index.get(key_values(child, cnode)) if index else None
    return None


# --- read hooks ---------------------------------------------------------------------------------

#: Called with every retrieval reply (`<get>`, `<get-config>`, `<get-data>`) just before it is
#: sent: the reply is a private copy, so a hook may remove nodes in place.  This is where RFC
#: 8341 read access control plugs in (3.4.5: unreadable nodes are silently omitted).
ReadHook = Callable[[RpcContext, Element], None]
READ_HOOKS: list[ReadHook] = []


def finish_reply(ctx: RpcContext, data: Element) -> Element:
    for hook in READ_HOOKS:
        hook(ctx, data)
    return data


# --- the operations ----------------------------------------------------------------------------

def xpath_enabled(server: "Server") -> bool:
    capabilities = server.capabilities() if callable(getattr(server, "capabilities", None)) else ()
    return any(c.startswith(XPATH_CAPABILITY) for c in capabilities)


SOURCE_TAG = qn(NC, "source")
GET_CONFIG_SOURCES = ("running", "candidate", "startup")
_GET_CONFIG_PARAMETERS = frozenset({SOURCE_TAG, FILTER_TAG, qn(WITH_DEFAULTS, "with-defaults")})
_GET_PARAMETERS = frozenset({FILTER_TAG, qn(WITH_DEFAULTS, "with-defaults")})
_SOURCE_BY_TAG = {qn(NC, name): name for name in GET_CONFIG_SOURCES}


def get_config_source(op: Element) -> str:
    """The datastore `<source>` names.  The usual request (exactly one known datastore) is read
    here directly; anything else goes through ``datastore_parameter`` for its precise error."""
    container = next(op.iterchildren(SOURCE_TAG), None)
    if container is not None and len(container) == 1:
        name = _SOURCE_BY_TAG.get(container[0].tag)   # type: ignore[call-overload]
        if name is not None:
            return name
    from agent.netconf_edit import datastore_parameter

    source = datastore_parameter(op, "source", GET_CONFIG_SOURCES)
    assert isinstance(source, str)
    return source


@operation(qn(NC, "get-config"))
def get_config(ctx: RpcContext, op: Element) -> Element:
    """RFC 6241 7.1: configuration of running, candidate or startup, filtered."""
    check_parameters(op, _GET_CONFIG_PARAMETERS)
    source = get_config_source(op)
    server = ctx.server
    schema = server.schema
    flt = parse_filter(op, schema, xpath_enabled=lambda: xpath_enabled(server))
    mode = parse_mode(op)
    if source == "running" and flt is None and mode in (None, BASIC_MODE) and not READ_HOOKS:
        return SerializedReply(explicit_running(server))
    store = server.datastores.get(source)
    return finish_reply(ctx, retrieve([top for top in store.root if isinstance(top.tag, str)], flt, mode, schema,
                                      root=store.root, index=store.index))


def explicit_running(server: "Server") -> bytes:
    """The whole of running in the basic mode ("explicit", RFC 6243 3.3) as `<data>` bytes.

    The datastore keeps exactly these bytes up to date, entry by entry, for its saved file
    (:class:`agent.persist.ExplicitForm`); the unfiltered get-config of running, what
    orchestrators poll, reuses them instead of copying and re-serialising the whole tree.
    """
    document = server.datastores.explicit.serialize(server.datastores.running.root)
    return document[document.index(b"?>") + 2:].lstrip()


@operation(qn(NC, "get"))
def get(ctx: RpcContext, op: Element) -> Element:
    """RFC 6241 7.7: running configuration and state, filtered."""
    check_parameters(op, _GET_PARAMETERS)
    server = ctx.server
    schema = server.schema
    flt = parse_filter(op, schema, xpath_enabled=lambda: xpath_enabled(server))
    mode = parse_mode(op)
    tops = operational_tops(ctx.server, filter_hints(flt, schema))
    return finish_reply(ctx, retrieve(tops, flt, mode, schema, private=True))

