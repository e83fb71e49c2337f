"""Frames and a small topology for the dataplane core tests (built with the real codec)."""

from __future__ import annotations

from dataplane.addr import ALL_ROUTERS, ALL_SYSTEMS, IGMPV3_ROUTERS, ip_int
from dataplane.config import AcConfig, DeviceConfig, IgmpSnoopingConfig, PwConfig, VsiConfig
from dataplane.device import Device
from dataplane.igmp import GroupRecord, RecordType, build_leave, build_query, build_report_v1, build_report_v2, \
    build_v3_report
from dataplane.packet import build_igmp_frame, build_udp_multicast
from dataplane.pw_control import PwControl, PwMessageType, PwStatus, build_pw_control

DEVICE_MAC = b"\x02\x00\x00\x00\x00\xee"
ROUTER_MAC = b"\x02\x00\x00\x00\x00\x01"
SOURCE_MAC = b"\x02\x00\x00\x00\x00\x05"
PEER_MAC = b"\x02\x00\x00\x00\x00\x99"
ROUTER_IP = "10.1.1.1"
SOURCE_IP = "10.1.1.5"
G1, G2, G3 = "239.1.1.1", "239.1.1.2", "239.1.1.3"


def host_mac(n: int) -> bytes:
    return bytes((0x02, 0, 0, 0, 1, n))


def host_ip(n: int) -> int:
    return ip_int(f"192.168.0.{n}")


def query(src_ip: str = ROUTER_IP, group: str | None = None, version: int = 2, max_resp: float = 10.0,
          src_mac: bytes = ROUTER_MAC, sources: tuple[str, ...] = ()) -> bytes:
    g = ip_int(group) if group else 0
    body = build_query(version, max_resp, g, sources=tuple(ip_int(s) for s in sources))
    return build_igmp_frame(src_mac, ip_int(src_ip), g or ALL_SYSTEMS, body)


def report(group: str, host: int = 1, version: int = 2) -> bytes:
    body = build_report_v2(ip_int(group)) if version == 2 else build_report_v1(ip_int(group))
    return build_igmp_frame(host_mac(host), host_ip(host), ip_int(group), body)


def leave(group: str, host: int = 1) -> bytes:
    return build_igmp_frame(host_mac(host), host_ip(host), ALL_ROUTERS, build_leave(ip_int(group)))


def v3_report(records: list[tuple[RecordType, str, tuple[str, ...]]], host: int = 1) -> bytes:
    recs = tuple(GroupRecord(t, ip_int(g), tuple(ip_int(s) for s in srcs)) for t, g, srcs in records)
    return build_igmp_frame(host_mac(host), host_ip(host), IGMPV3_ROUTERS, build_v3_report(recs))


def data(group: str, source: str = SOURCE_IP, src_mac: bytes = SOURCE_MAC, payload: bytes = b"x" * 20) -> bytes:
    return build_udp_multicast(src_mac, ip_int(source), ip_int(group), 5000, 5001, payload)


def pw_status(vc_id: int, standby: bool, sender: str = "10.0.0.3", keepalive: bool = False) -> bytes:
    msg = PwControl(PwMessageType.KEEPALIVE if keepalive else PwMessageType.STATUS, ip_int(sender), vc_id,
                    PwStatus.STANDBY if standby else PwStatus.FORWARDING)
    return build_pw_control(PEER_MAC, msg)


def snooping(**kw) -> IgmpSnoopingConfig:  # type: ignore[no-untyped-def]
    return IgmpSnoopingConfig(enable=True, **kw)


def vsi_config(igmp: IgmpSnoopingConfig | None = None, acs: tuple[str, ...] = ("ac1", "ac2", "ac3"),
               pws: tuple[PwConfig, ...] = (), name: str = "iptv", **kw) -> VsiConfig:  # type: ignore[no-untyped-def]
    return VsiConfig(name=name, acs=tuple(AcConfig(a) for a in acs), pws=pws,
                     igmp=igmp if igmp is not None else snooping(), **kw)


def device(*vsis: VsiConfig, now: float = 0.0, address: str | None = "10.0.0.9") -> Device:
    return started(*vsis, now=now, address=address)[0]


def started(*vsis: VsiConfig, now: float = 0.0, address: str | None = "10.0.0.9",
            device_mac: str | None = None) -> tuple[Device, list[tuple[str, bytes]]]:
    """A device with ``vsis`` applied, and the frames the apply sent."""
    dev = Device("dut", DEVICE_MAC, address)
    frames = dev.apply(DeviceConfig(igmp_snooping_enable=True, device_mac=device_mac, vsis=vsis), now)
    dev.pop_events()
    return dev, frames


def ports(frames: list[tuple[str, bytes]]) -> set[str]:
    return {port for port, _ in frames}


def table(dev: Device, vsi: str = "iptv") -> dict[tuple[str, str], set[str]]:
    """(group, source) -> member ports, in text form."""
    from dataplane.addr import ip_str
    snoop = dev.vsis[vsi].snooping
    assert snoop is not None
    return {(ip_str(g), ip_str(s)): set(e.ports) for g, rows in snoop.groups.items() for s, e in rows.items()}


def pim_hello(src_ip: str = ROUTER_IP, src_mac: bytes = ROUTER_MAC) -> bytes:
    """A PIMv2 Hello (RFC 7761 4.9.2) with a Holdtime option, to ALL-PIM-ROUTERS."""
    from dataplane.addr import ALL_PIM_ROUTERS, ipv4_multicast_mac
    from dataplane.ethernet import ETHERTYPE_IPV4, build_ethernet
    from dataplane.ipv4 import IPPROTO_PIM, build_ipv4, internet_checksum
    body = b"\x20\x00\x00\x00" + b"\x00\x01\x00\x02\x00\x69"
    body = body[:2] + internet_checksum(body).to_bytes(2, "big") + body[4:]
    packet = build_ipv4(ip_int(src_ip), ALL_PIM_ROUTERS, IPPROTO_PIM, body)
    return build_ethernet(ipv4_multicast_mac(ALL_PIM_ROUTERS), src_mac, ETHERTYPE_IPV4, packet)


def igmp_raw(body_without_checksum: bytes, dst: int, host: int = 1) -> bytes:
    """Any IGMP bytes with a correct checksum (for odd lengths and unknown types)."""
    from dataplane.ipv4 import internet_checksum
    body = body_without_checksum[:2] + b"\0\0" + body_without_checksum[4:]
    body = body[:2] + internet_checksum(body).to_bytes(2, "big") + body[4:]
    return build_igmp_frame(host_mac(host), host_ip(host), dst, body)


def unicast(dst: bytes, src: bytes, payload: bytes = b"\0" * 46) -> bytes:
    from dataplane.ethernet import build_ethernet
    return build_ethernet(dst, src, 0x86DD, payload)  # IPv6 EtherType: bridged by MAC only


def pw(peer: str, interface: str, role: str | None = None, vc_id: int = 100, **kw) -> PwConfig:  # type: ignore[no-untyped-def]
    return PwConfig(peer, vc_id, interface, role=role, **kw)  # type: ignore[arg-type]


def broadcast_frame(src: bytes) -> bytes:
    from dataplane.addr import BROADCAST_MAC
    from dataplane.ethernet import build_ethernet
    return build_ethernet(BROADCAST_MAC, src, 0x0806, b"\0" * 28)  # an ARP-sized frame
