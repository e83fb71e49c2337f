"""The failover scenario (SPEC 2.4): what "works" means, measured in virtual time.

Runs use a 10 s query interval and 2 s max response time so that a whole run, waiting
for the next query, stays short; the rules do not depend on the values.
"""

from __future__ import annotations

import json
import math

import pytest

from dataplane.config import PwConfig
from dataplane.scenario import FailoverResult, main, run_failover
from tests.dataplane.conftest import FAST_FAILOVER

FAST = FAST_FAILOVER
RECEPTIONS = 4  # receiver1: 239.1.1.1 and .2; receiver2: .2 and .3
PW_DELAY = 0.001


def test_with_feature_spe2_holds_every_group_before_the_failure(with_feature: FailoverResult) -> None:
    assert with_feature.spe2_entries_before_failure == 3


def test_without_feature_spe2_learns_nothing_over_the_standby_pw(without: FailoverResult) -> None:
    assert without.spe2_entries_before_failure == 0


def test_with_feature_loss_is_bounded_by_frames_in_flight_and_one_pw_status_message(with_feature: FailoverResult) -> None:
    # Lost at most: what was on the cut wire (one PW delay of stream) plus what reached
    # SPE2 before the UPE's status message did (one more PW delay), per reception.
    per_reception = math.ceil(2 * PW_DELAY * FAST["rate"]) + 1
    assert 0 < with_feature.lost_frames <= RECEPTIONS * per_reception
    assert with_feature.interruption_ms <= 2 * PW_DELAY * 1000 + 1


def test_with_feature_and_instant_pw_signalling_carrier_loss_costs_no_frame() -> None:
    result = run_failover(True, seed=1, pw_delay=1e-5, **FAST)
    assert result.lost_frames == 0
    assert result.interruption_ms < 1.0


def test_with_feature_no_duplicates_and_no_loops(with_feature: FailoverResult) -> None:
    assert with_feature.duplicate_frames == 0
    assert with_feature.loops == 0


def test_with_source_mac_replace_no_mac_moves_upstream(with_feature: FailoverResult) -> None:
    assert with_feature.mac_moves == 0


def test_without_source_mac_replace_relayed_reports_move_receiver_macs_upstream() -> None:
    result = run_failover(True, seed=1, source_mac_replace=False, **FAST)
    assert result.mac_moves > 0
    assert result.lost_frames <= RECEPTIONS * (math.ceil(2 * PW_DELAY * FAST["rate"]) + 1)


def test_without_feature_interruption_lasts_until_the_next_query_and_report(without: FailoverResult) -> None:
    # Startup queries at 0 and 2.5 s, then every 10 s: the cut at 7.5 s waits for 12.5 s.
    next_query = 12.5
    assert without.fail_at == 7.5
    assert without.recovered_at is not None
    assert next_query < without.recovered_at <= next_query + FAST["max_response_time"] + 0.01
    assert without.interruption_ms >= (next_query - without.fail_at) * 1000
    assert without.lost_frames >= RECEPTIONS * (next_query - without.fail_at) * FAST["rate"]


def test_without_feature_no_duplicates_no_loops_no_mac_moves(without: FailoverResult) -> None:
    assert (without.duplicate_frames, without.loops, without.mac_moves) == (0, 0, 0)


def test_the_receivers_move_upstream_once_after_switchover_in_both_runs(without: FailoverResult,
                                                                         with_feature: FailoverResult) -> None:
    assert without.station_moves_after_switchover == with_feature.station_moves_after_switchover == 2


def test_igmpv3_receivers_get_the_same_protection() -> None:
    result = run_failover(True, seed=2, version=3, **FAST)
    assert result.spe2_entries_before_failure == 3
    assert result.lost_frames <= RECEPTIONS * (math.ceil(2 * PW_DELAY * FAST["rate"]) + 1)
    assert (result.duplicate_frames, result.loops, result.mac_moves) == (0, 0, 0)


def test_a_run_is_a_function_of_its_seed(without: FailoverResult) -> None:
    assert run_failover(False, seed=1, **FAST) == without
    assert run_failover(False, seed=2, **FAST).recovered_at != without.recovered_at


def test_command_line_json_has_both_runs_with_the_contract_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["failover", "--json", "--query-interval", "10", "--max-response-time", "2", "--rate", "200"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert set(output) == {"without_feature", "with_feature"}
    for run in output.values():
        assert {"lost_frames", "interruption_ms", "duplicate_frames", "mac_moves"} <= set(run)
    assert output["with_feature"]["lost_frames"] < output["without_feature"]["lost_frames"]


def test_command_line_table_shows_both_runs_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    main(["failover", "--query-interval", "10", "--max-response-time", "2", "--rate", "200"])
    lines = capsys.readouterr().out.splitlines()
    assert "without feature" in lines[0] and "with feature" in lines[0]
    assert any(line.startswith("frames lost at receivers") for line in lines)
    assert any(line.startswith("MAC moves upstream") for line in lines)


def test_with_feature_a_silent_failure_costs_keepalive_detection_time_and_no_more() -> None:
    pw = PwConfig("10.0.0.1", 100, "pw")
    detect = pw.keepalive_interval * pw.keepalive_multiplier
    result = run_failover(True, seed=1, failure="silent", **FAST)
    # Detection fires interval x multiplier after the last keepalive heard, which came at
    # most one interval before the failure.
    assert (detect - pw.keepalive_interval) * 1000 <= result.interruption_ms <= (detect + 2 * PW_DELAY) * 1000 + 1
    assert result.lost_frames <= RECEPTIONS * (math.ceil((detect + 2 * PW_DELAY) * FAST["rate"]) + 1)
    assert (result.duplicate_frames, result.loops, result.mac_moves) == (0, 0, 0)


def test_unknown_failure_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="carrier, silent"):
        run_failover(True, failure="flood", **FAST)
