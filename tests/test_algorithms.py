"""Tests of computing_change.algorithms: chapter 3.4's kernels give the right answers, agree
with each other, refuse bad input with a ValueError that names the parameter, and leave no
shared memory behind. Correctness only: speed is measured in benchmarks/algorithms.py."""

from __future__ import annotations

import math
import multiprocessing
import os
import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change import algorithms as A
from computing_change.parallel import process_pool


@pytest.fixture(scope="module", autouse=True)
def _stop_resource_tracker():
    """Shared memory and spawned pools start multiprocessing's resource tracker, a helper
    process that lives as long as this one. Stop it once the module's processes are gone, so
    the suite's leak check sees no process left behind."""
    yield
    from multiprocessing import resource_tracker

    A._close_opened()
    if not multiprocessing.active_children():
        resource_tracker._resource_tracker._stop()


ints = st.lists(st.integers(-50, 50), max_size=60)
floats = st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=60)


# ---- Algorithm selection -------------------------------------------------------------


@pytest.mark.parametrize(
    "values, expected",
    [
        ([], 0),
        ([7], 0),
        ([1, 2, 3], 0),
        ([3, 2, 1], 3),
        ([2, 4, 1, 3, 5], 3),
        ([1, 1, 1], 0),
        ([2, 1, 2, 1], 3),
    ],
)
def test_inversions_known_cases(values, expected):
    assert A.count_inversions_brute(values) == expected
    assert A.count_inversions_merge(values) == expected


@given(st.one_of(ints, floats))
def test_merge_agrees_with_brute_force_and_sorts(values):
    result = A.merge_sort_count(values)
    assert result.inversions == A.count_inversions_brute(values)
    assert result.sorted == sorted(values)
    n = len(values)
    bound = n * math.ceil(math.log2(n)) if n > 1 else 0
    assert result.comparisons <= bound


@given(st.integers(0, 200))
def test_reversed_sequence_has_every_pair_inverted(n):
    values = list(range(n, 0, -1))
    assert A.count_inversions_merge(values) == A.brute_comparisons(n) == n * (n - 1) // 2


def test_numpy_input_and_inversions_of_a_permutation():
    rng = np.random.default_rng(1)
    perm = rng.permutation(300)
    assert A.count_inversions_merge(perm) == A.count_inversions_brute(perm.tolist())


@pytest.mark.parametrize("bad", ["abc", None, [[1, 2], [3, 4]], [1.0, float("nan")], ["a", "b"], [1 + 2j]])
def test_inversions_refuse_bad_values(bad):
    for func in (A.count_inversions_brute, A.count_inversions_merge):
        with pytest.raises(ValueError, match="values"):
            func(bad)


@given(
    st.floats(0.5, 3.0),
    st.floats(1e-9, 1e3),
    st.lists(st.integers(1, 10**6), min_size=3, max_size=12, unique=True),
)
def test_power_law_fit_recovers_exponent(k, a, sizes):
    n = np.sort(np.array(sizes, dtype=float))
    fit = A.fit_power_law(n, a * n**k)
    assert fit.exponent == pytest.approx(k, abs=1e-9)
    assert fit.prefactor == pytest.approx(a, rel=1e-6)
    assert fit.points == len(sizes)
    assert fit.predict(n[0]) == pytest.approx(a * n[0] ** k, rel=1e-6)


def test_power_law_fit_drops_small_sizes_and_reports_stderr():
    n = np.array([1, 2, 4, 8, 16, 32], dtype=float)
    t = 1e-3 + 1e-6 * n**2  # an overhead dominates the small sizes
    full = A.fit_power_law(n, t)
    tail = A.fit_power_law(n, t, n_min=8)
    assert tail.exponent > full.exponent
    assert tail.n_min == 8 and tail.points == 3
    assert math.isnan(A.fit_power_law([1, 2], [1, 4]).stderr)
    assert A.fit_power_law([1, 2, 4], [1, 4, 16]).stderr == pytest.approx(0, abs=1e-12)


def test_nlogn_slope_is_above_one_and_falls_with_n():
    """The log-log slope of n log n is 1 + 1/ln n: about 1.1 at n = 10^4, closer to 1 later."""
    low = np.geomspace(2**10, 2**16, 7)
    high = np.geomspace(2**30, 2**36, 7)
    s_low = A.fit_power_law(low, low * np.log2(low)).exponent
    s_high = A.fit_power_law(high, high * np.log2(high)).exponent
    assert 1 < s_high < s_low < 1.12
    assert s_low == pytest.approx(1 + 1 / math.log(2**13), abs=0.01)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(sizes=[1, 2], values=[1, 0]), "values"),
        (dict(sizes=[0, 2], values=[1, 2]), "sizes"),
        (dict(sizes=[1, 2, 3], values=[1, 2]), "same length"),
        (dict(sizes=[2, 2], values=[1, 2]), "two different"),
        (dict(sizes=[1, 2, 4], values=[1, 2, 4], n_min=3), "two different"),
        (dict(sizes=[1, 2], values=[1, 2], n_min=-1), "n_min"),
    ],
)
def test_power_law_fit_refuses_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        A.fit_power_law(**kwargs)


def test_scaling_times_stops_at_the_time_limit():
    calls = []

    def slow(n):
        calls.append(n)
        return sum(range(n))

    sizes, times = A.scaling_times(slow, lambda n: n, [10, 10**5, 10**6, 10**7], time_limit=1e-6, repeat=1)
    assert list(sizes) == [10, 10**5] or list(sizes) == [10]
    assert len(times) == len(sizes) and np.all(times > 0)
    with pytest.raises(ValueError, match="sizes"):
        A.scaling_times(slow, lambda n: n, [10, 5])
    with pytest.raises(ValueError, match="time_limit"):
        A.scaling_times(slow, lambda n: n, [10], time_limit=0)


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0 ns"),
        (2.5e-7, "250 ns"),
        (0.0123, "12.3 ms"),
        (90, "1.5 min"),
        (3 * 86400, "3 days"),
        (3.15576e9, "100 years"),
    ],
)
def test_human_time(seconds, text):
    assert A.human_time(seconds) == text


def test_human_time_refuses_negative():
    with pytest.raises(ValueError, match="seconds"):
        A.human_time(-1)


# ---- Code optimization ----------------------------------------------------------------


@given(st.lists(st.floats(-1e100, 1e100, allow_nan=False), max_size=200))
def test_sum_of_squares_versions_agree(values):
    n = len(values)
    loop = A.sum_squares_loop(values)
    exact = math.fsum(v * v for v in values)
    rtol = (n + 1) * np.finfo(float).eps  # each version is within (n + 1) u of the exact sum; u = eps / 2
    for other in (A.sum_squares_vectorized(values), A.sum_squares_dot(np.array(values)), loop):
        assert other == pytest.approx(exact, rel=rtol, abs=1e-300)


def test_sum_of_squares_of_a_known_vector():
    v = [3.0, 4.0, 12.0]
    assert A.sum_squares_loop(v) == A.sum_squares_vectorized(v) == A.sum_squares_dot(v) == 169.0
    assert A.sum_squares_loop(np.array(v)) == 169.0
    assert A.sum_squares_loop([]) == A.sum_squares_dot([]) == 0.0


@pytest.mark.parametrize(
    "bad", [[1.0, float("nan")], [float("inf")], [1e200, 1e200], "abc", None, [["a"]], [[1.0, 2.0]]]
)
def test_sum_of_squares_refuses_bad_values(bad):
    for func in (A.sum_squares_loop, A.sum_squares_vectorized, A.sum_squares_dot):
        with pytest.raises(ValueError, match="values"):
            func(bad)


def test_linear_cost_fit_recovers_overhead_and_slope():
    n = np.array([1, 10, 100, 10**3, 10**4, 10**5, 10**6], dtype=float)
    fit = A.fit_linear_cost(n, 2e-6 + 3e-9 * n)
    assert fit.overhead == pytest.approx(2e-6, rel=1e-6)
    assert fit.per_item == pytest.approx(3e-9, rel=1e-6)
    assert fit.predict(0) == pytest.approx(2e-6)
    with pytest.raises(ValueError, match="times"):
        A.fit_linear_cost([1, 2], [1, -1])
    with pytest.raises(ValueError, match="two different"):
        A.fit_linear_cost([3, 3], [1, 1])


# ---- Parallelization: the two-pass scan ------------------------------------------------


@given(st.integers(1, 10_000), st.integers(1, 64))
def test_blocks_cover_the_range(n, parts):
    parts = min(parts, n)
    blocks = A.split_blocks(n, parts)
    assert len(blocks) == parts and blocks[0][0] == 0 and blocks[-1][1] == n
    assert all(a < b for a, b in blocks)
    assert all(b0[1] == b1[0] for b0, b1 in zip(blocks, blocks[1:], strict=False))
    sizes = [b - a for a, b in blocks]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("n, parts", [(0, 1), (5, 0), (5, 6), (2.5, 1)])
def test_blocks_refuse_bad_input(n, parts):
    with pytest.raises(ValueError, match="n|parts"):
        A.split_blocks(n, parts)


def _count_two_pass_additions(n: int, parts: int) -> int:
    """The additions the two-pass scan makes, counted by running it on Python numbers."""
    blocks = A.split_blocks(n, parts)
    adds = 0
    for a, b in blocks[:-1]:  # pass 1: reduce every block but the last
        adds += b - a - 1
    adds += max(len(blocks) - 2, 0)  # combine: o_1 = s_0, then o_k = o_{k-1} + s_{k-1}
    for k, (a, b) in enumerate(blocks):  # pass 2: the offset into the first item, then a scan
        adds += (1 if k >= 1 else 0) + (b - a - 1)
    return adds


@given(st.integers(1, 5_000), st.integers(1, 40))
def test_scan_additions_counts_the_algorithm(n, parts):
    parts = min(parts, n)
    counts = A.scan_additions(n, parts)
    assert counts["serial"] == n - 1
    assert counts["two_pass"] == counts["reduce"] + counts["combine"] + counts["scan"]
    assert counts["two_pass"] == _count_two_pass_additions(n, parts)
    assert counts["two_pass"] < 2 * n


def test_scan_additions_limits():
    assert A.scan_additions(1000, 1)["two_pass"] == 999
    big = A.scan_additions(10**9, 64)
    assert big["two_pass"] / big["serial"] == pytest.approx(2 - 1 / 64, rel=1e-6)


@given(st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=300), st.integers(1, 12))
def test_two_pass_scan_equals_cumsum_exactly_on_integers(values, parts):
    x = np.array(values, dtype=np.int64)
    parts = min(parts, x.size)
    assert np.array_equal(A.two_pass_cumsum(x, parts), np.cumsum(x))


@settings(deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=300), st.integers(1, 12))
def test_two_pass_scan_matches_cumsum_on_floats(values, parts):
    x = np.array(values)
    parts = min(parts, x.size)
    got = A.two_pass_cumsum(x, parts)
    # Only the block offsets are summed in another order (pairwise): each item is off by at
    # most a few roundings of the largest partial sum.
    scale = np.sum(np.abs(x))
    assert np.allclose(got, np.cumsum(x), rtol=0, atol=4 * x.size * np.finfo(float).eps * scale + 1e-300)


def test_block_cumsum_spans_several_chunks():
    n = 3 * A.SCAN_CHUNK + 17
    x = np.arange(n, dtype=np.int64) % 7
    out = np.empty_like(x)
    A.block_cumsum(x, out, 5, n, offset=100)
    assert np.array_equal(out[5:], 100 + np.cumsum(x[5:]))


def test_two_pass_trace():
    out, trace = A.two_pass_cumsum(np.array([3, 1, 4, 1, 5, 9, 2, 6]), 3, trace=True)
    assert out.tolist() == [3, 4, 8, 9, 14, 23, 25, 31]
    assert trace == {"blocks": [(0, 3), (3, 6), (6, 8)], "sums": [8, 15], "offsets": [0, 8, 23]}


@pytest.mark.parametrize(
    "call",
    [
        lambda: A.two_pass_cumsum([1, 2, 3], 1),
        lambda: A.two_pass_cumsum(np.array([], dtype=np.int64), 1),
        lambda: A.two_pass_cumsum(np.array(["a"]), 1),
        lambda: A.block_sum(np.arange(5), 3, 3),
        lambda: A.block_cumsum(np.arange(5), np.empty(5), 0, 5),
        lambda: A.SharedArray(0),
        lambda: A.SharedArray(3, dtype=object),
        lambda: A.scan_speedup_model(0.5, 10, scan_per_item=1e-9, reduce_per_item=1e-9, overhead=0),
        lambda: A.payload_nbytes("text"),
    ],
)
def test_scan_functions_refuse_bad_input(call):
    with pytest.raises(ValueError):
        call()


def _shm_names() -> set[str]:
    try:
        return set(os.listdir("/dev/shm"))
    except OSError:  # not Linux
        return set()


def test_shared_array_frees_its_memory():
    with A.SharedArray(1000, np.float64) as sa:
        sa.array[:] = 1.0
        assert sa.array.sum() == 1000
        assert repr(sa) == "SharedArray(n=1000, dtype=float64, open)"
        name = sa.name
    assert sa.array is None and "closed" in repr(sa)
    sa.close()  # twice is fine
    assert name not in _shm_names()


def test_shared_array_is_freed_on_error():
    with pytest.raises(RuntimeError), A.SharedArray(10) as sa:
        name = sa.name
        raise RuntimeError("boom")
    assert name not in _shm_names()


def test_parallel_scan_on_a_thread_pool():
    """The same code path as a process pool, quickly: a thread pool runs the workers here."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 1000, 200_003)
    with ThreadPoolExecutor(3) as pool, A.SharedArray(x.size) as xs, A.SharedArray(x.size) as out:
        xs.array[:] = x
        for parts in (1, 2, 3, 7):
            out.array[:] = 0
            phases = A.parallel_cumsum(xs, out, pool, parts)
            assert np.array_equal(out.array, np.cumsum(x))
            assert phases.total >= 0 and phases.reduce >= 0
        copied = np.empty_like(x)
        A.parallel_cumsum_copy(x, copied, pool, 3)
        assert np.array_equal(copied, np.cumsum(x))
    A._close_opened()


def test_parallel_scan_on_a_process_pool():
    rng = np.random.default_rng(3)
    x = rng.integers(-(10**6), 10**6, 300_001)
    with process_pool(2) as pool:
        with A.SharedArray(x.size) as xs, A.SharedArray(x.size) as out:
            names = {xs.name, out.name}
            xs.array[:] = x
            for parts in (1, 2, 5):
                A.parallel_cumsum(xs, out, pool, parts)
                assert np.array_equal(out.array, np.cumsum(x))
        copied = np.empty_like(x)
        A.parallel_cumsum_copy(x, copied, pool, 2)
        assert np.array_equal(copied, np.cumsum(x))
        assert pool.submit(A.payload_nbytes, x).result() == x.nbytes
        assert pool.submit(A.payload_nbytes, b"abc").result() == 3
    assert not names & _shm_names()


def test_parallel_scan_refuses_bad_arguments():
    with A.SharedArray(10) as a, A.SharedArray(11) as b, ThreadPoolExecutor(1) as pool:
        with pytest.raises(ValueError, match="same length"):
            A.parallel_cumsum(a, b, pool, 2)
        with pytest.raises(ValueError, match="executor"):
            A.parallel_cumsum(a, a, None, 2)
        with pytest.raises(ValueError, match="parts"):
            A.parallel_cumsum(a, a, pool, 11)
        with pytest.raises(ValueError, match="out"):
            A.parallel_cumsum(a, np.zeros(10), pool, 1)
        with pytest.raises(ValueError, match="out"):
            A.parallel_cumsum_copy(np.arange(10), np.zeros(9), pool, 1)


def test_shared_spec_pickles_small():
    with A.SharedArray(10**6) as sa:
        assert len(pickle.dumps(sa.spec)) < 200


def test_speedup_model():
    kw = dict(scan_per_item=1e-9, reduce_per_item=0.5e-9, overhead=0.0)
    assert A.scan_speedup_model(1, 10**6, **kw) == pytest.approx(1.0)
    assert A.scan_speedup_model(8, 10**9, **kw) == pytest.approx(8 / 1.5)
    with_overhead = A.scan_speedup_model(np.array([1, 2, 4]), 10**6, **{**kw, "overhead": 1e-3})
    assert with_overhead.shape == (3,) and np.all(with_overhead < [1, 2 / 1.5, 4 / 1.5])
