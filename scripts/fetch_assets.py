#!/usr/bin/env python3
"""Fetch the JavaScript the website needs offline, from the npm registry, at pinned versions.

The site serves MathJax, RequireJS and the ipywidgets HTML manager itself, so formulas
typeset and saved widgets render with no internet. Each package is downloaded as the
tarball the npm registry publishes, checked against the registry's sha512 integrity
string pinned below, and unpacked into ``book/_static/vendor/`` (ignored by git).

Run it again at any time: it does nothing when the pinned files are already in place.
Usage: python scripts/fetch_assets.py [--force]
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "book" / "_static" / "vendor"
REGISTRY = "https://registry.npmjs.org"

# name, version, sha512 integrity from the registry, {path in tarball: path under vendor/}
PACKAGES = [
    (
        "mathjax",
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        {"package/es5/": "mathjax/"},
    ),
    (
        "requirejs",
        "2.3.8",
        "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        {"package/require.js": "require.js"},
    ),
    (
        "@jupyter-widgets/html-manager",
        "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        {"package/dist/": "html-manager/"},
    ),
]


def _tarball_url(name: str, version: str) -> str:
    base = name.split("/")[-1]
    return f"{REGISTRY}/{name}/-/{base}-{version}.tgz"


def _check(data: bytes, integrity: str, name: str) -> None:
    algo, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if digest != expected:
        sys.exit(f"fetch_assets: {name}: integrity mismatch (got {algo}-{digest})")


def fetch(force: bool = False) -> None:
    stamp = VENDOR / "VERSIONS.txt"
    wanted = "".join(f"{n}@{v} {i}\n" for n, v, i, _ in PACKAGES)
    if not force and stamp.exists() and stamp.read_text() == wanted:
        print(f"fetch_assets: up to date in {VENDOR.relative_to(ROOT)}")
        return
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    VENDOR.mkdir(parents=True)
    for name, version, integrity, mapping in PACKAGES:
        url = _tarball_url(name, version)
        with urllib.request.urlopen(url, timeout=120) as resp:
            data = resp.read()
        _check(data, integrity, name)
        count = 0
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                for src, dst in mapping.items():
                    if member.name == src or (src.endswith("/") and member.name.startswith(src)):
                        rel = dst + member.name[len(src) :] if src.endswith("/") else dst
                        target = (VENDOR / rel).resolve()
                        if VENDOR.resolve() not in target.parents:
                            sys.exit(f"fetch_assets: unsafe path {member.name!r} in {name}")
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(tar.extractfile(member).read())
                        count += 1
        print(f"fetch_assets: {name}@{version}: {count} files, integrity checked")
    stamp.write_text(wanted)


if __name__ == "__main__":
    fetch(force="--force" in sys.argv[1:])
