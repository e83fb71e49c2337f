"""RFC 7950 section 8 constraint validation of a datastore tree, full and incremental.

Checked here (types and keys are checked when data is parsed, `agent.yang_types`):

==========================  ==========================  =====================================
rule                        RFC 7950                    error-tag / error-app-tag
==========================  ==========================  =====================================
``when`` false, node exists 7.21.5, 8.3.1               unknown-element
mandatory leaf missing      7.6.5, 8.1                  missing-element
mandatory choice missing    7.9.4, 15.6                 data-missing / missing-choice
two cases of one choice     7.9, 8.3.1                  bad-element
min-elements                7.7.5, 15.3                 operation-failed / too-few-elements
max-elements                7.7.6, 15.2                 operation-failed / too-many-elements
``unique``                  7.8.3, 15.1                 operation-failed / data-not-unique
``must`` false              7.5.3, 15.4                 operation-failed / must-violation
leafref without instance    9.9, 15.5                   data-missing / instance-required
==========================  ==========================  =====================================

Only ``config true`` data is validated (section 8.1).  A node that exists only as an
instantiated default (``DEFAULT_MARK``) and whose ``when`` is false is not an error: its
default is simply not in use (section 7.6.1).  Every rule is judged on its own (a node whose
``when`` is false still has its ``must`` checked), so full and incremental validation can
agree node by node.  Errors come back in document order of the offending node, then rule.

Incremental validation
----------------------

:meth:`Validator.validate` is given the edited tree and the :class:`Change` records of the
edit and assumes the tree *before* the edit was valid.  A violation in the new tree must then
involve a changed node, so it re-checks:

1. every rule on the changed nodes and on the whole subtree of created nodes;
2. the rules *of the parent* that the changed node takes part in: its list's cardinality and
   ``unique``, the parent's mandatory leaves and choices; and ``unique`` of every ancestor
   list whose unique leaves lie in the changed subtree;
3. every must/when/leafref elsewhere that *reads* a changed schema node.  A dependency index,
   built once from the schema, maps each schema node to the constraints whose expressions
   read it (location paths resolved over the schema; a read of a list or container reads its
   whole subtree, wildcards and unusual axes read everything).

For (3) the question is *which instances* of such a constraint can change their result.
Each top-level location path in an expression (predicates included) is a *read unit*:

* **local unit**: a path that starts at the context node (relative or ``current()/...``),
  never goes through ``deref()`` and never leaves the subtree of the context's ancestor at
  schema depth *d* (its *apex*: the shallowest schema node any of its steps, or the steps of
  its predicates, visits).  Moving only by parent and child steps, such a path sees only
  data inside that ancestor's subtree, so a change can alter its value only for constraint
  instances under the same depth-*d* ancestor as the changed node.  Only those are
  re-evaluated (e.g. ``../enable`` re-checks one VSI, not 10,000).
* **keyed unit**: an absolute path ``/s1/.../sk[K = current()/Q]`` (steps without predicates,
  ``K`` a child path from ``sk``, ``Q`` parent/child steps from the context) or a comparison
  ``/s1/.../sk = current()/Q``.  Its value for an instance *I* is exactly the set of ``sk``
  entries having some ``K`` value equal to some ``Q`` value of *I*.  A change can add or remove
  an entry from that set only for the ``K`` values the change touches: the old and new value of
  a modified ``K`` leaf, the ``K`` values inside a created or deleted subtree, and (for a change
  elsewhere inside an entry) that entry's ``K`` values.  So only instances whose ``Q`` value is
  one of those values can change result.  Both questions, "which ``sk`` entries have ``K``
  value *v*" (to evaluate the unit) and "which instances have ``Q`` value *v*" (to find the
  instances to re-check), are answered by a :class:`ValueIndex` (a dictionary from value to
  entries), so the global rule "one interface belongs to at most one AC or PW" costs a few
  dictionary lookups instead of re-evaluating every AC and PW, each a scan of every VSI.
  The deleted subtree's values come from :attr:`Change.old_element` (or :attr:`Change.old`
  for a leaf); when a deleted subtree is not supplied the unit falls back to a global
  re-check.

Value indexes are built by one scan of the tree.  For a tree registered with
:meth:`Validator.track` they are kept and follow the tree through the changes given to
:meth:`Validator.validate`; that is what makes an interface change on 10,000 VSIs cost a
fraction of a millisecond (``bench/bench_validate.py``).  The caller promises to report
every change of a tracked tree (or to call :meth:`Validator.forget` after changing it some
other way: an undo, a copy of subtrees from another datastore, a swap of roots).  Untracked
trees get indexes built for the call, which is always correct and linear in the tree.
* anything else (absolute paths without that shape, ``deref()``) is **global**: every
  instance of the constraint is re-evaluated.

The result is the union over the units that read the changed node: each unit's value is
unchanged for every instance outside its set, and an expression whose sub-values are all
unchanged keeps its result.  Nodes of created subtrees are checked by (1) whatever the units
say.  ``tests/agent/test_validate.py`` checks with Hypothesis that incremental and full
validation report the same errors after random single changes to valid trees.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal as TypingLiteral

from lxml import etree

from agent.errors import AppTag, ErrorTag, ErrorType, RpcError
from agent.schema import ChoiceInfo, Must, Schema, SchemaNode, XPathExpr
from agent.xmlns import DEFAULT_MARK, YANG, is_within, qn
from agent.yang_types import instance_path
from agent.yang_xpath import (
    BinaryOp,
    CompiledXPath,
    Expr,
    FilterPath,
    FunctionCall,
    LocationPath,
    NameTest,
    NodeTypeTest,
    Negate,
    Step,
    YangXPath,
    is_current,
    leafref_check,
    parse,
)

NON_UNIQUE = qn(YANG, "non-unique")
MISSING_CHOICE = qn(YANG, "missing-choice")


@dataclass(frozen=True)
class Change:
    """One edit to a datastore tree, as `agent.edit_config` records it.

    ``old_element`` is an addition to the contract in docs/ARCHITECTURE.md (optional): the
    detached subtree of a deleted node.  With it, keyed dependencies (module docstring) are
    re-checked exactly; without it a deleted subtree makes them re-check every instance.
    """

    op: TypingLiteral["create", "delete", "modify"]
    schema: SchemaNode
    parent: etree._Element
    element: etree._Element | None
    old: str | None = None
    new: str | None = None
    old_element: etree._Element | None = None


# Rule ranks: errors on one node come out in this order.
WHEN, MANDATORY, CHOICE, CARDINALITY, UNIQUE, MUST, LEAFREF = range(7)


# ------------------------------------------------------------------------------------------
# Constraints and what they read
# ------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Keyed:
    """A keyed read unit ``/chain[key = current()/Q]`` (module docstring)."""

    chain: tuple[SchemaNode, ...]        # s1 .. sk (sk = the entries compared)
    key: tuple[SchemaNode, ...]          # K below sk; () = sk's own value
    q_steps: tuple[Step, ...]            # Q: parent/child steps from the context node
    #: Q in data terms: None for a parent step, else the child's schema node
    q_moves: tuple[SchemaNode | None, ...] = ()
    #: the sub-expression this unit is (a path, or a comparison whose value is "non-empty")
    expr: Expr | None = None
    is_comparison: bool = False


@dataclass(eq=False)
class ReadUnit:
    nodes: set[SchemaNode] = field(default_factory=set)
    #: schema depth of the shallowest node visited (0 = the root: not local)
    apex: int = 0
    everything: bool = False
    keyed: Keyed | None = None
    #: keyed units: `$root/owner[Q = $v]`, the owner instances whose Q value is `$v`
    finder: etree.XPath | None = None

    def merge(self, other: "ReadUnit") -> None:
        self.nodes |= other.nodes
        self.apex = min(self.apex, other.apex)
        self.everything |= other.everything


@dataclass(eq=False)
class Constraint:
    """One must, when or leafref on a schema node, compiled, with its read units."""

    kind: int                    # WHEN, MUST or LEAFREF
    owner: SchemaNode
    order: int                   # position among the owner's constraints of this kind
    source: XPathExpr
    compiled: CompiledXPath
    context_is_parent: bool = False
    must: Must | None = None
    units: list[ReadUnit] = field(default_factory=list)
    #: the expression with each keyed unit replaced by `$k<i>` (bound from value indexes)
    indexed: CompiledXPath | None = None
    keyed_units: list[ReadUnit] = field(default_factory=list)

    @property
    def always(self) -> bool:
        return any(u.everything for u in self.units)


def schema_depth(node: SchemaNode | None) -> int:
    depth = 0
    while node is not None:
        depth += 1
        node = node.parent
    return depth


def _ancestors_or_self(node: SchemaNode) -> list[SchemaNode]:
    chain: list[SchemaNode] = []
    current: SchemaNode | None = node
    while current is not None:
        chain.append(current)
        current = current.parent
    chain.reverse()
    return chain


def _subtree(node: SchemaNode) -> Iterator[SchemaNode]:
    yield node
    for child in node.children.values():
        if child.keyword in ("container", "list", "leaf", "leaf-list", "anydata", "anyxml"):
            yield from _subtree(child)


_ROOT = None  # the accessible tree's root in schema terms
_IMPLICIT_CONTEXT_FUNCTIONS = frozenset({
    "string", "number", "string-length", "normalize-space", "name", "local-name", "namespace-uri",
})
_SIMPLE_AXES = frozenset({"child", "parent", "self", "attribute"})


class _ReadAnalysis:
    """Resolves an expression's location paths over the schema into :class:`ReadUnit` s."""

    def __init__(self, schema: Schema, source: XPathExpr, context: SchemaNode | None, default_ns: str) -> None:
        self.schema = schema
        self.nsmap = source.nsmap
        self.default_ns = default_ns
        self.context = context

    # --- schema navigation ---------------------------------------------------------------

    def _children(self, node: SchemaNode | None) -> list[SchemaNode]:
        kids = self.schema.roots.values() if node is None else node.children.values()
        return [k for k in kids if k.keyword in ("container", "list", "leaf", "leaf-list", "anydata", "anyxml")]

    def _step(self, nodes: set[SchemaNode | None], step: Step, unit: ReadUnit) -> set[SchemaNode | None]:
        if step.axis not in _SIMPLE_AXES:
            unit.everything = True
            return set()
        if step.axis in ("self", "attribute"):
            return set(nodes)
        if step.axis == "parent":
            found: set[SchemaNode | None] = set()
            for node in nodes:
                if node is not None:
                    found.add(node.parent)
                    unit.apex = min(unit.apex, schema_depth(node.parent))
            return found
        result: set[SchemaNode | None] = set()
        for node in nodes:
            for child in self._children(node):
                if self._matches(child, step.test):
                    result.add(child)
        return result

    def _matches(self, node: SchemaNode, test: NameTest | NodeTypeTest) -> bool:
        if isinstance(test, NodeTypeTest):
            return test.node_type == "node"
        ns = self.nsmap.get(test.prefix, "\0") if test.prefix else self.default_ns
        if test.name == "*":
            return test.prefix is None or node.namespace == ns
        return node.name == test.name and node.namespace == ns

    @staticmethod
    def _with_subtrees(nodes: Iterable[SchemaNode | None]) -> set[SchemaNode]:
        found: set[SchemaNode] = set()
        for node in nodes:
            if node is not None:
                found.update(_subtree(node))
        return found

    def _depth_of(self, nodes: Iterable[SchemaNode | None]) -> int:
        return min((schema_depth(n) for n in nodes), default=0)

    # --- expressions ---------------------------------------------------------------------

    def units(self, expr: Expr, ctx: set[SchemaNode | None]) -> list[ReadUnit]:
        if isinstance(expr, FunctionCall):
            if is_current(expr):
                return [self._value_unit({self.context})]
            if expr.name == "deref":
                return [ReadUnit(everything=True)]
            if not expr.args and expr.name in _IMPLICIT_CONTEXT_FUNCTIONS:
                return [self._value_unit(ctx)]
            return [u for arg in expr.args for u in self.units(arg, ctx)]
        if isinstance(expr, BinaryOp):
            keyed = self._comparison_keyed(expr)
            if keyed is not None:
                return keyed
            return self.units(expr.left, ctx) + self.units(expr.right, ctx)
        if isinstance(expr, Negate):
            return self.units(expr.operand, ctx)
        if isinstance(expr, LocationPath):
            return self._location_units(expr, ctx)
        if isinstance(expr, FilterPath):
            if is_current(expr.primary):
                unit = self._path({self.context}, expr.predicates, expr.steps)
                return [unit]
            inner = self.units(expr.primary, ctx)
            return inner + [ReadUnit(everything=True)] if (expr.predicates or expr.steps) else inner
        return []   # literals, numbers, variables

    def _value_unit(self, nodes: set[SchemaNode | None]) -> ReadUnit:
        if None in nodes:
            return ReadUnit(everything=True)
        return ReadUnit(nodes=self._with_subtrees(nodes), apex=self._depth_of(nodes))

    def _path(self, start: set[SchemaNode | None], start_predicates: Sequence[Expr],
              steps: Sequence[Step]) -> ReadUnit:
        """One unit: ``start`` (its predicates) then ``steps``, the final nodes' subtrees read."""
        unit = ReadUnit(apex=self._depth_of(start) if None not in start else 0)
        nodes = set(start)
        for pred in start_predicates:
            for sub in self.units(pred, nodes):
                unit.merge(sub)
        for step in steps:
            nodes = self._step(nodes, step, unit)
            unit.nodes.update(n for n in nodes if n is not None)
            for pred in step.predicates:
                for sub in self.units(pred, nodes):
                    unit.merge(sub)
        unit.nodes |= self._with_subtrees(nodes)
        if None in nodes and steps and steps[-1].axis != "child":
            unit.everything = True   # the string value of the root: the whole tree
        return unit

    def _location_units(self, path: LocationPath, ctx: set[SchemaNode | None]) -> list[ReadUnit]:
        if path.absolute:
            keyed = self._predicate_keyed(path)
            if keyed is not None:
                return keyed
            unit = self._path({_ROOT}, (), path.steps)
            unit.apex = 0
            if not path.steps:
                unit.everything = True
            return [unit]
        return [self._path(ctx, (), path.steps)]

    # --- keyed units -----------------------------------------------------------------------

    def _plain_chain(self, steps: Sequence[Step], start: SchemaNode | None) -> tuple[SchemaNode, ...] | None:
        """Schema nodes of child steps without predicates from ``start``; None if not that shape."""
        chain: list[SchemaNode] = []
        node = start
        for step in steps:
            if step.axis != "child" or step.predicates or not isinstance(step.test, NameTest) or step.test.name == "*":
                return None
            found = [c for c in self._children(node) if self._matches(c, step.test)]
            if len(found) != 1:
                return None
            node = found[0]
            chain.append(node)
        return tuple(chain)

    def _q_steps(self, expr: Expr) -> tuple[tuple[Step, ...], tuple[SchemaNode | None, ...]] | None:
        """``current()`` or ``current()/../x`` (parent and plain child steps): Q's steps and moves."""
        if is_current(expr):
            return (), ()
        if isinstance(expr, FilterPath) and is_current(expr.primary) and not expr.predicates:
            node: SchemaNode | None = self.context
            moves: list[SchemaNode | None] = []
            for step in expr.steps:
                if step.is_parent:
                    if node is None:
                        return None
                    node = node.parent
                    moves.append(None)
                elif step.axis == "child" and not step.predicates and isinstance(step.test, NameTest) \
                        and step.test.name != "*":
                    found = [c for c in self._children(node) if self._matches(c, step.test)]
                    if len(found) != 1:
                        return None
                    node = found[0]
                    moves.append(node)
                else:
                    return None
            return expr.steps, tuple(moves)
        return None

    def _keyed_units(self, chain: tuple[SchemaNode, ...], key: tuple[SchemaNode, ...], q_expr: Expr,
                     q: tuple[tuple[Step, ...], tuple[SchemaNode | None, ...]], unit_expr: Expr,
                     is_comparison: bool) -> list[ReadUnit]:
        entry = chain[-1]
        unit = ReadUnit(nodes=set(chain) | set(_subtree(entry)), apex=0,
                        keyed=Keyed(chain, key, q[0], q[1], unit_expr, is_comparison))
        return [unit] + self.units(q_expr, {self.context})

    def _predicate_keyed(self, path: LocationPath) -> list[ReadUnit] | None:
        """``/s1/../sk[K = current()/Q]`` (or ``[current()/Q = K]``)."""
        if not path.steps or self.context is None:
            return None
        last = path.steps[-1]
        if len(last.predicates) != 1 or not isinstance(last.predicates[0], BinaryOp):
            return None
        chain = self._plain_chain([*path.steps[:-1], Step(last.axis, last.test)], _ROOT)
        comparison = last.predicates[0]
        if chain is None or comparison.op != "=":
            return None
        for k_expr, q_expr in ((comparison.left, comparison.right), (comparison.right, comparison.left)):
            q = self._q_steps(q_expr)
            if q is None or not isinstance(k_expr, LocationPath) or k_expr.absolute:
                continue
            if not q[0] and self.context.keyword not in ("leaf", "leaf-list"):
                continue
            if len(k_expr.steps) == 1 and k_expr.steps[0].is_self:
                key: tuple[SchemaNode, ...] | None = ()
            else:
                key = self._plain_chain(k_expr.steps, chain[-1])
            if key is not None and (key[-1] if key else chain[-1]).keyword in ("leaf", "leaf-list"):
                return self._keyed_units(chain, key, q_expr, q, path, False)
        return None

    def _comparison_keyed(self, expr: BinaryOp) -> list[ReadUnit] | None:
        """``/s1/../sk = current()/Q`` with sk a leaf: keyed on sk's own value."""
        if expr.op != "=" or self.context is None:
            return None
        for p_expr, q_expr in ((expr.left, expr.right), (expr.right, expr.left)):
            if not isinstance(p_expr, LocationPath) or not p_expr.absolute or not p_expr.steps:
                continue
            q = self._q_steps(q_expr)
            if q is None or not q[0] and self.context.keyword not in ("leaf", "leaf-list"):
                continue
            chain = self._plain_chain(p_expr.steps, _ROOT)
            if chain is not None and chain[-1].keyword in ("leaf", "leaf-list"):
                return self._keyed_units(chain, (), q_expr, q, expr, True)
        return None


# ------------------------------------------------------------------------------------------
# Violations
# ------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Violation:
    anchor: etree._Element     # the offending node, or the parent of a missing one
    rule: int
    detail: tuple[object, ...]
    error: RpcError


class _Sink:
    """Collects violations once each (the same rule on the same node is found only once)."""

    def __init__(self, tree: "_TreeIndexes") -> None:
        self.found: dict[tuple[int, int, tuple[object, ...]], _Violation] = {}
        #: the value indexes of the tree being validated
        self.tree = tree
        #: (constraint, element) pairs evaluated in this run, elements kept alive
        self.checked: dict[tuple[int, int], etree._Element] = {}
        #: the K values each change touches, by (id(change), chain, key) (changes outlive the run)
        self.keyed_values: dict[tuple[int, tuple[SchemaNode, ...], tuple[SchemaNode, ...]], set[str] | None] = {}

    def add(self, violation: _Violation) -> None:
        key = (id(violation.anchor), violation.rule, violation.detail)
        self.found.setdefault(key, violation)

    def errors(self) -> list[RpcError]:
        positions: dict[int, tuple[etree._Element, tuple[int, ...]]] = {}

        def position(el: etree._Element) -> tuple[int, ...]:
            # the element is kept in the cache so its id() cannot be reused meanwhile
            cached = positions.get(id(el))
            if cached is None:
                parent = el.getparent()
                cached = (el, () if parent is None else position(parent) + (parent.index(el),))
                positions[id(el)] = cached
            return cached[1]

        ordered = sorted(self.found.values(), key=lambda v: (position(v.anchor), v.rule, v.detail))
        return [v.error for v in ordered]


def _text(el: etree._Element | None) -> str:
    return "" if el is None else (el.text or "")


def _follow(elements: Iterable[etree._Element], nodes: Sequence[SchemaNode]) -> list[etree._Element]:
    """Descendants of ``elements`` along the schema chain ``nodes`` (child steps)."""
    current = list(elements)
    for node in nodes:
        current = [child for el in current for child in el.iterchildren(node.tag)]
    return current


def _ancestor(el: etree._Element, levels: int) -> etree._Element | None:
    for _ in range(levels):
        parent = el.getparent()
        if parent is None:
            return None
        el = parent
    return el


def _is_default(el: etree._Element) -> bool:
    return el.get(DEFAULT_MARK) is not None


def _document_order(elements: list[etree._Element]) -> list[etree._Element]:
    """Elements sorted as libxml2 expects a node-set (only ever a handful here)."""
    if len(elements) < 2:
        return elements

    def position(el: etree._Element) -> tuple[int, ...]:
        steps: list[int] = []
        parent = el.getparent()
        while parent is not None:
            steps.append(parent.index(el))
            el, parent = parent, parent.getparent()
        return tuple(reversed(steps))

    return sorted(elements, key=position)


class ValueIndex:
    """The entries of one schema chain by the value(s) of a key path below them, in one tree.

    This is what makes keyed units (module docstring) cheap: the entries a keyed path selects
    for a value are a dictionary lookup instead of a scan of every VSI.  The index is built
    by one scan the first time a tree needs it, then follows the tree through the changes
    given to :meth:`Validator.validate`.  Lookups re-verify every hit (still in the tree,
    still holding the value), so a node removed behind the validator's back is never
    reported; a tree edited *without* telling the validator must go through
    :meth:`Validator.validate_full` (or :meth:`Validator.forget`), which rebuilds.
    """

    def __init__(self, chain: tuple[SchemaNode, ...], key: tuple[SchemaNode, ...],
                 root: etree._Element, entries: Iterable[etree._Element]) -> None:
        self.chain = chain
        self.key = key
        self.root = root
        self.nodes = set(chain) | set(_subtree(chain[-1]))
        self.by_value: dict[str, dict[int, etree._Element]] = {}
        self.by_entry: dict[int, tuple[etree._Element, tuple[str, ...]]] = {}
        for entry in entries:
            self._add(entry)

    def _values(self, entry: etree._Element) -> tuple[str, ...]:
        return tuple(_text(e) for e in (_follow([entry], self.key) if self.key else [entry]))

    def _add(self, entry: etree._Element) -> None:
        values = self._values(entry)
        self.by_entry[id(entry)] = (entry, values)
        for value in values:
            self.by_value.setdefault(value, {})[id(entry)] = entry

    def _remove(self, entry_id: int) -> None:
        known = self.by_entry.pop(entry_id, None)
        if known is None:
            return
        for value in known[1]:
            bucket = self.by_value.get(value)
            if bucket is not None:
                bucket.pop(entry_id, None)
                if not bucket:
                    del self.by_value[value]

    def refresh(self, entry: etree._Element) -> None:
        self._remove(id(entry))
        if is_within(entry, self.root):
            self._add(entry)

    def lookup(self, value: str) -> list[etree._Element]:
        bucket = self.by_value.get(value)
        if not bucket:
            return []
        found = []
        for entry in list(bucket.values()):
            if is_within(entry, self.root) and value in self._values(entry):
                found.append(entry)
            else:
                self.refresh(entry)
        return found

    def apply(self, change: Change, depth: int) -> None:
        """Follow one change (``depth``: the schema depth of the changed node).

        Every entry the change mentions is re-read from the tree as it is *now* (kept if
        still attached, with its current values; dropped otherwise).  So applying a change
        twice, or applying the changes of an edit again after the edit was taken back (its
        undo re-attaches the deleted subtrees and detaches the created ones), leaves the index
        describing the tree exactly.
        """
        if change.schema not in self.nodes:
            return
        entry_depth = len(self.chain)
        if depth <= entry_depth:
            below = self.chain[depth:]
            for subtree in (change.old_element, change.element):
                if subtree is not None:
                    for entry in _follow([subtree], below):
                        self.refresh(entry)
            return
        # the change is inside one entry: the parent of the changed node leads to it (the
        # changed element itself may be detached by now)
        entry = _ancestor(change.parent, depth - 1 - entry_depth)
        if entry is not None:
            self.refresh(entry)


class _TreeIndexes:
    """The value indexes of one datastore tree, built on first use."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        #: by (chain, key) schema nodes (hashable by identity, one schema per validator)
        self.indexes: dict[tuple[tuple[SchemaNode, ...], tuple[SchemaNode, ...]], ValueIndex] = {}


# ------------------------------------------------------------------------------------------
# The validator
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Requirement:
    """A mandatory node of a parent: a leaf, a list's minimum, or a mandatory choice."""

    kind: TypingLiteral["leaf", "min", "choice"]
    chain: tuple[SchemaNode, ...]        # from the parent's child down to the node itself
    case: tuple[str, str] | None          # only required when this case of the parent exists
    choice: ChoiceInfo | None = None


class Validator:
    """Validates datastore trees of one schema (module docstring).

    Built once per schema: compiles every must/when/leafref and indexes which schema nodes
    they read.  ``validate``/``validate_full`` return every violation, never raise.
    """

    def __init__(self, schema: Schema, xpath: YangXPath | None = None) -> None:
        self.schema = schema
        self.xpath = xpath or YangXPath(schema)
        self.constraints: dict[SchemaNode, list[Constraint]] = {}
        #: schema node -> constraint -> the units of that constraint reading the node
        self.readers: dict[SchemaNode, dict[Constraint, list[ReadUnit]]] = {}
        self.always: list[Constraint] = []
        self._requirements: dict[SchemaNode | None, list[_Requirement]] = {}
        self._case_members: dict[tuple[int, str, str], list[SchemaNode]] = {}
        self._depth: dict[SchemaNode, int] = {}
        self._chains: dict[SchemaNode, tuple[SchemaNode, ...]] = {}
        #: list/leaf-list children with max-elements or unique (checked per parent instance)
        self._list_children: dict[SchemaNode | None, list[SchemaNode]] = {}
        self._subtrees: dict[SchemaNode, list[SchemaNode]] = {}
        self._instance_paths: dict[SchemaNode, etree.XPath] = {}
        #: tracked trees by id(root); each entry holds its root, so the id stays unique
        self._tracked: dict[int, _TreeIndexes] = {}
        self._unique_finders: dict[tuple[int, int], etree.XPath] = {}
        self._list_children[None] = [c for c in schema.roots.values() if c.config and c.keyword in (
            "list", "leaf-list") and (c.max_elements is not None or c.unique)]
        for root in schema.roots.values():
            for node in _subtree(root):
                if node.config:
                    self._index_node(node)

    # --- building -------------------------------------------------------------------------

    def _index_node(self, node: SchemaNode) -> None:
        self._depth[node] = schema_depth(node)
        self._chains[node] = tuple(_ancestors_or_self(node))
        self._list_children[node] = [c for c in node.children.values() if c.config and c.keyword in (
            "list", "leaf-list") and (c.max_elements is not None or c.unique)]
        self._subtrees[node] = [n for n in _subtree(node) if n.config]
        found: list[Constraint] = []
        whens = node.whens or ((node.when,) if node.when is not None else ())
        for i, when in enumerate(whens):
            found.append(self._constraint(WHEN, node, i, when.expr, parse(when.expr.text),
                                          context_is_parent=when.context_is_parent))
        for i, must in enumerate(node.musts):
            found.append(self._constraint(MUST, node, i, must.expr, parse(must.expr.text), must=must))
        if node.type is not None and node.type.base == "leafref" and node.type.require_instance \
                and node.type.leafref_path is not None:
            path = node.type.leafref_path
            found.append(self._constraint(LEAFREF, node, 0, path, leafref_check(path)))
        if found:
            self.constraints[node] = found

    def _constraint(self, kind: int, owner: SchemaNode, order: int, source: XPathExpr, ast: Expr,
                    *, context_is_parent: bool = False, must: Must | None = None) -> Constraint:
        default_ns = source.default_ns or owner.namespace
        compiled = self.xpath.compile_ast(source, ast, default_ns)
        context = owner.parent if context_is_parent else owner
        analysis = _ReadAnalysis(self.schema, source, context, default_ns)
        units = analysis.units(ast, {context})
        constraint = Constraint(kind, owner, order, source, compiled, context_is_parent, must, units)
        substitutions: dict[int, str] = {}
        for unit in units:
            if unit.keyed is not None and not context_is_parent:
                if unit.keyed.q_steps:
                    unit.finder = self._finder(owner, unit.keyed, compiled)
                var = f"$k{len(constraint.keyed_units)}"
                assert unit.keyed.expr is not None
                substitutions[id(unit.keyed.expr)] = f"boolean({var})" if unit.keyed.is_comparison else var
                constraint.keyed_units.append(unit)
            elif unit.keyed is not None:
                unit.keyed = None   # the keyed shortcut assumes current() is the owner itself
        if substitutions:
            constraint.indexed = self.xpath.compile_ast(source, ast, default_ns, substitutions)
        if constraint.always:
            self.always.append(constraint)
        for unit in units:
            for node in unit.nodes:
                if node.config:
                    self.readers.setdefault(node, {}).setdefault(constraint, []).append(unit)
        return constraint

    def _finder(self, owner: SchemaNode, keyed: Keyed, compiled: CompiledXPath) -> etree.XPath:
        """``$root/owner[Q = $v]``: the owner instances whose Q value is ``$v``."""
        namespaces = dict(compiled.namespaces)
        path = self._abs_path_text(owner, namespaces)
        q_text = compiled.print(LocationPath(False, keyed.q_steps)) if keyed.q_steps else "."
        return etree.XPath(f"{path}[{q_text} = $v]", namespaces=namespaces)

    def _abs_path_text(self, node: SchemaNode, namespaces: dict[str, str]) -> str:
        steps = []
        for n in _ancestors_or_self(node):
            prefix = next((p for p, ns in namespaces.items() if ns == n.namespace and p.startswith("_n")), None)
            if prefix is None:
                prefix = f"_n{len(namespaces)}"
                namespaces[prefix] = n.namespace
            steps.append(f"{prefix}:{n.name}")
        return "$root/" + "/".join(steps)

    def _instances(self, node: SchemaNode, root: etree._Element) -> list[etree._Element]:
        finder = self._instance_paths.get(node)
        if finder is None:
            namespaces: dict[str, str] = {}
            finder = etree.XPath(self._abs_path_text(node, namespaces), namespaces=namespaces)
            self._instance_paths[node] = finder
        return finder(root, root=root)

    def _requirements_of(self, parent: SchemaNode | None) -> list[_Requirement]:
        cached = self._requirements.get(parent)
        if cached is None:
            cached = self._build_requirements(parent)
            self._requirements[parent] = cached
        return cached

    def _build_requirements(self, parent: SchemaNode | None) -> list[_Requirement]:
        children = self.schema.roots if parent is None else parent.children
        found: list[_Requirement] = []
        for child in children.values():
            if not child.config:
                continue
            case = child.choice_path[-1] if child.choice_path else None
            if child.keyword == "leaf" and child.mandatory or child.keyword == "anydata" and child.mandatory:
                found.append(_Requirement("leaf", (child,), case))
            elif child.keyword in ("list", "leaf-list") and child.min_elements > 0:
                found.append(_Requirement("min", (child,), case))
            elif child.keyword == "container" and not child.presence:
                for inner in self._requirements_of(child):
                    if inner.case is None:   # a case inside the absent container never exists
                        found.append(_Requirement(inner.kind, (child,) + inner.chain, case, inner.choice))
        for choice in (parent.choices if parent is not None else ()):
            if choice.mandatory:
                outer = choice.outer[-1] if choice.outer else None
                found.append(_Requirement("choice", (), outer, choice))
        return found

    def _case_nodes(self, parent: SchemaNode | None, case: tuple[str, str]) -> list[SchemaNode]:
        key = (id(parent), case[0], case[1])
        cached = self._case_members.get(key)
        if cached is None:
            children = self.schema.roots if parent is None else parent.children
            cached = [c for c in children.values() if case in c.choice_path]
            self._case_members[key] = cached
        return cached

    # --- public API -----------------------------------------------------------------------

    def when_holds(self, node: SchemaNode, parent: etree._Element) -> bool:
        """Would ``node`` be allowed below ``parent`` by every when on it (RFC 7950 7.21.5)?

        The hook `agent.defaults` calls before instantiating (or keeping) a default.
        """
        return self._whens_hold(parent, (node,))

    def validate_full(self, root: etree._Element) -> list[RpcError]:
        """Every violation in the tree below the datastore element ``root``.

        Keyed constraints are evaluated through value indexes built for this call (one scan
        each), so the cost grows linearly with the tree, not with its square.  For a tracked
        tree the fresh indexes are kept for the incremental validations that follow.
        """
        tree = _TreeIndexes(root)
        if id(root) in self._tracked:
            self._tracked[id(root)] = tree
        sink = _Sink(tree)
        self._check_subtree_children(root, None, sink, root)
        return sink.errors()

    def validate(self, root: etree._Element, changes: Sequence[Change]) -> list[RpcError]:
        """The violations the ``changes`` can have caused, given the tree was valid before.

        On a tracked tree (:meth:`track`) keyed constraints use the maintained value
        indexes.  Otherwise the indexes a keyed constraint needs are built for this call (one
        scan each, linear in the tree, but needing no knowledge of how the tree got here).
        """
        tree = self._follow(root, changes)
        if tree is None:
            tree = _TreeIndexes(root)    # built for this call only, from the tree as it is now
        sink = _Sink(tree)
        created = {id(c.element) for c in changes if c.op == "create" and c.element is not None}
        pending: dict[Constraint, dict[int, etree._Element] | None] = {}
        for change in changes:
            if not change.schema.config:
                continue
            if change.element is not None and change.op in ("create", "modify") \
                    and not self._inside(change.element.getparent(), created):
                self._check_subtree(change.element, change.schema, sink, root)
            self._check_parent_rules(change, sink, root)
            self._check_ancestor_unique(change, sink, root)
            self._collect_dependents(change, root, pending, sink)
        if changes:
            for constraint in self.always:
                pending[constraint] = None
        for constraint, instances in pending.items():
            targets = self._instances(constraint.owner, root) if instances is None else instances.values()
            for el in targets:
                self._check_constraint(constraint, el, sink, root)
        return sink.errors()

    def track(self, root: etree._Element) -> None:
        """Keep value indexes for ``root`` from now on (module docstring, "keyed unit").

        The promise the caller makes: every later change to this tree reaches
        :meth:`validate` as a :class:`Change` (validated or not, in any order), or the caller
        calls :meth:`forget` (or :meth:`track` again) after changing the tree some other way:
        an undo, a copy of subtrees from another tree, a swap of roots.  Indexes are built
        lazily from the tree as it is when first needed.  At most :attr:`MAX_TREES` trees are
        tracked; the least recently tracked is forgotten first.
        """
        self._tracked.pop(id(root), None)
        self._tracked[id(root)] = _TreeIndexes(root)
        while len(self._tracked) > self.MAX_TREES:
            del self._tracked[next(iter(self._tracked))]

    def notice(self, root: etree._Element, changes: Sequence[Change]) -> None:
        """Tell the validator about changes to a tracked tree that are not being validated
        (test-option ``set``); a no-op for an untracked tree."""
        self._follow(root, changes)

    def _follow(self, root: etree._Element, changes: Sequence[Change]) -> _TreeIndexes | None:
        """The tracked indexes of ``root`` brought up to date with ``changes`` (None: untracked)."""
        tree = self._tracked.get(id(root))
        if tree is None or tree.root is not root:
            return None
        for index in tree.indexes.values():
            for change in changes:
                index.apply(change, self._depth_of(change.schema))
        return tree

    def forget(self, root: etree._Element) -> None:
        """Stop tracking ``root`` (its value indexes may no longer describe it)."""
        self._tracked.pop(id(root), None)

    #: how many trees keep value indexes (running, candidate, startup and spares)
    MAX_TREES = 6

    def _index(self, tree: _TreeIndexes, chain: tuple[SchemaNode, ...], key: tuple[SchemaNode, ...]) -> ValueIndex:
        signature = (chain, key)
        index = tree.indexes.get(signature)
        if index is None:
            index = ValueIndex(chain, key, tree.root, self._instances(chain[-1], tree.root))
            tree.indexes[signature] = index
        return index

    def _depth_of(self, node: SchemaNode) -> int:
        depth = self._depth.get(node)
        return depth if depth is not None else schema_depth(node)

    @staticmethod
    def _inside(el: etree._Element | None, ids: set[int]) -> bool:
        while el is not None:
            if id(el) in ids:
                return True
            el = el.getparent()
        return False

    # --- checks on one node ---------------------------------------------------------------

    def _check_subtree(self, el: etree._Element, node: SchemaNode, sink: _Sink, root: etree._Element) -> None:
        for constraint in self.constraints.get(node, ()):
            self._check_constraint(constraint, el, sink, root)
        if node.keyword in ("container", "list"):
            self._check_subtree_children(el, node, sink, root)

    def _check_subtree_children(self, el: etree._Element, node: SchemaNode | None, sink: _Sink,
                                root: etree._Element) -> None:
        children = self.schema.roots if node is None else node.children
        self._check_mandatory(el, node, sink, root)
        self._check_choices(el, node, None, sink, root)
        for child_node in self._list_children.get(node, ()):
            self._check_cardinality(el, child_node, sink, root)
            for i, _unique in enumerate(child_node.unique):
                self._check_unique_all(el, child_node, i, sink, root)
        constraints = self.constraints
        for child in el:
            child_node = children.get(child.tag)
            if child_node is None or not child_node.config:
                continue       # comments, unknown elements, state data
            for constraint in constraints.get(child_node, ()):
                self._check_constraint(constraint, child, sink, root)
            if child_node.keyword in ("container", "list"):
                self._check_subtree_children(child, child_node, sink, root)

    def _check_constraint(self, constraint: Constraint, el: etree._Element, sink: _Sink,
                          root: etree._Element) -> None:
        key = (id(constraint), id(el))
        if key in sink.checked:
            return
        sink.checked[key] = el
        if constraint.kind == WHEN:
            context = el.getparent() if constraint.context_is_parent else el
            if context is None or _is_default(el):
                return
            if not self._holds(constraint, context, sink, root):
                sink.add(_Violation(el, WHEN, (constraint.order,), self._when_error(constraint, el)))
        elif not self._holds(constraint, el, sink, root):
            if constraint.kind == MUST:
                sink.add(_Violation(el, MUST, (constraint.order,), self._must_error(constraint, el)))
            else:
                sink.add(_Violation(el, LEAFREF, (0,), self._leafref_error(constraint, el)))

    def _holds(self, constraint: Constraint, context: etree._Element, sink: _Sink, root: etree._Element) -> bool:
        """The constraint's value at ``context``; keyed units come from the value indexes.

        An expression libxml2 cannot evaluate (a type error in the data, say) counts as false:
        the constraint is not known to hold, and the error names it.
        """
        try:
            return self._evaluate(constraint, context, sink, root)
        except etree.XPathError:
            return False

    def _evaluate(self, constraint: Constraint, context: etree._Element, sink: _Sink, root: etree._Element) -> bool:
        if constraint.indexed is None:
            return constraint.compiled.boolean(context, current=context, root=root)
        variables: dict[str, list[etree._Element]] = {}
        for i, unit in enumerate(constraint.keyed_units):
            keyed = unit.keyed
            assert keyed is not None
            index = self._index(sink.tree, keyed.chain, keyed.key)
            found: dict[int, etree._Element] = {}
            for value in self._q_values(keyed, context):
                for entry in index.lookup(value):
                    found[id(entry)] = entry
            variables[f"k{i}"] = _document_order(list(found.values()))
        return constraint.indexed.boolean(context, current=context, root=root, **variables)

    @staticmethod
    def _q_values(keyed: Keyed, context: etree._Element) -> list[str]:
        current = [context]
        for move in keyed.q_moves:
            if move is None:
                current = [p for p in (el.getparent() for el in current) if p is not None]
            else:
                current = [c for el in current for c in el.iterchildren(move.tag)]
        return [_text(el) for el in current]

    # --- parent rules ---------------------------------------------------------------------

    def _check_mandatory(self, el: etree._Element, node: SchemaNode | None, sink: _Sink,
                         root: etree._Element) -> None:
        """Mandatory leaves, min-elements and mandatory choices of ``el`` (RFC 7950 7.6.5, 7.7.5, 7.9.4).

        Requirements inside absent non-presence containers are checked here too: such a
        container exists conceptually whenever its parent does.
        """
        for req in self._requirements_of(node):
            if req.case is not None and not self._case_present(el, node, req.case):
                continue
            if req.kind == "choice":
                self._check_mandatory_choice(el, node, req, sink, root)
                continue
            present = el
            missing_from: int | None = None
            for depth, child in enumerate(req.chain):
                if req.kind == "min" and depth == len(req.chain) - 1:
                    missing_from = depth
                    break
                found = present.find(child.tag)
                if found is None:
                    missing_from = depth
                    break
                present = found
            if missing_from is None:
                continue
            missing = req.chain[missing_from:]
            if req.kind == "min":
                target = missing[-1]
                count = sum(1 for _ in present.iterchildren(target.tag)) if len(missing) == 1 else 0
                if count >= target.min_elements or not self._whens_hold(present, missing):
                    continue
                sink.add(_Violation(present, CARDINALITY, ("min", target.tag),
                                    self._too_few_error(present, missing, count)))
            elif self._whens_hold(present, missing):
                sink.add(_Violation(present, MANDATORY, (missing[-1].tag,),
                                    self._missing_error(present, missing)))

    def _check_mandatory_choice(self, el: etree._Element, node: SchemaNode | None, req: _Requirement,
                                sink: _Sink, root: etree._Element) -> None:
        choice = req.choice
        assert choice is not None
        children = self.schema.roots if node is None else node.children
        for child in children.values():
            if any(ch == choice.name for ch, _case in child.choice_path) and el.find(child.tag) is not None:
                return
        if choice.when is not None:
            compiled = self.xpath.compile(choice.when.expr, node.namespace if node else None)
            if not compiled.boolean(el, current=el, root=root):
                return
        sink.add(_Violation(el, CHOICE, ("missing", choice.name), self._missing_choice_error(el, choice)))

    def _case_present(self, el: etree._Element, node: SchemaNode | None, case: tuple[str, str]) -> bool:
        return any(el.find(member.tag) is not None for member in self._case_nodes(node, case))

    def _whens_hold(self, parent: etree._Element, chain: Sequence[SchemaNode]) -> bool:
        """RFC 7950 8.1: a missing mandatory node is not required where a when would be false.

        The when of a node that does not exist is evaluated as libyang does: on a temporary
        placeholder of the missing chain, removed again before returning.
        """
        if not any(n.whens or n.when for n in chain):
            return True
        existing = parent.find(chain[0].tag) if len(chain) == 1 else None
        if existing is not None:      # a node being kept (defaults reconciliation): judge it as it is
            return all(self._when_true(c, existing) for c in self.constraints.get(chain[0], ()) if c.kind == WHEN)
        placeholder = top = etree.SubElement(parent, chain[0].tag)
        try:
            for node in chain[1:]:
                placeholder = etree.SubElement(placeholder, node.tag)
            el = top
            for node in chain:
                for constraint in self.constraints.get(node, ()):
                    if constraint.kind == WHEN and not self._when_true(constraint, el):
                        return False
                if len(el):
                    el = el[0]
            return True
        finally:
            parent.remove(top)

    @staticmethod
    def _when_true(constraint: Constraint, el: etree._Element) -> bool:
        context = el.getparent() if constraint.context_is_parent else el
        try:
            return constraint.compiled.boolean(context, current=context)
        except etree.XPathError:
            return False

    def _check_choices(self, el: etree._Element, node: SchemaNode | None, only: SchemaNode | None,
                       sink: _Sink, root: etree._Element) -> None:
        """RFC 7950 8.3.1: nodes of at most one case of each choice."""
        if node is None or not node.choices:
            return
        if only is not None and not only.choice_path:
            return
        seen: dict[str, tuple[str, etree._Element]] = {}
        for child in el:
            if not isinstance(child.tag, str):
                continue
            child_node = node.children.get(child.tag)
            if child_node is None or not child_node.choice_path or not child_node.config:
                continue
            for choice, case in child_node.choice_path:
                first = seen.setdefault(choice, (case, child))
                if first[0] != case:
                    sink.add(_Violation(child, CHOICE, ("case", choice),
                                        self._two_cases_error(child, choice, first[0], case)))
                    break

    def _check_cardinality(self, el: etree._Element, node: SchemaNode, sink: _Sink,
                           root: etree._Element) -> None:
        if node.max_elements is None:
            return   # min-elements is a requirement (it may sit inside an absent container)
        count = sum(1 for _ in el.iterchildren(node.tag))
        if count > node.max_elements:
            sink.add(_Violation(el, CARDINALITY, ("max", node.tag), self._too_many_error(el, node, count)))

    # --- unique -----------------------------------------------------------------------------

    def _unique_leaves(self, node: SchemaNode, index: int) -> list[tuple[SchemaNode, ...]]:
        chains = []
        for path in node.unique[index]:
            chain: list[SchemaNode] = []
            current = node
            for name in path.split("/"):
                current = next(c for c in current.children.values() if c.name == name)
                chain.append(current)
            chains.append(tuple(chain))
        return chains

    def _unique_key(self, entry: etree._Element, chains: list[tuple[SchemaNode, ...]]) -> tuple[str, ...] | None:
        values = []
        for chain in chains:
            found = _follow([entry], chain)
            if not found:
                return None   # RFC 7950 7.8.3: only entries where every unique leaf exists
            values.append(_text(found[0]))
        return tuple(values)

    def _check_unique_all(self, el: etree._Element, node: SchemaNode, index: int, sink: _Sink,
                          root: etree._Element) -> None:
        chains = self._unique_leaves(node, index)
        groups: dict[tuple[str, ...], list[etree._Element]] = {}
        for entry in el.iterchildren(node.tag):
            key = self._unique_key(entry, chains)
            if key is not None:
                groups.setdefault(key, []).append(entry)
        for entries in groups.values():
            self._report_unique(entries, node, index, chains, sink)

    def _check_unique_entry(self, entry: etree._Element, node: SchemaNode, index: int, sink: _Sink,
                            root: etree._Element) -> None:
        """The entries with the same unique values as ``entry`` (XPath over its siblings)."""
        chains = self._unique_leaves(node, index)
        key = self._unique_key(entry, chains)
        parent = entry.getparent()
        if key is None or parent is None:
            return
        finder = self._unique_finders.get((id(node), index))
        if finder is None:
            namespaces: dict[str, str] = {}
            tests = []
            for i, chain in enumerate(chains):
                steps = []
                for n in chain:
                    prefix = next((p for p, ns in namespaces.items() if ns == n.namespace), None)
                    if prefix is None:
                        prefix = f"_n{len(namespaces)}"
                        namespaces[prefix] = n.namespace
                    steps.append(f"{prefix}:{n.name}")
                tests.append(f"{'/'.join(steps)} = $v{i}")
            namespaces.setdefault("_l", node.namespace)
            finder = etree.XPath(f"$p/_l:{node.name}[{' and '.join(tests)}]", namespaces=namespaces)
            self._unique_finders[(id(node), index)] = finder
        same = finder(parent, p=parent, **{f"v{i}": v for i, v in enumerate(key)})
        same = [e for e in same if self._unique_key(e, chains) == key]
        self._report_unique(same, node, index, chains, sink)

    def _report_unique(self, entries: list[etree._Element], node: SchemaNode, index: int,
                       chains: list[tuple[SchemaNode, ...]], sink: _Sink) -> None:
        for duplicate in entries[1:]:
            sink.add(_Violation(duplicate, UNIQUE, (index,),
                                self._unique_error(duplicate, entries[0], node, index, chains)))

    # --- incremental: what a change can touch -----------------------------------------------

    def _check_parent_rules(self, change: Change, sink: _Sink, root: etree._Element) -> None:
        parent = change.parent
        node = change.schema
        parent_node = node.parent
        if change.op in ("create", "delete"):
            self._check_mandatory(parent, parent_node, sink, root)
            if change.op == "create":
                self._check_choices(parent, parent_node, node, sink, root)
            if node.keyword in ("list", "leaf-list"):
                self._check_cardinality(parent, node, sink, root)
        if node.keyword == "list" and change.op == "create" and change.element is not None:
            for i in range(len(node.unique)):
                self._check_unique_entry(change.element, node, i, sink, root)

    def _check_ancestor_unique(self, change: Change, sink: _Sink, root: etree._Element) -> None:
        """``unique`` of ancestor lists whose unique leaves lie in the changed subtree."""
        if change.op == "delete":
            return   # removing a leaf makes its entry's tuple incomplete: never a new duplicate
        node = change.schema
        el: etree._Element | None = change.element
        ancestor = node.parent
        levels = 1
        while ancestor is not None and el is not None:
            if ancestor.keyword == "list" and ancestor.unique:
                entry = _ancestor(el, levels)
                for i in range(len(ancestor.unique)):
                    chains = self._unique_leaves(ancestor, i)
                    if entry is not None and any(node in chain for chain in chains):
                        self._check_unique_entry(entry, ancestor, i, sink, root)
            ancestor = ancestor.parent
            levels += 1

    def _collect_dependents(self, change: Change, root: etree._Element,
                            pending: dict[Constraint, dict[int, etree._Element] | None], sink: _Sink) -> None:
        nodes = self._subtrees.get(change.schema, [change.schema]) if change.op != "modify" else [change.schema]
        for node in nodes:
            for constraint, units in self.readers.get(node, {}).items():
                if constraint in pending and pending[constraint] is None:
                    continue      # already re-checked everywhere
                instances = self._affected(constraint, units, change, root, sink)
                if instances is None:
                    pending[constraint] = None
                    continue
                bucket = pending.setdefault(constraint, {})
                assert bucket is not None
                for el in instances:
                    bucket[id(el)] = el

    def _affected(self, constraint: Constraint, units: list[ReadUnit], change: Change,
                  root: etree._Element, sink: _Sink) -> list[etree._Element] | None:
        """Instances of ``constraint`` whose result ``change`` can alter; None = all of them."""
        found: list[etree._Element] = []
        for unit in units:
            if unit.everything:
                return None
            if unit.apex > 0:
                region = self._region(change, unit.apex)
                if region is not None:
                    chain = _ancestors_or_self(constraint.owner)[unit.apex:]
                    found.extend(_follow([region], chain))
                continue
            values = self._keyed_values_once(unit.keyed, change, sink) if unit.keyed is not None else None
            if values is None:
                return None
            if not unit.keyed.q_steps:       # Q is current(): owners found by their own value
                found.extend(self._owners_with_values(constraint.owner, values, sink.tree, root))
            else:
                for value in values:
                    found.extend(unit.finder(root, root=root, v=value))
        return found

    def _owners_with_values(self, owner: SchemaNode, values: Iterable[str], tree: _TreeIndexes,
                            root: etree._Element) -> list[etree._Element]:
        """Instances of the leaf ``owner`` holding one of ``values``.

        Indexed as "parent entries by the owner's value": the same index a keyed unit on the
        owner's list uses (``/.../ac[interface = current()]``), so it is usually built already.
        """
        if owner.parent is None:
            return [el for el in self._instances(owner, root) if _text(el) in set(values)]
        index = self._index(tree, self._chains[owner.parent], (owner,))
        found: list[etree._Element] = []
        for value in values:
            for entry in index.lookup(value):
                found.extend(leaf for leaf in entry.iterchildren(owner.tag) if _text(leaf) == value)
        return found

    def _region(self, change: Change, apex: int) -> etree._Element | None:
        """The changed node's ancestor at schema depth ``apex`` (None: inside the change)."""
        depth = self._depth.get(change.schema) or schema_depth(change.schema)
        if change.op == "delete":
            return _ancestor(change.parent, depth - 1 - apex) if apex <= depth - 1 else None
        if change.element is None or apex > depth:
            return None
        return _ancestor(change.element, depth - apex)

    def _keyed_values_once(self, keyed: Keyed, change: Change, sink: _Sink) -> set[str] | None:
        """:meth:`_keyed_values`, computed once per change and (chain, key) in a run: every
        constraint reading the same keyed path asks the same question, and for a deleted
        subtree of 10k VSIs the answer is a walk over all of them."""
        memo_key = (id(change), keyed.chain, keyed.key)
        if memo_key not in sink.keyed_values:
            sink.keyed_values[memo_key] = self._keyed_values(keyed, change)
        return sink.keyed_values[memo_key]

    def _keyed_values(self, keyed: Keyed, change: Change) -> set[str] | None:
        """The K values a change touches (module docstring); None when they cannot be known."""
        entry_depth = len(keyed.chain)
        depth = self._depth.get(change.schema) or schema_depth(change.schema)
        values: set[str] = set()

        def key_values(entries: Iterable[etree._Element]) -> None:
            for entry in entries:
                for leaf in (_follow([entry], keyed.key) if keyed.key else [entry]):
                    values.add(_text(leaf))

        on_chain = depth <= entry_depth
        below = list(keyed.chain[depth:]) if on_chain else []
        if change.op == "delete":
            if on_chain:
                if change.old_element is None:
                    return None
                key_values(_follow([change.old_element], below))
                return values
            entry = _ancestor(change.parent, depth - 1 - entry_depth)
            if entry is not None:
                key_values([entry])
            if change.old is not None:
                values.add(change.old)
            if change.old_element is not None:
                values.update(_text(e) for e in change.old_element.iter() if isinstance(e.tag, str))
            elif change.schema.keyword not in ("leaf", "leaf-list"):
                return None
            return values
        if change.element is None:
            return None
        if on_chain:
            key_values(_follow([change.element], below))
        else:
            entry = _ancestor(change.element, depth - entry_depth)
            if entry is not None:
                key_values([entry])
        if change.old is not None:
            values.add(change.old)
        return values

    # --- error construction -----------------------------------------------------------------

    def _path(self, el: etree._Element) -> tuple[str, dict[str, str]]:
        return instance_path(el, self.schema)

    def _missing_path(self, parent: etree._Element, chain: Sequence[SchemaNode]) -> tuple[str, dict[str, str]]:
        path, nsmap = self._path(parent)
        for node in chain:
            nsmap[node.prefix] = node.namespace
        steps = "/".join(f"{n.prefix}:{n.name}" for n in chain)
        return (path.rstrip("/") + "/" + steps), nsmap

    def _when_error(self, constraint: Constraint, el: etree._Element) -> RpcError:
        path, nsmap = self._path(el)
        return RpcError(
            ErrorTag.UNKNOWN_ELEMENT,
            f"{constraint.owner.name} is not allowed here: its condition "
            f"when \"{constraint.source.text}\" is false",
            type=ErrorType.APPLICATION, path=path, path_nsmap=nsmap,
            info=[("bad-element", constraint.owner.name)],
        )

    def _must_error(self, constraint: Constraint, el: etree._Element) -> RpcError:
        path, nsmap = self._path(el)
        must = constraint.must
        assert must is not None
        message = must.error_message or (
            f"must \"{constraint.source.text}\" is not satisfied for {constraint.owner.name} at {path}")
        return RpcError(ErrorTag.OPERATION_FAILED, message, type=ErrorType.APPLICATION,
                        app_tag=must.error_app_tag or AppTag.MUST_VIOLATION, path=path, path_nsmap=nsmap)

    def _leafref_error(self, constraint: Constraint, el: etree._Element) -> RpcError:
        path, nsmap = self._path(el)
        return RpcError(
            ErrorTag.DATA_MISSING,
            f"{constraint.owner.name} '{_text(el)}' refers to no existing {constraint.source.text}",
            type=ErrorType.APPLICATION, app_tag=AppTag.INSTANCE_REQUIRED, path=path, path_nsmap=nsmap,
        )

    def _missing_error(self, parent: etree._Element, chain: Sequence[SchemaNode]) -> RpcError:
        path, nsmap = self._missing_path(parent, chain)
        return RpcError(ErrorTag.MISSING_ELEMENT, f"mandatory {chain[-1].keyword} {chain[-1].name} is missing",
                        type=ErrorType.APPLICATION, path=path, path_nsmap=nsmap,
                        info=[("bad-element", chain[-1].name)])

    def _missing_choice_error(self, el: etree._Element, choice: ChoiceInfo) -> RpcError:
        path, nsmap = self._path(el)
        return RpcError(ErrorTag.DATA_MISSING, f"one case of the mandatory choice {choice.name} must be present",
                        type=ErrorType.APPLICATION, app_tag=AppTag.MISSING_CHOICE, path=path,
                        path_nsmap=nsmap, info=[(MISSING_CHOICE, choice.name)])

    def _two_cases_error(self, el: etree._Element, choice: str, first: str, second: str) -> RpcError:
        path, nsmap = self._path(el)
        name = etree.QName(el).localname
        return RpcError(ErrorTag.BAD_ELEMENT,
                        f"{name} belongs to case {second} of choice {choice}, but case {first} is already present",
                        type=ErrorType.APPLICATION, path=path, path_nsmap=nsmap, info=[("bad-element", name)])

    def _too_few_error(self, parent: etree._Element, chain: Sequence[SchemaNode], count: int) -> RpcError:
        path, nsmap = self._missing_path(parent, chain)
        node = chain[-1]
        return RpcError(ErrorTag.OPERATION_FAILED,
                        f"{node.name} needs at least {node.min_elements} entries, has {count}",
                        type=ErrorType.APPLICATION, app_tag=AppTag.TOO_FEW_ELEMENTS, path=path, path_nsmap=nsmap)

    def _too_many_error(self, parent: etree._Element, node: SchemaNode, count: int) -> RpcError:
        path, nsmap = self._missing_path(parent, (node,))
        return RpcError(ErrorTag.OPERATION_FAILED,
                        f"{node.name} allows at most {node.max_elements} entries, has {count}",
                        type=ErrorType.APPLICATION, app_tag=AppTag.TOO_MANY_ELEMENTS, path=path, path_nsmap=nsmap)

    def _unique_error(self, duplicate: etree._Element, first: etree._Element, node: SchemaNode, index: int,
                      chains: list[tuple[SchemaNode, ...]]) -> RpcError:
        path, nsmap = self._path(duplicate)
        first_path, first_nsmap = self._path(first)
        nsmap.update(first_nsmap)
        info = []
        for chain in chains:
            leaf = _follow([duplicate], chain)[0]
            leaf_path, leaf_nsmap = self._path(leaf)
            nsmap.update(leaf_nsmap)
            info.append((NON_UNIQUE, leaf_path))
        return RpcError(ErrorTag.OPERATION_FAILED,
                        f"unique \"{' '.join(node.unique[index])}\" of {node.name} is violated: "
                        f"same values as {first_path}",
                        type=ErrorType.APPLICATION, app_tag=AppTag.DATA_NOT_UNIQUE, path=path,
                        path_nsmap=nsmap, info=info)
