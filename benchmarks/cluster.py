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

The chapter writes these measurements in its cells; this script repeats them on clusters of
a fixed shape, with the same task (``spin``, a 64-bit linear congruential generator) and the
same Dask calls, so its figures can be compared between machines. Its functions are sent to
the workers by value, as the notebook's are. Every distributed result is checked against the
serial one. Times are medians of ``--repeat`` runs (``computing_change.core.timing.bench``);
nothing here is asserted about speed. ``COMPUTING_CHANGE_SCHEDULER`` is ignored: the
figures are for local clusters.
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

from computing_change.core.machine import summary, usable_cores  # noqa: E402
from computing_change.core.notebook import page_code  # noqa: E402
from computing_change.core.pools import SCHEDULER_ENV, cluster_client  # noqa: E402
from computing_change.core.timing import bench  # noqa: E402
from computing_change.models.fits import fit_alpha_beta  # noqa: E402

PAGE = Path(__file__).resolve().parents[1] / "book" / "principles" / "distributed.ipynb"
# The chapter's tasks, exactly as its cells write them (core.notebook.page_code): ``spin`` (a
# 64-bit LCG in pure Python), ``noop`` (an empty task) and ``sum_of_squares`` (the per-block
# task of its scatter, map, submit and result example). Defined outside any module, they go
# to the workers by value, as the notebook's do.
_page = page_code(PAGE, ("spin", "noop", "sum_of_squares"), {"np": np})
spin, noop, sum_of_squares = _page.spin, _page.noop, _page.sum_of_squares


def task_overhead(client, repeat: int, budget: float) -> dict:
    """Seconds per empty task: alone (submit, result) and in a batch sized from a pilot run
    to last about ``budget / (repeat + 1)`` seconds; and a local call."""

    def one_task():
        assert client.submit(noop, 1, pure=False).result() == 1

    def batch(n: int) -> None:
        assert client.gather(client.map(noop, range(n), pure=False)) == list(range(n))

    pilot = bench(lambda: batch(20), repeat=1, number=1).median / 20
    n_batch = int(np.clip(round(budget / (repeat + 1) / pilot), 20, 5000))
    return {
        "single": bench(one_task, repeat=repeat, number=5).median,
        "per_task": bench(lambda: batch(n_batch), repeat=repeat, number=1).median / n_batch,
        "n_batch": n_batch,
        "local": bench(lambda: noop(1), repeat=5).median,
    }


def scatter_seconds(client, sizes, repeat: int) -> np.ndarray:
    """Median seconds to scatter an array of each size (bytes) straight to one worker."""
    worker = min(client.scheduler_info(n_workers=-1)["workers"])
    times = []
    for nbytes in sizes:
        payload = np.ones(nbytes // 8)

        def send(payload=payload):
            client.scatter(payload, workers=[worker], direct=True, hash=False).release()

        times.append(bench(send, repeat=repeat, number=1).median)
    return np.array(times)


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
    os.environ.pop(SCHEDULER_ENV, None)  # always local clusters here
    repeat = args.repeat

    rate = 200_000 / bench(lambda: spin(200_000), repeat=3, number=1).best  # iterations per second
    iters = [max(1, round(args.seconds / args.tasks * rate))] * args.tasks
    seeds = list(range(args.tasks))
    reference = [spin(n, s) for n, s in zip(iters, seeds, strict=True)]

    def serial():
        assert [spin(n, s) for n, s in zip(iters, seeds, strict=True)] == reference

    t_serial = bench(serial, repeat=repeat, warmup=0, number=1).median

    t_cluster = {}
    overhead = fit = sizes = times = None
    for workers in (1, 2):
        with cluster_client(n_workers=workers) as client:

            def run(client=client):
                assert client.gather(client.map(spin, iters, seeds, pure=False)) == reference

            t_cluster[workers] = bench(run, repeat=repeat, warmup=1, number=1).median
            if workers == 2:
                overhead = task_overhead(client, repeat=repeat, budget=2.0)
                sizes = np.unique(8 * np.round(np.geomspace(1024, 32 * 2**20, 9) / 8).astype(int))
                times = scatter_seconds(client, sizes, repeat=max(5, repeat))
                fit = fit_alpha_beta(sizes, times)
                data = np.random.default_rng(0).integers(0, 1000, 1_000_000)
                partials = client.map(sum_of_squares, client.scatter(np.array_split(data, 4)))
                assert client.submit(sum, partials).result() == sum_of_squares(data)

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
            "workers": 2,
            "single_task_us": overhead["single"] * 1e6,
            "per_task_in_batch_us": overhead["per_task"] * 1e6,
            "batch_tasks": overhead["n_batch"],
            "local_call_us": overhead["local"] * 1e6,
            "batch_task_over_local_call": overhead["per_task"] / overhead["local"],
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
