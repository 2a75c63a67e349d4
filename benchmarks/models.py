"""Performance figures of chapter 4's models, printed as one JSON object on stdout.

    python benchmarks/models.py            # everything
    python benchmarks/models.py --quick    # fewer redraws per widget

* ``widgets``: median redraw time of every widget of the chapter's two notebooks. For the
  factory widgets (``formula_widget``) it is ``FormulaWidget.update``'s own ``last_seconds``,
  run inside an IPython shell with the PNG formatter on, so that, as in a notebook, each
  redraw also renders the PNG. For the custom widgets it is the view function the notebook
  passes to ``ipywidgets.interactive`` (``fitting.roofline_view``, ``allreduce_view``,
  ``brent_view``), measured with ``time.perf_counter``. The target is under 50 ms.
  ``cpu_ms`` is the same redraw's CPU time (``time.process_time``): on a shared, busy
  machine it shows the cost of the redraw itself, without the time spent waiting for a core.
  ``factory_prototype_with_fixes_median_ms`` times the factory's plot drawn the way the
  custom views draw (fixed margins, fixed legend place, plain log tick labels, one PNG
  render), to show what those changes would buy the factory. ``reference_plot_ms`` is the
  floor on the machine: a new figure with a three-point line, rendered to PNG; each widget's
  ``cpu_relative_to_reference`` compares its redraw with that floor, so a machine too slow
  for 50 ms can still tell a slow widget from a slow machine.
* ``roofline``: the machine's measured peak and bandwidth, and each course kernel's attained
  fraction of its roofline bound.
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
    """An IPython shell with the inline backend: display(fig) renders a PNG as in Jupyter."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    shell = InteractiveShell.instance()
    select_figure_formats(shell, {"png"})
    return shell


def _stats(seconds: list[float], cpu: list[float], kind: str) -> dict:
    return {
        "median_ms": 1e3 * statistics.median(seconds),
        "max_ms": 1e3 * max(seconds),
        "cpu_ms": 1e3 * statistics.median(cpu),
        "kind": kind,
    }


def _factory_widgets(redraws: int) -> dict:
    import numpy as np

    from computing_change.formulas import FIELD_FORMULAS, FORMULAS
    from computing_change.widgets import formula_widget

    keys = ["amdahl", "gustafson", *FIELD_FORMULAS]
    out = {}
    for key in keys:
        formula = FORMULAS[key]
        x = formula.params[0]
        lo, hi = (x.slider_min, x.slider_max)
        values = np.geomspace(max(lo, 1e-9), hi, redraws) if x.log else np.linspace(lo, hi, redraws)
        with contextlib.redirect_stdout(io.StringIO()):
            w = formula_widget(key)
            seconds, cpu = [], []
            for v in values:
                v = round(float(v)) if x.integer else float(v)
                c0 = time.process_time()
                w.update(**{x.name: v})
                cpu.append(time.process_time() - c0)
                seconds.append(w.last_seconds)
        out[key] = _stats(seconds, cpu, "factory")
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
    """The floor on this machine: a new figure with a three-point line, rendered to PNG."""
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


def _factory_with_fixes(redraws: int) -> dict:
    """A prototype for the factory's redraw (widgets.py is not this chapter's file): the same
    plot with fixed margins instead of tight_layout, a fixed legend place instead of "best",
    plain log tick labels instead of mathtext, and one PNG render. For comparison only."""
    import matplotlib.pyplot as plt
    import numpy as np

    from computing_change import fitting as fit
    from computing_change.formulas import FIELD_FORMULAS, FORMULAS

    out = {}
    for key in ["amdahl", "gustafson", *FIELD_FORMULAS]:
        formula = FORMULAS[key]
        x = formula.params[0]
        current = {p.name: p.default for p in formula.params}
        seconds, cpu = [], []
        with contextlib.redirect_stdout(io.StringIO()):
            for k in np.linspace(0, 1, redraws):
                t0, c0 = time.perf_counter(), time.process_time()
                lo = x.slider_min if x.slider_min > 0 or not x.log else 1e-12
                grid = np.geomspace(lo, x.slider_max, 200) if x.log else np.linspace(lo, x.slider_max, 200)
                if x.lo is not None:
                    grid = grid[grid > x.lo] if x.lo_open else grid[grid >= x.lo]
                value = x.slider_min + k * (x.slider_max - x.slider_min)
                value = round(value) if x.integer else max(value, grid[0])
                others = {n: v for n, v in current.items() if n != x.name}
                fig, ax = plt.subplots(figsize=(5.6, 3.2), dpi=80)
                fig.subplots_adjust(left=0.14, right=0.97, bottom=0.16, top=0.9)
                ax.plot(grid, formula.func(**{x.name: grid}, **others), lw=2)
                ax.plot(
                    [value], [formula.func(**{x.name: value}, **others)], "o", color="C3", label="current"
                )
                if x.log:
                    ax.set_xscale("log")
                ax.set_xlabel(x.label)
                ax.set_ylabel(formula.output)
                ax.set_title(formula.title, fontsize=10)
                ax.legend(loc="upper left", fontsize=9)
                fit._plain_log_axes(ax)
                fit.show_figure(fig)
                seconds.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        out[key] = {
            "median_ms": round(1e3 * statistics.median(seconds), 1),
            "cpu_ms": round(1e3 * statistics.median(cpu), 1),
        }
    return out


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

    peak = machine.measure_peak_flops()
    bandwidth = machine.measure_bandwidth()
    points = fit.measure_kernels(fit.course_kernels(), peak, bandwidth)

    reference = _reference_plot(redraws)
    widgets = _factory_widgets(redraws)
    widgets.update(_custom_widgets(redraws, peak, bandwidth, points))
    slow = sorted(k for k, v in widgets.items() if v["median_ms"] > TARGET_SECONDS * 1e3)
    prototype = _factory_with_fixes(redraws)
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
                k: round(v["cpu_ms"] / max(reference["cpu_ms"], 1e-9), 2) for k, v in widgets.items()
            },
            "detail": widgets,
            "factory_prototype_with_fixes_median_ms": prototype,
        },
        "roofline": {
            "peak_gflop_per_s": peak / 1e9,
            "bandwidth_gb_per_s": bandwidth / 1e9,
            "ridge_flop_per_byte": peak / bandwidth,
            "kernels": [p.as_dict() for p in points],
            "fraction_of_bound": {p.name: round(p.fraction, 3) for p in points},
        },
    }


if __name__ == "__main__":
    result = main()
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
