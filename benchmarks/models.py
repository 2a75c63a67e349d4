"""Performance figures of chapter 4's models, printed as one JSON object on stdout.

    python benchmarks/models.py            # everything
    python benchmarks/models.py --quick    # fewer redraws per widget

* ``widgets``: median redraw time of every widget of the chapter's two notebooks. For the
  factory widgets (``formula_widget``) it is ``FormulaWidget.update``'s own ``last_seconds``
  (the formula, the readout and the SVG plot), measured two ways: sliding the plotted
  parameter (``[x]``) and sliding another one (``[other]``, which changes the whole curve).
  For the custom widgets it is the view function the notebook passes to
  ``ipywidgets.interactive`` (``fitting.roofline_view``, ``allreduce_view``,
  ``brent_view``), measured with ``time.perf_counter``. The target is under 50 ms for each.
  ``cpu_ms`` is the same redraw's CPU time (``time.process_time``): on a shared, busy
  machine it shows the cost of the redraw itself, without the time spent waiting for a
  core. ``reference_plot_ms`` is what one small matplotlib figure (a three-point line,
  rendered to PNG) costs on the machine: the floor the widgets would have if they drew with
  matplotlib, which is why they write SVG instead (``computing_change.svgplot``).
* ``roofline``: the machine's roofs (``machine.roofs()``, the course's one definition, printed
  under ``roofs``: the float64 peak and the memory bandwidth of all usable cores, since the
  kernels run on NumPy's BLAS threads) and each course kernel's attained fraction of its
  roofline bound, with the bandwidth of where its data live (``machine.bandwidth_for``: the
  L2 or L3 cache-level roof, or the memory roof). A fraction above
  ``machine.ROOF_TOLERANCE`` (1.05) is impossible and makes the script fail.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time

TARGET_SECONDS = 0.050


def _shell():
    """An IPython shell, so that display() runs the formatters as it does in Jupyter."""
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


def _stats(seconds: list[float], cpu: list[float], kind: str) -> dict:
    return {
        "median_ms": 1e3 * statistics.median(seconds),
        "max_ms": 1e3 * max(seconds),
        "cpu_ms": 1e3 * statistics.median(cpu),
        "kind": kind,
    }


def _sweep(param, redraws: int):
    import numpy as np

    lo, hi = param.slider_min, param.slider_max
    values = np.geomspace(max(lo, 1e-9), hi, redraws) if param.log else np.linspace(lo, hi, redraws)
    return [round(float(v)) if param.integer else float(v) for v in values]


def _factory_widgets(redraws: int) -> dict:
    from computing_change.formulas import FIELD_FORMULAS, FORMULAS
    from computing_change.widgets import formula_widget

    out = {}
    for key in ["amdahl", "gustafson", *FIELD_FORMULAS]:
        formula = FORMULAS[key]
        x = formula.params[0]
        paths = {"x": x}
        if len(formula.params) > 1:
            paths["other"] = formula.params[1]
        for path, param in paths.items():
            with contextlib.redirect_stdout(io.StringIO()):
                w = formula_widget(key)
                seconds, cpu = [], []
                for v in _sweep(param, redraws):
                    c0 = time.process_time()
                    w.update(**{param.name: v})
                    if w.last_message is None:  # a message is drawn instantly; only plots count
                        cpu.append(time.process_time() - c0)
                        seconds.append(w.last_seconds)
            if seconds:
                out[f"{key}[{path}]"] = _stats(seconds, cpu, f"factory, slide {param.name}")
    return out


def _custom_widgets(redraws: int, peak: float, bandwidth: float, points) -> dict:
    """The notebooks' custom widgets call these views from ipywidgets.interactive."""
    import numpy as np

    from computing_change import fitting as fit

    views = {
        "roofline_view": lambda k: fit.roofline_view(
            peak / 1e9 * (0.5 + k), bandwidth / 1e9 * (0.5 + k), 0.1 + 10 * k, points
        ),
        "allreduce_view": lambda k: fit.allreduce_view(1e3 * 10 ** (6 * k), int(2 + 60 * k), 5.0, 25.0),
        "brent_view": lambda k: fit.brent_view(2 ** (4 + 16 * k), 64),
    }
    out = {}
    for name, view in views.items():
        seconds, cpu = [], []
        with contextlib.redirect_stdout(io.StringIO()):
            for k in np.linspace(0, 1, redraws):
                t0, c0 = time.perf_counter(), time.process_time()
                view(float(k))
                seconds.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        out[name] = _stats(seconds, cpu, "custom")
    return out


def _reference_plot(redraws: int) -> dict:
    """What the widgets would cost at least with matplotlib: a new figure with a three-point
    line, rendered to PNG."""
    import matplotlib.pyplot as plt

    seconds, cpu = [], []
    for _ in range(redraws):
        t0, c0 = time.perf_counter(), time.process_time()
        fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=80)
        ax.plot([1, 2, 3])
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return _stats(seconds, cpu, "reference")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 redraws per widget instead of 15")
    args = parser.parse_args(argv)
    redraws = 5 if args.quick else 15

    import matplotlib

    matplotlib.use("Agg")
    _shell()
    import matplotlib.pyplot as plt

    from computing_change import fitting as fit
    from computing_change import machine
    from computing_change.notebook import setup_matplotlib

    setup_matplotlib()
    plt.rcParams["figure.dpi"] = 100

    roofs = machine.roofs()
    peak, bandwidth = roofs.peak_flops, roofs.bandwidth
    points = fit.measure_kernels(fit.course_kernels(), peak, bandwidth)
    # fitting.measure_kernels places every kernel under the memory roof; a kernel whose data
    # fit in a cache belongs under that cache's roof (machine.bandwidth_for), and machine
    # refuses a fraction above 1.05 of it
    level = {p.name: machine.bandwidth_for(int(p.bytes)).level for p in points}
    placed = {
        p.name: roofs.fraction(p.performance, p.intensity, level=level[p.name], what=f"kernel {p.name!r}")
        for p in points
    }

    reference = _reference_plot(redraws)
    widgets = _factory_widgets(redraws)
    widgets.update(_custom_widgets(redraws, peak, bandwidth, points))
    slow = sorted(k for k, v in widgets.items() if v["median_ms"] > TARGET_SECONDS * 1e3)
    return {
        "machine": machine.summary(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "widgets": {
            "target_ms": TARGET_SECONDS * 1e3,
            "redraws_each": redraws,
            "all_under_target": not slow,
            "over_target": slow,
            "median_ms": {k: round(v["median_ms"], 1) for k, v in widgets.items()},
            "cpu_ms": {k: round(v["cpu_ms"], 1) for k, v in widgets.items()},
            "reference_plot_ms": {
                "median_ms": round(reference["median_ms"], 1),
                "cpu_ms": round(reference["cpu_ms"], 1),
            },
            "cpu_relative_to_reference": {
                k: round(v["cpu_ms"] / max(reference["cpu_ms"], 1e-9), 3) for k, v in widgets.items()
            },
            "detail": widgets,
        },
        "roofs": roofs.as_dict(),
        "roofline": {
            "roof": "all usable cores, float64: roofs.peak_flops, roofs.bandwidth",
            "peak_gflop_per_s": peak / 1e9,
            "bandwidth_gb_per_s": bandwidth / 1e9,
            "ridge_flop_per_byte": peak / bandwidth,
            "kernels": [
                p.as_dict()
                | {
                    "roof": level[p.name],
                    "bound_gflop_per_s": roofs.bound(p.intensity, level=level[p.name]) / 1e9,
                    "fraction_of_bound": placed[p.name],
                }
                for p in points
            ],
            "fraction_of_bound": {p.name: round(placed[p.name], 3) for p in points},
        },
    }


if __name__ == "__main__":
    result = main()
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
