"""One factory for the course's interactive cells: a formula becomes sliders, a live plot,
a readout of the value at the current setting, and a message (never a traceback) when a
setting is invalid.

The built website shows each widget at its default values (the saved widget state);
readers with a running kernel (locally, Binder, Colab) get the live version.
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .formulas import FORMULAS, Formula, Param
from .svgplot import SvgPlot

__all__ = [
    "FormulaWidget",
    "formula_widget",
    "render_error",
    "safe_call",
    "probe_widgets",
    "BAD_VALUES",
    "formula_plot",
]


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


@dataclass(eq=False)
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
                formula_plot(self.formula, self.x, current, value).show()
        self.last_seconds = time.perf_counter() - start
        return self.readout.value


def _title(title: str, fixed: dict) -> str:
    """The plot's title and the values of the parameters not plotted: one line if it fits."""
    if not fixed:
        return title
    values = ", ".join(f"{k} = {v:.4g}" for k, v in fixed.items())
    return f"{title} ({values})" if len(title) + len(values) <= 60 else f"{title}\n({values})"


def _grid(param: Param) -> np.ndarray:
    lo = param.slider_min if param.slider_min > 0 or not param.log else 1e-12
    grid = np.geomspace(lo, param.slider_max, 200) if param.log else np.linspace(lo, param.slider_max, 200)
    if param.lo is not None:
        grid = grid[grid > param.lo] if param.lo_open else grid[grid >= param.lo]
    return grid


def _curve(formula: Formula, x: str, grid: np.ndarray, others: dict) -> np.ndarray:
    """The formula over ``grid``; NaN (a gap in the line) where it is invalid for these
    values of the other parameters, such as an MFU above 1."""
    value, message = safe_call(formula.func, **{x: grid}, **others)
    if message is None:
        return np.broadcast_to(np.asarray(value, dtype=float), grid.shape).copy()
    if grid.size == 1:
        return np.array([np.nan])
    half = grid.size // 2  # bisect: a few calls find the valid stretches of the grid
    return np.concatenate([_curve(formula, x, grid[:half], others), _curve(formula, x, grid[half:], others)])


def formula_plot(formula: Formula, x: str, current: dict, value: float) -> SvgPlot:
    """The plot of a :class:`FormulaWidget`: the formula against ``x`` with the other
    parameters at ``current``, and a point at the current ``x`` labelled with ``value``."""
    px = formula.param(x)
    grid = _grid(px)
    others = {k: v for k, v in current.items() if k != x}
    plot = SvgPlot(560, 300, xlog=px.log)
    plot.line(grid, _curve(formula, x, grid, others))
    plot.points([current[x]], [value], color="C3")
    lo, hi = (np.log10(grid[0]), np.log10(grid[-1])) if px.log else (grid[0], grid[-1])
    at = np.log10(current[x]) if px.log and current[x] > 0 else current[x]
    right = hi > lo and (at - lo) / (hi - lo) > 0.6
    plot.text(
        current[x],
        value,
        f"{formula.output} = {value:.4g}",
        color="C3",
        dx=-8 if right else 8,
        anchor="end" if right else "start",
    )
    plot.set(
        title=_title(formula.title, others),
        xlabel=px.label,
        ylabel=formula.output,
        xlim=(grid[0], grid[-1]),
        description=f"{formula.title}: {formula.output} against {px.label}; at {x} = {current[x]:.4g} "
        f"it is {value:.4g}",
    )
    return plot


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
    _LIVE.add(fw)
    for c in controls.values():
        c.observe(lambda _change: fw.update(), names="value")
    fw.update()
    return fw


# --------------------------------------------------------------------------------------
# Bad input, everywhere a reader types or slides.
# --------------------------------------------------------------------------------------

_LIVE: weakref.WeakSet = weakref.WeakSet()

#: What a reader might type into any numeric control: zero, negative, not-a-number,
#: infinite, and an extreme size.
BAD_VALUES: tuple[float, ...] = (0, -1, float("nan"), float("inf"), -float("inf"), 1e12)
_NONFINITE = re.compile(r"(?<![\w.])(nan|inf|-inf)(?![\w.])", re.IGNORECASE)


class _Timeout(Exception):
    pass


def _call_captured(func: Callable, kwargs: dict, seconds: float) -> tuple[str, str | None]:
    """Call ``func(**kwargs)``, capturing what it prints and displays; return
    ``(text, problem)`` where problem names an exception or a time-out."""
    import signal

    from IPython.utils.capture import capture_output

    def _alarm(signum, frame):
        raise _Timeout

    use_alarm = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGALRM, _alarm) if use_alarm else None
    problem = None
    with capture_output(display=True) as cap:
        try:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, seconds)
            func(**kwargs)
        except _Timeout:
            problem = f"still running after {seconds:g} s"
        except Exception as exc:  # noqa: BLE001 - any exception is the finding
            problem = f"raised {type(exc).__name__}: {exc}"
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
    texts = [cap.stdout, cap.stderr]
    for out in cap.outputs:
        texts.append(str(out.data.get("text/plain", "")))
        texts.append(str(out.data.get("text/html", "")))
    import matplotlib.pyplot as plt  # the views of other chapters draw with matplotlib

    plt.close("all")
    return "\n".join(texts), problem


def _judge(where: str, name: str, bad, text: str, problem: str | None) -> str | None:
    label = f"{where}: {name} = {bad!r}"
    if problem:
        return f"{label}: {problem}"
    if "Traceback" in text:
        return f"{label}: printed a traceback"
    has_message = "⚠" in text
    nonfinite_input = isinstance(bad, float) and not np.isfinite(bad)
    if nonfinite_input and not has_message:
        return f"{label}: no message for a non-finite value"
    if not has_message and _NONFINITE.search(text):
        return f"{label}: shows a non-finite number without a message"
    return None


def probe_widgets(seconds: float = 20.0, verbose: bool = False) -> int:
    """Drive every widget alive in this kernel to invalid settings.

    For each numeric control of every ``ipywidgets.interactive`` and every
    :class:`FormulaWidget`, the widget's function is called with each of
    :data:`BAD_VALUES` in place of the current value. It must not raise, print a
    traceback, run longer than ``seconds``, or show a non-finite number; for NaN and
    infinity it must show a message. Raises ``AssertionError`` listing every failure;
    returns the number of widgets probed. The notebooks end with a hidden cell calling it.
    """
    from ipywidgets import interactive
    from ipywidgets.widgets.widget import _instances

    problems: list[str] = []
    probed = 0
    for w in list(_instances.values()):
        if not isinstance(w, interactive):
            continue
        probed += 1
        where = f"interactive({getattr(w.f, '__name__', w.f)!s})"
        current = {c._kwarg: c.get_interact_value() for c in w.kwargs_widgets if hasattr(c, "_kwarg")}
        for name, value in current.items():
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
                continue
            for bad in BAD_VALUES:
                text, problem = _call_captured(w.f, {**current, name: bad}, seconds)
                problems.append(_judge(where, name, bad, text, problem))
    for fw in list(_LIVE):
        probed += 1
        where = f"formula_widget({fw.formula.key!r})"
        current = {name: c.value for name, c in fw.controls.items()}
        for p in fw.formula.params:
            for bad in BAD_VALUES:
                try:
                    p.validate(bad)
                    valid = True
                except ValueError:
                    valid = False
                text = fw.text(**{**current, p.name: bad})
                if not valid and not text.startswith("⚠"):
                    problems.append(f"{where}: {p.name} = {bad!r}: no message for an invalid value")
                else:
                    problems.append(_judge(where, p.name, bad, text, None))
    problems = [p for p in problems if p]
    if problems:
        raise AssertionError("widgets that mishandle bad input:\n" + "\n".join(problems))
    if verbose:
        print(f"probed {probed} widget(s) with {len(BAD_VALUES)} bad values per control: all handled")
    return probed
