"""Unit and property tests of computing_change.core.machine.

The OS is faked: cgroup files live in a temporary directory (``machine._CGROUP`` and
``machine._PROC_CGROUP`` point there), CPU affinity and psutil are monkeypatched. The
measured peaks are checked for correctness and for the bytes and FLOPs they count (with a
fake clock), never for speed.
"""

from __future__ import annotations

import math
import os
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change.core import machine

VM = namedtuple("VM", "total available")
GiB = 1024**3


# ---------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------


@pytest.fixture
def cgroup(tmp_path, monkeypatch):
    """An empty fake /sys/fs/cgroup, with /proc/self/cgroup saying we sit at its root."""
    root = tmp_path / "cgroup"
    root.mkdir()
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text("0::/\n")
    monkeypatch.setattr(machine, "_CGROUP", root)
    monkeypatch.setattr(machine, "_PROC_CGROUP", proc)
    return root


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def fake_psutil(monkeypatch):
    """Make psutil report the memory given with ``fake_psutil(total, available)``."""
    import psutil

    def set_(total, available):
        monkeypatch.setattr(psutil, "virtual_memory", lambda: VM(total, available))

    return set_


@pytest.fixture
def affinity(monkeypatch):
    def set_(n):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)), raising=False)

    return set_


class FakeClock:
    """A clock that advances ``step`` seconds every time it is read."""

    def __init__(self, step=1.0):
        self.now, self.step, self.reads = 0.0, step, 0

    def __call__(self):
        self.reads += 1
        self.now += self.step
        return self.now


# ---------------------------------------------------------------------------------------
# CPU quota and usable cores
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("max 100000", None),
        ("150000 100000", 1.5),
        ("100000 100000", 1.0),
        ("50000 100000", 0.5),
        ("200000 100000\n", 2.0),
        ("garbage", None),
        ("", None),
        ("-1 100000", None),
        ("100000 0", None),
    ],
)
def test_cpu_quota_v2(cgroup, text, expected):
    write(cgroup / "cpu.max", text)
    assert machine.cpu_quota() == expected


def test_cpu_quota_no_files_is_unknown(cgroup):
    assert machine.cpu_quota() is None


@pytest.mark.parametrize("mount", ["cpu", "cpu,cpuacct"])
@pytest.mark.parametrize(
    "quota, period, expected",
    [("-1", "100000", None), ("50000", "100000", 0.5), ("300000", "100000", 3.0), ("x", "100000", None)],
)
def test_cpu_quota_v1(cgroup, mount, quota, period, expected):
    write(cgroup / mount / "cpu.cfs_quota_us", quota)
    write(cgroup / mount / "cpu.cfs_period_us", period)
    assert machine.cpu_quota() == expected


def test_cpu_quota_takes_the_smallest_along_the_cgroup_path(cgroup):
    (cgroup.parent / "proc_self_cgroup").write_text("0::/user.slice/app.scope\n")
    write(cgroup / "user.slice" / "cpu.max", "100000 100000")
    write(cgroup / "user.slice" / "app.scope" / "cpu.max", "400000 100000")
    assert machine.cpu_quota() == 1.0


def test_cpu_quota_v1_uses_own_path(cgroup):
    (cgroup.parent / "proc_self_cgroup").write_text("4:cpu,cpuacct:/docker/abc\n0::/\n")
    write(cgroup / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us", "250000")
    write(cgroup / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_period_us", "100000")
    assert machine.cpu_quota() == 2.5


def test_v2_quota_wins_over_v1(cgroup):
    write(cgroup / "cpu.max", "100000 100000")
    write(cgroup / "cpu" / "cpu.cfs_quota_us", "400000")
    write(cgroup / "cpu" / "cpu.cfs_period_us", "100000")
    assert machine.cpu_quota() == 1.0


@pytest.mark.parametrize(
    "aff, quota, expected",
    [(72, 1.0, 1), (8, None, 8), (16, 2.5, 2), (2, 8.0, 2), (4, 0.5, 1), (1, None, 1), (64, 1.9999999999, 2)],
)
def test_cores_allowed(aff, quota, expected):
    assert machine.cores_allowed(aff, quota) == expected


@given(st.integers(1, 4096), st.one_of(st.none(), st.floats(0.01, 5000)))
def test_cores_allowed_bounds(aff, quota):
    n = machine.cores_allowed(aff, quota)
    assert 1 <= n <= aff
    if quota is not None:
        assert n <= max(1, math.floor(quota + 1e-9))


@pytest.mark.parametrize(
    "bad",
    [
        dict(affinity=0, quota=None),
        dict(affinity=2, quota=0),
        dict(affinity=2, quota=-1.0),
        dict(affinity=1.5, quota=None),
        dict(affinity=2, quota=float("nan")),
    ],
)
def test_cores_allowed_validates(bad):
    name = "affinity" if bad["affinity"] in (0, 1.5) else "quota"
    with pytest.raises(ValueError, match=name):
        machine.cores_allowed(**bad)


def test_usable_cores_binder_like(cgroup, affinity):
    affinity(72)
    write(cgroup / "cpu.max", "100000 100000")
    assert machine.usable_cores() == 1


def test_usable_cores_affinity_only(cgroup, affinity):
    affinity(3)
    assert machine.usable_cores() == 3


def test_usable_cores_without_affinity_falls_back_to_cpu_count(cgroup, monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert machine.usable_cores() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert machine.usable_cores() == 1


def test_usable_cores_on_this_machine_is_sane():
    n = machine.usable_cores()
    assert isinstance(n, int) and 1 <= n <= (os.cpu_count() or n)


# ---------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------


def test_memory_without_cgroup_is_psutil(cgroup, fake_psutil):
    fake_psutil(16 * GiB, 10 * GiB)
    assert machine.total_memory() == 16 * GiB
    assert machine.available_memory() == 10 * GiB


def test_memory_v2_limit_caps_total_and_available(cgroup, fake_psutil):
    fake_psutil(64 * GiB, 60 * GiB)
    write(cgroup / "memory.max", str(2 * GiB))
    write(cgroup / "memory.current", str(GiB // 2))
    assert machine.total_memory() == 2 * GiB
    assert machine.available_memory() == 2 * GiB - GiB // 2


def test_memory_v2_page_cache_is_not_counted_as_used(cgroup, fake_psutil):
    fake_psutil(64 * GiB, 60 * GiB)
    write(cgroup / "memory.max", str(2 * GiB))
    write(cgroup / "memory.current", str(GiB + GiB // 2))
    write(cgroup / "memory.stat", f"anon 123\ninactive_file {GiB}\nactive_file 5\n")
    assert machine.available_memory() == 2 * GiB - GiB // 2


def test_memory_v2_max_means_unlimited(cgroup, fake_psutil):
    fake_psutil(8 * GiB, 5 * GiB)
    write(cgroup / "memory.max", "max")
    write(cgroup / "memory.current", str(GiB))
    assert machine.total_memory() == 8 * GiB
    assert machine.available_memory() == 5 * GiB


def test_memory_limit_above_physical_is_ignored_for_total(cgroup, fake_psutil):
    fake_psutil(4 * GiB, 3 * GiB)
    write(cgroup / "memory.max", str(32 * GiB))
    write(cgroup / "memory.current", str(GiB))
    assert machine.total_memory() == 4 * GiB
    assert machine.available_memory() == 3 * GiB


def test_memory_usage_over_limit_leaves_zero(cgroup, fake_psutil):
    fake_psutil(8 * GiB, 5 * GiB)
    write(cgroup / "memory.max", str(GiB))
    write(cgroup / "memory.current", str(2 * GiB))
    assert machine.available_memory() == 0


def test_memory_v1(cgroup, fake_psutil):
    fake_psutil(64 * GiB, 60 * GiB)
    write(cgroup / "memory" / "memory.limit_in_bytes", str(2 * GiB))
    write(cgroup / "memory" / "memory.usage_in_bytes", str(GiB))
    write(cgroup / "memory" / "memory.stat", f"cache 1\ntotal_inactive_file {GiB // 4}\n")
    assert machine.total_memory() == 2 * GiB
    assert machine.available_memory() == 2 * GiB - (GiB - GiB // 4)


def test_memory_v1_unlimited_huge_number(cgroup, fake_psutil):
    fake_psutil(8 * GiB, 6 * GiB)
    write(cgroup / "memory" / "memory.limit_in_bytes", "9223372036854771712")
    write(cgroup / "memory" / "memory.usage_in_bytes", str(GiB))
    assert machine.total_memory() == 8 * GiB
    assert machine.available_memory() == 6 * GiB


@pytest.mark.parametrize("junk", ["lots", "", "12.5", "-3"])
def test_memory_garbage_is_ignored(cgroup, fake_psutil, junk):
    fake_psutil(8 * GiB, 6 * GiB)
    write(cgroup / "memory.max", junk)
    write(cgroup / "memory.current", junk)
    assert machine.total_memory() == 8 * GiB
    assert machine.available_memory() == 6 * GiB


def test_memory_limit_without_usage_caps_total_only(cgroup, fake_psutil):
    fake_psutil(8 * GiB, 6 * GiB)
    write(cgroup / "memory.max", str(GiB))
    assert machine.total_memory() == GiB
    assert machine.available_memory() == 6 * GiB


def test_memory_nested_limits_take_the_tightest(cgroup, fake_psutil):
    (cgroup.parent / "proc_self_cgroup").write_text("0::/outer/inner\n")
    fake_psutil(64 * GiB, 60 * GiB)
    write(cgroup / "outer" / "memory.max", str(4 * GiB))
    write(cgroup / "outer" / "memory.current", str(3 * GiB))
    write(cgroup / "outer" / "inner" / "memory.max", str(2 * GiB))
    write(cgroup / "outer" / "inner" / "memory.current", str(GiB // 2))
    assert machine.total_memory() == 2 * GiB
    assert machine.available_memory() == GiB  # the outer level leaves only 1 GiB


def test_memory_unknown_without_psutil_or_cgroup(cgroup, monkeypatch):
    import psutil

    def broken():
        raise OSError("no /proc")

    monkeypatch.setattr(psutil, "virtual_memory", broken)
    assert machine.total_memory() is None
    assert machine.available_memory() is None
    write(cgroup / "memory.max", str(GiB))
    write(cgroup / "memory.current", str(GiB // 4))
    assert machine.total_memory() == GiB
    assert machine.available_memory() == GiB - GiB // 4


def test_memory_on_this_machine_is_sane():
    total, avail = machine.total_memory(), machine.available_memory()
    assert total is None or total > 0
    assert avail is None or avail >= 0
    if total is not None and avail is not None:
        assert avail <= total


# ---------------------------------------------------------------------------------------
# safe_size
# ---------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    avail=st.one_of(st.none(), st.integers(0, 1 << 45)),
    bpi=st.integers(1, 1 << 20),
    fraction=st.floats(1e-6, 0.5),
    min_items=st.integers(1, 1000),
    extra=st.one_of(st.none(), st.integers(0, 10**9)),
)
def test_safe_size_bounds(avail, bpi, fraction, min_items, extra):
    max_items = None if extra is None else min_items + extra
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(machine, "available_memory", lambda: avail)
        n = machine.safe_size(bpi, fraction=fraction, max_items=max_items, min_items=min_items)
    assert isinstance(n, int)
    assert n >= min_items
    if max_items is not None:
        assert n <= max_items
    budget = (2 * GiB if avail is None else avail) * fraction
    if n > min_items:  # not forced up by min_items: then it fits the budget
        assert n * bpi <= budget + bpi
        assert n * bpi <= budget * (1 + 1e-9) + 1


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 1 << 16), st.floats(1e-3, 0.5))
def test_safe_size_never_exceeds_binder_memory_when_unknown(bpi, fraction):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(machine, "available_memory", lambda: None)
        n = machine.safe_size(bpi, fraction=fraction)
    assert n == 1 or n * bpi <= GiB  # fraction <= 0.5 of the assumed 2 GiB


def test_safe_size_examples(monkeypatch):
    monkeypatch.setattr(machine, "available_memory", lambda: 1000 * 8 * 20)
    assert machine.safe_size(8) == 1000
    assert machine.safe_size(8, max_items=10) == 10
    assert machine.safe_size(8, fraction=0.5) == 10_000
    assert machine.safe_size(10**9, min_items=3) == 3


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(bytes_per_item=0), "bytes_per_item"),
        (dict(bytes_per_item=1.5), "bytes_per_item"),
        (dict(bytes_per_item=8, fraction=0), "fraction"),
        (dict(bytes_per_item=8, fraction=0.9), "fraction"),
        (dict(bytes_per_item=8, fraction=float("nan")), "fraction"),
        (dict(bytes_per_item=8, min_items=0), "min_items"),
        (dict(bytes_per_item=8, max_items=0), "max_items"),
        (dict(bytes_per_item=8, min_items=5, max_items=4), "max_items"),
        (dict(bytes_per_item="8"), "bytes_per_item"),
        (dict(bytes_per_item=True), "bytes_per_item"),
    ],
)
def test_safe_size_validates(kwargs, name):
    with pytest.raises(ValueError, match=name):
        machine.safe_size(**kwargs)


# ---------------------------------------------------------------------------------------
# caches and BLAS
# ---------------------------------------------------------------------------------------


def make_cache(root: Path, index: int, level: str, kind: str, size: str, cpu: int = 0) -> None:
    d = root / f"cpu{cpu}" / "cache" / f"index{index}"
    write(d / "level", level + "\n")
    write(d / "type", kind + "\n")
    write(d / "size", size + "\n")


def test_cache_sizes_from_sysfs(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "_CPU_SYSFS", tmp_path)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    make_cache(tmp_path, 0, "1", "Data", "48K")
    make_cache(tmp_path, 1, "1", "Instruction", "32K")
    make_cache(tmp_path, 2, "2", "Unified", "2048K")
    make_cache(tmp_path, 3, "3", "Unified", "36M")
    assert machine.cache_sizes() == {"L1d": 48 * 1024, "L2": 2 * 1024**2, "L3": 36 * 1024**2}


def test_cache_sizes_uses_a_cpu_we_may_run_on(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "_CPU_SYSFS", tmp_path)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5, 7}, raising=False)
    make_cache(tmp_path, 0, "2", "Unified", "1024K", cpu=0)
    make_cache(tmp_path, 0, "2", "Unified", "2048K", cpu=5)
    assert machine.cache_sizes() == {"L2": 2 * 1024**2}


def test_cache_sizes_skips_garbage_and_says_unknown(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "_CPU_SYSFS", tmp_path)
    monkeypatch.setattr(machine.platform, "system", lambda: "Linux")
    make_cache(tmp_path, 0, "1", "Data", "lots")
    make_cache(tmp_path, 1, "2", "Unified", "")
    assert machine.cache_sizes() == {}
    # and no crash when sysfs is missing entirely:
    monkeypatch.setattr(machine, "_CPU_SYSFS", tmp_path / "nowhere")
    assert machine.cache_sizes() == {}


@pytest.mark.parametrize(
    "text, value",
    [
        ("32K", 32768),
        ("1M", 1024**2),
        ("2G", 2 * 1024**3),
        ("512", 512),
        ("64KB", 65536),
        ("x", None),
        ("", None),
        ("K", None),
    ],
)
def test_parse_size(text, value):
    assert machine._parse_size(text) == value


def test_cache_sizes_on_this_machine_is_sane():
    caches = machine.cache_sizes()
    assert all(k in {"L1d", "L2", "L3", "L4"} and v > 0 for k, v in caches.items())


def test_blas_info_prefers_numpy_blas(monkeypatch):
    import threadpoolctl

    pools = [
        {"user_api": "openmp", "internal_api": "openmp", "num_threads": 4, "filepath": "/x/libgomp.so"},
        {
            "user_api": "blas",
            "internal_api": "mkl",
            "num_threads": 8,
            "version": "2024",
            "filepath": "/site-packages/scipy.libs/libmkl.so",
            "architecture": None,
        },
        {
            "user_api": "blas",
            "internal_api": "openblas",
            "num_threads": 2,
            "version": "0.3",
            "filepath": "/site-packages/numpy.libs/libopenblas.so",
            "architecture": "Haswell",
        },
    ]
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: pools)
    assert machine.blas_info() == {
        "library": "openblas",
        "version": "0.3",
        "threads": 2,
        "architecture": "Haswell",
    }


def test_blas_info_unknown(monkeypatch):
    import threadpoolctl

    unknown = {"library": None, "version": None, "threads": None, "architecture": None}
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: [])
    assert machine.blas_info() == unknown

    def broken():
        raise RuntimeError("cannot inspect")

    monkeypatch.setattr(threadpoolctl, "threadpool_info", broken)
    assert machine.blas_info() == unknown


def test_blas_info_on_this_machine():
    info = machine.blas_info()
    assert set(info) == {"library", "version", "threads", "architecture"}
    assert info["threads"] is None or info["threads"] >= 1


# ---------------------------------------------------------------------------------------
# measured peaks: correct work counted, validated input (never speed)
# ---------------------------------------------------------------------------------------


def test_peak_flops_counts_2n3(monkeypatch):
    clock = FakeClock(step=0.5)  # every timed matmul appears to take 0.5 s
    monkeypatch.setattr(machine, "_clock", clock)
    assert machine.measure_peak_flops(64, repeat=3) == pytest.approx(2 * 64**3 / 0.5)


def test_peak_flops_stops_at_max_time(monkeypatch):
    clock = FakeClock(step=1.0)
    monkeypatch.setattr(machine, "_clock", clock)
    machine.measure_peak_flops(32, repeat=50, max_time=3.0)
    assert clock.reads == 2 * 3  # three timed repeats of 1 s each, then it stops


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("threads", [None, 1])
def test_peak_flops_real_is_positive(dtype, threads):
    flops = machine.measure_peak_flops(128, repeat=2, dtype=dtype, threads=threads)
    assert math.isfinite(flops) and flops > 0


def test_peak_flops_restores_blas_threads():
    before = machine.blas_info()["threads"]
    machine.measure_peak_flops(64, repeat=1, threads=1)
    assert machine.blas_info()["threads"] == before


def test_peak_flops_detects_a_wrong_product(monkeypatch):
    def bad_matmul(a, b, out):
        out[...] = 0.0
        return out

    monkeypatch.setattr(machine.np, "matmul", bad_matmul)
    with pytest.raises(RuntimeError, match="wrong result"):
        machine.measure_peak_flops(64, repeat=1)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n=8), "n"),
        (dict(n=10_000), "n"),
        (dict(n=100.5), "n"),
        (dict(n=64, repeat=0), "repeat"),
        (dict(n=64, dtype="float16"), "dtype"),
        (dict(n=64, threads=0), "threads"),
        (dict(n=64, max_time=0), "max_time"),
        (dict(n=64, max_time=float("inf")), "max_time"),
        (dict(repeat=0), "repeat"),  # checked on the roof's path too
        (dict(dtype="int8"), "dtype"),
        (dict(max_time=-1), "max_time"),
    ],
)
def test_peak_flops_validates(kwargs, name):
    with pytest.raises(ValueError, match=name):
        machine.measure_peak_flops(**kwargs)


def _passes(arrays: int, nbytes: int) -> int:
    """Runs of a bandwidth kernel per timed repeat: enough to stream at least 64 MiB."""
    return max(1, math.ceil(64 * 1024**2 / (arrays * (nbytes // 8) * 8)))


@pytest.mark.parametrize("kernel, arrays", [("dot", 2), ("copy", 2), ("triad", 3)])
@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("nbytes", [8 * 1000, 8 * 100_003, 64 * 1024**2])
def test_bandwidth_counts_bytes_like_stream(monkeypatch, kernel, arrays, threads, nbytes):
    monkeypatch.setattr(machine, "_clock", FakeClock(step=1.0))
    bw = machine.measure_bandwidth(nbytes, repeat=2, kernel=kernel, threads=threads)
    # bytes per (fake) second: every pass over the arrays counts each array once
    assert bw == pytest.approx(_passes(arrays, nbytes) * arrays * nbytes)


def test_bandwidth_counts_whole_elements(monkeypatch):
    monkeypatch.setattr(machine, "_clock", FakeClock(step=1.0))
    bw = machine.measure_bandwidth(8 * 500 + 7, repeat=1, kernel="copy")
    assert bw == pytest.approx(_passes(2, 8 * 500) * 2 * 8 * 500)


def test_best_bandwidth_is_the_best_kernel(monkeypatch):
    """The memory roof's definition: the highest of the dot, copy and triad kernels."""
    real = machine._measure_bandwidth
    seen = []

    def fake(nbytes, repeat, kernel, threads, max_time):
        if kernel == "best":
            return real(nbytes, repeat, kernel, threads, max_time)
        seen.append((kernel, threads))
        return {"dot": 30e9, "copy": 35e9, "triad": 25e9}[kernel]

    monkeypatch.setattr(machine, "_measure_bandwidth", fake)
    assert machine.measure_bandwidth(4096, threads=3) == 35e9
    assert sorted(seen) == [("copy", 3), ("dot", 3), ("triad", 3)]


@pytest.mark.parametrize("kernel", ["dot", "copy", "triad", "best"])
def test_bandwidth_real_is_positive(kernel):
    bw = machine.measure_bandwidth(4 * 1024**2, repeat=2, kernel=kernel, threads=2)
    assert math.isfinite(bw) and bw > 0


def test_bandwidth_default_size_fits_memory(monkeypatch):
    monkeypatch.setattr(machine, "available_memory", lambda: 300 * 1024**2)
    sizes = []
    real_zeros = np.zeros

    def spy(n, *a, **k):
        sizes.append(n)
        return real_zeros(n, *a, **k)

    monkeypatch.setattr(machine.np, "zeros", spy)
    machine._measure_bandwidth(None, 1, "triad", 1, 1.0)
    assert sizes and 3 * sizes[0] * 8 <= 0.1 * 300 * 1024**2


def test_triad_block_loop_covers_everything():
    """The split into per-thread ranges and blocks covers every element exactly once."""
    for n in [1, 5, machine._TRIAD_BLOCK, 3 * machine._TRIAD_BLOCK + 17, 10**6]:
        for parts in [1, 2, 3, 7]:
            ranges = machine._split(n, parts, machine._TRIAD_BLOCK)
            covered = np.zeros(n, dtype=int)
            for lo, hi in ranges:
                covered[lo:hi] += 1
            assert (covered == 1).all()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(nbytes=100), "nbytes"),
        (dict(nbytes=4096, kernel="scale"), "kernel"),
        (dict(nbytes=4096, repeat=0), "repeat"),
        (dict(nbytes=4096, threads=0), "threads"),
        (dict(nbytes=4096, max_time=-1), "max_time"),
        (dict(nbytes="big"), "nbytes"),
        (dict(kernel="scale"), "kernel"),  # checked on the roof's path too
        (dict(threads=-2), "threads"),
    ],
)
def test_bandwidth_validates(kwargs, name):
    with pytest.raises(ValueError, match=name):
        machine.measure_bandwidth(**kwargs)


# ---------------------------------------------------------------------------------------
# the roofs: one definition, measured once per session, never exceeded
# ---------------------------------------------------------------------------------------


def make_roofs(**over):
    base = dict(
        cores=2,
        peak_flops=80e9,
        peak_flops_1core=50e9,
        peak_flops_float32=160e9,
        peak_flops_float32_1core=100e9,
        bandwidth=20e9,
        bandwidth_1core=12e9,
        bandwidth_dot=20e9,
        bandwidth_copy=15e9,
        bandwidth_triad=16e9,
        bandwidth_dot_1core=12e9,
        bandwidth_copy_1core=10e9,
        bandwidth_triad_1core=11e9,
        matrix_n=2048,
        seconds=3.0,
    )
    base.update(over)
    return machine.Roofs(**base)


@pytest.fixture
def fake_roofs(monkeypatch):
    """No roofs cached yet, none in the environment, and a fake measurement that counts calls."""
    calls = []

    def measure(budget=None):
        calls.append(1)
        return make_roofs(cores=machine.usable_cores(), seconds=float(len(calls)))

    monkeypatch.setattr(machine, "_ROOFS", None)
    monkeypatch.delenv(machine.ROOFS_ENV, raising=False)
    monkeypatch.setattr(machine, "_measure_roofs", measure)
    return calls


def test_roofs_are_measured_once_per_session(fake_roofs):
    first = machine.roofs()
    assert machine.roofs() is first and len(fake_roofs) == 1
    again = machine.roofs(refresh=True)
    assert len(fake_roofs) == 2 and again.seconds == 2.0
    assert machine.roofs() is again  # the new measurement is kept


def test_roofs_are_measured_again_when_the_usable_cores_change(fake_roofs, monkeypatch):
    more = machine.roofs().cores + 1
    monkeypatch.setattr(machine, "usable_cores", lambda: more)
    assert machine.roofs().cores == more and len(fake_roofs) == 2


def test_measure_functions_without_a_size_return_the_roofs(fake_roofs, monkeypatch):
    r = machine.roofs()
    cores = machine.usable_cores()
    assert machine.measure_peak_flops() == r.peak_flops
    assert machine.measure_peak_flops(threads=cores) == r.peak_flops
    assert machine.measure_peak_flops(threads=1) == r.peak_flops_1core
    assert machine.measure_peak_flops(dtype="float32") == r.peak_flops_float32
    assert machine.measure_peak_flops(dtype="float32", threads=1) == r.peak_flops_float32_1core
    assert machine.measure_peak_flops(repeat=3, max_time=0.5) == r.peak_flops  # a roof is measured one way
    assert machine.measure_bandwidth() == r.bandwidth
    assert machine.measure_bandwidth(threads=1, max_time=0.5) == r.bandwidth_1core
    assert machine.measure_bandwidth(kernel="copy") == r.bandwidth_copy
    assert machine.measure_bandwidth(kernel="triad", threads=1) == r.bandwidth_triad_1core
    assert len(fake_roofs) == 1
    machine.measure_peak_flops(refresh=True)
    assert len(fake_roofs) == 2
    # a size of one's own is a measurement of one's own, not cached
    monkeypatch.setattr(machine, "_clock", FakeClock(step=1.0))
    assert machine.measure_peak_flops(64, repeat=1) == pytest.approx(2 * 64**3)
    assert len(fake_roofs) == 2


def test_roofs_from_the_environment(fake_roofs, monkeypatch, tmp_path):
    saved = make_roofs(cores=machine.usable_cores(), peak_flops=123e9)
    path = saved.save(tmp_path / "roofs.json")
    monkeypatch.setenv(machine.ROOFS_ENV, str(path))
    r = machine.roofs()
    assert r.peak_flops == 123e9 and r.source.startswith("file") and not fake_roofs
    machine.roofs(refresh=True)  # refresh measures, whatever the file says
    assert len(fake_roofs) == 1


@pytest.mark.parametrize("text", ["not json", '{"cores": 1}', "OTHER_CORES"])
def test_roofs_environment_file_unusable_means_measure(fake_roofs, monkeypatch, tmp_path, text):
    if text == "OTHER_CORES":
        text = __import__("json").dumps(make_roofs(cores=machine.usable_cores() + 1).as_dict())
    path = tmp_path / "roofs.json"
    path.write_text(text)
    monkeypatch.setenv(machine.ROOFS_ENV, str(path))
    assert machine.roofs().source == "measured" and len(fake_roofs) == 1


class _FakeThreads:
    """Stands in for machine._Threads: records the thread count of the block it opens."""

    now: int | None = None

    def __init__(self, threads):
        self.threads = threads

    def __enter__(self):
        if self.threads is not None:
            _FakeThreads.now = self.threads
        return self

    def __exit__(self, *exc):
        return False


def test_measure_roofs_all_cores_never_below_one(monkeypatch):
    """What all cores can do includes what one can: each all-core roof is >= its one-core one."""
    monkeypatch.setattr(machine, "usable_cores", lambda: 4)
    monkeypatch.setattr(machine, "_Threads", _FakeThreads)
    monkeypatch.setattr(machine, "_matrices", lambda n, dtype: (np.empty((n, 1), dtype=dtype), None, None))
    seen = []

    def rate(mats, threads, repeat, max_time, warmup=True):
        n, dtype, team = mats[0].shape[0], mats[0].dtype.name, _FakeThreads.now
        seen.append((team, dtype, n, repeat))
        # a busy machine: the 4-thread float64 figure came out below the 1-thread one
        base = {"float64": 40e9, "float32": 80e9}[dtype] * n / 2048
        return base * (0.5 if dtype == "float64" else 3.0) if team == 4 else base

    def bw(nbytes, repeat, kernel, threads, max_time):
        return {"dot": 10e9, "copy": 8e9, "triad": 9e9}[kernel] * (0.5 if threads == 4 else 1.0)

    monkeypatch.setattr(machine, "_matmul_rate", rate)
    monkeypatch.setattr(machine, "_measure_bandwidth", bw)
    monkeypatch.setattr(machine, "available_memory", lambda: 20 * GiB)
    r = machine._measure_roofs()
    assert r.cores == 4 and r.matrix_n == 2048 and r.seconds >= 0 and r.source == "measured"
    assert r.peak_flops_1core == 40e9 and r.peak_flops == 40e9  # max(20e9, 40e9)
    assert r.peak_flops_float32 == 240e9 and r.peak_flops_float32_1core == 80e9
    assert r.bandwidth_1core == 10e9 and r.bandwidth == 10e9 and r.bandwidth_dot == 5e9
    # the roof's size and its half and quarter, more repeats for the smaller ones
    assert sorted({(n, rep) for _, dt, n, rep in seen if dt == "float64"}) == [
        (512, 16),
        (1024, 6),
        (2048, 3),
    ]
    # four cores no faster than one in float64: every try looked disturbed, so rounds went on
    assert r.rounds == machine._ROOF_ROUNDS[1] and len(seen) == r.rounds * 2 * 2 * 3
    assert {t for t, *_ in seen} == {1, 4}


def test_measure_roofs_stops_after_two_rounds_on_a_quiet_machine(monkeypatch):
    monkeypatch.setattr(machine, "usable_cores", lambda: 4)
    monkeypatch.setattr(machine, "_Threads", _FakeThreads)
    monkeypatch.setattr(machine, "_matrices", lambda n, dtype: (np.empty((n, 1), dtype=dtype), None, None))
    monkeypatch.setattr(
        machine, "_matmul_rate", lambda mats, *a, **k: 10e9 * (3.5 if _FakeThreads.now == 4 else 1)
    )
    monkeypatch.setattr(machine, "_measure_bandwidth", lambda *a: 5e9)
    monkeypatch.setattr(machine, "available_memory", lambda: 20 * GiB)
    r = machine._measure_roofs()
    assert r.rounds == 2 and r.peak_flops == 35e9 and r.peak_flops_1core == 10e9


def test_measure_roofs_on_one_core_measures_once_per_round(monkeypatch):
    monkeypatch.setattr(machine, "usable_cores", lambda: 1)
    monkeypatch.setattr(machine, "_matrices", lambda n, dtype: (np.empty((n, 1)), None, None))
    calls = []
    monkeypatch.setattr(machine, "_matmul_rate", lambda *a, **k: calls.append(1) or 10e9)
    monkeypatch.setattr(machine, "_measure_bandwidth", lambda *a: calls.append(2) or 5e9)
    r = machine._measure_roofs()
    assert r.rounds == 2 and calls.count(1) == 2 * 6 and calls.count(2) == 2 * 3  # 2 dtypes x 3 sizes
    assert r.peak_flops == r.peak_flops_1core and r.bandwidth == r.bandwidth_1core


def test_measure_roofs_goes_on_while_a_round_raises_a_roof(monkeypatch):
    """A busy machine: every round finds more, so rounds go on up to the most allowed."""
    monkeypatch.setattr(machine, "usable_cores", lambda: 1)
    monkeypatch.setattr(machine, "_matrices", lambda n, dtype: (np.empty((n, 1)), None, None))
    rising = iter(range(1, 10**6))
    monkeypatch.setattr(machine, "_matmul_rate", lambda *a, **k: 1e9 * 1.1 ** next(rising))
    monkeypatch.setattr(machine, "_measure_bandwidth", lambda *a: 5e9)
    r = machine._measure_roofs()
    assert r.rounds == machine._ROOF_ROUNDS[1]
    monkeypatch.setattr(machine, "_ROOF_BUDGET", 0.0)  # out of time: the two rounds only
    assert machine._measure_roofs().rounds == 2
    monkeypatch.setattr(machine, "_ROOF_BUDGET", 1e9)
    assert machine._measure_roofs(budget=0.0).rounds == 2
    with pytest.raises(ValueError, match="budget"):
        machine._measure_roofs(budget=-1)


@pytest.mark.parametrize(
    "avail, threads, expected",
    [
        (20 * GiB, 2, 2048),
        (20 * GiB, 16, 4096),
        (300 * 1024**2, 2, 1024),
        (2 * GiB, 1, 2048),
        (None, 1, 2048),
    ],
)
def test_roof_matrix_size_fits_binder(monkeypatch, avail, threads, expected):
    monkeypatch.setattr(machine, "available_memory", lambda: avail)
    n = machine._roof_matrix_size(threads)
    assert n == expected and 3 * 8 * n * n <= 0.1 * (avail or 2 * GiB)


def test_roofs_bound_and_fraction():
    r = make_roofs()
    assert r.peak() == 80e9 and r.peak("float32", threads=1) == 100e9 and r.peak(threads=2) == 80e9
    assert r.peak(threads=8) == 80e9  # any thread count but one: the all-core roof
    assert r.memory() == 20e9 and r.memory(1) == 12e9 and r.memory(kernel="copy") == 15e9
    assert r.memory(1, kernel="dot") == 12e9
    assert r.balance() == pytest.approx(4.0) and r.balance(threads=1) == pytest.approx(50 / 12)
    assert r.bound() == 80e9 and r.bound(0.25) == pytest.approx(5e9) and r.bound(100.0) == 80e9
    assert r.bound(0.25, threads=1) == pytest.approx(3e9)
    assert np.allclose(r.bound(np.array([0.5, 1000.0])), [10e9, 80e9])
    assert r.fraction(4e9, 0.25) == pytest.approx(0.8)
    assert r.fraction(40e9) == pytest.approx(0.5)
    assert r.fraction(3e9, 0.25, threads=1) == pytest.approx(1.0)
    assert r.fraction(1.04 * 5e9, 0.25) == pytest.approx(1.04)  # noise: allowed
    with pytest.raises(machine.AboveRoofError, match="mlp.*one core"):
        r.fraction(5e9, 0.25, threads=1, what="mlp")  # 5 / 3: impossible
    with pytest.raises(machine.AboveRoofError, match="328%"):
        r.fraction(3.28 * 80e9)
    with pytest.raises(ValueError, match="level"):
        r.bound(0.25, level="L1d")
    with pytest.raises(ValueError, match="dtype"):
        r.peak("float16")
    with pytest.raises(ValueError, match="kernel"):
        r.memory(kernel="scale")
    with pytest.raises(ValueError, match="intensity"):
        r.bound(0.0)
    with pytest.raises(ValueError, match="threads"):
        r.peak(threads=0)
    with pytest.raises(ValueError, match="performance"):
        r.fraction(-1.0)


@given(st.floats(0, 1.05))
def test_check_under_roof_allows_noise(f):
    assert machine.check_under_roof(f) == f


@given(st.floats(1.0500001, 1e6))
def test_check_under_roof_refuses_the_impossible(f):
    with pytest.raises(machine.AboveRoofError, match="105%"):
        machine.check_under_roof(f, "k", "the roof")


def test_check_under_roof_validates():
    with pytest.raises(ValueError, match="fraction"):
        machine.check_under_roof(float("nan"))
    with pytest.raises(ValueError, match="fraction"):
        machine.check_under_roof(-0.1)
    assert machine.ROOF_TOLERANCE == 1.05


def test_roofs_validate_and_round_trip():
    r = make_roofs()
    d = r.as_dict()
    assert d["balance"] == pytest.approx(4.0) and d["balance_1core"] == pytest.approx(50 / 12)
    assert machine.Roofs.from_dict(d) == r
    assert len(r.rows()) == 6 and "2 cores" in r.rows()[0][0] and r.rows()[0][1] == "80 GFLOP/s"
    with pytest.raises(ValueError, match="bandwidth_1core"):
        make_roofs(bandwidth_1core=0.0)
    with pytest.raises(ValueError, match="cores"):
        make_roofs(cores=0)


def test_fraction_of_roof_uses_the_session_roofs(fake_roofs):
    assert machine.fraction_of_roof(40e9) == pytest.approx(0.5)
    assert machine.fraction_of_roof(1.5e9, 0.25, threads=1) == pytest.approx(0.5)
    with pytest.raises(machine.AboveRoofError, match="dot"):
        machine.fraction_of_roof(6e9, 0.25, what="dot")
    assert len(fake_roofs) == 2  # measured once, and once more for a second look before refusing


def test_cache_bandwidth_fits_the_level(monkeypatch):
    monkeypatch.setattr(machine, "_CACHE_ROOFS", {})
    monkeypatch.setattr(machine, "cache_sizes", lambda: {"L1d": 32768, "L2": 1024**2, "L3": 32 * 1024**2})
    seen = []

    def fake(nbytes, repeat, kernel, threads, max_time):
        seen.append((kernel, nbytes, threads))
        return {"dot": 100e9, "copy": 80e9, "triad": 90e9}[kernel]

    monkeypatch.setattr(machine, "_measure_bandwidth", fake)
    assert machine.cache_bandwidth("L2", threads=1) == 100e9
    for kernel, nbytes, threads in seen:  # half the L2
        assert 0.45 * 1024**2 <= machine._KERNELS[kernel] * nbytes <= 1024**2 // 2 and threads == 1
    machine.cache_bandwidth("L2", threads=1)
    assert len(seen) == 3  # cached
    machine.cache_bandwidth("L2", threads=1, refresh=True)
    assert len(seen) == 6
    seen.clear()
    machine.cache_bandwidth("L2", threads=4)  # each core's share fits its own L2
    assert all(machine._KERNELS[k] * b <= 4 * 1024**2 // 2 and t == 4 for k, b, t in seen)
    seen.clear()
    # L3: from twice the L2 (the smallest data under the L3 roof) up to eight times that, at
    # most half the L3, and the best of all: bandwidth need not fall with size inside an L3
    rates = {2: 50e9, 4: 60e9, 8: 70e9, 16: 65e9}  # by MiB of arrays together

    def by_size(nbytes, repeat, kernel, threads, max_time):
        seen.append((kernel, nbytes, threads))
        return rates[round(machine._KERNELS[kernel] * nbytes / 1024**2)]

    monkeypatch.setattr(machine, "_measure_bandwidth", by_size)
    assert machine.cache_bandwidth("L3", threads=1) == 70e9
    together = sorted({round(machine._KERNELS[k] * b / 1024**2) for k, b, _ in seen})
    assert together == [2, 4, 8, 16] and len(seen) == 12
    assert all(1.9 * 1024**2 <= machine._KERNELS[k] * b <= 16 * 1024**2 for k, b, _ in seen)
    monkeypatch.setattr(machine, "_measure_bandwidth", fake)
    seen.clear()
    machine.cache_bandwidth("L3", threads=32)  # 64 MiB of L2s: at most half the L3
    assert all(15 * 1024**2 <= machine._KERNELS[k] * b <= 16 * 1024**2 for k, b, _ in seen)
    with pytest.raises(ValueError, match="level"):
        machine.cache_bandwidth("L1d")
    monkeypatch.setattr(machine, "cache_sizes", dict)
    with pytest.raises(ValueError, match="level"):
        machine.cache_bandwidth("L3")
    seen.clear()
    machine.cache_bandwidth("L2", threads=2)  # unknown L2: 1 MiB per core assumed
    assert seen and all(machine._KERNELS[k] * b <= 1024**2 for k, b, _ in seen)


def test_bandwidth_for_places_data_by_size(monkeypatch, fake_roofs):
    monkeypatch.setattr(machine, "cache_sizes", lambda: {"L1d": 32768, "L2": 1024**2, "L3": 32 * 1024**2})
    monkeypatch.setattr(machine, "usable_cores", lambda: 2)
    monkeypatch.setattr(
        machine, "cache_bandwidth", lambda level, threads: {"L2": 200e9, "L3": 90e9}[level] * threads
    )
    monkeypatch.setattr(machine, "_measure_roofs", lambda budget=None: make_roofs(stream_bytes=256 * 1024**2))
    r = machine.roofs()
    assert machine.bandwidth_for(1024) == (400e9, "L2")
    assert machine.bandwidth_for(3 * 1024**2) == (400e9, "L2")  # under twice the two L2s
    assert machine.bandwidth_for(3 * 1024**2, threads=1) == (90e9, "L3")
    assert machine.bandwidth_for(200 * 1024**2) == (180e9, "L3")  # beyond the L3, below the roof's arrays
    assert machine.bandwidth_for(256 * 1024**2) == (r.bandwidth, "memory")
    assert machine.bandwidth_for(10**9, threads=1) == (r.bandwidth_1core, "memory")
    monkeypatch.setattr(machine, "cache_sizes", dict)  # no L3 reported: the L2 roof up to the roof's arrays
    assert machine.bandwidth_for(100 * 1024**2).level == "L2"
    with pytest.raises(ValueError, match="nbytes"):
        machine.bandwidth_for(-1)


def test_roofs_place_a_kernel_under_a_cache_roof(monkeypatch):
    monkeypatch.setattr(
        machine, "cache_bandwidth", lambda level, threads: {"L2": 100e9, "L3": 50e9}[level] * threads
    )
    r = make_roofs()
    assert r.bandwidth_of() == 20e9 and r.bandwidth_of("L3") == 100e9 and r.bandwidth_of("L2", 1) == 100e9
    assert r.bound(0.25, level="L3") == pytest.approx(25e9)
    assert r.fraction(20e9, 0.25, level="L3") == pytest.approx(0.8)  # 4 x the memory roof's bound
    with pytest.raises(machine.AboveRoofError, match="L2 cache"):
        r.fraction(30e9, 0.25, threads=1, level="L2")


def test_main_writes_the_roofs_for_other_processes(fake_roofs, tmp_path, capsys):
    assert machine._main([str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "Peak, float64" in out and machine.ROOFS_ENV in out and len(fake_roofs) == 1
    assert (
        machine.Roofs.from_dict(__import__("json").loads((tmp_path / "r.json").read_text()))
        == machine.roofs()
    )


def test_real_cache_bandwidth_is_positive():
    if "L2" not in machine.cache_sizes():
        pytest.skip("the OS does not report an L2 cache here")
    bw = machine.cache_bandwidth("L2", threads=1)
    assert math.isfinite(bw) and bw > 0


def test_real_kernels_stay_under_the_real_roofs():
    """The roofs of this machine, measured as every chapter measures them, hold real kernels:
    a matrix product (on one core and on all) and a dot product over 128 MiB, each under the
    roof of what it uses. Placing one above 105 % of its roof fails this test."""
    r = machine.roofs()
    assert r.peak_flops >= r.peak_flops_1core and r.bandwidth >= r.bandwidth_1core
    rng = np.random.default_rng(1)
    n = 1024
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    c = np.empty((n, n))
    for threads in (1, None):
        with machine._Threads(threads or r.cores):
            t = min(_timed(lambda: np.matmul(a, b, out=c)) for _ in range(3))
        r.fraction(2 * n**3 / t, 2 * n**3 / (24 * n * n), threads=threads, what=f"matmul, threads={threads}")
    m = 8 * 1024**2  # 64 MiB per array: under the roof of where they live (a cache, or memory)
    x, y = np.ones(m), np.ones(m)
    t = min(_timed(lambda: x @ y) for _ in range(3))
    level = machine.bandwidth_for(16 * m).level
    r.fraction(2 * m / t, 1 / 8, level=level, what=f"dot over 2 x 64 MiB, in {level}")


def _timed(func) -> float:
    t0 = time.perf_counter()
    func()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------
# the profile and the summary
# ---------------------------------------------------------------------------------------


def make_profile(**over):
    base = dict(
        system="Linux",
        processor="",
        python="3.11",
        numpy="2.0",
        logical_cpus=None,
        usable_cores=1,
        cpu_quota=None,
        total_memory=None,
        available_memory=None,
        caches={},
        blas={},
        peak_flops=None,
        bandwidth=None,
    )
    base.update(over)
    return machine.MachineProfile(**base)


def test_rows_say_unknown_rather_than_guess():
    rows = dict(make_profile().rows())
    assert rows["Processor"] == "unknown"
    assert rows["Logical CPUs (os.cpu_count)"] == "unknown"
    assert rows["Total memory"] == "unknown"
    assert rows["Caches (per cache)"] == "unknown"
    assert rows["BLAS"] == "unknown, threads unknown"
    assert rows["Peak FLOP/s (float64, all usable cores)"] == "not measured"
    assert rows["Memory roof (best of the three, 1 core)"] == "not measured"
    assert rows["Machine balance (float64, all usable cores)"] == "not measured"
    assert rows["CPU quota (cgroup)"] == "none"


def test_rows_with_units():
    p = make_profile(
        logical_cpus=72,
        usable_cores=1,
        cpu_quota=1.0,
        total_memory=2 * GiB,
        available_memory=GiB + GiB // 2,
        caches={"L1d": 32768, "L2": 1024**2, "L3": 32 * 1024**2},
        blas={"library": "openblas", "version": "0.3.27", "threads": 72},
        peak_flops=50e9,
        bandwidth=10e9,
        peak_flops_1thread=50e9,
        peak_flops_float32=100e9,
        bandwidth_copy=10e9,
        bandwidth_triad=8e9,
        affinity_cpus=72,
        bandwidth_1thread=5e9,
        peak_flops_float32_1thread=60e9,
    )
    rows = dict(p.rows())
    assert rows["CPU quota (cgroup)"] == "1 CPUs"
    assert rows["Total memory"] == "2 GiB"
    assert rows["Available memory"] == "1.5 GiB"
    assert rows["Caches (per cache)"] == "L1d 32 KiB, L2 1 MiB, L3 32 MiB"
    assert rows["BLAS"] == "openblas 0.3.27, 72 threads (more than the 1 usable: oversubscribed)"
    assert rows["Peak FLOP/s (float64, all usable cores)"] == "50 GFLOP/s"
    assert rows["Peak FLOP/s (float32, all usable cores)"] == "100 GFLOP/s"
    assert rows["Peak FLOP/s (float32, 1 core)"] == "60 GFLOP/s"
    assert rows["Memory bandwidth (triad, all usable cores)"] == "8 GB/s"
    assert rows["Memory roof (best of the three, all usable cores)"] == "10 GB/s"
    assert rows["Memory roof (best of the three, 1 core)"] == "5 GB/s"
    assert rows["Machine balance (float64, all usable cores)"] == "5 FLOP/byte"
    assert p.balance == pytest.approx(5.0)
    assert "| Usable cores (affinity, quota) | 1 |" in p.markdown()


def test_profile_without_measuring_is_quick_and_consistent():
    p = machine.profile(measure=False)
    assert p.peak_flops is None and p.bandwidth is None and p.balance is None and p.measure_seconds is None
    assert p.usable_cores == machine.usable_cores()
    assert p.logical_cpus == os.cpu_count()
    assert len(p.rows()) == len({k for k, _ in p.rows()})
    d = p.as_dict()
    assert d["usable_cores"] == p.usable_cores and d["balance"] is None


def test_profile_shows_the_session_roofs(fake_roofs):
    p = machine.profile()
    r = machine.roofs()
    assert len(fake_roofs) == 1
    assert p.peak_flops == r.peak_flops and p.peak_flops_1thread == r.peak_flops_1core
    assert p.peak_flops_float32 == r.peak_flops_float32
    assert p.peak_flops_float32_1thread == r.peak_flops_float32_1core
    assert p.bandwidth == r.bandwidth and p.bandwidth_1thread == r.bandwidth_1core
    assert (p.bandwidth_dot, p.bandwidth_copy, p.bandwidth_triad) == (20e9, 15e9, 16e9)
    assert p.balance == pytest.approx(r.balance()) and p.measure_seconds == r.seconds
    assert machine.profile().peak_flops == p.peak_flops and len(fake_roofs) == 1  # reused
    machine.profile(refresh=True)
    assert len(fake_roofs) == 2
    machine.profile(measure=False)
    assert len(fake_roofs) == 2


def test_summary_names_the_machine():
    s = machine.summary()
    assert "usable core" in s and "Python" in s and "NumPy" in s


def test_a_kernel_above_the_roof_gets_a_second_look(monkeypatch):
    """Before refusing a kernel above its roof, the session's roofs are measured again and
    each kept at the higher of the two: a roof measured in a busy moment is the usual cause."""
    low = make_roofs(cores=machine.usable_cores(), peak_flops=40e9)
    high = make_roofs(cores=machine.usable_cores(), peak_flops=100e9, bandwidth=10e9)
    monkeypatch.setattr(machine, "_ROOFS", low)
    monkeypatch.delenv(machine.ROOFS_ENV, raising=False)
    monkeypatch.setattr(machine, "_measure_roofs", lambda budget=None: high)
    held = low  # what a notebook holds: roofs = machine.roofs()
    bandwidth = low.bandwidth
    assert held.fraction(60e9) == pytest.approx(0.6)  # 150 % of the low roof at first
    assert machine.roofs() is held  # raised in place: every holder sees the raised roofs
    assert held.peak_flops == 100e9 and held.bandwidth == bandwidth  # the higher of each
    assert held.fraction(90e9) == pytest.approx(0.9)  # a later kernel: no stale roof
    with pytest.raises(machine.AboveRoofError):
        held.fraction(120e9)  # still above after the second look


def test_roofs_that_are_not_the_sessions_get_no_second_look(monkeypatch):
    monkeypatch.setattr(machine, "_measure_roofs", lambda budget=None: pytest.fail("measured"))
    with pytest.raises(machine.AboveRoofError):
        make_roofs().fraction(100e9)
