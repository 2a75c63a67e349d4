r"""Demo kernels and helpers of chapter 3.2, *Distributed computing* (分布式计算), on Dask distributed.

The chapter follows the article's three steps: task allocation (任务分配), data
synchronization (数据同步) and load balancing (负载均衡), then shows fault tolerance.
Everything that runs on a Dask worker lives here, not in the notebook, so that worker
processes (which are started fresh and import this module) can unpickle it.

Cluster
    :func:`cluster_client` yields a :class:`distributed.Client`: connected to the scheduler
    named by the environment variable ``COMPUTING_CHANGE_SCHEDULER`` (a real cluster), or
    else to a :class:`distributed.LocalCluster` it starts and always closes, even when the
    body raises (an ``atexit`` hook covers a kernel that exits first).
Task allocation
    :func:`noop`, :func:`measure_task_overhead`, :func:`grain_efficiency`,
    :func:`run_grain_experiment`, :func:`side_of_model` (do measured points scatter around a
    model, or sit on one side of it?).
Data synchronization
    :func:`distributed_sum_of_squares`, :func:`measure_transfer`, :func:`fit_alpha_beta`
    (the model itself is :func:`computing_change.formulas.alpha_beta_time`).
Load balancing
    :func:`skewed_durations`, :func:`static_chunks`, :func:`simulate_makespans`,
    :func:`run_static`, :func:`run_dynamic`, :func:`makespan`, :func:`finish_gap`,
    :func:`plot_timeline`.
Fault tolerance
    :func:`kill_worker`, :func:`run_with_failure`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import formulas as F
from ._validate import check, check_int
from .machine import available_memory, usable_cores
from .timing import bench

__all__ = [
    "SCHEDULER_ENV",
    "MAX_DEFAULT_WORKERS",
    "scheduler_address",
    "local_cluster_kwargs",
    "cluster_client",
    "local_client",
    "worker_names",
    "spin",
    "spin_rate",
    "TaskRecord",
    "timed_spin",
    "timed_chunk",
    "noop",
    "OverheadResult",
    "measure_task_overhead",
    "grain_efficiency",
    "run_grain_experiment",
    "side_of_model",
    "block_sum_of_squares",
    "sum_ints",
    "distributed_sum_of_squares",
    "transfer_sizes",
    "measure_transfer",
    "AlphaBeta",
    "fit_alpha_beta",
    "ORDERS",
    "skewed_durations",
    "static_chunks",
    "simulate_makespans",
    "makespan",
    "finish_gap",
    "iterations_for",
    "run_static",
    "run_dynamic",
    "plot_timeline",
    "kill_worker",
    "FailureReport",
    "run_with_failure",
]

#: The environment variable that names a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
SCHEDULER_ENV = "COMPUTING_CHANGE_SCHEDULER"

#: The default local cluster has one worker per usable core, but at most this many: every
#: worker is a Python process (about 100 MB, a second or so to start).
MAX_DEFAULT_WORKERS = 8

_MiB = 1024**2
_SCHEMES = ("tcp://", "tls://", "inproc://", "ucx://", "ws://", "wss://")


# --------------------------------------------------------------------------------------
# The cluster
# --------------------------------------------------------------------------------------


def scheduler_address(environ: dict | None = None) -> str | None:
    """The scheduler address the reader set in ``COMPUTING_CHANGE_SCHEDULER``, or None.

    An empty value counts as unset. A value without a scheme (``tcp://``, ``tls://``, ...)
    is refused with a ``ValueError``, so a typo fails loudly instead of starting a local
    cluster in silence.
    """
    env = os.environ if environ is None else environ
    value = (env.get(SCHEDULER_ENV) or "").strip()
    if not value:
        return None
    if not value.startswith(_SCHEMES) or len(value.split("://", 1)[1]) == 0:
        raise ValueError(
            f"{SCHEDULER_ENV} must be a scheduler address such as tcp://host:8786; got {value!r}"
        )
    return value


def local_cluster_kwargs(n_workers: int | None = None, memory_budget: int | None = None) -> dict:
    """Keyword arguments for the course's :class:`~distributed.LocalCluster`.

    One single-threaded worker process per usable core (at most :data:`MAX_DEFAULT_WORKERS`
    unless ``n_workers`` says otherwise, 1 to 64), each with an equal share of
    ``memory_budget`` bytes (default: 1 GiB or half the available memory, whichever is
    smaller, so a 2 GiB Binder container fits), never below 256 MiB. The scheduler and the
    dashboard listen on 127.0.0.1 only, on free ports, and the logs are quiet.
    """
    if n_workers is None:
        n_workers = min(usable_cores(), MAX_DEFAULT_WORKERS)
    n_workers = check_int("n_workers", n_workers, 1, 64)
    if memory_budget is None:
        avail = available_memory() or 2 * 1024**3
        memory_budget = min(1024 * _MiB, avail // 2)
    memory_budget = check_int("memory_budget", memory_budget, 1)
    per_worker = max(256 * _MiB, memory_budget // n_workers)
    return {
        "n_workers": n_workers,
        "threads_per_worker": 1,
        "processes": True,
        "memory_limit": per_worker,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
        "silence_logs": logging.ERROR,
    }


@contextlib.contextmanager
def cluster_client(
    n_workers: int | None = None,
    address: str | None = None,
    *,
    memory_budget: int | None = None,
    timeout: float = 60.0,
) -> Iterator:
    """Yield a :class:`distributed.Client`; close everything this function started on exit.

    With ``address`` (or, when it is None, the environment variable
    ``COMPUTING_CHANGE_SCHEDULER``) the client connects to that running scheduler and only
    the client is closed afterwards: the cluster is the reader's. Otherwise a
    :class:`~distributed.LocalCluster` is started with :func:`local_cluster_kwargs`, in a
    temporary directory of its own, and closed with the client in a ``finally`` block, so
    no worker process or scratch file outlives the ``with`` block even if it raises. An
    ``atexit`` hook closes it too if the interpreter exits first (a notebook kernel shut
    down between cells).
    """
    from distributed import Client

    timeout = check("timeout", timeout, 0, 3600, lo_open=True)
    if address is None:
        address = scheduler_address()
    elif not isinstance(address, str) or not address.startswith(_SCHEMES):
        raise ValueError(f"address must be a scheduler address such as tcp://host:8786; got {address!r}")
    if address is not None:
        if n_workers is not None:
            raise ValueError("n_workers must be None when connecting to a running scheduler")
        client = Client(address, timeout=timeout)
        try:
            yield client
        finally:
            client.close()
        return

    kwargs = local_cluster_kwargs(n_workers, memory_budget)
    with local_client(timeout=timeout, **kwargs) as client:
        yield client


@contextlib.contextmanager
def local_client(timeout: float = 60.0, **cluster_kwargs) -> Iterator:
    """Yield a :class:`distributed.Client` on a :class:`~distributed.LocalCluster` started
    with ``cluster_kwargs``, in a temporary directory of its own; on exit close the client
    and the cluster and remove the directory, even if the block raised.

    Every Dask server (the scheduler too) keeps its scratch files under Dask's
    "temporary-directory", which is pointed at that directory, so nothing is left in the
    system's. An ``atexit`` hook closes everything too if the interpreter exits first (a
    notebook kernel shut down between cells). :func:`cluster_client` starts the course's
    clusters through it; pass other arguments here for a cluster of another shape.
    """
    import dask
    from distributed import Client, LocalCluster

    timeout = check("timeout", timeout, 0, 3600, lo_open=True)
    scratch = tempfile.TemporaryDirectory(prefix="cc-dask-", ignore_cleanup_errors=True)
    cluster = client = None

    def close() -> None:
        nonlocal cluster, client
        this_client, this_cluster = client, cluster
        client = cluster = None  # a second call (atexit after finally) does nothing
        try:
            if this_client is not None:
                this_client.close()
        finally:
            try:
                if this_cluster is not None:
                    this_cluster.close()
            finally:
                scratch.cleanup()

    atexit.register(close)
    try:
        with dask.config.set({"temporary-directory": scratch.name}):
            cluster = LocalCluster(local_directory=scratch.name, **cluster_kwargs)
        client = Client(cluster, timeout=timeout)
        if "n_workers" in cluster_kwargs:
            client.wait_for_workers(cluster_kwargs["n_workers"], timeout=timeout)
        yield client
    finally:
        atexit.unregister(close)
        close()


def worker_names(client) -> dict[str, str]:
    """``{address: name}`` of the workers now connected, sorted by name (as strings).

    Names survive a restart by a nanny; addresses (random ports) do not.
    """
    info = client.scheduler_info(n_workers=-1)["workers"]
    pairs = sorted(((str(w.get("name", a)), a) for a, w in info.items()), key=lambda p: _name_key(p[0]))
    return {a: n for n, a in pairs}


def _name_key(name: str):
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def _current_worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return "local"


# --------------------------------------------------------------------------------------
# Worker functions: deterministic CPU work with an exact result
# --------------------------------------------------------------------------------------

_LCG_A = 6364136223846793005
_LCG_C = 1442695040888963407
_MASK64 = (1 << 64) - 1


def _check_seed(seed) -> int:
    # check_int goes through float, which cannot hold every 64-bit integer exactly.
    if (
        isinstance(seed, (bool, np.bool_))
        or not isinstance(seed, (int, np.integer))
        or not 0 <= seed <= _MASK64
    ):
        raise ValueError(f"seed must be a whole number in [0, 2**64 - 1]; got {seed!r}")
    return int(seed)


def spin(iterations: int, seed: int = 0) -> int:
    r"""Burn CPU for ``iterations`` steps of a 64-bit linear congruential generator.

    :math:`x_{k+1} = (a x_k + c) \bmod 2^{64}` from :math:`x_0 = ` ``seed``; returns
    :math:`x_{\text{iterations}}`. Pure Python, so it holds the GIL: only processes run it
    in parallel. The result is an exact integer, so a distributed run can be compared
    with the serial one by ``==``.

    ``iterations`` in [0, 10**9]; ``seed`` in [0, 2**64 - 1].
    """
    iterations = check_int("iterations", iterations, 0, 10**9)
    x = _check_seed(seed)
    for _ in range(iterations):
        x = (_LCG_A * x + _LCG_C) & _MASK64
    return x


def spin_rate(iterations: int = 200_000, repeat: int = 3) -> float:
    """Iterations of :func:`spin` per second in this process (best of ``repeat``)."""
    iterations = check_int("iterations", iterations, 1000, 10**8)
    repeat = check_int("repeat", repeat, 1, 100)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        spin(iterations)
        best = min(best, time.perf_counter() - t0)
    return iterations / best


class TaskRecord(NamedTuple):
    """What a timed task returns: its value and when, where and in which process it ran.

    ``start`` and ``stop`` are wall-clock seconds (``time.time()``), comparable between
    processes on one machine and, up to clock skew, across machines.
    """

    index: int
    value: int
    start: float
    stop: float
    worker: str
    pid: int


def timed_spin(index: int, iterations: int, seed: int) -> TaskRecord:
    """Run ``spin(iterations, seed)`` and record when and on which worker it ran."""
    index = check_int("index", index, 0)
    start = time.time()
    value = spin(iterations, seed)
    return TaskRecord(index, value, start, time.time(), _current_worker_name(), os.getpid())


def timed_chunk(indices: Sequence[int], iterations: Sequence[int], seeds: Sequence[int]) -> list[TaskRecord]:
    """Run a block of tasks one after the other on one worker (static scheduling)."""
    if not (len(indices) == len(iterations) == len(seeds)):
        raise ValueError(
            f"indices, iterations and seeds must have the same length; got "
            f"{len(indices)}, {len(iterations)}, {len(seeds)}"
        )
    return [timed_spin(i, n, s) for i, n, s in zip(indices, iterations, seeds, strict=True)]


def noop(x):
    """Return ``x``: a task with no work at all, to measure what a task costs by itself."""
    return x


# --------------------------------------------------------------------------------------
# Task allocation (任务分配): what one task costs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverheadResult:
    """Seconds per task: one task at a time, many at once, and a plain local call."""

    single_task: float
    per_task: float
    n_tasks: int
    local_call: float
    workers: int

    @property
    def ratio(self) -> float:
        """How many times a task in a batch costs more than a local function call."""
        return self.per_task / self.local_call


def measure_task_overhead(
    client, n_tasks: int | None = None, repeat: int = 3, budget: float = 1.0
) -> OverheadResult:
    """Time empty tasks (:func:`noop`) on ``client``'s cluster.

    ``single_task``: the round trip of one ``submit`` and ``result`` (the latency you feel).
    ``per_task``: the time of ``map`` + ``gather`` over ``n_tasks`` tasks divided by
    ``n_tasks``: the throughput cost once the pipeline is full. Medians of ``repeat``
    repeats (1 to 50). When ``n_tasks`` is None it is chosen (20 to 5000) from a pilot
    batch so the batches take about ``budget`` seconds (0.05 to 60) in all. Asserts every
    task returned its input.
    """
    repeat = check_int("repeat", repeat, 1, 50)
    budget = check("budget", budget, 0.05, 60)
    workers = len(client.scheduler_info(n_workers=-1)["workers"])

    def many(n: int) -> None:
        futures = client.map(noop, range(n), pure=False)
        assert client.gather(futures) == list(range(n))

    if n_tasks is None:
        t0 = time.perf_counter()
        many(20)
        pilot = (time.perf_counter() - t0) / 20
        n_tasks = int(np.clip(round(budget / (repeat + 1) / pilot), 20, 5000))
    n_tasks = check_int("n_tasks", n_tasks, 1, 100_000)

    counter = iter(range(10**12))

    def one() -> None:
        i = next(counter)
        assert client.submit(noop, i, pure=False).result() == i

    single = bench(one, repeat=repeat, warmup=1, number=5)
    batch = bench(lambda: many(n_tasks), repeat=repeat, warmup=1, number=1)
    local = bench(lambda: noop(1), repeat=5)
    return OverheadResult(single.median, batch.median / n_tasks, n_tasks, local.median, workers)


def grain_efficiency(task_seconds, overhead_seconds, workers):
    r"""Parallel efficiency of tasks of ``task_seconds`` with a serial per-task overhead.

    With :math:`N` tasks of :math:`t` seconds each on :math:`d` workers, and an overhead
    of :math:`o` seconds per task that the scheduler pays one task at a time,
    :math:`T_d = Nt/d + No`, and the efficiency :math:`E = T_1/(d\,T_d)` is

    .. math:: E = \frac{1}{1 + d\,o/t}.

    ``task_seconds`` > 0, ``overhead_seconds`` >= 0, ``workers`` >= 1 (scalars or arrays).
    """
    t = check("task_seconds", task_seconds, 0, lo_open=True)
    o = check("overhead_seconds", overhead_seconds, 0)
    d = check("workers", workers, 1)
    return 1.0 / (1.0 + d * o / t)


@dataclass(frozen=True)
class GrainPoint:
    """One grain size of :func:`run_grain_experiment`."""

    task_seconds: float
    n_tasks: int
    serial_seconds: float
    parallel_seconds: float
    workers: int

    @property
    def efficiency(self) -> float:
        """Measured efficiency: serial time over (workers x parallel time)."""
        return self.serial_seconds / (self.workers * self.parallel_seconds)


def run_grain_experiment(
    client, task_seconds: Sequence[float], n_tasks: int, rate: float
) -> list[GrainPoint]:
    """For each grain size in ``task_seconds`` (each in (0, 60]), run ``n_tasks`` (1 to
    10000) :func:`spin` tasks of about that many seconds (``rate`` iterations per second,
    from :func:`spin_rate`): serially here, then on the cluster, and time both. Asserts
    that the cluster's results equal the serial ones."""
    n_tasks = check_int("n_tasks", n_tasks, 1, 10_000)
    rate = check("rate", rate, 0, lo_open=True)
    grains = np.atleast_1d(check("task_seconds", task_seconds, 0, 60, lo_open=True))
    workers = len(client.scheduler_info(n_workers=-1)["workers"])
    points = []
    for grain in grains:
        iters = max(1, round(float(grain) * rate))
        seeds = list(range(n_tasks))
        t0 = time.perf_counter()
        serial = [spin(iters, s) for s in seeds]
        t_serial = time.perf_counter() - t0
        t0 = time.perf_counter()
        futures = client.map(spin, [iters] * n_tasks, seeds, pure=False)
        parallel = client.gather(futures)
        t_parallel = time.perf_counter() - t0
        assert parallel == serial, "distributed results differ from the serial ones"
        points.append(GrainPoint(float(grain), n_tasks, t_serial, t_parallel, workers))
    return points


def side_of_model(measured, model, tol: float = 0.0) -> str:
    """Where measured values lie against a model's predictions for them.

    ``"below"`` when every measured value is below its prediction by more than ``tol``
    (>= 0), ``"above"`` when every one is above it by more than ``tol``, and ``"both"``
    otherwise. Points all on one side are a systematic offset, something the model leaves
    out; points on both sides are scatter around it. ``measured`` and ``model`` are
    finite numbers or arrays of the same shape.
    """
    m = np.atleast_1d(check("measured", measured))
    p = np.atleast_1d(check("model", model))
    tol = check("tol", tol, 0)
    if m.shape != p.shape:
        raise ValueError(f"measured and model must have the same shape; got {m.shape} and {p.shape}")
    residuals = m - p
    if np.all(residuals < -tol):
        return "below"
    if np.all(residuals > tol):
        return "above"
    return "both"


# --------------------------------------------------------------------------------------
# Data synchronization (数据同步): scatter, futures, gather, and what moving data costs
# --------------------------------------------------------------------------------------


def block_sum_of_squares(block: np.ndarray) -> int:
    """Exact sum of squares of an integer block (as a Python int)."""
    block = np.asarray(block)
    if block.dtype.kind not in "iu":
        raise ValueError(f"block must hold integers; got dtype {block.dtype}")
    return int(np.sum(block.astype(np.int64) ** 2, dtype=np.int64))


def sum_ints(parts: Sequence[int]) -> int:
    """Sum a list of Python ints (the reduction step)."""
    return int(sum(int(p) for p in parts))


@dataclass(frozen=True)
class SumReport:
    """The result of :func:`distributed_sum_of_squares` and where the blocks lived."""

    value: int
    block_workers: tuple[str, ...]
    reducer_worker: str


def distributed_sum_of_squares(client, data: np.ndarray, n_blocks: int) -> SumReport:
    """Sum of squares of ``data`` on the cluster, the Dask way.

    1. ``scatter`` the blocks once: each goes to one worker and stays there;
    2. ``map`` :func:`block_sum_of_squares` over the futures: each task runs where its
       block lives, and only a small integer comes back;
    3. ``submit`` :func:`sum_ints` on the list of partial futures: Dask moves the partials
       to one worker, runs the reduction when all exist, which is the synchronization;
    4. ``result`` gathers the one number.
    """
    data = np.asarray(data)
    if data.ndim != 1 or data.size == 0 or data.dtype.kind not in "iu":
        raise ValueError("data must be a non-empty 1-D integer array")
    n_blocks = check_int("n_blocks", n_blocks, 1, data.size)
    blocks = np.array_split(data, n_blocks)
    block_futures = client.scatter(blocks)
    partials = client.map(block_sum_of_squares, block_futures)
    total = client.submit(sum_ints, partials)
    value = total.result()
    names = worker_names(client)
    who = client.who_has(block_futures)
    block_workers = tuple(
        ",".join(sorted((names.get(a, a) for a in who[f.key]), key=_name_key)) for f in block_futures
    )
    reducer = ",".join(sorted(names.get(a, a) for a in client.who_has([total])[total.key]))
    return SumReport(value, block_workers, reducer)


def transfer_sizes(max_bytes: int, n_sizes: int = 9, min_bytes: int = 1024) -> list[int]:
    """``n_sizes`` message sizes in bytes, geometrically spaced from ``min_bytes`` to
    ``max_bytes`` and rounded to whole float64 elements (multiples of 8)."""
    min_bytes = check_int("min_bytes", min_bytes, 8, 2**40)
    max_bytes = check_int("max_bytes", max_bytes, min_bytes, 2**40)
    n_sizes = check_int("n_sizes", n_sizes, 2, 100)
    sizes = np.geomspace(min_bytes, max_bytes, n_sizes)
    return sorted({max(8, int(round(s / 8)) * 8) for s in sizes})


def measure_transfer(client, sizes: Sequence[int], worker: str | None = None, repeat: int = 5) -> np.ndarray:
    """Median seconds to ``scatter`` an array of each size (bytes) straight to one worker
    and have it acknowledged: one message from this process to a worker process, with
    serialization, the copy through the network stack and deserialization.

    ``worker`` is an address (default: the first worker by name); ``repeat`` 1 to 50.
    """
    repeat = check_int("repeat", repeat, 1, 50)
    sizes = [check_int("sizes", s, 8, 2**40) for s in sizes]
    if not sizes:
        raise ValueError("sizes must not be empty")
    names = worker_names(client)
    if worker is None:
        worker = next(iter(names))
    elif worker not in names:
        raise ValueError(f"worker must be one of {sorted(names)}; got {worker!r}")
    times = []
    for nbytes in sizes:
        payload = np.ones(nbytes // 8)

        def send(payload=payload):
            future = client.scatter(payload, workers=[worker], direct=True, hash=False)
            future.release()

        times.append(bench(send, repeat=repeat, warmup=1, number=1).median)
    return np.array(times)


class AlphaBeta(NamedTuple):
    """The alpha-beta (latency-bandwidth) model: ``time = alpha + nbytes / beta``."""

    alpha: float  # seconds per message
    beta: float  # bytes per second

    @property
    def half_size(self) -> float:
        """Bytes at which latency and bandwidth cost the same time (Hockney's
        :math:`n_{1/2} = \alpha\beta`)."""
        return float(F.half_performance_length(self.alpha, self.beta))

    def time(self, nbytes):
        """Predicted seconds for a message of ``nbytes`` (:func:`formulas.alpha_beta_time`)."""
        return F.alpha_beta_time(nbytes, self.alpha, self.beta)


def fit_alpha_beta(sizes, times) -> AlphaBeta:
    r"""Least-squares fit of the alpha-beta model :math:`T(n) = \alpha + n/\beta`
    (:func:`computing_change.formulas.alpha_beta_time`) to measured ``times`` (seconds)
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


# --------------------------------------------------------------------------------------
# Load balancing (负载均衡): static chunks against dynamic scheduling
# --------------------------------------------------------------------------------------


ORDERS = ("random", "ascending", "descending")


def skewed_durations(
    n_tasks: int, mean: float, sigma: float, seed: int = 0, order: str = "random"
) -> np.ndarray:
    r"""``n_tasks`` task durations from a log-normal distribution with shape ``sigma``,
    rescaled so that their mean is exactly ``mean`` seconds (the total work does not
    depend on the skew). ``sigma = 0`` gives equal tasks; ``sigma = 1`` a few tasks several
    times longer than the rest.

    ``order``: ``"random"`` (as drawn), ``"ascending"`` or ``"descending"``: real task
    lists often come sorted by something that tracks their cost (files by size or date,
    rows of a triangular matrix).

    ``n_tasks`` 1 to 10**6, ``mean`` > 0, ``sigma`` in [0, 3], ``seed`` >= 0.
    """
    n_tasks = check_int("n_tasks", n_tasks, 1, 10**6)
    mean = check("mean", mean, 0, lo_open=True)
    sigma = check("sigma", sigma, 0, 3)
    seed = check_int("seed", seed, 0)
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}; got {order!r}")
    rng = np.random.default_rng(seed)
    raw = rng.lognormal(0.0, sigma, n_tasks)
    out = raw * (mean / raw.mean())
    if order == "ascending":
        out = np.sort(out)
    elif order == "descending":
        out = np.sort(out)[::-1].copy()
    return out


def static_chunks(n_items: int, n_workers: int) -> list[range]:
    """Split ``range(n_items)`` into ``n_workers`` contiguous blocks whose sizes differ by
    at most one (blocks are empty when there are more workers than items)."""
    n_items = check_int("n_items", n_items, 0)
    n_workers = check_int("n_workers", n_workers, 1)
    q, r = divmod(n_items, n_workers)
    out, start = [], 0
    for k in range(n_workers):
        stop = start + q + (1 if k < r else 0)
        out.append(range(start, stop))
        start = stop
    return out


def simulate_makespans(durations, workers: int) -> dict[str, float]:
    r"""Makespans (seconds) of the same tasks under two schedules, with no overhead.

    ``static``: worker :math:`k` runs the :math:`k`-th contiguous block of
    :func:`static_chunks`. ``dynamic``: tasks are handed out in order, each to the worker
    that becomes free first (greedy list scheduling, what a task queue does). ``lower``:
    :math:`\max(\sum_i t_i / W,\ \max_i t_i)`, which no schedule beats. Graham (1966): the
    greedy makespan is at most :math:`\sum_i t_i/W + (1 - 1/W)\max_i t_i`, so within a
    factor :math:`2 - 1/W` of the best.
    """
    t = np.atleast_1d(check("durations", durations, 0))
    if t.ndim != 1:
        raise ValueError("durations must be 1-D")
    workers = check_int("workers", workers, 1, 100_000)
    static = max((float(t[c.start : c.stop].sum()) for c in static_chunks(t.size, workers)), default=0.0)
    free = np.zeros(workers)
    for d in t:
        k = int(np.argmin(free))
        free[k] += d
    return {
        "static": static,
        "dynamic": float(free.max()),
        "lower": max(float(t.sum()) / workers, float(t.max())),
    }


def makespan(records: Sequence[TaskRecord]) -> float:
    """Seconds from the first task's start to the last task's stop."""
    if not records:
        raise ValueError("records must not be empty")
    return max(r.stop for r in records) - min(r.start for r in records)


def finish_gap(records: Sequence[TaskRecord]) -> float:
    """Seconds between the first worker to finish its last task and the last one to finish:
    how long the earliest-idle worker waited at the end (0 with a single worker)."""
    if not records:
        raise ValueError("records must not be empty")
    last: dict[str, float] = {}
    for r in records:
        last[r.worker] = max(last.get(r.worker, r.stop), r.stop)
    return max(last.values()) - min(last.values())


def iterations_for(durations, rate: float) -> list[int]:
    """:func:`spin` iterations that take about ``durations`` seconds each at ``rate``
    iterations per second (at least one each). ``durations`` >= 0, ``rate`` > 0."""
    rate = check("rate", rate, 0, lo_open=True)
    t = np.atleast_1d(check("durations", durations, 0))
    return [max(1, round(float(d) * rate)) for d in t]


def run_static(client, durations, rate: float) -> tuple[list[TaskRecord], float]:
    """Static scheduling: worker :math:`k` gets the :math:`k`-th contiguous block of tasks,
    pinned to it (``workers=[address]``, ``allow_other_workers=False``: Dask may not move
    it, and work stealing leaves restricted tasks alone). Returns the task records in task
    order and the wall time from submission to the last result."""
    iters = iterations_for(durations, rate)
    names = worker_names(client)
    addresses = list(names)
    t0 = time.perf_counter()
    futures = [
        client.submit(
            timed_chunk,
            list(block),
            [iters[i] for i in block],
            list(block),
            workers=[address],
            allow_other_workers=False,
            pure=False,
        )
        for block, address in zip(static_chunks(len(iters), len(addresses)), addresses, strict=True)
        if len(block)
    ]
    records = [r for chunk in client.gather(futures) for r in chunk]
    wall = time.perf_counter() - t0
    return sorted(records, key=lambda r: r.index), wall


def run_dynamic(client, durations, rate: float) -> tuple[list[TaskRecord], float]:
    """Dynamic scheduling: one task per item, in order; the scheduler hands each to a free
    worker (queued root tasks) and steals work from busy ones. Returns the task records
    in task order and the wall time."""
    iters = iterations_for(durations, rate)
    n = len(iters)
    t0 = time.perf_counter()
    futures = client.map(timed_spin, range(n), iters, range(n), pure=False)
    records = client.gather(futures)
    wall = time.perf_counter() - t0
    return list(records), wall


def plot_timeline(
    ax,
    records: Sequence[TaskRecord],
    title: str = "",
    t0: float | None = None,
    rows: Sequence[str] | None = None,
    cmap: str = "viridis",
) -> float:
    """Draw one row per worker and one bar per task (colored by task index) on ``ax``;
    return the makespan. Times are shown relative to ``t0`` (default: the first start).
    ``rows``: the worker names to draw, in order (default: those in ``records``), so a
    worker that ran nothing still gets its row."""
    import matplotlib as mpl

    if not records:
        raise ValueError("records must not be empty")
    t0 = min(r.start for r in records) if t0 is None else t0
    seen = {r.worker for r in records}
    rows = sorted(seen | set(rows or ()), key=_name_key)
    colors = mpl.colormaps[cmap]
    n = max(r.index for r in records) + 1
    for y, name in enumerate(rows):
        mine = [r for r in records if r.worker == name]
        ax.broken_barh(
            [(r.start - t0, r.stop - r.start) for r in mine],
            (y - 0.4, 0.8),
            facecolors=[colors(r.index / max(1, n - 1)) for r in mine],
            edgecolor="white",
            linewidth=0.5,
        )
    span = makespan(records)
    ax.axvline(max(r.stop for r in records) - t0, color="C3", lw=1.5, ls="--")
    ax.set_yticks(range(len(rows)), [f"worker {w}" for w in rows])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_title(title, fontsize=10, loc="left")
    return span


# --------------------------------------------------------------------------------------
# Fault tolerance: a worker dies, Dask recomputes what it lost
# --------------------------------------------------------------------------------------


def _kill_own_worker(dask_worker) -> int:
    """Run on a nanny: kill its worker process the hard way (no cleanup, like a crash)."""
    pid = dask_worker.pid
    if pid is None:
        raise RuntimeError("this nanny has no worker process")
    os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
    return pid


def kill_worker(client, address: str) -> int:
    """Kill the worker process at ``address`` through its nanny, which starts a new one.

    Returns the pid of the killed process. Needs workers started with a nanny (the default
    of ``LocalCluster`` and of ``dask worker``).
    """
    names = worker_names(client)
    if address not in names:
        raise ValueError(f"address must be one of {sorted(names)}; got {address!r}")
    return client.run(_kill_own_worker, workers=[address], nanny=True)[address]


@dataclass(frozen=True)
class FailureReport:
    """What :func:`run_with_failure` observed. Times are ``time.time()`` seconds."""

    values: list[int]
    records: list[TaskRecord]
    victim: str
    killed_pid: int
    submitted: float
    kill_time: float
    finished_before_kill: int
    lost_results: int
    unfinished_on_victim: int
    lost_runs: list[tuple[float, float]]
    workers_after: int
    new_pid: int | None
    seconds: float


def run_with_failure(
    client, durations, rate: float, kill_after: int, *, timeout: float = 120.0
) -> FailureReport:
    """Run one :func:`timed_spin` task per duration and kill a worker mid-way.

    Once ``kill_after`` tasks have finished (1 to len(durations) - 1), the worker with the
    most unfinished tasks is killed with :func:`kill_worker`. Dask notices the lost
    connection, reschedules the tasks that were assigned to it, recomputes the finished
    results that lived only in its memory (from their recipe: the task and its inputs), and
    the nanny starts a replacement. Waits at most ``timeout`` seconds for the results and
    for the cluster to be whole again. ``lost_runs`` are the (start, stop) times of the task
    runs whose results died with the worker, from Dask's task stream.
    """
    from distributed import as_completed, get_task_stream, wait

    timeout = check("timeout", timeout, 0, 3600, lo_open=True)
    iters = iterations_for(durations, rate)
    n = len(iters)
    kill_after = check_int("kill_after", kill_after, 1, max(1, n - 1))
    n_workers = len(worker_names(client))
    t0 = time.perf_counter()
    with get_task_stream(client) as stream:
        submitted = time.time()
        futures = client.map(timed_spin, range(n), iters, range(n), pure=False)
        finished = 0
        for _ in as_completed(futures):
            finished += 1
            if finished >= kill_after:
                break
        names_before = worker_names(client)
        processing = client.processing()
        victim = max(sorted(processing), key=lambda a: len(processing[a]))
        victim_name = names_before.get(victim, victim)
        who = client.who_has(futures)
        lost = sum(1 for f in futures if victim in who.get(f.key, ()))
        unfinished = len(processing[victim])
        kill_time = time.time()
        killed_pid = kill_worker(client, victim)
        wait(futures, timeout=timeout)
        records = client.gather(futures)
    client.wait_for_workers(n_workers, timeout=timeout)
    seconds = time.perf_counter() - t0
    keys = {f.key for f in futures}
    lost_runs = sorted(
        (ss["start"], ss["stop"])
        for event in stream.data
        if event.get("worker") == victim and event.get("key") in keys
        for ss in event.get("startstops", ())
        if ss.get("action") == "compute"
    )
    pids = client.run(os.getpid)
    names = worker_names(client)
    new_pid = next((pids[a] for a, nm in names.items() if nm == victim_name and a in pids), None)
    return FailureReport(
        values=[r.value for r in records],
        records=list(records),
        victim=victim_name,
        killed_pid=killed_pid,
        submitted=submitted,
        kill_time=kill_time,
        finished_before_kill=finished,
        lost_results=lost,
        unfinished_on_victim=unfinished,
        lost_runs=lost_runs,
        workers_after=len(names),
        new_pid=new_pid,
        seconds=seconds,
    )
