"""argparse types shared by the command lines (``vsi-agent``, ``python -m agent.netns_lab``).

A bad value is refused by argparse with exit status 2 and one line that says what was
expected, in the unit the option is given in.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

__all__ = ["number_in_range"]

N = TypeVar("N", int, float)


def number_in_range(convert: Callable[[str], N], low: N, high: N, unit: str, *,
                    low_excluded: bool = False, unit_name: str | None = None) -> Callable[[str], N]:
    """An argparse ``type``: ``convert(text)`` (``int`` or ``float``) from ``low`` to ``high``
    (``low`` itself refused when ``low_excluded``), errors naming ``unit`` (spelt out as
    ``unit_name`` where a symbol would not read: "not a whole number of seconds")."""
    kind = "a whole number" if convert is int else "a number"
    name = unit_name or unit

    def parse(text: str) -> N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind} of {name}") from None
        if value < low or value > high or (low_excluded and value == low):
            span = f"({low:g}, {high:g}] {unit}" if low_excluded else f"{low:g}..{high:g} {unit}"
            raise argparse.ArgumentTypeError(f"{value:g} {unit} is outside {span}")
        return value

    return parse
