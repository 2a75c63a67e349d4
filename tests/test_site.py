"""Browser tests of the built website, offline, in headless Chromium (Playwright driving
Debian's /usr/bin/chromium; no browser is downloaded).

The site is built into a temporary folder with warnings as errors, served on 127.0.0.1,
and every page is visited: no console errors, no failed or external requests, every
formula typeset, every saved widget rendered. Links, anchors and alt text are checked on
the HTML files themselves.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

bs4 = pytest.importorskip("bs4")
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """Build the website into a temporary folder; the build itself must be warning-free.

    ``CC_BUILT_SITE=path/to/_build/html`` reuses a site built by scripts/build_site.sh
    (handy while writing a chapter; CI always builds afresh).
    """
    prebuilt = os.environ.get("CC_BUILT_SITE")
    if prebuilt:
        return Path(prebuilt)
    out = tmp_path_factory.mktemp("site")
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(ROOT), "--all", "-W", "-n", "--keep-going", "--path-output", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (
        "website build failed or warned:\n" + proc.stdout[-6000:] + proc.stderr[-3000:]
    )
    html = out / "_build" / "html"
    assert (html / "index.html").exists()
    return html


@pytest.fixture(scope="session")
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


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


@pytest.fixture(scope="session")
def browser():
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} not found: install Debian's chromium (see .ci/run)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


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
  return true;
}"""

REPORT = """() => {
  const maths = Array.from(document.querySelectorAll('span.math, div.math'));
  const untypeset = maths.filter((m) => !m.querySelector('mjx-container')).map((m) => m.textContent.slice(0, 60));
  const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]');
  const rendered = Array.from(views).filter((s) => s.parentElement.querySelector('.widget-subarea > .jupyter-widgets'));
  const rawWidgetMath = Array.from(document.querySelectorAll('.widget-htmlmath-content'))
      .filter((e) => /\\\\\\(|\\$/.test(e.textContent) && !e.querySelector('mjx-container')).length;
  return {
    maths: maths.length, untypeset, merrors: document.querySelectorAll('mjx-merror').length,
    views: views.length, rendered: rendered.length, rawWidgetMath,
    mode: document.documentElement.dataset.mode, theme: document.documentElement.dataset.theme,
  };
}"""


def test_every_page_renders_offline(site, server, browser):
    """Visit every page: no console errors, no failed, missing or external requests; all
    formulas typeset; every saved widget rendered; a valid light/dark mode."""
    problems: list[str] = []
    context = browser.new_context()
    external: list[str] = []

    def route(r):
        host = urlparse(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    pages = _pages(site)
    assert len(pages) >= 4
    totals = {"maths": 0, "views": 0}
    for path in pages:
        rel = path.relative_to(site).as_posix()
        target = _redirect(path)
        if target is not None:  # a redirect page: check its target exists and move on
            if not (path.parent / target).exists():
                problems.append(f"{rel}: redirects to missing {target}")
            continue
        url = urljoin(server, rel)
        page = context.new_page()
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
        page.goto(url, wait_until="load")
        page.evaluate(WAIT_FOR_RENDERING)
        info = page.evaluate(REPORT)
        page.close()
        totals["maths"] += info["maths"]
        totals["views"] += info["views"]
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
        problems += [f"{rel}: {e}" for e in errs]
    context.close()
    problems += [f"external request (the site must work offline): {u}" for u in sorted(set(external))]
    assert not problems, "\n".join(problems)
    assert totals["maths"] > 0 and totals["views"] > 0, totals


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
        page.locator(".solution .admonition-title, .solution summary").first.click()
        body.wait_for(state="visible", timeout=5000)
        page.goto(urljoin(server, "search.html?q=Gustafson"), wait_until="load")
        page.wait_for_selector("#search-results li", timeout=15000)
        assert page.locator("#search-results li").count() >= 1
    finally:
        page.close()
