"""RFC 7950 sections 7.6.1 / 7.7.4 / 7.9.3: schema defaults instantiated in datastore trees.

A datastore tree holds its defaults as real elements so that must/when XPath sees them (RFC
7950 section 6.4.1: "the accessible tree ... includes default values") and so with-defaults
(RFC 6243) is a walk.  Every element that exists only because of a default carries
``DEFAULT_MARK="1"``; that includes non-presence containers created just to hold defaults.

:func:`fill_defaults` is a reconciliation, not a one-shot fill: it adds the defaults that
should exist below an element and removes default-marked nodes that should no longer exist
(their case is no longer the active one of its choice, or their `when` became false).  Edit
code calls it on every element it touched; start-up calls :func:`fill_tree_defaults`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from lxml import etree

from agent.xmlns import DEFAULT_MARK, WD_ATTR, qn

if TYPE_CHECKING:  # pragma: no cover
    from agent.schema import ChoiceInfo, Schema, SchemaNode, YangType

#: ``when_ok(schema_node, parent_el) -> bool``: the validator's `when` evaluation for a node
#: that would be created (or is kept) as a default below ``parent_el``.
WhenCheck = Callable[["SchemaNode", etree._Element], bool]

_DATA_KEYWORDS = frozenset({"container", "list", "leaf", "leaf-list", "anydata", "anyxml"})


def always(_node: "SchemaNode", _parent: etree._Element) -> bool:
    """The default `when` hook: no condition is evaluated (every `when` counts as true)."""
    return True


# --- RFC 6243 section 6: the wd:default attribute in edit content ------------------------------

#: `wd:default` on a leaf or leaf-list in `<edit-config>` / `<copy-config>` content.
WD_DEFAULT = qn(WD_ATTR, "default")
#: the attribute is an XSD boolean (RFC 6243 section 6): its four lexical forms
_XSD_BOOLEAN = {"true": True, "1": True, "false": False, "0": False}


def wd_default_flag(el: etree._Element) -> bool | None:
    """The value of ``wd:default`` on ``el``: None when absent; ValueError when not an XSD boolean."""
    raw = el.get(WD_DEFAULT)
    if raw is None:
        return None
    try:
        return _XSD_BOOLEAN[raw.strip()]
    except KeyError:
        raise ValueError(f"wd:default='{raw}' is not a boolean (true, false, 1 or 0)") from None


def schema_default_values(node: "SchemaNode") -> tuple[str, ...]:
    """The canonical form of each schema default of a leaf / leaf-list (empty: none).

    RFC 6243 4.5.2 compares the value a client tagged ``wd:default="true"`` with the schema
    default; both sides are compared canonical (``0x0A`` and ``10`` are one uint8 value).
    Cached on the schema node: the schema is immutable.
    """
    cached = node.__dict__.get("_canonical_defaults")
    if cached is not None:
        return cached
    from agent.errors import RpcError
    from agent.yang_types import check_value

    raw = node.default
    values = (raw,) if isinstance(raw, str) else tuple(raw or ())
    canonical = []
    for value in values:
        nsmap = {p: ns for t in _member_types(node.type) for ns, p in (t.identity_prefixes or {}).items()} \
            if node.type is not None else {}
        try:
            canonical.append(check_value(node.type, value, nsmap) if node.type is not None else value)
        except RpcError:            # a default pyang accepted but we cannot re-read: compare as written
            canonical.append(value)
    result = tuple(canonical)
    node.__dict__["_canonical_defaults"] = result
    return result


# --- marks ---------------------------------------------------------------------------------

def is_default(el: etree._Element) -> bool:
    """True if ``el`` exists only because of a schema default."""
    return el.get(DEFAULT_MARK) == "1"


def mark_default(el: etree._Element) -> None:
    el.set(DEFAULT_MARK, "1")


def unmark(el: etree._Element) -> None:
    """``el`` was set explicitly: it and every default-marked ancestor container become real.

    An explicitly set node inside a container that was created for defaults makes that
    container exist in its own right (RFC 6243 `explicit` mode must report it).
    """
    current: etree._Element | None = el
    while current is not None and DEFAULT_MARK in current.attrib:
        del current.attrib[DEFAULT_MARK]
        current = current.getparent()


def strip_defaults(root: etree._Element) -> etree._Element:
    """Remove, in place, every node that exists only because of a default; returns ``root``.

    A marked container is removed once nothing explicit remains in it (normally nothing
    does: :func:`unmark` clears the marks of containers that gain explicit content).
    """
    for el in list(root):
        if not isinstance(el.tag, str):
            continue
        if len(el):
            strip_defaults(el)
            if is_default(el) and not any(isinstance(c.tag, str) for c in el):
                root.remove(el)
        elif is_default(el):
            root.remove(el)
    return root


def without_defaults(root: etree._Element) -> etree._Element:
    """A copy of ``root`` with the defaults stripped (RFC 6243 `explicit`, persistence)."""
    return strip_defaults(copy.deepcopy(root))


# --- filling -----------------------------------------------------------------------------

def fill_tree_defaults(root: etree._Element, schema: "Schema", when_ok: WhenCheck = always,
                       *, config_only: bool = True) -> list[etree._Element]:
    """Reconcile defaults in a whole datastore tree (``root`` is the `<data>` element).

    Returns the elements created (top-most created element of each subtree only).
    """
    return _fill(root, schema.roots, (), when_ok, config_only)


def fill_defaults(parent_el: etree._Element, schema_node: "SchemaNode", when_ok: WhenCheck = always,
                  *, config_only: bool = True) -> list[etree._Element]:
    """Reconcile the defaults below ``parent_el``, an instance of ``schema_node``.

    Instantiates missing leaf and leaf-list defaults (and the non-presence containers that
    hold them) in the active or default case of each choice, recursing into existing
    containers and list entries; removes default-marked nodes whose case is not active or
    whose `when` is false.  ``config_only`` leaves `config false` nodes alone (datastores
    other than operational hold configuration only).
    """
    return _fill(parent_el, schema_node.children, tuple(schema_node.choices), when_ok, config_only)


def _fill(
    parent_el: etree._Element,
    children: dict[str, "SchemaNode"],
    choices: tuple["ChoiceInfo", ...],
    when_ok: WhenCheck,
    config_only: bool,
) -> list[etree._Element]:
    existing: dict[str, list[etree._Element]] = {}
    for el in parent_el:
        if isinstance(el.tag, str):
            existing.setdefault(el.tag, []).append(el)
    active = _active_cases(existing, children, choices)
    created: list[etree._Element] = []
    order = {tag: i for i, tag in enumerate(children)}
    for tag, node in children.items():
        if node.keyword not in _DATA_KEYWORDS or (config_only and not node.config):
            continue
        els = existing.get(tag, [])
        in_active_case = _case_is_active(node.choice_path, active, choices)
        if els:
            if (not in_active_case or (node.whens and not when_ok(node, parent_el))) and all(map(is_default, els)):
                for el in els:
                    parent_el.remove(el)
                continue
            for el in els:
                if node.keyword in ("container", "list"):
                    created += _fill(el, node.children, tuple(node.choices), when_ok, config_only)
            continue
        if not in_active_case:
            continue
        new = _create_default(parent_el, node, when_ok, config_only, order)
        if new:
            created += new
    return created


def _create_default(
    parent_el: etree._Element,
    node: "SchemaNode",
    when_ok: WhenCheck,
    config_only: bool,
    order: dict[str, int],
) -> list[etree._Element]:
    """Create ``node``'s default instance(s) below ``parent_el`` if it has any."""
    if node.keyword == "leaf":
        if node.default is None or not _when(node, parent_el, when_ok):
            return []
        return [_default_leaf(parent_el, node, str(node.default), order)]
    if node.keyword == "leaf-list":
        if not node.default or not _when(node, parent_el, when_ok):
            return []
        return [_default_leaf(parent_el, node, value, order) for value in node.default]
    if node.keyword == "container" and not node.presence and _has_defaults(node, config_only):
        if not _when(node, parent_el, when_ok):
            return []
        same_ns = isinstance(parent_el.tag, str) and parent_el.tag.startswith(f"{{{node.namespace}}}")
        container = etree.SubElement(parent_el, node.tag, nsmap=None if same_ns else {None: node.namespace})
        _insert(parent_el, container, order)
        mark_default(container)
        _fill(container, node.children, tuple(node.choices), when_ok, config_only)
        if len(container) == 0:
            parent_el.remove(container)
            return []
        return [container]
    return []


def _when(node: "SchemaNode", parent_el: etree._Element, when_ok: WhenCheck) -> bool:
    return not node.whens or when_ok(node, parent_el)


def _default_leaf(parent_el: etree._Element, node: "SchemaNode", value: str,
                  order: dict[str, int]) -> etree._Element:
    """A default-marked leaf below ``parent_el``; identityref defaults declare their prefix.

    Created in place (SubElement, then moved) so the mark attribute reuses the namespace
    declarations in scope instead of declaring its own on every leaf.
    """
    nsmap = value_nsmap(node, value)
    el = etree.SubElement(parent_el, node.tag, nsmap=nsmap) if nsmap else etree.SubElement(parent_el, node.tag)
    el.text = value
    mark_default(el)
    return _insert(parent_el, el, order)


def value_nsmap(node: "SchemaNode", value: str) -> dict[str, str] | None:
    """`prefix -> namespace` a canonical identityref value needs in scope (RFC 7950 9.10.3)."""
    prefix, sep, _ = value.partition(":")
    if not sep or node.type is None:
        return None
    for t in _member_types(node.type):
        for ns, p in (t.identity_prefixes or {}).items():
            if p == prefix:
                return {prefix: ns}
    return None


def _member_types(t: "YangType") -> Iterator["YangType"]:
    yield t
    for member in t.union or ():
        yield from _member_types(member)
    if t.target_type is not None:
        yield from _member_types(t.target_type)


def _insert(parent_el: etree._Element, el: etree._Element, order: dict[str, int]) -> etree._Element:
    """Move ``el`` (a child of ``parent_el``) among its siblings into schema order."""
    rank = order.get(el.tag, len(order))
    for index, sibling in enumerate(parent_el):
        if sibling is el:
            return el
        if isinstance(sibling.tag, str) and order.get(sibling.tag, -1) > rank:
            parent_el.insert(index, el)
            return el
    return el


def _has_defaults(node: "SchemaNode", config_only: bool) -> bool:
    """True if a non-presence container holds a default anywhere below it (cached per node)."""
    key = "_has_defaults_config" if config_only else "_has_defaults_all"
    cached = node.__dict__.get(key)
    if cached is None:
        cached = any(
            (child.keyword in ("leaf", "leaf-list") and bool(child.default))
            or (child.keyword == "container" and not child.presence and _has_defaults(child, config_only))
            for child in node.children.values()
            if child.keyword in _DATA_KEYWORDS and (child.config or not config_only)
        )
        node.__dict__[key] = cached
    return cached


# --- choices -------------------------------------------------------------------------------

def _active_cases(
    existing: dict[str, list[etree._Element]],
    children: dict[str, "SchemaNode"],
    choices: Iterable["ChoiceInfo"],
) -> dict[str, str]:
    """choice name -> the case explicit (non-default) data selects (RFC 7950 7.9)."""
    if not choices:
        return {}
    active: dict[str, str] = {}
    for tag, els in existing.items():
        node = children.get(tag)
        if node is None or not node.choice_path:
            continue
        if all(is_default(el) for el in els):
            continue
        for choice, case in node.choice_path:
            active.setdefault(choice, case)
    return active


def _case_is_active(
    choice_path: tuple[tuple[str, str], ...],
    active: dict[str, str],
    choices: tuple["ChoiceInfo", ...],
) -> bool:
    """True if every (choice, case) on the path is the selected case, or the default one."""
    for choice, case in choice_path:
        selected = active.get(choice)
        if selected is None:
            selected = next((c.default_case for c in choices if c.name == choice), None)
        if selected != case:
            return False
    return True
