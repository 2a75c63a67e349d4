"""Input checks shared by every function of the package.

Every public function validates its inputs with :func:`check` and raises a ``ValueError``
that names the parameter, the allowed range and the value it got, so a reader never sees
a traceback from deep inside NumPy, nor a silently wrong number.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["check", "check_int", "describe_range"]


def describe_range(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    """Say an interval in words, for error messages: ``> 0``, ``in [0, 1]``, ``>= 1``."""
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi:g}"
    return ""


def check(
    name: str,
    value,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
):
    """Return ``value`` as a float (or float array) after checking it is finite and in range.

    Raises ``ValueError`` naming ``name`` and the allowed range otherwise. Booleans,
    strings and ``None`` are rejected with the same kind of message.
    """
    allowed = describe_range(lo, hi, lo_open, hi_open)
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be a number {allowed}".rstrip() + f"; got {value!r}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number {allowed}".rstrip() + f"; got {value!r}") from None
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    bad = ~np.isfinite(arr)
    if lo is not None:
        bad |= (arr <= lo) if lo_open else (arr < lo)
    if hi is not None:
        bad |= (arr >= hi) if hi_open else (arr > hi)
    if np.any(bad):
        first = arr[bad].flat[0] if arr.ndim else float(arr)
        raise ValueError(f"{name} must be a finite number {allowed}".rstrip() + f"; got {first:g}")
    if arr.ndim == 0:
        return float(arr)
    return arr


def check_int(name: str, value, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking it is a whole number in ``[lo, hi]``."""
    allowed = describe_range(lo, hi, False, False)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        raise ValueError(f"{name} must be a whole number {allowed}".rstrip() + f"; got {value!r}")
    if isinstance(value, (int, np.integer)):
        v = int(value)  # exact, however large
    else:
        f = float(value)
        if not math.isfinite(f) or f != int(f):
            raise ValueError(f"{name} must be a whole number {allowed}".rstrip() + f"; got {value!r}")
        v = int(f)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{name} must be a whole number {allowed}".rstrip() + f"; got {v}")
    return v
