"""Timing done the same way everywhere in the course: a warm-up, several repeats, the
median and the spread, and the machine the numbers came from.

Timings are never typed into prose: a cell computes them, and the page says which
machine built it.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

from ._validate import check, check_int

__all__ = ["BenchResult", "bench"]


@dataclass(frozen=True)
class BenchResult:
    """Seconds per call: the median over repeats, with the spread and the raw repeats."""

    median: float
    best: float
    worst: float
    q1: float
    q3: float
    times: tuple[float, ...]
    number: int
    machine: str = field(default="")

    @property
    def iqr(self) -> float:
        """Interquartile range of the repeats, in seconds per call."""
        return self.q3 - self.q1

    def __str__(self) -> str:
        return (
            f"{_fmt(self.median)} per call (median of {len(self.times)} repeats x {self.number}, "
            f"IQR {_fmt(self.iqr)})"
        )


def _fmt(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.3g} s"  # pragma: no cover


def bench(
    func: Callable[[], object],
    *,
    repeat: int = 7,
    warmup: int = 1,
    number: int | None = None,
    min_time: float = 0.02,
    max_number: int = 1_000_000,
) -> BenchResult:
    """Time ``func()``: ``warmup`` untimed calls, then ``repeat`` timed repeats.

    Each repeat calls ``func`` ``number`` times; when ``number`` is None it is chosen so that
    one repeat lasts at least ``min_time`` seconds (at most ``max_number`` calls), as
    :mod:`timeit` does. Returns seconds per call.
    """
    repeat = check_int("repeat", repeat, 1, 10_000)
    warmup = check_int("warmup", warmup, 0, 10_000)
    min_time = check("min_time", min_time, 0, 60)
    max_number = check_int("max_number", max_number, 1, 10**9)
    if not callable(func):
        raise ValueError(f"func must be callable; got {func!r}")
    for _ in range(warmup):
        func()
    if number is None:
        number = 1
        while number < max_number:
            t0 = time.perf_counter()
            for _ in range(number):
                func()
            if time.perf_counter() - t0 >= min_time:
                break
            number = min(number * 2, max_number)
    else:
        number = check_int("number", number, 1, 10**9)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            func()
        times.append((time.perf_counter() - t0) / number)
    qs = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else [times[0]] * 3
    from .machine import summary

    return BenchResult(
        median=statistics.median(times),
        best=min(times),
        worst=max(times),
        q1=qs[0],
        q3=qs[2],
        times=tuple(times),
        number=number,
        machine=summary(),
    )
