"""The commit boundary: every change of `<running>` goes into the dataplane, or nowhere.

:class:`DataplaneCommit` is a datastore commit hook (``Datastores.commit_hooks``): it runs
after the new tree validated and before running is replaced, for a commit, an edit of
running, copy-config, and a confirmed-commit rollback alike.  It translates the change
into the dataplane's :class:`~dataplane.config.DeviceConfig` and applies it; when the
dataplane refuses (:class:`~dataplane.config.ConfigError`), the hook raises an rpc-error
whose error-path is the instance identifier of the refused node and the datastore stays
as it was.  The dataplane's own ``apply`` is atomic, so both sides stay as they were.  When
the change does not happen after the hook accepted it (an edit of running that cannot be
saved is taken back), the datastore calls :meth:`DataplaneCommit.abort`, which puts the
dataplane back too.

Only what changed is translated: the hook keeps the last applied configuration as one
:class:`~dataplane.config.VsiConfig` per VSI and rebuilds only the VSIs the commit's
changes lie in (and the global leaves when ``/l2-multicast`` changed).  A one-leaf commit
among 10,000 VSIs therefore translates one VSI and hands only that one to the dataplane
(``apply_vsis``), whose cost then does not grow with the number of VSIs; every other VSI
keeps its learned state untouched.  A change of the device-wide leaves goes through the
whole-configuration ``apply``, and so do changes the hook cannot place (a whole ``vsis``
replaced), which is always correct.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lxml import etree

from agent.dataplane_config import config_error_path, device_config, global_fields, vsi_config
from agent.errors import ErrorTag, ErrorType, RpcError
from agent.validate import Change
from agent.xmlns import VL2MC, is_within
from dataplane.config import ConfigError, DeviceConfig, VsiConfig

if TYPE_CHECKING:  # pragma: no cover
    from agent.dataplane_driver import Dataplane
    from agent.schema import Schema

__all__ = ["DATAPLANE_REFUSED", "DataplaneCommit"]

log = logging.getLogger(__name__)

#: error-app-tag of a commit the dataplane refused (the module's own rules have their tags).
DATAPLANE_REFUSED = "dataplane-refused"

_VSIS = f"{{{VL2MC}}}vsis"
_VSI = f"{{{VL2MC}}}vsi"
_NAME = f"{{{VL2MC}}}name"
_L2MC = f"{{{VL2MC}}}l2-multicast"

#: what a commit changed: the VSIs to rebuild (name -> entry in the new tree, or None when
#: the VSI is gone) and whether the global leaves changed; None means "rebuild everything".
Touched = tuple[dict[str, etree._Element | None], bool]


class DataplaneCommit:
    """The commit hook that keeps the dataplane equal to `<running>`."""

    def __init__(self, dataplane: "Dataplane", schema: "Schema") -> None:
        self.dataplane = dataplane
        self.schema = schema
        self._vsis: dict[str, VsiConfig] = {}
        self._globals: dict[str, Any] = {}
        #: what undoes the last accepted call (see :meth:`abort`); None when nothing to undo
        self._undo: tuple[DeviceConfig | None, dict[str, VsiConfig | None]] | None = None

    def load(self, root: etree._Element) -> None:
        """Start-up: apply the whole configuration (ConfigError propagates: the agent must
        not run with a configuration its dataplane refused)."""
        config = device_config(root)
        self.dataplane.apply(config)
        self._remember(config)

    def __call__(self, root: etree._Element, changes: list[Change]) -> None:
        self._undo = None
        if not changes:
            return
        touched = _touched(changes, root)
        try:
            if touched is None:
                self._apply_whole(device_config(root))
                return
            vsis, global_changed = touched
            fields = _global_values(DeviceConfig(**global_fields(root))) if global_changed else self._globals
            updates = self._vsi_updates(vsis)
            if fields != self._globals:
                self._apply_whole(self._whole(fields, updates))
            elif updates:
                self.dataplane.apply_vsis(updates)
                self._undo = (None, {name: self._vsis.get(name) for name in updates})
                self._remember_vsis(updates)
        except ConfigError as exc:
            raise self._refusal(exc) from exc

    def abort(self) -> None:
        """The change the last call accepted is not happening (running could not be saved,
        or another hook refused it): put the dataplane back as it was before that call."""
        undo, self._undo = self._undo, None
        if undo is None:
            return
        whole, vsis = undo
        if whole is not None:
            self.dataplane.apply(whole)
            self._remember(whole)
        else:
            self.dataplane.apply_vsis(vsis)
            self._remember_vsis(vsis)

    def _apply_whole(self, config: DeviceConfig) -> None:
        before = self._whole(self._globals, {})
        self.dataplane.apply(config)
        self._undo = (before, {})
        self._remember(config)

    def _vsi_updates(self, vsis: dict[str, etree._Element | None]) -> dict[str, VsiConfig | None]:
        """The touched VSIs' new configurations (None: gone), leaving out those that came
        out equal to what the dataplane runs."""
        updates: dict[str, VsiConfig | None] = {}
        for name, entry in vsis.items():
            new = vsi_config(entry) if entry is not None else None
            if new != self._vsis.get(name):
                updates[name] = new
        return updates

    def _whole(self, fields: dict[str, Any], updates: dict[str, VsiConfig | None]) -> DeviceConfig:
        vsis = dict(self._vsis)
        for name, config in updates.items():
            if config is None:
                vsis.pop(name, None)
            else:
                vsis[name] = config
        return DeviceConfig(vsis=tuple(vsis.values()), **fields)

    def _remember_vsis(self, updates: dict[str, VsiConfig | None]) -> None:
        for name, config in updates.items():
            if config is None:
                self._vsis.pop(name, None)
            else:
                self._vsis[name] = config

    def _remember(self, config: DeviceConfig) -> None:
        self._vsis = {vsi.name: vsi for vsi in config.vsis}
        self._globals = _global_values(config)

    def _refusal(self, exc: ConfigError) -> RpcError:
        try:
            path, nsmap = config_error_path(exc, self.schema)
        except ValueError:
            path, nsmap = None, {}
        log.info("the dataplane refused a commit: %s", exc)
        return RpcError(
            ErrorTag.OPERATION_FAILED,
            f"the dataplane refused the configuration: {exc.message} ({exc.path})",
            type=ErrorType.APPLICATION, app_tag=DATAPLANE_REFUSED, path=path, path_nsmap=nsmap,
        )


def _touched(changes: list[Change], root: etree._Element) -> Touched | None:
    """Which VSIs (and whether the globals) the changes lie in; None if one cannot be placed."""
    vsis: dict[str, etree._Element | None] = {}
    global_changed = False
    for change in changes:
        element = change.element
        if element is not None and element.getparent() is None:
            # detached: a deleted subtree; it lies where its old parent is
            node, entry = change.parent, element if element.tag == _VSI else None
        else:
            node, entry = (element if element is not None else change.parent), None
        if entry is None and change.old_element is not None and change.old_element.tag == _VSI:
            entry = change.old_element            # a whole VSI deleted
        if entry is None:
            entry = _enclosing_vsi(node)
        if entry is not None:
            name = entry.findtext(_NAME)
            if name is None:
                return None
            live = entry if is_within(entry, root) else None
            if vsis.get(name) is None:
                vsis[name] = live
            continue
        if _within_tag(node, _L2MC):
            global_changed = True
            continue
        return None
    return vsis, global_changed


def _global_values(config: DeviceConfig) -> dict[str, Any]:
    """The device-wide fields of ``config`` (everything but its VSIs)."""
    return {"igmp_snooping_enable": config.igmp_snooping_enable, "device_mac": config.device_mac}


def _enclosing_vsi(node: etree._Element | None) -> etree._Element | None:
    while node is not None:
        if node.tag == _VSI:
            parent = node.getparent()
            if parent is None or parent.tag == _VSIS:
                return node
        node = node.getparent()
    return None


def _within_tag(node: etree._Element | None, tag: str) -> bool:
    while node is not None:
        if node.tag == tag:
            return True
        node = node.getparent()
    return False
