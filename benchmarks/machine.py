"""Chapter 1's figures: the machine's roofs and profile, as one JSON object on stdout.

    python benchmarks/machine.py            # the roofs plus sweeps, about 20-60 s
    python benchmarks/machine.py --quick    # the roofs only, 5-10 s

Rates are in SI units (FLOP/s, bytes/s); sizes in bytes. ``roofs`` is ``machine.roofs()``,
the course's one definition of each roof (float64 and float32 peaks on all usable cores and
on one core, the memory bandwidth as the best of dot, copy and triad), which every chapter
and benchmark reuses; ``profile`` is ``machine.profile()``, which shows the same roofs.

The sweeps say how much the figures depend on choices the roofs make: the matrix size of the
peak, the threads, and the array size of the bandwidth kernels (small arrays stay in cache
and look faster than memory; ``cache_roofs`` gives the cache-level roofs,
``machine.cache_bandwidth``). Each peak in the sweep is also placed under its roof
(``peak_fraction_of_roof``): a sweep that found more than ``machine.ROOF_TOLERANCE`` (1.05)
times the roof means the roof was measured badly, and the script fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from computing_change.core import machine


def _sweeps(roofs: machine.Roofs) -> dict:
    threads = sorted({1, roofs.cores})
    flops = []
    for dtype in ("float64", "float32"):
        for n in (256, 512, 1024, 2048):
            for t in threads:
                value = machine.measure_peak_flops(n, repeat=5, dtype=dtype, threads=t, max_time=1.0)
                flops.append(
                    {
                        "dtype": dtype,
                        "n": n,
                        "threads": t,
                        "flops_per_s": value,
                        "peak_fraction_of_roof": roofs.fraction(
                            value,
                            dtype=dtype,
                            threads=t,
                            what=f"a {n} x {n} {dtype} product on {t} thread(s)",
                        ),
                    }
                )
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
    cache_roofs = {
        f"{level}, {'1 core' if t == 1 else 'all usable cores'}": machine.cache_bandwidth(level, threads=t)
        for level in ("L2", "L3")
        if level in caches
        for t in threads
    }
    return {"peak_flops_by_size": flops, "bandwidth_by_size": bandwidth, "cache_roofs": cache_roofs}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the roofs and the profile, no sweeps")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    roofs = machine.roofs()
    prof = machine.profile(measure=True)
    out = {
        "benchmark": "machine",
        "units": {"flops": "FLOP/s", "bandwidth": "bytes/s", "memory": "bytes", "balance": "FLOP/byte"},
        "summary": machine.summary(),
        "roofs": roofs.as_dict(),
        "profile": prof.as_dict(),
        "roofs_seconds": roofs.seconds,
        "ratios": {
            "float32_over_float64": roofs.peak_flops_float32 / roofs.peak_flops,
            "all_cores_over_one": roofs.peak_flops / roofs.peak_flops_1core,
            "triad_over_copy": roofs.bandwidth_triad / roofs.bandwidth_copy,
            "bandwidth_all_cores_over_one": roofs.bandwidth / roofs.bandwidth_1core,
        },
    }
    if not args.quick:
        out.update(_sweeps(roofs))
    out["seconds"] = time.perf_counter() - t0
    json.dump(out, sys.stdout, indent=2)
    print()
    return out


if __name__ == "__main__":
    main()
