r"""Chapter 4's measurements: kernels to time, models fitted to the times, and the plots
that put the two side by side.

* A parallel kernel with a known serial phase (a Monte Carlo estimate of :math:`\pi`) whose
  worker function lives here, so process pools that spawn can import it.
* Fits: a bootstrap error estimate for Amdahl's serial fraction (fitted by
  :func:`computing_change.parallel.fit_serial_fraction`); a time model
  :math:`T(n, p) = a + b\,n + c\,n/p` for predicting unseen configurations; ping-pong times
  through a pipe, for the alpha-beta model (fitted by
  :func:`computing_change.distributed.fit_alpha_beta`).
* Kernels for the roofline (a dot product, matrix products, a stencil), each with its FLOP
  and byte counts and a correctness check, timed with :func:`computing_change.timing.bench`.
* Demos that assert what a model claims: a simulated ring all-reduce, and a NumPy training
  step whose FLOPs are counted to check the 6N rule.
* Drawing helpers for the chapter's plots and custom widgets.

Every function validates its input and raises ``ValueError`` naming the parameter.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from . import formulas as F
from ._validate import check, check_int
from .parallel import fit_serial_fraction, mp_context
from .svgplot import SvgPlot

__all__ = [
    "count_in_circle",
    "PiWork",
    "plan_pi",
    "run_pi",
    "pi_rate",
    "AmdahlFit",
    "bootstrap_amdahl",
    "TimeModel",
    "fit_time_model",
    "nnls_small",
    "echo_server",
    "pingpong",
    "Kernel",
    "KernelPoint",
    "dot_kernel",
    "matmul_kernel",
    "stencil_kernel",
    "jacobi_step",
    "stream_items",
    "course_kernels",
    "kernel_roof",
    "level_roofs",
    "measure_kernels",
    "reposition",
    "simulate_ring_allreduce",
    "mlp_train_step",
    "plot_roofline",
    "plot_allreduce",
    "ALLREDUCE_MODELS",
    "plot_brent",
    "roofline_view",
    "allreduce_view",
    "brent_view",
]

#: Points drawn at once. Fixed, and in preallocated buffers, so that the cost per point does
#: not depend on the job's size (no allocation, the same cache footprint for every chunk).
_CHUNK = 1 << 15


# --------------------------------------------------------------------------------------
# A parallel kernel with a serial phase: Monte Carlo estimate of pi.
# --------------------------------------------------------------------------------------


def count_in_circle(blocks: Sequence[tuple[int, int]], seed: int = 0) -> int:
    """Count random points of the unit square inside the quarter circle, block by block.

    Parameters
    ----------
    blocks : sequence of (index, size) pairs, index >= 0, size >= 0
        Each block draws ``size`` points from its own stream, ``default_rng([seed, index])``,
        so the total does not depend on how blocks are shared among workers.
    seed : int, >= 0
        Seed common to all blocks.

    This is the worker function that process pools run.
    """
    seed = check_int("seed", seed, 0)
    total = 0
    x, y = np.empty(_CHUNK), np.empty(_CHUNK)
    for block in blocks:
        if len(block) != 2:
            raise ValueError(f"blocks must hold (index, size) pairs; got {block!r}")
        index = check_int("index", block[0], 0)
        size = check_int("size", block[1], 0)
        rng = np.random.default_rng([seed, index])
        left = size
        while left > 0:
            m = min(left, _CHUNK)
            xs, ys = x[:m], y[:m]
            rng.random(out=xs)
            rng.random(out=ys)
            np.multiply(xs, xs, out=xs)
            np.multiply(ys, ys, out=ys)
            np.add(xs, ys, out=xs)
            total += int(np.count_nonzero(xs <= 1.0))
            left -= m
    return total


@dataclass(frozen=True)
class PiWork:
    """A Monte Carlo job: a serial phase of ``serial_points`` in the parent process, then
    ``blocks`` shared among the workers."""

    n: int
    serial_points: int
    blocks: tuple[tuple[int, int], ...]
    seed: int = 0

    def estimate(self, count: int) -> float:
        """The estimate of pi from the number of points inside the circle."""
        return 4.0 * count / self.n


def plan_pi(n: int, serial_fraction: float = 0.05, n_blocks: int = 120, seed: int = 0) -> PiWork:
    """Plan ``n`` points: ``serial_fraction`` of them in a serial phase, the rest in
    ``n_blocks`` equal blocks (120 divides evenly among 1-6, 8, 10 and 12 workers).

    Parameters
    ----------
    n : int, >= n_blocks
    serial_fraction : float, in [0, 1)
    n_blocks : int, >= 1
    seed : int, >= 0
    """
    n = check_int("n", n, 1)
    serial_fraction = check("serial_fraction", serial_fraction, 0, 1, hi_open=True)
    n_blocks = check_int("n_blocks", n_blocks, 1)
    seed = check_int("seed", seed, 0)
    if n < n_blocks:
        raise ValueError(f"n must be >= n_blocks ({n_blocks}); got {n}")
    serial = int(round(serial_fraction * n))
    per, extra = divmod(n - serial, n_blocks)
    blocks = tuple((i, per + (1 if i < extra else 0)) for i in range(n_blocks))
    return PiWork(n=n, serial_points=serial, blocks=blocks, seed=seed)


def run_pi(work: PiWork, workers: int, executor: Executor | None = None) -> int:
    """Run ``work``: its serial phase here, then its blocks in ``workers`` equal groups.

    With ``executor`` the groups run as tasks of that pool (give it at least ``workers``
    processes); without, one after another in this process (the serial reference).
    Returns the count of points inside the circle, the same for every ``workers``.
    """
    if not isinstance(work, PiWork):
        raise ValueError(f"work must be a PiWork from plan_pi; got {type(work).__name__}")
    workers = check_int("workers", workers, 1, len(work.blocks))
    count = count_in_circle([(len(work.blocks), work.serial_points)], work.seed)  # serial phase
    groups = [list(g) for g in np.array_split(np.arange(len(work.blocks)), workers)]
    tasks = [[work.blocks[i] for i in g] for g in groups]
    if executor is None:
        return count + sum(count_in_circle(t, work.seed) for t in tasks)
    futures = [executor.submit(count_in_circle, t, work.seed) for t in tasks]
    return count + sum(f.result() for f in futures)


def pi_rate(seconds: float = 0.05) -> float:
    """Points per second one core draws and tests, measured for about ``seconds`` here.

    Used to size the Monte Carlo job so it lasts the same time on a slow or a fast machine.
    """
    seconds = check("seconds", seconds, 0.001, 5)
    n, elapsed = _CHUNK, 0.0
    while elapsed < seconds:
        t0 = time.perf_counter()
        count_in_circle([(0, n)])
        elapsed = time.perf_counter() - t0
        if elapsed < seconds:
            n *= 2
    return n / elapsed


# --------------------------------------------------------------------------------------
# Fitting Amdahl's law, with a bootstrap error estimate.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AmdahlFit:
    """Amdahl's serial fraction fitted to measured times, with its bootstrap spread."""

    f: float
    stderr: float
    ci_low: float
    ci_high: float
    p: tuple[float, ...]
    speedup: tuple[float, ...]
    karp_flatt: tuple[float, ...]
    samples: np.ndarray

    def __str__(self) -> str:
        return f"f = {self.f:.4f} ± {self.stderr:.4f} (95 % interval {self.ci_low:.4f} to {self.ci_high:.4f})"


def _speedups(p: np.ndarray, medians: np.ndarray) -> np.ndarray:
    base = medians[np.flatnonzero(p == 1)[0]]
    return base / medians


def bootstrap_amdahl(
    p, times: Sequence[Sequence[float]], n_boot: int = 2000, seed: int = 0, confidence: float = 0.95
) -> AmdahlFit:
    """Fit Amdahl's ``f`` to repeated timings, and bootstrap over the repeats.

    Parameters
    ----------
    p : sequence of worker counts (whole numbers >= 1), one of them 1
    times : one sequence of repeated run times (seconds, > 0) per entry of ``p``
    n_boot : int, >= 100
        Bootstrap resamples: each draws every configuration's repeats with replacement,
        recomputes the medians, the speedups and ``f``.
    seed : int, >= 0
    confidence : float, in (0, 1)
        Width of the percentile interval.
    """
    p = np.atleast_1d(check("p", p, 1))
    n_boot = check_int("n_boot", n_boot, 100, 1_000_000)
    seed = check_int("seed", seed, 0)
    confidence = check("confidence", confidence, 0, 1, lo_open=True, hi_open=True)
    if len(times) != len(p):
        raise ValueError(f"times must hold one sequence per worker count ({len(p)}); got {len(times)}")
    if not np.any(p == 1):
        raise ValueError("p must include 1, the baseline of the speedups")
    runs = [np.atleast_1d(check("times", t, 0, lo_open=True)) for t in times]
    medians = np.array([np.median(r) for r in runs])
    speedup = _speedups(p, medians)
    f_hat = fit_serial_fraction(p, speedup)
    rng = np.random.default_rng(seed)
    samples = np.empty(n_boot)
    for b in range(n_boot):
        meds = np.array([np.median(r[rng.integers(0, len(r), len(r))]) for r in runs])
        samples[b] = fit_serial_fraction(p, _speedups(p, meds))
    tail = (1.0 - confidence) / 2
    lo, hi = np.quantile(samples, [tail, 1.0 - tail])
    kf = tuple(float(F.karp_flatt(s, q)) if q > 1 else float("nan") for s, q in zip(speedup, p, strict=True))
    return AmdahlFit(
        f=f_hat,
        stderr=float(np.std(samples, ddof=1)),
        ci_low=float(lo),
        ci_high=float(hi),
        p=tuple(float(q) for q in p),
        speedup=tuple(float(s) for s in speedup),
        karp_flatt=kf,
        samples=samples,
    )


# --------------------------------------------------------------------------------------
# A time model in size and workers, for predicting unseen configurations.
# --------------------------------------------------------------------------------------


def nnls_small(A, y, w=None) -> np.ndarray:
    """Non-negative least squares for a few columns, exactly, by trying every active set.

    Minimizes ``||diag(w) (A x - y)||`` subject to ``x >= 0``. Fine for up to about 10
    columns (``2**k`` small solves); the course's models have 2 or 3.
    """
    A = np.asarray(A, dtype=float)
    y = np.asarray(y, dtype=float)
    if A.ndim != 2 or y.shape != (A.shape[0],):
        raise ValueError(f"A must be 2-D with as many rows as y; got {A.shape} and {y.shape}")
    if A.shape[1] > 10:
        raise ValueError(f"A must have at most 10 columns; got {A.shape[1]}")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(y))):
        raise ValueError("A and y must be finite")
    w = np.ones_like(y) if w is None else np.atleast_1d(check("w", w, 0))
    Aw, yw = A * w[:, None], y * w
    k = A.shape[1]
    best, best_x = np.inf, np.zeros(k)
    for r in range(1, k + 1):
        for cols in itertools.combinations(range(k), r):
            sol, *_ = np.linalg.lstsq(Aw[:, cols], yw, rcond=None)
            if np.any(sol < 0):
                continue
            x = np.zeros(k)
            x[list(cols)] = sol
            err = float(np.sum((Aw @ x - yw) ** 2))
            if err < best:
                best, best_x = err, x
    return best_x


@dataclass(frozen=True)
class TimeModel:
    r"""A fitted run time :math:`T(n, p) = a + b\,n + c\,n/p` (seconds).

    ``a``: fixed overhead per run; ``b``: serial seconds per item; ``c``: parallelizable
    seconds per item. When every measurement used one worker count ``only_p``, ``b`` and
    ``c`` cannot be told apart: ``c`` is None, ``b`` holds :math:`b + c/p`, and the model
    predicts only at that worker count.
    """

    a: float
    b: float
    c: float | None
    rms_relative: float
    only_p: float | None = None

    @property
    def separable(self) -> bool:
        return self.c is not None

    def predict(self, n, p):
        """Predicted seconds for ``n`` items on ``p`` workers."""
        n = check("n", n, 0)
        p = check("p", p, 1)
        if self.c is None:
            if np.any(np.asarray(p) != self.only_p):
                raise ValueError(f"p must be {self.only_p:g}: the model was fitted on that worker count only")
            return self.a + self.b * n
        return self.a + self.b * n + self.c * n / p

    def serial_fraction(self, n):
        """Amdahl's serial fraction of the one-worker time at size ``n``: (a + b n) / T(n, 1)."""
        if self.c is None:
            raise ValueError("the serial fraction needs measurements at more than one worker count")
        n = check("n", n, 0, lo_open=True)
        return (self.a + self.b * n) / (self.a + (self.b + self.c) * n)


def fit_time_model(n, p, t) -> TimeModel:
    """Fit :class:`TimeModel` to run times ``t`` measured at sizes ``n`` and worker counts ``p``.

    Non-negative least squares on relative errors (each point weighted by ``1/t``), so short
    and long runs count alike.

    Parameters
    ----------
    n, p, t : sequences of the same length; n > 0 items, p >= 1 workers, t > 0 seconds
        At least two distinct sizes are needed.
    """
    n = np.atleast_1d(check("n", n, 0, lo_open=True))
    p = np.atleast_1d(check("p", p, 1))
    t = np.atleast_1d(check("t", t, 0, lo_open=True))
    if not (n.shape == p.shape == t.shape) or n.ndim != 1:
        raise ValueError(
            f"n, p and t must be 1-D and of the same length; got {n.shape}, {p.shape}, {t.shape}"
        )
    if len(np.unique(n)) < 2:
        raise ValueError("n must contain at least two distinct sizes to separate overhead from work")
    separable = len(np.unique(p)) > 1
    cols = [np.ones_like(n), n] + ([n / p] if separable else [])
    x = nnls_small(np.column_stack(cols), t, 1.0 / t)
    only_p = None if separable else float(p[0])
    model = TimeModel(float(x[0]), float(x[1]), float(x[2]) if separable else None, 0.0, only_p)
    rel = (model.predict(n, p) - t) / t
    return TimeModel(model.a, model.b, model.c, float(np.sqrt(np.mean(rel**2))), only_p)


# --------------------------------------------------------------------------------------
# The alpha-beta model of a pipe between two processes.
# --------------------------------------------------------------------------------------


def echo_server(conn) -> None:
    """Child process of :func:`pingpong`: send every message straight back; stop on ``b""``."""
    try:
        while True:
            msg = conn.recv_bytes()
            if not msg:
                break
            conn.send_bytes(msg)
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


def pingpong(sizes: Sequence[int], repeat: int = 30, warmup: int = 3) -> dict[int, np.ndarray]:
    """One-way message times (half a round trip, seconds) through a pipe to another process.

    Parameters
    ----------
    sizes : sequence of message sizes in bytes, each in [1, 2**28]
    repeat : int, in [1, 10000]
        Round trips timed per size (each one separately).
    warmup : int, in [0, 1000]

    The child process is always stopped, even if a timing fails.
    """
    sizes = [check_int("size", s, 1, 1 << 28) for s in sizes]
    if not sizes:
        raise ValueError("sizes must not be empty")
    repeat = check_int("repeat", repeat, 1, 10_000)
    warmup = check_int("warmup", warmup, 0, 1000)
    ctx = mp_context()  # "spawn", as in the parallel chapter
    parent, child = ctx.Pipe(duplex=True)
    proc = ctx.Process(target=echo_server, args=(child,), daemon=True)
    proc.start()
    child.close()
    out: dict[int, np.ndarray] = {}
    try:
        for size in sizes:
            msg = b"x" * size
            for _ in range(warmup):
                parent.send_bytes(msg)
                parent.recv_bytes()
            times = np.empty(repeat)
            for i in range(repeat):
                t0 = time.perf_counter()
                parent.send_bytes(msg)
                back = parent.recv_bytes()
                times[i] = (time.perf_counter() - t0) / 2
            if len(back) != size:
                raise RuntimeError(f"echo returned {len(back)} bytes for a {size}-byte message")
            out[size] = times
    finally:
        try:
            parent.send_bytes(b"")
        except OSError:
            pass
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
        parent.close()
    return out


# --------------------------------------------------------------------------------------
# Kernels for the roofline.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kernel:
    """A kernel to time: its FLOPs and its compulsory memory traffic (bytes) per call, a
    zero-argument function to time, and a check of its result."""

    name: str
    flops: float
    bytes: float
    run: Callable[[], object]
    verify: Callable[[], bool]

    @property
    def intensity(self) -> float:
        """FLOPs per byte of compulsory traffic."""
        return self.flops / self.bytes


@dataclass(frozen=True)
class KernelPoint:
    """A kernel measured and placed on a roofline."""

    name: str
    flops: float
    bytes: float
    seconds: float
    intensity: float
    performance: float
    bound: float
    fraction: float
    limit: str
    roof: str = "memory"  # the bandwidth roof it is placed under: "memory" (DRAM) or a cache level

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "intensity_flop_per_byte": self.intensity,
            "gflop_per_s": self.performance / 1e9,
            "bound_gflop_per_s": self.bound / 1e9,
            "fraction_of_bound": self.fraction,
            "bound_by": self.limit,
            "bandwidth_roof": self.roof,
        }


def dot_kernel(n: int, seed: int = 0) -> Kernel:
    """``x @ y`` for two float64 vectors of ``n``: 2n FLOPs, 16n bytes read."""
    n = check_int("n", n, 16, 1 << 30)
    rng = np.random.default_rng(seed)
    x, y = rng.random(n), rng.random(n)

    def verify() -> bool:
        return bool(np.isclose(x @ y, math.fsum((x * y).tolist()) if n <= 1 << 16 else np.sum(x * y)))

    return Kernel(f"dot n={n:,}", 2.0 * n, 16.0 * n, lambda: x @ y, verify)


def matmul_kernel(n: int, seed: int = 0) -> Kernel:
    """``A @ B`` into a preallocated ``C``, all ``n x n`` float64: 2n^3 FLOPs; compulsory
    traffic 24 n^2 bytes (read A and B, write C once)."""
    n = check_int("n", n, 2, 8192)
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    c = np.empty((n, n))

    def verify() -> bool:
        np.matmul(a, b, out=c)
        j = n // 2
        return bool(np.allclose(c[:, j], np.einsum("ik,k->i", a, b[:, j])))

    return Kernel(f"matmul n={n}", 2.0 * n**3, 24.0 * n * n, lambda: np.matmul(a, b, out=c), verify)


def jacobi_step(u: np.ndarray, out: np.ndarray) -> np.ndarray:
    """One 5-point Jacobi sweep: each interior point of ``out`` becomes the mean of its four
    neighbours in ``u`` (4 FLOPs per point), in place in ``out`` to avoid temporaries."""
    if not (isinstance(u, np.ndarray) and isinstance(out, np.ndarray)):
        raise ValueError("u and out must be NumPy arrays")
    if u.ndim != 2 or u.shape != out.shape or min(u.shape) < 3:
        raise ValueError(
            f"u and out must be 2-D, of the same shape, at least 3 x 3; got {u.shape}, {out.shape}"
        )
    inner = out[1:-1, 1:-1]
    np.add(u[:-2, 1:-1], u[2:, 1:-1], out=inner)
    inner += u[1:-1, :-2]
    inner += u[1:-1, 2:]
    inner *= 0.25
    return out


def stencil_kernel(side: int, seed: int = 0) -> Kernel:
    """A 5-point Jacobi sweep of a ``side x side`` float64 grid: 4 FLOPs per interior point;
    compulsory traffic 16 bytes per point (read the grid, write the new one)."""
    side = check_int("side", side, 3, 1 << 15)
    rng = np.random.default_rng(seed)
    u = rng.random((side, side))
    out = np.zeros_like(u)
    inner = (side - 2) ** 2

    def verify() -> bool:
        jacobi_step(u, out)
        i, j = side // 2, side // 3 + 1
        return bool(np.isclose(out[i, j], (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1]) / 4))

    return Kernel(
        f"stencil {side}x{side}", 4.0 * inner, 16.0 * side * side, lambda: jacobi_step(u, out), verify
    )


def stream_items() -> int:
    """Float64 items in each array of the course's largest streaming kernels.

    The size of the arrays the memory roof itself streams (:func:`machine.measure_bandwidth`):
    64 MiB, or twice the largest cache the OS reports if that is more, at most 128 MiB, and
    at most 4 % of the available memory. A dot product of two such vectors repeats the roof's
    own dot kernel, so it can reach the roof and, beyond noise, not exceed it.
    """
    from .machine import cache_sizes, safe_size

    target = min(max(64 * 1024**2, 2 * max(cache_sizes().values(), default=0)), 128 * 1024**2)
    return max(1 << 16, min(target // 8, safe_size(8, fraction=0.04)))


def course_kernels(memory_bytes: int | None = None) -> list[Kernel]:
    """The course's kernels at sizes for the roofline: a dot product and a stencil whose data
    (``memory_bytes`` per array, default :func:`stream_items` float64) are as large as the
    memory roof's own arrays, and matrix products of 64, 256 and 512."""
    if memory_bytes is None:
        memory_bytes = 8 * stream_items()
    memory_bytes = check_int("memory_bytes", memory_bytes, 1024)
    n = max(16, memory_bytes // 8)
    side = max(3, math.isqrt(n))
    return [dot_kernel(n), matmul_kernel(64), matmul_kernel(256), matmul_kernel(512), stencil_kernel(side)]


def kernel_roof(nbytes: float, bandwidth: float, cache_roofs=None) -> tuple[str, float]:
    """The bandwidth roof a kernel moving ``nbytes`` is placed under: ``(name, bytes/s)``.

    ``cache_roofs`` maps cache levels to ``(capacity in bytes, bandwidth in bytes/s)``. Data
    that fit in a level's capacity are served by that level, so the kernel goes under the
    smallest such level's roof; data that fit in none go under ``bandwidth``, the memory
    roof, named ``"memory"``. One sloped roof per level is the cache-aware roofline of Ilic,
    Pratas and Sousa (2014). ``nbytes`` > 0, ``bandwidth`` > 0.
    """
    nbytes = check("nbytes", nbytes, 0, lo_open=True)
    bandwidth = check("bandwidth", bandwidth, 0, lo_open=True)
    if not cache_roofs:
        return "memory", bandwidth
    if not isinstance(cache_roofs, dict):
        raise ValueError("cache_roofs must be a dict of level -> (capacity in bytes, bandwidth in bytes/s)")
    for name, (capacity, bw) in sorted(cache_roofs.items(), key=lambda kv: kv[1][0]):
        capacity = check(f"{name} capacity", capacity, 0, lo_open=True)
        bw = check(f"{name} bandwidth", bw, 0, lo_open=True)
        if nbytes <= capacity:
            return name, bw
    return "memory", bandwidth


def level_roofs(
    bandwidth: float, caches: dict[str, int], measure: Callable[[str], float], margin: float = 1.1
) -> dict[str, tuple[int, float]]:
    """The cache roofs to place kernels under: ``{level: (capacity in bytes, bytes/s)}``.

    For L2 and L3, where ``caches`` (level -> bytes, as :func:`machine.cache_sizes` gives)
    reports them, ``measure(level)`` gives the level's roof (``machine.cache_bandwidth``). A
    level whose roof is not above the memory roof ``bandwidth`` by ``margin`` cannot be told
    from memory: a virtual machine, for one, may be told the size of a whole processor's L3,
    which its own arrays cannot fill with fast lines. Such a level gets no roof of its own;
    its capacity joins the faster level below it, whose roof is then an upper bound for data
    up to that size (a level is never faster than the one below it). ``bandwidth`` > 0,
    ``margin`` >= 1.
    """
    bandwidth = check("bandwidth", bandwidth, 0, lo_open=True)
    margin = check("margin", margin, 1)
    if not callable(measure):
        raise ValueError("measure must be a function of a level name, such as machine.cache_bandwidth")
    roofs: dict[str, tuple[int, float]] = {}
    for level in ("L2", "L3"):
        if level not in caches:
            continue
        capacity = check_int(f"{level} capacity", caches[level], 1)
        bw = check(f"{level} bandwidth", measure(level), 0, lo_open=True)
        if bw > margin * bandwidth:
            roofs[level] = (capacity, bw)
        elif roofs:
            below = list(roofs)[-1]
            roofs[below] = (max(capacity, roofs[below][0]), roofs[below][1])
    return roofs


def reposition(
    points: Sequence[KernelPoint],
    peak: float,
    bandwidth: float,
    cache_roofs: dict[str, tuple[float, float]] | None = None,
) -> list[KernelPoint]:
    """The measured ``points`` placed again under other roofs (measured again, say), without
    timing the kernels again: the same performance, a new bound, fraction and roof."""
    peak = check("peak", peak, 0, lo_open=True)
    bandwidth = check("bandwidth", bandwidth, 0, lo_open=True)
    out = []
    for pt in points:
        if not isinstance(pt, KernelPoint):
            raise ValueError(f"points must hold KernelPoint objects; got {type(pt).__name__}")
        roof, bw = kernel_roof(pt.bytes, bandwidth, cache_roofs)
        bound = F.roofline(pt.intensity, peak, bw)
        limit = "memory" if pt.intensity < F.ridge_point(peak, bw) else "compute"
        out.append(
            KernelPoint(
                pt.name,
                pt.flops,
                pt.bytes,
                pt.seconds,
                pt.intensity,
                pt.performance,
                bound,
                pt.performance / bound,
                limit,
                roof,
            )
        )
    return out


def measure_kernels(
    kernels: Sequence[Kernel],
    peak: float,
    bandwidth: float,
    repeat: int = 5,
    *,
    cache_roofs: dict[str, tuple[float, float]] | None = None,
) -> list[KernelPoint]:
    """Check, time (median of ``repeat``, :func:`~computing_change.timing.bench`) and place each
    kernel on the roofline of ``peak`` FLOP/s and ``bandwidth`` bytes/s.

    With ``cache_roofs`` (level -> (capacity in bytes, bandwidth in bytes/s)), a kernel whose
    compulsory bytes fit in a cache level is placed under that level's bandwidth instead
    (:func:`kernel_roof`); its point says which roof in ``roof``. Raises ``RuntimeError`` if
    a kernel computes a wrong result. It reports the fraction of the roof, whatever it is: a
    caller that must refuse an impossible one (above the roof by more than noise) checks it.
    """
    from .timing import bench

    peak = check("peak", peak, 0, lo_open=True)
    bandwidth = check("bandwidth", bandwidth, 0, lo_open=True)
    repeat = check_int("repeat", repeat, 1, 1000)
    points = []
    for k in kernels:
        if not isinstance(k, Kernel):
            raise ValueError(f"kernels must hold Kernel objects; got {type(k).__name__}")
        roof, bw = kernel_roof(k.bytes, bandwidth, cache_roofs)
        if not k.verify():
            raise RuntimeError(f"kernel {k.name} computed a wrong result")
        seconds = bench(k.run, repeat=repeat, min_time=0.01).median
        perf = k.flops / seconds
        bound = F.roofline(k.intensity, peak, bw)
        limit = "memory" if k.intensity < F.ridge_point(peak, bw) else "compute"
        points.append(
            KernelPoint(
                k.name, k.flops, k.bytes, seconds, k.intensity, perf, bound, perf / bound, limit, roof
            )
        )
    return points


# --------------------------------------------------------------------------------------
# Demos that check what a model claims.
# --------------------------------------------------------------------------------------


def simulate_ring_allreduce(arrays: Sequence[np.ndarray]) -> tuple[list[np.ndarray], int, np.ndarray]:
    r"""Ring all-reduce of one array per worker, step by step, as Thakur et al. (2005) and
    Patarasuk & Yuan describe it: a reduce-scatter of :math:`p-1` steps, then an all-gather of
    :math:`p-1` steps, each worker sending one chunk of about :math:`n/p` elements to its
    right-hand neighbour per step.

    Returns ``(results, steps, bytes_sent)``: every worker's reduced array (all equal to the
    elementwise sum), the number of communication steps, and the bytes each worker sent.
    """
    if len(arrays) < 1:
        raise ValueError("arrays must hold at least one array (one per worker)")
    bufs = [np.array(a, copy=True) for a in arrays]
    shape = bufs[0].shape
    if any(b.shape != shape or b.ndim != 1 for b in bufs):
        raise ValueError("arrays must all be 1-D and of the same length")
    p = len(bufs)
    sent = np.zeros(p, dtype=np.int64)
    bounds = np.linspace(0, shape[0], p + 1).round().astype(int)
    chunk = [slice(bounds[i], bounds[i + 1]) for i in range(p)]
    steps = 0
    for s in range(p - 1):  # reduce-scatter: worker i sends chunk (i - s) mod p to i + 1
        msgs = [(i, (i - s) % p, bufs[i][chunk[(i - s) % p]].copy()) for i in range(p)]
        for i, c, data in msgs:
            bufs[(i + 1) % p][chunk[c]] += data
            sent[i] += data.nbytes
        steps += 1
    for s in range(p - 1):  # all-gather: worker i sends its complete chunk (i + 1 - s) mod p
        msgs = [(i, (i + 1 - s) % p, bufs[i][chunk[(i + 1 - s) % p]].copy()) for i in range(p)]
        for i, c, data in msgs:
            bufs[(i + 1) % p][chunk[c]] = data
            sent[i] += data.nbytes
        steps += 1
    return bufs, steps, sent


def mlp_train_step(x: np.ndarray, w1: np.ndarray, w2: np.ndarray, target: np.ndarray):
    r"""One training step's forward and backward pass of a two-layer ReLU network without
    biases, ``y = relu(x @ w1) @ w2``, loss ``0.5 * mean over rows of ||y - target||^2``.

    Returns ``(loss, (grad_w1, grad_w2, grad_x), flops)`` where ``flops`` counts
    :math:`2mkn` for every matrix product actually executed: six products, so
    ``flops == 6 * (w1.size + w2.size) * len(x)``, the 6N rule exactly.
    """
    for name, arr in (("x", x), ("w1", w1), ("w2", w2), ("target", target)):
        if not isinstance(arr, np.ndarray) or arr.ndim != 2:
            raise ValueError(f"{name} must be a 2-D NumPy array")
    if x.shape[1] != w1.shape[0] or w1.shape[1] != w2.shape[0] or target.shape != (x.shape[0], w2.shape[1]):
        raise ValueError(
            f"shapes do not chain: x {x.shape}, w1 {w1.shape}, w2 {w2.shape}, target {target.shape}"
        )
    flops = 0

    def mm(a, b):
        nonlocal flops
        flops += 2 * a.shape[0] * a.shape[1] * b.shape[1]
        return a @ b

    batch = x.shape[0]
    h_pre = mm(x, w1)  # forward: 2 B d_in d_h
    h = np.maximum(h_pre, 0.0)
    y = mm(h, w2)  # forward: 2 B d_h d_out
    diff = y - target
    loss = 0.5 * float(np.sum(diff * diff)) / batch
    dy = diff / batch
    g_w2 = mm(h.T, dy)  # backward, weights: 2 B d_h d_out
    dh = mm(dy, w2.T)  # backward, inputs: 2 B d_h d_out
    dh *= h_pre > 0
    g_w1 = mm(x.T, dh)  # backward, weights: 2 B d_in d_h
    g_x = mm(dh, w1.T)  # backward, inputs: 2 B d_in d_h
    return loss, (g_w1, g_w2, g_x), flops


# --------------------------------------------------------------------------------------
# Drawing.
# --------------------------------------------------------------------------------------


def _plain_log_axes(ax) -> None:
    """Plain tick labels ("0.1", "10", "1e+06") on log axes, and no minor ticks: the
    readers of these plots compare numbers, and these read faster than "10^k"."""
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _pos: f"{v:g}")
    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale == "log":
            axis.set_major_formatter(fmt)
    ax.minorticks_off()


def plot_roofline(
    ax,
    peak: float,
    bandwidth: float,
    points: Sequence[KernelPoint] = (),
    imin=None,
    imax=None,
    *,
    cache_roofs: dict[str, float] | None = None,
):
    """Draw the roofline of ``peak`` FLOP/s and ``bandwidth`` bytes/s on ``ax`` (log-log,
    GFLOP/s against FLOPs/byte), and each measured point labelled with its attained fraction
    of the roof drawn. ``cache_roofs`` (level -> bytes/s) adds one dashed roof per cache level
    (a cache-aware roofline). Minor ticks are off: they double the drawing time of a log axis."""
    peak = check("peak", peak, 0, lo_open=True)
    bandwidth = check("bandwidth", bandwidth, 0, lo_open=True)
    cache_roofs = {
        name: check(f"{name} bandwidth", bw, 0, lo_open=True) for name, bw in (cache_roofs or {}).items()
    }
    ridge = F.ridge_point(peak, bandwidth)
    xs = [pt.intensity for pt in points] + [ridge]
    imin = check("imin", imin, 0, lo_open=True) if imin is not None else min(xs) / 4
    imax = check("imax", imax, 0, lo_open=True) if imax is not None else max(xs) * 4
    if imax <= imin:
        raise ValueError(f"imax must be > imin ({imin:g}); got {imax:g}")
    grid = np.geomspace(imin, imax, 64)
    ax.loglog(grid, F.roofline(grid, peak, bandwidth) / 1e9, color="k", lw=2, label="roofline")
    for i, (name, bw) in enumerate(sorted(cache_roofs.items(), key=lambda kv: -kv[1])):
        ax.loglog(
            grid,
            F.roofline(grid, peak, bw) / 1e9,
            color=str(0.35 + 0.2 * i),
            lw=1.2,
            ls="--",
            label=f"{name} roof, {bw / 1e9:.3g} GB/s",
        )
    ax.axvline(ridge, color="0.6", ls=":", lw=1)
    ax.annotate(
        f"ridge {ridge:.3g} FLOP/B",
        (ridge, peak / 1e9),
        xytext=(4, -14),
        textcoords="offset points",
        fontsize=8,
        color="0.35",
    )
    for i, pt in enumerate(points):
        fraction = pt.performance / F.roofline(pt.intensity, peak, bandwidth)  # of *this* roof
        ax.loglog(
            [pt.intensity],
            [pt.performance / 1e9],
            "o",
            color=f"C{i % 10}",
            label=f"{pt.name}: {fraction:.0%} of bound",
        )
    ax.set_xlabel("arithmetic intensity (FLOPs per byte)")
    ax.set_ylabel("GFLOP/s")
    _plain_log_axes(ax)
    return ax


#: The all-reduce cost models the plots compare, in drawing order (colours C0, C1, C2).
ALLREDUCE_MODELS = (
    ("gather + broadcast", F.naive_allreduce_time),
    ("binomial tree", F.tree_allreduce_time),
    ("ring", F.ring_allreduce_time),
)


def _brent_series(n: int, p_max: int):
    """Processor counts 1..``p_max`` (48 on a log scale) and, at each, Brent's upper and
    lower bounds and the greedy schedule's steps for a tree reduction of ``n`` numbers."""
    ps = np.unique(np.geomspace(1, p_max, 48).round().astype(int))
    w, d = F.reduction_work_span(n)
    return ps, F.brent_upper(w, d, ps), F.brent_lower(w, d, ps), [F.reduction_steps(n, int(q)) for q in ps]


def plot_allreduce(ax, p: int, alpha: float, beta: float, n_mark: float | None = None, nmin=1.0, nmax=1e10):
    """Draw the three all-reduce cost models (:func:`~computing_change.formulas.ring_allreduce_time`
    and its two rivals) for ``p`` workers against message size on ``ax`` (log-log)."""
    nmin = check("nmin", nmin, 0, lo_open=True)
    nmax = check("nmax", nmax, nmin, lo_open=True)
    n = np.geomspace(nmin, nmax, 96)
    for label, fn in ALLREDUCE_MODELS:
        t = fn(n, p, alpha, beta)
        if np.all(t == 0):
            continue
        ax.loglog(n, t, lw=2, label=label)
        if n_mark is not None:
            ax.loglog([n_mark], [fn(n_mark, p, alpha, beta)], "o", color=ax.lines[-1].get_color())
    ax.set_xlabel("bytes per worker, n")
    ax.set_ylabel("seconds")
    _plain_log_axes(ax)
    return ax


def plot_brent(ax, n: int, p_max: int, p_mark: int | None = None):
    """Draw Brent's bounds and the level-by-level schedule of a tree reduction of ``n``
    numbers against the processor count 1..``p_max`` on ``ax`` (log-log)."""
    n = check_int("n", n, 2)
    p_max = check_int("p_max", p_max, 1, 1 << 60)
    ps, upper, lower, steps = _brent_series(n, p_max)
    ax.loglog(ps, upper, "--", color="C3", label="upper W/p + D")
    ax.loglog(ps, lower, "--", color="C0", label="lower max(W/p, D)")
    ax.loglog(ps, steps, color="k", lw=2, label="greedy schedule")
    if p_mark is not None:
        p_mark = check_int("p_mark", p_mark, 1)
        ax.loglog([p_mark], [F.reduction_steps(n, p_mark)], "o", color="k")
    ax.set_xlabel("processors p")
    ax.set_ylabel("time steps T_p")
    _plain_log_axes(ax)
    return ax


# --------------------------------------------------------------------------------------
# The chapter's custom widgets: one function per view, for ``ipywidgets.interactive``.
# Each draws an SVG (computing_change.svgplot: a millisecond or two, where a matplotlib
# figure takes tens), displays it and prints a one-line readout; bad input prints a message
# instead. They return None, so that ``interactive`` does not display a return value twice.
# --------------------------------------------------------------------------------------


def _refuse(err: Exception) -> None:
    print(f"⚠ {err}")


def roofline_view(
    peak_gflops: float, bandwidth_gbs: float, intensity: float, points: Sequence[KernelPoint] = ()
):
    """Widget view: the roofline of ``peak_gflops`` and ``bandwidth_gbs`` with the measured
    ``points``, a star at ``intensity``, and the bound there."""
    try:
        peak = check("peak_gflops", peak_gflops, 0, lo_open=True) * 1e9
        bw = check("bandwidth_gbs", bandwidth_gbs, 0, lo_open=True) * 1e9
        bound = F.roofline(intensity, peak, bw)
        ridge = F.ridge_point(peak, bw)
    except ValueError as err:
        return _refuse(err)
    grid = np.geomspace(1 / 64, 1024, 64)
    plot = SvgPlot(640, 340, xlog=True, ylog=True)
    plot.line(grid, F.roofline(grid, peak, bw) / 1e9, color="k", label="roofline")
    plot.vline(ridge, color="grey")
    plot.text(ridge, peak / 1e9, f"ridge {ridge:.3g} FLOP/B", color="#595959", dx=4, dy=14, size=10)
    for i, pt in enumerate(points):
        fraction = pt.performance / F.roofline(pt.intensity, peak, bw)  # of *this* roof
        plot.points(
            [pt.intensity], [pt.performance / 1e9], color=f"C{i}", label=f"{pt.name}: {fraction:.0%} of bound"
        )
    plot.points([intensity], [bound / 1e9], color="k", marker="*", size=6)
    plot.set(
        xlabel="arithmetic intensity (FLOPs per byte)",
        ylabel="GFLOP/s",
        legend="lower right",  # under the roof, right of the kernels: the emptiest corner
        xlim=(1 / 64, 1024),
        description=f"Roofline of {peak / 1e9:.3g} GFLOP/s and {bw / 1e9:.3g} GB/s with the measured kernels",
    )
    plot.show()
    limit = "memory" if intensity < ridge else "compute"
    print(f"At I = {intensity:.3g} FLOP/byte the bound is {bound / 1e9:.3g} GFLOP/s: {limit}-bound.")


def allreduce_view(n_bytes: float, p: int, alpha_us: float, beta_gbs: float) -> None:
    """Widget view: the three all-reduce models against message size for ``p`` workers,
    marked at ``n_bytes``, and which is fastest there."""
    try:
        alpha, beta = (
            check("alpha_us", alpha_us, 0) * 1e-6,
            check("beta_gbs", beta_gbs, 0, lo_open=True) * 1e9,
        )
        times = {label: fn(n_bytes, p, alpha, beta) for label, fn in ALLREDUCE_MODELS}
    except ValueError as err:
        return _refuse(err)
    n = np.geomspace(1.0, 1e10, 96)
    plot = SvgPlot(640, 340, xlog=True, ylog=True)
    for i, (label, fn) in enumerate(ALLREDUCE_MODELS):
        plot.line(n, fn(n, p, alpha, beta), color=f"C{i}", label=label)
        plot.points([n_bytes], [times[label]], color=f"C{i}")
    plot.set(
        title=f"All-reduce on p = {p} workers",
        xlabel="bytes per worker, n",
        ylabel="seconds",
        legend="upper left",
        xlim=(1.0, 1e10),
    )
    plot.show()
    best = min(times, key=times.get)
    print("  ".join(f"{k}: {v * 1e3:.3g} ms" for k, v in times.items()) + f"   -> fastest: {best}")


def brent_view(n: float, p: float) -> None:
    """Widget view: Brent's bounds and the greedy schedule of a tree reduction of ``n``
    numbers against the processor count, marked at ``p`` (both rounded to whole numbers)."""
    try:
        n = check_int("n", round(check("n", n, 2)), 2)
        p = check_int("p", round(check("p", p, 1)), 1)
        work, depth = F.reduction_work_span(n)
        steps, lo, hi = F.reduction_steps(n, p), F.brent_lower(work, depth, p), F.brent_upper(work, depth, p)
    except ValueError as err:
        return _refuse(err)
    ps, upper, lower, schedule = _brent_series(n, max(4 * p, 1024))
    plot = SvgPlot(640, 340, xlog=True, ylog=True)
    plot.line(ps, upper, color="C3", style="--", label="upper W/p + D")
    plot.line(ps, lower, color="C0", style="--", label="lower max(W/p, D)")
    plot.line(ps, schedule, color="k", label="greedy schedule")
    plot.points([p], [steps], color="k")
    plot.set(
        title=f"Tree reduction of n = {n:,} numbers",
        xlabel="processors p",
        ylabel="time steps T_p",
        legend="upper right",
    )
    plot.show()
    print(f"p = {p:,}: {lo:,.1f} <= T_p = {steps:,} <= {hi:,.1f}   (W = {work:,}, D = {depth})")
