"""The switchover on real interfaces (SPEC sections 2.4 and 5): network namespaces, kernel
hosts, a Linux bridge querier, three ``vsi-agent serve --dataplane linux`` processes.

Two labs are built, one per feature setting (module fixtures: each costs a real build, a
stream and a cut); the group tables are read over NETCONF while the lab has converged,
before the stream starts, and the receivers' records after the cut.

Bounds, and why they are what they are:

* with the feature the silence at the cut stays under ``CARRIER_BOUND_MS`` (100 ms):
  carrier loss reaches the UPE's agent through rtnetlink at once, the switchover and the
  PW-status message to SPE2 are one step and one veth hop (a few ms measured), so 100 ms
  is far above what carrier detection costs, and well below what any other path would
  take: keepalive detection is 300 ms, the next query up to 10 s;
* the datagrams lost are at most what the source sends in that time (those in flight on
  the cut link or in the UPE's socket when the link went down);
* without the feature the stream may come back only after the router's next general
  query reached the host (the query times are read by the receivers' raw IGMP sockets)
  and within the query's max response time (1 s) plus ``REPORT_SLACK_MS`` for the report
  to climb to the router and the data to come down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import ncclient.transport.session
import pytest

from agent.netns_lab import (
    FailoverRun,
    LabError,
    NetnsLab,
    NetnsLabOptions,
    lab_namespaces,
    remove_leftovers,
    run_failover,
)
from agent.netns_lab import topology
from agent.netns_lab.topology import GROUPS, QUERY_RESPONSE_INTERVAL, REPO
from dataplane.linux.netns import netns_unavailable

ncclient.transport.session.TICK = 0.001

WHY_NOT = netns_unavailable()
pytestmark = [pytest.mark.root, pytest.mark.slow,
              pytest.mark.skipif(WHY_NOT is not None, reason=f"netns lab: {WHY_NOT}")]

CARRIER_BOUND_MS = 100.0
REPORT_SLACK_MS = 1000.0
RATE = 1000.0
EXPECTED_UPE_PORTS = {"239.1.1.1": {"ac1"}, "239.1.1.2": {"ac1", "ac2"}, "239.1.1.3": {"ac2"}}


class Observed:
    """What a failover run saw: tables before the stream, the run, the lab's traces."""

    def __init__(self, feature: bool) -> None:
        self.tables: dict[str, Any] = {}
        self.pws_before: dict[str, Any] = {}
        self.prefix = ""
        self.lab: NetnsLab | None = None
        self.run: FailoverRun = run_failover(NetnsLabOptions(feature=feature, rate=RATE), lab_hook=self._look)
        # read after the run: the source is started after the hook
        self.pids: list[int] = self.lab.pids if self.lab is not None else []

    def _look(self, lab: NetnsLab) -> None:
        self.prefix = lab.prefix
        self.lab = lab
        self.tables = {role: lab.groups(role) for role in ("upe", "spe1", "spe2")}
        self.pws_before = lab.pws("upe")


@pytest.fixture(scope="module")
def with_feature() -> Observed:
    return Observed(feature=True)


@pytest.fixture(scope="module")
def without_feature() -> Observed:
    return Observed(feature=False)


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


# -- tables over NETCONF --------------------------------------------------------------

@pytest.mark.parametrize("feature", [False, True])
def test_kernel_host_join_appears_in_the_upe_group_table(feature: bool, with_feature: Observed,
                                                          without_feature: Observed) -> None:
    upe = (with_feature if feature else without_feature).tables["upe"]
    assert {group: set(ports) for group, ports in upe.items()} == EXPECTED_UPE_PORTS
    assert all(port["forwarding"] == "true" for ports in upe.values() for port in ports.values())


def test_with_feature_spe2_learns_the_join_on_its_standby_pw_not_forwarding(with_feature: Observed) -> None:
    spe2 = with_feature.tables["spe2"]
    assert set(spe2) == set(GROUPS)
    for ports in spe2.values():
        assert ports["pw-upe"] == {"forwarding": "false", "learned-on-backup": "true", "flag": "dynamic"}


def test_without_feature_spe2_holds_no_entry_on_its_pw_before_the_cut(without_feature: Observed) -> None:
    # the router's bridge floods SPE1's reports to SPE2's uplink too, so SPE2 may know the
    # groups there; nothing reaches it over the standby PW
    assert all("pw-upe" not in ports for ports in without_feature.tables["spe2"].values())
    assert without_feature.run.spe2_groups_before_cut == 0


def test_primary_forwards_and_backup_stands_by_before_the_cut(with_feature: Observed) -> None:
    pws = with_feature.pws_before
    assert pws["pw-spe1"]["forwarding-state"] == "active"
    assert pws["pw-spe2"]["forwarding-state"] == "standby"
    assert pws["pw-spe2"]["oper-status"] == "up"


def test_cutting_the_primary_link_makes_the_backup_active(with_feature: Observed,
                                                           without_feature: Observed) -> None:
    for observed in (with_feature, without_feature):
        pws = observed.run.pws_after
        assert pws["pw-spe1"]["oper-status"] == "down"
        assert pws["pw-spe2"]["forwarding-state"] == "active"


# -- the switchover, measured at the kernel hosts ------------------------------------

def test_with_feature_the_cut_interrupts_no_longer_than_carrier_detection(with_feature: Observed) -> None:
    for reception in with_feature.run.receptions:
        assert reception.gap_at_cut_ms is not None and reception.gap_at_cut_ms < CARRIER_BOUND_MS, reception
        assert reception.resumed_after_cut_ms is not None, reception


def test_with_feature_the_cut_loses_only_datagrams_in_flight(with_feature: Observed) -> None:
    in_flight = RATE * CARRIER_BOUND_MS / 1000
    for reception in with_feature.run.receptions:
        assert reception.sent > 0 and reception.lost <= in_flight, reception


def test_with_feature_the_switchover_duplicates_nothing(with_feature: Observed) -> None:
    assert with_feature.run.duplicate_frames == 0


def test_without_feature_the_stream_stays_down_until_the_next_query_and_report(
        without_feature: Observed) -> None:
    for reception in without_feature.run.receptions:
        query, resumed = reception.first_query_after_cut_ms, reception.resumed_after_cut_ms
        assert query is not None and resumed is not None, reception
        assert resumed > query, reception            # nothing came back before the query did
        assert resumed - query <= QUERY_RESPONSE_INTERVAL * 1000 + REPORT_SLACK_MS, reception
        assert reception.lost > 0, reception


def test_the_feature_shortens_the_interruption(with_feature: Observed, without_feature: Observed) -> None:
    assert with_feature.run.interruption_ms < without_feature.run.interruption_ms
    assert with_feature.run.lost_frames < without_feature.run.lost_frames


# -- cleanup ----------------------------------------------------------------------------

def test_a_finished_lab_leaves_no_namespace_and_no_process(with_feature: Observed) -> None:
    assert with_feature.prefix and lab_namespaces(with_feature.prefix) == []
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in with_feature.pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(with_feature.pids) == 3 + 2 + 1       # agents, receivers and the source
    assert [pid for pid in with_feature.pids if _alive(pid)] == []


def test_a_second_stop_signal_during_cleanup_still_removes_every_namespace(monkeypatch: pytest.MonkeyPatch
                                                                           ) -> None:
    lab = NetnsLab(NetnsLabOptions())
    real_kill = topology._kill_namespace_processes

    def kill_while_signalled(ns: str) -> None:
        os.kill(os.getpid(), signal.SIGTERM)         # the impatient second Ctrl-C, at every step
        real_kill(ns)

    monkeypatch.setattr(topology, "_kill_namespace_processes", kill_while_signalled)
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # as netns-lab runs
    try:
        try:
            lab.build()
        finally:
            with pytest.raises(KeyboardInterrupt):  # the signal is not lost, only deferred
                lab.remove()
        assert lab_namespaces(lab.prefix) == []
    finally:
        signal.signal(signal.SIGTERM, previous)
        remove_leftovers(lab.prefix)


_CONTROLLER = """
import sys, time
from agent.netns_lab.cli import stop_like_ctrl_c
from agent.netns_lab.topology import NetnsLab, NetnsLabOptions
stop_like_ctrl_c()
lab = NetnsLab(NetnsLabOptions(prefix=sys.argv[1]))
try:
    lab.build()
    child = lab._popen(["sleep", "600"])
    print(child.pid, flush=True)
    time.sleep(600)
except KeyboardInterrupt:
    pass
finally:
    lab.remove()
"""


def _controller(prefix: str) -> tuple[subprocess.Popen[str], int]:
    """A controller like ``netns-lab up`` (a lab, a child process), started and built."""
    proc = subprocess.Popen([sys.executable, "-c", _CONTROLLER, prefix], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip().isdigit(), proc.stderr.read() if proc.stderr else line
    return proc, int(line)


def test_closing_the_terminal_of_up_removes_the_lab() -> None:
    prefix = NetnsLabOptions().prefix
    controller, child = _controller(prefix)
    try:
        assert lab_namespaces(prefix) != []
        controller.send_signal(signal.SIGHUP)
        controller.wait(timeout=60)
        assert lab_namespaces(prefix) == []
        assert not _alive(child)
    finally:
        if controller.poll() is None:
            controller.kill()
        remove_leftovers(prefix)


def test_processes_of_a_killed_controller_die_with_it() -> None:
    prefix = NetnsLabOptions().prefix
    controller, child = _controller(prefix)
    try:
        controller.kill()                            # no cleanup at all
        controller.wait(timeout=60)
        deadline = time.monotonic() + 10             # bounds a hang only
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        remove_leftovers(prefix)                     # the namespaces are left: `down` removes them


def test_a_failed_build_removes_what_it_made_and_nothing_else() -> None:
    options = NetnsLabOptions()
    squatter = f"{options.prefix}-upe"         # not the lab's: building the UPE fails on it
    subprocess.run(["ip", "netns", "add", squatter], check=True)
    try:
        with pytest.raises(LabError, match=f"netns add {squatter}"):
            with NetnsLab(options):
                pass
        assert lab_namespaces(options.prefix) == [squatter]
    finally:
        subprocess.run(["ip", "netns", "del", squatter])


def test_down_removes_a_lab_left_behind_by_a_crashed_run() -> None:
    prefix = NetnsLabOptions().prefix
    names = [f"{prefix}-upe", f"{prefix}-router"]
    for name in names:
        subprocess.run(["ip", "netns", "add", name], check=True)
    orphan = subprocess.Popen(["ip", "netns", "exec", names[0], "sleep", "600"], start_new_session=True)
    try:
        result = subprocess.run([sys.executable, "-m", "agent.netns_lab", "down", "--prefix", prefix],
                                capture_output=True, text=True, cwd=REPO, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "removed 2 namespaces" in result.stdout
        assert lab_namespaces(prefix) == []
        assert orphan.wait(timeout=10) != 0          # killed, not finished
    finally:
        if orphan.poll() is None:
            orphan.kill()
        remove_leftovers(prefix)


def test_down_with_a_prefix_removes_only_that_lab_not_one_whose_prefix_extends_it() -> None:
    prefix = NetnsLabOptions().prefix
    mine, other = f"{prefix}-upe", f"{prefix}5-upe"   # the labs of pids 1234 and 12345, say
    for name in (mine, other):
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        assert remove_leftovers(prefix) == [mine]
        assert lab_namespaces(f"{prefix}5") == [other]
    finally:
        remove_leftovers(f"{prefix}5")
        remove_leftovers(prefix)


# -- bad input ---------------------------------------------------------------------------

def test_remove_leftovers_refuses_a_prefix_that_is_not_a_lab_prefix() -> None:
    bystander = f"bystander{NetnsLabOptions().prefix}"      # not ours: must survive
    subprocess.run(["ip", "netns", "add", bystander], check=True)
    try:
        with pytest.raises(ValueError, match="'bys' is not a lab prefix"):
            remove_leftovers("bys")
        assert bystander in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    finally:
        subprocess.run(["ip", "netns", "del", bystander])


@pytest.mark.parametrize("argv, message", [
    (["failover", "--feature", "maybe"], "invalid choice: 'maybe'"),
    (["failover", "--query-interval", "1"], "1 s is outside 2..3600 s"),
    (["failover", "--query-interval", "ten"], "'ten' is not a whole number of seconds"),
    (["failover", "--rate", "0"], "0 datagrams per second is outside"),
    (["throughput", "--rates", "1000,x"], "'x' is not a number of datagrams per second"),
    (["down", "--prefix", ""], "'' is not a lab prefix"),
    (["down", "--prefix", "netns"], "'netns' is not a lab prefix"),
])
def test_bad_arguments_are_refused_with_the_reason_and_build_nothing(argv: list[str], message: str) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "agent.netns_lab", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert message in err
