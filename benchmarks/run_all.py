#!/usr/bin/env python3
"""Run every benchmark script in benchmarks/ and print one JSON report.

Each script prints one JSON object on stdout (its figures). The report adds the machine
they ran on and, with ``--build`` / ``--tests``, the wall time of the website build and of
the whole test suite. Not part of the test suite: speed claims live here.

Usage: python benchmarks/run_all.py [--build] [--tests] [--only NAME ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _last_json(text: str):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                pass
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def run_script(path: Path, timeout: float) -> dict:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(path)], capture_output=True, text=True, timeout=timeout, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    seconds = round(time.perf_counter() - t0, 1)
    result = _last_json(proc.stdout)
    if proc.returncode != 0 or result is None:
        return {"error": f"exit {proc.returncode}", "stderr": proc.stderr[-2000:], "seconds": seconds}
    return {"figures": result, "seconds": seconds}


def timed(cmd: list[str], timeout: float) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    return {"seconds": round(time.perf_counter() - t0, 1), "exit": proc.returncode, "last_line": tail}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", action="store_true", help="also time the website build")
    ap.add_argument("--tests", action="store_true", help="also time the whole test suite")
    ap.add_argument("--only", nargs="*", default=None, help="run only these scripts (names without .py)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds allowed per script")
    ap.add_argument("--out", type=Path, default=None, help="also write the report to this file")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    from computing_change.machine import profile

    prof = profile(measure=False)
    report = {"machine": dict(prof.rows()), "benchmarks": {}}
    scripts = sorted(
        p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_")
    )
    if args.only:
        scripts = [p for p in scripts if p.stem in args.only]
    for path in scripts:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        report["benchmarks"][path.stem] = run_script(path, args.timeout)
    if args.build:
        with tempfile.TemporaryDirectory() as tmp:
            jb = str(Path(sys.executable).with_name("jupyter-book"))
            report["site_build"] = timed(
                [jb, "build", ".", "--all", "-W", "-n", "--keep-going", "--path-output", tmp], 1800
            )
    if args.tests:
        report["test_suite"] = timed(["bash", "scripts/test.sh"], 5400)
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.out:
        args.out.write_text(text)
    failed = [k for k, v in report["benchmarks"].items() if "error" in v]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
