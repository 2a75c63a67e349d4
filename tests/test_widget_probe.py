"""The widget probe (tests/widget_probe.py) finds what it is there to find: run in this
process on widgets made to fail, it names each failure; on a widget that answers every bad
value with a message, it names none."""

from __future__ import annotations

import math

import widget_probe
from ipywidgets import interactive


def _problems(func) -> str:
    w = interactive(func, x=(0.5, 10.0))
    try:
        widget_probe.probe_widgets(seconds=2.0)
    except AssertionError as exc:
        return "\n".join(line for line in str(exc).splitlines() if func.__name__ in line)
    finally:
        w.close()
    return ""


def test_a_traceback_is_found():
    def divides(x=1.0):
        print(1 / x)

    assert "raised ZeroDivisionError" in _problems(divides)


def test_a_silent_nan_is_found():
    def roots(x=1.0):
        print(math.sqrt(x) if x >= 0 else float("nan"))

    found = _problems(roots)
    assert "x = -1: shows a non-finite number without a message" in found
    assert "x = nan: no message for a non-finite value" in found


def test_a_hang_is_found():
    def hangs(x=1.0):
        while x > 1e11:
            pass
        print("⚠ fine")

    assert "x = 1000000000000.0: still running after 2 s" in _problems(hangs)


def test_a_widget_with_messages_passes():
    def careful(x=1.0):
        if not (math.isfinite(x) and 0 < x < 1e6):
            print(f"⚠ x must be a number in (0, 1e6); got {x}")
            return
        print(1 / x)

    assert _problems(careful) == ""
