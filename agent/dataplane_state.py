"""The operational-state boundary: the dataplane's live objects out as YANG ``config false`` data.

The dataplane keeps its state in plain Python objects (``Device.vsis``, see the
:mod:`dataplane.device` docstring); the agent serves it as the ``config false`` nodes of
``vsi-l2-multicast`` (RFC 8342 ``<operational>``).  This module renders one VSI, or a
selection of VSIs, into the shape :class:`agent.state_provider.StateProvider` returns:
top-level ``vsis`` with, per VSI, its key and only state descendants (plus the keys that
place them: ``ac/interface``, ``pw/peer-address`` and ``vc-id``).

Reading never changes the dataplane and never looks at what it was not asked for (a
:class:`agent.state_provider.StateSelection`): a get for one VSI must not render 10,000 group
tables, and a get for one group must not render the other 99,999 rows of its table - named
VSIs and named group rows are looked up by key, never found by scanning.  Rows are rendered
in (group, source) order, the whole table as much as a selection of it, so that a filtered
reply lists its rows in the order the unfiltered one has them (sorting 100k groups costs
about 25 ms, against about 0.9 s to render them).  Times are the dataplane's floats, passed
in as ``now`` (STYLE: time is a parameter): ``up-time`` and ``age`` are whole seconds since,
``expires`` whole seconds left (rounded up, so a live timer never shows 0).  Date-and-time
leaves need a wall clock; ``epoch`` is the Unix time of dataplane time 0 (0.0 for a driver
whose clock is Unix time).

The document is written as text and parsed once by lxml: the ``vsis`` element declares the
module's namespace as the default and nothing below it carries a declaration or a prefix.
For the group table, which may hold 100k entries, that is about three times faster than
building the same tree with ``etree.SubElement`` (0.7 s against 2.4 s for 100k groups).
Every value is a number, an enumeration, an address formatted here, or a name from the
configuration, which is escaped.

What the dataplane does not count, and is therefore not rendered (the agent never invents
state values) - see :data:`UNCOUNTED_STATISTICS`:

* ``received`` and ``forwarded`` ``queries-v1/v2/v3`` and ``forwarded`` ``reports-v1/v2/v3``:
  the dataplane counts queries received as general / group-specific and forwarded queries
  and reports without a version (``general-queries-received``,
  ``group-specific-queries-received``, ``queries-forwarded``, ``reports-forwarded``);
* ``discontinuity-time``: the dataplane does not record when its counters were reset or the
  VSI created.

Invalid frames are counted by :class:`dataplane.invalid.InvalidReason`; the module's six
``invalid`` leaves sum the reasons they describe (:data:`INVALID_REASONS`).  Reasons no leaf
describes (``bad-ethertype``, ``igmp-fragment``, ``bad-igmp-group``, ``bad-igmp-destination``,
``bad-pw-control``) are not reported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from lxml import etree

from agent.state_provider import GroupKey, StateSelection, VsiParts
from agent.xmlns import VL2MC
from dataplane.addr import ip_int

if TYPE_CHECKING:  # pragma: no cover
    from agent.dataplane_driver import Dataplane
    from dataplane.device import Device
    from dataplane.snooping import Entry, Snooping
    from dataplane.vsi import Vsi

__all__ = ["COUNTERS", "INVALID_REASONS", "UNCOUNTED_STATISTICS", "DataplaneState", "device_state", "vsi_state"]

#: Our own output only: no entity or DTD to resolve, and a 100k-group table is large.
_PARSER = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True)
_BOOL = ("false", "true")
_VSIS = f"{{{VL2MC}}}vsis"

#: ``statistics`` leaves (by container, in schema order) -> the ``VsiStatistics.as_dict()`` key
#: that counts them.
COUNTERS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("received", (
        ("reports-v1", "reports-v1-received"),
        ("reports-v2", "reports-v2-received"),
        ("reports-v3", "reports-v3-received"),
        ("leaves", "leaves-received"),
    )),
    ("forwarded", (
        ("leaves", "leaves-forwarded"),
    )),
    ("standby-pw", (
        ("queries-sent", "queries-sent-on-standby-pw"),
        ("queries-received", "queries-received-on-standby-pw"),
        ("reports-sent", "reports-sent-on-standby-pw"),
        ("reports-received", "reports-received-on-standby-pw"),
        ("dropped", "protocol-dropped-on-standby-pw"),
    )),
    ("", (
        ("source-macs-replaced", "source-macs-replaced"),
        ("queries-solicited", "queries-solicited"),
    )),
    ("data", (
        ("forwarded", "data-forwarded"),
        ("dropped-on-standby", "data-dropped-on-standby"),
        ("dropped-unknown", "data-dropped-unknown"),
    )),
    ("invalid", ()),   # summed by reason: INVALID_REASONS
    ("", (
        ("group-limit-refused", "reports-refused-by-limit"),
        ("switchovers", "switchovers"),
    )),
)

#: ``statistics/invalid`` leaf -> the InvalidReason values it sums.
INVALID_REASONS: dict[str, tuple[str, ...]] = {
    "truncated": ("truncated",),
    "bad-ip-header": ("bad-ip-version", "bad-ip-header-length", "bad-ip-length", "bad-ip-options"),
    "bad-ip-checksum": ("bad-ip-checksum",),
    "bad-igmp-checksum": ("bad-igmp-checksum",),
    "bad-length": ("bad-igmp-length",),
    "unknown-igmp-type": ("unknown-igmp-type",),
}

#: ``statistics`` leaves (paths below it) the dataplane does not count; see the module docstring.
UNCOUNTED_STATISTICS: frozenset[str] = frozenset({
    "discontinuity-time",
    *(f"received/queries-v{n}" for n in (1, 2, 3)),
    *(f"forwarded/queries-v{n}" for n in (1, 2, 3)),
    *(f"forwarded/reports-v{n}" for n in (1, 2, 3)),
})

Out = list[str]


def vsi_state(device: "Device", vsi_name: str, now: float, *, epoch: float = 0.0) -> list[etree._Element]:
    """The ``config false`` data of one VSI as ``[vsis]`` (empty if there is no such VSI)."""
    return device_state(device, StateSelection.of_vsis([vsi_name]), now, epoch=epoch)


def device_state(device: "Device", selection: StateSelection, now: float, *,
                 epoch: float = 0.0) -> list[etree._Element]:
    """The ``config false`` data of the VSIs ``selection`` names, as ``[vsis]``.

    Named VSIs are looked up by key one by one, in name order, so a selection never walks
    the others; names the device does not have are skipped (a filter may name anything).
    Of each VSI only the parts selected are rendered (:class:`VsiParts`).  Returns an empty
    list when no VSI is rendered.
    """
    out: Out = [f'<vsis xmlns="{VL2MC}">']
    for vsi, parts in _selected_vsis(device, selection):
        _render_vsi(out, vsi, parts, now, epoch)
    if len(out) == 1:
        return []
    out.append("</vsis>")
    return [etree.fromstring("".join(out), _PARSER)]


def _selected_vsis(device: "Device", selection: StateSelection) -> list[tuple["Vsi", VsiParts]]:
    """(VSI, its selected parts): every VSI in device order, or the named ones looked up by key."""
    if selection.other_vsis is None:
        found = ((device.vsis.get(name), parts) for name, parts in sorted(selection.vsis.items()))
        return [(vsi, parts) for vsi, parts in found if vsi is not None]
    return [(vsi, parts) for name, vsi in device.vsis.items()
            if (parts := selection.parts(name)) is not None]


def _render_vsi(out: Out, vsi: "Vsi", parts: VsiParts, now: float, epoch: float) -> None:
    out.append(f"<vsi><name>{escape(vsi.name)}</name>")
    _render_acs(out, vsi)
    _render_pws(out, vsi)
    out.append("<igmp-snooping>")
    if vsi.snooping is not None:
        _render_snooping(out, vsi, vsi.snooping, parts.groups, now)
    _render_statistics(out, vsi.stats.as_dict(), epoch)
    out.append("</igmp-snooping>")
    if parts.mac_table:
        _render_mac_table(out, vsi, now)
    out.append("</vsi>")


def _render_acs(out: Out, vsi: "Vsi") -> None:
    if not vsi.config.acs:
        return
    out.append("<acs>")
    for ac in vsi.config.acs:
        status = "up" if vsi.port_oper_up(ac.interface) else "down"
        out.append(f"<ac><interface>{escape(ac.interface)}</interface><oper-status>{status}</oper-status></ac>")
    out.append("</acs>")


def _render_pws(out: Out, vsi: "Vsi") -> None:
    if not vsi.pws.pws:
        return
    out.append("<pws>")
    for (peer, vc_id), pw in vsi.pws.pws.items():
        out.append(f"<pw><peer-address>{escape(peer)}</peer-address><vc-id>{vc_id}</vc-id>"
                   f"<oper-status>{pw.oper_status}</oper-status>"
                   f"<forwarding-state>{pw.forwarding_state}</forwarding-state>"
                   f"<remote-status>{pw.remote_status or 'unknown'}</remote-status></pw>")
    out.append("</pws>")


def _render_snooping(out: Out, vsi: "Vsi", snooping: "Snooping", groups: frozenset[GroupKey] | None,
                     now: float) -> None:
    address, is_self = snooping.querier.current(now)
    out.append("<querier>")
    if address is not None:
        out.append(f"<address>{_ip(address)}</address>")
    out.append(f"<is-self>{_BOOL[is_self]}</is-self></querier>")
    out.append(f"<entries-count>{snooping.entry_count}</entries-count>")
    _render_router_ports(out, snooping, now)
    if groups is None:
        _render_groups(out, vsi, _whole_table(snooping), now)
    elif groups:
        _render_groups(out, vsi, _rows_by_key(snooping, groups), now)


def _render_router_ports(out: Out, snooping: "Snooping", now: float) -> None:
    for interface, router in snooping.router_ports.items():
        out.append(f"<router-port><interface>{escape(interface)}</interface>"
                   f"<type>{'static' if router.static else 'dynamic'}</type>"
                   f"<via-backup>{_BOOL[router.via_backup]}</via-backup>"
                   f"<up-time>{_elapsed(now, router.since)}</up-time>")
        if not router.static and router.expires is not None:
            out.append(f"<expires>{_left(router.expires, now)}</expires>")
        out.append("</router-port>")


Rows = Iterable[tuple[int, Mapping[int, "Entry"]]]


def _whole_table(snooping: "Snooping") -> Rows:
    """Every (group, {source: entry}), in group order."""
    groups = snooping.groups
    return ((group, groups[group]) for group in sorted(groups))


def _rows_by_key(snooping: "Snooping", keys: frozenset[GroupKey]) -> Iterator[tuple[int, Mapping[int, "Entry"]]]:
    """The rows a filter names, looked up by (group, source), in group order.

    A key whose address is not a dotted quad names no row: every row's address is printed
    as one, so the filter could not match it either.
    """
    wanted: dict[int, set[int] | None] = {}   # group -> its sources, None for every source
    for group_text, source_text in keys:
        group = _address(group_text)
        if group is None:
            continue
        if source_text is None:
            wanted[group] = None
            continue
        source, sources = _address(source_text), wanted.setdefault(group, set())
        if source is not None and sources is not None:
            sources.add(source)
    table = snooping.groups
    for group in sorted(wanted):
        rows = table.get(group)
        sources = wanted[group]
        if rows is not None and sources is not None:
            rows = {s: rows[s] for s in sources if s in rows}
        if rows:
            yield group, rows


def _address(text: str) -> int | None:
    try:
        return ip_int(text)
    except ValueError:
        return None


def _render_groups(out: Out, vsi: "Vsi", table: Rows, now: float) -> None:
    """The group table: the one part that can hold 100k rows, so what does not depend on the
    row (a port's name and forwarding state) is worked out once per port, not per row."""
    ports: dict[str, tuple[str, str]] = {}
    append, ip, elapsed, left = out.append, _ip, _elapsed, _left
    for group, rows in table:
        group_text = ip(group)
        mac_text = ""
        for source in sorted(rows) if len(rows) > 1 else rows:
            entry = rows[source]
            if not mac_text:
                mac_text = entry.mac.hex(":")
            append(f"<group><group-address>{group_text}</group-address>"
                   f"<source-address>{ip(source)}</source-address><mac-address>{mac_text}</mac-address>"
                   f"<up-time>{elapsed(now, entry.since)}</up-time>")
            if entry.last_reporter:
                append(f"<last-reporter>{ip(entry.last_reporter)}</last-reporter>")
            for interface, membership in entry.ports.items():
                port = ports.get(interface)
                if port is None:
                    port = ports[interface] = (escape(interface), _BOOL[vsi.port_forwarding(interface)])
                name, forwarding = port
                if membership.static:
                    timers = f"<flag>static</flag><up-time>{elapsed(now, membership.since)}</up-time>"
                elif membership.expires is None:
                    timers = f"<flag>dynamic</flag><up-time>{elapsed(now, membership.since)}</up-time>"
                else:
                    timers = (f"<flag>dynamic</flag><up-time>{elapsed(now, membership.since)}</up-time>"
                              f"<expires>{left(membership.expires, now)}</expires>")
                append(f"<port><interface>{name}</interface>{timers}<forwarding>{forwarding}</forwarding>"
                       f"<learned-on-backup>{_BOOL[membership.learned_on_backup]}</learned-on-backup></port>")
            append("</group>")


def _render_statistics(out: Out, counters: dict[str, object], epoch: float) -> None:
    out.append("<statistics>")
    for container, leaves in COUNTERS:
        if container:
            out.append(f"<{container}>")
        out.extend(f"<{leaf}>{counters[key]}</{leaf}>" for leaf, key in leaves)
        if container == "invalid":
            _render_invalid(out, counters["invalid"])
        if container:
            out.append(f"</{container}>")
    last = counters["last-switchover-time"]
    if last is not None:
        assert isinstance(last, (int, float))
        out.append(f"<last-switchover>{_date_and_time(epoch + last)}</last-switchover>")
    out.append("</statistics>")


def _render_invalid(out: Out, by_reason: object) -> None:
    assert isinstance(by_reason, dict)
    for leaf, reasons in INVALID_REASONS.items():
        out.append(f"<{leaf}>{sum(by_reason.get(r, 0) for r in reasons)}</{leaf}>")


def _render_mac_table(out: Out, vsi: "Vsi", now: float) -> None:
    out.append("<mac-table>")
    for mac, entry in vsi.mac_table.items():
        out.append(f"<entry><mac-address>{mac.hex(':')}</mac-address>"
                   f"<interface>{escape(entry.port.name)}</interface><age>{_elapsed(now, entry.seen)}</age></entry>")
    out.append(f"<mac-moves>{vsi.mac_moves}</mac-moves></mac-table>")


# --------------------------------------------------------------------------- values


def _ip(address: int) -> str:
    """Dotted quad of an IPv4 address held as an int (ipaddress is ten times slower)."""
    return f"{address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.{address & 255}"


def _elapsed(now: float, since: float) -> int:
    """Whole seconds since ``since`` (uint32 up-time / age)."""
    return max(0, int(now - since))


def _left(deadline: float, now: float) -> int:
    """Whole seconds until ``deadline``, rounded up (uint32 expires)."""
    return max(0, math.ceil(deadline - now))


def _date_and_time(unix_seconds: float) -> str:
    """RFC 6991 ``date-and-time`` in UTC, to the millisecond."""
    moment = datetime.fromtimestamp(unix_seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"


class DataplaneState:
    """The :class:`agent.state_provider.StateProvider` of a running dataplane.

    Only ``vsis`` carries state in this module; a request whose filter cannot select it gets
    nothing, and one that names VSIs, or group rows, gets those rendered and no other.
    """

    def __init__(self, dataplane: "Dataplane") -> None:
        self.dataplane = dataplane

    def operational(self, selection: StateSelection) -> list[etree._Element]:
        if not selection.wants(_VSIS) or selection.vsi_names == frozenset():
            return []
        dataplane = self.dataplane
        dataplane.settle()      # timers due by now have run: nothing shows that has expired
        return device_state(dataplane.device, selection, dataplane.now(), epoch=dataplane.epoch)
