"""Tests of computing_change.distributed: the pure helpers (with hypothesis) and, on a
real two-worker LocalCluster, every demo of chapter 3.2 (results equal to the serial ones,
a killed worker recovered from, nothing left running). No test asserts a speed."""

from __future__ import annotations

import os
import time

import matplotlib
import numpy as np
import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change import distributed as dist
from computing_change import formulas as F

matplotlib.use("Agg")

# --------------------------------------------------------------------------------------
# The cluster helpers that need no cluster
# --------------------------------------------------------------------------------------


def test_scheduler_address_from_environment():
    assert dist.scheduler_address({}) is None
    assert dist.scheduler_address({dist.SCHEDULER_ENV: "  "}) is None
    assert dist.scheduler_address({dist.SCHEDULER_ENV: "tcp://10.0.0.5:8786"}) == "tcp://10.0.0.5:8786"
    for bad in ("10.0.0.5:8786", "http://host:8786", "tcp://"):
        with pytest.raises(ValueError, match=dist.SCHEDULER_ENV):
            dist.scheduler_address({dist.SCHEDULER_ENV: bad})


def test_local_cluster_kwargs():
    kw = dist.local_cluster_kwargs()
    assert 1 <= kw["n_workers"] <= dist.MAX_DEFAULT_WORKERS
    assert kw["threads_per_worker"] == 1 and kw["processes"] is True
    assert kw["host"] == "127.0.0.1" and kw["dashboard_address"].startswith("127.0.0.1:")
    kw = dist.local_cluster_kwargs(4, memory_budget=2 * 1024**3)
    assert kw["n_workers"] == 4 and kw["memory_limit"] == 512 * 1024**2
    assert dist.local_cluster_kwargs(64, memory_budget=1024**3)["memory_limit"] == 256 * 1024**2
    for bad in (0, 65, 1.5, True):
        with pytest.raises(ValueError, match="n_workers"):
            dist.local_cluster_kwargs(bad)
    with pytest.raises(ValueError, match="memory_budget"):
        dist.local_cluster_kwargs(1, memory_budget=0)


def test_cluster_client_rejects_bad_arguments():
    with pytest.raises(ValueError, match="address"):
        with dist.cluster_client(address="localhost:8786"):
            pass
    with pytest.raises(ValueError, match="n_workers"):
        with dist.cluster_client(n_workers=2, address="tcp://127.0.0.1:1"):
            pass
    with pytest.raises(ValueError, match="timeout"):
        with dist.cluster_client(timeout=0):
            pass


# --------------------------------------------------------------------------------------
# Worker functions
# --------------------------------------------------------------------------------------


def test_spin_known_values():
    assert dist.spin(0, 12345) == 12345
    assert dist.spin(1, 0) == dist._LCG_C
    assert dist.spin(2, 0) == (dist._LCG_A * dist._LCG_C + dist._LCG_C) % 2**64


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 300), st.integers(0, 300), st.integers(0, 2**64 - 1))
def test_spin_composes(a, b, seed):
    assert dist.spin(a + b, seed) == dist.spin(b, dist.spin(a, seed))
    assert 0 <= dist.spin(a, seed) < 2**64


@pytest.mark.parametrize("args", [(-1, 0), (1.5, 0), (True, 0), (10, -1), (10, 2**64)])
def test_spin_validates(args):
    with pytest.raises(ValueError, match="iterations|seed"):
        dist.spin(*args)


def test_spin_rate_is_positive():
    assert dist.spin_rate(2000, 1) > 0
    with pytest.raises(ValueError, match="iterations"):
        dist.spin_rate(10)


def test_timed_tasks_outside_a_worker():
    rec = dist.timed_spin(3, 100, 7)
    assert rec.index == 3 and rec.value == dist.spin(100, 7)
    assert rec.worker == "local" and rec.pid == os.getpid() and rec.stop >= rec.start
    chunk = dist.timed_chunk([0, 1, 2], [10, 20, 30], [5, 6, 7])
    assert [r.value for r in chunk] == [dist.spin(10, 5), dist.spin(20, 6), dist.spin(30, 7)]
    with pytest.raises(ValueError, match="same length"):
        dist.timed_chunk([0, 1], [10], [5, 6])
    assert dist.noop("x") == "x"


# --------------------------------------------------------------------------------------
# Models and schedules
# --------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.floats(1e-6, 10),
    st.floats(0, 1),
    st.integers(1, 1000),
)
def test_grain_efficiency_properties(t, o, d):
    e = dist.grain_efficiency(t, o, d)
    assert 0 < e <= 1
    assert dist.grain_efficiency(t, o, d + 1) <= e
    assert dist.grain_efficiency(2 * t, o, d) >= e
    assert dist.grain_efficiency(t, 0, d) == 1.0


@pytest.mark.parametrize("args", [(0, 1e-3, 2), (1e-2, -1, 2), (1e-2, 1e-3, 0.5), (float("nan"), 0, 1)])
def test_grain_efficiency_validates(args):
    with pytest.raises(ValueError, match="task_seconds|overhead_seconds|workers"):
        dist.grain_efficiency(*args)


def test_side_of_model():
    model = np.array([0.16, 0.43, 0.75, 0.92])
    assert dist.side_of_model(model - [0.06, 0.14, 0.12, 0.14], model) == "below"
    assert dist.side_of_model(model + 0.01, model) == "above"
    assert dist.side_of_model([0.30, 0.60, 0.75, 0.98], [0.25, 0.57, 0.84, 0.95]) == "both"
    assert dist.side_of_model(model + 0.01, model, tol=0.02) == "both"  # within tol: no offset
    assert dist.side_of_model(0.5, 0.5) == "both"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-10, 10), min_size=1, max_size=8), st.floats(0.001, 5))
def test_side_of_model_shifts(values, shift):
    model = np.array(values)
    assert dist.side_of_model(model - shift - 1e-9, model) == "below"
    assert dist.side_of_model(model + shift + 1e-9, model) == "above"


@pytest.mark.parametrize("args", [([1, 2], [1]), ([float("nan")], [1]), ([1], [1], -0.1), ("x", [1])])
def test_side_of_model_validates(args):
    with pytest.raises(ValueError, match="measured|model|tol"):
        dist.side_of_model(*args)


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-6, 1e-1), st.floats(1e6, 1e11))
def test_fit_alpha_beta_recovers_exact_data(alpha, beta):
    sizes = np.array(dist.transfer_sizes(64 * 2**20, 9))
    fit = dist.fit_alpha_beta(sizes, F.alpha_beta_time(sizes, alpha, beta))
    assert type(fit.alpha) is float and type(fit.beta) is float  # plain floats, for glue and JSON
    assert fit.alpha == pytest.approx(alpha, rel=1e-6, abs=1e-12)
    assert fit.beta == pytest.approx(beta, rel=1e-6)
    assert fit.time(fit.half_size) == pytest.approx(2 * fit.alpha)


def test_fit_alpha_beta_edge_cases():
    sizes = np.array([1e3, 1e6, 1e9])
    fit = dist.fit_alpha_beta(sizes, sizes / 1e9)  # no latency at all
    assert fit.alpha == pytest.approx(0, abs=1e-15) and fit.beta == pytest.approx(1e9)
    fit = dist.fit_alpha_beta(sizes, [2e-3, 1e-3, 5e-4])  # time falls with size: no bandwidth cost
    assert fit.beta == float("inf") or fit.alpha == 0
    with pytest.raises(ValueError, match="distinct"):
        dist.fit_alpha_beta([8, 8], [1e-3, 2e-3])
    with pytest.raises(ValueError, match="same length"):
        dist.fit_alpha_beta([8, 16, 32], [1e-3, 2e-3])
    with pytest.raises(ValueError, match="times"):
        dist.fit_alpha_beta([8, 16], [1e-3, 0])


def test_transfer_sizes():
    sizes = dist.transfer_sizes(2**20, 6)
    assert sizes == sorted(sizes) and sizes[0] == 1024 and sizes[-1] == 2**20
    assert all(s % 8 == 0 for s in sizes)
    with pytest.raises(ValueError, match="max_bytes"):
        dist.transfer_sizes(512)
    with pytest.raises(ValueError, match="n_sizes"):
        dist.transfer_sizes(2**20, 1)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 200), st.floats(1e-3, 10), st.floats(0, 3), st.integers(0, 1000))
def test_skewed_durations(n, mean, sigma, seed):
    t = dist.skewed_durations(n, mean, sigma, seed)
    assert t.shape == (n,) and np.all(t > 0)
    assert t.mean() == pytest.approx(mean, rel=1e-9)
    np.testing.assert_array_equal(t, dist.skewed_durations(n, mean, sigma, seed))
    up = dist.skewed_durations(n, mean, sigma, seed, order="ascending")
    down = dist.skewed_durations(n, mean, sigma, seed, order="descending")
    np.testing.assert_array_equal(up, np.sort(t))
    np.testing.assert_array_equal(down, np.sort(t)[::-1])


def test_skewed_durations_validates():
    np.testing.assert_allclose(dist.skewed_durations(5, 2.0, 0.0), 2.0)
    for kwargs, name in [
        ({"n_tasks": 0}, "n_tasks"),
        ({"mean": 0}, "mean"),
        ({"sigma": 3.5}, "sigma"),
        ({"seed": -1}, "seed"),
        ({"order": "sideways"}, "order"),
    ]:
        args = {"n_tasks": 4, "mean": 1.0, "sigma": 1.0, **kwargs}
        with pytest.raises(ValueError, match=name):
            dist.skewed_durations(**args)


@given(st.integers(0, 500), st.integers(1, 64))
def test_static_chunks_partition(n, w):
    chunks = dist.static_chunks(n, w)
    assert len(chunks) == w
    assert [i for c in chunks for i in c] == list(range(n))
    sizes = [len(c) for c in chunks]
    assert max(sizes) - min(sizes) <= 1


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=1, max_size=60), st.integers(1, 16))
def test_simulate_makespans_bounds(durations, w):
    m = dist.simulate_makespans(durations, w)
    t = np.array(durations)
    eps = 1e-9 * (1 + t.sum())
    assert m["lower"] <= m["dynamic"] + eps and m["lower"] <= m["static"] + eps
    assert m["dynamic"] <= t.sum() / w + (1 - 1 / w) * t.max() + eps  # Graham's bound
    if w == 1:
        assert m["static"] == pytest.approx(t.sum()) and m["dynamic"] == pytest.approx(t.sum())


def test_simulate_makespans_validates():
    with pytest.raises(ValueError, match="durations"):
        dist.simulate_makespans([1.0, -1.0], 2)
    with pytest.raises(ValueError, match="workers"):
        dist.simulate_makespans([1.0], 0)


def test_block_sum_of_squares_and_sum_ints():
    data = np.arange(1000)
    assert dist.block_sum_of_squares(data) == sum(i * i for i in range(1000))
    assert dist.sum_ints([1, 2, 3]) == 6
    with pytest.raises(ValueError, match="integers"):
        dist.block_sum_of_squares(np.ones(3))


def test_makespan_and_timeline():
    import matplotlib.pyplot as plt

    recs = [dist.TaskRecord(0, 1, 10.0, 11.0, "0", 1), dist.TaskRecord(1, 2, 10.5, 12.0, "1", 2)]
    assert dist.makespan(recs) == pytest.approx(2.0)
    fig, ax = plt.subplots()
    assert dist.plot_timeline(ax, recs, "t") == pytest.approx(2.0)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["worker 0", "worker 1"]
    plt.close(fig)
    fig, ax = plt.subplots()
    dist.plot_timeline(ax, recs[:1], rows=["1", "0"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["worker 0", "worker 1"]
    plt.close(fig)
    assert dist.iterations_for([0.0, 0.5], 100.0) == [1, 50]
    with pytest.raises(ValueError, match="rate"):
        dist.iterations_for([0.5], 0)
    with pytest.raises(ValueError, match="records"):
        dist.makespan([])


# --------------------------------------------------------------------------------------
# On a real cluster
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _stop_resource_tracker():
    """Dask starts worker processes with "spawn", which starts multiprocessing's resource
    tracker, a helper process that lives as long as this one. Stop it once the module's
    clusters are closed, so the suite's leak check sees no process left behind."""
    yield
    import multiprocessing
    from multiprocessing import resource_tracker

    if not multiprocessing.active_children():
        resource_tracker._resource_tracker._stop()


@pytest.fixture(scope="module")
def client():
    with dist.cluster_client(n_workers=2) as c:
        yield c


def test_cluster_shape(client):
    names = dist.worker_names(client)
    assert sorted(names.values()) == ["0", "1"]
    assert all(a.startswith("tcp://127.0.0.1:") for a in names)
    assert set(client.nthreads().values()) == {1}


def test_task_overhead(client):
    res = dist.measure_task_overhead(client, n_tasks=40, repeat=2)
    assert res.workers == 2 and res.n_tasks == 40
    assert res.single_task > 0 and res.per_task > 0 and res.local_call > 0 and res.ratio > 0
    auto = dist.measure_task_overhead(client, repeat=1, budget=0.2)
    assert 20 <= auto.n_tasks <= 5000


def test_grain_experiment(client):
    points = dist.run_grain_experiment(client, [0.001, 0.004], n_tasks=6, rate=dist.spin_rate(20_000, 1))
    assert [p.n_tasks for p in points] == [6, 6]
    assert all(p.efficiency > 0 and p.workers == 2 for p in points)


def test_distributed_sum_of_squares(client):
    data = np.random.default_rng(0).integers(0, 1000, 10_000)
    rep = dist.distributed_sum_of_squares(client, data, 4)
    assert rep.value == dist.block_sum_of_squares(data)
    assert len(rep.block_workers) == 4 and set(rep.block_workers) <= {"0", "1"}
    with pytest.raises(ValueError, match="data"):
        dist.distributed_sum_of_squares(client, np.ones(4), 2)


def test_measure_transfer(client):
    sizes = [1024, 64 * 1024]
    times = dist.measure_transfer(client, sizes, repeat=2)
    assert times.shape == (2,) and np.all(times > 0)
    with pytest.raises(ValueError, match="worker"):
        dist.measure_transfer(client, sizes, worker="tcp://nowhere:1")


@pytest.mark.parametrize("order", ["random", "ascending"])
def test_static_and_dynamic_equal_serial(client, order):
    rate = dist.spin_rate(20_000, 1)
    durations = dist.skewed_durations(10, 0.002, 1.0, 0, order=order)
    iters = dist.iterations_for(durations, rate)
    serial = [dist.spin(n, i) for i, n in enumerate(iters)]
    static, _ = dist.run_static(client, durations, rate)
    dynamic, _ = dist.run_dynamic(client, durations, rate)
    assert [r.value for r in static] == serial and [r.value for r in dynamic] == serial
    # static: each worker ran exactly its contiguous block
    names = list(dist.worker_names(client).values())
    for block, name in zip(dist.static_chunks(10, 2), names, strict=True):
        assert {static[i].worker for i in block} == {name}


def test_run_with_failure_recovers(client):
    rate = dist.spin_rate(20_000, 1)
    durations = dist.skewed_durations(8, 0.03, 0.0)
    serial = [dist.spin(n, i) for i, n in enumerate(dist.iterations_for(durations, rate))]
    rep = dist.run_with_failure(client, durations, rate, kill_after=2, timeout=120)
    assert rep.values == serial
    assert rep.workers_after == 2 and rep.victim in {"0", "1"}
    assert rep.new_pid is not None and rep.new_pid != rep.killed_pid
    assert not psutil.pid_exists(rep.killed_pid) or psutil.Process(rep.killed_pid).status() == "zombie"
    with pytest.raises(ValueError, match="kill_after"):
        dist.run_with_failure(client, durations, rate, kill_after=8)
    with pytest.raises(ValueError, match="address"):
        dist.kill_worker(client, "tcp://nowhere:1")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_cluster_closed_even_when_the_body_fails():
    with pytest.raises(RuntimeError, match="boom"):
        with dist.cluster_client(n_workers=1) as c:
            cluster = c.cluster
            pids = list(c.run(os.getpid).values())
            scratch = list(c.run(lambda dask_worker: dask_worker.local_directory).values())[0]
            assert os.path.isdir(scratch)
            raise RuntimeError("boom")
    assert c.status == "closed" and cluster.status.name == "closed"
    deadline = time.time() + 10
    while not all(_gone(p) for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert all(_gone(p) for p in pids)
    assert not os.path.exists(scratch)


def test_cluster_client_connects_to_a_running_scheduler(monkeypatch, tmp_path):
    import dask
    from distributed import LocalCluster

    kw = dist.local_cluster_kwargs(1)
    with (
        dask.config.set({"temporary-directory": str(tmp_path)}),
        LocalCluster(local_directory=tmp_path, **kw) as cluster,
    ):
        monkeypatch.setenv(dist.SCHEDULER_ENV, cluster.scheduler_address)
        with dist.cluster_client() as c:
            assert c.scheduler.address == cluster.scheduler_address
            assert c.submit(dist.spin, 10, 1).result() == dist.spin(10, 1)
        assert c.status == "closed"
        assert cluster.status.name == "running"  # the reader's cluster is left alone


def test_finish_gap():
    rec = [
        dist.TaskRecord(0, 0, 0.0, 1.0, "0", 1),
        dist.TaskRecord(1, 0, 1.0, 1.5, "0", 1),
        dist.TaskRecord(2, 0, 0.0, 3.0, "1", 2),
    ]
    assert dist.finish_gap(rec) == pytest.approx(1.5)
    assert dist.finish_gap(rec[:2]) == 0.0  # one worker: nobody waits for another
    with pytest.raises(ValueError, match="records"):
        dist.finish_gap([])
