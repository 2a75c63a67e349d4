"""Tests of chapter 5's module: the environment check, the article's program, and every
version of the nearest-neighbour search, which must all give the naive answers."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from computing_change.core import machine
from computing_change.core.notebook import page_code, source
from computing_change.core.pools import cluster_client
from computing_change.lessons import project as cs
from computing_change.models import formulas as F

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------
# 5.1 the environment
# --------------------------------------------------------------------------------------


def test_environment_of_the_course_passes():
    checks = cs.check_environment()
    assert [c.name for c in checks] == list(cs.MINIMUM_VERSIONS)
    assert all(c.ok for c in checks), cs.format_checks(checks)


def test_missing_and_too_old_are_reported():
    checks = cs.check_environment({"numpy": "999.0", "no_such_package_cc": "1.0"})
    old, missing = checks
    assert not old.ok and "too old" in old.note
    assert not missing.ok and missing.found == "missing"
    text = cs.format_checks(checks)
    assert "PROBLEM" in text and "no_such_package_cc" in text


@pytest.mark.parametrize("bad", [{}, {"numpy": "latest"}, {"numpy": 2}])
def test_environment_check_validates_minimum(bad):
    with pytest.raises(ValueError, match="minimum"):
        cs.check_environment(bad)


def test_minimum_versions_match_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lower = {}
    for dep in deps:
        m = re.match(r"([A-Za-z0-9_\-]+)(\[[^\]]*\])?.*?>=\s*([0-9.]+)", dep)
        assert m, dep
        lower[m.group(1)] = m.group(3)
    for name, version in lower.items():
        assert cs.MINIMUM_VERSIONS[name] == version, name
    if "distributed" in str(deps):  # dask[distributed] brings distributed at dask's version
        assert cs.MINIMUM_VERSIONS["distributed"] == lower["dask"]
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={cs.MINIMUM_VERSIONS['python']}"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2.4.6", (2, 4, 6)),
        ("2026.8.0", (2026, 8, 0)),
        ("3.11.7rc1", (3, 11, 7)),
        ("1.2.dev0", (1, 2)),
        ("x", ()),
    ],
)
def test_version_tuple(text, expected):
    assert cs._version_tuple(text) == expected


def test_resources():
    checks = cs.check_resources()
    assert [c.name for c in checks] == ["usable cores", "available memory"]
    assert int(checks[0].found) >= 1
    assert not cs.check_resources(min_memory=1 << 60)[1].ok
    with pytest.raises(ValueError, match="min_memory"):
        cs.check_resources(min_memory=-1)
    with pytest.raises(ValueError, match="checks"):
        cs.format_checks([])


# --------------------------------------------------------------------------------------
# 5.2 the article's program
# --------------------------------------------------------------------------------------


#: SHA-256 of the article's program as section 5.2 quotes it (cs.ARTICLE_CODE), checked by
#: hand to be a verbatim substring of the source article (which is not part of this
#: repository) on 2026-12-05. Re-check against the article before changing this digest.
ARTICLE_CODE_SHA256 = "d850cc740279c01a83a3584437a24c6e4d923b6a178f82d3f32b34b25175bbf8"


def test_article_code_is_the_verified_quote():
    assert hashlib.sha256(cs.ARTICLE_CODE.encode("utf-8")).hexdigest() == ARTICLE_CODE_SHA256


def test_article_code_without_tensorflow():
    lines = cs.ARTICLE_CODE.splitlines()
    assert lines[0] == "import tensorflow as tf"
    ns: dict = {}
    exec("\n".join(lines[1:]), ns)  # prints four lines
    assert ns["E_p"] == pytest.approx(F.efficiency_parallel(1000, 4))
    assert ns["E_m"] == pytest.approx(1 / (1 + 1024 / 10**6))  # the wrong variable
    assert ns["E_m"] != pytest.approx(F.efficiency_memory(1000, 1024))
    assert ns["C_a"] > ns["C_0"]  # the swapped complexities
    assert "tf." not in cs.ARTICLE_CODE  # TensorFlow is never used


# --------------------------------------------------------------------------------------
# 5.3 sizes and data
# --------------------------------------------------------------------------------------


def test_default_sizes():
    s = cs.default_sizes()
    assert (s.n_queries, s.n_refs, s.dim, s.n_naive) == (512, 4096, 128, 4)
    small = cs.default_sizes(10, 20, 3, n_naive=50)
    assert small.n_naive == 10
    for kwargs, name in [
        ({"n_queries": 0}, "n_queries"),
        ({"dim": 1.5}, "dim"),
        ({"fraction": 0}, "fraction"),
    ]:
        with pytest.raises(ValueError, match=name):
            cs.default_sizes(**kwargs)
    with pytest.raises(ValueError, match="n_naive"):
        cs.Sizes(4, 4, 4, 5)


def test_make_data():
    q, r = cs.make_data(5, 7, 3, dtype="float32")
    assert q.shape == (5, 3) and r.shape == (7, 3)
    assert q.dtype == r.dtype == np.float32 and q.flags.c_contiguous
    q2, r2 = cs.make_data(5, 7, 3, dtype="float32")
    assert np.array_equal(q, q2) and np.array_equal(r, r2)
    with pytest.raises(ValueError, match="dtype"):
        cs.make_data(5, 7, 3, dtype="int32")
    with pytest.raises(ValueError, match="spread"):
        cs.make_data(5, 7, 3, spread=-1)


# --------------------------------------------------------------------------------------
# the versions agree with the naive one
# --------------------------------------------------------------------------------------

NUMPY_VERSIONS = [cs.nearest_broadcast, cs.nearest_matmul, cs.nearest_chunked]


def page_function(name: str):
    """A function exactly as the chapter defines it in its code cells
    (:func:`computing_change.core.notebook.page_code`), with the setup's ``np`` and ``numba``."""
    return getattr(page_code(ROOT / "book" / "project.ipynb", (name,), {"np": np, "numba": numba}), name)


# Step 4 of the chapter: the notebook's loops, compiled as the notebook compiles them
nearest_loops = page_function("nearest_loops")
NUMBA_LOOPS = numba.njit(nearest_loops)
NUMBA_THREADS = numba.njit(parallel=True)(nearest_loops)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 6),
    m=st.integers(1, 12),
    d=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    chunk=st.integers(1, 8),
)
def test_every_version_matches_naive(n, m, d, seed, chunk):
    q, r = cs.make_data(n, m, d, clusters=3, seed=seed)
    index, dist = cs.nearest_naive(q.tolist(), r.tolist())
    brute = ((q[:, None, :] - r[None, :, :]) ** 2).sum(-1)
    assert np.allclose(dist, brute.min(axis=1))
    results = [cs.nearest_expanded_python(q.tolist(), r.tolist())]
    results += [f(q, r) for f in NUMPY_VERSIONS] + [cs.nearest_chunked(q, r, chunk)]
    for got in results:
        agree = cs.compare_neighbours(q, r, *got, index, dist, rtol=1e-10)
        assert agree.ok, agree
    q32, r32 = q.astype(np.float32), r.astype(np.float32)
    agree = cs.compare_neighbours(q, r, *cs.nearest_chunked(q32, r32, chunk), index, dist, rtol=1e-5)
    assert agree.ok, agree
    # the compiled loops do naive Python's operations in the same order: the same bits
    for compiled in (NUMBA_LOOPS, NUMBA_THREADS):
        got_index, got_dist = compiled(q, r)
        assert np.array_equal(got_index, index) and np.array_equal(got_dist, dist)


def test_loops_run_uncompiled_too():
    q, r = cs.make_data(3, 9, 4, seed=5)
    index, dist = nearest_loops(q, r)  # numba.prange is range in the interpreter
    expected = cs.nearest_naive(q, r)
    assert np.array_equal(index, expected[0]) and np.array_equal(dist, expected[1])


def test_workers_do_not_import_numba():
    """Every process and Dask worker imports this module: Numba (seconds to import, and
    memory) must stay out of it; the chapter compiles its loops in the notebook."""
    import subprocess
    import sys

    code = "import sys, computing_change.lessons.project; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_threads_do_not_change_the_answer():
    q, r = cs.make_data(61, 200, 7, seed=3)
    expected = NUMBA_LOOPS(q, r)
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            index, dist = NUMBA_THREADS(q, r)
            assert np.array_equal(index, expected[0]) and np.array_equal(dist, expected[1])
    finally:
        numba.set_num_threads(before)


def test_ties_go_to_the_lowest_index():
    r = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    q = np.array([[1.0, 0.0], [0.5, 0.5]])
    for f in [cs.nearest_naive, cs.nearest_expanded_python, *NUMPY_VERSIONS, NUMBA_LOOPS, NUMBA_THREADS]:
        index, dist = f(q, r)
        assert list(index) == [0, 0], f.__name__
        assert np.allclose(dist, [0.0, 0.5])


def test_chunk_size_does_not_change_the_answer():
    q, r = cs.make_data(37, 50, 6)
    expected = cs.nearest_matmul(q, r)
    for chunk in [1, 2, 7, 37, 1000, None]:
        index, dist = cs.nearest_chunked(q, r, chunk)
        assert np.array_equal(index, expected[0])
        assert np.allclose(dist, expected[1])


def test_distances_are_never_negative():
    r = np.full((3, 4), 1e3)
    index, dist = cs.nearest_chunked(r.copy(), r)
    assert np.all(dist >= 0) and np.all(index == 0)


@pytest.mark.parametrize("func", [cs.nearest_naive, cs.nearest_expanded_python, *NUMPY_VERSIONS])
def test_inputs_are_validated(func):
    good = np.ones((2, 3))
    for bad, name in [
        (np.ones((2, 4)), "same dimension"),
        (np.ones((0, 3)), "queries"),
        (np.array([[1.0, np.nan, 0.0]]), "finite"),
        (np.ones(3), "queries"),
    ]:
        with pytest.raises(ValueError, match=name):
            func(bad, good)


def test_chunked_validation():
    q, r = cs.make_data(4, 5, 2)
    with pytest.raises(ValueError, match="dtype"):
        cs.nearest_chunked(q.astype(np.float32), r)
    with pytest.raises(ValueError, match="chunk"):
        cs.nearest_chunked(q, r, 0)
    with pytest.raises(ValueError, match="real numbers"):
        cs.nearest_chunked(q.astype(complex), r)
    assert cs.default_chunk(4096, 4) == 256 and cs.default_chunk(10**9, 8) == 1
    with pytest.raises(ValueError, match="itemsize"):
        cs.default_chunk(10, 0)


def test_python_versions_validate_lists():
    with pytest.raises(ValueError, match="equal length"):
        cs.nearest_naive([[1.0, 2.0], [1.0]], [[0.0, 0.0]])
    with pytest.raises(ValueError, match="real numbers"):
        cs.nearest_naive([["a", "b"]], [[0.0, 0.0]])
    with pytest.raises(ValueError, match="sequence"):
        cs.nearest_expanded_python("ab", [[0.0]])
    with pytest.raises(ValueError, match="sequence"):
        cs.nearest_naive([], [[0.0]])


def test_compare_neighbours_catches_a_wrong_answer():
    q, r = cs.make_data(20, 30, 4)
    index, dist = cs.nearest_matmul(q, r)
    agree = cs.compare_neighbours(q, r, index, dist, index, dist)
    assert agree.ok and agree.same_index == 20 and "OK" in str(agree)
    wrong = (index + 1) % 30
    bad = cs.compare_neighbours(q, r, wrong, dist, index, dist)
    assert not bad.ok and bad.same_index == 0 and "NOT OK" in str(bad)
    with pytest.raises(ValueError, match="one entry per query"):
        cs.compare_neighbours(q, r, index[:3], dist, index, dist)
    with pytest.raises(ValueError, match="integers"):
        cs.compare_neighbours(q, r, index + 100, dist, index, dist)


# --------------------------------------------------------------------------------------
# processes and Dask
# --------------------------------------------------------------------------------------


def test_process_pool_matches_and_closes():
    q, r = cs.make_data(23, 40, 5, dtype=np.float32)
    expected = cs.nearest_chunked(q, r, 4)
    with cs.ProcessNearest(r, workers=2) as search:
        assert search.startup_seconds > 0
        index, dist = search(q, chunk=4)
        assert search.worker_peak(q, chunk=4) > 0
        with pytest.raises(ValueError, match="dtype"):
            search(q.astype(np.float64))
    assert cs.compare_neighbours(q, r, index, dist, *expected, rtol=1e-5).ok
    assert np.allclose(dist, expected[1], rtol=1e-5)
    assert search._pool is None
    with pytest.raises(RuntimeError, match="with"):
        search(q)


def test_process_pool_validates():
    r = np.ones((3, 2))
    with pytest.raises(ValueError, match="workers"):
        cs.ProcessNearest(r, workers=0)
    with pytest.raises(ValueError, match="mp_context"):
        cs.ProcessNearest(r, mp_context="threads")
    with pytest.raises(ValueError, match="refs"):
        cs.ProcessNearest(np.ones(3))


def test_dask_matches_and_closes():
    q, r = cs.make_data(19, 33, 4, dtype=np.float32)
    expected = cs.nearest_chunked(q, r, 5)
    with cluster_client(1, local=True) as client:
        search = cs.DaskNearest(client, r)
        index, dist = search(q, chunk=5)
        assert search.worker_peak(q, chunk=5) > 0
        assert search.scatter_seconds >= 0
        with pytest.raises(ValueError, match="dimension"):
            search(q[:, :2])
        cluster = client.cluster
    assert cs.compare_neighbours(q, r, index, dist, *expected, rtol=1e-5).ok
    assert np.allclose(dist, expected[1], rtol=1e-5)
    assert client.status == "closed" and cluster.status.name == "closed"
    with pytest.raises(ValueError, match="client"):
        cs.DaskNearest(None, r)


# --------------------------------------------------------------------------------------
# counting, tables, source
# --------------------------------------------------------------------------------------


def test_flops_and_bytes():
    assert cs.distance_flops(2, 3, 4) == 48
    assert cs.compulsory_bytes(2, 3, 4, itemsize=8) == 8 * 5 * 4 + 2 * 16
    assert cs.compulsory_bytes(2, 3, 4, itemsize=4) == 4 * 5 * 4 + 2 * 12
    with pytest.raises(ValueError, match="dim"):
        cs.distance_flops(1, 1, 0)
    with pytest.raises(ValueError, match="itemsize"):
        cs.compulsory_bytes(1, 1, 1, itemsize=0)


def test_format_steps():
    steps = [
        cs.StepResult("naive", 10.0, 1000, measured_queries=2),
        cs.StepResult("fast", 0.01, 5 * 1024**2, dtype="float32", per_worker=True),
    ]
    text = cs.format_steps(steps, 1e9, {"float64": 1e10, "float32": 2e11})
    lines = text.splitlines()
    assert "1,000x" in lines[2] and "5 MiB†" in lines[2] and "50 %" in lines[2]
    assert lines[1].split()[2] == "s*"
    assert "scaled up" in text and "worker" in text
    md = cs.format_steps(steps, 1e9, {"float64": 1e10, "float32": 2e11}, markdown=True)
    assert md.startswith("| step |") and "10 s\\*" in md and md.count("\n|") == 3
    # up to 105 % of the bound is measurement noise; 500 % is impossible, and refused
    assert "104 %" in cs.format_steps(steps, 1e9, {"float64": 1e10, "float32": 1e11 / 1.04})
    with pytest.raises(machine.AboveRoofError, match="fast"):
        cs.format_steps(steps, 1e9, {"float64": 1e10, "float32": 2e10})
    with pytest.raises(ValueError, match="bounds"):
        cs.format_steps(steps, 1e9, {"float64": 1e10})
    with pytest.raises(ValueError, match="steps"):
        cs.format_steps([], 1e9, {})
    with pytest.raises(ValueError, match="seconds"):
        cs.StepResult("x", 0.0, 1)
    with pytest.raises(ValueError, match="dtype"):
        cs.StepResult("x", 1.0, 1, dtype="int8")


def test_the_page_shows_the_running_source():
    """The chapter shows its package versions with computing_change.core.notebook.show: the
    source of the functions that run, docstrings left out."""
    text = source(cs.nearest_naive, cs.ProcessNearest.__call__, cs.DaskNearest.__init__)
    assert text.startswith("def nearest_naive(")
    assert "Pure Python: for each query" not in text
    assert "def __call__(self" in text and "def __init__(self" in text
    assert "for a, b in zip(q, r, strict=True):" in text
    with pytest.raises(ValueError, match="objects"):
        source(len)


def test_page_code_runs_the_pages_definitions_and_names_what_is_missing(tmp_path):
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["def not_code(): pass"]},
            {"cell_type": "code", "source": ["%matplotlib inline\n", "K = 3\n", "print('not run')\n"]},
            {"cell_type": "code", "source": ["def triple(x):\n", "    return K * x\n"]},
        ]
    }
    page = tmp_path / "page.ipynb"
    page.write_text(json.dumps(nb), encoding="utf-8")
    got = page_code(page, ("triple", "K"))
    assert got.triple(2) == 6 and got.K == 3
    assert "return K * x" in source(got.triple)  # its lines are readable, as on the page
    with pytest.raises(RuntimeError, match="no longer defines \\['gone'\\]"):
        page_code(page, ("triple", "gone"))
    with pytest.raises(ValueError, match="names"):
        page_code(page, ())
