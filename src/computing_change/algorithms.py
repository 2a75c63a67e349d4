r"""Demo kernels and worker functions of chapter 3.4, *Algorithm optimization* (算法优化).

The chapter follows the source article's three steps, and so does this module:

* **algorithm selection** (算法选择): one problem, counting the inversions of a sequence,
  solved by an :math:`O(n^2)` double loop (:func:`count_inversions_brute`) and by an
  :math:`O(n \log n)` merge sort (:func:`count_inversions_merge`, :func:`merge_sort_count`),
  both in pure Python so that only the algorithm differs; :func:`scaling_times` measures a
  function over growing sizes and :func:`fit_power_law` fits :math:`t \approx a\,n^k` by least
  squares on the logarithms;
* **code optimization** (代码优化): one kernel, the sum of squares, as a Python loop
  (:func:`sum_squares_loop`), as vectorized NumPy (:func:`sum_squares_vectorized`) and as one
  fused pass (:func:`sum_squares_dot`); :func:`fit_linear_cost` splits a time into a fixed
  overhead and a cost per item;
* **parallelization** (并行化与分布式): the prefix sum (scan) split across processes by the
  two-pass, reduce-then-scan algorithm: :func:`scan_additions` counts its work,
  :func:`two_pass_cumsum` runs it in one process, :func:`parallel_cumsum` runs it on a pool
  over :class:`SharedArray` buffers that the workers attach by name, and
  :func:`parallel_cumsum_copy` runs it by sending the blocks to the workers, pickled, so the
  cost of moving data shows.

Every function that a process pool runs lives here, at module level: pools that *spawn*
their workers (Windows, macOS, and :func:`computing_change.parallel.process_pool`) send a
function by its importable name, which a function defined in a notebook cell does not have.
"""

from __future__ import annotations

import atexit
import math
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

from ._validate import check, check_int
from .parallel import split_evenly
from .timing import bench

__all__ = [
    "MergeCount",
    "count_inversions_brute",
    "count_inversions_merge",
    "merge_sort_count",
    "brute_comparisons",
    "PowerLawFit",
    "fit_power_law",
    "scaling_times",
    "human_time",
    "sum_squares_loop",
    "sum_squares_vectorized",
    "sum_squares_dot",
    "LinearCost",
    "fit_linear_cost",
    "split_blocks",
    "scan_additions",
    "two_pass_cumsum",
    "SharedArray",
    "ScanPhases",
    "parallel_cumsum",
    "parallel_cumsum_copy",
    "block_sum",
    "block_cumsum",
    "SCAN_CHUNK",
    "payload_nbytes",
    "scan_speedup_model",
]


# --------------------------------------------------------------------------------------
# Algorithm selection (算法选择): counting inversions two ways
# --------------------------------------------------------------------------------------


def _real_list(name: str, values) -> list:
    """``values`` as a Python list of finite real numbers (ints stay ints), or ValueError."""
    if isinstance(values, (str, bytes)) or values is None:
        raise ValueError(f"{name} must be a 1-D sequence of finite real numbers; got {values!r}")
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-D sequence of finite real numbers") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of finite real numbers; got {arr.ndim} dimensions")
    if arr.size == 0:
        return []
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a 1-D sequence of finite real numbers; got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain finite numbers only (NaN is not ordered)")
    return arr.tolist()


def count_inversions_brute(values: Sequence[float]) -> int:
    r"""The number of inversions of ``values`` by comparing every pair: :math:`O(n^2)`.

    An inversion is a pair of positions :math:`i < j` with :math:`v_i > v_j`; a sorted
    sequence has none and a reversed one has :math:`n(n-1)/2`. This is the direct
    translation of the definition into two nested loops, and it makes exactly
    :math:`n(n-1)/2` comparisons (:func:`brute_comparisons`).

    Parameters
    ----------
    values : 1-D sequence of finite real numbers (a list, a tuple or a NumPy array)
    """
    a = _real_list("values", values)
    n = len(a)
    count = 0
    for i in range(n - 1):
        ai = a[i]
        for j in range(i + 1, n):
            if a[j] < ai:
                count += 1
    return count


def brute_comparisons(n: int) -> int:
    """Comparisons :func:`count_inversions_brute` makes on ``n`` >= 0 values: ``n(n-1)/2``."""
    n = check_int("n", n, 0)
    return n * (n - 1) // 2


@dataclass(frozen=True)
class MergeCount:
    """What :func:`merge_sort_count` returns: the sorted values and two counts."""

    sorted: list
    inversions: int
    comparisons: int


def merge_sort_count(values: Sequence[float]) -> MergeCount:
    r"""Sort ``values`` by merge sort and count its inversions on the way: :math:`O(n \log n)`.

    Bottom-up merge sort: merge runs of width 1, 2, 4, ... When a merge takes an item from
    the right run while ``mid - i`` items are still waiting in the left run, each of those is
    larger and comes earlier, so the item closes ``mid - i`` inversions at once. That is why
    the count costs nothing beyond the sort. Ties are not inversions (the left item goes
    first, so the sort is stable). ``comparisons`` counts the item comparisons made, at most
    :math:`n \lceil \log_2 n \rceil`.

    Parameters
    ----------
    values : 1-D sequence of finite real numbers (a list, a tuple or a NumPy array)
    """
    src = _real_list("values", values)
    n = len(src)
    inversions = 0
    comparisons = 0
    width = 1
    while width < n:
        dst: list = []
        append = dst.append
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i, j = lo, mid
            while i < mid and j < hi:
                if src[j] < src[i]:
                    append(src[j])
                    j += 1
                    inversions += mid - i
                else:
                    append(src[i])
                    i += 1
            comparisons += (i - lo) + (j - mid)
            dst.extend(src[i:mid])
            dst.extend(src[j:hi])
        src = dst
        width *= 2
    return MergeCount(src, inversions, comparisons)


def count_inversions_merge(values: Sequence[float]) -> int:
    r"""The number of inversions of ``values`` by merge sort: :math:`O(n \log n)`.

    Same answer as :func:`count_inversions_brute`; see :func:`merge_sort_count` for how.
    """
    return merge_sort_count(values).inversions


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


def fit_power_law(sizes, values, *, n_min: float | None = None) -> PowerLawFit:
    r"""Fit :math:`v \approx a\,n^k` to ``values`` measured at ``sizes`` by least squares on
    :math:`\log v = \log a + k \log n`.

    Only sizes ``>= n_min`` take part (default: all), so that small sizes, where a fixed
    overhead rather than the algorithm sets the time, do not bend the slope.

    Parameters
    ----------
    sizes : 1-D array of numbers > 0
    values : 1-D array of numbers > 0, the same length (times, operation counts, ...)
    n_min : number > 0 or None; at least two sizes must be ``>= n_min``
    """
    n = check("sizes", np.atleast_1d(np.asarray(sizes, dtype=float)), 0, lo_open=True)
    v = check("values", np.atleast_1d(np.asarray(values, dtype=float)), 0, lo_open=True)
    if n.ndim != 1 or n.shape != v.shape:
        raise ValueError(f"sizes and values must be 1-D and of the same length; got {n.shape} and {v.shape}")
    if n_min is not None:
        n_min = check("n_min", n_min, 0, lo_open=True)
        keep = n >= n_min
        n, v = n[keep], v[keep]
    if np.unique(n).size < 2:
        raise ValueError("sizes must hold at least two different values (>= n_min) to fit a slope")
    x, y = np.log(n), np.log(v)
    (k, log_a), residuals, *_ = np.polyfit(x, y, 1, full=True)
    if n.size > 2:
        sxx = float(np.sum((x - x.mean()) ** 2))
        rss = float(residuals[0]) if residuals.size else 0.0
        stderr = math.sqrt(rss / (n.size - 2) / sxx)
    else:
        stderr = math.nan
    return PowerLawFit(float(k), float(math.exp(log_a)), stderr, float(n.min()), float(n.max()), int(n.size))


def scaling_times(
    func: Callable[[object], object],
    make_input: Callable[[int], object],
    sizes: Sequence[int],
    *,
    time_limit: float = 0.5,
    repeat: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Median seconds of ``func(make_input(n))`` for each size in ``sizes`` (increasing).

    Each size is timed with :func:`computing_change.timing.bench` (a warm-up, ``repeat``
    repeats, the median; one call per repeat once a call lasts 20 ms); the input is built
    once per size, outside the timing. The sweep stops after the first size whose call takes
    longer than ``time_limit`` seconds, so a slow machine measures fewer sizes instead of
    running for minutes. Returns ``(sizes, times)``.
    """
    ns = [check_int("sizes", s, 1) for s in sizes]
    if not ns or any(b <= a for a, b in zip(ns, ns[1:], strict=False)):
        raise ValueError("sizes must be a non-empty, strictly increasing sequence of whole numbers >= 1")
    time_limit = check("time_limit", time_limit, 0, 600, lo_open=True)
    repeat = check_int("repeat", repeat, 1, 100)
    if not callable(func) or not callable(make_input):
        raise ValueError("func and make_input must be callable")
    done, times = [], []
    for n in ns:
        data = make_input(n)
        t0 = time.perf_counter()
        func(data)  # the warm-up, timed to skip bench's calibration when one call is long enough
        once = time.perf_counter() - t0
        number = 1 if once >= 0.02 else None
        result = bench(lambda data=data: func(data), repeat=repeat, warmup=0, number=number)
        done.append(n)
        times.append(result.median)
        if result.median > time_limit:
            break
    return np.array(done), np.array(times)


def human_time(seconds: float) -> str:
    """``seconds`` (>= 0) in the largest unit that keeps the number readable: ns up to years."""
    seconds = check("seconds", seconds, 0)
    units = (
        ("years", 365.25 * 86400),
        ("days", 86400.0),
        ("h", 3600.0),
        ("min", 60.0),
        ("s", 1.0),
        ("ms", 1e-3),
        ("µs", 1e-6),
        ("ns", 1e-9),
    )
    for unit, scale in units:
        if seconds >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------------------
# Code optimization (代码优化): one kernel, a loop and vectorized NumPy
# --------------------------------------------------------------------------------------

_SUM_SQUARES_MSG = "values must be a 1-D sequence of finite real numbers whose squares sum to a finite float"


def sum_squares_loop(values) -> float:
    r"""The sum of squares :math:`\sum_i v_i^2`, one element at a time in a Python loop.

    Works on any 1-D sequence (a list is fastest: iterating a NumPy array makes a new
    ``numpy.float64`` object per element). The input is checked *after* the loop (a NaN, an
    infinity or an overflow all make the result non-finite), so the check adds nothing to the
    time per element being measured.
    """
    if isinstance(values, (str, bytes)) or values is None:
        raise ValueError(f"{_SUM_SQUARES_MSG}; got {values!r}")
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise ValueError(f"{_SUM_SQUARES_MSG}; got {values.ndim} dimensions")
    total = 0.0
    try:
        for v in values:
            total += v * v
        total = float(total)
    except TypeError:
        raise ValueError(_SUM_SQUARES_MSG) from None
    if not math.isfinite(total):
        raise ValueError(_SUM_SQUARES_MSG)
    return total


def _float_vector(values) -> np.ndarray:
    if isinstance(values, (str, bytes)) or values is None:
        raise ValueError(f"{_SUM_SQUARES_MSG}; got {values!r}")
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(_SUM_SQUARES_MSG) from None
    if x.ndim != 1:
        raise ValueError(f"{_SUM_SQUARES_MSG}; got {x.ndim} dimensions")
    return x


def sum_squares_vectorized(values) -> float:
    r"""The sum of squares as two whole-array NumPy operations: ``np.sum(x * x)``.

    ``x * x`` runs one compiled loop and writes a temporary array as large as ``x``;
    ``np.sum`` runs a second loop over it (pairwise summation).
    """
    x = _float_vector(values)
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.sum(x * x))
    if not math.isfinite(total):
        raise ValueError(_SUM_SQUARES_MSG)
    return total


def sum_squares_dot(values) -> float:
    r"""The sum of squares as one fused pass, the dot product ``x @ x`` (BLAS ``ddot``).

    No temporary array: each element is read once, squared and added in registers. BLAS
    may use several threads for long vectors; limit them (``threadpoolctl``) to compare
    single-core code.
    """
    x = _float_vector(values)
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(x @ x)
    if not math.isfinite(total):
        raise ValueError(_SUM_SQUARES_MSG)
    return total


@dataclass(frozen=True)
class LinearCost:
    """A fit :math:`t \\approx t_0 + c\\,n`: a fixed ``overhead`` (s) and a cost ``per_item`` (s)."""

    overhead: float
    per_item: float

    def predict(self, n):
        """The fitted time at ``n`` >= 0 items (a number or an array)."""
        n = check("n", n, 0)
        return self.overhead + self.per_item * n


def fit_linear_cost(sizes, times) -> LinearCost:
    r"""Fit :math:`t \approx t_0 + c\,n` to ``times`` at ``sizes``, minimizing *relative* errors.

    Each equation is divided by its measured time, so a 1 µs call and a 1 s call weigh the
    same, and both the overhead (set by the small sizes) and the per-item cost (set by the
    large ones) come out right. Both are clipped at zero.

    Parameters
    ----------
    sizes : 1-D array of numbers >= 0, with at least two different values
    times : 1-D array of numbers > 0, the same length
    """
    n = check("sizes", np.atleast_1d(np.asarray(sizes, dtype=float)), 0)
    t = check("times", np.atleast_1d(np.asarray(times, dtype=float)), 0, lo_open=True)
    if n.ndim != 1 or n.shape != t.shape:
        raise ValueError(f"sizes and times must be 1-D and of the same length; got {n.shape} and {t.shape}")
    if np.unique(n).size < 2:
        raise ValueError("sizes must hold at least two different values to fit a line")
    design = np.column_stack([np.ones_like(n), n]) / t[:, None]
    (t0, c), *_ = np.linalg.lstsq(design, np.ones_like(t), rcond=None)
    return LinearCost(max(0.0, float(t0)), max(0.0, float(c)))


# --------------------------------------------------------------------------------------
# Parallelization (并行化与分布式): the two-pass prefix sum
# --------------------------------------------------------------------------------------


def split_blocks(n: int, parts: int) -> list[tuple[int, int]]:
    """``range(n)`` cut into ``parts`` contiguous ``(start, stop)`` blocks whose sizes differ by
    at most one. ``n`` >= 1, ``parts`` in [1, n] (so no block is empty).

    >>> split_blocks(10, 3)
    [(0, 4), (4, 7), (7, 10)]
    """
    n = check_int("n", n, 1)
    parts = check_int("parts", parts, 1, n)
    return split_evenly(0, n, parts)


def scan_additions(n: int, parts: int) -> dict[str, int]:
    r"""Additions made by a serial scan and by the two-pass scan of :func:`two_pass_cumsum`.

    A serial inclusive scan of :math:`n` numbers makes :math:`n - 1` additions. The two-pass
    scan over :math:`p` blocks of sizes :math:`b_0, \dots, b_{p-1}` makes

    * pass 1, reduce: the sums of blocks :math:`0, \dots, p-2` (the last block's sum is never
      needed): :math:`\sum_{k<p-1} (b_k - 1) = n - b_{p-1} - (p - 1)` additions;
    * combine: the offsets :math:`o_k = o_{k-1} + s_{k-1}` for :math:`k = 2, \dots, p-1`:
      :math:`\max(p - 2, 0)` additions;
    * pass 2, scan: every block scanned from its offset, :math:`b_k - 1` additions plus one
      for the offset when :math:`k \ge 1`: :math:`n - 1` additions.

    So the two-pass scan does :math:`2n - b_{p-1} - 2` additions, almost twice the serial
    :math:`n - 1` when :math:`p` is large, and exactly :math:`n - 1` when :math:`p = 1`.
    Returns ``{"serial", "reduce", "combine", "scan", "two_pass"}``.
    """
    blocks = split_blocks(n, parts)
    p = len(blocks)
    last = blocks[-1][1] - blocks[-1][0]
    reduce_ = n - last - (p - 1)
    combine = max(p - 2, 0)
    scan = n - 1
    return {
        "serial": n - 1,
        "reduce": reduce_,
        "combine": combine,
        "scan": scan,
        "two_pass": reduce_ + combine + scan,
    }


def _scan_vector(name: str, x) -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.ndim != 1 or x.size == 0 or x.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a non-empty 1-D NumPy array of integers or floats")
    return x


def block_sum(x: np.ndarray, start: int, stop: int):
    """``x[start:stop].sum()``: pass 1 of the two-pass scan, on one block (as a Python number)."""
    x = _scan_vector("x", x)
    start = check_int("start", start, 0, x.size - 1)
    stop = check_int("stop", stop, start + 1, x.size)
    return x[start:stop].sum().item()


#: Items scanned at a time by :func:`block_cumsum`: 65536 (512 KiB of int64 or float64), small
#: enough to stay in cache between being copied and being scanned in place, large enough that
#: the Python loop over chunks costs little.
SCAN_CHUNK = 1 << 16


def block_cumsum(x: np.ndarray, out: np.ndarray, start: int, stop: int, offset=0) -> None:
    """Pass 2 of the two-pass scan, on one block: ``out[start:stop]`` becomes the running sum of
    ``x[start:stop]`` continued from ``offset`` (the sum of everything before ``start``).

    The block goes in chunks of :data:`SCAN_CHUNK` items: copy the chunk into ``out``, add the
    running total so far to its first item, scan it in place (the chunk is still in cache). So
    the block sees exactly the additions a serial scan makes there, in the same order.
    """
    x = _scan_vector("x", x)
    if not isinstance(out, np.ndarray) or out.shape != x.shape or out.dtype != x.dtype:
        raise ValueError("out must be a NumPy array of the same shape and dtype as x")
    start = check_int("start", start, 0, x.size - 1)
    stop = check_int("stop", stop, start + 1, x.size)
    carry = offset
    for lo in range(start, stop, SCAN_CHUNK):
        hi = min(lo + SCAN_CHUNK, stop)
        dst = out[lo:hi]
        dst[...] = x[lo:hi]
        dst[0] += carry
        np.cumsum(dst, out=dst)
        carry = dst[-1]


def _offsets(sums: Sequence) -> list:
    """Exclusive running sums of the block sums: the offset each block starts from."""
    offsets = [0]
    for s in sums:
        offsets.append(offsets[-1] + s)
    return offsets


def two_pass_cumsum(x: np.ndarray, parts: int, *, trace: bool = False):
    """The two-pass scan of ``x`` over ``parts`` blocks, in this process, one block at a time.

    The same steps :func:`parallel_cumsum` hands to workers: pass 1 reduces every block but
    the last, the offsets are the running sums of those block sums, pass 2 scans each block
    from its offset. Returns the scanned array; with ``trace``, also a dict of the blocks,
    sums and offsets, to print.

    Parameters
    ----------
    x : non-empty 1-D NumPy array of integers or floats
    parts : whole number in [1, len(x)]
    """
    x = _scan_vector("x", x)
    blocks = split_blocks(x.size, parts)
    sums = [block_sum(x, a, b) for a, b in blocks[:-1]]
    offsets = _offsets(sums)
    out = np.empty_like(x)
    for (a, b), off in zip(blocks, offsets, strict=True):
        block_cumsum(x, out, a, b, off)
    if trace:
        return out, {"blocks": blocks, "sums": sums, "offsets": offsets}
    return out


# ---- Shared memory: the workers read and write the caller's arrays, nothing is copied.

_ATTACH_KWARGS = {"track": False} if sys.version_info >= (3, 13) else {}


def _release(shm: shared_memory.SharedMemory) -> None:
    """Unmap ``shm`` and remove its name; a view that is still alive only delays the unmap."""
    try:
        shm.close()
    except BufferError:  # a NumPy view still exists: it keeps the mapping until it dies
        _LINGERING.append(shm)
    try:
        shm.unlink()
    except FileNotFoundError:
        pass


_LINGERING: list[shared_memory.SharedMemory] = []


class SharedArray:
    """A 1-D NumPy array in shared memory that worker processes can open by name.

    Use it as a context manager: the block ends by unmapping the memory and removing its
    name, even on error, so nothing outlives the notebook. Inside, ``.array`` is the NumPy
    view; keep no other reference to it past the block (copy what you need).

    Parameters
    ----------
    n : whole number >= 1, the length
    dtype : a NumPy integer or float dtype (default int64)
    """

    def __init__(self, n: int, dtype=np.int64):
        n = check_int("n", n, 1)
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise ValueError(f"dtype must be a NumPy integer or float dtype; got {dtype!r}") from None
        if dt.kind not in "iuf":
            raise ValueError(f"dtype must be a NumPy integer or float dtype; got {dt}")
        self._shm = shared_memory.SharedMemory(create=True, size=n * dt.itemsize)
        self._finalizer = weakref.finalize(self, _release, self._shm)
        self.n = n
        self.dtype = dt
        self.name = self._shm.name
        self.array: np.ndarray | None = np.ndarray((n,), dtype=dt, buffer=self._shm.buf)

    @property
    def spec(self) -> tuple[str, int, str]:
        """``(name, length, dtype)``: all a worker needs to open the array (small to pickle)."""
        return (self.name, self.n, self.dtype.str)

    def close(self) -> None:
        """Drop the view, unmap the memory and remove its name (safe to call twice)."""
        self.array = None
        self._finalizer()

    def __enter__(self) -> SharedArray:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.array is None else "open"
        return f"SharedArray(n={self.n}, dtype={self.dtype}, {state})"


#: Shared arrays a *worker* process keeps open between tasks, most recently used last: opening
#: maps the memory afresh, and the first touch of every page of a new mapping costs a page
#: fault (tens of milliseconds for 64 MiB), which would otherwise be paid by every task.
_OPENED: dict[tuple[str, int, str], tuple[shared_memory.SharedMemory, np.ndarray]] = {}
_MAX_OPENED = 4
_OPEN_LOCK = threading.Lock()


def _forget(shm: shared_memory.SharedMemory) -> None:
    try:
        shm.close()
    except BufferError:  # a task still holds a view: unmapped when the view dies
        _LINGERING.append(shm)


def _close_opened() -> None:
    """Close every shared array this process keeps open (runs at exit)."""
    with _OPEN_LOCK:
        while _OPENED:
            _, (shm, _arr) = _OPENED.popitem()
            del _arr
            _forget(shm)


def _open(spec: tuple[str, int, str]) -> np.ndarray:
    """The shared array ``spec`` as a NumPy view, kept open for the process's later tasks."""
    name, n, dtype = spec
    with _OPEN_LOCK:
        hit = _OPENED.pop(spec, None)
        if hit is None:
            shm = shared_memory.SharedMemory(name=name, **_ATTACH_KWARGS)
            hit = (shm, np.ndarray((n,), dtype=np.dtype(dtype), buffer=shm.buf))
            if not _OPENED:
                atexit.register(_close_opened)
        _OPENED[spec] = hit
        while len(_OPENED) > _MAX_OPENED:
            shm, _arr = _OPENED.pop(next(iter(_OPENED)))
            del _arr
            _forget(shm)
        return hit[1]


def _shared_block_sum(spec: tuple[str, int, str], start: int, stop: int):
    """Worker, pass 1: the sum of one block of the shared array ``spec``."""
    return block_sum(_open(spec), start, stop)


def _shared_block_cumsum(
    spec_in: tuple[str, int, str], spec_out: tuple[str, int, str], start: int, stop: int, offset
) -> None:
    """Worker, pass 2: scan one block of the shared input into the shared output."""
    block_cumsum(_open(spec_in), _open(spec_out), start, stop, offset)


@dataclass(frozen=True)
class ScanPhases:
    """Seconds spent in each phase of one parallel scan, measured by the caller."""

    reduce: float
    combine: float
    scan: float

    @property
    def total(self) -> float:
        return self.reduce + self.combine + self.scan


def _check_executor(executor) -> None:
    if not isinstance(executor, Executor):
        raise ValueError(f"executor must be a concurrent.futures Executor; got {executor!r}")


def parallel_cumsum(x: SharedArray, out: SharedArray, executor: Executor, parts: int) -> ScanPhases:
    """Scan ``x`` into ``out`` with the two-pass algorithm, one task per block on ``executor``.

    Both arrays live in shared memory: a task carries only the arrays' names, a block's bounds
    and an offset, so no data is copied between processes. Pass 1 submits ``parts - 1`` block
    sums, the caller combines them into offsets, pass 2 submits ``parts`` block scans. Returns
    the time of each phase.

    Parameters
    ----------
    x, out : open :class:`SharedArray` of the same length and dtype
    executor : a ``concurrent.futures`` executor (a process pool for parallel speed)
    parts : whole number in [1, len(x)]; use the number of workers
    """
    _check_executor(executor)
    for name, arr in (("x", x), ("out", out)):
        if not isinstance(arr, SharedArray) or arr.array is None:
            raise ValueError(f"{name} must be an open SharedArray")
    if out.n != x.n or out.dtype != x.dtype:
        raise ValueError("out must have the same length and dtype as x")
    blocks = split_blocks(x.n, parts)
    t0 = time.perf_counter()
    sums = list(
        executor.map(_shared_block_sum, [x.spec] * (len(blocks) - 1), *zip(*blocks[:-1], strict=True))
    )
    t1 = time.perf_counter()
    offsets = _offsets(sums)
    t2 = time.perf_counter()
    starts, stops = zip(*blocks, strict=True)
    n_blocks = len(blocks)
    list(
        executor.map(_shared_block_cumsum, [x.spec] * n_blocks, [out.spec] * n_blocks, starts, stops, offsets)
    )
    t3 = time.perf_counter()
    return ScanPhases(t1 - t0, t2 - t1, t3 - t2)


# ---- Copying: the same algorithm with every block pickled to a worker (and back).


def _copy_block_sum(block: np.ndarray):
    """Worker, pass 1, copying version: the sum of a block that was sent (pickled)."""
    return block_sum(block, 0, block.size)


def _copy_block_cumsum(block: np.ndarray, offset) -> np.ndarray:
    """Worker, pass 2, copying version: the scanned block, sent back (pickled)."""
    out = np.empty_like(block)
    block_cumsum(block, out, 0, block.size, offset)
    return out


def parallel_cumsum_copy(x: np.ndarray, out: np.ndarray, executor: Executor, parts: int) -> ScanPhases:
    """The same two-pass scan as :func:`parallel_cumsum`, but each task *receives its block*:
    the block is pickled and sent to a worker in pass 1, again in pass 2, and the scanned block
    is sent back. About three copies of ``x`` cross between processes. Writes ``out`` and
    returns the time of each phase.

    Parameters
    ----------
    x : non-empty 1-D NumPy array of integers or floats
    out : NumPy array of the same shape and dtype
    executor : a ``concurrent.futures`` executor
    parts : whole number in [1, len(x)]
    """
    _check_executor(executor)
    x = _scan_vector("x", x)
    if not isinstance(out, np.ndarray) or out.shape != x.shape or out.dtype != x.dtype:
        raise ValueError("out must be a NumPy array of the same shape and dtype as x")
    blocks = split_blocks(x.size, parts)
    t0 = time.perf_counter()
    sums = list(executor.map(_copy_block_sum, [x[a:b] for a, b in blocks[:-1]]))
    t1 = time.perf_counter()
    offsets = _offsets(sums)
    t2 = time.perf_counter()
    scanned = executor.map(_copy_block_cumsum, [x[a:b] for a, b in blocks], offsets)
    for (a, b), block in zip(blocks, scanned, strict=True):
        out[a:b] = block
    t3 = time.perf_counter()
    return ScanPhases(t1 - t0, t2 - t1, t3 - t2)


def payload_nbytes(payload: np.ndarray | bytes) -> int:
    """Worker: the size in bytes of what it received. Sending it measures pure transfer cost."""
    if isinstance(payload, np.ndarray):
        return int(payload.nbytes)
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return len(payload)
    raise ValueError(f"payload must be a NumPy array or bytes; got {type(payload).__name__}")


def scan_speedup_model(p, n, *, scan_per_item: float, reduce_per_item: float, overhead: float):
    r"""Predicted speedup of the two-pass scan on ``p`` workers over a serial scan of ``n`` items.

    .. math::

        S(p) = \frac{c_s\,n}{[p > 1]\,c_r\,n/p + c_s\,n/p + r(p)\,o}

    where :math:`c_s` is the serial scan's cost per item (``scan_per_item``, seconds),
    :math:`c_r` the reduction's (``reduce_per_item``), :math:`o` the round-trip cost of one
    round of tasks (``overhead``, seconds) and :math:`r(p)` the number of rounds (2, or 1
    when :math:`p = 1`, which needs no reduce pass). Pass 1 reduces :math:`p - 1` blocks of
    :math:`n/p` items at once on :math:`p - 1` workers; pass 2 scans :math:`p` blocks at once. The model ignores that the
    workers share one memory bus, so it is an upper bound for memory-bound scans. As
    :math:`n \to \infty` it tends to :math:`p\,c_s / (c_s + c_r)`, below :math:`p` by the
    reduce pass: that is the price of the extra work.

    ``p`` >= 1 and ``n`` >= 1 (numbers or arrays); the costs > 0, ``overhead`` >= 0.
    """
    p = check("p", p, 1)
    n = check("n", n, 1)
    c_s = check("scan_per_item", scan_per_item, 0, lo_open=True)
    c_r = check("reduce_per_item", reduce_per_item, 0, lo_open=True)
    o = check("overhead", overhead, 0)
    rounds = np.where(np.asarray(p) > 1, 2.0, 1.0)
    t_reduce = np.where(np.asarray(p) > 1, c_r * n / p, 0.0)
    t_par = t_reduce + c_s * n / p + rounds * o
    result = c_s * n / t_par
    return float(result) if np.ndim(result) == 0 else result
