"""Fixtures shared by the test files: headless Chromium (Debian's /usr/bin/chromium driven by
Playwright; no browser is downloaded), the website built once per run and served on
127.0.0.1, browser contexts that let no request leave 127.0.0.1, and the clean-up after
test modules that start processes."""

from __future__ import annotations

import functools
import http.server
import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def _stop_resource_tracker():
    """Spawned pools, shared counters and shared memory start multiprocessing's resource
    tracker, a helper process that lives as long as this one. Stop it once a module's
    processes are gone, so the suite's leak check sees no process left behind."""
    yield
    from multiprocessing import resource_tracker

    if not multiprocessing.active_children():
        resource_tracker._resource_tracker._stop()


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


def _offline_context(browser, **kwargs):
    """A browser context that lets requests reach only the local server; the others are
    aborted and listed in the returned list."""
    context = browser.new_context(**kwargs)
    external: list[str] = []

    def route(r):
        host = urlparse(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return context, external


@pytest.fixture(scope="session")
def offline_context():
    """``offline_context(browser, **kwargs)`` gives ``(context, external)``: a browser context
    whose requests reach only 127.0.0.1 (and data:/blob: URLs); the others are aborted and
    listed in ``external``."""
    return _offline_context
