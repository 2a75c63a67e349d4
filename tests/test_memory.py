"""Tests of computing_change.memory: correctness and input checks, never speed."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change import memory as M

# ---------------------------------------------------------------- measuring memory


def test_traced_peak_counts_numpy_buffers():
    n = 1_000_000
    run = M.traced_peak(np.ones, n)
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

    run = M.traced_peak(make_and_drop)
    assert run.value == 2.0
    assert run.peak >= 2 * 8 * n
    assert run.retained < 64 * 1024


def test_traced_peak_stops_tracing_even_if_func_raises():
    def boom():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        M.traced_peak(boom)
    assert not tracemalloc.is_tracing()


def test_traced_peak_leaves_outer_tracing_on():
    tracemalloc.start()
    try:
        M.traced_peak(np.ones, 10)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


def test_traced_peak_rejects_non_callable():
    with pytest.raises(ValueError, match="func"):
        M.traced_peak(42)


# ---------------------------------------------------------------- allocation


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 300))
def test_every_fill_gives_the_same_array(n):
    want = M.fill_vectorized(n)
    assert want.dtype == np.float64 and want.shape == (n,)
    for fill in (M.fill_by_append, M.fill_by_list, M.fill_preallocated):
        got = fill(n)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, want)


def test_growing_peaks_above_preallocating():
    n = 20_000
    pre = M.traced_peak(M.fill_preallocated, n).peak
    lst = M.traced_peak(M.fill_by_list, n).peak
    app = M.traced_peak(M.fill_by_append, 2_000).peak
    assert pre < 1.1 * 8 * n  # one array
    assert lst > 3 * 8 * n  # a list of pointers plus one float object per item
    assert app > 1.9 * 8 * 2_000  # the old and the new array at each step


@settings(deadline=None)
@given(st.integers(0, 10**6))
def test_append_copies_is_the_triangular_number(n):
    assert M.append_copies(n) == n * (n + 1) // 2


@pytest.mark.parametrize("fill", [M.fill_by_append, M.fill_by_list, M.fill_preallocated, M.fill_vectorized])
@pytest.mark.parametrize("bad", [-1, 2.5, "10", None, True])
def test_fills_reject_bad_n(fill, bad):
    with pytest.raises(ValueError, match="n must be"):
        fill(bad)


def test_append_refuses_quadratic_sizes():
    with pytest.raises(ValueError, match="200000"):
        M.fill_by_append(M.APPEND_MAX + 1)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 2000), st.integers(0, 2**32 - 1))
def test_hypot_inplace_matches_temporaries(n, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(n), rng.standard_normal(n)
    out, work = np.empty(n), np.empty(n)
    got = M.hypot_inplace(x, y, out, work)
    assert got is out
    np.testing.assert_array_equal(got, M.hypot_temporaries(x, y))
    np.testing.assert_allclose(got, np.hypot(x, y), rtol=1e-15, atol=0)


def test_hypot_inplace_allocates_nothing():
    n = 1_000_000
    x, y, out, work = np.ones(n), np.ones(n), np.empty(n), np.empty(n)
    assert M.traced_peak(M.hypot_inplace, x, y, out, work).peak < 64 * 1024
    assert M.traced_peak(M.hypot_temporaries, x, y).peak >= 2 * 8 * n


def test_hypot_rejects_bad_arrays():
    x = np.ones(4)
    with pytest.raises(ValueError, match="y must have shape"):
        M.hypot_temporaries(x, np.ones(5))
    with pytest.raises(ValueError, match="x must be a NumPy array of floats"):
        M.hypot_temporaries([1.0], [1.0])
    with pytest.raises(ValueError, match="work must have shape"):
        M.hypot_inplace(x, x.copy(), np.empty(4), np.empty(4, dtype=np.float32))
    with pytest.raises(ValueError, match="overlap"):
        M.hypot_inplace(x, x.copy(), x, np.empty(4))


@settings(max_examples=20, deadline=None)
@given(
    st.integers(1, 5000),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["float32", "float64"]),
    st.sampled_from(M.SUM_METHODS),
)
def test_sum_error_stays_within_the_bound(n, seed, dtype, method):
    x = np.random.default_rng(seed).random(n) + 1e-3  # nonnegative, nonzero sum
    err = M.sum_relative_error(x, dtype, method)
    assert 0 <= err <= M.sum_error_bound(n, dtype, method) * 1.0001


def test_float32_loses_accuracy_and_a_wide_accumulator_recovers_it():
    x = np.random.default_rng(0).random(200_000)
    seq32 = M.sum_relative_error(x, "float32", "sequential")
    pair32 = M.sum_relative_error(x, "float32", "pairwise")
    wide32 = M.sum_relative_error(x, "float32", "float64 accumulator")
    pair64 = M.sum_relative_error(x, "float64", "pairwise")
    assert seq32 > pair32 > wide32 > pair64
    assert pair64 < 1e-14


def test_float16_sum_overflows_to_inf():
    x = np.full(100_000, 0.9)
    assert M.sum_relative_error(x, "float16", "pairwise") == math.inf


def test_sum_relative_error_rejects_bad_input():
    x = np.ones(4)
    with pytest.raises(ValueError, match="dtype must be one of"):
        M.sum_relative_error(x, "int8")
    with pytest.raises(ValueError, match="method must be one of"):
        M.sum_relative_error(x, "float32", "kahan")
    with pytest.raises(ValueError, match="x must be"):
        M.sum_relative_error(x.astype(np.float32))
    with pytest.raises(ValueError, match="finite"):
        M.sum_relative_error(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="nonzero sum"):
        M.sum_relative_error(np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="n must be"):
        M.sum_error_bound(0)


@settings(deadline=None)
@given(st.integers(1, 10**7))
def test_pairwise_depth_is_logarithmic(n):
    depth = M._pairwise_depth(n)
    assert depth <= n - 1
    assert depth <= math.ceil(math.log2(n)) + 26


# ---------------------------------------------------------------- management


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 5000), st.integers(0, 5000))
def test_synthetic_values_do_not_depend_on_the_chunking(start, length, cut):
    stop = start + length
    mid = start + min(cut, length)
    whole = M.synthetic_values(start, stop)
    parts = np.concatenate([M.synthetic_values(start, mid), M.synthetic_values(mid, stop)])
    np.testing.assert_array_equal(whole, parts)
    assert np.all((whole >= 0) & (whole < 1))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 20_000), st.integers(1, 25_000))
def test_chunked_mean_var_match_unchunked(n, chunk):
    mean, var = M.mean_var_unchunked(n)
    cmean, cvar = M.mean_var_chunked(n, chunk)
    assert math.isclose(cmean, mean, rel_tol=1e-12, abs_tol=1e-15)
    assert math.isclose(cvar, var, rel_tol=1e-9, abs_tol=1e-15)


def test_chunked_peak_follows_the_chunk_not_the_input():
    chunk = 4096
    small = M.traced_peak(M.mean_var_chunked, 2**16, chunk).peak
    large = M.traced_peak(M.mean_var_chunked, 2**20, chunk).peak
    whole = M.traced_peak(M.mean_var_unchunked, 2**20).peak
    assert large < 1.1 * small
    assert large < whole / 20


def test_chunking_rejects_bad_sizes():
    with pytest.raises(ValueError, match="chunk must be"):
        M.mean_var_chunked(10, 0)
    with pytest.raises(ValueError, match="n must be"):
        M.mean_var_unchunked(0)
    with pytest.raises(ValueError, match="stop must be"):
        M.synthetic_values(5, 4)


def test_a_view_keeps_its_base_alive_and_a_copy_does_not():
    n, k = 1_000_000, 10
    view = M.traced_peak(M.keep_slice, n, k)
    copy = M.traced_peak(M.keep_slice, n, k, copy=True)
    assert view.value.base is not None and view.value.base.size == n
    assert copy.value.base is None
    np.testing.assert_array_equal(view.value, copy.value)
    assert view.retained >= 8 * n
    assert copy.retained < 8 * n / 100


def test_keep_slice_rejects_k_above_n():
    with pytest.raises(ValueError, match="k must be"):
        M.keep_slice(10, 11)


# ---------------------------------------------------------------- cache optimization


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.sampled_from("CF"), st.integers(0, 2**32 - 1))
def test_row_and_column_sums_agree(rows, cols, order, seed):
    a = np.asarray(np.random.default_rng(seed).random((rows, cols)), order=order)
    assert math.isclose(M.sum_by_rows(a), M.sum_by_columns(a), rel_tol=1e-12)
    assert math.isclose(M.sum_by_rows(a), float(a.sum()), rel_tol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 70),
    st.integers(1, 70),
    st.integers(1, 80),
    st.sampled_from([np.float64, np.float32, np.int32]),
)
def test_blocked_transpose_equals_naive(rows, cols, block, dtype):
    a = np.arange(rows * cols, dtype=dtype).reshape(rows, cols)
    block = min(block, max(rows, cols))
    np.testing.assert_array_equal(M.transpose_blocked(a, block), a.T)
    np.testing.assert_array_equal(M.transpose_naive(a), a.T)


def test_transposes_write_into_out():
    a = np.random.default_rng(0).random((33, 17))
    out = np.empty((17, 33))
    assert M.transpose_blocked(a, 8, out=out) is out
    np.testing.assert_array_equal(out, a.T)
    out2 = np.empty((17, 33))
    assert M.transpose_naive(a, out=out2) is out2
    np.testing.assert_array_equal(out2, a.T)


def test_transposes_reject_bad_input():
    a = np.ones((4, 6))
    with pytest.raises(ValueError, match="block must be"):
        M.transpose_blocked(a, 0)
    with pytest.raises(ValueError, match="block must be"):
        M.transpose_blocked(a, 7)
    with pytest.raises(ValueError, match="out must be"):
        M.transpose_blocked(a, 2, out=np.empty((4, 6)))
    with pytest.raises(ValueError, match="overlap"):
        sq = np.ones((4, 4))
        M.transpose_naive(sq, out=sq)
    with pytest.raises(ValueError, match="2-D"):
        M.transpose_naive(np.ones(5))
    with pytest.raises(ValueError, match="2-D"):
        M.sum_by_rows([[1.0]])


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


def test_gather_time_is_positive_and_checked():
    t = M.gather_time(64 * 1024, accesses=4096, repeat=2)
    assert 0 < t < 1e-3
    times = M.hierarchy_scan([16 * 1024, 32 * 1024], accesses=4096, repeat=2, rounds=2)
    assert times.shape == (2,) and np.all(times > 0) and np.all(np.isfinite(times))
    with pytest.raises(ValueError, match="rounds must be"):
        M.hierarchy_scan([16 * 1024], rounds=0)
    with pytest.raises(ValueError, match="nbytes must be"):
        M.gather_time(8)
    with pytest.raises(ValueError, match="accesses must be"):
        M.gather_time(4096, accesses=10)


def test_random_access_model_is_flat_then_falls_to_dram():
    levels = {"L1d": (32e3, 1.0), "L2": (512e3, 2.0), "L3": (32e6, 5.0), "DRAM": (0, 20.0)}
    assert M.random_access_model(16e3, levels) == pytest.approx(1.0)
    assert M.random_access_model(32e3, levels) == pytest.approx(1.0)
    # 64 KB: half the reads hit L1, the other half L2
    assert M.random_access_model(64e3, levels) == pytest.approx(1.5)
    assert M.random_access_model(1e12, levels) == pytest.approx(20.0, rel=1e-3)
    m = np.geomspace(1e3, 1e10, 50)
    t = M.random_access_model(m, levels)
    assert np.all(np.diff(t) >= -1e-12)  # slower levels only ever take a larger share
    assert M.random_access_model(1e6, {"DRAM": (0, 7.0)}) == 7.0


def test_random_access_model_rejects_bad_levels():
    with pytest.raises(ValueError, match="DRAM"):
        M.random_access_model(1e6, {"L1d": (32e3, 1.0)})
    with pytest.raises(ValueError, match="L1d capacity"):
        M.random_access_model(1e6, {"L1d": (0, 1.0), "DRAM": (0, 9.0)})
    with pytest.raises(ValueError, match="nbytes"):
        M.random_access_model(0, {"DRAM": (0, 9.0)})


@settings(deadline=None)
@given(st.floats(1e3, 1e11))
def test_random_access_model_is_the_textbook_amat_with_uniform_hit_rates(m):
    """The same AMAT as formulas.amat_multilevel, with hit times as increments and local miss
    rates from the capacities (reads uniform over m bytes)."""
    from computing_change import formulas as F

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
    assert M.random_access_model(m, levels) == pytest.approx(want, rel=1e-12)


# ---------------------------------------------------------------- latency: the pointer chase


def _cycle_length(nxt: np.ndarray, start: int = 0) -> int:
    i, steps = start, 0
    while True:
        i, steps = int(nxt[i]), steps + 1
        if i == start:
            return steps


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 300), st.integers(0, 10**6))
def test_random_cycle_and_sattolo_are_single_cycles(n, seed):
    for nxt in (M.random_cycle(n, seed), M.sattolo_cycle(n, seed)):
        assert sorted(nxt.tolist()) == list(range(n))  # a permutation
        assert _cycle_length(nxt) == n  # one cycle through every element
        assert n == 1 or np.all(nxt != np.arange(n))  # no element follows itself


@pytest.mark.parametrize("make", [M.random_cycle, M.sattolo_cycle])
def test_every_cyclic_permutation_is_equally_likely(make):
    """n = 4 has (4 - 1)! = 6 cyclic permutations; 6000 draws should hit each about 1000 times."""
    counts: dict[tuple, int] = {}
    for seed in range(6000):
        key = tuple(make(4, seed).tolist())
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 6
    chi2 = sum((c - 1000) ** 2 / 1000 for c in counts.values())
    assert chi2 < 25  # 5 degrees of freedom: p < 1e-4 by chance


def test_chase_table_puts_one_node_on_each_cache_line():
    table = M.chase_table(64 * 1024, seed=3)
    per = M.CHASE_STRIDE // 8
    assert table.nbytes == 64 * 1024 and table.dtype == np.intp
    nodes = table[::per]
    assert np.all(nodes % per == 0) and np.all(table.reshape(-1, per)[:, 1:] == 0)
    assert _cycle_length(nodes // per) == len(nodes)
    with pytest.raises(ValueError, match="nbytes must be"):
        M.chase_table(64)


def test_the_chase_inside_np_take_is_dependent():
    """np.take writing one slot ahead of the index it reads follows the chain step by step."""
    table = M.chase_table(4096, seed=1)
    buf = np.empty(1001, dtype=np.intp)
    buf[-1] = 0
    M._chase(table, buf)
    assert buf[0] == 0
    expect = [0]
    for _ in range(1000):
        expect.append(int(table[expect[-1]]))
    assert buf.tolist() == expect


def test_chase_latency_is_positive_and_checked():
    t = M.chase_latency(32 * 1024, steps=1024, repeat=2)
    assert 0 < t < 1e-5
    times = M.latency_scan([16 * 1024, 64 * 1024], steps=512, repeat=2)
    assert times.shape == (2,) and np.all(times > 0) and np.all(np.isfinite(times))
    with pytest.raises(ValueError, match="steps must be"):
        M.chase_latency(4096, steps=10)
    with pytest.raises(ValueError, match="repeat must be"):
        M.chase_latency(4096, repeat=0)


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
