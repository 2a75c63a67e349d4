"""Unit and property tests of computing_change.core.timing.bench.

A fake clock, advanced by the timed function itself, makes every duration exact, so the
tests check the arithmetic (median, quartiles, number of calls), never the machine's speed.
"""

from __future__ import annotations

import gc
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change.core import machine, timing


class Clock:
    """A clock that only moves when ``advance`` is called."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(timing, "_clock", c)
    return c


def test_median_between_best_and_worst_real_clock():
    r = timing.bench(lambda: sum(range(100)), repeat=5, min_time=0.001)
    assert r.best <= r.q1 <= r.median <= r.q3 <= r.worst
    assert len(r.times) == 5 and r.number >= 1
    assert r.iqr >= 0 and r.relative_spread >= 0
    assert r.machine == machine.summary()


def test_exact_times_with_fake_clock(clock):
    durations = iter([0.5, 0.1, 0.3, 0.2, 0.4])  # one per timed call (number=1, no warm-up)

    def func():
        clock.advance(next(durations))

    r = timing.bench(func, repeat=5, warmup=0, number=1)
    assert r.times == pytest.approx((0.5, 0.1, 0.3, 0.2, 0.4))
    assert r.median == pytest.approx(0.3) and r.best == pytest.approx(0.1) and r.worst == pytest.approx(0.5)
    assert r.q1 == pytest.approx(0.2) and r.q3 == pytest.approx(0.4)
    assert r.iqr == pytest.approx(0.2)
    assert r.relative_spread == pytest.approx(0.2 / 0.3)
    assert r.rate(3.0) == pytest.approx(10.0)


def test_times_are_per_call(clock):
    r = timing.bench(lambda: clock.advance(0.01), repeat=3, warmup=0, number=10)
    assert r.number == 10
    assert all(t == pytest.approx(0.01) for t in r.times)


def test_warmup_calls_are_not_timed(clock):
    calls = []

    def func():
        calls.append(1)
        clock.advance(100.0 if len(calls) <= 2 else 1.0)  # slow first calls

    r = timing.bench(func, repeat=3, warmup=2, number=1)
    assert len(calls) == 5
    assert r.times == pytest.approx((1.0, 1.0, 1.0))


@pytest.mark.parametrize(
    "per_call, min_time, expected",
    [(1e-3, 0.02, 32), (0.05, 0.02, 1), (1e-3, 0.0, 1), (1e-6, 0.02, 32768), (0.02, 0.02, 1)],
)
def test_number_autoranges(clock, per_call, min_time, expected):
    """The first power of two whose repeat lasts at least min_time."""
    r = timing.bench(lambda: clock.advance(per_call), repeat=2, warmup=0, min_time=min_time)
    assert r.number == expected
    assert r.number * per_call >= min_time or r.number == 1
    assert all(t == pytest.approx(per_call) for t in r.times)


def test_number_autorange_respects_max_number(clock):
    calls = []

    def func():
        calls.append(1)
        clock.advance(1e-9)

    r = timing.bench(func, repeat=2, warmup=0, min_time=1.0, max_number=100)
    assert r.number == 100
    # calibration 1+2+4+...+64 calls (100 is reached without being timed), then 2 x 100
    assert len(calls) == sum(2**k for k in range(7)) + 2 * 100


def test_call_count_with_fixed_number(clock):
    calls = []
    timing.bench(lambda: calls.append(1), repeat=4, warmup=3, number=7)
    assert len(calls) == 3 + 4 * 7


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(1e-6, 10.0), min_size=1, max_size=40))
def test_statistics_match_the_repeats(durations):
    c = Clock()
    it = iter(durations)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(timing, "_clock", c)
        r = timing.bench(lambda: c.advance(next(it)), repeat=len(durations), warmup=0, number=1)
    assert r.times == pytest.approx(tuple(durations), rel=1e-9, abs=1e-9)
    assert r.median == pytest.approx(statistics.median(durations), rel=1e-9, abs=1e-9)
    assert r.best <= r.q1 <= r.median <= r.q3 <= r.worst
    assert r.best == pytest.approx(min(durations), rel=1e-9, abs=1e-9)
    assert r.worst == pytest.approx(max(durations), rel=1e-9, abs=1e-9)


def test_single_repeat(clock):
    r = timing.bench(lambda: clock.advance(0.25), repeat=1, warmup=0, number=1)
    assert r.median == r.best == r.worst == r.q1 == r.q3 == 0.25 and r.iqr == 0


def test_gc_is_paused_while_timing_and_restored():
    seen = []
    assert gc.isenabled()
    timing.bench(lambda: seen.append(gc.isenabled()), repeat=2, warmup=0, number=1)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        timing.bench(lambda: None, repeat=1, warmup=0, number=1)
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


def test_gc_restored_when_func_raises():
    def boom():
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        timing.bench(boom, warmup=0, number=1)
    assert gc.isenabled()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(repeat=0), "repeat"),
        (dict(repeat=2.5), "repeat"),
        (dict(warmup=-1), "warmup"),
        (dict(number=0), "number"),
        (dict(number=1.5), "number"),
        (dict(min_time=-1), "min_time"),
        (dict(min_time=float("nan")), "min_time"),
        (dict(max_number=0), "max_number"),
        (dict(repeat=True), "repeat"),
    ],
)
def test_validation_errors_name_the_parameter(kwargs, name):
    calls = []
    with pytest.raises(ValueError, match=name):
        timing.bench(lambda: calls.append(1), **kwargs)
    assert calls == []  # nothing runs before the arguments are checked


def test_func_must_be_callable():
    with pytest.raises(ValueError, match="func"):
        timing.bench(42)


def test_rate_validates():
    r = timing.BenchResult(median=2.0, best=1.0, worst=3.0, q1=1.5, q3=2.5, times=(1.0, 2.0, 3.0), number=1)
    assert r.rate(4.0) == 2.0
    with pytest.raises(ValueError, match="work"):
        r.rate(0)


def test_str_and_dict():
    r = timing.BenchResult(
        median=1.5e-3, best=1e-3, worst=2e-3, q1=1.2e-3, q3=1.8e-3, times=(1e-3, 2e-3), number=10, machine="m"
    )
    assert str(r) == "1.5 ms per call (median of 2 repeats x 10, IQR 600 µs)"
    d = r.as_dict()
    assert d["times"] == [1e-3, 2e-3] and d["iqr"] == pytest.approx(6e-4) and d["machine"] == "m"


@pytest.mark.parametrize(
    "seconds, text", [(2.0, "2 s"), (0.0123, "12.3 ms"), (4.5e-6, "4.5 µs"), (7e-9, "7 ns"), (0.0, "0 ns")]
)
def test_fmt_units(seconds, text):
    assert timing._fmt(seconds) == text


def test_format_seconds_is_public_and_validates():
    assert timing.format_seconds(0.0123) == "12.3 ms"
    assert timing.format_seconds(3600) == "3.6e+03 s"
    for bad in (-1.0, float("inf"), "1 s"):
        with pytest.raises(ValueError, match="seconds"):
            timing.format_seconds(bad)
