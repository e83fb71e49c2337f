"""RFC 7950 section 9: checking a leaf value against its type and giving its canonical form.

Every value that enters a datastore passes :func:`check_value`, which answers the canonical
lexical form (section 9.x.2 of each built-in type) or raises the `invalid-value` rpc-error a
person can act on.  It is on the per-edit path, so each :class:`YangType` is compiled once
into a small checker function (kept on the type object) and reused.

Error paths: :func:`instance_path` builds the RFC 7950 section 9.13 instance identifier of a
datastore element (prefixes and key predicates) that every `error-path` in the agent uses;
:func:`invalid_value` combines both.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from lxml import etree

from agent.errors import ErrorTag, ErrorType, RpcError
from agent.xmlns import NC, NMDA, split_qn

if TYPE_CHECKING:  # pragma: no cover
    from agent.schema import Schema, SchemaNode, YangType

#: prefix (None/"" for the default namespace) -> namespace, as in lxml's ``element.nsmap``
NsMap = Mapping[str | None, str]
Checker = Callable[[str, "NsMap | None"], str]


class Invalid(ValueError):
    """A value does not fit its type: ``reason`` completes "'<value>' ..." for the message."""

    def __init__(self, reason: str, app_tag: str | None = None, message: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.app_tag = app_tag
        #: a module-provided error-message (RFC 7950 7.5.4.1) replaces ours entirely
        self.message = message


# --- public API --------------------------------------------------------------------------

def check_value(t: "YangType", text: str | None, nsmap: NsMap | None = None, *, name: str | None = None) -> str:
    """The canonical form of ``text`` as a value of ``t``; RpcError(invalid-value) if it is not one.

    ``nsmap`` resolves prefixes in identityref and instance-identifier values (pass the
    element's ``nsmap``); ``name`` (the leaf's name) goes into the message, the caller adds
    the error-path.
    """
    try:
        return checker(t)(text or "", nsmap)
    except Invalid as exc:
        raise _rpc_error(t, text, exc, name) from None


def is_valid(t: "YangType", text: str, nsmap: NsMap | None = None) -> bool:
    """True if ``text`` is a value of ``t`` (no error built: for unions and XPath helpers)."""
    try:
        checker(t)(text, nsmap)
    except Invalid:
        return False
    return True


def canonical(t: "YangType", text: str, nsmap: NsMap | None = None) -> str:
    """Like :func:`check_value` but raising :class:`Invalid` (cheap) instead of an RpcError."""
    return checker(t)(text, nsmap)


def invalid_value(
    node: "SchemaNode",
    value: str | None,
    reason: str,
    element: etree._Element | None = None,
    schema: "Schema | None" = None,
    *,
    app_tag: str | None = None,
) -> RpcError:
    """`invalid-value` for ``node``: "'<value>' <reason> for <name>", error-path at ``element``.

    Without an element (or schema) the path is the node's schema path, which is still an
    instance identifier for nodes outside lists.
    """
    if element is not None and schema is not None:
        path, path_nsmap = instance_path(element, schema)
    else:
        path, path_nsmap = node_path(node)
    shown = "" if value is None else f"'{value}' "
    return RpcError(ErrorTag.INVALID_VALUE, f"{shown}{reason} for {node.name}", type=ErrorType.APPLICATION,
                    app_tag=app_tag, path=path, path_nsmap=path_nsmap)


def error_for(node: "SchemaNode", exc: RpcError, element: etree._Element | None,
              schema: "Schema | None") -> RpcError:
    """``exc`` (from :func:`check_value`) with the error-path of ``element`` filled in."""
    if element is not None and schema is not None:
        exc.path, exc.path_nsmap = instance_path(element, schema)
    else:
        exc.path, exc.path_nsmap = node_path(node)
    return exc


def node_path(node: "SchemaNode") -> tuple[str, dict[str, str]]:
    """The schema path of ``node`` with its prefix map (for nodes that have no instance yet)."""
    nsmap: dict[str, str] = {}
    current: SchemaNode | None = node
    while current is not None:
        nsmap[current.prefix] = current.namespace
        current = current.parent
    return node.schema_path(), nsmap


#: elements that hold data nodes and are not data themselves: a datastore tree's root and the
#: `<config>` / `<data>` parameters of RFC 6241 and RFC 8526 operations (instance identifiers
#: start below them)
DATA_WRAPPERS: frozenset[str] = frozenset(
    f"{{{ns}}}{name}" for ns in (NC, NMDA) for name in ("config", "data"))


def instance_path(element: etree._Element, schema: "Schema") -> tuple[str, dict[str, str]]:
    """RFC 7950 9.13 instance identifier of a datastore element and the prefixes it uses.

    ``/vl2mc:vsis/vl2mc:vsi[vl2mc:name='a']/vl2mc:igmp-snooping/vl2mc:query-interval``.
    The walk stops below the datastore or `<config>` wrapper (:data:`DATA_WRAPPERS`), so an
    inline `<config>` still inside its `<rpc>` (copy-config, edit-config) gives the same
    paths as the datastore tree the data ends up in; above the schema's roots unknown
    ancestors are skipped.  List entries get one predicate per key (in key order), leaf-list
    entries `[.='value']`.
    """
    chain: list[etree._Element] = []
    current: etree._Element | None = element
    while current is not None and isinstance(current.tag, str):
        chain.append(current)
        current = current.getparent()
        if current is not None and current.tag in DATA_WRAPPERS:
            break
    chain.reverse()
    steps: list[str] = []
    nsmap: dict[str, str] = {}
    node: SchemaNode | None = None
    for el in chain:
        child = _top_node(schema, el.tag) if node is None else _child_node(node, el.tag)
        if child is None:
            if node is None and el is not element:
                continue          # still above the schema's roots (the <data> wrapper)
            steps.append(_unknown_step(el, nsmap))
            break
        node = child
        step = _prefix_for(node.namespace, schema, nsmap) + ":" + node.name
        steps.append(step + _predicates(el, node, schema, nsmap))
    return "/" + "/".join(steps), nsmap


def _top_node(schema: "Schema", tag: str) -> "SchemaNode | None":
    return schema.roots.get(tag) or schema.rpcs.get(tag) or schema.notifications.get(tag)


def _child_node(node: "SchemaNode", tag: str) -> "SchemaNode | None":
    """A child in the XML sense: an rpc's or action's parameters are its input's children."""
    if node.keyword in ("rpc", "action"):
        params = node.children.get("input")
        return params.children.get(tag) if params is not None else None
    return node.children.get(tag)


# --- errors ------------------------------------------------------------------------------

def _rpc_error(t: "YangType", text: str | None, exc: Invalid, name: str | None) -> RpcError:
    if exc.message:
        message = exc.message
    else:
        message = f"'{text}' {exc.reason} for {name or t.name}"
    return RpcError(ErrorTag.INVALID_VALUE, message, type=ErrorType.APPLICATION, app_tag=exc.app_tag)


def _prefix_for(namespace: str, schema: "Schema", nsmap: dict[str, str]) -> str:
    module = schema.namespaces.get(namespace)
    prefix = module[1] if module else "ns" + str(len(nsmap))
    nsmap[prefix] = namespace
    return prefix


def _unknown_step(el: etree._Element, nsmap: dict[str, str]) -> str:
    ns, local = split_qn(el.tag)
    if not ns:
        return local
    prefix = next((p for p, n in nsmap.items() if n == ns), None)
    if prefix is None:
        prefix = el.prefix or f"ns{len(nsmap)}"
        nsmap[prefix] = ns
    return f"{prefix}:{local}"


def _quote(value: str) -> str:
    return f"'{value}'" if "'" not in value else f'"{value}"'


def _predicates(el: etree._Element, node: "SchemaNode", schema: "Schema", nsmap: dict[str, str]) -> str:
    if node.keyword == "leaf-list":
        return f"[.={_quote(el.text or '')}]"
    if node.keyword != "list" or not node.keys:
        return ""
    parts = []
    prefix = _prefix_for(node.namespace, schema, nsmap)
    for key in node.keys:
        key_el = el.find(f"{{{node.namespace}}}{key}")
        value = key_el.text or "" if key_el is not None else ""
        parts.append(f"[{prefix}:{key}={_quote(value)}]")
    return "".join(parts)


# --- compiled checkers -------------------------------------------------------------------

def checker(t: "YangType") -> Checker:
    """The compiled checker of ``t``, built on first use and kept on the type object.

    YangType is a mutable (unhashable) dataclass, so the cache lives on the instance rather
    than in a dict keyed by id() (which could be reused after a schema is dropped).
    """
    fn = t.__dict__.get("_checker")
    if fn is None:
        fn = _compile(t)
        t.__dict__["_checker"] = fn
    return fn


def _compile(t: "YangType") -> Checker:
    builders: dict[str, Callable[["YangType"], Checker]] = {
        "decimal64": _decimal64,
        "string": _string,
        "boolean": _boolean,
        "enumeration": _enumeration,
        "bits": _bits,
        "binary": _binary,
        "leafref": _leafref,
        "identityref": _identityref,
        "empty": _empty,
        "union": _union,
        "instance-identifier": _instance_identifier,
    }
    if t.base in _INTEGER_TYPES:
        return _integer(t)
    builder = builders.get(t.base)
    if builder is None:
        raise ValueError(f"unknown YANG built-in type {t.base!r}")
    base_check = builder(t)
    canonicalize = next((_TYPEDEF_CANONICAL[d] for d in t.derived_from if d in _TYPEDEF_CANONICAL), None)
    if canonicalize is None:
        return base_check
    return lambda text, nsmap: canonicalize(base_check(text, nsmap))


def _ipv6_canonical(text: str) -> str:
    """RFC 6991 inet:ipv6-address: the RFC 5952 text form (zone index kept as written)."""
    address, sep, zone = text.partition("%")
    try:
        return ipaddress.IPv6Address(address).compressed + sep + zone
    except ValueError:
        raise Invalid("is not an IPv6 address") from None


def _prefix_canonical(text: str) -> str:
    """RFC 6991 inet:ipv4-prefix / ipv6-prefix: host bits are zero in the canonical form."""
    try:
        return ipaddress.ip_network(text, strict=False).compressed
    except ValueError:
        raise Invalid("is not an IP prefix") from None


#: RFC 6991 typedefs whose description gives a canonical form other than the string itself.
_TYPEDEF_CANONICAL: dict[str, Callable[[str], str]] = {
    "ietf-yang-types:mac-address": str.lower,
    "ietf-yang-types:phys-address": str.lower,
    "ietf-yang-types:hex-string": str.lower,
    "ietf-yang-types:uuid": str.lower,
    "ietf-inet-types:ipv6-address": _ipv6_canonical,
    "ietf-inet-types:ipv6-address-no-zone": _ipv6_canonical,
    "ietf-inet-types:ipv4-prefix": _prefix_canonical,
    "ietf-inet-types:ipv6-prefix": _prefix_canonical,
}


_INTEGER_TYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"})
# RFC 7950 9.2.1 / 9.3.1: optional sign and decimal digits (no hex or octal in instance data)
_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
_DECIMAL_RE = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
# XML whitespace, stripped around numbers only: RFC 7950 gives no whitespace rule, and this is
# what libyang (our test oracle) accepts -- it trims numbers but not booleans, enums,
# identityrefs, empty or base64 values.
_XML_WS = " \t\n\r"


def _format_intervals(intervals: list[tuple[object, object]], maximum: object = None) -> str:
    parts = []
    for lo, hi in intervals:
        hi_text = "max" if maximum is not None and hi == maximum else str(hi)
        parts.append(str(lo) if lo == hi else f"{lo}..{hi_text}")
    return " | ".join(parts)


def _range_test(t: "YangType") -> Callable[[int | Decimal], Invalid | None]:
    """The range check compiled once: a single interval is two comparisons."""
    intervals = list(t.ranges or [])
    shown = _format_intervals(intervals)
    message, app_tag = t.range_error or (None, None)
    failure = Invalid(f"is out of range {shown}", app_tag, message)
    if len(intervals) == 1:
        lo, hi = intervals[0]
        return lambda v: None if lo <= v <= hi else failure
    return lambda v: None if any(lo <= v <= hi for lo, hi in intervals) else failure


def _integer(t: "YangType") -> Checker:
    in_range = _range_test(t)

    def check(text: str, _nsmap: NsMap | None) -> str:
        value_text = text.strip(_XML_WS)
        if not _INTEGER_RE.fullmatch(value_text):
            raise Invalid(f"is not an integer ({t.base})")
        value = int(value_text)
        failure = in_range(value)
        if failure is not None:
            raise failure
        return str(value)

    return check


def _decimal64(t: "YangType") -> Checker:
    digits = t.fraction_digits or 1
    quantum = Decimal(1).scaleb(-digits)
    in_range = _range_test(t)

    def check(text: str, _nsmap: NsMap | None) -> str:
        value_text = text.strip(_XML_WS)
        if not _DECIMAL_RE.fullmatch(value_text):
            raise Invalid("is not a decimal number")
        try:
            value = Decimal(value_text)
        except InvalidOperation:  # pragma: no cover - the regex already excludes this
            raise Invalid("is not a decimal number") from None
        if value.quantize(quantum) != value:
            raise Invalid(f"has more than {digits} fraction digits")
        failure = in_range(value)
        if failure is not None:
            raise failure
        return _decimal_canonical(value)

    return check


def _decimal_canonical(value: Decimal) -> str:
    """RFC 7950 9.3.2: no leading zeros, at least one digit each side, no trailing zeros."""
    text = format(value.normalize(), "f")
    if "." not in text:
        text += ".0"
    if text in ("-0.0",):
        text = "0.0"
    return text


def _length_test(t: "YangType") -> Callable[[int], Invalid | None]:
    from agent.schema import MAX_LENGTH

    intervals = list(t.lengths or [])
    shown = _format_intervals(intervals, MAX_LENGTH)
    message, app_tag = t.length_error or (None, None)

    def test(n: int) -> Invalid | None:
        if any(lo <= n <= hi for lo, hi in intervals):
            return None
        return Invalid(f"has length {n}, outside the allowed length {shown}", app_tag, message)

    return test


def _string(t: "YangType") -> Checker:
    length_ok = _length_test(t)
    patterns = [
        (regex, invert, message, app_tag, Invalid(
            f"{'matches the forbidden' if invert else 'does not match the'} pattern '{_xsd_text(regex)}'",
            app_tag, message))
        for regex, invert, message, app_tag in t.patterns
    ]

    def check(text: str, _nsmap: NsMap | None) -> str:
        failure = length_ok(len(text))
        if failure is not None:
            raise failure
        for regex, invert, _message, _app_tag, mismatch in patterns:
            if (regex.match(text) is None) is not invert:
                raise mismatch
        return text

    return check


def _xsd_text(regex: re.Pattern[str]) -> str:
    """The pattern as the module wrote it (schema compilation remembers it)."""
    from agent.schema import xsd_source

    return xsd_source(regex)


def _boolean(_t: "YangType") -> Checker:
    def check(text: str, _nsmap: NsMap | None) -> str:
        if text not in ("true", "false"):
            raise Invalid("is not a boolean (true or false)")
        return text

    return check


def _enumeration(t: "YangType") -> Checker:
    enums = dict(t.enums or {})
    shown = ", ".join(enums)

    def check(text: str, _nsmap: NsMap | None) -> str:
        if text not in enums:
            raise Invalid(f"is not one of {shown}")
        return text

    return check


def _bits(t: "YangType") -> Checker:
    bits = dict(t.bits or {})
    shown = ", ".join(bits)

    def check(text: str, _nsmap: NsMap | None) -> str:
        names = text.split()
        unknown = [n for n in names if n not in bits]
        if unknown:
            raise Invalid(f"names unknown bit '{unknown[0]}' (bits: {shown})")
        if len(set(names)) != len(names):
            raise Invalid("names a bit twice")
        return " ".join(sorted(names, key=bits.__getitem__))   # RFC 7950 9.7.2: position order

    return check


def _binary(t: "YangType") -> Checker:
    length_ok = _length_test(t)

    def check(text: str, _nsmap: NsMap | None) -> str:
        try:
            data = base64.b64decode(text, validate=True)   # RFC 4648 3.3: no characters outside the alphabet
        except (binascii.Error, ValueError):
            raise Invalid("is not base64 (RFC 4648)") from None
        failure = length_ok(len(data))
        if failure is not None:
            raise Invalid(failure.reason.replace("has length", "decodes to a length of", 1),
                          failure.app_tag, failure.message)
        return base64.b64encode(data).decode("ascii")

    return check


def _leafref(t: "YangType") -> Checker:
    """A leafref's value space is the target leaf's (RFC 7950 9.9); instance checks are the validator's."""
    if t.target_type is not None:
        return checker(t.target_type)
    return lambda text, _nsmap: text


def _identityref(t: "YangType") -> Checker:
    allowed = t.identities or frozenset()
    prefixes = dict(t.identity_prefixes or {})
    by_prefix = {p: ns for ns, p in prefixes.items()}

    def check(text: str, nsmap: NsMap | None) -> str:
        prefix, sep, local = text.rpartition(":")
        mapping: NsMap = nsmap if nsmap is not None else by_prefix
        ns = mapping.get(prefix) if sep else (mapping.get(None) or mapping.get(""))
        if ns is None:
            if sep:
                raise Invalid(f"uses the undeclared prefix '{prefix}'")
            raise Invalid("is not a prefixed identity name")
        if f"{{{ns}}}{local}" not in allowed:
            raise Invalid("is not an identity derived from the base of this identityref")
        return f"{prefixes[ns]}:{local}"

    return check


def _empty(_t: "YangType") -> Checker:
    def check(text: str, _nsmap: NsMap | None) -> str:
        if text:
            raise Invalid("is not allowed: the leaf has type empty and takes no value")
        return ""

    return check


def _union(t: "YangType") -> Checker:
    """RFC 7950 9.12: the first member type (in order) that accepts the value wins."""
    members = [checker(m) for m in t.union or []]
    names = ", ".join(m.name for m in t.union or [])

    def check(text: str, nsmap: NsMap | None) -> str:
        for member in members:
            try:
                return member(text, nsmap)
            except Invalid:
                continue
        raise Invalid(f"matches none of the member types ({names})")

    return check


# RFC 7950 9.13 / RFC 7950 section 14 (instance-identifier grammar, simplified to its tokens)
_IDENT = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_QNAME = rf"{_IDENT}:{_IDENT}"
_QUOTED = r"(?:'[^']*'|\"[^\"]*\")"
_PREDICATE = rf"\[\s*(?:{_QNAME}|\.)\s*=\s*{_QUOTED}\s*\]|\[\s*[1-9][0-9]*\s*\]"
_STEP_RE = re.compile(rf"/({_QNAME})((?:{_PREDICATE})*)")
_PRED_PREFIX_RE = re.compile(rf"\[\s*({_IDENT}):")


def _instance_identifier(_t: "YangType") -> Checker:
    def check(text: str, nsmap: NsMap | None) -> str:
        value = text.strip(_XML_WS)
        pos = 0
        prefixes: list[str] = []
        while pos < len(value):
            match = _STEP_RE.match(value, pos)
            if match is None:
                raise Invalid("is not an instance-identifier (/prefix:node[prefix:key='value']...)")
            prefixes.append(match.group(1).split(":", 1)[0])
            prefixes += _PRED_PREFIX_RE.findall(match.group(2))
            pos = match.end()
        if not value:
            raise Invalid("is not an instance-identifier (it is empty)")
        if nsmap is not None:
            undeclared = [p for p in prefixes if p not in nsmap]
            if undeclared:
                raise Invalid(f"uses the undeclared prefix '{undeclared[0]}'")
        return value

    return check
