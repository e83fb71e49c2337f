"""SPEC 2.1 and 2.4 for the way back: the primary PW fails, comes back, and after
wait-to-restore the UPE reverts "with the same rapid behaviour in the other direction",
measured in virtual time like the switchover (test_failover_scenario.py).

Runs use a 10 s query interval, 2 s max response time, a 1 s outage and a 3 s
wait-to-restore, so that no query of the router falls between the restore and the revert
(the case where only the UPE's report solicitation can prepare SPE1) and a run stays short.
"""

from __future__ import annotations

import json
import math

import pytest

from dataplane.scenario import RevertResult, main, run_revert

FAST = {"query_interval": 10.0, "max_response_time": 2.0, "rate": 500.0, "wtr_time": 3.0, "outage": 1.0}
RECEPTIONS = 4  # receiver1: 239.1.1.1 and .2; receiver2: .2 and .3
PW_DELAY = 0.001
SWITCHOVER_BOUND = RECEPTIONS * (math.ceil(2 * PW_DELAY * FAST["rate"]) + 1)
"""What the switchover may lose (test_failover_scenario): one PW delay of stream in flight
on the PW that stops forwarding, one more until the new side hears the status message."""


@pytest.fixture(scope="module")
def without() -> RevertResult:
    return run_revert(False, seed=1, **FAST)


@pytest.fixture(scope="module")
def with_feature() -> RevertResult:
    return run_revert(True, seed=1, **FAST)


def test_default_timeline_has_no_router_query_between_restore_and_revert(with_feature: RevertResult) -> None:
    # Router queries at 0 and 2.5 s, then 12.5 s: the outage and wait-to-restore sit between.
    assert (with_feature.fail_at, with_feature.restored_at, with_feature.reverted_at) == (5.5, 6.5, 9.5)


def test_revert_comes_wait_to_restore_after_the_primary_is_back(with_feature: RevertResult,
                                                                without: RevertResult) -> None:
    for result in (with_feature, without):
        assert result.reverted_at == result.restored_at + FAST["wtr_time"]


def test_with_feature_spe1_holds_every_group_when_wait_to_restore_ends(with_feature: RevertResult) -> None:
    assert with_feature.queries_solicited == 1
    assert with_feature.spe1_entries_at_revert == 3


def test_with_feature_revert_loss_is_bounded_like_the_switchover(with_feature: RevertResult) -> None:
    assert with_feature.lost_frames <= SWITCHOVER_BOUND
    assert with_feature.interruption_ms <= 2 * PW_DELAY * 1000 + 1
    assert with_feature.recovered_at is not None and with_feature.reverted_at is not None
    assert with_feature.recovered_at <= with_feature.reverted_at + 2 * PW_DELAY + 1 / FAST["rate"]


def test_with_feature_and_instant_pw_signalling_the_revert_costs_no_frame() -> None:
    result = run_revert(True, seed=1, pw_delay=1e-5, **FAST)
    assert result.lost_frames == 0
    assert result.interruption_ms < 1.0


def test_with_feature_revert_has_no_duplicates_loops_or_mac_flaps(with_feature: RevertResult) -> None:
    assert (with_feature.duplicate_frames, with_feature.loops, with_feature.mac_moves) == (0, 0, 0)


def test_without_feature_spe1_is_empty_at_revert_and_the_stream_waits_for_the_next_query(
        without: RevertResult) -> None:
    next_query = 12.5
    assert without.spe1_entries_at_revert == 0
    assert without.queries_solicited == 0
    assert without.recovered_at is not None
    assert next_query < without.recovered_at <= next_query + FAST["max_response_time"] + 0.01
    assert without.lost_frames >= RECEPTIONS * (next_query - without.restored_at) * FAST["rate"]


def test_with_feature_a_silent_outage_reverts_as_rapidly_once_keepalives_return() -> None:
    result = run_revert(True, seed=1, failure="silent", **FAST)
    assert result.spe1_entries_at_revert == 3
    assert result.reverted_at is not None and result.reverted_at > result.restored_at + FAST["wtr_time"]
    assert result.lost_frames <= SWITCHOVER_BOUND
    assert (result.duplicate_frames, result.loops, result.mac_moves) == (0, 0, 0)


def test_revert_refuses_an_outage_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="outage must be positive"):
        run_revert(True, **{**FAST, "outage": 0.0})


def test_command_line_revert_json_has_both_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["revert", "--json", "--query-interval", "10", "--max-response-time", "2", "--rate", "200",
                 "--wtr-time", "3", "--outage", "1"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert set(output) == {"without_feature", "with_feature"}
    assert output["with_feature"]["spe1_entries_at_revert"] == 3
    assert output["with_feature"]["lost_frames"] < output["without_feature"]["lost_frames"]


def test_command_line_revert_table_shows_both_runs_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    main(["revert", "--query-interval", "10", "--max-response-time", "2", "--rate", "200",
          "--wtr-time", "3", "--outage", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert "without feature" in lines[0] and "with feature" in lines[0]
    assert any(line.startswith("SPE1 entries on its PW at revert") for line in lines)
    assert "reverted t=9.5 s" in lines[-1]
