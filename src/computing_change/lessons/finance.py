r"""What the applications chapters must import: the worker of a spawn-mode process pool.

The chapters write their code in their cells: the out-of-core aggregation (big data), the
batching server (AI), the Monte Carlo pricing loop (finance) and the image filters
(medical imaging). A process pool started with *spawn* cannot run a function defined in a
notebook (its workers import the function by name, from a fresh interpreter), so the one
function the finance chapter sends to its pool lives here, with the statistics it returns,
and the chapter shows their source with :func:`computing_change.core.notebook.show`.

Finance (金融领域): Monte Carlo pricing of a European call, in chunks
    :func:`mc_call_chunk` simulates one chunk of paths from its own random stream and returns
    the :class:`RunningStats` (count, mean, sum of squared deviations) of its discounted
    payoffs; chunks merge exactly with :meth:`RunningStats.merge`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["RunningStats", "mc_call_chunk"]


@dataclass(frozen=True)
class RunningStats:
    r"""Count, mean and sum of squared deviations :math:`M_2` of a sample, mergeable.

    :meth:`merge` combines two samples exactly as if they had been one, with the pairwise
    update of Chan, Golub and LeVeque: :math:`\delta = \bar x_b - \bar x_a`,
    :math:`\bar x = \bar x_a + \delta\, n_b/n`, :math:`M_2 = M_{2,a} + M_{2,b} + \delta^2 n_a n_b / n`.
    """

    n: int
    mean: float
    m2: float

    @classmethod
    def from_array(cls, x: np.ndarray) -> RunningStats:
        mean = float(x.mean())
        d = x - mean
        return cls(x.size, mean, float(np.einsum("i,i->", d, d)))  # einsum, not d @ d: no BLAS threads

    def merge(self, other: RunningStats) -> RunningStats:
        if self.n == 0:
            return other
        if other.n == 0:
            return self
        n = self.n + other.n
        delta = other.mean - self.mean
        return RunningStats(
            n, self.mean + delta * other.n / n, self.m2 + other.m2 + delta * delta * self.n * other.n / n
        )

    @property
    def variance(self) -> float:
        """The sample variance m2 / (n - 1) (NaN for fewer than two values)."""
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan

    @property
    def stderr(self) -> float:
        """The standard error of the mean, sqrt(variance / n)."""
        return math.sqrt(self.variance / self.n) if self.n > 1 else math.nan


def mc_call_chunk(
    S: float,
    K: float,
    r: float,
    sigma: float,
    T: float,
    n_paths: int,
    seed: int | np.random.SeedSequence,
    antithetic: bool = False,
) -> RunningStats:
    r"""One chunk of a Monte Carlo price of a European call: ``n_paths`` terminal prices of a
    geometric Brownian motion under the risk-neutral measure,

    .. math:: S_T = S \exp\!\big((r - \sigma^2/2)\,T + \sigma\sqrt T\,Z\big), \quad Z \sim N(0, 1),

    and the :class:`RunningStats` of their discounted payoffs :math:`e^{-rT}\max(S_T - K, 0)`.
    The normals come from the chunk's own stream (``seed``: a whole number or a
    ``SeedSequence``), 65,536 at a time, so the memory stays small whatever ``n_paths`` is.
    With ``antithetic``, each draw :math:`Z` is used twice, as :math:`Z` and :math:`-Z`, and the
    statistics are those of the pair averages (``n`` counts pairs; ``n_paths`` even).

    Lesson code, unchecked: the chapter's widget checks the values a reader types. Spot
    ``S`` > 0, strike ``K`` > 0, rate ``r``, volatility ``sigma`` > 0 and maturity ``T`` > 0
    (years).
    """
    rng = np.random.default_rng(seed)
    drift = (r - 0.5 * sigma * sigma) * T
    vol = sigma * math.sqrt(T)
    discount = math.exp(-r * T)
    n_draws = n_paths // 2 if antithetic else n_paths
    stats = RunningStats(0, 0.0, 0.0)
    for start in range(0, n_draws, 65_536):
        z = rng.standard_normal(min(65_536, n_draws - start))
        pay = discount * np.maximum(S * np.exp(drift + vol * z) - K, 0.0)
        if antithetic:
            pay = 0.5 * (pay + discount * np.maximum(S * np.exp(drift - vol * z) - K, 0.0))
        stats = stats.merge(RunningStats.from_array(pay))
    return stats
