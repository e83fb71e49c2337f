"""The agent's compiled schema: pyang's statement tree flattened into plain objects.

CONTRACT (docs/ARCHITECTURE.md): the dataclasses below are what every other module uses
(validation, datastores, edit-config, filters, with-defaults, yang-library).  `load_schema`
fills them from pyang.  Choices and cases are kept for validation (`SchemaNode.choice_path`)
but are transparent for data: `SchemaNode.children` maps each *data* child's Clark tag to its
node, as it appears in XML.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from agent.xmlns import VL2MC_MODULE

Keyword = Literal[
    "container", "list", "leaf", "leaf-list", "anydata", "anyxml",
    "rpc", "action", "notification", "input", "output",
]


@dataclass(frozen=True)
class XPathExpr:
    """A must/when/leafref-path expression with the prefixes valid where it was written."""

    text: str
    #: prefix -> namespace, from the module (and its imports) that wrote the expression
    nsmap: dict[str, str]
    #: namespace of unprefixed names (RFC 7950 section 6.4.1: the namespace of the node the
    #: expression belongs to, which for groupings and typedefs is where they are used)
    default_ns: str | None = None


@dataclass(frozen=True)
class Must:
    expr: XPathExpr
    error_message: str | None = None
    error_app_tag: str | None = None


@dataclass(frozen=True)
class When:
    expr: XPathExpr
    #: True when the when came from an `augment`/`uses`: its context node is the parent of
    #: the node it guards (RFC 7950 section 7.21.5)
    context_is_parent: bool = False


@dataclass
class YangType:
    """A resolved type: typedef chains are followed and restrictions intersected."""

    #: built-in base: int8..uint64, decimal64, string, boolean, enumeration, bits, binary,
    #: leafref, identityref, empty, union, instance-identifier
    base: str
    #: typedef name as written (e.g. "inet:ipv4-address"), for messages
    name: str
    #: int/decimal64 range, always filled for those types (built-in bounds at least);
    #: decimal64 bounds are `decimal.Decimal` so they compare exactly
    ranges: list[tuple[int | float, int | float]] | None = None
    #: string/binary length, always filled for those types ("max" is 2**64-1)
    lengths: list[tuple[int, int | float]] | None = None
    #: (compiled Python regex translated from the XSD pattern, invert-match, error-message, error-app-tag)
    patterns: list[tuple[re.Pattern[str], bool, str | None, str | None]] = field(default_factory=list)
    enums: dict[str, int] | None = None
    bits: dict[str, int] | None = None
    fraction_digits: int | None = None
    leafref_path: XPathExpr | None = None
    require_instance: bool = True
    #: identityref: Clark-notation names of the allowed identities (derived from the bases)
    identities: frozenset[str] | None = None
    union: list["YangType"] | None = None
    #: leafref: the resolved type of the leaf the path points to (values are checked with it)
    target_type: "YangType | None" = None
    #: identityref: namespace -> the defining module's prefix, for the canonical `prefix:name`
    identity_prefixes: dict[str, str] | None = None
    #: typedefs the type derives from, outermost first, as "module:typedef" (lets
    #: yang_types apply the canonical forms RFC 6991 gives, e.g. lowercase mac-address)
    derived_from: tuple[str, ...] = ()
    #: (error-message, error-app-tag) of the innermost `range` / `length` that wrote them
    range_error: tuple[str | None, str | None] | None = None
    length_error: tuple[str | None, str | None] | None = None


@dataclass(frozen=True)
class ChoiceInfo:
    """A `choice` of a data node: what mandatory-choice and default-case rules need."""

    name: str
    #: (choice, case) pairs of the choices this one is nested in, outermost first
    outer: tuple[tuple[str, str], ...]
    cases: tuple[str, ...]
    mandatory: bool = False
    default_case: str | None = None
    when: When | None = None


@dataclass(eq=False)
class SchemaNode:
    keyword: Keyword
    name: str
    namespace: str
    module: str           # name of the module that defines the node's namespace
    prefix: str           # that module's prefix
    parent: "SchemaNode | None"
    config: bool = True
    mandatory: bool = False
    presence: bool = False
    keys: tuple[str, ...] = ()                 # list keys, local names (same namespace as the list)
    unique: list[tuple[str, ...]] = field(default_factory=list)   # descendant schema paths, local names joined by "/"
    min_elements: int = 0
    max_elements: int | None = None
    ordered_by_user: bool = False
    #: leaf: the default string (canonical); leaf-list: tuple of defaults
    default: str | tuple[str, ...] | None = None
    type: YangType | None = None
    units: str | None = None
    musts: list[Must] = field(default_factory=list)
    #: the node's own `when` (or, if it has none, the first inherited one)
    when: When | None = None
    #: every condition for the node to exist, outermost first: whens of enclosing
    #: augments, uses, choices and cases (context_is_parent=True) and the node's own
    whens: tuple[When, ...] = ()
    #: (choice name, case name) pairs from the outermost choice to the innermost, if the node
    #: sits inside choices; used for "only one case at a time" and mandatory choices
    choice_path: tuple[tuple[str, str], ...] = ()
    description: str | None = None
    #: data children by Clark tag, choices/cases flattened; actions and YANG 1.1 nested
    #: notifications are here too (check `keyword`); for rpc/action: "input"/"output" nodes
    children: dict[str, "SchemaNode"] = field(default_factory=dict)
    #: the choices directly below this data node (nested ones included, see ChoiceInfo.outer)
    choices: list[ChoiceInfo] = field(default_factory=list)

    @property
    def tag(self) -> str:
        return f"{{{self.namespace}}}{self.name}"

    def child(self, tag: str) -> "SchemaNode | None":
        return self.children.get(tag)

    def schema_path(self) -> str:
        """`/prefix:a/prefix:b` data path of this node (choices/cases left out)."""
        parts: list[str] = []
        node: SchemaNode | None = self
        while node is not None:
            parts.append(f"{node.prefix}:{node.name}")
            node = node.parent
        return "/" + "/".join(reversed(parts))

    @property
    def is_leaf(self) -> bool:
        return self.keyword in ("leaf", "leaf-list")


@dataclass(frozen=True)
class ModuleInfo:
    """One module or submodule of the schema, for yang-library and get-schema."""

    name: str
    revision: str | None
    namespace: str
    prefix: str
    path: Path                       # the .yang file it was read from (get-schema serves it)
    implemented: bool                # False for import-only modules
    features: tuple[str, ...] = ()
    submodules: tuple[str, ...] = ()
    deviations: tuple[str, ...] = ()


@dataclass
class Schema:
    modules: dict[str, ModuleInfo]
    #: top-level data nodes by Clark tag
    roots: dict[str, SchemaNode]
    #: rpcs and notifications by Clark tag
    rpcs: dict[str, SchemaNode]
    notifications: dict[str, SchemaNode]
    #: namespace -> (module name, prefix)
    namespaces: dict[str, tuple[str, str]]

    def root(self, tag: str) -> SchemaNode | None:
        return self.roots.get(tag)



# ------------------------------------------------------------------------------------------
# Compilation with pyang
# ------------------------------------------------------------------------------------------

#: The IETF modules the server implements (SPEC section 4), in the order yang-library lists them.
#: `ietf-netconf-acm` (RFC 8341) joins only with the code that enforces it: advertising NACM,
#: with its `enable-nacm true` default in get-config, while nothing checks access would make a
#: user believe access control is on.  `ietf-netconf-notifications` (RFC 6470) is here because
#: `agent.notifications` sends its events.
IETF_MODULES: tuple[str, ...] = (
    "ietf-netconf",
    "ietf-netconf-with-defaults",
    "ietf-netconf-monitoring",
    "ietf-yang-library",
    "ietf-datastores",
    "ietf-netconf-nmda",
    "ietf-origin",
    "ietf-netconf-notifications",
    "ietf-yang-types",
    "ietf-inet-types",
)

#: RFC 5277 (create-subscription, /netconf/streams, replayComplete, notificationComplete) as
#: YANG: the RFC has only an XML Schema and pyang ships no module for it, so the repository
#: carries its own in :data:`RFC5277_YANG_DIR` (searched whatever the YANG directory is).
RFC5277_MODULES: tuple[str, ...] = ("notifications", "nc-notifications")
RFC5277_YANG_DIR = Path(__file__).resolve().parent.parent / "yang" / "rfc5277"

#: Features the server supports where a module defines some it does not (`:url` is not
#: implemented, SPEC section 4).  Modules not listed here have all their features enabled.
DEFAULT_FEATURES: dict[str, tuple[str, ...]] = {
    "ietf-netconf": (
        "writable-running", "candidate", "confirmed-commit", "rollback-on-error",
        "validate", "startup", "xpath",
    ),
}

#: RFC 7950 section 9.2: value space of the integer built-ins.
INTEGER_BOUNDS: dict[str, tuple[int, int]] = {
    "int8": (-2**7, 2**7 - 1),
    "int16": (-2**15, 2**15 - 1),
    "int32": (-2**31, 2**31 - 1),
    "int64": (-2**63, 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}
#: RFC 7950 section 9.4.4: "max" of a length is 18446744073709551615.
MAX_LENGTH = 2**64 - 1

_DATA_KEYWORDS = frozenset({"container", "list", "leaf", "leaf-list", "anydata", "anyxml"})


class SchemaError(Exception):
    """pyang rejected the modules; ``errors`` holds pyang's messages with file and line."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("YANG compilation failed:\n  " + "\n  ".join(errors))


def load_schema(
    module_names: list[str] | None = None,
    search_path: list[Path] | None = None,
    *,
    features: dict[str, tuple[str, ...]] | None = None,
) -> Schema:
    """Compile our module and the IETF modules the server implements with pyang.

    ``search_path`` defaults to the repository's ``yang/`` directory; pyang's own module
    directory (where ietf-netconf, ietf-yang-types, ietf-inet-types ... live) is always
    searched after it, so a caller that gives its own directory still finds the imports.
    ``module_names`` defaults to ``vsi-l2-multicast`` (when present in ``yang/``) plus
    :data:`IETF_MODULES` and :data:`RFC5277_MODULES` (whose directory is always searched
    too).  Requested modules that define something a server can implement (data, rpcs,
    notifications, identities, augments) are ``implemented``; everything else pyang loads
    for imports is import-only.  Raises :class:`SchemaError` on any pyang error.
    """
    ctx, requested = _pyang_context(module_names, search_path, features)
    return _SchemaBuilder(ctx, requested).build()


def _pyang_context(
    module_names: list[str] | None,
    search_path: list[Path] | None,
    features: dict[str, tuple[str, ...]] | None,
) -> tuple[Any, list[str]]:
    """Parse and validate the modules with pyang; the validated context and the requested names."""
    from pyang import context, error, repository

    from agent import paths

    dirs = list(search_path) if search_path is not None else [paths.yang_dir()]
    if not any(_is_under(RFC5277_YANG_DIR, d) for d in dirs):   # pyang searches dirs recursively
        dirs.append(RFC5277_YANG_DIR)
    dirs += [d for d in paths.pyang_module_dirs() if d not in dirs]
    existing = [str(d) for d in dirs if Path(d).is_dir()]
    repo = repository.FileRepository(os.pathsep.join(existing), use_env=False)
    ctx = context.Context(repo)
    ctx.features = {m: list(f) for m, f in (DEFAULT_FEATURES if features is None else features).items()}

    if module_names is None:
        ours = [VL2MC_MODULE] if VL2MC_MODULE in ctx.revs else []
        module_names = ours + list(IETF_MODULES) + list(RFC5277_MODULES)
    missing = [name for name in module_names if name not in ctx.revs]
    if missing:
        raise SchemaError([f"module '{name}' not found in {os.pathsep.join(existing)}" for name in missing])

    for name in module_names:
        _revision, handle = max(ctx.revs[name], key=lambda rh: rh[0] or "")
        ref, in_format, text = repo.get_module_from_handle(handle)
        if ctx.get_module(name) is None:
            ctx.add_module(ref, text, in_format, expect_modulename=name, primary_module=True)
    ctx.validate()
    errors = [
        f"{pos}: {error.err_to_str(tag, args)}"
        for pos, tag, args in ctx.errors
        if error.is_error(error.err_level(tag))
    ]
    if errors:
        raise SchemaError(errors)
    return ctx, list(module_names)


def _is_under(path: Path, directory: Path | str) -> bool:
    """True when ``path`` is ``directory`` or inside it (both resolved)."""
    try:
        return Path(path).resolve().is_relative_to(Path(directory).resolve())
    except OSError:
        return False


def _arg(stmt: Any, keyword: str) -> str | None:
    sub = stmt.search_one(keyword)
    return sub.arg if sub is not None else None


def _module_name(stmt: Any) -> str:
    """The (main) module whose namespace ``stmt`` is in; modules have no ``i_module`` of their own."""
    return stmt.i_module.i_modulename if stmt.i_module is not None else stmt.i_modulename


def _local(name: str) -> str:
    """`prefix:name` -> `name` (schema node identifiers inside our own namespace)."""
    return name.rpartition(":")[2]


class _SchemaBuilder:
    """Walks pyang's validated statement tree once and builds the agent's plain objects."""

    def __init__(self, ctx: Any, requested: list[str]) -> None:
        self.ctx = ctx
        self.requested = requested
        self.main_modules = {
            m.arg: m for m in ctx.modules.values() if m.keyword == "module"
        }
        self.namespaces: dict[str, tuple[str, str]] = {}
        self.module_ns: dict[str, str] = {}
        for name, mod in self.main_modules.items():
            ns = _arg(mod, "namespace") or ""
            self.module_ns[name] = ns
            self.namespaces[ns] = (name, _arg(mod, "prefix") or "")
        self.implemented = {name for name in requested if self._implementable(self.main_modules[name])}
        self._derived = self._identity_derivations()
        self._type_cache: dict[int, YangType] = {}
        self._leaf_types: dict[int, YangType] = {}

    # --- modules ---------------------------------------------------------------------------

    @staticmethod
    def _implementable(mod: Any) -> bool:
        """A module with only typedefs/groupings/features/extensions has nothing to implement."""
        keywords = {"container", "list", "leaf", "leaf-list", "anydata", "anyxml", "choice",
                    "uses", "rpc", "notification", "identity", "augment", "deviation"}
        stmts = list(mod.substmts)
        for inc in mod.search("include"):
            sub = mod.i_ctx.get_module(inc.arg)
            if sub is not None:
                stmts += sub.substmts
        return any(s.keyword in keywords for s in stmts)

    def build(self) -> Schema:
        """Roots, rpcs and notifications of the implemented modules.

        Augments are already applied by pyang: nodes an implemented module adds to another
        module's tree appear under that tree, in the augmenting module's namespace.
        """
        schema = Schema(modules=self._module_infos(), roots={}, rpcs={}, notifications={},
                        namespaces=dict(self.namespaces))
        for name in self.requested:
            if name not in self.implemented:
                continue
            mod = self.main_modules[name]
            for stmt in self._data_children(mod):
                self._add_children(None, stmt, schema.roots, [], (), ())
            for stmt in mod.i_children:
                if getattr(stmt, "i_not_implemented", False):
                    continue
                if stmt.keyword == "rpc":
                    node = self._node(stmt, None, (), ())
                    schema.rpcs[node.tag] = node
                elif stmt.keyword == "notification":
                    node = self._node(stmt, None, (), ())
                    schema.notifications[node.tag] = node
        return schema

    def _module_infos(self) -> dict[str, ModuleInfo]:
        infos: dict[str, ModuleInfo] = {}
        for mod in self.ctx.modules.values():
            main = self.main_modules.get(mod.i_modulename)
            if main is None:
                continue
            enabled = self.ctx.features.get(mod.i_modulename)
            defined = [f.arg for f in mod.search("feature")]
            feats = tuple(f for f in defined if enabled is None or f in enabled)
            revisions = sorted((r.arg for r in mod.search("revision")), reverse=True)
            infos[mod.arg] = ModuleInfo(
                name=mod.arg,
                revision=revisions[0] if revisions else None,
                namespace=self.module_ns[main.arg],
                prefix=self.namespaces[self.module_ns[main.arg]][1],
                path=Path(mod.pos.ref).resolve(),
                implemented=main.arg in self.implemented,
                features=feats,
                submodules=tuple(i.arg for i in mod.search("include")),
                deviations=tuple(
                    m.arg for m in self.main_modules.values()
                    if m.arg in self.implemented and any(
                        self._deviates(d, main.arg) for d in m.search("deviation"))
                ),
            )
        return infos

    def _deviates(self, deviation: Any, module_name: str) -> bool:
        target = getattr(deviation, "i_target_node", None)
        return target is not None and target.i_module.i_modulename == module_name

    # --- namespaces and XPath ---------------------------------------------------------------

    def _nsmap(self, stmt: Any) -> dict[str, str]:
        """prefix -> namespace valid where ``stmt`` was written: its module's prefix and imports."""
        mod = stmt.i_orig_module
        nsmap: dict[str, str] = {}
        for prefix, (name, _rev) in mod.i_prefixes.items():
            target = self.ctx.get_module(name)
            main = target.i_modulename if target is not None else name
            if main in self.module_ns:
                nsmap[prefix] = self.module_ns[main]
        return nsmap

    def _xpath(self, stmt: Any, default_ns: str | None) -> XPathExpr:
        return XPathExpr(stmt.arg, self._nsmap(stmt), default_ns)

    def _musts(self, stmt: Any, ns: str) -> list[Must]:
        return [
            Must(self._xpath(m, ns), _arg(m, "error-message"), _arg(m, "error-app-tag"))
            for m in stmt.search("must")
        ]

    def _whens(self, stmt: Any, ns: str) -> tuple[When | None, list[When]]:
        """(own when, inherited whens from augment and uses) of a data node."""
        own: When | None = None
        inherited: list[When] = []
        augment = getattr(stmt, "i_augment", None)
        if augment is not None and augment.search_one("when") is not None:
            inherited.append(When(self._xpath(augment.search_one("when"), ns), context_is_parent=True))
        for w in stmt.search("when"):
            if getattr(w, "i_origin", None) == "uses":
                inherited.append(When(self._xpath(w, ns), context_is_parent=True))
            else:
                own = When(self._xpath(w, ns))
        return own, inherited

    # --- data tree ------------------------------------------------------------------------

    def _data_children(self, stmt: Any) -> list[Any]:
        return [c for c in getattr(stmt, "i_children", [])
                if not getattr(c, "i_not_implemented", False)
                and (c.keyword in _DATA_KEYWORDS or c.keyword == "choice")
                and (c.i_module.i_modulename in self.implemented
                     or c.i_module.i_modulename == _module_name(stmt))]

    def _add_children(
        self,
        parent: SchemaNode | None,
        stmt: Any,
        into: dict[str, SchemaNode],
        choices: list[ChoiceInfo],
        choice_path: tuple[tuple[str, str], ...],
        outer_whens: tuple[When, ...],
    ) -> None:
        """Add ``stmt`` (a data node or a choice, flattened) under ``parent`` into ``into``."""
        if stmt.keyword != "choice":
            node = self._node(stmt, parent, choice_path, outer_whens)
            into[node.tag] = node
            return
        ns = self.module_ns[stmt.i_module.i_modulename]
        choice_when, inherited = self._whens(stmt, ns)
        choice_whens = outer_whens + tuple(inherited)
        if choice_when is not None:
            choice_whens += (When(choice_when.expr, context_is_parent=True),)
        cases = [c for c in stmt.i_children if not getattr(c, "i_not_implemented", False)]
        choices.append(ChoiceInfo(
            name=stmt.arg,
            outer=choice_path,
            cases=tuple(c.arg for c in cases),
            mandatory=_arg(stmt, "mandatory") == "true",
            default_case=_arg(stmt, "default"),
            when=choice_when and When(choice_when.expr, context_is_parent=True),
        ))
        for case in cases:
            case_own, case_inherited = self._whens(case, ns)
            case_whens = choice_whens + tuple(case_inherited)
            if case_own is not None:
                case_whens += (When(case_own.expr, context_is_parent=True),)
            for child in self._data_children(case):
                self._add_children(parent, child, into, choices,
                                   choice_path + ((stmt.arg, case.arg),), case_whens)

    def _node(
        self,
        stmt: Any,
        parent: SchemaNode | None,
        choice_path: tuple[tuple[str, str], ...],
        outer_whens: tuple[When, ...],
    ) -> SchemaNode:
        module = stmt.i_module.i_modulename
        ns = self.module_ns[module]
        own_when, inherited = self._whens(stmt, ns)
        whens = outer_whens + tuple(inherited) + ((own_when,) if own_when else ())
        node = SchemaNode(
            keyword=stmt.keyword,
            name=stmt.arg if stmt.keyword not in ("input", "output") else stmt.keyword,
            namespace=ns,
            module=module,
            prefix=self.namespaces[ns][1],
            parent=parent,
            config=self._config(stmt, parent),
            mandatory=_arg(stmt, "mandatory") == "true",
            presence=stmt.keyword == "container" and stmt.search_one("presence") is not None,
            min_elements=int(_arg(stmt, "min-elements") or 0),
            max_elements=self._max_elements(stmt),
            ordered_by_user=_arg(stmt, "ordered-by") == "user",
            units=self._units(stmt),
            musts=self._musts(stmt, ns),
            when=own_when or (whens[-1] if whens else None),
            whens=whens,
            choice_path=choice_path,
            description=_arg(stmt, "description"),
        )
        if stmt.keyword == "list":
            node.keys = tuple(_local(k) for k in (_arg(stmt, "key") or "").split())
            node.unique = [tuple("/".join(_local(p) for p in path.split("/")) for path in u.arg.split())
                           for u in stmt.search("unique")]
        if stmt.keyword in ("leaf", "leaf-list"):
            node.type = self._leaf_type(stmt)
            node.default = self._default(stmt, node)
        self._fill_children(stmt, node)
        return node

    def _fill_children(self, stmt: Any, node: SchemaNode) -> None:
        if stmt.keyword in ("rpc", "action"):
            for keyword in ("input", "output"):
                sub = next((c for c in stmt.i_children if c.keyword == keyword), None)
                if sub is not None:
                    node.children[keyword] = self._node(sub, node, (), ())
            return
        for child in self._data_children(stmt):
            self._add_children(node, child, node.children, node.choices, (), ())
        for child in getattr(stmt, "i_children", []):
            if child.keyword in ("action", "notification") and not getattr(child, "i_not_implemented", False):
                sub = self._node(child, node, (), ())
                node.children[sub.tag] = sub

    @staticmethod
    def _config(stmt: Any, parent: SchemaNode | None) -> bool:
        """RFC 7950 section 7.21.1; nodes in rpcs, actions and notifications are never config."""
        if stmt.keyword in ("rpc", "action", "notification", "input", "output"):
            return False
        if parent is not None and not parent.config:
            return False
        return bool(getattr(stmt, "i_config", True))

    @staticmethod
    def _max_elements(stmt: Any) -> int | None:
        value = _arg(stmt, "max-elements")
        return None if value in (None, "unbounded") else int(value)

    def _units(self, stmt: Any) -> str | None:
        units = _arg(stmt, "units")
        type_stmt = stmt.search_one("type")
        while units is None and type_stmt is not None and type_stmt.i_typedef is not None:
            units = _arg(type_stmt.i_typedef, "units")
            type_stmt = type_stmt.i_typedef.search_one("type")
        return units

    # --- defaults --------------------------------------------------------------------------

    def _default(self, stmt: Any, node: SchemaNode) -> str | tuple[str, ...] | None:
        """Leaf: its default or the typedef chain's; leaf-list: its defaults (RFC 7950 7.7.4)."""
        from agent.yang_types import check_value

        written = list(stmt.search("default"))
        if not written:
            type_stmt = stmt.search_one("type")
            while type_stmt is not None and type_stmt.i_typedef is not None:
                found = type_stmt.i_typedef.search_one("default")
                if found is not None:
                    written = [found]
                    break
                type_stmt = type_stmt.i_typedef.search_one("type")
        if not written or node.mandatory or node.min_elements > 0:
            return None
        assert node.type is not None
        values = tuple(check_value(node.type, d.arg, self._nsmap(d)) for d in written)
        return values if stmt.keyword == "leaf-list" else values[0]

    # --- types -----------------------------------------------------------------------------

    def _leaf_type(self, stmt: Any) -> YangType:
        """The resolved type of a leaf or leaf-list, leafref targets included."""
        cached = self._leaf_types.get(id(stmt))
        if cached is not None:
            return cached
        ns = self.module_ns[stmt.i_module.i_modulename]
        yang_type = self._type(stmt.search_one("type"), stmt, ns)
        self._leaf_types[id(stmt)] = yang_type
        return yang_type

    def _type(self, type_stmt: Any, leaf: Any, ns: str) -> YangType:
        """Resolve ``type_stmt`` through its typedef chain (restrictions intersected)."""
        if not self._uses_leafref(type_stmt):
            cached = self._type_cache.get(id(type_stmt))
            if cached is None:
                cached = self._resolve(type_stmt, leaf, ns)
                self._type_cache[id(type_stmt)] = cached
            return cached
        return self._resolve(type_stmt, leaf, ns)

    def _uses_leafref(self, type_stmt: Any) -> bool:
        """Leafref targets depend on the leaf (relative paths), so such types are not shared."""
        while type_stmt is not None:
            if type_stmt.arg in ("leafref", "instance-identifier") or type_stmt.search_one("path"):
                return True
            if any(self._uses_leafref(m) for m in type_stmt.search("type")):
                return True
            typedef = type_stmt.i_typedef
            type_stmt = typedef.search_one("type") if typedef is not None else None
        return False

    def _resolve(self, type_stmt: Any, leaf: Any, ns: str) -> YangType:
        typedef = type_stmt.i_typedef
        if typedef is not None:
            base = self._type(typedef.search_one("type"), leaf, ns)
            result = replace(base, name=type_stmt.arg, patterns=list(base.patterns),
                             derived_from=(f"{typedef.i_module.i_modulename}:{typedef.arg}",) + base.derived_from)
        else:
            result = self._builtin(type_stmt.arg)
        self._restrict(result, type_stmt, leaf, ns)
        return result

    @staticmethod
    def _builtin(name: str) -> YangType:
        result = YangType(base=name, name=name)
        if name in INTEGER_BOUNDS:
            result.ranges = [INTEGER_BOUNDS[name]]
        elif name in ("string", "binary"):
            result.lengths = [(0, MAX_LENGTH)]
        return result

    def _restrict(self, result: YangType, type_stmt: Any, leaf: Any, ns: str) -> None:
        """Apply the restrictions written in ``type_stmt`` on top of its base."""
        fraction = type_stmt.search_one("fraction-digits")
        if fraction is not None:
            result.fraction_digits = int(fraction.arg)
            scale = Decimal(1).scaleb(-result.fraction_digits)
            result.ranges = [(Decimal(-2**63) * scale, Decimal(2**63 - 1) * scale)]
        range_stmt = type_stmt.search_one("range")
        if range_stmt is not None and result.ranges is not None:
            parse = int if result.base in INTEGER_BOUNDS else Decimal
            result.ranges = _parse_intervals(range_stmt.arg, result.ranges, parse)
            result.range_error = (_arg(range_stmt, "error-message"), _arg(range_stmt, "error-app-tag"))
        length = type_stmt.search_one("length")
        if length is not None and result.lengths is not None:
            result.lengths = _parse_intervals(length.arg, result.lengths, int)
            result.length_error = (_arg(length, "error-message"), _arg(length, "error-app-tag"))
        for pattern in type_stmt.search("pattern"):
            modifier = _arg(pattern, "modifier")
            result.patterns.append((
                compile_xsd_pattern(pattern.arg), modifier == "invert-match",
                _arg(pattern, "error-message"), _arg(pattern, "error-app-tag"),
            ))
        enums = type_stmt.search("enum")
        if enums:
            result.enums = {e.arg: self._enum_value(e, result) for e in enums}
        bits = type_stmt.search("bit")
        if bits:
            result.bits = {b.arg: self._bit_position(b, result) for b in bits}
        path = type_stmt.search_one("path")
        if path is not None:
            result.leafref_path = XPathExpr(path.arg, self._nsmap(path), ns)
            result.target_type = self._leafref_target(type_stmt, leaf)
        require = type_stmt.search_one("require-instance")
        if require is not None:
            result.require_instance = require.arg == "true"
        bases = [b for b in type_stmt.search("base") if getattr(b, "i_identity", None) is not None]
        if bases:
            result.identities = self._identities_derived_from_all([b.i_identity for b in bases])
            result.identity_prefixes = {
                _split_clark(i)[0]: self.namespaces[_split_clark(i)[0]][1] for i in result.identities
            }
        members = type_stmt.search("type")
        if members:
            result.union = [self._type(m, leaf, ns) for m in members]

    @staticmethod
    def _enum_value(enum: Any, result: YangType) -> int:
        if result.enums is not None and enum.arg in result.enums:
            return result.enums[enum.arg]        # a restriction keeps the base's value
        value = getattr(enum, "i_value", None)
        return int(value if value is not None else _arg(enum, "value") or 0)

    @staticmethod
    def _bit_position(bit: Any, result: YangType) -> int:
        if result.bits is not None and bit.arg in result.bits:
            return result.bits[bit.arg]
        position = getattr(bit, "i_position", None)
        return int(position if position is not None else _arg(bit, "position") or 0)

    def _leafref_target(self, type_stmt: Any, leaf: Any) -> YangType | None:
        """The type of the leaf a leafref points to, as pyang resolved the path for ``leaf``."""
        from pyang import statements, types

        target = None
        ptr = getattr(leaf, "i_leafref_ptr", None)
        if ptr is not None and self._is_in_chain(type_stmt, leaf.search_one("type")):
            target = ptr[0]
        else:
            spec = type_stmt.i_type_spec
            if isinstance(spec, types.PathTypeSpec):
                found = statements.validate_leafref_path(
                    self.ctx, leaf, spec.path_spec, spec.path_, accept_non_config_target=True)
                target = found[0] if found else None
        if target is None or target is leaf:
            return None
        return self._leaf_type(target)

    @staticmethod
    def _is_in_chain(type_stmt: Any, top: Any) -> bool:
        """True if ``type_stmt`` is ``top`` or a type statement of its typedef chain."""
        while top is not None:
            if top is type_stmt:
                return True
            top = top.i_typedef.search_one("type") if top.i_typedef is not None else None
        return False

    # --- identities ------------------------------------------------------------------------

    def _identity_derivations(self) -> dict[int, set[Any]]:
        """id(identity statement) -> the identity statements directly derived from it."""
        derived: dict[int, set[Any]] = {}
        for mod in self.ctx.modules.values():
            for identity in mod.search("identity"):
                for base in identity.search("base"):
                    parent = getattr(base, "i_identity", None)
                    if parent is not None:
                        derived.setdefault(id(parent), set()).add(identity)
        return derived

    def _all_derived(self, identity: Any) -> set[Any]:
        found: set[Any] = set()
        todo = [identity]
        while todo:
            for child in self._derived.get(id(todo.pop()), ()):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return found

    def _identities_derived_from_all(self, bases: list[Any]) -> frozenset[str]:
        """RFC 7950 9.10.2: with several bases a value must be derived from every one of them."""
        common = set.intersection(*(self._all_derived(b) for b in bases))
        return frozenset(
            f"{{{self.module_ns[i.i_module.i_modulename]}}}{i.arg}" for i in common
        )


def _split_clark(tag: str) -> tuple[str, str]:
    ns, _, local = tag[1:].partition("}")
    return ns, local


def _parse_intervals(
    text: str,
    base: list[tuple[Any, Any]],
    parse: Any,
) -> list[tuple[Any, Any]]:
    """A range/length argument (``"1..10 | 20 | min..max"``) with min/max taken from the base.

    pyang has already checked that the restriction lies inside the base, so the result is
    the intersection RFC 7950 section 9.2.4 asks for.
    """
    lowest, highest = base[0][0], base[-1][1]

    def bound(value: str) -> Any:
        value = value.strip()
        if value == "min":
            return lowest
        if value == "max":
            return highest
        return parse(value)

    intervals: list[tuple[Any, Any]] = []
    for part in text.split("|"):
        lo, sep, hi = part.partition("..")
        low = bound(lo)
        intervals.append((low, bound(hi) if sep else low))
    return intervals


def compile_xsd_pattern(pattern: str) -> re.Pattern[str]:
    """An XSD regular expression (YANG `pattern`, RFC 7950 9.4.5) as an anchored Python regex.

    XSD regexes are implicitly anchored and have their own escapes (``\\i``, ``\\c``,
    ``\\p{IsBasicLatin}``, class subtraction ``[a-z-[aeiou]]``).  pyang only checks them
    through libxml2's XML Schema engine, so the translation is elementpath's (the XPath/XSD
    library yangson also uses), which implements the full XSD 1.0 regex grammar.
    """
    from elementpath import translate_pattern

    regex = re.compile(translate_pattern(pattern, back_references=False, lazy_quantifiers=False,
                                         anchors=False))
    _XSD_SOURCES[regex] = pattern
    return regex


_XSD_SOURCES: dict[re.Pattern[str], str] = {}


def xsd_source(regex: re.Pattern[str]) -> str:
    """The XSD pattern as the module wrote it (for messages), given its compiled translation."""
    return _XSD_SOURCES.get(regex, regex.pattern)
