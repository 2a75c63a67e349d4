"""Write the reader's edition of every notebook: readers/<path>.ipynb for book/<path>.ipynb.

The chapters are written in MyST, which Colab (and JupyterLab without jupyterlab-myst)
shows as raw text. The reader's edition is the same notebook in plain Markdown, with the
numbers of the committed run in the prose:

* ``{glue:text}`name:fmt``` and ``{eval}`glued('name', 'fmt')``` become the value glued in
  the notebook's own saved outputs, formatted as myst-nb's ``glue:text`` does;
* ``{cite:p}`` / ``{cite:t}`` become the website's author-year labels ("[Amdahl, 1967]",
  "Karp and Flatt [1990]"), from book/references.bib;
* ``{doc}``, ``{ref}``, ``{eq}``, ``{term}``, ``{math}``, ``{download}`` become links or
  text; labelled equations get the website's number as ``\\tag{3.1}``, and ``{eq}`` reads
  "(3.1)" as on the website; ``(label)=`` targets go;
* admonitions become block quotes with a bold title; exercises are numbered as on the
  website ("Exercise 3.1: ..."); solutions and dropdowns are collapsed in
  ``<details><summary>...</summary>...</details>``;
* code cells keep their source and saved outputs; cells tagged ``remove-cell`` go (the
  rest are renumbered 1, 2, 3, ... in the order they ran), inputs tagged ``hide-input``
  are collapsed, the invisible glue records are dropped, and a saved widget's text
  fallback says what it is;
* a first cell says where the notebook comes from and how to run it on Colab.

Run it after executing notebooks (scripts/execute_notebooks.sh), and commit readers/:

    python scripts/readers_edition.py            # write readers/
    python scripts/readers_edition.py --check    # exit 1, listing stale files, if out of date

The output depends only on the repository's files (same input, byte-identical output).
The website's download and Colab buttons serve these files (book/_ext/cc_readers.py).
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import posixpath
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from computing_change.core.notebook import format_glue_text

ROOT = Path(__file__).resolve().parents[1]
BOOK = "book"
READERS = "readers"
GLUE_PREFIX = "application/papermill.record/"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_TEXT = "A widget saved from the run that built this notebook: run the cell to see it live."
HEADER_ID = "readers-edition"

ADMONITIONS = {
    "admonition",
    "attention",
    "caution",
    "danger",
    "error",
    "hint",
    "important",
    "note",
    "seealso",
    "tip",
    "warning",
    "margin",
    "sidebar",
    "epigraph",
    "topic",
}
CODE_DIRECTIVES = {"code", "code-block", "code-cell", "sourcecode"}


def warn(message: str) -> None:
    print(f"readers_edition: warning: {message}", file=sys.stderr)


# ---------------------------------------------------------------------------------------
# Values glued in a notebook, formatted as myst-nb's {glue:text} role does
# ---------------------------------------------------------------------------------------


def format_plain_text(text: str, fmt_spec: str) -> str:
    """A glued value's text formatted as the website shows it: the package's
    :func:`computing_change.core.notebook.format_glue_text`, the one copy of myst-nb's rule."""
    return format_glue_text(text, fmt_spec)


def glue_data(nb: dict) -> dict[str, str]:
    """Every glued ``text/plain`` of the notebook's saved outputs, by name (the last wins,
    as in myst-nb)."""
    data: dict[str, str] = {}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for output in cell.get("outputs", []):
            meta = (output.get("metadata") or {}).get("scrapbook")
            if not meta:
                continue
            prefix = meta.get("mime_prefix", "")
            for mime, value in (output.get("data") or {}).items():
                if mime[len(prefix) :] == "text/plain":
                    data[meta["name"]] = "".join(value) if isinstance(value, list) else value
    return data


def glue_role_text(content: str) -> tuple[str, str]:
    """``name:fmt`` of a ``{glue:text}`` role -> (name, fmt), split as myst-nb splits it."""
    parts = content.rsplit(":", 1)
    return (parts[0], parts[1]) if len(parts) == 2 else (parts[0], "s")


def eval_role_text(content: str) -> tuple[str, str] | None:
    """``glued('name', 'fmt')`` of an ``{eval}`` role -> (name, fmt); None for anything else."""
    try:
        call = ast.parse(content.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "glued"):
        return None
    args = [a.value for a in call.args if isinstance(a, ast.Constant)]
    kwargs = {k.arg: k.value.value for k in call.keywords if isinstance(k.value, ast.Constant)}
    if len(args) != len(call.args) or len(kwargs) != len(call.keywords):
        return None
    name = args[0] if args else kwargs.get("name")
    fmt = args[1] if len(args) > 1 else kwargs.get("fmt", "")
    if not isinstance(name, str) or not isinstance(fmt, str):
        return None
    return name, fmt


MD_SPECIAL = re.compile(r"([\\`*_\[\]<>$|#~])")


def escape_md(text: str) -> str:
    """Text that Markdown shows as it is (glued values are plain text on the website)."""
    return MD_SPECIAL.sub(r"\\\1", text)


# ---------------------------------------------------------------------------------------
# The book: its table of contents, numbering, titles, labels and bibliography
# ---------------------------------------------------------------------------------------


@dataclass
class Label:
    doc: str  # "book/principles/parallel"
    text: str  # what a {ref} to it shows


@dataclass
class Book:
    root: Path = ROOT
    config: dict = field(init=False)
    docs: list[str] = field(init=False)  # docnames in the website's order
    chapter: dict[str, str | None] = field(init=False)  # docname -> "3" (or None)
    equations: dict[str, tuple[str, str]] = field(init=False)  # label -> (doc, "3.1")
    exercises: dict[str, str] = field(init=False)  # label -> "3.1"
    exercise_titles: dict[str, str] = field(init=False)
    labels: dict[str, Label] = field(init=False)
    titles: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.config = yaml.safe_load((self.root / "_config.yml").read_text(encoding="utf-8")) or {}
        toc = yaml.safe_load((self.root / "_toc.yml").read_text(encoding="utf-8"))
        self.docs, self.chapter = [], {}
        self._walk_toc(toc)
        for path in sorted(self.book_files()):  # pages outside the toc still get titles
            doc = str(path.relative_to(self.root).with_suffix("")).replace("\\", "/")
            if doc not in self.chapter:
                self.docs.append(doc)
                self.chapter[doc] = None
        self.titles, self.labels, self.equations = {}, {}, {}
        self.exercises, self.exercise_titles = {}, {}
        counters: dict[str | None, list[int]] = {}
        for doc in self.docs:
            text = self.doc_markdown(doc)
            if text is None:
                continue
            count = counters.setdefault(self.chapter[doc], [0, 0])
            self._index(doc, text, count)

    # -- table of contents ----------------------------------------------------------------

    def _walk_toc(self, toc: dict) -> None:
        self._add(toc["root"], None)
        number = 0
        for part in toc.get("parts", []):
            for entry in part.get("chapters", []):
                if part.get("numbered"):
                    number += 1
                    self._add_tree(entry, str(number))
                else:
                    self._add_tree(entry, None)
        for entry in toc.get("chapters", []):
            number += 1
            self._add_tree(entry, str(number))

    def _add_tree(self, entry: dict, chapter: str | None) -> None:
        if "file" in entry:
            self._add(entry["file"], chapter)
        for sub in entry.get("sections", []):
            self._add_tree(sub, chapter)

    def _add(self, file: str, chapter: str | None) -> None:
        doc = posixpath.splitext(file)[0]
        self.docs.append(doc)
        self.chapter[doc] = chapter

    def book_files(self) -> list[Path]:
        return [
            p
            for suffix in ("*.ipynb", "*.md")
            for p in (self.root / BOOK).rglob(suffix)
            if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts and "_static" not in p.parts
        ]

    def source(self, doc: str) -> Path | None:
        for suffix in (".ipynb", ".md"):
            if (self.root / (doc + suffix)).exists():
                return self.root / (doc + suffix)
        return None

    def doc_markdown(self, doc: str) -> str | None:
        path = self.source(doc)
        if path is None:
            return None
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".md":
            return re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
        nb = json.loads(text)
        return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")

    # -- numbering and labels ---------------------------------------------------------------

    def _number(self, doc: str, n: int) -> str:
        chapter = self.chapter[doc]
        return f"{chapter}.{n}" if chapter else str(n)

    def _index(self, doc: str, text: str, count: list[int]) -> None:
        lines = text.splitlines()
        fence = None
        pending: list[str] = []  # targets waiting for their heading
        opened = None  # (kind, title) of the directive whose options come next
        for line in lines:
            m = re.match(r"^\s*(:{3,}|`{3,})\{(exercise|math)\}\s*(.*)$", line)
            if m:
                opened = (m.group(2), m.group(3).strip())
                continue
            m = re.match(r"^\s*:label:\s*(\S+)\s*$", line)
            if m and opened is not None:
                kind, title = opened
                label = m.group(1)
                if kind == "exercise":
                    count[1] += 1
                    number = self._number(doc, count[1])
                    self.exercises[label] = number
                    self.exercise_titles[label] = title
                    self.labels[label] = Label(doc, f"Exercise {number}")
                else:
                    count[0] += 1
                    self.equations[label] = (doc, self._number(doc, count[0]))
                opened = None
                continue
            if opened is not None and not re.match(r"^\s*:[\w-]+:", line):
                if opened[0] == "exercise":  # an exercise with no label is numbered all the same
                    count[1] += 1
                opened = None
            if fence:
                if re.match(rf"^\s*{fence}{fence[0]}*\s*$", line):
                    fence = None
                continue
            m = re.match(r"^\s*(`{3,}|~{3,})(.*)$", line)
            if m and not m.group(2).lstrip().startswith("{"):
                fence = m.group(1)
                continue
            m = re.match(r"^\s*#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                heading = strip_inline(m.group(1))
                if line.lstrip().startswith("# ") and doc not in self.titles:
                    self.titles[doc] = heading
                for label in pending:
                    self.labels[label] = Label(doc, heading)
                pending = []
                continue
            m = re.match(r"^\s*\(([^()\s]+)\)=\s*$", line)
            if m:
                pending.append(m.group(1))
                continue
            if line.strip():  # a target before a paragraph: a {ref} to it must give its text
                for label in pending:
                    self.labels[label] = Label(doc, "")
                pending = []
            for m in re.finditer(r"\$\$\s*\(([^()\s]+)\)\s*$", line):
                count[0] += 1
                self.equations[m.group(1)] = (doc, self._number(doc, count[0]))
        if doc not in self.titles:
            self.titles[doc] = posixpath.basename(doc)

    # -- links ------------------------------------------------------------------------------

    @cached_property
    def repository(self) -> str:
        return str((self.config.get("repository") or {}).get("url", "")).rstrip("/")

    @cached_property
    def branch(self) -> str:
        return str((self.config.get("repository") or {}).get("branch", "main"))

    @cached_property
    def website(self) -> str:
        html = self.config.get("html") or {}
        sphinx_config = (self.config.get("sphinx") or {}).get("config") or {}
        return str(html.get("baseurl") or sphinx_config.get("html_baseurl") or "").rstrip("/")

    def link_to(self, doc: str, here: str) -> str:
        """A link from the reader's edition of ``here`` to document ``doc``: its reader's
        edition if it is a notebook, else the website's page (or the repository's file)."""
        path = self.source(doc)
        if path is not None and path.suffix == ".ipynb":
            return posixpath.relpath(doc + ".ipynb", posixpath.dirname(here))
        if self.website:
            return f"{self.website}/{doc}.html"
        suffix = path.suffix if path is not None else ".md"
        return f"{self.repository}/blob/{self.branch}/{doc}{suffix}"

    def resolve_doc(self, target: str, here: str) -> str:
        target = posixpath.splitext(target)[0] if target.endswith((".ipynb", ".md")) else target
        if target.startswith("/"):
            return posixpath.normpath(target.lstrip("/"))
        return posixpath.normpath(posixpath.join(posixpath.dirname(here), target))

    # -- citations ----------------------------------------------------------------------------

    @cached_property
    def _bibliography(self):
        import pybtex.plugin
        from pybtex.database import BibliographyData, parse_file

        bib = BibliographyData()
        for name in self.config.get("bibtex_bibfiles") or []:
            for key, entry in parse_file(str(self.root / name)).entries.items():
                bib.entries[key] = entry
        sphinx_config = (self.config.get("sphinx") or {}).get("config") or {}
        style_name = sphinx_config.get("bibtex_default_style", "alpha")
        style = pybtex.plugin.find_plugin("pybtex.style.formatting", style_name)()
        formatted = {e.key: e for e in style.format_entries(bib.entries.values())}
        return bib, formatted, sphinx_config.get("bibtex_reference_style", "label")

    def cite(self, role: str, keys: list[str]) -> str:
        """The website's text for a citation (sphinxcontrib-bibtex's own reference style)."""
        from pybtex.richtext import BaseMultipartText
        from sphinxcontrib.bibtex.style.referencing import format_references
        from sphinxcontrib.bibtex.style.template import SphinxReferenceInfo, SphinxReferenceText

        bib, formatted, style_name = self._bibliography
        missing = [k for k in keys if k not in bib.entries]
        if missing:
            raise KeyError(f"citation key(s) not in the bibliography: {', '.join(missing)}")
        from sphinxcontrib.bibtex.plugin import find_plugin

        ref_style = find_plugin("sphinxcontrib.bibtex.style.referencing", style_name)()
        info = SphinxReferenceInfo(None, "", "", "", "", "", "")
        text = format_references(ref_style, role, [(bib.entries[k], formatted[k], info) for k in keys])
        render = SphinxReferenceText.render
        SphinxReferenceText.render = lambda self, backend: BaseMultipartText.render(self, backend)
        try:
            out = text.render_as("markdown")
        finally:
            SphinxReferenceText.render = render
        # keep brackets literal: "\[" would start display math in Jupyter's renderer
        return out.replace("\\[", "[").replace("\\]", "]")


def strip_inline(text: str) -> str:
    """A heading as plain text: roles reduced to their text, markup left as it is."""
    text = re.sub(r"\{[\w:+-]+\}`([^`]*)`", lambda m: re.sub(r"\s*<[^>]*>$", "", m.group(1)), text)
    return text.strip()


# ---------------------------------------------------------------------------------------
# Markdown conversion
# ---------------------------------------------------------------------------------------

ROLE = re.compile(r"\{([A-Za-z][\w:+-]*)\}(`+)")
TARGETED = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.S)


class Converter:
    """Turns the MyST of one notebook into plain Markdown."""

    def __init__(self, book: Book, doc: str, glued: dict[str, str]):
        self.book = book
        self.doc = doc
        self.glued = glued

    # -- inline ---------------------------------------------------------------------------

    def inline(self, text: str) -> str:
        """Roles replaced by their text; code spans copied as they are."""
        out, i = [], 0
        while i < len(text):
            tick = text.find("`", i)
            if tick == -1:
                out.append(self._plain(text[i:]))
                break
            m = next((r for r in ROLE.finditer(text, i) if r.start(2) == tick), None)
            run = re.match(r"`+", text[tick:]).group(0)
            end = text.find(run, tick + len(run))
            while end != -1 and text[end + len(run) : end + len(run) + 1] == "`":
                end = text.find(run, end + len(run) + 1)
            if end == -1:  # no closing backticks: literal text
                out.append(self._plain(text[i : tick + len(run)]))
                i = tick + len(run)
                continue
            if m is None:  # a code span
                out.append(self._plain(text[i:tick]))
                out.append(text[tick : end + len(run)])
            else:
                out.append(self._plain(text[i : m.start()]))
                out.append(self.role(m.group(1), text[tick + len(run) : end]))
            i = end + len(run)
        return "".join(out)

    def _plain(self, text: str) -> str:
        subs = self.book.config.get("parse", {}).get("myst_substitutions") or {}
        return re.sub(
            r"\{\{\s*(\w+)\s*\}\}",
            lambda m: str(subs[m.group(1)]) if m.group(1) in subs else m.group(0),
            text,
        )

    def value(self, name: str, fmt: str) -> str:
        if name not in self.glued:
            raise KeyError(f"{self.doc}: nothing glued as {name!r} in the saved outputs")
        text = format_plain_text(self.glued[name], fmt)
        return escape_md(text)

    def role(self, name: str, content: str) -> str:
        if name == "glue:text" or name == "glue":
            return self.value(*glue_role_text(content))
        if name == "eval":
            call = eval_role_text(content)
            if call is None:
                raise ValueError(f"{self.doc}: cannot evaluate {{eval}}`{content}` (only glued(...))")
            return self.value(*call)
        if name.startswith("cite"):
            role = name.split(":", 1)[1] if ":" in name else "p"
            keys = [k.strip() for k in content.split(",") if k.strip()]
            return self.book.cite(role, keys)
        if name == "doc":
            text, target = self._split(content)
            doc = self.book.resolve_doc(target, self.doc)
            text = text or self.book.titles.get(doc, posixpath.basename(doc))
            return f"[{text}]({self.book.link_to(doc, self.doc)})"
        if name in ("ref", "numref"):
            text, label = self._split(content)
            target = self.book.labels.get(label)
            if target is None:
                warn(f"{self.doc}: unknown label {label!r}")
                return text or label
            text = text or target.text
            if target.doc == self.doc:
                return text
            return f"[{text}]({self.book.link_to(target.doc, self.doc)})"
        if name == "eq":
            text, label = self._split(content)
            if label not in self.book.equations:
                warn(f"{self.doc}: unknown equation {label!r}")
                return text or label
            doc, number = self.book.equations[label]
            text = text or f"({number})"
            return text if doc == self.doc else f"[{text}]({self.book.link_to(doc, self.doc)})"
        if name == "math":
            return f"${content}$"
        if name in ("term", "abbr", "sub", "sup", "kbd", "index"):
            text, _ = self._split(content)
            text = text or content
            if name == "abbr":
                text = re.sub(r"\s*\(.*\)$", "", text)
            return {"sub": f"<sub>{text}</sub>", "sup": f"<sup>{text}</sup>"}.get(name, text)
        if name == "download":
            text, target = self._split(content)
            path = posixpath.normpath(posixpath.join(posixpath.dirname(self.doc), target))
            url = f"{self.book.repository}/blob/{self.book.branch}/{path}"
            return f"[{text or posixpath.basename(target)}]({url})"
        warn(f"{self.doc}: role {{{name}}} shown as its text")
        return self._split(content)[0] or content

    @staticmethod
    def _split(content: str) -> tuple[str, str]:
        m = TARGETED.match(content.strip())
        if m:
            return m.group(1).strip(), m.group(2).strip()
        return "", content.strip()

    # -- blocks ---------------------------------------------------------------------------

    def markdown(self, text: str) -> str:
        lines = text.split("\n")
        out: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            # a code fence (not a directive): copied as it is
            m = re.match(r"^(\s*)(`{3,}|~{3,})(.*)$", line)
            if m and not m.group(3).lstrip().startswith("{"):
                fence = m.group(2)
                j = i + 1
                while j < len(lines) and not re.match(
                    rf"^\s*{re.escape(fence)}{re.escape(fence[0])}*\s*$", lines[j]
                ):
                    j += 1
                out.extend(lines[i : j + 1])
                i = j + 1
                continue
            # a directive, in colons or backticks
            m = re.match(r"^(\s*)(:{3,}|`{3,})\{([\w:-]+)\}\s*(.*?)\s*$", line)
            if m:
                indent, fence, name, argument = m.groups()
                options, body, i = self._directive_block(lines, i + 1, fence)
                block = self.directive(name, argument, options, body)
                out.extend((indent + b) if b else b for b in block.split("\n"))
                continue
            # a target: removed
            if re.match(r"^\s*\([^()\s]+\)=\s*$", line):
                i += 1
                continue
            # a MyST comment: removed
            if re.match(r"^\s*%", line):
                i += 1
                continue
            # a labelled display equation: labelled with its number instead
            m = re.match(r"^(.*)\$\$\s*\(([^()\s]+)\)\s*$", line)
            if m:
                tag = self._tag(m.group(2))
                head = m.group(1)
                if head.strip():
                    out.append(f"{head}{tag}$$")
                else:
                    out.extend([f"{head}{tag.strip()}", f"{head}$$"] if tag else [f"{head}$$"])
                i += 1
                continue
            out.append(self.inline_links(self.inline(line)))
            i += 1
        text = "\n".join(out)
        return re.sub(r"\n{3,}", "\n\n", text)

    def _directive_block(self, lines: list[str], i: int, fence: str):
        options: dict[str, str] = {}
        while i < len(lines):
            m = re.match(r"^\s*:([\w-]+):\s*(.*?)\s*$", lines[i])
            if not m:
                break
            options[m.group(1)] = m.group(2)
            i += 1
        if fence[0] == "`" and i < len(lines) and lines[i].strip() == "---":  # YAML options
            j = i + 1
            while j < len(lines) and lines[j].strip() != "---":
                j += 1
            options.update(yaml.safe_load("\n".join(lines[i + 1 : j])) or {})
            i = j + 1
        body = []
        inner = None
        close = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        while i < len(lines):
            line = lines[i]
            if inner:
                if re.match(rf"^\s*{re.escape(inner)}{re.escape(inner[0])}*\s*$", line):
                    inner = None
                body.append(line)
                i += 1
                continue
            if close.match(line):
                i += 1
                break
            m = re.match(r"^\s*(`{3,}|~{3,})", line)
            if m and fence[0] == ":":
                inner = m.group(1)
            body.append(line)
            i += 1
        return options, "\n".join(body).strip("\n"), i

    def directive(self, name: str, argument: str, options: dict, body: str) -> str:
        classes = str(options.get("class", "")).split()
        if name in CODE_DIRECTIVES:
            language = argument or "python"
            return f"```{language}\n{body}\n```"
        if name == "math":
            tag = self._tag(options.get("label", ""))
            return f"$$\n{body}{tag}\n$$"
        content = self.markdown(body)
        if name == "exercise":
            label = options.get("label", "")
            number = self.book.exercises.get(label, "")
            title = self.inline(argument)
            head = f"**Exercise {number}: {title}**" if title else f"**Exercise {number}**"
            return quote(head, content)
        if name == "solution":
            label = argument.strip()
            number = self.book.exercises.get(label)
            summary = f"Solution to Exercise {number}" if number else "Solution"
            return details(summary, content)
        if name in ("dropdown", "toggle") or "dropdown" in classes:
            title = self.inline(argument) or name.capitalize()
            return details(title, content)
        if name in ADMONITIONS:
            title = self.inline(argument) if argument else name.capitalize()
            return quote(f"**{title}**", content)
        if name in ("figure", "image"):
            alt = options.get("alt", "")
            return f"![{alt}]({self._relative(argument)})" + (f"\n\n{content}" if content else "")
        warn(f"{self.doc}: directive {{{name}}} shown as a quote")
        title = self.inline(argument) if argument else name.capitalize()
        return quote(f"**{title}**", content)

    def _tag(self, label: str) -> str:
        doc, number = self.book.equations.get(label, ("", ""))
        return f" \\tag{{{number}}}" if number and doc == self.doc else ""

    def inline_links(self, text: str) -> str:
        """Relative Markdown links resolved from readers/ (notebooks to notebooks, pages to
        the website, other files to the repository's file)."""

        def fix(m: re.Match) -> str:
            target = m.group(2)
            if re.match(r"^[a-z][\w+.-]*:|^#|^/", target, re.I):
                return m.group(0)
            path, _, anchor = target.partition("#")
            if path.endswith(".ipynb"):
                return m.group(0)
            doc = self.book.resolve_doc(path, self.doc)
            if path.endswith(".md") or self.book.source(doc) is not None:
                url = self.book.link_to(doc, self.doc)
            else:
                url = self._relative(path)
            return f"{m.group(1)}({url}{'#' + anchor if anchor else ''})"

        return re.sub(r"(\[[^\]]*\])\(([^)\s]+)\)", fix, text)

    def _relative(self, path: str) -> str:
        if re.match(r"^[a-z][\w+.-]*:", path, re.I):
            return path
        book_path = posixpath.normpath(posixpath.join(posixpath.dirname(self.doc), path))
        here = posixpath.dirname(reader_path(self.doc))
        return posixpath.relpath(book_path, here)


def quote(head: str, content: str) -> str:
    lines = [head, "", *content.split("\n")] if content else [head]
    return "\n".join(f"> {line}".rstrip() for line in lines)


def details(summary: str, content: str) -> str:
    # Blank lines around the content: Markdown inside <details> renders in JupyterLab and Colab.
    return f"<details>\n<summary>{summary}</summary>\n\n{content}\n\n</details>"


def reader_path(doc: str) -> str:
    """book/principles/parallel -> readers/principles/parallel (posix)."""
    return posixpath.join(READERS, posixpath.relpath(doc, BOOK))


# ---------------------------------------------------------------------------------------
# Notebooks
# ---------------------------------------------------------------------------------------


def header_cell(book: Book, doc: str) -> dict:
    source = f"{doc}.ipynb"
    repo = book.repository
    lines = [
        "**Reader's edition.** This notebook is generated from "
        + (f"[`{source}`]({repo}/blob/{book.branch}/{source})" if repo else f"`{source}`")
        + " by `scripts/readers_edition.py`: the same cells and the outputs of the run that was "
        "committed, with the chapter's MyST markup turned into plain Markdown (numbers in the "
        "text, citations, numbered exercises, solutions folded). Edit the source, not this file.",
        "",
    ]
    if book.website:
        lines += [f"Read it as a web page: <{book.website}/{doc}.html>.", ""]
    lines += [
        "**To run it** on Colab or any Jupyter: run the cells from the top. The first code cell "
        "installs the course's package, `computing_change`, from GitHub when it is missing "
        "(on Colab it is); locally, install the course with `pip install -r requirements.txt` "
        "from a clone of " + (f"<{repo}>" if repo else "the repository") + ".",
    ]
    return {"cell_type": "markdown", "id": HEADER_ID, "metadata": {}, "source": "\n".join(lines)}


def _split_source(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def convert_outputs(outputs: list, conv: Converter) -> list:
    kept = []
    for output in outputs:
        output = copy.deepcopy(output)
        data = output.get("data")
        if data is not None:
            for mime in [m for m in data if m.startswith(GLUE_PREFIX)]:
                del data[mime]
            if not data:
                continue
            if WIDGET_VIEW in data:
                data["text/plain"] = WIDGET_TEXT
            if "text/markdown" in data:
                md = data["text/markdown"]
                md = "".join(md) if isinstance(md, list) else md
                data["text/markdown"] = _split_source(conv.markdown(md))
        kept.append(output)
    return kept


def _renumber(cells: list[dict]) -> None:
    """Number the kept code cells 1, 2, 3, ... in the order they ran: a ``remove-cell`` cell
    (glue records only) left a gap in the committed run's execution counts."""
    count = 0
    for cell in cells:
        if cell["cell_type"] != "code" or cell.get("execution_count") is None:
            continue
        count += 1
        cell["execution_count"] = count
        for output in cell.get("outputs", []):
            if output.get("output_type") == "execute_result":
                output["execution_count"] = count


def readers_notebook(book: Book, path: Path) -> dict:
    """The reader's edition of one notebook, as a JSON-ready dict."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    doc = str(path.relative_to(book.root).with_suffix("")).replace("\\", "/")
    conv = Converter(book, doc, glue_data(nb))
    cells = [header_cell(book, doc)]
    for cell in nb["cells"]:
        cell = copy.deepcopy(cell)
        meta = cell.get("metadata", {})
        tags = set(meta.get("tags", []))
        if "remove-cell" in tags:
            continue
        meta.pop("execution", None)
        meta.pop("user_expressions", None)
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            source = conv.markdown(source).strip("\n")
        elif cell["cell_type"] == "code":
            if tags & {"remove-output"}:
                cell["outputs"] = []
            cell["outputs"] = convert_outputs(cell.get("outputs", []), conv)
            if tags & {"hide-input", "remove-input"}:
                meta.setdefault("jupyter", {})["source_hidden"] = True
        cell["source"] = _split_source(source)
        cells.append(cell)
    _renumber(cells)
    nb["cells"] = cells
    nb["metadata"] = copy.deepcopy(nb.get("metadata", {}))
    nb["metadata"]["readers_edition"] = {"source": f"{doc}.ipynb"}
    return nb


def dumps(nb: dict) -> str:
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def sources(root: Path = ROOT) -> list[Path]:
    return sorted(
        p
        for p in (root / BOOK).rglob("*.ipynb")
        if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts
    )


def target(path: Path, root: Path = ROOT) -> Path:
    return root / READERS / path.relative_to(root / BOOK)


def build(root: Path = ROOT) -> dict[Path, str]:
    """Every reader's edition, by output path, as text."""
    book = Book(root)
    return {target(p, root): dumps(readers_notebook(book, p)) for p in sources(root)}


def stale(root: Path = ROOT) -> list[str]:
    """The reader's editions that are missing, out of date, or left over."""
    want = build(root)
    bad = [
        str(p.relative_to(root))
        for p, text in want.items()
        if not p.exists() or p.read_text(encoding="utf-8") != text
    ]
    extra = [str(p.relative_to(root)) for p in (root / READERS).rglob("*.ipynb") if p not in want]
    return sorted(bad + extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="list stale files and exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale()
        for name in bad:
            print(f"stale: {name}")
        if bad:
            print("run: python scripts/readers_edition.py", file=sys.stderr)
        return 1 if bad else 0
    want = build()
    for path, text in want.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    for path in sorted((ROOT / READERS).rglob("*.ipynb")):
        if path not in want:
            path.unlink()
            print(f"removed {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
