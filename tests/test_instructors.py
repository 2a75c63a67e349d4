"""The instructors' part and the edition: the course map agrees with the chapters, the
plans add up and respect the prerequisites, CITATION.cff is valid Citation File Format
1.2.0, and the version is the same in pyproject.toml, CITATION.cff, CHANGELOG.md,
_config.yml and the site's footer."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import os
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTORS = ROOT / "book" / "instructors"
PART_CAPTION = "For instructors · 教师指南"
ASSIGNMENTS = ("A1", "A2", "A3", "A4", "A5")


def _load_course_map():
    spec = importlib.util.spec_from_file_location("course_map", ROOT / "scripts" / "course_map.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("course_map", module)
    spec.loader.exec_module(module)
    return module


cm = _load_course_map()


@pytest.fixture(scope="module")
def rows():
    return cm.read_map()


@pytest.fixture(scope="module")
def pyproject_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


# ---------------------------------------------------------------------------------------
# The part in the table of contents
# ---------------------------------------------------------------------------------------


def test_instructors_part_is_numbered_between_the_course_and_the_appendices():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    captions = [p.get("caption") for p in toc["parts"]]
    assert PART_CAPTION in captions, f"no part {PART_CAPTION!r} in _toc.yml"
    i = captions.index(PART_CAPTION)
    assert captions[i - 1].startswith("The course") and captions[i + 1].startswith("Appendices"), captions
    part = toc["parts"][i]
    assert part.get("numbered") is True
    files = [c["file"] for c in part["chapters"]]
    files += [s["file"] for c in part["chapters"] for s in c.get("sections", [])]
    for name in ("index", "course_map", "plans", "hardware", "pitfalls"):
        assert f"book/instructors/{name}" in files, f"book/instructors/{name} is not in the part"
    for f in files:
        assert (ROOT / f"{f}.md").exists(), f"{f}.md missing"


# ---------------------------------------------------------------------------------------
# The course map
# ---------------------------------------------------------------------------------------


def test_time_estimates_are_read_from_what_you_need(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# T\n\n**What you'll need**: NumPy. About\n60 to 90 minutes to read and run.\n\nNext.")
    assert cm.time_estimate(page) == (60, 90)
    page.write_text("# T\n\n**What you'll need**: about 45 minutes. The cell takes about 5 minutes.\n")
    assert cm.time_estimate(page) == (45, 45)
    page.write_text("# T\n\nNo such paragraph; about 10 minutes.\n")
    assert cm.time_estimate(page) is None


def test_every_chapter_of_the_toc_is_in_the_course_map(rows):
    mapped = {r.doc for r in rows}
    missing = [p.doc for p in cm.toc_pages() if p.doc not in mapped]
    assert not missing, f"pages of _toc.yml missing from the course map: {missing}"
    assert len(rows) == len(cm.toc_pages())


def test_course_map_times_and_prerequisites_agree_with_the_chapters(rows):
    problems = cm.check(rows)
    assert not problems, (
        "the course map disagrees with the chapters (times and exercise counts: "
        "python scripts/course_map.py --update; prerequisites: edit the table):\n" + "\n".join(problems)
    )
    # every chapter with a notebook states its time, and the map has it
    stated = [r for r in rows if r.minutes is not None]
    assert len(stated) >= 15


def test_the_check_catches_a_wrong_time_and_a_missing_prerequisite(rows):
    wrong = [dataclasses.replace(r, minutes=(5, 5)) if r.number == "3.1" else r for r in rows]
    assert any(p.startswith("3.1 ") and "minutes" in p for p in cm.check(wrong))
    dropped = [dataclasses.replace(r, needs=()) if r.number == "6.1" else r for r in rows]
    assert any(p.startswith("6.1:") and "does not list" in p for p in cm.check(dropped))
    extra = [dataclasses.replace(r, helps=("1",)) if r.number == "3.1" else r for r in rows]
    assert any(p.startswith("3.1:") and "does not name" in p for p in cm.check(extra))


def test_course_map_totals(rows):
    text = (INSTRUCTORS / "course_map.md").read_text(encoding="utf-8")
    m = re.search(
        r"core chapters (\d+)–(\d+) min of reading and running with (\d+) exercises; optional\s+"
        r"chapters (\d+) min with (\d+) exercises; the whole course (\d+)–(\d+) min with (\d+) exercises",
        text,
    )
    assert m, "the course map's totals sentence is missing or reworded"
    got = [int(x) for x in m.groups()]

    def total(sel, i):
        return sum(r.minutes[i] for r in sel if r.minutes)

    core = [r for r in rows if r.core]
    opt = [r for r in rows if not r.core]
    assert total(opt, 0) == total(opt, 1), "an optional chapter has a range: reword the totals"
    want = [
        total(core, 0), total(core, 1), sum(r.exercises for r in core),
        total(opt, 1), sum(r.exercises for r in opt),
        total(rows, 0), total(rows, 1), sum(r.exercises for r in rows),
    ]  # fmt: skip
    assert got == want, f"totals on the page {got}, from the table {want}"


def test_course_map_svg_is_drawn_from_the_table(rows):
    svg = (INSTRUCTORS / "course_map.svg").read_text(encoding="utf-8")
    assert svg == cm.render_svg(rows), "course_map.svg is stale: run python scripts/course_map.py"
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in svg and "<script" not in svg and "<image" not in svg
    for r in rows:
        if r.minutes is not None:
            assert f'<tspan font-weight="bold">{r.number}</tspan>' in svg


def test_prerequisite_graph_has_no_cycle(rows):
    nodes = [r for r in rows if r.minutes is not None]
    depth = cm._layers(nodes)  # raises on a cycle
    assert depth["1"] == 0 and depth["5"] >= 2


# ---------------------------------------------------------------------------------------
# The plans
# ---------------------------------------------------------------------------------------


def _minutes(cell: str) -> int:
    cell = cell.strip()
    if cell == "—":
        return 0
    m = re.fullmatch(r"(?:(\d+) h)?\s*(?:(\d+) min)?", cell)
    assert m and cell, f"not a duration: {cell!r}"
    return 60 * int(m.group(1) or 0) + int(m.group(2) or 0)


def _plan(heading: str) -> list[dict]:
    text = (INSTRUCTORS / "plans.md").read_text(encoding="utf-8")
    start = text.index(f"## {heading}")
    lines = text[start:].splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("| Week | Read and run |"))
    weeks = []
    for line in lines[head + 2 :]:
        if not line.startswith("|"):
            break
        week, read, optional, reading, exercises, assignment, total = (
            c.strip() for c in line.strip().strip("|").split("|")
        )
        a = None if assignment == "—" else assignment.split(" · ")
        weeks.append(
            {
                "week": int(week),
                "read": [] if read == "—" else [x.strip() for x in read.split(",")],
                "optional": [] if optional == "—" else [x.strip() for x in optional.split(",")],
                "reading": _minutes(reading),
                "exercises": _minutes(exercises),
                "assignment": None if a is None else a[0],
                "assignment_min": 0 if a is None else _minutes(a[1]),
                "total": _minutes(total),
            }
        )
    return weeks


PLANS = {"5-week": "The 5-week module", "10-week": "The 10-week course"}
EXERCISE_MIN = 40  # two exercises of 20 minutes per chapter read that has exercises


@pytest.mark.parametrize("plan", PLANS)
def test_plan_hours_add_up(plan, rows):
    by_number = {r.number: r for r in rows}
    weeks = _plan(PLANS[plan])
    assert [w["week"] for w in weeks] == list(range(1, len(weeks) + 1))
    for w in weeks:
        for n in w["read"] + w["optional"]:
            assert n in by_number, f"{plan} week {w['week']}: {n} is not a chapter of the course map"
        reading = sum(by_number[n].minutes[1] for n in w["read"] if by_number[n].minutes)
        assert w["reading"] == reading, (
            f"{plan} week {w['week']}: reading {w['reading']} min, chapters {reading}"
        )
        exercises = EXERCISE_MIN * sum(1 for n in w["read"] if by_number[n].exercises)
        assert w["exercises"] == exercises, (
            f"{plan} week {w['week']}: exercises {w['exercises']}, expected {exercises}"
        )
        assert w["total"] == w["reading"] + w["exercises"] + w["assignment_min"], (
            f"{plan} week {w['week']}: total"
        )


@pytest.mark.parametrize("plan", PLANS)
def test_plan_respects_prerequisites_and_covers_the_core(plan, rows):
    by_number = {r.number: r for r in rows}
    weeks = _plan(PLANS[plan])
    when: dict[str, int] = {}
    for w in weeks:
        for n in w["read"] + w["optional"]:
            assert n not in when, f"{plan}: chapter {n} is planned twice"
            when[n] = w["week"]
    for n, week in when.items():
        for pre in by_number[n].prerequisites:
            assert pre in when and when[pre] <= week, (
                f"{plan}: chapter {n} (week {week}) names {pre}, planned {when.get(pre, 'never')}"
            )
    required = {n for w in weeks for n in w["read"]}
    core = {r.number for r in rows if r.core}
    assert core <= required, f"{plan}: core chapters not required: {sorted(core - required)}"
    if plan == "10-week":
        with_time = {r.number for r in rows if r.minutes}
        assert with_time <= set(when), f"10-week: chapters never planned: {sorted(with_time - set(when))}"


def _assignment_chapters() -> dict[str, list[str]]:
    text = (INSTRUCTORS / "plans.md").read_text(encoding="utf-8")
    found = {}
    for a, chapters in re.findall(r"^\| \*\*(A\d)\*\* \| [^|]+ \| ([^|]+) \|$", text, flags=re.M):
        found[a] = [c.strip() for c in chapters.split(",")]
    return found


def test_assignments_one_per_week_and_after_their_chapters():
    chapters = _assignment_chapters()
    assert tuple(chapters) == ASSIGNMENTS
    five = _plan(PLANS["5-week"])
    assert [w["assignment"] for w in five] == list(ASSIGNMENTS), "the 5-week plan has one assignment a week"
    ten = _plan(PLANS["10-week"])
    order = [w["assignment"] for w in ten if w["assignment"]]
    assert sorted(set(order)) == list(ASSIGNMENTS) and order == sorted(order)
    for plan in (five, ten):
        for a in ASSIGNMENTS:
            last = max(w["week"] for w in plan if w["assignment"] == a)
            read = {n for w in plan if w["week"] <= last for n in w["read"]}
            for c in chapters[a]:
                assert any(cm.covers(c, n) for n in read), f"{a} draws on {c}, not read by week {last}"
    text = (INSTRUCTORS / "plans.md").read_text(encoding="utf-8")
    assert "bash scripts/build_assignments.sh" in text and "_build/assignments/student/" in text
    for week in range(1, 6):
        section = text.split(f"### Week {week}:")[1].split("###")[0]
        assert f"**{ASSIGNMENTS[week - 1]}**" in section, f"week {week}'s outcomes do not name its assignment"


# ---------------------------------------------------------------------------------------
# The hardware page names what the code names
# ---------------------------------------------------------------------------------------


def test_hardware_page_uses_the_course_names():
    from computing_change.core.pools import SCHEDULER_ENV

    text = (INSTRUCTORS / "hardware.md").read_text(encoding="utf-8")
    assert SCHEDULER_ENV in text
    assert "usable_cores()" in text and "safe_size()" in text
    assert "scripts/binder_profile.sh" in text and (ROOT / "scripts" / "binder_profile.sh").exists()
    pitfalls = (INSTRUCTORS / "pitfalls.md").read_text(encoding="utf-8")
    for topic in ("Timings differ", "Thermal throttling", "more cores than they may use", "CPUs"):
        assert topic in pitfalls, topic
    assert pitfalls.count("**What to say.**") >= 5


# ---------------------------------------------------------------------------------------
# The edition: CITATION.cff, CHANGELOG.md, pyproject.toml, _config.yml
# ---------------------------------------------------------------------------------------

# The top-level keys of Citation File Format 1.2.0 (its schema allows no others).
CFF_KEYS = {
    "abstract", "authors", "cff-version", "commit", "contact", "date-released", "doi",
    "identifiers", "keywords", "license", "license-url", "message", "preferred-citation",
    "references", "repository", "repository-artifact", "repository-code", "title", "type",
    "url", "version",
}  # fmt: skip
CFF_REQUIRED = {"authors", "cff-version", "message", "title"}
PERSON_KEYS = {
    "family-names", "given-names", "name-particle", "name-suffix", "affiliation", "address",
    "alias", "city", "country", "email", "fax", "orcid", "post-code", "region", "tel", "website",
}  # fmt: skip
URL = re.compile(r"^(https|http|ftp|sftp)://.+")
DATE = re.compile(r"^[0-9]{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])$")


def _check_authors(authors, where: str) -> None:
    assert isinstance(authors, list) and authors, f"{where}: authors must be a non-empty list"
    for a in authors:
        assert isinstance(a, dict), f"{where}: an author must be a mapping"
        if "name" in a:  # an entity
            assert isinstance(a["name"], str) and a["name"].strip()
        else:  # a person
            assert set(a) <= PERSON_KEYS and ({"family-names", "given-names"} & set(a)), a


@pytest.fixture(scope="module")
def cff() -> dict:
    # BaseLoader keeps every scalar a string, as the CFF schema expects (a date stays text).
    return yaml.load((ROOT / "CITATION.cff").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)


def test_citation_cff_is_valid_cff_1_2_0(cff):
    assert CFF_REQUIRED <= set(cff), f"missing: {sorted(CFF_REQUIRED - set(cff))}"
    assert set(cff) <= CFF_KEYS, f"not CFF 1.2.0 keys: {sorted(set(cff) - CFF_KEYS)}"
    assert cff["cff-version"] == "1.2.0"
    assert cff["message"].strip() and cff["title"].strip()
    _check_authors(cff["authors"], "CITATION.cff")
    assert cff.get("type", "software") in ("software", "dataset")
    licenses = cff["license"] if isinstance(cff["license"], list) else [cff["license"]]
    assert set(licenses) <= {"CC-BY-4.0", "BSD-3-Clause"} and len(set(licenses)) == len(licenses)
    assert (ROOT / "LICENSE").exists() and (ROOT / "LICENSE-TEXT.md").exists()
    for key in ("repository-code", "url", "repository"):
        if key in cff:
            assert URL.match(cff[key]), key
    assert DATE.match(cff["date-released"]), "date-released must be YYYY-MM-DD"
    dt.date.fromisoformat(cff["date-released"])
    keywords = cff.get("keywords", [])
    assert len(set(keywords)) == len(keywords) and all(k.strip() for k in keywords)
    pref = cff.get("preferred-citation")
    if pref is not None:
        assert {"authors", "title", "type"} <= set(pref)
        _check_authors(pref["authors"], "preferred-citation")
        assert pref.get("version", cff["version"]) == cff["version"]


def test_citation_points_at_the_configured_repository(cff):
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert cff["repository-code"] == config["repository"]["url"]


def test_one_version_everywhere(cff, pyproject_version):
    v = pyproject_version
    assert cff["version"] == v, f"CITATION.cff version {cff['version']} != pyproject.toml {v}"
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    subs = config["parse"]["myst_substitutions"]
    assert "substitution" in config["parse"]["myst_enable_extensions"]
    assert str(subs["version"]) == v, f"_config.yml parse.myst_substitutions.version != {v}"
    assert f"edition {v}" in config["html"]["extra_footer"], "the site's footer must show the edition"


def test_changelog_names_the_edition(cff, pyproject_version):
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog")
    assert "\n## [Unreleased]\n" in text
    m = re.search(rf"^## \[{re.escape(pyproject_version)}\] - (\d{{4}}-\d{{2}}-\d{{2}})$", text, flags=re.M)
    assert m, f"CHANGELOG.md has no heading '## [{pyproject_version}] - YYYY-MM-DD'"
    assert m.group(1) == cff["date-released"], "CHANGELOG.md and CITATION.cff disagree on the release date"
    headings = re.findall(r"^## \[([^\]]+)\]", text, flags=re.M)
    assert headings[0] == "Unreleased" and len(set(headings)) == len(headings)
    for h in headings:
        assert re.search(rf"^\[{re.escape(h)}\]: https://", text, flags=re.M), f"no link for [{h}]"


def test_the_site_shows_the_edition(site):
    """The instructors' front page shows {{ version }}; on the built site the footer and that
    page show the version itself."""
    assert "{{ version }}" in (INSTRUCTORS / "index.md").read_text(encoding="utf-8")
    v = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    page = site / "book" / "instructors" / "index.html"
    assert page.exists(), f"the built site has no {page.relative_to(site)}"
    sources = (INSTRUCTORS / "index.md", ROOT / "_config.yml", ROOT / "pyproject.toml")
    if os.environ.get("CC_BUILT_SITE") and page.stat().st_mtime < max(p.stat().st_mtime for p in sources):
        pytest.skip("CC_BUILT_SITE is older than its sources: rebuild it (bash scripts/build_site.sh)")
    text = page.read_text(encoding="utf-8")
    assert f"edition <strong>{v}</strong>" in text and "{{" not in text
    assert f"edition {v}" in (site / "book" / "intro.html").read_text(encoding="utf-8")
