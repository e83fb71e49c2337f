"""IGMP v1/v2/v3 message rules (RFC 2236, RFC 3376): dataplane/igmp.py."""

from __future__ import annotations

import pytest

from dataplane.addr import ip_int
from dataplane.igmp import (
    GroupRecord,
    IgmpLeave,
    IgmpQuery,
    IgmpReport,
    IgmpUnknown,
    IgmpV3Report,
    RecordType,
    build_igmp,
    build_leave,
    build_query,
    build_report_v1,
    build_report_v2,
    build_v3_report,
    decode_exp_code,
    encode_exp_code,
    parse_igmp,
)
from dataplane.invalid import InvalidFrame, InvalidReason
from dataplane.ipv4 import internet_checksum

G1 = ip_int("239.1.1.1")
G2 = ip_int("239.1.1.2")
S1 = ip_int("10.1.1.1")
S2 = ip_int("10.1.1.2")


def fix_checksum(message: bytes | bytearray) -> bytes:
    data = bytearray(message)
    data[2:4] = b"\0\0"
    data[2:4] = internet_checksum(bytes(data)).to_bytes(2, "big")
    return bytes(data)


def expect(reason: InvalidReason, data: bytes) -> None:
    with pytest.raises(InvalidFrame) as info:
        parse_igmp(data)
    assert info.value.reason is reason


# -- query version inference, RFC 3376 section 7.1 -----------------------------------------


def test_8_byte_query_with_zero_max_resp_is_v1_meaning_10_seconds() -> None:
    data = build_query(1, group=0)
    assert len(data) == 8 and data[1] == 0
    assert parse_igmp(data) == IgmpQuery(version=1, max_resp_time=10.0, group=0)


def test_8_byte_query_with_nonzero_max_resp_is_v2() -> None:
    data = build_query(2, 2.5, G1)
    assert len(data) == 8 and data[1] == 25
    assert parse_igmp(data) == IgmpQuery(version=2, max_resp_time=2.5, group=G1)


def test_query_of_12_bytes_or_more_is_v3() -> None:
    data = build_query(3, 10.0, G1, s_flag=True, qrv=3, qqic_seconds=60, sources=(S1, S2))
    assert len(data) == 20
    assert parse_igmp(data) == IgmpQuery(3, 10.0, G1, True, 3, 60, (S1, S2))


@pytest.mark.parametrize("length", [9, 10, 11])
def test_query_of_9_to_11_bytes_is_bad_igmp_length(length: int) -> None:
    expect(InvalidReason.BAD_IGMP_LENGTH, fix_checksum(build_query(3, 1.0)[:length]))


def test_v3_query_with_zero_max_resp_is_still_v3() -> None:
    query = parse_igmp(build_query(3, 0.0))
    assert isinstance(query, IgmpQuery) and query.version == 3 and query.max_resp_time == 0


def test_v3_query_whose_sources_do_not_fit_is_bad_igmp_length() -> None:
    data = bytearray(build_query(3, 1.0, G1, sources=(S1,)))
    data[10:12] = (2).to_bytes(2, "big")
    expect(InvalidReason.BAD_IGMP_LENGTH, fix_checksum(data))


def test_bytes_after_a_v3_query_are_checksummed_then_ignored() -> None:
    data = fix_checksum(build_query(3, 1.0, G1, sources=(S1,)) + b"\x01\x02\x03\x04")
    assert parse_igmp(data) == parse_igmp(build_query(3, 1.0, G1, sources=(S1,)))


def test_general_query_flag() -> None:
    assert parse_igmp(build_query(2, 10.0)).is_general
    assert not parse_igmp(build_query(2, 10.0, G1)).is_general


def test_query_for_a_unicast_group_is_bad_igmp_group() -> None:
    expect(InvalidReason.BAD_IGMP_GROUP, build_query(2, 10.0, S1))


# -- max resp code / QQIC floating point, RFC 3376 sections 4.1.1 and 4.1.7 ----------------


def test_codes_below_128_are_the_value_itself() -> None:
    assert [decode_exp_code(c) for c in (0, 1, 100, 127)] == [0, 1, 100, 127]
    assert [encode_exp_code(v) for v in (0, 1, 100, 127)] == [0, 1, 100, 127]


def test_exponential_code_decodes_as_mant_or_0x10_shifted_by_exp_plus_3() -> None:
    # 0x80: exp 0 mant 0 -> 16 << 3; 0xff: exp 7 mant 15 -> 31 << 10.
    assert decode_exp_code(0x80) == 128
    assert decode_exp_code(0x9A) == (0x1A << 4)
    assert decode_exp_code(0xFF) == 31744


def test_every_code_survives_decode_then_encode() -> None:
    assert [encode_exp_code(decode_exp_code(code)) for code in range(256)] == list(range(256))


def test_unrepresentable_value_rounds_down_to_never_promise_more_time() -> None:
    assert decode_exp_code(encode_exp_code(255)) == 248
    assert decode_exp_code(encode_exp_code(1000)) == 992


def test_values_above_the_range_saturate() -> None:
    assert encode_exp_code(10**6) == 0xFF


def test_v3_query_encodes_long_max_resp_time_and_qqic_exponentially() -> None:
    data = build_query(3, 60.0, qqic_seconds=300)
    assert data[1] == encode_exp_code(600) and data[1] >= 0x80
    assert data[9] == encode_exp_code(300) and data[9] >= 0x80
    query = parse_igmp(data)
    assert query.max_resp_time == decode_exp_code(data[1]) / 10
    assert query.qqic_seconds == decode_exp_code(data[9])


def test_v2_query_refuses_times_the_8_bit_field_cannot_hold() -> None:
    with pytest.raises(ValueError):
        build_query(2, 30.0)
    with pytest.raises(ValueError):
        build_query(2, 0.0)


def test_builder_refuses_unknown_version_and_qrv() -> None:
    with pytest.raises(ValueError):
        build_query(4, 1.0)
    with pytest.raises(ValueError):
        build_query(3, 1.0, qrv=8)


# -- reports and leaves ------------------------------------------------------------------------


def test_v1_report_round_trips() -> None:
    data = build_report_v1(G1)
    assert data[0] == 0x12
    assert parse_igmp(data) == IgmpReport(1, G1)


def test_v2_report_round_trips() -> None:
    data = build_report_v2(G1)
    assert data[0] == 0x16
    assert parse_igmp(data) == IgmpReport(2, G1)


def test_leave_round_trips() -> None:
    data = build_leave(G1)
    assert data[0] == 0x17
    assert parse_igmp(data) == IgmpLeave(G1)


@pytest.mark.parametrize("builder", [build_report_v1, build_report_v2, build_leave])
def test_report_or_leave_for_a_unicast_address_is_bad_igmp_group(builder) -> None:  # noqa: ANN001
    expect(InvalidReason.BAD_IGMP_GROUP, builder(S1))


def test_bytes_after_a_v2_report_are_checksummed_then_ignored() -> None:
    assert parse_igmp(fix_checksum(build_report_v2(G1) + b"\0\0\0\x07")) == IgmpReport(2, G1)


def test_v3_report_with_all_six_record_types_round_trips() -> None:
    records = tuple(
        GroupRecord(record_type, G1 + i, (S1, S2)[: i % 3], b"\xaa\xbb\xcc\xdd" * (i % 2))
        for i, record_type in enumerate(RecordType)
    )
    data = build_v3_report(records)
    assert data[0] == 0x22 and int.from_bytes(data[6:8], "big") == 6
    assert parse_igmp(data) == IgmpV3Report(records)


def test_v3_report_record_of_unknown_type_is_skipped() -> None:
    data = bytearray(build_v3_report((GroupRecord(RecordType.MODE_IS_EXCLUDE, G1), GroupRecord(RecordType.ALLOW_NEW_SOURCES, G2, (S1,)))))
    data[8] = 9
    assert parse_igmp(fix_checksum(data)) == IgmpV3Report((GroupRecord(RecordType.ALLOW_NEW_SOURCES, G2, (S1,)),))


def test_v3_report_with_more_records_than_bytes_is_bad_igmp_length() -> None:
    data = bytearray(build_v3_report((GroupRecord(RecordType.MODE_IS_EXCLUDE, G1),)))
    data[6:8] = (2).to_bytes(2, "big")
    expect(InvalidReason.BAD_IGMP_LENGTH, fix_checksum(data))


def test_v3_record_whose_sources_run_past_the_message_is_bad_igmp_length() -> None:
    data = bytearray(build_v3_report((GroupRecord(RecordType.ALLOW_NEW_SOURCES, G1, (S1,)),)))
    data[10:12] = (2).to_bytes(2, "big")
    expect(InvalidReason.BAD_IGMP_LENGTH, fix_checksum(data))


def test_v3_record_whose_aux_data_runs_past_the_message_is_bad_igmp_length() -> None:
    data = bytearray(build_v3_report((GroupRecord(RecordType.ALLOW_NEW_SOURCES, G1, (S1,)),)))
    data[9] = 1
    expect(InvalidReason.BAD_IGMP_LENGTH, fix_checksum(data))


def test_v3_record_for_a_unicast_group_is_bad_igmp_group() -> None:
    expect(InvalidReason.BAD_IGMP_GROUP, build_v3_report((GroupRecord(RecordType.MODE_IS_EXCLUDE, S1),)))


def test_aux_data_must_be_whole_words() -> None:
    with pytest.raises(ValueError):
        build_v3_report((GroupRecord(RecordType.MODE_IS_EXCLUDE, G1, (), b"abc"),))


# -- checksum, length, unknown types -----------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [build_query(2, 10.0), build_query(3, 1.0, G1, sources=(S1,)), build_report_v2(G1), build_leave(G1),
     build_v3_report((GroupRecord(RecordType.MODE_IS_EXCLUDE, G1),))],
    ids=["v2-query", "v3-query", "v2-report", "leave", "v3-report"],
)
def test_corrupted_checksum_is_bad_igmp_checksum(data: bytes) -> None:
    corrupted = bytearray(data)
    corrupted[len(data) - 1] ^= 0x01
    expect(InvalidReason.BAD_IGMP_CHECKSUM, bytes(corrupted))


def test_message_of_odd_length_is_checksummed_with_a_pad_byte() -> None:
    data = fix_checksum(build_report_v2(G1) + b"\x05")
    assert parse_igmp(data) == IgmpReport(2, G1)


def test_all_zero_message_fails_the_checksum() -> None:
    expect(InvalidReason.BAD_IGMP_CHECKSUM, bytes(8))


@pytest.mark.parametrize("length", range(8))
def test_message_under_8_bytes_is_bad_igmp_length(length: int) -> None:
    expect(InvalidReason.BAD_IGMP_LENGTH, build_report_v2(G1)[:length])


@pytest.mark.parametrize("kind", [0x13, 0x1E, 0x1F, 0x21, 0x00, 0xFF])
def test_unknown_type_with_valid_checksum_is_returned_not_raised(kind: int) -> None:
    data = fix_checksum(bytes((kind, 0, 0, 0)) + G1.to_bytes(4, "big") + b"tail")
    message = parse_igmp(data)
    assert message == IgmpUnknown(kind, data)
    assert build_igmp(message) == data


def test_build_igmp_inverts_parse_for_every_message_type() -> None:
    messages = [
        IgmpQuery(1, 10.0),
        IgmpQuery(2, 0.1, G1),
        IgmpQuery(3, 3174.4, G2, True, 7, 31744, (S1,)),
        IgmpReport(1, G1),
        IgmpReport(2, G2),
        IgmpLeave(G1),
        IgmpV3Report((GroupRecord(RecordType.CHANGE_TO_INCLUDE, G1),)),
    ]
    assert [parse_igmp(build_igmp(m)) for m in messages] == messages
