"""Tests of the cluster factory (computing_change.core.pools: its arguments, a real
two-worker LocalCluster, a running scheduler named by the environment, nothing left running
after an error), functions of a notebook run on the workers without this package, and the
alpha-beta fit (computing_change.models.fits). Chapter 3.2's own code runs in its cells, checked by nbval. No test asserts
a speed."""

from __future__ import annotations

import os
import time

import numpy as np
import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change.core.pools import (
    MAX_DEFAULT_WORKERS,
    SCHEDULER_ENV,
    cluster_client,
    local_cluster_kwargs,
    scheduler_address,
)
from computing_change.models import formulas as F
from computing_change.models.fits import fit_alpha_beta

# --------------------------------------------------------------------------------------
# The cluster helpers that need no cluster
# --------------------------------------------------------------------------------------


def test_scheduler_address_from_environment():
    assert scheduler_address({}) is None
    assert scheduler_address({SCHEDULER_ENV: "  "}) is None
    assert scheduler_address({SCHEDULER_ENV: "tcp://10.0.0.5:8786"}) == "tcp://10.0.0.5:8786"
    for bad in ("10.0.0.5:8786", "http://host:8786", "tcp://"):
        with pytest.raises(ValueError, match=SCHEDULER_ENV):
            scheduler_address({SCHEDULER_ENV: bad})


def test_local_cluster_kwargs():
    kw = local_cluster_kwargs()
    assert 1 <= kw["n_workers"] <= MAX_DEFAULT_WORKERS
    assert kw["threads_per_worker"] == 1 and kw["processes"] is True
    assert kw["host"] == "127.0.0.1" and kw["dashboard_address"].startswith("127.0.0.1:")
    kw = local_cluster_kwargs(4, memory_budget=2 * 1024**3)
    assert kw["n_workers"] == 4 and kw["memory_limit"] == 512 * 1024**2
    assert local_cluster_kwargs(64, memory_budget=1024**3)["memory_limit"] == 256 * 1024**2
    for bad in (0, 65, 1.5, True):
        with pytest.raises(ValueError, match="n_workers"):
            local_cluster_kwargs(bad)
    with pytest.raises(ValueError, match="memory_budget"):
        local_cluster_kwargs(1, memory_budget=0)


def test_cluster_client_rejects_bad_arguments():
    with pytest.raises(ValueError, match="address"):
        with cluster_client(address="localhost:8786"):
            pass
    with pytest.raises(ValueError, match="n_workers"):
        with cluster_client(n_workers=2, address="tcp://127.0.0.1:1"):
            pass
    with pytest.raises(ValueError, match="timeout"):
        with cluster_client(timeout=0):
            pass


# --------------------------------------------------------------------------------------
# The alpha-beta fit (chapter 3.2 fits scatter times, the fitting chapter a pipe's)
# --------------------------------------------------------------------------------------

SIZES = np.unique(8 * np.round(np.geomspace(1024, 64 * 2**20, 9) / 8))


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-6, 1e-1), st.floats(1e6, 1e11))
def test_fit_alpha_beta_recovers_exact_data(alpha, beta):
    fit = fit_alpha_beta(SIZES, F.alpha_beta_time(SIZES, alpha, beta))
    assert type(fit.alpha) is float and type(fit.beta) is float  # plain floats, for glue and JSON
    assert fit.alpha == pytest.approx(alpha, rel=1e-6, abs=1e-12)
    assert fit.beta == pytest.approx(beta, rel=1e-6)
    assert fit.half_size == pytest.approx(alpha * beta, rel=1e-6)
    assert fit.time(fit.half_size) == pytest.approx(2 * fit.alpha)


@settings(max_examples=40, deadline=None)
@given(st.floats(1e-5, 1e-2), st.floats(1e7, 1e10), st.integers(0, 2**32 - 1))
def test_fit_alpha_beta_weighs_every_size_alike(alpha, beta, seed):
    """With 1 % relative noise on times that span decades, the fit still finds both
    parameters: relative residuals let the small messages fix alpha."""
    rng = np.random.default_rng(seed)
    times = F.alpha_beta_time(SIZES, alpha, beta) * (1 + 0.01 * rng.uniform(-1, 1, SIZES.size))
    fit = fit_alpha_beta(SIZES, times)
    assert fit.alpha == pytest.approx(alpha, rel=0.05, abs=0.05 * SIZES[0] / beta)
    if SIZES[-1] / beta > 0.5 * alpha:  # beta only shows where the bytes cost something
        assert fit.beta == pytest.approx(beta, rel=0.1)


def test_fit_alpha_beta_edge_cases():
    sizes = np.array([1e3, 1e6, 1e9])
    fit = fit_alpha_beta(sizes, sizes / 1e9)  # no latency at all
    assert fit.alpha == pytest.approx(0, abs=1e-15) and fit.beta == pytest.approx(1e9)
    fit = fit_alpha_beta(sizes, [2e-3, 1e-3, 5e-4])  # time falls with size: no bandwidth cost
    assert fit.beta == float("inf") or fit.alpha == 0
    with pytest.raises(ValueError, match="distinct"):
        fit_alpha_beta([8, 8], [1e-3, 2e-3])
    with pytest.raises(ValueError, match="same length"):
        fit_alpha_beta([8, 16, 32], [1e-3, 2e-3])
    with pytest.raises(ValueError, match="times"):
        fit_alpha_beta([8, 16], [1e-3, 0])
    with pytest.raises(ValueError, match="sizes"):
        fit_alpha_beta([-8, 16], [1e-3, 2e-3])


# --------------------------------------------------------------------------------------
# On a real cluster
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    with cluster_client(n_workers=2) as c:
        yield c


def test_cluster_shape(client):
    info = client.scheduler_info(n_workers=-1)["workers"]
    assert sorted(str(w["name"]) for w in info.values()) == ["0", "1"]
    assert all(a.startswith("tcp://127.0.0.1:") for a in info)
    assert set(client.nthreads().values()) == {1}
    limits = {w["memory_limit"] for w in info.values()}
    assert limits == {local_cluster_kwargs(2)["memory_limit"]}


NOTEBOOK_CELL = """
import sys

def spin(iterations, seed=0):
    x = seed
    for _ in range(iterations):
        x = (6364136223846793005 * x + 1442695040888963407) % 2**64
    return x

def spin_here(iterations, seed):
    return spin(iterations, seed), "computing_change" in sys.modules

def imported_the_package():
    return "computing_change" in sys.modules
"""


def _notebook_functions() -> dict:
    """Functions as a notebook cell defines them: in ``__main__``, which the workers
    cannot import, so cloudpickle must send them by value."""
    namespace = {"__name__": "__main__"}
    exec(compile(NOTEBOOK_CELL, "<notebook cell>", "exec"), namespace)
    assert namespace["spin"].__module__ == "__main__"
    return namespace


def test_workers_run_notebook_functions_without_the_package():
    """Chapter 3.2's claim: its tasks are functions of the notebook, which Dask sends by
    value, so the workers never import computing_change (a real cluster needs only Dask)."""
    nb = _notebook_functions()
    seeds = range(6)
    with cluster_client(n_workers=2) as c:  # its own cluster: the end of the test spoils it
        results = c.gather(c.map(nb["spin_here"], [500] * 6, seeds, pure=False))
        assert [value for value, _ in results] == [nb["spin"](500, s) for s in seeds]
        assert not any(imported for _, imported in results)
        assert not any(c.run(nb["imported_the_package"]).values())
        # The check can fail: a function of the package travels by reference, by its name,
        # and the worker imports the package to find it.
        assert c.run(scheduler_address, {}) == dict.fromkeys(c.nthreads())
        assert all(c.run(nb["imported_the_package"]).values())


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_cluster_closed_even_when_the_body_fails():
    with pytest.raises(RuntimeError, match="boom"):
        with cluster_client(n_workers=1) as c:
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

    kw = local_cluster_kwargs(1)
    with (
        dask.config.set({"temporary-directory": str(tmp_path)}),
        LocalCluster(local_directory=tmp_path, **kw) as cluster,
    ):
        monkeypatch.setenv(SCHEDULER_ENV, cluster.scheduler_address)
        with cluster_client() as c:
            assert c.scheduler.address == cluster.scheduler_address
            assert c.submit(pow, 3, 4).result() == 81
        assert c.status == "closed"
        assert cluster.status.name == "running"  # the reader's cluster is left alone
