"""The chapters read cleanly in JupyterLab (with jupyterlab-myst, which requirements.txt
installs), not only on the website.

* Every glued number in the prose is an ``{eval}`glued('name', 'fmt')``` role, and each
  markdown cell carries the saved results of its roles (``user_expressions``) that agree
  with the notebook's own glue outputs (scripts/fill_expressions.py writes them after each
  run), so JupyterLab shows the saved run's numbers before the reader runs anything.
* ``glued`` gives the text the website's ``{glue:text}`` gives, and the site's build reads
  the notebooks' roles and links as the roles it always used (book/_ext/cc_site.py).
* A real JupyterLab, started from this environment on 127.0.0.1, opened in headless
  Chromium (Playwright driving Debian's /usr/bin/chromium; no browser is downloaded; every
  request to another host is aborted and fails the test): two chapters show no raw MyST,
  show their numbers, and keep their solutions collapsed; and in a small notebook the text
  changes from the saved number to the reader's own after *Run All Cells*.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from computing_change.core.notebook import GluedText, format_glue_text, glue, glued

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(
    p for p in BOOK.rglob("*.ipynb") if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts
)
RAW = ["{glue", "{eval}", "{cite", "{doc}", "{eq}", "{ref}", ":::", "```{", "glued("]
CHAPTERS = ["principles/parallel.ipynb", "models/field_models.ipynb"]
LINKED = "models/article_formulas.ipynb"  # a chapter that parallel.ipynb links to


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fill = _load("fill_expressions", ROOT / "scripts" / "fill_expressions.py")


def _nb(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _markdown(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]


# --------------------------------------------------------------------------------------
# The notebooks' files
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(BOOK)))
def test_saved_expressions_agree_with_the_glue_outputs(path):
    nb = _nb(path)
    for i, (cell, want) in enumerate(zip(nb["cells"], fill.expected(nb, str(path)), strict=True)):
        have = cell.get("metadata", {}).get(fill.KEY, [])
        if cell["cell_type"] != "markdown":
            assert not have, f"cell {i} is not markdown but carries {fill.KEY}"
            continue
        assert have == want, (
            f"cell {i}: its {fill.KEY} are missing or differ from the glue outputs; "
            f"run `python scripts/fill_expressions.py {path.relative_to(ROOT)}`"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(BOOK)))
def test_prose_cites_glued_values_in_the_one_form(path):
    nb = _nb(path)
    text = "\n".join(_markdown(nb))
    assert "{glue:" not in text, "cite glued values as {eval}`glued('name', 'fmt')`"
    assert "{doc}" not in text, "link chapters as [Title](path.ipynb): JupyterLab opens it"
    roles = fill.ROLE.findall(text)
    bad = [r for r in roles if not fill.GLUED.fullmatch(r)]
    assert not bad, f"{{eval}} roles not of the form glued('name', 'fmt'): {bad}"
    if roles:  # the kernel must know glued when the reader runs a markdown cell
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        assert re.search(r"from computing_change\.core\.notebook import [^\n]*\bglued\b", code)


def test_glued_formats_as_the_website_does():
    from myst_nb.core.variables import format_plain_text

    cases = [(0.123456, ".2f"), (1234567.0, ",.0f"), (0.4567, ".0%"), (3, ""), (2.5e-9, ".1e")]
    cases += [("could not be told apart", ""), (12345, ","), (0.000123, ".3g"), (7, ".1f")]
    for i, (value, fmt) in enumerate(cases):
        glue(f"t-{i}", value)
        text = glued(f"t-{i}", fmt)
        assert isinstance(text, GluedText)
        assert text == format_plain_text(repr(value), fmt) == format_glue_text(repr(value), fmt)
        assert repr(text) == str(text), "shown bare in JupyterLab (text/plain), no quotes"


def test_glued_names_a_value_never_glued():
    with pytest.raises(ValueError, match="never-glued-name"):
        glued("never-glued-name", ".2f")


def test_site_reads_the_roles_it_always_read():
    site = _load("cc_site", BOOK / "_ext" / "cc_site.py")
    here = BOOK / "principles"
    text = (
        "{eval}`glued('a-b', '.2f')` and {eval}`glued('c')`, "
        "[Parallel computing · 并行计算](parallel.ipynb), [Tools](../tools.ipynb), "
        "[elsewhere](https://example.org/x.ipynb), [missing](nothing.ipynb)"
    )
    assert site.site_markdown(text, here) == (
        "{glue:text}`a-b:.2f` and {glue:text}`c`, {doc}`parallel`, {doc}`Tools <../tools>`, "
        "[elsewhere](https://example.org/x.ipynb), [missing](nothing.ipynb)"
    )


# --------------------------------------------------------------------------------------
# A real JupyterLab in a real browser
# --------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LIVE = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "c0de",
            "metadata": {},
            "outputs": [],
            "source": ["from computing_change.core.notebook import glue, glued\n", 'glue("demo", 0.123456)'],
        },
        {
            "cell_type": "markdown",
            "id": "7e47",
            "metadata": {
                "user_expressions": [
                    {
                        "expression": "glued('demo', '.3f')",
                        "result": {"data": {"text/plain": "9.876"}, "metadata": {}, "status": "ok"},
                    }
                ]
            },
            "source": ["The value is {eval}`glued('demo', '.3f')` here."],
        },
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 over a copy of two chapters and a small live notebook."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    for rel in [*CHAPTERS, LINKED]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(BOOK / rel, root / rel)
    (root / "live.ipynb").write_text(json.dumps(LIVE, indent=1), encoding="utf-8")
    settings = tmp / "settings"
    for plugin, values in {
        "notebook-extension/tracker": {"windowingMode": "none"},  # render every cell
        "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        IPYTHONDIR=str(tmp / "ipython"),
        MPLCONFIGDIR=str(tmp / "mpl"),
    )
    port, token = _free_port(), secrets.token_hex(16)
    args = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180  # a loaded 2-core machine starts JupyterLab slowly
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5)
                break
            except OSError:
                assert server.poll() is None, (tmp / "server.log").read_text()
                if time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start in 180 s:\n" + (tmp / "server.log").read_text())
                time.sleep(0.2)
        yield url, token
    finally:
        server.terminate()  # the server shuts its kernels down before it exits
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _open(browser, lab, rel: str):
    """A page showing notebook ``rel`` with every markdown cell rendered by jupyterlab-myst;
    the list of requests to other hosts (aborted) comes with it."""
    url, token = lab
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    external: list[str] = []

    def route(r):
        if r.request.url.startswith(("data:", "blob:")) or urlparse(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            external.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.goto(f"{url}/lab/tree/{rel}?reset&token={token}")  # reset: no tabs of earlier tests
    return context, page, external


PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on show
SHOWS = f"""(text) => {{
  const out = document.querySelector('{PANEL} .jp-MarkdownCell .myst');
  return out !== null && out.innerText.includes(text);
}}"""
# Run the notebook on show as a reader does (Run > Run All Cells), once its kernel is idle:
# jupyterlab-myst evaluates a markdown cell's {eval} roles when the cell is run.
RUN_ALL = """async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const app = window.jupyterapp;
  let panel = null;
  for (let i = 0; i < 300 && !(panel = app.shell.currentWidget) ; i++) await sleep(100);
  await panel.context.ready;
  await panel.sessionContext.ready;
  let kernel = null;
  for (let i = 0; i < 600; i++) {
    kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    if (kernel && kernel.status === 'idle' && kernel.connectionStatus === 'connected') break;
    await sleep(100);
  }
  if (!kernel) return 'no kernel';
  await kernel.info;
  if (kernel.status !== 'idle') return kernel.status;
  await app.commands.execute('notebook:run-all-cells');
  return 'idle';
}"""
RENDERED = """(n) => {
  const cells = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell');
  return cells.length === n && Array.from(cells).every((c) => c.querySelector('.myst') !== null);
}"""

CELLS = """() => Array.from(
  document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell')
).map((c) => {
  const out = c.querySelector('.myst');
  return {
    visible: out.innerText,
    all: out.textContent,
    details: Array.from(out.querySelectorAll('details')).map((d) => ({
      kind: d.className.split(' ')[0],
      open: d.open,
      title: d.querySelector('summary').innerText,
    })),
  };
})"""


@pytest.mark.browser
@pytest.mark.parametrize("rel", CHAPTERS)
def test_chapter_reads_cleanly_in_jupyterlab(lab, browser, rel):
    nb = _nb(BOOK / rel)
    markdown = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    context, page, external = _open(browser, lab, rel)
    try:
        page.wait_for_function(RENDERED, arg=len(markdown), timeout=60_000)
        page.wait_for_timeout(500)  # let React settle the last cells
        cells = page.evaluate(CELLS)
    finally:
        context.close()
    assert not external, f"requests to other hosts: {external[:5]}"
    assert len(cells) == len(markdown)
    numbers = 0
    for i, (cell, shown) in enumerate(zip(markdown, cells, strict=True)):
        source = "".join(cell["source"])
        for raw in RAW:
            assert raw not in shown["all"], f"markdown cell {i} shows {raw!r} raw: {shown['visible'][:300]}"
        for entry in cell.get("metadata", {}).get("user_expressions", []):
            text = entry["result"]["data"]["text/plain"]
            assert text in shown["all"], f"markdown cell {i}: {entry['expression']} not shown as {text!r}"
            assert f"'{text}'" not in shown["all"], f"markdown cell {i}: {text!r} shown in quotes"
            if re.fullmatch(r"-?[\d,]+(\.\d+)?(e[-+]\d+)?%?", text):
                numbers += 1
        folded = source.count(":::{solution}") + source.count(":::{dropdown}")
        shut = [d for d in shown["details"] if not d["open"]]
        assert len(shown["details"]) == len(shut) == folded, (
            f"markdown cell {i}: solutions and dropdowns must be collapsed: {shown['details']}"
        )
        for d in shown["details"]:
            if d["kind"] == "myst-exercise":
                assert d["title"].startswith("Solution to"), d
    assert numbers >= 10, f"only {numbers} glued numbers found in {rel}"


@pytest.mark.browser
def test_link_to_another_chapter_opens_it_in_jupyterlab(lab, browser):
    context, page, external = _open(browser, lab, CHAPTERS[0])
    try:
        nb = _nb(BOOK / CHAPTERS[0])
        page.wait_for_function(RENDERED, arg=len(_markdown(nb)), timeout=60_000)
        link = page.locator(f"{PANEL} .jp-MarkdownCell .myst a[href*='/{LINKED}']").first
        link.scroll_into_view_if_needed()
        link.click()
        tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=Path(LINKED).name)
        tab.wait_for(timeout=30_000)
        assert "lm-mod-current" in (tab.get_attribute("class") or "")
    finally:
        context.close()
    assert not external, f"requests to other hosts: {external[:5]}"


@pytest.mark.browser
def test_text_shows_the_readers_numbers_after_run_all(lab, browser):
    context, page, external = _open(browser, lab, "live.ipynb")
    try:
        page.wait_for_function(RENDERED, arg=1, timeout=60_000)
        page.wait_for_function(
            SHOWS,
            arg="The value is 9.876 here.",
            timeout=20_000,
        )
        status = page.evaluate(RUN_ALL)
        assert status == "idle", f"the notebook's kernel did not start: {status}"
        page.wait_for_function(
            SHOWS,
            arg="The value is 0.123 here.",
            timeout=60_000,
        )
    finally:
        context.close()
    assert not external, f"requests to other hosts: {external[:5]}"
