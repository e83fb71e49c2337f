"""RFC 8525 YANG library 1.1: `/yang-library` (and the deprecated `/modules-state`).

The agent has one schema for every datastore, so the library is one module set
(``complete``), one schema (``complete``) and the five NMDA datastores pointing at it.
Implemented modules go to ``module``, modules loaded only for their imports to
``import-only-module``.  The ``content-id`` is a digest of the module set *and of the module
files' text*, so it changes whenever what the server runs changes, even a module edited
without a new revision.

``/modules-state`` (RFC 7895) is kept because it costs one more loop and older clients
(ncclient-based scripts among them) still read it; its ``module-set-id`` is the content-id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from lxml import etree

from agent.netconf_get import register_builtin_state
from agent.schema import ModuleInfo, Schema
from agent.xmlns import DATASTORES, YANG_LIBRARY, qn

if TYPE_CHECKING:  # pragma: no cover
    from agent.server import Server

Element = etree._Element

YANG_LIBRARY_TAG = qn(YANG_LIBRARY, "yang-library")
MODULES_STATE_TAG = qn(YANG_LIBRARY, "modules-state")
MODULE_SET = "complete"
SCHEMA = "complete"
#: RFC 8342 datastores this server has (intended = running, see agent.nmda).
NMDA_DATASTORES = ("running", "candidate", "startup", "intended", "operational")


def content_id(schema: Schema) -> str:
    """A digest of every module's identity, features, deviations and file text."""
    digest = hashlib.sha256()
    for name in sorted(schema.modules):
        m = schema.modules[name]
        digest.update(repr((m.name, m.revision, m.namespace, m.implemented, sorted(m.features),
                            sorted(m.submodules), sorted(m.deviations))).encode())
        try:
            digest.update(m.path.read_bytes())
        except OSError:
            digest.update(b"<unreadable>")
    return digest.hexdigest()[:16]


def server_content_id(server: "Server") -> str:
    """The content-id the server announces in its hello (computed once by :func:`content_id`)."""
    return server.content_id()


def _leaf(parent: Element, name: str, text: str) -> Element:
    el = etree.SubElement(parent, qn(YANG_LIBRARY, name))
    el.text = text
    return el


@register_builtin_state(YANG_LIBRARY_TAG)
def yang_library(server: "Server") -> Element:
    """`/yang-library` for the server's schema."""
    library = etree.Element(YANG_LIBRARY_TAG, nsmap={None: YANG_LIBRARY})
    module_set = etree.SubElement(library, qn(YANG_LIBRARY, "module-set"))
    _leaf(module_set, "name", MODULE_SET)
    modules = sorted(server.schema.modules.values(), key=lambda m: m.name)
    for module in modules:
        if module.implemented:
            _module(module_set, module)
    for module in modules:
        if not module.implemented:
            _import_only_module(module_set, module)
    schema = etree.SubElement(library, qn(YANG_LIBRARY, "schema"))
    _leaf(schema, "name", SCHEMA)
    _leaf(schema, "module-set", MODULE_SET)
    for name in NMDA_DATASTORES:
        datastore = etree.SubElement(library, qn(YANG_LIBRARY, "datastore"))
        ref = etree.SubElement(datastore, qn(YANG_LIBRARY, "name"), nsmap={"ds": DATASTORES})
        ref.text = f"ds:{name}"
        _leaf(datastore, "schema", SCHEMA)
    _leaf(library, "content-id", server_content_id(server))
    return library


def _module(parent: Element, module: ModuleInfo) -> None:
    entry = etree.SubElement(parent, qn(YANG_LIBRARY, "module"))
    _leaf(entry, "name", module.name)
    if module.revision:
        _leaf(entry, "revision", module.revision)
    _leaf(entry, "namespace", module.namespace)
    _submodules(entry, module.submodules)
    for feature in module.features:
        _leaf(entry, "feature", feature)
    for deviation in module.deviations:
        _leaf(entry, "deviation", deviation)


def _import_only_module(parent: Element, module: ModuleInfo) -> None:
    entry = etree.SubElement(parent, qn(YANG_LIBRARY, "import-only-module"))
    _leaf(entry, "name", module.name)
    _leaf(entry, "revision", module.revision or "")
    _leaf(entry, "namespace", module.namespace)
    _submodules(entry, module.submodules)


def _submodules(entry: Element, names: Iterable[str]) -> None:
    for name in names:
        sub = etree.SubElement(entry, qn(YANG_LIBRARY, "submodule"))
        _leaf(sub, "name", name)


@register_builtin_state(MODULES_STATE_TAG)
def modules_state(server: "Server") -> Element:
    """RFC 7895 `/modules-state` (deprecated by RFC 8525, still read by older clients)."""
    state = etree.Element(MODULES_STATE_TAG, nsmap={None: YANG_LIBRARY})
    _leaf(state, "module-set-id", server_content_id(server))
    for module in sorted(server.schema.modules.values(), key=lambda m: m.name):
        entry = etree.SubElement(state, qn(YANG_LIBRARY, "module"))
        _leaf(entry, "name", module.name)
        _leaf(entry, "revision", module.revision or "")
        _leaf(entry, "namespace", module.namespace)
        if module.implemented:
            for feature in module.features:
                _leaf(entry, "feature", feature)
        _leaf(entry, "conformance-type", "implement" if module.implemented else "import")
        for name in module.submodules:
            sub = etree.SubElement(entry, qn(YANG_LIBRARY, "submodule"))
            _leaf(sub, "name", name)
            _leaf(sub, "revision", "")
    return state
