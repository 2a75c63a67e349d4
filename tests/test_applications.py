"""Tests of what the applications chapters import (computing_change.lessons.finance): the
finance chapter's pool worker, correctness only, never speed. The chapters' own code runs,
with its assertions, in their notebooks."""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change.lessons import finance as A

CALL = dict(S=100.0, K=105.0, r=0.03, sigma=0.25, T=0.75)


def black_scholes_call(S, K, r, sigma, T):
    vol = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + (r + sigma**2 / 2) * T) / vol
    cdf = [0.5 * math.erfc(-d / math.sqrt(2)) for d in (d1, d1 - vol)]
    return S * cdf[0] - K * math.exp(-r * T) * cdf[1]


def payoffs(z, S, K, r, sigma, T):
    """Discounted call payoffs for the normals z, written out independently of the package."""
    ST = S * np.exp((r - sigma**2 / 2) * T + sigma * math.sqrt(T) * z)
    return math.exp(-r * T) * np.maximum(ST - K, 0.0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 3000), cut=st.integers(1, 2999))
def test_running_stats_merge_is_exact(seed, n, cut):
    x = np.random.default_rng(seed).normal(5, 3, n)
    cut = min(cut, n - 1)
    merged = A.RunningStats.from_array(x[:cut]).merge(A.RunningStats.from_array(x[cut:]))
    assert merged.n == n
    assert merged.mean == pytest.approx(x.mean(), rel=1e-12, abs=1e-12)
    assert merged.variance == pytest.approx(x.var(ddof=1), rel=1e-9)
    assert merged.stderr == pytest.approx(x.std(ddof=1) / math.sqrt(n), rel=1e-9)


def test_running_stats_of_nothing_and_of_one_value():
    empty = A.RunningStats(0, 0.0, 0.0)
    one = A.RunningStats.from_array(np.array([3.5]))
    assert empty.merge(one) == one and one.merge(empty) == one
    assert math.isnan(one.variance) and math.isnan(one.stderr)


@pytest.mark.parametrize("n", [1, 1000, 65_536, 150_001])
def test_chunk_is_the_statistics_of_its_payoffs(n):
    """The chunk draws its normals 65,536 at a time from its stream: the same normals as one
    draw of n, so its statistics are those of the payoffs computed here in one go."""
    got = A.mc_call_chunk(**CALL, n_paths=n, seed=7)
    rng = np.random.default_rng(7)
    z = np.concatenate([rng.standard_normal(min(65_536, n - s)) for s in range(0, n, 65_536)])
    y = payoffs(z, **CALL)
    assert got.n == n
    assert got.mean == pytest.approx(y.mean(), rel=1e-12)
    if n > 1:
        assert got.variance == pytest.approx(y.var(ddof=1), rel=1e-9)


def test_antithetic_chunk_averages_each_draw_with_its_mirror():
    got = A.mc_call_chunk(**CALL, n_paths=2000, seed=3, antithetic=True)
    z = np.random.default_rng(3).standard_normal(1000)
    pairs = 0.5 * (payoffs(z, **CALL) + payoffs(-z, **CALL))
    assert got.n == 1000
    assert got.mean == pytest.approx(pairs.mean(), rel=1e-12)
    assert got.variance == pytest.approx(pairs.var(ddof=1), rel=1e-9)


def test_chunks_agree_with_black_scholes_and_antithetic_pairs_vary_less():
    exact = black_scholes_call(**CALL)
    for seed in range(3):
        plain = A.mc_call_chunk(**CALL, n_paths=200_000, seed=seed)
        anti = A.mc_call_chunk(**CALL, n_paths=200_000, seed=seed, antithetic=True)
        assert abs(plain.mean - exact) < 4 * plain.stderr
        assert abs(anti.mean - exact) < 4 * anti.stderr
        assert anti.stderr < plain.stderr  # for a call, Y(Z) and Y(-Z) are negatively correlated


def test_spawned_streams_differ_and_a_seed_repeats():
    first, second = np.random.SeedSequence(5).spawn(2)
    a = A.mc_call_chunk(**CALL, n_paths=1000, seed=first)
    b = A.mc_call_chunk(**CALL, n_paths=1000, seed=second)
    assert a != b
    assert A.mc_call_chunk(**CALL, n_paths=1000, seed=np.random.SeedSequence(5).spawn(2)[0]) == a


def test_the_worker_runs_in_a_spawn_pool_bit_for_bit():
    """Why the function is in the package: a spawn-mode pool imports it by name."""
    seeds = np.random.SeedSequence(11).spawn(3)
    sizes = [1000, 1001, 999]
    serial = [A.mc_call_chunk(*CALL.values(), n, s) for n, s in zip(sizes, seeds, strict=True)]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        pooled = list(pool.map(A.mc_call_chunk, *([v] * 3 for v in CALL.values()), sizes, seeds))
    assert pooled == serial
