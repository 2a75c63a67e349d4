"""Timing done the same way everywhere in the course: a warm-up, several repeats, the
median and the spread, and the machine the numbers came from.

Timings are never typed into prose: a cell computes them, and the page says which
machine built it.

Why the median? A timing is the true cost plus interference (other processes, the OS, a
garbage collection, a frequency change), and interference only ever adds time. The
median ignores a few disturbed repeats; the spread (interquartile range, and the best and
worst repeat) says how noisy the machine was. As :mod:`timeit` does, the garbage collector
is paused while the repeats run, so one unlucky collection does not land in a repeat.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np

from computing_change.core.checks import check, check_int

__all__ = [
    "BenchResult",
    "TimeComparison",
    "bench",
    "compare_times",
    "compare_timings",
    "format_seconds",
]

_clock: Callable[[], float] = time.perf_counter


@dataclass(frozen=True)
class BenchResult:
    """Seconds per call: the median over repeats, with the spread and the raw repeats.

    ``times`` holds one value per repeat: that repeat's time divided by ``number``, the
    calls it made. ``machine`` is :func:`computing_change.core.machine.summary` at the time.
    """

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

    @property
    def relative_spread(self) -> float:
        """The interquartile range as a fraction of the median (0 for a perfectly quiet run)."""
        return self.iqr / self.median if self.median > 0 else 0.0

    def rate(self, work: float) -> float:
        """``work`` units per second at the median time: ``rate(flops)`` gives FLOP/s.

        ``work`` is what one call of the timed function does (FLOPs, bytes, items); > 0.
        """
        work = check("work", work, 0, lo_open=True)
        return work / self.median if self.median > 0 else float("inf")

    def as_dict(self) -> dict:
        """The fields (``times`` as a list) plus the IQR, for JSON."""
        d = asdict(self)
        d["times"] = list(self.times)
        d["iqr"] = self.iqr
        return d

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


def format_seconds(seconds: float) -> str:
    """A duration with a readable unit and three significant digits: ``0.0123`` -> ``"12.3 ms"``.

    ``seconds`` must be finite and >= 0.
    """
    return _fmt(check("seconds", seconds, 0))


def _run(func: Callable[[], object], number: int) -> float:
    t0 = _clock()
    for _ in range(number):
        func()
    return _clock() - t0


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
    one repeat lasts at least ``min_time`` seconds (doubling from 1, at most ``max_number``
    calls), as :mod:`timeit` does, so that very fast functions are not timed below the
    clock's resolution. Returns seconds per call (:class:`BenchResult`).

    Parameters
    ----------
    func : callable taking no arguments
    repeat : int in [1, 10000]
    warmup : int in [0, 10000]
        Untimed calls first: caches, page faults, lazy imports and JIT-like first-call
        costs land here rather than in the first repeat.
    number : int in [1, 10**9], or None (automatic)
    min_time : float in [0, 60]
        Seconds one repeat should at least last when ``number`` is automatic.
    max_number : int in [1, 10**9]
        The most calls per repeat the automatic choice may make.
    """
    if not callable(func):
        raise ValueError(f"func must be callable (a function of no arguments); got {func!r}")
    repeat = check_int("repeat", repeat, 1, 10_000)
    warmup = check_int("warmup", warmup, 0, 10_000)
    min_time = check("min_time", min_time, 0, 60)
    max_number = check_int("max_number", max_number, 1, 10**9)
    if number is not None:
        number = check_int("number", number, 1, 10**9)
    for _ in range(warmup):
        func()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if number is None:
            number = 1
            while number < max_number and _run(func, number) < min_time:
                number = min(number * 2, max_number)
        times = [_run(func, number) / number for _ in range(repeat)]
    finally:
        if gc_was_enabled:
            gc.enable()
    qs = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else [times[0]] * 3
    from computing_change.core.machine import summary

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


class TimeComparison(NamedTuple):
    """How one timing compares with another (see :func:`compare_timings`).

    ``ratio`` is the median of ``b`` over the median of ``a``: ``a`` ran ``ratio`` times as
    fast as ``b``. ``verdict`` says what the repeats allow one to conclude about ``a``:
    ``"faster"``, ``"slower"`` or ``"could not be told apart"``.
    """

    ratio: float
    verdict: str
    a_median: float
    b_median: float


def _repeat_times(name: str, value) -> np.ndarray:
    times = getattr(value, "times", value)  # a BenchResult, or the repeats themselves
    try:
        arr = np.atleast_1d(np.asarray(times, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a BenchResult or a sequence of times > 0; got {value!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must hold at least one repeat time; got {value!r}")
    return check(name, arr, 0, lo_open=True)


def compare_timings(a, b, *, min_ratio: float = 1.05) -> TimeComparison:
    """Whether ``a`` ran faster than ``b``, judged against the spread of their repeats.

    ``a`` and ``b`` are :class:`~computing_change.core.timing.BenchResult` objects, or sequences of
    repeat times in seconds (each > 0). ``a`` is ``"faster"`` when its interquartile range
    lies entirely below ``b``'s *and* ``b``'s median is at least ``min_ratio`` (in [1, 10])
    times ``a``'s; ``"slower"`` the other way round; otherwise the two ``"could not be told
    apart"``. The first condition keeps a difference smaller than the noise from being
    called a result; the second keeps a real but negligible one (on a very quiet machine)
    from being called faster. With a single repeat each there is no spread to judge by, and
    only the ratio decides.
    """
    ta, tb = _repeat_times("a", a), _repeat_times("b", b)
    min_ratio = check("min_ratio", min_ratio, 1, 10)
    qa = np.quantile(ta, [0.25, 0.5, 0.75])
    qb = np.quantile(tb, [0.25, 0.5, 0.75])
    ratio = float(qb[1] / qa[1])
    if qa[2] < qb[0] and ratio >= min_ratio:
        verdict = "faster"
    elif qb[2] < qa[0] and 1 / ratio >= min_ratio:
        verdict = "slower"
    else:
        verdict = "could not be told apart"
    return TimeComparison(ratio, verdict, float(qa[1]), float(qb[1]))


def compare_times(funcs: dict, *, rounds: int = 7, min_time: float = 0.002) -> dict:
    """Seconds per call of each function of ``funcs`` (a dict of functions of no arguments),
    timed in ``rounds`` interleaved rounds (in [1, 1000]): each round times every function
    once with :func:`~computing_change.core.timing.bench`. Returns the best round of each.

    Interleaving spreads a burst of interference from other programs over all the functions
    instead of one, and the minimum is the right statistic for a comparison of the work
    itself: interference only ever adds time.
    """
    rounds = check_int("rounds", rounds, 1, 1000)
    min_time = check("min_time", min_time, 0, 10)
    if not isinstance(funcs, dict) or not funcs:
        raise ValueError(f"funcs must be a non-empty dict of functions; got {funcs!r}")
    for name, f in funcs.items():
        if not callable(f):
            raise ValueError(f"funcs[{name!r}] must be callable; got {f!r}")
    times: dict = {name: [] for name in funcs}
    for r in range(rounds):
        for name, f in funcs.items():
            times[name].append(bench(f, repeat=1, warmup=1 if r == 0 else 0, min_time=min_time).best)
    return {name: min(ts) for name, ts in times.items()}
