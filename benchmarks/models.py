"""Performance figures of chapter 4's models, printed as one JSON object on stdout.

    python benchmarks/models.py

* ``roofline``: the machine's roofs (``machine.roofs()``, the course's one definition, printed
  under ``roofs``: the float64 peak and the memory bandwidth of all usable cores, since the
  kernels run on NumPy's BLAS threads) and each course kernel (``fitting.course_kernels()``,
  the kernels of the roofline in book/models/field_models.ipynb), checked, timed (median of
  five repeats after a warm-up) and placed under the bandwidth of where its data live
  (``machine.bandwidth_for``: the L2 or L3 cache-level roof, or the memory roof), with its
  attained fraction of that bound. A fraction above ``machine.ROOF_TOLERANCE`` (1.05) is
  impossible and makes the script fail.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)

    from computing_change.core import machine
    from computing_change.core.timing import bench
    from computing_change.lessons import field_models as fit

    roofs = machine.roofs()
    peak, bandwidth = roofs.peak_flops, roofs.bandwidth
    kernels = []
    for k in fit.course_kernels():
        if not k.verify():
            raise RuntimeError(f"kernel {k.name} computed a wrong result")
        seconds = bench(k.run, repeat=5, min_time=0.01).median
        performance = k.flops / seconds
        level = machine.bandwidth_for(int(k.bytes)).level
        # refuses a fraction above 1.05 of the roof (after measuring the roofs a second time)
        fraction = roofs.fraction(performance, k.intensity, level=level, what=f"kernel {k.name!r}")
        kernels.append(
            {
                "name": k.name,
                "intensity_flop_per_byte": k.intensity,
                "seconds": seconds,
                "gflop_per_s": performance / 1e9,
                "roof": level,
                "bound_gflop_per_s": performance / fraction / 1e9,
                "bound_by": "memory" if k.intensity * roofs.bandwidth_of(level) < peak else "compute",
                "fraction_of_bound": fraction,
            }
        )

    return {
        "machine": machine.summary(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "roofs": roofs.as_dict(),
        "roofline": {
            "roof": "all usable cores, float64: roofs.peak_flops, roofs.bandwidth",
            "peak_gflop_per_s": peak / 1e9,
            "bandwidth_gb_per_s": bandwidth / 1e9,
            "ridge_flop_per_byte": peak / bandwidth,
            "kernels": kernels,
            "fraction_of_bound": {k["name"]: round(k["fraction_of_bound"], 3) for k in kernels},
        },
    }


if __name__ == "__main__":
    result = main()
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
