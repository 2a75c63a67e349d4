"""The widget factory: every formula becomes a working widget, and bad settings show a
message naming the parameter instead of a traceback or a wrong number. (What the browser
shows for the same settings is checked in test_live_widgets.py.)"""

from __future__ import annotations

import math

import matplotlib
import pytest

matplotlib.use("Agg")

from computing_change.models import formulas as F  # noqa: E402
from computing_change.models.views import formula_widget, render_error, safe_call  # noqa: E402

KEYS = sorted(F.FORMULAS)


@pytest.mark.parametrize("key", KEYS)
def test_widget_builds_with_value_at_defaults(key):
    fw = formula_widget(key)
    formula = F.FORMULAS[key]
    defaults = {p.name: p.default for p in formula.params}
    assert fw.last_message is None
    assert fw.last_value == pytest.approx(formula(**defaults))
    assert fw.readout.value.startswith(f"{formula.output} = ")
    assert set(fw.controls) == set(defaults)


@pytest.mark.parametrize("key", KEYS)
def test_invalid_settings_show_a_message(key):
    fw = formula_widget(key)
    formula = F.FORMULAS[key]
    for bad, p in ((b, p) for b in (0.0, -1.0, math.nan, math.inf, -1e300, 2.0) for p in formula.params):
        try:
            p.validate(bad)
        except ValueError:
            pass
        else:
            continue  # this value is valid for this parameter
        text = fw.update(**{p.name: bad})
        assert fw.last_message is not None and fw.last_value is None
        assert text.startswith("⚠") and p.name in text, text
        assert "Traceback" not in text
        fw.update(**{p.name: p.default})  # the reader puts it back
    fw.update(**{p.name: p.default for p in formula.params})  # back to valid values
    assert fw.last_message is None


@pytest.mark.parametrize("key", KEYS)
def test_slider_ranges_are_valid_inputs(key):
    formula = F.FORMULAS[key]
    for p in formula.params:
        p.validate(p.default)
        p.validate(max(p.slider_min, p.lo if p.lo is not None and not p.lo_open else p.slider_min))
        p.validate(p.slider_max)


def test_moving_a_slider_redraws():
    fw = formula_widget("E_p")
    fw.controls["p"].value = 64
    assert fw.last_value == pytest.approx(F.efficiency_parallel(1000, 64))
    assert "p = 64" in fw.readout.value


def test_unknown_formula_and_axis_are_refused():
    with pytest.raises(ValueError, match="formula must be one of"):
        formula_widget("E_x")
    with pytest.raises(ValueError, match="x must be one of"):
        formula_widget("E_p", x="q")


def test_safe_call_and_render_error():
    assert safe_call(F.efficiency_parallel, n=10, p=10) == (0.5, None)
    value, message = safe_call(F.efficiency_parallel, n=-1, p=1)
    assert value is None and message == render_error(ValueError("n must be a finite number > 0; got -1"))
