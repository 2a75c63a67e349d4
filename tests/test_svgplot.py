"""The widgets' SVG plotter: valid SVG, round ticks that cover the range, gaps where the data
are invalid, and clear messages for bad arguments."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from computing_change import formulas as F
from computing_change.svgplot import SvgPlot, log_ticks, nice_ticks, tick_label
from computing_change.widgets import formula_plot

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


@given(st.floats(-1e9, 1e9), st.floats(1e-6, 1e9))
def test_nice_ticks_are_round_and_inside(lo, span):
    assume(span > 1e-6 * abs(lo))  # a span below float64 resolution of lo has no round ticks
    hi = lo + span
    ticks = nice_ticks(lo, hi, 5)
    assert 2 <= len(ticks) <= 12
    assert all(lo - 1e-9 * span <= t <= hi + 1e-9 * span for t in ticks)
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0], rtol=1e-6)
    mantissa = steps[0] / 10 ** math.floor(math.log10(steps[0]))
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 2.5, 5, 10))


@given(st.floats(-12, 12), st.floats(0.05, 20))
def test_log_ticks_inside_and_few(log_lo, decades):
    lo, hi = 10**log_lo, 10 ** (log_lo + decades)
    ticks = log_ticks(lo, hi)
    assert len(ticks) <= 8
    assert all(lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9) for t in ticks)
    if decades >= 1:
        assert len(ticks) >= 1


def test_tick_labels_are_short_plain_numbers():
    assert [tick_label(v) for v in (0, 0.1 + 0.2, 1000, 1e6, 2.5e-5, -3)] == [
        "0",
        "0.3",
        "1000",
        "1e+06",
        "2.5e-05",
        "-3",
    ]
    assert nice_ticks(0, 1, 5) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert log_ticks(1, 1e10) == [1.0, 100.0, 1e4, 1e6, 1e8, 1e10]


def test_plot_is_valid_svg_with_everything_asked_for():
    x = np.linspace(0, 1, 50)
    plot = SvgPlot().line(x, x**2, label="square").points([0.5], [0.25], color="C3", marker="*")
    plot.vline(0.5).text(0.5, 0.25, "a < b & c")
    plot.set(title="Title\nsecond line", xlabel="x", ylabel="y", legend="upper left", description="a test")
    root = parse(plot.svg())
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert {"Title", "second line", "x", "y", "square", "a < b & c"} <= set(texts)
    assert root.find(f"{NS}title").text == "a test"
    assert len(root.findall(f".//{NS}polyline")) == 1 and root.findall(f".//{NS}polygon")


def test_invalid_points_break_the_line():
    x = np.array([1.0, 2, 3, 4, 5, 6])
    y = np.array([1.0, 2, np.nan, 4, 5, np.inf])
    root = parse(SvgPlot().line(x, y).svg())
    assert len(root.findall(f".//{NS}polyline")) == 2
    # on a log axis, zero and negative values are gaps too
    root = parse(SvgPlot(ylog=True).line(x, [1, 0, 2, 3, -1, 4]).svg())
    assert len(root.findall(f".//{NS}polyline")) == 3


def test_every_plot_has_its_own_clip_path():
    a, b = SvgPlot().line([0, 1], [0, 1]).svg(), SvgPlot().line([0, 1], [0, 1]).svg()
    ids = [re.search(r'clipPath id="([^"]+)"', s).group(1) for s in (a, b)]
    assert ids[0] != ids[1]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="legend must be"):
        SvgPlot().set(legend="middle")
    with pytest.raises(ValueError, match="xlim must be"):
        SvgPlot(xlog=True).set(xlim=(0, 10))
    with pytest.raises(ValueError, match="ylim must be"):
        SvgPlot().set(ylim=(2, 1))
    with pytest.raises(ValueError, match="x and y must have the same length"):
        SvgPlot().line([1, 2], [1, 2, 3]).svg()


def test_empty_and_constant_data_still_draw():
    parse(SvgPlot().svg())
    parse(SvgPlot().line([1, 2, 3], [5, 5, 5]).svg())
    parse(SvgPlot(xlog=True, ylog=True).line([1, 10], [0, 0]).svg())


@pytest.mark.parametrize("key", sorted(F.FORMULAS))
def test_formula_plot_marks_the_current_value(key):
    formula = F.FORMULAS[key]
    current = {p.name: p.default for p in formula.params}
    value = formula(**current)
    root = parse(formula_plot(formula, formula.params[0].name, current, value).svg())
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert f"{formula.output} = {value:.4g}" in texts
    assert formula.params[0].label in texts
    assert root.findall(f".//{NS}circle")


def test_mfu_curve_stops_where_mfu_would_pass_one():
    formula = F.FORMULAS["mfu"]
    current = {p.name: p.default for p in formula.params}
    svg = formula_plot(formula, "tokens_per_s", current, formula(**current)).svg()
    parse(svg)
    assert svg.count("<polyline") == 1  # the valid part only; no error
