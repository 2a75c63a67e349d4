"""Chapter 2's figures (core concepts): batching and the MLP's achieved FLOP rate, as one JSON
object on stdout.

    python benchmarks/nn.py            # about 20-60 s
    python benchmarks/nn.py --quick    # fewer batch sizes and repeats, a few seconds

Rates are in SI units (FLOP/s, bytes/s, samples/s); times in seconds. Every kernel runs on
NumPy's BLAS threads, so it is placed under the roofs of all usable cores:
``machine.roofs()``, the course's one definition, printed under ``roofs`` (when
``benchmarks/run_all.py`` runs this script, it measured them once for all scripts). A
fraction above ``machine.ROOF_TOLERANCE`` (1.05) is impossible and makes the script fail.
The headline figures:

* ``batching.best_over_batch1``: throughput (samples/s) of the wide network's forward pass at
  the best batch size, divided by its throughput at batch size 1;
* ``mlp_forward.flops_per_s``: the achieved FLOP rate of that forward pass at the best batch
  size (matrix-product FLOPs counted by hand, 2 B sum n_in n_out), its fraction of the
  machine's float64 peak on all usable cores (``fraction_of_peak``) and of the roofline
  bound at its arithmetic intensity (``fraction_of_roofline``);
* ``batching.batch1_fraction_of_roofline``: the roofline bound's time for a batch of one
  (its weights read once, at the bandwidth of where they live: ``machine.bandwidth_for``
  picks the L2 or L3 cache-level roof if a cache holds them, else the memory roof) over the
  measured time;
* ``decode``: the time of one attention decoding step at the largest position over that at
  position 0 (it grows with the key-value cache).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from computing_change.core import machine
from computing_change.lessons import core_concepts as nn


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer batch sizes and repeats")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    repeat = 3 if args.quick else 7
    roofs = machine.roofs()

    l3 = machine.cache_sizes().get("L3")
    sizes = nn.batching_sizes(l3)
    rng = np.random.default_rng(0)
    wide = nn.init_mlp(sizes, rng)
    batches = [1, 4, 16, 64] if args.quick else [2**k for k in range(10)]  # up to 512
    sweep = [nn.throughput(wide, b, max_batch=1024, repeat=repeat, min_time=0.05, rng=rng) for b in batches]
    best = max(sweep, key=lambda r: r.samples_per_s)
    one = sweep[0]

    small_sizes = (128, 256, 256, 10)
    small = nn.init_mlp(small_sizes, rng)
    small_fwd = nn.throughput(small, 256, repeat=repeat, min_time=0.05, rng=rng)

    head = nn.init_attention(128, rng)
    positions = [0, 2048, 4096, 8192]
    with threadpool_limits(limits=1, user_api="blas"):
        dec = nn.decode_step_times(head, positions, rng=rng, repeat=repeat, min_time=0.01)

    f1, b1 = nn.forward_flops(sizes, 1), nn.forward_bytes(sizes, 1)
    fb, bb = nn.forward_flops(sizes, best.batch_size), nn.forward_bytes(sizes, best.batch_size)
    level = machine.bandwidth_for(wide.nbytes).level  # where the weights live: L2, L3 or memory
    out = {
        "benchmark": "nn",
        "units": {"flops": "FLOP/s", "bandwidth": "bytes/s", "throughput": "samples/s", "time": "s"},
        "summary": machine.summary(),
        "roofs": roofs.as_dict(),
        "roof": "all usable cores, float64: roofs.peak_flops, and the bandwidth of where the weights live",
        "weights_live_in": level,
        "wide_network": {
            "sizes": list(sizes),
            "weight_bytes": wide.nbytes,
            "last_level_cache": l3,
        },
        "batching": {
            "batch_sizes": batches,
            "samples_per_s": [r.samples_per_s for r in sweep],
            "seconds_per_batch": [r.seconds for r in sweep],
            "best_batch": best.batch_size,
            "best_over_batch1": best.samples_per_s / one.samples_per_s,
            "batch1_time_over_roofline_bound": one.seconds * roofs.bound(f1 / b1, level=level) / f1,
            "batch1_fraction_of_roofline": roofs.fraction(
                one.flops_per_s, f1 / b1, level=level, what="the wide network's forward pass at batch 1"
            ),
        },
        "mlp_forward": {
            "sizes": list(sizes),
            "batch": best.batch_size,
            "flops_per_s": best.flops_per_s,
            "intensity_flop_per_byte": fb / bb,
            "fraction_of_peak": roofs.fraction(
                best.flops_per_s, what=f"the wide network's forward pass at batch {best.batch_size}"
            ),
            "fraction_of_roofline": roofs.fraction(
                best.flops_per_s,
                fb / bb,
                level=level,
                what=f"the wide network's forward pass at batch {best.batch_size}",
            ),
            "batch1_flops_per_s": one.flops_per_s,
            "small_network_sizes": list(small_sizes),
            "small_network_batch256_flops_per_s": small_fwd.flops_per_s,
        },
        "decode": {
            "d": head.d,
            "positions": positions,
            "seconds_per_step": [r["seconds"] for r in dec],
            "last_over_first": dec[-1]["seconds"] / dec[0]["seconds"],
        },
        "seconds": time.perf_counter() - start,
    }
    json.dump(out, sys.stdout, indent=2)
    print()
    return out


if __name__ == "__main__":
    main()
