"""Tests of chapter 3.3, memory optimization: correctness and input checks, never speed.

Two kinds of code are tested here. What stays in :mod:`computing_change.lessons.memory` (the peak of
a call, the models and the plumbing of the memory-hierarchy scan) is imported as usual. The
code the chapter teaches is written in the chapter's own cells, and is tested from there:
:func:`page` compiles the functions that ``book/principles/memory.ipynb`` defines, from the
page's source, so these tests check the code a reader sees and runs.
"""

from __future__ import annotations

import math
import tracemalloc
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change.core.notebook import page_code
from computing_change.core.timing import bench
from computing_change.core.tracing import traced_peak
from computing_change.lessons import memory as M
from computing_change.models import formulas as F

PAGE = Path(__file__).resolve().parents[1] / "book" / "principles" / "memory.ipynb"
#: The functions the chapter writes in its cells, which these tests check.
PAGE_FUNCTIONS = (
    "fill_by_append",
    "fill_by_list",
    "fill_preallocated",
    "hypot_temporaries",
    "hypot_inplace",
    "sum_relative_error",
    "stream",
    "transform",
    "mean_var_in_one_go",
    "mean_var_chunked",
    "sum_by_rows",
    "sum_by_columns",
    "transpose_naive",
    "transpose_blocked",
    "random_cycle",
    "chase_table",
    "chase",
    "chase_latency",
    "gather_time",
)


@cache
def page() -> SimpleNamespace:
    """The functions of :data:`PAGE_FUNCTIONS`, compiled from the chapter's code cells
    (:func:`computing_change.core.notebook.page_code`), in a namespace holding what the
    chapter's setup cell imports and they use."""
    return page_code(PAGE, PAGE_FUNCTIONS, {"np": np, "math": math, "bench": bench, "M": M})


P = page()

# ---------------------------------------------------------------- measuring memory


def test_traced_peak_counts_numpy_buffers():
    n = 1_000_000
    run = traced_peak(np.ones, n)
    assert run.value.shape == (n,)
    assert 8 * n <= run.peak < 8 * n + 64 * 1024
    assert 8 * n <= run.retained < 8 * n + 64 * 1024
    assert not tracemalloc.is_tracing()


def test_traced_peak_sees_temporaries_that_are_freed():
    n = 500_000

    def make_and_drop():
        a = np.ones(n)
        b = a + 1.0
        return float(b[0])

    run = traced_peak(make_and_drop)
    assert run.value == 2.0
    assert run.peak >= 2 * 8 * n
    assert run.retained < 64 * 1024


def test_traced_peak_stops_tracing_even_if_func_raises():
    def boom():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        traced_peak(boom)
    assert not tracemalloc.is_tracing()


def test_traced_peak_leaves_outer_tracing_on():
    tracemalloc.start()
    try:
        traced_peak(np.ones, 10)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


def test_traced_peak_rejects_non_callable():
    with pytest.raises(ValueError, match="func"):
        traced_peak(42)


# ---------------------------------------------------------------- allocation (the page's code)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 300))
def test_every_fill_gives_the_same_array(n):
    want = np.arange(n) * 0.5
    for fill in (P.fill_by_append, P.fill_by_list, P.fill_preallocated):
        got = fill(n)
        assert got.dtype == np.float64 and got.shape == (n,)
        np.testing.assert_array_equal(got, want)


def test_growing_peaks_above_preallocating():
    n = 20_000
    pre = traced_peak(P.fill_preallocated, n).peak
    lst = traced_peak(P.fill_by_list, n).peak
    app = traced_peak(P.fill_by_append, 2_000).peak
    assert pre < 1.1 * 8 * n  # one array
    assert lst > 3 * 8 * n  # a list of pointers plus one float object per item
    assert app > 1.9 * 8 * 2_000  # the old and the new array at each step


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 2000), st.integers(0, 2**32 - 1))
def test_hypot_inplace_matches_temporaries(n, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(n), rng.standard_normal(n)
    out, work = np.empty(n), np.empty(n)
    got = P.hypot_inplace(x, y, out, work)
    assert got is out
    np.testing.assert_array_equal(got, P.hypot_temporaries(x, y))
    np.testing.assert_allclose(got, np.hypot(x, y), rtol=1e-15, atol=0)


def test_hypot_inplace_allocates_nothing():
    n = 1_000_000
    x, y, out, work = np.ones(n), np.ones(n), np.empty(n), np.empty(n)
    assert traced_peak(P.hypot_inplace, x, y, out, work).peak < 64 * 1024
    assert traced_peak(P.hypot_temporaries, x, y).peak >= 2 * 8 * n


# ---------------------------------------------------------------- the error of a sum


@settings(max_examples=20, deadline=None)
@given(
    st.integers(1, 5000),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["float32", "float64"]),
    st.sampled_from(F.SUM_METHODS),
)
def test_sum_error_stays_within_the_bound(n, seed, dtype, method):
    """The model (package) bounds the error the experiment (page) measures, NumPy's real one."""
    x = np.random.default_rng(seed).random(n) + 1e-3  # nonnegative, nonzero sum
    err = P.sum_relative_error(x, dtype, method)
    assert 0 <= err <= F.sum_error_bound(n, dtype, method) * 1.0001


def test_float32_loses_accuracy_and_a_wide_accumulator_recovers_it():
    x = np.random.default_rng(0).random(200_000)
    seq32 = P.sum_relative_error(x, "float32", "sequential")
    pair32 = P.sum_relative_error(x, "float32", "pairwise")
    wide32 = P.sum_relative_error(x, "float32", "float64 accumulator")
    pair64 = P.sum_relative_error(x, "float64", "pairwise")
    assert seq32 > pair32 > wide32 > pair64
    assert pair64 < 1e-14


def test_float16_sum_overflows_to_inf():
    x = np.full(100_000, 0.9)
    assert P.sum_relative_error(x, "float16", "pairwise") == math.inf
    assert P.sum_relative_error(x, "float16", "float64 accumulator") < 1e-3


def test_sum_error_bound_rejects_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        F.sum_error_bound(0)
    with pytest.raises(ValueError, match="method must be one of"):
        F.sum_error_bound(10, "float32", "kahan")
    with pytest.raises(ValueError, match="dtype must be one of"):
        F.sum_error_bound(10, "int8")


def test_sum_error_bound_grows_with_n_only_for_the_sequential_sum():
    u32 = float(np.finfo(np.float32).eps) / 2
    assert F.sum_error_bound(10**6, "float32", "sequential") == pytest.approx(u32 * 10**6)
    assert F.sum_error_bound(10**6, "float32", "pairwise") < 100 * u32
    assert F.sum_error_bound(1, "float64", "pairwise") == float(np.finfo(np.float64).eps) / 2


@settings(deadline=None)
@given(st.integers(1, 10**7))
def test_pairwise_depth_is_logarithmic(n):
    depth = F._pairwise_depth(n)
    assert depth <= n - 1
    assert depth <= math.ceil(math.log2(n)) + 26


# ---------------------------------------------------------------- management (the page's code)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 5000), st.integers(0, 5000))
def test_the_stream_does_not_depend_on_the_chunking(start, length, cut):
    stop = start + length
    mid = start + min(cut, length)
    whole = P.stream(start, stop)
    parts = np.concatenate([P.stream(start, mid), P.stream(mid, stop)])
    np.testing.assert_array_equal(whole, parts)
    assert np.all((whole >= 0) & (whole < 1))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 20_000), st.integers(1, 25_000))
def test_chunked_mean_var_match_one_go(n, chunk):
    mean, var = P.mean_var_in_one_go(n)
    cmean, cvar = P.mean_var_chunked(n, chunk)
    assert math.isclose(cmean, mean, rel_tol=1e-12, abs_tol=1e-15)
    assert math.isclose(cvar, var, rel_tol=1e-9, abs_tol=1e-15)


def test_chunked_peak_follows_the_chunk_not_the_input():
    chunk = 4096
    small = traced_peak(P.mean_var_chunked, 2**16, chunk).peak
    large = traced_peak(P.mean_var_chunked, 2**20, chunk).peak
    whole = traced_peak(P.mean_var_in_one_go, 2**20).peak
    assert large < 1.1 * small
    assert large < whole / 20


# ---------------------------------------------------------------- cache optimization (the page's code)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.sampled_from("CF"), st.integers(0, 2**32 - 1))
def test_row_and_column_sums_agree(rows, cols, order, seed):
    a = np.asarray(np.random.default_rng(seed).random((rows, cols)), order=order)
    assert math.isclose(P.sum_by_rows(a), P.sum_by_columns(a), rel_tol=1e-12)
    assert math.isclose(P.sum_by_rows(a), float(a.sum()), rel_tol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 70),
    st.integers(1, 70),
    st.integers(1, 80),
    st.sampled_from([np.float64, np.float32, np.int32]),
)
def test_blocked_transpose_equals_naive(rows, cols, block, dtype):
    """Every tile size, dividing the shape or not, larger than the matrix or not."""
    a = np.arange(rows * cols, dtype=dtype).reshape(rows, cols)
    out = np.full((cols, rows), -1, dtype=dtype)
    assert P.transpose_blocked(a, block, out) is out
    np.testing.assert_array_equal(out, a.T)
    out2 = np.full((cols, rows), -1, dtype=dtype)
    assert P.transpose_naive(a, out2) is out2
    np.testing.assert_array_equal(out2, a.T)


# ---------------------------------------------------------------- the memory hierarchy (package)


def test_cache_level():
    caches = {"L1d": 32 * 1024, "L2": 512 * 1024, "L3": 32 * 1024**2}
    assert M.cache_level(16 * 1024, caches) == "L1d"
    assert M.cache_level(32 * 1024, caches) == "L1d"
    assert M.cache_level(32 * 1024 + 1, caches) == "L2"
    assert M.cache_level(8 * 1024**2, caches) == "L3"
    assert M.cache_level(64 * 1024**2, caches) == "DRAM"
    assert M.cache_level(1024, {}) == "unknown"
    with pytest.raises(ValueError, match="nbytes"):
        M.cache_level(0, caches)


def test_working_set_sizes():
    sizes = M.working_set_sizes(16 * 1024, 64 * 1024**2, 20)
    assert sizes[0] == 16 * 1024 and sizes[-1] == 64 * 1024**2
    assert np.all(np.diff(sizes) > 0) and np.all(sizes % 4096 == 0)
    default = M.working_set_sizes()
    assert default[0] == 16 * 1024 and default[-1] <= 512 * 1024**2
    with pytest.raises(ValueError, match="hi must be"):
        M.working_set_sizes(16 * 1024, 8 * 1024)
    with pytest.raises(ValueError, match="points must be"):
        M.working_set_sizes(points=1)


def test_random_access_model_is_flat_then_falls_to_dram():
    levels = {"L1d": (32e3, 1.0), "L2": (512e3, 2.0), "L3": (32e6, 5.0), "DRAM": (0, 20.0)}
    assert F.random_access_model(16e3, levels) == pytest.approx(1.0)
    assert F.random_access_model(32e3, levels) == pytest.approx(1.0)
    # 64 KB: half the reads hit L1, the other half L2
    assert F.random_access_model(64e3, levels) == pytest.approx(1.5)
    assert F.random_access_model(1e12, levels) == pytest.approx(20.0, rel=1e-3)
    m = np.geomspace(1e3, 1e10, 50)
    t = F.random_access_model(m, levels)
    assert np.all(np.diff(t) >= -1e-12)  # slower levels only ever take a larger share
    assert F.random_access_model(1e6, {"DRAM": (0, 7.0)}) == 7.0


def test_random_access_model_rejects_bad_levels():
    with pytest.raises(ValueError, match="DRAM"):
        F.random_access_model(1e6, {"L1d": (32e3, 1.0)})
    with pytest.raises(ValueError, match="L1d capacity"):
        F.random_access_model(1e6, {"L1d": (0, 1.0), "DRAM": (0, 9.0)})
    with pytest.raises(ValueError, match="nbytes"):
        F.random_access_model(0, {"DRAM": (0, 9.0)})


@settings(deadline=None)
@given(st.floats(1e3, 1e11))
def test_random_access_model_is_the_textbook_amat_with_uniform_hit_rates(m):
    """The same AMAT as formulas.amat_multilevel, with hit times as increments and local miss
    rates from the capacities (reads uniform over m bytes)."""
    from computing_change.models import formulas as F

    caps, times, t_dram = [32e3, 512e3, 32e6], [1.0, 2.0, 5.0], 20.0
    levels = {f"L{i}": (c, t) for i, (c, t) in enumerate(zip(caps, times, strict=True), start=1)} | {
        "DRAM": (0, t_dram)
    }
    share = [min(1.0, c / m) for c in caps]
    local_miss = [1 - share[0]] + [
        (1 - share[k]) / (1 - share[k - 1]) if share[k - 1] < 1 else 0.0 for k in range(1, len(caps))
    ]
    increments = [times[0]] + [times[k] - times[k - 1] for k in range(1, len(times))]
    want = F.amat_multilevel(increments, local_miss, t_dram - times[-1])
    assert F.random_access_model(m, levels) == pytest.approx(want, rel=1e-12)


def test_level_medians_groups_by_the_smallest_level_that_holds_the_size():
    caches = {"L1d": 32 * 1024, "L2": 512 * 1024}
    got = M.level_medians([16e3, 20e3, 100e3, 1e6, 2e6, 4e6], [1, 3, 5, 10, 20, 30], caches)
    assert list(got) == ["L1d", "L2", "DRAM"]
    assert got == {"L1d": 2.0, "L2": 5.0, "DRAM": 20.0}
    assert M.level_medians([1e3], [7.0], {}) == {"unknown": 7.0}
    with pytest.raises(ValueError, match="same length"):
        M.level_medians([1e3, 2e3], [1.0], caches)


def test_describe_steps_says_where_the_latency_rose():
    assert M.describe_steps({"L1d": 1.0, "L2": 2.0, "DRAM": 50.0}) == (
        "rose at every level boundary the scan crossed: 2.0-fold from L1d to L2, 25-fold from L2 to DRAM"
    )
    mixed = M.describe_steps({"L1d": 1.0, "L2": 1.1, "L3": 4.0})
    assert mixed.startswith("rose at some level boundaries (3.6-fold from L2 to L3)")
    assert "not clearly at others (1.1-fold from L1d to L2)" in mixed
    assert M.describe_steps({"L1d": 1.0, "L2": 1.0}).startswith("did not rise clearly")
    assert "does not report" in M.describe_steps({"unknown": 1.0})
    assert "one level" in M.describe_steps({"L2": 1.0})
    with pytest.raises(ValueError, match="level_times"):
        M.describe_steps({})
    with pytest.raises(ValueError, match="threshold"):
        M.describe_steps({"L1d": 1.0}, threshold=1.0)


# ---------------------------------------------------------------- the pointer chase (the page's code)


def _cycle_length(nxt: np.ndarray, start: int = 0) -> int:
    i, steps = start, 0
    while True:
        i, steps = int(nxt[i]), steps + 1
        if i == start:
            return steps


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 300), st.integers(0, 10**6))
def test_random_cycle_is_a_single_cycle(n, seed):
    nxt = P.random_cycle(n, seed)
    assert sorted(nxt.tolist()) == list(range(n))  # a permutation
    assert _cycle_length(nxt) == n  # one cycle through every element
    assert n == 1 or np.all(nxt != np.arange(n))  # no element follows itself


def test_every_cyclic_permutation_is_equally_likely():
    """n = 4 has (4 - 1)! = 6 cyclic permutations; 6000 draws should hit each about 1000
    times, as Sattolo's algorithm would."""
    counts: dict[tuple, int] = {}
    for seed in range(6000):
        key = tuple(P.random_cycle(4, seed).tolist())
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 6
    chi2 = sum((c - 1000) ** 2 / 1000 for c in counts.values())
    assert chi2 < 25  # 5 degrees of freedom: p < 1e-4 by chance


def test_chase_table_puts_one_node_on_each_cache_line():
    table = P.chase_table(64 * 1024, seed=3)
    per = 64 // 8
    assert table.nbytes == 64 * 1024 and table.dtype == np.intp
    nodes = table[::per]
    assert np.all(nodes % per == 0) and np.all(table.reshape(-1, per)[:, 1:] == 0)
    assert _cycle_length(nodes // per) == len(nodes)


def test_the_chase_inside_np_take_is_dependent():
    """np.take writing one slot ahead of the index it reads follows the chain step by step,
    and a second call goes on from where the first stopped."""
    table = P.chase_table(4096, seed=1)
    buf = np.empty(1001, dtype=np.intp)
    buf[-1] = 0
    expect = [0]
    for _ in range(2000):
        expect.append(int(table[expect[-1]]))
    P.chase(table, buf)
    assert buf.tolist() == expect[:1001]
    P.chase(table, buf)
    assert buf.tolist() == expect[1000:]


def test_chase_latency_and_gather_time_are_positive():
    assert 0 < P.chase_latency(32 * 1024, steps=1024, repeat=2) < 1e-5
    assert 0 < P.gather_time(64 * 1024, accesses=4096, repeat=2) < 1e-3
