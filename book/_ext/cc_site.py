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


def _key(js) -> tuple[str, str]:
    if isinstance(js, tuple):  # the registry keeps (filename, attributes)
        return str(js[0] or ""), str(js[1].get("body", ""))
    return str(getattr(js, "filename", js) or ""), str(getattr(js, "attributes", {}).get("body", ""))


def _dedupe(scripts: list) -> None:
    seen: set[tuple[str, str]] = set()
    unique = []
    for js in scripts:
        if _key(js) not in seen:
            seen.add(_key(js))
            unique.append(js)
    scripts[:] = unique


def _dedupe_registered(app: Sphinx, env, docnames) -> None:
    """Run after sphinx-thebe's own env-before-read-docs handler has added its scripts."""
    for holder, name in ((app.registry, "js_files"), (app.builder, "_js_files")):
        scripts = getattr(holder, name, None)
        if isinstance(scripts, list):
            _dedupe(scripts)


def _dedupe_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        _dedupe(scripts)


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _check_vendor)
    app.add_js_file("mathjax-shim.js", priority=510)
    app.connect("env-before-read-docs", _dedupe_registered, priority=900)
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
