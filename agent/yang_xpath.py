"""YANG XPath 1.0 (RFC 7950 sections 6.4 and 10) evaluated by libxml2 through lxml.

YANG expressions are not plain XPath: unprefixed names belong to the namespace of the node
the expression is written on (section 6.4.1), ``/`` is the root of the *accessible tree*
(our datastore element ``{urn:ietf:params:xml:ns:netconf:base:1.0}data``, not the XML
document node), ``current()`` is the node the constraint is on, and YANG 1.1 adds
``deref()``, ``re-match()``, ``derived-from()``, ``derived-from-or-self()``,
``enum-value()`` and ``bit-is-set()``.

Rather than patch libxml2, every expression is parsed once (pyang's XPath tokenizer, a small
recursive-descent parser here) and printed back as plain XPath that lxml evaluates as is:

* every unprefixed name test gets the prefix of its default namespace;
* ``current()`` becomes the variable ``$current`` and an absolute path ``/a/b`` becomes
  ``$root/a/b``; both are bound per evaluation, so there is no global mutable state and the
  data root may sit anywhere in its document;
* the YANG 1.1 functions are lxml extension functions bound to the schema through closures.

The parsed tree (:class:`Expr` and friends) is public because validation reads it to learn
which schema nodes an expression depends on (``agent.validate``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Union

from lxml import etree

from agent.schema import SchemaNode, XPathExpr, YangType
from agent.xmlns import NC, qn

if TYPE_CHECKING:  # pragma: no cover
    from agent.schema import Schema

#: Tag of the datastore root element: the root of YANG's accessible tree.
DATA_ROOT = qn(NC, "data")


class YangXPathError(ValueError):
    """An expression that is not valid XPath 1.0, or names an undeclared prefix."""


# ------------------------------------------------------------------------------------------
# The parsed expression
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    value: str


@dataclass(frozen=True, slots=True)
class Number:
    text: str


@dataclass(frozen=True, slots=True)
class VariableRef:
    name: str


@dataclass(frozen=True, slots=True)
class FunctionCall:
    name: str
    args: tuple["Expr", ...] = ()


@dataclass(frozen=True, slots=True)
class BinaryOp:
    """``or and = != < <= > >= + - * div mod |``."""

    op: str
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True, slots=True)
class Negate:
    operand: "Expr"


@dataclass(frozen=True, slots=True)
class NameTest:
    """``prefix:name``; ``name == "*"`` is a wildcard (``*`` or ``prefix:*``)."""

    prefix: str | None
    name: str


@dataclass(frozen=True, slots=True)
class NodeTypeTest:
    node_type: str  # node, text, comment, processing-instruction
    literal: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    axis: str
    test: NameTest | NodeTypeTest
    predicates: tuple["Expr", ...] = ()

    @property
    def is_parent(self) -> bool:
        return self.axis == "parent" and self.test == NodeTypeTest("node") and not self.predicates

    @property
    def is_self(self) -> bool:
        return self.axis == "self" and self.test == NodeTypeTest("node") and not self.predicates


@dataclass(frozen=True, slots=True)
class LocationPath:
    absolute: bool
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class FilterPath:
    """``primary[pred]...`` optionally followed by ``/steps`` (XPath rules 19 and 20)."""

    primary: "Expr"
    predicates: tuple["Expr", ...] = ()
    steps: tuple[Step, ...] = ()


Expr = Union[Literal, Number, VariableRef, FunctionCall, BinaryOp, Negate, LocationPath, FilterPath]

_DESCENDANT_OR_SELF = Step("descendant-or-self", NodeTypeTest("node"))
_PARENT = Step("parent", NodeTypeTest("node"))
_SELF = Step("self", NodeTypeTest("node"))


def is_current(expr: Expr) -> bool:
    return isinstance(expr, FunctionCall) and expr.name == "current" and not expr.args


# ------------------------------------------------------------------------------------------
# Parsing: pyang's tokenizer, XPath 1.0's grammar
# ------------------------------------------------------------------------------------------

_STEP_START = frozenset({"name", "wildcard", "STAR", "prefix_test", "AT", "DOT", "DOTDOT", "axis", "node_type"})
_COMPARISON = {"EQ": "=", "NEQ": "!=", "LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="}


class _Parser:
    """Recursive descent over pyang's tokens (XPath 1.0 section 3, productions 14-27)."""

    def __init__(self, text: str) -> None:
        from pyang import xpath_lexer

        try:
            self.toks = [t for t in xpath_lexer.scan(text) if t.type != "_whitespace"]
        except xpath_lexer.XPathError as exc:
            raise YangXPathError(f"{text!r}: {exc.msg} at position {exc.pos}") from None
        self.pos = 0
        self.text = text

    def error(self, what: str) -> YangXPathError:
        tok = self.peek()
        where = f"'{tok.value}'" if tok is not None else "end of expression"
        return YangXPathError(f"{self.text!r}: {what}, found {where}")

    def peek(self, offset: int = 0) -> Any:
        i = self.pos + offset
        return self.toks[i] if i < len(self.toks) else None

    def at(self, *types: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.type in types

    def take(self, *types: str) -> Any:
        tok = self.peek()
        if tok is None or tok.type not in types:
            raise self.error(f"expected {' or '.join(types)}")
        self.pos += 1
        return tok

    def parse(self) -> Expr:
        expr = self.or_expr()
        if self.peek() is not None:
            raise self.error("unexpected token")
        return expr

    def _binary(self, sub: Callable[[], Expr], ops: dict[str, str]) -> Expr:
        left = sub()
        while self.at(*ops):
            op = ops[self.take(*ops).type]
            left = BinaryOp(op, left, sub())
        return left

    def or_expr(self) -> Expr:
        return self._binary(self.and_expr, {"OR": "or"})

    def and_expr(self) -> Expr:
        return self._binary(self.equality_expr, {"AND": "and"})

    def equality_expr(self) -> Expr:
        return self._binary(self.relational_expr, {"EQ": "=", "NEQ": "!="})

    def relational_expr(self) -> Expr:
        return self._binary(self.additive_expr, {"LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="})

    def additive_expr(self) -> Expr:
        return self._binary(self.multiplicative_expr, {"PLUS": "+", "MINUS": "-"})

    def multiplicative_expr(self) -> Expr:
        return self._binary(self.unary_expr, {"STAR": "*", "wildcard": "*", "DIV": "div", "MOD": "mod"})

    def unary_expr(self) -> Expr:
        if self.at("MINUS"):
            self.take("MINUS")
            return Negate(self.unary_expr())
        return self._binary(self.path_expr, {"BAR": "|"})

    def path_expr(self) -> Expr:
        if self.at("SLASH"):
            self.take("SLASH")
            steps = self.relative_steps() if self.at(*_STEP_START) else ()
            return LocationPath(True, steps)
        if self.at("DOUBLESLASH"):
            self.take("DOUBLESLASH")
            return LocationPath(True, (_DESCENDANT_OR_SELF,) + self.relative_steps())
        if self.at(*_STEP_START):
            return LocationPath(False, self.relative_steps())
        primary = self.primary_expr()
        predicates = self.predicates()
        steps: tuple[Step, ...] = ()
        if self.at("SLASH"):
            self.take("SLASH")
            steps = self.relative_steps()
        elif self.at("DOUBLESLASH"):
            self.take("DOUBLESLASH")
            steps = (_DESCENDANT_OR_SELF,) + self.relative_steps()
        if not predicates and not steps:
            return primary
        return FilterPath(primary, predicates, steps)

    def primary_expr(self) -> Expr:
        tok = self.peek()
        if tok is None:
            raise self.error("expected an expression")
        if tok.type == "LPAREN":
            self.take("LPAREN")
            inner = self.or_expr()
            self.take("RPAREN")
            return inner
        if tok.type == "literal":
            self.pos += 1
            return Literal(tok.value[1:-1])
        if tok.type == "number":
            self.pos += 1
            return Number(tok.value)
        if tok.type == "DOLLAR":
            self.take("DOLLAR")
            return VariableRef(self.take("name").value)
        if tok.type == "function_name":
            self.pos += 1
            self.take("LPAREN")
            args: list[Expr] = []
            if not self.at("RPAREN"):
                args.append(self.or_expr())
                while self.at("COMMA"):
                    self.take("COMMA")
                    args.append(self.or_expr())
            self.take("RPAREN")
            return FunctionCall(tok.value, tuple(args))
        raise self.error("expected an expression")

    def relative_steps(self) -> tuple[Step, ...]:
        steps = [self.step()]
        while self.at("SLASH", "DOUBLESLASH"):
            if self.take("SLASH", "DOUBLESLASH").type == "DOUBLESLASH":
                steps.append(_DESCENDANT_OR_SELF)
            steps.append(self.step())
        return tuple(steps)

    def step(self) -> Step:
        if self.at("DOT"):
            self.take("DOT")
            return _SELF
        if self.at("DOTDOT"):
            self.take("DOTDOT")
            return _PARENT
        axis = "child"
        if self.at("AT"):
            self.take("AT")
            axis = "attribute"
        elif self.at("axis"):
            axis = self.take("axis").value
            self.take("DOUBLECOLON")
        return Step(axis, self.node_test(), self.predicates())

    def node_test(self) -> NameTest | NodeTypeTest:
        tok = self.take("name", "wildcard", "STAR", "prefix_test", "node_type")
        if tok.type in ("wildcard", "STAR"):
            return NameTest(None, "*")
        if tok.type == "prefix_test":
            return NameTest(tok.value[:-2], "*")
        if tok.type == "node_type":
            self.take("LPAREN")
            literal = self.take("literal").value[1:-1] if self.at("literal") else None
            self.take("RPAREN")
            return NodeTypeTest(tok.value, literal)
        prefix, _, local = tok.value.rpartition(":")
        return NameTest(prefix or None, local)

    def predicates(self) -> tuple[Expr, ...]:
        preds: list[Expr] = []
        while self.at("LBRACKET"):
            self.take("LBRACKET")
            preds.append(self.or_expr())
            self.take("RBRACKET")
        return tuple(preds)


@lru_cache(maxsize=4096)
def parse(text: str) -> Expr:
    """The syntax tree of an XPath 1.0 expression; raises :class:`YangXPathError`."""
    return _Parser(text).parse()


# ------------------------------------------------------------------------------------------
# Printing back for libxml2
# ------------------------------------------------------------------------------------------


def _quote(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    parts = value.split("'")
    return "concat(" + ", \"'\", ".join(f"'{p}'" for p in parts) + ")"


class _Printer:
    """Prints an :data:`Expr` as the plain XPath lxml evaluates (see module docstring)."""

    def __init__(self, default_prefix: str | None, substitutions: dict[int, str] | None = None,
                 known_prefixes: Iterable[str] | None = None) -> None:
        self.default_prefix = default_prefix
        self.known_prefixes = set(known_prefixes) if known_prefixes is not None else None
        #: id(subexpression) -> text to print instead (validation's indexed evaluation)
        self.substitutions = substitutions or {}

    def expr(self, e: Expr) -> str:
        sub = self.substitutions.get(id(e))
        if sub is not None:
            return sub
        if isinstance(e, Literal):
            return _quote(e.value)
        if isinstance(e, Number):
            return e.text
        if isinstance(e, VariableRef):
            return f"${e.name}"
        if isinstance(e, FunctionCall):
            if is_current(e):
                return "$current"
            return f"{e.name}({', '.join(self.expr(a) for a in e.args)})"
        if isinstance(e, BinaryOp):
            return f"({self.expr(e.left)} {e.op} {self.expr(e.right)})"
        if isinstance(e, Negate):
            return f"(-{self.expr(e.operand)})"
        if isinstance(e, LocationPath):
            steps = "/".join(self.step(s) for s in e.steps)
            if not e.absolute:
                return steps
            return f"$root/{steps}" if steps else "$root"
        if isinstance(e, FilterPath):
            text = self.expr(e.primary)
            if not isinstance(e.primary, (VariableRef, FunctionCall)):
                text = f"({text})"
            text += "".join(f"[{self.expr(p)}]" for p in e.predicates)
            if e.steps:
                text += "/" + "/".join(self.step(s) for s in e.steps)
            return text
        raise TypeError(f"not an XPath expression: {e!r}")

    def step(self, s: Step) -> str:
        preds = "".join(f"[{self.expr(p)}]" for p in s.predicates)
        if s.test == NodeTypeTest("node") and not preds and s.axis in ("self", "parent"):
            return "." if s.axis == "self" else ".."
        if isinstance(s.test, NodeTypeTest):
            arg = _quote(s.test.literal) if s.test.literal is not None else ""
            test = f"{s.test.node_type}({arg})"
        elif s.axis == "attribute":
            test = f"{s.test.prefix}:{s.test.name}" if s.test.prefix else s.test.name
        else:
            if s.test.prefix and self.known_prefixes is not None and s.test.prefix not in self.known_prefixes:
                raise YangXPathError(f"prefix '{s.test.prefix}' is not declared")
            prefix = s.test.prefix or self.default_prefix
            test = f"{prefix}:{s.test.name}" if prefix else s.test.name
            if s.test.name == "*" and s.test.prefix is None:
                test = "*"   # an unprefixed wildcard matches every namespace (RFC 7950 6.4.1)
        axis = "" if s.axis == "child" else ("@" if s.axis == "attribute" else f"{s.axis}::")
        return f"{axis}{test}{preds}"


# ------------------------------------------------------------------------------------------
# String values, as XPath 1.0 section 4.2 defines them
# ------------------------------------------------------------------------------------------


def string_value(obj: Any) -> str:
    """XPath ``string()`` of an lxml result or extension-function argument."""
    if isinstance(obj, list):
        if not obj:
            return ""
        obj = obj[0]
    if isinstance(obj, etree._Element):
        return "".join(obj.itertext())
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if isinstance(obj, float):
        if math.isnan(obj):
            return "NaN"
        if math.isinf(obj):
            return "Infinity" if obj > 0 else "-Infinity"
        return str(int(obj)) if obj == int(obj) else repr(obj)
    return str(obj)


def to_boolean(obj: Any) -> bool:
    """XPath ``boolean()`` of an lxml result."""
    if isinstance(obj, bool):
        return obj
    if isinstance(obj, float):
        return obj != 0 and not math.isnan(obj)
    if isinstance(obj, (list, str)):
        return len(obj) > 0
    return bool(obj)


def data_root_of(element: etree._Element) -> etree._Element:
    """The datastore element above ``element`` (or its topmost ancestor)."""
    node = element
    while node.tag != DATA_ROOT:
        parent = node.getparent()
        if parent is None:
            return node
        node = parent
    return node


# ------------------------------------------------------------------------------------------
# Compiled expressions
# ------------------------------------------------------------------------------------------


@dataclass(eq=False)
class CompiledXPath:
    """One YANG expression ready for libxml2: evaluate with ``(context, current=, root=)``."""

    source: XPathExpr
    ast: Expr
    #: the XPath text lxml runs (prefixed names, ``$current``, ``$root``)
    text: str
    namespaces: dict[str, str]
    default_prefix: str | None
    _xpath: etree.XPath = field(repr=False)

    def __call__(self, context: etree._Element, *, current: etree._Element | None = None,
                 root: etree._Element | None = None, **variables: Any) -> Any:
        """The raw lxml result: list (node-set), float, str or bool."""
        if root is None:
            root = data_root_of(context)
        return self._xpath(context, current=context if current is None else current,
                           root=root, **variables)

    def boolean(self, context: etree._Element, **kwargs: Any) -> bool:
        return to_boolean(self(context, **kwargs))

    def print(self, expr: Expr, substitutions: dict[int, str] | None = None) -> str:
        """Any sub-expression of this one printed for lxml with this expression's prefixes."""
        return _Printer(self.default_prefix, substitutions).expr(expr)


class YangXPath:
    """Compiles and caches YANG expressions for one schema; owns the YANG 1.1 functions.

    Thread-safety: lxml ``XPath`` objects must not be shared across threads; the agent
    evaluates on the event-loop thread only.  Per-evaluation state (``current()``, the root)
    is passed as XPath variables, never stored here.
    """

    def __init__(self, schema: "Schema | None" = None) -> None:
        self.schema = schema
        self._cache: dict[tuple[str, tuple[tuple[str, str], ...], str | None], CompiledXPath] = {}
        self._schema_by_path: dict[tuple[str, ...], SchemaNode | None] = {}
        self._identity_bases: dict[str, frozenset[str]] | None = None
        self._patterns: dict[str, re.Pattern[str]] = {}

    # --- compilation -----------------------------------------------------------------------

    def compile(self, expr: XPathExpr, default_ns: str | None = None) -> CompiledXPath:
        """``expr`` compiled; unprefixed names belong to ``default_ns`` (else ``expr.default_ns``)."""
        default_ns = default_ns or expr.default_ns
        key = (expr.text, tuple(sorted(expr.nsmap.items())), default_ns)
        compiled = self._cache.get(key)
        if compiled is None:
            compiled = self._compile(expr, parse(expr.text), default_ns)
            self._cache[key] = compiled
        return compiled

    def compile_ast(self, source: XPathExpr, ast: Expr, default_ns: str | None = None,
                    substitutions: dict[int, str] | None = None) -> CompiledXPath:
        """A compiled form of a (possibly rewritten) tree; not cached (callers keep it)."""
        return self._compile(source, ast, default_ns or source.default_ns, substitutions)

    def _compile(self, source: XPathExpr, ast: Expr, default_ns: str | None,
                 substitutions: dict[int, str] | None = None) -> CompiledXPath:
        namespaces = {p: ns for p, ns in source.nsmap.items() if p}
        default_prefix = next((p for p, ns in namespaces.items() if ns == default_ns), None) if default_ns else None
        if default_prefix is None and default_ns:
            default_prefix = "_d"
            while default_prefix in namespaces:
                default_prefix += "_"
            namespaces[default_prefix] = default_ns
        try:
            text = _Printer(default_prefix, substitutions, namespaces).expr(ast)
        except YangXPathError as exc:
            raise YangXPathError(f"{source.text!r}: {exc}") from None
        try:
            xpath = etree.XPath(text, namespaces=namespaces, extensions=self._extensions(source, default_ns))
        except etree.XPathSyntaxError as exc:
            raise YangXPathError(f"{source.text!r} is not valid XPath for libxml2 ({text!r}): {exc}") from None
        return CompiledXPath(source, ast, text, namespaces, default_prefix, xpath)

    def _extensions(self, source: XPathExpr, default_ns: str | None) -> dict[tuple[None, str], Callable[..., Any]]:
        """YANG 1.1 functions (RFC 7950 section 10); closures give them the expression's prefixes."""

        def derived_from(_ctx: Any, nodes: Any, identity: Any) -> bool:
            return self._derived_from(nodes, string_value(identity), source, default_ns, or_self=False)

        def derived_from_or_self(_ctx: Any, nodes: Any, identity: Any) -> bool:
            return self._derived_from(nodes, string_value(identity), source, default_ns, or_self=True)

        return {
            (None, "re-match"): lambda _ctx, s, p: self.re_match(string_value(s), string_value(p)),
            (None, "deref"): lambda _ctx, nodes: self.deref(nodes),
            (None, "enum-value"): lambda _ctx, nodes: self.enum_value(nodes),
            (None, "bit-is-set"): lambda _ctx, nodes, bit: self.bit_is_set(nodes, string_value(bit)),
            (None, "derived-from"): derived_from,
            (None, "derived-from-or-self"): derived_from_or_self,
        }

    # --- schema lookups --------------------------------------------------------------------

    def schema_node_of(self, element: etree._Element) -> SchemaNode | None:
        """The schema node of a datastore element (by its tag path below the data root)."""
        tags: list[str] = []
        node: etree._Element | None = element
        while node is not None and node.tag != DATA_ROOT:
            tags.append(node.tag)
            node = node.getparent()
        key = tuple(reversed(tags))
        if key in self._schema_by_path:
            return self._schema_by_path[key]
        found: SchemaNode | None = None
        if self.schema is not None and key:
            found = self.schema.roots.get(key[0])
            for tag in key[1:]:
                found = found.children.get(tag) if found is not None else None
        self._schema_by_path[key] = found
        return found

    # --- YANG 1.1 functions ----------------------------------------------------------------

    def re_match(self, subject: str, pattern: str) -> bool:
        """RFC 7950 10.2.1: the XSD regular expression ``pattern`` matches all of ``subject``."""
        compiled = self._patterns.get(pattern)
        if compiled is None:
            from agent.schema import compile_xsd_pattern

            compiled = compile_xsd_pattern(pattern)
            self._patterns[pattern] = compiled
        return compiled.fullmatch(subject) is not None

    def deref(self, nodes: Any) -> list[etree._Element]:
        """RFC 7950 10.3.1: the nodes the first leafref / instance-identifier points to."""
        if not isinstance(nodes, list) or not nodes or not isinstance(nodes[0], etree._Element):
            return []
        node = nodes[0]
        schema = self.schema_node_of(node)
        yang_type = schema.type if schema is not None else None
        value = string_value(node)
        root = data_root_of(node)
        if yang_type is not None and yang_type.base == "leafref" and yang_type.leafref_path is not None:
            path = self.compile(yang_type.leafref_path, schema.namespace)
            found = path(node, current=node, root=root)
            return [n for n in found if isinstance(n, etree._Element) and string_value(n) == value]
        if yang_type is not None and yang_type.base == "instance-identifier":
            nsmap = {p: ns for p, ns in node.nsmap.items() if p}
            if self.schema is not None:
                nsmap.update({prefix: ns for ns, (_m, prefix) in self.schema.namespaces.items()
                              if prefix not in nsmap})
            try:
                target = self.compile(XPathExpr(value, nsmap, None))
            except YangXPathError:
                return []
            result = target(root, root=root)
            return [n for n in result if isinstance(n, etree._Element)] if isinstance(result, list) else []
        return []

    def enum_value(self, nodes: Any) -> float:
        """RFC 7950 10.5.1: the integer of the first node's enum, NaN if it has none."""
        if not isinstance(nodes, list) or not nodes or not isinstance(nodes[0], etree._Element):
            return math.nan
        schema = self.schema_node_of(nodes[0])
        value = string_value(nodes)
        for yang_type in _member_types(schema.type if schema else None):
            if yang_type.enums and value in yang_type.enums:
                return float(yang_type.enums[value])
        return math.nan

    @staticmethod
    def bit_is_set(nodes: Any, bit: str) -> bool:
        """RFC 7950 10.6.1: the first node is a bits value with ``bit`` set."""
        if not isinstance(nodes, list) or not nodes:
            return False
        return bit in string_value(nodes).split()

    def _derived_from(self, nodes: Any, identity: str, source: XPathExpr, default_ns: str | None,
                      *, or_self: bool) -> bool:
        """RFC 7950 10.4.1/10.4.2: some node's identityref value derives from ``identity``."""
        if not isinstance(nodes, list):
            return False
        base = self._identity_clark(identity, dict(source.nsmap), default_ns)
        if base is None:
            return False
        for node in nodes:
            if not isinstance(node, etree._Element):
                continue
            value = self._identity_clark(string_value(node), _element_prefixes(node, self.schema), None)
            if value is None:
                continue
            if or_self and value == base:
                return True
            if base in self.identity_bases().get(value, frozenset()):
                return True
        return False

    @staticmethod
    def _identity_clark(text: str, nsmap: dict[str, str], default_ns: str | None) -> str | None:
        prefix, _, name = text.strip().rpartition(":")
        ns = nsmap.get(prefix) if prefix else default_ns
        return qn(ns, name) if ns and name else None

    def identity_bases(self) -> dict[str, frozenset[str]]:
        """Identity (Clark) -> every identity it is derived from, transitively.

        Read from ``schema.identity_bases`` when the schema provides it; otherwise computed
        once from the modules' files with pyang (only expressions using derived-from need it).
        """
        if self._identity_bases is None:
            provided = getattr(self.schema, "identity_bases", None)
            self._identity_bases = dict(provided) if provided is not None else _identity_bases_from_modules(self.schema)
        return self._identity_bases


def _member_types(yang_type: YangType | None) -> Iterable[YangType]:
    """A type and, for unions, its member types (recursively), leafrefs followed."""
    if yang_type is None:
        return
    yield yang_type
    for member in yang_type.union or ():
        yield from _member_types(member)
    if yang_type.base == "leafref" and getattr(yang_type, "target_type", None) is not None:
        yield from _member_types(yang_type.target_type)


def _element_prefixes(node: etree._Element, schema: "Schema | None") -> dict[str, str]:
    """Prefixes valid for an identityref value: the element's own, then the modules' prefixes."""
    nsmap = {p: ns for p, ns in node.nsmap.items() if p}
    if schema is not None:
        for ns, (_module, prefix) in schema.namespaces.items():
            nsmap.setdefault(prefix, ns)
    return nsmap


def _identity_bases_from_modules(schema: "Schema | None") -> dict[str, frozenset[str]]:
    """Identity derivation graph read with pyang from the files the schema was compiled from."""
    if schema is None or not schema.modules:
        return {}
    from pyang import context, repository

    dirs = sorted({str(info.path.parent) for info in schema.modules.values()})
    ctx = context.Context(repository.FileRepository(":".join(dirs), use_env=False))
    for info in schema.modules.values():
        if ctx.get_module(info.name) is None and info.path.exists():
            ctx.add_module(str(info.path), info.path.read_text(), "yang", expect_modulename=info.name)
    ctx.validate()
    direct: dict[str, set[str]] = {}

    def clark(stmt: Any) -> str:
        ns = stmt.i_module.search_one("namespace")
        if ns is None:  # submodule: the namespace is its main module's
            ns = ctx.get_module(stmt.i_module.i_including_modulename).search_one("namespace")
        return qn(ns.arg, stmt.arg)

    for module in list(ctx.modules.values()):
        for identity in module.search("identity"):
            bases = direct.setdefault(clark(identity), set())
            for base in identity.search("base"):
                target = getattr(base, "i_identity", None)
                if target is not None:
                    bases.add(clark(target))
    closed: dict[str, frozenset[str]] = {}

    def close(name: str, seen: frozenset[str] = frozenset()) -> frozenset[str]:
        if name in closed:
            return closed[name]
        result: set[str] = set()
        for base in direct.get(name, ()):
            if base not in seen:
                result.add(base)
                result |= close(base, seen | {name})
        closed[name] = frozenset(result)
        return closed[name]

    for name in direct:
        close(name)
    return closed


def leafref_check(path: XPathExpr) -> Expr:
    """RFC 7950 9.9: "some node of the path equals the leaf": ``PATH = current()`` as a tree."""
    return BinaryOp("=", parse(path.text), FunctionCall("current"))

