"""Property tests of every formula in computing_change.models.formulas: limits, monotonicity, the
bounds a model must never cross, and clear ValueErrors for invalid input."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change.models import formulas as F

frac = st.floats(0, 1, allow_nan=False)
procs = st.floats(1, 1e6, allow_nan=False)
whole_procs = st.integers(1, 100_000)
pos = st.floats(1e-6, 1e9, allow_nan=False)
nonneg = st.floats(0, 1e12, allow_nan=False, allow_subnormal=False)  # subnormal sizes lose precision
close = dict(rel=1e-9, abs=1e-12)


# --- The registry ----------------------------------------------------------------------


def test_registry_holds_article_and_field_models():
    assert set(F.ARTICLE_FORMULAS) <= set(F.FORMULAS)
    assert set(F.FIELD_FORMULAS) <= set(F.FORMULAS)
    for key in (
        "amdahl",
        "gustafson",
        "karp_flatt",
        "roofline",
        "ring_allreduce",
        "brent_upper",
        "amat",
        "mfu",
    ):
        assert key in F.FORMULAS


@pytest.mark.parametrize("key", sorted(F.FORMULAS))
def test_every_record_matches_its_function(key):
    formula = F.FORMULAS[key]
    assert formula.key == key
    names = [p.name for p in formula.params]
    sig = inspect.signature(formula.func).parameters
    assert set(names) <= set(sig), f"{key}: params {names} not all arguments of {formula.func.__name__}"
    assert formula.func.__doc__ and "Parameters" in formula.func.__doc__
    defaults = {p.name: p.default for p in formula.params}
    for p in formula.params:
        assert p.slider_min <= p.default <= p.slider_max, f"{key}.{p.name}: default outside the slider"
        p.validate(p.default)
    value = formula(**defaults)
    assert np.isfinite(value)
    assert F.evaluate(key, **defaults) == value


@pytest.mark.parametrize("key", sorted(F.FORMULAS))
def test_every_record_rejects_out_of_range_input_naming_the_parameter(key):
    formula = F.FORMULAS[key]
    defaults = {p.name: p.default for p in formula.params}
    for p in formula.params:
        bads = [float("nan"), float("inf"), "x", None, True]
        if p.lo is not None:
            bads.append(p.lo - 1.0)
            if p.lo_open:
                bads.append(p.lo)
        if p.hi is not None:
            bads.append(p.hi + 1.0)
        for bad in bads:
            with pytest.raises(ValueError, match=p.name):
                formula(**{**defaults, p.name: bad})


def test_records_read_their_ranges_from_the_functions_checks():
    # written once: the record's range is the one its function's check(...) enforces
    p = F.FORMULAS["E_p"].param("p")
    assert (p.lo, p.hi, p.lo_open, p.hi_open) == (1, None, False, False)
    # followed through calls: task_time_bound passes its arguments on to two checked functions
    assert F._checked_ranges(F.task_time_bound) == {
        "gflop": (0, None, False, False),
        "gbytes": (0, None, False, False),
        "peak_gflops": (0, None, True, False),
        "bandwidth_gbs": (0, None, True, False),
    }
    # a record that states another range than its function enforces is refused
    with pytest.raises(ValueError, match="leave the range to the function"):
        F.Formula("x", "x", "x", F.efficiency_parallel, (F.Param("p", "p", lo=2, default=4),), "E")
    # a function whose source cannot be read keeps the ranges its record states
    assert F._checked_ranges(max) == {}


def test_evaluate_rejects_unknown_key():
    with pytest.raises(ValueError, match="formula must be one of"):
        F.evaluate("no-such-model", x=1)


# --- The article's four formulas ---------------------------------------------------------


@settings(deadline=None)
@given(pos, procs)
def test_article_formulas_are_in_unit_interval_and_share_one_shape(n, p):
    for value in (F.efficiency_parallel(n, p), F.efficiency_distributed(n, p)):
        assert 0 < value < 1
        assert value == pytest.approx(1 / (1 + n / p))
    assert F.efficiency_memory(n, p) == pytest.approx(1 / (1 + n / p))
    assert F.efficiency_algorithm(n, p) == pytest.approx(1 / (1 + n / p))


@settings(deadline=None)
@given(pos, procs)
def test_article_ep_falls_with_task_size_and_rises_with_units(n, p):
    assert F.efficiency_parallel(2 * n, p) <= F.efficiency_parallel(n, p)
    assert F.efficiency_parallel(n, 2 * p) >= F.efficiency_parallel(n, p)


@settings(deadline=None)
@given(pos, st.floats(1, 1e6, allow_nan=False))
def test_article_ea_is_at_most_half_when_the_optimization_is_no_cheaper(c0, ratio):
    assert F.efficiency_algorithm(c0 * ratio, c0) <= 0.5 + 1e-12
    assert F.efficiency_algorithm(c0, c0) == pytest.approx(0.5)  # equal cost: exactly 1/2
    assert F.efficiency_algorithm(c0 / (ratio + 1e-9), c0) >= 0.5 - 1e-12


@settings(deadline=None)
@given(pos, procs)
def test_article_ed_is_ep_with_a_new_letter(n, p):
    assert F.efficiency_distributed(n, p) == F.efficiency_parallel(n, p)


@settings(deadline=None)
@given(st.floats(1e-6, 0.99, allow_nan=False), st.floats(1.001, 1e5, allow_nan=False))
def test_three_notions_of_scaling_point_where_the_laws_say(s, p):
    # Strong scaling (fixed task, more units): Amdahl's efficiency falls with p.
    assert F.amdahl_efficiency(s, 2 * p) < F.amdahl_efficiency(s, p)
    # Weak scaling (task grows with p, serial share s of the parallel run fixed):
    # Gustafson's efficiency 1 - s(p-1)/p stays between 1 - s and 1 and falls slowly.
    e = F.gustafson_efficiency(s, p)
    assert 1 - s - 1e-12 <= e <= 1
    assert F.gustafson_efficiency(s, 2 * p) <= e + 1e-12
    # Fixed p, growing task (fixed serial time t_s, parallel work c n): the serial share
    # f(n) = t_s / (t_s + c n) shrinks, so the efficiency rises towards 1.
    n = np.geomspace(1, 1e9, 50)
    f = 1.0 / (1.0 + n)
    grow = F.amdahl_efficiency(f, p)
    assert np.all(np.diff(grow) > 0) and grow[-1] > 0.99
    # The article's E_p points the other way in both variables.
    assert np.all(np.diff(F.efficiency_parallel(n, p)) < 0)
    assert F.efficiency_parallel(10.0, 2 * p) > F.efficiency_parallel(10.0, p)


def test_article_worked_example_does_not_follow_from_its_formulas():
    for key, ex in F.ARTICLE_EXAMPLE.items():
        value = F.ARTICLE_FORMULAS[key](**ex["inputs"])
        assert not math.isclose(value, ex["claimed"], rel_tol=1e-3)
    assert F.efficiency_parallel(1000, 4) == pytest.approx(1 / 251)
    assert F.efficiency_memory(1000, 1024) == pytest.approx(1 / (1 + 1000 / 1024))
    assert F.efficiency_algorithm(1e6, 1e5) == pytest.approx(1 / 11)


def test_article_formulas_reject_invalid_input():
    with pytest.raises(ValueError, match="n must be"):
        F.efficiency_parallel(0, 4)
    with pytest.raises(ValueError, match="p must be"):
        F.efficiency_parallel(10, 0.5)
    with pytest.raises(ValueError, match="d must be"):
        F.efficiency_distributed(10, 0)
    with pytest.raises(ValueError, match="m must be"):
        F.efficiency_memory(-1, 4)
    with pytest.raises(ValueError, match="c must be"):
        F.efficiency_memory(1, 0)
    with pytest.raises(ValueError, match="C_0 must be"):
        F.efficiency_algorithm(1, 0)


# --- Amdahl, Gustafson, efficiency and the two serial fractions --------------------------


@settings(deadline=None)
@given(frac, procs)
def test_amdahl_bounds(f, p):
    s = F.amdahl_speedup(f, p)
    assert 1 - 1e-12 <= s <= p * (1 + 1e-12)
    if f > 0:
        assert s <= 1 / f * (1 + 1e-12)


@settings(deadline=None)
@given(frac, procs, procs)
def test_amdahl_grows_with_p_and_falls_with_f(f, p, q):
    lo, hi = sorted((p, q))
    assert F.amdahl_speedup(f, lo) <= F.amdahl_speedup(f, hi) * (1 + 1e-12)
    assert F.amdahl_speedup(min(1, f + 0.1), p) <= F.amdahl_speedup(f, p) * (1 + 1e-12)


def test_amdahl_limits():
    assert F.amdahl_speedup(0, 64) == pytest.approx(64)
    assert F.amdahl_speedup(1, 64) == pytest.approx(1)
    assert F.amdahl_speedup(0.05, 1) == pytest.approx(1)
    assert F.amdahl_speedup(0.05, 1e12) == pytest.approx(20, rel=1e-6)


@settings(deadline=None)
@given(frac, procs)
def test_gustafson_bounds_and_limits(s, p):
    g = F.gustafson_speedup(s, p)
    assert 1 - 1e-9 <= g <= p * (1 + 1e-12)
    assert F.gustafson_speedup(0, p) == pytest.approx(p)
    assert F.gustafson_speedup(1, p) == pytest.approx(1)


@settings(deadline=None)
@given(frac, procs)
def test_efficiencies_are_speedup_over_p(f, p):
    assert F.amdahl_efficiency(f, p) == pytest.approx(F.amdahl_speedup(f, p) / p, **close)
    assert F.gustafson_efficiency(f, p) == pytest.approx(F.gustafson_speedup(f, p) / p, **close)
    assert F.parallel_efficiency(F.amdahl_speedup(f, p), p) == pytest.approx(
        F.amdahl_efficiency(f, p), **close
    )
    assert 0 < F.amdahl_efficiency(f, p) <= 1 + 1e-12


@settings(deadline=None)
@given(frac, procs)
def test_serial_fraction_conversion_is_a_bijection_and_gives_the_same_speedup(f, p):
    s = F.amdahl_to_gustafson(f, p)
    assert 0 <= s <= 1
    assert s >= f - 1e-12  # the serial part is a larger share of the shorter parallel run
    assert F.gustafson_to_amdahl(s, p) == pytest.approx(f, **close)
    assert F.gustafson_speedup(s, p) == pytest.approx(F.amdahl_speedup(f, p), rel=1e-9)


def test_conversion_from_explicit_times():
    t_serial, t_parallel, p = 2.0, 98.0, 16
    f = t_serial / (t_serial + t_parallel)
    s = t_serial / (t_serial + t_parallel / p)
    assert F.amdahl_to_gustafson(f, p) == pytest.approx(s)
    assert F.gustafson_to_amdahl(s, p) == pytest.approx(f)


def test_speedup_family_rejects_invalid_input():
    with pytest.raises(ValueError, match="f must be"):
        F.amdahl_speedup(1.5, 4)
    with pytest.raises(ValueError, match="s must be"):
        F.gustafson_speedup(-0.1, 4)
    with pytest.raises(ValueError, match="p must be"):
        F.amdahl_efficiency(0.1, 0)
    with pytest.raises(ValueError, match="speedup must be"):
        F.parallel_efficiency(0, 4)
    with pytest.raises(ValueError, match="p must be"):
        F.gustafson_to_amdahl(0.1, 0.9)


# --- Karp-Flatt ---------------------------------------------------------------------------


@settings(deadline=None)
@given(frac, st.floats(1.001, 1e5, allow_nan=False))
def test_karp_flatt_recovers_amdahls_fraction(f, p):
    assert F.karp_flatt(F.amdahl_speedup(f, p), p) == pytest.approx(f, abs=1e-8)


@settings(deadline=None)
@given(st.floats(1.5, 1e4, allow_nan=False), st.floats(0.01, 1e4, allow_nan=False))
def test_karp_flatt_falls_as_speedup_rises(p, s):
    assert F.karp_flatt(s * 1.1, p) < F.karp_flatt(s, p)


def test_karp_flatt_limits_and_signs():
    assert F.karp_flatt(8, 8) == pytest.approx(0)  # linear speedup: no serial fraction
    assert F.karp_flatt(1, 8) == pytest.approx(1)  # no speedup: all serial
    assert F.karp_flatt(10, 8) < 0  # superlinear
    with pytest.raises(ValueError, match="p must be"):
        F.karp_flatt(1, 1)
    with pytest.raises(ValueError, match="speedup must be"):
        F.karp_flatt(0, 4)


def test_karp_flatt_rises_when_overhead_grows_with_p():
    p = np.arange(2, 33)
    t1, f, c = 1.0, 0.02, 0.002
    tp = t1 * (f + (1 - f) / p) + c * (p - 1)
    e = F.karp_flatt(t1 / tp, p)
    assert np.all(np.diff(e) > 0)
    assert e[0] > f


# --- Roofline -----------------------------------------------------------------------------


@settings(deadline=None)
@given(pos, pos, pos)
def test_roofline_never_exceeds_either_bound(intensity, peak, bw):
    r = F.roofline(intensity, peak, bw)
    assert r <= peak * (1 + 1e-12)
    assert r <= bw * intensity * (1 + 1e-12)
    assert r == pytest.approx(min(peak, bw * intensity))


@settings(deadline=None)
@given(pos, pos, pos)
def test_roofline_is_monotone_and_meets_at_the_ridge(intensity, peak, bw):
    assert F.roofline(2 * intensity, peak, bw) >= F.roofline(intensity, peak, bw)
    ridge = F.ridge_point(peak, bw)
    assert F.roofline(ridge, peak, bw) == pytest.approx(peak)
    assert F.roofline(ridge / 2, peak, bw) == pytest.approx(peak / 2)


def test_roofline_arrays_and_attained_fraction():
    i = np.array([0.125, 1, 100])
    r = F.roofline(i, 1e11, 1e10)
    np.testing.assert_allclose(r, [1.25e9, 1e10, 1e11])
    assert F.attained_fraction(5e10, 100, 1e11, 1e10) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="intensity must be"):
        F.roofline(0, 1e11, 1e10)
    with pytest.raises(ValueError, match="bandwidth must be"):
        F.roofline(1, 1e11, -1)
    with pytest.raises(ValueError, match="performance must be"):
        F.attained_fraction(0, 1, 1, 1)


# --- Alpha-beta and all-reduce ------------------------------------------------------------


@settings(deadline=None)
@given(nonneg, st.floats(0, 1, allow_nan=False), pos)
def test_alpha_beta_is_affine_in_n(n, alpha, beta):
    assert F.alpha_beta_time(n, alpha, beta) == pytest.approx(alpha + n / beta)
    assert F.alpha_beta_time(0, alpha, beta) == pytest.approx(alpha)
    assert F.alpha_beta_time(2 * n + 1, alpha, beta) > F.alpha_beta_time(n, alpha, beta)


@settings(deadline=None)
@given(st.floats(1e-9, 1, allow_nan=False), pos)
def test_half_performance_length_attains_half_the_bandwidth(alpha, beta):
    n_half = F.half_performance_length(alpha, beta)
    assert n_half / F.alpha_beta_time(n_half, alpha, beta) == pytest.approx(beta / 2)


@settings(deadline=None)
@given(nonneg, whole_procs, st.floats(0, 1, allow_nan=False), pos)
def test_ring_never_slower_than_gather_broadcast(n, p, alpha, beta):
    ring = F.ring_allreduce_time(n, p, alpha, beta)
    naive = F.naive_allreduce_time(n, p, alpha, beta)
    assert 0 <= ring <= naive * (1 + 1e-12)
    # the ring's bandwidth term never exceeds 2 n / beta, whatever p
    assert F.ring_allreduce_time(n, p, 0, beta) <= 2 * n / beta * (1 + 1e-12)


@settings(deadline=None)
@given(nonneg, whole_procs, st.floats(0, 1, allow_nan=False), pos)
def test_tree_needs_fewer_startups(n, p, alpha, beta):
    tree = F.tree_allreduce_time(n, p, alpha, beta)
    assert tree <= F.naive_allreduce_time(n, p, alpha, beta) * (1 + 1e-12)


def test_collective_limits():
    assert F.ring_allreduce_time(1e9, 1, 1e-6, 1e10) == 0
    assert F.tree_allreduce_time(1e9, 1, 1e-6, 1e10) == 0
    # large messages: ring wins by about p / 2 over the tree... and p over gather-broadcast
    p = 64
    ratio = F.naive_allreduce_time(1e12, p, 1e-6, 1e10) / F.ring_allreduce_time(1e12, p, 1e-6, 1e10)
    assert ratio == pytest.approx(p, rel=1e-3)
    # tiny messages: the tree's log2 p start-ups beat the ring's p - 1
    assert F.tree_allreduce_time(8, p, 1e-6, 1e10) < F.ring_allreduce_time(8, p, 1e-6, 1e10)


def test_collectives_reject_invalid_input():
    with pytest.raises(ValueError, match="p must be a whole number"):
        F.ring_allreduce_time(1, 2.5, 1e-6, 1e9)
    with pytest.raises(ValueError, match="p must be"):
        F.tree_allreduce_time(1, 0, 1e-6, 1e9)
    with pytest.raises(ValueError, match="alpha must be"):
        F.naive_allreduce_time(1, 2, -1, 1e9)
    with pytest.raises(ValueError, match="beta must be"):
        F.alpha_beta_time(1, 0, 0)
    with pytest.raises(ValueError, match="n must be"):
        F.ring_allreduce_time(-1, 2, 0, 1)


# --- Brent ------------------------------------------------------------------------------


@settings(deadline=None)
@given(st.integers(2, 5000), st.integers(1, 5000))
def test_brent_bounds_hold_for_a_tree_reduction(n, p):
    w, d = F.reduction_work_span(n)
    t = F.reduction_steps(n, p)
    assert F.brent_lower(w, d, p) <= t <= F.brent_upper(w, d, p)


@settings(deadline=None)
@given(st.floats(1, 1e9, allow_nan=False), st.floats(0, 1, allow_nan=False), procs)
def test_brent_upper_is_at_most_twice_the_lower(work, share, p):
    depth = max(1.0, share * work)
    lo, hi = F.brent_lower(work, depth, p), F.brent_upper(work, depth, p)
    assert lo <= hi <= 2 * lo * (1 + 1e-12)


def test_reduction_limits():
    assert F.reduction_work_span(1024) == (1023, 10)
    assert F.reduction_work_span(1000) == (999, 10)
    assert F.reduction_steps(1024, 1) == 1023  # one processor does all the work
    assert F.reduction_steps(1024, 512) == 10  # enough processors: the depth
    assert F.reduction_steps(2, 7) == 1
    np.testing.assert_allclose(F.brent_lower(1023, 10, np.array([1, 1024])), [1023, 10])


def test_brent_rejects_invalid_input():
    with pytest.raises(ValueError, match="depth must be <= work"):
        F.brent_upper(10, 20, 2)
    with pytest.raises(ValueError, match="p must be"):
        F.brent_lower(10, 2, 0)
    with pytest.raises(ValueError, match="n must be"):
        F.reduction_work_span(1)
    with pytest.raises(ValueError, match="p must be"):
        F.reduction_steps(10, 0)


# --- AMAT --------------------------------------------------------------------------------


@settings(deadline=None)
@given(pos, frac, nonneg)
def test_amat_between_hit_time_and_hit_plus_penalty(h, m, penalty):
    a = F.amat(h, m, penalty)
    assert h <= a <= h + penalty
    assert F.amat(h, 0, penalty) == h
    assert F.amat(h, 1, penalty) == pytest.approx(h + penalty)


@settings(deadline=None)
@given(pos, frac, pos, frac, nonneg)
def test_two_level_amat_matches_nested_and_general_forms(h1, m1, h2, m2, mem):
    a2 = F.amat2(h1, m1, h2, m2, mem)
    assert a2 == pytest.approx(F.amat(h1, m1, F.amat(h2, m2, mem)))
    assert a2 == pytest.approx(F.amat_multilevel([h1, h2], [m1, m2], mem))
    # a second level can only help when it is faster than going to memory
    if h2 + m2 * mem <= mem:
        assert a2 <= F.amat(h1, m1, mem) * (1 + 1e-12)


def test_amat_monotone_in_miss_rate():
    rates = np.linspace(0, 1, 11)
    assert np.all(np.diff(F.amat(1.0, rates, 100.0)) > 0)


def test_amat_rejects_invalid_input():
    with pytest.raises(ValueError, match="miss_rate must be"):
        F.amat(1, 1.2, 10)
    with pytest.raises(ValueError, match="hit_time must be"):
        F.amat(0, 0.1, 10)
    with pytest.raises(ValueError, match="same length"):
        F.amat_multilevel([1, 2], [0.1], 100)
    with pytest.raises(ValueError, match="miss_rates must be"):
        F.amat_multilevel([1, 2], [0.1, -0.1], 100)
    with pytest.raises(ValueError, match="m2 must be"):
        F.amat2(1, 0.1, 4, 2, 100)


# --- MFU ---------------------------------------------------------------------------------


@settings(deadline=None)
@given(st.floats(1e3, 1e13), st.floats(1e-3, 1e8), st.floats(1e-9, 0.5))
def test_mfu_is_linear_in_throughput_and_halves_against_a_doubled_peak(n, tps, share):
    peak = 6 * n * tps / share  # a peak at which this throughput is a share <= 0.5 of it
    mfu = F.model_flops_utilization(n, tps, peak)
    assert mfu == pytest.approx(share)
    assert F.model_flops_utilization(n, 2 * tps, peak) == pytest.approx(2 * mfu)
    assert F.model_flops_utilization(n, tps, 2 * peak) == pytest.approx(mfu / 2)


def test_flops_per_token_matches_nanogpt():
    n = F.gpt_param_count(12, 768, 50257, 1024)
    L, H, Q, T = 12, 12, 64, 1024
    assert F.transformer_flops_per_token(n, L, H, Q, T) == 6 * n + 12 * L * H * Q * T
    assert F.transformer_flops_per_token(n) == 6 * n


def test_gpt2_small_parameter_count():
    assert F.gpt_param_count(12, 768, 50257, 1024, non_embedding=False) == 124_439_808
    assert F.gpt_param_count(12, 768, 50257, 1024) == 124_439_808 - 1024 * 768
    d = 64
    assert (
        F.gpt_param_count(1, d, 10, 8, bias=False, non_embedding=False)
        == 12 * d * d + 2 * d + 10 * d + 8 * d + d
    )


def test_mfu_above_one_is_refused_not_returned():
    assert F.model_flops_utilization(1e9, 1e4, 6e13) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="MFU must be <= 1, but these inputs give 2"):
        F.model_flops_utilization(1e9, 2e4, 6e13)
    with pytest.raises(ValueError, match="MFU must be <= 1"):
        F.model_flops_utilization(1e9, np.array([1e3, 1e5]), 6e13)


def test_mfu_rejects_invalid_input():
    with pytest.raises(ValueError, match="peak_flops must be"):
        F.model_flops_utilization(1e6, 10, 0)
    with pytest.raises(ValueError, match="tokens_per_s must be"):
        F.model_flops_utilization(1e6, -1, 1e12)
    with pytest.raises(ValueError, match="n_params must be"):
        F.transformer_flops_per_token(0)
    with pytest.raises(ValueError, match="seq_len must be"):
        F.transformer_flops_per_token(1e6, 1, 1, 1, -5)
    with pytest.raises(ValueError, match="n_embd must be"):
        F.gpt_param_count(12, 0, 50257, 1024)


# --- Arrays in, arrays out -----------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.01, 0.99), min_size=1, max_size=20))
def test_vectorized_calls_match_scalar_calls(fs):
    fs = np.array(fs)
    np.testing.assert_allclose(F.amdahl_efficiency(fs, 8), [F.amdahl_efficiency(f, 8) for f in fs])
    np.testing.assert_allclose(F.karp_flatt(1 / fs, 4), [F.karp_flatt(1 / f, 4) for f in fs])
    np.testing.assert_allclose(F.amat(1.0, fs, 50.0), [F.amat(1.0, f, 50.0) for f in fs])


# --- The chapters' live readouts ------------------------------------------------------------


def test_variant_holds_arguments_fixed_and_changes_defaults():
    base = F.FORMULAS["alpha_beta"]
    fitted = F.variant(base, key="fit", title="fit", fixed={"alpha": 1e-5, "beta": 2e9})
    assert [p.name for p in fitted.params] == ["n"] and fitted.title == "fit" and fitted.key == "fit"
    assert fitted(n=2e9) == pytest.approx(1e-5 + 1.0)
    mine = F.variant(base, params={"beta": {"default": 25e9, "label": "β"}})
    assert mine.param("beta").default == 25e9 and mine.param("beta").label == "β"
    assert base.param("beta").default == 1e10  # the registry's record is unchanged
    with pytest.raises(ValueError, match="beta must be"):
        F.variant(base, fixed={"beta": 0})
    with pytest.raises(ValueError, match="alpha must be"):
        F.variant(base, params={"alpha": {"default": -1.0}})
    with pytest.raises(ValueError, match="no parameter"):
        F.variant(base, fixed={"gamma": 1.0})
    with pytest.raises(ValueError, match="at least one parameter"):
        F.variant(base, fixed={"n": 1, "alpha": 0, "beta": 1})


def test_task_time_bound_examples_in_any_consistent_units():
    assert F.task_time_bound(1e9, 1e6, 1e10, 1e10) == pytest.approx(0.1)  # FLOP, bytes, per second
    assert F.task_time_bound(1e6, 1e9, 1e10, 1e10) == pytest.approx(0.1)
    assert F.task_time_bound(1.0, 0.001, 10.0, 10.0) == pytest.approx(0.1)  # GFLOP, GB
    assert F.task_time_bound(0, 0, 1, 1) == 0.0
    assert np.allclose(F.task_time_bound(np.array([1.0, 4.0]), 2.0, 1.0, 1.0), [2.0, 4.0])


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 1e20), st.floats(0, 1e20), st.floats(1e-3, 1e16), st.floats(1e-3, 1e14))
def test_task_time_bound_is_the_larger_limit(f, b, p, beta):
    t = F.task_time_bound(f, b, p, beta)
    assert t >= f / p * (1 - 1e-12) and t >= b / beta * (1 - 1e-12)
    assert t == max(F.compute_time(f, p), F.transfer_time(b, beta)) == pytest.approx(max(f / p, b / beta))


@pytest.mark.parametrize(
    "args, name",
    [
        ((-1, 0, 1, 1), "gflop"),
        ((0, -1, 1, 1), "gbytes"),
        ((0, 0, 0, 1), "peak_gflops"),
        ((0, 0, 1, 0), "bandwidth_gbs"),
        ((float("inf"), 0, 1, 1), "gflop"),
        (("a", 0, 1, 1), "gflop"),
    ],
)
def test_task_time_bound_validates(args, name):
    with pytest.raises(ValueError, match=name):
        F.task_time_bound(*args)


def test_task_time_bound_says_which_ceiling_binds_and_refuses_bad_input():
    # 2 GFLOP on 100 GFLOP/s = 20 ms; 0.024 GB at 20 GB/s = 1.2 ms: compute-bound
    assert F.task_time_bound(2.0, 0.024, 100.0, 20.0) == pytest.approx(0.02)
    assert F.task_time_bound(0.01, 0.24, 100.0, 20.0) == pytest.approx(0.012)
    with pytest.raises(ValueError, match="gflop must be a finite number >= 0; got -2"):
        F.task_time_bound(-2.0, 0.024, 100.0, 20.0)
    with pytest.raises(ValueError, match="bandwidth_gbs must be"):
        F.task_time_bound(2.0, 0.024, 100.0, 0)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 10**6), st.integers(1, 10**6))
def test_reduction_bounds_bracket_the_schedule(n, p):
    work, depth = F.reduction_work_span(n)
    lo, hi = F.reduction_brent_lower(n, p), F.reduction_brent_upper(n, p)
    assert lo == F.brent_lower(work, depth, p) and hi == pytest.approx(F.brent_upper(work, depth, p), **close)
    assert lo <= F.reduction_steps(n, p) <= hi <= 2 * lo


def test_reduction_bounds_refuse_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        F.reduction_brent_upper(1, 4)
    with pytest.raises(ValueError, match="p must be"):
        F.reduction_brent_lower(16, 0.5)


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 1e9), whole_procs, st.floats(0, 1), st.floats(0, 1e-6), st.floats(0, 1e-6))
def test_fitted_run_time_is_the_time_model(n, p, a, b, c):
    # the time model as book/models/fitting.ipynb writes it (its `predict`)
    assert F.fitted_run_time(n, p, a, b, c) == pytest.approx(a + b * n + c * n / p, **close)
    serial = F.fitted_serial_time(n, a, b)
    assert serial <= F.fitted_run_time(n, p, a, b, c) + 1e-15
    assert F.fitted_run_time(n, 1e15, a, b, c) == pytest.approx(serial, rel=1e-6, abs=1e-12)


def test_fitted_run_time_with_one_worker_count_refuses_the_others():
    assert F.fitted_run_time(1e6, 1, 1e-3, 2e-9, 0.0, 1.0) == pytest.approx(1e-3 + 2e-9 * 1e6)
    with pytest.raises(ValueError, match="p must be 1: the model was fitted on that worker count only"):
        F.fitted_run_time(1e6, 2, 1e-3, 2e-9, 0.0, 1.0)
    with pytest.raises(ValueError, match="c must be"):
        F.fitted_run_time(1e6, 2, 1e-3, 2e-9, -1.0)


@settings(max_examples=50, deadline=None)
@given(st.floats(1, 1e9), st.floats(1e-12, 1e-3), st.floats(0, 3), st.floats(0, 1e-3), st.floats(0, 1e-6))
def test_fitted_costs_are_the_algorithms_fits(n, prefactor, exponent, t0, c):
    from computing_change.models.fits import PowerLawFit

    fit = PowerLawFit(exponent, prefactor, 0.0, 1.0, 2.0, 2)
    assert F.power_law_time(n, prefactor, exponent) == pytest.approx(fit.predict(n), **close)
    # chapter 3.4 fits (t0, c) in a cell and draws t0 + c n
    assert F.linear_cost_time(n, t0, c) == pytest.approx(t0 + c * n, **close)


def test_fitted_costs_refuse_bad_input():
    with pytest.raises(ValueError, match="n must be"):
        F.power_law_time(2e12, 1e-9, 2.0)
    with pytest.raises(ValueError, match="exponent must be"):
        F.power_law_time(1e3, 1e-9, 11.0)
    with pytest.raises(ValueError, match="per_item must be"):
        F.linear_cost_time(1e3, 1e-6, -1e-9)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 1024),
    st.floats(1, 1e12),
    st.floats(1e-11, 1e-6),
    st.floats(1e-11, 1e-6),
    st.floats(0, 1e-2),
)
def test_two_pass_scan_speedup_approaches_its_limit(p, n, c_s, c_r, o):
    speedup = F.two_pass_scan_speedup(p, n, c_s, c_r, o)
    limit = F.two_pass_scan_limit(p, c_s, c_r)
    assert speedup <= limit * (1 + 1e-12)
    assert F.two_pass_scan_speedup(p, n, c_s, c_r, 0.0) == pytest.approx(limit, **close)  # no round trips
    assert F.two_pass_scan_speedup(p, n, c_s, c_r, o + 1e-3) <= speedup  # dearer round trips never help


def test_two_pass_scan_limit_and_bad_input():
    assert F.two_pass_scan_limit(1, 1e-9, 1e-9) == 1.0
    assert F.two_pass_scan_limit(8, 1e-9, 1e-9) == pytest.approx(4.0)
    assert F.two_pass_scan_speedup(8, 1e15, 1e-9, 1e-9, 1e-3) == pytest.approx(4.0, rel=1e-6)
    with pytest.raises(ValueError, match="p must be a whole number >= 1; got 2.5"):
        F.two_pass_scan_speedup(2.5, 1e6, 1e-9, 1e-9, 1e-3)
    with pytest.raises(ValueError, match="overhead must be"):
        F.two_pass_scan_speedup(2, 1e6, 1e-9, 1e-9, -1.0)
