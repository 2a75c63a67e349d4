"""Tests of computing_change.stencils: correctness and input checks, never speed."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change import stencils as S

FAST = settings(max_examples=30, deadline=None)


def _image(seed: int, h: int, w: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((h, w))


def _brute_phantom(n: int, table) -> np.ndarray:
    """The phantom by testing every pixel centre against every ellipse."""
    centres = (np.arange(n) + 0.5) * (2.0 / n) - 1.0
    xs, ys = centres[None, :], centres[::-1][:, None]
    img = np.zeros((n, n))
    for value, a, b, x0, y0, phi in table:
        t = math.radians(phi)
        dx, dy = xs - x0, ys - y0
        u = dx * math.cos(t) + dy * math.sin(t)
        v = -dx * math.sin(t) + dy * math.cos(t)
        img += value * ((u / a) ** 2 + (v / b) ** 2 <= 1.0)
    return img


# ---------------------------------------------------------------------------- phantom


@pytest.mark.parametrize("modified", [True, False])
@pytest.mark.parametrize("n", [8, 64, 255, 256, 500])
def test_phantom_matches_a_pixel_by_pixel_test(n, modified):
    table = S.MODIFIED_SHEPP_LOGAN if modified else S.SHEPP_LOGAN
    img = S.phantom(n, modified)
    ref = _brute_phantom(n, table)
    assert img.shape == (n, n) and img.dtype == np.float64
    # the two tests may disagree only for a pixel centre on an ellipse's edge (rounding)
    assert np.count_nonzero(~np.isclose(img, ref, atol=1e-9)) <= max(1, n // 100)


def test_phantom_gray_levels():
    assert set(np.unique(S.phantom(256)).tolist()) == {0.0, 0.1, 0.2, 0.3, 0.4, 1.0}
    original = S.phantom(256, modified=False)
    assert original.max() == pytest.approx(2.0) and original.min() == 0.0
    assert len(S.SHEPP_LOGAN) == len(S.MODIFIED_SHEPP_LOGAN) == 10


def test_phantom_rejects_bad_input():
    for bad in (7, 0, -3, 2.5, "64", None, 1 << 20):
        with pytest.raises(ValueError, match="n must be"):
            S.phantom(bad)
    with pytest.raises(ValueError, match="modified"):
        S.phantom(64, modified="yes")


# ---------------------------------------------------------------------------- kernels


@given(sigma=st.floats(0.05, 20), truncate=st.floats(0.5, 5))
@FAST
def test_gaussian_kernel_is_normalized_and_symmetric(sigma, truncate):
    w = S.gaussian_kernel1d(sigma, truncate)
    radius = S.kernel_radius(sigma, truncate)
    assert w.size == 2 * radius + 1 and radius >= 1
    assert math.isclose(w.sum(), 1.0, rel_tol=1e-12)
    assert np.array_equal(w, w[::-1]) and np.argmax(w) == radius
    k2 = S.gaussian_kernel2d(sigma, truncate)
    assert np.allclose(k2, np.outer(w, w)) and math.isclose(k2.sum(), 1.0, rel_tol=1e-12)


def test_taps_per_pixel():
    k = 2 * S.kernel_radius(2.0) + 1
    assert k == 13
    assert S.taps_per_pixel(2.0, method="direct") == 169
    assert S.taps_per_pixel(2.0) == 26
    with pytest.raises(ValueError, match="method"):
        S.taps_per_pixel(2.0, method="fft")


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), 65, "2", None, True])
def test_sigma_is_validated(bad):
    with pytest.raises(ValueError, match="sigma"):
        S.gaussian_kernel1d(bad)
    with pytest.raises(ValueError, match="sigma"):
        S.gaussian_filter(np.zeros((4, 4)), bad)


def test_truncate_is_validated():
    with pytest.raises(ValueError, match="truncate"):
        S.gaussian_kernel1d(1.0, truncate=0)


def test_sobel_kernels_are_read_only_outer_products():
    assert np.array_equal(S.SOBEL_X, np.outer([1, 2, 1], [-1, 0, 1]))
    assert np.array_equal(S.SOBEL_Y, S.SOBEL_X.T)
    with pytest.raises(ValueError):
        S.SOBEL_X[0, 0] = 5.0


# ---------------------------------------------------------------------------- filters agree


@given(
    seed=st.integers(0, 10_000),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    kh=st.sampled_from([1, 3, 5]),
    kw=st.sampled_from([1, 3, 7]),
)
@FAST
def test_naive_and_vectorized_correlation_agree(seed, h, w, kh, kw):
    img = _image(seed, h, w)
    ker = _image(seed + 1, kh, kw)
    # same taps in the same order: equal to the last bit
    assert np.array_equal(S.correlate_naive(img, ker), S.correlate2d(img, ker))


@given(
    seed=st.integers(0, 10_000), h=st.integers(1, 12), w=st.integers(1, 12), k=st.sampled_from([1, 3, 5, 9])
)
@FAST
def test_naive_and_vectorized_1d_correlation_agree(seed, h, w, k):
    img = _image(seed, h, w)
    weights = np.random.default_rng(seed).standard_normal(k)
    for axis in (0, 1):
        assert np.array_equal(S.correlate1d_naive(img, weights, axis), S.correlate1d(img, weights, axis))


def test_correlation_replicates_edges():
    img = np.full((6, 5), 3.0)
    ker = _image(0, 5, 3)
    # a constant image stays constant, borders included, only if the edge is replicated
    assert np.allclose(S.correlate2d(img, ker), 3.0 * ker.sum(), rtol=1e-12)
    assert np.allclose(S.correlate_naive(img, ker), 3.0 * ker.sum(), rtol=1e-12)
    # explicit: the pixel left of column 0 is column 0 itself
    row = np.array([[1.0, 2.0, 4.0]])
    assert np.array_equal(S.correlate1d(row, [1.0, 0.0, 0.0], axis=1), [[1.0, 1.0, 2.0]])
    assert np.array_equal(S.correlate1d(row, [0.0, 0.0, 1.0], axis=1), [[2.0, 4.0, 4.0]])


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0, 3.3])
def test_gaussian_forms_agree(sigma):
    img = _image(3, 23, 31)
    direct = S.gaussian_filter(img, sigma, method="direct")
    separable = S.gaussian_filter(img, sigma)
    assert np.allclose(direct, separable, rtol=0, atol=1e-12)
    assert np.array_equal(S.gaussian_naive(img, sigma, method="direct"), direct)
    assert np.array_equal(S.gaussian_naive(img, sigma, method="separable"), separable)


def test_gaussian_preserves_constants_and_the_mean_of_periodic_free_interior():
    assert np.allclose(S.gaussian_filter(np.full((9, 9), 0.7), 1.5), 0.7, rtol=1e-12)
    img = np.zeros((41, 41))
    img[20, 20] = 1.0
    out = S.gaussian_filter(img, 2.0)  # an impulse far from the border: the kernel itself
    assert math.isclose(out.sum(), 1.0, rel_tol=1e-12)
    assert np.allclose(out[14:27, 14:27], S.gaussian_kernel2d(2.0), rtol=0, atol=1e-15)


def test_sobel_agrees_and_measures_a_step():
    img = _image(5, 17, 13)
    assert np.allclose(S.sobel_naive(img), S.sobel(img), rtol=0, atol=1e-12)
    assert np.array_equal(S.sobel(np.full((5, 6), 2.5)), np.zeros((5, 6)))
    h = 0.7
    step = np.zeros((8, 10))
    step[:, 5:] = h
    edge = S.sobel(step)
    assert np.allclose(edge[:, [4, 5]], 4 * h)
    assert np.allclose(np.delete(edge, [4, 5], axis=1), 0.0)
    assert np.allclose(S.sobel(step.T), edge.T)


def test_filters_reject_bad_images():
    for bad in ([1.0, 2.0], np.zeros((0, 3)), np.zeros((2, 2, 2)), "image", None, [[1.0, np.nan]]):
        with pytest.raises(ValueError, match="image"):
            S.gaussian_filter(bad, 1.0)
        with pytest.raises(ValueError, match="image"):
            S.sobel(bad)
    with pytest.raises(ValueError, match="at most"):
        S.correlate_naive(np.zeros((600, 600)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="kernel"):
        S.correlate2d(np.zeros((4, 4)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="weights"):
        S.correlate1d(np.zeros((4, 4)), [1.0, 1.0], 0)
    with pytest.raises(ValueError, match="axis"):
        S.correlate1d(np.zeros((4, 4)), [1.0], 2)
    with pytest.raises(ValueError, match="method"):
        S.gaussian_filter(np.zeros((4, 4)), 1.0, method="fft")


# ---------------------------------------------------------------------------- blocking


@given(h=st.integers(1, 60), w=st.integers(1, 60), th=st.integers(1, 70), tw=st.integers(1, 70))
@FAST
def test_tiles_cover_the_image_once(h, w, th, tw):
    count = np.zeros((h, w), dtype=int)
    for r0, r1, c0, c1 in S.tile_bounds((h, w), (th, tw)):
        assert 0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w
        count[r0:r1, c0:c1] += 1
    assert np.all(count == 1)


@given(
    seed=st.integers(0, 1000),
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    th=st.integers(1, 45),
    tw=st.integers(1, 45),
    sigma=st.sampled_from([0.5, 1.0, 2.0]),
)
@FAST
def test_blocked_equals_unblocked_bit_for_bit(seed, h, w, th, tw, sigma):
    img = _image(seed, h, w)
    assert np.array_equal(S.gaussian_blocked(img, sigma, tile=(th, tw)), S.gaussian_filter(img, sigma))
    assert np.array_equal(S.filter_blocked(img, S.sobel, 1, (th, tw)), S.sobel(img))
    r = S.kernel_radius(sigma)
    direct = S.filter_blocked(img, lambda f: S.gaussian_filter(f, sigma, method="direct"), r, (th, tw))
    assert np.array_equal(direct, S.gaussian_filter(img, sigma, method="direct"))


def test_blocked_pipeline_needs_the_sum_of_the_halos():
    img = _image(9, 64, 64)

    def pipeline(f):
        return S.sobel(S.gaussian_filter(f, 2.0))

    ref = pipeline(img)
    assert np.array_equal(S.filter_blocked(img, pipeline, 7, (20, 30)), ref)
    assert not np.array_equal(S.filter_blocked(img, pipeline, 6, (20, 30)), ref)


def test_blocked_with_too_small_a_halo_errs_only_at_the_seams():
    img = _image(1, 60, 60)
    ref = S.gaussian_filter(img, 2.0)
    short = S.filter_blocked(img, lambda f: S.gaussian_filter(f, 2.0), 2, (20, 20))
    wrong = short != ref
    assert wrong.any()
    near = np.zeros_like(wrong)
    for s in (20, 40):
        near[s - 6 : s + 6, :] = True
        near[:, s - 6 : s + 6] = True
    assert not (wrong & ~near).any()


def test_blocked_on_threads_and_into_out():
    img = _image(2, 130, 90)
    out = np.full_like(img, np.nan)
    with ThreadPoolExecutor(max_workers=3) as pool:
        res = S.gaussian_blocked(img, 1.5, tile=(32, 32), executor=pool, out=out)
    assert res is out
    assert np.array_equal(out, S.gaussian_filter(img, 1.5))


def test_filter_blocked_rejects_bad_arguments():
    img = np.zeros((8, 8))
    with pytest.raises(ValueError, match="func"):
        S.filter_blocked(img, "blur", 1)
    with pytest.raises(ValueError, match="halo"):
        S.filter_blocked(img, S.sobel, -1)
    with pytest.raises(ValueError, match="tile"):
        S.filter_blocked(img, S.sobel, 1, (0, 4))
    with pytest.raises(ValueError, match="tile"):
        S.filter_blocked(img, S.sobel, 1, 16)
    with pytest.raises(ValueError, match="executor"):
        S.filter_blocked(img, S.sobel, 1, executor="threads")
    with pytest.raises(ValueError, match="out"):
        S.filter_blocked(img, S.sobel, 1, out=np.zeros((8, 7)))
    with pytest.raises(ValueError, match="func must return"):
        S.filter_blocked(img, lambda f: f[1:], 1, (4, 4))


# ---------------------------------------------------------------------------- heat equation


def test_stability_limit():
    dx = S.grid_spacing(15)
    assert dx == 1 / 16
    dt_max = S.max_stable_dt(2.0, dx)
    assert dt_max == pytest.approx(dx * dx / 8)
    assert S.check_stable(2.0, dt_max, dx) == pytest.approx(0.25)
    assert S.stability_number(2.0, dt_max / 2, dx) == pytest.approx(0.125)
    with pytest.raises(ValueError, match=r"dt must be in \(0, "):
        S.check_stable(2.0, dt_max * 1.01, dx)
    for name, args in (("alpha", (0, 1e-3, 0.1)), ("dt", (1, -1e-3, 0.1)), ("dx", (1, 1e-3, float("nan")))):
        with pytest.raises(ValueError, match=name):
            S.check_stable(*args)


@given(
    seed=st.integers(0, 1000),
    rows=st.integers(3, 30),
    cols=st.integers(3, 30),
    r=st.floats(1e-3, 0.25),
    strip=st.integers(1, 40),
)
@FAST
def test_heat_step_versions_agree(seed, rows, cols, r, strip):
    u = _image(seed, rows, cols)
    vec = S.heat_step(u, r)
    assert np.array_equal(S.heat_step_naive(u, r), vec)
    assert np.array_equal(S.heat_step_blocked(u, r, rows=strip), vec)
    # the boundary is held fixed
    assert np.array_equal(vec[[0, -1], :], u[[0, -1], :]) and np.array_equal(vec[:, [0, -1]], u[:, [0, -1]])
    # the interior follows the 5-point formula
    i, j = rows // 2 if rows > 2 else 1, cols // 2 if cols > 2 else 1
    i, j = min(max(i, 1), rows - 2), min(max(j, 1), cols - 2)
    lap = u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - 4 * u[i, j]
    assert vec[i, j] == pytest.approx(u[i, j] + r * lap, abs=1e-12)


def test_heat_step_blocked_on_threads():
    u = _image(4, 300, 77)
    ref = S.heat_step(u, 0.2)
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert np.array_equal(S.heat_step_blocked(u, 0.2, rows=5, executor=pool), ref)


def test_heat_step_rejects_bad_input():
    u = np.zeros((5, 5))
    with pytest.raises(ValueError, match="r must be"):
        S.heat_step(u, 0.3)
    with pytest.raises(ValueError, match="r must be"):
        S.heat_step_naive(u, 0.0)
    S.heat_step(u, 0.3, allow_unstable=True)  # allowed on request
    with pytest.raises(ValueError, match="u must be"):
        S.heat_step(np.zeros((2, 5)), 0.1)
    with pytest.raises(ValueError, match="u must be"):
        S.heat_step(np.zeros((5, 5), dtype=np.float32), 0.1)
    with pytest.raises(ValueError, match="out must not overlap"):
        S.heat_step(u, 0.1, u)
    with pytest.raises(ValueError, match="out must be"):
        S.heat_step(u, 0.1, np.zeros((5, 4)))
    with pytest.raises(ValueError, match="work must be"):
        S.heat_step(u, 0.1, work=np.zeros((5, 5)))
    with pytest.raises(ValueError, match="rows"):
        S.heat_step_blocked(u, 0.1, rows=0)
    with pytest.raises(ValueError, match="at most"):
        S.heat_step_naive(np.zeros((600, 600)), 0.1)


@pytest.mark.parametrize("k,l", [(1, 1), (2, 1), (3, 3)])
def test_sine_mode_is_an_eigenvector_of_the_step(k, l):  # noqa: E741
    n = 20
    dx = S.grid_spacing(n)
    mode = S.sine_mode(n, k, l)
    assert np.all(mode[[0, -1], :] == 0) and np.all(mode[:, [0, -1]] == 0)
    for r in (0.05, 0.2, 0.25):
        g = S.amplification(r, dx, k, l)
        assert np.allclose(S.heat_step(mode, r), g * mode, rtol=0, atol=1e-14)
    # the checkerboard's factor 1 - 8r decides stability
    assert S.amplification(0.25, 1.0, 1, 1) == pytest.approx(1 - 8 * 0.25)


def test_exact_solution_decays_at_the_right_rate():
    n, alpha, t = 10, 0.7, 0.03
    ratio = S.heat_exact(n, alpha, t) / np.where(S.sine_mode(n) == 0, 1, S.sine_mode(n))
    assert np.allclose(ratio[1:-1, 1:-1], math.exp(-2 * alpha * math.pi**2 * t))
    assert np.array_equal(S.heat_exact(n, alpha, 0.0), S.sine_mode(n))
    with pytest.raises(ValueError, match="t must be"):
        S.heat_exact(n, alpha, -1.0)
    with pytest.raises(ValueError, match="k must be"):
        S.sine_mode(n, 0)


def test_solver_converges_at_second_order():
    alpha, T = 1.0, 0.05
    errors = []
    for n in (16, 32, 64):
        dx = S.grid_spacing(n)
        steps = math.ceil(alpha * T / (0.2 * dx * dx))
        run = S.heat_solve(S.sine_mode(n), alpha, T / steps, dx, steps)
        assert run.t == pytest.approx(T) and run.steps == steps
        exact = S.heat_exact(n, alpha, T)
        errors.append(np.abs(run.u - exact).max() / np.abs(exact).max())
    assert 3.5 < errors[0] / errors[1] < 4.5 and 3.5 < errors[1] / errors[2] < 4.5


def test_solver_methods_agree_and_respect_the_maximum_principle():
    n = 20
    dx = S.grid_spacing(n)
    u0 = S.hot_square(n)
    calls = []
    runs = {
        m: S.heat_solve(u0, 1.0, 0.25 * dx * dx, dx, 30, method=m, record=True, progress=calls.append)
        for m in ("naive", "vectorized", "blocked")
    }
    assert calls == [1] * 90
    assert np.array_equal(runs["naive"].u, runs["vectorized"].u)
    assert np.array_equal(runs["blocked"].u, runs["vectorized"].u)
    hist = runs["vectorized"].max_abs
    assert hist.shape == (31,) and np.all(np.diff(hist) <= 0)
    assert np.array_equal(u0, S.hot_square(n))  # the input was not modified


def test_unstable_run_is_refused_then_blows_up_when_allowed():
    n = 12
    dx = S.grid_spacing(n)
    u0 = np.zeros((n + 2, n + 2))
    u0[1:-1, 1:-1] = np.random.default_rng(0).random((n, n))
    with pytest.raises(ValueError, match="dt must be in"):
        S.heat_solve(u0, 1.0, 0.3 * dx * dx, dx, 10)
    with pytest.raises(S.BlowUpError) as info:
        S.heat_solve(u0, 1.0, 0.3 * dx * dx, dx, 1000, allow_unstable=True)
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert 0 < err.step < 1000 and err.max_abs.shape == (err.step + 1,)
    assert err.max_abs[-1] > 1e6 * err.max_abs[0]


def test_heat_solve_rejects_bad_input():
    n = 6
    dx = S.grid_spacing(n)
    u0 = S.hot_square(n)
    dt = 0.1 * dx * dx
    with pytest.raises(ValueError, match="steps"):
        S.heat_solve(u0, 1.0, dt, dx, -1)
    with pytest.raises(ValueError, match="method"):
        S.heat_solve(u0, 1.0, dt, dx, 1, method="implicit")
    with pytest.raises(ValueError, match="u0"):
        S.heat_solve(np.zeros((2, 2)), 1.0, dt, dx, 1)
    with pytest.raises(ValueError, match="u0"):
        S.heat_solve(np.full((5, 5), np.inf), 1.0, dt, dx, 1)
    with pytest.raises(ValueError, match="blowup"):
        S.heat_solve(u0, 1.0, dt, dx, 1, blowup=1)
    with pytest.raises(ValueError, match="progress"):
        S.heat_solve(u0, 1.0, dt, dx, 1, progress=3)
    with pytest.raises(ValueError, match="width"):
        S.hot_square(8, width=1.0)


def test_counts_per_point():
    assert S.FLOPS_PER_POINT == 6 and S.BYTES_PER_POINT == 16 and S.BYTES_PER_POINT_WRITE_ALLOCATE == 24
    assert S.NUMPY_STREAMS_PER_POINT * 8 > S.BYTES_PER_POINT
