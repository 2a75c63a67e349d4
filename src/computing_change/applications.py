r"""Demo kernels of chapter 6, *Application scenarios* (实际应用场景): three of the article's
five scenarios made concrete, runnable and checked.

Big data (大数据处理): an out-of-core group-by
    A dataset of ``(key, value)`` rows several times larger than a memory budget is written to
    disk as ``.npy`` files (:func:`plan_dataset`, :func:`write_chunk`), then aggregated (count,
    sum and mean per key, and a histogram of the values) one block at a time
    (:func:`read_npy_blocks`, :func:`aggregate_file_pair`), by Dask workers or in this
    process (:func:`aggregate_files`). :func:`aggregate_arrays` is the in-memory NumPy
    version it is checked against. Every worker task measures its own peak memory with
    :mod:`tracemalloc`.
AI (人工智能): batched inference and its latency
    A server that collects requests into batches: :func:`simulate_batching` replays a stream
    of arrival times against a service-time model (:class:`ServiceModel`, fitted to measured
    batch times) or, in :func:`serve`, against real forward passes of a
    :class:`computing_change.nn.MLP`. :func:`fill_wait_latency` is the closed form for evenly
    spaced arrivals that the simulation is tested against.
Finance (金融领域): Monte Carlo option pricing
    A European call priced by simulation, in independent chunks with independent random
    streams (:func:`mc_call_chunk`, :func:`mc_call_price`, seeds from
    :meth:`numpy.random.SeedSequence.spawn`), merged exactly (:class:`RunningStats`) and
    checked against the Black-Scholes formula (:func:`black_scholes_call`).

Functions that run in worker processes (Dask workers, a ``ProcessPoolExecutor``) live here
rather than in the notebooks, because a worker started with *spawn* must import them. Every
function validates its input and raises a ``ValueError`` that names the parameter and the
allowed range. Nothing here asserts a speed: timings belong in the notebooks and in
``benchmarks/applications.py``.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._validate import check, check_int

__all__ = [
    # big data
    "MIB",
    "ROW_BYTES",
    "KEY_DTYPE",
    "VALUE_DTYPE",
    "GEN_BLOCK",
    "KEY_TABLE_SIZE",
    "WORKER_OVERHEAD",
    "memory_budget",
    "DatasetPlan",
    "plan_dataset",
    "write_chunk",
    "file_pairs",
    "read_npy_blocks",
    "GroupStats",
    "histogram_uniform",
    "aggregate_arrays",
    "aggregate_file_pair",
    "OutOfCoreRun",
    "aggregate_files",
    "load_arrays",
    "default_block_rows",
    "worker_memory_limit",
    "local_cluster",
    "worker_rss",
    # AI
    "regular_arrivals",
    "poisson_arrivals",
    "ServiceModel",
    "BatchPlan",
    "plan_batches",
    "BatchRun",
    "simulate_batching",
    "fill_wait_latency",
    "batch_capacity",
    "serve",
    # finance
    "norm_cdf",
    "check_option",
    "black_scholes_call",
    "RunningStats",
    "mc_call_chunk",
    "MCResult",
    "mc_call_price",
    "MAX_PATHS",
]

MIB = 2**20

# ======================================================================================
# Big data (大数据处理): out-of-core aggregation
# ======================================================================================

#: The dtypes of the two columns, little-endian on every machine, so the files are portable.
KEY_DTYPE = np.dtype("<i8")
VALUE_DTYPE = np.dtype("<f8")
#: Bytes one row (a key and a value) takes on disk and in memory.
ROW_BYTES = KEY_DTYPE.itemsize + VALUE_DTYPE.itemsize
#: Rows generated per call of the random generators when writing a file. Fixed, so that the
#: data depend on the seed only, never on how much memory the writer had.
GEN_BLOCK = 2**16
#: Entries of the lookup table keys are drawn from (see :meth:`DatasetPlan.key_table`).
KEY_TABLE_SIZE = 2**16
#: The most keys a plan may have (every key needs entries in the table).
MAX_KEYS = 4096
#: What a Dask worker process needs besides the data it processes: the interpreter, NumPy,
#: Dask and its buffers (about 60-150 MiB measured on Linux), with room to spare, because
#: Dask pauses a worker at 80 % of its ``memory_limit``.
WORKER_OVERHEAD = 256 * MIB
#: The most files and rows a plan may have (a guard against typing one zero too many).
MAX_FILES = 100_000
MAX_ROWS_PER_FILE = 2**28


def memory_budget(
    fraction: float = 0.125, cap: int = 128 * MIB, *, available: int | None = None, floor: int = 16 * MIB
) -> int:
    """The memory, in bytes, the out-of-core demo allows itself for data.

    ``fraction`` (in (0, 0.5]) of the available memory (``available`` bytes, default
    :func:`computing_change.machine.available_memory`, 2 GiB when unknown), at most ``cap``
    and at least ``floor`` bytes (``floor`` >= 1 MiB, ``cap`` >= ``floor``), rounded down to
    a whole number of MiB. Rounding and the cap make the budget, and so the whole demo, the
    same on every machine with enough memory.
    """
    fraction = check("fraction", fraction, 0, 0.5, lo_open=True)
    floor = check_int("floor", floor, MIB)
    cap = check_int("cap", cap, floor)
    if available is None:
        from .machine import available_memory

        available = available_memory() or 2 * 1024**3
    available = check_int("available", available, 0)
    budget = min(cap, max(floor, int(available * fraction)))
    return budget // MIB * MIB


@dataclass(frozen=True)
class DatasetPlan:
    r"""The layout and contents of a generated ``(key, value)`` dataset.

    ``n_files`` pairs of files (keys and values) of ``rows_per_file`` rows each. Keys are
    sensor numbers ``0 .. n_keys - 1``, drawn with Zipf-like probabilities
    :math:`p_k \approx 1/(k+1)` normalized (a few sensors report far more often than the rest,
    as in real logs). They are drawn by table lookup: a uniform integer in
    ``[0, KEY_TABLE_SIZE)`` indexes :meth:`key_table`, so :math:`p_k` is exactly the share of
    the table's entries equal to :math:`k` (:meth:`key_probabilities`). A reading of sensor :math:`k` is :math:`\mu_k + \sigma Z` with
    :math:`\mu_k = 20 + 5 \sin k` and :math:`Z` standard normal. The histogram has ``n_bins``
    equal bins over ``value_range``, wide enough (8 standard deviations beyond the extreme
    means) that no reading falls outside it in practice.
    """

    n_files: int
    rows_per_file: int
    n_keys: int = 100
    seed: int = 0
    sigma: float = 2.0
    n_bins: int = 60

    def __post_init__(self):
        check_int("n_files", self.n_files, 1, MAX_FILES)
        check_int("rows_per_file", self.rows_per_file, 1, MAX_ROWS_PER_FILE)
        check_int("n_keys", self.n_keys, 1, MAX_KEYS)
        check_int("seed", self.seed, 0, 2**63 - 1)
        check("sigma", self.sigma, 0, 1e6, lo_open=True)
        check_int("n_bins", self.n_bins, 1, 10**6)

    @property
    def n_rows(self) -> int:
        return self.n_files * self.rows_per_file

    @property
    def nbytes(self) -> int:
        """Bytes of data (keys and values, without the small ``.npy`` headers)."""
        return self.n_rows * ROW_BYTES

    @property
    def file_bytes(self) -> int:
        """Bytes of data in one pair of files."""
        return self.rows_per_file * ROW_BYTES

    def key_table(self) -> np.ndarray:
        r"""``KEY_TABLE_SIZE`` keys: key :math:`k` fills a share of the entries close to
        :math:`(1/(k+1)) / \sum_j 1/(j+1)` (at least one entry each)."""
        w = 1.0 / np.arange(1, self.n_keys + 1)
        cdf = np.cumsum(w) / w.sum()
        table = np.searchsorted(cdf, (np.arange(KEY_TABLE_SIZE) + 0.5) / KEY_TABLE_SIZE, side="right")
        table = np.minimum(table, self.n_keys - 1)
        table[: self.n_keys] = np.arange(self.n_keys)  # every key occurs
        return np.sort(table).astype(KEY_DTYPE)

    def key_probabilities(self) -> np.ndarray:
        """The exact probability of each key: its share of :meth:`key_table`."""
        return np.bincount(self.key_table(), minlength=self.n_keys) / KEY_TABLE_SIZE

    def key_means(self) -> np.ndarray:
        """:math:`\\mu_k`, the expected reading of each sensor."""
        return 20.0 + 5.0 * np.sin(np.arange(self.n_keys))

    @property
    def value_range(self) -> tuple[float, float]:
        mu = self.key_means()
        return float(mu.min() - 8 * self.sigma), float(mu.max() + 8 * self.sigma)

    def seed_sequence(self, index: int) -> np.random.SeedSequence:
        """The random stream of file ``index``: child ``index`` of ``SeedSequence(seed)``,
        exactly what ``SeedSequence(seed).spawn(n_files)[index]`` returns."""
        index = check_int("index", index, 0, self.n_files - 1)
        return np.random.SeedSequence(self.seed, spawn_key=(index,))


def plan_dataset(
    budget: int, *, factor: float = 4.0, n_keys: int = 100, seed: int = 0, rows_per_file: int | None = None
) -> DatasetPlan:
    """A dataset ``factor`` (in [1, 1000]) times larger than ``budget`` bytes (>= 1 MiB).

    Each pair of files holds an eighth of the budget (``rows_per_file`` overrides it), so the
    file layout depends on the budget only, not on the number of workers.
    """
    budget = check_int("budget", budget, MIB)
    factor = check("factor", factor, 1, 1000)
    if rows_per_file is None:
        rows_per_file = max(1, budget // 8 // ROW_BYTES)
    rows_per_file = check_int("rows_per_file", rows_per_file, 1, MAX_ROWS_PER_FILE)
    n_files = math.ceil(factor * budget / (rows_per_file * ROW_BYTES))
    if n_files > MAX_FILES:
        raise ValueError(
            f"factor * budget / rows_per_file gives {n_files} files; at most {MAX_FILES} allowed"
        )
    return DatasetPlan(n_files=n_files, rows_per_file=rows_per_file, n_keys=n_keys, seed=seed)


def _paths(directory, index: int) -> tuple[Path, Path]:
    d = Path(directory)
    return d / f"keys_{index:05d}.npy", d / f"values_{index:05d}.npy"


def _write_header(f, dtype: np.dtype, n: int) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (n,)}
    np.lib.format.write_array_header_1_0(f, header)


def write_chunk(plan: DatasetPlan, index: int, directory) -> tuple[str, str]:
    """Write file pair ``index`` (in [0, ``plan.n_files`` - 1]) of ``plan`` into ``directory``
    (an existing folder) and return the two paths (keys, values).

    The rows are generated and written ``GEN_BLOCK`` at a time from two random streams
    spawned from :meth:`DatasetPlan.seed_sequence`, so writing a file never holds more than a
    block in memory, and the file's contents depend only on ``plan`` and ``index``.
    """
    if not isinstance(plan, DatasetPlan):
        raise ValueError(f"plan must be a DatasetPlan; got {type(plan).__name__}")
    index = check_int("index", index, 0, plan.n_files - 1)
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"directory must be an existing folder; got {str(directory)!r}")
    key_seq, value_seq = plan.seed_sequence(index).spawn(2)
    key_rng, value_rng = np.random.default_rng(key_seq), np.random.default_rng(value_seq)
    table, mu = plan.key_table(), plan.key_means()
    kpath, vpath = _paths(directory, index)
    with open(kpath, "wb") as fk, open(vpath, "wb") as fv:
        _write_header(fk, KEY_DTYPE, plan.rows_per_file)
        _write_header(fv, VALUE_DTYPE, plan.rows_per_file)
        for start in range(0, plan.rows_per_file, GEN_BLOCK):
            m = min(GEN_BLOCK, plan.rows_per_file - start)
            keys = table[key_rng.integers(0, KEY_TABLE_SIZE, size=m)]
            values = mu[keys] + plan.sigma * value_rng.standard_normal(m)
            keys.tofile(fk)
            values.astype(VALUE_DTYPE, copy=False).tofile(fv)
    return str(kpath), str(vpath)


def file_pairs(plan: DatasetPlan, directory) -> list[tuple[str, str]]:
    """The (keys, values) paths of every file pair of ``plan`` in ``directory``, in order."""
    return [tuple(map(str, _paths(directory, i))) for i in range(plan.n_files)]


def read_npy_blocks(path, block_rows: int, dtype=None, *, reuse: bool = False) -> Iterator[np.ndarray]:
    """Yield a 1-D ``.npy`` file's contents ``block_rows`` (>= 1) elements at a time.

    Reads with ordinary file reads, not with a memory map: a mapped file's pages count in the
    process's resident memory as they are touched, so a mapping would make a worker *look* as
    big as its file. With ``reuse``, one buffer of ``block_rows`` elements is allocated and
    refilled for every block, and each yielded block is a view of it, valid only until the
    next one is read; otherwise every block is a new array. With ``dtype`` given, a file of
    another dtype is refused (``ValueError``), as is a truncated file.
    """
    block_rows = check_int("block_rows", block_rows, 1)
    with open(path, "rb") as f:
        major, _ = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, file_dtype = read(f)
        if len(shape) != 1 or fortran:
            raise ValueError(f"path must name a 1-D array file; {path} holds shape {shape}")
        if dtype is not None and np.dtype(dtype) != file_dtype:
            raise ValueError(f"{path} holds {file_dtype}, not the expected {np.dtype(dtype)}")
        remaining = shape[0]
        buffer = np.empty(min(block_rows, remaining), dtype=file_dtype) if reuse else None
        while remaining > 0:
            m = min(block_rows, remaining)
            block = buffer[:m] if reuse else np.empty(m, dtype=file_dtype)
            got = f.readinto(memoryview(block).cast("B")) // file_dtype.itemsize
            if got != m:
                raise ValueError(f"{path} is truncated: {remaining - got} elements missing")
            remaining -= m
            yield block


@dataclass(frozen=True)
class GroupStats:
    """The result of the group-by: rows, sum of the values and mean per key, and a histogram.

    ``counts[k]`` and ``sums[k]`` are the number and the sum of the readings of key ``k``;
    ``hist`` counts all readings in the plan's equal bins. Partial results from different
    parts of the data combine exactly with :meth:`merge` (counts are integers; sums are
    floating-point, so their last digits depend on the order of the additions).
    """

    counts: np.ndarray
    sums: np.ndarray
    hist: np.ndarray

    @classmethod
    def zeros(cls, n_keys: int, n_bins: int) -> GroupStats:
        return cls(np.zeros(n_keys, np.int64), np.zeros(n_keys), np.zeros(n_bins, np.int64))

    def merge(self, other: GroupStats) -> GroupStats:
        if self.counts.shape != other.counts.shape or self.hist.shape != other.hist.shape:
            raise ValueError("other must have the same number of keys and bins")
        return GroupStats(self.counts + other.counts, self.sums + other.sums, self.hist + other.hist)

    @property
    def n_rows(self) -> int:
        return int(self.counts.sum())

    @property
    def means(self) -> np.ndarray:
        """Mean reading per key (NaN for a key with no rows)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)

    def allclose(self, other: GroupStats, rtol: float = 1e-9) -> bool:
        """Counts and histogram equal, sums equal to ``rtol``: the test of two methods."""
        return (
            np.array_equal(self.counts, other.counts)
            and np.array_equal(self.hist, other.hist)
            and np.allclose(self.sums, other.sums, rtol=rtol, atol=0)
        )


def _check_agg_args(n_keys, n_bins, value_range) -> tuple[int, int, tuple[float, float]]:
    n_keys = check_int("n_keys", n_keys, 1, 10**6)
    n_bins = check_int("n_bins", n_bins, 1, 10**6)
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be a pair (lo, hi) of numbers; got {value_range!r}") from None
    lo = check("value_range[0]", lo)
    hi = check("value_range[1]", hi)
    if not hi > lo:
        raise ValueError(f"value_range must have hi > lo; got ({lo:g}, {hi:g})")
    return n_keys, n_bins, (lo, hi)


def _aggregate_block(
    keys: np.ndarray, values: np.ndarray, n_keys: int, n_bins: int, value_range
) -> GroupStats:
    if keys.shape != values.shape or keys.ndim != 1:
        raise ValueError(
            f"keys and values must be 1-D and of equal length; got {keys.shape} and {values.shape}"
        )
    if keys.size and (keys.min() < 0 or keys.max() >= n_keys):
        raise ValueError(f"keys must lie in [0, {n_keys - 1}]; got [{keys.min()}, {keys.max()}]")
    counts = np.bincount(keys, minlength=n_keys)
    sums = np.bincount(keys, weights=values, minlength=n_keys)
    hist = histogram_uniform(values, n_bins, value_range)
    return GroupStats(counts.astype(np.int64, copy=False), sums, hist)


#: Values per step of :func:`histogram_uniform`. Its temporaries (64 KiB each) stay below
#: glibc's 128 KiB threshold for serving an allocation with a fresh memory mapping, which
#: matters in Dask workers: they set ``MALLOC_TRIM_THRESHOLD_``, and every larger temporary
#: would then cost page faults.
_HIST_STEP = 2**13


def histogram_uniform(values, n_bins: int, value_range) -> np.ndarray:
    r"""Counts of ``values`` in ``n_bins`` (>= 1) equal bins over ``value_range = (lo, hi)``.

    Value :math:`v` goes to bin :math:`\lfloor (v - lo)\,n_\text{bins}/(hi - lo) \rfloor`,
    :math:`v = hi` to the last bin, and values outside :math:`[lo, hi]` nowhere: the same as
    ``np.histogram(values, n_bins, value_range)`` except, possibly, for a value within a
    rounding error of a bin edge. It works 8192 values at a time, so its temporaries take
    about 200 KiB whatever the input's size.
    """
    n_bins, value_range = _check_agg_args(1, n_bins, value_range)[1:]
    values = np.asarray(values, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"values must be 1-D; got shape {values.shape}")
    lo, hi = value_range
    scale = n_bins / (hi - lo)
    out = np.zeros(n_bins, np.int64)
    for start in range(0, values.size, _HIST_STEP):
        v = values[start : start + _HIST_STEP]
        index = ((v - lo) * scale).astype(np.intp)
        np.minimum(index, n_bins - 1, out=index)
        inside = (v >= lo) & (v <= hi)
        out += np.bincount(index[inside], minlength=n_bins)
    return out


def aggregate_arrays(keys, values, n_keys: int, n_bins: int, value_range) -> GroupStats:
    """The in-memory NumPy group-by: all rows at once.

    ``keys``: whole numbers in [0, ``n_keys`` - 1]; ``values``: numbers, the same length.
    Like SQL's ``SELECT key, COUNT(*), SUM(value) ... GROUP BY key`` plus a histogram of
    ``value`` over ``n_bins`` equal bins of ``value_range`` (values outside are not counted).
    """
    n_keys, n_bins, value_range = _check_agg_args(n_keys, n_bins, value_range)
    keys = np.asarray(keys)
    if not np.issubdtype(keys.dtype, np.integer):
        raise ValueError(f"keys must be whole numbers; got dtype {keys.dtype}")
    values = np.asarray(values, dtype=float)
    return _aggregate_block(keys, values, n_keys, n_bins, value_range)


def aggregate_file_pair(
    keys_path, values_path, n_keys: int, n_bins: int, value_range, block_rows: int, trace: bool = True
) -> tuple[GroupStats, int | None]:
    """Aggregate one pair of files ``block_rows`` (>= 1) rows at a time (the worker task).

    Returns the partial :class:`GroupStats` and, with ``trace``, the peak of memory the task
    allocated (bytes, :func:`computing_change.memory.traced_peak`): about ``block_rows * 16``
    bytes for the two block buffers, which are allocated once and refilled (so a Dask worker,
    which returns freed memory to the OS eagerly, does not pay page faults for every block),
    plus a little bookkeeping, whatever the size of the file. Tracing slows
    every Python-level allocation down, which shows with small blocks: time the pass with
    ``trace=False`` (the peak is then None).
    """
    from .memory import traced_peak

    n_keys, n_bins, value_range = _check_agg_args(n_keys, n_bins, value_range)
    block_rows = check_int("block_rows", block_rows, 1)

    def run() -> GroupStats:
        total = GroupStats.zeros(n_keys, n_bins)
        # Two buffers, refilled for every block: no new memory per block.
        blocks = zip(
            read_npy_blocks(keys_path, block_rows, KEY_DTYPE, reuse=True),
            read_npy_blocks(values_path, block_rows, VALUE_DTYPE, reuse=True),
            strict=True,
        )
        for keys, values in blocks:
            total = total.merge(_aggregate_block(keys, values, n_keys, n_bins, value_range))
        return total

    if not trace:
        return run(), None
    traced = traced_peak(run)
    return traced.value, traced.peak


@dataclass(frozen=True)
class OutOfCoreRun:
    """What :func:`aggregate_files` returns.

    ``stats``: the merged result; ``task_peaks``: the traced peak (bytes) of each file's
    task, or None if the pass was not traced; ``seconds``: wall time of the whole pass;
    ``nbytes``: bytes of the files read.
    """

    stats: GroupStats
    task_peaks: tuple[int, ...] | None
    seconds: float
    nbytes: int

    @property
    def max_task_peak(self) -> int:
        if not self.task_peaks:
            raise ValueError("this pass was run with trace=False: no peaks were measured")
        return max(self.task_peaks)

    @property
    def mb_per_s(self) -> float:
        """Throughput in MB/s (10^6 bytes per second)."""
        return self.nbytes / self.seconds / 1e6 if self.seconds > 0 else math.inf

    def peak_bound(self, workers: int, driver_peak: int = 0) -> int:
        """An upper bound on the data held at once: ``workers`` single-threaded workers each
        running one task at its peak, plus ``driver_peak`` bytes in this process."""
        workers = check_int("workers", workers, 1)
        driver_peak = check_int("driver_peak", driver_peak, 0)
        return workers * self.max_task_peak + driver_peak


def aggregate_files(
    pairs: Sequence[tuple[str, str]],
    plan: DatasetPlan,
    block_rows: int,
    *,
    client=None,
    progress: Callable[[int], object] | None = None,
    trace: bool = True,
) -> OutOfCoreRun:
    """Aggregate every file pair in ``pairs`` and merge the partial results in file order.

    With a Dask ``client``, one task per file pair (``client.map``), scheduled on the
    workers; otherwise one after the other in this process. ``progress(1)`` is called as
    each file finishes (a ``tqdm`` bar's ``update``, say). With ``trace`` every task measures
    its peak memory (slower with small blocks; see :func:`aggregate_file_pair`). Partial
    results are merged in file order as soon as they can be, so the driver holds only the
    few that finished early, and the result is the same whatever the number of workers.
    """
    if not isinstance(plan, DatasetPlan):
        raise ValueError(f"plan must be a DatasetPlan; got {type(plan).__name__}")
    pairs = [(str(k), str(v)) for k, v in pairs]
    if not pairs:
        raise ValueError("pairs must name at least one (keys, values) file pair")
    block_rows = check_int("block_rows", block_rows, 1)
    kw = dict(
        n_keys=plan.n_keys,
        n_bins=plan.n_bins,
        value_range=plan.value_range,
        block_rows=block_rows,
        trace=bool(trace),
    )
    t0 = time.perf_counter()
    total = GroupStats.zeros(plan.n_keys, plan.n_bins)
    peaks: list[int] = []

    def merge(part: tuple[GroupStats, int | None]) -> None:
        nonlocal total
        total = total.merge(part[0])
        peaks.append(part[1] or 0)

    if client is None:
        for k, v in pairs:
            merge(aggregate_file_pair(k, v, **kw))
            if progress is not None:
                progress(1)
    else:
        from distributed import as_completed

        futures = client.map(
            aggregate_file_pair, [k for k, _ in pairs], [v for _, v in pairs], pure=False, **kw
        )
        index = {f.key: i for i, f in enumerate(futures)}
        waiting: dict[int, tuple[GroupStats, int | None]] = {}
        next_i = 0
        for future in as_completed(futures):
            waiting[index[future.key]] = future.result()
            future.release()  # the worker may forget it
            while next_i in waiting:  # merge in file order, as soon as possible
                merge(waiting.pop(next_i))
                next_i += 1
            if progress is not None:
                progress(1)
        del futures
    seconds = time.perf_counter() - t0
    nbytes = sum(os.path.getsize(k) + os.path.getsize(v) for k, v in pairs)
    return OutOfCoreRun(total, tuple(peaks) if trace else None, seconds, nbytes)


def load_arrays(pairs: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """Load file pairs whole and concatenate them: the in-memory way, for a subset that fits."""
    pairs = list(pairs)
    if not pairs:
        raise ValueError("pairs must name at least one (keys, values) file pair")
    keys = np.concatenate([np.load(k) for k, _ in pairs])
    values = np.concatenate([np.load(v) for _, v in pairs])
    return keys, values


def default_block_rows(budget: int, workers: int, *, safety: float = 2.0) -> int:
    """Rows per block so that ``workers`` tasks at once stay within ``budget`` bytes.

    A task holds a block of keys and values (16 bytes a row) plus the temporaries of the
    aggregation; ``safety`` (in [1, 100]) leaves room for them. ``budget`` >= 1 MiB,
    ``workers`` >= 1. Rounded down to a power of two, at least 1024.
    """
    budget = check_int("budget", budget, MIB)
    workers = check_int("workers", workers, 1, 1024)
    safety = check("safety", safety, 1, 100)
    rows = budget / (workers * safety * ROW_BYTES)
    return max(1024, 2 ** int(math.floor(math.log2(rows))))


def worker_memory_limit(budget: int, workers: int, overhead: int = WORKER_OVERHEAD) -> int:
    """Dask's ``memory_limit`` for each of ``workers`` workers: its share of the data budget
    plus ``overhead`` bytes for the process itself (Dask's limit counts the whole process)."""
    budget = check_int("budget", budget, 0)
    workers = check_int("workers", workers, 1, 1024)
    overhead = check_int("overhead", overhead, 0)
    return overhead + budget // workers


@contextlib.contextmanager
def local_cluster(workers: int, budget: int, *, overhead: int = WORKER_OVERHEAD, timeout: float = 60.0):
    """A Dask client on a :class:`~distributed.LocalCluster` of ``workers`` (1 to 64)
    single-threaded workers, each with ``memory_limit = worker_memory_limit(budget, workers,
    overhead)``, on 127.0.0.1; everything is closed on leaving the block, even after an error
    (:func:`computing_change.distributed.local_client` does the work).

    Always local, even when ``COMPUTING_CHANGE_SCHEDULER`` names a running cluster: the data
    of this chapter live in a temporary folder on this machine, which remote workers could
    not read.
    """
    from .distributed import local_client, local_cluster_kwargs

    workers = check_int("workers", workers, 1, 64)
    limit = worker_memory_limit(budget, workers, overhead)
    with local_client(timeout=timeout, **local_cluster_kwargs(workers, workers * limit)) as client:
        yield client


def worker_rss() -> int:
    """Resident memory (bytes) of the calling process; run on every worker with ``client.run``."""
    import psutil

    return int(psutil.Process().memory_info().rss)


# ======================================================================================
# AI (人工智能): batched inference, throughput and latency
# ======================================================================================


def regular_arrivals(rate: float, n: int) -> np.ndarray:
    """``n`` (>= 1) requests evenly spaced at ``rate`` (> 0) per second: times ``i / rate``."""
    rate = check("rate", rate, 0, 1e9, lo_open=True)
    n = check_int("n", n, 1, 10**7)
    return np.arange(n) / rate


def poisson_arrivals(rate: float, n: int, rng=None) -> np.ndarray:
    """``n`` (>= 1) request times of a Poisson process of ``rate`` (> 0) per second: gaps are
    independent and exponential with mean ``1 / rate``; the first request comes at time 0.
    ``rng``: a ``numpy.random.Generator`` or a seed (default 0)."""
    rate = check("rate", rate, 0, 1e9, lo_open=True)
    n = check_int("n", n, 1, 10**7)
    if rng is None or (isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng >= 0):
        rng = np.random.default_rng(0 if rng is None else int(rng))
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator or a whole number; got {rng!r}")
    gaps = rng.exponential(1.0 / rate, size=n)
    gaps[0] = 0.0
    return np.cumsum(gaps)


@dataclass(frozen=True)
class ServiceModel:
    """Seconds to run one batch, as a function of its size: straight lines between measured
    points ``(batch_sizes[i], seconds[i])`` and, beyond the largest, in proportion to the size
    (the time per request stops falling where the measurements stop).

    ``batch_sizes``: increasing whole numbers >= 1, the first of them 1; ``seconds``: > 0.
    """

    batch_sizes: tuple[int, ...]
    seconds: tuple[float, ...]

    def __post_init__(self):
        b = [check_int("batch_sizes", x, 1) for x in self.batch_sizes]
        s = check("seconds", np.asarray(self.seconds, dtype=float), 0, lo_open=True)
        s = np.atleast_1d(s)
        if len(b) != s.size or not b:
            raise ValueError("batch_sizes and seconds must be non-empty and of the same length")
        if b[0] != 1 or any(y <= x for x, y in zip(b, b[1:], strict=False)):
            raise ValueError(f"batch_sizes must increase and start at 1; got {b}")
        object.__setattr__(self, "batch_sizes", tuple(b))
        object.__setattr__(self, "seconds", tuple(float(x) for x in s))

    @classmethod
    def linear(cls, fixed: float, per_item: float) -> ServiceModel:
        """The model ``s(b) = fixed + per_item * b`` (``fixed`` > 0, ``per_item`` >= 0)."""
        fixed = check("fixed", fixed, 0, lo_open=True)
        per_item = check("per_item", per_item, 0)
        top = 10**6  # the largest batch simulate_batching accepts: linear all the way
        return cls((1, top), (fixed + per_item, fixed + per_item * top))

    def __call__(self, batch_size):
        if type(batch_size) is int and batch_size >= 1:  # the simulation's hot path
            return self._scalar(batch_size)
        b = check("batch_size", batch_size, 1)
        xs, ys = np.array(self.batch_sizes, float), np.array(self.seconds)
        # Beyond the largest measured batch, assume the time per request no longer falls:
        # s(b) grows in proportion to b.
        out = np.where(b > xs[-1], ys[-1] * b / xs[-1], np.interp(b, xs, ys))
        return float(out) if np.ndim(out) == 0 else out

    def _scalar(self, b: int) -> float:
        xs, ys = self.batch_sizes, self.seconds
        if b >= xs[-1]:
            return ys[-1] * b / xs[-1]
        k = bisect.bisect_right(xs, b)
        x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
        return y0 + (y1 - y0) * (b - x0) / (x1 - x0)

    def capacity(self, batch_size):
        """The most requests per second a server that always runs batches of ``batch_size``
        can finish: ``b / s(b)``."""
        b = check("batch_size", batch_size, 1)
        return b / self(b)


@dataclass(frozen=True)
class BatchPlan:
    """The cheapest way to run ``b`` requests (``b`` = 1 .. ``max_batch``) given a service model.

    A server that knows what each batch size costs need not run ``b`` waiting requests as one
    batch of exactly ``b``. It can pad them with dummy rows up to a larger size that happens
    to run faster, or run them as several smaller batches back to back. Both happen in
    practice: a matrix library may have a fast path for one row (a matrix-vector product) and
    a slow one for two. ``seconds[b]`` is the least time over all such plans, and
    ``pieces[b]`` the (padded) batch sizes of the cheapest, in the order they run. Build it
    with :func:`plan_batches`; call it like a :class:`ServiceModel`.
    """

    seconds: tuple[float, ...]
    pieces: tuple[tuple[int, ...], ...]

    @property
    def max_batch(self) -> int:
        return len(self.seconds) - 1

    def __call__(self, batch_size):
        if type(batch_size) is int and 1 <= batch_size <= self.max_batch:  # the hot path
            return self.seconds[batch_size]
        b = np.asarray(batch_size)
        if np.any(b != np.round(b)) or np.any(b < 1) or np.any(b > self.max_batch):
            raise ValueError(
                f"batch_size must be a whole number in [1, {self.max_batch}]; got {batch_size!r}"
            )
        out = np.asarray(self.seconds)[b.astype(int)]
        return float(out) if out.ndim == 0 else out

    def capacity(self, batch_size):
        """Requests per second when every batch holds ``batch_size`` requests: ``b / s(b)``."""
        return np.asarray(batch_size) / self(batch_size)


def plan_batches(service: Callable[[int], float], max_batch: int) -> BatchPlan:
    """The :class:`BatchPlan` of ``service`` (a callable batch size -> seconds, such as a
    :class:`ServiceModel`) for 1 to ``max_batch`` (in [1, 4096]) requests.

    Dynamic programming: first the best single batch for ``b`` requests, padded to any size
    ``p >= b``; then, for ``b = 2, 3, ...``, the best split ``b = k + (b - k)`` into two
    groups, each run by its own best plan.
    """
    if not callable(service):
        raise ValueError(f"service must be callable (batch size -> seconds); got {service!r}")
    max_batch = check_int("max_batch", max_batch, 1, 4096)
    single = np.array([float(service(b)) for b in range(1, max_batch + 1)])
    if not np.all(np.isfinite(single)) or np.any(single <= 0):
        raise ValueError("service must return a finite time > 0 for every batch size")
    # padding: the cheapest single batch of size >= b (the last minimum from the right)
    best = np.empty(max_batch + 1)
    best[0] = 0.0
    pieces: list[tuple[int, ...]] = [()]
    pad_to = max_batch
    pad_best = math.inf
    pad_choice = [0] * (max_batch + 1)
    for b in range(max_batch, 0, -1):
        if single[b - 1] <= pad_best:
            pad_best, pad_to = single[b - 1], b
        pad_choice[b] = pad_to
        best[b] = pad_best
    for b in range(1, max_batch + 1):
        choice: tuple[int, ...] = (pad_choice[b],)
        if b > 1:
            k = np.arange(1, b // 2 + 1)
            split = best[k] + best[b - k]
            i = int(np.argmin(split))
            if split[i] < best[b]:
                best[b] = split[i]
                choice = pieces[int(k[i])] + pieces[b - int(k[i])]
        pieces.append(choice)
    return BatchPlan(tuple(float(x) for x in best), tuple(pieces))


@dataclass(frozen=True)
class BatchRun:
    """What a batching server did with a stream of requests.

    Per request ``i``: ``arrivals[i]`` and ``latencies[i]`` (seconds from its arrival to the
    end of the batch that answered it). Per batch ``j``: ``sizes[j]``, ``starts[j]`` and
    ``finishes[j]``.
    """

    arrivals: np.ndarray
    latencies: np.ndarray
    sizes: np.ndarray
    starts: np.ndarray
    finishes: np.ndarray

    @property
    def mean_latency(self) -> float:
        return float(self.latencies.mean())

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (in [0, 100]) of the latencies: ``percentile(99)`` is the
        latency 99 % of the requests beat, the "tail latency"."""
        q = check("q", q, 0, 100)
        return float(np.percentile(self.latencies, q))

    @property
    def mean_batch(self) -> float:
        return float(self.sizes.mean())

    @property
    def throughput(self) -> float:
        """Requests answered per second, from the first arrival to the last answer."""
        span = float(self.finishes[-1] - self.arrivals[0])
        return self.latencies.size / span if span > 0 else math.inf

    @property
    def busy_fraction(self) -> float:
        """Share of the time from the first arrival to the last answer the server computed."""
        span = float(self.finishes[-1] - self.arrivals[0])
        return float(np.sum(self.finishes - self.starts)) / span if span > 0 else 1.0


def _check_arrivals(arrivals) -> np.ndarray:
    a = np.asarray(arrivals, dtype=float)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"arrivals must be a non-empty 1-D array of times; got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(np.diff(a) < 0):
        raise ValueError("arrivals must be finite and in increasing order")
    return a


def _batch_loop(
    arrivals: np.ndarray, batch_size: int, max_wait: float, run: Callable[[int, int], float]
) -> BatchRun:
    """The server: one batch at a time, of requests ``lo .. hi - 1``, taking ``run(lo, hi)`` s.

    Plain Python floats and :func:`bisect.bisect_right` in the loop (one iteration per batch):
    NumPy's per-call overhead would dominate for batches of one.
    """
    arr = arrivals.tolist()
    n = len(arr)
    sizes: list[int] = []
    starts: list[float] = []
    finishes: list[float] = []
    i, free_at = 0, -math.inf
    while i < n:
        end = min(i + batch_size, n)  # the batch can hold requests i .. end - 1
        ready = min(arr[end - 1], arr[i] + max_wait)  # full, or the oldest has waited max_wait
        start = max(ready, free_at)
        hi = max(bisect.bisect_right(arr, start, i, end), i + 1)  # all that have arrived by then
        seconds = run(i, hi)
        if not 0 <= seconds < math.inf:
            raise ValueError(f"a batch's service time must be finite and >= 0; got {seconds!r}")
        free_at = start + seconds
        sizes.append(hi - i)
        starts.append(start)
        finishes.append(free_at)
        i = hi
    size_arr, finish_arr = np.array(sizes), np.array(finishes)
    latencies = np.repeat(finish_arr, size_arr) - arrivals
    return BatchRun(arrivals, latencies, size_arr, np.array(starts), finish_arr)


def _check_batch_args(batch_size, max_wait) -> tuple[int, float]:
    batch_size = check_int("batch_size", batch_size, 1, 10**6)
    if max_wait is None or (isinstance(max_wait, float) and math.isinf(max_wait) and max_wait > 0):
        return batch_size, math.inf
    return batch_size, check("max_wait", max_wait, 0, 3600)


def simulate_batching(
    arrivals, batch_size: int, service: Callable[[int], float], *, max_wait=math.inf
) -> BatchRun:
    """Replay requests arriving at ``arrivals`` (seconds, increasing) against a server that
    runs one batch at a time, a batch of ``b`` requests taking ``service(b)`` seconds.

    The policy: when the server is free, the oldest waiting request opens a batch; the batch
    starts as soon as it holds ``batch_size`` requests (1 to 10^6), or ``max_wait`` seconds
    (in [0, 3600], or ``math.inf``/None: wait for a full batch) after its oldest request
    arrived, whichever comes first; at the end of the stream a partial batch goes when its
    last request has arrived. ``max_wait=0`` is *dynamic batching*: take whatever is waiting.
    """
    a = _check_arrivals(arrivals)
    batch_size, max_wait = _check_batch_args(batch_size, max_wait)
    if not callable(service):
        raise ValueError(f"service must be callable (batch size -> seconds); got {service!r}")
    return _batch_loop(a, batch_size, max_wait, lambda lo, hi: service(hi - lo))


def fill_wait_latency(batch_size, rate, service_seconds):
    r"""Mean latency of evenly spaced requests (``rate`` > 0 per second) served in full batches
    of :math:`B` (``batch_size`` >= 1) that each take ``service_seconds`` (> 0) :math:`s`:

    .. math:: \bar L = \frac{B - 1}{2\lambda} + s \quad\text{if } \lambda s \le B, \text{ else } \infty

    The first term is the wait to fill the batch (the :math:`i`-th of :math:`B` requests waits
    :math:`(B-1-i)/\lambda`); when :math:`\lambda s > B` the requests come faster than batches
    finish and the queue grows without bound. Scalars or arrays.
    """
    b = check("batch_size", batch_size, 1)
    lam = check("rate", rate, 0, lo_open=True)
    s = check("service_seconds", service_seconds, 0, lo_open=True)
    out = np.where(lam * s <= b * (1 + 1e-12), (b - 1) / (2 * lam) + s, np.inf)
    return float(out) if np.ndim(out) == 0 else out


def batch_capacity(batch_size, service_seconds):
    """Requests per second that batches of ``batch_size`` (>= 1) taking ``service_seconds``
    (> 0) each can finish: :math:`B / s`."""
    b = check("batch_size", batch_size, 1)
    s = check("service_seconds", service_seconds, 0, lo_open=True)
    return b / s


def serve(
    net,
    X,
    arrivals,
    batch_size: int,
    *,
    max_wait=math.inf,
    plan: BatchPlan | None = None,
    clock: Callable[[], float] = time.perf_counter,
):
    """Run the batching server of :func:`simulate_batching` for real: request ``i`` is row
    ``X[i]`` of the inputs, each batch is computed with :func:`computing_change.nn.forward`,
    and its service time is the measured wall time (the clock of the simulation advances by
    what the computation really took). Without a ``plan`` a batch is one forward pass; with
    one, a batch of ``b`` runs as ``plan.pieces[b]``: forward passes of those sizes, padded
    with rows of zeros where a piece is larger than the requests left (the padding's outputs
    are dropped). Returns ``(outputs, run)``; ``outputs[i]`` answers request ``i``."""
    from .nn import MLP, forward

    if not isinstance(net, MLP):
        raise ValueError(f"net must be a computing_change.nn.MLP; got {type(net).__name__}")
    a = _check_arrivals(arrivals)
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] != a.size or X.shape[1] != net.sizes[0]:
        raise ValueError(f"X must have shape ({a.size}, {net.sizes[0]}), one row per arrival; got {X.shape}")
    batch_size, max_wait = _check_batch_args(batch_size, max_wait)
    if plan is not None:
        if not isinstance(plan, BatchPlan):
            raise ValueError(f"plan must be a BatchPlan (see plan_batches); got {type(plan).__name__}")
        if plan.max_batch < batch_size:
            raise ValueError(f"plan must cover batch_size {batch_size}; it stops at {plan.max_batch}")
    out = np.empty((a.size, net.sizes[-1]))

    def run(lo: int, hi: int) -> float:
        t0 = clock()
        if plan is None:
            out[lo:hi] = forward(net, X[lo:hi])
        else:
            start = lo
            for p in plan.pieces[hi - lo]:
                rows = X[start : min(start + p, hi)]
                if rows.shape[0] < p:  # pad with dummy requests
                    rows = np.vstack([rows, np.zeros((p - rows.shape[0], X.shape[1]))])
                m = min(p, hi - start)
                out[start : start + m] = forward(net, rows)[:m]
                start += m
        return clock() - t0

    return out, _batch_loop(a, batch_size, max_wait, run)


# ======================================================================================
# Finance (金融领域): Monte Carlo pricing of a European call
# ======================================================================================

#: The most paths one pricing call accepts (about 20 s of work on one core).
MAX_PATHS = 10**9
_MC_BLOCK = 2**16


def norm_cdf(x: float) -> float:
    r"""The standard normal distribution function :math:`N(x) = \tfrac12\operatorname{erfc}(-x/\sqrt2)`,
    from :func:`math.erfc` (accurate in both tails, no SciPy needed). ``x`` finite, or +-inf."""
    if isinstance(x, bool) or not isinstance(x, int | float | np.integer | np.floating):
        raise ValueError(f"x must be a number; got {x!r}")
    x = float(x)
    if math.isnan(x):
        raise ValueError("x must be a number, not NaN")
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def check_option(S, K, r, sigma, T) -> tuple[float, float, float, float, float]:
    """Validate a European option's inputs: spot ``S`` > 0, strike ``K`` > 0, risk-free rate
    ``r`` in [-1, 1] (continuously compounded, per year), volatility ``sigma`` in (0, 5] (per
    year) and maturity ``T`` in (0, 100] years. Returns them as floats."""
    return (
        check("S", S, 0, lo_open=True),
        check("K", K, 0, lo_open=True),
        check("r", r, -1, 1),
        check("sigma", sigma, 0, 5, lo_open=True),
        check("T", T, 0, 100, lo_open=True),
    )


def black_scholes_call(S, K, r, sigma, T) -> float:
    r"""The Black-Scholes price of a European call (no dividends):

    .. math:: C = S\,N(d_1) - K e^{-rT} N(d_2),\quad
              d_{1,2} = \frac{\ln(S/K) + (r \pm \sigma^2/2)\,T}{\sigma\sqrt T}

    Inputs as in :func:`check_option`.
    """
    S, K, r, sigma, T = check_option(S, K, r, sigma, T)
    vol = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + (r + 0.5 * sigma * sigma) * T) / vol
    d2 = d1 - vol
    return S * norm_cdf(d1) - K * math.exp(-r * T) * norm_cdf(d2)


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
    def from_array(cls, x) -> RunningStats:
        x = np.asarray(x, dtype=float)
        if x.ndim != 1 or x.size == 0:
            raise ValueError(f"x must be a non-empty 1-D array; got shape {x.shape}")
        mean = float(x.mean())
        d = x - mean
        return cls(int(x.size), mean, float(np.einsum("i,i->", d, d)))  # no BLAS: no threads

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
        """The sample variance :math:`M_2 / (n - 1)` (NaN for fewer than two values)."""
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan

    @property
    def stderr(self) -> float:
        r"""The standard error of the mean, :math:`\sqrt{\mathrm{variance} / n}`."""
        return math.sqrt(self.variance / self.n) if self.n > 1 else math.nan


def _check_seed(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0 or a numpy SeedSequence; got {seed!r}")
    return np.random.SeedSequence(int(seed))


def mc_call_chunk(S, K, r, sigma, T, n_paths: int, seed, antithetic: bool = False) -> RunningStats:
    r"""Simulate ``n_paths`` terminal prices of a geometric Brownian motion under the
    risk-neutral measure,

    .. math:: S_T = S \exp\!\big((r - \sigma^2/2)\,T + \sigma\sqrt T\,Z\big), \quad Z \sim N(0, 1),

    and return the :class:`RunningStats` of the discounted payoffs :math:`e^{-rT}\max(S_T - K, 0)`.
    With ``antithetic``, each draw :math:`Z` is used twice, as :math:`Z` and :math:`-Z`, and the
    statistics are those of the pair averages (``n`` counts pairs; ``n_paths`` must be even).

    One chunk of :func:`mc_call_price` (which runs the same computation without repeating
    the checks): it draws from its own stream (``seed``, a whole number >= 0 or a
    ``SeedSequence``), 65536 paths at a time, so its memory stays small whatever ``n_paths``
    (in [1, 10^9]) is. Inputs as in :func:`check_option`.
    """
    S, K, r, sigma, T = check_option(S, K, r, sigma, T)
    n_paths = check_int("n_paths", n_paths, 1, MAX_PATHS)
    if antithetic and n_paths % 2:
        raise ValueError(f"n_paths must be even with antithetic=True (paths come in pairs); got {n_paths}")
    return _mc_chunk(S, K, r, sigma, T, n_paths, _check_seed(seed), bool(antithetic))


def _mc_chunk(
    S: float,
    K: float,
    r: float,
    sigma: float,
    T: float,
    n_paths: int,
    seed: np.random.SeedSequence,
    antithetic: bool,
) -> RunningStats:
    """:func:`mc_call_chunk` without the checks: :func:`mc_call_price` validates once for all
    its chunks, so many small chunks do not pay for the checks many times."""
    rng = np.random.default_rng(seed)
    drift = (r - 0.5 * sigma * sigma) * T
    vol = sigma * math.sqrt(T)
    disc = math.exp(-r * T)
    n_draws = n_paths // 2 if antithetic else n_paths
    stats = RunningStats(0, 0.0, 0.0)
    for start in range(0, n_draws, _MC_BLOCK):
        z = rng.standard_normal(min(_MC_BLOCK, n_draws - start))
        pay = disc * np.maximum(S * np.exp(drift + vol * z) - K, 0.0)
        if antithetic:
            pay = 0.5 * (pay + disc * np.maximum(S * np.exp(drift - vol * z) - K, 0.0))
        stats = stats.merge(RunningStats.from_array(pay))
    return stats


@dataclass(frozen=True)
class MCResult:
    """A Monte Carlo price: ``price`` (the sample mean), ``stderr`` (its standard error),
    ``n_paths`` simulated, the ``stats`` behind them, and whether pairs were ``antithetic``."""

    price: float
    stderr: float
    n_paths: int
    antithetic: bool
    stats: RunningStats

    def z_score(self, exact: float) -> float:
        """``(price - exact) / stderr``: how many standard errors the estimate is off."""
        exact = check("exact", exact)
        return (self.price - exact) / self.stderr

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """``price -+ z * stderr`` (``z`` > 0; 1.96 gives an approximate 95 % interval)."""
        z = check("z", z, 0, lo_open=True)
        return self.price - z * self.stderr, self.price + z * self.stderr


def _split(n: int, parts: int) -> list[int]:
    size, extra = divmod(n, parts)
    return [size + (1 if i < extra else 0) for i in range(parts)]


def mc_call_price(
    S,
    K,
    r,
    sigma,
    T,
    n_paths: int,
    *,
    seed: int = 0,
    n_chunks: int = 16,
    antithetic: bool = False,
    executor: Executor | None = None,
) -> MCResult:
    """Monte Carlo price of a European call from ``n_paths`` paths (in [2, 10^9]).

    The paths are cut into ``n_chunks`` (1 to 10^4) independent chunks, chunk ``i`` drawing
    from child ``i`` of ``SeedSequence(seed).spawn(n_chunks)``: statistically independent
    streams, whichever process runs them. With an ``executor`` (a process pool, say) the
    chunks run there, :func:`mc_call_chunk` each; without one, here, one after the other. The
    chunks' statistics are merged in chunk order, so the price is bit for bit the same either
    way, and on any number of workers. With ``antithetic``, ``n_paths`` must be even. The
    inputs are checked once here; the chunks run :func:`mc_call_chunk`'s computation unchecked.
    """
    S, K, r, sigma, T = check_option(S, K, r, sigma, T)
    n_paths = check_int("n_paths", n_paths, 2, MAX_PATHS)
    n_chunks = check_int("n_chunks", n_chunks, 1, 10_000)
    if antithetic and n_paths % 2:
        raise ValueError(f"n_paths must be even with antithetic=True (paths come in pairs); got {n_paths}")
    unit = 2 if antithetic else 1
    sizes = [unit * c for c in _split(n_paths // unit, n_chunks)]
    seeds = _check_seed(seed).spawn(n_chunks)
    jobs = [(s, q) for s, q in zip(sizes, seeds, strict=True) if s > 0]
    args = [[x] * len(jobs) for x in (S, K, r, sigma, T)]
    chunk_paths, chunk_seeds = [s for s, _ in jobs], [q for _, q in jobs]
    flags = [bool(antithetic)] * len(jobs)
    if executor is None:
        parts = list(map(_mc_chunk, *args, chunk_paths, chunk_seeds, flags))
    else:
        parts = list(executor.map(_mc_chunk, *args, chunk_paths, chunk_seeds, flags))
    total = RunningStats(0, 0.0, 0.0)
    for p in parts:
        total = total.merge(p)
    return MCResult(total.mean, total.stderr, n_paths, bool(antithetic), total)
