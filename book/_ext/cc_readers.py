"""Local Sphinx extension: the website's notebook buttons give the reader's edition.

The chapters are MyST notebooks, which Colab and a plain JupyterLab show as raw markup.
``scripts/readers_edition.py`` writes a plain-Markdown copy of each one to
``readers/<path>.ipynb`` (numbers in the text, citations as text, solutions folded). Here:

* the Colab launch button of a chapter opens ``readers/<path>.ipynb`` in the repository
  instead of ``book/<path>.ipynb``;
* the download button's ``.ipynb`` (``_sources/book/<path>.ipynb``, which the theme also
  offers as the page's source) is replaced, once the build has finished, by the reader's
  edition.

A chapter without a reader's edition keeps the theme's buttons as they are.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
BOOK = "book/"
READERS = "readers/"


def _reader(app: Sphinx, pagename: str) -> Path | None:
    """readers/<path>.ipynb for the page book/<path>, if it exists."""
    if not pagename.startswith(BOOK):
        return None
    path = Path(app.srcdir) / READERS / (pagename[len(BOOK) :] + ".ipynb")
    return path if path.is_file() else None


def _colab_to_readers(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Runs after sphinx-book-theme's ``add_launch_buttons`` (priority 501)."""
    if _reader(app, pagename) is None:
        return
    source = f"/{BOOK}{pagename[len(BOOK) :]}.ipynb"
    reader = f"/{READERS}{pagename[len(BOOK) :]}.ipynb"
    for group in context.get("header_buttons") or []:
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            url = button.get("url", "")
            if button.get("text") == "Colab" and url.endswith(source):
                button["url"] = url[: -len(source)] + reader


def _copy_readers(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    sources = Path(app.outdir) / "_sources"
    if not sources.is_dir():
        return
    copied = 0
    for built in sorted(sources.joinpath(BOOK).rglob("*.ipynb")):
        pagename = built.relative_to(sources).with_suffix("").as_posix()
        reader = _reader(app, pagename)
        if reader is not None:
            shutil.copyfile(reader, built)
            copied += 1
    LOGGER.info(f"cc_readers: {copied} downloadable notebook(s) are the reader's edition")


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _colab_to_readers, priority=600)
    app.connect("build-finished", _copy_readers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
