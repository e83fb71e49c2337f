"""The configuration boundary: a datastore tree in, the dataplane's dataclasses out.

The agent keeps configuration as YANG data (``agent.datastore``); the dataplane takes frozen
dataclasses (:mod:`dataplane.config`) and never sees XML (STYLE: layers point one way).
:func:`device_config` is the one translation from the first to the second, and
:func:`config_error_path` carries a refusal back: the dataplane names the offending item in
its own short path syntax (``vsi[iptv]/pw[10.0.0.2,100]/role``) and the agent answers with
an RFC 6241 ``error-path``, an instance identifier of the same node in the datastore.

The tree is a validated datastore with defaults instantiated (ARCHITECTURE.md "Datastore
trees"), so every value is present and canonical.  A leaf that is absent anyway (a ``when``
that is false, such as ``pw-fast-control-holdtime`` while ``pw-fast-control`` is off, or an
optional leaf without a default) leaves the dataclass field at its own default, which the
dataplane ignores in that situation.

Units: the YANG module counts ``keepalive-interval`` in milliseconds; every other time leaf
(``wtr-time``, ``query-interval``, ``max-response-time``, ``last-member-query-interval``,
``router-aging-time``, ``pw-fast-control-holdtime``) is in seconds, like every time in the
dataplane, which takes floats.

Configuration leaves with no dataplane counterpart (not translated):

* ``/vsis/vsi/igmp-snooping/querier-source-address`` - the dataplane has one querier address
  per device, given when the :class:`~dataplane.device.Device` is built
  (``Device(name, mac, querier_address)``), which is also the LSR id of its PW control
  frames; :class:`~dataplane.config.DeviceConfig` has no per-VSI field for it, so the
  driver that builds the Device decides where that address comes from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from lxml import etree

from agent.xmlns import VL2MC
from dataplane.config import (
    AcConfig,
    ConfigError,
    DeviceConfig,
    IgmpSnoopingConfig,
    PwConfig,
    StaticGroup,
    VsiConfig,
)

if TYPE_CHECKING:  # pragma: no cover
    from agent.schema import Schema, SchemaNode

__all__ = ["UNMAPPED_LEAVES", "config_error_path", "device_config", "global_fields", "vsi_config"]

#: Schema paths of the configuration leaves :func:`device_config` does not translate (see the
#: module docstring for why).
UNMAPPED_LEAVES: frozenset[str] = frozenset({
    "/vl2mc:vsis/vl2mc:vsi/vl2mc:igmp-snooping/vl2mc:querier-source-address",
})

Converter = Callable[[str], Any]


def _q(name: str) -> str:
    return f"{{{VL2MC}}}{name}"


def _boolean(text: str) -> bool:
    return text == "true"


def _seconds(text: str) -> float:
    return float(text)


def _milliseconds(text: str) -> float:
    return int(text) / 1000.0


# (YANG leaf, dataclass field, converter): the leaves of one container that map one-to-one.
_GLOBAL_LEAVES: tuple[tuple[str, str, Converter], ...] = (
    ("igmp-snooping-enable", "igmp_snooping_enable", _boolean),
    ("device-mac", "device_mac", str),
)
_VSI_LEAVES: tuple[tuple[str, str, Converter], ...] = (
    ("name", "name", str),
    ("description", "description", str),
    ("unknown-multicast-action", "unknown_multicast_action", str),
)
_PW_LEAVES: tuple[tuple[str, str, Converter], ...] = (
    ("peer-address", "peer_address", str),
    ("vc-id", "vc_id", int),
    ("interface", "interface", str),
    ("role", "role", str),
    ("revertive", "revertive", _boolean),
    ("wtr-time", "wtr_time", _seconds),
    ("keepalive-interval", "keepalive_interval", _milliseconds),
    ("keepalive-multiplier", "keepalive_multiplier", int),
)
_IGMP_LEAVES: tuple[tuple[str, str, Converter], ...] = (
    ("enable", "enable", _boolean),
    ("version", "version", int),
    ("query-interval", "query_interval", _seconds),
    ("max-response-time", "max_response_time", _seconds),
    ("last-member-query-interval", "last_member_query_interval", _seconds),
    ("robustness", "robustness", int),
    ("router-aging-time", "router_aging_time", _seconds),
    ("router-port-learning", "router_port_learning", _boolean),
    ("immediately-leave", "immediately_leave", _boolean),
    ("querier-enable", "querier_enable", _boolean),
    ("limit-max-entry", "limit_max_entry", int),
    ("backup-query-forward", "backup_query_forward", _boolean),
    ("backup-query-source-mac-replace", "backup_query_source_mac_replace", _boolean),
    ("backup-report-forward", "backup_report_forward", _boolean),
    ("backup-report-source-mac-replace", "backup_report_source_mac_replace", _boolean),
    ("pw-fast-control", "pw_fast_control", _boolean),
    ("pw-fast-control-holdtime", "pw_fast_control_holdtime", _seconds),
)


# --------------------------------------------------------------------------- YANG -> dataplane


def device_config(root: etree._Element) -> DeviceConfig:
    """Translate a datastore tree (``{nc}data`` with defaults instantiated) for the dataplane.

    Pure: reads the tree, builds new frozen objects.  The tree is assumed valid against the
    schema; rules the dataplane depends on are checked again by ``Device.apply``.
    """
    vsis = root.find(_q("vsis"))
    vsi_elements = vsis.iterfind(_q("vsi")) if vsis is not None else ()
    return DeviceConfig(vsis=tuple(vsi_config(el) for el in vsi_elements), **global_fields(root))


def global_fields(root: etree._Element) -> dict[str, Any]:
    """The :class:`DeviceConfig` keyword arguments of ``/l2-multicast`` (everything but VSIs)."""
    return _leaf_fields(root.find(_q("l2-multicast")), _GLOBAL_LEAVES)


def vsi_config(el: etree._Element) -> VsiConfig:
    """One ``/vsis/vsi`` entry as the dataplane's :class:`VsiConfig`."""
    acs = [AcConfig(ac.findtext(_q("interface"), "")) for ac in _entries(el, "acs", "ac")]
    pws = [PwConfig(**_leaf_fields(pw, _PW_LEAVES)) for pw in _entries(el, "pws", "pw")]
    igmp = el.find(_q("igmp-snooping"))
    return VsiConfig(acs=tuple(acs), pws=tuple(pws),
                     igmp=_igmp(igmp) if igmp is not None else IgmpSnoopingConfig(),
                     **_leaf_fields(el, _VSI_LEAVES))


def _igmp(el: etree._Element) -> IgmpSnoopingConfig:
    static_groups = frozenset(
        StaticGroup(sg.findtext(_q("group-address"), ""), sg.findtext(_q("source-address"), ""),
                    sg.findtext(_q("interface"), ""))
        for sg in el.iterfind(_q("static-group"))
    )
    static_router_ports = frozenset(port.text or "" for port in el.iterfind(_q("static-router-port")))
    return IgmpSnoopingConfig(static_router_ports=static_router_ports, static_groups=static_groups,
                              **_leaf_fields(el, _IGMP_LEAVES))


def _entries(vsi: etree._Element, container: str, entry: str) -> Iterable[etree._Element]:
    holder = vsi.find(_q(container))
    return holder.iterfind(_q(entry)) if holder is not None else ()


def _leaf_fields(el: etree._Element | None, table: tuple[tuple[str, str, Converter], ...]) -> dict[str, Any]:
    """Dataclass keyword arguments for the leaves of ``table`` present under ``el``.

    One pass over the children rather than a ``find`` per leaf: a VSI has about thirty.
    """
    if el is None:
        return {}
    texts = {child.tag: child.text for child in el if isinstance(child.tag, str)}
    fields: dict[str, Any] = {}
    for leaf, field_name, convert in table:
        text = texts.get(_q(leaf))
        if text is not None:
            fields[field_name] = convert(text)
    return fields


# --------------------------------------------------------------------------- dataplane -> YANG

#: One step of a dataplane path: ``name`` or ``name[key,key,...]``.
_STEP = re.compile(r"([A-Za-z0-9_.-]+)(?:\[([^\]]*)\])?")


def config_error_path(error: ConfigError, schema: "Schema") -> tuple[str, dict[str, str]]:
    """The RFC 7950 9.13 instance identifier, and its prefixes, of the node ``error`` names.

    The dataplane leaves out the containers that only group (``vsis``, ``acs``, ``pws``,
    ``l2-multicast``), so each step is looked up in the schema below the previous one,
    through non-presence configuration containers; list keys come in the list's key order
    (``pw[10.0.0.2,100]`` -> ``[vl2mc:peer-address='10.0.0.2'][vl2mc:vc-id='100']``) and a
    leaf-list value becomes ``[.='value']``.  If a step cannot be placed, the path of the
    deepest node placed so far is returned (still the nearest node a client can act on);
    ValueError if not even the first step is a node of the schema.
    """
    steps: list[str] = []
    nsmap: dict[str, str] = {}
    candidates: Iterable[SchemaNode] = schema.roots.values()
    for name, keys in _parse(error.path):
        found = _find_below(candidates, name)
        if found is None:
            break
        hops, node = found
        prefix = _prefix(node, schema, nsmap)
        steps += [f"{_prefix(hop, schema, nsmap)}:{hop.name}" for hop in hops]
        predicates = _predicates(node, keys, prefix)
        if predicates is None:
            break
        steps.append(f"{prefix}:{node.name}{predicates}")
        candidates = node.children.values()
    if not steps:
        raise ValueError(f"dataplane path {error.path!r} names no node of the schema")
    return "/" + "/".join(steps), nsmap


def _parse(path: str) -> list[tuple[str, list[str] | None]]:
    steps: list[tuple[str, list[str] | None]] = []
    position = 0
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            break
        name, keys = match.group(1), match.group(2)
        steps.append((name, keys.split(",") if keys is not None else None))
        position = match.end()
        if position < len(path) and path[position] != "/":
            break
        position += 1
    return steps


def _find_below(candidates: Iterable["SchemaNode"], name: str) -> tuple[list["SchemaNode"], "SchemaNode"] | None:
    """Breadth-first: ``name`` among ``candidates`` or below their grouping containers.

    Returns the containers passed through and the node found.  Only configuration nodes are
    searched: a dataplane refusal is always about configuration.
    """
    level: list[tuple[list[SchemaNode], SchemaNode]] = [([], node) for node in candidates]
    while level:
        for hops, node in level:
            if node.name == name and node.namespace == VL2MC and node.config:
                return hops, node
        level = [
            ([*hops, node], child)
            for hops, node in level
            if node.keyword == "container" and not node.presence and node.config
            for child in node.children.values()
        ]
    return None


def _predicates(node: "SchemaNode", keys: list[str] | None, prefix: str) -> str | None:
    """Key predicates for ``node``; None when the dataplane's keys do not fit the node."""
    if keys is None:
        return "" if node.keyword not in ("list", "leaf-list") else None
    if node.keyword == "leaf-list" and len(keys) == 1:
        return f"[.={_quote(keys[0])}]"
    if node.keyword == "list" and len(keys) == len(node.keys):
        return "".join(f"[{prefix}:{key}={_quote(value)}]" for key, value in zip(node.keys, keys))
    return None


def _prefix(node: "SchemaNode", schema: "Schema", nsmap: dict[str, str]) -> str:
    module = schema.namespaces.get(node.namespace)
    prefix = module[1] if module else node.prefix
    nsmap[prefix] = node.namespace
    return prefix


def _quote(value: str) -> str:
    return f"'{value}'" if "'" not in value else f'"{value}"'
