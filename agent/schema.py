"""The agent's compiled schema: pyang's statement tree flattened into plain objects.

CONTRACT (docs/ARCHITECTURE.md): the dataclasses below are what every other module uses
(validation, datastores, edit-config, filters, with-defaults, yang-library).  `load_schema`
fills them from pyang.  Choices and cases are kept for validation (`SchemaNode.choice_path`)
but are transparent for data: `SchemaNode.children` maps each *data* child's Clark tag to its
node, as it appears in XML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

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
    ranges: list[tuple[int | float, int | float]] | None = None   # int/decimal64 range
    lengths: list[tuple[int, int | float]] | None = None           # string/binary length
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
    when: When | None = None
    #: (choice name, case name) pairs from the outermost choice to the innermost, if the node
    #: sits inside choices; used for "only one case at a time" and mandatory choices
    choice_path: tuple[tuple[str, str], ...] = ()
    description: str | None = None
    #: data children by Clark tag, choices/cases flattened; for rpc/action: "input"/"output" nodes
    children: dict[str, "SchemaNode"] = field(default_factory=dict)

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


def load_schema(module_names: list[str] | None = None, search_path: list[Path] | None = None) -> Schema:
    """Compile our module and the IETF modules the server implements with pyang.

    ``search_path`` defaults to the repository's ``yang/`` directory followed by pyang's own
    module directory (where ietf-netconf, ietf-yang-types, ietf-inet-types ... live).
    """
    raise NotImplementedError("implemented by the schema work (docs/ARCHITECTURE.md)")
