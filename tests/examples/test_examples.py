"""Issue 4 item 6: every script in examples/ runs as a user would run it, against a live lab."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD, RunningLab, free_consecutive_ports

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
VL2MC = "urn:vsi-multicast-agent:yang:vsi-l2-multicast"
NS = {"v": VL2MC}


@pytest.fixture
def lab(make_lab: Any) -> RunningLab:
    """A lab on three consecutive ports (the examples address devices by --base-port), with
    a two-second query interval so that backup learning shows within seconds."""
    return make_lab(base_port=free_consecutive_ports(3), querier_interval=2)


def example(lab: RunningLab, script: str, *args: str) -> list[str]:
    return [sys.executable, str(EXAMPLES / script), "--base-port", str(lab.base_port),
            "--password", ADMIN_PASSWORD, *args]


def run(lab: RunningLab, script: str, *args: str) -> str:
    proc = subprocess.run(example(lab, script, *args), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def spe2_backup_entries(lab: RunningLab) -> int:
    def count() -> int:
        vsi = lab.lab.nodes["SPE2"].device.vsis["iptv"]
        return sum(1 for sources in vsi.snooping.groups.values() for entry in sources.values()
                   for membership in entry.ports.values() if membership.learned_on_backup)
    return lab.run(count)


def test_enable_feature_example_configures_all_three_devices(lab: RunningLab) -> None:
    out = run(lab, "enable_feature.py")
    assert out.count("backup-query-forward and backup-report-forward true") == 3
    for device in ("UPE", "SPE1", "SPE2"):
        with lab.connect(device) as m:
            data = m.get_config(source="running").data
        assert data.findtext(".//v:backup-report-forward", namespaces=NS) == "true"
        assert data.findtext(".//v:backup-query-source-mac-replace", namespaces=NS) == "true"
    run(lab, "enable_feature.py", "--off")
    with lab.connect("SPE2") as m:
        assert m.get_config(source="running").data.findtext(".//v:backup-report-forward", namespaces=NS) == "false"


def test_show_groups_example_prints_the_tables_router_style(lab: RunningLab) -> None:
    assert lab.wait_until(lambda lb: lb.nodes["UPE"].device.vsis["iptv"].snooping.entry_count == 3)
    out = run(lab, "show_groups.py", "--device", "UPE")
    assert "<UPE> display igmp-snooping port-info vsi iptv" in out
    assert "VSI iptv, 3 Entry(s)" in out
    assert "(*, 239.1.1.2)" in out and "2 port(s) include" in out
    assert "PW 10.0.0.1:100 on pw-spe1  role primary  up/active" in out


def test_show_groups_example_shows_spe2_learning_on_the_backup_pw(lab: RunningLab) -> None:
    run(lab, "enable_feature.py")
    deadline = time.monotonic() + 30
    while spe2_backup_entries(lab) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    out = run(lab, "show_groups.py", "--device", "SPE2")
    backup_rows = [line for line in out.splitlines() if "pw-upe" in line and " D-B " in line]
    assert len(backup_rows) == 3, out


def test_switchover_and_watch_notifications_examples(lab: RunningLab) -> None:
    watcher = subprocess.Popen(example(lab, "watch_notifications.py", "--device", "UPE", "--count", "1",
                                       "--seconds", "60"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout.readline().startswith("subscribed to UPE")
        out = run(lab, "switchover.py", "--to", "10.0.0.2")
        assert "switched over to 10.0.0.2:100" in out
        assert "pw-spe2  10.0.0.2:100  active" in out and "pw-spe1  10.0.0.1:100  standby" in out
        assert watcher.wait(timeout=60) == 0, watcher.stderr.read()
        line = watcher.stdout.read()
        assert "UPE: pw-switchover vsi iptv: 10.0.0.1:100 -> 10.0.0.2:100" in line
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()


def test_examples_find_the_password_the_lab_generated(make_lab: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VSI_AGENT_ADMIN_PASSWORD", raising=False)
    lab = make_lab(base_port=free_consecutive_ports(3), admin_password=None)
    assert (lab.state_dir / "admin-password").exists()
    proc = subprocess.run([sys.executable, str(EXAMPLES / "switchover.py"), "--base-port", str(lab.base_port),
                           "--state-dir", str(lab.state_dir), "--to", "10.0.0.2"],
                          capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "VSI_AGENT_ADMIN_PASSWORD"})
    assert proc.returncode == 0, proc.stderr
    assert "switched over to 10.0.0.2:100" in proc.stdout


def test_switchover_example_reports_a_refused_switchover(lab: RunningLab) -> None:
    proc = subprocess.run(example(lab, "switchover.py", "--to", "10.0.0.9"), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    assert "10.0.0.9" in proc.stderr
