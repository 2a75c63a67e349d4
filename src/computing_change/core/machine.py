r"""What the reader's machine offers: usable cores, caches, memory, BLAS, and its roofs.

Everything here says ``None`` ("unknown") rather than guessing when the operating system
does not tell. Demo sizes in every chapter come from :func:`usable_cores` and
:func:`safe_size`, never from constants tuned to one laptop, so a notebook fits a 1-CPU,
2 GiB Binder container as well as a workstation.

**The roofs.** Two rates are *measured* rather than read, and the course has one
definition of each (:class:`Roofs`, returned by :func:`roofs`):

* the **peak** :math:`P`, the floating-point throughput of matrix products in NumPy's BLAS
  (the best of many timed products of 2048 x 2048 matrices, or 4096 with 8 or more cores,
  and of half and a quarter of that size, after a warm-up, in two rounds), in float64 and
  float32, on all usable cores and on one core;
* the **memory bandwidth** :math:`\beta`, the best of three streaming kernels (dot, copy
  and triad) on arrays of up to 128 MiB each (together four times the last-level cache,
  where that limit and the memory allow), on all usable cores and on one core.

They are measured once per Python session, on first use (5 to 10 seconds on a quiet
machine), and every chapter and benchmark reuses them: :func:`measure_peak_flops` and
:func:`measure_bandwidth` called without a size, :func:`profile`, and
:func:`fraction_of_roof` all return or use the same numbers; ``refresh=True`` measures them
again. A kernel on one thread is placed under the one-core roofs, and a kernel whose data
stay in a cache under that cache's roof, :func:`cache_bandwidth` (:func:`bandwidth_for`
chooses by the size of the data). Their
ratio :math:`P/\beta` is the machine balance in FLOP per byte, the ridge point of chapter 4's
roofline. No kernel can run above the roof it is placed under; a measured fraction above
:data:`ROOF_TOLERANCE` (1.05: measurement noise allows 5 %) is refused with
:class:`AboveRoofError` (:func:`check_under_roof`).

Bytes are counted as the STREAM benchmark counts them: every array element a kernel reads
once and every element it writes once (dot: 2 x 8 bytes per float64 element, copy: 2 x 8,
triad: 3 x 8). Caches that first read a line before writing it ("write allocate") move more
than that, so the figures are the bandwidth a program *sees*, not the electrical peak of the
memory bus.
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from computing_change.core.checks import check, check_int

__all__ = [
    "format_bytes",
    "usable_cores",
    "cores_allowed",
    "cpu_quota",
    "total_memory",
    "available_memory",
    "cache_sizes",
    "blas_info",
    "measure_peak_flops",
    "measure_bandwidth",
    "ROOF_TOLERANCE",
    "ROOFS_ENV",
    "AboveRoofError",
    "check_under_roof",
    "Roofs",
    "roofs",
    "fraction_of_roof",
    "cache_bandwidth",
    "BandwidthRoof",
    "bandwidth_for",
    "safe_size",
    "MachineProfile",
    "profile",
    "summary",
]

# Where the OS tells us things. Module-level so tests (and curious readers) can point
# them at a directory of their own.
_CGROUP = Path("/sys/fs/cgroup")
_PROC_CGROUP = Path("/proc/self/cgroup")
_CPU_SYSFS = Path("/sys/devices/system/cpu")
_clock: Callable[[], float] = time.perf_counter

#: cgroup v1 writes "no limit" as a huge number (2**63 rounded down to a page); anything
#: at or above this is treated as unlimited.
_NO_LIMIT = 1 << 60
#: Elements per block of the blocked triad: 32768 float64 = 256 KiB, small enough for the
#: temporary to stay in a core's L2 cache on any current CPU.
_TRIAD_BLOCK = 32768
_TRIAD_SCALAR = 3.0


# ---------------------------------------------------------------------------------------
# cgroups: how containers (Docker, Binder, Kubernetes) limit CPU and memory
# ---------------------------------------------------------------------------------------


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _own_cgroup(controller: str | None) -> str:
    """This process's cgroup path for ``controller`` (None: the v2 unified hierarchy)."""
    text = _read(_PROC_CGROUP) or ""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controller is None and controllers == "":
            return path
        if controller is not None and controller in controllers.split(","):
            return path
    return "/"


def _cgroup_dirs(mount: Path, own: str) -> list[Path]:
    """``mount`` joined with this process's cgroup path and every ancestor of it.

    Limits set on any ancestor apply too, so callers take the smallest one found. Inside a
    container the process's path is often not visible (the container's own cgroup is the
    mount's root), so the root itself is always included.
    """
    rel = Path(own.strip("/")) if own.strip("/") else Path()
    dirs = []
    while True:
        dirs.append(mount / rel)
        if rel == Path():
            break
        rel = rel.parent
    return dirs


def _v1_mount(controller: str) -> Path:
    for name in (controller, f"{controller},cpuacct", f"cpu,{controller}", f"cpuacct,{controller}"):
        if (_CGROUP / name).is_dir():
            return _CGROUP / name
    return _CGROUP / controller


def cpu_quota() -> float | None:
    """CPUs allowed by a cgroup CPU quota (how Binder and Docker limit CPU), or None.

    Reads ``cpu.max`` (cgroup v2) or ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``
    (cgroup v1) in this process's cgroup and in each of its ancestors, and returns the
    smallest quota found, in CPUs (``150000 100000`` means 1.5 CPUs). None means no quota
    is set or none could be read: the OS does not limit CPU time this way.
    """
    quotas: list[float] = []
    for d in _cgroup_dirs(_CGROUP, _own_cgroup(None)):
        text = _read(d / "cpu.max")
        if not text:
            continue
        parts = text.split()
        try:
            if parts[0] != "max" and len(parts) >= 2 and int(parts[0]) > 0 and int(parts[1]) > 0:
                quotas.append(int(parts[0]) / int(parts[1]))
        except ValueError:
            continue
    if not quotas:  # cgroup v1
        mount = _v1_mount("cpu")
        for d in _cgroup_dirs(mount, _own_cgroup("cpu")):
            q, p = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
            try:
                if q is not None and p is not None and int(q) > 0 and int(p) > 0:
                    quotas.append(int(q) / int(p))
            except ValueError:
                continue
    return min(quotas) if quotas else None


def cores_allowed(affinity: int, quota: float | None) -> int:
    """Cores a process can keep busy, given its affinity set size and a CPU quota.

    The quota is rounded *down*: with 1.5 CPUs of quota, two busy workers would each be
    throttled a quarter of the time, so only one core's worth is guaranteed. Never below 1.

    >>> cores_allowed(72, 1.0)   # Binder: 72 host cores visible, 1 CPU of quota
    1
    >>> cores_allowed(8, None)   # a laptop: no quota
    8
    """
    affinity = check_int("affinity", affinity, 1)
    if quota is not None:
        quota = check("quota", quota, 0, lo_open=True)
        # Round down, but do not let float error turn 2.0000 into 1.
        affinity = min(affinity, max(1, math.floor(quota + 1e-9)))
    return max(1, affinity)


def usable_cores() -> int:
    """Cores this process may really use: CPU affinity, capped by any cgroup CPU quota.

    ``os.cpu_count()`` counts the host's cores; on Binder it can say 72 while the container
    may use one. Affinity (``taskset``, ``os.sched_getaffinity``) is where the OS supports
    it (Linux), otherwise ``os.cpu_count()``.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        n = os.cpu_count() or 1
    return cores_allowed(max(1, n), cpu_quota())


# ---------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------


def _int_or_none(text: str | None) -> int | None:
    if text is None or text == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if 0 <= value < _NO_LIMIT else None


def _stat_value(text: str | None, *keys: str) -> int:
    """The first of ``keys`` found in a ``memory.stat`` file, or 0."""
    if not text:
        return 0
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            values[parts[0]] = int(parts[1])
    for key in keys:
        if key in values:
            return values[key]
    return 0


def _cgroup_memory() -> list[tuple[int, int | None]]:
    """(limit, working-set usage or None) for every cgroup level that sets a memory limit.

    Usage counts what the kernel could not simply drop: ``memory.current`` minus the
    inactive file cache (the way ``docker stats`` and the kubelet count it), since page
    cache from files read long ago is reclaimed before a process is killed.
    """
    levels: list[tuple[int, int | None]] = []
    for d in _cgroup_dirs(_CGROUP, _own_cgroup(None)):
        limit = _int_or_none(_read(d / "memory.max"))
        if limit is None:
            continue
        used = _int_or_none(_read(d / "memory.current"))
        if used is not None:
            used = max(0, used - _stat_value(_read(d / "memory.stat"), "inactive_file"))
        levels.append((limit, used))
    if not levels:  # cgroup v1
        mount = _v1_mount("memory")
        for d in _cgroup_dirs(mount, _own_cgroup("memory")):
            limit = _int_or_none(_read(d / "memory.limit_in_bytes"))
            if limit is None:
                continue
            used = _int_or_none(_read(d / "memory.usage_in_bytes"))
            if used is not None:
                stat = _read(d / "memory.stat")
                used = max(0, used - _stat_value(stat, "total_inactive_file", "inactive_file"))
            levels.append((limit, used))
    return levels


def _psutil_memory():
    try:
        import psutil

        return psutil.virtual_memory()
    except Exception:  # psutil is a dependency, but a broken /proc must not crash a page
        return None


def total_memory() -> int | None:
    """Physical memory in bytes, capped by any cgroup memory limit; None if unknown."""
    vm = _psutil_memory()
    total = getattr(vm, "total", None)
    for limit, _ in _cgroup_memory():
        total = limit if total is None else min(total, limit)
    return total


def available_memory() -> int | None:
    """Bytes this process can still allocate without swapping or being killed; None if unknown.

    The smaller of the system's available memory (psutil) and what each cgroup limit leaves
    (limit minus the working set; see :func:`total_memory`).
    """
    vm = _psutil_memory()
    avail = getattr(vm, "available", None)
    for limit, used in _cgroup_memory():
        if used is None:
            continue
        left = max(0, limit - used)
        avail = left if avail is None else min(avail, left)
    return avail


def safe_size(
    bytes_per_item: int,
    *,
    fraction: float = 0.05,
    max_items: int | None = None,
    min_items: int = 1,
) -> int:
    """How many items of ``bytes_per_item`` fit in ``fraction`` of the available memory.

    Capped at ``max_items`` and never below ``min_items`` (a demo that cannot run smaller
    says so with ``min_items``). When available memory is unknown it assumes 2 GiB, the
    memory of a Binder container, so no cell sized with it can exhaust one.

    Parameters
    ----------
    bytes_per_item : int, >= 1
        Bytes one item needs (8 for a float64, 3 * 8 for three float64 arrays, ...).
    fraction : float, in (0, 0.5]
        Share of the available memory the items may take.
    max_items : int >= min_items, or None
        Upper cap, so a big machine does not make a demo slow.
    min_items : int, >= 1
        Lower bound.
    """
    bytes_per_item = check_int("bytes_per_item", bytes_per_item, 1)
    fraction = check("fraction", fraction, 0, 0.5, lo_open=True)
    min_items = check_int("min_items", min_items, 1)
    if max_items is not None:
        max_items = check_int("max_items", max_items, min_items)
    avail = available_memory()
    if avail is None:
        avail = 2 * 1024**3
    items = int(avail * fraction) // bytes_per_item
    if max_items is not None:
        items = min(items, max_items)
    return max(min_items, items)


# ---------------------------------------------------------------------------------------
# Caches and BLAS
# ---------------------------------------------------------------------------------------


def _parse_size(text: str) -> int | None:
    """``"32K"`` -> 32768; sysfs writes cache sizes with a K, M or G suffix."""
    text = text.strip().upper().removesuffix("B")
    mult = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1:], 1)
    digits = text.rstrip("KMG")
    if not digits.isdigit():
        return None
    return int(digits) * mult


def cache_sizes() -> dict[str, int]:
    """CPU cache sizes in bytes by level (``"L1d"``, ``"L2"``, ``"L3"``), as the OS reports them.

    Read from Linux's sysfs for the first CPU this process may run on, or from ``sysctl``
    on macOS. Sizes are per cache, not per chip: an L3 shared by a group of cores is
    reported once. Empty when the OS does not say (common in virtual machines): "unknown".
    """
    out: dict[str, int] = {}
    try:
        cpu = min(os.sched_getaffinity(0))
    except (AttributeError, OSError, ValueError):
        cpu = 0
    for base in dict.fromkeys([_CPU_SYSFS / f"cpu{cpu}" / "cache", _CPU_SYSFS / "cpu0" / "cache"]):
        if not base.is_dir():
            continue
        for idx in sorted(base.glob("index*")):
            level, kind, size = (_read(idx / name) for name in ("level", "type", "size"))
            if not level or not kind or not size or kind == "Instruction":
                continue
            value = _parse_size(size)
            if value is None or value <= 0:
                continue
            out[f"L{level}" + ("d" if kind == "Data" else "")] = value
        if out:
            break
    if not out and platform.system() == "Darwin":  # pragma: no cover - macOS only
        import subprocess

        for key, name in (("hw.l1dcachesize", "L1d"), ("hw.l2cachesize", "L2"), ("hw.l3cachesize", "L3")):
            try:
                r = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=2)
            except (OSError, subprocess.SubprocessError):
                continue
            if r.returncode == 0 and r.stdout.strip().isdigit() and int(r.stdout) > 0:
                out[name] = int(r.stdout)
    return dict(sorted(out.items()))


def blas_info() -> dict[str, object]:
    """The BLAS library NumPy uses and its thread count (threadpoolctl), or unknowns (None).

    Keys: ``library`` (e.g. ``"openblas"``, ``"mkl"``), ``version``, ``threads`` (how many
    threads a matrix product will use) and ``architecture`` (the CPU kernel it chose).
    When several BLAS libraries are loaded, the one shipped with NumPy is preferred.
    """
    unknown: dict[str, object] = {"library": None, "version": None, "threads": None, "architecture": None}
    try:
        from threadpoolctl import threadpool_info

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    except Exception:
        return unknown
    if not pools:
        return unknown
    pools.sort(key=lambda p: "numpy" not in str(p.get("filepath", "")).lower())
    pool = pools[0]
    return {
        "library": pool.get("internal_api"),
        "version": pool.get("version"),
        "threads": pool.get("num_threads"),
        "architecture": pool.get("architecture"),
    }


# ---------------------------------------------------------------------------------------
# Measured peaks, and the roofs: one definition of each, measured once per session
# ---------------------------------------------------------------------------------------


def _best_time(run: Callable[[], None], repeat: int, max_time: float, warmup: bool = True) -> float:
    """Best time of ``repeat`` calls of ``run``, after one untimed warm-up call (unless
    ``warmup`` is False); stops early once the timed calls have taken ``max_time`` seconds
    (at least one is always timed)."""
    if warmup:
        run()
    best, spent = math.inf, 0.0
    for _ in range(repeat):
        t0 = _clock()
        run()
        dt = _clock() - t0
        best, spent = min(best, dt), spent + dt
        if spent >= max_time:
            break
    return max(best, 1e-12)


class _Threads:
    """Cap the BLAS thread count for a block (threadpoolctl), or do nothing for None."""

    def __init__(self, threads: int | None):
        self.threads, self._ctl = threads, None

    def __enter__(self):
        if self.threads is not None:
            try:
                from threadpoolctl import threadpool_limits

                self._ctl = threadpool_limits(limits=self.threads, user_api="blas")
            except Exception:  # pragma: no cover - threadpoolctl is a dependency
                self._ctl = None
        return self

    def __exit__(self, *exc):
        if self._ctl is not None:
            self._ctl.restore_original_limits()
        return False


_DTYPES = {"float64": np.float64, "float32": np.float32}

#: How far above the roof it is placed under a measured kernel may be *reported*: 5 %. A
#: roof is the best of a few timed repeats of one benchmark, and two measurements of the same
#: thing on the same machine differ by a few percent (clock boost, the placement of pages,
#: other programs): a kernel timed in a quieter moment than its roof can come out slightly
#: above it. Beyond 5 % the cause is not noise but an error: a wrong FLOP or byte count, a
#: kernel served from a cache placed under the memory roof, or a roof measured while the
#: machine was busy. :func:`check_under_roof` then raises :class:`AboveRoofError`.
ROOF_TOLERANCE = 1.05


class AboveRoofError(RuntimeError):
    """A kernel was measured above the roof it was placed under, beyond :data:`ROOF_TOLERANCE`."""


def check_under_roof(fraction: float, what: str = "a kernel", roof: str = "its roof") -> float:
    """Return ``fraction`` (a kernel's share of the roof it is placed under) if it is
    possible, that is at most :data:`ROOF_TOLERANCE`; raise :class:`AboveRoofError` otherwise.

    No kernel can run faster than its roof, so a fraction above 1 is a measurement or a
    counting error, not a result; up to 5 % above 1 is allowed as measurement noise (see
    :data:`ROOF_TOLERANCE`). ``what`` and ``roof`` name the kernel and the roof in the message.

    >>> check_under_roof(0.8)
    0.8
    """
    fraction = check("fraction", fraction, 0)
    if fraction > ROOF_TOLERANCE:
        raise AboveRoofError(
            f"{what} was measured at {fraction:.0%} of {roof}, more than the "
            f"{ROOF_TOLERANCE:.0%} that measurement noise can explain: the roof was measured "
            "while the machine was busy (measure it again with refresh=True), or the kernel's "
            "FLOP or byte count is wrong, or its data came from a cache"
        )
    return fraction


def _roof_matrix_size(threads: int, dtype: str = "float64") -> int:
    """Side of the matrices of the peak measurement: 2048, or 4096 with 8 or more threads.

    Large enough for BLAS to reach its peak (a product of 2048 x 2048 matrices does 17
    GFLOP, about 0.1 to 1 s on one core); halved while the three matrices would take more
    than a tenth of the available memory (96 MiB in float64 at 2048: a Binder container's
    2 GiB is enough).
    """
    n = 4096 if threads >= 8 else 2048
    avail = available_memory() or 2 * 1024**3
    itemsize = np.dtype(_DTYPES[dtype]).itemsize
    while n > 512 and 3 * itemsize * n * n > 0.1 * avail:
        n //= 2
    return n


def _matrices(n: int, dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(_DTYPES[dtype])
    b = rng.standard_normal((n, n)).astype(_DTYPES[dtype])
    return a, b, np.empty((n, n), dtype=_DTYPES[dtype])


def _matmul_rate(
    mats: tuple[np.ndarray, np.ndarray, np.ndarray],
    threads: int | None,
    repeat: int,
    max_time: float,
    warmup: bool = True,
) -> float:
    """FLOP/s of the best of ``repeat`` products ``a @ b`` into ``c`` on ``threads`` BLAS
    threads; the product is checked, so a broken BLAS cannot report a fast wrong answer."""
    a, b, c = mats
    n = a.shape[0]
    with _Threads(threads):
        best = _best_time(lambda: np.matmul(a, b, out=c), repeat, max_time, warmup)
    i = n // 3
    expected = float(np.dot(a[i].astype(np.float64), b[:, i].astype(np.float64)))
    if not math.isclose(float(c[i, i]), expected, rel_tol=1e-3, abs_tol=1e-2 * math.sqrt(n)):
        raise RuntimeError(f"matrix product gave a wrong result: {c[i, i]} != {expected}")
    return 2.0 * n**3 / best


def _is_roof(threads: int | None) -> bool:
    """Whether ``threads`` names one of the roofs: all usable cores (None) or one core."""
    return threads is None or threads == 1 or threads == usable_cores()


def measure_peak_flops(
    n: int | None = None,
    repeat: int | None = None,
    *,
    dtype: str = "float64",
    threads: int | None = None,
    max_time: float | None = None,
    refresh: bool = False,
) -> float:
    r"""Floating-point throughput in FLOP/s: the best of several ``n x n`` matrix products.

    A product of two :math:`n \times n` matrices takes :math:`2n^3` floating-point
    operations (a multiply and an add for each of :math:`n` terms of :math:`n^2` entries).
    It runs in the BLAS that NumPy was built with, which is about as close to the
    hardware's peak as Python code gets: it is the practical peak, not the datasheet's.

    **Without** ``n`` **this is the roof** (the course's one definition of the peak, see
    :func:`roofs`): the session's measurement for ``dtype`` on all usable cores
    (``threads=None``, or ``threads=usable_cores()``) or on one core (``threads=1``),
    measured on first use and then reused; ``refresh=True`` measures it again. ``repeat``
    and ``max_time`` do not change a roof (it is measured one way only), but are checked.

    **With** ``n``, or with another thread count, it is a measurement of its own, made now
    and not cached: for sweeps over sizes and threads.

    Parameters
    ----------
    n : int in [16, 8192], or None
        Matrix size; None gives the roof (for another thread count: the roof's largest
        size, 2048, or 4096 with 8 or more threads).
    repeat : int in [1, 100], or None
        Timed repeats after one warm-up; the best counts (None: 5).
    dtype : "float64" or "float32"
        Precision. float32 is usually about twice as fast: a vector register holds twice
        as many of them.
    threads : int in [1, 1024], or None
        BLAS threads for the measurement (threadpoolctl); None means :func:`usable_cores`.
    max_time : float in (0, 60], or None
        Stop repeating once the timed repeats have taken this many seconds (None: 1 s).
    refresh : bool
        Measure the roof again instead of reusing the session's (only without ``n``).
    """
    if n is not None:
        n = check_int("n", n, 16, 8192)
    if repeat is not None:
        repeat = check_int("repeat", repeat, 1, 100)
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}; got {dtype!r}")
    if threads is not None:
        threads = check_int("threads", threads, 1, 1024)
    if max_time is not None:
        max_time = check("max_time", max_time, 0, 60, lo_open=True)
    if n is None and _is_roof(threads):
        return roofs(refresh=refresh).peak(dtype, threads=threads)
    threads = usable_cores() if threads is None else threads
    if n is None:
        n = _roof_matrix_size(threads, dtype)
    return _matmul_rate(_matrices(n, dtype), threads, repeat or 5, max_time or 1.0)


_KERNELS = {"dot": 2, "copy": 2, "triad": 3}  # arrays each kernel streams through memory once


def _split(n: int, parts: int, align: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges covering ``range(n)``, boundaries multiples of ``align``."""
    edges = [min(n, (n * k // parts) // align * align) for k in range(parts)] + [n]
    return [(lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi > lo]


def measure_bandwidth(
    nbytes: int | None = None,
    repeat: int | None = None,
    *,
    kernel: str = "best",
    threads: int | None = None,
    max_time: float | None = None,
    refresh: bool = False,
) -> float:
    r"""Memory bandwidth in bytes/s: the best of several runs of a streaming kernel.

    Kernels (``copy`` and ``triad`` are the STREAM benchmark's):

    * ``"dot"``: ``a @ b``, a BLAS dot product, which only reads: :math:`2 \times 8` bytes
      per float64 element. It runs on ``threads`` BLAS threads rather than on split ranges:
      BLAS's vectorized loop keeps enough loads in flight (``a.sum()``, limited by its
      arithmetic, reaches a fraction of the bandwidth).
    * ``"copy"``: ``a[:] = b``, which reads one array and writes one: :math:`2 \times 8`
      bytes per float64 element.
    * ``"triad"``: ``a[:] = b + s * c``, which reads two arrays and writes one:
      :math:`3 \times 8` bytes per element. NumPy would compute ``s * c`` into a full-size
      temporary and stream five arrays, so the triad here is computed block by block with
      a temporary small enough to stay in cache, and really moves three arrays.
    * ``"best"`` (the default): the highest of the three, measured one after the other. This
      is the memory roof of the roofline model (:attr:`Roofs.bandwidth`,
      ``MachineProfile.bandwidth``): the most a program was seen to get, so that no kernel
      can sit above it for want of a better benchmark. The three differ because the bytes
      counted are the bytes a program asks for: a store to a cache line that is not in
      cache makes most processors read the line first (write-allocate), so ``copy`` and
      ``triad`` move more than they count, while ``dot`` moves exactly what it counts.

    The arrays are split into ``threads`` contiguous parts streamed at once by that many
    threads (NumPy releases the GIL in these loops): one core alone usually cannot keep a
    memory system busy.

    **Without** ``nbytes`` **this is the roof** (see :func:`roofs`): the session's memory
    bandwidth on all usable cores (``threads=None`` or ``usable_cores()``) or on one core
    (``threads=1``), for the best kernel or for the one named, measured on first use and
    then reused; ``refresh=True`` measures it again. ``repeat`` and ``max_time`` do not
    change a roof, but are checked. **With** ``nbytes``, or with another thread count, it is
    a measurement of its own, made now and not cached.

    Parameters
    ----------
    nbytes : int >= 1024, or None
        Bytes of *each* array. None gives the roof (for another thread count: 64 MiB, or
        more if that is needed for all the arrays together to be four times the largest
        cache the OS reports; at most 128 MiB, and at most a tenth of the available memory
        for all the arrays together).
    repeat : int in [1, 100], or None
        Timed repeats after one warm-up (which also touches every page); the best counts
        (None: 10).
    kernel : "best", "dot", "copy" or "triad"
    threads : int in [1, 1024], or None
        Threads streaming at once; None means :func:`usable_cores`.
    max_time : float in (0, 60], or None
        Stop repeating once the timed repeats have taken this many seconds (None: 1 s).
    refresh : bool
        Measure the roof again instead of reusing the session's (only without ``nbytes``).
    """
    if kernel != "best" and kernel not in _KERNELS:
        raise ValueError(f"kernel must be one of {sorted(['best', *_KERNELS])}; got {kernel!r}")
    if nbytes is not None:
        nbytes = check_int("nbytes", nbytes, 1024)
    if repeat is not None:
        repeat = check_int("repeat", repeat, 1, 100)
    if threads is not None:
        threads = check_int("threads", threads, 1, 1024)
    if max_time is not None:
        max_time = check("max_time", max_time, 0, 60, lo_open=True)
    if nbytes is None and _is_roof(threads):
        return roofs(refresh=refresh).memory(threads=threads, kernel=kernel)
    threads = usable_cores() if threads is None else threads
    return _measure_bandwidth(nbytes, repeat or 10, kernel, threads, max_time or 1.0)


def _default_nbytes(arrays: int) -> int:
    target = max(64 * 1024**2, 4 * max(cache_sizes().values(), default=0) // arrays)
    return min(target, 128 * 1024**2, 8 * safe_size(8 * arrays, fraction=0.1, min_items=128))


def _stream_bytes() -> int:
    """The smallest working set (all arrays together, bytes) of the memory roof's kernels."""
    return min(arrays * _default_nbytes(arrays) // 8 * 8 for arrays in _KERNELS.values())


def _measure_bandwidth(nbytes: int | None, repeat: int, kernel: str, threads: int, max_time: float) -> float:
    """One bandwidth measurement (see :func:`measure_bandwidth`), not cached.

    Each timed run streams at least 64 MiB: a kernel on arrays small enough to stay in a
    cache (:func:`cache_bandwidth`) runs several times in a row, in every thread, so that
    starting the threads and reading the clock cost a negligible share of the time.
    """
    if kernel == "best":
        return max(_measure_bandwidth(nbytes, repeat, k, threads, max_time / 3) for k in _KERNELS)
    arrays = _KERNELS[kernel]
    if nbytes is None:
        nbytes = _default_nbytes(arrays)
    nbytes = check_int("nbytes", nbytes, 1024)
    n = nbytes // 8
    passes = max(1, -(-64 * 1024**2 // (arrays * n * 8)))  # ceil: at least 64 MiB per run
    src = np.full(n, 1.0)
    other = np.full(n, 2.0) if kernel in ("triad", "dot") else None
    if kernel == "dot":  # one call on the whole arrays, threaded by BLAS
        results = []

        def dot() -> None:
            for _ in range(passes):
                results.append(float(src @ other))

        with _Threads(threads):
            best = _best_time(dot, repeat, max_time)
        if results[-1] != 2.0 * n:  # exact in float64 up to 2**52 elements
            raise RuntimeError("dot kernel gave a wrong result")
        return passes * arrays * n * 8 / best
    dst = np.zeros(n)
    ranges = _split(n, min(threads, max(1, n // _TRIAD_BLOCK)), _TRIAD_BLOCK)

    def copy(lo: int, hi: int) -> None:
        for _ in range(passes):
            np.copyto(dst[lo:hi], src[lo:hi])

    def triad(lo: int, hi: int) -> None:
        tmp = np.empty(min(_TRIAD_BLOCK, hi - lo))
        for _ in range(passes):
            for start in range(lo, hi, _TRIAD_BLOCK):
                stop = min(start + _TRIAD_BLOCK, hi)
                t = tmp[: stop - start]
                np.multiply(other[start:stop], _TRIAD_SCALAR, out=t)
                np.add(src[start:stop], t, out=dst[start:stop])

    work = copy if kernel == "copy" else triad
    if len(ranges) == 1:
        best = _best_time(lambda: work(*ranges[0]), repeat, max_time)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(ranges), thread_name_prefix="cc-bandwidth") as pool:

            def run() -> None:
                for f in [pool.submit(work, lo, hi) for lo, hi in ranges]:
                    f.result()

            best = _best_time(run, repeat, max_time)
    expected = 1.0 if kernel == "copy" else 1.0 + _TRIAD_SCALAR * 2.0
    step = max(1, n // 4096)
    if not (np.all(dst[::step] == expected) and dst[-1] == expected):
        raise RuntimeError(f"{kernel} kernel gave a wrong result")
    return passes * arrays * n * 8 / best


# ---------------------------------------------------------------------------------------
# The roofs
# ---------------------------------------------------------------------------------------

#: Environment variable naming a JSON file of roofs (:meth:`Roofs.as_dict`) for this
#: machine. ``benchmarks/run_all.py`` measures the roofs once and sets it, so that every
#: benchmark script, each a process of its own, places its kernels under the same roofs.
ROOFS_ENV = "COMPUTING_CHANGE_ROOFS"


@dataclass(frozen=True)
class Roofs:
    r"""The machine's roofs, the course's one definition of each (rates in FLOP/s, bytes/s).

    * **Peak** :math:`P`: the best rate of many timed products of two square matrices in
      NumPy's BLAS (:math:`2n^3` FLOPs each), with :math:`n` = ``matrix_n`` (2048, or 4096
      with 8 or more cores; less only if memory is short) and :math:`n/2` and :math:`n/4`,
      after a warm-up, in two rounds or more, in float64 and float32, on all
      usable cores (``peak_flops``, ``peak_flops_float32``) and on one core
      (``peak_flops_1core``, ``peak_flops_float32_1core``). A peak is a maximum, so the best
      repeat counts: other programs can only slow a repeat down, and the shorter products
      give a busy machine more chances of an undisturbed one. After two ``rounds`` of every
      measurement, more follow (up to 8, while 15 s have not passed) while a round still
      raises a roof by more than 3 %: on a quiet machine two rounds agree, on a busy one a
      later round can catch a quieter moment.
    * **Memory bandwidth** :math:`\beta`: the best of the dot, copy and triad kernels of
      :func:`measure_bandwidth` on arrays of up to 128 MiB each (together four times the
      last-level cache, where that limit and the memory allow), on all usable cores
      (``bandwidth``) and on one core (``bandwidth_1core``), in the same rounds; the
      kernels' own figures too. ``stream_bytes`` is the smallest of the three kernels'
      working sets (all their arrays together): data at least that large go under this
      roof, smaller data under a cache-level roof (:func:`bandwidth_for`).

    What uses all cores is never below what uses one (a program may leave cores idle), so
    each all-core roof is at least its one-core roof. A kernel is placed under the roof of
    what it uses: a kernel on one thread under the one-core roofs, anything else under the
    all-core roofs, and a kernel whose data stay in a cache under :func:`cache_bandwidth`.
    :meth:`fraction` places one and refuses an impossible result (:data:`ROOF_TOLERANCE`).
    """

    cores: int
    peak_flops: float
    peak_flops_1core: float
    peak_flops_float32: float
    peak_flops_float32_1core: float
    bandwidth: float
    bandwidth_1core: float
    bandwidth_dot: float
    bandwidth_copy: float
    bandwidth_triad: float
    bandwidth_dot_1core: float
    bandwidth_copy_1core: float
    bandwidth_triad_1core: float
    matrix_n: int
    seconds: float
    rounds: int = 2
    stream_bytes: int = 0
    source: str = "measured"

    def __post_init__(self):
        check_int("cores", self.cores, 1)
        for name in (
            "peak_flops peak_flops_1core peak_flops_float32 peak_flops_float32_1core bandwidth "
            "bandwidth_1core bandwidth_dot bandwidth_copy bandwidth_triad bandwidth_dot_1core "
            "bandwidth_copy_1core bandwidth_triad_1core"
        ).split():
            check(name, getattr(self, name), 0, lo_open=True)
        check_int("matrix_n", self.matrix_n, 1)
        check("seconds", self.seconds, 0)

    @staticmethod
    def _one_core(threads: int | None) -> bool:
        if threads is None:
            return False
        return check_int("threads", threads, 1) == 1

    def peak(self, dtype: str = "float64", threads: int | None = None) -> float:
        """The peak roof in FLOP/s for ``dtype``: one core's for ``threads=1``, otherwise
        (None, or any other thread count) all usable cores'."""
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}; got {dtype!r}")
        one = self._one_core(threads)
        if dtype == "float64":
            return self.peak_flops_1core if one else self.peak_flops
        return self.peak_flops_float32_1core if one else self.peak_flops_float32

    def memory(self, threads: int | None = None, kernel: str = "best") -> float:
        """The memory roof in bytes/s (``kernel="best"``), or one kernel's figure: one
        core's for ``threads=1``, otherwise all usable cores'."""
        one = self._one_core(threads)
        if kernel == "best":
            return self.bandwidth_1core if one else self.bandwidth
        if kernel not in _KERNELS:
            raise ValueError(f"kernel must be one of {sorted(['best', *_KERNELS])}; got {kernel!r}")
        return getattr(self, f"bandwidth_{kernel}" + ("_1core" if one else ""))

    def balance(self, dtype: str = "float64", threads: int | None = None) -> float:
        """The machine balance (ridge point) :math:`P/\\beta` in FLOP per byte."""
        return self.peak(dtype, threads) / self.memory(threads)

    def bandwidth_of(self, level: str = "memory", threads: int | None = None) -> float:
        """The bandwidth roof of ``level``: ``"memory"`` (:meth:`memory`), or ``"L2"`` or
        ``"L3"`` (:func:`cache_bandwidth`, on one core for ``threads=1``, else all cores)."""
        if level == "memory":
            return self.memory(threads)
        if level not in ("L2", "L3"):
            raise ValueError(f"level must be 'memory', 'L2' or 'L3'; got {level!r}")
        return cache_bandwidth(level, threads=1 if self._one_core(threads) else self.cores)

    def bound(
        self,
        intensity: float | None = None,
        *,
        dtype: str = "float64",
        threads: int | None = None,
        level: str = "memory",
    ):
        r"""The roofline bound :math:`\min(P, \beta I)` in FLOP/s at ``intensity`` FLOP/byte
        (a number or an array), or the peak alone for ``intensity=None`` (a kernel whose
        bytes are not counted is placed under the compute roof only). :math:`\beta` is the
        memory roof, or the cache-level roof of ``level`` ("L2", "L3") for a kernel whose
        data stay in that cache (:func:`bandwidth_for` says which)."""
        peak = self.peak(dtype, threads)
        if intensity is None:
            return peak
        intensity = check("intensity", intensity, 0, lo_open=True)
        result = np.minimum(peak, self.bandwidth_of(level, threads) * np.asarray(intensity))
        return float(result) if np.ndim(result) == 0 else result

    def roof_name(self, threads: int | None = None, dtype: str = "float64", level: str = "memory") -> str:
        """Words for the roof a kernel is placed under, for messages and tables."""
        where = "one core" if self._one_core(threads) else f"all {self.cores} usable core(s)"
        memory = "" if level == "memory" else f" with the {level} cache's bandwidth"
        return f"the {dtype} roofline of {where}{memory}"

    def fraction(
        self,
        performance: float,
        intensity: float | None = None,
        *,
        dtype: str = "float64",
        threads: int | None = None,
        level: str = "memory",
        what: str = "a kernel",
    ) -> float:
        """Place a kernel: its ``performance`` (FLOP/s) as a fraction of :meth:`bound`.

        Raises :class:`AboveRoofError` above :data:`ROOF_TOLERANCE` (see
        :func:`check_under_roof`); ``what`` names the kernel in the message.
        """
        performance = check("performance", performance, 0)
        fraction = performance / self.bound(intensity, dtype=dtype, threads=threads, level=level)
        if fraction > ROOF_TOLERANCE and self is _ROOFS:
            # A second look before refusing: the roofs were perhaps measured in a busy
            # moment. Measure them again and keep the higher of each (a roof is a maximum).
            _second_look(self, level, threads)
            fraction = performance / self.bound(intensity, dtype=dtype, threads=threads, level=level)
        return check_under_roof(fraction, what, self.roof_name(threads, dtype, level))

    def as_dict(self) -> dict:
        """All fields, plus the float64 machine balance of all cores and of one, for JSON."""
        d = asdict(self)
        d["balance"] = self.balance()
        d["balance_1core"] = self.balance(threads=1)
        return d

    def save(self, path: str | os.PathLike) -> Path:
        """Write the roofs as JSON to ``path``, for :data:`ROOFS_ENV` to name: every process
        started with that variable set then reuses them instead of measuring its own."""
        path = Path(path)
        path.write_text(json.dumps(self.as_dict(), indent=1))
        return path

    @classmethod
    def from_dict(cls, d: dict) -> Roofs:
        """The roofs :meth:`as_dict` wrote (other keys ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def rows(self) -> list[tuple[str, str]]:
        """(name, value) rows with units, for a table."""
        c = f"{self.cores} core{'s' if self.cores != 1 else ''}"
        return [
            (f"Peak, float64 (all {c})", _rate_text(self.peak_flops, "FLOP/s")),
            ("Peak, float64 (1 core)", _rate_text(self.peak_flops_1core, "FLOP/s")),
            (f"Peak, float32 (all {c})", _rate_text(self.peak_flops_float32, "FLOP/s")),
            ("Peak, float32 (1 core)", _rate_text(self.peak_flops_float32_1core, "FLOP/s")),
            (f"Memory bandwidth, best of dot, copy, triad (all {c})", _rate_text(self.bandwidth, "B/s")),
            ("Memory bandwidth, best of dot, copy, triad (1 core)", _rate_text(self.bandwidth_1core, "B/s")),
        ]


_ROOFS: Roofs | None = None
_ROOFS_LOCK = threading.RLock()


def _roofs_from_env() -> Roofs | None:
    """The roofs in the file :data:`ROOFS_ENV` names, if it names one written on a machine
    with as many usable cores as this one; None otherwise (they are measured instead)."""
    path = os.environ.get(ROOFS_ENV)
    if not path:
        return None
    try:
        found = Roofs.from_dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if found.cores != usable_cores():
        return None
    return replace(found, source=f"file {path}")


#: Rounds of the roofs' measurement: at least 2, and more (up to ``_ROOF_ROUNDS[1]``, while
#: ``_ROOF_BUDGET`` seconds have not passed) while a round still raises a roof by more than
#: 3 %, or while all cores together look no faster than one (``_ROOF_SCALING``): on a quiet
#: machine two rounds agree, on a busy one later rounds may catch a quieter moment.
_ROOF_ROUNDS = (2, 8)
_ROOF_BUDGET = 15.0
#: With two or more usable cores, a matrix product on all of them is expected to be at least
#: this much faster than on one; less means other programs held a core in every try so far.
_ROOF_SCALING = 1.3


def _measure_roofs(budget: float | None = None) -> Roofs:
    """Measure every roof (5-10 s on a quiet machine): see :class:`Roofs` for the definition.
    ``budget``: seconds after which no further round starts (default ``_ROOF_BUDGET``)."""
    budget = _ROOF_BUDGET if budget is None else check("budget", budget, 0)
    start = time.perf_counter()
    cores = usable_cores()
    teams = [cores, 1] if cores > 1 else [1]
    sizes = {t: {dt: _roof_matrix_size(t, dt) for dt in _DTYPES} for t in teams}
    # The roof's size n, and n/2 and n/4 with more repeats: on a quiet machine n is the
    # fastest, while on a busy one a short product is likelier to run undisturbed.
    plans = {
        t: {(dt, n // d): r for dt, n in sizes[t].items() for d, r in ((1, 3), (2, 6), (4, 16))}
        for t in teams
    }
    mats = {key: _matrices(key[1], key[0]) for plan in plans.values() for key in plan}
    peaks: dict[tuple[str, int], float] = {}
    kernels: dict[tuple[str, int], float] = {}
    stream_bytes = _stream_bytes()

    def raise_to(table: dict, key: tuple, value: float) -> bool:
        """Keep the best; say whether ``value`` beat it by more than 3 %."""
        old = table.get(key, 0.0)
        table[key] = max(old, value)
        return value > 1.03 * old

    def busy() -> bool:
        """Whether all cores still look no faster than one: every try so far was disturbed."""
        return cores > 1 and any(peaks[dt, cores] < _ROOF_SCALING * peaks[dt, 1] for dt in _DTYPES)

    rounds, improved = 0, True
    while rounds < _ROOF_ROUNDS[0] or (
        (improved or busy()) and rounds < _ROOF_ROUNDS[1] and time.perf_counter() - start < budget
    ):
        improved = False
        for threads in teams:
            with _Threads(threads):
                for (dt, size), repeat in plans[threads].items():
                    rate = _matmul_rate(mats[dt, size], None, repeat, 0.3, warmup=rounds == 0)
                    improved |= raise_to(peaks, (dt, threads), rate)
            for k in _KERNELS:
                improved |= raise_to(kernels, (k, threads), _measure_bandwidth(None, 6, k, threads, 0.2))
        rounds += 1
    del mats
    for dt in _DTYPES:  # one core's roof is also within reach of all cores
        peaks[dt, cores] = max(peaks[dt, cores], peaks[dt, 1])
    best = {t: max(kernels[k, t] for k in _KERNELS) for t in teams}
    best[cores] = max(best[cores], best[1])
    return Roofs(
        cores=cores,
        peak_flops=peaks["float64", cores],
        peak_flops_1core=peaks["float64", 1],
        peak_flops_float32=peaks["float32", cores],
        peak_flops_float32_1core=peaks["float32", 1],
        bandwidth=best[cores],
        bandwidth_1core=best[1],
        bandwidth_dot=kernels["dot", cores],
        bandwidth_copy=kernels["copy", cores],
        bandwidth_triad=kernels["triad", cores],
        bandwidth_dot_1core=kernels["dot", 1],
        bandwidth_copy_1core=kernels["copy", 1],
        bandwidth_triad_1core=kernels["triad", 1],
        matrix_n=sizes[cores]["float64"],
        seconds=time.perf_counter() - start,
        rounds=rounds,
        stream_bytes=stream_bytes,
    )


def roofs(refresh: bool = False, *, budget: float | None = None) -> Roofs:
    """The machine's roofs (:class:`Roofs`): measured on first use, then the same object
    for the rest of the Python session, so that every chapter and benchmark places its
    kernels under the same roofs. ``refresh=True`` measures them again (and keeps the new
    ones). They are measured again by themselves only if the number of usable cores changed.

    If the environment variable :data:`ROOFS_ENV` names a JSON file of roofs for a machine
    with as many usable cores (``benchmarks/run_all.py`` writes one, so that every script of
    a benchmark run shares one measurement), those are used instead of measuring.

    ``budget``: seconds after which a measurement starts no further round (default 15; a
    measurement made once for many processes, as ``benchmarks/run_all.py`` makes, can afford
    more, and on a busy machine finds higher, truer roofs with it).
    """
    global _ROOFS
    with _ROOFS_LOCK:
        current = _ROOFS
        if refresh or current is None or current.cores != usable_cores():
            current = (None if refresh else _roofs_from_env()) or _measure_roofs(budget)
            _ROOFS = current
        return current


def _second_look(old: Roofs, level: str = "memory", threads: int | None = None) -> Roofs:
    """The session's roofs measured again, each raised to the higher of its two measurements
    (used by :meth:`Roofs.fraction` before it refuses a kernel above its roof).

    The session's object is raised *in place*: a notebook keeps the object :func:`roofs`
    gave it (``roofs = machine.roofs()``) and places every later kernel under it, so a copy
    would leave those kernels under the roofs that were just found too low. A roof is a
    maximum, so raising it never invalidates what was placed under it before."""
    fresh = _measure_roofs(None)
    with _ROOFS_LOCK:
        for f in fields(Roofs):
            mine, theirs = getattr(old, f.name), getattr(fresh, f.name)
            if isinstance(mine, float) and isinstance(theirs, float) and theirs > mine:
                object.__setattr__(old, f.name, theirs)  # frozen for readers, raised here only
    if level in ("L2", "L3"):
        cache_bandwidth(level, threads=1 if old._one_core(threads) else old.cores, refresh=True)
    return old


def fraction_of_roof(
    performance: float,
    intensity: float | None = None,
    *,
    dtype: str = "float64",
    threads: int | None = None,
    what: str = "a kernel",
) -> float:
    """:meth:`Roofs.fraction` with the session's :func:`roofs`: a kernel's ``performance``
    (FLOP/s) as a fraction of the roofline bound at ``intensity`` (FLOP/byte; None: the
    peak alone), for ``dtype``, on one core (``threads=1``) or all. Raises
    :class:`AboveRoofError` above :data:`ROOF_TOLERANCE`."""
    return roofs().fraction(performance, intensity, dtype=dtype, threads=threads, what=what)


_CACHE_ROOFS: dict[tuple[str, int], float] = {}


#: The L2 cache per core assumed when the OS does not report one (common in virtual machines).
_L2_ASSUMED = 1024**2


def _l2_total(threads: int) -> int:
    """What the L2 caches of ``threads`` cores hold together (each core has its own)."""
    return (cache_sizes().get("L2") or _L2_ASSUMED) * threads


def cache_bandwidth(level: str = "L2", *, threads: int | None = None, refresh: bool = False) -> float:
    """A cache-level roof, in bytes/s: the memory roof's definition (the best of the dot,
    copy and triad kernels) on arrays small enough to be served by the cache ``level``.

    * ``"L2"``: arrays that together fill half of the L2 caches of the cores used (each
      core has its own; 1 MiB per core is assumed when the OS does not say);
    * ``"L3"``: the best over a few sizes, from arrays that together fill twice those L2
      caches (the smallest data :func:`bandwidth_for` places under the L3 roof) up to eight
      times that, never more than half the L3. Within an L3, bandwidth need not fall as data
      grow: on some machines it rises while a shrinking share of the data sits in the L2,
      so one size would not give a maximum. The size the OS reports for an L3 is often more
      than one virtual machine can use, so the roof is not measured near that size.

    A kernel whose data may stay in a cache is placed under that cache's roof, not under
    the memory roof (:attr:`Roofs.bandwidth`), which it can beat (:func:`bandwidth_for`
    chooses).
    Measured on first use and reused for the session (``refresh=True`` measures again);
    ``threads=1`` for one core, None for all usable cores. There is no L1 roof: an L1 cache
    is so small that the fixed cost of a NumPy call, not the cache, would set the figure.
    Raises ``ValueError`` for another level, or for ``"L3"`` when the OS reports none.
    """
    if level not in ("L2", "L3"):
        raise ValueError(f"level must be 'L2' or 'L3'; got {level!r}")
    if level == "L3" and "L3" not in cache_sizes():
        known = ", ".join(sorted(cache_sizes())) or "none"
        raise ValueError(f"level must be a cache the OS reports here ({known}); got {level!r}")
    threads = usable_cores() if threads is None else check_int("threads", threads, 1, 1024)
    key = (level, threads)
    if refresh or key not in _CACHE_ROOFS:
        l2 = _l2_total(threads)
        if level == "L2":
            shares = [l2 // 2]
        else:
            top = cache_sizes()["L3"] // 2
            shares = [min(2 * l2, top)] + [s for s in (4 * l2, 8 * l2, 16 * l2) if s <= top]
        rates = []
        for share in shares:
            for k, arrays in _KERNELS.items():
                nbytes = max(1024, share // arrays // 4096 * 4096)
                nbytes = min(nbytes, 8 * safe_size(8 * arrays, fraction=0.1, min_items=128))
                rates.append(_measure_bandwidth(nbytes, 20, k, threads, 0.2))
        # a roof is a maximum: measuring again can raise it, never lower it
        _CACHE_ROOFS[key] = max(max(rates), _CACHE_ROOFS.get(key, 0.0))
    return _CACHE_ROOFS[key]


class BandwidthRoof(NamedTuple):
    """What :func:`bandwidth_for` returns: a bandwidth roof (bytes/s) and which one it is
    (``"L2"``, ``"L3"`` or ``"memory"``)."""

    bandwidth: float
    level: str


def bandwidth_for(nbytes: int, *, threads: int | None = None) -> BandwidthRoof:
    """The bandwidth roof for a kernel whose data take ``nbytes`` bytes, chosen by size:

    * at least the memory roof's own arrays (:attr:`Roofs.stream_bytes`): the memory roof
      (:attr:`Roofs.bandwidth`, on one core ``bandwidth_1core``), which was measured on
      data that large, and larger data stream no faster;
    * else at least twice what the L2 caches of the cores used hold, on a machine whose OS
      reports an L3: the L3 roof (:func:`cache_bandwidth`), measured from that size up;
    * else the L2 roof: data that small may be served by the L2 caches.

    Each roof is the best of the memory roof's kernels on data that level serves (the L3 roof
    over a few sizes, :func:`cache_bandwidth`). ``threads``: 1 for one core, None (or more)
    for all usable cores.
    """
    nbytes = check_int("nbytes", nbytes, 0)
    one = threads is not None and check_int("threads", threads, 1) == 1
    cores = 1 if one else usable_cores()
    r = roofs()
    if nbytes >= (r.stream_bytes or _stream_bytes()):
        return BandwidthRoof(r.memory(threads=1 if one else None), "memory")
    if "L3" in cache_sizes() and nbytes >= 2 * _l2_total(cores):
        return BandwidthRoof(cache_bandwidth("L3", threads=cores), "L3")
    return BandwidthRoof(cache_bandwidth("L2", threads=cores), "L2")


def format_bytes(b: int | None) -> str:
    """A size in bytes with a binary unit: ``1536`` -> ``"1.5 KiB"``, ``2**31`` -> ``"2 GiB"``
    (whole values without decimals, others to one decimal); ``None`` -> ``"unknown"``."""
    if b is None:
        return "unknown"
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if b >= scale:
            value = b / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{b} B"


def _rate_text(value: float | None, unit: str) -> str:
    if value is None:
        return "not measured"
    return f"{value / 1e9:.3g} G{unit}"


@dataclass(frozen=True)
class MachineProfile:
    """A snapshot of the machine; ``None`` means the OS did not say (or it was not measured).

    Rates are in SI units: FLOP/s and bytes/s, and they are the session's :func:`roofs`
    (one definition everywhere): ``peak_flops`` is the float64 peak on all usable cores,
    ``peak_flops_1thread`` on one core, ``peak_flops_float32`` and
    ``peak_flops_float32_1thread`` the same in float32; ``bandwidth`` is the memory roof,
    the best of the dot, copy and triad kernels on all usable cores (what
    ``measure_bandwidth()`` returns), ``bandwidth_1thread`` on one core, and
    ``bandwidth_dot``, ``bandwidth_copy``, ``bandwidth_triad`` the three kernels on all
    cores. ``measure_seconds`` is how long measuring the roofs took (once per session).
    """

    system: str
    processor: str
    python: str
    numpy: str
    logical_cpus: int | None
    usable_cores: int
    cpu_quota: float | None
    total_memory: int | None
    available_memory: int | None
    caches: dict
    blas: dict
    peak_flops: float | None
    bandwidth: float | None
    peak_flops_1thread: float | None = None
    peak_flops_float32: float | None = None
    bandwidth_copy: float | None = None
    bandwidth_triad: float | None = None
    bandwidth_dot: float | None = None
    measure_seconds: float | None = None
    affinity_cpus: int | None = field(default=None)
    peak_flops_float32_1thread: float | None = None
    bandwidth_1thread: float | None = None

    def as_dict(self) -> dict:
        """All fields, plus the machine balance, as plain Python values (for JSON)."""
        d = asdict(self)
        d["balance"] = self.balance
        return d

    @property
    def balance(self) -> float | None:
        """Machine balance in FLOP per byte: ``peak_flops / bandwidth`` (None if unmeasured).

        A kernel that does fewer FLOPs per byte moved than this is limited by memory, not
        by arithmetic, on this machine: the ridge point of the roofline model."""
        if not self.peak_flops or not self.bandwidth:
            return None
        return self.peak_flops / self.bandwidth

    def rows(self) -> list[tuple[str, str]]:
        """(name, value) rows with units, for a table. Unknown values say "unknown"."""
        caches = ", ".join(f"{k} {format_bytes(v)}" for k, v in self.caches.items()) or "unknown"
        blas = self.blas or {}
        lib = f"{blas.get('library') or 'unknown'} {blas.get('version') or ''}".strip()
        threads = blas.get("threads")
        if threads:
            lib += f", {threads} thread{'s' if threads != 1 else ''}"
            if threads > self.usable_cores:
                lib += f" (more than the {self.usable_cores} usable: oversubscribed)"
        else:
            lib += ", threads unknown"
        balance = self.balance
        return [
            ("System", self.system),
            ("Processor", self.processor or "unknown"),
            ("Python / NumPy", f"{self.python} / {self.numpy}"),
            ("Logical CPUs (os.cpu_count)", str(self.logical_cpus or "unknown")),
            ("CPUs in affinity set", "unknown" if self.affinity_cpus is None else str(self.affinity_cpus)),
            ("CPU quota (cgroup)", "none" if self.cpu_quota is None else f"{self.cpu_quota:g} CPUs"),
            ("Usable cores (affinity, quota)", str(self.usable_cores)),
            ("Total memory", format_bytes(self.total_memory)),
            ("Available memory", format_bytes(self.available_memory)),
            ("Caches (per cache)", caches),
            ("BLAS", lib),
            ("Peak FLOP/s (float64, all usable cores)", _rate_text(self.peak_flops, "FLOP/s")),
            ("Peak FLOP/s (float64, 1 core)", _rate_text(self.peak_flops_1thread, "FLOP/s")),
            ("Peak FLOP/s (float32, all usable cores)", _rate_text(self.peak_flops_float32, "FLOP/s")),
            ("Peak FLOP/s (float32, 1 core)", _rate_text(self.peak_flops_float32_1thread, "FLOP/s")),
            ("Memory bandwidth (dot, all usable cores)", _rate_text(self.bandwidth_dot, "B/s")),
            ("Memory bandwidth (copy, all usable cores)", _rate_text(self.bandwidth_copy, "B/s")),
            ("Memory bandwidth (triad, all usable cores)", _rate_text(self.bandwidth_triad, "B/s")),
            ("Memory roof (best of the three, all usable cores)", _rate_text(self.bandwidth, "B/s")),
            ("Memory roof (best of the three, 1 core)", _rate_text(self.bandwidth_1thread, "B/s")),
            (
                "Machine balance (float64, all usable cores)",
                "not measured" if balance is None else f"{balance:.3g} FLOP/byte",
            ),
        ]

    def markdown(self) -> str:
        """The rows as a Markdown table (``IPython.display.Markdown`` renders it)."""
        lines = ["| | |", "|---|---|"]
        lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in self.rows()]
        return "\n".join(lines)


def _processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


@functools.lru_cache(maxsize=1)
def _static_profile() -> tuple:
    return (
        f"{platform.system()} {platform.release()} ({platform.machine()})",
        _processor(),
        platform.python_version(),
        np.__version__,
    )


def _affinity() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def profile(measure: bool = True, refresh: bool = False) -> MachineProfile:
    """Profile this machine; with ``measure`` also give its :func:`roofs`.

    The roofs (float64 and float32 peaks and the memory bandwidth, on all usable cores and
    on one core) are the session's: measured by the first call that needs them (5 to 10
    seconds), then reused, so every chapter's profile shows the same numbers;
    ``refresh=True`` measures them again. Without ``measure`` only what the OS says is read.
    """
    system, proc, py, npv = _static_profile()
    blas = blas_info()
    r = roofs(refresh=refresh) if measure else None
    return MachineProfile(
        system=system,
        processor=proc,
        python=py,
        numpy=npv,
        logical_cpus=os.cpu_count(),
        usable_cores=usable_cores(),
        cpu_quota=cpu_quota(),
        total_memory=total_memory(),
        available_memory=available_memory(),
        caches=cache_sizes(),
        blas=blas,
        peak_flops=r and r.peak_flops,
        bandwidth=r and r.bandwidth,
        peak_flops_1thread=r and r.peak_flops_1core,
        peak_flops_float32=r and r.peak_flops_float32,
        bandwidth_copy=r and r.bandwidth_copy,
        bandwidth_triad=r and r.bandwidth_triad,
        bandwidth_dot=r and r.bandwidth_dot,
        measure_seconds=r and r.seconds,
        affinity_cpus=_affinity(),
        peak_flops_float32_1thread=r and r.peak_flops_float32_1core,
        bandwidth_1thread=r and r.bandwidth_1core,
    )


def summary() -> str:
    """One line naming the machine, for under every timing."""
    system, proc, py, npv = _static_profile()
    mem = total_memory()
    mem_s = f", {mem / 1024**3:.0f} GiB" if mem else ""
    return f"{proc}, {usable_cores()} usable core(s){mem_s}; {system}; Python {py}, NumPy {npv}"


def _main(argv: list[str] | None = None) -> int:
    """``python -m computing_change.core.machine [FILE]``: measure the roofs, print them, and
    write them to FILE for :data:`ROOFS_ENV`, so that several processes (the notebooks of one
    build, the scripts of one benchmark run) share one measurement."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    r = roofs(refresh=True, budget=60.0)
    for name, value in r.rows():
        print(f"{name}: {value}")
    print(f"measured in {r.seconds:.1f} s ({r.rounds} rounds) on: {summary()}")
    if args:
        print(f"written to {r.save(args[0])}; set {ROOFS_ENV}={args[0]} to reuse them")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
