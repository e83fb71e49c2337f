"""Issue 4 item 1: every change of running reaches the dataplane atomically, or nothing changes.

Each test drives a real agent over NETCONF (ncclient) and looks at its dataplane, the
`Device` the commit hook configures, on the agent's own loop.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from ncclient.operations.rpc import RPCError

from agent.dataplane_commit import DATAPLANE_REFUSED
from agent.dataplane_config import device_config
from agent.dataplane_driver import SimDataplane, standalone_mac
from agent.datastore import DatastoreLoadError
from agent.server import Server, ServerConfig
from agent.xmlns import NC, VL2MC
from dataplane.config import ConfigError, DeviceConfig, VsiConfig
from tests.conftest import ADMIN_PASSWORD, RunningAgent, compiled_schema

NS = {"v": VL2MC, "nc": NC}
LIMIT = 100


def vsi_xml(name: str, *, interface: str | None = None, limit: int | None = None,
            snooping: bool = True, operation: str | None = None) -> str:
    interface = interface or f"ac-{name}"
    op = f' xmlns:nc="{NC}" nc:operation="{operation}"' if operation else ""
    igmp = "<enable>true</enable>" if snooping else ""
    if limit is not None:
        igmp += f"<limit-max-entry>{limit}</limit-max-entry>"
    return (f"<vsi{op}><name>{name}</name><acs><ac><interface>{interface}</interface></ac></acs>"
            f"<igmp-snooping>{igmp}</igmp-snooping></vsi>")


def config(*vsis: str, global_enable: bool = True) -> str:
    return (f'<config xmlns="{NC}"><l2-multicast xmlns="{VL2MC}"><igmp-snooping-enable>'
            f'{str(global_enable).lower()}</igmp-snooping-enable></l2-multicast>'
            f'<vsis xmlns="{VL2MC}">{"".join(vsis)}</vsis></config>')


def device_of(agent: RunningAgent) -> Any:
    return agent.server.dataplane.device


def dataplane_config(agent: RunningAgent) -> DeviceConfig:
    return agent.run(lambda: device_of(agent).config)


def running_config(agent: RunningAgent) -> DeviceConfig:
    return agent.run(lambda: device_config(agent.server.datastores.running.root))


def same(a: DeviceConfig, b: DeviceConfig) -> bool:
    """Equal configurations (VSI order is not part of the dataplane's meaning)."""
    return (a.igmp_snooping_enable, a.device_mac, sorted(a.vsis, key=lambda v: v.name)) == \
        (b.igmp_snooping_enable, b.device_mac, sorted(b.vsis, key=lambda v: v.name))


class CapacityLimitedDataplane(SimDataplane):
    """A simulated device whose forwarding table holds at most LIMIT groups per VSI: a rule
    of the hardware, not of the YANG module, so only the dataplane can refuse it."""

    def apply(self, config: DeviceConfig) -> None:
        self._check(config.vsis)
        super().apply(config)

    def apply_vsis(self, changes: Mapping[str, VsiConfig | None]) -> None:
        self._check([vsi for vsi in changes.values() if vsi is not None])
        super().apply_vsis(changes)

    @staticmethod
    def _check(vsis: Iterable[VsiConfig]) -> None:
        for vsi in vsis:
            if vsi.igmp.limit_max_entry is not None and vsi.igmp.limit_max_entry > LIMIT:
                raise ConfigError(f"vsi[{vsi.name}]/igmp-snooping/limit-max-entry",
                                  f"this device holds at most {LIMIT} groups per VSI")


def limited() -> SimDataplane:
    base = SimDataplane.standalone("limited", standalone_mac("limited"))
    return CapacityLimitedDataplane(base.node, base.runner, owns_runner=True)


# --------------------------------------------------------------------------- the rules


def test_an_edit_of_running_configures_the_dataplane(agent_server: RunningAgent, nc: Any) -> None:
    nc.edit_config(target="running", config=config(vsi_xml("v1")))
    device = device_of(agent_server)
    assert agent_server.run(lambda: sorted(device.vsis)) == ["v1"]
    assert agent_server.run(lambda: device.vsis["v1"].snooping is not None)
    assert same(dataplane_config(agent_server), running_config(agent_server))


def test_a_candidate_change_reaches_the_dataplane_only_at_commit(agent_server: RunningAgent, nc: Any) -> None:
    nc.edit_config(target="candidate", config=config(vsi_xml("v1")))
    assert agent_server.run(lambda: list(device_of(agent_server).vsis)) == []
    nc.commit()
    assert agent_server.run(lambda: list(device_of(agent_server).vsis)) == ["v1"]


def test_a_deleted_vsi_leaves_the_dataplane(agent_server: RunningAgent, nc: Any) -> None:
    nc.edit_config(target="running", config=config(vsi_xml("v1"), vsi_xml("v2")))
    nc.edit_config(target="running", config=config(vsi_xml("v1", operation="delete")))
    assert agent_server.run(lambda: sorted(device_of(agent_server).vsis)) == ["v2"]
    assert same(dataplane_config(agent_server), running_config(agent_server))


def test_a_commit_translates_only_the_vsis_it_touched(agent_server: RunningAgent, nc: Any) -> None:
    nc.edit_config(target="running", config=config(*(vsi_xml(f"v{i}") for i in range(3))))
    device = device_of(agent_server)
    before = agent_server.run(lambda: {v.name: v for v in device.config.vsis})
    vsi_objects = agent_server.run(lambda: dict(device.vsis))
    nc.edit_config(target="running", config=config(vsi_xml("v1", limit=50)))
    after = agent_server.run(lambda: {v.name: v for v in device.config.vsis})
    assert after["v0"] is before["v0"] and after["v2"] is before["v2"]
    assert after["v1"] is not before["v1"] and after["v1"].igmp.limit_max_entry == 50
    # untouched VSIs keep their live objects (and so their learned tables)
    assert agent_server.run(lambda: device.vsis["v0"]) is vsi_objects["v0"]


def test_a_refused_edit_is_an_rpc_error_naming_the_node_and_changes_nothing(make_agent: Any) -> None:
    agent = make_agent(dataplane_factory=limited)
    with agent.connect() as nc:
        nc.edit_config(target="running", config=config(vsi_xml("v1", limit=10)))
        running_before = nc.get_config(source="running").data_xml
        with pytest.raises(RPCError) as refused:
            nc.edit_config(target="running", config=config(vsi_xml("v1", limit=LIMIT + 1)))
        assert nc.get_config(source="running").data_xml == running_before
    error = refused.value
    assert error.tag == "operation-failed" and error.type == "application"
    assert error.app_tag == DATAPLANE_REFUSED
    assert f"at most {LIMIT} groups" in error.message
    assert error.path.strip() == ("/vl2mc:vsis/vl2mc:vsi[vl2mc:name='v1']/vl2mc:igmp-snooping"
                                  "/vl2mc:limit-max-entry")
    assert agent.run(lambda: agent.server.dataplane.device.config.vsis[0].igmp.limit_max_entry) == 10


def test_a_refused_commit_keeps_running_and_the_candidate(make_agent: Any) -> None:
    agent = make_agent(dataplane_factory=limited)
    with agent.connect() as nc:
        nc.edit_config(target="candidate", config=config(vsi_xml("v1", limit=LIMIT + 5)))
        with pytest.raises(RPCError) as refused:
            nc.commit()
        assert refused.value.app_tag == DATAPLANE_REFUSED
        assert nc.get_config(source="running").data.find(".//v:vsi", NS) is None
        kept = nc.get_config(source="candidate").data.find(".//v:limit-max-entry", NS)
        assert kept is not None and kept.text == str(LIMIT + 5)
    assert agent.run(lambda: list(agent.server.dataplane.device.vsis)) == []


def test_a_confirmed_commit_rollback_restores_the_dataplane(agent_server: RunningAgent, nc: Any) -> None:
    nc.edit_config(target="running", config=config(vsi_xml("v1")))
    nc.edit_config(target="candidate", config=config(vsi_xml("v2")))
    nc.commit(confirmed=True, timeout="60", persist="p1")
    assert agent_server.run(lambda: sorted(device_of(agent_server).vsis)) == ["v1", "v2"]
    nc.cancel_commit(persist_id="p1")
    assert agent_server.run(lambda: sorted(device_of(agent_server).vsis)) == ["v1"]
    assert same(dataplane_config(agent_server), running_config(agent_server))


def test_start_up_configures_the_dataplane_from_the_saved_running(agent_server: RunningAgent) -> None:
    with agent_server.connect() as nc:
        nc.edit_config(target="running", config=config(vsi_xml("v1"), vsi_xml("v2")))
    agent_server.restart()
    assert agent_server.run(lambda: sorted(device_of(agent_server).vsis)) == ["v1", "v2"]


def test_start_up_refuses_a_saved_configuration_the_dataplane_refuses(agent_server: RunningAgent,
                                                                       tmp_path: Path) -> None:
    with agent_server.connect() as nc:
        nc.edit_config(target="running", config=config(vsi_xml("v1", limit=LIMIT + 1)))
    agent_server.stop()
    with pytest.raises(DatastoreLoadError, match=f"at most {LIMIT} groups"):
        Server(ServerConfig(port=0, state_dir=agent_server.state_dir, admin_password=ADMIN_PASSWORD),
               schema=compiled_schema(), dataplane=limited())


def test_incremental_translation_equals_a_full_translation_after_random_edits(agent_server: RunningAgent,
                                                                             nc: Any) -> None:
    rng = random.Random(4)
    names = [f"v{i}" for i in range(6)]
    for _ in range(25):
        name = rng.choice(names)
        choice = rng.random()
        if choice < 0.25:
            edit = config(vsi_xml(name, operation="remove"))
        elif choice < 0.5:
            edit = config(vsi_xml(name, limit=rng.randint(1, 50)))
        elif choice < 0.75:
            edit = config(vsi_xml(name, snooping=False, operation="replace"))
        else:
            edit = config(global_enable=rng.random() < 0.8)
        try:
            nc.edit_config(target="running", config=edit)
        except RPCError:
            pass   # e.g. snooping enabled while the global switch is off: refused, nothing changed
        assert same(dataplane_config(agent_server), running_config(agent_server))


def test_operational_state_comes_from_the_dataplane(agent_server: RunningAgent, nc: Any) -> None:
    nc.edit_config(target="running", config=config(vsi_xml("v1"), vsi_xml("v2")))
    one = (f'<vsis xmlns="{VL2MC}"><vsi><name>v1</name><acs/><igmp-snooping><statistics/>'
           f'</igmp-snooping></vsi></vsis>')
    reply = nc.get(filter=("subtree", one)).data
    assert [el.text for el in reply.iterfind(".//v:vsi/v:name", NS)] == ["v1"]
    assert reply.findtext(".//v:ac/v:oper-status", namespaces=NS) == "up"
    assert reply.findtext(".//v:statistics/v:data/v:forwarded", namespaces=NS) == "0"


def test_the_default_dataplane_has_a_stable_mac_per_state_directory(tmp_path: Path) -> None:
    first = standalone_mac(str(tmp_path / "a"))
    assert first == standalone_mac(str(tmp_path / "a")) != standalone_mac(str(tmp_path / "b"))
    assert first[0] & 0x01 == 0 and first[0] & 0x02 == 0x02     # unicast, locally administered


def test_an_edit_of_running_that_cannot_be_saved_leaves_the_dataplane_as_it_was(agent_server: RunningAgent,
                                                                                nc: Any) -> None:
    nc.edit_config(target="running", config=config(vsi_xml("v1", limit=10)))
    stores = agent_server.server.datastores

    def disk_full() -> None:
        raise OSError(28, "No space left on device")

    agent_server.run(lambda: setattr(stores, "persist_running", disk_full))
    try:
        with pytest.raises(RPCError):
            nc.edit_config(target="running", config=config(vsi_xml("v1", limit=20)))
    finally:
        agent_server.run(lambda: delattr(stores, "persist_running"))
    assert agent_server.run(lambda: device_of(agent_server).vsis["v1"].config.igmp.limit_max_entry) == 10
    assert same(dataplane_config(agent_server), running_config(agent_server))
    nc.edit_config(target="running", config=config(vsi_xml("v1", limit=30)))   # and the next edit works
    assert same(dataplane_config(agent_server), running_config(agent_server))


def test_a_commit_pushes_only_the_changed_vsis(make_agent: Any) -> None:
    """Only what changed is pushed (issue 4): a one-VSI change reaches the dataplane as that
    VSI alone; a change of the device-wide leaves as the whole configuration."""
    calls: list[tuple[str, object]] = []

    class Recording(SimDataplane):
        def apply(self, config: DeviceConfig) -> None:
            calls.append(("apply", sorted(v.name for v in config.vsis)))
            super().apply(config)

        def apply_vsis(self, changes: Mapping[str, VsiConfig | None]) -> None:
            calls.append(("apply_vsis", sorted(changes)))
            super().apply_vsis(changes)

    def recording() -> SimDataplane:
        base = SimDataplane.standalone("rec", standalone_mac("rec"))
        return Recording(base.node, base.runner, owns_runner=True)

    agent = make_agent(dataplane_factory=recording)
    with agent.connect() as m:
        m.edit_config(target="running", config=config(*(vsi_xml(f"v{i}") for i in range(3))))
        calls.clear()
        m.edit_config(target="running", config=config(vsi_xml("v1", limit=5)))
        m.edit_config(target="running", config=config(vsi_xml("v2", operation="delete")))
        m.edit_config(target="running", config=config(global_enable=True))              # no change at all
        m.edit_config(target="running", config=(f'<config xmlns="{NC}"><l2-multicast xmlns="{VL2MC}">'
                                                f'<device-mac>02:00:00:00:00:99</device-mac></l2-multicast></config>'))
    assert calls == [("apply_vsis", ["v1"]), ("apply_vsis", ["v2"]), ("apply", ["v0", "v1"])]
