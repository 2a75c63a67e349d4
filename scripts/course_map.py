"""The instructors' course map, checked against the chapters themselves.

The table in ``book/instructors/course_map.md`` lists every page of the course with its
number, the chapters it names as prerequisites, whether it is core or optional, the
reading-and-running time and the number of exercises. The times and prerequisites are the
chapters' own: each chapter states them in its **What you'll need** paragraph ("about 45
minutes", "chapter 3.2", a ``{doc}`` link), and this module reads them from there.

    python scripts/course_map.py           # redraw book/instructors/course_map.svg from the table
    python scripts/course_map.py --check   # exit 1 if the table disagrees with the chapters
                                           # or the SVG is out of date
    python scripts/course_map.py --update  # copy the chapters' times and exercise counts into
                                           # the table and its totals, then redraw the SVG

``tests/test_instructors.py`` runs the same checks. The SVG is drawn here, in plain Python,
so the page needs no JavaScript and no network (a layered drawing, left to right: a chapter
sits one column right of the last chapter it needs).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from html import escape
from pathlib import Path, PurePosixPath

import yaml

ROOT = Path(__file__).resolve().parents[1]
MAP_PAGE = ROOT / "book" / "instructors" / "course_map.md"
SVG_PATH = ROOT / "book" / "instructors" / "course_map.svg"
#: The parts of the table of contents the course map covers.
COURSE_PARTS = ("The course · 课程", "Appendices · 附录")


# ---------------------------------------------------------------------------------------
# The table of contents
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    number: str  # "3.1"; "App. 1", "App. 2" for the unnumbered appendices
    doc: str  # "book/principles/parallel" (no suffix), as in _toc.yml
    part: str
    is_index: bool  # a chapter page that has sections (an introduction to them)

    @property
    def path(self) -> Path:
        for suffix in (".ipynb", ".md"):
            if (ROOT / (self.doc + suffix)).exists():
                return ROOT / (self.doc + suffix)
        raise FileNotFoundError(f"{self.doc}: neither .ipynb nor .md exists")


def toc_pages(toc_path: Path = ROOT / "_toc.yml") -> list[Page]:
    """The pages of the course's parts in ``_toc.yml``, numbered as the website numbers them
    (numbered parts continue one count; the appendices are App. 1, App. 2, ...)."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    pages: list[Page] = []
    chapter = 0
    for part in toc["parts"]:
        caption = part.get("caption", "")
        numbered = part.get("numbered", False)
        for i, ch in enumerate(part.get("chapters", []), 1):
            if numbered:
                chapter += 1
                num = str(chapter)
            else:
                num = f"App. {i}"
            sections = ch.get("sections", [])
            if caption in COURSE_PARTS:
                pages.append(Page(num, ch["file"], caption, bool(sections)))
            for j, sec in enumerate(sections, 1):
                if caption in COURSE_PARTS:
                    pages.append(Page(f"{num}.{j}", sec["file"], caption, False))
    return pages


# ---------------------------------------------------------------------------------------
# What the chapters say about themselves
# ---------------------------------------------------------------------------------------


def markdown_text(path: Path) -> str:
    """The page's markdown: a .md file, or a notebook's markdown cells joined."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return path.read_text(encoding="utf-8")


def need_paragraph(path: Path) -> str | None:
    """The chapter's **What you'll need** paragraph (up to the next blank line), or None."""
    text = markdown_text(path)
    start = text.find("**What you'll need**")
    if start < 0:
        return None
    end = text.find("\n\n", start)
    return text[start : end if end >= 0 else len(text)]


_TIME = re.compile(r"\b[Aa]bout\s+(\d+)(?:\s+to\s+(\d+))?\s+minutes")


def time_estimate(path: Path) -> tuple[int, int] | None:
    """The chapter's own reading-and-running estimate in minutes, as (low, high), or None.

    The first "about N minutes" or "about N to M minutes" of its What you'll need paragraph.
    """
    para = need_paragraph(path)
    m = _TIME.search(para or "")
    if m is None:
        return None
    lo = int(m.group(1))
    return lo, int(m.group(2) or lo)


def exercise_count(path: Path) -> int:
    return len(re.findall(r"^:{3,}\{exercise\}", markdown_text(path), flags=re.M))


# A page link: {doc}`Title <path>` (Markdown pages) or [Title](path.ipynb) (notebooks, which
# JupyterLab opens; book/_ext/cc_site.py gives the website the {doc} role).
_DOC = re.compile(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`|\]\((?![a-z][a-z0-9+.-]*:)([^)\s#]+?)\.(?:ipynb|md)\)")
_CHAPTER_REF = re.compile(
    r"\b(?:[Cc]hapters?|[Ss]ections?)\s+"
    r"(\d+(?:\.\d+)?(?:\s*(?:\([^)]*\)\s*)?(?:,|and)\s*\d+(?:\.\d+)?)*)"
)


def named_chapters(page: Page, pages: list[Page]) -> set[str]:
    """The page numbers the chapter's What you'll need paragraph names.

    A ``{doc}`` link names its page (a chapter's introduction names the chapter). "chapter 3",
    "chapters 3.1 and 3.2", "chapter 3.3 (...) and 3.4" name those numbers; a number that is
    not a page of its own (the "section 2.2" inside a page) names its chapter.
    """
    para = need_paragraph(page.path)
    if para is None:
        return set()
    by_doc = {p.doc: p.number for p in pages}
    numbers = {p.number for p in pages}
    found: set[str] = set()
    here = PurePosixPath(page.doc).parent
    for target in (doc or link for doc, link in _DOC.findall(para)):
        doc = _normalise(here / target.strip())
        if doc not in by_doc:
            raise ValueError(f"{page.doc}: What you'll need links to {target!r}, not a page of the course")
        found.add(by_doc[doc])
    for chain in _CHAPTER_REF.findall(para):
        for num in re.findall(r"\d+(?:\.\d+)?", re.sub(r"\([^)]*\)", "", chain)):
            found.add(num if num in numbers else num.split(".")[0])
    found.discard(page.number)
    return found


def _normalise(path: PurePosixPath) -> str:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def covers(named: str, listed: str) -> bool:
    """Whether a prerequisite ``listed`` in the map lies within the chapter ``named`` by the
    text: "3" covers 3.1 to 3.4, "3.2" covers only 3.2."""
    return listed == named or listed.startswith(named + ".")


# ---------------------------------------------------------------------------------------
# The table on the course map page
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    number: str
    doc: str
    needs: tuple[str, ...]
    helps: tuple[str, ...]
    core: bool
    minutes: tuple[int, int] | None
    exercises: int

    @property
    def label(self) -> str:
        """The chapter's English title, shortened at its first colon or comma (for the graph)."""
        title = markdown_text(ROOT / self.path_suffix()).lstrip().splitlines()[0].lstrip("# ")
        return re.split(r"[:,]", title.split(" · ")[0])[0].strip()

    def path_suffix(self) -> str:
        for suffix in (".ipynb", ".md"):
            if (ROOT / (self.doc + suffix)).exists():
                return self.doc + suffix
        raise FileNotFoundError(f"{self.doc}: neither .ipynb nor .md exists")

    @property
    def prerequisites(self) -> tuple[str, ...]:
        return self.needs + self.helps


_LINK = re.compile(r"^\{doc\}`([^`]+)`$")
_MINUTES = re.compile(r"^(\d+)(?:–(\d+))? min$")


def _numbers(cell: str) -> tuple[str, ...]:
    cell = cell.strip()
    if cell in ("", "—"):
        return ()
    return tuple(n.strip() for n in cell.split(","))


def read_map(page: Path = MAP_PAGE) -> list[Row]:
    """The rows of the course map table (the one whose header starts ``| # | Chapter |``)."""
    return read_map_text(page.read_text(encoding="utf-8"))


def read_map_text(text: str) -> list[Row]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| # | Chapter |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 7:
            raise ValueError(f"course map row must have 7 cells: {line!r}")
        number, link, needs, helps, kind, minutes, exercises = cells
        m = _LINK.match(link)
        if m is None:
            raise ValueError(f"course map row {number}: the chapter must be a {{doc}} link, got {link!r}")
        doc = _normalise(PurePosixPath("book/instructors") / m.group(1))
        if kind not in ("core", "optional"):
            raise ValueError(f"course map row {number}: 'core' or 'optional', got {kind!r}")
        if minutes == "—":
            span = None
        else:
            t = _MINUTES.match(minutes)
            if t is None:
                raise ValueError(f"course map row {number}: time must be like '45 min' or '60–90 min'")
            span = (int(t.group(1)), int(t.group(2) or t.group(1)))
        rows.append(
            Row(
                number=number,
                doc=doc,
                needs=_numbers(needs),
                helps=_numbers(helps),
                core=kind == "core",
                minutes=span,
                exercises=0 if exercises == "—" else int(exercises),
            )
        )
    return rows


def check(rows: list[Row] | None = None) -> list[str]:
    """Every disagreement between the course map and the chapters (empty: they agree)."""
    rows = read_map() if rows is None else rows
    pages = toc_pages()
    problems: list[str] = []
    by_number = {r.number: r for r in rows}
    if [r.number for r in rows] != [p.number for p in pages]:
        problems.append(
            "the course map must list every page of the course and the appendices, in the table "
            f"of contents' order: {[p.number for p in pages]}; it lists {[r.number for r in rows]}"
        )
    for p in pages:
        row = by_number.get(p.number)
        if row is None:
            continue
        if row.doc != p.doc:
            problems.append(f"{p.number}: the map links {row.doc}, _toc.yml has {p.doc}")
            continue
        stated = time_estimate(p.path)
        if row.minutes != stated:
            problems.append(f"{p.number} ({p.doc}): the map says {row.minutes} minutes, the chapter {stated}")
        if row.exercises != exercise_count(p.path):
            problems.append(
                f"{p.number}: the map counts {row.exercises} exercises, the chapter has {exercise_count(p.path)}"
            )
        named = named_chapters(p, pages)
        listed = set(row.prerequisites)
        for n in sorted(named):
            if not any(covers(n, x) for x in listed):
                problems.append(
                    f"{p.number}: the chapter names {n} in What you'll need; the map does not list it"
                )
        for x in sorted(listed):
            if x not in by_number:
                problems.append(f"{p.number}: prerequisite {x} is not a page of the course")
            elif not any(covers(n, x) for n in named):
                problems.append(
                    f"{p.number}: the map lists {x}, which the chapter's What you'll need does not name"
                )
        if set(row.needs) & set(row.helps):
            problems.append(f"{p.number}: a prerequisite is listed both as needed and as helpful")
    for r in rows:
        if r.core and any(not by_number[x].core for x in r.needs if x in by_number):
            problems.append(f"{r.number} is core but needs an optional chapter")
    text = MAP_PAGE.read_text(encoding="utf-8") if MAP_PAGE.exists() else ""
    m = _TOTALS.search(text)
    if m is None or " ".join(m.group(0).split()) != " ".join(totals_sentence(rows).split()):
        problems.append("the totals under the table are out of date: python scripts/course_map.py --update")
    return problems


# ---------------------------------------------------------------------------------------
# The drawing
# ---------------------------------------------------------------------------------------

BOX_W, COL_GAP, ROW_GAP, MARGIN = 196, 60, 10, 12
#: Characters per title line (12.5 px DejaVu Sans in a 196 px box), and the line heights.
WRAP, TITLE_LINE, DETAIL_LINE = 26, 15, 13
CORE_FILL, CORE_STROKE, OPT_FILL, OPT_STROKE = "#dbe9f6", "#1f5f99", "#ffffff", "#6b6b6b"


def _layers(nodes: list[Row]) -> dict[str, int]:
    """Column of each node: 0 without prerequisites, else one right of the deepest one."""
    ids = {n.number for n in nodes}
    depth: dict[str, int] = {}

    def visit(num: str, stack: tuple[str, ...] = ()) -> int:
        if num in stack:
            raise ValueError(f"the prerequisites form a cycle through {num}")
        if num not in depth:
            row = next(n for n in nodes if n.number == num)
            pre = [x for x in row.prerequisites if x in ids]
            depth[num] = 1 + max((visit(x, (*stack, num)) for x in pre), default=-1)
        return depth[num]

    for n in nodes:
        visit(n.number)
    return depth


def _sort_key(number: str) -> tuple[int, ...]:
    return tuple(int(x) for x in number.split("."))


def _wrap(text: str, width: int) -> list[str]:
    """``text`` broken at spaces into lines of at most ``width`` characters (a longer word
    gets a line of its own)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def render_svg(rows: list[Row]) -> str:
    """The prerequisite graph as a standalone SVG: one box per page that has a time estimate,
    core pages filled, arrows from each prerequisite (solid: needed; dashed: helps)."""
    nodes = [r for r in rows if r.minutes is not None]
    depth = _layers(nodes)
    ncols = max(depth.values()) + 1
    # Long edges pass through the columns between their ends as invisible waypoints, so the
    # ordering below keeps gaps open for them and no arrow crosses a box.
    cols: list[list[str]] = [[] for _ in range(ncols)]
    for n in sorted(nodes, key=lambda r: _sort_key(r.number)):
        cols[depth[n.number]].append(n.number)
    edges = []
    for n in nodes:
        for kind, pres in (("needs", n.needs), ("helps", n.helps)):
            for x in pres:
                if x in depth:
                    chain = [x]
                    for c in range(depth[x] + 1, depth[n.number]):
                        waypoint = f"{x}>{n.number}@{c}"
                        cols[c].append(waypoint)
                        chain.append(waypoint)
                    chain.append(n.number)
                    edges.append((kind, chain))
    # Order each column by the mean position of its neighbours on the left (a few sweeps of
    # the barycentre heuristic), ties by chapter number.
    left: dict[str, list[str]] = {}
    for _, chain in edges:
        for a, b in zip(chain, chain[1:], strict=False):
            left.setdefault(b, []).append(a)
    for _ in range(4):
        pos = {v: i for col in cols for i, v in enumerate(col)}
        for c in range(1, ncols):

            def key(v: str, pos: dict[str, int] = pos) -> tuple[float, tuple[int, ...]]:
                ns = left.get(v, [])
                bary = sum(pos[u] for u in ns) / len(ns) if ns else float(pos[v])
                base = v.split(">")[0] if ">" in v else v
                return (bary, _sort_key(base))

            cols[c].sort(key=key)
            pos.update({v: i for i, v in enumerate(cols[c])})

    def height(v: str) -> int:
        return 8 if ">" in v else 10 + TITLE_LINE * len(titles[v]) + DETAIL_LINE

    titles = {n.number: _wrap(f"{n.number} {n.label}", WRAP) for n in nodes}

    xy: dict[str, tuple[float, float]] = {}
    col_heights = [sum(height(v) + ROW_GAP for v in col) - ROW_GAP for col in cols]
    tallest = max(col_heights)
    top = MARGIN + 24
    for c, col in enumerate(cols):
        y = top + (tallest - col_heights[c]) / 2
        for v in col:
            xy[v] = (MARGIN + c * (BOX_W + COL_GAP), y)
            y += height(v) + ROW_GAP
    width = MARGIN * 2 + ncols * BOX_W + (ncols - 1) * COL_GAP
    legend_y = top + tallest + 22
    total_h = legend_y + 30

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total_h}" '
        f'width="{width}" height="{total_h}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
        'role="img" aria-labelledby="cm-title cm-desc">',
        '<title id="cm-title">Computing Change: which chapter needs which</title>',
        '<desc id="cm-desc">Generated by scripts/course_map.py from the table in course_map.md. '
        "Each box is a chapter with its own time estimate; an arrow runs from a prerequisite to "
        "the chapter that names it.</desc>",
        "<defs>",
        '<marker id="cm-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444444"/></marker>',
        "</defs>",
        f'<rect x="0" y="0" width="{width}" height="{total_h}" fill="#ffffff"/>',
    ]
    for c in range(ncols):
        x = MARGIN + c * (BOX_W + COL_GAP) + BOX_W / 2
        caption = "start: no stated prerequisite" if c == 0 else ("next" if c == 1 else "then")
        out.append(
            f'<text x="{x:.0f}" y="{MARGIN + 8}" font-size="11" fill="#555555" '
            f'text-anchor="middle">{caption}</text>'
        )
    for kind, chain in sorted(edges, key=lambda e: e[0] == "needs"):
        pts = []
        for i, v in enumerate(chain):
            x, y = xy[v]
            cy = y + height(v) / 2
            if ">" in v:
                pts.append((x, cy))
                pts.append((x + BOX_W, cy))
            else:
                pts.append((x + BOX_W, cy) if i == 0 else (x, cy))
        d = f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            if abs(x1 - x0) < 1e-9 or (x1 - x0) > COL_GAP + 1:
                d += f" L{x1:.1f},{y1:.1f}"  # a straight run through a waypoint's column
            else:
                mx = (x0 + x1) / 2
                d += f" C{mx:.1f},{y0:.1f} {mx:.1f},{y1:.1f} {x1:.1f},{y1:.1f}"
        dash = ' stroke-dasharray="5 4"' if kind == "helps" else ""
        colour = "#444444" if kind == "needs" else "#8a8a8a"
        out.append(
            f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.4"{dash} marker-end="url(#cm-arrow)"/>'
        )
    by_number = {r.number: r for r in nodes}
    for v, (x, y) in xy.items():
        if ">" in v:
            continue
        r = by_number[v]
        fill, stroke = (CORE_FILL, CORE_STROKE) if r.core else (OPT_FILL, OPT_STROKE)
        dash = "" if r.core else ' stroke-dasharray="4 3"'
        lo, hi = r.minutes
        detail = f"{lo} min" if lo == hi else f"{lo}–{hi} min"
        if r.exercises:
            detail += f" · {r.exercises} ex."
        if not r.core:
            detail += " · optional"
        out.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{height(v)}" rx="6" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="1.3"{dash}/>'
        )
        for i, line in enumerate(titles[v]):
            ty = y + 4 + TITLE_LINE * (i + 1)
            if i == 0:
                rest = line[len(r.number) :]
                line = f'<tspan font-weight="bold">{escape(r.number)}</tspan>{escape(rest)}'
            else:
                line = escape(line)
            out.append(f'<text x="{x + 7:.1f}" y="{ty:.1f}" font-size="12.5" fill="#111111">{line}</text>')
        dy = y + 4 + TITLE_LINE * len(titles[v]) + DETAIL_LINE
        out.append(f'<text x="{x + 7:.1f}" y="{dy:.1f}" font-size="10.5" fill="#444444">{detail}</text>')
    lx = MARGIN
    legend = [
        ("box", CORE_FILL, CORE_STROKE, "", "core"),
        ("box", OPT_FILL, OPT_STROKE, ' stroke-dasharray="4 3"', "optional"),
        ("line", "#444444", "", "", "needed first"),
        ("line", "#8a8a8a", "", ' stroke-dasharray="5 4"', "helps"),
    ]
    for shape, a, b, dash, text in legend:
        if shape == "box":
            out.append(
                f'<rect x="{lx}" y="{legend_y - 11}" width="26" height="14" rx="3" fill="{a}" '
                f'stroke="{b}" stroke-width="1.3"{dash}/>'
            )
        else:
            out.append(
                f'<path d="M{lx},{legend_y - 4} L{lx + 26},{legend_y - 4}" stroke="{a}" stroke-width="1.4"'
                f'{dash} marker-end="url(#cm-arrow)"/>'
            )
        out.append(f'<text x="{lx + 34}" y="{legend_y}" font-size="11" fill="#333333">{text}</text>')
        lx += 34 + 7 * len(text) + 24
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _minutes_cell(span: tuple[int, int] | None) -> str:
    if span is None:
        return "—"
    return f"{span[0]} min" if span[0] == span[1] else f"{span[0]}–{span[1]} min"


def totals_sentence(rows: list[Row]) -> str:
    """The page's "In all: ..." sentence, computed from the table."""

    def span(sel: list[Row]) -> str:
        lo = sum(r.minutes[0] for r in sel if r.minutes)
        hi = sum(r.minutes[1] for r in sel if r.minutes)
        return f"{lo} min" if lo == hi else f"{lo}–{hi} min"

    core = [r for r in rows if r.core]
    opt = [r for r in rows if not r.core]
    ex = [sum(r.exercises for r in sel) for sel in (core, opt, rows)]
    return (
        f"In all: core chapters {span(core)} of reading and running with {ex[0]} exercises; optional\n"
        f"chapters {span(opt)} with {ex[1]} exercises; the whole course {span(rows)} with {ex[2]} exercises."
    )


_TOTALS = re.compile(r"In all: core chapters .*? exercises\.", re.S)


def update_map(page: Path = MAP_PAGE) -> None:
    """Copy each chapter's own time estimate and exercise count into the table, and the
    totals into the sentence under it. Prerequisites and core/optional stay as written."""
    by_doc = {p.doc: p for p in toc_pages()}
    lines = page.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| # | Chapter |"))
    for i in range(start + 2, len(lines)):
        if not lines[i].startswith("|"):
            break
        cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
        m = _LINK.match(cells[1])
        doc = _normalise(PurePosixPath("book/instructors") / m.group(1)) if m else None
        if doc in by_doc:
            path = by_doc[doc].path
            cells[5] = _minutes_cell(time_estimate(path))
            cells[6] = str(exercise_count(path) or "—")
            lines[i] = "| " + " | ".join(cells) + " |"
    text = "\n".join(lines) + "\n"
    rows = read_map_text(text)
    text = _TOTALS.sub(lambda _: totals_sentence(rows), text, count=1)
    page.write_text(text, encoding="utf-8")


def main(argv: list[str]) -> int:
    if "--update" in argv:
        update_map()
    rows = read_map()
    if "--check" in argv:
        problems = check(rows)
        if SVG_PATH.read_text(encoding="utf-8") != render_svg(rows):
            problems.append(f"{SVG_PATH.relative_to(ROOT)} is out of date: run python scripts/course_map.py")
        print("\n".join(problems) or "course map agrees with the chapters")
        return 1 if problems else 0
    problems = check(rows)
    if problems:
        print("the course map disagrees with the chapters:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    SVG_PATH.write_text(render_svg(rows), encoding="utf-8")
    print(f"wrote {SVG_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
