"""Tests of chapter 3.4's code: computing_change.lessons.algorithms (the power-law fit that the finance
chapter reuses, shared arrays, the workers of the parallel scan) and, through
benchmarks/algorithms.py, the functions the chapter defines in its cells (the inversion counts,
the sums of squares, the block split and the drivers of the parallel scan). Correctness only:
speed is measured in benchmarks/algorithms.py."""

from __future__ import annotations

import importlib.util
import math
import os
import pickle
from concurrent.futures import ThreadPoolExecutor
from itertools import accumulate
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change.core.pools import process_pool
from computing_change.lessons import algorithms as A
from computing_change.models.fits import fit_power_law


@pytest.fixture(scope="module", autouse=True)
def _close_shared_memory():
    """Close the shared-memory blocks this process opened, before the shared fixture in
    tests/conftest.py stops the resource tracker."""
    yield
    A._close_opened()


ROOT = Path(__file__).resolve().parents[1]


def _load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "benchmark_algorithms", ROOT / "benchmarks" / "algorithms.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCHMARK = _load_benchmark()
#: The functions chapter 3.4 defines in its cells, as it defines them.
L = BENCHMARK.L


# ---- The power-law fit ---------------------------------------------------------------


@given(
    st.floats(0.5, 3.0),
    st.floats(1e-9, 1e3),
    st.lists(st.integers(1, 10**6), min_size=3, max_size=12, unique=True),
)
def test_power_law_fit_recovers_exponent(k, a, sizes):
    n = np.sort(np.array(sizes, dtype=float))
    fit = fit_power_law(n, a * n**k)
    assert fit.exponent == pytest.approx(k, abs=1e-9)
    assert fit.prefactor == pytest.approx(a, rel=1e-6)
    assert fit.points == len(sizes)
    assert fit.predict(n[0]) == pytest.approx(a * n[0] ** k, rel=1e-6)


def test_power_law_fit_drops_small_sizes_and_reports_stderr():
    n = np.array([1, 2, 4, 8, 16, 32], dtype=float)
    t = 1e-3 + 1e-6 * n**2  # an overhead dominates the small sizes
    full = fit_power_law(n, t)
    tail = fit_power_law(n, t, n_min=8)
    assert tail.exponent > full.exponent
    assert tail.n_min == 8 and tail.points == 3
    assert math.isnan(fit_power_law([1, 2], [1, 4]).stderr)
    assert fit_power_law([1, 2, 4], [1, 4, 16]).stderr == pytest.approx(0, abs=1e-12)
    noisy = fit_power_law([1, 2, 4, 8], [1, 5, 15, 70])
    assert noisy.stderr > 0.05


def test_nlogn_slope_is_above_one_and_falls_with_n():
    """The log-log slope of n log n is 1 + 1/ln n: about 1.1 at n = 10^4, closer to 1 later."""
    low = np.geomspace(2**10, 2**16, 7)
    high = np.geomspace(2**30, 2**36, 7)
    s_low = fit_power_law(low, low * np.log2(low)).exponent
    s_high = fit_power_law(high, high * np.log2(high)).exponent
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
        fit_power_law(**kwargs)


def test_power_law_prediction_refuses_bad_sizes():
    with pytest.raises(ValueError, match="n must be"):
        fit_power_law([1, 2, 4], [1, 4, 16]).predict(0)


# ---- The workers of the two-pass scan -------------------------------------------------------


def _two_pass(x: np.ndarray, parts: int) -> np.ndarray:
    """The two-pass scan, run here with the package's workers, one block at a time."""
    blocks = L["split_blocks"](x.size, parts)
    sums = [A.block_sum(x, a, b) for a, b in blocks[:-1]]
    out = np.empty_like(x)
    for (a, b), offset in zip(blocks, accumulate(sums, initial=0), strict=True):
        A.block_cumsum(x, out, a, b, offset)
    return out


@given(st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=300), st.integers(1, 12))
def test_two_pass_scan_equals_cumsum_exactly_on_integers(values, parts):
    x = np.array(values, dtype=np.int64)
    assert np.array_equal(_two_pass(x, min(parts, x.size)), np.cumsum(x))


@settings(deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=300), st.integers(1, 12))
def test_two_pass_scan_matches_cumsum_on_floats(values, parts):
    x = np.array(values)
    got = _two_pass(x, min(parts, x.size))
    # Only the block offsets are summed in another order (pairwise): each item is off by at
    # most a few roundings of the largest partial sum.
    scale = np.sum(np.abs(x))
    assert np.allclose(got, np.cumsum(x), rtol=0, atol=4 * x.size * np.finfo(float).eps * scale + 1e-300)


def test_block_cumsum_spans_several_chunks():
    n = 3 * A.SCAN_CHUNK + 17
    x = np.arange(n, dtype=np.int64) % 7
    out = np.zeros_like(x)
    A.block_cumsum(x, out, 5, n, offset=100)
    assert np.array_equal(out[5:], 100 + np.cumsum(x[5:]))
    assert not out[:5].any()  # nothing written outside the block
    assert A.block_sum(x, 5, n) == x[5:].sum()


def test_copied_workers_and_payload():
    x = np.arange(1, 11, dtype=np.int64)
    assert A.copied_block_sum(x) == 55
    assert np.array_equal(A.copied_block_cumsum(x, 7), 7 + np.cumsum(x))
    assert A.payload_nbytes(x) == 80
    assert A.payload_nbytes(b"abc") == 3
    assert A.payload_nbytes(b"") == 0


# ---- Shared arrays ---------------------------------------------------------------------------


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


@pytest.mark.parametrize("call", [lambda: A.SharedArray(0), lambda: A.SharedArray(3, dtype=object)])
def test_shared_array_refuses_bad_input(call):
    with pytest.raises(ValueError, match="n must be|dtype must be"):
        call()


def test_shared_spec_pickles_small_and_opens_the_same_memory():
    with A.SharedArray(10**6) as sa:
        assert len(pickle.dumps(sa.spec)) < 200
        sa.array[:3] = [4, 5, 6]
        view = A.open_shared(sa.spec)
        assert view[:3].tolist() == [4, 5, 6]
        view[3] = 9
        assert sa.array[3] == 9
        del view
    A._close_opened()


def test_open_shared_keeps_only_the_last_few_open():
    arrays = [A.SharedArray(16) for _ in range(A._MAX_OPENED + 2)]
    try:
        for sa in arrays:
            A.open_shared(sa.spec)
        assert list(A._OPENED) == [sa.spec for sa in arrays[-A._MAX_OPENED :]]
    finally:
        A._close_opened()
        for sa in arrays:
            sa.close()
    assert not A._OPENED


# ---- The chapter's own functions (read from its cells by benchmarks/algorithms.py) ----------


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
def test_chapter_inversion_counts_known_cases(values, expected):
    assert L["count_inversions_brute"](values) == expected
    assert L["count_inversions_merge"](values) == expected


@given(st.one_of(st.lists(st.integers(-50, 50), max_size=60), st.lists(st.floats(-1e6, 1e6), max_size=60)))
def test_chapter_merge_sort_agrees_with_brute_force_and_sorts(values):
    merged, inversions, comparisons = L["merge_sort_count"](values)
    assert inversions == L["count_inversions_brute"](values)
    assert merged == sorted(values)
    n = len(values)
    assert comparisons <= (n * math.ceil(math.log2(n)) if n > 1 else 0)


@given(st.integers(1, 10_000), st.integers(1, 64))
def test_chapter_blocks_cover_the_range(n, parts):
    parts = min(parts, n)
    blocks = L["split_blocks"](n, parts)
    assert len(blocks) == parts and blocks[0][0] == 0 and blocks[-1][1] == n
    assert all(b0[1] == b1[0] for b0, b1 in zip(blocks, blocks[1:], strict=False))
    sizes = [b - a for a, b in blocks]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


@given(st.lists(st.floats(-1e100, 1e100), max_size=200))
def test_chapter_sums_of_squares_agree(values):
    exact = math.fsum(v * v for v in values)
    rtol = (len(values) + 1) * np.finfo(float).eps  # (n + 1) u of the exact sum; u = eps / 2
    x = np.array(values, dtype=float)
    for got in (L["sum_squares_loop"](values), L["sum_squares_vectorized"](x), L["sum_squares_dot"](x)):
        assert got == pytest.approx(exact, rel=rtol, abs=1e-300)


def test_chapter_time_sweep_stops_after_the_time_limit():
    sizes, times = L["time_sweep"](sorted, [8, 16, 32, 64], time_limit=0.0)
    assert sizes.tolist() == [8] and times.shape == (1,) and times[0] > 0
    sizes, times = L["time_sweep"](sorted, [8, 16], time_limit=10.0)
    assert sizes.tolist() == [8, 16]


def test_chapter_parallel_scan_on_a_thread_pool():
    """The chapter's drivers with the package's workers: a thread pool runs them here, quickly."""
    x = np.random.default_rng(2).integers(0, 1000, 200_003)
    with ThreadPoolExecutor(3) as pool, A.SharedArray(x.size) as xs, A.SharedArray(x.size) as out:
        xs.array[:] = x
        for parts in (1, 2, 3, 7):
            out.array[:] = 0
            t_reduce, t_scan = L["parallel_cumsum"](xs, out, pool, parts)
            assert np.array_equal(out.array, np.cumsum(x))
            assert t_reduce >= 0 and t_scan > 0
        copied = np.empty_like(x)
        L["parallel_cumsum_copy"](x, copied, pool, 3)
        assert np.array_equal(copied, np.cumsum(x))
    A._close_opened()


def test_chapter_parallel_scan_on_a_process_pool():
    """The workers are imported by spawned processes, and no shared memory is left behind."""
    x = np.random.default_rng(3).integers(-(10**6), 10**6, 300_001)
    with process_pool(2) as pool:
        with A.SharedArray(x.size) as xs, A.SharedArray(x.size) as out:
            names = {xs.name, out.name}
            xs.array[:] = x
            for parts in (1, 2, 5):
                L["parallel_cumsum"](xs, out, pool, parts)
                assert np.array_equal(out.array, np.cumsum(x))
        copied = np.empty_like(x)
        L["parallel_cumsum_copy"](x, copied, pool, 2)
        assert np.array_equal(copied, np.cumsum(x))
        assert pool.submit(A.payload_nbytes, x).result() == x.nbytes
    assert not names & _shm_names()


def test_the_benchmark_refuses_a_chapter_without_its_functions():
    with pytest.raises(RuntimeError, match="no_such_function"):
        BENCHMARK.chapter_functions(names=("no_such_function",))
