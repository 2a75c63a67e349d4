"""The test suite's own plugin (loaded by pytest from the repository root).

1. nbval compares floats at the precision that carries meaning (8 significant digits),
   not at the last bit, which depends on the SIMD kernels NumPy picks for the reader's CPU.
2. The run gets its own temporary folder (TMPDIR), and the leak check judges only it and
   the run's own child processes.
3. Every notebook that nbval runs is measured: wall time and peak memory of its kernel and
the kernel's child processes (process pools, Dask workers).
4. After each notebook's last cell, one more item, "widget probe", drives every widget the
   notebook left alive in its kernel to invalid settings (tests/widget_probe.py).

After the run, a table is printed and ``_build/notebook_report.json`` written. A notebook
whose peak memory exceeds ``CC_MAX_NOTEBOOK_MIB`` (default 1536 MiB, what fits Binder's
2 GiB) fails the run. ``CC_MEMORY_CAP_MIB`` (set by scripts/binder_profile.sh to 2048)
makes the monitor end a kernel that grows past it, as Binder's out-of-memory killer would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

pytest_plugins = ("pytester",)  # tests/test_leak_check.py runs the suite's plugin in a sandbox

MAX_MIB = float(os.environ.get("CC_MAX_NOTEBOOK_MIB", "1536"))
CAP_MIB = float(os.environ.get("CC_MEMORY_CAP_MIB", "0")) or None
_REPORT: dict[str, dict] = {}


# --------------------------------------------------------------------------------------
# 1. Floats compared at 8 significant digits.
# --------------------------------------------------------------------------------------
# NumPy picks its SIMD kernels (exp, log, sums) at run time by CPU, so the same cell gives
# 10.427885734290449 on a CPU with AVX-512 and 10.427885734290447 on one without; glue
# records the full repr and nbval would compare all 17 digits. The prose shows 2 to 4.
# Every decimal float in a compared output (glued records, printed text, HTML tables) is
# rewritten to 8 significant digits on both sides before nbval compares them, so a real
# change of a result still fails while the last bits of a sum do not. Integers, version
# strings (3.11.7) and addresses (127.0.0.1) are left alone.
SIGNIFICANT_DIGITS = 8
_FLOAT = re.compile(r"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?(?![\w.])|(?<![\w.])-?\d+[eE][-+]?\d+(?![\w.])")


def round_floats(text: str, digits: int = SIGNIFICANT_DIGITS) -> str:
    """Every decimal float in ``text`` written with ``digits`` significant digits."""

    def _round(m: re.Match) -> str:
        value = float(m.group(0))
        return format(0.0 if value == 0 else value, f".{digits}g")

    return _FLOAT.sub(_round, text)


def _patch_nbval() -> None:
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: nothing to patch
        return
    if getattr(IPyNbCell.sanitize, "_cc_rounds", False):
        return
    original = IPyNbCell.sanitize

    def sanitize(self, s):
        s = original(self, s)
        return round_floats(s) if isinstance(s, str) else s

    sanitize._cc_rounds = True
    IPyNbCell.sanitize = sanitize


# --------------------------------------------------------------------------------------
# 2. The run's own temporary folder.
# --------------------------------------------------------------------------------------
# Other programs on the reader's machine (an editor, a browser, another build) create files
# in the system temp folder while the suite runs; they are not the suite's leaks. The run
# creates its own folder, points TMPDIR (and so tempfile, the nbval kernels, Dask and the
# process pools they start) at it, checks it at the end and removes it.


def _own_tmpdir(config) -> None:
    if hasattr(config, "_cc_tmpdir"):
        return
    own = tempfile.mkdtemp(prefix="cc-tests-")
    config._cc_tmpdir = own
    config._cc_old_tmpdir = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = own
    tempfile.tempdir = None  # tempfile re-reads TMPDIR on its next call


def _restore_tmpdir(config) -> None:
    own = getattr(config, "_cc_tmpdir", None)
    if own is None:
        return
    if config._cc_old_tmpdir is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = config._cc_old_tmpdir
    tempfile.tempdir = None
    shutil.rmtree(own, ignore_errors=True)


# --------------------------------------------------------------------------------------
# 4. The widget probe, run in each notebook's kernel after its last cell.
# --------------------------------------------------------------------------------------
PROBE = Path(__file__).resolve().parent / "tests" / "widget_probe.py"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class WidgetProbe(pytest.Item):
    """Runs tests/widget_probe.py in the notebook's kernel, after its last cell."""

    def runtest(self):
        kernel = getattr(self.parent, "kernel", None)
        if kernel is None or not kernel.is_alive():
            pytest.skip("the notebook's kernel is not running")
        code = (
            "import runpy as _cc_runpy\n"
            f"print('probed', _cc_runpy.run_path({str(PROBE)!r})['probe_widgets'](), 'widget(s)')\n"
            "del _cc_runpy"
        )
        msg_id = kernel.execute_cell_input(code, allow_stdin=False)
        kernel.await_reply(msg_id, timeout=600)
        text, error = [], None
        while True:
            msg = kernel.get_message(stream="iopub", timeout=600)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                text.append(content["text"])
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                break
        if error:
            raise AssertionError(error)
        saved = json.loads(self.path.read_text(encoding="utf-8"))
        has_widgets = any(
            WIDGET_MIME in out.get("data", {}) for cell in saved["cells"] for out in cell.get("outputs", [])
        )
        probed = int(re.search(r"probed (\d+)", "".join(text)).group(1))
        if has_widgets and not probed:
            raise AssertionError("the notebook shows widgets, but none was alive in its kernel to probe")

    def repr_failure(self, excinfo):
        return str(excinfo.value)

    def reportinfo(self):
        return self.path, 0, f"{self.parent.name}::widget probe"


def pytest_collection_modifyitems(session, config, items):
    out = []
    for i, item in enumerate(items):
        out.append(item)
        nbfile = item.parent
        if _is_nbval_file(nbfile) and (i + 1 == len(items) or items[i + 1].parent is not nbfile):
            out.append(WidgetProbe.from_parent(nbfile, name="widget probe"))
    items[:] = out


def pytest_configure(config):
    _patch_nbval()
    _own_tmpdir(config)


def pytest_unconfigure(config):
    _restore_tmpdir(config)


def _kernel_pid(nbfile) -> int | None:
    kernel = getattr(nbfile, "kernel", None)
    km = getattr(kernel, "km", None)
    for getter in (
        lambda: km.provisioner.process.pid,
        lambda: km.kernel.pid,
    ):
        try:
            return int(getter())
        except Exception:
            continue
    return None


class _Monitor:
    def __init__(self, pid: int):
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self.killed = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _rss(self) -> int:
        import psutil

        total = 0
        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
        except psutil.Error:
            return 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self):
        while not self.stop.wait(0.1):
            rss = self._rss()
            self.peak = max(self.peak, rss)
            if CAP_MIB and rss > CAP_MIB * 2**20 and not self.killed:
                self.killed = True
                try:
                    for p in [*self.proc.children(recursive=True), self.proc]:
                        p.kill()
                except Exception:
                    pass

    def close(self) -> int:
        self.stop.set()
        self.thread.join(timeout=2)
        return self.peak


def _is_nbval_file(node) -> bool:
    return type(node).__name__ == "IPyNbFile"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    yield
    nbfile = item.parent
    if _is_nbval_file(nbfile) and not hasattr(nbfile, "_cc_monitor"):
        pid = _kernel_pid(nbfile)
        nbfile._cc_start = time.perf_counter()
        nbfile._cc_monitor = _Monitor(pid) if pid else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    nbfile = item.parent
    last = _is_nbval_file(nbfile) and (nextitem is None or nextitem.parent is not nbfile)
    if last and hasattr(nbfile, "_cc_monitor"):
        mon = nbfile._cc_monitor
        peak = mon.close() if mon else 0
        _REPORT[str(nbfile.path.relative_to(Path(__file__).parent))] = {
            "seconds": round(time.perf_counter() - nbfile._cc_start, 1),
            "peak_mib": round(peak / 2**20, 1),
            "killed_at_cap": bool(mon and mon.killed),
        }
    yield


def pytest_sessionfinish(session, exitstatus):
    leaks = _leak_check(session.config)
    session.config._cc_leaks = leaks
    if leaks and session.exitstatus == 0:
        session.exitstatus = 1
    if not _REPORT:
        return
    out = Path(__file__).parent / "_build"
    out.mkdir(exist_ok=True)
    (out / "notebook_report.json").write_text(json.dumps(_REPORT, indent=2))
    over = {k: v for k, v in _REPORT.items() if v["peak_mib"] > MAX_MIB or v["killed_at_cap"]}
    if over and session.exitstatus == 0:
        session.exitstatus = 1
    session.config._cc_over = over


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tr = terminalreporter
    leaks = getattr(config, "_cc_leaks", [])
    if leaks:
        tr.section("leak check FAILED (CC_LEAK_CHECK=0 skips it while developing)")
        for line in leaks:
            tr.write_line("  " + line, red=True)
    if not _REPORT:
        return
    tr.section("notebooks: time and peak memory (kernel + children)")
    for name, r in sorted(_REPORT.items(), key=lambda kv: -kv[1]["seconds"]):
        flag = "  <-- over the limit" if r["peak_mib"] > MAX_MIB or r["killed_at_cap"] else ""
        tr.write_line(f"{r['seconds']:7.1f} s  {r['peak_mib']:8.1f} MiB  {name}{flag}")
    over = getattr(config, "_cc_over", {})
    if over:
        tr.write_line(f"FAILED: {len(over)} notebook(s) above {MAX_MIB:g} MiB peak memory", red=True)


# --------------------------------------------------------------------------------------
# Nothing may outlive the tests: no child process of this run (process pools, Dask clusters,
# kernels) and no temporary file or folder in the run's own folder (pytest's own tmp_path
# folders excepted). Files other programs create in the system temp folder are not looked at.
# --------------------------------------------------------------------------------------
_LEAK_CHECK = os.environ.get("CC_LEAK_CHECK", "1") != "0"


def _temp_entries(root: Path | None = None) -> set[str]:
    """What the run's own temporary folder holds (pytest's tmp_path folders excepted)."""
    root = Path(root or tempfile.gettempdir())
    try:
        return {p.name for p in root.iterdir() if not p.name.startswith("pytest-of-")}
    except OSError:
        return set()


def pytest_sessionstart(session):
    if not _LEAK_CHECK:
        return
    import psutil

    session.config._cc_children = {p.pid for p in psutil.Process().children(recursive=True)}
    session.config._cc_temp = _temp_entries(getattr(session.config, "_cc_tmpdir", None))


def _helper(proc) -> bool:
    """multiprocessing's resource tracker (and forkserver) live exactly as long as the
    test process that started them: they end with it, so they are not leaks."""
    try:
        cmd = " ".join(proc.cmdline())
    except Exception:
        return False
    return "multiprocessing.resource_tracker" in cmd or "multiprocessing.forkserver" in cmd


def _leak_check(config) -> list[str]:
    if not _LEAK_CHECK or not hasattr(config, "_cc_children"):
        return []
    import psutil

    deadline = time.time() + 15
    while True:
        left = [
            p
            for p in psutil.Process().children(recursive=True)
            if p.pid not in config._cc_children and p.status() != psutil.STATUS_ZOMBIE and not _helper(p)
        ]
        if not left or time.time() > deadline:
            break
        time.sleep(0.5)
    new_temp = sorted(_temp_entries(getattr(config, "_cc_tmpdir", None)) - config._cc_temp)
    problems = [f"process left running: {p.pid} {' '.join(p.cmdline()[:4])}" for p in left]
    problems += [f"temporary file left behind: {name}" for name in new_temp]
    return problems
