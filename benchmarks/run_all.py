#!/usr/bin/env python3
"""Run every benchmark script in benchmarks/ and print one JSON report.

Each script prints one JSON object on stdout (its figures). The report starts with the
machine's roofs (``machine.roofs()``: float64 and float32 peaks on all usable cores and on one
core, and the memory bandwidth, the best of dot, copy and triad), measured once here and
handed to every script (the file named by ``machine.ROOFS_ENV``), so that all of them place
their kernels under the same roofs; a script's own copy of them is checked and left out of
its figures. Then the machine they ran on and, with ``--build`` / ``--tests``, the wall time
of the website build and of the whole test suite. Not part of the test suite: speed claims
live here.

The run fails (exit 1) when a script fails, when a script used other roofs, or when any
figure named ``*fraction_of*`` is above ``machine.ROOF_TOLERANCE`` (1.05): no kernel can
run above the roof it is placed under, and 5 % is what measurement noise allows.

Usage: python benchmarks/run_all.py [--build] [--tests] [--only NAME ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
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


def fractions_above(figures, limit: float, prefix: str = "") -> list[str]:
    """Paths of every number under a key containing ``fraction_of`` that exceeds ``limit``."""
    found = []
    if isinstance(figures, dict):
        for key, value in figures.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if "fraction_of" in str(key):
                values = value.items() if isinstance(value, dict) else [("", value)]
                for sub, v in values:
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and v > limit:
                        found.append(f"{path}{'.' + str(sub) if sub else ''} = {v:.3g}")
            found += fractions_above(value, limit, path)
    elif isinstance(figures, list):
        for i, item in enumerate(figures):
            found += fractions_above(item, limit, f"{prefix}[{i}]")
    return found


def run_script(path: Path, timeout: float, env: dict | None = None) -> dict:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(path)], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env
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
    from computing_change.core import machine

    print("measuring the roofs ...", file=sys.stderr, flush=True)
    roofs = machine.roofs(budget=60.0)  # once for every script: time for more rounds on a busy machine
    prof = machine.profile(measure=False)
    report = {
        "roofs": roofs.as_dict(),
        "roofs_text": dict(roofs.rows()),
        "roof_tolerance": machine.ROOF_TOLERANCE,
        "machine": dict(prof.rows()),
        "benchmarks": {},
    }
    roofs_dir = tempfile.TemporaryDirectory()
    roofs_file = roofs.save(Path(roofs_dir.name) / "roofs.json")
    env = dict(os.environ, **{machine.ROOFS_ENV: str(roofs_file)})
    scripts = sorted(
        p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_")
    )
    if args.only:
        scripts = [p for p in scripts if p.stem in args.only]
    for path in scripts:
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        result = run_script(path, args.timeout, env)
        figures = result.get("figures")
        if isinstance(figures, dict) and "roofs" in figures:
            theirs = machine.Roofs.from_dict(figures.pop("roofs"))
            if theirs.as_dict() | {"source": ""} != roofs.as_dict() | {"source": ""}:
                result["error"] = "the script placed its kernels under roofs of its own"
        above = fractions_above(figures, machine.ROOF_TOLERANCE)
        if above:
            result["error"] = f"fractions above {machine.ROOF_TOLERANCE:g} of their roof: {above}"
        report["benchmarks"][path.stem] = result
    if args.build:
        with tempfile.TemporaryDirectory() as tmp:
            jb = str(Path(sys.executable).with_name("jupyter-book"))
            report["site_build"] = timed(
                [jb, "build", ".", "--all", "-W", "-n", "--keep-going", "--path-output", tmp], 1800
            )
    if args.tests:
        report["test_suite"] = timed(["bash", "scripts/test.sh"], 5400)
    roofs_dir.cleanup()
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.out:
        args.out.write_text(text)
    failed = [k for k, v in report["benchmarks"].items() if "error" in v]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
