"""IGMP v1/v2/v3 messages (RFC 1112, RFC 2236, RFC 3376): parse and build, checksums.

Messages are small frozen dataclasses; :func:`parse_igmp` takes the IP payload (exactly
Total Length minus the header, padding already cut by :func:`dataplane.ipv4.parse_ipv4`) and
returns one of them or raises :class:`InvalidFrame`.

Rules applied, by RFC:

* The checksum covers the whole IP payload, bytes past the known fields included
  (RFC 2236 section 2.3, RFC 3376 sections 4.1.2 and 4.1.10); those extra bytes are then
  ignored.
* Query version (RFC 3376 section 7.1): 8 bytes with Max Resp Code 0 is IGMPv1, 8 bytes
  otherwise IGMPv2, 12 bytes or more IGMPv3; 9..11 bytes is refused.
* IGMPv1 queries carry 0 and mean 10 seconds (RFC 2236 section 4); :attr:`IgmpQuery.
  max_resp_time` says 10.0 for them so the core never special-cases the version.
* Max Resp Code and QQIC use the floating-point form of RFC 3376 sections 4.1.1 and 4.1.7
  in both directions (:func:`decode_exp_code`, :func:`encode_exp_code`).
* Group records of an unknown type are skipped (RFC 3376 section 4.2.12: "silently
  ignored"); an unknown message type becomes :class:`IgmpUnknown` (RFC 4541: flood it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from dataplane.addr import is_multicast, ip_str
from dataplane.invalid import InvalidFrame, InvalidReason
from dataplane.ipv4 import checksum_ok, internet_checksum

__all__ = [
    "IGMP_LEAVE",
    "IGMP_QUERY",
    "IGMP_V1_REPORT",
    "IGMP_V2_REPORT",
    "IGMP_V3_REPORT",
    "V1_MAX_RESP_TIME",
    "GroupRecord",
    "IgmpLeave",
    "IgmpMessage",
    "IgmpQuery",
    "IgmpReport",
    "IgmpUnknown",
    "IgmpV3Report",
    "RecordType",
    "build_igmp",
    "build_leave",
    "build_query",
    "build_report_v1",
    "build_report_v2",
    "build_v3_report",
    "decode_exp_code",
    "encode_exp_code",
    "parse_igmp",
]

IGMP_QUERY = 0x11
IGMP_V1_REPORT = 0x12
IGMP_V2_REPORT = 0x16
IGMP_LEAVE = 0x17
IGMP_V3_REPORT = 0x22

IGMP_MIN_LEN = 8
IGMPV3_QUERY_MIN_LEN = 12
V1_MAX_RESP_TIME = 10.0
"""Seconds an IGMPv1 query means (its Max Resp Code field is 0 on the wire)."""

_MAX_EXP_VALUE = 0x1F << 10  # mantissa 0xF, exponent 7: the largest encodable value


class RecordType(IntEnum):
    """IGMPv3 Group Record Types, RFC 3376 section 4.2.12."""

    MODE_IS_INCLUDE = 1
    MODE_IS_EXCLUDE = 2
    CHANGE_TO_INCLUDE = 3
    CHANGE_TO_EXCLUDE = 4
    ALLOW_NEW_SOURCES = 5
    BLOCK_OLD_SOURCES = 6


@dataclass(frozen=True, slots=True)
class IgmpQuery:
    """Membership Query. ``group`` 0 is a General Query; with ``sources`` it is group-and-
    source-specific. ``s_flag``, ``qrv``, ``qqic_seconds`` and ``sources`` exist on the wire
    only in IGMPv3 and are False/0/0/() for v1 and v2."""

    version: int
    max_resp_time: float
    group: int = 0
    s_flag: bool = False
    qrv: int = 0
    qqic_seconds: int = 0
    sources: tuple[int, ...] = ()

    @property
    def is_general(self) -> bool:
        return self.group == 0


@dataclass(frozen=True, slots=True)
class IgmpReport:
    """IGMPv1 (type 0x12) or IGMPv2 (type 0x16) Membership Report."""

    version: int
    group: int


@dataclass(frozen=True, slots=True)
class IgmpLeave:
    """IGMPv2 Leave Group (type 0x17)."""

    group: int


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """One record of an IGMPv3 report."""

    record_type: RecordType
    group: int
    sources: tuple[int, ...] = ()
    aux_data: bytes = b""


@dataclass(frozen=True, slots=True)
class IgmpV3Report:
    """IGMPv3 Membership Report (type 0x22)."""

    records: tuple[GroupRecord, ...]


@dataclass(frozen=True, slots=True)
class IgmpUnknown:
    """A checksum-valid IGMP message of a type we do not implement (DVMRP, mtrace, ...)."""

    type: int
    raw: bytes


IgmpMessage = IgmpQuery | IgmpReport | IgmpLeave | IgmpV3Report | IgmpUnknown


# -- RFC 3376 section 4.1.1 / 4.1.7 floating-point codes ------------------------------------


def decode_exp_code(code: int) -> int:
    """Max Resp Code or QQIC -> value (tenths of a second, or seconds for QQIC)."""
    if code < 0x80:
        return code
    exp = (code >> 4) & 0x7
    mant = code & 0x0F
    return (mant | 0x10) << (exp + 3)


def encode_exp_code(value: int) -> int:
    """Value -> code: exact below 128, else the largest representable value not above it
    (a querier must never promise hosts more time than it waits), capped at 31744."""
    if value < 0:
        raise ValueError(f"negative time {value}")
    if value < 0x80:
        return value
    if value >= _MAX_EXP_VALUE:
        return 0xFF
    exp = 0
    while (value >> (exp + 3)) >= 0x20:
        exp += 1
    mant = (value >> (exp + 3)) & 0x0F
    return 0x80 | (exp << 4) | mant


# -- parsing ---------------------------------------------------------------------------------


def parse_igmp(data: bytes) -> IgmpMessage:
    """Parse one IGMP message (the whole IP payload); raise InvalidFrame when bad."""
    if len(data) < IGMP_MIN_LEN:
        raise InvalidFrame(InvalidReason.BAD_IGMP_LENGTH, f"{len(data)} bytes, IGMP needs 8")
    if not checksum_ok(data):
        raise InvalidFrame(InvalidReason.BAD_IGMP_CHECKSUM)
    kind = data[0]
    if kind == IGMP_QUERY:
        return _parse_query(data)
    if kind in (IGMP_V1_REPORT, IGMP_V2_REPORT):
        return IgmpReport(1 if kind == IGMP_V1_REPORT else 2, _multicast_group(data, "report"))
    if kind == IGMP_LEAVE:
        return IgmpLeave(_multicast_group(data, "leave"))
    if kind == IGMP_V3_REPORT:
        return _parse_v3_report(data)
    return IgmpUnknown(kind, bytes(data))


def _group_at(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "big")


def _multicast_group(data: bytes, what: str) -> int:
    group = _group_at(data, 4)
    if not is_multicast(group):
        raise InvalidFrame(InvalidReason.BAD_IGMP_GROUP, f"{what} for {ip_str(group)}")
    return group


def _parse_query(data: bytes) -> IgmpQuery:
    code = data[1]
    group = _group_at(data, 4)
    if group and not is_multicast(group):
        raise InvalidFrame(InvalidReason.BAD_IGMP_GROUP, f"query for {ip_str(group)}")
    if len(data) == IGMP_MIN_LEN:
        if code == 0:
            return IgmpQuery(1, V1_MAX_RESP_TIME, group)
        return IgmpQuery(2, code / 10, group)
    if len(data) < IGMPV3_QUERY_MIN_LEN:
        raise InvalidFrame(InvalidReason.BAD_IGMP_LENGTH, f"query of {len(data)} bytes (RFC 3376 7.1)")
    count = int.from_bytes(data[10:12], "big")
    if IGMPV3_QUERY_MIN_LEN + 4 * count > len(data):
        raise InvalidFrame(InvalidReason.BAD_IGMP_LENGTH, f"{count} sources do not fit in {len(data)} bytes")
    return IgmpQuery(
        version=3,
        max_resp_time=decode_exp_code(code) / 10,
        group=group,
        s_flag=bool(data[8] & 0x08),
        qrv=data[8] & 0x07,
        qqic_seconds=decode_exp_code(data[9]),
        sources=_addresses(data, IGMPV3_QUERY_MIN_LEN, count),
    )


def _addresses(data: bytes, offset: int, count: int) -> tuple[int, ...]:
    return tuple(int.from_bytes(data[i : i + 4], "big") for i in range(offset, offset + 4 * count, 4))


def _parse_v3_report(data: bytes) -> IgmpV3Report:
    count = int.from_bytes(data[6:8], "big")
    offset = IGMP_MIN_LEN
    records: list[GroupRecord] = []
    for index in range(count):
        if offset + 8 > len(data):
            raise InvalidFrame(InvalidReason.BAD_IGMP_LENGTH, f"group record {index} of {count} is cut short")
        record_type, aux_words = data[offset], data[offset + 1]
        nsources = int.from_bytes(data[offset + 2 : offset + 4], "big")
        group = _group_at(data, offset + 4)
        sources_at = offset + 8
        aux_at = sources_at + 4 * nsources
        end = aux_at + 4 * aux_words
        if end > len(data):
            raise InvalidFrame(InvalidReason.BAD_IGMP_LENGTH, f"group record {index} runs past the message")
        if not is_multicast(group):
            raise InvalidFrame(InvalidReason.BAD_IGMP_GROUP, f"group record for {ip_str(group)}")
        if record_type in _RECORD_TYPES:
            records.append(
                GroupRecord(
                    RecordType(record_type),
                    group,
                    _addresses(data, sources_at, nsources),
                    bytes(data[aux_at:end]),
                )
            )
        offset = end
    return IgmpV3Report(tuple(records))


_RECORD_TYPES = frozenset(int(t) for t in RecordType)


# -- building --------------------------------------------------------------------------------


def _with_checksum(message: bytes) -> bytes:
    """Fill bytes 2..3 of a message built with a zero checksum field."""
    checksum = internet_checksum(message)
    return message[:2] + checksum.to_bytes(2, "big") + message[4:]


def _simple(kind: int, code: int, group: int) -> bytes:
    return _with_checksum(bytes((kind, code, 0, 0)) + group.to_bytes(4, "big"))


def build_query(
    version: int = 2,
    max_resp_time: float = 10.0,
    group: int = 0,
    *,
    s_flag: bool = False,
    qrv: int = 2,
    qqic_seconds: int = 125,
    sources: tuple[int, ...] = (),
) -> bytes:
    """A Membership Query of the given version (v1 ignores ``max_resp_time``; v2 needs
    0.1..25.5 s; v3 encodes up to 3174.4 s in the floating-point form)."""
    if version == 1:
        return _simple(IGMP_QUERY, 0, group)
    tenths = round(max_resp_time * 10)
    if version == 2:
        if not 1 <= tenths <= 0xFF:
            raise ValueError(f"an IGMPv2 query's max response time is 0.1..25.5 s, got {max_resp_time}")
        return _simple(IGMP_QUERY, tenths, group)
    if version != 3:
        raise ValueError(f"IGMP version {version}")
    if not 0 <= qrv <= 7:
        raise ValueError(f"QRV is 0..7, got {qrv}")
    body = (
        bytes((IGMP_QUERY, encode_exp_code(tenths), 0, 0))
        + group.to_bytes(4, "big")
        + bytes(((0x08 if s_flag else 0) | qrv, encode_exp_code(qqic_seconds)))
        + len(sources).to_bytes(2, "big")
        + b"".join(s.to_bytes(4, "big") for s in sources)
    )
    return _with_checksum(body)


def build_report_v1(group: int) -> bytes:
    return _simple(IGMP_V1_REPORT, 0, group)


def build_report_v2(group: int) -> bytes:
    return _simple(IGMP_V2_REPORT, 0, group)


def build_leave(group: int) -> bytes:
    return _simple(IGMP_LEAVE, 0, group)


def build_v3_report(records: tuple[GroupRecord, ...] | list[GroupRecord]) -> bytes:
    parts = [bytes((IGMP_V3_REPORT, 0, 0, 0, 0, 0)), len(records).to_bytes(2, "big")]
    for record in records:
        if len(record.aux_data) % 4:
            raise ValueError("auxiliary data is a whole number of 32-bit words")
        parts.append(
            bytes((int(record.record_type), len(record.aux_data) // 4))
            + len(record.sources).to_bytes(2, "big")
            + record.group.to_bytes(4, "big")
            + b"".join(s.to_bytes(4, "big") for s in record.sources)
            + record.aux_data
        )
    return _with_checksum(b"".join(parts))


def build_igmp(message: IgmpMessage) -> bytes:
    """Serialise any parsed message (the inverse of :func:`parse_igmp`)."""
    match message:
        case IgmpQuery():
            return build_query(
                message.version,
                message.max_resp_time,
                message.group,
                s_flag=message.s_flag,
                qrv=message.qrv,
                qqic_seconds=message.qqic_seconds,
                sources=message.sources,
            )
        case IgmpReport(version=1):
            return build_report_v1(message.group)
        case IgmpReport():
            return build_report_v2(message.group)
        case IgmpLeave():
            return build_leave(message.group)
        case IgmpV3Report():
            return build_v3_report(message.records)
        case IgmpUnknown():
            return message.raw
    raise TypeError(f"not an IGMP message: {message!r}")
