"""SPEC 2.1: PW roles and states, PW-status signalling, keepalives, switchover, revert."""

from __future__ import annotations

import pytest

from dataplane.addr import ip_int
from dataplane.events import PwStateChanged, PwSwitchover
from dataplane.invalid import InvalidReason
from dataplane.packet import Kind, classify
from dataplane.pw_control import PwMessageType, PwStatus
from dataplane.pw_redundancy import SwitchoverError

from tests.dataplane._core_helpers import G1, data, device, ports, pw, pw_status, started, vsi_config

PRIMARY, BACKUP = ("10.0.0.1", 100), ("10.0.0.2", 100)


def upe_config(**pw_options):  # type: ignore[no-untyped-def]
    return vsi_config(acs=("ac1", "ac2"), pws=(pw("10.0.0.1", "pw-spe1", "primary", **pw_options),
                                               pw("10.0.0.2", "pw-spe2", "backup", **pw_options)))


def upe(**pw_options):  # type: ignore[no-untyped-def]
    return device(upe_config(**pw_options))


def states(dev) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {p.interface: (p.oper_status, p.forwarding_state) for p in dev.vsis["iptv"].pws.pws.values()}


def signals(frames) -> dict[str, PwStatus]:  # type: ignore[no-untyped-def]
    """The PW-status messages among ``frames``: interface -> status."""
    out = {}
    for port, frame in frames:
        packet = classify(frame)
        if packet.kind == Kind.PW_CONTROL and packet.pw_control.msg_type == PwMessageType.STATUS:
            out[port] = packet.pw_control.status
    return out


def test_primary_starts_active_and_backup_standby() -> None:
    assert states(upe()) == {"pw-spe1": ("up", "active"), "pw-spe2": ("up", "standby")}


def test_pw_without_role_is_an_ordinary_active_pw() -> None:
    dev = device(vsi_config(pws=(pw("10.0.0.3", "pw-upe"),)))
    assert states(dev) == {"pw-upe": ("up", "active")}


def test_owner_signals_each_pw_state_to_its_peer_at_start() -> None:
    dev, frames = started(upe_config())
    assert signals(frames) == {"pw-spe1": PwStatus.FORWARDING, "pw-spe2": PwStatus.STANDBY}
    status = classify(frames[0][1]).pw_control
    assert status.sender == ip_int("10.0.0.9") and status.vc_id == 100


def test_pw_without_role_is_active_only_while_its_peer_signals_active() -> None:
    dev = device(vsi_config(pws=(pw("10.0.0.3", "pw-upe"),)))
    dev.receive("pw-upe", pw_status(100, standby=True), 1.0)
    assert states(dev) == {"pw-upe": ("up", "standby")}
    assert dev.vsis["iptv"].pws.by_interface["pw-upe"].remote_status == "standby"
    dev.receive("pw-upe", pw_status(100, standby=False), 2.0)
    assert states(dev) == {"pw-upe": ("up", "active")}


def test_pw_without_role_never_signals_standby_itself() -> None:
    dev, frames = started(vsi_config(pws=(pw("10.0.0.3", "pw-upe"),)))
    dev.receive("pw-upe", pw_status(100, standby=True), 1.0)
    keepalives = dev.tick(1.1)
    assert [classify(f).pw_control.status for _, f in keepalives] == [PwStatus.FORWARDING]


def test_keepalive_carries_status_so_a_lost_status_message_heals() -> None:
    dev = device(vsi_config(pws=(pw("10.0.0.3", "pw-upe"),)))
    dev.receive("pw-upe", pw_status(100, standby=True, keepalive=True), 1.0)
    assert states(dev) == {"pw-upe": ("up", "standby")}


def test_keepalives_are_sent_every_interval() -> None:
    dev = upe(keepalive_interval=0.5)
    out = dev.tick(0.5)
    assert sorted(ports(out)) == ["pw-spe1", "pw-spe2"]
    assert all(classify(f).pw_control.msg_type == PwMessageType.KEEPALIVE for _, f in out)
    assert dev.tick(0.9) == []
    assert len(dev.tick(1.0)) == 2


def test_silence_for_interval_times_multiplier_takes_the_pw_down() -> None:
    dev = upe(keepalive_interval=0.1, keepalive_multiplier=3)
    dev.receive("pw-spe1", pw_status(100, False, keepalive=True), 1.0)
    dev.tick(1.29)
    assert states(dev)["pw-spe1"] == ("up", "active")
    dev.tick(1.31)
    assert states(dev) == {"pw-spe1": ("down", "standby"), "pw-spe2": ("up", "active")}


def test_keepalive_detection_is_armed_by_the_first_keepalive_heard() -> None:
    dev = upe()
    dev.tick(100.0)
    assert states(dev)["pw-spe1"] == ("up", "active")


def test_a_silent_pw_comes_back_when_keepalives_return() -> None:
    dev = upe(revertive=False)
    dev.receive("pw-spe1", pw_status(100, False, keepalive=True), 1.0)
    dev.tick(2.0)
    dev.receive("pw-spe1", pw_status(100, False, keepalive=True), 3.0)
    assert states(dev) == {"pw-spe1": ("up", "standby"), "pw-spe2": ("up", "active")}


def test_carrier_loss_switches_to_backup_at_once_and_signals_both_peers() -> None:
    dev = upe()
    out = dev.link_state("pw-spe1", False, 5.0)
    assert states(dev) == {"pw-spe1": ("down", "standby"), "pw-spe2": ("up", "active")}
    assert signals(out) == {"pw-spe1": PwStatus.STANDBY, "pw-spe2": PwStatus.FORWARDING}
    events = dev.pop_events()
    assert PwSwitchover("iptv", PRIMARY, BACKUP, 0, 5.0) in events
    assert {e.pw for e in events if isinstance(e, PwStateChanged)} == {PRIMARY, BACKUP}
    assert dev.vsis["iptv"].stats.switchovers == 1
    assert dev.vsis["iptv"].stats.last_switchover_time == 5.0


def test_revertive_switches_back_after_wait_to_restore() -> None:
    dev = upe(wtr_time=30.0)
    dev.link_state("pw-spe1", False, 5.0)
    dev.link_state("pw-spe1", True, 10.0)
    dev.tick(39.9)
    assert states(dev)["pw-spe2"] == ("up", "active")
    out = dev.tick(40.0)
    assert states(dev) == {"pw-spe1": ("up", "active"), "pw-spe2": ("up", "standby")}
    assert signals(out) == {"pw-spe1": PwStatus.FORWARDING, "pw-spe2": PwStatus.STANDBY}


def test_primary_failing_during_wait_to_restore_cancels_the_revert() -> None:
    dev = upe(wtr_time=30.0)
    dev.link_state("pw-spe1", False, 5.0)
    dev.link_state("pw-spe1", True, 10.0)
    dev.link_state("pw-spe1", False, 20.0)
    dev.link_state("pw-spe1", True, 25.0)
    dev.tick(54.9)  # the first WTR (due at 40) was cancelled; the second runs from 25
    assert states(dev)["pw-spe2"] == ("up", "active")
    dev.tick(55.0)
    assert states(dev)["pw-spe1"] == ("up", "active")


def test_non_revertive_stays_on_the_backup() -> None:
    dev = upe(revertive=False)
    dev.link_state("pw-spe1", False, 5.0)
    dev.link_state("pw-spe1", True, 10.0)
    dev.tick(1000.0)
    assert states(dev)["pw-spe2"] == ("up", "active")


def test_manual_switchover_makes_the_pw_active_and_signals_both_peers() -> None:
    dev = upe()
    out = dev.switchover("iptv", BACKUP, 1.0)
    assert states(dev) == {"pw-spe1": ("up", "standby"), "pw-spe2": ("up", "active")}
    assert signals(out) == {"pw-spe1": PwStatus.STANDBY, "pw-spe2": PwStatus.FORWARDING}
    dev.tick(100.0)  # a manual choice is not reverted
    assert states(dev)["pw-spe2"] == ("up", "active")


def test_manual_switchover_of_a_pw_without_role_is_refused_and_changes_nothing() -> None:
    dev = device(vsi_config(pws=(pw("10.0.0.3", "pw-upe"),)))
    with pytest.raises(SwitchoverError, match="not a member of a redundancy pair"):
        dev.switchover("iptv", ("10.0.0.3", 100), 1.0)
    assert states(dev) == {"pw-upe": ("up", "active")}


def test_manual_switchover_to_a_down_pw_is_refused_and_changes_nothing() -> None:
    dev = upe()
    dev.link_state("pw-spe2", False, 1.0)
    with pytest.raises(SwitchoverError, match="down"):
        dev.switchover("iptv", BACKUP, 2.0)
    assert states(dev) == {"pw-spe1": ("up", "active"), "pw-spe2": ("down", "standby")}


def test_manual_switchover_of_an_unknown_vsi_is_refused() -> None:
    from dataplane.device import UnknownVsiError
    with pytest.raises(UnknownVsiError):
        upe().switchover("nope", BACKUP, 1.0)


def test_backup_failure_does_not_move_forwarding() -> None:
    dev = upe()
    dev.link_state("pw-spe2", False, 1.0)
    assert states(dev) == {"pw-spe1": ("up", "active"), "pw-spe2": ("down", "standby")}
    assert not [e for e in dev.pop_events() if isinstance(e, PwSwitchover)]


def test_data_follows_the_active_pw_after_switchover() -> None:
    dev = upe()
    dev.receive("pw-spe1", data(G1), 1.0)
    assert dev.receive("pw-spe2", data(G1), 1.0) == []
    dev.link_state("pw-spe1", False, 2.0)
    assert ports(dev.receive("pw-spe2", data(G1), 2.0)) == {"ac1", "ac2"}


def test_pw_control_with_wrong_vc_id_is_counted_and_ignored() -> None:
    dev = device(vsi_config(pws=(pw("10.0.0.3", "pw-upe"),)))
    dev.receive("pw-upe", pw_status(999, standby=True), 1.0)
    assert states(dev) == {"pw-upe": ("up", "active")}
    assert dev.vsis["iptv"].stats.invalid == {InvalidReason.BAD_PW_CONTROL.value: 1}


def test_pw_control_frames_are_never_bridged() -> None:
    dev = device(vsi_config(pws=(pw("10.0.0.3", "pw-upe"),)))
    assert dev.receive("ac1", pw_status(100, standby=True), 1.0) == []
    assert dev.receive("pw-upe", pw_status(100, standby=False), 1.0) == []
