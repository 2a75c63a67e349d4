"""Tests of chapter 6's kernels (computing_change.applications): correctness only, never speed."""

from __future__ import annotations

import math
import statistics
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change import applications as A
from computing_change import nn

MIB = A.MIB


@pytest.fixture(scope="module", autouse=True)
def _stop_resource_tracker():
    """The Dask cluster below starts its workers with "spawn", which starts multiprocessing's
    resource tracker, a helper process that lives as long as this one. Stop it once the
    cluster is closed, so the suite's leak check sees no process left behind."""
    yield
    import multiprocessing
    from multiprocessing import resource_tracker

    if not multiprocessing.active_children():
        resource_tracker._resource_tracker._stop()


# ====================================================================== big data


def test_memory_budget_caps_floors_and_rounds():
    assert A.memory_budget(available=64 * 1024**3) == 128 * MIB  # the cap binds
    assert A.memory_budget(0.125, available=800 * MIB + 12345) == 100 * MIB
    assert A.memory_budget(available=0) == 16 * MIB  # the floor
    assert A.memory_budget(0.5, cap=256 * MIB, available=300 * MIB) == 150 * MIB
    assert A.memory_budget() % MIB == 0 and 16 * MIB <= A.memory_budget() <= 128 * MIB


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(fraction=0), "fraction"),
        (dict(fraction=0.9), "fraction"),
        (dict(cap=MIB, floor=16 * MIB), "cap"),
        (dict(available=-1), "available"),
    ],
)
def test_memory_budget_rejects_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        A.memory_budget(**kwargs)


def test_plan_is_several_times_the_budget_and_independent_of_workers():
    plan = A.plan_dataset(128 * MIB)
    assert plan.nbytes >= 4 * 128 * MIB
    assert plan.file_bytes == 128 * MIB // 8
    assert plan.n_rows == plan.n_files * plan.rows_per_file
    lo, hi = plan.value_range
    assert lo < plan.key_means().min() and hi > plan.key_means().max()
    with pytest.raises(ValueError, match="factor"):
        A.plan_dataset(128 * MIB, factor=0.5)
    with pytest.raises(ValueError, match="budget"):
        A.plan_dataset(1000)
    with pytest.raises(ValueError, match="n_keys"):
        A.DatasetPlan(n_files=1, rows_per_file=10, n_keys=0)


def test_key_table_gives_every_key_zipf_like_probabilities():
    plan = A.DatasetPlan(n_files=1, rows_per_file=10)
    p = plan.key_probabilities()
    assert p.shape == (100,) and p.sum() == pytest.approx(1.0) and (p > 0).all()
    w = 1 / np.arange(1, 101)
    np.testing.assert_allclose(p, w / w.sum(), atol=3e-3)
    assert np.all(np.diff(p) <= 1e-12 + 2 / A.KEY_TABLE_SIZE)  # non-increasing up to one entry


def test_seed_sequence_is_the_spawned_child():
    plan = A.DatasetPlan(n_files=5, rows_per_file=10, seed=42)
    children = np.random.SeedSequence(42).spawn(5)
    for i, child in enumerate(children):
        assert plan.seed_sequence(i).generate_state(4).tolist() == child.generate_state(4).tolist()
    with pytest.raises(ValueError, match="index"):
        plan.seed_sequence(5)


@pytest.fixture
def small_dataset(tmp_path):
    plan = A.DatasetPlan(n_files=3, rows_per_file=3 * A.GEN_BLOCK + 1000, n_keys=20, seed=7)
    pairs = [A.write_chunk(plan, i, tmp_path) for i in range(plan.n_files)]
    return plan, pairs


def test_written_files_are_valid_npy_and_deterministic(small_dataset, tmp_path):
    plan, pairs = small_dataset
    assert pairs == A.file_pairs(plan, tmp_path)
    k0, v0 = np.load(pairs[0][0]), np.load(pairs[0][1])
    assert k0.dtype == A.KEY_DTYPE and v0.dtype == A.VALUE_DTYPE and k0.shape == (plan.rows_per_file,)
    assert k0.min() >= 0 and k0.max() < plan.n_keys
    other = tmp_path / "again"
    other.mkdir()
    k_again, v_again = A.write_chunk(plan, 0, other)
    assert np.array_equal(np.load(k_again), k0) and np.array_equal(np.load(v_again), v0)
    assert not np.array_equal(np.load(pairs[1][1]), v0)  # files draw from different streams


def test_write_chunk_rejects_bad_input(tmp_path):
    plan = A.DatasetPlan(n_files=2, rows_per_file=10)
    with pytest.raises(ValueError, match="index"):
        A.write_chunk(plan, 2, tmp_path)
    with pytest.raises(ValueError, match="directory"):
        A.write_chunk(plan, 0, tmp_path / "missing")
    with pytest.raises(ValueError, match="plan"):
        A.write_chunk("plan", 0, tmp_path)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(0, 3000), block=st.integers(1, 5000))
def test_read_npy_blocks_reassembles_the_array(tmp_path_factory, n, block):
    path = tmp_path_factory.mktemp("npy") / "a.npy"
    a = np.arange(n, dtype="<f8") * 0.5
    np.save(path, a)
    blocks = list(A.read_npy_blocks(path, block, A.VALUE_DTYPE))
    assert all(b.size <= block for b in blocks)
    assert np.array_equal(np.concatenate(blocks) if blocks else np.empty(0), a)


def test_read_npy_blocks_refuses_wrong_dtype_shape_and_truncation(tmp_path):
    p = tmp_path / "a.npy"
    np.save(p, np.arange(10, dtype="<i8"))
    with pytest.raises(ValueError, match="expected"):
        list(A.read_npy_blocks(p, 4, A.VALUE_DTYPE))
    with pytest.raises(ValueError, match="block_rows"):
        list(A.read_npy_blocks(p, 0))
    q = tmp_path / "b.npy"
    np.save(q, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="1-D"):
        list(A.read_npy_blocks(q, 4))
    data = p.read_bytes()
    p.write_bytes(data[:-8])
    with pytest.raises(ValueError, match="truncated"):
        list(A.read_npy_blocks(p, 4))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 200_000), n_bins=st.integers(1, 50))
def test_histogram_uniform_matches_numpy(seed, n, n_bins):
    rng = np.random.default_rng(seed)
    v = rng.normal(0, 3, n)
    ours = A.histogram_uniform(v, n_bins, (-5.0, 5.0))
    theirs, _ = np.histogram(v, bins=n_bins, range=(-5.0, 5.0))
    assert np.array_equal(ours, theirs)


def test_histogram_uniform_edges():
    h = A.histogram_uniform([0.0, 0.5, 1.0, -0.1, 1.1, 0.25], 2, (0.0, 1.0))
    assert h.tolist() == [2, 2]  # 1.0 goes to the last bin; -0.1 and 1.1 nowhere
    with pytest.raises(ValueError, match="value_range"):
        A.histogram_uniform([1.0], 2, (1.0, 1.0))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 5000), cut=st.integers(0, 5000))
def test_group_stats_merge_equals_the_whole(seed, n, cut):
    rng = np.random.default_rng(seed)
    keys, values = rng.integers(0, 7, n), rng.normal(10, 2, n)
    cut = min(cut, n)
    whole = A.aggregate_arrays(keys, values, 7, 10, (0, 20))
    parts = A.aggregate_arrays(keys[:cut], values[:cut], 7, 10, (0, 20)).merge(
        A.aggregate_arrays(keys[cut:], values[cut:], 7, 10, (0, 20))
    )
    assert whole.allclose(parts)
    assert whole.n_rows == n
    for k in range(7):
        sel = keys == k
        if sel.any():
            assert whole.means[k] == pytest.approx(values[sel].mean())
        else:
            assert math.isnan(whole.means[k])


def test_aggregate_arrays_rejects_bad_keys():
    with pytest.raises(ValueError, match="keys"):
        A.aggregate_arrays([0, 5], [1.0, 2.0], 5, 3, (0, 1))
    with pytest.raises(ValueError, match="keys"):
        A.aggregate_arrays([0.5], [1.0], 5, 3, (0, 1))
    with pytest.raises(ValueError, match="equal length"):
        A.aggregate_arrays([0, 1], [1.0], 5, 3, (0, 1))
    with pytest.raises(ValueError, match="n_keys"):
        A.aggregate_arrays([0], [1.0], 0, 3, (0, 1))


@pytest.mark.parametrize("block_rows", [1000, 4096, 10**7])
def test_out_of_core_equals_in_memory(small_dataset, block_rows):
    plan, pairs = small_dataset
    keys, values = A.load_arrays(pairs)
    ref = A.aggregate_arrays(keys, values, plan.n_keys, plan.n_bins, plan.value_range)
    ticks = []
    run = A.aggregate_files(pairs, plan, block_rows, progress=ticks.append)
    assert run.stats.allclose(ref)
    assert run.stats.n_rows == plan.n_rows == ref.hist.sum()
    assert ticks == [1] * plan.n_files
    assert run.nbytes >= plan.nbytes and run.mb_per_s > 0
    assert len(run.task_peaks) == plan.n_files


def test_task_peak_follows_the_block_not_the_file(small_dataset):
    plan, pairs = small_dataset
    small = A.aggregate_files(pairs[:1], plan, 4096).max_task_peak
    large = A.aggregate_files(pairs[:1], plan, 10**7).max_task_peak
    assert large >= plan.file_bytes  # the whole file in one block
    assert small < plan.file_bytes / 8
    assert A.OutOfCoreRun(A.GroupStats.zeros(1, 1), (5, 7), 1.0, 10).peak_bound(3, 4) == 25


def test_means_recover_the_generating_means(small_dataset):
    plan, pairs = small_dataset
    run = A.aggregate_files(pairs, plan, 50_000)
    counts, means = run.stats.counts, run.stats.means
    se = plan.sigma / np.sqrt(counts)
    assert np.all(np.abs(means - plan.key_means()) < 5 * se)
    expected = plan.key_probabilities() * plan.n_rows
    assert np.all(np.abs(counts - expected) < 6 * np.sqrt(expected) + 1)


def test_aggregate_files_on_a_dask_cluster(small_dataset, monkeypatch):
    pytest.importorskip("distributed")
    from computing_change.distributed import SCHEDULER_ENV

    plan, pairs = small_dataset
    serial = A.aggregate_files(pairs * 3, plan, 20_000)
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://192.0.2.1:8786")  # ignored: the data are local
    with A.local_cluster(2, 64 * MIB) as client:
        ticks = []
        run = A.aggregate_files(pairs * 3, plan, 20_000, client=client, progress=ticks.append)
        rss = client.run(A.worker_rss)
        limits = {w["memory_limit"] for w in client.scheduler_info(n_workers=-1)["workers"].values()}
    assert run.stats.allclose(serial.stats, rtol=0)  # merged in file order: bit for bit
    assert len(ticks) == 9 and len(run.task_peaks) == 9
    assert len(rss) == 2 and all(r > 0 for r in rss.values())
    assert limits == {A.worker_memory_limit(64 * MIB, 2)}


def test_block_rows_and_worker_limits():
    assert A.default_block_rows(128 * MIB, 2) == 2**21
    assert A.default_block_rows(MIB, 64) == 1024  # never below 1024
    b = A.default_block_rows(100 * MIB, 3)
    assert b & (b - 1) == 0 and 3 * 2 * b * A.ROW_BYTES <= 100 * MIB
    assert A.worker_memory_limit(128 * MIB, 2) == A.WORKER_OVERHEAD + 64 * MIB
    with pytest.raises(ValueError, match="workers"):
        A.worker_memory_limit(128 * MIB, 0)
    with pytest.raises(ValueError, match="safety"):
        A.default_block_rows(128 * MIB, 2, safety=0.5)


# ====================================================================== AI


def test_arrivals():
    np.testing.assert_allclose(A.regular_arrivals(4, 5), [0, 0.25, 0.5, 0.75, 1.0])
    a = A.poisson_arrivals(1000.0, 20_000, rng=3)
    assert a[0] == 0 and np.all(np.diff(a) >= 0)
    assert np.mean(np.diff(a)) == pytest.approx(1e-3, rel=0.03)
    assert np.array_equal(a, A.poisson_arrivals(1000.0, 20_000, rng=3))
    with pytest.raises(ValueError, match="rate"):
        A.regular_arrivals(0, 5)
    with pytest.raises(ValueError, match="rng"):
        A.poisson_arrivals(1.0, 5, rng="x")


def test_service_model_interpolates_and_extrapolates_in_proportion():
    m = A.ServiceModel((1, 4, 16), (1.0, 2.0, 5.0))
    assert m(1) == 1.0 and m(4) == 2.0 and m(2.5) == pytest.approx(1.5)
    assert m(32) == pytest.approx(10.0)  # beyond the last point, time per request stays 5/16
    np.testing.assert_allclose(m(np.array([1, 16])), [1.0, 5.0])
    assert m.capacity(16) == pytest.approx(16 / 5)
    lin = A.ServiceModel.linear(1e-3, 1e-4)
    assert lin(100) == pytest.approx(1e-3 + 1e-2)
    with pytest.raises(ValueError, match="batch_sizes"):
        A.ServiceModel((2, 4), (1.0, 2.0))
    with pytest.raises(ValueError, match="seconds"):
        A.ServiceModel((1, 4), (1.0, 0.0))
    with pytest.raises(ValueError, match="batch_size"):
        m(0.5)


@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 64),
    n_batches=st.integers(1, 40),
    rate=st.floats(10, 1e5),
    fixed=st.floats(1e-5, 1e-2),
    per=st.floats(0, 1e-3),
)
def test_simulation_matches_the_closed_form_for_regular_arrivals(batch, n_batches, rate, fixed, per):
    model = A.ServiceModel.linear(fixed, per)
    s = model(batch)
    if rate * s > batch * (1 - 1e-9):  # keep the stable side, away from the boundary
        return
    run = A.simulate_batching(A.regular_arrivals(rate, batch * n_batches), batch, model)
    assert run.mean_latency == pytest.approx(A.fill_wait_latency(batch, rate, s), rel=1e-9, abs=1e-12)
    assert np.all(run.sizes == batch)


def test_fill_wait_latency_is_infinite_when_overloaded():
    assert A.fill_wait_latency(4, 1000.0, 0.01) == math.inf  # 400 requests/s capacity
    assert A.fill_wait_latency(1, 10.0, 0.05) == pytest.approx(0.05)
    assert A.batch_capacity(8, 0.004) == pytest.approx(2000)
    np.testing.assert_allclose(A.fill_wait_latency(np.array([2, 4]), 100.0, 0.01), [0.015, 0.025])


def test_batching_policies():
    arr = np.array([0.0, 0.1, 0.2, 0.3, 1.0])
    svc = A.ServiceModel.linear(0.01, 0.0)
    full = A.simulate_batching(arr, 2, svc)
    assert full.sizes.tolist() == [2, 2, 1]  # the last partial batch leaves with its last request
    np.testing.assert_allclose(full.latencies, [0.11, 0.01, 0.11, 0.01, 0.01])
    dynamic = A.simulate_batching(arr, 8, svc, max_wait=0)
    assert dynamic.sizes.tolist() == [1, 1, 1, 1, 1]  # nothing else is waiting
    timeout = A.simulate_batching(arr, 8, svc, max_wait=0.15)
    assert timeout.sizes.tolist() == [2, 2, 1]
    np.testing.assert_allclose(timeout.latencies[:2], [0.16, 0.06])
    assert full.throughput == pytest.approx(5 / 1.01)
    assert 0 < full.busy_fraction < 1 and full.percentile(100) == pytest.approx(0.11)
    with pytest.raises(ValueError, match="arrivals"):
        A.simulate_batching([0.2, 0.1], 2, svc)
    with pytest.raises(ValueError, match="max_wait"):
        A.simulate_batching(arr, 2, svc, max_wait=-1)
    with pytest.raises(ValueError, match="batch_size"):
        A.simulate_batching(arr, 0, svc)
    with pytest.raises(ValueError, match="service"):
        A.simulate_batching(arr, 2, None)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 32), wait=st.sampled_from([0.0, 1e-3, math.inf]))
def test_every_request_is_served_once_after_it_arrives(seed, batch, wait):
    arr = A.poisson_arrivals(2000.0, 500, rng=seed)
    run = A.simulate_batching(arr, batch, A.ServiceModel.linear(2e-4, 5e-5), max_wait=wait)
    assert run.sizes.sum() == 500 and run.sizes.max() <= batch
    assert np.all(run.latencies > 0)
    assert np.all(np.diff(run.starts) > 0) and np.all(run.starts[1:] >= run.finishes[:-1])


def test_serve_gives_the_one_by_one_outputs():
    rng = np.random.default_rng(0)
    net = nn.init_mlp((12, 16, 5), rng)
    X = rng.standard_normal((37, 12))
    arr = A.poisson_arrivals(5000.0, 37, rng=1)
    ticks = iter(np.arange(0, 1000, 0.001))  # a fake clock: every batch takes 1 ms
    out, run = A.serve(net, X, arr, 8, clock=lambda: next(ticks))
    np.testing.assert_allclose(out, nn.forward_one_by_one(net, X), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run.finishes - run.starts, 0.001)
    bumpy = A.plan_batches(A.ServiceModel((1, 2, 4, 8), (1.0, 5.0, 3.0, 4.0)), 8)
    planned, run2 = A.serve(net, X, arr, 8, plan=bumpy)  # batches split and padded
    np.testing.assert_allclose(planned, out, rtol=1e-12, atol=1e-12)
    assert run2.sizes.sum() == 37
    with pytest.raises(ValueError, match="plan"):
        A.serve(net, X, arr, 16, plan=bumpy)
    with pytest.raises(ValueError, match="X"):
        A.serve(net, X[:5], arr, 8)
    with pytest.raises(ValueError, match="net"):
        A.serve("net", X, arr, 8)


# ====================================================================== finance


def test_norm_cdf():
    assert A.norm_cdf(0) == 0.5
    assert A.norm_cdf(1.959963984540054) == pytest.approx(0.975, abs=1e-12)
    assert 0 < A.norm_cdf(-30) < 1e-190  # erfc keeps the far tail; 1 - N(30) would give 0
    assert A.norm_cdf(math.inf) == 1.0
    assert A.norm_cdf(-3.0) == pytest.approx(statistics.NormalDist().cdf(-3.0), rel=1e-12)
    with pytest.raises(ValueError):
        A.norm_cdf(math.nan)


def test_black_scholes_reference_value():
    # The textbook example (Hull): S = 42, K = 40, r = 10 %, sigma = 20 %, T = 0.5 -> 4.76
    assert A.black_scholes_call(42, 40, 0.1, 0.2, 0.5) == pytest.approx(4.7594, abs=1e-4)
    assert A.black_scholes_call(100, 100, 0.05, 0.2, 1) == pytest.approx(10.4506, abs=1e-4)


@settings(max_examples=60, deadline=None)
@given(
    S=st.floats(1, 500),
    K=st.floats(1, 500),
    r=st.floats(-0.05, 0.2),
    sigma=st.floats(0.01, 1.5),
    T=st.floats(0.01, 10),
)
def test_black_scholes_bounds_and_monotonicity(S, K, r, sigma, T):
    c = A.black_scholes_call(S, K, r, sigma, T)
    lower = max(S - K * math.exp(-r * T), 0.0)
    assert lower - 1e-9 * S <= c <= S * (1 + 1e-12)
    assert A.black_scholes_call(S, K, r, sigma * 1.1, T) >= c - 1e-9 * S  # vega >= 0
    assert A.black_scholes_call(S * 1.01, K, r, sigma, T) >= c - 1e-9 * S  # delta >= 0


@pytest.mark.parametrize(
    "bad, name",
    [
        (dict(S=0), "S"),
        (dict(K=-1), "K"),
        (dict(r=2), "r"),
        (dict(sigma=0), "sigma"),
        (dict(T=0), "T"),
        (dict(sigma=float("nan")), "sigma"),
    ],
)
def test_option_inputs_are_validated(bad, name):
    args = dict(S=100, K=100, r=0.05, sigma=0.2, T=1) | bad
    with pytest.raises(ValueError, match=rf"^{name} must"):
        A.black_scholes_call(**args)
    with pytest.raises(ValueError, match=rf"^{name} must"):
        A.mc_call_price(**args, n_paths=100)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 3000), cut=st.integers(1, 2999))
def test_running_stats_merge_is_exact(seed, n, cut):
    x = np.random.default_rng(seed).normal(5, 3, n)
    cut = min(cut, n - 1)
    merged = A.RunningStats.from_array(x[:cut]).merge(A.RunningStats.from_array(x[cut:]))
    assert merged.n == n
    assert merged.mean == pytest.approx(x.mean(), rel=1e-12, abs=1e-12)
    assert merged.variance == pytest.approx(x.var(ddof=1), rel=1e-9)
    assert merged.stderr == pytest.approx(x.std(ddof=1) / math.sqrt(n), rel=1e-9)


def test_monte_carlo_agrees_with_black_scholes_within_four_standard_errors():
    exact = A.black_scholes_call(100, 105, 0.03, 0.25, 0.75)
    for seed in range(3):
        mc = A.mc_call_price(100, 105, 0.03, 0.25, 0.75, 200_000, seed=seed)
        assert abs(mc.z_score(exact)) < 4
        anti = A.mc_call_price(100, 105, 0.03, 0.25, 0.75, 200_000, seed=seed, antithetic=True)
        assert abs(anti.z_score(exact)) < 4
        assert anti.stderr < mc.stderr  # antithetic pairs reduce the variance for a call
    lo, hi = mc.interval()
    assert lo < mc.price < hi


def test_monte_carlo_is_the_same_in_a_pool_and_deterministic():
    args = (100, 100, 0.05, 0.2, 1.0, 100_001)
    serial = A.mc_call_price(*args, seed=11, n_chunks=7)
    with ThreadPoolExecutor(3) as pool:
        parallel = A.mc_call_price(*args, seed=11, n_chunks=7, executor=pool)
    assert parallel == serial  # bit for bit: same chunks, same streams, same merge order
    assert A.mc_call_price(*args, seed=12, n_chunks=7).price != serial.price
    assert serial.stats.n == 100_001


def test_monte_carlo_chunks_use_spawned_streams():
    seeds = np.random.SeedSequence(5).spawn(2)
    a = A.mc_call_chunk(100, 100, 0.05, 0.2, 1, 1000, seeds[0])
    b = A.mc_call_chunk(100, 100, 0.05, 0.2, 1, 1000, seeds[1])
    whole = A.mc_call_price(100, 100, 0.05, 0.2, 1, 2000, seed=5, n_chunks=2)
    assert whole.stats == a.merge(b)


def test_monte_carlo_rejects_bad_counts_and_seeds():
    with pytest.raises(ValueError, match="n_paths"):
        A.mc_call_price(100, 100, 0.05, 0.2, 1, 1)
    with pytest.raises(ValueError, match="even"):
        A.mc_call_price(100, 100, 0.05, 0.2, 1, 1001, antithetic=True)
    with pytest.raises(ValueError, match="seed"):
        A.mc_call_price(100, 100, 0.05, 0.2, 1, 1000, seed=-1)
    with pytest.raises(ValueError, match="n_chunks"):
        A.mc_call_price(100, 100, 0.05, 0.2, 1, 1000, n_chunks=0)
    more_chunks_than_paths = A.mc_call_price(100, 100, 0.05, 0.2, 1, 3, n_chunks=8)
    assert more_chunks_than_paths.n_paths == 3 and more_chunks_than_paths.stats.n == 3


def test_untraced_pass_gives_the_same_answer_and_no_peaks(small_dataset):
    plan, pairs = small_dataset
    traced = A.aggregate_files(pairs, plan, 8192)
    fast = A.aggregate_files(pairs, plan, 8192, trace=False)
    assert fast.stats.allclose(traced.stats, rtol=0)
    assert fast.task_peaks is None
    with pytest.raises(ValueError, match="trace=False"):
        fast.peak_bound(2)


def test_plan_pads_and_splits_bumpy_measurements():
    m = A.ServiceModel((1, 2, 4, 8), (1.0, 5.0, 3.0, 4.0))
    plan = A.plan_batches(m, 8)
    assert plan.max_batch == 8
    assert plan(2) == 2.0 and plan.pieces[2] == (1, 1)  # two batches of one beat one of two
    assert plan(4) == 3.0 and plan.pieces[4] == (4,)
    assert plan(3) == 3.0 and plan.pieces[3] == (4,)  # padded to 4
    np.testing.assert_allclose(plan.capacity(np.array([1, 4])), [1.0, 4 / 3])
    with pytest.raises(ValueError, match="batch_size"):
        plan(9)
    with pytest.raises(ValueError, match="max_batch"):
        A.plan_batches(m, 0)


def test_plan_of_a_linear_model_is_the_model():
    lin = A.ServiceModel.linear(1e-3, 1e-5)
    plan = A.plan_batches(lin, 64)
    for b in (1, 7, 64):
        assert plan(b) == pytest.approx(lin(b)) and plan.pieces[b] == (b,)


@settings(max_examples=40, deadline=None)
@given(times=st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=8), top=st.integers(1, 60))
def test_plan_is_optimal_consistent_and_monotone(times, top):
    sizes = tuple(2**k for k in range(len(times)))
    m = A.ServiceModel(sizes, tuple(times))
    plan = A.plan_batches(m, top)
    for b in range(1, top + 1):
        pieces = plan.pieces[b]
        assert sum(pieces) >= b and all(1 <= p <= top for p in pieces)
        assert plan(b) == pytest.approx(sum(m(p) for p in pieces))
        assert plan(b) <= m(b) + 1e-15 and plan(b) <= b * plan(1) + 1e-12
    assert np.all(np.diff(plan.seconds[1:]) >= -1e-15)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 3000), block=st.integers(1, 700))
def test_read_npy_blocks_with_a_reused_buffer(tmp_path_factory, n, block):
    path = tmp_path_factory.mktemp("npy") / "a.npy"
    a = np.arange(n, dtype="<i8") * 3
    np.save(path, a)
    copies, bases = [], set()
    for b in A.read_npy_blocks(path, block, A.KEY_DTYPE, reuse=True):
        copies.append(b.copy())
        bases.add(id(b.base))
    assert np.array_equal(np.concatenate(copies), a)
    assert len(bases) == 1  # every block is a view of the same buffer
