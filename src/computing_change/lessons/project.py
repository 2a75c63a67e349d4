r"""Chapter 5 (项目实战): the course's environment check, the article's program, and one
realistic workload carried from naive Python through every strategy of the course.

The workload is **nearest-neighbour search** (最近邻搜索): for each of ``N`` query points,
find the closest of ``M`` reference points in ``D`` dimensions (squared Euclidean
distance). It is the inner loop of k-nearest-neighbour classification, of k-means' assignment
step and of vector search over embeddings. Every version below returns the same pair of
arrays, ``(index, squared_distance)``, one entry per query:

* :func:`nearest_naive` - pure Python loops over the definition
  :math:`\lVert q - r\rVert^2 = \sum_k (q_k - r_k)^2`;
* :func:`nearest_expanded_python` - the better algorithm, still in pure Python:
  :math:`\lVert q - r\rVert^2 = \lVert q\rVert^2 - 2\,q\cdot r + \lVert r\rVert^2` with the norms
  computed once, so the inner loop is a dot product;
* :func:`nearest_broadcast` - NumPy broadcasting of the definition, one query at a time;
* :func:`nearest_matmul` - the expansion for all pairs at once: one matrix product;
* :func:`nearest_chunked` - the same in blocks of queries, with a preallocated block, so peak
  memory is bounded by the block, not by ``N x M``; works in float32 or float64;
* :class:`ProcessNearest` - blocks spread over a pool of processes;
* :class:`DaskNearest` - blocks spread over the workers of a Dask cluster
  (:func:`computing_change.core.pools.cluster_client` starts one on 127.0.0.1 and always closes it).

Around them: :func:`compare_neighbours` checks an answer against the true one,
:func:`distance_flops` and :func:`compulsory_bytes` give the roofline's work and least
traffic, and :class:`StepResult` / :func:`format_steps` make the chapter's table. The
process and Dask workers are module-level functions, so that pools which spawn (macOS,
Windows, and this module's default everywhere) can pickle them. The chapter shows every
version from this file with :func:`computing_change.core.notebook.show`, and
``benchmarks/casestudy.py`` times the same functions.

The chapter's Numba step (the naive loops, compiled) is written in the notebook itself: it
needs no process to import it, and keeping Numba out of this module keeps it out of every
worker process that imports the module.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import math
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from computing_change.core import machine
from computing_change.core.checks import check, check_int
from computing_change.core.pools import process_pool
from computing_change.core.timing import format_seconds
from computing_change.core.tracing import traced_peak

__all__ = [
    "ARTICLE_CODE",
    "MINIMUM_VERSIONS",
    "Neighbours",
    "EnvCheck",
    "check_environment",
    "check_resources",
    "format_checks",
    "Sizes",
    "default_sizes",
    "default_chunk",
    "make_data",
    "nearest_naive",
    "nearest_expanded_python",
    "nearest_broadcast",
    "nearest_matmul",
    "nearest_chunked",
    "ProcessNearest",
    "DaskNearest",
    "Agreement",
    "compare_neighbours",
    "distance_flops",
    "compulsory_bytes",
    "StepResult",
    "format_steps",
]

#: What every version returns: ``(index, squared_distance)``, one entry per query.
Neighbours = tuple[np.ndarray, np.ndarray]

# --------------------------------------------------------------------------------------
# 5.1 The environment
# --------------------------------------------------------------------------------------

#: Oldest versions the course supports: the lower bounds of ``pyproject.toml``
#: (a test checks the two agree). Python itself is checked against ``"python"``.
#: Numba 0.60 is the first that supports NumPy 2.
MINIMUM_VERSIONS: dict[str, str] = {
    "python": "3.11",
    "numpy": "2.0",
    "matplotlib": "3.8",
    "ipywidgets": "8.1",
    "anywidget": "0.11",
    "dask": "2024.1",
    "distributed": "2024.1",
    "threadpoolctl": "3.1",
    "psutil": "5.9",
    "numba": "0.60",
}

#: The smallest memory the notebooks are sized for (a Binder container gives 2 GiB).
MIN_AVAILABLE_MEMORY = 1 * 1024**3


@dataclass(frozen=True)
class EnvCheck:
    """One line of the environment check: what is needed, what was found, and whether it will do."""

    name: str
    required: str
    found: str
    ok: bool
    note: str = ""


def _version_tuple(version: str) -> tuple[int, ...]:
    """Leading numeric parts of a version string: ``"2.4.6rc1"`` -> ``(2, 4, 6)``."""
    parts = []
    for piece in version.split("."):
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(piece):
            break
    return tuple(parts)


def _at_least(found: str, minimum: str) -> bool:
    return _version_tuple(found) >= _version_tuple(minimum)


def _installed_version(module: str) -> str | None:
    """The version of an importable module, or None if it cannot be imported."""
    try:
        mod = importlib.import_module(module)
    except Exception:
        return None
    version = getattr(mod, "__version__", None)
    if version is None:
        try:
            version = importlib.metadata.version(module)
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
    return str(version)


def check_environment(minimum: dict[str, str] | None = None) -> list[EnvCheck]:
    """Check the Python version and that every package the course needs imports and is recent.

    ``minimum`` maps names to oldest versions (default :data:`MINIMUM_VERSIONS`); the key
    ``"python"`` checks the interpreter. The result depends only on the installed software,
    so it is the same on every run in one environment.
    """
    minimum = dict(MINIMUM_VERSIONS if minimum is None else minimum)
    if not minimum:
        raise ValueError("minimum must name at least one package")
    checks = []
    for name, need in minimum.items():
        if not isinstance(need, str) or not _version_tuple(need):
            raise ValueError(f"minimum[{name!r}] must be a version string like '3.11'; got {need!r}")
        found = platform.python_version() if name == "python" else _installed_version(name)
        if found is None:
            checks.append(EnvCheck(name, f">= {need}", "missing", False, "pip install -r requirements.txt"))
        elif found == "unknown" or not _at_least(found, need):
            checks.append(EnvCheck(name, f">= {need}", found, False, "too old: upgrade it"))
        else:
            checks.append(EnvCheck(name, f">= {need}", found, True))
    return checks


def check_resources(min_memory: int = MIN_AVAILABLE_MEMORY) -> list[EnvCheck]:
    """What the machine offers the notebooks: usable cores and available memory.

    A single core is not an error (the notebooks run, and say the parallel steps cannot
    speed up); less than ``min_memory`` bytes available is.
    """
    min_memory = check_int("min_memory", min_memory, 0)
    cores = machine.usable_cores()
    quota = machine.cpu_quota()
    core_note = "parallel demos will show overhead, not speedup" if cores == 1 else ""
    if quota is not None:
        core_note = (core_note + "; " if core_note else "") + f"CPU quota {quota:g}"
    checks = [EnvCheck("usable cores", ">= 1", str(cores), True, core_note)]
    avail = machine.available_memory()
    if avail is None:
        checks.append(
            EnvCheck(
                "available memory",
                f">= {min_memory / 1024**3:.1f} GiB",
                "unknown",
                True,
                "the OS does not say; demos assume 2 GiB",
            )
        )
    else:
        ok = avail >= min_memory
        checks.append(
            EnvCheck(
                "available memory",
                f">= {min_memory / 1024**3:.1f} GiB",
                f"{avail / 1024**3:.1f} GiB",
                ok,
                "" if ok else "close other programs",
            )
        )
    return checks


def format_checks(checks: Sequence[EnvCheck]) -> str:
    """The checks as a fixed-width text table, one line each, with OK or a problem."""
    if not checks:
        raise ValueError("checks must hold at least one EnvCheck")
    width = max(len(c.name) for c in checks)
    lines = [f"{'':<{width}}  {'needs':<12}{'found':<12}status"]
    for c in checks:
        status = "OK" if c.ok else "PROBLEM"
        note = f" ({c.note})" if c.note else ""
        lines.append(f"{c.name:<{width}}  {c.required:<12}{c.found:<12}{status}{note}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# 5.2 The article's program, verbatim (it is shown, run without its first line, and corrected)
# --------------------------------------------------------------------------------------

#: The program of the article's section 5.2, character for character.
ARTICLE_CODE = """\
import tensorflow as tf

# 设置计算变化的参数
n = 1000  # 任务规模
p = 4  # 并行计算单元数量
d = 8  # 分布式计算节点数量
m = 1024  # 内存容量
C_a = 10**6  # 优化后算法的计算复杂度
C_0 = 10**5  # 原始算法的计算复杂度

# 计算并行计算效率
E_p = 1 / (1 + n / p)

# 计算分布式计算效率
E_d = 1 / (1 + n / d)

# 计算内存优化效率
E_m = 1 / (1 + m / C_a)

# 计算算法优化效率
E_a = 1 / (1 + C_a / C_0)

# 输出计算效率
print("并行计算效率:", E_p)
print("分布式计算效率:", E_d)
print("内存优化效率:", E_m)
print("算法优化效率:", E_a)
"""

# --------------------------------------------------------------------------------------
# 5.3 The case study: sizes and data
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """The case study's problem size, and how many queries the naive versions run."""

    n_queries: int
    n_refs: int
    dim: int
    n_naive: int

    def __post_init__(self):
        check_int("n_queries", self.n_queries, 1)
        check_int("n_refs", self.n_refs, 1)
        check_int("dim", self.dim, 1)
        check_int("n_naive", self.n_naive, 1, self.n_queries)


def default_sizes(
    n_queries: int = 512,
    n_refs: int = 4096,
    dim: int = 128,
    n_naive: int = 4,
    *,
    fraction: float = 0.1,
) -> Sizes:
    """The default problem, shrunk only if it would not fit ``fraction`` of the free memory.

    The largest footprint is :func:`nearest_matmul`'s: about four ``n_queries x n_refs``
    float64 temporaries. With 1 GiB free the defaults fit unchanged, so the sizes are the
    same on a laptop, a workstation and a Binder container.
    """
    n_queries = check_int("n_queries", n_queries, 1)
    n_refs = check_int("n_refs", n_refs, 1)
    dim = check_int("dim", dim, 1)
    n_naive = check_int("n_naive", n_naive, 1)
    fraction = check("fraction", fraction, 0, 0.5, lo_open=True)
    n_refs = machine.safe_size(dim * 8 * 4, fraction=fraction, max_items=n_refs)
    n_queries = machine.safe_size(n_refs * 8 * 4, fraction=fraction, max_items=n_queries)
    return Sizes(n_queries, n_refs, dim, min(n_naive, n_queries))


def make_data(
    n_queries: int,
    n_refs: int,
    dim: int,
    *,
    clusters: int = 32,
    spread: float = 0.5,
    seed: int = 0,
    dtype=np.float64,
) -> Neighbours:
    """Queries and references that look like embeddings: points scattered around ``clusters``
    random centres (standard normal) with per-coordinate noise ``spread``.

    Returns C-contiguous ``(n_queries, dim)`` and ``(n_refs, dim)`` arrays of ``dtype``.
    """
    n_queries = check_int("n_queries", n_queries, 1)
    n_refs = check_int("n_refs", n_refs, 1)
    dim = check_int("dim", dim, 1)
    clusters = check_int("clusters", clusters, 1)
    spread = check("spread", spread, 0)
    seed = check_int("seed", seed, 0)
    dtype = _check_dtype(dtype)
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))

    def points(k):
        return centres[rng.integers(clusters, size=k)] + spread * rng.standard_normal((k, dim))

    refs = points(n_refs)
    queries = points(n_queries)
    return np.ascontiguousarray(queries, dtype=dtype), np.ascontiguousarray(refs, dtype=dtype)


def _check_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be float32 or float64; got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64; got {dt}")
    return dt


def _check_points(name: str, x) -> np.ndarray:
    """A 2-D, non-empty, finite float32/float64 array (other real dtypes become float64)."""
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (points x dims); got shape {arr.shape}")
    if arr.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise ValueError(f"{name} must hold real numbers; got dtype {arr.dtype}")
        arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def _check_pair(queries, refs, same_dtype: bool = False) -> tuple[np.ndarray, np.ndarray]:
    q = _check_points("queries", queries)
    r = _check_points("refs", refs)
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"queries and refs must have the same dimension; got {q.shape[1]} and {r.shape[1]}")
    if same_dtype and q.dtype != r.dtype:
        raise ValueError(f"queries and refs must have the same dtype; got {q.dtype} and {r.dtype}")
    return q, r


def _chunk_rows(chunk, n_refs: int, itemsize: int) -> int:
    """``chunk`` checked, or :func:`default_chunk` when it is None."""
    return default_chunk(n_refs, itemsize) if chunk is None else check_int("chunk", chunk, 1)


def _join(results) -> Neighbours:
    """Concatenate per-block ``(index, dist, ...)`` results, in order."""
    index = np.concatenate([r[0] for r in results])
    dist = np.concatenate([r[1] for r in results])
    return index, dist


def _as_rows(name: str, x) -> list:
    """Points as a list of rows of Python numbers, validated without copying them
    (arrays are converted with ``tolist``)."""
    if isinstance(x, np.ndarray):
        _check_points(name, x)
        return x.astype(float).tolist()
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence) or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty sequence of points (sequences of numbers)")
    dim = None
    for row in x:
        plain = type(row) is list or type(row) is tuple  # the fast, common case
        if not plain and (isinstance(row, (str, bytes)) or not isinstance(row, Sequence)) or not row:
            raise ValueError(f"{name} must hold points that are non-empty sequences of numbers")
        if dim is None:
            dim = len(row)
        elif len(row) != dim:
            raise ValueError(f"{name} must have points of equal length; got {dim} and {len(row)}")
        try:  # fast path: a finite sum means finite numbers (one overflow is checked in full)
            finite = math.isfinite(sum(row)) or all(map(math.isfinite, row))
        except (TypeError, OverflowError):
            raise ValueError(f"{name} must hold real numbers") from None
        if not finite:
            raise ValueError(f"{name} must be finite (no NaN or inf)")
    return x


def _check_rows(queries, refs) -> tuple[list, list]:
    q = _as_rows("queries", queries)
    r = _as_rows("refs", refs)
    if len(q[0]) != len(r[0]):
        raise ValueError(f"queries and refs must have the same dimension; got {len(q[0])} and {len(r[0])}")
    return q, r


# --------------------------------------------------------------------------------------
# The versions, from naive to distributed
# --------------------------------------------------------------------------------------


def nearest_naive(queries, refs) -> Neighbours:
    """Pure Python: for each query, loop over every reference and every coordinate.

    ``queries`` and ``refs`` are sequences of points (lists of floats; arrays are converted).
    Returns ``(index, squared_distance)`` arrays; ties go to the lowest index. Cost: about
    ``3 N M D`` floating-point operations, each one an interpreted bytecode sequence.
    """
    queries, refs = _check_rows(queries, refs)
    index, dist = [], []
    for q in queries:
        best, arg = math.inf, -1
        for j, r in enumerate(refs):
            s = 0.0
            for a, b in zip(q, r, strict=True):
                diff = a - b
                s += diff * diff
            if s < best:
                best, arg = s, j
        index.append(arg)
        dist.append(best)
    return np.array(index, dtype=np.intp), np.array(dist)


def nearest_expanded_python(queries, refs) -> Neighbours:
    r"""Pure Python with the better algorithm: :math:`\lVert q-r\rVert^2 = \lVert q\rVert^2
    - 2\,q\cdot r + \lVert r\rVert^2`.

    The reference norms are computed once (``M D`` operations), and ``\lVert q\rVert^2`` does not
    change which reference is nearest, so the search minimises ``\lVert r\rVert^2 - 2 q\cdot r``:
    a dot product, ``2 D`` operations per pair instead of ``3 D``. Same inputs and outputs as
    :func:`nearest_naive`.
    """
    queries, refs = _check_rows(queries, refs)
    norms = []
    for r in refs:
        s = 0.0
        for b in r:
            s += b * b
        norms.append(s)
    index, dist = [], []
    for q in queries:
        qn = 0.0
        for a in q:
            qn += a * a
        best, arg = math.inf, -1
        for j, r in enumerate(refs):
            dot = 0.0
            for a, b in zip(q, r, strict=True):
                dot += a * b
            s = norms[j] - 2.0 * dot
            if s < best:
                best, arg = s, j
        index.append(arg)
        dist.append(max(qn + best, 0.0))
    return np.array(index, dtype=np.intp), np.array(dist)


def nearest_broadcast(queries, refs) -> Neighbours:
    """NumPy broadcasting of the definition, one query at a time.

    ``refs - q`` broadcasts the query against all ``M`` references, so each query costs one
    ``M x D`` temporary (broadcasting all queries at once would need ``N x M x D``).
    """
    q, r = _check_pair(queries, refs)
    n = q.shape[0]
    index = np.empty(n, dtype=np.intp)
    dist = np.empty(n, dtype=np.result_type(q, r))
    for i in range(n):
        d2 = ((r - q[i]) ** 2).sum(axis=1)
        j = int(np.argmin(d2))
        index[i] = j
        dist[i] = d2[j]
    return index, dist


def nearest_matmul(queries, refs) -> Neighbours:
    """The expansion for all pairs at once: ``|q|^2 - 2 Q R^T + |r|^2``, one matrix product.

    Fast (the product runs in the BLAS library), but it materialises several ``N x M``
    temporaries, so its memory grows with the number of queries.
    """
    q, r = _check_pair(queries, refs)
    q_norms = np.einsum("ij,ij->i", q, q)
    r_norms = np.einsum("ij,ij->i", r, r)
    sq = q_norms[:, None] - 2.0 * (q @ r.T) + r_norms[None, :]
    index = np.argmin(sq, axis=1)
    dist = np.maximum(sq[np.arange(q.shape[0]), index], 0.0)
    return index, dist


def default_chunk(
    n_refs: int,
    itemsize: int = 8,
    block_bytes: int = 4 * 1024**2,
) -> int:
    """Rows of queries per block so that one ``rows x n_refs`` block takes about ``block_bytes``.

    The default, 4 MiB, stays within the last-level cache of most CPUs, and is large
    enough for the matrix product to run near its peak.
    """
    n_refs = check_int("n_refs", n_refs, 1)
    itemsize = check_int("itemsize", itemsize, 1, 16)
    block_bytes = check_int("block_bytes", block_bytes, 1)
    return max(1, block_bytes // (n_refs * itemsize))


def nearest_chunked(queries, refs, chunk: int | None = None) -> Neighbours:
    r"""The expansion in blocks of ``chunk`` queries, in the arrays' own precision.

    One ``chunk x M`` block is allocated once and reused: the product writes into it
    (``out=``), the reference norms are added in place, and ``argmin`` reads it. Peak memory
    is therefore about one block, whatever ``N``. The references are scaled by -2 once
    (exact in binary floating point), so the block holds :math:`\lVert r\rVert^2 - 2\,q\cdot r`
    directly. ``queries`` and ``refs`` must share a dtype (float32 or float64); the
    distances come back in that dtype. ``chunk`` defaults to :func:`default_chunk`.
    """
    q, r = _check_pair(queries, refs, same_dtype=True)
    n, m = q.shape[0], r.shape[0]
    chunk = min(_chunk_rows(chunk, m, q.itemsize), n)
    ref_norms = np.einsum("ij,ij->i", r, r)
    minus_two_r = -2 * r
    block = np.empty((chunk, m), dtype=q.dtype)
    index = np.empty(n, dtype=np.intp)
    dist = np.empty(n, dtype=q.dtype)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        b = block[: stop - start]
        np.matmul(q[start:stop], minus_two_r.T, out=b)
        b += ref_norms
        j = np.argmin(b, axis=1)
        index[start:stop] = j
        dist[start:stop] = b[np.arange(stop - start), j]
    dist += np.einsum("ij,ij->i", q, q)
    np.maximum(dist, 0, out=dist)
    return index, dist


def _chunks(n: int, chunk: int) -> list[tuple[int, int]]:
    return [(s, min(s + chunk, n)) for s in range(0, n, chunk)]


# --- processes ------------------------------------------------------------------------

_WORKER: dict = {}


def _init_worker(refs: np.ndarray, blas_threads: int) -> None:
    """Pool initializer: keep the references, and limit BLAS threads so workers x threads
    does not exceed the cores."""
    from threadpoolctl import threadpool_limits

    _WORKER["limits"] = threadpool_limits(limits=blas_threads)
    _WORKER["refs"] = refs


def _worker_nearest(queries, chunk: int, trace: bool = False):
    """Worker: nearest neighbours of one block of queries against the worker's references.

    With ``trace`` also return the worker's peak traced memory for this block, in bytes.
    """
    refs = _WORKER["refs"]
    if trace:
        run = traced_peak(nearest_chunked, queries, refs, chunk)
        return run.value[0], run.value[1], run.peak
    return nearest_chunked(queries, refs, chunk)


class ProcessNearest:
    """A pool of ``workers`` processes, each holding the references, searching blocks of queries.

    Use it as a context manager; the pool starts (and every worker is up) on entry and is
    shut down on exit, even after an error::

        with ProcessNearest(refs, workers=2) as search:
            index, dist = search(queries)

    Each worker limits its BLAS library to ``blas_threads`` threads. ``mp_context`` is the
    multiprocessing start method; ``"spawn"`` works the same on Linux, macOS and Windows.
    """

    def __init__(self, refs, workers: int | None = None, *, blas_threads: int = 1, mp_context: str = "spawn"):
        self.refs = np.ascontiguousarray(_check_points("refs", refs))
        self.workers = machine.usable_cores() if workers is None else check_int("workers", workers, 1, 1024)
        self.blas_threads = check_int("blas_threads", blas_threads, 1, 1024)
        if mp_context not in ("spawn", "forkserver", "fork"):
            raise ValueError(f"mp_context must be 'spawn', 'forkserver' or 'fork'; got {mp_context!r}")
        self.mp_context = mp_context
        self._pool = None
        self.startup_seconds: float | None = None

    def __enter__(self) -> ProcessNearest:
        t0 = time.perf_counter()
        stack = contextlib.ExitStack()
        self._pool = stack.enter_context(
            process_pool(
                self.workers,
                method=self.mp_context,
                initializer=_init_worker,
                initargs=(self.refs, self.blas_threads),
            )
        )
        self._stack = stack
        self.startup_seconds = time.perf_counter() - t0
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool = None
            self._stack.close()

    def _blocks(self, queries, chunk):
        if self._pool is None:
            raise RuntimeError("use ProcessNearest in a 'with' block")
        q = _check_points("queries", queries)
        if q.shape[1] != self.refs.shape[1]:
            raise ValueError(f"queries must have dimension {self.refs.shape[1]}; got {q.shape[1]}")
        if q.dtype != self.refs.dtype:
            raise ValueError(f"queries must have the references' dtype {self.refs.dtype}; got {q.dtype}")
        chunk = _chunk_rows(chunk, self.refs.shape[0], q.itemsize)
        return q, chunk, [q[s:e] for s, e in _chunks(q.shape[0], chunk)]

    def __call__(self, queries, chunk: int | None = None) -> Neighbours:
        """Nearest neighbours of ``queries``: one task per block of ``chunk`` queries."""
        q, chunk, parts = self._blocks(queries, chunk)
        chunks = [chunk] * len(parts)
        return _join(list(self._pool.map(_worker_nearest, parts, chunks)))

    def worker_peak(self, queries, chunk: int | None = None) -> int:
        """The largest peak of traced memory (bytes) any worker reached on one block."""
        q, chunk, parts = self._blocks(queries, chunk)
        n = len(parts)
        return max(r[2] for r in self._pool.map(_worker_nearest, parts, [chunk] * n, [True] * n))


# --- Dask -------------------------------------------------------------------------------


def _dask_block(queries, refs, chunk: int, trace: bool = False):
    """Dask task: one block of queries against the references the worker already holds."""
    if trace:
        run = traced_peak(nearest_chunked, queries, refs, chunk)
        return run.value[0], run.value[1], run.peak
    return nearest_chunked(queries, refs, chunk)


class DaskNearest:
    """Nearest-neighbour search on a Dask cluster: the references are sent to every worker
    once (``scatter(..., broadcast=True)``), then each call submits one task per block of
    queries and gathers the results in order.

    ``scatter_seconds`` records what that one-off copy cost.
    """

    def __init__(self, client, refs):
        if client is None or not hasattr(client, "scatter"):
            raise ValueError(f"client must be a dask.distributed.Client; got {client!r}")
        self.client = client
        self.refs = np.ascontiguousarray(_check_points("refs", refs))
        t0 = time.perf_counter()
        self._refs_future = client.scatter(self.refs, broadcast=True)
        self.scatter_seconds = time.perf_counter() - t0

    def _futures(self, queries, chunk, trace):
        q = _check_points("queries", queries)
        if q.shape[1] != self.refs.shape[1] or q.dtype != self.refs.dtype:
            raise ValueError(
                f"queries must have dimension {self.refs.shape[1]} and dtype {self.refs.dtype}; "
                f"got {q.shape[1]} and {q.dtype}"
            )
        chunk = _chunk_rows(chunk, self.refs.shape[0], q.itemsize)
        return [
            self.client.submit(_dask_block, q[s:e], self._refs_future, chunk, trace, pure=False)
            for s, e in _chunks(q.shape[0], chunk)
        ]

    def __call__(self, queries, chunk: int | None = None) -> Neighbours:
        """Nearest neighbours of ``queries``: one task per block of ``chunk`` queries."""
        futures = self._futures(queries, chunk, False)
        return _join(self.client.gather(futures))

    def worker_peak(self, queries, chunk: int | None = None) -> int:
        """The largest peak of traced memory (bytes) any worker reached on one block."""
        return max(r[2] for r in self.client.gather(self._futures(queries, chunk, True)))


# --------------------------------------------------------------------------------------
# Checking results, and measuring memory and the roofline
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    """How a result compares with the true nearest neighbours.

    ``max_excess`` is the largest amount by which a chosen neighbour is farther than the
    true nearest one, and ``max_dist_error`` the largest error of a reported distance, both
    relative to the rounding scale ``|q|^2 + |r|^2`` of the pair; ``ok`` says both are within
    ``rtol``.
    """

    n: int
    same_index: int
    max_excess: float
    max_dist_error: float
    rtol: float
    ok: bool

    def __str__(self) -> str:
        return (
            f"{self.same_index} of {self.n} indices identical; worst excess distance "
            f"{self.max_excess:.1e}, worst distance error {self.max_dist_error:.1e} "
            f"(tolerance {self.rtol:.0e}): {'OK' if self.ok else 'NOT OK'}"
        )


def compare_neighbours(queries, refs, index, dist, true_index, true_dist, rtol: float = 1e-10) -> Agreement:
    """Check a result ``(index, dist)`` against the true ``(true_index, true_dist)``.

    The chosen neighbours' distances are recomputed in float64 from the definition. The
    result is OK when each chosen neighbour is no farther than the true nearest one, and each
    reported distance is right, to within ``rtol`` times ``|q|^2 + |r|^2`` (the scale of the
    rounding error of the expanded formula). Two points at exactly the nearest distance are
    therefore both accepted; float32 results need ``rtol`` of about ``1e-5``.
    """
    q, r = _check_pair(queries, refs)
    q = q.astype(np.float64)
    r = r.astype(np.float64)
    rtol = check("rtol", rtol, 0, 1)
    n, m = q.shape[0], r.shape[0]
    index = np.asarray(index)
    true_index = np.asarray(true_index)
    dist = np.asarray(dist, dtype=np.float64)
    true_dist = np.asarray(true_dist, dtype=np.float64)
    for name, a in (("index", index), ("dist", dist), ("true_index", true_index), ("true_dist", true_dist)):
        if a.shape != (n,):
            raise ValueError(f"{name} must have one entry per query ({n}); got shape {a.shape}")
    for name, a in (("index", index), ("true_index", true_index)):
        if not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= m:
            raise ValueError(f"{name} must hold integers in [0, {m - 1}]")
    chosen = ((q - r[index]) ** 2).sum(axis=1)
    scale = (q * q).sum(axis=1) + (r[index] ** 2).sum(axis=1)
    scale = np.maximum(scale, np.finfo(np.float64).tiny)
    excess = float(np.max((chosen - true_dist) / scale))
    error = float(np.max(np.abs(dist - chosen) / scale))
    ok = excess <= rtol and error <= rtol
    return Agreement(n, int(np.sum(index == true_index)), excess, error, rtol, bool(ok))


def distance_flops(n_queries: int, n_refs: int, dim: int) -> int:
    r"""Floating-point operations of the search, counted as its matrix product: :math:`2NMD`.

    The same count is used for every version, so FLOP/s compare like with like (the naive
    loops really do :math:`3NMD`; the norms and the comparisons, :math:`O(NM + (N+M)D)`, are
    left out, which makes every attained rate a slight underestimate).
    """
    n_queries = check_int("n_queries", n_queries, 1)
    n_refs = check_int("n_refs", n_refs, 1)
    dim = check_int("dim", dim, 1)
    return 2 * n_queries * n_refs * dim


def compulsory_bytes(n_queries: int, n_refs: int, dim: int, itemsize: int = 8) -> int:
    """Bytes any version must move at least: read every point once, write one index
    (8 bytes) and one distance (``itemsize``) per query."""
    n_queries = check_int("n_queries", n_queries, 1)
    n_refs = check_int("n_refs", n_refs, 1)
    dim = check_int("dim", dim, 1)
    itemsize = check_int("itemsize", itemsize, 1, 16)
    return itemsize * (n_queries + n_refs) * dim + n_queries * (8 + itemsize)


# --------------------------------------------------------------------------------------
# Presenting the steps
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepResult:
    """One step of the case study, measured.

    ``seconds`` is the time for the whole problem. When ``measured_queries`` is set, the step
    ran on that many queries only and ``seconds`` is scaled up from them (every query costs
    the same, so time is proportional to the number of queries). ``peak_bytes`` is the traced
    peak, per worker process when ``per_worker``.
    """

    name: str
    seconds: float
    peak_bytes: int
    dtype: str = "float64"
    measured_queries: int | None = None
    per_worker: bool = False

    def __post_init__(self):
        check("seconds", self.seconds, 0, lo_open=True)
        check_int("peak_bytes", self.peak_bytes, 0)
        _check_dtype(self.dtype)
        if self.measured_queries is not None:
            check_int("measured_queries", self.measured_queries, 1)


def format_steps(
    steps: Sequence[StepResult],
    flops: float,
    bounds: dict[str, float],
    *,
    markdown: bool = False,
) -> str:
    """A table of ``steps``: time, speedup over the first step, peak memory, attained
    GFLOP/s (``flops`` / time) and the fraction of the roofline bound for the step's dtype
    (``bounds`` maps ``"float64"``/``"float32"`` to FLOP/s: the bound under the roofs of all
    usable cores, from :func:`computing_change.core.machine.roofs`). Fixed-width text, or a
    Markdown table with ``markdown=True``.

    A step above its bound by more than the measurement noise allows
    (:data:`computing_change.core.machine.ROOF_TOLERANCE`, 5 %) is impossible: it raises
    :class:`computing_change.core.machine.AboveRoofError` rather than print it."""
    if not steps:
        raise ValueError("steps must hold at least one StepResult")
    flops = check("flops", flops, 0, lo_open=True)
    for step in steps:
        if step.dtype not in bounds:
            raise ValueError(f"bounds must give a bound for dtype {step.dtype!r}")
        check(f"bounds[{step.dtype!r}]", bounds[step.dtype], 0, lo_open=True)
    star = "\\*" if markdown else "*"
    rows = []
    for s in steps:
        speedup = steps[0].seconds / s.seconds
        rate = flops / s.seconds
        machine.check_under_roof(rate / bounds[s.dtype], f"step {s.name!r}", f"its {s.dtype} roofline bound")
        rows.append(
            (
                s.name,
                format_seconds(s.seconds) + (star if s.measured_queries else " "),
                (f"{speedup:,.0f}" if speedup >= 100 else f"{speedup:.3g}") + "x",
                machine.format_bytes(s.peak_bytes) + ("†" if s.per_worker else " "),
                f"{rate / 1e9:.3g}",
                f"{100 * rate / bounds[s.dtype]:.3g} %",
            )
        )
    notes = []
    if any(s.measured_queries for s in steps):
        notes.append(
            f"{star} scaled up from the queries it ran on (time is proportional to the number of queries)"
        )
    if any(s.per_worker for s in steps):
        notes.append("† in each worker process")
    header = ("step", "time", "speedup", "peak memory", "GFLOP/s", "of bound")
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|:--|--:|--:|--:|--:|--:|"]
        lines += ["| " + " | ".join(cell.strip() for cell in row) + " |" for row in rows]
        return "\n".join(lines + [""] + ["; ".join(notes)] if notes else lines)
    width = max(len(s.name) for s in steps) + 2
    widths = (width, 11, 10, 14, 9, 10)
    lines = [
        "".join(
            f"{h:<{w}}" if i == 0 else f"{h:>{w}}"
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    ]
    for row in rows:
        cells = [f"{row[0]:<{width}}", f"{row[1]:>11}", f"{row[2]:>10}", f"{row[3]:>14}"]
        lines.append("".join(cells) + f"{row[4]:>9}{row[5]:>10}")
    return "\n".join(lines + notes)
