"""The website's figures, printed as one JSON object on stdout.

    python benchmarks/site.py                      # build the site into a temporary folder
    python benchmarks/site.py --site _build/html   # measure a site already built

* ``size``: the built website's total size in bytes (every file under ``_build/html``),
  with the vendored front-end assets (``_static/vendor``), the pages, and the largest page.
* ``redraw``: every live formula widget of every page (computing_change.models.views.LiveFormula,
  drawn by js/ui.js), driven in headless Chromium (Debian's /usr/bin/chromium, offline:
  requests may reach only 127.0.0.1) by the keyboard, ``STEPS`` presses of the right arrow
  on each of its sliders. Each press recomputes the formula, the readout and the SVG plot
  of 200 points; the view times itself (``performance.now()`` around the redraw, the
  ``data-cc-redraw-ms`` it leaves on the widget). Reported per formula and over all steps:
  median, 95th percentile and maximum in milliseconds, against the target of one frame at
  60 Hz (16 ms). The first press of each slider is the warm-up and is left out.
* ``live_after_load_ms``: per page, the time from navigation to every live widget drawn.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TARGET_MS = 16.0
STEPS = 20

COLLECT = """() => [...document.querySelectorAll('.cc-live')].map((el) => ({
  key: el.dataset.ccLive, params: JSON.parse(el.dataset.ccSpec).params.map((p) => p.name)}))"""


def _build(out: Path) -> Path:
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(ROOT), "--all", "--path-output", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        sys.exit(
            "benchmarks/site.py: the website build failed:\n" + proc.stdout[-3000:] + proc.stderr[-2000:]
        )
    return out / "_build" / "html"


def _sizes(site: Path) -> dict:
    files = [p for p in site.rglob("*") if p.is_file()]
    pages = [p for p in files if p.suffix == ".html"]
    vendor = site / "_static" / "vendor"
    largest = max(pages, key=lambda p: p.stat().st_size)
    return {
        "total_bytes": sum(p.stat().st_size for p in files),
        "files": len(files),
        "vendored_assets_bytes": sum(p.stat().st_size for p in files if vendor in p.parents),
        "pages": len(pages),
        "pages_bytes": sum(p.stat().st_size for p in pages),
        "largest_page": {"path": largest.relative_to(site).as_posix(), "bytes": largest.stat().st_size},
    }


def _live_pages(site: Path) -> list[str]:
    return sorted(
        p.relative_to(site).as_posix()
        for p in site.rglob("*.html")
        if '"model_name": "AnyModel"' in p.read_text(encoding="utf-8")
        or '"model_name":"AnyModel"' in p.read_text(encoding="utf-8")
    )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _summary(ms: list[float]) -> dict:
    return {
        "steps": len(ms),
        "median_ms": round(statistics.median(ms), 3),
        "p95_ms": round(_pct(ms, 0.95), 3),
        "max_ms": round(max(ms), 3),
    }


def _drive(site: Path) -> tuple[dict, dict, list[str]]:
    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    per_formula: dict[str, list[float]] = {}
    load: dict[str, float] = {}
    external: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
            context = browser.new_context()

            def route(r):
                url = r.request.url
                if url.startswith(("data:", "blob:")) or url.startswith(base):
                    r.continue_()
                else:
                    external.append(url)
                    r.abort()

            context.route("**/*", route)
            for rel in _live_pages(site):
                page = context.new_page()
                t0 = time.perf_counter()
                page.goto(base + rel, wait_until="load")
                page.wait_for_function(
                    "() => document.querySelectorAll('.cc-live .cc-live-readout').length > 0", timeout=60_000
                )
                page.wait_for_load_state("networkidle")
                load[rel] = round(1e3 * (time.perf_counter() - t0), 1)
                for i, w in enumerate(page.evaluate(COLLECT)):
                    root = page.locator(".cc-live").nth(i)
                    for name in w["params"]:
                        root.locator(f'input[type=range][data-param="{name}"]').focus()
                        key = "ArrowRight"
                        for step in range(STEPS + 1):
                            before = root.evaluate("(el) => el.dataset.ccValues")
                            page.keyboard.press(key)
                            if root.evaluate("(el) => el.dataset.ccValues") == before:  # at the end: turn
                                key = "ArrowLeft" if key == "ArrowRight" else "ArrowRight"
                                page.keyboard.press(key)
                            ms = float(root.evaluate("(el) => el.dataset.ccRedrawMs"))
                            if step:  # the first press is the warm-up
                                per_formula.setdefault(w["key"], []).append(ms)
                page.close()
            browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    return per_formula, load, external


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a built site (_build/html); default: build one")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from computing_change.core import machine

    with tempfile.TemporaryDirectory(prefix="cc-site-bench-") as tmp:
        site = args.site if args.site else _build(Path(tmp))
        sizes = _sizes(site)
        per_formula, load, external = _drive(site)
    if external:
        sys.exit(
            "benchmarks/site.py: pages asked for external resources: " + ", ".join(sorted(set(external))[:5])
        )
    if not per_formula:
        sys.exit("benchmarks/site.py: no live widget found on the site")
    every = [ms for values in per_formula.values() for ms in values]
    overall = _summary(every)
    return {
        "machine": machine.summary(),
        "size": sizes,
        "redraw": {
            "target_ms": TARGET_MS,
            "steps_per_slider": STEPS,
            "all_steps": overall,
            "median_under_target": overall["median_ms"] < TARGET_MS,
            "formulas_with_median_over_target": sorted(
                k for k, v in per_formula.items() if statistics.median(v) >= TARGET_MS
            ),
            "per_formula": {k: _summary(v) for k, v in sorted(per_formula.items())},
        },
        "live_after_load_ms": load,
    }


if __name__ == "__main__":
    result = main()
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
