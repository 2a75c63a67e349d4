"""Tests of computing_change.lessons.parallel: the chapter's workers, sizing, pools, worker counts and
the verdicts on timings (the lessons themselves run, and assert, in the chapter's cells)."""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change.core.pools import START_METHOD, mp_context, process_pool, worker_counts
from computing_change.core.timing import compare_timings
from computing_change.lessons import parallel as P

# --------------------------------------------------------------------------------------
# Task decomposition and the kernel
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: P.count_primes_sieve(-1), "n"),
        (lambda: P.size_for_seconds(0), "seconds"),
        (lambda: process_pool(0).__enter__(), "workers"),
        (lambda: worker_counts(0), "cores"),
        (lambda: mp_context("teleport"), "method"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_is_prime_matches_the_sieve():
    n = 5000
    composite = np.zeros(n, dtype=bool)
    composite[:2] = True
    for d in range(2, math.isqrt(n) + 1):
        composite[d * d :: d] = True
    assert [k for k in range(n) if P.is_prime(k)] == np.flatnonzero(~composite).tolist()


@pytest.mark.parametrize("n, pi", [(0, 0), (2, 0), (3, 1), (10, 4), (100, 25), (1000, 168), (10**5, 9592)])
def test_prime_counts_are_the_known_values(n, pi):
    assert P.count_primes(0, n) == pi
    assert P.count_primes_sieve(n) == pi


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 20_000), st.integers(1, 3_000))
def test_counts_over_chunks_add_up(n, chunk):
    # The chapter's decomposition: the count over [0, n) is the sum of the chunks' counts.
    total = sum(P.count_primes(lo, min(lo + chunk, n)) for lo in range(0, n, chunk))
    assert total == P.count_primes_sieve(n)


def test_count_primes_of_an_empty_range_is_zero():
    assert P.count_primes(10, 10) == P.count_primes(10, 5) == 0


def test_size_for_seconds_is_bounded():
    n = P.size_for_seconds(0.01, probe=2000, max_n=50_000)
    assert 1000 <= n <= 50_000 and n % 1000 == 0


def test_mp_context_defaults_to_spawn():
    assert START_METHOD == "spawn"
    assert mp_context().get_start_method() == "spawn"


# --------------------------------------------------------------------------------------
# Pools
# --------------------------------------------------------------------------------------


def test_process_pool_starts_every_worker_and_matches_serial():
    n = 30_000
    with process_pool(2) as pool:
        pids = set(pool.map(P.report_pid, [0.2] * 2))
        los = range(0, n, 1000)
        assert sum(pool.map(P.count_primes, los, [lo + 1000 for lo in los])) == P.count_primes_sieve(n)
    assert len(pids) == 2  # both workers had started: each took one of two slow tasks
    assert not multiprocessing.active_children()


def test_process_pool_shuts_down_when_the_block_fails():
    with pytest.raises(RuntimeError, match="boom"):
        with process_pool(2):
            raise RuntimeError("boom")
    assert not multiprocessing.active_children()


# --------------------------------------------------------------------------------------
# The race's workers, run as the chapter runs them
# --------------------------------------------------------------------------------------


def _race(worker, *extra, processes: int = 2, increments: int = 3000, steps: int = 5) -> int:
    """Run ``worker(counter, *extra, start, increments, steps)`` in ``processes`` processes on
    one shared counter; return its final value."""
    ctx = mp_context()
    counter = ctx.RawValue("q", 0)
    start = ctx.Barrier(processes)
    args = (counter, *extra, start, increments, steps)
    procs = [ctx.Process(target=worker, args=args) for _ in range(processes)]
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=120)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join()
    assert [proc.exitcode for proc in procs] == [0] * processes
    return counter.value


def test_locked_counter_is_exact():
    assert _race(P.add_locked, mp_context().Lock()) == 6000
    assert not multiprocessing.active_children()


def test_unlocked_counter_never_exceeds_the_true_total():
    total = _race(P.add_unlocked)
    assert 2 <= total <= 6000  # the race may lose updates, never invent them
    assert not multiprocessing.active_children()


def test_reduction_is_exact():
    assert P.count_locally(1234, 3) == 1234
    with ProcessPoolExecutor(max_workers=2, mp_context=mp_context()) as pool:
        assert sum(pool.map(P.count_locally, [3000, 3000], [5, 5])) == 6000


# --------------------------------------------------------------------------------------
# Worker counts
# --------------------------------------------------------------------------------------


def test_worker_counts():
    assert worker_counts(1) == [1, 2]
    assert worker_counts(2) == [1, 2, 3, 4]
    assert worker_counts(4, oversubscribe=False) == [1, 2, 3, 4]
    assert worker_counts(16) == [1, 2, 4, 8, 16, 17, 32]


# --------------------------------------------------------------------------------------
# Judging two timings against their noise
# --------------------------------------------------------------------------------------


def test_compare_timings_separated_repeats():
    fast, slow = [1.0, 1.01, 0.99, 1.02, 1.0], [2.0, 2.1, 1.95, 2.05, 2.0]
    c = compare_timings(fast, slow)
    assert c.verdict == "faster" and c.ratio == pytest.approx(2.0)
    assert compare_timings(slow, fast).verdict == "slower"


def test_compare_timings_overlapping_or_negligible():
    assert compare_timings([1.0, 1.5, 1.2], [1.1, 1.4, 1.3]).verdict == "could not be told apart"
    # separated, but by less than min_ratio: not called faster
    assert compare_timings([1.00, 1.001], [1.02, 1.021]).verdict == "could not be told apart"


def test_compare_timings_accepts_bench_results():
    from computing_change.core.timing import BenchResult

    a = BenchResult(1.0, 0.9, 1.1, 0.95, 1.05, (0.9, 0.95, 1.0, 1.05, 1.1), 1)
    b = BenchResult(3.0, 2.9, 3.1, 2.95, 3.05, (2.9, 2.95, 3.0, 3.05, 3.1), 1)
    assert compare_timings(a, b).verdict == "faster"


@given(
    st.lists(st.floats(1e-6, 1e3), min_size=1, max_size=9),
    st.lists(st.floats(1e-6, 1e3), min_size=1, max_size=9),
)
def test_compare_timings_is_antisymmetric(a, b):
    ab, ba = compare_timings(a, b), compare_timings(b, a)
    assert ab.ratio == pytest.approx(1 / ba.ratio)
    flip = {"faster": "slower", "slower": "faster", "could not be told apart": "could not be told apart"}
    assert ba.verdict == flip[ab.verdict]
    assert compare_timings(a, a).verdict == "could not be told apart"


@pytest.mark.parametrize("bad", [[], [0.0, 1.0], [-1.0], [float("nan")], "fast", None])
def test_compare_timings_rejects_bad_times(bad):
    with pytest.raises(ValueError, match="a "):
        compare_timings(bad, [1.0])


def test_compare_timings_rejects_bad_min_ratio():
    with pytest.raises(ValueError, match="min_ratio"):
        compare_timings([1.0], [2.0], min_ratio=0.5)
