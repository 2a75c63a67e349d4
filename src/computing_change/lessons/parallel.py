r"""What chapter 3.1, *Parallel computing* (并行计算), must import, and what other chapters reuse.

The chapter writes its lessons in its cells: cutting the range into chunks, creating the
process pool, ``executor.map`` and the sum, the blocked matrix product on threads, the race
on a shared counter and its lock, the scheduling model, Amdahl's fit, and the Numba
loops. What stays here is what a process pool that *spawns* its workers must import by name (a function defined in
a notebook cell pickles as ``__main__.<name>``, which a fresh interpreter cannot find), shown
on the page with :func:`computing_change.core.notebook.show`, and what other chapters call:

* the workers: :func:`is_prime` and :func:`count_primes` (the pure-Python kernel, its cost
  per number growing with the number), :func:`report_pid` (a tiny task that starts a
  worker), and the counters of the race, :func:`add_unlocked`, :func:`add_locked` and
  :func:`count_locally`, with :func:`busy`, the work between a read and its write;
* sizing and checking: :func:`size_for_seconds` (a range that takes about so many seconds
  here) and :func:`count_primes_sieve` (an independent count).

The pools themselves (start method, a pre-started process pool, the worker counts of a
sweep) are plumbing in :mod:`computing_change.core.pools`, and the verdict on two timings
is :func:`computing_change.core.timing.compare_timings`.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from computing_change.core.checks import check, check_int
from computing_change.core.timing import bench

__all__ = [
    "is_prime",
    "count_primes",
    "count_primes_sieve",
    "size_for_seconds",
    "report_pid",
    "busy",
    "add_unlocked",
    "add_locked",
    "count_locally",
]

# --------------------------------------------------------------------------------------
# The chapter's workers: a spawn-mode pool imports them by name
# --------------------------------------------------------------------------------------


def is_prime(k: int) -> bool:
    """Whether ``k`` is prime, by trial division by 2 and the odd numbers up to sqrt(k).

    Deliberately plain Python: it holds the GIL all the time, and its cost grows with ``k``
    (a prime near ``k`` needs about sqrt(k)/2 divisions). Numba compiles it unchanged.
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
    """How many primes lie in ``[lo, hi)`` (the chapter's task: chunks are independent)."""
    count = 0
    for k in range(lo, hi):
        if is_prime(k):
            count += 1
    return count


def report_pid(delay: float) -> int:
    """Sleep ``delay`` seconds, then return this worker's process id (a task that starts a worker)."""
    time.sleep(delay)
    return os.getpid()


def busy(steps: int) -> None:
    """Loop ``steps`` times: a stand-in for the work a program does between a read and a write."""
    for _ in range(steps):
        pass


def add_unlocked(counter, start, increments: int, steps: int) -> None:
    """Add 1 to the shared ``counter`` ``increments`` times: read, work, write, with no lock."""
    start.wait(timeout=60)  # every process begins together
    for _ in range(increments):
        value = counter.value  # read
        busy(steps)  # work: meanwhile another process may write
        counter.value = value + 1  # write, over whatever was written meanwhile


def add_locked(counter, lock, start, increments: int, steps: int) -> None:
    """The same read, work and write, inside ``lock``: one process at a time."""
    start.wait(timeout=60)
    for _ in range(increments):
        with lock:
            value = counter.value
            busy(steps)
            counter.value = value + 1


def count_locally(increments: int, steps: int) -> int:
    """The same work on a private counter, returned at the end: one part of a reduction."""
    count = 0
    for _ in range(increments):
        value = count
        busy(steps)
        count = value + 1
    return count


# --------------------------------------------------------------------------------------
# Sizing a demo, and an independent check
# --------------------------------------------------------------------------------------


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
        run = bench(lambda: count_primes(0, n), repeat=repeat, warmup=0, number=1)
        return max(run.best, 1e-9)

    n = probe
    t = best_time(n, 3)
    step = min(max_n, max(probe, int(n * (seconds / 8 / t) ** (2 / 3))))
    if step > probe:
        n, t = step, best_time(step, 2)
    target = n * (seconds / t) ** (2 / 3)
    return int(min(max_n, max(1000, round(target, -3))))
