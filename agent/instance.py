"""Loading an instance document (`<config>` / `<data>` content) into a fresh datastore tree.

RFC 7950 section 8.3.1 lists what a server checks while it parses data: every element must
be a schema node (else `unknown-element`, or `unknown-namespace` when the namespace is not
one of the server's modules), every leaf value must match its type (`invalid-value`), every
list entry must carry all its keys (`missing-element`), and data for two cases of one
choice is a `bad-element`.  The result is in the agent's datastore form: values canonical,
list keys first in key order, defaults instantiated and marked.

Everything that needs the whole tree (must, when, leafref instances, unique, cardinality,
mandatory) is the validator's job, not this module's.

Two decisions where the RFCs leave a choice:

* `config false` data inside configuration content is answered with `invalid-value` and the
  message "... is state data (config false) and cannot be configured": the element is known
  (so not `unknown-element`) but its presence is not a value the target accepts.
* Two entries of a list with the same key values (or a configuration leaf-list value given
  twice) break RFC 7950 section 7.8.2 ("the combined values of all the leafs specified in
  the key are used to uniquely identify a list entry") and 7.7 (leaf-list values in
  configuration "MUST be unique").  There is no `create` that could answer `data-exists`
  in a whole document, so the error is the one RFC 7950 section 15.1 defines for a
  uniqueness violation: error-tag `operation-failed`, error-app-tag `data-not-unique`, with
  the error-path at the second occurrence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from agent.defaults import fill_tree_defaults, mark_default, schema_default_values, value_nsmap, wd_default_flag
from agent.errors import AppTag, ErrorTag, ErrorType, RpcError, RpcErrors
from agent.xmlns import INTERNAL, NC, qn, split_qn
from agent.yang_types import check_value, error_for, instance_path

if TYPE_CHECKING:  # pragma: no cover
    from agent.schema import Schema, SchemaNode

_DATA_KEYWORDS = frozenset({"container", "list", "leaf", "leaf-list", "anydata", "anyxml"})


def load_instance(
    schema: "Schema",
    element: etree._Element,
    *,
    allow_state: bool = False,
    root_tag: str = qn(NC, "data"),
    fill_defaults: bool = True,
) -> etree._Element:
    """Parse the children of ``element`` (a `<config>` or `<data>` wrapper) into a new tree.

    Raises :class:`RpcError` for one problem and :class:`RpcErrors` for several (every
    problem found is reported, in document order).  Attributes are not copied (edit
    operations are edit_config's business); ``wd:default="true"`` on a leaf whose value is
    its default marks it as a default (RFC 6243 section 6).  ``allow_state`` accepts
    `config false` nodes (operational data, replies being checked); ``fill_defaults``
    instantiates schema defaults (config nodes only unless ``allow_state``).
    """
    loader = _Loader(schema, allow_state)
    root = new_datastore_root(root_tag)
    loader.load_children(element, root, None)
    if loader.errors:
        raise loader.errors[0] if len(loader.errors) == 1 else RpcErrors(loader.errors)
    if fill_defaults:
        fill_tree_defaults(root, schema, config_only=not allow_state)
    return root


def load_subtree(
    schema: "Schema",
    node: "SchemaNode",
    element: etree._Element,
    *,
    allow_state: bool = True,
    fill_defaults: bool = True,
) -> etree._Element:
    """Parse the children of ``element`` as the content of ``node`` into a new element.

    For everything that is not a datastore: rpc and action input (pass the `input` node),
    notifications, one container or list entry.  Same checks and errors as
    :func:`load_instance`; `config false` is accepted by default because nothing below an
    rpc, action or notification is configuration.
    """
    from agent.defaults import fill_defaults as fill

    loader = _Loader(schema, allow_state)
    out = etree.Element(element.tag if isinstance(element.tag, str) else node.tag, nsmap=element.nsmap)
    loader.load_children(element, out, node)
    if loader.errors:
        raise loader.errors[0] if len(loader.errors) == 1 else RpcErrors(loader.errors)
    if fill_defaults:
        fill(out, node, config_only=not allow_state)
    return out


def new_datastore_root(root_tag: str = qn(NC, "data")) -> etree._Element:
    """An empty datastore root; the internal namespace is declared once here so that default
    marks below it do not each declare it (strip with ``etree.cleanup_namespaces`` on output)."""
    ns = split_qn(root_tag)[0]
    nsmap: dict[str | None, str] = {INTERNAL_PREFIX: INTERNAL}
    if ns:
        nsmap[None] = ns
    return etree.Element(root_tag, nsmap=nsmap)


#: prefix of the internal bookkeeping namespace inside datastore trees (never on the wire)
INTERNAL_PREFIX = "vsi-agent-internal"


class _Loader:
    """One pass over the input document, collecting errors instead of stopping at the first."""

    def __init__(self, schema: "Schema", allow_state: bool) -> None:
        self.schema = schema
        self.allow_state = allow_state
        self.errors: list[RpcError] = []

    # --- dispatch ------------------------------------------------------------------------

    def load_children(self, src: etree._Element, dst: etree._Element, parent: "SchemaNode | None",
                      loaded: frozenset[str] = frozenset()) -> None:
        """Load the element children of ``src`` (an instance of ``parent``) into ``dst``.

        ``loaded`` names leaves already copied (a list entry's keys): their first occurrence
        is skipped, a second one is a duplicate.
        """
        children = self.schema.roots if parent is None else parent.children
        seen: dict[str, etree._Element] = {}
        skip = set(loaded)
        list_keys: dict[str, dict[tuple[str, ...], etree._Element]] = {}
        leaf_list_values: dict[str, set[str]] = {}
        cases: dict[str, tuple[str, etree._Element]] = {}
        for el in src:
            if not isinstance(el.tag, str):
                continue                                  # comments, processing instructions
            if el.tag in skip:
                skip.discard(el.tag)
                seen[el.tag] = el
                continue
            node = children.get(el.tag)
            if node is None or node.keyword not in _DATA_KEYWORDS:
                self.errors.append(self._unknown(el, parent))
                continue
            if not node.config and not self.allow_state:
                self.errors.append(self._state_in_config(node, el))
                continue
            if not self._check_case(node, el, cases):
                continue
            if node.keyword in ("leaf", "container", "anydata", "anyxml"):
                if el.tag in seen:
                    self.errors.append(self._duplicate(node, el))
                    continue
                seen[el.tag] = el
            if node.keyword == "leaf":
                self._leaf(node, el, dst)
            elif node.keyword == "leaf-list":
                self._leaf_list(node, el, dst, leaf_list_values.setdefault(el.tag, set()))
            elif node.keyword == "container":
                self.load_children(el, _node_element(dst, node, parent), node)
            elif node.keyword == "list":
                self._list_entry(node, el, dst, list_keys.setdefault(el.tag, {}))
            else:                                         # anydata / anyxml: opaque content
                dst.append(_copy(el))

    # --- node kinds ------------------------------------------------------------------------

    def _leaf(self, node: "SchemaNode", el: etree._Element, dst: etree._Element) -> etree._Element | None:
        value = self._value(node, el)
        if value is None:
            return None
        as_default = self._wd_default(node, el, value)
        if as_default is None:
            return None
        out = _value_element(dst, el.tag, value, node)
        if as_default:
            mark_default(out)
        return out

    def _leaf_list(self, node: "SchemaNode", el: etree._Element, dst: etree._Element, values: set[str]) -> None:
        value = self._value(node, el)
        if value is None or self._wd_default(node, el, value) is None:
            return
        if node.config and value in values:
            self.errors.append(self._not_unique(node, el, same_value_text(value)))
            return
        values.add(value)
        _value_element(dst, el.tag, value, node)

    def _list_entry(
        self,
        node: "SchemaNode",
        el: etree._Element,
        dst: etree._Element,
        entries: dict[tuple[str, ...], etree._Element],
    ) -> None:
        key_values: list[str] = []
        errors_before = len(self.errors)
        for key in node.keys:
            key_tag = qn(node.namespace, key)
            found = el.findall(key_tag)
            if not found:
                self.errors.append(self._missing_key(node, el, key))
                continue
            key_node = node.children[key_tag]
            value = self._value(key_node, found[0])
            if value is not None:
                key_values.append(value)
        if len(self.errors) > errors_before:
            return
        identity = tuple(key_values)
        if node.keys and identity in entries:
            self.errors.append(self._not_unique(node, el, same_key_text(node, identity)))
            return
        entry = _node_element(dst, node, node.parent)
        entries[identity] = entry
        for key, value in zip(node.keys, key_values):
            key_tag = qn(node.namespace, key)
            _value_element(entry, key_tag, value, node.children[key_tag])
        self.load_children(el, entry, node, frozenset(qn(node.namespace, k) for k in node.keys))

    def _value(self, node: "SchemaNode", el: etree._Element) -> str | None:
        """The canonical value of a leaf / leaf-list element, or None (error recorded)."""
        if any(isinstance(c.tag, str) for c in el):
            self.errors.append(self._error(
                RpcError(ErrorTag.INVALID_VALUE, f"{node.name} is a {node.keyword} and cannot contain elements",
                         type=ErrorType.APPLICATION, info=[("bad-element", node.name)]), node, el))
            return None
        assert node.type is not None
        try:
            return check_value(node.type, el.text or "", el.nsmap, name=node.name)
        except RpcError as exc:
            self.errors.append(self._error(exc, node, el))
            return None

    def _wd_default(self, node: "SchemaNode", el: etree._Element, value: str) -> bool | None:
        """RFC 6243 4.5.2: may ``value`` carry ``wd:default="true"``?  None: refused (error recorded).

        True when the client tagged the schema default (the node is then a default, as if
        the server had set it); False when the attribute is absent or false.  A tagged value
        that is not the schema default is an `invalid-value` at the node: the client believes
        something about the default that is not so.  Leaf-list values are checked the same
        way; an accepted one is kept as a configured value.
        """
        try:
            flag = wd_default_flag(el)
        except ValueError as exc:
            self.errors.append(self._error(RpcError(
                ErrorTag.BAD_ATTRIBUTE, f"{node.name}: {exc}", type=ErrorType.APPLICATION,
                info=[("bad-attribute", "default"), ("bad-element", node.name)]), node, el))
            return None
        if not flag:
            return False
        defaults = schema_default_values(node)
        if value not in defaults:
            self.errors.append(self._error(not_the_schema_default(node, value, defaults), node, el))
            return None
        return node.keyword == "leaf"

    def _check_case(self, node: "SchemaNode", el: etree._Element, cases: dict[str, tuple[str, etree._Element]]) -> bool:
        """RFC 7950 8.3.1: data from two cases of one choice is a `bad-element`."""
        for choice, case in node.choice_path:
            first = cases.setdefault(choice, (case, el))
            if first[0] != case:
                other = split_qn(first[1].tag)[1]
                self.errors.append(self._error(RpcError(
                    ErrorTag.BAD_ELEMENT,
                    f"{node.name} (case '{case}') and {other} (case '{first[0]}') are in different cases "
                    f"of choice '{choice}'; only one case may be present",
                    type=ErrorType.APPLICATION, info=[("bad-element", node.name)]), node, el))
                return False
        return True

    # --- errors ------------------------------------------------------------------------------

    def _error(self, exc: RpcError, node: "SchemaNode", el: etree._Element) -> RpcError:
        return error_for(node, exc, el, self.schema)

    def _unknown(self, el: etree._Element, parent: "SchemaNode | None") -> RpcError:
        ns, local = split_qn(el.tag)
        path, path_nsmap = instance_path(el, self.schema)
        if ns not in self.schema.namespaces:
            return RpcError(
                ErrorTag.UNKNOWN_NAMESPACE,
                f"element '{local}' is in the namespace '{ns}', which is not one of this server's modules"
                if ns else f"element '{local}' has no namespace; data elements need their module's namespace",
                type=ErrorType.APPLICATION, path=path, path_nsmap=path_nsmap,
                info=[("bad-element", local), ("bad-namespace", ns)],
            )
        if parent is None:
            where = "at the top level"
        elif parent.keyword in ("input", "output") and parent.parent is not None:
            where = f"in the {parent.keyword} of {parent.parent.name}"
        else:
            where = f"in {parent.keyword} {parent.name}"
        return RpcError(ErrorTag.UNKNOWN_ELEMENT, f"unknown element '{local}' {where}",
                        type=ErrorType.APPLICATION, path=path, path_nsmap=path_nsmap,
                        info=[("bad-element", local)])

    def _state_in_config(self, node: "SchemaNode", el: etree._Element) -> RpcError:
        return self._error(RpcError(
            ErrorTag.INVALID_VALUE,
            f"{node.name} is state data (config false) and cannot be configured",
            type=ErrorType.APPLICATION, info=[("bad-element", node.name)]), node, el)

    def _duplicate(self, node: "SchemaNode", el: etree._Element) -> RpcError:
        return self._error(repeated_node_error(node), node, el)

    def _not_unique(self, node: "SchemaNode", el: etree._Element, what: str) -> RpcError:
        return self._error(not_unique_error(node, what), node, el)

    def _missing_key(self, node: "SchemaNode", el: etree._Element, key: str) -> RpcError:
        parent = el.getparent()
        base = instance_path(parent, self.schema) if parent is not None else ("", {})
        path_nsmap = dict(base[1])
        path_nsmap[node.prefix] = node.namespace
        path = base[0].rstrip("/") + f"/{node.prefix}:{node.name}"
        return RpcError(
            ErrorTag.MISSING_ELEMENT, f"an entry of list {node.name} lacks its key leaf '{key}'",
            type=ErrorType.APPLICATION, path=path, path_nsmap=path_nsmap, info=[("bad-element", key)])


# --- errors shared with edit-config (which answers a repeated node as copy-config does) -------

def repeated_node_error(node: "SchemaNode") -> RpcError:
    """A leaf, container or anydata given twice under one parent (no path yet)."""
    return RpcError(ErrorTag.BAD_ELEMENT, f"{node.name} appears more than once; a {node.keyword} has one instance",
                    type=ErrorType.APPLICATION, info=[("bad-element", node.name)])


def not_unique_error(node: "SchemaNode", what: str) -> RpcError:
    """RFC 7950 15.1 for two list entries with one key or a leaf-list value twice (no path yet)."""
    return RpcError(ErrorTag.OPERATION_FAILED, f"{node.name}: {what}", type=ErrorType.APPLICATION,
                    app_tag=AppTag.DATA_NOT_UNIQUE.value)


def same_key_text(node: "SchemaNode", key_values: tuple[str, ...]) -> str:
    keys = ", ".join(f"{k}='{v}'" for k, v in zip(node.keys, key_values))
    return f"a second entry has the same key ({keys})"


def same_value_text(value: str) -> str:
    return f"the value '{value}' is given twice"


def not_the_schema_default(node: "SchemaNode", value: str, defaults: tuple[str, ...]) -> RpcError:
    """RFC 6243 4.5.2: ``wd:default="true"`` on a value that is not the schema default (no path yet)."""
    if not defaults:
        why = f"{node.name} has no schema default"
    elif len(defaults) == 1:
        why = f"the schema default of {node.name} is '{defaults[0]}'"
    else:
        why = f"the schema defaults of {node.name} are " + ", ".join(f"'{d}'" for d in defaults)
    return RpcError(ErrorTag.INVALID_VALUE,
                    f"{node.name} is tagged wd:default=\"true\" but its value '{value}' is not the default: {why}",
                    type=ErrorType.APPLICATION, info=[("bad-element", node.name)])


def _node_element(dst: etree._Element, node: "SchemaNode", parent: "SchemaNode | None") -> etree._Element:
    """A container/list element; a module's top-level node declares its namespace as default."""
    if parent is None or parent.namespace != node.namespace:
        return etree.SubElement(dst, node.tag, nsmap={None: node.namespace})
    return etree.SubElement(dst, node.tag)


def _value_element(dst: etree._Element, tag: str, value: str, node: "SchemaNode") -> etree._Element:
    """Append a leaf element holding a canonical value (declaring an identityref's prefix)."""
    nsmap = value_nsmap(node, value)
    out = etree.SubElement(dst, tag, nsmap=nsmap) if nsmap else etree.SubElement(dst, tag)
    out.text = value
    return out


def _copy(el: etree._Element) -> etree._Element:
    import copy

    return copy.deepcopy(el)
