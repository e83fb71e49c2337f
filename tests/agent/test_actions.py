"""RFC 7950 7.14 / 7.15: the module's actions and rpcs, one rule per test, over real SSH.

The agent's dataplane is the UPE of the lab topology (SPEC section 2) in a real-time
simulation, so a switchover really moves forwarding between the PWs to SPE1 and SPE2 and
clear-groups really drops what the receivers' reports taught the UPE.  Running is
configured over NETCONF with the lab's own UPE configuration; every commit reaches the
dataplane through the agent's commit hook.

Every refused request is checked for its exact error and for changing nothing: running,
and the dataplane's PW states, group entries and statistics.  libyang (``yanglint -t
nc-rpc`` / ``nc-reply`` with the agent's running as operational data) is an independent
oracle for what a valid request and a valid reply are.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from agent.dataplane_driver import SimDataplane
from agent.paths import YANG_DIR, pyang_module_dirs
from agent.xmlns import NC, VL2MC, YANG, qn
from dataplane.config import DeviceConfig
from dataplane.scenario import GROUPS, RECEIVER_GROUPS, FailoverLab, build_lab, device_configs
from dataplane.sim import Simulator
from dataplane.sim.realtime import RealTimeRunner
from tests.dataplane._core_helpers import report
from tests.agent.test_edit_config import config, edit, errors_of, running, snapshot
from tests.agent.yang_oracles import MODULE_FILE
from tests.conftest import RunningAgent

V = f"{{{VL2MC}}}"
PRIMARY = ("10.0.0.1", 100)
BACKUP = ("10.0.0.2", 100)
YANGLINT = shutil.which("yanglint")


# --- the agent on the lab's UPE -------------------------------------------------------------

@dataclass
class LabAgent(RunningAgent):
    """An agent whose dataplane is the UPE of a simulated lab (SPE1, SPE2, router, hosts)."""

    lab: FailoverLab | None = None
    dataplane: SimDataplane | None = None

    def __post_init__(self) -> None:
        self.dataplane_factory = lambda: self.dataplane

    def in_lab(self, action: Callable[[], Any]) -> Any:
        """Run ``action`` on the agent's loop at the simulation's present (like an rpc does)."""
        assert self.dataplane is not None

        def step() -> Any:
            self.dataplane.runner.catch_up()
            result = action()
            self.dataplane.runner.reschedule()
            return result
        return self.run(step)


def upe_running_config() -> str:
    """The UPE's configuration of ``dataplane.scenario.device_configs(feature=True)`` as YANG."""
    pw = ("<pw><peer-address>{}</peer-address><vc-id>100</vc-id><interface>{}</interface>"
          "<role>{}</role></pw>")
    return config(
        f'<l2-multicast xmlns="{VL2MC}"><igmp-snooping-enable>true</igmp-snooping-enable>'
        "<device-mac>02:00:00:00:01:03</device-mac></l2-multicast>"
        f'<vsis xmlns="{VL2MC}"><vsi><name>iptv</name>'
        "<unknown-multicast-action>drop</unknown-multicast-action>"
        "<acs><ac><interface>ac1</interface></ac><ac><interface>ac2</interface></ac></acs>"
        "<pws>" + pw.format("10.0.0.1", "pw-spe1", "primary") + pw.format("10.0.0.2", "pw-spe2", "backup")
        + "</pws><igmp-snooping><enable>true</enable>"
        "<backup-query-forward>true</backup-query-forward>"
        "<backup-query-source-mac-replace>true</backup-query-source-mac-replace>"
        "<backup-report-forward>true</backup-report-forward>"
        "<backup-report-source-mac-replace>true</backup-report-source-mac-replace>"
        "</igmp-snooping></vsi></vsis>")


@pytest.fixture
def lab_agent(tmp_path: Path) -> Iterator[LabAgent]:
    sim = Simulator()
    # the router stays silent: no query can change the counters a refused request must keep
    lab = build_lab(sim, device_configs(feature=True))
    for host in lab.receivers.values():
        host.unsolicited_report_interval = 0.05     # a join's repeated report comes soon
    dataplane = SimDataplane(lab.upe, RealTimeRunner(sim), owns_runner=True)
    agent = LabAgent(state_dir=tmp_path / "state", lab=lab, dataplane=dataplane)
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


@pytest.fixture
def nc(lab_agent: LabAgent) -> Iterator[Any]:
    """A session on the lab agent whose running holds the UPE's configuration."""
    manager = lab_agent.connect()
    edit(manager, upe_running_config())
    try:
        yield manager
    finally:
        if manager.connected:
            manager.close_session()


def receivers_join(agent: LabAgent, static_groups: int = 0) -> None:
    """The lab's receivers join their groups; wait until the UPE has learned every group and
    counted every report (each join is reported once more within a second, RFC 2236 3)."""
    assert agent.lab is not None
    receivers = agent.lab.receivers
    joins = [(receivers[name], group) for name, groups in RECEIVER_GROUPS.items() for group in groups]
    reports = sum(1 + host.unsolicited_repeats for host, _group in joins)
    agent.in_lab(lambda: [host.join(group) for host, group in joins])
    assert agent.wait_until(lambda _server: entry_count(agent) == len(GROUPS) + static_groups
                            and device(agent).vsis["iptv"].stats.as_dict()["reports-v2-received"] == reports)


# --- what the dataplane holds ----------------------------------------------------------------

def device(agent: LabAgent) -> Any:
    assert agent.dataplane is not None
    return agent.dataplane.device


def entry_count(agent: LabAgent, vsi: str = "iptv") -> int:
    snooping = device(agent).vsis[vsi].snooping
    return snooping.entry_count if snooping is not None else 0


def forwarding_state(agent: LabAgent, pw: tuple[str, int], vsi: str = "iptv") -> str:
    return agent.run(lambda: device(agent).vsis[vsi].pws.pws[pw].forwarding_state)


def statistics(agent: LabAgent, vsi: str = "iptv") -> dict[str, object]:
    return agent.run(lambda: device(agent).vsis[vsi].stats.as_dict())


def dataplane_snapshot(agent: LabAgent) -> tuple[Any, ...]:
    """What a refused request must leave as it was: PW states, groups, statistics."""
    def take() -> tuple[Any, ...]:
        vsi = device(agent).vsis["iptv"]
        # remote-status is left out: it is what the peers signal, whenever they do
        pws = tuple(sorted((key, pw.oper_status, pw.forwarding_state) for key, pw in vsi.pws.pws.items()))
        return pws, vsi.snooping.entry_count, tuple(sorted(vsi.stats.as_dict().items()))
    return agent.run(take)


# --- requests -----------------------------------------------------------------------------

def action(body: str) -> etree._Element:
    return etree.fromstring(f'<action xmlns="{YANG}">{body}</action>')


def vsi_path(inner: str, name: str = "iptv") -> str:
    return f'<vsis xmlns="{VL2MC}"><vsi><name>{name}</name>{inner}</vsi></vsis>'


def pw_path(inner: str, peer: str = "10.0.0.2", vc_id: str = "100", vsi: str = "iptv") -> str:
    return vsi_path(f"<pws><pw><peer-address>{peer}</peer-address><vc-id>{vc_id}</vc-id>{inner}</pw></pws>", vsi)


def switchover(peer: str = "10.0.0.2", vc_id: str = "100", vsi: str = "iptv") -> etree._Element:
    return action(pw_path("<switchover/>", peer, vc_id, vsi))


def clear_groups(vsi: str = "iptv") -> etree._Element:
    return action(vsi_path("<igmp-snooping><clear-groups/></igmp-snooping>", vsi))


def reset(rpc: str, vsi_name: str | None = None) -> etree._Element:
    param = "" if vsi_name is None else f"<vsi-name>{vsi_name}</vsi-name>"
    return etree.fromstring(f'<{rpc} xmlns="{VL2MC}">{param}</{rpc}>')


RESETS = ("reset-igmp-snooping-group", "reset-igmp-snooping-statistics")


def output_of(reply: Any) -> list[etree._Element]:
    """The children of a successful `<rpc-reply>`."""
    return list(etree.fromstring(reply.xml.encode()))


def refused_unchanged(agent: LabAgent, nc: Any, request: etree._Element) -> dict[str, Any]:
    """Send a request that must fail; its one rpc-error, after checking nothing changed."""
    config_before, dataplane_before = snapshot(nc), dataplane_snapshot(agent)
    with pytest.raises(RPCError) as caught:
        nc.dispatch(request)
    errors = errors_of(caught.value)
    assert len(errors) == 1, errors
    assert snapshot(nc) == config_before
    assert dataplane_snapshot(agent) == dataplane_before
    return errors[0]


# --- libyang as the oracle ------------------------------------------------------------------

def _yanglint(kind: str, document: etree._Element, operational: etree._Element,
              request: etree._Element | None = None) -> tuple[bool, str]:
    """``yanglint -t nc-rpc|nc-reply`` with ``operational`` (get-config data) as -O."""
    if YANGLINT is None:
        pytest.skip("yanglint (libyang2-tools) is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for name, element in (("doc", document), ("oper", operational), ("request", request)):
            if element is None:
                continue
            files[name] = Path(tmp) / f"{name}.xml"
            if name == "oper":
                files[name].write_bytes(b"".join(etree.tostring(child) for child in element))
            else:
                files[name].write_bytes(etree.tostring(element))
        search = [arg for d in [YANG_DIR, *pyang_module_dirs()] for arg in ("-p", str(d))]
        extra = ["-R", str(files["request"])] if request is not None else []
        proc = subprocess.run(
            [YANGLINT, "-D", *search, "-t", kind, *extra, "-O", str(files["oper"]), str(MODULE_FILE),
             str(files["doc"])], capture_output=True, text=True, timeout=60)
    return proc.returncode == 0, (proc.stderr + proc.stdout).strip()


def rpc_envelope(operation: etree._Element) -> etree._Element:
    rpc = etree.Element(qn(NC, "rpc"), {"message-id": "1"}, nsmap={None: NC})
    rpc.append(etree.fromstring(etree.tostring(operation)))
    return rpc


def libyang_accepts_request(nc: Any, request: etree._Element) -> tuple[bool, str]:
    """Is ``request`` a valid rpc/action for libyang, given the agent's running as operational?"""
    return _yanglint("nc-rpc", rpc_envelope(request), running(nc, with_defaults="report-all"))


def libyang_accepts_reply(nc: Any, request: etree._Element, reply: Any) -> tuple[bool, str]:
    return _yanglint("nc-reply", etree.fromstring(reply.xml.encode()),
                     running(nc, with_defaults="report-all"), rpc_envelope(request))



def vsi_name_path(rpc: str) -> str:
    return f"/vl2mc:{rpc}/vl2mc:vsi-name"


def target_path(vsi: str = "iptv", pw: tuple[str, str] | None = None, container: str | None = None) -> str:
    path = f"/vl2mc:vsis/vl2mc:vsi[vl2mc:name='{vsi}']"
    if pw is not None:
        path += f"/vl2mc:pws/vl2mc:pw[vl2mc:peer-address='{pw[0]}'][vl2mc:vc-id='{pw[1]}']"
    if container is not None:
        path += f"/vl2mc:{container}"
    return path


# --- switchover -----------------------------------------------------------------------------

def test_switchover_makes_the_backup_pw_active_and_answers_ok(lab_agent, nc):
    assert forwarding_state(lab_agent, BACKUP) == "standby"
    request = switchover(*BACKUP_KEYS)
    assert libyang_accepts_request(nc, request) == (True, "")
    reply = nc.dispatch(request)
    assert [e.tag for e in output_of(reply)] == [qn(NC, "ok")]
    assert forwarding_state(lab_agent, BACKUP) == "active"
    assert forwarding_state(lab_agent, PRIMARY) == "standby"


def test_switchover_is_seen_in_the_operational_pw_state(lab_agent, nc):
    nc.dispatch(switchover(*BACKUP_KEYS))
    data = etree.fromstring(nc.get(filter=("subtree", f'<vsis xmlns="{VL2MC}"/>')).data_xml.encode())
    states = {pw.findtext(f"{V}peer-address"): pw.findtext(f"{V}forwarding-state")
              for pw in data.iter(f"{V}pw")}
    assert states == {"10.0.0.1": "standby", "10.0.0.2": "active"}


def test_switchover_back_to_the_primary_makes_it_active_again(lab_agent, nc):
    nc.dispatch(switchover(*BACKUP_KEYS))
    nc.dispatch(switchover(*PRIMARY_KEYS))
    assert forwarding_state(lab_agent, PRIMARY) == "active"
    assert forwarding_state(lab_agent, BACKUP) == "standby"


def test_switchover_to_the_pw_already_active_changes_nothing_and_answers_ok(lab_agent, nc):
    before = dataplane_snapshot(lab_agent)
    reply = nc.dispatch(switchover(*PRIMARY_KEYS))
    assert [e.tag for e in output_of(reply)] == [qn(NC, "ok")]
    assert dataplane_snapshot(lab_agent) == before


def test_switchover_keys_are_read_in_their_canonical_form(lab_agent, nc):
    """vc-id is a uint32: '0100' is 100, the same PW."""
    nc.dispatch(switchover("10.0.0.2", "0100"))
    assert forwarding_state(lab_agent, BACKUP) == "active"


def test_switchover_of_a_pw_without_a_role_is_operation_failed(lab_agent, nc):
    edit(nc, config(f'<vsis xmlns="{VL2MC}"><vsi><name>iptv</name><pws><pw><peer-address>10.0.0.9'
                    "</peer-address><vc-id>200</vc-id><interface>pw-x</interface></pw></pws></vsi></vsis>"))
    error = refused_unchanged(lab_agent, nc, switchover("10.0.0.9", "200"))
    assert (error["type"], error["tag"]) == ("application", "operation-failed")
    assert error["path"] == target_path(pw=("10.0.0.9", "200"))
    assert "no role" in error["message"]
    assert "10.0.0.9" in error["message"]


def test_switchover_to_a_pw_whose_port_is_down_is_operation_failed(lab_agent, nc):
    assert lab_agent.lab is not None
    backup_link = lab_agent.lab.backup_link
    lab_agent.in_lab(lambda: backup_link.set_up(False))
    error = refused_unchanged(lab_agent, nc, switchover(*BACKUP_KEYS))
    assert (error["type"], error["tag"]) == ("application", "operation-failed")
    assert error["path"] == target_path(pw=BACKUP_KEYS)
    assert "down" in error["message"]
    assert forwarding_state(lab_agent, PRIMARY) == "active"


# --- clear-groups ---------------------------------------------------------------------------

def test_clear_groups_removes_the_learned_groups_and_says_how_many(lab_agent, nc):
    receivers_join(lab_agent)
    request = clear_groups()
    reply = nc.dispatch(request)
    (leaf,) = output_of(reply)
    assert (leaf.tag, leaf.text) == (f"{V}groups-cleared", str(len(GROUPS)))
    assert lab_agent.run(lambda: entry_count(lab_agent)) == 0


def test_clear_groups_reply_is_valid_output_of_the_action(lab_agent, nc):
    receivers_join(lab_agent)
    request = clear_groups()
    assert libyang_accepts_request(nc, request) == (True, "")
    reply = nc.dispatch(request)
    assert libyang_accepts_reply(nc, request, reply) == (True, "")


def test_clear_groups_with_nothing_learned_answers_zero(lab_agent, nc):
    (leaf,) = output_of(nc.dispatch(clear_groups()))
    assert leaf.text == "0"


def test_clear_groups_keeps_static_groups(lab_agent, nc):
    edit(nc, config(f'<vsis xmlns="{VL2MC}"><vsi><name>iptv</name><igmp-snooping><static-group>'
                    "<group-address>239.9.9.9</group-address><source-address>0.0.0.0</source-address>"
                    "<interface>ac1</interface></static-group></igmp-snooping></vsi></vsis>"))
    receivers_join(lab_agent, static_groups=1)
    (leaf,) = output_of(nc.dispatch(clear_groups()))
    assert leaf.text == str(len(GROUPS))
    assert lab_agent.run(lambda: entry_count(lab_agent)) == 1


# --- the rpcs -------------------------------------------------------------------------------

def test_reset_igmp_snooping_group_without_vsi_name_clears_every_vsi(lab_agent, nc):
    add_second_vsi(nc)
    receivers_join(lab_agent)
    vod_learns_a_group(lab_agent)
    request = reset("reset-igmp-snooping-group")
    assert libyang_accepts_request(nc, request) == (True, "")
    reply = nc.dispatch(request)
    assert [e.tag for e in output_of(reply)] == [qn(NC, "ok")]
    assert lab_agent.run(lambda: entry_count(lab_agent)) == 0
    assert lab_agent.run(lambda: entry_count(lab_agent, "vod")) == 0


def test_reset_igmp_snooping_group_with_vsi_name_clears_that_vsi(lab_agent, nc):
    receivers_join(lab_agent)
    nc.dispatch(reset("reset-igmp-snooping-group", "iptv"))
    assert lab_agent.run(lambda: entry_count(lab_agent)) == 0


def test_reset_igmp_snooping_group_of_another_vsi_keeps_these_groups(lab_agent, nc):
    add_second_vsi(nc)
    receivers_join(lab_agent)
    nc.dispatch(reset("reset-igmp-snooping-group", "vod"))
    assert lab_agent.run(lambda: entry_count(lab_agent)) == len(GROUPS)


def test_reset_igmp_snooping_statistics_zeroes_the_counters(lab_agent, nc):
    receivers_join(lab_agent)
    assert statistics(lab_agent)["reports-v2-received"] != 0
    request = reset("reset-igmp-snooping-statistics", "iptv")
    assert libyang_accepts_request(nc, request) == (True, "")
    nc.dispatch(request)
    assert statistics(lab_agent)["reports-v2-received"] == 0
    assert lab_agent.run(lambda: entry_count(lab_agent)) == len(GROUPS)


def test_reset_igmp_snooping_statistics_without_vsi_name_zeroes_every_vsi(lab_agent, nc):
    add_second_vsi(nc)
    receivers_join(lab_agent)
    vod_learns_a_group(lab_agent)
    nc.dispatch(reset("reset-igmp-snooping-statistics"))
    assert statistics(lab_agent)["reports-v2-received"] == 0
    assert statistics(lab_agent, "vod")["reports-v2-received"] == 0


def test_reset_igmp_snooping_statistics_of_another_vsi_keeps_these_counters(lab_agent, nc):
    add_second_vsi(nc)
    receivers_join(lab_agent)
    before = statistics(lab_agent)
    nc.dispatch(reset("reset-igmp-snooping-statistics", "vod"))
    assert statistics(lab_agent) == before


@pytest.mark.parametrize("rpc", RESETS)
def test_reset_with_a_vsi_name_that_is_not_configured_is_instance_required(lab_agent, nc, rpc):
    receivers_join(lab_agent)
    request = reset(rpc, "nope")
    assert libyang_accepts_request(nc, request)[0] is False
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["type"], error["tag"], error["app_tag"]) == ("application", "data-missing", "instance-required")
    assert error["path"] == vsi_name_path(rpc)
    assert "nope" in error["message"]


@pytest.mark.parametrize("rpc", RESETS)
def test_reset_with_a_vsi_name_that_is_not_a_vsi_name_is_invalid_value(lab_agent, nc, rpc):
    receivers_join(lab_agent)
    request = reset(rpc, "no spaces allowed")
    assert libyang_accepts_request(nc, request)[0] is False
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["type"], error["tag"]) == ("application", "invalid-value")
    assert error["path"] == vsi_name_path(rpc)


@pytest.mark.parametrize("rpc", RESETS)
def test_reset_with_a_parameter_the_rpc_does_not_define_is_unknown_element(lab_agent, nc, rpc):
    receivers_join(lab_agent)
    request = etree.fromstring(f'<{rpc} xmlns="{VL2MC}"><vsi-name>iptv</vsi-name><all>true</all></{rpc}>')
    assert libyang_accepts_request(nc, request)[0] is False
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["tag"], error["info"]) == ("unknown-element", {"bad-element": "all"})
    assert error["path"] == f"/vl2mc:{rpc}/vl2mc:all"


# --- the <action> element: one path to one action -------------------------------------------

def test_an_empty_action_element_is_missing_element(lab_agent, nc):
    error = refused_unchanged(lab_agent, nc, action(""))
    assert (error["type"], error["tag"]) == ("protocol", "missing-element")


def test_two_actions_in_one_request_are_bad_element(lab_agent, nc):
    edit(nc, config(f'<vsis xmlns="{VL2MC}"><vsi><name>vod</name></vsi></vsis>'))
    request = action(f'<vsis xmlns="{VL2MC}"><vsi><name>iptv</name><igmp-snooping><clear-groups/>'
                     "</igmp-snooping></vsi><vsi><name>vod</name><igmp-snooping><clear-groups/>"
                     "</igmp-snooping></vsi></vsis>")
    assert libyang_accepts_request(nc, request)[0] is False
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["type"], error["tag"], error["info"]) == ("protocol", "bad-element", {"bad-element": "vsi"})


def test_two_actions_on_one_node_are_bad_element(lab_agent, nc):
    request = action(pw_path("<switchover/><switchover/>"))
    assert libyang_accepts_request(nc, request)[0] is False
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["tag"], error["info"]) == ("bad-element", {"bad-element": "switchover"})


def test_two_top_level_paths_are_bad_element(lab_agent, nc):
    request = action(vsi_path("<igmp-snooping><clear-groups/></igmp-snooping>")
                     + f'<l2-multicast xmlns="{VL2MC}"/>')
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["type"], error["tag"], error["info"]) == (
        "protocol", "bad-element", {"bad-element": "l2-multicast"})


def test_an_element_of_no_module_is_unknown_namespace(lab_agent, nc):
    request = action('<vsis xmlns="urn:example:elsewhere"><vsi><name>iptv</name></vsi></vsis>')
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["type"], error["tag"]) == ("application", "unknown-namespace")
    assert error["info"] == {"bad-element": "vsis", "bad-namespace": "urn:example:elsewhere"}


def test_an_element_that_is_no_data_node_there_is_unknown_element(lab_agent, nc):
    request = action(vsi_path("<igmp-snoping><clear-groups/></igmp-snoping>"))
    assert libyang_accepts_request(nc, request)[0] is False
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["type"], error["tag"], error["info"]) == (
        "application", "unknown-element", {"bad-element": "igmp-snoping"})
    assert error["path"] == target_path() + "/vl2mc:igmp-snoping"


def test_a_list_entry_without_all_its_keys_is_missing_element(lab_agent, nc):
    request = action(vsi_path("<pws><pw><peer-address>10.0.0.2</peer-address><switchover/></pw></pws>"))
    assert libyang_accepts_request(nc, request)[0] is False
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["type"], error["tag"], error["info"]) == (
        "application", "missing-element", {"bad-element": "vc-id"})
    assert error["path"] == target_path() + "/vl2mc:pws/vl2mc:pw"


def test_a_key_given_twice_is_bad_element(lab_agent, nc):
    """A leaf has one instance (RFC 7950 7.6); libyang overlooks the repetition, we do not."""
    request = action(pw_path("<vc-id>100</vc-id><switchover/>"))
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["type"], error["tag"], error["info"]) == ("application", "bad-element", {"bad-element": "vc-id"})
    assert error["path"] == target_path(pw=BACKUP_KEYS) + "/vl2mc:vc-id"


def test_a_key_value_not_of_the_key_type_is_invalid_value(lab_agent, nc):
    request = switchover("10.0.0.2", "many")
    assert libyang_accepts_request(nc, request)[0] is False
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["type"], error["tag"]) == ("application", "invalid-value")
    assert error["path"].endswith("/vl2mc:pws/vl2mc:pw[vl2mc:peer-address='10.0.0.2'][vl2mc:vc-id='many']"
                                  "/vl2mc:vc-id")


def test_a_path_to_a_leaf_is_bad_element(lab_agent, nc):
    request = action(vsi_path("<description>x</description>"))
    assert libyang_accepts_request(nc, request)[0] is False
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["type"], error["tag"], error["info"]) == (
        "application", "bad-element", {"bad-element": "description"})
    assert error["path"] == target_path() + "/vl2mc:description"
    assert "not an action" in error["message"]


def test_a_path_that_ends_without_an_action_is_missing_element(lab_agent, nc):
    request = action(pw_path(""))
    assert libyang_accepts_request(nc, request)[0] is False
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["type"], error["tag"], error["info"]) == (
        "application", "missing-element", {"bad-element": "switchover"})
    assert error["path"] == target_path(pw=BACKUP_KEYS)
    assert "switchover" in error["message"]


def test_an_rpc_inside_action_is_bad_element(lab_agent, nc):
    request = action(f'<reset-igmp-snooping-group xmlns="{VL2MC}"/>')
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["tag"], error["info"]) == ("bad-element", {"bad-element": "reset-igmp-snooping-group"})
    assert "invoke it directly" in error["message"]


def test_an_input_parameter_the_action_does_not_define_is_unknown_element(lab_agent, nc):
    request = action(pw_path("<switchover><force>true</force></switchover>"))
    assert libyang_accepts_request(nc, request)[0] is False
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["type"], error["tag"], error["info"]) == ("application", "unknown-element", {"bad-element": "force"})
    assert error["path"] == target_path(pw=BACKUP_KEYS) + "/vl2mc:switchover/vl2mc:force"


# --- the target must exist ------------------------------------------------------------------

def test_switchover_on_a_pw_that_does_not_exist_is_data_missing_at_the_pw(lab_agent, nc):
    request = switchover("10.0.0.7", "100")
    assert libyang_accepts_request(nc, request)[0] is False
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["type"], error["tag"]) == ("application", "data-missing")
    assert error["path"] == target_path(pw=("10.0.0.7", "100"))
    assert "10.0.0.7" in error["message"]


def test_clear_groups_in_a_vsi_that_does_not_exist_is_data_missing_at_its_container(lab_agent, nc):
    request = clear_groups("nope")
    assert libyang_accepts_request(nc, request)[0] is False
    error = refused_unchanged(lab_agent, nc, request)
    assert (error["type"], error["tag"]) == ("application", "data-missing")
    assert error["path"] == target_path("nope", container="igmp-snooping")
    assert "nope" in error["message"]


def test_an_action_on_an_entry_only_in_the_candidate_is_data_missing(lab_agent, nc):
    """The target must exist in operational; an uncommitted entry does not yet."""
    edit(nc, config(f'<vsis xmlns="{VL2MC}"><vsi><name>vod</name></vsi></vsis>'), target="candidate")
    error = refused_unchanged(lab_agent, nc, clear_groups("vod"))
    assert error["tag"] == "data-missing"
    nc.discard_changes()


# --- the dataplane must hold what running holds ----------------------------------------------

def test_a_vsi_the_dataplane_does_not_have_is_operation_failed(lab_agent, nc):
    """Behind the agent's back the dataplane loses its VSIs: the request is valid (iptv is
    configured) but cannot run, and the person is told why."""
    assert lab_agent.dataplane is not None
    dataplane = lab_agent.dataplane
    lab_agent.run(lambda: dataplane.apply(DeviceConfig()))
    for request in (switchover(*BACKUP_KEYS), clear_groups(), reset(RESETS[0], "iptv"), reset(RESETS[1], "iptv")):
        with pytest.raises(RPCError) as caught:
            nc.dispatch(request)
        (error,) = errors_of(caught.value)
        assert (error["type"], error["tag"]) == ("application", "operation-failed")
        assert "dataplane does not have it" in error["message"]
        assert lab_agent.run(lambda: list(dataplane.device.vsis)) == []


# --- helpers that need the tests' vocabulary ------------------------------------------------

PRIMARY_KEYS = ("10.0.0.1", "100")
BACKUP_KEYS = ("10.0.0.2", "100")


def add_second_vsi(nc: Any) -> None:
    """A second VSI, vod, with snooping on and an AC of its own (nothing is learned in it)."""
    edit(nc, config(f'<vsis xmlns="{VL2MC}"><vsi><name>vod</name><acs><ac><interface>ac9</interface></ac>'
                    "</acs><igmp-snooping><enable>true</enable></igmp-snooping></vsi></vsis>"))


def vod_learns_a_group(agent: LabAgent) -> None:
    """A host on vod's AC (nothing is wired to it) reports 239.5.5.5: one entry, one report."""
    frame = report("239.5.5.5", host=99)
    agent.in_lab(lambda: agent.dataplane.node.receive("ac9", frame, agent.dataplane.node.sim.now))
    assert agent.run(lambda: entry_count(agent, "vod")) == 1
    assert statistics(agent, "vod")["reports-v2-received"] == 1

