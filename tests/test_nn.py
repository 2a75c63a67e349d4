"""Tests of chapter 2's kernels (computing_change.lessons.core_concepts): correctness only, never speed."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change.core.timing import compare_times
from computing_change.core.tracing import traced_peak, tracing
from computing_change.lessons import core_concepts as nn
from computing_change.models import formulas as F

sizes_st = st.lists(st.integers(1, 7), min_size=2, max_size=4).filter(lambda s: s[-1] >= 2)


def _problem(sizes, seed, batch=6):
    rng = np.random.default_rng(seed)
    net = nn.init_mlp(sizes, rng)
    for b in net.biases:  # nonzero biases, so their gradients are tested too
        b[:] = rng.standard_normal(b.shape) * 0.1
    X, y = nn.make_classification(batch, sizes[0], sizes[-1], rng)
    return net, X, y


# ------------------------------------------------------------------ the network


@settings(max_examples=25, deadline=None)
@given(sizes=sizes_st, seed=st.integers(0, 2**32 - 1))
def test_gradients_match_finite_differences(sizes, seed):
    net, X, y = _problem(sizes, seed)
    _, grads = nn.loss_and_grads(net, X, y)
    analytic = grads.flat()
    numeric = nn.numerical_gradient(net, X, y, eps=1e-6)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric) + 1e-12
    assert np.linalg.norm(analytic - numeric) / scale < 1e-6


def test_gradient_check_on_a_wider_network_samples_coordinates():
    net, X, y = _problem((20, 30, 30, 5), seed=3, batch=16)
    _, grads = nn.loss_and_grads(net, X, y)
    idx = np.random.default_rng(1).choice(net.n_params, size=200, replace=False)
    numeric = nn.numerical_gradient(net, X, y, indices=idx)
    np.testing.assert_allclose(grads.flat()[idx], numeric, rtol=1e-5, atol=1e-8)


def test_loss_is_cross_entropy_of_forward():
    net, X, y = _problem((4, 5, 3), seed=0)
    loss, _ = nn.loss_and_grads(net, X, y)
    logits = nn.forward(net, X)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(len(y)), y])))


def test_softmax_is_stable_for_huge_logits():
    loss, p = nn.softmax_cross_entropy(np.array([[1000.0, 0.0], [0.0, -1000.0]]), np.array([0, 1]))
    assert np.isfinite(loss) and np.allclose(p.sum(axis=1), 1)
    assert loss == pytest.approx(500.0)


def test_training_decreases_the_loss_and_is_reproducible():
    def run():
        rng = np.random.default_rng(0)
        X, y = nn.make_classification(512, 32, 4, rng)
        net = nn.init_mlp((32, 64, 4), rng)
        return nn.train(net, X, y, steps=20, lr=0.2, batch_size=64, rng=rng)

    h1, h2 = run(), run()
    assert h1.shape == (21,)
    assert h1[-1] < 0.5 * h1[0]
    np.testing.assert_array_equal(h1, h2)


def test_single_input_equals_row_of_batch_and_one_by_one_equals_batched():
    net, X, _ = _problem((6, 8, 8, 3), seed=5, batch=10)
    batched = nn.forward(net, X)
    np.testing.assert_allclose(nn.forward(net, X[3]), batched[3], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(nn.forward_one_by_one(net, X), batched, rtol=1e-12, atol=1e-12)


def test_sgd_step_moves_against_the_gradient():
    net, X, y = _problem((3, 4, 2), seed=2)
    before = net.copy()
    _, grads = nn.loss_and_grads(net, X, y)
    nn.sgd_step(net, grads, 0.5)
    np.testing.assert_allclose(net.flat(), before.flat() - 0.5 * grads.flat())


# ------------------------------------------------------------------ FLOP counts


@given(sizes=st.lists(st.integers(1, 300), min_size=2, max_size=6), batch=st.integers(1, 512))
def test_flop_counts(sizes, batch):
    pairs = list(zip(sizes[:-1], sizes[1:], strict=False))
    weights = sum(m * n for m, n in pairs)
    assert nn.n_params(sizes) == weights + sum(sizes[1:])
    assert nn.forward_flops(sizes, batch) == 2 * batch * weights
    first = 2 * batch * sizes[0] * sizes[1]
    assert nn.backward_flops(sizes, batch) == 2 * nn.forward_flops(sizes, batch) - first
    assert nn.forward_flops(sizes, batch) <= 2 * batch * nn.n_params(sizes)


def test_forward_bytes():
    assert nn.forward_bytes([3, 4, 2], 5) == 8 * (3 * 4 + 4 + 4 * 2 + 2 + 5 * (3 + 4 + 4 + 2))
    assert nn.forward_bytes([3, 4], 1, itemsize=4) == 4 * (16 + 7)


def test_matmul_flops():
    assert nn.matmul_flops(2, 3, 4) == 48


def test_tape_computes_what_loss_and_grads_computes():
    net, X, y = _problem((7, 9, 8, 4), seed=11, batch=13)
    loss, grads = nn.loss_and_grads(net, X, y)
    ops, env = nn.training_tape(net, X, y)
    nn.run_tape(ops)
    nn.run_tape(ops)  # idempotent: a second run changes nothing
    assert env["loss"] == pytest.approx(loss, rel=1e-12)
    for i in range(1, 4):
        np.testing.assert_allclose(env[f"dW{i}"], grads.weights[i - 1], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(env[f"db{i}"], grads.biases[i - 1], rtol=1e-12, atol=1e-15)
    matmul = sum(op.flops for op in ops if op.kind == "matmul")
    assert matmul == nn.forward_flops(net.sizes, 13) + nn.backward_flops(net.sizes, 13)
    assert {op.kind for op in ops} == {"matmul", "bias add", "activation", "softmax & loss", "reduction"}


def test_profile_ops_returns_one_timing_per_op():
    net, X, y = _problem((4, 5, 3), seed=0)
    ops, _ = nn.training_tape(net, X, y)
    prof = nn.profile_ops(ops, repeat=1, min_time=0)
    assert [p["name"] for p in prof] == [op.name for op in ops]
    assert all(p["seconds"] > 0 for p in prof)


def test_throughput_and_model():
    net = nn.init_mlp((8, 16, 2))
    r = nn.throughput(net, 4, repeat=1, min_time=0)
    assert r.batch_size == 4 and r.seconds > 0 and r.flops == nn.forward_flops(net.sizes, 4)
    assert r.samples_per_s == pytest.approx(4 / r.seconds)
    assert nn.throughput_model(1, 0.01, 1e6, 1e9) == pytest.approx(100.0)
    big = nn.throughput_model(1e9, 0.01, 1e6, 1e9)
    assert big == pytest.approx(1e9 / 1e6, rel=1e-3)  # saturates at peak / flops per sample
    b = np.arange(1, 100)
    assert np.all(np.diff(nn.throughput_model(b, 0.01, 1e6, 1e9)) > 0)


def test_batching_sizes_are_clipped_and_aligned():
    for cache in (None, 1, 2**20, 32 * 2**20, 2**40):
        h, h2, h3, k = nn.batching_sizes(cache)
        assert h == h2 == h3 and h % 64 == 0 and k == 10
        assert 8 * 2 * h * h <= 64 * 2**20 + 1


# ------------------------------------------------------------------ intensity


def test_intensities():
    assert F.matvec_intensity(4096) == pytest.approx(0.25, rel=1e-3)
    assert F.matmul_intensity(1200) == pytest.approx(100.0)
    assert F.layer_intensity(1, 1, 1) == pytest.approx(2 / 24)
    b = np.array([1, 2, 4, 8, 16, 64, 256])
    assert np.all(np.diff(F.layer_intensity(b, 1024, 1024)) > 0)
    assert F.layer_roofline(1e6, 1024, 50, 10) == pytest.approx(50)
    f = F.layer_roofline_formula(40, 12, 512)
    assert f(b=1, n=512, P=40, beta=12) == pytest.approx(12 * F.matvec_intensity(512))


# ------------------------------------------------------------------ Software 2.0 tests


def test_forward_memory_does_not_depend_on_input_values():
    net = nn.init_mlp((32, 64, 64, 4))
    rng = np.random.default_rng(0)
    values = (np.zeros(32), rng.standard_normal(32), 1e3 * np.ones(32), -np.ones(32))
    with tracing():
        for v in values:  # warm-up
            traced_peak(nn.forward, net, v)
        peaks = {min(traced_peak(nn.forward, net, v).peak for _ in range(3)) for v in values}
    assert len(peaks) == 1 and peaks.pop() >= 3 * 64 * 8  # at least the activations


def test_compare_times():
    out = compare_times({"a": lambda: None, 2: lambda: sum(range(100))}, rounds=2, min_time=0)
    assert set(out) == {"a", 2} and all(t > 0 for t in out.values())


def test_collatz():
    assert nn.collatz_trajectory(1) == [1]
    assert nn.collatz_trajectory(6) == [6, 3, 10, 5, 16, 8, 4, 2, 1]
    assert len(nn.collatz_trajectory(27)) - 1 == 111
    with tracing():
        small = traced_peak(nn.collatz_trajectory, 16).peak
        large = traced_peak(nn.collatz_trajectory, 27).peak
    assert large > small


@settings(max_examples=20, deadline=None)
@given(T=st.integers(1, 40), d=st.integers(1, 16), seed=st.integers(0, 2**32 - 1))
def test_decoding_with_a_cache_equals_causal_attention(T, d, seed):
    rng = np.random.default_rng(seed)
    head = nn.init_attention(d, rng)
    X = rng.standard_normal((T, d))
    out, cache = nn.decode(head, X)
    np.testing.assert_allclose(out, nn.causal_attention(head, X), rtol=1e-10, atol=1e-12)
    assert cache.length == T and cache.nbytes_used == 2 * T * d * 8
    assert cache.nbytes_reserved >= cache.nbytes_used
    np.testing.assert_allclose(cache.keys, X @ head.Wk)


def test_decode_step_flops_and_times():
    assert nn.decode_step_flops(4, 10) == 6 * 16 + 4 * 10 * 4
    head = nn.init_attention(8)
    rows = nn.decode_step_times(head, [0, 5, 9], repeat=1, min_time=0)
    assert [r["position"] for r in rows] == [0, 5, 9]
    assert [r["nbytes_used"] for r in rows] == [2 * (p + 1) * 8 * 8 for p in (0, 5, 9)]


def test_cache_truncate():
    c = nn.KVCache(2, capacity=1)
    for i in range(5):
        c.append(np.full(2, i), np.full(2, -i))
    assert c.length == 5 and c.nbytes_reserved == 2 * 8 * 2 * 8
    c.truncate(2)
    np.testing.assert_array_equal(c.keys, [[0, 0], [1, 1]])


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: nn.init_mlp([3]), "sizes"),
        (lambda: nn.init_mlp([3, 0]), "sizes[1]"),
        (lambda: nn.init_mlp([3, 2], rng="x"), "rng"),
        (lambda: nn.make_classification(0, 2, 2), "n_samples"),
        (lambda: nn.make_classification(5, 2, 1), "n_classes"),
        (lambda: nn.forward(nn.init_mlp([3, 2]), np.zeros(4)), "X"),
        (lambda: nn.forward(nn.init_mlp([3, 2]), np.full(3, np.nan)), "X"),
        (lambda: nn.loss_and_grads(nn.init_mlp([3, 2]), np.zeros((2, 3)), np.array([0, 2])), "y"),
        (lambda: nn.loss_and_grads(nn.init_mlp([3, 2]), np.zeros(3), np.array([0])), "X"),
        (lambda: nn.train(nn.init_mlp([3, 2]), np.zeros((4, 3)), np.zeros(4, int), steps=-1), "steps"),
        (
            lambda: nn.train(nn.init_mlp([3, 2]), np.zeros((4, 3)), np.zeros(4, int), steps=1, batch_size=5),
            "batch_size",
        ),
        (lambda: nn.sgd_step(nn.init_mlp([3, 2]), nn.init_mlp([3, 2]), 0), "lr"),
        (lambda: nn.matmul_flops(0, 1, 1), "m"),
        (lambda: nn.forward_bytes([3, 2], 1, itemsize=1), "itemsize"),
        (lambda: nn.forward_flops([3, 2], 0), "batch"),
        (lambda: nn.throughput(nn.init_mlp([3, 2]), 0), "batch_size"),
        (lambda: nn.throughput(nn.init_mlp([3, 2]), 5000), "batch_size"),
        (lambda: nn.throughput_model(0, 1, 1, 1), "batch_size"),
        (lambda: nn.throughput_model(1, 0, 1, 1), "t1"),
        (lambda: F.layer_intensity(1, 1, 1, itemsize=3), "itemsize"),
        (lambda: F.layer_roofline(0, 1, 1, 1), "batch"),
        (lambda: F.layer_roofline_formula(0, 1), "peak_gflops"),
        (lambda: nn.collatz_trajectory(0), "n"),
        (lambda: nn.collatz_trajectory(2.5), "n"),
        (lambda: nn.init_attention(0), "d"),
        (lambda: nn.decode(nn.init_attention(2), np.zeros((3, 4))), "X"),
        (lambda: nn.KVCache(2).truncate(1), "length"),
        (lambda: compare_times({}), "funcs"),
        (lambda: compare_times({"x": 1}), "funcs['x']"),
        (lambda: compare_times({"x": print}, rounds=0), "rounds"),
        (lambda: nn.decode_step_times(nn.init_attention(2), [1], statistic="mean"), "statistic"),
        (
            lambda: nn.numerical_gradient(nn.init_mlp([2, 2]), np.zeros((1, 2)), np.array([0]), indices=[99]),
            "indices",
        ),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match="^" + re.escape(name)):
        call()


def test_mlp_rejects_mismatched_layers():
    with pytest.raises(ValueError):
        nn.MLP([np.zeros((3, 4)), np.zeros((5, 2))], [np.zeros(4), np.zeros(2)])
    assert math.isclose(nn.init_mlp([3, 4, 2]).nbytes, 8 * nn.n_params([3, 4, 2]))
