"""The failover scenario's reception timeline: frames each receiver got per time bin.

Runs use a 10 s query interval and 2 s max response time (as test_failover_scenario does)
so that a whole run stays short.
"""

from __future__ import annotations

import pytest

from dataplane.scenario import (
    GROUPS,
    RECEIVER_GROUPS,
    FailoverResult,
    ReceptionTimeline,
    TimelineRecorder,
    build_lab,
    device_configs,
    run_failover,
)
from dataplane.sim import Simulator
from tests.dataplane.conftest import FAST_FAILOVER

FAST = FAST_FAILOVER


def _timeline(result: FailoverResult) -> ReceptionTimeline:
    assert result.timeline is not None
    return result.timeline


def _full_bin(receiver: str, timeline: ReceptionTimeline) -> int:
    """Frames a receiver gets per bin when nothing is lost: every joined group's stream."""
    return round(len(RECEIVER_GROUPS[receiver]) * FAST["rate"] * timeline.bin_width)


def _bin_of(timeline: ReceptionTimeline, time: float) -> int:
    return int((time - timeline.start) / timeline.bin_width)


def test_timeline_bins_sum_to_every_frame_the_receivers_got() -> None:
    sim = Simulator(3)
    lab = build_lab(sim, device_configs(True), query_interval=10.0, max_response_time=2.0)
    lab.router.start(0.0)
    for name, groups in RECEIVER_GROUPS.items():
        for group in groups:
            sim.at(0.5, lab.receivers[name].join, group)
    for group in GROUPS:
        lab.router.stream(group, 500.0, start=1.0)
    recorder = TimelineRecorder(sim, lab.receivers, start=0.0, stop=3.0, bin_width=0.01, cut=2.0)
    sim.run(3.0)
    timeline = recorder.timeline()
    for name, host in lab.receivers.items():
        got = sum(len(reception.seqs) + reception.duplicates for reception in host.receptions.values())
        assert got > 0
        assert timeline.total(name) == got


def test_timeline_covers_a_second_before_the_cut_to_the_end_of_the_run(without: FailoverResult) -> None:
    timeline = _timeline(without)
    assert timeline.cut == without.fail_at
    assert timeline.start == pytest.approx(without.fail_at - 1.0)
    assert timeline.bin_width == 0.01
    assert timeline.bin_starts()[-1] + timeline.bin_width > without.recovered_at + 1.0
    assert set(timeline.counts) == set(RECEIVER_GROUPS)


def test_the_frames_missing_from_the_timeline_are_the_frames_lost(without: FailoverResult,
                                                                   with_feature: FailoverResult) -> None:
    # Both windows hold every loss and nothing is lost elsewhere: each bin short of the
    # full rate is a lost frame, counted independently of the sequence-number accounting.
    for result in (without, with_feature):
        timeline = _timeline(result)
        expected = sum(_full_bin(name, timeline) * len(counts) for name, counts in timeline.counts.items())
        assert expected - sum(timeline.total(name) for name in timeline.counts) == result.lost_frames


def test_without_feature_the_timeline_is_empty_from_the_cut_until_the_receivers_recover(
        without: FailoverResult) -> None:
    timeline = _timeline(without)
    cut_bin = _bin_of(timeline, without.fail_at)
    assert without.recovered_at is not None
    recovered_bin = _bin_of(timeline, without.recovered_at)
    last_short_bins = []
    for name, counts in timeline.counts.items():
        full = _full_bin(name, timeline)
        assert all(count == full for count in counts[:cut_bin])
        assert counts[cut_bin + 1] == 0
        first_after_cut = next(i for i in range(cut_bin, len(counts)) if counts[i] > 0)
        assert first_after_cut - cut_bin >= (12.5 - without.fail_at) / timeline.bin_width  # the next query
        last_short_bins.append(max(i for i, count in enumerate(counts) if count < full))
    # The last group to come back does so inside recovered_at's bin (or right at its start).
    assert recovered_bin - 1 <= max(last_short_bins) <= recovered_bin


def test_with_feature_no_bin_after_the_cut_is_empty(with_feature: FailoverResult) -> None:
    timeline = _timeline(with_feature)
    cut_bin = _bin_of(timeline, with_feature.fail_at)
    for name, counts in timeline.counts.items():
        assert min(counts) > 0
        short = [i for i, count in enumerate(counts) if count < _full_bin(name, timeline)]
        assert short and all(cut_bin <= i <= cut_bin + 1 for i in short)  # the dip is at the cut


def test_recording_a_timeline_does_not_change_the_run(without: FailoverResult) -> None:
    coarse = run_failover(False, seed=1, timeline_bin=0.5, timeline_before=3.0, **FAST)
    assert coarse.as_dict() == without.as_dict()
    assert _timeline(coarse).bin_width == 0.5


def test_the_timeline_is_kept_out_of_the_json_measurements(with_feature: FailoverResult) -> None:
    assert "timeline" not in with_feature.as_dict()


def test_a_timeline_bin_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        run_failover(True, timeline_bin=0.0, **FAST)


def test_a_timeline_cannot_start_after_the_cut() -> None:
    with pytest.raises(ValueError, match="seconds before the cut"):
        run_failover(True, timeline_before=-1.0, **FAST)


def test_a_timeline_window_must_hold_a_bin_and_start_now_or_later() -> None:
    sim = Simulator(1)
    sim.run(5.0)
    for start, stop in ((4.0, 6.0), (5.0, 5.005)):
        with pytest.raises(ValueError, match="at least one bin"):
            TimelineRecorder(sim, {}, start=start, stop=stop, bin_width=0.01, cut=5.0)
    assert sim.pending() == 0


def test_a_timeline_is_refused_before_the_simulation_reaches_its_end() -> None:
    sim = Simulator(1)
    lab = build_lab(sim, device_configs(False))
    recorder = TimelineRecorder(sim, lab.receivers, start=0.0, stop=1.0, bin_width=0.1, cut=0.5)
    sim.run(0.55)
    with pytest.raises(RuntimeError, match="has not reached the timeline's end"):
        recorder.timeline()
