"""Performance figures of chapter 3.2, Distributed computing (分布式计算), printed as one JSON object.

    python benchmarks/cluster.py [--seconds 3] [--repeat 3]

* ``speedup``: the same CPU-bound work (pure-Python ``spin`` tasks, about ``--seconds`` of
  serial work in 16 tasks) on a 1-worker and on a 2-worker ``LocalCluster`` (one thread per
  worker, as in the chapter); the speedup of 2 workers over 1 (target: at least 1.7 on a
  machine with 2 free cores) and over the serial run in this process.
* ``task_overhead``: an empty task's cost on the 2-worker cluster, in microseconds: one task
  at a time (round trip) and per task in a large batch (``map`` + ``gather``), against a
  local function call.
* ``alpha_beta``: ``scatter`` times of 1 KiB to 32 MiB arrays to one worker, fitted to
  ``T(n) = alpha + n / beta`` by least squares: latency (µs), bandwidth (GB/s), n_1/2.

Every distributed result is checked against the serial one. Times are medians of
``--repeat`` runs (``computing_change.timing.bench``); nothing here is asserted about speed.
Set ``COMPUTING_CHANGE_SCHEDULER`` to nothing: the figures are for local clusters.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# This file is named like the package it benchmarks: run as a script, its folder comes first
# on sys.path and ``import distributed`` would find it instead of Dask's. Drop that folder.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != _HERE]

import numpy as np  # noqa: E402

from computing_change import distributed as dist  # noqa: E402
from computing_change.machine import summary, usable_cores  # noqa: E402
from computing_change.timing import bench  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="serial work of the speedup test (s)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats per measurement")
    parser.add_argument("--tasks", type=int, default=16, help="tasks of the speedup test")
    args = parser.parse_args(argv)
    if not 0.1 <= args.seconds <= 600:
        parser.error("--seconds must be in [0.1, 600]")
    if not 1 <= args.repeat <= 50:
        parser.error("--repeat must be in [1, 50]")
    if not 2 <= args.tasks <= 10_000:
        parser.error("--tasks must be in [2, 10000]")
    os.environ.pop(dist.SCHEDULER_ENV, None)  # always local clusters here
    repeat = args.repeat

    rate = dist.spin_rate()
    iters = [max(1, round(args.seconds / args.tasks * rate))] * args.tasks
    seeds = list(range(args.tasks))
    reference = [dist.spin(n, s) for n, s in zip(iters, seeds, strict=True)]

    def serial():
        assert [dist.spin(n, s) for n, s in zip(iters, seeds, strict=True)] == reference

    t_serial = bench(serial, repeat=repeat, warmup=0, number=1).median

    t_cluster = {}
    overhead = fit = sizes = times = None
    for workers in (1, 2):
        with dist.cluster_client(n_workers=workers) as client:

            def run(client=client):
                assert client.gather(client.map(dist.spin, iters, seeds, pure=False)) == reference

            t_cluster[workers] = bench(run, repeat=repeat, warmup=1, number=1).median
            if workers == 2:
                overhead = dist.measure_task_overhead(client, repeat=repeat, budget=2.0)
                sizes = dist.transfer_sizes(32 * 2**20, n_sizes=9)
                times = dist.measure_transfer(client, sizes, repeat=max(5, repeat))
                fit = dist.fit_alpha_beta(sizes, times)
                data = np.random.default_rng(0).integers(0, 1000, 1_000_000)
                assert dist.distributed_sum_of_squares(client, data, 4).value == dist.block_sum_of_squares(
                    data
                )

    speedup = t_cluster[1] / t_cluster[2]
    return {
        "machine": summary(),
        "usable_cores": usable_cores(),
        "python": sys.version.split()[0],
        "repeat": repeat,
        "speedup": {
            "tasks": args.tasks,
            "seconds_per_task": args.seconds / args.tasks,
            "serial_s": t_serial,
            "workers_1_s": t_cluster[1],
            "workers_2_s": t_cluster[2],
            "speedup_2_over_1": speedup,
            "speedup_2_over_serial": t_serial / t_cluster[2],
            "efficiency_2": speedup / 2,
            "target": 1.7,
            "target_met": bool(speedup >= 1.7),
            "note": None
            if usable_cores() >= 2
            else "one usable core: two workers share it, no speedup expected",
        },
        "task_overhead": {
            "workers": overhead.workers,
            "single_task_us": overhead.single_task * 1e6,
            "per_task_in_batch_us": overhead.per_task * 1e6,
            "batch_tasks": overhead.n_tasks,
            "local_call_us": overhead.local_call * 1e6,
            "batch_task_over_local_call": overhead.ratio,
        },
        "alpha_beta": {
            "sizes_bytes": [int(s) for s in sizes],
            "scatter_s": [float(t) for t in times],
            "alpha_us": fit.alpha * 1e6,
            "beta_gb_s": fit.beta / 1e9,
            "half_size_kib": fit.half_size / 1024,
        },
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
