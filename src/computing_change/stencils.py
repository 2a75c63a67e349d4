r"""Stencil kernels of chapter 6: filtering a medical image (医疗领域) and the heat equation
(科学计算).

A *stencil* computes every point of a grid from a small, fixed neighbourhood of points of
another grid. Image filters and explicit finite-difference solvers are both stencils, and
both are limited less by arithmetic than by how often each value is carried between
memory and the processor. This module gives each kernel in three forms, so the chapter can
time them against each other and check that they agree:

* **naive**: pure Python loops over the pixels (on Python lists, the fastest pure-Python
  form). Clear, and a few hundred times slower; limited to small inputs.
* **vectorized**: NumPy *shifted-slice sums*. A stencil tap at offset :math:`(d_i, d_j)` is
  the whole array shifted by that offset, so one multiply-add over two slices applies that
  tap to every pixel at once.
* **blocked**: the vectorized kernel applied tile by tile, each tile read with a *halo*
  (the border of neighbours its stencil needs), so the data of one tile stay in cache
  across all the taps. Optionally the tiles run on a thread pool: NumPy releases the GIL.

Medical imaging (:func:`phantom`, :func:`gaussian_filter`, :func:`sobel`,
:func:`filter_blocked`): a synthetic head phantom made of ellipses (Shepp & Logan, 1974),
blurred with a Gaussian (separable: a :math:`k \times k` kernel applied as two 1-D passes,
:math:`2k` instead of :math:`k^2` multiply-adds per pixel) and edge-detected with the Sobel
operator. Every filter replicates the edge pixels outward (``np.pad(mode="edge")``), and
all three forms do so identically, so their results agree on the borders too.

Scientific computing (:func:`heat_step`, :func:`heat_solve`): the 2-D heat equation
:math:`u_t = \alpha\,(u_{xx} + u_{yy})` on the unit square with :math:`u = 0` on the
boundary, advanced by the explicit (forward-time, centred-space) scheme

.. math:: u^{n+1}_{ij} = u^n_{ij} + r\,(u^n_{i-1,j} + u^n_{i+1,j} + u^n_{i,j-1} + u^n_{i,j+1}
          - 4u^n_{ij}), \qquad r = \frac{\alpha\,\Delta t}{\Delta x^2},

which is stable only for :math:`r \le 1/4` (LeVeque, 2007). The solver refuses a larger
:math:`\Delta t` with a ``ValueError`` naming it, unless asked explicitly to run unstably
(to show what happens), in which case it stops with :class:`BlowUpError` once the
solution has grown a millionfold.

Every function validates its input and raises ``ValueError`` naming the parameter and the
allowed range. Nothing here asserts a speed: timings live in the notebooks and in
``benchmarks/stencils.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from ._validate import check, check_int

__all__ = [
    "SHEPP_LOGAN",
    "MODIFIED_SHEPP_LOGAN",
    "phantom",
    "NAIVE_MAX_PIXELS",
    "gaussian_kernel1d",
    "gaussian_kernel2d",
    "kernel_radius",
    "taps_per_pixel",
    "SOBEL_X",
    "SOBEL_Y",
    "correlate_naive",
    "correlate1d_naive",
    "correlate1d",
    "correlate2d",
    "gaussian_naive",
    "gaussian_filter",
    "sobel_naive",
    "sobel",
    "tile_bounds",
    "filter_blocked",
    "gaussian_blocked",
    "FLOPS_PER_POINT",
    "BYTES_PER_POINT",
    "BYTES_PER_POINT_WRITE_ALLOCATE",
    "NUMPY_STREAMS_PER_POINT",
    "stability_number",
    "max_stable_dt",
    "check_stable",
    "grid_spacing",
    "sine_mode",
    "heat_exact",
    "amplification",
    "hot_square",
    "heat_step_naive",
    "heat_step",
    "heat_step_blocked",
    "BlowUpError",
    "HeatResult",
    "heat_solve",
]

# ======================================================================================
# The phantom
# ======================================================================================

#: The ten ellipses of the Shepp-Logan head phantom (Shepp & Logan, 1974), as rows
#: ``(intensity, semi-axis a, semi-axis b, centre x0, centre y0, angle in degrees)`` on the
#: square :math:`[-1, 1]^2`. Intensities add where ellipses overlap. These are the original
#: gray levels: the skull is 2 and the brain's features differ by 1-2 %.
SHEPP_LOGAN: tuple[tuple[float, ...], ...] = (
    (2.00, 0.6900, 0.9200, 0.00, 0.0000, 0.0),
    (-0.98, 0.6624, 0.8740, 0.00, -0.0184, 0.0),
    (-0.02, 0.1100, 0.3100, 0.22, 0.0000, -18.0),
    (-0.02, 0.1600, 0.4100, -0.22, 0.0000, 18.0),
    (0.01, 0.2100, 0.2500, 0.00, 0.3500, 0.0),
    (0.01, 0.0460, 0.0460, 0.00, 0.1000, 0.0),
    (0.01, 0.0460, 0.0460, 0.00, -0.1000, 0.0),
    (0.01, 0.0460, 0.0230, -0.08, -0.6050, 0.0),
    (0.01, 0.0230, 0.0230, 0.00, -0.6060, 0.0),
    (0.01, 0.0230, 0.0460, 0.06, -0.6050, 0.0),
)

#: The same ellipses with the higher-contrast intensities that image-processing software
#: uses for display (skull 1, brain 0.2, ventricles 0, small features 0.3-0.4).
MODIFIED_SHEPP_LOGAN: tuple[tuple[float, ...], ...] = tuple(
    (a,) + row[1:]
    for a, row in zip((1.0, -0.8, -0.2, -0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1), SHEPP_LOGAN, strict=True)
)


def phantom(n: int, modified: bool = True) -> np.ndarray:
    """The Shepp-Logan head phantom as an ``n x n`` float64 image.

    Pixel centres cover :math:`[-1, 1]^2`; row 0 is the top (:math:`y = 1`), column 0 the
    left (:math:`x = -1`). A pixel belongs to an ellipse when its centre lies inside it
    (no anti-aliasing), so the image has sharp edges: good material for an edge filter.

    Parameters
    ----------
    n : int in [8, 16384]
        Side of the image in pixels.
    modified : bool
        True: :data:`MODIFIED_SHEPP_LOGAN` (values in [0, 1]); False: the original
        :data:`SHEPP_LOGAN` gray levels.
    """
    n = check_int("n", n, 8, 16384)
    if not isinstance(modified, (bool, np.bool_)):
        raise ValueError(f"modified must be True or False; got {modified!r}")
    table = MODIFIED_SHEPP_LOGAN if modified else SHEPP_LOGAN
    img = np.zeros((n, n))
    step = 2.0 / n
    ys = 1.0 - (np.arange(n) + 0.5) * step  # row centres, top to bottom
    for value, a, b, x0, y0, phi in table:
        # Row by row, an ellipse covers one interval of x: the roots of a quadratic in
        # dx = x - x0. Solving it per row costs O(n) per ellipse instead of O(n^2).
        c, s = math.cos(math.radians(phi)), math.sin(math.radians(phi))
        qa = (c / a) ** 2 + (s / b) ** 2
        dy = ys - y0
        qb = 2.0 * dy * c * s * (1.0 / a**2 - 1.0 / b**2)
        qc = dy**2 * ((s / a) ** 2 + (c / b) ** 2) - 1.0
        disc = qb * qb - 4.0 * qa * qc
        rows = np.nonzero(disc >= 0)[0]
        root = np.sqrt(disc[rows])
        lo = x0 + (-qb[rows] - root) / (2.0 * qa)
        hi = x0 + (-qb[rows] + root) / (2.0 * qa)
        # Columns whose centre x_j = -1 + (j + 1/2) * step lies in [lo, hi].
        j0 = np.maximum(np.ceil((lo + 1.0) / step - 0.5), 0).astype(np.int64)
        j1 = np.minimum(np.floor((hi + 1.0) / step - 0.5), n - 1).astype(np.int64) + 1
        for i, c0, c1 in zip(rows.tolist(), j0.tolist(), j1.tolist(), strict=True):
            if c1 > c0:
                img[i, c0:c1] += value
    # Sums such as 1 - 0.8 - 0.2 leave rounding residue (-5.6e-17); the gray levels have
    # two decimals, so round it away (and turn -0.0 into 0.0).
    np.round(img, 12, out=img)
    img += 0.0
    return img


# ======================================================================================
# Filters: kernels and input checks
# ======================================================================================

#: The most pixels the pure-Python ("naive") filters accept: a 512 x 512 image. Their time
#: grows with pixels x taps at about 0.1 microseconds per tap; larger inputs would run for
#: minutes.
NAIVE_MAX_PIXELS = 512 * 512

#: The Sobel kernels as correlation weights: ``SOBEL_X`` responds to intensity rising to the
#: right (along columns), ``SOBEL_Y`` to intensity rising downwards (along rows). Each is an
#: outer product of a smoothing ``[1, 2, 1]`` and a central difference ``[-1, 0, 1]``.
SOBEL_X = np.outer([1.0, 2.0, 1.0], [-1.0, 0.0, 1.0])
SOBEL_Y = np.ascontiguousarray(SOBEL_X.T)
SOBEL_X.setflags(write=False)
SOBEL_Y.setflags(write=False)
_SMOOTH = np.array([1.0, 2.0, 1.0])
_DIFF = np.array([-1.0, 0.0, 1.0])


def _image(name: str, image, max_pixels: int | None = None) -> np.ndarray:
    """``image`` as a 2-D float64 array with finite values (no copy if it already is one)."""
    if isinstance(image, (str, bytes)) or image is None:
        raise ValueError(f"{name} must be a 2-D array of finite numbers; got {image!r}")
    try:
        arr = np.asarray(image, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 2-D array of finite numbers") from None
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(
            f"{name} must be a 2-D array with at least one row and column; got shape {arr.shape}"
        )
    if max_pixels is not None and arr.size > max_pixels:
        raise ValueError(
            f"{name} must have at most {max_pixels} pixels for the pure-Python version; got "
            f"{arr.shape[0]} x {arr.shape[1]} = {arr.size} (crop it first)"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must hold finite numbers only (no NaN or inf)")
    return arr


def _weights1d(name: str, weights) -> np.ndarray:
    w = check(name, weights)
    w = np.atleast_1d(np.asarray(w, dtype=np.float64))
    if w.ndim != 1 or w.size % 2 == 0:
        raise ValueError(f"{name} must be a 1-D sequence of an odd number of weights; got shape {w.shape}")
    return w


def _kernel2d(name: str, kernel) -> np.ndarray:
    k = check(name, kernel)
    k = np.asarray(k, dtype=np.float64)
    if k.ndim != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise ValueError(
            f"{name} must be a 2-D array with an odd number of rows and columns; got shape {k.shape}"
        )
    return k


def _axis(axis) -> int:
    if isinstance(axis, (bool, np.bool_)) or axis not in (0, 1):
        raise ValueError(f"axis must be 0 (along columns: rows mix) or 1 (along rows); got {axis!r}")
    return int(axis)


def kernel_radius(sigma, truncate=3.0) -> int:
    r"""Radius of the sampled Gaussian: :math:`\max(1, \lfloor \text{truncate}\cdot\sigma + 1/2 \rfloor)`.

    The kernel has :math:`k = 2\,\text{radius} + 1` taps. ``sigma`` in (0, 64] pixels,
    ``truncate`` (how many standard deviations the kernel reaches) in (0, 10].
    """
    sigma = check("sigma", sigma, 0, 64, lo_open=True)
    truncate = check("truncate", truncate, 0, 10, lo_open=True)
    return max(1, int(truncate * sigma + 0.5))


def gaussian_kernel1d(sigma, truncate=3.0) -> np.ndarray:
    r"""The sampled, normalized 1-D Gaussian :math:`w_d \propto e^{-d^2 / 2\sigma^2}`,
    :math:`d = -R, \dots, R` with :math:`R` = :func:`kernel_radius`; the weights sum to 1.

    ``sigma`` in (0, 64] pixels; ``truncate`` in (0, 10].
    """
    radius = kernel_radius(sigma, truncate)
    d = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (d / float(sigma)) ** 2)
    return w / w.sum()


def gaussian_kernel2d(sigma, truncate=3.0) -> np.ndarray:
    r"""The 2-D Gaussian kernel as the outer product :math:`w_{d_i} w_{d_j}` of two 1-D ones
    (:func:`gaussian_kernel1d`): that it factors is what makes the filter *separable*."""
    w = gaussian_kernel1d(sigma, truncate)
    return np.outer(w, w)


def taps_per_pixel(sigma, truncate=3.0, method: str = "separable") -> int:
    r"""Multiply-adds per pixel of a Gaussian filter: :math:`k^2` direct, :math:`2k` separable.

    ``method`` is ``"direct"`` (one pass with the :math:`k \times k` kernel) or
    ``"separable"`` (a pass with the 1-D kernel down the columns, then one along the rows).
    """
    k = 2 * kernel_radius(sigma, truncate) + 1
    if method == "direct":
        return k * k
    if method == "separable":
        return 2 * k
    raise ValueError(f"method must be 'direct' or 'separable'; got {method!r}")


# ======================================================================================
# Naive: pure Python loops
# ======================================================================================


def _clamped(n: int, radius: int) -> list[int]:
    """``idx[i + radius]`` is index ``i`` clamped into ``[0, n-1]``: edge replication."""
    return [min(max(i, 0), n - 1) for i in range(-radius, n + radius)]


def correlate_naive(image, kernel) -> np.ndarray:
    r"""2-D correlation in pure Python loops, edges replicated:
    :math:`g_{ij} = \sum_{a,b} K_{ab}\, f_{\mathrm{clamp}(i+a-R),\ \mathrm{clamp}(j+b-R')}`.

    Four nested loops: every pixel visits every tap, :math:`k_h k_w` multiply-adds per
    pixel. The sum runs row of the kernel by row, left to right, exactly as
    :func:`correlate2d` accumulates its slices, so the two agree to the last bit.

    Parameters
    ----------
    image : 2-D array of finite numbers, at most :data:`NAIVE_MAX_PIXELS` pixels
    kernel : 2-D array of finite numbers, odd height and width
    """
    img = _image("image", image, NAIVE_MAX_PIXELS)
    ker = _kernel2d("kernel", kernel)
    h, w = img.shape
    kh, kw = ker.shape
    rows, k = img.tolist(), ker.tolist()
    ci, cj = _clamped(h, kh // 2), _clamped(w, kw // 2)
    out = [[0.0] * w for _ in range(h)]
    for i in range(h):
        out_row = out[i]
        for j in range(w):
            s = 0.0
            for a in range(kh):
                src, krow = rows[ci[i + a]], k[a]
                for b in range(kw):
                    s += krow[b] * src[cj[j + b]]
            out_row[j] = s
    return np.array(out)


def correlate1d_naive(image, weights, axis: int) -> np.ndarray:
    """1-D correlation along ``axis`` (0: down the columns, 1: along the rows) in pure
    Python loops, edges replicated: ``k`` multiply-adds per pixel for ``k`` weights.

    ``image`` as in :func:`correlate_naive`; ``weights`` an odd number of finite numbers.
    """
    img = _image("image", image, NAIVE_MAX_PIXELS)
    w = _weights1d("weights", weights)
    axis = _axis(axis)
    rows, ws = img.tolist(), w.tolist()
    h, wd = img.shape
    k = len(ws)
    out = [[0.0] * wd for _ in range(h)]
    if axis == 0:
        ci = _clamped(h, k // 2)
        for i in range(h):
            out_row = out[i]
            for j in range(wd):
                s = 0.0
                for a in range(k):
                    s += ws[a] * rows[ci[i + a]][j]
                out_row[j] = s
    else:
        cj = _clamped(wd, k // 2)
        for i in range(h):
            src, out_row = rows[i], out[i]
            for j in range(wd):
                s = 0.0
                for b in range(k):
                    s += ws[b] * src[cj[j + b]]
                out_row[j] = s
    return np.array(out)


def gaussian_naive(image, sigma, truncate=3.0, method: str = "separable") -> np.ndarray:
    """Gaussian blur in pure Python loops (see :func:`gaussian_filter` for the parameters).

    ``"direct"``: one pass with the 2-D kernel, :math:`k^2` multiply-adds per pixel;
    ``"separable"``: a 1-D pass down the columns, then one along the rows, :math:`2k`.
    """
    if method == "direct":
        return correlate_naive(image, gaussian_kernel2d(sigma, truncate))
    if method == "separable":
        w = gaussian_kernel1d(sigma, truncate)
        return correlate1d_naive(correlate1d_naive(image, w, 0), w, 1)
    raise ValueError(f"method must be 'direct' or 'separable'; got {method!r}")


def sobel_naive(image) -> np.ndarray:
    r"""Sobel gradient magnitude :math:`\sqrt{g_x^2 + g_y^2}` in pure Python loops
    (two 3 x 3 correlations, :data:`SOBEL_X` and :data:`SOBEL_Y`), edges replicated."""
    gx = correlate_naive(image, SOBEL_X)
    gy = correlate_naive(image, SOBEL_Y)
    return np.sqrt(gx * gx + gy * gy)


# ======================================================================================
# Vectorized: shifted-slice sums
# ======================================================================================


def correlate1d(image, weights, axis: int) -> np.ndarray:
    """1-D correlation along ``axis`` as a sum of shifted slices of the edge-padded image.

    For weight ``w[a]``, the slice ``padded[a : a + h]`` (``axis=0``) holds, at every pixel,
    the neighbour at offset ``a - radius``; one multiply and one add apply that tap to the
    whole image. Each tap is one pass over the image: on an image larger than the cache,
    every pass streams it from memory again, which is what :func:`filter_blocked` avoids.

    Parameters as in :func:`correlate1d_naive`, without the size limit.
    """
    img = _image("image", image)
    w = _weights1d("weights", weights)
    axis = _axis(axis)
    return _correlate1d(img, w, axis)


def _correlate1d(img: np.ndarray, w: np.ndarray, axis: int) -> np.ndarray:
    radius = w.size // 2
    h, wd = img.shape
    if axis == 0:
        padded = np.pad(img, ((radius, radius), (0, 0)), mode="edge")
        shifted = [padded[a : a + h, :] for a in range(w.size)]
    else:
        padded = np.pad(img, ((0, 0), (radius, radius)), mode="edge")
        shifted = [padded[:, a : a + wd] for a in range(w.size)]
    out = np.multiply(shifted[0], w[0])
    tmp = np.empty_like(out)
    for a in range(1, w.size):
        np.multiply(shifted[a], w[a], out=tmp)
        out += tmp
    return out


def correlate2d(image, kernel) -> np.ndarray:
    """2-D correlation as a sum of :math:`k_h k_w` shifted slices of the edge-padded image:
    the vectorized twin of :func:`correlate_naive`, tap for tap in the same order."""
    img = _image("image", image)
    ker = _kernel2d("kernel", kernel)
    return _correlate2d(img, ker)


def _correlate2d(img: np.ndarray, ker: np.ndarray) -> np.ndarray:
    kh, kw = ker.shape
    h, w = img.shape
    padded = np.pad(img, ((kh // 2, kh // 2), (kw // 2, kw // 2)), mode="edge")
    out = np.multiply(padded[0:h, 0:w], ker[0, 0])
    tmp = np.empty_like(out)
    for a in range(kh):
        for b in range(kw):
            if a == 0 and b == 0:
                continue
            np.multiply(padded[a : a + h, b : b + w], ker[a, b], out=tmp)
            out += tmp
    return out


def gaussian_filter(image, sigma, truncate=3.0, method: str = "separable") -> np.ndarray:
    r"""Gaussian blur of a 2-D image, edges replicated, vectorized with NumPy.

    Parameters
    ----------
    image : 2-D array of finite numbers
    sigma : float in (0, 64]
        Standard deviation of the Gaussian, in pixels.
    truncate : float in (0, 10]
        The kernel reaches ``truncate`` standard deviations (:func:`kernel_radius`).
    method : "separable" or "direct"
        ``"direct"`` sums :math:`k^2` shifted slices (:func:`correlate2d`);
        ``"separable"`` a 1-D pass down the columns, then one along the rows
        (:func:`correlate1d` twice), :math:`2k` slices. Both give the same image up to
        rounding (a few units of the last place).
    """
    img = _image("image", image)
    if method == "direct":
        return _correlate2d(img, gaussian_kernel2d(sigma, truncate))
    if method == "separable":
        w = gaussian_kernel1d(sigma, truncate)
        return _correlate1d(_correlate1d(img, w, 0), w, 1)
    raise ValueError(f"method must be 'direct' or 'separable'; got {method!r}")


def sobel(image) -> np.ndarray:
    r"""Sobel gradient magnitude :math:`\sqrt{g_x^2 + g_y^2}`, vectorized and separable.

    :data:`SOBEL_X` is the outer product of ``[1, 2, 1]`` (down the columns) and
    ``[-1, 0, 1]`` (along the rows), so :math:`g_x` is two 1-D passes of three taps, and
    :math:`g_y` the same with the roles swapped. Edges replicated; equal to
    :func:`sobel_naive` up to rounding.
    """
    img = _image("image", image)
    gx = _correlate1d(_correlate1d(img, _SMOOTH, 0), _DIFF, 1)
    gy = _correlate1d(_correlate1d(img, _DIFF, 0), _SMOOTH, 1)
    return np.sqrt(gx * gx + gy * gy)


# ======================================================================================
# Blocked: tiles with halos, optionally on threads
# ======================================================================================


def tile_bounds(shape: Sequence[int], tile: Sequence[int]) -> list[tuple[int, int, int, int]]:
    """The tiles ``(r0, r1, c0, c1)`` that cover an image of ``shape``, row of tiles by row.

    ``shape`` and ``tile`` are pairs of whole numbers >= 1; tiles on the last row and
    column are smaller when ``tile`` does not divide ``shape``.
    """
    h, w = _pair("shape", shape)
    th, tw = _pair("tile", tile)
    return [(r, min(r + th, h), c, min(c + tw, w)) for r in range(0, h, th) for c in range(0, w, tw)]


def _pair(name: str, value) -> tuple[int, int]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (rows, columns) of whole numbers >= 1; got {value!r}")
    return check_int(f"{name}[0]", value[0], 1), check_int(f"{name}[1]", value[1], 1)


def filter_blocked(
    image,
    func: Callable[[np.ndarray], np.ndarray],
    halo: int,
    tile: Sequence[int] = (256, 256),
    *,
    executor: Executor | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Apply the filter ``func`` tile by tile: each tile is read with ``halo`` extra pixels
    on every side (fewer at the image border), filtered, and its centre written to ``out``.

    ``func`` must map an array to one of the same shape, replicate edges at the array's
    border (as every filter in this module does), and read no further than ``halo`` pixels
    from a pixel to compute it. Then the result equals ``func(image)``, borders included,
    and bit for bit when ``func`` computes each pixel by the same operations wherever it
    lies (true of this module's filters, which only add, multiply and take square roots): at the image border the region's edge *is* the image edge, and
    inside, the halo supplies the true neighbours; pixels of the halo, whose own
    neighbourhoods the region cuts off, are computed and thrown away. A separable filter
    (two passes of radius ``R``) needs only ``halo = R``: the second pass reads the first
    one only along the tile's own rows.

    Parameters
    ----------
    image : 2-D array of finite numbers
    func : callable, array -> array of the same shape
    halo : int in [0, 4096]
    tile : pair of whole numbers >= 1 (rows, columns)
    executor : concurrent.futures.Executor, or None
        None: tiles one after the other. A ``ThreadPoolExecutor``: tiles run concurrently
        (NumPy releases the GIL in its loops); each tile writes its own part of ``out``.
    out : float64 array of the image's shape, or None (a new one)
    """
    img = _image("image", image)
    if not callable(func):
        raise ValueError(f"func must be callable (array -> array of the same shape); got {func!r}")
    halo = check_int("halo", halo, 0, 4096)
    bounds = tile_bounds(img.shape, tile)
    if executor is not None and not isinstance(executor, Executor):
        raise ValueError(
            f"executor must be a concurrent.futures.Executor or None; got {type(executor).__name__}"
        )
    if out is None:
        out = np.empty_like(img)
    elif not isinstance(out, np.ndarray) or out.shape != img.shape or out.dtype != np.float64:
        raise ValueError(f"out must be a float64 array of shape {img.shape}")
    h, w = img.shape

    def one(b: tuple[int, int, int, int]) -> None:
        r0, r1, c0, c1 = b
        e0, e1 = max(0, r0 - halo), min(h, r1 + halo)
        f0, f1 = max(0, c0 - halo), min(w, c1 + halo)
        res = func(img[e0:e1, f0:f1])
        if not isinstance(res, np.ndarray) or res.shape != (e1 - e0, f1 - f0):
            raise ValueError(f"func must return an array of the shape it was given, {(e1 - e0, f1 - f0)}")
        out[r0:r1, c0:c1] = res[r0 - e0 : r1 - e0, c0 - f0 : c1 - f0]

    if executor is None:
        for b in bounds:
            one(b)
    else:
        for f in [executor.submit(one, b) for b in bounds]:
            f.result()
    return out


def gaussian_blocked(
    image,
    sigma,
    truncate=3.0,
    tile: Sequence[int] = (256, 256),
    *,
    executor: Executor | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The separable :func:`gaussian_filter`, tile by tile (:func:`filter_blocked`), with a
    halo of one kernel radius. Equal to ``gaussian_filter(image, sigma, truncate)`` bit for
    bit. Parameters as in those two functions."""
    w = gaussian_kernel1d(sigma, truncate)
    radius = w.size // 2

    def func(region: np.ndarray) -> np.ndarray:
        return _correlate1d(_correlate1d(region, w, 0), w, 1)

    return filter_blocked(image, func, radius, tile, executor=executor, out=out)


# ======================================================================================
# The heat equation
# ======================================================================================

#: Floating-point operations per interior point of one step, as :func:`heat_step` computes
#: it: :math:`(1 - 4r)\,u_{ij} + r\,(u_N + u_S + u_E + u_W)` is 3 additions of the
#: neighbours, 2 multiplications and 1 addition. The textbook form
#: :math:`u + r\,(\ldots - 4u)` costs 7.
FLOPS_PER_POINT = 6
#: Bytes per point of one step with perfect reuse of the neighbours in cache: read
#: :math:`u` once (8 bytes) and write the new value once (8 bytes), float64.
BYTES_PER_POINT = 16
#: The same when the cache reads each line of the new array before writing it
#: ("write allocate", the default on most CPUs without streaming stores): 24 bytes.
BYTES_PER_POINT_WRITE_ALLOCATE = 24
#: Array-sized streams between memory and the processor that :func:`heat_step` makes per
#: point on a grid larger than the cache, one NumPy call after the other: 2 (read ``u``,
#: write the temporary; the north and south slices of ``u`` are two rows apart, so the
#: second one is read from cache), 3 and 3 (read the temporary and ``u``, write the
#: temporary), 2 (scale by r), 2 (scale the centre into ``out``) and 3 (add the temporary):
#: 15 x 8 = 120 bytes per point instead of 16 (write-allocate not counted).
NUMPY_STREAMS_PER_POINT = 15


def stability_number(alpha, dt, dx):
    r"""The mesh ratio :math:`r = \alpha\,\Delta t / \Delta x^2` of the explicit scheme.

    ``alpha`` (diffusivity), ``dt`` (time step) and ``dx`` (grid spacing) finite and > 0.
    The scheme is stable in 2-D for :math:`r \le 1/4` (see :func:`check_stable`).
    """
    alpha = check("alpha", alpha, 0, lo_open=True)
    dt = check("dt", dt, 0, lo_open=True)
    dx = check("dx", dx, 0, lo_open=True)
    return alpha * dt / (dx * dx)


def max_stable_dt(alpha, dx):
    r"""The largest stable time step, :math:`\Delta t_{\max} = \Delta x^2 / (4\alpha)`.

    Von Neumann analysis: the grid mode :math:`e^{\mathrm{i}(\theta_x i + \theta_y j)}` is
    multiplied each step by :math:`g = 1 - 4r\,(\sin^2\frac{\theta_x}{2} + \sin^2\frac{\theta_y}{2})`;
    the checkerboard mode (:math:`\theta = \pi`) has :math:`g = 1 - 8r`, and
    :math:`|g| \le 1` for every mode exactly when :math:`r \le 1/4`. ``alpha``, ``dx`` > 0.
    """
    alpha = check("alpha", alpha, 0, lo_open=True)
    dx = check("dx", dx, 0, lo_open=True)
    return dx * dx / (4.0 * alpha)


def check_stable(alpha, dt, dx) -> float:
    r"""Return :math:`r = \alpha\Delta t/\Delta x^2` if the explicit step is stable
    (:math:`r \le 1/4`); otherwise raise ``ValueError`` naming ``dt`` and its allowed range.

    A relative slack of :math:`10^{-12}` lets ``dt = max_stable_dt(alpha, dx)`` through
    despite rounding.
    """
    r = stability_number(alpha, dt, dx)
    if r > 0.25 * (1 + 1e-12):
        dt_max = max_stable_dt(alpha, dx)
        raise ValueError(
            f"dt must be in (0, {dt_max:.6g}] for a stable explicit step with alpha = {float(alpha):g} and "
            f"dx = {float(dx):.6g} (alpha*dt/dx^2 <= 1/4); got dt = {float(dt):.6g}, alpha*dt/dx^2 = {r:.4g}"
        )
    return r


def grid_spacing(n: int) -> float:
    """Spacing :math:`\\Delta x = 1/(n+1)` of ``n`` interior points per side on the unit
    square; the grid has ``n + 2`` points per side, boundaries included. ``n`` in [1, 65536]."""
    n = check_int("n", n, 1, 65536)
    return 1.0 / (n + 1)


def sine_mode(n: int, k: int = 1, l: int = 1) -> np.ndarray:  # noqa: E741 - the mode's usual name
    r"""The grid function :math:`\sin(k\pi x)\sin(l\pi y)` on ``(n+2) x (n+2)`` points of the
    unit square, exactly 0 on the boundary. An eigenfunction of both the Laplacian and its
    5-point discretization. ``n`` in [1, 65536]; ``k`` and ``l`` whole numbers in [1, n]."""
    n = check_int("n", n, 1, 65536)
    k = check_int("k", k, 1, n)
    l = check_int("l", l, 1, n)  # noqa: E741
    x = np.linspace(0.0, 1.0, n + 2)
    sx, sy = np.sin(k * np.pi * x), np.sin(l * np.pi * x)
    sx[[0, -1]] = 0.0
    sy[[0, -1]] = 0.0
    return np.outer(sx, sy)


def heat_exact(n: int, alpha, t, k: int = 1, l: int = 1) -> np.ndarray:  # noqa: E741
    r"""The exact solution from :func:`sine_mode`: :math:`e^{-\alpha\pi^2(k^2 + l^2)t}\sin(k\pi x)\sin(l\pi y)`.

    With :math:`k = l` the factor is :math:`e^{-2\alpha\pi^2k^2t}`. ``alpha`` > 0, ``t`` >= 0,
    the rest as in :func:`sine_mode`.
    """
    alpha = check("alpha", alpha, 0, lo_open=True)
    t = check("t", t, 0)
    u = sine_mode(n, k, l)
    return math.exp(-alpha * math.pi**2 * (k * k + l * l) * t) * u


def amplification(r, dx, k: int = 1, l: int = 1) -> float:  # noqa: E741
    r"""The factor by which one explicit step multiplies :func:`sine_mode`:
    :math:`g = 1 - 4r\,\bigl(\sin^2\frac{k\pi\Delta x}{2} + \sin^2\frac{l\pi\Delta x}{2}\bigr)`.

    ``r`` > 0, ``dx`` in (0, 1], ``k`` and ``l`` whole numbers >= 1.
    """
    r = check("r", r, 0, lo_open=True)
    dx = check("dx", dx, 0, 1, lo_open=True)
    k = check_int("k", k, 1)
    l = check_int("l", l, 1)  # noqa: E741
    return 1.0 - 4.0 * r * (math.sin(k * math.pi * dx / 2) ** 2 + math.sin(l * math.pi * dx / 2) ** 2)


def hot_square(n: int, width=0.3) -> np.ndarray:
    """A cold plate (0) with a hot square (1) of side ``width`` in the middle, on
    ``(n+2) x (n+2)`` points, boundary 0. ``n`` in [1, 65536], ``width`` in (0, 1)."""
    n = check_int("n", n, 1, 65536)
    width = check("width", width, 0, 1, lo_open=True, hi_open=True)
    x = np.linspace(0.0, 1.0, n + 2)
    inside = np.abs(x - 0.5) <= width / 2
    u = np.outer(inside, inside).astype(np.float64)
    u[[0, -1], :] = 0.0
    u[:, [0, -1]] = 0.0
    return u


def _grid(name: str, u, *, max_points: int | None = None) -> np.ndarray:
    if not isinstance(u, np.ndarray) or u.dtype != np.float64 or u.ndim != 2 or min(u.shape) < 3:
        shape = getattr(u, "shape", None)
        raise ValueError(f"{name} must be a 2-D float64 array of at least 3 x 3 points; got shape {shape}")
    if max_points is not None and u.size > max_points:
        raise ValueError(
            f"{name} must have at most {max_points} points for the pure-Python version; got {u.shape[0]} x {u.shape[1]}"
        )
    return u


def _r(r, allow_unstable: bool) -> float:
    if allow_unstable:
        return check("r", r, 0, lo_open=True)
    return check("r", r, 0, 0.25, lo_open=True)


def heat_step_naive(u: np.ndarray, r, *, allow_unstable: bool = False) -> np.ndarray:
    r"""One explicit step in pure Python loops: a new array whose interior points are
    :math:`(1-4r)\,u_{ij} + r\,(u_{i-1,j} + u_{i+1,j} + u_{i,j-1} + u_{i,j+1})`; the
    boundary is copied (fixed, Dirichlet). Same operations in the same order as
    :func:`heat_step`, so the two agree to the last bit.

    ``u``: a float64 array of at least 3 x 3 and at most :data:`NAIVE_MAX_PIXELS` points;
    ``r`` in (0, 1/4] (any ``r`` > 0 with ``allow_unstable``).
    """
    u = _grid("u", u, max_points=NAIVE_MAX_PIXELS)
    r = _r(r, allow_unstable)
    c = 1.0 - 4.0 * r
    rows = u.tolist()
    new = [row[:] for row in rows]
    for i in range(1, len(rows) - 1):
        up, mid, down, out = rows[i - 1], rows[i], rows[i + 1], new[i]
        for j in range(1, len(mid) - 1):
            out[j] = c * mid[j] + r * (((up[j] + down[j]) + mid[j - 1]) + mid[j + 1])
    return np.array(new)


def _check_out(name: str, arr, u: np.ndarray) -> np.ndarray:
    if not isinstance(arr, np.ndarray) or arr.shape != u.shape or arr.dtype != np.float64:
        raise ValueError(f"{name} must be a float64 array of shape {u.shape}")
    if np.shares_memory(arr, u):
        raise ValueError(f"{name} must not overlap u: the step reads all of u before writing")
    return arr


def _step_rows(u: np.ndarray, out: np.ndarray, tmp: np.ndarray, r: float, c: float, i0: int, i1: int) -> None:
    """Interior rows ``i0 .. i1-1`` of one step, into ``out``; ``tmp`` has their shape."""
    inner = out[i0:i1, 1:-1]
    np.add(u[i0 - 1 : i1 - 1, 1:-1], u[i0 + 1 : i1 + 1, 1:-1], out=tmp)
    np.add(tmp, u[i0:i1, :-2], out=tmp)
    np.add(tmp, u[i0:i1, 2:], out=tmp)
    np.multiply(tmp, r, out=tmp)
    np.multiply(u[i0:i1, 1:-1], c, out=inner)
    np.add(inner, tmp, out=inner)


def heat_step(
    u: np.ndarray,
    r,
    out: np.ndarray | None = None,
    *,
    work: np.ndarray | None = None,
    allow_unstable: bool = False,
) -> np.ndarray:
    r"""One explicit step with whole-array NumPy operations on shifted slices.

    Writes :math:`(1-4r)\,u + r\,(u_N + u_S + u_E + u_W)` into the interior of ``out`` and
    copies the boundary: :data:`FLOPS_PER_POINT` FLOPs per point, in six NumPy calls with
    no temporaries (all results go to ``out`` or ``work``). Each call streams whole arrays
    (:data:`NUMPY_STREAMS_PER_POINT` in all), which is cheap while the grid fits in cache
    and costs memory bandwidth once it does not.

    Parameters
    ----------
    u : float64 array, at least 3 x 3
    r : float in (0, 1/4], the mesh ratio :math:`\alpha\Delta t/\Delta x^2` (any ``r`` > 0
        with ``allow_unstable``)
    out : float64 array of ``u``'s shape, not overlapping ``u``, or None (a new one)
    work : float64 array of shape ``(rows - 2, columns - 2)``, or None (allocated)
    """
    u = _grid("u", u)
    r = _r(r, allow_unstable)
    if out is None:
        out = np.empty_like(u)
    else:
        _check_out("out", out, u)
    shape = (u.shape[0] - 2, u.shape[1] - 2)
    if work is None:
        work = np.empty(shape)
    elif not isinstance(work, np.ndarray) or work.shape != shape or work.dtype != np.float64:
        raise ValueError(f"work must be a float64 array of shape {shape}")
    _step_rows(u, out, work, r, 1.0 - 4.0 * r, 1, u.shape[0] - 1)
    _copy_boundary(u, out)
    return out


def _copy_boundary(u: np.ndarray, out: np.ndarray) -> None:
    out[0, :] = u[0, :]
    out[-1, :] = u[-1, :]
    out[1:-1, 0] = u[1:-1, 0]
    out[1:-1, -1] = u[1:-1, -1]


def heat_step_blocked(
    u: np.ndarray,
    r,
    out: np.ndarray | None = None,
    *,
    rows: int = 16,
    executor: Executor | None = None,
    allow_unstable: bool = False,
) -> np.ndarray:
    """:func:`heat_step` strip by strip: ``rows`` interior rows at a time, so the strip's
    three input rows per output row and its temporary stay in cache across the six NumPy
    calls, and memory sees close to one read of ``u`` and one write of ``out`` per point.

    Equal to :func:`heat_step` bit for bit (the same operations on each point).
    ``rows`` in [1, 65536]; ``executor`` as in :func:`filter_blocked` (strips run
    concurrently, each writing its own rows); other parameters as in :func:`heat_step`.
    """
    u = _grid("u", u)
    r = _r(r, allow_unstable)
    rows = check_int("rows", rows, 1, 65536)
    if executor is not None and not isinstance(executor, Executor):
        raise ValueError(
            f"executor must be a concurrent.futures.Executor or None; got {type(executor).__name__}"
        )
    if out is None:
        out = np.empty_like(u)
    else:
        _check_out("out", out, u)
    c = 1.0 - 4.0 * r
    n_rows, n_cols = u.shape
    strips = [(i, min(i + rows, n_rows - 1)) for i in range(1, n_rows - 1, rows)]

    def run(chunk: list[tuple[int, int]]) -> None:
        tmp = np.empty((rows, n_cols - 2))
        for i0, i1 in chunk:
            _step_rows(u, out, tmp[: i1 - i0], r, c, i0, i1)

    if executor is None:
        run(strips)
    else:
        # One task per contiguous run of strips, a few per usable core: few enough that
        # submitting them costs little, enough that a slow core does not hold up the step.
        from .machine import usable_cores

        tasks = min(len(strips), 4 * usable_cores())
        per = math.ceil(len(strips) / tasks)
        parts = [strips[k : k + per] for k in range(0, len(strips), per)]
        for f in [executor.submit(run, p) for p in parts]:
            f.result()
    _copy_boundary(u, out)
    return out


class BlowUpError(FloatingPointError):
    """An explicit run that was allowed to be unstable grew past the limit.

    ``step`` is the step at which :math:`\\max|u|` first exceeded the limit and
    ``max_abs`` holds :math:`\\max|u|` after every step up to it (index 0: the start).
    """

    def __init__(self, message: str, step: int, max_abs: np.ndarray):
        super().__init__(message)
        self.step = step
        self.max_abs = max_abs


@dataclass(frozen=True)
class HeatResult:
    """What :func:`heat_solve` returns: the final grid, the time reached, the mesh ratio,
    and :math:`\\max|u|` after every step (index 0: the start) if it was recorded."""

    u: np.ndarray
    t: float
    r: float
    steps: int
    max_abs: np.ndarray | None = None


_METHODS = ("naive", "vectorized", "blocked")


def heat_solve(
    u0,
    alpha,
    dt,
    dx,
    steps: int,
    *,
    method: str = "vectorized",
    rows: int = 16,
    executor: Executor | None = None,
    record: bool = False,
    allow_unstable: bool = False,
    blowup: float = 1e6,
    progress: Callable[[int], object] | None = None,
) -> HeatResult:
    r"""Advance ``u0`` by ``steps`` explicit steps of size ``dt`` (boundary held fixed).

    Refuses an unstable step (:func:`check_stable`: a ``ValueError`` naming ``dt`` and its
    range) unless ``allow_unstable``; then it runs, and stops with :class:`BlowUpError` as
    soon as :math:`\max|u|` exceeds ``blowup`` times its start value. A stable run can
    never do that: with :math:`r \le 1/4` every new value is an average with non-negative
    weights (:math:`1 - 4r \ge 0` and :math:`r`) of old ones, so :math:`\max|u|` never grows.

    Parameters
    ----------
    u0 : 2-D array of finite numbers, at least 3 x 3 (copied, not modified)
    alpha, dt, dx : finite numbers > 0 (diffusivity, time step, grid spacing)
    steps : int in [0, 10**7]
    method : "naive", "vectorized" or "blocked" (:func:`heat_step_naive`,
        :func:`heat_step`, :func:`heat_step_blocked` with ``rows`` and ``executor``)
    record : bool
        Keep :math:`\max|u|` after every step (one more pass over the grid per step).
    allow_unstable : bool
    blowup : float > 1
    progress : callable or None
        Called with 1 after every step (a ``tqdm`` bar's ``update``).
    """
    u = _image("u0", u0).copy()
    if min(u.shape) < 3:
        raise ValueError(f"u0 must have at least 3 x 3 points; got shape {u.shape}")
    if allow_unstable:
        r = stability_number(alpha, dt, dx)
    else:
        r = check_stable(alpha, dt, dx)
    steps = check_int("steps", steps, 0, 10**7)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {list(_METHODS)}; got {method!r}")
    if method == "naive" and u.size > NAIVE_MAX_PIXELS:
        raise ValueError(f"u0 must have at most {NAIVE_MAX_PIXELS} points for the pure-Python version")
    blowup = check("blowup", blowup, 1, lo_open=True)
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be callable or None; got {progress!r}")
    record = bool(record) or allow_unstable
    limit = blowup * max(float(np.abs(u).max()), np.finfo(float).tiny)
    history = [float(np.abs(u).max())] if record else None
    other = np.empty_like(u)
    work = np.empty((u.shape[0] - 2, u.shape[1] - 2))
    for step in range(1, steps + 1):
        if method == "naive":
            u = heat_step_naive(u, r, allow_unstable=allow_unstable)
        else:
            if method == "vectorized":
                heat_step(u, r, other, work=work, allow_unstable=allow_unstable)
            else:
                heat_step_blocked(u, r, other, rows=rows, executor=executor, allow_unstable=allow_unstable)
            u, other = other, u
        if record:
            m = float(np.abs(u).max())
            history.append(m)
            if allow_unstable and not m <= limit:
                raise BlowUpError(
                    f"the solution blew up: max|u| = {m:.3g} after {step} steps, more than {blowup:g} times "
                    f"its start (alpha*dt/dx^2 = {r:.4g} > 1/4)",
                    step,
                    np.array(history),
                )
        if progress is not None:
            progress(1)
    return HeatResult(u, steps * float(dt), r, steps, None if history is None else np.array(history))
