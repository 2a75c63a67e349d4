"""Tests of computing_change.fitting: the kernels compute the right results, the fits recover
known parameters from synthetic data, and bad input gives a ValueError naming the parameter.
No test asserts on speed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change import fitting as fit
from computing_change import formulas as F
from computing_change.distributed import fit_alpha_beta
from computing_change.parallel import fit_serial_fraction, process_pool

# --- The Monte Carlo kernel ---------------------------------------------------------------


def test_plan_pi_splits_all_points():
    work = fit.plan_pi(100_003, serial_fraction=0.1, n_blocks=7)
    assert work.serial_points + sum(size for _, size in work.blocks) == 100_003
    assert work.serial_points == 10_000
    sizes = [size for _, size in work.blocks]
    assert max(sizes) - min(sizes) <= 1


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 12))
def test_run_pi_count_does_not_depend_on_the_worker_count(workers):
    work = fit.plan_pi(60_000, serial_fraction=0.05, n_blocks=12)
    assert fit.run_pi(work, workers) == fit.run_pi(work, 1)


def test_run_pi_in_a_process_pool_matches_the_serial_run():
    work = fit.plan_pi(200_000, serial_fraction=0.05, n_blocks=12)
    reference = fit.run_pi(work, 1)
    with process_pool(2) as pool:
        assert fit.run_pi(work, 2, pool) == reference
    assert abs(work.estimate(reference) - np.pi) < 0.02


def test_pi_kernel_validation():
    with pytest.raises(ValueError, match="serial_fraction must be"):
        fit.plan_pi(1000, serial_fraction=1.0)
    with pytest.raises(ValueError, match="n must be >= n_blocks"):
        fit.plan_pi(10, n_blocks=120)
    with pytest.raises(ValueError, match="workers must be"):
        fit.run_pi(fit.plan_pi(1000, n_blocks=4), 5)
    with pytest.raises(ValueError, match="work must be"):
        fit.run_pi("job", 1)
    with pytest.raises(ValueError, match="size must be"):
        fit.count_in_circle([(0, -1)])
    assert fit.pi_rate(0.005) > 0


# --- Fitting Amdahl ---------------------------------------------------------------------


@settings(deadline=None, max_examples=25)
@given(st.floats(0, 1), st.lists(st.integers(2, 256), min_size=1, max_size=8, unique=True))
def test_bootstrap_recovers_f_from_exact_times(f, ps):
    p = np.array([1, *ps])
    times = [np.full(3, 1.0 / F.amdahl_speedup(f, q)) for q in p]
    res = fit.bootstrap_amdahl(p, times, n_boot=100)
    assert res.f == pytest.approx(f, abs=1e-9)
    assert res.stderr == pytest.approx(0, abs=1e-9)


def test_fitted_f_is_a_weighted_mean_of_karp_flatt_values():
    p = np.array([1, 2, 4, 8])
    times = [np.array([t]) for t in (1.0, 1 / 1.8, 1 / 3.1, 1 / 4.4)]
    res = fit.bootstrap_amdahl(p, times, n_boot=100)
    e = np.array(res.karp_flatt[1:])
    w = (1 - 1 / p[1:]) ** 2
    assert res.f == pytest.approx(np.sum(w * e) / np.sum(w))
    assert res.f == pytest.approx(fit_serial_fraction(p, res.speedup))


def test_bootstrap_amdahl_on_synthetic_noisy_times():
    rng = np.random.default_rng(1)
    f_true, t1 = 0.08, 2.0
    p = np.array([1, 2, 4, 8])
    times = [t1 * F.amdahl_speedup(f_true, q) ** -1 * rng.lognormal(0, 0.02, 9) for q in p]
    res = fit.bootstrap_amdahl(p, times, n_boot=400)
    assert res.ci_low <= res.f <= res.ci_high
    assert res.f == pytest.approx(f_true, abs=0.02)
    assert 0 < res.stderr < 0.05
    assert np.isnan(res.karp_flatt[0]) and len(res.karp_flatt) == 4
    assert "f = " in str(res)


def test_bootstrap_amdahl_validation():
    with pytest.raises(ValueError, match="p must include 1"):
        fit.bootstrap_amdahl([2, 4], [[1.0], [0.5]])
    with pytest.raises(ValueError, match="one sequence per worker count"):
        fit.bootstrap_amdahl([1, 2], [[1.0]])
    with pytest.raises(ValueError, match="n_boot must be"):
        fit.bootstrap_amdahl([1, 2], [[1.0], [0.6]], n_boot=5)
    with pytest.raises(ValueError, match="times must be"):
        fit.bootstrap_amdahl([1, 2], [[1.0], [-0.6]])


# --- The time model -----------------------------------------------------------------------


def test_nnls_small_matches_unconstrained_when_feasible_and_clips_otherwise():
    rng = np.random.default_rng(0)
    A = rng.random((20, 3))
    x_true = np.array([0.5, 2.0, 1.0])
    np.testing.assert_allclose(fit.nnls_small(A, A @ x_true), x_true, atol=1e-10)
    x = fit.nnls_small(A, A @ np.array([1.0, -1.0, 2.0]))
    assert np.all(x >= 0)
    with pytest.raises(ValueError, match="as many rows"):
        fit.nnls_small(A, np.ones(3))


@settings(deadline=None)
@given(
    st.floats(0, 0.1),
    st.floats(0, 1e-6),
    st.floats(1e-8, 1e-6),
    st.lists(st.integers(1, 16), min_size=2, max_size=4),
)
def test_fit_time_model_recovers_exact_parameters(a, b, c, ps):
    n = np.array([1e5, 2e5, 4e5] * len(ps), dtype=float)
    p = np.repeat(ps, 3).astype(float)
    t = a + b * n + c * n / p
    model = fit.fit_time_model(n, p, t)
    q = 3 if len(set(ps)) > 1 else ps[0]
    assert model.predict(8e5, q) == pytest.approx(a + b * 8e5 + c * 8e5 / q, rel=1e-6)
    if len(set(ps)) > 1:
        assert model.separable
        assert model.serial_fraction(1e6) == pytest.approx(
            (a + b * 1e6) / (a + (b + c) * 1e6), rel=1e-5, abs=1e-9
        )


def test_fit_time_model_with_one_worker_count_says_so():
    n = np.array([1e5, 2e5, 4e5])
    model = fit.fit_time_model(n, np.ones(3), 0.01 + 1e-7 * n)
    assert not model.separable
    assert model.predict(1e6, 1) == pytest.approx(0.01 + 0.1)
    with pytest.raises(ValueError, match="p must be 1"):
        model.predict(1e6, 2)
    with pytest.raises(ValueError, match="more than one worker count"):
        model.serial_fraction(1e6)
    with pytest.raises(ValueError, match="two distinct sizes"):
        fit.fit_time_model([1, 1], [1, 2], [1, 1])


# --- Alpha-beta -----------------------------------------------------------------------------


@settings(deadline=None)
@given(st.floats(1e-7, 1e-3), st.floats(1e7, 1e11))
def test_distributed_fit_alpha_beta_recovers_the_formulas_parameters(alpha, beta):
    n = np.geomspace(1, 1 << 24, 12)
    a, b = fit_alpha_beta(n, F.alpha_beta_time(n, alpha, beta))
    assert a == pytest.approx(alpha, rel=1e-6)
    assert b == pytest.approx(beta, rel=1e-6)
    assert F.half_performance_length(a, b) == pytest.approx(alpha * beta, rel=1e-6)


def test_pingpong_returns_positive_times_and_stops_its_child():
    import multiprocessing

    before = len(multiprocessing.active_children())
    out = fit.pingpong([1, 4096], repeat=3, warmup=1)
    assert set(out) == {1, 4096}
    assert all(np.all(v > 0) for v in out.values())
    assert len(multiprocessing.active_children()) == before
    with pytest.raises(ValueError, match="size must be"):
        fit.pingpong([0])


# --- Roofline kernels -----------------------------------------------------------------------


def test_kernels_compute_correct_results_and_counts():
    dot, mm, st_ = fit.dot_kernel(1000), fit.matmul_kernel(32), fit.stencil_kernel(50)
    assert dot.verify() and mm.verify() and st_.verify()
    assert dot.intensity == pytest.approx(1 / 8)
    assert mm.intensity == pytest.approx(32 / 12)
    assert st_.flops == 4 * 48 * 48


def test_jacobi_step_matches_a_loop():
    rng = np.random.default_rng(0)
    u = rng.random((6, 7))
    out = fit.jacobi_step(u, np.zeros_like(u))
    for i in range(1, 5):
        for j in range(1, 6):
            assert out[i, j] == pytest.approx((u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1]) / 4)
    with pytest.raises(ValueError, match="same shape"):
        fit.jacobi_step(u, np.zeros((6, 6)))


def test_measure_kernels_places_points_on_the_roofline():
    pts = fit.measure_kernels(
        [fit.dot_kernel(4096), fit.matmul_kernel(48)], peak=1e10, bandwidth=1e10, repeat=2
    )
    assert [p.limit for p in pts] == ["memory", "compute"]
    for p in pts:
        assert p.fraction == pytest.approx(p.performance / p.bound)
        assert p.bound == pytest.approx(F.roofline(p.intensity, 1e10, 1e10))
        assert set(p.as_dict()) >= {"name", "fraction_of_bound"}
    with pytest.raises(ValueError, match="peak must be"):
        fit.measure_kernels([], peak=0, bandwidth=1)


def test_kernel_roof_picks_the_smallest_level_that_holds_the_data():
    roofs = {"L3": (32 << 20, 5e10), "L2": (1 << 20, 2e11)}
    assert fit.kernel_roof(1e5, 1e10, roofs) == ("L2", 2e11)
    assert fit.kernel_roof(1 << 20, 1e10, roofs) == ("L2", 2e11)
    assert fit.kernel_roof(2e6, 1e10, roofs) == ("L3", 5e10)
    assert fit.kernel_roof(1e9, 1e10, roofs) == ("memory", 1e10)
    assert fit.kernel_roof(1e5, 1e10) == ("memory", 1e10)
    with pytest.raises(ValueError, match="L2 bandwidth"):
        fit.kernel_roof(1e5, 1e10, {"L2": (1 << 20, 0)})
    with pytest.raises(ValueError, match="nbytes"):
        fit.kernel_roof(0, 1e10, roofs)


def test_level_roofs_merges_a_level_that_memory_cannot_be_told_from():
    caches = {"L1d": 48 << 10, "L2": 2 << 20, "L3": 480 << 20}
    measured = {"L2": 2e11, "L3": 1.05e10}.get
    assert fit.level_roofs(1e10, caches, measured) == {"L2": (480 << 20, 2e11)}
    good = {"L2": 2e11, "L3": 6e10}.get
    assert fit.level_roofs(1e10, caches, good) == {"L2": (2 << 20, 2e11), "L3": (480 << 20, 6e10)}
    assert fit.level_roofs(1e10, {"L1d": 32 << 10}, good) == {}
    with pytest.raises(ValueError, match="measure must be"):
        fit.level_roofs(1e10, caches, None)


def test_measure_kernels_places_each_kernel_under_the_roof_of_its_level():
    roofs = {"L2": (1 << 20, 1e11)}
    small, big = fit.dot_kernel(1000), fit.dot_kernel(200_000)  # 16 kB and 3.2 MB
    pts = fit.measure_kernels([small, big], peak=1e12, bandwidth=1e10, repeat=2, cache_roofs=roofs)
    assert [p.roof for p in pts] == ["L2", "memory"]
    assert pts[0].bound == pytest.approx(1e11 / 8) and pts[1].bound == pytest.approx(1e10 / 8)
    assert pts[0].as_dict()["bandwidth_roof"] == "L2"
    again = fit.reposition(pts, peak=1e12, bandwidth=2e10)  # no cache roofs: both under memory
    assert [p.roof for p in again] == ["memory", "memory"]
    for old, new in zip(pts, again, strict=True):
        assert new.performance == old.performance and new.seconds == old.seconds
        assert new.fraction == pytest.approx(new.performance / (2e10 / 8))
    with pytest.raises(ValueError, match="KernelPoint"):
        fit.reposition([1.0], peak=1, bandwidth=1)


def test_stream_items_is_the_memory_roof_size_within_limits():
    n = fit.stream_items()
    assert 1 << 16 <= n <= (128 << 20) // 8
    assert fit.course_kernels()[0].name == f"dot n={n:,}"


def test_course_kernels_are_correct():
    ks = fit.course_kernels(memory_bytes=1 << 16)
    assert len(ks) == 5
    assert all(k.verify() for k in ks)


# --- Demos ------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.integers(1, 50))
def test_ring_allreduce_sums_and_sends_what_the_model_says(p, n):
    rng = np.random.default_rng(p * 100 + n)
    arrays = [rng.integers(-1000, 1000, n) for _ in range(p)]
    results, steps, sent = fit.simulate_ring_allreduce(arrays)
    total = np.sum(arrays, axis=0)
    for r in results:
        np.testing.assert_array_equal(r, total)
    assert steps == 2 * (p - 1)
    if n % p == 0:  # every chunk n/p: each worker sends 2 (p-1) n/p elements
        assert np.all(sent == 2 * (p - 1) * (n // p) * 8)


def test_ring_allreduce_validation():
    with pytest.raises(ValueError, match="at least one array"):
        fit.simulate_ring_allreduce([])
    with pytest.raises(ValueError, match="same length"):
        fit.simulate_ring_allreduce([np.ones(3), np.ones(4)])


def test_mlp_step_counts_six_n_flops_and_its_gradient_is_right():
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    w1, w2 = rng.standard_normal((4, 6)), rng.standard_normal((6, 3))
    loss, (g1, g2, gx), flops = fit.mlp_train_step(x, w1, w2, t)
    assert flops == 6 * (w1.size + w2.size) * len(x)
    eps = 1e-6
    for w, g, (i, j) in ((w1, g1, (2, 3)), (w2, g2, (1, 2))):
        w[i, j] += eps
        up = fit.mlp_train_step(x, w1, w2, t)[0]
        w[i, j] -= 2 * eps
        down = fit.mlp_train_step(x, w1, w2, t)[0]
        w[i, j] += eps
        assert (up - down) / (2 * eps) == pytest.approx(g[i, j], rel=1e-5, abs=1e-8)
    assert gx.shape == x.shape
    with pytest.raises(ValueError, match="do not chain"):
        fit.mlp_train_step(x, w2, w1, t)


# --- Plots ----------------------------------------------------------------------------------


def test_plots_draw_without_error():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3)
    pt = fit.KernelPoint("k", 1, 1, 1, 0.5, 1e9, 2e9, 0.5, "memory")
    fit.plot_roofline(axes[0], 1e11, 1e10, [pt])
    fig2, ax2 = plt.subplots()
    fit.plot_roofline(ax2, 1e11, 1e10, [pt], cache_roofs={"L2": 1e11})
    assert any(line.get_label().startswith("L2 roof") for line in ax2.lines)
    plt.close(fig2)
    fit.plot_allreduce(axes[1], 8, 1e-6, 1e10, n_mark=1e6)
    fit.plot_brent(axes[2], 1000, 64, p_mark=8)
    assert len(axes[0].lines) >= 2 and len(axes[1].lines) >= 3 and len(axes[2].lines) >= 3
    plt.close(fig)
    with pytest.raises(ValueError, match="imax must be"):
        fit.plot_roofline(axes[0], 1e11, 1e10, imin=2, imax=1)


def test_widget_views_draw_and_refuse_bad_input(capsys):
    import matplotlib

    matplotlib.use("Agg")
    pt = fit.KernelPoint("k", 1, 1, 1, 0.5, 1e9, 2e9, 0.5, "memory")

    def said(view, *args):
        assert view(*args) is None
        return capsys.readouterr().out

    assert "memory-bound" in said(fit.roofline_view, 100, 10, 1.0, [pt])
    assert "compute-bound" in said(fit.roofline_view, 100, 10, 100.0, [pt])
    assert "fastest: ring" in said(fit.allreduce_view, 1e9, 8, 5, 25)
    assert "fastest: binomial tree" in said(fit.allreduce_view, 8, 64, 5, 25)
    assert "<= T_p =" in said(fit.brent_view, 1024, 8)
    assert said(fit.roofline_view, -1, 10, 1.0).startswith("⚠ peak_gflops must be")
    assert said(fit.allreduce_view, 1e6, 0, 5, 25).startswith("⚠ p must be")
    assert said(fit.brent_view, 1, 8).startswith("⚠ n must be")
