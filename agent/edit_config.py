"""RFC 6241 section 7.2: the `<edit-config>` semantics, applied to one datastore tree.

The engine edits the tree **in place** and keeps an undo log, so a failed edit (or a
``test-only`` one, or one whose result fails validation) is taken back in time proportional
to the edit, not to the datastore: with 10k VSIs present a one-leaf edit touches one leaf.

What it implements, with the RFC each rule comes from:

* operations ``merge`` / ``replace`` / ``create`` / ``delete`` / ``remove`` given by the
  ``nc:operation`` attribute on any node and inherited by its descendants, and the
  ``default-operation`` ``merge`` / ``replace`` / ``none`` (RFC 6241 7.2);
* ``create`` on an existing node -> ``data-exists``; ``delete`` of a missing node ->
  ``data-missing``; ``none`` through a level that does not exist -> ``data-missing``;
* nodes that exist only as schema defaults behave as RFC 6243 section 4.5 requires for the
  ``explicit`` basic mode: ``create`` succeeds on them, ``delete`` fails with data-missing;
  deleting a leaf that has a default puts the (marked) default back;
* list entries are found by their keys (a missing key -> ``missing-element``), leaf-list
  entries by value; ``yang:insert`` / ``yang:key`` / ``yang:value`` place entries of
  ``ordered-by user`` lists and leaf-lists (RFC 7950 7.7.9 and 7.8.6);
* a node created in one case of a choice removes the nodes of the other cases (RFC 7950 7.9);
* ``wd:default="true"`` (RFC 6243 4.5.2): a leaf tagged with its schema default becomes a
  default node; tagged with any other value it is an `invalid-value`;
* a leaf / container given twice under one parent, or one list entry / leaf-list value twice,
  is refused before anything changes, with the errors copy-config gives for that content;
* values are type-checked and stored canonical (``agent.yang_types.check_value``); unknown
  elements, unknown namespaces and ``config false`` nodes are refused;
* ``error-option``: stop-on-error and rollback-on-error take every change back on the first
  error; continue-on-error takes back only the failing node's part and goes on.

The result is the list of :class:`agent.validate.Change` records the incremental validator
and the commit hooks consume, plus the set of touched data paths the datastore replays into
its other copy (candidate <-> running) without copying whole trees.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lxml import etree

from agent import defaults as yang_defaults
from agent.errors import ErrorTag, ErrorType, RpcError, RpcErrors, unknown_element
from agent.instance import (
    not_the_schema_default,
    not_unique_error,
    repeated_node_error,
    same_key_text,
    same_value_text,
)
from agent.schema import Schema, SchemaNode
from agent.validate import Change
from agent.xmlns import DEFAULT_MARK, NC, YANG, is_within, qn, split_qn
from agent.yang_types import check_value

OPERATION_ATTR = qn(NC, "operation")
INSERT_ATTR = qn(YANG, "insert")
KEY_ATTR = qn(YANG, "key")
VALUE_ATTR = qn(YANG, "value")

OPERATIONS: frozenset[str] = frozenset({"merge", "replace", "create", "delete", "remove"})
DEFAULT_OPERATIONS: frozenset[str] = frozenset({"merge", "replace", "none"})
ERROR_OPTIONS: frozenset[str] = frozenset({"stop-on-error", "continue-on-error", "rollback-on-error"})
INSERT_POSITIONS: frozenset[str] = frozenset({"first", "last", "before", "after"})

#: One step of a data path: (Clark tag, identity) where identity is the key values of a list
#: entry, the value of a leaf-list entry, or None for containers, leaves and anydata.
Step = tuple[str, "tuple[str, ...] | str | None"]
DataPath = tuple[Step, ...]


# --------------------------------------------------------------------------- marks ----------

def is_default(element: etree._Element) -> bool:
    """True when ``element`` exists only because the schema gives it a default."""
    return element.get(DEFAULT_MARK) == "1"


def _elements(parent: etree._Element) -> Iterator[etree._Element]:
    """Element children only: comments and processing instructions in a request are skipped."""
    return (child for child in parent if isinstance(child.tag, str))


# --------------------------------------------------------------------------- undo -----------

class UndoLog:
    """Inverse actions of every tree mutation, replayed newest-first to take an edit back."""

    def __init__(self) -> None:
        self._actions: list[Callable[[], None]] = []

    def push(self, action: Callable[[], None]) -> None:
        self._actions.append(action)

    def rollback(self, savepoint: int = 0) -> None:
        while len(self._actions) > savepoint:
            self._actions.pop()()

    def __len__(self) -> int:
        return len(self._actions)


@dataclass
class EditResult:
    """What an edit did: the changes (for validation and hooks) and how to take it back."""

    changes: list[Change] = field(default_factory=list)
    #: data paths whose subtree (or default mark) changed; the datastore replays them
    touched: list[DataPath] = field(default_factory=list)
    #: errors of nodes skipped under continue-on-error (the rest of the edit was applied)
    errors: list[RpcError] = field(default_factory=list)
    undo: UndoLog = field(default_factory=UndoLog)

    def rollback(self) -> None:
        """Take the whole edit back: the tree is exactly as before."""
        self.undo.rollback(0)
        self.changes.clear()
        self.touched.clear()


# --------------------------------------------------------------------------- paths ----------

def quote_xpath_literal(value: str) -> str:
    """An XPath 1.0 string literal for ``value`` (which may contain one kind of quote)."""
    return f"'{value}'" if "'" not in value else f'"{value}"'


def _node_name(schema_node: SchemaNode) -> str:
    return f"{schema_node.prefix}:{schema_node.name}"


def key_predicates(schema_node: SchemaNode, key_values: tuple[str, ...]) -> str:
    """``[p:k1='v1'][p:k2='v2']`` for a list entry in an instance identifier."""
    return "".join(
        f"[{schema_node.prefix}:{key}={quote_xpath_literal(value)}]"
        for key, value in zip(schema_node.keys, key_values)
    )


def entry_key_values(entry: etree._Element, schema_node: SchemaNode) -> tuple[str, ...]:
    """Key values of a stored list entry; stored entries keep their keys first, in key order."""
    values = []
    for index, key in enumerate(schema_node.keys):
        key_tag = qn(schema_node.namespace, key)
        child = entry[index] if len(entry) > index and entry[index].tag == key_tag else entry.find(key_tag)
        values.append(child.text or "" if child is not None else "")
    return tuple(values)


def step_of(element: etree._Element, schema_node: SchemaNode) -> Step:
    """The path step that identifies ``element`` among its siblings."""
    if schema_node.keyword == "list":
        return (element.tag, entry_key_values(element, schema_node))
    if schema_node.keyword == "leaf-list":
        return (element.tag, element.text or "")
    return (element.tag, None)


def data_path(schema: Schema, element: etree._Element, root: etree._Element) -> DataPath:
    """The :data:`DataPath` of a stored element, relative to the datastore root."""
    chain: list[etree._Element] = []
    node: etree._Element | None = element
    while node is not None and node is not root:
        chain.append(node)
        node = node.getparent()
    steps: list[Step] = []
    current: SchemaNode | None = None
    for el in reversed(chain):
        current = schema.root(el.tag) if current is None else current.child(el.tag)
        if current is None:
            raise KeyError(f"element {el.tag} has no schema node")
        steps.append(step_of(el, current))
    return tuple(steps)


def find_list_entry(parent: etree._Element, schema_node: SchemaNode,
                    key_values: tuple[str, ...]) -> etree._Element | None:
    """The entry of list ``schema_node`` under ``parent`` with these keys, if any.

    Entries keep their keys first, so the common single-key case compares one child's text
    per entry without any per-entry lookup.
    """
    tag = schema_node.tag
    if len(schema_node.keys) == 1:
        wanted = key_values[0]
        key_tag = qn(schema_node.namespace, schema_node.keys[0])
        for entry in parent.iterchildren(tag):
            first = entry[0] if len(entry) else None
            if first is not None and first.tag == key_tag:
                if first.text == wanted or (wanted == "" and first.text is None):
                    return entry
            elif entry_key_values(entry, schema_node) == key_values:
                return entry
        return None
    for entry in parent.iterchildren(tag):
        if entry_key_values(entry, schema_node) == key_values:
            return entry
    return None


class EntryIndex:
    """Key -> entry maps for the lists of one datastore tree.

    Finding one VSI among 10k by scanning costs milliseconds in Python; with the map it is a
    dict lookup.  Maps are built lazily on first lookup and kept current by every mutation
    made through :class:`ConfigEdit` and :func:`agent.datastore.sync_paths` (:func:`attach`
    / :func:`detach`): the invariant is that datastore trees change only through those two.
    Two cheap checks still catch the usual ways of breaking it: a hit must still be a child
    of the parent with the same keys (else the map is rebuilt), and the parent's last child
    must be the one the map last saw (an element appended behind the index's back).  Neither
    check walks the children: lxml's ``len()`` does, and costs milliseconds on 10k entries.
    """

    #: lists with fewer entries are simply scanned (and leave nothing behind in the index)
    MIN_ENTRIES = 32

    def __init__(self) -> None:
        self._maps: dict[etree._Element, dict[str, _ListMap]] = {}

    def find(self, parent: etree._Element, schema_node: SchemaNode,
             key_values: tuple[str, ...]) -> etree._Element | None:
        maps = self._maps.get(parent)
        list_map = maps.get(schema_node.tag) if maps else None
        if list_map is None or list_map.last is not _last_child(parent):
            list_map = _ListMap.build(parent, schema_node)
            if len(list_map.entries) < self.MIN_ENTRIES:
                if maps:
                    maps.pop(schema_node.tag, None)
                return list_map.entries.get(key_values)
            self._maps.setdefault(parent, {})[schema_node.tag] = list_map
        entry = list_map.entries.get(key_values)
        if entry is not None and (entry.getparent() is not parent
                                  or entry_key_values(entry, schema_node) != key_values):
            list_map = self._maps[parent][schema_node.tag] = _ListMap.build(parent, schema_node)
            entry = list_map.entries.get(key_values)
        return entry

    def _drop_maps_inside(self, element: etree._Element) -> None:
        """Forget the maps of lists inside a removed subtree.

        Besides being useless, they would keep a Python proxy for every entry of a detached
        subtree alive; lxml frees such proxies one by one, each time searching the detached
        subtree for the others - quadratic in the number of entries.  There are only a few
        maps (one per list of at least :attr:`MIN_ENTRIES` entries), each checked by walking up.
        """
        for parent in [p for p in self._maps if is_within(p, element)]:
            del self._maps[parent]

    def inserted(self, parent: etree._Element, element: etree._Element) -> None:
        maps = self._maps.get(parent)
        if not maps:
            return
        for tag, list_map in maps.items():
            list_map.last = _last_child(parent)
            if tag == element.tag:
                list_map.entries[entry_key_values(element, list_map.schema)] = element

    def removed(self, parent: etree._Element, element: etree._Element) -> None:
        self._drop_maps_inside(element)          # a removed big-list parent takes its map along
        maps = self._maps.get(parent)
        if not maps:
            return
        for tag, list_map in maps.items():
            list_map.last = _last_child(parent)
            if tag == element.tag:
                list_map.entries.pop(entry_key_values(element, list_map.schema), None)


@dataclass
class _ListMap:
    schema: SchemaNode
    entries: dict[tuple[str, ...], etree._Element]
    #: the parent's last child when the map was last brought up to date
    last: etree._Element | None

    @classmethod
    def build(cls, parent: etree._Element, schema_node: SchemaNode) -> "_ListMap":
        entries = {entry_key_values(e, schema_node): e for e in parent.iterchildren(schema_node.tag)}
        return cls(schema_node, entries, _last_child(parent))


def _last_child(parent: etree._Element) -> etree._Element | None:
    return next(parent.iterchildren(reversed=True), None)


def find_entry(parent: etree._Element, schema_node: SchemaNode, key_values: tuple[str, ...],
               index: EntryIndex | None) -> etree._Element | None:
    """A list entry by keys, through ``index`` when the tree has one."""
    if index is not None:
        return index.find(parent, schema_node, key_values)
    return find_list_entry(parent, schema_node, key_values)


def attach(parent: etree._Element, element: etree._Element, position: int | None,
           index: EntryIndex | None) -> None:
    """``parent.insert`` (``position`` None: append) that keeps ``index`` current."""
    if position is None:
        relocate(element, lambda: parent.append(element))
    else:
        relocate(element, lambda: parent.insert(position, element))
    if index is not None:
        index.inserted(parent, element)


def detach(parent: etree._Element, element: etree._Element, index: EntryIndex | None) -> None:
    """``parent.remove`` that keeps ``index`` current (the tail text is kept with the element)."""
    tail = element.tail
    relocate(element, lambda: parent.remove(element))
    element.tail = tail
    if index is not None:
        index.removed(parent, element)


#: an element with fewer children is moved in one piece (see :func:`relocate`)
PIECEWISE_MIN_CHILDREN = 16


def relocate(element: etree._Element, move: Callable[[], None]) -> None:
    """Run ``move`` (an lxml call that links or unlinks ``element``) in time linear in its subtree.

    Every link or unlink makes lxml re-home the namespace of each node of the moved subtree
    (``moveNodeToDocument``).  Its cache of already re-homed namespaces misses for every node
    whose namespace is declared *outside* the moved subtree, and grows by one entry per miss,
    so the move costs the square of the number of such nodes (lxml 6.x).  Our default marks
    are exactly that: one attribute in the internal namespace, declared once at the root, on
    every default - unlinking the VSI list of 10k VSIs took 3 s, linking it back as long.

    Moving a big element's children out first (each child is a small move, and afterwards
    carries the declarations it needs itself), moving the element, and putting the children
    back (their namespaces are now declared inside each moved piece: cache hits) keeps the
    whole move linear.  Children keep their order and tail text.
    """
    if len(element) < PIECEWISE_MIN_CHILDREN:
        move()
        return
    children = list(element)
    for child in children:
        relocate(child, lambda child=child: element.remove(child))     # type: ignore[misc]
    move()
    for child in children:
        element.append(child)


def find_leaf_list_entry(parent: etree._Element, schema_node: SchemaNode, value: str) -> etree._Element | None:
    for entry in parent.iterchildren(schema_node.tag):
        if (entry.text or "") == value:
            return entry
    return None


def find_step(parent: etree._Element, schema_node: SchemaNode, step: Step,
              index: EntryIndex | None = None) -> etree._Element | None:
    """The child of ``parent`` that ``step`` names."""
    identity = step[1]
    if schema_node.keyword == "list":
        assert isinstance(identity, tuple)
        return find_entry(parent, schema_node, identity, index)
    if schema_node.keyword == "leaf-list":
        assert isinstance(identity, str)
        return find_leaf_list_entry(parent, schema_node, identity)
    return parent.find(step[0])


# --------------------------------------------------------------------------- errors ---------

def _path_error(tag: ErrorTag, message: str, path: str, nsmap: dict[str, str], *,
                app_tag: str | None = None, info: list[tuple[str, str]] | None = None,
                type: ErrorType = ErrorType.APPLICATION) -> RpcError:
    return RpcError(tag, message, type=type, app_tag=app_tag, path=path or None,
                    path_nsmap=nsmap, info=info or [])


# --------------------------------------------------------------------------- engine ---------

@dataclass
class _Where:
    """Where the engine is in the edit: for error-path and for change recording."""

    path: str                     # instance identifier of the current node
    fresh: bool                   # inside a subtree this edit created (no per-node changes)


class ConfigEdit:
    """One `<edit-config>` (or NMDA `<edit-data>`) applied to one datastore tree."""

    def __init__(self, schema: Schema, root: etree._Element, *,
                 default_operation: str = "merge", error_option: str = "stop-on-error",
                 index: EntryIndex | None = None, when_ok: yang_defaults.WhenCheck = yang_defaults.always) -> None:
        if default_operation not in DEFAULT_OPERATIONS:
            raise RpcError(ErrorTag.INVALID_VALUE, f"default-operation '{default_operation}' is not "
                           "one of merge, replace, none", type=ErrorType.PROTOCOL,
                           info=[("bad-element", "default-operation")])
        if error_option not in ERROR_OPTIONS:
            raise RpcError(ErrorTag.INVALID_VALUE, f"error-option '{error_option}' is not one of "
                           "stop-on-error, continue-on-error, rollback-on-error",
                           type=ErrorType.PROTOCOL, info=[("bad-element", "error-option")])
        self.schema = schema
        self.root = root
        self.index = index
        #: the validator's `when` test, so defaults guarded by a false `when` are not created
        self.when_ok = when_ok
        self.default_operation = default_operation
        self.error_option = error_option
        self.result = EditResult()
        self._path_nsmap: dict[str, str] = {}
        #: elements this edit created: changes below them are covered by their own "create"
        self._created: set[etree._Element] = set()

    # ----- entry point ------------------------------------------------------------------

    def apply(self, config: etree._Element) -> EditResult:
        """Apply the children of ``config`` (a `<config>` or `<data>` element) to the tree.

        Raises :class:`RpcError` / :class:`RpcErrors` with the tree unchanged under
        stop-on-error and rollback-on-error; under continue-on-error returns with the failed
        nodes' errors in ``result.errors`` and every other node applied.
        """
        _refuse_repeated_nodes(self.schema, config)
        try:
            self._edit_children(self.root, None, config, self.default_operation, _Where("", False))
        except BaseException:
            self.result.rollback()
            raise
        return self.result

    def _edit_children(self, parent: etree._Element, parent_schema: SchemaNode | None,
                       edit_parent: etree._Element, inherited: str, where: _Where,
                       skip: frozenset[str] = frozenset()) -> None:
        for edit in _elements(edit_parent):
            if edit.tag in skip:
                continue
            if self.error_option != "continue-on-error":
                self._edit_node(parent, parent_schema, edit, inherited, where)
                continue
            savepoint, n_changes, n_touched = len(self.result.undo), len(self.result.changes), len(self.result.touched)
            try:
                self._edit_node(parent, parent_schema, edit, inherited, where)
            except RpcError as err:
                self.result.undo.rollback(savepoint)
                del self.result.changes[n_changes:]
                del self.result.touched[n_touched:]
                self.result.errors.append(err)

    # ----- one node ---------------------------------------------------------------------

    def _edit_node(self, parent: etree._Element, parent_schema: SchemaNode | None,
                   edit: etree._Element, inherited: str, where: _Where) -> None:
        schema_node = self._schema_child(parent_schema, edit, where.path)
        self._path_nsmap[schema_node.prefix] = schema_node.namespace
        path = f"{where.path}/{_node_name(schema_node)}"
        operation = self._operation(edit, inherited, path)
        if not schema_node.config:
            raise _path_error(ErrorTag.INVALID_VALUE,
                              f"'{schema_node.name}' is state data (config false) and cannot be configured",
                              path, self._nsmap(), info=[("bad-element", schema_node.name)])
        here = _Where(path, where.fresh)
        if schema_node.keyword == "leaf":
            self._edit_leaf(parent, schema_node, edit, operation, here)
        elif schema_node.keyword == "leaf-list":
            self._edit_leaf_list(parent, schema_node, edit, operation, here)
        elif schema_node.keyword in ("container", "list"):
            self._edit_interior(parent, schema_node, edit, operation, here)
        elif schema_node.keyword in ("anydata", "anyxml"):
            self._edit_anydata(parent, schema_node, edit, operation, here)
        else:
            raise unknown_element(schema_node.name, f"'{schema_node.name}' is a {schema_node.keyword}, "
                                  "not a data node", path=where.path or None, path_nsmap=self._nsmap())

    def _schema_child(self, parent_schema: SchemaNode | None, edit: etree._Element, path: str) -> SchemaNode:
        tag = edit.tag
        node = self.schema.root(tag) if parent_schema is None else parent_schema.child(tag)
        if node is not None:
            return node
        namespace, local = split_qn(tag)
        if namespace not in self.schema.namespaces:
            raise RpcError(ErrorTag.UNKNOWN_NAMESPACE,
                           f"element '{local}' is in namespace '{namespace}', which no module of this "
                           "server defines", type=ErrorType.APPLICATION, path=path or None,
                           path_nsmap=self._nsmap(),
                           info=[("bad-element", local), ("bad-namespace", namespace)])
        where = f"under '{parent_schema.name}'" if parent_schema is not None else "at the top level"
        raise unknown_element(local, f"'{local}' is not a data node {where}",
                              path=path or None, path_nsmap=self._nsmap())

    def _operation(self, edit: etree._Element, inherited: str, path: str) -> str:
        value = edit.get(OPERATION_ATTR)
        if value is None:
            return inherited
        if value not in OPERATIONS:
            raise _path_error(ErrorTag.BAD_ATTRIBUTE,
                              f"operation '{value}' is not one of merge, replace, create, delete, remove",
                              path, self._nsmap(), type=ErrorType.PROTOCOL,
                              info=[("bad-attribute", "operation"), ("bad-element", split_qn(edit.tag)[1])])
        return value

    def _nsmap(self) -> dict[str, str]:
        return dict(self._path_nsmap)

    # ----- leaves -----------------------------------------------------------------------

    def _value(self, schema_node: SchemaNode, edit: etree._Element, path: str) -> str:
        """The canonical value of a leaf / leaf-list / key from the request (type-checked)."""
        if len(edit):
            raise _path_error(ErrorTag.INVALID_VALUE, f"'{schema_node.name}' is a {schema_node.keyword}; "
                              "it cannot have child elements", path, self._nsmap(),
                              info=[("bad-element", schema_node.name)])
        assert schema_node.type is not None, schema_node.name
        try:
            return check_value(schema_node.type, edit.text or "", edit.nsmap, name=schema_node.name)
        except RpcError as err:
            if err.path is None:
                err.path = path
                err.path_nsmap = self._nsmap()
            if not err.info:
                err.info = [("bad-element", schema_node.name)]
            raise

    def _edit_leaf(self, parent: etree._Element, schema_node: SchemaNode, edit: etree._Element,
                   operation: str, where: _Where) -> None:
        target = parent.find(schema_node.tag)
        if operation in ("delete", "remove"):
            if target is None or is_default(target):
                self._missing(operation, schema_node, where.path)
                return
            self._remove(target, schema_node, where)
            return
        value = self._value(schema_node, edit, where.path)
        as_default = self._wd_default(schema_node, edit, value, where.path)
        if operation == "none":
            return
        if target is not None and operation == "create" and not is_default(target):
            raise self._exists(schema_node, where.path)
        if as_default:
            self._set_to_default(parent, schema_node, target, value, where)
            return
        if target is None:
            new = self._new_element(parent, schema_node)
            new.text = value
            self._insert(parent, new, _schema_position(parent, schema_node))
            self._clear_other_cases(parent, schema_node, where)
            self._record(Change("create", schema_node, parent, new, None, value), new, where)
            self._make_explicit(parent, where)
            return
        if target.text != value or is_default(target):
            old = target.text
            self._set_text(target, value)
            self._set_default_mark(target, False, where)
            self._record(Change("modify", schema_node, parent, target, old, value), target, where)
            self._make_explicit(parent, where)

    def _wd_default(self, schema_node: SchemaNode, edit: etree._Element, value: str, path: str) -> bool:
        """RFC 6243 4.5.2: True when ``edit`` tags the schema default with ``wd:default="true"``.

        A tagged value that is not the schema default is refused with `invalid-value` at the
        node, as copy-config refuses it (:func:`agent.instance.not_the_schema_default`).  Only a
        leaf becomes a default node; an accepted leaf-list value is configured as usual.
        """
        try:
            flag = yang_defaults.wd_default_flag(edit)
        except ValueError as exc:
            raise _path_error(ErrorTag.BAD_ATTRIBUTE, f"{schema_node.name}: {exc}", path, self._nsmap(),
                              info=[("bad-attribute", "default"), ("bad-element", schema_node.name)]) from None
        if not flag:
            return False
        defaults = yang_defaults.schema_default_values(schema_node)
        if value not in defaults:
            error = not_the_schema_default(schema_node, value, defaults)
            error.path, error.path_nsmap = path, self._nsmap()
            raise error
        return schema_node.keyword == "leaf"

    def _set_to_default(self, parent: etree._Element, schema_node: SchemaNode, target: etree._Element | None,
                        value: str, where: _Where) -> None:
        """RFC 6243 4.5.2: a leaf tagged as its default becomes a default node (marked).

        An explicit value is replaced by the (marked) default; a leaf holding its default
        already is left alone; a missing one is created marked - where the default does not
        apply (a false `when`, another case active) the default reconciliation at the end of
        the parent takes it away again, as it would any default there.
        """
        if target is None:
            new = self._new_element(parent, schema_node)
            new.text = value
            new.set(DEFAULT_MARK, "1")
            self._insert(parent, new, _schema_position(parent, schema_node))
            self._record(Change("create", schema_node, parent, new, None, value), new, where)
            return
        if is_default(target):
            return
        old = target.text
        self._set_text(target, value)
        self._set_default_mark(target, True, where)
        self._record(Change("modify", schema_node, parent, target, old, value), target, where)

    def _edit_leaf_list(self, parent: etree._Element, schema_node: SchemaNode, edit: etree._Element,
                        operation: str, where: _Where) -> None:
        value = self._value(schema_node, edit, where.path)
        path = f"{where.path}[.={quote_xpath_literal(value)}]"
        if operation not in ("delete", "remove"):
            self._wd_default(schema_node, edit, value, path)
        here = _Where(path, where.fresh)
        target = find_leaf_list_entry(parent, schema_node, value)
        if operation in ("delete", "remove"):
            if target is None or is_default(target):
                self._missing(operation, schema_node, path)
                return
            self._remove(target, schema_node, here)
            return
        if operation == "none":
            return
        if target is not None and operation == "create" and not is_default(target):
            raise self._exists(schema_node, path)
        anchor_position = self._insert_request(parent, schema_node, edit, here, moving=target)
        if target is None:
            self._drop_default_entries(parent, schema_node, here)
            new = self._new_element(parent, schema_node)
            new.text = value
            self._place(parent, schema_node, new, anchor_position)
            self._clear_other_cases(parent, schema_node, here)
            self._record(Change("create", schema_node, parent, new, None, value), new, here)
            self._make_explicit(parent, here)
            return
        if is_default(target):
            self._drop_default_entries(parent, schema_node, here, keep=target)
            self._set_default_mark(target, False, here)
            self._record(Change("modify", schema_node, parent, target, value, value), target, here)
            self._make_explicit(parent, here)
        if anchor_position is not None:
            self._move(parent, schema_node, target, anchor_position, here)

    def _drop_default_entries(self, parent: etree._Element, schema_node: SchemaNode, where: _Where,
                              keep: etree._Element | None = None) -> None:
        """RFC 7950 7.7.2: leaf-list defaults apply only while no value is configured."""
        for entry in list(parent.iterchildren(schema_node.tag)):
            if entry is not keep and is_default(entry):
                self._record(Change("delete", schema_node, parent, None, entry.text, None, old_element=entry),
                             entry, where)
                self._detach(entry)

    # ----- containers and list entries --------------------------------------------------

    def _list_keys(self, schema_node: SchemaNode, edit: etree._Element, path: str) -> tuple[str, ...]:
        values = []
        for key in schema_node.keys:
            key_edit = edit.find(qn(schema_node.namespace, key))
            if key_edit is None:
                raise _path_error(ErrorTag.MISSING_ELEMENT,
                                  f"list entry '{schema_node.name}' needs its key '{key}'",
                                  path, self._nsmap(), info=[("bad-element", key)])
            key_schema = schema_node.child(key_edit.tag)
            assert key_schema is not None, key
            values.append(self._value(key_schema, key_edit, f"{path}/{schema_node.prefix}:{key}"))
        return tuple(values)

    def _edit_interior(self, parent: etree._Element, schema_node: SchemaNode, edit: etree._Element,
                       operation: str, where: _Where) -> None:
        is_list = schema_node.keyword == "list"
        key_values: tuple[str, ...] = ()
        path = where.path
        if is_list:
            key_values = self._list_keys(schema_node, edit, path)
            path += key_predicates(schema_node, key_values)
            target = find_entry(parent, schema_node, key_values, self.index)
        else:
            target = parent.find(schema_node.tag)
        here = _Where(path, where.fresh)
        if operation in ("delete", "remove"):
            if target is None or is_default(target):
                self._missing(operation, schema_node, path)
                return
            self._remove(target, schema_node, here)
            return
        if target is not None and operation == "create" and not is_default(target):
            raise self._exists(schema_node, path)
        anchor_position = self._insert_request(parent, schema_node, edit, here, moving=target) if is_list else None
        if target is not None and (operation == "replace" or (operation == "create" and is_default(target))):
            position = parent.index(target)
            self._record(Change("delete", schema_node, parent, None, old_element=target), target, here)
            self._detach(target)
            target = self._create_interior(parent, schema_node, key_values, here,
                                           position if anchor_position is None else None, anchor_position)
            anchor_position = None
        elif target is None:
            if operation == "none":
                raise self._data_missing(schema_node, path, "does not exist, and default-operation "
                                         "'none' does not create it")
            target = self._create_interior(parent, schema_node, key_values, here, None, anchor_position)
            anchor_position = None
        elif anchor_position is not None:
            self._move(parent, schema_node, target, anchor_position, here)
        fresh_here = here.fresh or self._created_here(target)
        keys = frozenset(qn(schema_node.namespace, k) for k in schema_node.keys)
        n_changes = len(self.result.changes)
        self._edit_children(target, schema_node, edit, operation, _Where(path, fresh_here), skip=keys)
        if self._created_here(target):
            self._fill_defaults(target, schema_node)
        elif len(self.result.changes) != n_changes and target.getparent() is not None:
            self._reconcile_defaults(target, schema_node, _Where(path, fresh_here))
        self._settle(target, schema_node, here)

    def _create_interior(self, parent: etree._Element, schema_node: SchemaNode, key_values: tuple[str, ...],
                         where: _Where, position: int | None,
                         anchor_position: tuple[str, etree._Element | None] | None) -> etree._Element:
        new = self._new_element(parent, schema_node)
        for key, value in zip(schema_node.keys, key_values):
            etree.SubElement(new, qn(schema_node.namespace, key)).text = value
        if position is not None:
            self._insert(parent, new, position)
        elif schema_node.keyword == "list":
            self._place(parent, schema_node, new, anchor_position)
        else:
            self._insert(parent, new, _schema_position(parent, schema_node))
        self._created.add(new)
        self._clear_other_cases(parent, schema_node, where)
        self._record(Change("create", schema_node, parent, new), new, where)
        self._make_explicit(parent, where)
        return new

    def _created_here(self, element: etree._Element) -> bool:
        return element in self._created

    def _edit_anydata(self, parent: etree._Element, schema_node: SchemaNode, edit: etree._Element,
                      operation: str, where: _Where) -> None:
        target = parent.find(schema_node.tag)
        if operation in ("delete", "remove"):
            if target is None:
                self._missing(operation, schema_node, where.path)
                return
            self._remove(target, schema_node, where)
            return
        if operation == "none":
            return
        if target is not None and operation == "create":
            raise self._exists(schema_node, where.path)
        new = self._new_element(parent, schema_node)
        new.text = edit.text
        for child in edit:
            new.append(etree.fromstring(etree.tostring(child)))
        if target is not None:
            position = parent.index(target)
            self._record(Change("delete", schema_node, parent, None, old_element=target), target, where)
            self._detach(target)
            self._insert(parent, new, position)
        else:
            self._insert(parent, new, None)
        self._record(Change("create", schema_node, parent, new), new, where)
        self._make_explicit(parent, where)

    # ----- ordered-by user (RFC 7950 7.7.9 / 7.8.6) -------------------------------------

    def _insert_request(self, parent: etree._Element, schema_node: SchemaNode, edit: etree._Element,
                        where: _Where, moving: etree._Element | None
                        ) -> tuple[str, etree._Element | None] | None:
        """The requested position as (``first``/``last``/``before``/``after``, anchor) or None."""
        insert = edit.get(INSERT_ATTR)
        if insert is None:
            return None
        name = schema_node.name
        if not schema_node.ordered_by_user:
            raise _path_error(ErrorTag.BAD_ATTRIBUTE, f"'insert' is only allowed on ordered-by user "
                              f"lists and leaf-lists; '{name}' is ordered by the system", where.path,
                              self._nsmap(), info=[("bad-attribute", "insert"), ("bad-element", name)])
        if insert not in INSERT_POSITIONS:
            raise _path_error(ErrorTag.BAD_ATTRIBUTE, f"insert '{insert}' is not one of first, last, "
                              "before, after", where.path, self._nsmap(),
                              info=[("bad-attribute", "insert"), ("bad-element", name)])
        if insert in ("first", "last"):
            return insert, None
        attr_name = "key" if schema_node.keyword == "list" else "value"
        attr = edit.get(KEY_ATTR if attr_name == "key" else VALUE_ATTR)
        if attr is None:
            raise _path_error(ErrorTag.MISSING_ATTRIBUTE, f"insert '{insert}' needs the '{attr_name}' "
                              "attribute naming the anchor entry", where.path, self._nsmap(),
                              info=[("bad-attribute", attr_name), ("bad-element", name)])
        if schema_node.keyword == "list":
            anchor = find_entry(parent, schema_node, self._parse_key_attr(schema_node, edit, attr, where), self.index)
        else:
            assert schema_node.type is not None
            try:
                anchor_value = check_value(schema_node.type, attr, edit.nsmap)
            except RpcError:
                anchor_value = None
            anchor = None if anchor_value is None else find_leaf_list_entry(parent, schema_node, anchor_value)
        if anchor is None or is_default(anchor):
            raise _path_error(ErrorTag.BAD_ATTRIBUTE, f"the {attr_name} '{attr}' names no existing entry "
                              f"of '{name}' to insert {insert}", where.path, self._nsmap(),
                              info=[("bad-attribute", attr_name), ("bad-element", name)])
        if moving is not None and anchor is moving:
            raise _path_error(ErrorTag.BAD_ATTRIBUTE, f"an entry of '{name}' cannot be inserted relative "
                              "to itself", where.path, self._nsmap(),
                              info=[("bad-attribute", attr_name), ("bad-element", name)])
        return insert, anchor

    _KEY_PREDICATE = re.compile(r"""\[\s*(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*)\s*=\s*(?:'([^']*)'|"([^"]*)")\s*\]""")

    def _parse_key_attr(self, schema_node: SchemaNode, edit: etree._Element, text: str,
                        where: _Where) -> tuple[str, ...]:
        """``[p:k='v']...`` of a ``yang:key`` attribute -> canonical key values in key order."""
        found: dict[str, str] = {}
        position = 0
        stripped = text.strip()
        for match in self._KEY_PREDICATE.finditer(stripped):
            if match.start() != position:
                break
            position = match.end()
            prefix, local = match.group(1), match.group(2)
            if prefix is not None and edit.nsmap.get(prefix) != schema_node.namespace:
                break
            found[local] = match.group(3) if match.group(3) is not None else match.group(4)
        if position != len(stripped) or set(found) != set(schema_node.keys):
            raise _path_error(ErrorTag.BAD_ATTRIBUTE, f"key '{text}' is not a predicate list naming every "
                              f"key of '{schema_node.name}' ({', '.join(schema_node.keys)})", where.path,
                              self._nsmap(), info=[("bad-attribute", "key"), ("bad-element", schema_node.name)])
        values = []
        for key in schema_node.keys:
            key_schema = schema_node.child(qn(schema_node.namespace, key))
            assert key_schema is not None and key_schema.type is not None
            values.append(check_value(key_schema.type, found[key], edit.nsmap))
        return tuple(values)

    def _place(self, parent: etree._Element, schema_node: SchemaNode, element: etree._Element,
               request: tuple[str, etree._Element | None] | None) -> None:
        """Insert a new list / leaf-list entry where ``request`` says (default: last)."""
        insert, anchor = request if request is not None else ("last", None)
        if insert in ("before", "after"):
            assert anchor is not None
            position = parent.index(anchor) + (1 if insert == "after" else 0)
        else:
            # the entries of one list are kept together: first = before the first of them,
            # last = after the last (the common case, appending to a big list, is O(1))
            last_child = _last_child(parent)
            if insert == "last" and last_child is not None and last_child.tag == schema_node.tag:
                position = None
            else:
                sibling = next(parent.iterchildren(schema_node.tag, reversed=(insert == "last")), None)
                if sibling is None:
                    position = _schema_position(parent, schema_node)
                else:
                    position = parent.index(sibling) + (1 if insert == "last" else 0)
        self._insert(parent, element, position)

    def _move(self, parent: etree._Element, schema_node: SchemaNode, element: etree._Element,
              request: tuple[str, etree._Element | None], where: _Where) -> None:
        """Move an existing entry (merge/replace with ``insert``); recorded as a modify."""
        old_position = parent.index(element)
        detach(parent, element, self.index)
        self.result.undo.push(lambda: attach(parent, element, old_position, self.index))
        self._place(parent, schema_node, element, request)
        # _place pushed "remove"; the pair undoes to the old position, newest first.
        self._record(Change("modify", schema_node, parent, element), element, where)

    # ----- choice (RFC 7950 7.9) --------------------------------------------------------

    def _clear_other_cases(self, parent: etree._Element, schema_node: SchemaNode, where: _Where) -> None:
        """Creating a node in one case of a choice removes every node of the other cases."""
        if not schema_node.choice_path:
            return
        parent_schema = schema_node.parent
        for sibling in list(_elements(parent)):
            sibling_schema = self.schema.root(sibling.tag) if parent_schema is None else parent_schema.child(sibling.tag)
            if sibling_schema is None or sibling_schema is schema_node:
                continue
            if _other_case(schema_node.choice_path, sibling_schema.choice_path):
                self._record(Change("delete", sibling_schema, parent, None,
                                    sibling.text if sibling_schema.is_leaf else None, None, old_element=sibling),
                             sibling, where)
                self._detach(sibling)

    # ----- removal and defaults ---------------------------------------------------------

    def _remove(self, target: etree._Element, schema_node: SchemaNode, where: _Where) -> None:
        """Delete ``target``; put schema defaults back; drop containers left empty."""
        parent = target.getparent()
        assert parent is not None
        position = parent.index(target)
        old = target.text if schema_node.is_leaf else None
        if schema_node.keyword == "leaf" and isinstance(schema_node.default, str) and _default_applies(parent, schema_node):
            self._detach(target)
            restored = self._new_element(parent, schema_node)
            restored.text = schema_node.default
            restored.set(DEFAULT_MARK, "1")
            self._insert(parent, restored, position)
            self._record(Change("modify", schema_node, parent, restored, old, schema_node.default), restored, where)
        else:
            self._record(Change("delete", schema_node, parent, None, old, None, old_element=target), target, where)
            self._detach(target)
            if schema_node.keyword == "leaf-list":
                self._restore_leaf_list_defaults(parent, schema_node, where)
            elif schema_node.keyword == "container" and not schema_node.presence:
                self._restore_container_defaults(parent, schema_node, position, where)
        # the parent's schema node is the node's schema parent (choices and cases are not data)
        self._settle(parent, schema_node.parent if parent is not self.root else None, where)

    def _restore_leaf_list_defaults(self, parent: etree._Element, schema_node: SchemaNode, where: _Where) -> None:
        if not isinstance(schema_node.default, tuple) or parent.find(schema_node.tag) is not None:
            return
        if not _default_applies(parent, schema_node):
            return
        for value in schema_node.default:
            entry = self._new_element(parent, schema_node)
            entry.text = value
            entry.set(DEFAULT_MARK, "1")
            self._insert(parent, entry, None)
            self._record(Change("create", schema_node, parent, entry, None, value), entry, where)

    def _restore_container_defaults(self, parent: etree._Element, schema_node: SchemaNode, position: int,
                                    where: _Where) -> None:
        container = self._new_element(parent, schema_node)
        self._fill_defaults(container, schema_node)
        if len(container) == 0:
            return
        container.set(DEFAULT_MARK, "1")
        self._insert(parent, container, min(position, len(parent)))
        self._record(Change("create", schema_node, parent, container), container, where)

    def _fill_defaults(self, element: etree._Element, schema_node: SchemaNode) -> None:
        """Instantiate the schema defaults inside a subtree this edit created (marked)."""
        yang_defaults.fill_defaults(element, schema_node, self.when_ok)

    def _reconcile_defaults(self, element: etree._Element, schema_node: SchemaNode, where: _Where) -> None:
        """After a change inside ``element``: defaults whose `when` or choice case changed.

        Setting ``backup-query-forward`` makes the default of ``backup-query-source-mac-replace``
        exist (its `when` became true); deleting the explicit node of a case brings back the
        defaults of the default case.  :func:`agent.defaults.fill_defaults` decides on a scratch
        copy; the difference in direct children is applied here through the undo log.
        """
        if not _has_conditional_defaults(schema_node):
            return
        scratch = copy.deepcopy(element)
        yang_defaults.fill_defaults(scratch, schema_node, self.when_ok)
        have = self._children_by_step(element, schema_node)
        want = self._children_by_step(scratch, schema_node)
        for step, (child, child_schema) in have.items():
            if step not in want and is_default(child):
                self._record(Change("delete", child_schema, element, None,
                                    child.text if child_schema.is_leaf else None, None, old_element=child),
                             child, where)
                self._detach(child)
        for step, (child, child_schema) in want.items():
            if step not in have:
                new = copy.deepcopy(child)
                self._insert(element, new, _schema_position(element, child_schema))
                self._record(Change("create", child_schema, element, new,
                                    None, new.text if child_schema.is_leaf else None), new, where)
        self._delete_nodes_whose_when_became_false(element, schema_node, where)

    def _delete_nodes_whose_when_became_false(self, element: etree._Element, schema_node: SchemaNode,
                                              where: _Where) -> None:
        """RFC 7950 8.2: an edit that makes a node's `when` false deletes that node.

        Switching ``backup-query-forward`` off removes a configured
        ``backup-query-source-mac-replace`` with it, instead of refusing the edit.  A node this
        request itself set is left alone: the validator then answers ``unknown-element``
        (RFC 7950 8.3.2).  Only the children of the container that changed are looked at: the
        `when`s of our module all read their siblings.
        """
        for child in list(_elements(element)):
            child_schema = schema_node.child(child.tag)
            if (child_schema is None or is_default(child)
                    or not (getattr(child_schema, "whens", None) or child_schema.when is not None)
                    or self.when_ok(child_schema, element) or self._changed_by_this_request(child)):
                continue
            self._record(Change("delete", child_schema, element, None,
                                child.text if child_schema.is_leaf else None, None, old_element=child),
                         child, where)
            self._detach(child)

    def _changed_by_this_request(self, element: etree._Element) -> bool:
        """A scan of this edit's changes: asked only for a node whose `when` is false (rare)."""
        return any(change.element is element for change in self.result.changes)

    @staticmethod
    def _children_by_step(element: etree._Element, schema_node: SchemaNode
                          ) -> dict[Step, tuple[etree._Element, SchemaNode]]:
        found = {}
        for child in _elements(element):
            child_schema = schema_node.child(child.tag)
            if child_schema is not None:
                found[step_of(child, child_schema)] = (child, child_schema)
        return found

    def _settle(self, element: etree._Element, schema_node: SchemaNode | None, where: _Where) -> None:
        """Keep non-presence containers honest after a change below them.

        An empty non-presence container carries no meaning and is removed; one that holds
        only defaults is marked as a default itself (RFC 6243 "explicit" reporting then
        leaves it out).  Walks up, since removing one container may empty its parent.
        """
        while (element is not self.root and schema_node is not None
               and schema_node.keyword == "container" and not schema_node.presence):
            parent = element.getparent()
            if parent is None:          # already settled away by a change further down
                return
            if _last_child(element) is None:
                created_now, removed = self._forget_changes_of(element)
                if not created_now:
                    self._put_back_removed_content(element, removed)
                    self._record(Change("delete", schema_node, parent, None, old_element=element), element, where)
                else:
                    self._touch(element)
                self._detach(element)
            else:
                all_default = all(is_default(child) for child in element)
                if all_default == is_default(element):
                    return
                self._set_default_mark(element, all_default, where)
            element, schema_node = parent, schema_node.parent

    def _forget_changes_of(self, element: etree._Element) -> tuple[bool, list[etree._Element]]:
        """A container about to vanish replaces the changes recorded for it and its children.

        Returns whether this edit had created the container (then its creation and its
        removal cancel out and no change is left to report) and the children this edit
        deleted from it, in the order they were deleted.
        """
        changes = self.result.changes
        created_now = any(c.op == "create" and c.element is element for c in changes)
        removed = [c.old_element for c in changes
                   if c.op == "delete" and c.parent is element and c.old_element is not None]
        changes[:] = [c for c in changes if c.parent is not element and c.element is not element]
        return created_now, removed

    def _put_back_removed_content(self, element: etree._Element, removed: list[etree._Element]) -> None:
        """Make an emptied container's delete carry what was really removed.

        The container's one `delete` change replaces the deletes of its last children; its
        ``old_element`` must hold them, or the validator would see an empty subtree go and
        not re-check what depended on the deleted values (a leafref to a deleted list key).
        The children go back into the (about to be detached) container through the undo
        log, so taking the edit back still restores every node to its place.
        """
        for child in removed:
            if child.getparent() is None:
                self._insert(element, child, None)

    def _make_explicit(self, element: etree._Element, where: _Where) -> None:
        """A container that now holds configured data is no longer a default."""
        while element is not self.root and is_default(element):
            self._set_default_mark(element, False, where)
            parent = element.getparent()
            assert parent is not None
            element = parent

    # ----- errors -----------------------------------------------------------------------

    def _missing(self, operation: str, schema_node: SchemaNode, path: str) -> None:
        if operation == "delete":
            raise self._data_missing(schema_node, path, "does not exist, so it cannot be deleted")

    def _data_missing(self, schema_node: SchemaNode, path: str, why: str) -> RpcError:
        return _path_error(ErrorTag.DATA_MISSING, f"'{schema_node.name}' {why}", path, self._nsmap())

    def _exists(self, schema_node: SchemaNode, path: str) -> RpcError:
        return _path_error(ErrorTag.DATA_EXISTS,
                           f"'{schema_node.name}' already exists; 'create' only makes new data", path, self._nsmap())

    # ----- primitive mutations (each pushes its inverse) --------------------------------

    def _new_element(self, parent: etree._Element, schema_node: SchemaNode) -> etree._Element:
        """A detached element for ``schema_node``; top-level nodes declare their namespace."""
        if parent is self.root or parent.nsmap.get(None) != schema_node.namespace:
            return etree.Element(schema_node.tag, nsmap={None: schema_node.namespace})
        return etree.Element(schema_node.tag)

    def _insert(self, parent: etree._Element, element: etree._Element, position: int | None) -> None:
        attach(parent, element, position, self.index)
        self.result.undo.push(lambda: detach(parent, element, self.index))

    def _detach(self, element: etree._Element) -> None:
        parent = element.getparent()
        assert parent is not None
        position = parent.index(element)
        detach(parent, element, self.index)
        self.result.undo.push(lambda: attach(parent, element, position, self.index))

    def _set_text(self, element: etree._Element, text: str) -> None:
        old = element.text
        element.text = text

        def undo() -> None:
            element.text = old
        self.result.undo.push(undo)

    def _set_default_mark(self, element: etree._Element, marked: bool, where: _Where) -> None:
        was = is_default(element)
        if was == marked:
            return
        if marked:
            element.set(DEFAULT_MARK, "1")
        else:
            del element.attrib[DEFAULT_MARK]

        def undo() -> None:
            if was:
                element.set(DEFAULT_MARK, "1")
            else:
                element.attrib.pop(DEFAULT_MARK, None)
        self.result.undo.push(undo)
        if not where.fresh:
            self._touch(element)

    def _record(self, change: Change, element: etree._Element, where: _Where) -> None:
        """Record a change (skipped inside subtrees this edit created: the top covers them)."""
        if where.fresh:
            return
        self.result.changes.append(change)
        self._touch(element)

    def _touch(self, element: etree._Element) -> None:
        self.result.touched.append(data_path(self.schema, element, self.root))


# --------------------------------------------------------------------------- repeated nodes --

def _refuse_repeated_nodes(schema: Schema, config: etree._Element) -> None:
    """Refuse an edit that names one data node twice, before anything is changed.

    RFC 7950 says a leaf or container has one instance (7.6, 7.5), a list entry is
    identified by its keys (7.8.2) and configured leaf-list values are unique (7.7); an
    edit that gives the same node twice has no meaning of its own - "the last one wins"
    would silently drop half the request.  It is answered exactly as copy-config answers
    the same content (:mod:`agent.instance`): `bad-element` for a repeated leaf, container or
    anydata, `operation-failed` / `data-not-unique` for a repeated list key or leaf-list
    value, at the second occurrence - whatever the error-option, since the request itself is
    malformed.  Nodes the schema does not know are left to the edit, which reports them.
    """
    errors: list[RpcError] = []
    _scan_level(schema, config, None, "", {}, errors)
    if errors:
        raise errors[0] if len(errors) == 1 else RpcErrors(errors)


def _scan_level(schema: Schema, edit_parent: etree._Element, parent_schema: SchemaNode | None, path: str,
                nsmap: dict[str, str], errors: list[RpcError]) -> None:
    single: set[str] = set()
    identities: set[tuple[str, object]] = set()
    for edit in _elements(edit_parent):
        node = schema.root(edit.tag) if parent_schema is None else parent_schema.child(edit.tag)
        if node is None or not node.config:
            continue                      # the edit refuses these nodes with their own errors
        nsmap[node.prefix] = node.namespace
        here = f"{path}/{_node_name(node)}"
        error: RpcError | None = None
        if node.keyword in ("leaf", "container", "anydata", "anyxml"):
            if edit.tag in single:
                error = repeated_node_error(node)
            else:
                single.add(edit.tag)
                if node.keyword == "container":
                    _scan_level(schema, edit, node, here, nsmap, errors)
        elif node.keyword == "leaf-list":
            value = _canonical(node, edit)
            if value is None:
                continue
            here += f"[.={quote_xpath_literal(value)}]"
            if (edit.tag, value) in identities:
                error = not_unique_error(node, same_value_text(value))
            identities.add((edit.tag, value))
        elif node.keyword == "list":
            keys = _canonical_keys(node, edit)
            if keys is None:
                continue                  # a missing or bad key: the edit reports it
            here += key_predicates(node, keys)
            if node.keys and (edit.tag, keys) in identities:
                error = not_unique_error(node, same_key_text(node, keys))
            else:
                identities.add((edit.tag, keys))
                _scan_level(schema, edit, node, here, nsmap, errors)
        if error is not None:
            error.path, error.path_nsmap = here, dict(nsmap)
            errors.append(error)


def _canonical(node: SchemaNode, edit: etree._Element) -> str | None:
    """The canonical value of a leaf / leaf-list element; None when it is not a valid one."""
    if node.type is None or len(edit):
        return None
    try:
        return check_value(node.type, edit.text or "", edit.nsmap)
    except RpcError:
        return None


def _canonical_keys(node: SchemaNode, edit: etree._Element) -> tuple[str, ...] | None:
    values = []
    for key in node.keys:
        key_edit = edit.find(qn(node.namespace, key))
        key_schema = node.child(qn(node.namespace, key))
        value = None if key_edit is None or key_schema is None else _canonical(key_schema, key_edit)
        if value is None:
            return None
        values.append(value)
    return tuple(values)


def _schema_position(parent: etree._Element, schema_node: SchemaNode) -> int | None:
    """Where a new child goes so siblings stay in schema order (None: at the end).

    RFC 7950 7.5.7 allows any order; schema order makes replies read like the tree diagram
    and matches the order `agent.defaults` creates defaults in.
    """
    parent_schema = schema_node.parent
    if parent_schema is None:
        return None
    order = parent_schema.__dict__.get("_edit_child_order")
    if order is None:
        order = parent_schema.__dict__["_edit_child_order"] = {tag: i for i, tag in enumerate(parent_schema.children)}
    rank = order.get(schema_node.tag, len(order))
    for position, sibling in enumerate(parent):
        if isinstance(sibling.tag, str) and order.get(sibling.tag, -1) > rank:
            return position
    return None


def _has_conditional_defaults(schema_node: SchemaNode) -> bool:
    """True when a child default of ``schema_node`` depends on a `when` or a choice (cached)."""
    cached = schema_node.__dict__.get("_edit_conditional_defaults")
    if cached is None:
        cached = bool(getattr(schema_node, "choices", None)) or any(
            getattr(child, "whens", None) or child.when is not None for child in schema_node.children.values()
            if child.config and child.keyword in ("leaf", "leaf-list", "container"))
        schema_node.__dict__["_edit_conditional_defaults"] = cached
    return cached


def _other_case(mine: tuple[tuple[str, str], ...], theirs: tuple[tuple[str, str], ...]) -> bool:
    """True when ``theirs`` sits in a different case of a choice that ``mine`` is in."""
    for (choice_a, case_a), (choice_b, case_b) in zip(mine, theirs):
        if choice_a != choice_b:
            return False
        if case_a != case_b:
            return True
    return False


def _default_applies(parent: etree._Element, schema_node: SchemaNode) -> bool:
    """A default inside a choice applies only while no other case of that choice has data."""
    if not schema_node.choice_path:
        return True
    parent_schema = schema_node.parent
    for sibling in _elements(parent):
        sibling_schema = parent_schema.child(sibling.tag) if parent_schema is not None else None
        if sibling_schema is not None and _other_case(schema_node.choice_path, sibling_schema.choice_path):
            return False
    return True


def apply_edit(schema: Schema, root: etree._Element, config: etree._Element, *,
               default_operation: str = "merge", error_option: str = "stop-on-error",
               index: EntryIndex | None = None,
               when_ok: yang_defaults.WhenCheck = yang_defaults.always) -> EditResult:
    """Apply one `<config>` (or `<data>`) to ``root`` in place (see :class:`ConfigEdit`).

    ``index`` is the tree's :class:`EntryIndex` when it has one (datastores do).
    """
    return ConfigEdit(schema, root, default_operation=default_operation,
                      error_option=error_option, index=index, when_ok=when_ok).apply(config)
