"""Tests of chapter 6.4, medical imaging: correctness, never speed.

Two kinds of code are tested here. The phantom, which the chapter imports from
:mod:`computing_change.lessons.medical`, is imported as usual. The filters the chapter
teaches are written in its own cells, and are tested from there: :func:`page` compiles the
definitions that ``book/applications/medical.ipynb`` makes, from the page's source, so these
tests check the code a reader sees and runs.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change.core.notebook import page_code
from computing_change.lessons import medical as S

PAGE = Path(__file__).resolve().parents[1] / "book" / "applications" / "medical.ipynb"
#: What the chapter defines in its cells and these tests check: functions, and the Sobel kernel.
PAGE_NAMES = (
    "gaussian_weights",
    "SOBEL_X",
    "correlate_loops",
    "gaussian_loops",
    "sobel_loops",
    "correlate",
    "gaussian_filter",
    "sobel",
    "tiles",
    "filter_blocked",
)

FAST = settings(max_examples=30, deadline=None)


def page() -> SimpleNamespace:
    """The names of :data:`PAGE_NAMES`, compiled from the chapter's code cells
    (:func:`computing_change.core.notebook.page_code`) with the ``np`` and ``math`` the setup
    cell imports."""
    return page_code(PAGE, PAGE_NAMES, {"np": np, "math": math})


P = page()


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


@given(sigma=st.floats(0.05, 20))
@FAST
def test_gaussian_weights_are_normalized_symmetric_and_cut_at_three_sigma(sigma):
    w = P.gaussian_weights(sigma)
    radius = max(1, int(3 * sigma + 0.5))
    assert w.size == 2 * radius + 1
    assert math.isclose(w.sum(), 1.0, rel_tol=1e-12)
    assert np.array_equal(w, w[::-1]) and np.argmax(w) == radius
    # neighbouring weights in the ratio of the Gaussian: w_1 / w_0 = exp(-1 / 2 sigma^2)
    assert math.isclose(w[radius + 1] / w[radius], math.exp(-0.5 / sigma**2), rel_tol=1e-9)


def test_sobel_kernel_is_smoothing_times_difference():
    assert np.array_equal(P.SOBEL_X, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])


# ---------------------------------------------------------------------------- loops and slices agree


@given(
    seed=st.integers(0, 10_000),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    kh=st.sampled_from([1, 3, 5]),
    kw=st.sampled_from([1, 3, 7]),
)
@FAST
def test_slices_and_loops_correlate_alike(seed, h, w, kh, kw):
    img = _image(seed, h, w)
    ker = _image(seed + 1, kh, kw)
    # the same taps added in the same order: equal to the last bit
    assert np.array_equal(P.correlate(img, ker), P.correlate_loops(img, ker))


def test_correlation_replicates_edges():
    img = np.full((6, 5), 3.0)
    ker = _image(0, 5, 3)
    # a constant image stays constant, borders included, only if the edge is replicated
    for correlate in (P.correlate, P.correlate_loops):
        assert np.allclose(correlate(img, ker), 3.0 * ker.sum(), rtol=1e-12)
        # explicit: the pixel left of column 0 is column 0 itself, right of the last the last
        row = np.array([[1.0, 2.0, 4.0]])
        assert np.array_equal(correlate(row, np.array([[1.0, 0.0, 0.0]])), [[1.0, 1.0, 2.0]])
        assert np.array_equal(correlate(row, np.array([[0.0, 0.0, 1.0]])), [[2.0, 4.0, 4.0]])
        col = np.array([[1.0], [0.0], [0.0]])
        assert np.array_equal(correlate(row.T, col), [[1.0], [1.0], [2.0]])


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0, 3.3])
def test_gaussian_forms_agree(sigma):
    img = _image(3, 23, 31)
    direct = P.gaussian_filter(img, sigma, method="direct")
    separable = P.gaussian_filter(img, sigma)
    assert np.allclose(direct, separable, rtol=0, atol=1e-12)
    assert not np.array_equal(direct, img)
    assert np.array_equal(P.gaussian_loops(img, sigma, method="direct"), direct)
    assert np.array_equal(P.gaussian_loops(img, sigma), separable)


def test_gaussian_preserves_constants_and_spreads_an_impulse_into_its_kernel():
    assert np.allclose(P.gaussian_filter(np.full((9, 9), 0.7), 1.5), 0.7, rtol=1e-12)
    img = np.zeros((41, 41))
    img[20, 20] = 1.0
    w = P.gaussian_weights(2.0)
    for method in ("separable", "direct"):
        out = P.gaussian_filter(img, 2.0, method=method)  # far from the border: the kernel itself
        assert math.isclose(out.sum(), 1.0, rel_tol=1e-12)
        assert np.allclose(out[14:27, 14:27], np.outer(w, w), rtol=0, atol=1e-15)


def test_sobel_agrees_with_its_loops_and_measures_a_step():
    img = _image(5, 17, 13)
    assert np.allclose(P.sobel_loops(img), P.sobel(img), rtol=0, atol=1e-12)
    for sobel in (P.sobel, P.sobel_loops):
        assert np.array_equal(sobel(np.full((5, 6), 2.5)), np.zeros((5, 6)))
    h = 0.7
    step = np.zeros((8, 10))
    step[:, 5:] = h
    edge = P.sobel(step)
    assert np.allclose(edge[:, [4, 5]], 4 * h)
    assert np.allclose(np.delete(edge, [4, 5], axis=1), 0.0)
    assert np.allclose(P.sobel(step.T), edge.T)
    # a ramp rising by 1 per pixel: (1 + 2 + 1) x (f[j+1] - f[j-1]) = 8 inside, 4 at the replicated edge
    ramp = np.tile(np.arange(7.0), (5, 1))
    for g in (P.sobel(ramp), P.sobel(ramp.T).T):
        assert np.allclose(g[:, 1:-1], 8.0) and np.allclose(g[:, [0, -1]], 4.0)


# ---------------------------------------------------------------------------- blocking


@given(h=st.integers(1, 60), w=st.integers(1, 60), th=st.integers(1, 70), tw=st.integers(1, 70))
@FAST
def test_tiles_cover_the_image_once(h, w, th, tw):
    count = np.zeros((h, w), dtype=int)
    for r0, r1, c0, c1 in P.tiles((h, w), (th, tw)):
        assert 0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w
        count[r0:r1, c0:c1] += 1
    assert np.all(count == 1)


def _radius(sigma: float) -> int:
    return P.gaussian_weights(sigma).size // 2


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
    r = _radius(sigma)
    blocked = P.filter_blocked(img, lambda f: P.gaussian_filter(f, sigma), r, (th, tw))
    assert np.array_equal(blocked, P.gaussian_filter(img, sigma))
    assert np.array_equal(P.filter_blocked(img, P.sobel, 1, (th, tw)), P.sobel(img))
    direct = P.filter_blocked(img, lambda f: P.gaussian_filter(f, sigma, method="direct"), r, (th, tw))
    assert np.array_equal(direct, P.gaussian_filter(img, sigma, method="direct"))


@pytest.mark.parametrize("tile", [(1, 1), (7, 5), (32, 32), (50, 70), (200, 200)])
def test_blocked_on_threads_equals_serial_and_fills_out(tile):
    img = _image(2, 130, 90)
    ref = P.gaussian_filter(img, 1.5)

    def blur(f):
        return P.gaussian_filter(f, 1.5)

    out = np.full_like(img, np.nan)
    with ThreadPoolExecutor(max_workers=3) as pool:
        res = P.filter_blocked(img, blur, _radius(1.5), tile, executor=pool, out=out)
    assert res is out
    assert np.array_equal(out, ref)
    assert np.array_equal(P.filter_blocked(img, blur, _radius(1.5), tile), ref)


def test_blocked_pipeline_needs_the_sum_of_the_halos():
    img = _image(9, 64, 64)

    def pipeline(f):
        return P.sobel(P.gaussian_filter(f, 2.0))

    ref = pipeline(img)
    assert _radius(2.0) == 6
    assert np.array_equal(P.filter_blocked(img, pipeline, 7, (20, 30)), ref)
    assert not np.array_equal(P.filter_blocked(img, pipeline, 6, (20, 30)), ref)


def test_blocked_with_too_small_a_halo_errs_only_at_the_seams():
    img = _image(1, 60, 60)
    ref = P.gaussian_filter(img, 2.0)
    short = P.filter_blocked(img, lambda f: P.gaussian_filter(f, 2.0), 2, (20, 20))
    wrong = short != ref
    assert wrong.any()
    near = np.zeros_like(wrong)
    for s in (20, 40):
        near[s - 6 : s + 6, :] = True
        near[:, s - 6 : s + 6] = True
    assert not (wrong & ~near).any()
