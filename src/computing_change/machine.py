"""What the reader's machine offers: usable cores, caches, memory, BLAS, measured peaks.

Everything here says ``None`` ("unknown") rather than guessing when the operating system
does not tell. Demo sizes in every chapter come from :func:`usable_cores` and
:func:`safe_size`, never from constants tuned to one laptop, so a notebook fits a 1-CPU,
2 GiB Binder container as well as a workstation.
"""

from __future__ import annotations

import functools
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ._validate import check, check_int

__all__ = [
    "usable_cores",
    "cpu_quota",
    "total_memory",
    "available_memory",
    "cache_sizes",
    "blas_info",
    "measure_peak_flops",
    "measure_bandwidth",
    "safe_size",
    "MachineProfile",
    "profile",
    "summary",
]

_CGROUP = Path("/sys/fs/cgroup")


def cpu_quota() -> float | None:
    """CPUs allowed by a cgroup quota (how Binder and Docker limit CPU), or None if unlimited."""
    try:
        quota, period = (_CGROUP / "cpu.max").read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        quota = int((_CGROUP / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((_CGROUP / "cpu" / "cpu.cfs_period_us").read_text())
        if quota > 0:
            return quota / period
    except (OSError, ValueError):
        pass
    return None


def usable_cores() -> int:
    """Cores this process may really use: CPU affinity, capped by any cgroup CPU quota.

    ``os.cpu_count()`` counts the host's cores; on Binder it can say 72 while the container
    may use one.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    quota = cpu_quota()
    if quota is not None:
        n = min(n, max(1, int(quota)))
    return max(1, n)


def total_memory() -> int | None:
    """Physical memory in bytes, capped by a cgroup memory limit; None if unknown."""
    try:
        import psutil

        total = psutil.virtual_memory().total
    except Exception:  # pragma: no cover - psutil is a dependency
        total = None
    limit = _cgroup_memory_limit()
    if limit is not None:
        total = limit if total is None else min(total, limit)
    return total


def _cgroup_memory_limit() -> int | None:
    for path in (_CGROUP / "memory.max", _CGROUP / "memory" / "memory.limit_in_bytes"):
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text != "max" and int(text) < 1 << 60:
            return int(text)
    return None


def _cgroup_memory_used() -> int | None:
    for path in (_CGROUP / "memory.current", _CGROUP / "memory" / "memory.usage_in_bytes"):
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            continue
    return None


def available_memory() -> int | None:
    """Bytes this process can still allocate without swapping or being killed; None if unknown.

    The smaller of the system's available memory and what a cgroup limit leaves.
    """
    try:
        import psutil

        avail = psutil.virtual_memory().available
    except Exception:  # pragma: no cover
        avail = None
    limit, used = _cgroup_memory_limit(), _cgroup_memory_used()
    if limit is not None and used is not None:
        left = max(0, limit - used)
        avail = left if avail is None else min(avail, left)
    return avail


def cache_sizes() -> dict[str, int]:
    """CPU cache sizes in bytes by level ("L1d", "L2", "L3"), as the OS reports them.

    Empty when the OS does not say (common in virtual machines and on macOS).
    """
    out: dict[str, int] = {}
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    if base.is_dir():
        for idx in sorted(base.glob("index*")):
            try:
                level = (idx / "level").read_text().strip()
                kind = (idx / "type").read_text().strip()
                size = (idx / "size").read_text().strip()
            except OSError:
                continue
            if kind == "Instruction":
                continue
            name = f"L{level}" + ("d" if kind == "Data" else "")
            mult = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(size[-1:], 1)
            try:
                out[name] = int(size.rstrip("KMG")) * mult
            except ValueError:
                continue
    if not out:
        try:  # macOS
            import subprocess

            for key, name in (("hw.l1dcachesize", "L1d"), ("hw.l2cachesize", "L2"), ("hw.l3cachesize", "L3")):
                r = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=2)
                if r.returncode == 0 and r.stdout.strip().isdigit() and int(r.stdout) > 0:
                    out[name] = int(r.stdout)
        except Exception:
            pass
    return out


def blas_info() -> dict[str, object]:
    """The BLAS library NumPy uses and its thread count (threadpoolctl), or unknowns."""
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                return {
                    "library": pool.get("internal_api"),
                    "version": pool.get("version"),
                    "threads": pool.get("num_threads"),
                    "architecture": pool.get("architecture"),
                }
    except Exception:
        pass
    return {"library": None, "version": None, "threads": None, "architecture": None}


def safe_size(
    bytes_per_item: int,
    *,
    fraction: float = 0.05,
    max_items: int | None = None,
    min_items: int = 1,
) -> int:
    """How many items of ``bytes_per_item`` fit in ``fraction`` of the available memory.

    Capped at ``max_items`` and never below ``min_items``; assumes 2 GiB when available
    memory is unknown. Demos use it so no cell can exhaust a 2 GiB Binder container.
    """
    bytes_per_item = check_int("bytes_per_item", bytes_per_item, 1)
    fraction = check("fraction", fraction, 0, 0.5, lo_open=True)
    min_items = check_int("min_items", min_items, 1)
    avail = available_memory() or 2 * 1024**3
    items = int(avail * fraction) // bytes_per_item
    if max_items is not None:
        items = min(items, check_int("max_items", max_items, 1))
    return max(min_items, items)


def measure_peak_flops(n: int = 1024, repeat: int = 5) -> float:
    """Best-of-``repeat`` float64 FLOP/s of an ``n x n`` matrix product (2 n^3 FLOPs).

    Uses the BLAS NumPy was built with, at its current thread count.
    """
    n = check_int("n", n, 16, 8192)
    repeat = check_int("repeat", repeat, 1, 100)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n))
    b = rng.standard_normal((n, n))
    c = np.empty((n, n))
    np.matmul(a, b, out=c)  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best


def measure_bandwidth(nbytes: int | None = None, repeat: int = 5) -> float:
    """Best-of-``repeat`` memory bandwidth in bytes/s of a streaming copy (read + write).

    The arrays default to 64 MiB each (well beyond last-level caches), shrunk to fit the
    available memory.
    """
    if nbytes is None:
        nbytes = min(64 * 1024**2, safe_size(1, fraction=0.05))
    nbytes = check_int("nbytes", nbytes, 1024)
    repeat = check_int("repeat", repeat, 1, 100)
    n = nbytes // 8
    src = np.ones(n)
    dst = np.empty(n)
    np.copyto(dst, src)  # warm-up, and touches every page
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n * 8 / best


@dataclass(frozen=True)
class MachineProfile:
    """A snapshot of the machine; ``None`` means the OS did not say."""

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

    def as_dict(self) -> dict:
        return asdict(self)

    def rows(self) -> list[tuple[str, str]]:
        """(name, value) rows with units, for a table."""

        def gib(b):
            return "unknown" if b is None else f"{b / 1024**3:.1f} GiB"

        caches = ", ".join(f"{k} {v // 1024} KiB" for k, v in self.caches.items()) or "unknown"
        blas = self.blas
        return [
            ("System", self.system),
            ("Processor", self.processor or "unknown"),
            ("Python / NumPy", f"{self.python} / {self.numpy}"),
            ("Logical CPUs (os.cpu_count)", str(self.logical_cpus or "unknown")),
            ("Usable cores (affinity, quota)", str(self.usable_cores)),
            ("CPU quota", "none" if self.cpu_quota is None else f"{self.cpu_quota:g} CPUs"),
            ("Total memory", gib(self.total_memory)),
            ("Available memory", gib(self.available_memory)),
            ("Caches", caches),
            ("BLAS", f"{blas.get('library') or 'unknown'} {blas.get('version') or ''}".strip()
             + (f", {blas['threads']} threads" if blas.get("threads") else "")),
            ("Peak FLOP/s (float64 matmul)",
             "not measured" if self.peak_flops is None else f"{self.peak_flops / 1e9:.1f} GFLOP/s"),
            ("Memory bandwidth (copy)",
             "not measured" if self.bandwidth is None else f"{self.bandwidth / 1e9:.1f} GB/s"),
        ]


def _processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def _static_profile() -> tuple:
    return (
        f"{platform.system()} {platform.release()} ({platform.machine()})",
        _processor(),
        platform.python_version(),
        np.__version__,
    )


def profile(measure: bool = True) -> MachineProfile:
    """Profile this machine; with ``measure`` also time the FLOP/s and bandwidth peaks
    (a few seconds at most)."""
    system, proc, py, npv = _static_profile()
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
        blas=blas_info(),
        peak_flops=measure_peak_flops() if measure else None,
        bandwidth=measure_bandwidth() if measure else None,
    )


def summary() -> str:
    """One line naming the machine, for under every timing."""
    system, proc, py, npv = _static_profile()
    mem = total_memory()
    mem_s = f", {mem / 1024**3:.0f} GiB" if mem else ""
    return f"{proc}, {usable_cores()} usable core(s){mem_s}; {system}; Python {py}, NumPy {npv}"
