"""Local Sphinx extension: make the Computing Change site work with no internet.

* Adds ``mathjax-shim.js`` right after Sphinx's MathJax configuration, so that the
  ipywidgets HTML manager (which calls MathJax 2's ``MathJax.Hub.Queue``) can typeset
  through MathJax 3, and MathJax reads its fonts from the site itself.
* Removes script tags that appear twice on a page: sphinx-thebe 0.3.1 adds its inline
  configuration once per read on Sphinx 7, and declaring ``const thebe_selector`` twice is
  a JavaScript error in the reader's console.
* Refuses to build when the vendored JavaScript is missing (run scripts/fetch_assets.py).
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError


def _check_vendor(app: Sphinx) -> None:
    vendor = Path(app.srcdir) / "book" / "_static" / "vendor" / "VERSIONS.txt"
    if not vendor.exists():
        raise ExtensionError(
            "book/_static/vendor is missing: run `python scripts/fetch_assets.py` first "
            "(scripts/build_site.sh does it for you)"
        )


def _dedupe_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    unique = []
    for js in scripts:
        key = (str(getattr(js, "filename", js)), str(getattr(js, "attributes", {}).get("body", "")))
        if key in seen:
            continue
        seen.add(key)
        unique.append(js)
    scripts[:] = unique


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _check_vendor)
    app.add_js_file("mathjax-shim.js", priority=510)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
