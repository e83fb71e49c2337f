"""``vsi-agent lab --scenario failover [--json] [--plot FILE.png]`` (SPEC section 6).

The switchover run of :mod:`dataplane.scenario` in virtual time, twice: feature off, then
on. The result is the side-by-side table, or with ``--json`` one object with the keys
``without_feature`` and ``with_feature`` (each holding at least ``lost_frames``,
``interruption_ms``, ``duplicate_frames`` and ``mac_moves``). ``--plot`` also draws the
timeline of frames each receiver got around the cut, one panel per run, into a PNG.

The plot uses matplotlib's object API with the Agg canvas: it never opens a display and
never touches pyplot's global state, so it works on a headless CI machine and inside a
running agent. matplotlib is imported only when a plot is asked for.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from dataplane.scenario import FailoverResult, ReceptionTimeline, format_table, run_failover

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PLOT_DPI", "PLOT_SIZE_INCHES", "plot_failover", "run"]

PLOT_SIZE_INCHES = (10.0, 6.5)
PLOT_DPI = 100
"""The PNG is ``PLOT_SIZE_INCHES`` x ``PLOT_DPI`` pixels (1000 x 650)."""


# Receivers often get the same count per bin: a wide solid line under a narrow dashed one
# keeps both visible where they overlap.
_RECEIVER_STYLES = (
    {"linestyle": "-", "linewidth": 2.4, "alpha": 0.8},
    {"linestyle": "--", "linewidth": 1.2},
    {"linestyle": "-.", "linewidth": 1.2},
    {"linestyle": ":", "linewidth": 1.2},
)


class PlotError(Exception):
    """The plot cannot be written where the user asked: one line for the user."""


def run(
    *,
    json_output: bool,
    plot: Path | None,
    out: TextIO = sys.stdout,
    seed: int = 1,
    query_interval: float = 60.0,
    max_response_time: float = 10.0,
    rate: float = 1000.0,
) -> int:
    """Run the failover scenario without and with the feature and report both.

    Returns the exit status: 0, or 2 when the plot cannot be written (a one-line error on
    stderr; the measurements are still printed when the failure comes only at writing).
    The scenario parameters default to SPEC section 6's lab; tests shorten them.
    """
    try:
        if plot is not None:
            _check_plot_path(plot)
        options = {"seed": seed, "query_interval": query_interval, "max_response_time": max_response_time,
                   "rate": rate}
        without, with_feature = run_failover(False, **options), run_failover(True, **options)
        if json_output:
            print(json.dumps({"without_feature": without.as_dict(), "with_feature": with_feature.as_dict()}),
                  file=out)
        else:
            print(format_table(without, with_feature), file=out)
        if plot is not None:
            _write_png(plot_failover(without, with_feature), plot)
            if not json_output:
                print(f"timeline plot written to {plot}", file=out)
    except PlotError as exc:
        print(f"vsi-agent: error: {exc}", file=sys.stderr)
        return 2
    return 0


def plot_failover(without: FailoverResult, with_feature: FailoverResult) -> Figure:
    """Two panels, feature off above and on below, sharing the time axis: frames received
    per bin by each receiver, in seconds from the cut, the cut and the recovery marked."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=PLOT_SIZE_INCHES, dpi=PLOT_DPI, layout="constrained")
    axes = figure.subplots(2, 1, sharex=True, sharey=True)
    for ax, result, name in zip(axes, (without, with_feature), ("without feature", "with feature")):
        timeline = _timeline_of(result)
        _draw_run(ax, result, timeline, name)
    bin_ms = _timeline_of(without).bin_width * 1000
    axes[-1].set_xlabel("time from the primary PW cut (s)")
    figure.suptitle(f"Failover: frames received per receiver ({bin_ms:g} ms bins, seed {without.seed})")
    return figure


def _draw_run(ax: Axes, result: FailoverResult, timeline: ReceptionTimeline, name: str) -> None:
    """One run's panel: a step line per receiver, the cut and the recovery as vertical lines."""
    from matplotlib.ticker import MaxNLocator

    times = [start - timeline.cut for start in timeline.bin_starts()]
    for (receiver, counts), style in zip(sorted(timeline.counts.items()), _RECEIVER_STYLES):
        ax.step(times, counts, where="post", label=receiver, **style)
    ax.axvline(0.0, color="red", linestyle="--", linewidth=1.0, label="primary PW cut")
    if result.recovered_at is not None and result.recovered_at > result.fail_at:
        ax.axvline(result.recovered_at - timeline.cut, color="green", linestyle=":", linewidth=1.0,
                   label="last receiver recovered")
    ax.set_title(f"{name}: {result.lost_frames:,} frames lost, "
                 f"longest interruption {result.interruption_ms:,.1f} ms", fontsize=10)
    ax.set_ylabel(f"frames per {timeline.bin_width * 1000:g} ms")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # frames come whole
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)


def _timeline_of(result: FailoverResult) -> ReceptionTimeline:
    if result.timeline is None:
        raise ValueError("this failover result recorded no timeline to plot")
    return result.timeline


def _check_plot_path(path: Path) -> None:
    """Refuse a plot path that cannot be written before spending the runs' time on it."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise PlotError(f"cannot write the plot to {path}: it is a directory")
    if not parent.is_dir():
        raise PlotError(f"cannot write the plot to {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PlotError(f"cannot write the plot to {path}: directory {parent} is not writable")


def _write_png(figure: Figure, path: Path) -> None:
    """PNG whatever the file name ends with: the contract is FILE.png."""
    try:
        figure.savefig(path, format="png")
    except OSError as exc:
        raise PlotError(f"cannot write the plot to {path}: {exc.strerror or exc}") from exc
