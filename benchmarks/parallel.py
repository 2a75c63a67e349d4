"""Performance figures of chapter 3.1, Parallel computing (并行计算), printed as one JSON object.

    python benchmarks/parallel.py [--seconds 1.5] [--repeat 5]

* ``processes``: the pure-Python prime count (about ``--seconds`` of serial work) on
  pre-started spawn pools of 1 and 2 processes; the speedup of 2 processes over 1 (target:
  at least 1.8 on a machine with 2 free cores, 90 % of ideal) and over the in-process run.
* ``threads_pure_python``: the same count on 2 threads. With the GIL, the ratio stays near 1
  (threads take turns running Python bytecode).
* ``threads_numpy``: a 1500 x 1500 matrix product in row blocks, BLAS limited to 1 thread,
  serially and on 2 threads (NumPy releases the GIL inside BLAS).
* ``race``: lost updates of two processes incrementing a shared counter without a lock, and
  the exact totals with a lock and with a reduction.

Every parallel result is checked against the serial one. Times are medians of ``--repeat``
runs (``computing_change.timing.bench``); nothing here is asserted about speed.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from computing_change import parallel as P
from computing_change.machine import summary, usable_cores
from computing_change.timing import bench


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

    def timed(func) -> float:
        return bench(func, repeat=repeat, warmup=1, number=1).median

    n = P.size_for_seconds(args.seconds)
    chunk = max(1, n // 64)
    reference = P.count_primes_sieve(n)

    def serial():
        assert P.parallel_count_primes(None, n, chunk) == reference

    t_serial = timed(serial)
    t_pool = {}
    for workers in (1, 2):
        with P.process_pool(workers) as pool:

            def run(pool=pool):
                assert P.parallel_count_primes(pool, n, chunk) == reference

            t_pool[workers] = timed(run)

    with ThreadPoolExecutor(max_workers=2) as threads:

        def run_threads():
            assert P.parallel_count_primes(threads, n, chunk) == reference

        t_threads = timed(run_threads)

    m = 1500
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, m)), rng.standard_normal((m, m))
    with threadpool_limits(limits=1, user_api="blas"):
        c_serial = P.blocked_matmul(a, b, 16)
        t_np_serial = timed(lambda: P.blocked_matmul(a, b, 16))
        with ThreadPoolExecutor(max_workers=2) as threads:
            c_threads = P.blocked_matmul(a, b, 16, threads)
            t_np_threads = timed(lambda: P.blocked_matmul(a, b, 16, threads))
    assert np.array_equal(c_serial, c_threads)

    increments = 20_000
    totals = {mode: P.shared_counter(2, increments, mode) for mode in P.COUNTER_MODES}
    assert totals["locked"] == totals["reduction"] == 2 * increments

    return {
        "machine": summary(),
        "usable_cores": usable_cores(),
        "python": sys.version.split()[0],
        "gil_enabled": bool(getattr(sys, "_is_gil_enabled", lambda: True)()),
        "start_method": P.START_METHOD,
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
