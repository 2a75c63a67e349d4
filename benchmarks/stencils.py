"""Performance figures of chapter 6's medical-imaging and scientific-computing pages, as one
JSON object.

Run from the repository root, on a quiet machine:

    python benchmarks/stencils.py            # about a minute
    python benchmarks/stencils.py --quick    # smaller sizes, a rough check in seconds

What it measures (the notebooks show the same experiments, some smaller):

* ``vectorized_vs_naive``: pure-Python loops against NumPy shifted-slice sums, on the same
  input, for the Gaussian blur (direct and separable), the Sobel filter and the explicit
  heat-equation step; the speedup of each.
* ``separable_vs_direct``: the vectorized Gaussian with a k x k kernel against two 1-D passes,
  for growing sigma: the measured time ratio beside the tap ratio k^2 / 2k.
* ``blocked_vs_unblocked``: the separable Gaussian on an image at least as large as the
  last-level cache, unblocked and in square tiles of several sizes, and the best tile on a
  thread pool; the heat step on grids several times the cache, unblocked, in strips, and in
  strips on a thread pool. Each speedup is relative to the unblocked version.
* ``roofline``: the heat stencil (6 FLOPs, 16 bytes per point) on the machine's roofline:
  its bound and the attained fraction of it. The single-threaded versions are placed under
  the one-core roofs, the thread pool under the roofs of all usable cores, both from
  ``machine.roofs()`` (the course's one definition, printed under ``roofs``), with the
  bandwidth of where the two grids live (``machine.bandwidth_for``: the L2 or L3 cache-level
  roof while a cache holds them, else the memory roof). A fraction above
  ``machine.ROOF_TOLERANCE`` (1.05) is impossible and makes the script fail.
  ``slices_real_traffic_over_roof`` tests a model instead: the slice version's rate counted
  at the 120 bytes per point NumPy's calls stream, over that roof's bandwidth; above 1 it
  means the 120-byte count overestimates the traffic.

Speed is reported, never asserted; every result is checked for correctness.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from computing_change import machine
from computing_change import stencils as S
from computing_change.timing import bench

MIB = 2**20
TOL = 1e-12


def _llc() -> int:
    caches = machine.cache_sizes()
    return max(caches.values()) if caches else 32 * MIB


def _noisy(n: int, seed: int = 0) -> np.ndarray:
    return S.phantom(n) + np.random.default_rng(seed).normal(0.0, 0.05, (n, n))


def _once(func, repeat: int) -> float:
    return bench(func, repeat=repeat, warmup=0, number=1).median


def vectorized_vs_naive(quick: bool) -> dict:
    crop = _noisy(256)[96:160, 96:160] if not quick else _noisy(64)[16:48, 16:48]
    sigma = 2.0
    pairs = {
        "gaussian_direct": (
            lambda: S.gaussian_naive(crop, sigma, method="direct"),
            lambda: S.gaussian_filter(crop, sigma, method="direct"),
        ),
        "gaussian_separable": (
            lambda: S.gaussian_naive(crop, sigma),
            lambda: S.gaussian_filter(crop, sigma),
        ),
        "sobel": (lambda: S.sobel_naive(crop), lambda: S.sobel(crop)),
    }
    n, steps = (48, 20) if not quick else (24, 10)
    dx = S.grid_spacing(n)
    dt = 0.2 * dx * dx
    u0 = S.hot_square(n)
    pairs["heat_step"] = (
        lambda: S.heat_solve(u0, 1.0, dt, dx, steps, method="naive").u,
        lambda: S.heat_solve(u0, 1.0, dt, dx, steps).u,
    )
    out = {"image_pixels": crop.size, "sigma": sigma, "heat_grid_points": (n + 2) ** 2, "heat_steps": steps}
    for name, (slow, fast) in pairs.items():
        assert np.allclose(slow(), fast(), rtol=0, atol=TOL), name
        t_slow = _once(slow, 3)
        t_fast = bench(fast, repeat=5).median
        out[name] = {
            "seconds_naive": t_slow,
            "seconds_vectorized": t_fast,
            "speedup": round(t_slow / t_fast, 1),
        }
    return out


def separable_vs_direct(quick: bool) -> dict:
    img = _noisy(256 if quick else 512)
    rows = []
    for sigma in (1.0, 2.0, 3.0, 4.0):
        direct = S.gaussian_filter(img, sigma, method="direct")
        assert np.allclose(direct, S.gaussian_filter(img, sigma), rtol=0, atol=TOL)
        t_direct = bench(lambda s=sigma: S.gaussian_filter(img, s, method="direct"), repeat=3).median
        t_sep = bench(lambda s=sigma: S.gaussian_filter(img, s), repeat=3).median
        k = 2 * S.kernel_radius(sigma) + 1
        rows.append(
            {
                "sigma": sigma,
                "k": k,
                "seconds_direct": t_direct,
                "seconds_separable": t_sep,
                "time_ratio": round(t_direct / t_sep, 2),
                "tap_ratio_k_over_2": k / 2,
            }
        )
    return {"image_side": img.shape[0], "by_sigma": rows}


def _blocked_gaussian(quick: bool, llc: int, cores: int) -> dict:
    """The separable Gaussian on an image at least as large as the last-level cache."""
    side = 1024 if quick else min(4096, max(1024, math.ceil(math.sqrt(llc / 8) / 512) * 512))
    side = min(side, math.isqrt(machine.safe_size(8 * 6, fraction=0.25)) // 256 * 256)
    img = _noisy(side)
    sigma = 2.0
    ref = S.gaussian_filter(img, sigma)
    repeat = 3 if quick else 5
    t_plain = _once(lambda: S.gaussian_filter(img, sigma), repeat)
    out = np.empty_like(img)
    tiles = {}
    for t in (64, 128, 256, 512, 1024):
        if t > side:
            continue
        S.gaussian_blocked(img, sigma, tile=(t, t), out=out)
        assert np.array_equal(out, ref)
        tiles[t] = _once(lambda t=t: S.gaussian_blocked(img, sigma, tile=(t, t), out=out), repeat)
    best = min(tiles, key=tiles.get)
    with ThreadPoolExecutor(max_workers=cores) as pool:
        S.gaussian_blocked(img, sigma, tile=(best, best), out=out, executor=pool)
        assert np.array_equal(out, ref)
        t_par = _once(
            lambda: S.gaussian_blocked(img, sigma, tile=(best, best), out=out, executor=pool), repeat
        )
    k = 2 * S.kernel_radius(sigma) + 1
    traffic = 2 * (4 + 5 * (k - 1)) * 8 * img.size
    gaussian = {
        "image_side": side,
        "image_bytes": img.nbytes,
        "image_over_llc": round(img.nbytes / llc, 2),
        "seconds_unblocked": t_plain,
        "unblocked_traffic_bytes": traffic,
        "unblocked_effective_gb_per_s": round(traffic / t_plain / 1e9, 2),
        "seconds_by_tile": {str(t): s for t, s in tiles.items()},
        "speedup_by_tile": {str(t): round(t_plain / s, 2) for t, s in tiles.items()},
        "best_tile": best,
        "blocked_speedup": round(t_plain / tiles[best], 2),
        "threads": cores,
        "seconds_blocked_threads": t_par,
        "thread_speedup_over_blocked": round(tiles[best] / t_par, 2),
        "threads_speedup_over_unblocked": round(t_plain / t_par, 2),
    }
    return gaussian


def _blocked_heat(quick: bool, llc: int, cores: int, repeat: int) -> tuple[dict, tuple]:
    """The heat step on two grids at least 4 x the last-level cache."""
    big = 1024 if quick else min(4096, max(1024, math.ceil(math.sqrt(4 * llc / 16) / 256) * 256))
    big = min(big, math.isqrt(machine.safe_size(8 * 3, fraction=0.25)) // 256 * 256)
    u = S.hot_square(big - 2)
    ref = S.heat_step(u, 0.2)
    out, work = np.empty_like(u), np.empty((big - 2, big - 2))
    t_vec = _once(lambda: S.heat_step(u, 0.2, out, work=work), repeat)
    strips = {}
    for rows in (4, 16, 64):
        S.heat_step_blocked(u, 0.2, out, rows=rows)
        assert np.array_equal(out, ref)
        strips[rows] = _once(lambda rows=rows: S.heat_step_blocked(u, 0.2, out, rows=rows), repeat)
    with ThreadPoolExecutor(max_workers=cores) as pool:
        S.heat_step_blocked(u, 0.2, out, executor=pool)
        assert np.array_equal(out, ref)
        t_thr = _once(lambda: S.heat_step_blocked(u, 0.2, out, executor=pool), repeat)
    heat = {
        "grid_side": big,
        "grids_bytes": 2 * u.nbytes,
        "seconds_unblocked": t_vec,
        "seconds_by_strip_rows": {str(r): s for r, s in strips.items()},
        "speedup_by_strip_rows": {str(r): round(t_vec / s, 2) for r, s in strips.items()},
        "seconds_strips_threads": t_thr,
        "threads_speedup_over_unblocked": round(t_vec / t_thr, 2),
    }
    return heat, (big, t_vec, strips[16], t_thr)


def blocked_vs_unblocked(quick: bool) -> dict:
    llc = _llc()
    cores = machine.usable_cores()
    gaussian = _blocked_gaussian(quick, llc, cores)
    heat, timings = _blocked_heat(quick, llc, cores, 3 if quick else 5)
    return {"llc_bytes": llc, "gaussian": gaussian, "heat_step": heat, "_heat": timings}


def roofline(heat: tuple[int, float, float, float]) -> dict:
    big, t_vec, t_strips, t_thr = heat
    roofs = machine.roofs()
    intensity = S.FLOPS_PER_POINT / S.BYTES_PER_POINT
    flops = S.FLOPS_PER_POINT * (big - 2) ** 2
    perf = {"slices": flops / t_vec, "strips": flops / t_strips, "strips_threads": flops / t_thr}
    threads = {"slices": 1, "strips": 1, "strips_threads": None}  # one core, or all usable cores
    level = {k: machine.bandwidth_for(2 * 8 * big * big, threads=t).level for k, t in threads.items()}
    fractions = {
        k: round(
            roofs.fraction(v, intensity, threads=threads[k], level=level[k], what=f"the heat step ({k})"), 3
        )
        for k, v in perf.items()
    }
    real_intensity = S.FLOPS_PER_POINT / (8 * S.NUMPY_STREAMS_PER_POINT)
    real_rate = perf["slices"] / real_intensity
    return {
        "flops_per_point": S.FLOPS_PER_POINT,
        "bytes_per_point": S.BYTES_PER_POINT,
        "intensity_flop_per_byte": intensity,
        "grid_side": big,
        "roof": {
            k: ("one core, " if t == 1 else "all usable cores, ") + level[k] for k, t in threads.items()
        },
        "ridge_point_flop_per_byte": roofs.balance(),
        "ridge_point_flop_per_byte_1core": roofs.balance(threads=1),
        "bound_gflops_1thread": roofs.bound(intensity, threads=1, level=level["slices"]) / 1e9,
        "bound_gflops_all": roofs.bound(intensity, level=level["strips_threads"]) / 1e9,
        "gflops": {k: round(v / 1e9, 3) for k, v in perf.items()},
        "fraction_of_bound": fractions,
        "slices_gb_per_s_at_real_traffic": round(real_rate / 1e9, 2),
        "slices_real_traffic_over_roof": round(real_rate / roofs.bandwidth_of(level["slices"], threads=1), 3),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a rough check in seconds")
    args = parser.parse_args(argv)
    blocked = blocked_vs_unblocked(args.quick)
    heat = blocked.pop("_heat")
    result = {
        "machine": machine.summary(),
        "roofs": machine.roofs().as_dict(),
        "quick": args.quick,
        "vectorized_vs_naive": vectorized_vs_naive(args.quick),
        "separable_vs_direct": separable_vs_direct(args.quick),
        "blocked_vs_unblocked": blocked,
        "roofline": roofline(heat),
    }
    json.dump(result, sys.stdout)
    print()
    return result


if __name__ == "__main__":
    main()
