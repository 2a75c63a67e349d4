#!/usr/bin/env python3
"""Fetch what the website and its browser tests need offline, from the npm registry, at
pinned versions.

The site serves MathJax, RequireJS, the ipywidgets HTML manager, anywidget's front end
(the live formula widgets) and a Chinese web font
(Noto Sans SC) itself, so formulas typeset, saved widgets render and Chinese text shows on
machines without a CJK system font, with no internet. The browser tests inject axe-core
(the accessibility audit) into every page; it is test-only and never published with the
site. Each package is downloaded as the tarball the npm registry publishes, checked
against the registry's sha512 integrity string pinned below (``npm view <pkg>@<version>
dist.integrity``), and unpacked into its destination (both ignored by git):

* ``book/_static/vendor/``: published with the website;
* ``tests/_vendor/``: used by tests/test_site.py only.

Run it again at any time: it does nothing when the pinned files are already in place.
Usage: python scripts/fetch_assets.py [--force]
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "book" / "_static" / "vendor"
TEST_VENDOR = ROOT / "tests" / "_vendor"
REGISTRY = "https://registry.npmjs.org"

# Noto Sans SC: only the regular (400) and bold (700) faces, as woff2 (every browser the
# site supports reads it), and only for Chinese: each @font-face keeps the part of its
# unicode-range inside the CJK blocks below, and faces left with none are dropped. The site's
# CSS (book/_static/cc-site.css) can then name the font first in every font stack: CJK
# characters are drawn with it on every machine, whatever CJK fonts the system has or lacks,
# and everything else (Latin text, quotes, dashes) with the theme's own fonts. Each weight is
# ~90 unicode-range slices, so a browser fetches only the slices whose characters a page
# shows (0.5-0.7 MB for a page of Chinese; the browser caches them across pages).
FONT_WEIGHTS = ("400", "700")
CJK_RANGES = [
    (0x2E80, 0x2FFF),  # radicals, Kangxi, ideographic description
    (0x3000, 0x9FFF),  # CJK punctuation (、。《》「」), kana, bopomofo, Ext. A, unified ideographs
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0xFE10, 0xFE1F),  # vertical forms
    (0xFE30, 0xFE4F),  # compatibility forms
    (0xFF00, 0xFFEF),  # full-width forms (，：（）！？)
    (0x20000, 0x3FFFF),  # supplementary ideographs
]
_FACE = re.compile(r"(?:/\*[^*]*\*/\s*)?@font-face\s*\{[^}]*\}\s*")
_FONT_FILE = re.compile(
    r"package/files/noto-sans-sc-[a-z0-9-]+-(" + "|".join(FONT_WEIGHTS) + r")-normal\.woff2"
)
_RANGE = re.compile(r"unicode-range:\s*([^;]*);")
_WOFF_FALLBACK = re.compile(r",\s*url\([^)]*\.woff\)\s*format\('woff'\)")


def _cjk_only(ranges: str) -> str:
    """The part of a CSS unicode-range list inside CJK_RANGES ('' when none)."""
    kept = []
    for part in ranges.split(","):
        lo, _, hi = part.strip().upper().removeprefix("U+").partition("-")
        a, b = int(lo, 16), int(hi or lo, 16)
        for c, d in CJK_RANGES:
            lo_, hi_ = max(a, c), min(b, d)
            if lo_ <= hi_:
                kept.append(f"U+{lo_:x}" if lo_ == hi_ else f"U+{lo_:x}-{hi_:x}")
    return ",".join(kept)


def _font_css(css: bytes) -> bytes:
    """fontsource's @font-face rules for Chinese only, woff2 only (the .woff files are not
    shipped)."""
    faces = []
    for face in _FACE.findall(css.decode("utf-8")):
        match = _RANGE.search(face)
        ranges = _cjk_only(match.group(1)) if match else ""
        if ranges:
            face = face[: match.start(1)] + ranges + face[match.end(1) :]
            faces.append(_WOFF_FALLBACK.sub("", face))
    if not faces:
        sys.exit("fetch_assets: no CJK @font-face rule in the font's CSS")
    head = "/* Noto Sans SC (SIL Open Font License 1.1, see LICENSE), from @fontsource/noto-sans-sc:\n"
    head += " * CJK unicode ranges only, woff2 only (scripts/fetch_assets.py). */\n"
    return (head + "".join(faces)).encode("utf-8")


def _prune_fonts(folder: Path) -> int:
    """Keep only the font files the rewritten CSS refers to; return how many were removed."""
    used = set()
    for css in folder.glob("*.css"):
        used |= set(re.findall(r"url\(\./files/([^)]+)\)", css.read_text(encoding="utf-8")))
    removed = 0
    for font in (folder / "files").iterdir():
        if font.name not in used:
            font.unlink()
            removed += 1
    missing = used - {f.name for f in (folder / "files").iterdir()}
    if missing:
        sys.exit(f"fetch_assets: font files missing from the package: {sorted(missing)[:5]}")
    return removed


# name, version, sha512 integrity from the registry, destination,
# {path in tarball: path under destination}, optional: a filter of tarball paths for
# folder mappings, {tarball path: function rewriting the file's bytes}, and a function to
# run once the package is unpacked (it returns how many unpacked files it removed)
PACKAGES = [
    {
        "name": "mathjax",
        "version": "3.2.2",
        "integrity": "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        "dest": VENDOR,
        "map": {"package/es5/": "mathjax/"},
    },
    {
        "name": "requirejs",
        "version": "2.3.8",
        "integrity": "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        "dest": VENDOR,
        "map": {"package/require.js": "require.js"},
    },
    {
        "name": "@jupyter-widgets/html-manager",
        "version": "1.0.15",
        "integrity": "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        "dest": VENDOR,
        "map": {"package/dist/": "html-manager/"},
    },
    {
        # the front end of the live formula widgets (computing_change.models.views): an AMD module
        # that book/_static/widgets-config.js maps for RequireJS, so the HTML manager loads it
        # from the site instead of a CDN
        "name": "anywidget",
        "version": "0.11.0",
        "integrity": "sha512-LHZgW2j5UjyerZSZcO+BtZPXGMSORQV2bUT480hOR5x/BXS8sOradi/71amJfMueSEnKX0dqPwTfsOGHTsyZpQ==",
        "dest": VENDOR,
        "map": {"package/dist/index.js": "anywidget/index.js", "package/LICENSE": "anywidget/LICENSE"},
    },
    {
        "name": "@fontsource/noto-sans-sc",
        "version": "5.3.0",
        "integrity": "sha512-HeqIlGm0+ohOKxZLuHj1qW6r6avHH0OWdKERAcSDI0RQ+MXrteuLKA+M+5eOA8rYy0MFvOR5AT0fQo2rUkye0Q==",
        "dest": VENDOR,
        "map": {
            **{f"package/{w}.css": f"noto-sans-sc/{w}.css" for w in FONT_WEIGHTS},
            "package/LICENSE": "noto-sans-sc/LICENSE",
            "package/files/": "noto-sans-sc/files/",
        },
        "only": lambda path: not path.startswith("package/files/") or bool(_FONT_FILE.fullmatch(path)),
        "rewrite": {f"package/{w}.css": _font_css for w in FONT_WEIGHTS},
        "after": lambda: _prune_fonts(VENDOR / "noto-sans-sc"),
        # in the stamp: changing what is kept of the package fetches it again
        "variant": "weights "
        + ",".join(FONT_WEIGHTS)
        + " woff2, ranges "
        + ",".join(f"{a:x}-{b:x}" for a, b in CJK_RANGES),
    },
    {
        "name": "axe-core",
        "version": "4.14.1",
        "integrity": "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
        "dest": TEST_VENDOR,
        "map": {"package/axe.min.js": "axe.min.js", "package/LICENSE": "axe-core-LICENSE"},
    },
]


def _tarball_url(name: str, version: str) -> str:
    base = name.split("/")[-1]
    return f"{REGISTRY}/{name}/-/{base}-{version}.tgz"


def _check(data: bytes, integrity: str, name: str) -> None:
    algo, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if digest != expected:
        sys.exit(f"fetch_assets: {name}: integrity mismatch (got {algo}-{digest})")


def _unpack(pkg: dict, data: bytes) -> int:
    dest: Path = pkg["dest"]
    only = pkg.get("only", lambda path: True)
    rewrite = pkg.get("rewrite", {})
    count = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile() or not only(member.name):
                continue
            for src, dst in pkg["map"].items():
                if member.name == src or (src.endswith("/") and member.name.startswith(src)):
                    rel = dst + member.name[len(src) :] if src.endswith("/") else dst
                    target = (dest / rel).resolve()
                    if dest.resolve() not in target.parents:
                        sys.exit(f"fetch_assets: unsafe path {member.name!r} in {pkg['name']}")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    content = tar.extractfile(member).read()
                    if member.name in rewrite:
                        content = rewrite[member.name](content)
                    target.write_bytes(content)
                    count += 1
    return count


def fetch(force: bool = False) -> None:
    for dest in (VENDOR, TEST_VENDOR):
        packages = [p for p in PACKAGES if p["dest"] == dest]
        stamp = dest / "VERSIONS.txt"
        wanted = "".join(
            f"{p['name']}@{p['version']} {p['integrity']} {p.get('variant', '')}".rstrip() + "\n"
            for p in packages
        )
        where = dest.relative_to(ROOT)
        if not force and stamp.exists() and stamp.read_text() == wanted:
            print(f"fetch_assets: up to date in {where}")
            continue
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for pkg in packages:
            url = _tarball_url(pkg["name"], pkg["version"])
            with urllib.request.urlopen(url, timeout=300) as resp:
                data = resp.read()
            _check(data, pkg["integrity"], pkg["name"])
            count = _unpack(pkg, data)
            if "after" in pkg:
                count -= pkg["after"]()
            print(
                f"fetch_assets: {pkg['name']}@{pkg['version']}: {count} files in {where}, integrity checked"
            )
        stamp.write_text(wanted)


if __name__ == "__main__":
    fetch(force="--force" in sys.argv[1:])
