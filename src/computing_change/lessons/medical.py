r"""The test image of chapter 6.4, medical imaging (医疗领域): the Shepp-Logan head phantom.

:func:`phantom` draws the ten ellipses of Shepp and Logan (1974) on an ``n x n`` grid
(:data:`MODIFIED_SHEPP_LOGAN` gray levels by default, :data:`SHEPP_LOGAN` on request). The
page imports it because drawing ellipses is not what the page teaches; the filters it
teaches (loops, shifted-slice sums, tiles with halos, on threads) are written in the page's
own cells, ``book/applications/medical.ipynb``, where the reader sees the code that runs.
"""

from __future__ import annotations

import math

import numpy as np

from computing_change.core.checks import check_int

__all__ = ["SHEPP_LOGAN", "MODIFIED_SHEPP_LOGAN", "phantom"]

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
