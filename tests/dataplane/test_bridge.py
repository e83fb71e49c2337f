"""A VSI is a learning bridge (IEEE 802.1Q) with VPLS split horizon (RFC 4762)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.vsi import MAC_AGING_TIME

from tests.dataplane._core_helpers import (
    G1,
    broadcast_frame,
    data,
    device,
    host_mac,
    ports,
    pw,
    pw_status,
    unicast,
    vsi_config,
)

A, B, C = host_mac(1), host_mac(2), host_mac(3)


def bridge():  # type: ignore[no-untyped-def]
    return device(vsi_config(pws=(pw("10.0.0.1", "pw1"), pw("10.0.0.2", "pw2"))))


def macs(dev) -> dict[bytes, str]:  # type: ignore[no-untyped-def]
    return {mac: entry.port.name for mac, entry in dev.vsis["iptv"].mac_table.items()}


def test_source_addresses_are_learned_on_their_port() -> None:
    dev = bridge()
    dev.receive("ac1", broadcast_frame(A), 1.0)
    dev.receive("pw1", broadcast_frame(B), 1.0)
    assert macs(dev) == {A: "ac1", B: "pw1"}


def test_multicast_data_teaches_its_source_mac() -> None:
    dev = bridge()
    dev.receive("ac2", data(G1, src_mac=C), 1.0)
    assert macs(dev) == {C: "ac2"}


def test_known_unicast_goes_only_to_the_learned_port() -> None:
    dev = bridge()
    dev.receive("ac3", broadcast_frame(C), 1.0)
    assert dev.receive("ac1", unicast(C, A), 2.0) == [("ac3", unicast(C, A))]


def test_unicast_to_an_address_behind_the_ingress_is_filtered() -> None:
    dev = bridge()
    dev.receive("ac1", broadcast_frame(C), 1.0)
    assert dev.receive("ac1", unicast(C, A), 2.0) == []


def test_unknown_unicast_floods() -> None:
    assert ports(bridge().receive("ac1", unicast(C, A), 1.0)) == {"ac2", "ac3", "pw1", "pw2"}


def test_broadcast_floods_to_every_port_but_the_ingress() -> None:
    assert ports(bridge().receive("ac1", broadcast_frame(A), 1.0)) == {"ac2", "ac3", "pw1", "pw2"}


def test_mac_move_is_counted_and_the_entry_follows() -> None:
    dev = bridge()
    dev.receive("ac1", broadcast_frame(A), 1.0)
    dev.receive("ac2", broadcast_frame(A), 2.0)
    dev.receive("ac2", broadcast_frame(A), 3.0)
    assert macs(dev) == {A: "ac2"}
    assert dev.vsis["iptv"].mac_moves == 1


def test_mac_entries_age_after_the_ageing_time() -> None:
    dev = bridge()
    dev.receive("ac1", broadcast_frame(A), 1.0)
    dev.receive("ac1", broadcast_frame(A), 100.0)
    dev.tick(1.0 + MAC_AGING_TIME + 1)
    assert macs(dev) == {A: "ac1"}  # refreshed at 100
    dev.tick(100.0 + MAC_AGING_TIME + 1)
    assert macs(dev) == {}


def test_split_horizon_frame_from_a_pw_never_goes_to_another_pw() -> None:
    dev = bridge()
    assert ports(dev.receive("pw1", broadcast_frame(B), 1.0)) == {"ac1", "ac2", "ac3"}
    assert ports(dev.receive("pw1", data(G1, src_mac=B), 1.0)) == {"ac1", "ac2", "ac3"}
    dev.receive("pw2", broadcast_frame(C), 1.0)
    assert dev.receive("pw1", unicast(C, B), 2.0) == []


def test_frames_from_an_ac_reach_every_pw() -> None:
    assert ports(bridge().receive("ac1", data(G1, src_mac=A), 1.0)) == {"ac2", "ac3", "pw1", "pw2"}


def test_no_mac_learning_on_a_standby_pw() -> None:
    dev = bridge()
    dev.receive("pw1", pw_status(100, standby=True), 0.5)
    dev.receive("pw1", broadcast_frame(B), 1.0)
    assert macs(dev) == {}


def test_mac_entries_of_a_port_that_goes_down_are_flushed() -> None:
    dev = bridge()
    dev.receive("ac1", broadcast_frame(A), 1.0)
    dev.receive("pw1", broadcast_frame(B), 1.0)
    dev.link_state("ac1", False, 2.0)
    dev.receive("pw1", pw_status(100, standby=True), 2.0)
    assert macs(dev) == {}
    assert ports(dev.receive("ac2", unicast(A, C), 3.0)) == {"ac3", "pw2"}  # A unknown again: flooded


def test_a_down_port_neither_receives_nor_sends() -> None:
    dev = bridge()
    dev.link_state("ac3", False, 1.0)
    assert dev.receive("ac3", broadcast_frame(C), 1.0) == []
    assert "ac3" not in ports(dev.receive("ac1", broadcast_frame(A), 1.0))
    dev.link_state("ac3", True, 2.0)
    assert "ac3" in ports(dev.receive("ac1", broadcast_frame(A), 2.0))


def test_ieee_reserved_group_addresses_are_not_bridged() -> None:
    from dataplane.ethernet import build_ethernet
    lacp = build_ethernet(b"\x01\x80\xc2\x00\x00\x02", A, 0x8809, b"\x01" * 46)
    assert bridge().receive("ac1", lacp, 1.0) == []


def test_frames_on_unknown_ports_are_counted_and_dropped() -> None:
    dev = bridge()
    assert dev.receive("eth9", broadcast_frame(A), 1.0) == []
    assert dev.frames_on_unknown_ports == 1


@settings(max_examples=400, deadline=None)
@given(frame=st.binary(max_size=80), port=st.sampled_from(["ac1", "pw1"]))
def test_any_bytes_are_bridged_counted_or_dropped_never_raised(frame: bytes, port: str) -> None:
    dev = bridge()
    out = dev.receive(port, frame, 1.0)
    assert all(p in {"ac1", "ac2", "ac3", "pw1", "pw2"} and f == frame for p, f in out)


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from([bytes.fromhex("01005e010101"), b"\xff" * 6]), rest=st.binary(min_size=0, max_size=60))
def test_multicast_looking_garbage_never_raises(prefix: bytes, rest: bytes) -> None:
    dev = device(vsi_config())
    out = dev.receive("ac1", prefix + rest, 1.0)
    assert all(f == prefix + rest and p != "ac1" for p, f in out)


def test_a_storm_of_distinct_groups_does_not_grow_the_forwarding_cache() -> None:
    from dataplane.addr import ip_str
    from dataplane.vsi import _CACHE_LIMIT
    dev = bridge()
    for i in range(_CACHE_LIMIT + 10):
        dev.receive("ac1", data(ip_str(0xE9000000 + i), src_mac=A), 1.0)
    vsi = dev.vsis["iptv"]
    assert len(vsi.ports["ac1"].cache) <= _CACHE_LIMIT
    assert ports(dev.receive("ac1", data(G1, src_mac=A), 2.0)) == {"ac2", "ac3", "pw1", "pw2"}
