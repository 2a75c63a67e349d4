r"""Demo kernels of chapter 3.3, memory optimization (内存优化).

The chapter follows the article's three steps, and so does this module:

* **allocation** (内存分配): growing an array against preallocating it
  (:func:`fill_by_append`, :func:`fill_by_list`, :func:`fill_preallocated`), temporaries
  against in-place ``out=`` operations (:func:`hypot_temporaries`, :func:`hypot_inplace`),
  and what a narrower dtype costs in accuracy (:func:`sum_relative_error`);
* **management** (内存管理): the peak memory of a call (:func:`traced_peak`), processing in
  chunks so the peak no longer grows with the input (:func:`mean_var_chunked`), and a view
  that keeps a large base array alive (:func:`keep_slice`);
* **cache optimization** (缓存优化): row against column traversal (:func:`sum_by_rows`,
  :func:`sum_by_columns`), a naive against a blocked transpose (:func:`transpose_naive`,
  :func:`transpose_blocked`), and the memory hierarchy measured against the working-set
  size in two ways: the latency of one read that must wait for the previous one (a pointer
  chase over a random cycle, :func:`chase_latency`, :func:`latency_scan`) and the time per
  read when many independent reads overlap (:func:`gather_time`, :func:`hierarchy_scan`).

Every function checks its inputs and raises a ``ValueError`` that names the parameter and
the allowed range. Nothing here asserts a speed: timings belong in notebooks and in
``benchmarks/memory.py``.
"""

from __future__ import annotations

import itertools
import math
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import machine
from ._validate import check, check_int

__all__ = [
    "TracedRun",
    "traced_peak",
    "fill_by_append",
    "fill_by_list",
    "fill_preallocated",
    "fill_vectorized",
    "append_copies",
    "hypot_temporaries",
    "hypot_inplace",
    "SUM_METHODS",
    "sum_relative_error",
    "sum_error_bound",
    "synthetic_values",
    "mean_var_unchunked",
    "mean_var_chunked",
    "keep_slice",
    "sum_by_rows",
    "sum_by_columns",
    "transpose_naive",
    "transpose_blocked",
    "cache_level",
    "working_set_sizes",
    "gather_time",
    "hierarchy_scan",
    "sattolo_cycle",
    "random_cycle",
    "chase_table",
    "chase_latency",
    "latency_scan",
    "level_medians",
    "describe_steps",
    "random_access_model",
]

KIB = 1024
MIB = 1024**2

# --------------------------------------------------------------------------------------
# Measuring memory
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TracedRun:
    """What :func:`traced_peak` returns.

    Attributes
    ----------
    value
        What the call returned.
    peak : int
        Bytes: the highest traced allocation during the call, above the level at its start.
    retained : int
        Bytes still allocated when the call returned, above the level at its start (what the
        returned value, or anything the call left behind, keeps alive).
    """

    value: object
    peak: int
    retained: int


def traced_peak(func: Callable, /, *args, **kwargs) -> TracedRun:
    """Call ``func(*args, **kwargs)`` under :mod:`tracemalloc`; return its value and memory.

    NumPy reports its array buffers to ``tracemalloc``, so the numbers include array data as
    well as Python objects. Tracing slows Python-level allocation down: time a function
    separately, never under this call. If tracing is already on, it stays on (but its peak
    is reset); otherwise it is switched off again, even if ``func`` raises.
    """
    if not callable(func):
        raise ValueError(f"func must be callable; got {func!r}")
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        value = func(*args, **kwargs)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        if started:
            tracemalloc.stop()
    return TracedRun(value=value, peak=max(0, peak - base), retained=max(0, current - base))


# --------------------------------------------------------------------------------------
# Allocation (内存分配)
# --------------------------------------------------------------------------------------

#: The largest n the quadratic :func:`fill_by_append` accepts.
APPEND_MAX = 200_000
#: The largest n the Python-loop fills accept.
LOOP_MAX = 10_000_000


def _item(i: int) -> float:
    """The per-item work of the fill demos: item ``i`` is ``0.5 * i`` (exact in float64)."""
    return 0.5 * i


def fill_by_append(n: int) -> np.ndarray:
    """Build ``[0.5*i for i < n]`` with ``np.append`` in a loop: every call copies the array.

    ``n`` in [0, 200000]: the copies add up to :math:`n(n+1)/2` element moves (quadratic).
    """
    n = check_int("n", n, 0, APPEND_MAX)
    out = np.empty(0)
    for i in range(n):
        out = np.append(out, _item(i))
    return out


def fill_by_list(n: int) -> np.ndarray:
    """Build the same array by appending Python floats to a list, then converting once.

    ``n`` in [0, 10**7]. Appending to a list is amortized O(1) (the list over-allocates),
    but every item is a separate Python float object until the conversion.
    """
    n = check_int("n", n, 0, LOOP_MAX)
    values = []
    for i in range(n):
        values.append(_item(i))
    return np.array(values, dtype=np.float64)


def fill_preallocated(n: int) -> np.ndarray:
    """Build the same array by allocating it once with ``np.empty`` and filling it in place.

    ``n`` in [0, 10**7].
    """
    n = check_int("n", n, 0, LOOP_MAX)
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        out[i] = _item(i)
    return out


def fill_vectorized(n: int) -> np.ndarray:
    """The same array with no Python loop at all: ``np.arange(n) * 0.5``. ``n`` >= 0."""
    n = check_int("n", n, 0, 10**10)
    return np.arange(n, dtype=np.float64) * 0.5


def append_copies(n):
    r"""Element copies made by growing an array one item at a time with ``np.append``.

    .. math:: \text{copies}(n) = \sum_{k=1}^{n} k = \frac{n(n+1)}{2}

    Call ``k`` copies the ``k - 1`` old items and the new one. ``n`` (scalar or array) >= 0.
    """
    n = check("n", n, 0)
    return n * (n + 1) / 2


def _float_vector(name: str, a, *, like: np.ndarray | None = None) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
        raise ValueError(f"{name} must be a NumPy array of floats; got {type(a).__name__}")
    if like is not None and (a.shape != like.shape or a.dtype != like.dtype):
        raise ValueError(
            f"{name} must have shape {like.shape} and dtype {like.dtype}; got {a.shape} and {a.dtype}"
        )
    return a


def hypot_temporaries(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r""":math:`\sqrt{x^2 + y^2}` written the natural way, ``np.sqrt(x * x + y * y)``.

    Each operator returns a new temporary array; NumPy reuses some of them in place
    ("temporary elision") but not all. ``x`` and ``y``: float arrays of the same shape.
    """
    x = _float_vector("x", x)
    y = _float_vector("y", y, like=x)
    return np.sqrt(x * x + y * y)


def hypot_inplace(x: np.ndarray, y: np.ndarray, out: np.ndarray, work: np.ndarray) -> np.ndarray:
    r""":math:`\sqrt{x^2 + y^2}` with no allocation: every step writes into ``out`` or ``work``.

    ``out`` and ``work`` are preallocated arrays of the shape and dtype of ``x``, distinct
    from ``x`` and ``y``. Returns ``out``.
    """
    x = _float_vector("x", x)
    y = _float_vector("y", y, like=x)
    out = _float_vector("out", out, like=x)
    work = _float_vector("work", work, like=x)
    if any(np.shares_memory(a, b) for a in (out, work) for b in (x, y)) or np.shares_memory(out, work):
        raise ValueError("out and work must not overlap each other, x or y")
    np.multiply(x, x, out=out)
    np.multiply(y, y, out=work)
    np.add(out, work, out=out)
    np.sqrt(out, out=out)
    return out


#: How :func:`sum_relative_error` can add: NumPy's pairwise ``np.sum``, strictly one after
#: the other (``np.cumsum``), or stored narrow but accumulated in float64.
SUM_METHODS = ("pairwise", "sequential", "float64 accumulator")
_DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}


def _dtype(dtype) -> type:
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}; got {dtype!r}")
    return _DTYPES[name]


def sum_relative_error(x: np.ndarray, dtype="float32", method: str = "pairwise") -> float:
    r"""Relative error of summing the float64 data ``x`` after storing it as ``dtype``.

    The reference is the correctly rounded sum of ``x`` (:func:`math.fsum`). The error has
    two sources: rounding each value to ``dtype`` and rounding every partial sum. Returns
    ``inf`` when the sum overflows ``dtype`` (float16 stops at 65504).

    Parameters
    ----------
    x : 1-D float64 array of finite numbers with a nonzero sum
    dtype : "float16", "float32" or "float64"
    method : one of :data:`SUM_METHODS`
    """
    if not isinstance(x, np.ndarray) or x.ndim != 1 or x.dtype != np.float64 or x.size == 0:
        raise ValueError("x must be a non-empty 1-D float64 NumPy array")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must contain finite numbers only")
    if method not in SUM_METHODS:
        raise ValueError(f"method must be one of {list(SUM_METHODS)}; got {method!r}")
    kind = _dtype(dtype)
    exact = math.fsum(x)
    if exact == 0:
        raise ValueError("x must have a nonzero sum (the error is relative to it)")
    with np.errstate(over="ignore", invalid="ignore"):
        stored = x.astype(kind)
        if method == "pairwise":
            total = float(np.sum(stored))
        elif method == "sequential":
            total = float(np.cumsum(stored)[-1])
        else:
            total = float(np.sum(stored, dtype=np.float64))
    if not math.isfinite(total):
        return math.inf
    return abs(total - exact) / abs(exact)


def _pairwise_depth(n: int) -> int:
    """Most additions any one item goes through in NumPy's pairwise sum of ``n`` items.

    NumPy adds fewer than 8 items one after the other; up to 128 items in 8 interleaved
    running sums that are then added in a tree of depth 3 (the leftover ``n % 8`` items
    last); above 128 it splits the array in two halves (a multiple of 8 first) and recurses.
    """
    if n <= 1:
        return 0
    if n < 8:
        return n - 1
    if n <= 128:
        return (n // 8 - 1) + 3 + n % 8
    half = n // 2
    half -= half % 8
    return 1 + max(_pairwise_depth(half), _pairwise_depth(n - half))


def sum_error_bound(n, dtype="float32", method: str = "pairwise"):
    r"""Worst-case relative error of summing ``n`` nonnegative float64 numbers stored as ``dtype``.

    With unit roundoff :math:`u = \epsilon/2` (half of ``np.finfo(dtype).eps``), rounding the
    data costs at most :math:`u`, and each addition an item goes through costs at most
    :math:`u` more, to first order (Higham, *Accuracy and Stability of Numerical
    Algorithms*, 2nd ed., 2002, chapter 4):

    .. math:: \frac{|\hat s - s|}{s} \lesssim u\,(1 + k),

    where :math:`k = n - 1` for the sequential sum and :math:`k \approx \log_2 n` for a
    pairwise one (NumPy's exact depth, :func:`_pairwise_depth`, is a little larger, since it
    adds short runs of up to 16 items one after the other). With the float64 accumulator the
    additions cost float64's :math:`u` (counted sequentially, an upper bound). Typical errors
    are far below these worst cases. ``n`` >= 1, a whole number.
    """
    n = check_int("n", n, 1, 2**62)
    if method not in SUM_METHODS:
        raise ValueError(f"method must be one of {list(SUM_METHODS)}; got {method!r}")
    u = float(np.finfo(_dtype(dtype)).eps) / 2
    if method == "sequential":
        return u * n
    if method == "pairwise":
        return u * (1 + _pairwise_depth(n))
    return u + (n - 1) * float(np.finfo(np.float64).eps) / 2


# --------------------------------------------------------------------------------------
# Management (内存管理)
# --------------------------------------------------------------------------------------

_WEYL = (math.sqrt(5.0) - 1.0) / 2.0  # the golden ratio's fractional part
#: The largest input the chunking demos accept (2**30 values, 8 GiB if materialized).
CHUNK_N_MAX = 2**30


def synthetic_values(start: int, stop: int) -> np.ndarray:
    r"""Items ``start`` to ``stop - 1`` of a deterministic data stream in [0, 1).

    Item :math:`i` is the fractional part of :math:`i \varphi` with
    :math:`\varphi = (\sqrt 5 - 1)/2` (a Weyl sequence, spread evenly over [0, 1)). It
    depends on the index only, so any chunking of the stream sees the same numbers.
    ``0 <= start <= stop <= 2**30``.
    """
    start = check_int("start", start, 0, CHUNK_N_MAX)
    stop = check_int("stop", stop, start, CHUNK_N_MAX)
    i = np.arange(start, stop, dtype=np.float64)
    i *= _WEYL
    return np.mod(i, 1.0, out=i)


def _transform(x: np.ndarray) -> np.ndarray:
    """The per-item work of the chunking demo: sqrt(x) * exp(-x)."""
    return np.sqrt(x) * np.exp(-x)


def mean_var_unchunked(n: int) -> tuple[float, float]:
    r"""Mean and (population) variance of :math:`\sqrt{x}\,e^{-x}` over the first ``n`` items
    of :func:`synthetic_values`, with the whole input in memory at once.

    ``n`` in [1, 2**30]; the peak memory grows in proportion to ``n``.
    """
    n = check_int("n", n, 1, CHUNK_N_MAX)
    y = _transform(synthetic_values(0, n))
    return float(y.mean()), float(y.var())


def mean_var_chunked(n: int, chunk: int) -> tuple[float, float]:
    r"""The same mean and variance, reading the input ``chunk`` items at a time.

    Each chunk's count, mean and sum of squared deviations :math:`M_2` are merged into the
    running totals with the pairwise update of Chan, Golub and LeVeque (1983):

    .. math:: \delta = \bar y_b - \bar y_a,\quad \bar y = \bar y_a + \delta \frac{n_b}{n},\quad
              M_2 = M_{2,a} + M_{2,b} + \delta^2 \frac{n_a n_b}{n},

    which stays accurate where the textbook :math:`\sum y^2 - n\bar y^2` cancels. The peak
    memory is proportional to ``chunk``, whatever ``n`` is. ``n`` in [1, 2**30], ``chunk`` >= 1.
    """
    n = check_int("n", n, 1, CHUNK_N_MAX)
    chunk = check_int("chunk", chunk, 1, CHUNK_N_MAX)
    count, mean, m2 = 0, 0.0, 0.0
    for start in range(0, n, chunk):
        y = _transform(synthetic_values(start, min(start + chunk, n)))
        nb = y.size
        mb = float(y.mean())
        m2b = float(np.sum((y - mb) ** 2))
        total = count + nb
        delta = mb - mean
        mean += delta * nb / total
        m2 += m2b + delta * delta * count * nb / total
        count = total
    return mean, m2 / count


def keep_slice(n: int, k: int, copy: bool = False) -> np.ndarray:
    """Allocate ``n`` float64 values, return the first ``k`` of them, drop the rest.

    With ``copy=False`` the result is a *view*: its ``.base`` is the big array, which
    therefore stays alive (all ``n`` values) as long as the small result does. With
    ``copy=True`` only ``k`` values survive. ``n`` >= 1, ``k`` in [1, n].
    """
    n = check_int("n", n, 1, 2**34)
    k = check_int("k", k, 1, n)
    big = np.ones(n)
    small = big[:k].copy() if copy else big[:k]
    del big  # the name goes; the buffer lives on if ``small`` is a view
    return small


# --------------------------------------------------------------------------------------
# Cache optimization (缓存优化)
# --------------------------------------------------------------------------------------


def _matrix(name: str, a) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.ndim != 2 or a.size == 0:
        got = f"{a.ndim}-D array" if isinstance(a, np.ndarray) else type(a).__name__
        raise ValueError(f"{name} must be a non-empty 2-D NumPy array; got {got}")
    return a


def sum_by_rows(a: np.ndarray) -> float:
    """Sum a 2-D array one row at a time (``a[i, :]``): contiguous for C order."""
    a = _matrix("a", a)
    total = 0.0
    for i in range(a.shape[0]):
        total += float(a[i, :].sum())
    return total


def sum_by_columns(a: np.ndarray) -> float:
    """Sum a 2-D array one column at a time (``a[:, j]``): contiguous for Fortran order."""
    a = _matrix("a", a)
    total = 0.0
    for j in range(a.shape[1]):
        total += float(a[:, j].sum())
    return total


def _transpose_out(a: np.ndarray, out) -> np.ndarray:
    if out is None:
        return np.empty((a.shape[1], a.shape[0]), dtype=a.dtype)
    if not isinstance(out, np.ndarray) or out.shape != (a.shape[1], a.shape[0]) or out.dtype != a.dtype:
        raise ValueError(f"out must be a NumPy array of shape {(a.shape[1], a.shape[0])} and dtype {a.dtype}")
    if np.shares_memory(a, out):
        raise ValueError("out must not overlap a")
    return out


def transpose_naive(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Copy ``a.T`` into a C-ordered array in one strided sweep (``np.copyto(out, a.T)``).

    One of the two arrays is always walked across its rows' stride, so once the arrays
    outgrow the cache almost every element costs a cache-line (and often a TLB) miss.
    """
    a = _matrix("a", a)
    out = _transpose_out(a, out)
    np.copyto(out, a.T)
    return out


def transpose_blocked(a: np.ndarray, block: int = 64, out: np.ndarray | None = None) -> np.ndarray:
    """Copy ``a.T`` tile by tile: ``out[j:j+b, i:i+b] = a[i:i+b, j:j+b].T``.

    Each ``block x block`` tile of the source and of the destination fits in the cache, so
    every cache line brought in is used fully before it is evicted. ``block`` in
    [1, max(a.shape)]; edge tiles are smaller when ``block`` does not divide the shape.
    """
    a = _matrix("a", a)
    block = check_int("block", block, 1, max(a.shape))
    out = _transpose_out(a, out)
    rows, cols = a.shape
    for i in range(0, rows, block):
        i1 = min(i + block, rows)
        for j in range(0, cols, block):
            j1 = min(j + block, cols)
            out[j:j1, i:i1] = a[i:i1, j:j1].T
    return out


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


def gather_time(nbytes: int, accesses: int = 2**16, repeat: int = 21, seed: int = 0) -> float:
    """Seconds per element of ``np.take`` at ``accesses`` random positions of an array of ``nbytes``.

    The array holds float64 values; the positions are uniform over it, so once it outgrows a
    cache level most reads miss that level. The reads are independent, so the CPU overlaps
    several misses: this measures the random-read *throughput* of the level the working set
    lands in, not the latency of one isolated access. Each of ``repeat`` timed calls is
    short (about a millisecond at most), and the *best* one counts: other programs on a
    shared machine can only add time, and a short call is likely to run undisturbed at
    least once. ``nbytes`` in [64, 2**40], ``accesses`` in [1024, 2**26], ``repeat`` in
    [1, 1000].
    """
    from .timing import bench

    nbytes = check_int("nbytes", nbytes, 64, 2**40)
    accesses = check_int("accesses", accesses, 1024, 2**26)
    repeat = check_int("repeat", repeat, 1, 1000)
    seed = check_int("seed", seed, 0)
    n = nbytes // 8
    data = np.ones(n)  # np.ones touches every page, so no page faults are timed
    idx = np.random.default_rng(seed).integers(0, n, accesses)
    out = np.empty(accesses)

    def gather():
        np.take(data, idx, out=out, mode="clip")  # "clip": unbuffered; every index is valid

    result = bench(gather, repeat=repeat, warmup=2, number=1)
    return result.best / accesses


def hierarchy_scan(
    sizes, accesses: int = 2**16, repeat: int = 21, rounds: int = 1, seed: int = 0
) -> np.ndarray:
    """:func:`gather_time` (seconds per element) for every working-set size in ``sizes`` (bytes).

    With ``rounds`` > 1 the whole scan runs that many times and each size keeps its best
    time, so a burst of activity from another program spoils at most one round.
    ``rounds`` in [1, 20].
    """
    arr = np.atleast_1d(check("sizes", sizes, 64, 2**40))
    rounds = check_int("rounds", rounds, 1, 20)
    best = np.full(arr.shape, np.inf)
    for _ in range(rounds):
        times = [gather_time(int(s), accesses=accesses, repeat=repeat, seed=seed) for s in arr]
        best = np.minimum(best, times)
    return best


# --------------------------------------------------------------------------------------
# Latency: a dependent pointer chase over a random cycle
# --------------------------------------------------------------------------------------

#: Bytes from one node of the pointer chase to the next: one node per 64-byte cache line,
#: so that every step of the chase touches a line of its own.
CHASE_STRIDE = 64


def sattolo_cycle(n: int, seed: int = 0) -> np.ndarray:
    """A random cyclic permutation of ``range(n)`` by Sattolo's algorithm (1986).

    Returns ``nxt`` with ``nxt[i]`` the element that follows ``i``: following it from any
    start visits all ``n`` elements before it returns. Each of the :math:`(n-1)!` cyclic
    permutations is equally likely. This is the textbook loop, one Python step per element,
    kept as the reference for :func:`random_cycle`; ``n`` in [1, 10**6].
    """
    n = check_int("n", n, 1, 10**6)
    rng = np.random.default_rng(seed)
    items = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(rng.integers(0, i))  # j < i: never the element itself, so one cycle results
        items[i], items[j] = items[j], items[i]
    return np.array(items, dtype=np.intp)


def random_cycle(n: int, seed: int = 0) -> np.ndarray:
    """A random cyclic permutation of ``range(n)``, with the distribution of
    :func:`sattolo_cycle` but built without a Python loop.

    A uniformly random order of the ``n`` elements is linked into a ring: each element points
    to the one after it in the order, and the last to the first. Each of the :math:`(n-1)!`
    cycles arises from exactly ``n`` orders (its ``n`` rotations), so all are equally likely,
    as with Sattolo's algorithm. ``n`` in [1, 2**40].
    """
    n = check_int("n", n, 1, 2**40)
    order = np.random.default_rng(seed).permutation(n)
    nxt = np.empty(n, dtype=np.intp)
    nxt[order[:-1]] = order[1:]
    nxt[order[-1]] = order[0]
    return nxt


def chase_table(nbytes: int, seed: int = 0) -> np.ndarray:
    """An array of ``nbytes`` (rounded down to whole cache lines) to chase pointers through.

    One index per :data:`CHASE_STRIDE` bytes is a node; the nodes form one random cycle
    (:func:`random_cycle`), and each holds the array index of the next node. The other
    slots hold 0 and are never read. Every cache line of the array holds exactly one node,
    so a chase that has visited every node has touched all ``nbytes``.
    ``nbytes`` in [2 * 64, 2**40].
    """
    nbytes = check_int("nbytes", nbytes, 2 * CHASE_STRIDE, 2**40)
    per = CHASE_STRIDE // 8
    nodes = nbytes // CHASE_STRIDE
    table = np.zeros(nodes * per, dtype=np.intp)
    table[::per] = random_cycle(nodes, seed) * per
    return table


def _chase(table: np.ndarray, buf: np.ndarray) -> None:
    """``steps = len(buf) - 1`` dependent reads, inside one NumPy call.

    ``np.take`` computes ``out[j] = table[indices[j]]`` in a C loop, one ``j`` after the
    other. Here ``indices`` is ``buf[:-1]`` and ``out`` is ``buf[1:]``, the same memory one
    slot later: the index that step ``j`` reads is the value step ``j - 1`` has just
    written. So no read can start before the previous one has finished, as in a linked-list
    walk. (``mode="wrap"``: NumPy copies ``out`` first under the default "raise" mode.)
    """
    buf[0] = buf[-1]
    np.take(table, buf[:-1], out=buf[1:], mode="wrap")


def chase_latency(nbytes: int, steps: int = 8192, repeat: int = 11, seed: int = 0) -> float:
    """Seconds per read of a dependent pointer chase through a working set of ``nbytes``.

    The chase follows a random cycle through :func:`chase_table`: every read lands on a
    random cache line of the working set, and the address of each read is the value the
    previous one returned, so the processor cannot overlap them or prefetch them. The time
    per step is therefore the *latency* of the level that holds the working set, plus a
    few cycles of bookkeeping per step (the loop stores each index and reads it back), the
    same at every size. The working set is read once in order first, so whatever fits in a
    cache is there. Of ``repeat`` timed calls of ``steps`` reads each, the *best* counts:
    other programs can only add time. The chase is checked after timing: every index the
    buffer holds must be the successor of the one before it.

    ``nbytes`` in [128, 2**40], ``steps`` in [256, 2**24], ``repeat`` in [1, 1000].
    """
    from .timing import bench

    steps = check_int("steps", steps, 256, 2**24)
    repeat = check_int("repeat", repeat, 1, 1000)
    table = chase_table(nbytes, seed)
    buf = np.empty(steps + 1, dtype=np.intp)
    buf[-1] = 0  # node 0 is on the cycle, like every node
    int(table.max())  # one pass in order: whatever fits in a cache is now there
    result = bench(lambda: _chase(table, buf), repeat=repeat, warmup=2, number=1)
    if not np.array_equal(table[buf[:-1]], buf[1:]):
        raise RuntimeError("the chase was not dependent: np.take copied its indices first")
    return result.best / steps


def latency_scan(sizes, steps: int = 8192, repeat: int = 11, seed: int = 0) -> np.ndarray:
    """:func:`chase_latency` (seconds per dependent read) for every working set in ``sizes`` (bytes)."""
    arr = np.atleast_1d(check("sizes", sizes, 2 * CHASE_STRIDE, 2**40))
    return np.array([chase_latency(int(s), steps=steps, repeat=repeat, seed=seed) for s in arr])


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


def random_access_model(nbytes, levels: dict[str, tuple[float, float]]):
    r"""Expected time per access of uniform random reads over ``nbytes``, level by level.

    ``levels`` maps each cache level to ``(capacity in bytes, time per access when served
    there)``, and must hold a ``"DRAM"`` entry whose capacity is ignored. If the reads are
    uniform over a working set of :math:`m` bytes and level :math:`k` (capacity
    :math:`c_k`, levels sorted by capacity) keeps any :math:`c_k` of them, a read is served
    by level :math:`k` with probability :math:`h_k = \min(1, c_k/m) - \min(1, c_{k-1}/m)`,
    and by DRAM otherwise, so the average memory access time (AMAT) is

    .. math:: t(m) = \sum_k h_k\, t_k + \Bigl(1 - \min\bigl(1, c_K/m\bigr)\Bigr)\, t_\mathrm{DRAM}.

    The share a level serves is 1 while :math:`m` fits in it and falls like :math:`c_k/m`
    beyond, so :math:`t(m)` is flat inside a level, rises past its capacity, and levels off
    at :math:`t_\mathrm{DRAM}`. It ignores associativity, the TLB and prefetching. ``nbytes`` > 0
    (scalar or array); capacities > 0; times >= 0.
    """
    m = check("nbytes", nbytes, 0, lo_open=True)
    if not isinstance(levels, dict) or "DRAM" not in levels:
        raise ValueError("levels must be a dict of name -> (capacity, time) with a 'DRAM' entry")
    t_dram = check("DRAM time", levels["DRAM"][1], 0)
    caches = []
    for name, (cap, t) in levels.items():
        if name == "DRAM":
            continue
        caches.append((check(f"{name} capacity", cap, 0, lo_open=True), check(f"{name} time", t, 0)))
    caches.sort()
    total = 0.0
    served = 0.0  # probability already served by a smaller level
    for cap, t in caches:
        upto = np.minimum(1.0, cap / m)
        total = total + (upto - served) * t
        served = upto
    return total + (1.0 - served) * t_dram
