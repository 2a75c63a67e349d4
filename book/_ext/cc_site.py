"""Local Sphinx extension: make the Computing Change site work with no internet, show its
Chinese on every machine, and pass an accessibility audit (axe-core, WCAG 2 A/AA).

* Adds ``mathjax-shim.js`` right after Sphinx's MathJax configuration, so that the
  ipywidgets HTML manager (which calls MathJax 2's ``MathJax.Hub.Queue``) can typeset
  through MathJax 3, and MathJax reads its fonts from the site itself.
* Adds the site's own Chinese web font (Noto Sans SC, vendored, CJK code points only) and
  ``cc-site.css``, which names it first in the theme's font stacks and keeps link text
  legible (4.5:1) on the tinted backgrounds of admonitions and exercises.
* Adds ``cc-a11y.js``, which gives the saved widgets' controls and pictures the names a
  screen reader needs: a slider handle is named by its widget's description and announces
  the value its readout shows; a picture inside a widget view gets the cell's
  ``mystnb.image.alt`` (carried as ``data-cc-alt`` on the view, see below) or a description
  built from the widget's title and controls.
* Names the sidebar's expand/collapse toggles (``<summary>`` of the pydata theme's
  navigation, which holds only an icon): "Sections of <chapter>".
* Writes the bibliography's entries as ``role="listitem"`` (docutils writes the deprecated
  DPUB role ``doc-biblioentry``, which assistive technology and axe-core do not accept as
  an item of ``role="list"``).
* Removes script tags that appear twice on a page: sphinx-thebe 0.3.1 adds its inline
  configuration once per read on Sphinx 7, and declaring ``const thebe_selector`` twice is
  a JavaScript error in the reader's console.
* Reads the notebooks' JupyterLab-friendly MyST as the site's MyST (``source-read``): the
  prose cites a glued number as ``{eval}`glued('name', '.2f')``` (which jupyterlab-myst
  evaluates in the reader's kernel) and another chapter as ``[Title](../path.ipynb)``
  (which JupyterLab opens); the site reads them as ``{glue:text}`name:.2f``` (the glued
  output saved in the notebook) and ``{doc}`Title <../path>``` (``{doc}`../path``` when
  the text is the target's own title, which Sphinx shows for it), so the pages are the
  ones those roles always made.
* Refuses to build when the vendored files are missing (run scripts/fetch_assets.py).
"""

from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.writers.html5 import HTML5Translator

WIDGET_VIEW = '<script type="application/vnd.jupyter.widget-view+json"'
FONT_CSS = [f"vendor/noto-sans-sc/{weight}.css" for weight in ("400", "700")]
# The only {eval} form the notebooks use (scripts/fill_expressions.py checks it).
EVAL_GLUED = re.compile(r"\{eval\}`glued\('([^'\\`]+)'(?:, '([^'\\`]*)')?\)`")
# A Markdown link to another page of the book: [text](relative/path.ipynb) (or .md).
DOC_LINK = re.compile(r"\[([^\]\n]+)\]\(((?![a-z][a-z0-9+.-]*:)[^)\s#]+)\.(ipynb|md)\)")


def _check_vendor(app: Sphinx) -> None:
    static = Path(app.srcdir) / "book" / "_static"
    needed = ["vendor/VERSIONS.txt", *FONT_CSS]
    missing = [name for name in needed if not (static / name).exists()]
    if missing:
        raise ExtensionError(
            f"book/_static/{missing[0]} is missing: run `python scripts/fetch_assets.py` first "
            "(scripts/build_site.sh does it for you)"
        )


@functools.cache
def _title(path: Path) -> str | None:
    """The first ``# `` heading of a notebook's first markdown cell or of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        cells = [c for c in json.loads(text)["cells"] if c["cell_type"] == "markdown"]
        text = "".join(cells[0]["source"]) if cells else ""
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def site_markdown(text: str, here: Path) -> str:
    """A notebook markdown cell's source as the site reads it (see the module docstring).

    ``here`` is the notebook's folder, for the links; a link whose target is not a file of
    the book is left as it is.
    """

    def glue_role(m: re.Match) -> str:
        name, fmt = m.group(1), m.group(2)
        return f"{{glue:text}}`{name}`" if fmt is None else f"{{glue:text}}`{name}:{fmt}`"

    def doc_role(m: re.Match) -> str:
        label, target, ext = m.groups()
        path = here / f"{target}.{ext}"
        if not path.is_file():
            return m.group(0)
        if label == _title(path):
            return f"{{doc}}`{target}`"
        return f"{{doc}}`{label} <{target}>`"

    return DOC_LINK.sub(doc_role, EVAL_GLUED.sub(glue_role, text))


def _site_source(app: Sphinx, docname: str, source: list[str]) -> None:
    path = Path(app.env.doc2path(docname))
    if path.suffix != ".ipynb":
        return
    nb = json.loads(source[0])
    changed = False
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        new = site_markdown(text, path.parent)
        if new != text:
            cell["source"] = new
            changed = True
    if changed:
        source[0] = json.dumps(nb, indent=1, ensure_ascii=False)


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


def _name_toggles(soup) -> None:
    """Give each icon-only <summary> of the navigation the name of the entry it expands."""
    for summary in soup.select("li.has-children > details > summary"):
        if summary.get_text(strip=True) or summary.get("aria-label"):
            continue
        link = summary.find_parent("li").find("a", recursive=False)
        title = " ".join(link.get_text(" ", strip=True).split()) if link else ""
        summary["aria-label"] = f"Sections of {title}" if title else "Sections"


def _accessible_toctree(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Wrap the pydata theme's ``generate_toctree_html`` (set by its own html-page-context
    handler, which runs before this one)."""
    generate = context.get("generate_toctree_html")
    if generate is None or getattr(generate, "_cc_accessible", False):
        return

    @functools.wraps(generate)
    def generate_toctree_html(kind, *args, **kwargs):
        soup = generate(kind, *args, **kwargs)
        if kind == "sidebar" and hasattr(soup, "select"):
            _name_toggles(soup)
        return soup

    generate_toctree_html._cc_accessible = True
    context["generate_toctree_html"] = generate_toctree_html


def _widget_alt(app: Sphinx, doctree, docname) -> None:
    """Carry a widget cell's ``mystnb.image.alt`` onto its saved widget views, where
    cc-a11y.js gives it to the pictures the view draws (myst-nb uses that metadata for
    image outputs only, and a widget's pictures live in the saved widget state)."""
    for cell in doctree.findall(nodes.container):
        if cell.get("nb_element") != "cell_code":
            continue
        meta = cell.get("cell_metadata") or {}
        alt = ((meta.get("mystnb") or {}).get("image") or {}).get("alt")
        if not isinstance(alt, str) or not alt.strip():
            continue
        attr = f'{WIDGET_VIEW} data-cc-alt="{html.escape(" ".join(alt.split()), quote=True)}"'
        for raw in cell.findall(nodes.raw):
            text = raw.astext()
            if WIDGET_VIEW in text and "data-cc-alt=" not in text:
                raw.replace(raw.children[0], nodes.Text(text.replace(WIDGET_VIEW, attr)))


def _visit_citation(self: HTML5Translator, node) -> None:
    HTML5Translator.visit_citation(self, node)
    self.body[-1] = self.body[-1].replace('role="doc-biblioentry"', 'role="listitem"')


def _depart_citation(self: HTML5Translator, node) -> None:
    HTML5Translator.depart_citation(self, node)


def _singlehtml_handlers(app: Sphinx) -> None:
    """The single-page build (scripts/build_pdf.sh prints it) renders every node the HTML
    build renders: Sphinx looks node handlers up by builder name first, and some extensions
    (myst-nb's hidden-cell node) register theirs only under "html"."""
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node, pair in handlers.get("html", {}).items():
        single.setdefault(node, pair)


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _check_vendor)
    app.connect("builder-inited", _singlehtml_handlers)
    app.connect("source-read", _site_source)
    app.add_js_file("mathjax-shim.js", priority=510)
    app.add_js_file("cc-a11y.js", loading_method="defer")
    for css in FONT_CSS:
        app.add_css_file(css)
    app.add_css_file("cc-site.css")
    app.add_node(nodes.citation, override=True, html=(_visit_citation, _depart_citation))
    app.connect("env-before-read-docs", _dedupe_registered, priority=900)
    app.connect("doctree-resolved", _widget_alt)
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    app.connect("html-page-context", _accessible_toctree, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
