#!/usr/bin/env python3
"""Print the whole book as one PDF, offline: the single-page HTML build of the book,
printed by headless Chromium (Playwright driving Debian's /usr/bin/chromium).

* Every chapter starts on a new page; the navigation, launch buttons and sidebars are left out.
* Code and outputs wrap to the page width.
* Widgets print as their saved view, labelled as interactive on the website.
* Solutions to exercises are omitted (they stay one click away on the website).
* Chinese uses the site's own Noto Sans SC web font, so it renders without a CJK system font.

Usage: python scripts/build_pdf.py [OUT.pdf]   (default _build/pdf/computing-change.pdf)
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
@media print {
  .bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer, .bd-footer-article,
  .header-article, .prev-next-area, .bd-header-article, .skip-link, #pst-back-to-top,
  .toc-drawer, .sidebar-toggle, .headerlink, .copybtn, .solution { display: none !important; }
  .bd-main, .bd-content, .bd-article-container, .bd-article { max-width: 100% !important; width: 100% !important;
    margin: 0 !important; padding: 0 !important; }
  body { font-size: 10.5pt; }
  pre, .highlight pre, .output pre, .cell_output pre { white-space: pre-wrap !important;
    overflow-wrap: anywhere; word-break: break-word; font-size: 8.5pt; }
  .cell_output, .output { overflow: visible !important; max-height: none !important; }
  img, svg { max-width: 100% !important; height: auto; break-inside: avoid; }
  table { font-size: 8.5pt; }
  section > h1, .bd-article > section > section:not(:first-child) { break-before: page; }
  h1, h2, h3 { break-after: avoid; }
  details:not([open]) > *:not(summary) { display: none; }
  .widget-subarea { break-inside: avoid; border: 1px dashed #888; padding: 4px; }
  .cc-print-label { display: block; font-size: 8pt; font-style: italic; color: #444;
    margin: 0 0 4px 0; }
}
"""

WAIT = """async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  if (document.querySelector('span.math, div.math')) {
    for (let i = 0; i < 600 && !(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise); i++) await sleep(50);
    if (window.MathJax && window.MathJax.startup) await window.MathJax.startup.promise;
  }
  const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length;
  for (let i = 0; i < 600 && document.querySelectorAll('.widget-subarea > .jupyter-widgets').length < views; i++) await sleep(50);
  if (document.fonts) await document.fonts.ready;
  await sleep(300);
  return views;
}"""


LABEL_WIDGETS = """() => {
  for (const area of document.querySelectorAll('.widget-subarea')) {
    const label = document.createElement('p');
    label.className = 'cc-print-label';
    label.textContent = 'Interactive on the website: this is the view saved when the page was built.';
    area.prepend(label);
  }
}"""


def build_single_html(out: Path) -> Path:
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(ROOT), "--all", "--builder", "singlehtml", "--path-output", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit("build_pdf: the single-page build failed:\n" + proc.stdout[-4000:] + proc.stderr[-2000:])
    html = out / "_build" / "singlehtml"
    # The single page is written to book/intro.html (the root document's path) but its links
    # to _static/ and _images/ are relative to the site's root: print a copy placed there.
    page = (html / "book" / "intro.html").read_text(encoding="utf-8")
    # The single-page builder leaves out what the HTML pages carry for saved widgets: the
    # widget state of each notebook and the scripts that render it. Add both.
    head = (
        f'<script type="application/vnd.jupyter.widget-state+json">{json.dumps(_widget_state())}</script>\n'
    )
    head += "".join(
        f'<script src="_static/{js}"></script>\n'
        for js in ("vendor/require.js", "widgets-config.js", "vendor/html-manager/embed-amd.js")
    )
    (html / "print.html").write_text(page.replace("</head>", head + "</head>", 1), encoding="utf-8")
    return html


def _widget_state() -> dict:
    """The saved widget models of every notebook of the book, together (their ids are unique)."""
    state: dict = {}
    for nb in sorted((ROOT / "book").rglob("*.ipynb")):
        if "_build" in nb.parts or ".ipynb_checkpoints" in nb.parts:
            continue
        meta = json.loads(nb.read_text(encoding="utf-8"))["metadata"]
        saved = meta.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
        state.update(saved.get("state", {}))
    return {"version_major": 2, "version_minor": 0, "state": state}


def _print(browser, port: int, pdf: Path, external: list[str]):
    context = browser.new_context()

    def route(r):
        url = r.request.url
        if url.startswith(("data:", "blob:")) or urlparse(url).hostname == "127.0.0.1":
            r.continue_()
        else:
            external.append(url)
            r.abort()

    try:
        context.route("**/*", route)
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/print.html", wait_until="load", timeout=120_000)
        views = page.evaluate(WAIT)
        page.evaluate(LABEL_WIDGETS)
        page.add_style_tag(content=PRINT_CSS)
        page.emulate_media(media="print")
        pdf.parent.mkdir(parents=True, exist_ok=True)
        page.pdf(
            path=str(pdf),
            format="A4",
            print_background=False,
            display_header_footer=True,
            header_template="<span></span>",
            footer_template='<div style="font-size:8px;width:100%;text-align:center">'
            'Computing Change · <span class="pageNumber"></span> / <span class="totalPages"></span></div>',
            margin={"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"},
        )
    finally:
        context.close()
    return views


def print_pdf(site: Path, pdf: Path, browser=None) -> dict:
    """Print ``site``/print.html to ``pdf`` in headless Chromium, offline. ``browser``: a
    Playwright browser already launched (the test suite shares one; Playwright's sync API
    cannot run two at once); by default one is launched here."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    external: list[str] = []
    try:
        if browser is not None:
            views = _print(browser, httpd.server_address[1], pdf, external)
        else:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                own = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                try:
                    views = _print(own, httpd.server_address[1], pdf, external)
                finally:
                    own.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    if external:
        sys.exit("build_pdf: the page asked for external resources: " + ", ".join(sorted(set(external))[:5]))
    return {"widgets": views}


def main() -> None:
    pdf = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "pdf" / "computing-change.pdf"
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cc-pdf-") as tmp:
        site = build_single_html(Path(tmp))
        info = print_pdf(site, pdf.resolve())
    print(
        f"build_pdf: {pdf} ({pdf.stat().st_size / 2**20:.1f} MiB, {info['widgets']} saved widget views) "
        f"in {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
