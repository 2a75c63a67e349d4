"""Performance figures of chapter 6's medical-imaging and scientific-computing pages, as one
JSON object.

Run from the repository root, on a quiet machine:

    python benchmarks/stencils.py            # about a minute
    python benchmarks/stencils.py --quick    # smaller sizes, a rough check in seconds

The code timed is the pages' own: the image filters are read from the code cells of
``book/applications/medical.ipynb`` and the heat-equation code from those of
``book/applications/science.ipynb``, and run here (:func:`computing_change.core.notebook.page_code`), so these figures are
those of the code the pages show, not of a copy. Only the test image, ``phantom``, comes from
``computing_change.lessons.medical``, as on the medical-imaging page.

What it measures (the notebooks show the same experiments, some smaller):

* ``vectorized_vs_naive``: pure-Python loops against NumPy shifted-slice sums, on the same
  input, for the Gaussian blur (direct and separable), the Sobel filter and the explicit
  heat-equation step; the speedup of each. For the heat step also the page's loops compiled
  with Numba (``compiled_speedup_over_naive``).
* ``separable_vs_direct``: the vectorized Gaussian with a k x k kernel against two 1-D passes,
  for growing sigma: the measured time ratio beside the tap ratio k^2 / 2k.
* ``blocked_vs_unblocked``: the separable Gaussian on an image at least as large as the
  last-level cache, unblocked and in square tiles of several sizes, and the best tile on a
  thread pool; the heat step on grids several times the cache: slices, strips of several
  heights, strips on a thread pool, and the compiled loop on one thread and on Numba's
  threads (one per usable core). Each speedup is relative to the slices.
* ``roofline``: the heat stencil (6 FLOPs, 16 bytes per point, as the page counts them) on
  the machine's roofline: its bound and the attained fraction of it, for every version. The
  single-threaded versions are placed under the one-core roofs, the threaded ones under the
  roofs of all usable cores, both from ``machine.roofs()`` (the course's one definition,
  printed under ``roofs``), with the bandwidth of where the two grids live
  (``machine.bandwidth_for``: the L2 or L3 cache-level roof while a cache holds them, else
  the memory roof). A fraction above ``machine.ROOF_TOLERANCE`` (1.05) is impossible and
  makes the script fail. ``slices_real_traffic_over_roof`` tests a model instead: the slice
  version's rate counted at the 136 bytes per point its NumPy operations stream, over that
  roof's bandwidth; above 1 it means the 136-byte count overestimates the traffic.

Speed is reported, never asserted; every result is checked for correctness.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import numba
import numpy as np

from computing_change.core import machine
from computing_change.core.notebook import page_code
from computing_change.core.timing import bench
from computing_change.lessons.medical import phantom

MIB = 2**20
TOL = 1e-12
APPLICATIONS = Path(__file__).resolve().parents[1] / "book" / "applications"
#: The medical-imaging page, whose code cells define the image filters measured here.
MEDICAL = APPLICATIONS / "medical.ipynb"
#: What this script takes from that page: the filters, the Sobel kernel they read, and the
#: page's ``blur`` (its separable Gaussian with the page's ``sigma``), which it blocks.
MEDICAL_NAMES = (
    "gaussian_weights",
    "SOBEL_X",
    "correlate_loops",
    "gaussian_loops",
    "sobel_loops",
    "correlate",
    "gaussian_filter",
    "sobel",
    "tiles",
    "filter_blocked",
    "sigma",
    "blur",
)
#: The science page, whose code cells define the heat-equation code measured here.
SCIENCE = APPLICATIONS / "science.ipynb"
#: What this script takes from that page: functions, and the constants its counts are kept in.
SCIENCE_NAMES = (
    "hot_square",
    "heat_interior",
    "copy_boundary",
    "heat_step",
    "heat_solve",
    "heat_step_loops",
    "strips",
    "heat_step_strips",
    "heat_step_compiled",
    "heat_step_threads",
    "FLOPS_PER_POINT",
    "BYTES_PER_POINT",
    "NUMPY_STREAMS",
)


@cache
def _page(path: Path, names: tuple[str, ...]) -> SimpleNamespace:
    """The ``names`` a page defines, run from the notebook's own cells
    (:func:`computing_change.core.notebook.page_code`) with the ``np``, ``numba`` and ``math``
    the pages import: the functions this script times are the ones the page shows."""
    return page_code(path, names, {"np": np, "numba": numba, "math": math})


def medical() -> SimpleNamespace:
    """The image filters of the medical-imaging page (:data:`MEDICAL_NAMES`)."""
    return _page(MEDICAL, MEDICAL_NAMES)


def science() -> SimpleNamespace:
    """The heat-equation code of the science page (:data:`SCIENCE_NAMES`)."""
    return _page(SCIENCE, SCIENCE_NAMES)


def _llc() -> int:
    caches = machine.cache_sizes()
    return max(caches.values()) if caches else 32 * MIB


def _noisy(n: int, seed: int = 0) -> np.ndarray:
    return phantom(n) + np.random.default_rng(seed).normal(0.0, 0.05, (n, n))


def _once(func, repeat: int) -> float:
    return bench(func, repeat=repeat, warmup=0, number=1).median


def vectorized_vs_naive(quick: bool) -> dict:
    crop = _noisy(256)[96:160, 96:160] if not quick else _noisy(64)[16:48, 16:48]
    med = medical()
    sigma = med.sigma
    pairs = {
        "gaussian_direct": (
            lambda: med.gaussian_loops(crop, sigma, method="direct"),
            lambda: med.gaussian_filter(crop, sigma, method="direct"),
        ),
        "gaussian_separable": (
            lambda: med.gaussian_loops(crop, sigma),
            lambda: med.gaussian_filter(crop, sigma),
        ),
        "sobel": (lambda: med.sobel_loops(crop), lambda: med.sobel(crop)),
    }
    page = science()
    n, steps = (48, 20) if not quick else (24, 10)
    dx = 1 / (n + 1)
    dt = 0.2 * dx * dx
    u0 = page.hot_square(n)
    pairs["heat_step"] = (
        lambda: page.heat_solve(u0, 1.0, dt, dx, steps, step=page.heat_step_loops)[0],
        lambda: page.heat_solve(u0, 1.0, dt, dx, steps)[0],
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
    # the same loops as the naive heat step, compiled (the first call compiles: not timed)
    compiled = lambda: page.heat_solve(u0, 1.0, dt, dx, steps, step=page.heat_step_compiled)[0]  # noqa: E731
    assert np.array_equal(compiled(), pairs["heat_step"][1]())
    t_compiled = bench(compiled, repeat=5).median
    out["heat_step"]["seconds_compiled"] = t_compiled
    out["heat_step"]["compiled_speedup_over_naive"] = round(out["heat_step"]["seconds_naive"] / t_compiled, 1)
    out["heat_step"]["compiled_speedup_over_vectorized"] = round(
        out["heat_step"]["seconds_vectorized"] / t_compiled, 2
    )
    return out


def separable_vs_direct(quick: bool) -> dict:
    med = medical()
    img = _noisy(256 if quick else 512)
    rows = []
    for sigma in (1.0, 2.0, 3.0, 4.0):
        direct = med.gaussian_filter(img, sigma, method="direct")
        assert np.allclose(direct, med.gaussian_filter(img, sigma), rtol=0, atol=TOL)
        t_direct = bench(lambda s=sigma: med.gaussian_filter(img, s, method="direct"), repeat=3).median
        t_sep = bench(lambda s=sigma: med.gaussian_filter(img, s), repeat=3).median
        k = med.gaussian_weights(sigma).size
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
    """The page's separable Gaussian (its ``blur``) on an image at least as large as the
    last-level cache, unblocked and through the page's ``filter_blocked``."""
    med = medical()
    side = 1024 if quick else min(4096, max(1024, math.ceil(math.sqrt(llc / 8) / 512) * 512))
    side = min(side, math.isqrt(machine.safe_size(8 * 6, fraction=0.25)) // 256 * 256)
    img = _noisy(side)
    k = med.gaussian_weights(med.sigma).size
    halo = k // 2  # the separable Gaussian reads R pixels around each pixel
    ref = med.blur(img)
    repeat = 3 if quick else 5
    t_plain = _once(lambda: med.blur(img), repeat)
    out = np.empty_like(img)
    tiles = {}
    for t in (64, 128, 256, 512, 1024):
        if t > side:
            continue
        med.filter_blocked(img, med.blur, halo, (t, t), out=out)
        assert np.array_equal(out, ref)
        tiles[t] = _once(lambda t=t: med.filter_blocked(img, med.blur, halo, (t, t), out=out), repeat)
    best = min(tiles, key=tiles.get)
    with ThreadPoolExecutor(max_workers=cores) as pool:
        med.filter_blocked(img, med.blur, halo, (best, best), executor=pool, out=out)
        assert np.array_equal(out, ref)
        t_par = _once(
            lambda: med.filter_blocked(img, med.blur, halo, (best, best), executor=pool, out=out), repeat
        )
    traffic = 2 * (4 + 5 * (k - 1)) * 8 * img.size
    gaussian = {
        "image_side": side,
        "sigma": med.sigma,
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
    """The page's heat step on two grids at least 4 x the last-level cache, every version."""
    page = science()
    big = 1024 if quick else min(4096, max(1024, math.ceil(math.sqrt(4 * llc / 16) / 256) * 256))
    # five grid-sized arrays at once: u, the reference, the output and the slices' two temporaries
    big = min(big, math.isqrt(machine.safe_size(8 * 5, fraction=0.25)) // 256 * 256)
    u = page.hot_square(big - 2)
    ref = page.heat_step(u, 0.2, np.empty_like(u))
    out = np.empty_like(u)

    def checked(run) -> None:
        out.fill(np.nan)
        run()
        assert np.array_equal(out, ref)

    t_vec = _once(lambda: page.heat_step(u, 0.2, out), repeat)
    strips = {}
    for rows in (4, 16, 64):
        checked(lambda rows=rows: page.heat_step_strips(u, 0.2, out, rows))
        strips[rows] = _once(lambda rows=rows: page.heat_step_strips(u, 0.2, out, rows), repeat)
    with ThreadPoolExecutor(max_workers=cores) as pool:
        checked(lambda: page.heat_step_strips(u, 0.2, out, pool=pool, blocks=cores))
        t_thr = _once(lambda: page.heat_step_strips(u, 0.2, out, pool=pool, blocks=cores), repeat)
    numba.set_num_threads(min(cores, numba.config.NUMBA_NUM_THREADS))
    checked(lambda: page.heat_step_compiled(u, 0.2, out))  # the first calls compile
    checked(lambda: page.heat_step_threads(u, 0.2, out))
    t_jit = _once(lambda: page.heat_step_compiled(u, 0.2, out), repeat)
    t_par = _once(lambda: page.heat_step_threads(u, 0.2, out), repeat)
    heat = {
        "grid_side": big,
        "grids_bytes": 2 * u.nbytes,
        "seconds_slices": t_vec,
        "seconds_by_strip_rows": {str(r): s for r, s in strips.items()},
        "speedup_by_strip_rows": {str(r): round(t_vec / s, 2) for r, s in strips.items()},
        "seconds_strips_threads": t_thr,
        "threads_speedup_over_slices": round(t_vec / t_thr, 2),
        "numba_threads": numba.get_num_threads(),
        "seconds_compiled": t_jit,
        "compiled_speedup_over_slices": round(t_vec / t_jit, 2),
        "compiled_speedup_over_strips": round(strips[16] / t_jit, 2),
        "seconds_compiled_threads": t_par,
        "compiled_threads_speedup_over_compiled": round(t_jit / t_par, 2),
    }
    timings = {
        "slices": t_vec,
        "strips": strips[16],
        "strips_threads": t_thr,
        "compiled": t_jit,
        "compiled_threads": t_par,
    }
    return heat, (big, timings)


def blocked_vs_unblocked(quick: bool) -> dict:
    llc = _llc()
    cores = machine.usable_cores()
    gaussian = _blocked_gaussian(quick, llc, cores)
    heat, timings = _blocked_heat(quick, llc, cores, 3 if quick else 5)
    return {"llc_bytes": llc, "gaussian": gaussian, "heat_step": heat, "_heat": timings}


def roofline(heat: tuple[int, dict[str, float]]) -> dict:
    big, seconds = heat
    page = science()
    roofs = machine.roofs()
    intensity = page.FLOPS_PER_POINT / page.BYTES_PER_POINT
    flops = page.FLOPS_PER_POINT * (big - 2) ** 2
    perf = {k: flops / t for k, t in seconds.items()}
    # one core, or all usable cores (None)
    threads = {"slices": 1, "strips": 1, "strips_threads": None, "compiled": 1, "compiled_threads": None}
    level = {k: machine.bandwidth_for(2 * 8 * big * big, threads=t).level for k, t in threads.items()}
    fractions = {
        k: round(
            machine.roofs().fraction(
                v, intensity, threads=threads[k], level=level[k], what=f"the heat step ({k})"
            ),
            3,
        )
        for k, v in perf.items()
    }
    roofs = machine.roofs()  # a kernel seen above its roof makes the session measure the roofs again
    real_intensity = page.FLOPS_PER_POINT / (8 * page.NUMPY_STREAMS)
    real_rate = perf["slices"] / real_intensity
    return {
        "flops_per_point": page.FLOPS_PER_POINT,
        "bytes_per_point": page.BYTES_PER_POINT,
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
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a rough check in seconds")
    args = parser.parse_args(argv)
    blocked = blocked_vs_unblocked(args.quick)
    heat = blocked.pop("_heat")
    result = {
        "machine": machine.summary(),
        "quick": args.quick,
        "vectorized_vs_naive": vectorized_vs_naive(args.quick),
        "separable_vs_direct": separable_vs_direct(args.quick),
        "blocked_vs_unblocked": blocked,
        "roofline": roofline(heat),
    }
    # the roofs the kernels were placed under (raised if a second measurement was needed)
    result["roofs"] = machine.roofs().as_dict()
    json.dump(result, sys.stdout)
    print()
    return result


if __name__ == "__main__":
    main()
