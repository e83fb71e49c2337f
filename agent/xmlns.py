"""XML namespaces the agent speaks, in one place so no module spells a URN twice."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from lxml import etree

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
#: Our module (SPEC section 3).
VL2MC = "urn:vsi-multicast-agent:yang:vsi-l2-multicast"
VL2MC_MODULE = "vsi-l2-multicast"
VL2MC_PREFIX = "vl2mc"

YANG = "urn:ietf:params:xml:ns:yang:1"  # RFC 7950 section 7.8.5 (yang:insert, yang:key ...)
WITH_DEFAULTS = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
WD_ATTR = "urn:ietf:params:xml:ns:netconf:default:1.0"  # RFC 6243 section 6 (wd:default attribute)
MONITORING = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
YANG_LIBRARY = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
DATASTORES = "urn:ietf:params:xml:ns:yang:ietf-datastores"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
ORIGIN = "urn:ietf:params:xml:ns:yang:ietf-origin"
NOTIFICATION = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NETMOD_NOTIFICATION = "urn:ietf:params:xml:ns:netmod:notification"
NC_NOTIFICATIONS = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"

#: Private namespace for bookkeeping attributes on datastore elements.  Never sent on the wire:
#: `agent.datastore` strips it from every reply.  `DEFAULT_MARK` flags a node that exists only
#: because the schema gives it a default (RFC 6243 "default" vs. explicitly set).
INTERNAL = "urn:vsi-multicast-agent:internal"
DEFAULT_MARK = f"{{{INTERNAL}}}dflt"


def qn(ns: str, name: str) -> str:
    """Clark notation `{ns}name`, the form lxml uses for tags."""
    return f"{{{ns}}}{name}"


def element_children(element: "etree._Element") -> "list[etree._Element]":
    """Child elements only: comments and processing instructions are neither operations,
    filter nodes nor data."""
    return [child for child in element if isinstance(child.tag, str)]


def is_within(element: "etree._Element", root: "etree._Element") -> bool:
    """True when ``element`` is ``root`` or inside it (an element detached by an edit is not)."""
    node: etree._Element | None = element
    while node is not None:
        if node is root:
            return True
        node = node.getparent()
    return False


def split_qn(tag: str) -> tuple[str, str]:
    """Inverse of :func:`qn`; a tag without a namespace gives ``("", name)``."""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag
