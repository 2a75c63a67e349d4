"""Tests of computing_change.parallel: decomposition, kernels, pools, races, models."""

from __future__ import annotations

import math
import multiprocessing
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change import formulas as F
from computing_change import parallel as P


@pytest.fixture(scope="module", autouse=True)
def _stop_resource_tracker():
    """Spawned pools and shared counters start multiprocessing's resource tracker, a helper
    process that lives as long as this one. Stop it once the module's processes are gone, so
    the suite's leak check sees no process left behind."""
    yield
    from multiprocessing import resource_tracker

    if not multiprocessing.active_children():
        resource_tracker._resource_tracker._stop()


# --------------------------------------------------------------------------------------
# Task decomposition
# --------------------------------------------------------------------------------------


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(1, 5_000))
def test_chunk_ranges_cover_the_range_in_order(start, length, size):
    chunks = P.chunk_ranges(start, start + length, size)
    covered = [k for lo, hi in chunks for k in range(lo, hi)]
    assert covered == list(range(start, start + length))
    assert all(0 < hi - lo <= size for lo, hi in chunks)
    assert all(hi - lo == size for lo, hi in chunks[:-1])
    assert len(chunks) == math.ceil(length / size)


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(1, 500))
def test_split_evenly_gives_parts_that_differ_by_at_most_one(start, length, parts):
    chunks = P.split_evenly(start, start + length, parts)
    assert len(chunks) == parts
    assert chunks[0][0] == start and chunks[-1][1] == start + length
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:], strict=False))
    sizes = [hi - lo for lo, hi in chunks]
    assert max(sizes) - min(sizes) <= 1
    assert sum(sizes) == length


def test_decomposition_examples():
    assert P.chunk_ranges(0, 10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert P.split_evenly(0, 10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert P.chunk_ranges(5, 5, 3) == []


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: P.chunk_ranges(0, 10, 0), "chunk_size"),
        (lambda: P.chunk_ranges(5, 4, 1), "stop"),
        (lambda: P.chunk_ranges(-1, 4, 1), "start"),
        (lambda: P.split_evenly(0, 10, 0), "parts"),
        (lambda: P.count_primes(10, 5), "hi"),
        (lambda: P.count_primes(1.5, 5), "lo"),
        (lambda: P.count_primes_sieve(-1), "n"),
        (lambda: P.prime_work(3, 2), "hi"),
        (lambda: P.size_for_seconds(0), "seconds"),
        (lambda: P.report_pid(-1), "delay"),
        (lambda: P.parallel_count_primes(None, -5, 10), "n"),
        (lambda: P.worker_counts(0), "cores"),
        (lambda: P.simulate_dynamic_schedule([1.0], 0), "workers"),
        (lambda: P.simulate_dynamic_schedule([1.0], 2, overhead=-1), "overhead"),
        (lambda: P.simulate_dynamic_schedule([-1.0], 2), "costs"),
        (lambda: P.chunk_costs([0, 10], [1.0, 2.0], [(0, 5)]), "edges"),
        (lambda: P.chunk_costs([0, 10], [1.0], [(0, 11)]), "chunks"),
        (lambda: P.fit_serial_fraction([1, 1], [1.0, 1.0]), "workers"),
        (lambda: P.fit_serial_fraction([2], [0.0]), "speedups"),
        (lambda: P.fit_serial_fraction([2, 3], [1.5]), "same length"),
        (lambda: P.shared_counter(2, 10, "maybe"), "mode"),
        (lambda: P.shared_counter(0, 10), "processes"),
        (lambda: P.count_locally(-1), "increments"),
        (lambda: P.mp_context("teleport"), "method"),
        (lambda: P.interleavings(), "threads"),
        (lambda: P.interleavings(10, 10), "total"),
        (lambda: P.run_schedule("ABA"), "even"),
        (lambda: P.run_schedule("a1"), "schedule"),
        (lambda: P.respects_lock("ABA"), "schedule"),
        (lambda: P.blocked_matmul(np.ones((2, 3)), np.ones((2, 3)), 1), "a and b"),
        (lambda: P.blocked_matmul(np.ones((2, 2)), np.ones((2, 2)), 0), "blocks"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# --------------------------------------------------------------------------------------
# The kernel
# --------------------------------------------------------------------------------------


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
def test_chunked_counts_add_up(n, size):
    assert P.parallel_count_primes(None, n, size) == P.count_primes_sieve(n)


@given(st.integers(0, 5_000), st.integers(0, 2_000))
def test_prime_work_counts_primes_and_steps(lo, length):
    count, steps = P.prime_work(lo, lo + length)
    assert count == P.count_primes(lo, lo + length)
    assert steps >= length
    assert P.prime_work(0, 10) == (4, 10 + 1)  # only 9 needs a trial division (by 3)


def test_size_for_seconds_is_bounded():
    n = P.size_for_seconds(0.01, probe=2000, max_n=50_000)
    assert 1000 <= n <= 50_000 and n % 1000 == 0


def test_mp_context_defaults_to_spawn():
    assert P.START_METHOD == "spawn"
    assert P.mp_context().get_start_method() == "spawn"


# --------------------------------------------------------------------------------------
# Pools
# --------------------------------------------------------------------------------------


def test_process_pool_matches_serial_and_leaves_no_process():
    n = 30_000
    with P.process_pool(2) as pool:
        assert P.parallel_count_primes(pool, n, 1000) == P.count_primes_sieve(n)
    assert not multiprocessing.active_children()


def test_process_pool_shuts_down_when_the_block_fails():
    with pytest.raises(RuntimeError, match="boom"):
        with P.process_pool(2):
            raise RuntimeError("boom")
    assert not multiprocessing.active_children()


def test_thread_pool_matches_serial():
    with ThreadPoolExecutor(max_workers=3) as threads:
        assert P.parallel_count_primes(threads, 20_000, 700) == P.count_primes_sieve(20_000)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 40), st.integers(1, 30), st.integers(1, 30), st.integers(1, 8))
def test_blocked_matmul_threads_equal_serial_bit_for_bit(m, k, n, blocks):
    rng = np.random.default_rng(m * 10_000 + k * 100 + n)
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    blocks = min(blocks, m)
    serial = P.blocked_matmul(a, b, blocks)
    with ThreadPoolExecutor(max_workers=2) as threads:
        threaded = P.blocked_matmul(a, b, blocks, threads)
    assert np.array_equal(serial, threaded)
    assert np.allclose(serial, a @ b)


# --------------------------------------------------------------------------------------
# Synchronization
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["locked", "reduction"])
def test_locked_and_reduced_counters_are_exact(mode):
    assert P.shared_counter(2, 3000, mode, spin=5) == 6000
    assert not multiprocessing.active_children()


def test_unsafe_counter_never_exceeds_the_true_total():
    total = P.shared_counter(2, 3000, "unsafe", spin=5)
    assert 2 <= total <= 6000  # the race may lose updates, never invent them
    assert not multiprocessing.active_children()


def test_count_locally_counts():
    assert P.count_locally(1234, spin=3) == 1234


@settings(deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=4).filter(lambda s: 0 < sum(s) <= 8))
def test_interleavings_are_all_distinct_orders(steps):
    orders = P.interleavings(*steps)
    expected = math.factorial(sum(steps)) // math.prod(math.factorial(s) for s in steps)
    assert len(orders) == len(set(orders)) == expected
    names = "ABCDEF"
    assert all(Counter(o) == {names[i]: s for i, s in enumerate(steps) if s} for o in orders)
    assert orders == sorted(orders)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_race_outcomes_for_two_threads(k):
    orders = P.interleavings(2 * k, 2 * k)
    finals = [P.run_schedule(s) for s in orders]
    assert max(finals) == 2 * k
    assert min(finals) == (1 if k == 1 else 2)  # the classic result: as low as 2
    locked = [P.run_schedule(s) for s in orders if P.respects_lock(s)]
    assert locked and set(locked) == {2 * k}
    assert len(locked) == math.comb(2 * k, k)


def test_run_schedule_trace():
    final, rows = P.run_schedule("ABAB", trace=True)
    assert final == 1
    assert rows == [("A", "read", 0, 0), ("B", "read", 0, 0), ("A", "write", 0, 1), ("B", "write", 0, 1)]
    assert P.run_schedule("ABBABAAB") == 2


# --------------------------------------------------------------------------------------
# Scheduling model and Amdahl fit
# --------------------------------------------------------------------------------------


@given(
    st.lists(st.floats(0, 10, allow_nan=False), min_size=0, max_size=60),
    st.integers(1, 8),
    st.floats(0, 1, allow_nan=False),
)
def test_simulated_schedule_respects_graham_bounds(costs, workers, overhead):
    sched = P.simulate_dynamic_schedule(costs, workers, overhead)
    durations = [c + overhead for c in costs]
    total = sum(durations)
    if not costs:
        assert sched.makespan == 0.0
        return
    lower = max(total / workers, max(durations))
    assert sched.makespan >= lower - 1e-9
    assert sched.makespan <= total / workers + max(durations) + 1e-9
    assert math.isclose(sum(sched.busy), total, rel_tol=1e-9, abs_tol=1e-9)
    assert all(e >= s for s, e in zip(sched.start, sched.end, strict=True))


def test_one_worker_runs_everything_in_order():
    sched = P.simulate_dynamic_schedule([1.0, 2.0, 3.0], 1, 0.5)
    assert sched.makespan == pytest.approx(7.5)
    assert sched.worker == (0, 0, 0)
    assert sched.start == pytest.approx((0.0, 1.5, 4.0))


def test_chunk_costs_interpolate_measured_blocks():
    edges, secs = [0, 10, 20], [1.0, 3.0]
    costs = P.chunk_costs(edges, secs, [(0, 5), (5, 15), (15, 20), (0, 20)])
    assert costs == pytest.approx([0.5, 0.5 + 1.5, 1.5, 4.0])


def test_worker_counts():
    assert P.worker_counts(1) == [1, 2]
    assert P.worker_counts(2) == [1, 2, 3, 4]
    assert P.worker_counts(4, oversubscribe=False) == [1, 2, 3, 4]
    assert P.worker_counts(16) == [1, 2, 4, 8, 16, 17, 32]


@given(st.floats(0, 1), st.lists(st.integers(2, 64), min_size=1, max_size=6))
def test_fit_recovers_amdahl_serial_fraction(f, ps):
    speedups = [float(F.amdahl_speedup(f, p)) for p in ps]
    assert P.fit_serial_fraction([1, *ps], [1.0, *speedups]) == pytest.approx(f, abs=1e-9)


def test_fit_single_point_is_karp_flatt():
    s, p = 1.8, 2
    assert P.fit_serial_fraction([p], [s]) == pytest.approx((1 / s - 1 / p) / (1 - 1 / p))
    assert P.fit_serial_fraction([2], [3.0]) == 0.0  # superlinear: clipped


# --------------------------------------------------------------------------------------
# Judging two timings against their noise
# --------------------------------------------------------------------------------------


def test_compare_timings_separated_repeats():
    fast, slow = [1.0, 1.01, 0.99, 1.02, 1.0], [2.0, 2.1, 1.95, 2.05, 2.0]
    c = P.compare_timings(fast, slow)
    assert c.verdict == "faster" and c.ratio == pytest.approx(2.0)
    assert P.compare_timings(slow, fast).verdict == "slower"


def test_compare_timings_overlapping_or_negligible():
    assert P.compare_timings([1.0, 1.5, 1.2], [1.1, 1.4, 1.3]).verdict == "could not be told apart"
    # separated, but by less than min_ratio: not called faster
    assert P.compare_timings([1.00, 1.001], [1.02, 1.021]).verdict == "could not be told apart"


def test_compare_timings_accepts_bench_results():
    from computing_change.timing import BenchResult

    a = BenchResult(1.0, 0.9, 1.1, 0.95, 1.05, (0.9, 0.95, 1.0, 1.05, 1.1), 1)
    b = BenchResult(3.0, 2.9, 3.1, 2.95, 3.05, (2.9, 2.95, 3.0, 3.05, 3.1), 1)
    assert P.compare_timings(a, b).verdict == "faster"


@given(
    st.lists(st.floats(1e-6, 1e3), min_size=1, max_size=9),
    st.lists(st.floats(1e-6, 1e3), min_size=1, max_size=9),
)
def test_compare_timings_is_antisymmetric(a, b):
    ab, ba = P.compare_timings(a, b), P.compare_timings(b, a)
    assert ab.ratio == pytest.approx(1 / ba.ratio)
    flip = {"faster": "slower", "slower": "faster", "could not be told apart": "could not be told apart"}
    assert ba.verdict == flip[ab.verdict]
    assert P.compare_timings(a, a).verdict == "could not be told apart"


@pytest.mark.parametrize("bad", [[], [0.0, 1.0], [-1.0], [float("nan")], "fast", None])
def test_compare_timings_rejects_bad_times(bad):
    with pytest.raises(ValueError, match="a "):
        P.compare_timings(bad, [1.0])


def test_compare_timings_rejects_bad_min_ratio():
    with pytest.raises(ValueError, match="min_ratio"):
        P.compare_timings([1.0], [2.0], min_ratio=0.5)
