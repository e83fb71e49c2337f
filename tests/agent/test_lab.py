"""`vsi-agent lab` (SPEC section 6, issue 4 item 5) and the end-to-end run of issue 4:
three agents over one real-time topology, driven with ncclient like a user would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from ncclient import manager

from agent.dataplane_config import device_config
from agent.datastore import Datastores
from agent.lab import DEVICES, lab_config, max_response_time, render_view
from agent.validate import Validator
from agent.xmlns import NC, VL2MC
from dataplane.scenario import device_configs
from tests.agent.yang_oracles import yanglint_validate
from tests.conftest import ADMIN_PASSWORD, RunningLab, compiled_schema, free_consecutive_ports

NS = {"v": VL2MC, "nc": NC, "n": "urn:ietf:params:xml:ns:netconf:notification:1.0"}
YANG_1 = "urn:ietf:params:xml:ns:yang:1"
FEATURE_ON = (f'<config xmlns="{NC}"><vsis xmlns="{VL2MC}"><vsi><name>iptv</name><igmp-snooping>'
              "<backup-query-forward>true</backup-query-forward>"
              "<backup-query-source-mac-replace>true</backup-query-source-mac-replace>"
              "<backup-report-forward>true</backup-report-forward>"
              "<backup-report-source-mac-replace>true</backup-report-source-mac-replace>"
              "</igmp-snooping></vsi></vsis></config>")
GROUPS_FILTER = (f'<vsis xmlns="{VL2MC}"><vsi><name>iptv</name><igmp-snooping><group/></igmp-snooping>'
                 f'</vsi></vsis>')


def memberships(m: manager.Manager, interface: str) -> dict[str, dict[str, str]]:
    """group-address -> the port entry's leaves, for the groups with a port ``interface``."""
    data = m.get(filter=("subtree", GROUPS_FILTER)).data
    found = {}
    for group in data.iterfind(".//v:group", NS):
        for port in group.iterfind("v:port", NS):
            if port.findtext("v:interface", namespaces=NS) == interface:
                found[group.findtext("v:group-address", namespaces=NS)] = {
                    etree.QName(leaf).localname: leaf.text for leaf in port}
    return found


def switchover_action(peer: str, vc_id: int) -> etree._Element:
    return etree.fromstring(
        f'<action xmlns="{YANG_1}"><vsis xmlns="{VL2MC}"><vsi><name>iptv</name><pws><pw>'
        f'<peer-address>{peer}</peer-address><vc-id>{vc_id}</vc-id><switchover/></pw></pws></vsi></vsis></action>')


def receptions(lab: RunningLab) -> dict[tuple[str, int], tuple[int, float]]:
    """(receiver, group) -> (frames received, virtual time of the last one)."""
    return {(name, group): (reception.received, reception.last_time or 0.0)
            for name, host in lab.lab.topology.receivers.items() for group, reception in host.receptions.items()}


def wait_for(probe: Any, timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Call ``probe()`` until it returns something true; that value, or the last one."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = probe()
    return value


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize("feature", [False, True])
@pytest.mark.parametrize("device", DEVICES)
def test_lab_configuration_is_the_scenario_configuration(device: str, feature: bool, tmp_path: Path) -> None:
    """What the agents are configured with is what the virtual-time scenario runs."""
    schema = compiled_schema()
    stores = Datastores(schema, Validator(schema), tmp_path)
    tree = stores.tree_from_config(lab_config(device, feature=feature))
    assert not stores.validator.validate_full(tree)
    assert device_config(tree) == device_configs(feature)[device]


def test_lab_configuration_validates_with_yanglint() -> None:
    for device in DEVICES:
        ok, message = yanglint_validate(etree.tostring(lab_config(device, feature=True)).decode())
        assert ok, message


def test_short_querier_interval_keeps_max_response_time_below_it() -> None:
    assert max_response_time(60) == 10
    assert max_response_time(2) == 1 < 2
    assert all(max_response_time(qi) < qi for qi in range(2, 100))


# --------------------------------------------------------------------------- the running lab


def test_lab_agents_report_their_own_devices(make_lab: Any) -> None:
    lab: RunningLab = make_lab()
    for device in DEVICES:
        with lab.connect(device) as m:
            data = m.get(filter=("subtree", f'<vsis xmlns="{VL2MC}"><vsi><name>iptv</name><pws/></vsi></vsis>')).data
            interfaces = sorted(el.text for el in data.iterfind(".//v:pw/v:interface", NS))
            assert interfaces == (["pw-spe1", "pw-spe2"] if device == "UPE" else ["pw-upe"])


def test_receivers_get_the_stream_and_the_upe_learns_their_groups(make_lab: Any) -> None:
    lab: RunningLab = make_lab()
    assert lab.wait_until(lambda lb: all(r.received > 20 for h in lb.topology.receivers.values()
                                         for r in h.receptions.values()) and
                          len(lb.topology.receivers["receiver1"].receptions) == 2)
    with lab.connect("UPE") as m:
        assert sorted(memberships(m, "ac1")) == ["239.1.1.1", "239.1.1.2"]
        assert sorted(memberships(m, "ac2")) == ["239.1.1.2", "239.1.1.3"]


def test_live_view_shows_pws_groups_and_receivers(make_lab: Any) -> None:
    lab: RunningLab = make_lab()
    assert lab.wait_until(lambda lb: lb.nodes["UPE"].device.vsis["iptv"].snooping.entry_count == 3)
    view = lab.run(lambda: render_view(lab.lab))
    assert "pw-spe1 10.0.0.1:100" in view and "primary" in view
    assert "239.1.1.3" in view and "receiver2" in view


def test_lab_operational_state_validates_with_yanglint(make_lab: Any) -> None:
    lab: RunningLab = make_lab(feature=True)
    assert lab.wait_until(lambda lb: lb.nodes["SPE2"].device.vsis["iptv"].snooping.entry_count >= 3)
    for device in DEVICES:
        with lab.connect(device) as m:
            both = etree.fromstring(f'<filter xmlns="{NC}" type="subtree"><l2-multicast xmlns="{VL2MC}"/>'
                                    f'<vsis xmlns="{VL2MC}"/></filter>')
            reply = m.get(filter=both).data_xml
        ok, message = yanglint_validate(reply, datastore="data")
        assert ok, f"{device}: {message}"


def test_end_to_end_enable_the_feature_then_switch_over_without_a_gap(make_lab: Any) -> None:
    """Issue 4's end-to-end run: feature off -> SPE2 has nothing on its PW; on -> SPE2 holds
    the groups on pw-upe learned on backup and not forwarding; a switchover action on the
    UPE -> they forward, the receivers see no gap, and a pw-switchover notification comes."""
    lab: RunningLab = make_lab(feature=False, querier_interval=2)
    assert lab.wait_until(lambda lb: lb.nodes["UPE"].device.vsis["iptv"].snooping.entry_count == 3)
    upe, spe1, spe2 = (lab.connect(name) for name in DEVICES)
    try:
        time.sleep(2.5)   # a query and its reports have passed: still nothing on SPE2's PW
        assert memberships(spe2, "pw-upe") == {}

        for m in (upe, spe1, spe2):
            m.edit_config(target="running", config=FEATURE_ON)
        learned = wait_for(lambda: len(memberships(spe2, "pw-upe")) == 3 and memberships(spe2, "pw-upe"))
        assert sorted(learned) == ["239.1.1.1", "239.1.1.2", "239.1.1.3"]
        for port in learned.values():
            assert port["learned-on-backup"] == "true" and port["forwarding"] == "false"

        upe.create_subscription()
        switched_at = lab.run(lab.lab.now)
        before = lab.run(lambda: receptions(lab))
        upe.dispatch(switchover_action("10.0.0.2", 100))

        forwarding = wait_for(lambda: all(p["forwarding"] == "true" for p in memberships(spe2, "pw-upe").values()))
        assert forwarding
        notification = upe.take_notification(timeout=10)
        assert notification is not None
        body = notification.notification_ele.find(".//v:pw-switchover", NS)
        assert body is not None
        assert body.findtext("v:to-pw/v:peer-address", namespaces=NS) == "10.0.0.2"
        assert body.findtext("v:from-pw/v:peer-address", namespaces=NS) == "10.0.0.1"
        # the UPE's own members are on its ACs: what was preinstalled sits on SPE2's PW (above)
        assert body.findtext("v:preinstalled-groups", namespaces=NS) == "0"

        time.sleep(1.0)
        gaps = lab.run(lambda: lab.lab.receiver_gaps(since=switched_at))
        after = lab.run(lambda: receptions(lab))
        now = lab.run(lab.lab.now)
        # a manual switchover is signalled in one PW delay (1 ms): a frame SPE1 had already put
        # on the wire may arrive on the now-standby PW and be dropped, so at 100 frames/s one
        # missing frame (a 20 ms gap) is what detection allows; two would be an interruption
        assert all(gap < 0.03 for gap in gaps.values()), gaps
        for key, (count, last) in after.items():       # every group of every receiver still flows
            assert count > before[key][0] + 50 and now - last < 0.1, (key, before[key], (count, last), now)
        upe_pws = lab.run(lambda: {pw.interface: pw.forwarding_state
                                   for pw in lab.lab.nodes["UPE"].device.vsis["iptv"].pws.pws.values()})
        assert upe_pws == {"pw-spe1": "standby", "pw-spe2": "active"}
    finally:
        for m in (upe, spe1, spe2):
            m.close_session()


def test_a_lab_restarted_with_another_password_says_the_first_one_stands(tmp_path: Path) -> None:
    """Users are created on the first start: a password given later is not the admin's."""
    from agent.lab import credentials_text

    first = RunningLab(state_dir=tmp_path / "lab", admin_password="first-password")
    first.start()
    first.stop()
    for given, shown in (("second-password", None), ("first-password", "first-password")):
        again = RunningLab(state_dir=tmp_path / "lab", admin_password=given)
        again.start()
        try:
            text = again.run(lambda: credentials_text(again.lab))
            with again.connect("UPE", password="first-password") as m:
                assert m.connected
        finally:
            again.stop()
        if shown is None:
            assert "second-password" not in text and "was first used" in text
        else:
            assert repr(shown) in text


def test_group_limit_crossed_in_the_lab_is_a_group_limit_exceeded_notification(make_lab: Any) -> None:
    """A real report over limit-max-entry, through the core's event, to a subscriber."""
    lab: RunningLab = make_lab(querier_interval=2)
    assert lab.wait_until(lambda lb: lb.nodes["UPE"].device.vsis["iptv"].snooping.entry_count == 3)
    with lab.connect("UPE") as upe:
        upe.create_subscription(filter=("subtree", f'<group-limit-exceeded xmlns="{VL2MC}"/>'))
        upe.edit_config(target="running", config=f'<config xmlns="{NC}"><vsis xmlns="{VL2MC}"><vsi><name>iptv</name>'
                                                 '<igmp-snooping><limit-max-entry>2</limit-max-entry></igmp-snooping>'
                                                 '</vsi></vsis></config>')
        upe.dispatch(etree.fromstring(f'<action xmlns="{YANG_1}"><vsis xmlns="{VL2MC}"><vsi><name>iptv</name>'
                                      '<igmp-snooping><clear-groups/></igmp-snooping></vsi></vsis></action>'))
        notification = upe.take_notification(timeout=30)      # the next query's reports refill it
        assert notification is not None
        body = notification.notification_ele.find(".//v:group-limit-exceeded", NS)
        assert body.findtext("v:vsi", namespaces=NS) == "iptv" and body.findtext("v:limit", namespaces=NS) == "2"
        assert body.findtext("v:group-address", namespaces=NS) in {"239.1.1.1", "239.1.1.2", "239.1.1.3"}
    assert lab.run(lambda: lab.lab.nodes["UPE"].device.vsis["iptv"].snooping.entry_count) == 2


# --------------------------------------------------------------------------- the command line


def test_vsi_agent_lab_command_prints_credentials_listens_and_stops_on_sigint(tmp_path: Path) -> None:
    base = free_consecutive_ports(3)
    env = {**os.environ, "VSI_AGENT_ADMIN_PASSWORD": ADMIN_PASSWORD}
    proc = subprocess.Popen([sys.executable, "-m", "agent", "lab", "--base-port", str(base),
                             "--state-dir", str(tmp_path / "lab")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        first = proc.stdout.readline()
        assert f"UPE 127.0.0.1:{base}" in first and f"SPE2 127.0.0.1:{base + 2}" in first
        assert ADMIN_PASSWORD in proc.stdout.readline()
        with manager.connect(host="127.0.0.1", port=base + 2, username="admin", password=ADMIN_PASSWORD,
                             hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=30) as m:
            data = m.get_config(source="running").data
            assert data.findtext(".//v:pw/v:interface", namespaces=NS) == "pw-upe"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
        assert "receiver1" in proc.stdout.read()          # the live view was printed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_vsi_agent_lab_refuses_a_querier_interval_below_two_seconds(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "agent", "lab", "--querier-interval", "1",
                           "--state-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "outside 2..65535" in proc.stderr


def test_vsi_agent_lab_refuses_json_without_scenario(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "agent", "lab", "--json", "--state-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--scenario failover" in proc.stderr
