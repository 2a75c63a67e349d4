"""Local Sphinx extension: say under each saved widget that needs Python that it is a snapshot.

The course has two kinds of widgets. A formula widget (``computing_change.models.views``) is an
anywidget whose front end computes the formula in the reader's browser, so it answers its
sliders on the static website. The other demos (``ipywidgets.interactive`` over a Monte
Carlo run, a filter, a simulation, a measurement) need a Python kernel: on the website they
show the view saved when the notebook was executed, and nothing recomputes.

On every page built from a notebook, this extension finds each saved widget view
(``<script type="application/vnd.jupyter.widget-view+json">``), follows its model and the
models it holds (``IPY_MODEL_<id>`` references) through the notebook's saved widget state,
and, unless one of them is a live formula widget (``_model_name`` ``"AnyModel"``), adds a
note right after the view:

    A snapshot from the machine that built this page: run the notebook to change it.

with links to run it: the page's own Binder and Colab launch buttons (as sphinx-book-theme
and ``cc_readers`` made them), the page's ``.ipynb`` to download, and the README's
instructions for running the notebooks in JupyterLab on your machine.

It runs at ``html-page-context`` after the theme's launch buttons (priority 501) and after
``cc_readers`` (600), on the HTML of the page body.
"""

from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

STATE_MIME = "application/vnd.jupyter.widget-state+json"
#: A saved widget view in the page body (cc_site may have added a data-cc-alt attribute).
VIEW = re.compile(r'<script type="application/vnd.jupyter.widget-view\+json"[^>]*>(.*?)</script>', re.S)
MODEL_REF = re.compile(r"IPY_MODEL_([0-9a-f]+)")
LIVE_MODEL = "AnyModel"
NOTE_TEXT = "A snapshot from the machine that built this page: run the notebook to change it."
NOTE_CLASS = "cc-snapshot"
#: Where the repository's README explains how to run the notebooks on your own machine.
README_ANCHOR = "#running-the-notebooks"


@functools.lru_cache(maxsize=64)
def _state(path: str, mtime: float) -> dict:
    """The saved widget state of the notebook at ``path``: model id -> model record."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    widgets = (nb.get("metadata") or {}).get("widgets") or {}
    return (widgets.get(STATE_MIME) or {}).get("state") or {}


def notebook_state(path: Path) -> dict:
    return _state(str(path), path.stat().st_mtime)


def is_live(model_id: str, state: dict) -> bool:
    """Does the view of ``model_id`` hold a live formula widget (an AnyModel) anywhere
    among the models it refers to?"""
    seen: set[str] = set()
    todo = [model_id]
    while todo:
        mid = todo.pop()
        if mid in seen:
            continue
        seen.add(mid)
        model = state.get(mid)
        if not isinstance(model, dict):
            continue
        if (
            model.get("model_name") == LIVE_MODEL
            or (model.get("state") or {}).get("_model_name") == LIVE_MODEL
        ):
            return True
        todo += MODEL_REF.findall(json.dumps(model.get("state") or {}))
    return False


def snapshot_views(body: str, state: dict) -> list[re.Match]:
    """The saved widget views of ``body`` that are not live formula widgets."""
    out = []
    for m in VIEW.finditer(body):
        try:
            model_id = json.loads(html.unescape(m.group(1)).strip()).get("model_id", "")
        except (ValueError, AttributeError):
            model_id = ""
        if not is_live(model_id, state):
            out.append(m)
    return out


def _launch_urls(context: dict) -> dict[str, str]:
    """The page's launch buttons' URLs, by button text (Binder, Colab, ...)."""
    urls = {}
    for group in context.get("header_buttons") or []:
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if button.get("text") and button.get("url"):
                urls[button["text"]] = button["url"]
    return urls


def note_html(links: list[tuple[str, str]], local: str) -> str:
    """The note under a snapshot widget: its sentence, then how to run the notebook."""
    a = [f'<a href="{html.escape(url, quote=True)}">{html.escape(text)}</a>' for text, url in links]
    ways = (", ".join(a) + ", or " if a else "") + local
    return (
        f'<div class="admonition note {NOTE_CLASS}" role="note">'
        f'<p class="admonition-title">Snapshot</p>'
        f"<p>{html.escape(NOTE_TEXT)} Run it on {ways}.</p></div>"
    )


def _local_html(context: dict, repo_url: str) -> str:
    parts = []
    source = context.get("sourcename") or ""
    pathto = context.get("pathto")
    if source.endswith(".ipynb") and callable(pathto):
        url = pathto("_sources/" + source, 1)
        parts.append(f'<a href="{html.escape(url, quote=True)}" download>download the notebook</a>')
    if repo_url:
        url = repo_url.rstrip("/") + README_ANCHOR
        parts.append(f'see <a href="{html.escape(url, quote=True)}">running the notebooks</a>')
    return "your own machine in JupyterLab" + (f" ({'; '.join(parts)})" if parts else "")


def _label_snapshots(app: Sphinx, pagename: str, templatename, context: dict, doctree) -> None:
    body = context.get("body")
    if not body or "application/vnd.jupyter.widget-view+json" not in body:
        return
    try:
        path = Path(app.env.doc2path(pagename))
    except Exception:  # noqa: BLE001 - a page with no source: nothing to label
        return
    if path.suffix != ".ipynb" or not path.is_file():
        return
    views = snapshot_views(body, notebook_state(path))
    if not views:
        return
    urls = _launch_urls(context)
    links = [(name, urls[name]) for name in ("Binder", "Colab") if name in urls]
    repo_url = (app.config.html_theme_options or {}).get("repository_url", "")
    note = note_html(links, _local_html(context, repo_url))
    pieces, last = [], 0
    for m in views:
        pieces += [body[last : m.end()], note]
        last = m.end()
    pieces.append(body[last:])
    context["body"] = "".join(pieces)


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _label_snapshots, priority=700)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
