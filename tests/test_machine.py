"""Unit and property tests of computing_change.machine.

The OS is faked: cgroup files live in a temporary directory (``machine._CGROUP`` and
``machine._PROC_CGROUP`` point there), CPU affinity and psutil are monkeypatched. The
measured peaks are checked for correctness and for the bytes and FLOPs they count (with a
fake clock), never for speed.
"""

from __future__ import annotations

import math
import os
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change import machine

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
    ],
)
def test_peak_flops_validates(kwargs, name):
    with pytest.raises(ValueError, match=name):
        machine.measure_peak_flops(**kwargs)


@pytest.mark.parametrize("kernel, arrays", [("dot", 2), ("copy", 2), ("triad", 3)])
@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("nbytes", [8 * 1000, 8 * 100_003])
def test_bandwidth_counts_bytes_like_stream(monkeypatch, kernel, arrays, threads, nbytes):
    monkeypatch.setattr(machine, "_clock", FakeClock(step=1.0))
    bw = machine.measure_bandwidth(nbytes, repeat=2, kernel=kernel, threads=threads)
    assert bw == pytest.approx(arrays * nbytes)  # bytes per (fake) second


def test_bandwidth_counts_whole_elements(monkeypatch):
    monkeypatch.setattr(machine, "_clock", FakeClock(step=1.0))
    assert machine.measure_bandwidth(8 * 500 + 7, repeat=1, kernel="copy") == pytest.approx(2 * 8 * 500)


def test_default_bandwidth_is_the_best_kernel(monkeypatch):
    """The roof: the highest of the read, copy and triad kernels, whichever it is."""
    real = machine.measure_bandwidth
    seen = []

    def fake(nbytes=None, repeat=5, *, kernel="best", threads=None, max_time=1.0):
        if kernel == "best":
            return real(nbytes, repeat, kernel=kernel, threads=threads, max_time=max_time)
        seen.append((kernel, threads))
        return {"dot": 30e9, "copy": 35e9, "triad": 25e9}[kernel]

    monkeypatch.setattr(machine, "measure_bandwidth", fake)
    assert machine.measure_bandwidth(threads=2) == 35e9
    assert sorted(seen) == [("copy", 2), ("dot", 2), ("triad", 2)]


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
    machine.measure_bandwidth(kernel="triad", repeat=1, threads=1)
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
    ],
)
def test_bandwidth_validates(kwargs, name):
    with pytest.raises(ValueError, match=name):
        machine.measure_bandwidth(**kwargs)


# ---------------------------------------------------------------------------------------
# time_bound, the profile and the summary
# ---------------------------------------------------------------------------------------


def test_time_bound_examples():
    assert machine.time_bound(1e9, 1e6, peak_flops=1e10, bandwidth=1e10) == pytest.approx(0.1)
    assert machine.time_bound(1e6, 1e9, peak_flops=1e10, bandwidth=1e10) == pytest.approx(0.1)
    assert machine.time_bound(0, 0, peak_flops=1, bandwidth=1) == 0.0
    out = machine.time_bound(np.array([1.0, 4.0]), 2.0, peak_flops=1.0, bandwidth=1.0)
    assert np.allclose(out, [2.0, 4.0])


@given(st.floats(0, 1e20), st.floats(0, 1e20), st.floats(1e3, 1e16), st.floats(1e3, 1e14))
def test_time_bound_is_the_larger_limit(f, b, p, beta):
    t = machine.time_bound(f, b, peak_flops=p, bandwidth=beta)
    assert t >= f / p * (1 - 1e-12) and t >= b / beta * (1 - 1e-12)
    assert t == pytest.approx(max(f / p, b / beta))


@pytest.mark.parametrize(
    "args, name",
    [
        ((-1, 0, 1, 1), "flops"),
        ((0, -1, 1, 1), "nbytes"),
        ((0, 0, 0, 1), "peak_flops"),
        ((0, 0, 1, 0), "bandwidth"),
        ((float("inf"), 0, 1, 1), "flops"),
        (("a", 0, 1, 1), "flops"),
    ],
)
def test_time_bound_validates(args, name):
    f, b, p, beta = args
    with pytest.raises(ValueError, match=name):
        machine.time_bound(f, b, peak_flops=p, bandwidth=beta)


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
    assert rows["Peak FLOP/s (float64 matmul)"] == "not measured"
    assert rows["Machine balance (float64)"] == "not measured"
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
    )
    rows = dict(p.rows())
    assert rows["CPU quota (cgroup)"] == "1 CPUs"
    assert rows["Total memory"] == "2 GiB"
    assert rows["Available memory"] == "1.5 GiB"
    assert rows["Caches (per cache)"] == "L1d 32 KiB, L2 1 MiB, L3 32 MiB"
    assert rows["BLAS"] == "openblas 0.3.27, 72 threads (more than the 1 usable: oversubscribed)"
    assert rows["Peak FLOP/s (float64 matmul)"] == "50 GFLOP/s"
    assert rows["Peak FLOP/s (float32 matmul)"] == "100 GFLOP/s"
    assert rows["Memory bandwidth (triad)"] == "8 GB/s"
    assert rows["Machine balance (float64)"] == "5 FLOP/byte"
    assert p.balance == pytest.approx(5.0)
    assert p.time_bound(1e9, 1e9) == pytest.approx(0.1)
    assert p.time_bound(1e10, 0, dtype="float32") == pytest.approx(0.1)
    assert "| Usable cores (affinity, quota) | 1 |" in p.markdown()
    with pytest.raises(ValueError, match="dtype"):
        p.time_bound(1, 1, dtype="int8")
    with pytest.raises(ValueError, match="measure"):
        make_profile().time_bound(1, 1)


def test_profile_without_measuring_is_quick_and_consistent():
    p = machine.profile(measure=False)
    assert p.peak_flops is None and p.bandwidth is None and p.balance is None and p.measure_seconds is None
    assert p.usable_cores == machine.usable_cores()
    assert p.logical_cpus == os.cpu_count()
    assert len(p.rows()) == len({k for k, _ in p.rows()})
    d = p.as_dict()
    assert d["usable_cores"] == p.usable_cores and d["balance"] is None


def test_profile_measures(monkeypatch):
    calls = []

    def flops(n=None, repeat=5, *, dtype="float64", threads=None, max_time=1.0):
        calls.append(("flops", dtype, threads))
        return {"float64": 40e9, "float32": 80e9}[dtype] / (2 if threads == 1 else 1)

    def bw(nbytes=None, repeat=5, *, kernel="copy", threads=None, max_time=1.0):
        calls.append(("bw", kernel, threads))
        return {"copy": 20e9, "triad": 16e9, "dot": 18e9}[kernel]

    monkeypatch.setattr(machine, "measure_peak_flops", flops)
    monkeypatch.setattr(machine, "measure_bandwidth", bw)
    monkeypatch.setattr(machine, "blas_info", lambda: {"library": "x", "threads": 4})
    p = machine.profile()
    assert p.peak_flops == 40e9 and p.peak_flops_1thread == 20e9 and p.peak_flops_float32 == 80e9
    assert p.bandwidth_copy == 20e9 and p.bandwidth_triad == 16e9 and p.bandwidth_dot == 18e9
    assert p.bandwidth == 20e9
    assert p.balance == pytest.approx(2.0)
    assert p.measure_seconds is not None and p.measure_seconds >= 0
    assert ("flops", "float64", 1) in calls
    # With BLAS on one thread already, the single-thread figure is the same measurement.
    calls.clear()
    monkeypatch.setattr(machine, "blas_info", lambda: {"library": "x", "threads": 1})
    p = machine.profile()
    assert p.peak_flops_1thread == p.peak_flops and ("flops", "float64", 1) not in calls


def test_summary_names_the_machine():
    s = machine.summary()
    assert "usable core" in s and "Python" in s and "NumPy" in s
