"""One factory for the course's interactive cells: a formula becomes sliders, a live plot,
a readout of the value at the current setting, and a message (never a traceback) when a
setting is invalid.

The built website shows each widget at its default values (the saved widget state);
readers with a running kernel (locally, Binder, Colab) get the live version.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from .formulas import FORMULAS, Formula, Param

__all__ = ["FormulaWidget", "formula_widget", "render_error", "safe_call"]


def render_error(exc: Exception) -> str:
    """The one-line message a reader sees instead of a traceback."""
    return f"⚠ {exc}"


def safe_call(func: Callable, /, **kwargs):
    """Call ``func(**kwargs)``; return ``(value, None)`` or ``(None, message)``."""
    try:
        return func(**kwargs), None
    except (ValueError, ZeroDivisionError, OverflowError, FloatingPointError) as exc:
        return None, render_error(exc)


def _slider(param: Param):
    import ipywidgets as w

    style = {"description_width": "initial"}
    layout = w.Layout(width="420px")
    if param.log:
        lo = np.log10(max(param.slider_min, 1e-12))
        hi = np.log10(param.slider_max)
        return w.FloatLogSlider(
            value=param.default,
            base=10,
            min=lo,
            max=hi,
            step=1e-4,
            description=param.label,
            style=style,
            layout=layout,
            readout_format=".4g",
        )
    if param.integer:
        return w.IntSlider(
            value=int(param.default),
            min=int(param.slider_min),
            max=int(param.slider_max),
            description=param.label,
            style=style,
            layout=layout,
        )
    return w.FloatSlider(
        value=param.default,
        min=param.slider_min,
        max=param.slider_max,
        step=(param.slider_max - param.slider_min) / 200,
        description=param.label,
        style=style,
        layout=layout,
        readout_format=".4g",
    )


@dataclass
class FormulaWidget:
    """What :func:`formula_widget` returns: the widget box and the pieces to drive it."""

    formula: Formula
    x: str
    box: object
    controls: dict
    readout: object
    plot: object
    last_message: str | None = None
    last_value: float | None = None
    last_seconds: float = 0.0

    def _ipython_display_(self):  # pragma: no cover - exercised in notebooks
        from IPython.display import display

        display(self.box)

    def text(self, **values) -> str:
        """The readout for ``values`` (a value or the error message), without drawing."""
        value, message = safe_call(self.formula.func, **values)
        if message:
            return message
        shown = ", ".join(f"{k} = {v:.6g}" for k, v in values.items())
        return f"{self.formula.output} = {value:.6g}   (at {shown})"

    def update(self, **values) -> str:
        """Redraw for ``values`` (missing ones come from the sliders); return the readout."""
        from IPython.display import display

        start = time.perf_counter()
        current = {name: c.value for name, c in self.controls.items()}
        current.update(values)
        value, message = safe_call(self.formula.func, **current)
        self.last_message, self.last_value = message, value
        self.readout.value = message if message else self.text(**current)
        self.readout.style.text_color = "#b00020" if message else None
        with self.plot:
            self.plot.clear_output(wait=True)
            if message is None:
                fig = _draw(self.formula, self.x, current, value)
                display(fig)
                plt.close(fig)
        self.last_seconds = time.perf_counter() - start
        return self.readout.value


def _draw(formula: Formula, x: str, current: dict, value: float):
    px = formula.param(x)
    lo = px.slider_min if px.slider_min > 0 or not px.log else 1e-12
    grid = np.geomspace(lo, px.slider_max, 200) if px.log else np.linspace(lo, px.slider_max, 200)
    if px.lo is not None:
        grid = grid[grid > px.lo] if px.lo_open else grid[grid >= px.lo]
    others = {k: v for k, v in current.items() if k != x}
    ys = formula.func(**{x: grid}, **others)
    fig, ax = plt.subplots(figsize=(5.6, 3.2), dpi=80)
    ax.plot(grid, ys, lw=2)
    ax.plot([current[x]], [value], "o", color="C3", label=f"{formula.output} = {value:.4g}")
    if px.log:
        ax.set_xscale("log")
    ax.set_xlabel(px.label)
    ax.set_ylabel(formula.output)
    fixed = ", ".join(f"{k} = {v:.4g}" for k, v in others.items())
    ax.set_title(f"{formula.title}" + (f" ({fixed})" if fixed else ""), fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    fig.tight_layout()
    return fig


def formula_widget(formula: Formula | str, x: str | None = None) -> FormulaWidget:
    """Build the interactive cell for ``formula`` (a :class:`Formula` or a key of
    :data:`~computing_change.formulas.FORMULAS`), plotting it against parameter ``x``
    (default: the first parameter)."""
    import ipywidgets as w

    if isinstance(formula, str):
        if formula not in FORMULAS:
            raise ValueError(f"formula must be one of {sorted(FORMULAS)}; got {formula!r}")
        formula = FORMULAS[formula]
    names = [p.name for p in formula.params]
    x = names[0] if x is None else x
    if x not in names:
        raise ValueError(f"x must be one of {names}; got {x!r}")
    controls = {p.name: _slider(p) for p in formula.params}
    readout = w.Label(layout=w.Layout(width="100%"))
    plot = w.Output(layout=w.Layout(min_height="260px"))
    header = w.HTMLMath(value=f"<b>{formula.title}</b>: \\({formula.latex}\\)")
    box = w.VBox([header, *controls.values(), readout, plot])
    fw = FormulaWidget(formula, x, box, controls, readout, plot)
    for c in controls.values():
        c.observe(lambda _change: fw.update(), names="value")
    fw.update()
    return fw
