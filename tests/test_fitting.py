"""Tests of computing_change.lessons.field_models, the code chapter 4's pages import: the Monte Carlo worker
counts the same points however its blocks are shared out, in a spawn-mode process pool too;
the echo sends back what it gets and stops; the kernels compute the right results and count
the right FLOPs and bytes. No test asserts on speed."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change.lessons import field_models as fit
from computing_change.lessons.fitting import count_in_circle, echo_server, pi_rate
from computing_change.models import formulas as F
from computing_change.models.fits import fit_alpha_beta

# --- The Monte Carlo worker -----------------------------------------------------------------


def _blocks(n_blocks: int, size: int) -> list[tuple[int, int]]:
    return [(i, size + i % 3) for i in range(n_blocks)]


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 12), st.integers(0, 2**31))
def test_count_does_not_depend_on_how_the_blocks_are_shared(groups, seed):
    blocks = _blocks(12, 5_000)
    whole = count_in_circle(blocks, seed)
    assert sum(count_in_circle(blocks[k::groups], seed) for k in range(groups)) == whole
    assert 0 < whole < sum(size for _, size in blocks)


def test_count_depends_on_the_seed_and_the_block_index():
    assert count_in_circle([(0, 10_000)], 0) != count_in_circle([(0, 10_000)], 1)
    assert count_in_circle([(0, 10_000)]) != count_in_circle([(1, 10_000)])
    assert count_in_circle([(0, 0)]) == 0 and count_in_circle([]) == 0


def test_count_crosses_chunks_and_estimates_pi():
    n = 3 * (1 << 15) + 17  # three full chunks and a partial one
    count = count_in_circle([(0, n)])
    sigma = 4 * np.sqrt(np.pi / 4 * (1 - np.pi / 4) / n)
    assert abs(4 * count / n - np.pi) < 6 * sigma


def test_count_in_a_spawn_pool_matches_the_serial_count():
    groups = [_blocks(12, 20_000)[k::3] for k in range(3)]
    serial = sum(count_in_circle(g) for g in groups)
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert sum(pool.map(count_in_circle, groups)) == serial


def test_pi_rate_is_a_positive_rate():
    assert 1e3 < pi_rate(0.005) < 1e11


# --- The echo of the ping-pong --------------------------------------------------------------


def test_echo_server_sends_back_every_message_and_stops_on_an_empty_one():
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    echo = ctx.Process(target=echo_server, args=(there,), daemon=True)
    echo.start()
    there.close()
    try:
        for msg in (b"x", b"ab" * 40_000, bytes(range(256))):
            here.send_bytes(msg)
            assert here.recv_bytes() == msg
        here.send_bytes(b"")
        echo.join(timeout=30)
        assert echo.exitcode == 0
    finally:
        if echo.is_alive():
            echo.terminate()
        here.close()


def test_echo_server_stops_when_the_other_end_closes():
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    echo = ctx.Process(target=echo_server, args=(there,), daemon=True)
    echo.start()
    there.close()
    here.close()
    echo.join(timeout=30)
    assert echo.exitcode == 0


# --- Alpha-beta, fitted as the fitting chapter fits it --------------------------------------


@settings(deadline=None)
@given(st.floats(1e-7, 1e-3), st.floats(1e7, 1e11))
def test_distributed_fit_alpha_beta_recovers_the_formulas_parameters(alpha, beta):
    n = np.geomspace(1, 1 << 24, 12)
    a, b = fit_alpha_beta(n, F.alpha_beta_time(n, alpha, beta))
    assert a == pytest.approx(alpha, rel=1e-6)
    assert b == pytest.approx(beta, rel=1e-6)
    assert F.half_performance_length(a, b) == pytest.approx(alpha * beta, rel=1e-6)


# --- Roofline kernels -----------------------------------------------------------------------


def test_kernels_compute_correct_results_and_counts():
    dot, mm, st_ = fit.dot_kernel(1000), fit.matmul_kernel(32), fit.stencil_kernel(50)
    assert dot.verify() and mm.verify() and st_.verify()
    assert (dot.flops, dot.bytes, dot.intensity) == (2000, 16000, pytest.approx(1 / 8))
    assert (mm.flops, mm.bytes, mm.intensity) == (2 * 32**3, 24 * 32**2, pytest.approx(32 / 12))
    assert (st_.flops, st_.bytes) == (4 * 48 * 48, 16 * 50 * 50)
    assert dot.name == "dot n=1,000" and mm.name == "matmul n=32" and st_.name == "stencil 50x50"


def test_kernels_run_what_they_count():
    dot = fit.dot_kernel(1000, seed=3)
    rng = np.random.default_rng(3)
    x, y = rng.random(1000), rng.random(1000)
    assert dot.run() == pytest.approx(x @ y)
    mm = fit.matmul_kernel(8, seed=1)
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((8, 8)), rng.standard_normal((8, 8))
    np.testing.assert_allclose(mm.run(), a @ b)


def test_jacobi_step_matches_a_loop_and_keeps_the_boundary():
    rng = np.random.default_rng(0)
    u = rng.random((6, 7))
    out = np.full_like(u, -1.0)
    assert fit.jacobi_step(u, out) is out
    for i in range(1, 5):
        for j in range(1, 6):
            assert out[i, j] == pytest.approx((u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1]) / 4)
    assert np.all(out[0] == -1.0) and np.all(out[:, -1] == -1.0)


def test_stream_items_is_the_memory_roof_size_within_limits():
    n = fit.stream_items()
    assert 1 << 16 <= n <= (128 << 20) // 8


def test_course_kernels_are_correct_and_sized_by_items():
    ks = fit.course_kernels(items=1 << 16)
    assert [k.name for k in ks] == [
        "dot n=65,536",
        "matmul n=64",
        "matmul n=256",
        "matmul n=512",
        "stencil 256x256",
    ]
    assert all(k.verify() for k in ks)
