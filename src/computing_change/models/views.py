"""One factory for the course's interactive cells: a formula becomes sliders, a live plot,
a readout of the value at the current setting, and a message (never a traceback) when a
setting is invalid.

The formula is computed in the reader's browser, by its JavaScript translation
(:mod:`computing_change.core.jsgen`), so the widget answers its sliders in JupyterLab, on Colab
and on the static website alike, with or without a kernel. Python keeps the same readout
(:meth:`FormulaWidget.text`) for the tests and the widget probe.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from computing_change.core.jsgen import JS_DIR, js_name, runtime_js, translate
from computing_change.models.formulas import FORMULAS, Formula

__all__ = [
    "FormulaWidget",
    "formula_widget",
    "render_error",
    "safe_call",
    "live_esm",
    "live_spec",
    "readout_text",
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


class _Control:
    """One parameter of a :class:`FormulaWidget`, as Python sees it: its current value."""

    def __init__(self, fw: FormulaWidget, name: str):
        self._fw, self._name = fw, name

    @property
    def value(self):
        return self._fw.live.values[self._name]

    @value.setter
    def value(self, v) -> None:
        self._fw.update(**{self._name: v})


class _Readout:
    def __init__(self, fw: FormulaWidget):
        self._fw = fw

    @property
    def value(self) -> str:
        return self._fw.text(**self._fw.live.values)


def _live_widget_class():
    """The anywidget class, made on first use (anywidget is imported only where widgets are)."""
    global _LiveFormula
    if _LiveFormula is None:
        import anywidget
        import traitlets

        class LiveFormula(anywidget.AnyWidget):
            """A formula computed in the browser: sliders, boxes for exact values, a readout
            and a plot, from the JavaScript translation of the formula's Python function."""

            _esm = ""  # set per widget: the runtime, the formula's translation, the view
            _css = (JS_DIR / "live.css").read_text(encoding="utf-8")
            spec = traitlets.Dict().tag(sync=True)
            values = traitlets.Dict().tag(sync=True)

        _LiveFormula = LiveFormula
    return _LiveFormula


_LiveFormula = None


def live_esm(formula: Formula, also: tuple[Formula, ...] = ()) -> str:
    """The JavaScript module of ``formula``'s widget: the primitives, the translated functions
    of ``formula`` and ``also`` (and what they call), and the view (``js/ui.js``)."""
    funcs = list(dict.fromkeys(f.func for f in (formula, *also)))
    code = translate(*funcs)
    table = (
        "const FUNCS = { " + ", ".join(f"{json.dumps(js_name(fn))}: {js_name(fn)}" for fn in funcs) + " };"
    )
    return "\n".join([runtime_js(), code, table, (JS_DIR / "ui.js").read_text(encoding="utf-8")])


def _call(record: dict, values: dict):
    """Call the Python function a widget record names (``module$name``) as the browser calls
    its translation: the fixed arguments, and the values of the parameters it takes."""
    import importlib

    module, _, name = record["fn"].replace("$", ".").rpartition(".")
    func = getattr(importlib.import_module(module), name)
    args = {a: values[a] for a in record["args"] if a in values}
    args.update(record["fixed"])  # a fixed argument wins over a slider of the same name
    return safe_call(func, **args)


def readout_text(spec: dict, values: dict) -> str:
    """What a live widget's readout says for ``values``, computed in Python: the browser's
    view (js/ui.js) writes the same words, which tests/test_live_widgets.py checks."""
    value, message = _call(spec, values)
    if message:
        return message
    shown = ", ".join(f"{p['name']} = {values[p['name']]:.6g}" for p in spec["params"])
    text = f"{spec['output']} = {value:.6g}   (at {shown})"
    for other in spec["also"]:
        v, m = _call(other, values)
        text += f"\n{other['title']}: " + (m if m else f"{other['output']} = {v:.6g}")
    return text


def _call_record(formula: Formula) -> dict:
    import inspect

    return {
        "fn": js_name(formula.func),
        "args": list(inspect.signature(formula.func).parameters),
        "fixed": {k: float(v) for k, v in formula.fixed.items()},
        "title": formula.title,
        "output": formula.output,
    }


def live_spec(formula: Formula, x: str, points=None, points_label: str = "", also=(), ylog=False) -> dict:
    """What the browser needs to draw ``formula`` against ``x``: the records of its
    parameters (ranges, labels, slider ranges) and how to call the translated function;
    ``points``, pairs ``(x, y)`` drawn as open circles (measurements), with their label;
    ``also``, formulas of the same parameters drawn as dashed curves for comparison;
    ``ylog``, a logarithmic value axis."""
    return {
        "key": formula.key,
        "x": x,
        **_call_record(formula),
        "also": [_call_record(f) for f in also],
        "ylog": bool(ylog),
        "points": [[float(a), float(b)] for a, b in (points if points is not None else [])],
        "points_label": points_label,
        "params": [
            {
                "name": p.name,
                "label": p.label,
                "lo": p.lo,
                "hi": p.hi,
                "lo_open": p.lo_open,
                "hi_open": p.hi_open,
                "slider_min": p.slider_min,
                "slider_max": p.slider_max,
                "log": p.log,
                "integer": p.integer,
            }
            for p in formula.params
        ],
    }


@dataclass(eq=False)
class FormulaWidget:
    """What :func:`formula_widget` returns: the widget (a header with the formula typeset,
    and the live part computed in the browser) and, for Python, the same readout."""

    formula: Formula
    x: str
    box: object
    live: object
    also: tuple = ()
    last_message: str | None = None
    last_value: float | None = None

    def _ipython_display_(self):  # pragma: no cover - exercised in notebooks
        from IPython.display import display

        display(self.box)

    @property
    def controls(self) -> dict:
        return {p.name: _Control(self, p.name) for p in self.formula.params}

    @property
    def readout(self) -> _Readout:
        return _Readout(self)

    def text(self, **values) -> str:
        """The readout for ``values`` (a value or the error message): the words the browser
        shows for the same values."""
        return readout_text(self.live.spec, values)

    def update(self, **values) -> str:
        """Set ``values`` (the others keep theirs) in the widget, as a reader moving the
        sliders would; return the readout."""
        current = {**self.live.values, **values}
        self.last_value, self.last_message = safe_call(self.formula, **current)
        self.live.values = current
        return self.text(**current)


def _lookup(formula: Formula | str) -> Formula:
    if isinstance(formula, str):
        if formula not in FORMULAS:
            raise ValueError(f"formula must be one of {sorted(FORMULAS)}; got {formula!r}")
        return FORMULAS[formula]
    return formula


def formula_widget(
    formula: Formula | str,
    x: str | None = None,
    points=None,
    points_label: str = "measured",
    also: tuple[Formula | str, ...] = (),
    ylog: bool = False,
) -> FormulaWidget:
    """Build the interactive cell for ``formula`` (a :class:`Formula` or a key of
    :data:`~computing_change.models.formulas.FORMULAS`), plotting it against parameter ``x``
    (default: the first parameter), with optional measured ``points`` ``[(x, y), ...]`` and
    other formulas ``also`` drawn for comparison (their parameters must be among
    ``formula``'s), on a logarithmic value axis with ``ylog``. The browser computes it, so it answers its sliders on the static
    website too."""
    import ipywidgets as w

    formula = _lookup(formula)
    also = tuple(_lookup(f) for f in also)
    names = [p.name for p in formula.params]
    for other in also:
        extra = {p.name for p in other.params} - set(names)
        if extra:
            raise ValueError(f"also: {other.key} needs parameters {sorted(extra)} that {formula.key} lacks")
    x = names[0] if x is None else x
    if x not in names:
        raise ValueError(f"x must be one of {names}; got {x!r}")
    defaults = {p.name: p.default for p in formula.params}
    spec = live_spec(formula, x, points, points_label if points is not None else "", also, ylog)
    live = _live_widget_class()(_esm=live_esm(formula, also), spec=spec, values=defaults)
    header = w.HTMLMath(value=f"<b>{formula.title}</b>: \\({formula.latex}\\)")
    box = w.VBox([header, live])
    fw = FormulaWidget(formula, x, box, live, also)
    fw.update()
    # ipywidgets keeps every widget alive until it is closed; the wrapper lives as long as its
    # view, so the tests' widget probe sees the same widgets whatever the garbage collector did
    live._cc_formula_widget = fw
    _LIVE.add(fw)
    return fw


# --------------------------------------------------------------------------------------
# The registry of live formula widgets.
# --------------------------------------------------------------------------------------

#: Every formula widget alive in this kernel (the tests' widget probe drives each one).
_LIVE: weakref.WeakSet = weakref.WeakSet()
