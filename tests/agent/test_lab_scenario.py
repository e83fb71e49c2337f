"""``vsi-agent lab --scenario failover [--json] [--plot FILE.png]`` (SPEC section 6).

Runs use a 10 s query interval, 2 s max response time and 200 frames/s so that the two
runs of each call stay short; the contract does not depend on the values.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from agent.lab_scenario import PLOT_DPI, PLOT_SIZE_INCHES, plot_failover, run
from dataplane.scenario import run_failover

FAST = {"query_interval": 10.0, "max_response_time": 2.0, "rate": 200.0}
CONTRACT_KEYS = {"lost_frames": int, "interruption_ms": float, "duplicate_frames": int, "mac_moves": int}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def json_report() -> dict[str, dict[str, object]]:
    out = io.StringIO()
    assert run(json_output=True, plot=None, out=out, **FAST) == 0
    return json.loads(out.getvalue())


def test_json_is_one_object_with_both_runs(json_report: dict[str, dict[str, object]]) -> None:
    assert set(json_report) == {"without_feature", "with_feature"}


def test_json_runs_hold_the_contract_keys_with_their_types(json_report: dict[str, dict[str, object]]) -> None:
    for measurements in json_report.values():
        for key, kind in CONTRACT_KEYS.items():
            assert isinstance(measurements[key], kind), key
            assert not isinstance(measurements[key], bool)


def test_json_stays_small_without_the_timeline(json_report: dict[str, dict[str, object]]) -> None:
    assert all("timeline" not in run for run in json_report.values())
    assert len(json.dumps(json_report)) < 2000


def test_with_feature_loses_far_fewer_frames_than_without(json_report: dict[str, dict[str, object]]) -> None:
    lost_without = json_report["without_feature"]["lost_frames"]
    lost_with = json_report["with_feature"]["lost_frames"]
    assert isinstance(lost_without, int) and isinstance(lost_with, int)
    assert lost_without > 100 * max(lost_with, 1)
    assert json_report["with_feature"]["interruption_ms"] < json_report["without_feature"]["interruption_ms"]


def test_table_shows_both_runs_side_by_side() -> None:
    out = io.StringIO()
    assert run(json_output=False, plot=None, out=out, **FAST) == 0
    lines = out.getvalue().splitlines()
    assert "without feature" in lines[0] and "with feature" in lines[0]
    assert any(line.startswith("frames lost at receivers") for line in lines)


def test_plot_is_a_png_of_the_documented_size(tmp_path: Path) -> None:
    target = tmp_path / "failover.png"
    out = io.StringIO()
    assert run(json_output=True, plot=target, out=out, **FAST) == 0
    json.loads(out.getvalue())  # --json output stays pure JSON with a plot
    data = target.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(target) as image:
        image.load()  # decodes every pixel: a truncated file fails here
        assert image.format == "PNG"
        assert image.size == (round(PLOT_SIZE_INCHES[0] * PLOT_DPI), round(PLOT_SIZE_INCHES[1] * PLOT_DPI))


def test_plot_draws_each_receivers_timeline_in_one_panel_per_run() -> None:
    runs = run_failover(False, seed=1, **FAST), run_failover(True, seed=1, **FAST)
    figure = plot_failover(*runs)
    panels = figure.get_axes()
    assert len(panels) == 2
    for panel, result in zip(panels, runs):
        assert result.timeline is not None
        lines = {line.get_label(): line for line in panel.get_lines()}
        for receiver, counts in result.timeline.counts.items():
            assert list(lines[receiver].get_ydata()) == list(counts)
        assert list(lines["primary PW cut"].get_xdata()) == [0, 0]  # time axis: seconds from the cut
        assert f"{result.lost_frames:,} frames lost" in panel.get_title()
        assert panel.get_ylabel() == "frames per 10 ms"
    assert panels[-1].get_xlabel() == "time from the primary PW cut (s)"
    assert "without feature" in panels[0].get_title() and "with feature" in panels[1].get_title()


@pytest.mark.parametrize("where", ["missing-directory/failover.png", "."])
def test_unwritable_plot_path_is_one_line_error_exit_2_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    target = tmp_path / where
    before = sorted(tmp_path.rglob("*"))
    out = io.StringIO()
    assert run(json_output=True, plot=target, out=out, **FAST) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("vsi-agent: error: cannot write the plot to ") and str(target) in error
    assert out.getvalue() == ""  # refused before the runs: nothing measured, nothing half-printed
    assert sorted(tmp_path.rglob("*")) == before


def test_a_failure_while_writing_the_plot_is_the_same_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.figure import Figure

    def disk_full(self: Figure, *args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", disk_full)
    target = tmp_path / "failover.png"
    assert run(json_output=False, plot=target, out=io.StringIO(), **FAST) == 2
    error = capsys.readouterr().err
    assert error == f"vsi-agent: error: cannot write the plot to {target}: No space left on device\n"
    assert not target.exists()
