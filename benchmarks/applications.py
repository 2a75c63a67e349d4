"""Chapter 6's figures (application scenarios), as one JSON object on stdout.

    python benchmarks/applications.py            # about 20-60 s
    python benchmarks/applications.py --quick    # a smaller dataset and fewer repeats

Times in seconds, sizes in bytes, throughput of data in MB/s (10^6 bytes per second). The
headline figures:

* ``out_of_core.peak_over_budget``: the bound on the data an out-of-core group-by held at
  once (workers x largest task peak + driver peak, all measured with tracemalloc) divided by
  its memory budget (must be < 1), and ``out_of_core.mb_per_s``, the pass's throughput on a
  Dask cluster (the files were just written, so they are read from the page cache);
* ``batching.best_over_batch1``: inference throughput (requests/s) of the 784-512-512-10 MLP
  (one BLAS thread) at its best batch size over that at batch size 1;
* ``monte_carlo.speedup``: serial time over process-pool time for a European call priced with
  2^22 paths, and ``monte_carlo.abs_z``: |MC - Black-Scholes| / standard error (must be < 4).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

from computing_change import applications as A
from computing_change import machine, nn
from computing_change.memory import traced_peak
from computing_change.parallel import process_pool
from computing_change.timing import bench


def out_of_core(quick: bool) -> dict:
    budget = A.memory_budget(cap=(64 if quick else 128) * A.MIB)
    workers = min(machine.usable_cores(), 4)
    block_rows = min(A.default_block_rows(budget, workers), 2**18)
    plan = A.plan_dataset(budget, factor=4)
    with (
        tempfile.TemporaryDirectory(prefix="cc-bench-bigdata-") as folder,
        A.local_cluster(workers, budget) as client,
    ):
        t0 = time.perf_counter()
        pairs = client.gather(
            client.map(A.write_chunk, [plan] * plan.n_files, range(plan.n_files), [folder] * plan.n_files)
        )
        write_seconds = time.perf_counter() - t0
        traced = traced_peak(A.aggregate_files, pairs, plan, block_rows, client=client)
        run = traced.value
        fast = A.aggregate_files(pairs, plan, block_rows, client=client, trace=False)
        serial = A.aggregate_files(pairs, plan, block_rows, trace=False)
        assert (
            run.stats.n_rows == plan.n_rows
            and fast.stats.allclose(run.stats)
            and serial.stats.allclose(run.stats)
        )
        bound = run.peak_bound(workers, traced.peak)
    return {
        "budget": budget,
        "dataset_bytes": plan.nbytes,
        "dataset_over_budget": plan.nbytes / budget,
        "workers": workers,
        "block_rows": block_rows,
        "max_task_peak": run.max_task_peak,
        "driver_peak": traced.peak,
        "peak_bound": bound,
        "peak_over_budget": bound / budget,
        "write_mb_per_s": plan.nbytes / write_seconds / 1e6,
        "mb_per_s": fast.mb_per_s,
        "mb_per_s_traced": run.mb_per_s,
        "mb_per_s_serial_in_process": serial.mb_per_s,
    }


def batching(quick: bool) -> dict:
    rng = np.random.default_rng(0)
    sizes = (784, 512, 512, 10)
    net = nn.init_mlp(sizes, rng)
    X = rng.standard_normal((64, sizes[0]))
    assert np.allclose(nn.forward(net, X), nn.forward_one_by_one(net, X), rtol=1e-10, atol=1e-12)
    batches = [1, 8, 64, 512] if quick else [2**k for k in range(11)]
    with threadpool_limits(
        limits=1, user_api="blas"
    ):  # one single-threaded server per core, as in the chapter
        sweep = [
            nn.throughput(net, b, max_batch=1024, repeat=3 if quick else 7, min_time=0.05, rng=rng)
            for b in batches
        ]
    best = max(sweep, key=lambda r: r.samples_per_s)
    service = A.plan_batches(A.ServiceModel(tuple(batches), tuple(r.seconds for r in sweep)), 1024)
    lam = 0.5 * best.samples_per_s
    arrivals = A.poisson_arrivals(lam, 20_000, rng=1)
    dynamic = A.simulate_batching(arrivals, 1024, service, max_wait=0.0)
    return {
        "network": list(sizes),
        "batch_sizes": batches,
        "samples_per_s": [r.samples_per_s for r in sweep],
        "seconds_per_batch": [r.seconds for r in sweep],
        "best_batch": best.batch_size,
        "best_over_batch1": best.samples_per_s / sweep[0].samples_per_s,
        "dynamic_batching_at_half_capacity": {
            "rate": lam,
            "mean_latency": dynamic.mean_latency,
            "p99_latency": dynamic.percentile(99),
            "mean_batch": dynamic.mean_batch,
        },
    }


def monte_carlo(quick: bool) -> dict:
    S, K, r, sigma, T = 100.0, 100.0, 0.05, 0.2, 1.0
    n = 2**20 if quick else 2**22
    exact = A.black_scholes_call(S, K, r, sigma, T)
    workers = machine.usable_cores()
    repeat = 3 if quick else 5
    serial = A.mc_call_price(S, K, r, sigma, T, n, seed=1)
    t_serial = bench(lambda: A.mc_call_price(S, K, r, sigma, T, n, seed=1), repeat=repeat, number=1)
    with process_pool(workers) as pool:
        parallel = A.mc_call_price(S, K, r, sigma, T, n, seed=1, executor=pool)
        t_parallel = bench(
            lambda: A.mc_call_price(S, K, r, sigma, T, n, seed=1, executor=pool), repeat=repeat, number=1
        )
    assert parallel == serial
    anti = A.mc_call_price(S, K, r, sigma, T, n, seed=1, antithetic=True)
    return {
        "paths": n,
        "workers": workers,
        "black_scholes": exact,
        "price": parallel.price,
        "stderr": parallel.stderr,
        "abs_z": abs(parallel.z_score(exact)),
        "serial_seconds": t_serial.median,
        "parallel_seconds": t_parallel.median,
        "speedup": t_serial.median / t_parallel.median,
        "efficiency": t_serial.median / t_parallel.median / workers,
        "paths_per_s_parallel": n / t_parallel.median,
        "antithetic_variance_ratio": (parallel.stderr / anti.stderr) ** 2,
        "antithetic_abs_z": abs(anti.z_score(exact)),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller dataset and fewer repeats")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = {
        "benchmark": "applications",
        "units": {
            "time": "s",
            "size": "bytes",
            "data_rate": "MB/s (1e6 bytes/s)",
            "throughput": "requests/s",
        },
        "summary": machine.summary(),
        "out_of_core": out_of_core(args.quick),
        "batching": batching(args.quick),
        "monte_carlo": monte_carlo(args.quick),
    }
    out["seconds"] = time.perf_counter() - start
    assert out["out_of_core"]["peak_over_budget"] < 1 and out["monte_carlo"]["abs_z"] < 4
    assert all(math.isfinite(v) for v in (out["batching"]["best_over_batch1"], out["monte_carlo"]["speedup"]))
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
