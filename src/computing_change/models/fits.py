r"""Models fitted to measurements: a power law :math:`t \approx a\,n^k` (:func:`fit_power_law`,
chapter 3.4's algorithm selection, reused by the finance chapter) and the alpha-beta
model of a message (:func:`fit_alpha_beta`, chapter 3.2's ``scatter`` and chapter 4.3's
pipe). Each checks its inputs, which come from the reader's measurements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from computing_change.core.checks import check
from computing_change.models import formulas as F

__all__ = ["PowerLawFit", "fit_power_law", "AlphaBeta", "fit_alpha_beta"]


# --------------------------------------------------------------------------------------
# Fitting t = a n^k (the chapter's algorithm selection; the finance chapter reuses it)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerLawFit:
    r"""A least-squares fit :math:`t \approx a\,n^k` on a log-log scale.

    ``exponent`` is :math:`k`, ``prefactor`` is :math:`a` (the value at :math:`n = 1`),
    ``stderr`` the standard error of :math:`k` (NaN with only two points), and
    ``n_min``/``n_max``/``points`` the sizes the fit used.
    """

    exponent: float
    prefactor: float
    stderr: float
    n_min: float
    n_max: float
    points: int

    def predict(self, n):
        """The fitted :math:`a\\,n^k` at ``n`` > 0 (a number or an array)."""
        n = check("n", n, 0, lo_open=True)
        return self.prefactor * np.power(n, self.exponent)


def _fit_input(sizes, values, n_min) -> tuple[np.ndarray, np.ndarray]:
    """``sizes`` and ``values`` as float arrays, checked, keeping the sizes ``>= n_min``."""
    n = check("sizes", np.atleast_1d(np.asarray(sizes, dtype=float)), 0, lo_open=True)
    v = check("values", np.atleast_1d(np.asarray(values, dtype=float)), 0, lo_open=True)
    if n.ndim != 1 or n.shape != v.shape:
        raise ValueError(f"sizes and values must be 1-D and of the same length; got {n.shape} and {v.shape}")
    if n_min is not None:
        keep = n >= check("n_min", n_min, 0, lo_open=True)
        n, v = n[keep], v[keep]
    if np.unique(n).size < 2:
        raise ValueError("sizes must hold at least two different values (>= n_min) to fit a slope")
    return n, v


def fit_power_law(sizes, values, *, n_min: float | None = None) -> PowerLawFit:
    r"""Fit :math:`v \approx a\,n^k` to ``values`` measured at ``sizes`` by least squares on
    :math:`\log v = \log a + k \log n`.

    Only sizes ``>= n_min`` take part (default: all), so that small sizes, where a fixed
    overhead rather than the algorithm sets the time, do not bend the slope.

    Parameters
    ----------
    sizes : 1-D array of numbers > 0
    values : 1-D array of numbers > 0, the same length (times, operation counts, ...)
    n_min : number > 0 or None; at least two different sizes must be ``>= n_min``
    """
    n, v = _fit_input(sizes, values, n_min)  # checked: positive, same length, at least two sizes
    x, y = np.log(n), np.log(v)
    (k, log_a), residuals, *_ = np.polyfit(x, y, 1, full=True)
    if n.size > 2:  # the standard error of the slope, from the scatter about the line
        rss = float(residuals[0]) if residuals.size else 0.0
        stderr = math.sqrt(rss / (n.size - 2) / np.sum((x - x.mean()) ** 2))
    else:
        stderr = math.nan
    return PowerLawFit(float(k), math.exp(log_a), stderr, float(n.min()), float(n.max()), int(n.size))


# --------------------------------------------------------------------------------------
# The alpha-beta (latency-bandwidth) model, fitted to measured message times
# --------------------------------------------------------------------------------------


class AlphaBeta(NamedTuple):
    """The alpha-beta (latency-bandwidth) model: ``time = alpha + nbytes / beta``."""

    alpha: float  # seconds per message
    beta: float  # bytes per second

    @property
    def half_size(self) -> float:
        """Bytes at which latency and bandwidth cost the same time: alpha * beta (Hockney)."""
        return float(F.half_performance_length(self.alpha, self.beta))

    def time(self, nbytes):
        """Predicted seconds for a message of nbytes: alpha + nbytes / beta."""
        return F.alpha_beta_time(nbytes, self.alpha, self.beta)


def fit_alpha_beta(sizes, times) -> AlphaBeta:
    r"""Least-squares fit of the alpha-beta model :math:`T(n) = \alpha + n/\beta`
    (:func:`computing_change.models.formulas.alpha_beta_time`) to measured ``times`` (seconds)
    at message ``sizes`` (bytes).

    The residuals are relative, :math:`(T(n_i) - t_i)/t_i`, so that the small messages
    (which fix :math:`\alpha`) weigh as much as the large ones (which fix :math:`\beta`):
    times spread over several decades. The fit keeps :math:`\alpha \ge 0`; a slope that is
    not positive (no measurable bandwidth cost) gives :math:`\beta = \infty`. Needs at
    least two distinct sizes, sizes >= 0 and times > 0.
    """
    n = np.atleast_1d(check("sizes", sizes, 0))
    t = np.atleast_1d(check("times", times, 0, lo_open=True))
    if n.shape != t.shape or n.ndim != 1:
        raise ValueError(f"sizes and times must be 1-D and of the same length; got {n.shape} and {t.shape}")
    if np.unique(n).size < 2:
        raise ValueError("sizes must contain at least two distinct values")
    w = 1.0 / t
    design = np.column_stack([np.ones_like(n), n]) * w[:, None]
    (alpha, slope), *_ = np.linalg.lstsq(design, t * w, rcond=None)
    if alpha < 0:  # refit through the origin
        alpha = 0.0
        slope = float(np.sum(n * w * w * t) / np.sum((n * w) ** 2))
    beta = float("inf") if slope <= 0 else 1.0 / float(slope)
    return AlphaBeta(float(alpha), float(beta))
