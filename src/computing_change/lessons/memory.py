r"""What chapter 3.3, memory optimization (内存优化), keeps in the package.

The chapter writes the code it teaches in its own cells: the three ways of building an
array, the in-place ``hypot``, the summation experiment, the chunked mean and variance, the
row and column sums, the naive and the blocked transpose, the pointer chase and the
independent reads. The models the page lays over its measurements live with every other
closed form in :mod:`computing_change.models.formulas` (the worst-case relative error of a
sum, :func:`~computing_change.models.formulas.sum_error_bound`, and the average memory
access time of uniform random reads,
:func:`~computing_change.models.formulas.random_access_model`); the peak memory of a call is
:func:`computing_change.core.tracing.traced_peak`. What stays here is plumbing for the
memory-hierarchy scan that only sizes, groups or reports: the cache level a working set fits
in (:func:`cache_level`), the working-set sizes to scan (:func:`working_set_sizes`), the
median time per level (:func:`level_medians`) and the verdict in words
(:func:`describe_steps`).

Every function checks its inputs and raises a ``ValueError`` that names the parameter and
the allowed range. Nothing here asserts a speed: timings belong in notebooks and in
``benchmarks/memory.py``.
"""

from __future__ import annotations

import itertools

import numpy as np

from computing_change.core import machine
from computing_change.core.checks import check, check_int

__all__ = [
    "cache_level",
    "working_set_sizes",
    "level_medians",
    "describe_steps",
]

KIB = 1024
MIB = 1024**2

# --------------------------------------------------------------------------------------
# The memory hierarchy: plumbing for the scan
# --------------------------------------------------------------------------------------


def cache_level(nbytes, caches: dict[str, int] | None = None) -> str:
    """The smallest cache level a working set of ``nbytes`` fits in, or ``"DRAM"``.

    ``caches`` maps level names to sizes in bytes (default :func:`machine.cache_sizes`);
    returns ``"unknown"`` when no cache size is known. ``nbytes`` > 0.
    """
    nbytes = check("nbytes", nbytes, 0, lo_open=True)
    caches = machine.cache_sizes() if caches is None else caches
    if not caches:
        return "unknown"
    for name, size in sorted(caches.items(), key=lambda kv: kv[1]):
        if nbytes <= size:
            return name
    return "DRAM"


def working_set_sizes(
    lo: int = 16 * KIB, hi: int | None = None, points: int = 24, *, fraction: float = 0.12
) -> np.ndarray:
    """Working-set sizes in bytes, geometrically spaced from ``lo`` to ``hi``, multiples of 4 KiB.

    ``hi`` defaults to 8 times the last-level cache (64 MiB when unknown), at most 512 MiB
    and at most ``fraction`` of the available memory (:func:`machine.safe_size`), so the
    scan fits a 2 GiB container. ``lo`` >= 4096, ``hi`` > ``lo``, ``points`` in [2, 200].
    """
    lo = check_int("lo", lo, 4096, 2**40)
    points = check_int("points", points, 2, 200)
    if hi is None:
        caches = machine.cache_sizes()
        llc = max(caches.values()) if caches else 8 * MIB
        hi = min(8 * llc, 512 * MIB, machine.safe_size(1, fraction=fraction))
        hi = max(hi, 2 * lo)
    hi = check_int("hi", hi, lo + 1, 2**40)
    sizes = np.geomspace(lo, hi, points)
    return np.unique((np.round(sizes / 4096) * 4096).astype(np.int64))


def level_medians(sizes, times, caches: dict[str, int] | None = None) -> dict[str, float]:
    """The median of ``times`` over the working sets in ``sizes`` (bytes) that fall in each level.

    Levels come from :func:`cache_level` (``caches`` defaults to :func:`machine.cache_sizes`),
    in order of size: ``{"L1d": ..., "L2": ..., "L3": ..., "DRAM": ...}``, with only the levels
    that some size falls in. ``sizes`` and ``times`` have the same length, at least 1.
    """
    sizes = np.atleast_1d(check("sizes", sizes, 0, lo_open=True))
    times = np.atleast_1d(check("times", times, 0))
    if sizes.shape != times.shape or sizes.ndim != 1:
        raise ValueError(
            f"sizes and times must be 1-D and of the same length; got {sizes.shape}, {times.shape}"
        )
    caches = machine.cache_sizes() if caches is None else caches
    order = ["unknown"] if not caches else [*sorted(caches, key=caches.get), "DRAM"]
    groups: dict[str, list[float]] = {}
    for s, t in zip(sizes, times, strict=True):
        groups.setdefault(cache_level(float(s), caches), []).append(float(t))
    return {name: float(np.median(groups[name])) for name in order if name in groups}


def _fold(r: float) -> str:
    return f"{r:.1f}-fold" if r < 10 else f"{r:.0f}-fold"


def describe_steps(level_times: dict[str, float], threshold: float = 1.3) -> str:
    """Say in words where ``level_times`` (level -> time, smallest level first, as
    :func:`level_medians` returns them) rose by at least ``threshold`` from one level to the
    next, and where it did not: the verdict a page prints next to its measurement.

    Returns a phrase to follow "the latency", such as "rose at every level boundary the scan
    crossed: 2.0-fold from L1d to L2, 22-fold from L2 to L3". ``threshold`` > 1.
    """
    threshold = check("threshold", threshold, 1, lo_open=True)
    if not isinstance(level_times, dict) or not level_times:
        raise ValueError("level_times must be a non-empty dict of level name -> time")
    names = list(level_times)
    if names == ["unknown"]:
        return "could not be matched to cache levels: the OS does not report their sizes here"
    if len(names) == 1:
        return f"stayed within one level ({names[0]}) over the sizes measured"
    pairs = [(a, b, level_times[b] / level_times[a]) for a, b in itertools.pairwise(names)]
    rose = [f"{_fold(r)} from {a} to {b}" for a, b, r in pairs if r >= threshold]
    flat = [f"{_fold(r)} from {a} to {b}" for a, b, r in pairs if r < threshold]
    if not flat:
        return "rose at every level boundary the scan crossed: " + ", ".join(rose)
    if not rose:
        return "did not rise clearly at any level boundary: " + ", ".join(flat)
    return (
        "rose at some level boundaries ("
        + ", ".join(rose)
        + ") but not clearly at others ("
        + ", ".join(flat)
        + ")"
    )
