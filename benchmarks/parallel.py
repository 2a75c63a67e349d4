"""Performance figures of chapter 3.1, Parallel computing (并行计算), printed as one JSON object.

    python benchmarks/parallel.py [--seconds 1.5] [--repeat 5]

* ``processes``: the pure-Python prime count (about ``--seconds`` of serial work) on
  pre-started spawn pools of 1 and 2 processes; the speedup of 2 processes over 1 (target:
  at least 1.8 on a machine with 2 free cores, 90 % of ideal) and over the in-process run.
* ``threads_pure_python``: the same count on 2 threads. With the GIL, the ratio stays near 1
  (threads take turns running Python bytecode).
* ``threads_numpy``: a 1500 x 1500 matrix product in row blocks, BLAS limited to 1 thread,
  serially and on 2 threads (NumPy releases the GIL inside BLAS).
* ``numba``: the same count compiled with ``@numba.njit`` (its speed over the Python loop on
  the same range), and with ``@numba.njit(parallel=True)`` and ``prange`` on one thread per
  usable core (its speedup over ``@njit`` on a range of about ``--seconds`` / 3 of compiled
  work); the first calls, which compile, are timed apart.
* ``race``: lost updates of two processes incrementing a shared counter without a lock, and
  the exact totals with a lock and with a reduction.

The code is the chapter's, as its cells write it. Every parallel result is checked against
the serial one. Times are medians of ``--repeat`` runs after a warm-up
(``computing_change.core.timing.bench``); nothing here is asserted about speed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from computing_change.core.machine import summary, usable_cores
from computing_change.core.notebook import page_code
from computing_change.core.pools import mp_context, process_pool
from computing_change.core.timing import bench
from computing_change.lessons import parallel as P

PAGE = Path(__file__).resolve().parents[1] / "book" / "principles" / "parallel.ipynb"
# The chapter's functions, exactly as its cells write them (core.notebook.page_code)
_page = page_code(
    PAGE,
    (
        "chunk_ranges",
        "count_in_chunks",
        "blocked_matmul",
        "is_prime_compiled",
        "count_primes_compiled",
        "count_primes_threads",
    ),
    {"np": np, "numba": numba, "P": P},
)
count_in_chunks = _page.count_in_chunks  # the primes below n, chunk by chunk, here or on an executor
blocked_matmul = _page.blocked_matmul  # a @ b in row blocks, here or on an executor's threads
count_primes_compiled = _page.count_primes_compiled
count_primes_threads = _page.count_primes_threads


def race(ctx, worker, counter, *lock, processes: int = 2, increments: int = 20_000, steps: int = 20) -> int:
    """Run ``worker`` in ``processes`` processes on one shared counter; its final value."""
    start = ctx.Barrier(processes)
    procs = [
        ctx.Process(target=worker, args=(counter, *lock, start, increments, steps)) for _ in range(processes)
    ]
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join()
    assert all(proc.exitcode == 0 for proc in procs)
    return counter.value


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="serial work of the prime count (s)")
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats per measurement")
    args = parser.parse_args(argv)
    if not 0.05 <= args.seconds <= 60:
        parser.error("--seconds must be in [0.05, 60]")
    if not 1 <= args.repeat <= 100:
        parser.error("--repeat must be in [1, 100]")
    repeat = args.repeat
    spawn = mp_context()

    def timed(func):
        return bench(func, repeat=repeat, warmup=1, number=1)

    n = P.size_for_seconds(args.seconds)
    chunk = max(1, n // 64)
    reference = P.count_primes_sieve(n)

    def serial():
        assert count_in_chunks(n, chunk) == reference

    t_serial = timed(serial).median
    t_pool = {}
    for workers in (1, 2):
        with process_pool(workers) as pool:

            def run(pool=pool):
                assert count_in_chunks(n, chunk, pool) == reference

            t_pool[workers] = timed(run).median

    with ThreadPoolExecutor(max_workers=2) as threads:

        def run_threads():
            assert count_in_chunks(n, chunk, threads) == reference

        t_threads = timed(run_threads).median

    m = 1500
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, m)), rng.standard_normal((m, m))
    with threadpool_limits(limits=1, user_api="blas"):
        c_serial = blocked_matmul(a, b, 16)
        t_np_serial = timed(lambda: blocked_matmul(a, b, 16)).median
        with ThreadPoolExecutor(max_workers=2) as threads:
            c_threads = blocked_matmul(a, b, 16, threads)
            t_np_threads = timed(lambda: blocked_matmul(a, b, 16, threads)).median
    assert np.array_equal(c_serial, c_threads)

    # Numba: @njit against the Python loop on the same range, then prange against @njit.
    numba.set_num_threads(min(usable_cores(), numba.config.NUMBA_NUM_THREADS))
    threads_used = numba.get_num_threads()
    t0 = time.perf_counter()
    assert count_primes_compiled(0, n) == reference  # compiles, then counts
    compile_njit = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert count_primes_threads(0, n) == reference
    compile_parallel = time.perf_counter() - t0
    t_python = timed(lambda: P.count_primes(0, n)).median
    t_njit = bench(lambda: count_primes_compiled(0, n), repeat=max(repeat, 7)).median
    n_big = int(min(50_000_000, round(n * (args.seconds / 3 / t_njit) ** (2 / 3), -3)))
    reference_big = P.count_primes_sieve(n_big)

    def njit_big():
        assert count_primes_compiled(0, n_big) == reference_big

    def parallel_big():
        assert count_primes_threads(0, n_big) == reference_big

    t_njit_big = timed(njit_big).median
    t_parallel_big = timed(parallel_big).median

    increments = 20_000
    totals = {
        "unsafe": race(spawn, P.add_unlocked, spawn.RawValue("q", 0), increments=increments),
        "locked": race(spawn, P.add_locked, spawn.RawValue("q", 0), spawn.Lock(), increments=increments),
    }
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        totals["reduction"] = sum(pool.map(P.count_locally, [increments] * 2, [20] * 2))
    assert totals["locked"] == totals["reduction"] == 2 * increments

    return {
        "machine": summary(),
        "usable_cores": usable_cores(),
        "python": sys.version.split()[0],
        "gil_enabled": bool(getattr(sys, "_is_gil_enabled", lambda: True)()),
        "start_method": spawn.get_start_method(),
        "repeat": repeat,
        "processes": {
            "n": n,
            "primes": reference,
            "chunks": -(-n // chunk),
            "serial_s": t_serial,
            "pool_1_s": t_pool[1],
            "pool_2_s": t_pool[2],
            "speedup_2_over_1": t_pool[1] / t_pool[2],
            "speedup_2_over_serial": t_serial / t_pool[2],
            "efficiency_2": t_pool[1] / (2 * t_pool[2]),
        },
        "threads_pure_python": {
            "threads": 2,
            "threads_s": t_threads,
            "ratio_over_serial": t_serial / t_threads,
        },
        "threads_numpy": {
            "matrix": m,
            "blas_threads": 1,
            "serial_s": t_np_serial,
            "threads_2_s": t_np_threads,
            "speedup": t_np_serial / t_np_threads,
        },
        "numba": {
            "numba": numba.__version__,
            "threading_layer": numba.threading_layer(),
            "threads": threads_used,
            "first_call_njit_s": compile_njit,
            "first_call_parallel_s": compile_parallel,
            "n": n,
            "python_loop_s": t_python,
            "njit_s": t_njit,
            "njit_speed_over_python": t_python / t_njit,
            "n_threads_test": n_big,
            "njit_big_s": t_njit_big,
            "parallel_big_s": t_parallel_big,
            "parallel_speedup_over_njit": t_njit_big / t_parallel_big,
        },
        "race": {
            "processes": 2,
            "increments_each": increments,
            "expected": 2 * increments,
            "unsafe_total": totals["unsafe"],
            "lost_updates": 2 * increments - totals["unsafe"],
            "locked_total": totals["locked"],
            "reduction_total": totals["reduction"],
        },
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
