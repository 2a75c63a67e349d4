"""Chapter 1's figures: the machine profile, as one JSON object on stdout.

    python benchmarks/machine.py            # the profile plus sweeps, about 10-30 s
    python benchmarks/machine.py --quick    # the profile only, a few seconds

Rates are in SI units (FLOP/s, bytes/s); sizes in bytes. Besides the profile that every
chapter shows (machine.profile()), the sweeps say how much the figures depend on choices
the profile makes: the matrix size of the FLOP/s peak, the threads, and the array size of
the bandwidth kernels (small arrays stay in cache and look faster than memory).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from computing_change import machine


def _sweeps(cores: int) -> dict:
    threads = sorted({1, cores})
    flops = []
    for dtype in ("float64", "float32"):
        for n in (256, 512, 1024, 2048):
            for t in threads:
                value = machine.measure_peak_flops(n, repeat=5, dtype=dtype, threads=t, max_time=1.0)
                flops.append({"dtype": dtype, "n": n, "threads": t, "flops_per_s": value})
    caches = machine.cache_sizes()
    sizes = sorted({64 * 1024, 1024**2, 8 * 1024**2, 64 * 1024**2, *(v // 4 for v in caches.values())})
    bandwidth = []
    for kernel in ("dot", "copy", "triad"):
        for nbytes in sizes:
            for t in threads:
                value = machine.measure_bandwidth(
                    max(nbytes, 1024), repeat=7, kernel=kernel, threads=t, max_time=1.0
                )
                bandwidth.append(
                    {"kernel": kernel, "bytes_per_array": nbytes, "threads": t, "bytes_per_s": value}
                )
    return {"peak_flops_by_size": flops, "bandwidth_by_size": bandwidth}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the profile, no sweeps")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    prof = machine.profile(measure=True)
    profile_seconds = time.perf_counter() - t0
    out = {
        "benchmark": "machine",
        "units": {"flops": "FLOP/s", "bandwidth": "bytes/s", "memory": "bytes", "balance": "FLOP/byte"},
        "summary": machine.summary(),
        "profile": prof.as_dict(),
        "profile_seconds": profile_seconds,
        "ratios": {
            "float32_over_float64": (prof.peak_flops_float32 or 0) / prof.peak_flops
            if prof.peak_flops
            else None,
            "all_threads_over_one": prof.peak_flops / prof.peak_flops_1thread
            if prof.peak_flops_1thread
            else None,
            "triad_over_copy": prof.bandwidth_triad / prof.bandwidth_copy if prof.bandwidth_copy else None,
        },
    }
    if not args.quick:
        out.update(_sweeps(prof.usable_cores))
    json.dump(out, sys.stdout, indent=2)
    print()
    return out


if __name__ == "__main__":
    main()
