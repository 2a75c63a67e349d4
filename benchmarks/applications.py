"""Chapter 6's figures (application scenarios), as one JSON object on stdout.

    python benchmarks/applications.py            # about 20-60 s
    python benchmarks/applications.py --quick    # fewer repeats and batch sizes

The chapters write the code they teach in their cells; this script restates, in a few lines
each, the method of the three it times, so that the figures can be measured without a
notebook (the finance chapter's pool worker is the package's own, as on its page). Times in
seconds, sizes in bytes, throughput of data in MB/s (10^6 bytes per second). The headline
figures:

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
import os
import sys
import tempfile
import time
from functools import partial

import numpy as np
from threadpoolctl import threadpool_limits

from computing_change.core import machine
from computing_change.core.pools import process_pool
from computing_change.core.timing import bench
from computing_change.core.tracing import traced_peak
from computing_change.lessons import core_concepts as nn
from computing_change.lessons import finance as A

MIB = 2**20

# --------------------------------------------------------------------------------------
# Big data: the out-of-core group-by of big_data.ipynb (sensor keys, readings, histogram)
# --------------------------------------------------------------------------------------
N_KEYS, SIGMA, N_BINS = 100, 2.0, 60
_W = 1 / np.arange(1, N_KEYS + 1)
KEY_TABLE = np.searchsorted(np.cumsum(_W) / _W.sum(), (np.arange(2**16) + 0.5) / 2**16, side="right")
KEY_TABLE = KEY_TABLE.clip(max=N_KEYS - 1)
MU = 20 + 5 * np.sin(np.arange(N_KEYS))
LO, HI = MU.min() - 8 * SIGMA, MU.max() + 8 * SIGMA


def write_pair(index: int, folder: str, rows: int) -> tuple[str, str]:
    """File pair ``index``: ``rows`` keys and readings from stream ``index`` of seed 0."""
    key_rng, value_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(0, spawn_key=(index,)).spawn(2)
    )
    paths = (os.path.join(folder, f"keys_{index:05d}.npy"), os.path.join(folder, f"values_{index:05d}.npy"))
    with open(paths[0], "wb") as fk, open(paths[1], "wb") as fv:
        for f, dtype in ((fk, "<i8"), (fv, "<f8")):
            np.lib.format.write_array_header_1_0(
                f, {"descr": dtype, "fortran_order": False, "shape": (rows,)}
            )
        for start in range(0, rows, 2**16):
            keys = KEY_TABLE[key_rng.integers(0, 2**16, size=min(2**16, rows - start))]
            keys.tofile(fk)
            (MU[keys] + SIGMA * value_rng.standard_normal(keys.size)).tofile(fv)
    return paths


def read_blocks(path: str, block_rows: int):
    with open(path, "rb") as f:
        np.lib.format.read_magic(f)
        (n,), _, dtype = np.lib.format.read_array_header_1_0(f)
        buffer = np.empty(min(block_rows, n), dtype)
        for start in range(0, n, block_rows):
            block = buffer[: min(block_rows, n - start)]
            f.readinto(block)
            yield block


def aggregate(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hist = np.zeros(N_BINS, np.int64)
    for start in range(0, values.size, 2**13):
        v = values[start : start + 2**13]
        index = np.minimum(((v - LO) * (N_BINS / (HI - LO))).astype(np.intp), N_BINS - 1)
        hist += np.bincount(index[(v >= LO) & (v <= HI)], minlength=N_BINS)
    return np.bincount(keys, minlength=N_KEYS), np.bincount(keys, weights=values, minlength=N_KEYS), hist


def aggregate_pair(kpath: str, vpath: str, block_rows: int, trace: bool):
    def run():
        total = (np.zeros(N_KEYS, np.int64), np.zeros(N_KEYS), np.zeros(N_BINS, np.int64))
        for keys, values in zip(read_blocks(kpath, block_rows), read_blocks(vpath, block_rows), strict=True):
            total = tuple(a + b for a, b in zip(total, aggregate(keys, values), strict=True))
        return total

    if not trace:
        return run(), 0
    traced = traced_peak(run)
    return traced.value, traced.peak


def out_of_core_pass(pairs, block_rows: int, client=None, trace: bool = True):
    t0 = time.perf_counter()
    keys, values = [k for k, _ in pairs], [v for _, v in pairs]
    if client is None:
        parts = [aggregate_pair(k, v, block_rows, trace) for k, v in pairs]
    else:
        parts = client.gather(
            client.map(aggregate_pair, keys, values, block_rows=block_rows, trace=trace, pure=False)
        )
    seconds = time.perf_counter() - t0
    total = parts[0][0]
    for part, _ in parts[1:]:
        total = tuple(a + b for a, b in zip(total, part, strict=True))
    nbytes = sum(os.path.getsize(p) for pair in pairs for p in pair)
    return total, max(peak for _, peak in parts), nbytes / seconds / 1e6


def out_of_core(quick: bool) -> dict:
    from computing_change.core.pools import cluster_client

    budget = machine.safe_size(MIB, fraction=0.125, min_items=16, max_items=64 if quick else 128) * MIB
    workers = min(machine.usable_cores(), 4)
    block_rows = min(2**18, max(1024, 2 ** int(math.log2(budget / (workers * 2 * 16)))))
    n_files, rows = (16, 2**20) if quick else (32, 2**20)
    limit = 256 * MIB + budget // workers  # the process, plus its share of the data budget
    with (
        tempfile.TemporaryDirectory(prefix="cc-bench-bigdata-") as folder,
        cluster_client(workers, memory_budget=workers * limit, local=True) as client,
    ):
        t0 = time.perf_counter()
        pairs = client.gather(client.map(write_pair, range(n_files), folder=folder, rows=rows))
        write_seconds = time.perf_counter() - t0
        traced = traced_peak(out_of_core_pass, pairs, block_rows, client)
        stats, task_peak, mb_per_s_traced = traced.value
        fast = out_of_core_pass(pairs, block_rows, client, trace=False)
        serial = out_of_core_pass(pairs, block_rows, trace=False)
        for other in (fast[0], serial[0]):
            assert np.array_equal(other[0], stats[0]) and np.array_equal(other[2], stats[2])
            assert np.allclose(other[1], stats[1], rtol=1e-9, atol=0)
        assert stats[0].sum() == n_files * rows == stats[2].sum()
    bound = workers * task_peak + traced.peak
    nbytes = n_files * rows * 16
    return {
        "budget": budget,
        "dataset_bytes": nbytes,
        "dataset_over_budget": nbytes / budget,
        "workers": workers,
        "block_rows": block_rows,
        "max_task_peak": task_peak,
        "driver_peak": traced.peak,
        "peak_bound": bound,
        "peak_over_budget": bound / budget,
        "write_mb_per_s": nbytes / write_seconds / 1e6,
        "mb_per_s": fast[2],
        "mb_per_s_traced": mb_per_s_traced,
        "mb_per_s_serial_in_process": serial[2],
    }


# --------------------------------------------------------------------------------------
# AI: the time per batch of ai.ipynb's network
# --------------------------------------------------------------------------------------
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
    return {
        "network": list(sizes),
        "batch_sizes": batches,
        "samples_per_s": [r.samples_per_s for r in sweep],
        "seconds_per_batch": [r.seconds for r in sweep],
        "best_batch": best.batch_size,
        "best_over_batch1": best.samples_per_s / sweep[0].samples_per_s,
    }


# --------------------------------------------------------------------------------------
# Finance: finance.ipynb's Monte Carlo price, serially and on a process pool
# --------------------------------------------------------------------------------------
def black_scholes_call(S, K, r, sigma, T) -> float:
    vol = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + (r + sigma**2 / 2) * T) / vol
    cdf = [0.5 * math.erfc(-d / math.sqrt(2)) for d in (d1, d1 - vol)]
    return S * cdf[0] - K * math.exp(-r * T) * cdf[1]


def mc_call_price(S, K, r, sigma, T, n_paths, seed=0, n_chunks=16, antithetic=False, executor=None):
    unit = 2 if antithetic else 1
    q, extra = divmod(n_paths // unit, n_chunks)
    sizes = [unit * (q + (i < extra)) for i in range(n_chunks)]
    seeds = np.random.SeedSequence(seed).spawn(n_chunks)
    run = map if executor is None else executor.map
    total = A.RunningStats(0, 0.0, 0.0)
    for part in run(partial(A.mc_call_chunk, S, K, r, sigma, T), sizes, seeds, [antithetic] * n_chunks):
        total = total.merge(part)
    return total


def monte_carlo(quick: bool) -> dict:
    call = (100.0, 100.0, 0.05, 0.2, 1.0)
    n = 2**20 if quick else 2**22
    exact = black_scholes_call(*call)
    workers = machine.usable_cores()
    repeat = 3 if quick else 5
    serial = mc_call_price(*call, n, seed=1)
    t_serial = bench(lambda: mc_call_price(*call, n, seed=1), repeat=repeat, number=1)
    with process_pool(workers) as pool:
        parallel = mc_call_price(*call, n, seed=1, executor=pool)
        t_parallel = bench(lambda: mc_call_price(*call, n, seed=1, executor=pool), repeat=repeat, number=1)
    assert parallel == serial
    anti = mc_call_price(*call, n, seed=1, antithetic=True)
    return {
        "paths": n,
        "workers": workers,
        "black_scholes": exact,
        "price": parallel.mean,
        "stderr": parallel.stderr,
        "abs_z": abs(parallel.mean - exact) / parallel.stderr,
        "serial_seconds": t_serial.median,
        "parallel_seconds": t_parallel.median,
        "speedup": t_serial.median / t_parallel.median,
        "efficiency": t_serial.median / t_parallel.median / workers,
        "paths_per_s_parallel": n / t_parallel.median,
        "antithetic_variance_ratio": (parallel.stderr / anti.stderr) ** 2,
        "antithetic_abs_z": abs(anti.mean - exact) / anti.stderr,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and batch sizes")
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
