"""The live formula widgets compute in the browser exactly what Python computes.

Each formula is written once, in Python; :mod:`computing_change.core.jsgen` translates it to
JavaScript for the widgets. Here the translation runs in headless Chromium on inputs drawn
by Hypothesis, valid and invalid (out of range, NaN, infinities, text a reader might type),
and must give the same value as Python to 1e-12 relative, or the same message, word for
word. The hand-written primitives (Python's ``format(x, ".Ng")``, ``repr``) are checked the
same way. The widgets on the built website are driven in ``test_every_widget_is_live_on_the_website``.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from computing_change.core.jsgen import TranslationError, js_name, runtime_js, translate
from computing_change.models import formulas as F
from computing_change.models.views import formula_widget, live_esm, live_spec, safe_call

pytestmark = pytest.mark.browser

#: Every formula a live widget shows (the chapters' own records are added by their modules).
LIVE = {
    **F.FORMULAS,
    "layer_roofline": F.layer_roofline_formula(100.0, 20.0),
    # the chapters' records, with fitted constants held fixed (representative values)
    "alpha_beta_fit": F.variant(F.FORMULAS["alpha_beta"], fixed={"alpha": 8.7e-6, "beta": 4.6e9}),
    "power_law_brute": F.variant(F.FORMULAS["power_law_time"], fixed={"prefactor": 3.2e-8, "exponent": 2.07}),
    "linear_cost_loop": F.variant(
        F.FORMULAS["linear_cost_time"], fixed={"overhead": 5.7e-7, "per_item": 2.9e-8}
    ),
    "fitted_run_time_model": F.variant(
        F.FORMULAS["fitted_run_time"], fixed={"a": 2.85e-3, "b": 4.1e-10, "c": 4.83e-9, "only_p": 0}
    ),
    "fitted_run_time_one_p": F.variant(
        F.FORMULAS["fitted_run_time"],
        fixed={"a": 2.85e-3, "b": 5.2e-9, "c": 0, "only_p": 1},
        params={"p": {"default": 1}},
    ),
    "fitted_serial_time_model": F.variant(
        F.FORMULAS["fitted_serial_time"], fixed={"a": 2.85e-3, "b": 4.1e-10}
    ),
    "two_pass_scan_fitted": F.variant(
        F.FORMULAS["two_pass_scan_speedup"],
        fixed={"scan_per_item": 1.1e-9, "reduce_per_item": 3.5e-10, "overhead": 4.2e-4},
    ),
    "two_pass_scan_limit_fitted": F.variant(
        F.FORMULAS["two_pass_scan_limit"], fixed={"scan_per_item": 1.1e-9, "reduce_per_item": 3.5e-10}
    ),
    "ideal_speedup": F.variant(F.FORMULAS["amdahl"], title="ideal, S = p", fixed={"f": 0.0}),
    "E_m_kib": F.variant(F.FORMULAS["E_m"], fixed={"c": 547.0}),
}

CALL = """([fn, calls]) => calls.map((args) => {
  try { return {value: window.FUNCS[fn](...args), message: null}; }
  catch (e) {
    if (e instanceof py.ValueError) return {value: null, message: "⚠ " + e.message};
    return {value: null, message: "JavaScript error: " + e};
  }
})"""


@pytest.fixture(scope="module")
def js(browser):
    """A blank page holding the primitives and every formula's translation."""
    funcs = [f.func for f in LIVE.values()]
    table = ", ".join(f'"{js_name(fn)}": {js_name(fn)}' for fn in funcs)
    page = browser.new_page()
    page.add_script_tag(
        content=f"{runtime_js()}\n{translate(*funcs)}\nwindow.py = py;\nwindow.FUNCS = {{{table}}};"
    )
    yield page
    page.close()


def _values(p: F.Param):
    """Values a reader can give parameter ``p``: on its slider, anywhere, at its bounds,
    not finite, or typed text."""
    lo, hi = p.slider_min, p.slider_max
    if p.log:
        on_slider = st.floats(math.log10(max(lo, 1e-12)), math.log10(hi)).map(lambda e: 10.0**e)
    else:
        on_slider = st.floats(lo, hi)
    bounds = [b for b in (p.lo, p.hi, lo, hi) if b is not None]
    return st.one_of(
        on_slider,
        on_slider,
        st.integers(-3, 5000).map(float),
        st.sampled_from(bounds + [0.0, -0.0, -1.0, 1e308, 5e-324]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(["abc", "", "1e3x"]),
    )


def _python(formula: F.Formula, args: dict):
    value, message = safe_call(formula, **args)
    return value, message


@pytest.mark.parametrize("key", sorted(LIVE))
def test_formula_in_the_browser_equals_python(js, key):
    formula = LIVE[key]
    names = [p.name for p in formula.params]
    order = list(inspect.signature(formula.func).parameters)

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(
            st.fixed_dictionaries({p.name: _values(p) for p in formula.params}), min_size=25, max_size=25
        )
    )
    def check(batch):
        given_ = [{**formula.fixed, **vals} for vals in batch]  # parameters left out keep their defaults
        calls = [[a[n] for n in order if n in a] for a in given_]
        got = js.evaluate(CALL, [js_name(formula.func), calls])
        for vals, out in zip(batch, got, strict=True):
            value, message = _python(formula, vals)
            where = f"{key} at {dict(zip(names, (vals[n] for n in names), strict=True))}"
            if message is not None:
                assert out["message"] == message, where
            else:
                assert out["message"] is None, f"{where}: {out['message']}"
                v = float(value)
                if math.isnan(v):
                    assert out["value"] is None or math.isnan(out["value"]), where
                else:
                    assert out["value"] == pytest.approx(v, rel=1e-12, abs=0), where

    check()


FORMAT = """(calls) => calls.map(([x, p]) => [py.formatG(x, p), py.repr(x)])"""


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.floats(allow_nan=True, allow_infinity=True),
                st.integers(-(10**15), 10**15).map(float),
                st.integers(0, 10**7).map(lambda i: i + 0.5),  # exact ties
                st.sampled_from([1234565.0, 0.000125, 2.5, 0.5, 9.9999995, 999999.5, 1e16, 1e-5]),
            ),
            st.integers(1, 17),
        ),
        min_size=50,
        max_size=50,
    )
)
def test_format_g_and_repr_equal_python(js, calls):
    got = js.evaluate(FORMAT, [[x, p] for x, p in calls])
    for (x, p), (g, r) in zip(calls, got, strict=True):
        assert g == format(x, f".{p}g"), (x, p)
        want = repr(int(x)) if x.is_integer() and abs(x) < 1e16 else repr(x)
        assert r == want, x


def test_every_formula_translates_and_the_translator_refuses_the_rest():
    for formula in LIVE.values():
        assert js_name(formula.func) in translate(formula.func)

    def with_loop(n):
        total = 0
        for i in range(n):
            total = total + i
        return total

    def with_numpy_sum(x):
        import numpy as np

        return np.sum(x)

    def with_unknown_call(x):
        return print(x)

    for fn, words in [
        (with_loop, "statement For"),
        (with_numpy_sum, "statement"),
        (with_unknown_call, "call"),
    ]:
        with pytest.raises(TranslationError, match=words):
            translate(fn)


def test_widget_state_carries_the_translation_and_the_records():
    fw = formula_widget("ring_allreduce", x="p")
    esm, spec = fw.live._esm, fw.live.spec
    assert esm == live_esm(F.FORMULAS["ring_allreduce"]) and "export default" in esm
    assert spec == live_spec(F.FORMULAS["ring_allreduce"], "p")
    assert [p["name"] for p in spec["params"]] == ["n", "p", "alpha", "beta"]
    assert spec["params"][1]["integer"] and fw.live._view_name == "AnyView"
    # the ranges come from the same records that validate in Python
    for rec, p in zip(spec["params"], F.FORMULAS["ring_allreduce"].params, strict=True):
        assert (rec["lo"], rec["hi"], rec["lo_open"], rec["hi_open"]) == (p.lo, p.hi, p.lo_open, p.hi_open)


RENDER = """async ([esm, spec, values, typed]) => {
  const url = URL.createObjectURL(new Blob([esm], {type: "text/javascript"}));
  const mod = await import(url);
  const state = {spec, values}, handlers = [];
  const model = {get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes() {},
                 on: (e, f) => handlers.push(f), off() {}};
  const el = document.createElement("div");
  document.body.append(el);
  mod.default.render({model, el});
  for (const [name, text] of typed) {
    const box = el.querySelector(`.cc-live-value[data-param="${name}"]`);
    box.value = text;
    box.dispatchEvent(new Event("change"));
  }
  const svg = el.querySelector("svg");
  const out = {readout: el.querySelector(".cc-live-readout").textContent,
               texts: Array.from(svg.querySelectorAll("text")).map((t) => t.textContent),
               points: svg.querySelectorAll("circle.cc-point").length,
               curve: svg.querySelector("path.cc-curve").getAttribute("d"),
               also: svg.querySelectorAll("path.cc-also").length,
               label: svg.getAttribute("aria-label"), values: state.values};
  el.remove();
  return out;
}"""


@pytest.mark.parametrize("key", sorted(LIVE))
def test_view_draws_what_python_says(js, key):
    """The view (js/ui.js) at the defaults, and after a reader types a value and an invalid
    one: the readout is Python's text, the plot marks the point with Python's value."""
    formula = LIVE[key]
    fw = formula_widget(formula)
    x = formula.params[0]
    defaults = {p.name: p.default for p in formula.params}
    out = js.evaluate(RENDER, [live_esm(formula), fw.live.spec, defaults, []])
    value = formula(**defaults)
    assert out["readout"] == fw.text(**defaults)
    assert f"{formula.output} = {value:.4g}" in out["texts"] and out["points"] == 1
    assert x.label in out["texts"] and out["curve"].startswith("M")
    typed = x.slider_max / 2 if not x.log else x.slider_max / 10
    out = js.evaluate(RENDER, [live_esm(formula), fw.live.spec, defaults, [[x.name, repr(typed)]]])
    assert out["values"][x.name] == typed
    assert out["readout"] == fw.text(**{**defaults, x.name: typed})
    out = js.evaluate(RENDER, [live_esm(formula), fw.live.spec, defaults, [[x.name, "-1"]]])
    assert out["readout"] == fw.text(**{**defaults, x.name: -1.0}) or x.lo is None
    if x.lo is not None and x.lo >= 0:
        assert out["readout"].startswith("⚠ ") and x.name in out["readout"] and out["points"] == 0


def test_mfu_curve_stops_where_mfu_would_pass_one(js):
    formula = LIVE["mfu"]
    fw = formula_widget(formula, x="tokens_per_s")
    defaults = {p.name: p.default for p in formula.params}
    out = js.evaluate(RENDER, [live_esm(formula), fw.live.spec, defaults, []])
    assert out["curve"].count("M") == 1 and out["readout"] == fw.text(**defaults)


def test_view_compares_with_other_formulas(js):
    """``also``: the other formulas' curves are drawn and their values read out, as in Python."""
    fw = formula_widget("ring_allreduce", x="p", also=("naive_allreduce", "tree_allreduce"))
    values = dict(fw.live.values)
    out = js.evaluate(RENDER, [fw.live._esm, fw.live.spec, values, [["n", "12345"]]])
    assert out["readout"] == fw.text(**{**values, "n": 12345.0})
    assert out["readout"].count("\n") == 2
    assert "- - Gather-and-broadcast all-reduce time" in out["texts"]
    with pytest.raises(ValueError, match="also: mfu needs parameters"):
        formula_widget("ring_allreduce", also=("mfu",))


# --------------------------------------------------------------------------------------
# The built website: every live widget of every page, in Chromium, offline.
# --------------------------------------------------------------------------------------


def _live_pages(site) -> dict[str, int]:
    """Page (relative to the site) -> how many live widgets its saved widget state displays:
    the AnyModel models held by a displayed view (directly or inside a box)."""
    pages = {}
    state_re = re.compile(
        r'<script type="application/vnd.jupyter.widget-state\+json"[^>]*>(.*?)</script>', re.S
    )
    view_re = re.compile(
        r'<script type="application/vnd.jupyter.widget-view\+json"[^>]*>(.*?)</script>', re.S
    )
    for html in sorted(site.rglob("*.html")):
        text = html.read_text(encoding="utf-8")
        m = state_re.search(text)
        if not m:
            continue
        state = json.loads(m.group(1))["state"]
        shown = {json.loads(v)["model_id"] for v in view_re.findall(text)}
        live = 0
        seen: set[str] = set()
        stack = list(shown)
        while stack:
            mid = stack.pop()
            if mid in seen or mid not in state:
                continue
            seen.add(mid)
            model = state[mid]
            if model["model_name"] == "AnyModel":
                live += 1
            stack += re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(model["state"]))
        if live:
            pages[html.relative_to(site).as_posix()] = live
    return pages


READ_ALL = """() => [...document.querySelectorAll('.cc-live')].map((el) => ({
  spec: JSON.parse(el.dataset.ccSpec), values: JSON.parse(el.dataset.ccValues),
  readout: el.querySelector('.cc-live-readout').textContent,
  label: el.querySelector('.cc-point-label')?.textContent ?? null,
}))"""


def _check_widget(page, i: int, where: str):
    from computing_change.models.views import readout_text

    w = page.evaluate(READ_ALL)[i]
    assert w["readout"] == readout_text(w["spec"], w["values"]), where
    return w


def _wait_live(page, n: int):
    page.wait_for_function(
        "(n) => document.querySelectorAll('.cc-live .cc-live-readout').length >= n", arg=n, timeout=60_000
    )


def test_every_widget_is_live_on_the_website(site, server, browser, offline_context):
    """Each page's live widgets render from the saved state, answer the keyboard on every
    slider and typed values in every box, with the readout, the marked point and the values
    Python computes for the same settings; bad input gives the formula's message."""
    import math

    from computing_change.models.views import readout_text

    pages = _live_pages(site)
    root = Path(__file__).resolve().parents[1]
    calling = {
        nb.relative_to(root).with_suffix(".html").as_posix()
        for nb in (root / "book").rglob("*.ipynb")
        if "_build" not in nb.parts
        and any(
            "formula_widget(" in "".join(c["source"])
            for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "code"
        )
    }
    assert calling and calling <= set(pages), (
        f"pages without their live widgets: {sorted(calling - set(pages))}"
    )
    context, external = offline_context(browser)
    try:
        for rel, n in pages.items():
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.goto(server + rel, wait_until="load")
            _wait_live(page, n)
            widgets = page.evaluate(READ_ALL)
            assert len(widgets) == n, rel
            for i, w in enumerate(widgets):
                where = f"{rel} widget {i} ({w['spec']['key']})"
                _check_widget(page, i, where)
                if w["label"] is not None:
                    from computing_change.models.views import _call

                    value, _ = _call(w["spec"], w["values"])
                    assert w["label"] == f"{w['spec']['output']} = {value:.4g}", where
                root = page.locator(".cc-live").nth(i)
                for p in w["spec"]["params"]:
                    name = p["name"]
                    before = page.evaluate(READ_ALL)[i]["values"][name]
                    slider = root.locator(f'input[type=range][data-param="{name}"]')
                    slider.focus()
                    key = "ArrowLeft" if before >= p["slider_max"] else "ArrowRight"
                    for _ in range(3):
                        page.keyboard.press(key)
                    after = _check_widget(page, i, f"{where}: {key} on {name}")
                    assert after["values"][name] != before, f"{where}: {key} did not move {name}"
                    if p["integer"]:
                        assert after["values"][name] == round(after["values"][name]), where
                    box = root.locator(f'input.cc-live-value[data-param="{name}"]')
                    typed = before if math.isfinite(before) else p["slider_min"]
                    box.fill(repr(float(typed)))
                    box.press("Enter")
                    back = _check_widget(page, i, f"{where}: typed {name}")
                    assert back["values"][name] == typed, where
                    box.fill("nan")
                    box.press("Enter")
                    bad = page.evaluate(READ_ALL)[i]
                    # the message names the parameter: by its symbol, or by the word its label
                    # starts with ("peak P (GFLOP/s)": "peak must be ...")
                    named = name in bad["readout"] or p["label"].split()[0] in bad["readout"]
                    assert bad["readout"].startswith("⚠") and named, (where, bad["readout"])
                    assert bad["readout"] == readout_text(bad["spec"], {**bad["values"], name: math.nan}), (
                        where
                    )
                    box.fill(repr(float(typed)))
                    box.press("Enter")
            assert not errors, (rel, errors)
            page.close()
    finally:
        context.close()
    assert not external, external


def test_a_live_widget_works_from_the_file_system(site, browser):
    """Opened as a file (no server at all), a page's widgets are live too."""
    from computing_change.models.views import readout_text

    rel, n = next(iter(_live_pages(site).items()))
    context = browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((site / rel).as_uri(), wait_until="load")
        _wait_live(page, n)
        first = page.evaluate(READ_ALL)[0]
        slider = page.locator(".cc-live").first.locator("input[type=range]").first
        slider.focus()
        page.keyboard.press("ArrowRight")
        moved = page.evaluate(READ_ALL)[0]
        assert moved["values"] != first["values"]
        assert moved["readout"] == readout_text(moved["spec"], moved["values"])
        assert not errors, errors
    finally:
        context.close()


def _cc_widgets():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "book" / "_ext" / "cc_widgets.py"
    spec = importlib.util.spec_from_file_location("cc_widgets", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_snapshot_labels_find_the_widgets_that_need_a_kernel():
    cw = _cc_widgets()
    state = {
        "b0": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_a1", "IPY_MODEL_a2"]}},
        "a1": {"model_name": "HTMLMathModel", "state": {}},
        "a2": {"model_name": "AnyModel", "state": {"_esm": "export default {}"}},
        "c0": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_c1", "IPY_MODEL_c2"]}},
        "c1": {"model_name": "FloatSliderModel", "state": {}},
        "c2": {"model_name": "OutputModel", "state": {}},
        "d0": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_d0"]}},
    }
    assert cw.is_live("b0", state) and cw.is_live("a2", state)
    assert not cw.is_live("c0", state) and not cw.is_live("d0", state) and not cw.is_live("e0", state)
    view = '<script type="application/vnd.jupyter.widget-view+json" data-cc-alt="x">{{"model_id": "{}"}}</script>'
    body = "<p>a</p>" + view.format("b0") + "<p>b</p>" + view.format("c0")
    found = cw.snapshot_views(body, state)
    assert [json.loads(m.group(1))["model_id"] for m in found] == ["c0"]
    note = cw.note_html([("Binder", "https://b/x?a=1&b=2"), ("Colab", "https://c/y")], "your own machine")
    assert cw.NOTE_TEXT in note and 'href="https://b/x?a=1&amp;b=2"' in note and "your own machine" in note


def test_every_widget_that_needs_a_kernel_says_so_on_the_website(site):
    """Under every saved widget view that is not live, the page says it is a snapshot and
    links to run the notebook; no live widget carries the note."""
    cw = _cc_widgets()
    view_re = re.compile(
        r'<script type="application/vnd.jupyter.widget-view\+json"[^>]*>(.*?)</script>', re.S
    )
    labelled = 0
    for html in sorted(site.rglob("*.html")):
        text = html.read_text(encoding="utf-8")
        m = re.search(
            r'<script type="application/vnd.jupyter.widget-state\+json"[^>]*>(.*?)</script>', text, re.S
        )
        if not m:
            continue
        state = json.loads(m.group(1))["state"]
        for v in view_re.finditer(text):
            model_id = json.loads(v.group(1))["model_id"]
            after = text[v.end() : v.end() + 1500]
            noted = after.lstrip().startswith(f'<div class="admonition note {cw.NOTE_CLASS}"')
            where = f"{html.relative_to(site)}: view {model_id}"
            if cw.is_live(model_id, state):
                assert not noted, f"{where} is live but labelled a snapshot"
            else:
                assert noted, f"{where} needs a kernel and does not say so"
                assert cw.NOTE_TEXT in after and "Binder" in after and "Colab" in after, where
                labelled += 1
    assert labelled > 0
