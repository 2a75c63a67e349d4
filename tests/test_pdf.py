"""The printable book (scripts/build_pdf.sh): one PDF, built offline, every chapter in it,
Chinese rendered with the site's own font, no blank page."""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.browser


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_pdf", ROOT / "scripts" / "build_pdf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _chapters() -> list[str]:
    """The English part of every chapter title in the table of contents."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = []

    def walk(entries):
        for e in entries:
            files.append(e["file"])
            walk(e.get("sections", []))

    for part in toc["parts"]:
        walk(part["chapters"])
    titles = []
    for f in files:
        path = next(ROOT.glob(f + ".*"))
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            text = "".join(next(c for c in cells if c["cell_type"] == "markdown")["source"])
        else:
            text = path.read_text(encoding="utf-8")
        heading = next(line for line in text.splitlines() if line.startswith("# "))
        titles.append(heading[2:].split("·")[0].strip())
    return titles


@pytest.fixture(scope="session")
def pdf_text(tmp_path_factory, browser) -> list[str]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} not found: install Debian's chromium (see .ci/run)"
    from pypdf import PdfReader

    builder = _load_builder()
    out = tmp_path_factory.mktemp("pdf")
    site = builder.build_single_html(out / "build")
    pdf = out / "computing-change.pdf"
    builder.print_pdf(site, pdf, browser=browser)
    return [page.extract_text() or "" for page in PdfReader(pdf).pages]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\ufb01", "fi").replace("\ufb02", "fl").replace("’", "'"))


def test_page_count_is_plausible(pdf_text):
    assert 80 <= len(pdf_text) <= 800, len(pdf_text)


def test_every_chapter_title_is_in_the_pdf(pdf_text):
    text = _norm(" ".join(pdf_text))
    titles = _chapters()
    assert len(titles) >= 20
    missing = [t for t in titles if _norm(t) not in text]
    assert not missing, f"chapter titles missing from the PDF: {missing}"


def test_no_page_without_text(pdf_text):
    blank = [i + 1 for i, t in enumerate(pdf_text) if len(t.strip()) < 40]
    assert not blank, f"pages with (almost) no text: {blank}"


def test_chinese_renders(pdf_text):
    """The article's headings are printed as text (the web font has the glyphs), not boxes."""
    text = re.sub(r"\s+", "", " ".join(pdf_text))  # text extraction spaces CJK characters apart
    for heading in ("并行计算", "分布式计算", "内存优化", "算法优化"):
        assert heading in text, f"{heading} is not in the PDF's text: CJK font missing?"


def test_solutions_are_left_out_and_widgets_labelled(pdf_text):
    text = _norm(" ".join(pdf_text))
    assert "Interactive on the website" in text
    assert "Solution to Exercise" not in text
