"""Browser tests of the built website, offline, in headless Chromium (Playwright driving
Debian's /usr/bin/chromium; no browser is downloaded).

The site is built into a temporary folder with warnings as errors, served on 127.0.0.1,
and every page is visited once (``visits``): no console errors, no failed or external
requests, every formula typeset, every saved widget rendered, the site's own Chinese font
loaded wherever there is Chinese text, every widget control focusable, and an axe-core
audit (WCAG 2 A and AA) in light and then in dark mode with no serious or critical
violation. axe-core is served from tests/_vendor/ (scripts/fetch_assets.py, pinned and
integrity-checked; not part of the site). Links, anchors and alt text are checked on the
HTML files themselves; the keyboard test tabs to a widget slider and moves it with the
arrow keys; the font test asks Chromium which font drew the Chinese characters.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

bs4 = pytest.importorskip("bs4")
ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / "tests" / "_vendor" / "axe.min.js"
CJK_FONT = "Noto Sans SC"
pytestmark = pytest.mark.browser


def _pages(site: Path) -> list[Path]:
    return sorted(
        p
        for p in site.rglob("*.html")
        if not {"_static", "_sources", "_images"} & set(p.relative_to(site).parts)
    )


def _redirect(path: Path) -> str | None:
    """The target of a meta-refresh redirect page (the site's index.html), else None."""
    meta = _soup(path).find("meta", attrs={"http-equiv": lambda v: v and v.lower() == "refresh"})
    if meta is None:
        return None
    return meta.get("content", "").split("url=", 1)[-1].strip()


def _soup(path: Path):
    return bs4.BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


WAIT_FOR_RENDERING = """async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const hasMath = document.querySelector('span.math, div.math') !== null;
  if (hasMath) {
    for (let i = 0; i < 300 && !(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise); i++) await sleep(50);
    if (window.MathJax && window.MathJax.startup) await window.MathJax.startup.promise;
  }
  const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length;
  for (let i = 0; i < 300 && document.querySelectorAll('.widget-subarea > .jupyter-widgets').length < views; i++) await sleep(50);
  if (window.MathJax && window.MathJax.startup) { await window.MathJax.startup.promise; await sleep(200); }
  await document.fonts.ready;
  for (let i = 0; i < 2; i++) await new Promise((r) => requestAnimationFrame(r));
  return true;
}"""

REPORT = """() => {
  const maths = Array.from(document.querySelectorAll('span.math, div.math'));
  const untypeset = maths.filter((m) => !m.querySelector('mjx-container')).map((m) => m.textContent.slice(0, 60));
  const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]');
  const rendered = Array.from(views).filter((s) => s.parentElement.querySelector('.widget-subarea > .jupyter-widgets'));
  const rawWidgetMath = Array.from(document.querySelectorAll('.widget-htmlmath-content'))
      .filter((e) => /\\\\\\(|\\$/.test(e.textContent) && !e.querySelector('mjx-container')).length;
  const cjk = /[\\u3000-\\u9fff\\uff00-\\uffef]/.test(document.body.innerText);
  const faces = Array.from(document.fonts).filter((f) => f.family.replace(/["']/g, '') === 'Noto Sans SC');
  const controls = Array.from(document.querySelectorAll(
      '.jupyter-widgets :is([role="slider"], input, select, textarea, button, [contenteditable="true"])'))
      .filter((e) => e.getClientRects().length > 0);
  const unfocusable = controls
      .filter((e) => (e.tabIndex < 0 && !e.isContentEditable) || e.disabled || e.closest('[inert]'))
      .map((e) => e.outerHTML.slice(0, 100));
  return {
    cjk, cjkLoaded: faces.filter((f) => f.status === 'loaded').length,
    cjkFailed: faces.filter((f) => f.status === 'error').length,
    controls: controls.length, unfocusable,
    maths: maths.length, untypeset, merrors: document.querySelectorAll('mjx-merror').length,
    views: views.length, rendered: rendered.length, rawWidgetMath,
    mode: document.documentElement.dataset.mode, theme: document.documentElement.dataset.theme,
  };
}"""


# The audit, started on a page and collected later (``visits`` loads the next page while it
# runs): axe-core's WCAG 2 A and AA rules in light mode; then the reader's route to dark
# mode, the theme's own switch button (it cycles auto, light, dark), a wait until the page
# background is dark and every CSS transition has ended, so that the colour-contrast rule
# reads the dark palette and not a transition's middle; and the same rules in dark mode.
AUDIT = """() => { window.__ccAudit = (async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const frames = async () => { for (let i = 0; i < 2; i++) await new Promise((r) => requestAnimationFrame(r)); };
  const run = async () => (await axe.run(document, {
      runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']},
      resultTypes: ['violations'], iframes: false, performanceTimer: false,
    })).violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
                  nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ').slice(0, 200))}));
  const luminance = () => {
    const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  };
  const light = {theme: document.documentElement.dataset.theme, luminance: luminance(), violations: await run()};
  const button = document.querySelector('.theme-switch-button');
  for (let i = 0; button && i < 3 && document.documentElement.dataset.theme !== 'dark'; i++) button.click();
  for (let i = 0; i < 40 && luminance() > 0.25; i++) await sleep(25);
  await frames();  // the colour transitions (150 ms) have started; wait until all are over
  for (let i = 0; i < 100 && document.getAnimations().some((a) => a.playState === 'running'
       && a instanceof CSSTransition); i++) await sleep(25);
  await frames();
  const dark = {theme: document.documentElement.dataset.theme, luminance: luminance(), violations: await run()};
  return {light, dark};
})(); }"""


def _collect_audit(page, rel: str) -> list[str]:
    """Wait for the audit started on ``page``; its problems, one line each."""
    result = page.evaluate("() => window.__ccAudit")
    problems = []
    for mode, want_dark in (("light", False), ("dark", True)):
        got = result[mode]
        if (got["theme"] == "dark") != want_dark or (got["luminance"] < 0.25) != want_dark:
            problems.append(
                f"{mode} {rel}: not in {mode} mode: theme {got['theme']!r}, background {got['luminance']:.2f}"
            )
        problems += [
            f"{mode} {rel}: {v['id']} ({v['impact']}, {v['count']} nodes): {v['help']}; "
            f"e.g. {' | '.join(v['nodes'])}"
            for v in got["violations"]
        ]
    return problems


@pytest.fixture(scope="session")
def visits(site, server, browser, offline_context):
    """Visit every page once and collect what the tests below judge: rendering problems,
    and the axe-core audit in light and in dark mode. Each page's audit runs while the next
    page loads (two pages at a time, each in its own context, so that one page's switch to
    dark mode, which the theme remembers in localStorage, never reaches the other)."""
    assert AXE.exists(), f"{AXE} missing: run `python scripts/fetch_assets.py`"
    pages = _pages(site)
    assert len(pages) >= 4
    out = {"render": [], "axe": [], "maths": 0, "views": 0, "controls": 0, "cjk_pages": 0, "audited": 0}
    contexts = [offline_context(browser, color_scheme="light") for _ in range(2)]
    for context, _ in contexts:  # every page opens in light mode
        context.add_init_script("localStorage.setItem('mode', 'light')")
    pending = None
    for path in pages:
        rel = path.relative_to(site).as_posix()
        target = _redirect(path)
        if target is not None:  # a redirect page: check its target exists and move on
            if not (path.parent / target).exists():
                out["render"].append(f"{rel}: redirects to missing {target}")
            continue
        page = contexts[out["audited"] % 2][0].new_page()
        errs: list[str] = []
        page.on(
            "console",
            lambda m, errs=errs: errs.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e, errs=errs: errs.append(f"page error: {e}"))
        page.on("requestfailed", lambda r, errs=errs: errs.append(f"request failed: {r.url} ({r.failure})"))
        page.on(
            "response",
            lambda r, errs=errs: errs.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
        )
        page.goto(urljoin(server, rel), wait_until="load")
        page.evaluate(WAIT_FOR_RENDERING)
        info = page.evaluate(REPORT)
        out["maths"] += info["maths"]
        out["views"] += info["views"]
        out["controls"] += info["controls"]
        if info["untypeset"]:
            errs.append(f"{len(info['untypeset'])} formulas not typeset, e.g. {info['untypeset'][:3]}")
        if info["merrors"]:
            errs.append(f"{info['merrors']} MathJax errors")
        if info["rendered"] != info["views"]:
            errs.append(f"{info['views'] - info['rendered']} of {info['views']} saved widgets not rendered")
        if info["rawWidgetMath"]:
            errs.append(f"{info['rawWidgetMath']} widget formulas not typeset")
        if info["mode"] not in ("auto", "light", "dark") or info["theme"] not in ("light", "dark"):
            errs.append(f"invalid colour mode {info['mode']!r}/{info['theme']!r}")
        if info["cjk"]:
            out["cjk_pages"] += 1
            if not info["cjkLoaded"] or info["cjkFailed"]:
                errs.append(
                    f"Chinese text but {info['cjkLoaded']} {CJK_FONT} faces loaded, "
                    f"{info['cjkFailed']} failed: the site's own CJK font is not in use"
                )
        errs += [f"widget control not reachable with Tab: {c}" for c in info["unfocusable"]]
        out["render"] += [f"{rel}: {e}" for e in errs]
        page.add_script_tag(path=str(AXE))
        page.evaluate(AUDIT)  # starts the audit and returns at once
        if pending is not None:
            out["axe"] += _collect_audit(*pending)
            pending[0].close()
        pending = (page, rel)
        out["audited"] += 1
    if pending is not None:
        out["axe"] += _collect_audit(*pending)
        pending[0].close()
    out["external"] = sorted({url for context, external in contexts for url in external})
    for context, _ in contexts:
        context.close()
    return out


def test_every_page_renders_offline(visits):
    """Every page: no console errors, no failed, missing or external requests; all
    formulas typeset; every saved widget rendered; a valid light/dark mode; the site's CJK
    font loaded wherever there is Chinese; every widget control focusable."""
    problems = visits["render"] + [
        f"external request (the site must work offline): {u}" for u in visits["external"]
    ]
    assert not problems, "\n".join(problems)
    assert visits["maths"] > 0 and visits["views"] > 0 and visits["controls"] > 0, visits
    assert visits["cjk_pages"] >= visits["audited"] // 2, "the Chinese headings are missing"


def test_accessibility_audit_light_and_dark(visits):
    """axe-core (WCAG 2 A and AA rules) on every page, in light and in dark mode: no
    serious or critical violation. Each line names the mode, page, rule and nodes."""
    assert visits["audited"] >= 4
    assert not visits["axe"], "\n".join(visits["axe"])


def test_widget_slider_operable_with_keyboard(server, browser, offline_context):
    """From the top of a page, Tab reaches a live widget's slider, which has an accessible
    name (its label), and ArrowRight moves it: the value it announces (aria-valuetext), the
    value box beside it and the readout change; ArrowLeft brings them back. The page is
    opened in dark mode, as a reader who chose it would open it."""
    context, external = offline_context(browser, color_scheme="light")
    context.add_init_script("localStorage.setItem('mode', 'dark')")
    page = context.new_page()
    try:
        page.goto(urljoin(server, "book/models/article_formulas.html"), wait_until="load")
        page.evaluate(WAIT_FOR_RENDERING)
        page.wait_for_function("() => document.querySelector('.cc-live .cc-live-readout')", timeout=60_000)
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        for _ in range(400):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.matches('.cc-live input[type=range]')"):
                break
        else:
            pytest.fail("no live widget slider reached with 400 presses of Tab")
        state = """() => {
          const h = document.activeElement, w = h.closest('.cc-live');
          return {name: [...h.labels].map((l) => l.textContent).join(' '),
                  text: h.getAttribute('aria-valuetext'),
                  box: w.querySelector(`input.cc-live-value[data-param="${h.dataset.param}"]`).value,
                  readout: w.querySelector('.cc-live-readout').textContent};
        }"""
        before = page.evaluate(state)
        assert before["name"].strip(), "the focused slider has no accessible name"
        page.keyboard.press("ArrowRight")
        after = page.evaluate(state)
        assert after["text"] != before["text"] and after["box"] != before["box"], (before, after)
        assert after["readout"] != before["readout"], (before, after)
        page.keyboard.press("ArrowLeft")
        back = page.evaluate(state)
        assert back["readout"] == before["readout"], (before, back)
    finally:
        page.close()
        context.close()
    assert not external, external


def _direct_cjk(text: str) -> int:
    return sum(1 for ch in text if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")


def test_chinese_drawn_with_the_sites_font(server, browser, offline_context):
    """The Chinese of the sidebar, the title, the text and a code comment is drawn with the
    site's own Noto Sans SC, glyph for glyph (Chromium's own account of the fonts it used
    for each element), so that it shows on a machine without any CJK font. On this
    machine: see `fc-list :lang=zh`; the site's CSS names the font first for CJK code
    points, so the test holds whether or not the system has CJK fonts."""
    context, external = offline_context(browser)
    page = context.new_page()
    checked, places = [], []
    try:
        for rel in ("book/intro.html", "book/project.html"):
            page.goto(urljoin(server, rel), wait_until="load")
            page.evaluate(WAIT_FOR_RENDERING)
            found = page.evaluate("""() => {
              const cjk = /[\\u3000-\\u9fff\\uff00-\\uffef]/;
              const own = (e) => Array.from(e.childNodes).some((n) => n.nodeType === 3 && cjk.test(n.data));
              const places = {sidebar: '.bd-sidebar-primary a', title: 'article h1',
                              text: 'article p, article li', code: 'article pre span, article pre'};
              const found = [];
              for (const [name, selector] of Object.entries(places)) {
                const e = Array.from(document.querySelectorAll(selector)).find(own);
                if (e) { e.setAttribute('data-cc-cjk', found.length); found.push(name); }
              }
              return found;
            }""")
            assert {"sidebar", "title", "text"} <= set(found), f"{rel}: Chinese only in {found}"
            places += found
            count = len(found)
            cdp = context.new_cdp_session(page)
            cdp.send("DOM.enable")
            cdp.send("CSS.enable")
            root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
            for i in range(count):
                node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": f"[data-cc-cjk='{i}']"})
                own = page.evaluate(
                    "(i) => Array.from(document.querySelector(`[data-cc-cjk='${i}']`).childNodes)"
                    ".filter((n) => n.nodeType === 3).map((n) => n.data).join('')",
                    i,
                )
                fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
                drawn = sum(
                    f["glyphCount"]
                    for f in fonts
                    # a web font (the name inside the woff2 files reads "Noto Sans SC Thin")
                    if f["isCustomFont"] and f["familyName"].startswith(CJK_FONT)
                )
                checked.append((rel, own.strip()[:40], fonts))
                assert drawn >= _direct_cjk(own), (
                    f"{rel}: {own.strip()[:60]!r}: {_direct_cjk(own)} Chinese characters, "
                    f"{drawn} drawn with the site's {CJK_FONT}; fonts used: {fonts}"
                )
            cdp.detach()
    finally:
        page.close()
        context.close()
    assert not external, external
    assert "code" in places, "no Chinese code comment checked"
    assert len(checked) >= 7


def test_links_and_anchors_resolve(site):
    """Every internal link points to a file of the site, and every #anchor to an id there."""
    pages = _pages(site)
    ids: dict[Path, set[str]] = {}

    def ids_of(p: Path) -> set[str]:
        if p not in ids:
            s = _soup(p)
            ids[p] = {t["id"] for t in s.find_all(id=True)} | {
                t["name"] for t in s.find_all("a", attrs={"name": True})
            }
        return ids[p]

    broken = []
    checked = 0
    for page in pages:
        for a in _soup(page).find_all("a", href=True):
            href = a["href"]
            parsed = urlparse(href)
            if parsed.scheme or href.startswith(("mailto:", "javascript:", "//")):
                continue
            target = page if not parsed.path else (page.parent / unquote(parsed.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            checked += 1
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {href} (no such file)")
            elif (
                parsed.fragment
                and target.suffix == ".html"
                and unquote(parsed.fragment) not in ids_of(target)
            ):
                broken.append(f"{page.relative_to(site)}: {href} (no such anchor)")
    assert checked > 50
    assert not broken, "\n".join(broken)


def test_figures_have_alt_text(site):
    missing = []
    for page in _pages(site):
        for img in _soup(page).select(".bd-article img"):
            alt = (img.get("alt") or "").strip()
            src = img.get("src", "")
            if len(alt) < 15 or alt.endswith((".png", ".svg", ".jpg")) or alt in src:
                missing.append(f"{page.relative_to(site)}: {src} alt={alt!r}")
    assert not missing, "\n".join(missing)


def test_reader_features(site):
    """Launch buttons (Binder, Colab), download, copy buttons, search, bibliography,
    exercises with hidden solutions: what readers of course sites expect."""
    html = (site / "book" / "models" / "article_formulas.html").read_text(encoding="utf-8")
    assert "mybinder.org" in html and "colab.research.google.com" in html, "launch buttons missing"
    assert "_sources/book/models/article_formulas.ipynb" in html, "no .ipynb download"
    assert (site / "_sources" / "book" / "models" / "article_formulas.ipynb").exists()
    assert "copybutton.js" in html
    assert (site / "search.html").exists() and (site / "searchindex.js").exists()
    soup = _soup(site / "book" / "models" / "article_formulas.html")
    assert soup.select(".exercise"), "no exercises"
    solutions = soup.select(".solution")
    assert solutions and all("dropdown" in s.get("class", []) for s in solutions), (
        "solutions must be dropdowns"
    )
    refs = _soup(site / "book" / "references.html")
    assert len(refs.select(".citation, dl.citation > dt, div.citation")) >= 3, "bibliography is empty"


def test_solutions_hidden_until_asked_and_search_works(server, browser):
    page = browser.new_page()
    try:
        page.goto(urljoin(server, "book/models/article_formulas.html"), wait_until="load")
        body = page.locator(".solution section").first
        assert not body.is_visible(), "a solution is visible before it is asked for"
        # click the title's own words ("Solution to"), left of the link to the exercise
        page.locator(".solution .admonition-title, .solution summary").first.click(position={"x": 8, "y": 8})
        body.wait_for(state="visible", timeout=5000)
        page.goto(urljoin(server, "search.html?q=Gustafson"), wait_until="load")
        page.wait_for_selector("#search-results li", timeout=15000)
        assert page.locator("#search-results li").count() >= 1
    finally:
        page.close()
