r"""Demo kernels and worker functions of chapter 3.1, *Parallel computing* (并行计算).

The chapter follows the source article's three steps, and so does this module:

* **task decomposition** (任务分解): :func:`chunk_ranges`, :func:`split_evenly`, the
  pure-Python kernel :func:`count_primes` whose cost per item grows with the item, and a
  model of how a pool hands chunks to workers, :func:`simulate_dynamic_schedule`;
* **allocating compute resources** (分配计算资源): :func:`mp_context`, a pre-started
  :func:`process_pool`, :func:`parallel_count_primes` (serial, threads or processes with one
  code path) and :func:`blocked_matmul`, NumPy work that releases the GIL;
* **synchronization and communication** (同步与通信): :func:`shared_counter` (a real race on
  a counter in shared memory, its lock, and a reduction with no shared state), and the exact
  bookkeeping of every interleaving of two threads, :func:`interleavings` and
  :func:`run_schedule`;

plus what the chapter fits to its measurements: :func:`worker_counts` and
:func:`fit_serial_fraction` (Amdahl's serial fraction by least squares), and how it judges
two timings against their noise before a page says one was faster,
:func:`compare_timings`.

Every function that a process pool runs lives here, at module level, because pools that
*spawn* their workers (the only start method on Windows, the default on macOS) send a
function by its importable name: a function defined in a notebook cell cannot be found by
a fresh interpreter.
"""

from __future__ import annotations

import heapq
import itertools
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._validate import check, check_int

__all__ = [
    "START_METHOD",
    "mp_context",
    "chunk_ranges",
    "split_evenly",
    "is_prime",
    "count_primes",
    "prime_work",
    "count_primes_sieve",
    "size_for_seconds",
    "process_pool",
    "report_pid",
    "parallel_count_primes",
    "matmul_rows",
    "blocked_matmul",
    "Schedule",
    "simulate_dynamic_schedule",
    "chunk_costs",
    "worker_counts",
    "fit_serial_fraction",
    "TimeComparison",
    "compare_timings",
    "COUNTER_MODES",
    "shared_counter",
    "interleavings",
    "run_schedule",
    "respects_lock",
]

#: The start method the chapter uses for every process: the same on Linux, macOS and Windows.
START_METHOD = "spawn"


def mp_context(method: str | None = None) -> multiprocessing.context.BaseContext:
    """The :mod:`multiprocessing` context for ``method`` (default :data:`START_METHOD`).

    ``"spawn"`` starts a fresh interpreter per worker (available everywhere, nothing
    inherited); ``"forkserver"`` forks workers from a clean server process (POSIX only);
    ``"fork"`` copies the parent, threads' locks included (POSIX only, unsafe in a
    process that runs threads, such as a Jupyter kernel).
    """
    method = START_METHOD if method is None else method
    available = multiprocessing.get_all_start_methods()
    if method not in available:
        raise ValueError(f"method must be one of {available} on this platform; got {method!r}")
    return multiprocessing.get_context(method)


# --------------------------------------------------------------------------------------
# Task decomposition (任务分解)
# --------------------------------------------------------------------------------------


def chunk_ranges(start: int, stop: int, chunk_size: int) -> list[tuple[int, int]]:
    """Cut ``range(start, stop)`` into consecutive ``(lo, hi)`` chunks of ``chunk_size`` items.

    The last chunk holds the remainder. An empty range gives no chunks.

    >>> chunk_ranges(0, 10, 4)
    [(0, 4), (4, 8), (8, 10)]
    """
    start = check_int("start", start, 0)
    stop = check_int("stop", stop, start)
    chunk_size = check_int("chunk_size", chunk_size, 1)
    return [(lo, min(lo + chunk_size, stop)) for lo in range(start, stop, chunk_size)]


def split_evenly(start: int, stop: int, parts: int) -> list[tuple[int, int]]:
    """Cut ``range(start, stop)`` into exactly ``parts`` consecutive chunks whose sizes differ
    by at most one item (some are empty when there are fewer items than parts).

    >>> split_evenly(0, 10, 3)
    [(0, 4), (4, 7), (7, 10)]
    """
    start = check_int("start", start, 0)
    stop = check_int("stop", stop, start)
    parts = check_int("parts", parts, 1)
    size, extra = divmod(stop - start, parts)
    out, lo = [], start
    for i in range(parts):
        hi = lo + size + (1 if i < extra else 0)
        out.append((lo, hi))
        lo = hi
    return out


def is_prime(k: int) -> bool:
    """Whether ``k`` is prime, by trial division by 2 and the odd numbers up to :math:`\\sqrt{k}`.

    Deliberately plain Python: it holds the GIL all the time, and its cost grows with ``k``
    (a prime near ``k`` needs about :math:`\\sqrt{k}/2` divisions).
    """
    if k < 2:
        return False
    if k % 2 == 0:
        return k == 2
    d = 3
    while d * d <= k:
        if k % d == 0:
            return False
        d += 2
    return True


def count_primes(lo: int, hi: int) -> int:
    """How many primes lie in ``[lo, hi)``, by :func:`is_prime` (pure Python, CPU-bound).

    The chapter's embarrassingly parallel task: chunks of the range are independent.
    """
    lo = check_int("lo", lo, 0)
    hi = check_int("hi", hi, lo)
    count = 0
    for k in range(lo, hi):
        if is_prime(k):
            count += 1
    return count


def prime_work(lo: int, hi: int) -> tuple[int, int]:
    """``(primes, steps)`` in ``[lo, hi)``: the count of :func:`count_primes` and the work it
    takes, in steps (one per number tested plus one per trial division).

    A machine-independent measure of how much work a chunk holds, free of timing noise.
    """
    lo = check_int("lo", lo, 0)
    hi = check_int("hi", hi, lo)
    count = steps = 0
    for k in range(lo, hi):
        steps += 1
        if k < 2:
            continue
        if k % 2 == 0:
            count += k == 2
            continue
        d = 3
        while d * d <= k:
            steps += 1
            if k % d == 0:
                break
            d += 2
        else:
            count += 1
    return count, steps


def count_primes_sieve(n: int) -> int:
    """How many primes lie below ``n``, by a NumPy sieve of Eratosthenes (an independent check)."""
    n = check_int("n", n, 0, 10**9)
    if n < 3:
        return 0
    sieve = np.ones(n, dtype=bool)
    sieve[:2] = False
    for d in range(2, math.isqrt(n - 1) + 1):
        if sieve[d]:
            sieve[d * d :: d] = False
    return int(sieve.sum())


def size_for_seconds(seconds: float, *, probe: int = 20_000, max_n: int = 20_000_000) -> int:
    """The range length ``n`` for which ``count_primes(0, n)`` takes about ``seconds`` here.

    Times a probe range (best of three), scales by :math:`t \\propto n^{3/2}` (trial division
    up to :math:`\\sqrt{k}`) to a range of about an eighth of the target, times that (best of
    two), and scales again, rounded to a multiple of 1000 and capped at ``max_n``. So a demo
    lasts about as long on a slow laptop as on a fast server.
    """
    seconds = check("seconds", seconds, 0, 600, lo_open=True)
    probe = check_int("probe", probe, 1000, 10**7)
    max_n = check_int("max_n", max_n, probe)

    def best_time(n: int, repeat: int) -> float:
        best = math.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            count_primes(0, n)
            best = min(best, time.perf_counter() - t0)
        return max(best, 1e-9)

    n = probe
    t = best_time(n, 3)
    step = min(max_n, max(probe, int(n * (seconds / 8 / t) ** (2 / 3))))
    if step > probe:
        n, t = step, best_time(step, 2)
    target = n * (seconds / t) ** (2 / 3)
    return int(min(max_n, max(1000, round(target, -3))))


# --------------------------------------------------------------------------------------
# Allocating compute resources (分配计算资源)
# --------------------------------------------------------------------------------------


def report_pid(delay: float = 0.0) -> int:
    """Sleep ``delay`` seconds, then return the worker's process id (used to warm a pool up)."""
    delay = check("delay", delay, 0, 10)
    time.sleep(delay)
    return os.getpid()


@contextmanager
def process_pool(
    workers: int, *, method: str | None = None, timeout: float = 60.0
) -> Iterator[ProcessPoolExecutor]:
    """A :class:`~concurrent.futures.ProcessPoolExecutor` of ``workers`` processes, all started
    and each having run a task before the block begins, shut down when it ends (even on error).

    Pre-starting keeps the start-up cost (a fresh interpreter importing NumPy and this module,
    for each worker) out of the timings, as a long-lived pool would.
    """
    workers = check_int("workers", workers, 1, 1024)
    timeout = check("timeout", timeout, 0, 3600, lo_open=True)
    ctx = mp_context(method)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        seen: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(seen) < workers and time.monotonic() < deadline:
            seen.update(pool.map(report_pid, [0.005] * workers, timeout=timeout))
        yield pool


def parallel_count_primes(executor: Executor | None, n: int, chunk_size: int) -> int:
    """Count the primes below ``n`` in chunks of ``chunk_size``: serially when ``executor`` is
    None, else with ``executor.map`` (a thread pool or a process pool: the same code).
    """
    n = check_int("n", n, 0)
    chunks = chunk_ranges(0, n, chunk_size)
    if not chunks:
        return 0
    los, his = zip(*chunks, strict=True)
    if executor is None:
        return sum(map(count_primes, los, his))
    return sum(executor.map(count_primes, los, his))


def matmul_rows(a_rows: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a_rows @ b``: one row block of a matrix product. NumPy releases the GIL inside BLAS."""
    return np.matmul(a_rows, b)


def blocked_matmul(a: np.ndarray, b: np.ndarray, blocks: int, executor: Executor | None = None) -> np.ndarray:
    """``a @ b`` computed as ``blocks`` row blocks, serially or on ``executor`` (threads).

    Each block is the same BLAS call either way, so with the BLAS limited to one thread the
    serial and the threaded results are bit-for-bit equal.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(
            f"a and b must be matrices with a.shape[1] == b.shape[0]; got {a.shape} and {b.shape}"
        )
    blocks = check_int("blocks", blocks, 1, max(1, a.shape[0]))
    parts = [a[lo:hi] for lo, hi in split_evenly(0, a.shape[0], blocks)]
    mapper = map if executor is None else executor.map
    return np.vstack(list(mapper(matmul_rows, parts, itertools.repeat(b, len(parts)))))


# --------------------------------------------------------------------------------------
# A model of chunk scheduling, and Amdahl's law fitted to measurements
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """Where and when each task ran in :func:`simulate_dynamic_schedule` (seconds)."""

    makespan: float
    worker: tuple[int, ...]
    start: tuple[float, ...]
    end: tuple[float, ...]

    @property
    def busy(self) -> tuple[float, ...]:
        """Seconds each worker spent on tasks (their overheads included)."""
        out = [0.0] * (max(self.worker, default=-1) + 1)
        for w, s, e in zip(self.worker, self.start, self.end, strict=True):
            out[w] += e - s
        return tuple(out)


def simulate_dynamic_schedule(costs: Sequence[float], workers: int, overhead: float = 0.0) -> Schedule:
    """Run tasks of ``costs`` seconds, in order, on ``workers`` workers that each take the next
    task as soon as they are free (how ``Executor.map`` hands out tasks), each task paying
    ``overhead`` seconds on top (sending it, receiving its result).

    The makespan is at least ``max(sum/p, max cost)`` and at most ``sum/p + max cost``
    (Graham's bound for list scheduling), with ``overhead`` added to every cost.
    """
    workers = check_int("workers", workers, 1, 100_000)
    overhead = check("overhead", overhead, 0)
    costs_arr = np.asarray(costs, dtype=float).ravel() if len(costs) else np.zeros(0)
    if costs_arr.size:
        check("costs", costs_arr, 0)
    free = [(0.0, w) for w in range(workers)]
    heapq.heapify(free)
    who, starts, ends = [], [], []
    for cost in costs_arr:
        t, w = heapq.heappop(free)
        end = t + overhead + float(cost)
        who.append(w)
        starts.append(t)
        ends.append(end)
        heapq.heappush(free, (end, w))
    return Schedule(max(ends, default=0.0), tuple(who), tuple(starts), tuple(ends))


def chunk_costs(
    edges: Sequence[int], block_seconds: Sequence[float], chunks: Iterable[tuple[int, int]]
) -> np.ndarray:
    """Estimated seconds of each ``(lo, hi)`` chunk, from measured blocks.

    ``block_seconds[i]`` is the measured time of items ``edges[i]`` to ``edges[i+1]``; the cost
    is spread evenly inside each block (the cumulative cost is interpolated linearly).
    """
    edges_arr = np.asarray(edges, dtype=float)
    secs = np.asarray(block_seconds, dtype=float)
    if edges_arr.ndim != 1 or edges_arr.size < 2 or secs.shape != (edges_arr.size - 1,):
        raise ValueError("edges must hold one more entry than block_seconds (at least 2)")
    if np.any(np.diff(edges_arr) <= 0):
        raise ValueError("edges must be strictly increasing")
    check("block_seconds", secs, 0)
    cumulative = np.concatenate([[0.0], np.cumsum(secs)])
    lo_hi = np.asarray(list(chunks), dtype=float).reshape(-1, 2)
    if lo_hi.size and (lo_hi.min() < edges_arr[0] or lo_hi.max() > edges_arr[-1]):
        raise ValueError(f"chunks must lie within [{edges_arr[0]:g}, {edges_arr[-1]:g}]")
    return np.interp(lo_hi[:, 1], edges_arr, cumulative) - np.interp(lo_hi[:, 0], edges_arr, cumulative)


def worker_counts(cores: int, *, oversubscribe: bool = True) -> list[int]:
    """The worker counts a speedup sweep measures on ``cores`` usable cores.

    Every count from 1 to ``cores`` (up to 8; beyond, powers of two and ``cores``), then,
    with ``oversubscribe``, ``cores + 1`` and ``2 * cores`` to show more workers than cores.
    """
    cores = check_int("cores", cores, 1, 4096)
    if cores <= 8:
        counts = list(range(1, cores + 1))
    else:
        counts = sorted({2**k for k in range(int(math.log2(cores)) + 1)} | {cores})
    if oversubscribe:
        counts += [cores + 1, 2 * cores]
    return sorted(set(counts))


def fit_serial_fraction(workers: Sequence[float], speedups: Sequence[float]) -> float:
    r"""Amdahl's serial fraction :math:`f` that best fits measured speedups, by least squares.

    Amdahl's law says the normalized time is :math:`1/S = f + (1-f)/p`, that is
    :math:`1/S - 1/p = f\,(1 - 1/p)`: a line through the origin in :math:`x = 1 - 1/p`. The fit
    minimizes the squared error of the normalized times, and is clipped to :math:`[0, 1]`.
    Points at :math:`p = 1` carry no information about :math:`f`; at least one :math:`p > 1`
    is needed. With a single :math:`p` it is the Karp-Flatt metric.
    """
    p = check("workers", np.atleast_1d(np.asarray(workers, dtype=float)), 1)
    s = check("speedups", np.atleast_1d(np.asarray(speedups, dtype=float)), 0, lo_open=True)
    if p.shape != s.shape:
        raise ValueError(f"workers and speedups must have the same length; got {p.size} and {s.size}")
    x = 1.0 - 1.0 / p
    if not np.any(x > 0):
        raise ValueError("workers must include at least one count > 1 to fit a serial fraction")
    y = 1.0 / s - 1.0 / p
    return float(np.clip(np.dot(x, y) / np.dot(x, x), 0.0, 1.0))


class TimeComparison(NamedTuple):
    """How one timing compares with another (see :func:`compare_timings`).

    ``ratio`` is the median of ``b`` over the median of ``a``: ``a`` ran ``ratio`` times as
    fast as ``b``. ``verdict`` says what the repeats allow one to conclude about ``a``:
    ``"faster"``, ``"slower"`` or ``"could not be told apart"``.
    """

    ratio: float
    verdict: str
    a_median: float
    b_median: float


def _repeat_times(name: str, value) -> np.ndarray:
    times = getattr(value, "times", value)  # a BenchResult, or the repeats themselves
    try:
        arr = np.atleast_1d(np.asarray(times, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a BenchResult or a sequence of times > 0; got {value!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must hold at least one repeat time; got {value!r}")
    return check(name, arr, 0, lo_open=True)


def compare_timings(a, b, *, min_ratio: float = 1.05) -> TimeComparison:
    """Whether ``a`` ran faster than ``b``, judged against the spread of their repeats.

    ``a`` and ``b`` are :class:`~computing_change.timing.BenchResult` objects, or sequences of
    repeat times in seconds (each > 0). ``a`` is ``"faster"`` when its interquartile range
    lies entirely below ``b``'s *and* ``b``'s median is at least ``min_ratio`` (in [1, 10])
    times ``a``'s; ``"slower"`` the other way round; otherwise the two ``"could not be told
    apart"``. The first condition keeps a difference smaller than the noise from being
    called a result; the second keeps a real but negligible one (on a very quiet machine)
    from being called faster. With a single repeat each there is no spread to judge by, and
    only the ratio decides.
    """
    ta, tb = _repeat_times("a", a), _repeat_times("b", b)
    min_ratio = check("min_ratio", min_ratio, 1, 10)
    qa = np.quantile(ta, [0.25, 0.5, 0.75])
    qb = np.quantile(tb, [0.25, 0.5, 0.75])
    ratio = float(qb[1] / qa[1])
    if qa[2] < qb[0] and ratio >= min_ratio:
        verdict = "faster"
    elif qb[2] < qa[0] and 1 / ratio >= min_ratio:
        verdict = "slower"
    else:
        verdict = "could not be told apart"
    return TimeComparison(ratio, verdict, float(qa[1]), float(qb[1]))


# --------------------------------------------------------------------------------------
# Synchronization and communication (同步与通信)
# --------------------------------------------------------------------------------------

#: What :func:`shared_counter` can do: race, lock, or reduce.
COUNTER_MODES = ("unsafe", "locked", "reduction")


def _spin(spin: int) -> int:
    """A tiny computation that stands for the work between reading and writing shared state."""
    acc = 0
    for i in range(spin):
        acc += i
    return acc


def _increment_unsafe(counter, start, increments: int, spin: int) -> None:
    """Worker: read the shared counter, compute a little, write it back, with no lock."""
    start.wait(timeout=120)
    for _ in range(increments):
        value = counter.value  # read
        _spin(spin)  # ... the window in which another process may write ...
        counter.value = value + 1  # write: overwrites whatever was written meanwhile


def _increment_locked(counter, lock, start, increments: int, spin: int) -> None:
    """Worker: the same read-compute-write, inside a lock, so no update is lost."""
    start.wait(timeout=120)
    for _ in range(increments):
        with lock:
            value = counter.value
            _spin(spin)
            counter.value = value + 1


def count_locally(increments: int, spin: int = 0) -> int:
    """Worker: the same work on a private counter, returned at the end (a reduction's part)."""
    increments = check_int("increments", increments, 0)
    spin = check_int("spin", spin, 0)
    local = 0
    for _ in range(increments):
        value = local
        _spin(spin)
        local = value + 1
    return local


def shared_counter(
    processes: int = 2,
    increments: int = 20_000,
    mode: str = "unsafe",
    *,
    spin: int = 20,
    method: str | None = None,
) -> int:
    """Have ``processes`` processes add 1 to a counter ``increments`` times each; return the total.

    ``mode``:

    * ``"unsafe"``: one counter in shared memory, read-modify-write with no lock. Updates
      are lost whenever a process writes back a value it read before another process's
      write: the total falls short of ``processes * increments``.
    * ``"locked"``: the same, each read-modify-write inside one shared lock: exact, slower.
    * ``"reduction"``: each process counts privately and returns its count; the parent adds
      them up. Exact, and nothing is shared.

    ``spin`` is the length of the computation between the read and the write (the race's
    window). All processes start together (a barrier), and none outlives the call.
    """
    processes = check_int("processes", processes, 1, 256)
    increments = check_int("increments", increments, 0, 10**8)
    spin = check_int("spin", spin, 0, 10**6)
    if mode not in COUNTER_MODES:
        raise ValueError(f"mode must be one of {COUNTER_MODES}; got {mode!r}")
    ctx = mp_context(method)
    if mode == "reduction":
        with ProcessPoolExecutor(max_workers=processes, mp_context=ctx) as pool:
            return sum(pool.map(count_locally, [increments] * processes, [spin] * processes))
    counter = ctx.RawValue("q", 0)  # a 64-bit integer in shared memory, with no lock of its own
    start = ctx.Barrier(processes)
    if mode == "unsafe":
        target: Callable = _increment_unsafe
        args: tuple = (counter, start, increments, spin)
    else:
        target, args = _increment_locked, (counter, ctx.Lock(), start, increments, spin)
    procs = [ctx.Process(target=target, args=args, daemon=True) for _ in range(processes)]
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=300)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            if proc.pid is not None:
                proc.join()
    failed = [proc.exitcode for proc in procs if proc.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} worker process(es) failed with exit codes {failed}")
    return int(counter.value)


def interleavings(*steps: int) -> list[str]:
    """Every order in which threads with the given numbers of steps can run them.

    Threads are named ``A``, ``B``, ``C``, ...; a schedule is a string such as ``"ABBA"``
    (A's first step, B's first, B's second, A's second). There are
    :math:`(\\sum s_i)! / \\prod s_i!` of them, returned in lexicographic order.
    """
    if not 1 <= len(steps) <= 6:
        raise ValueError(f"the number of threads must be in [1, 6]; got {len(steps)}")
    counts = [check_int(f"steps[{i}]", s, 0, 12) for i, s in enumerate(steps)]
    if sum(counts) > 16:
        raise ValueError(f"the total number of steps must be <= 16; got {sum(counts)}")
    names = "ABCDEF"[: len(counts)]
    out: list[str] = []

    def extend(prefix: str, left: list[int]) -> None:
        if not any(left):
            out.append(prefix)
            return
        for i, name in enumerate(names):
            if left[i]:
                left[i] -= 1
                extend(prefix + name, left)
                left[i] += 1

    extend("", counts)
    return out


def run_schedule(schedule: str, *, trace: bool = False):
    """Run the threads' read-modify-write increments in the order ``schedule`` gives.

    Each thread repeats two steps: *read* the shared counter into its own register, then
    *write* register + 1 back. The k-th letter ``X`` of the schedule is thread X's next step.
    Returns the final counter, or with ``trace`` ``(final, rows)`` where each row is
    ``(thread, action, register, counter after the step)``.
    """
    if not isinstance(schedule, str) or not schedule.isalpha() or not schedule.isupper():
        raise ValueError(f"schedule must be a string of thread names A-Z; got {schedule!r}")
    for name in set(schedule):
        if schedule.count(name) % 2:
            raise ValueError(
                f"schedule must give each thread an even number of steps; {name} has {schedule.count(name)}"
            )
    counter = 0
    register: dict[str, int] = {}
    done: dict[str, int] = {}
    rows = []
    for name in schedule:
        k = done.get(name, 0)
        if k % 2 == 0:
            register[name] = counter
            action = "read"
        else:
            counter = register[name] + 1
            action = "write"
        done[name] = k + 1
        rows.append((name, action, register[name], counter))
    return (counter, rows) if trace else counter


def respects_lock(schedule: str) -> bool:
    """Whether ``schedule`` is possible when each read-modify-write holds a lock: every read is
    immediately followed by the same thread's write."""
    if not isinstance(schedule, str) or len(schedule) % 2:
        raise ValueError(f"schedule must be a string of even length; got {schedule!r}")
    return all(schedule[i] == schedule[i + 1] for i in range(0, len(schedule), 2))
