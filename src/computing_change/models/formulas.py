r"""Every formula of the course, written once, validated, with its LaTeX and valid ranges.

Two families live here:

* the source article's four "efficiency" formulas (section 4.1 of the article), shown
  faithfully so the course can compute what they really give;
* the models the field uses (Amdahl, Gustafson, ...), which later chapters add to.

Each formula is a plain function (scalars or NumPy arrays in, same shape out) and is also
described by a :class:`Formula` record (LaTeX, parameters with their ranges and defaults)
that :mod:`computing_change.models.views` turns into an interactive widget.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from computing_change.core.checks import check, check_int

__all__ = [
    "Param",
    "Formula",
    "ARTICLE_FORMULAS",
    "FORMULAS",
    "efficiency_parallel",
    "efficiency_distributed",
    "efficiency_memory",
    "efficiency_algorithm",
    "amdahl_speedup",
    "gustafson_speedup",
    "ARTICLE_EXAMPLE",
]


#: The validation calls :func:`_checked_ranges` reads, and how many of their arguments are
#: positional (name, value, lo[, hi]).
_CHECKERS = {"check": 4, "check_int": 4, "_whole": 3}


@functools.cache
def _checked_ranges(func: Callable) -> dict[str, tuple]:
    """The range each argument of ``func`` is checked against, ``{argument: (lo, hi,
    lo_open, hi_open)}``, read from the ``check(...)`` (and ``check_int``, ``_whole``) calls in
    its source, following calls of other functions of its module that pass an argument on.

    This is how a :class:`Formula` record learns its parameters' valid ranges: they are
    written once, in the function that enforces them, never again in the record. A function
    whose source cannot be read gives ``{}`` (its record keeps the ranges it states).
    """
    try:
        fdef = ast.parse(textwrap.dedent(inspect.getsource(func))).body[0]
    except (OSError, TypeError, IndexError, SyntaxError):
        return {}
    if not isinstance(fdef, ast.FunctionDef):
        return {}
    env = dict(func.__globals__)
    params = {a.arg for a in fdef.args.args + fdef.args.kwonlyargs}
    out: dict[str, tuple] = {}

    def value(node):
        return None if node is None else eval(compile(ast.Expression(node), "<range>", "eval"), env)

    def put(name: str, rng: tuple) -> None:
        if out.setdefault(name, rng) != rng:
            raise ValueError(f"{func.__name__} checks {name} against two ranges: {out[name]} and {rng}")

    for node in ast.walk(fdef):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        callee = node.func.id
        if callee in _CHECKERS:
            if len(node.args) < 2 or not (isinstance(node.args[1], ast.Name) and node.args[1].id in params):
                continue
            args = [*node.args, None, None][: _CHECKERS[callee]] + [None]
            kw = {k.arg: k.value for k in node.keywords}
            rng = (
                value(kw.get("lo", args[2])),
                value(kw.get("hi", args[3])),
                bool(value(kw.get("lo_open"))),
                bool(value(kw.get("hi_open"))),
            )
            put(node.args[1].id, rng)
            continue
        inner = env.get(callee)
        if not inspect.isfunction(inner) or inner.__module__ != func.__module__ or inner is func:
            continue
        sub = _checked_ranges(inner)
        names = list(inspect.signature(inner).parameters)
        passed = [(names[i] if i < len(names) else None, a) for i, a in enumerate(node.args)]
        passed += [(k.arg, k.value) for k in node.keywords]
        for target, a in passed:
            if isinstance(a, ast.Name) and a.id in params and target in sub:
                put(a.id, sub[target])
    return out


@dataclass(frozen=True)
class Param:
    """One parameter of a formula: its valid range and the range a slider offers.

    In a :class:`Formula` record the valid range (``lo``, ``hi``, ``lo_open``, ``hi_open``) is
    not written: the record reads it from the ``check(...)`` calls of its function
    (:func:`_checked_ranges`), so the range a widget offers and the range the function
    enforces are one definition.
    """

    name: str
    label: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    default: float = 1.0
    slider_min: float = 0.0
    slider_max: float = 1.0
    log: bool = False
    integer: bool = False

    def validate(self, value):
        """Check ``value`` against this parameter's range (``ValueError`` naming it)."""
        return check(self.name, value, self.lo, self.hi, lo_open=self.lo_open, hi_open=self.hi_open)


@dataclass(frozen=True)
class Formula:
    """A formula: the function, its LaTeX, its parameters and what it returns."""

    key: str
    title: str
    latex: str
    func: Callable[..., float]
    params: tuple[Param, ...]
    output: str
    source: str = ""
    #: arguments of ``func`` held fixed (fitted constants, the machine's roofs): not sliders
    fixed: dict = field(default_factory=dict)

    def __post_init__(self):
        ranges = _checked_ranges(self.func)
        params = []
        for p in self.params:
            if p.name in ranges:
                stated = (p.lo, p.hi, p.lo_open, p.hi_open)
                if stated != (None, None, False, False) and stated != ranges[p.name]:
                    raise ValueError(
                        f"{self.key}: parameter {p.name} states the range {stated}, but "
                        f"{self.func.__name__} checks {ranges[p.name]}: leave the range to the function"
                    )
                lo, hi, lo_open, hi_open = ranges[p.name]
                p = replace(p, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open)
            params.append(p)
        object.__setattr__(self, "params", tuple(params))

    def __call__(self, **kwargs):
        return self.func(**self.fixed, **kwargs)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)


# --------------------------------------------------------------------------------------
# The article's four formulas (section 4.1), exactly as printed.
# --------------------------------------------------------------------------------------


def efficiency_parallel(n, p):
    r"""The article's parallel efficiency, :math:`E_p = \dfrac{1}{1 + n/p}`.

    Parameters
    ----------
    n : float or array, > 0
        Task size ("任务规模"), in the article's unspecified units.
    p : float or array, >= 1
        Number of parallel processing units.

    This is the formula as the article prints it, and it points the wrong way in both of
    its variables. At a fixed ``p`` it *falls* as the task grows; on a real machine a larger
    task has a smaller serial share :math:`f`, so the efficiency :func:`amdahl_efficiency`
    ``(f, p)`` *rises* towards 1. At a fixed ``n`` it *rises* with ``p``; Amdahl's law makes
    a fixed-size task's efficiency *fall* (strong scaling). Neither is weak scaling, where
    the task grows with ``p`` and the efficiency under Gustafson's law,
    :func:`gustafson_efficiency`, stays flat or falls slowly. See chapter 4.
    """
    n = check("n", n, 0, lo_open=True)
    p = check("p", p, 1)
    return 1.0 / (1.0 + n / p)


def efficiency_distributed(n, d):
    r"""The article's distributed efficiency, :math:`E_d = \dfrac{1}{1 + n/d}`.

    Parameters
    ----------
    n : float or array, > 0
        Task size.
    d : float or array, >= 1
        Number of distributed nodes.

    This is :func:`efficiency_parallel` with the letter ``d`` for ``p``: the same function,
    with no term for what sets distributed computing apart, the messages between nodes
    (:func:`alpha_beta_time`, :func:`ring_allreduce_time`).
    """
    n = check("n", n, 0, lo_open=True)
    d = check("d", d, 1)
    return 1.0 / (1.0 + n / d)


def efficiency_memory(m, c):
    r"""The article's memory efficiency, :math:`E_m = \dfrac{1}{1 + m/c}`.

    Parameters
    ----------
    m : float or array, >= 0
        Memory demand.
    c : float or array, > 0
        Memory capacity, in the same unit as ``m``.
    """
    m = check("m", m, 0)
    c = check("c", c, 0, lo_open=True)
    return 1.0 / (1.0 + m / c)


def efficiency_algorithm(C_a, C_0):
    r"""The article's algorithm efficiency, :math:`E_a = \dfrac{1}{1 + C_a/C_0}`.

    Parameters
    ----------
    C_a : float or array, > 0
        Complexity (operation count) of the optimized algorithm.
    C_0 : float or array, > 0
        Complexity of the original algorithm.

    Note that :math:`E_a \le 1/2` whenever the "optimized" algorithm is no cheaper than the
    original (:math:`C_a \ge C_0`, with :math:`E_a = 1/2` exactly when the two cost the same),
    and :math:`E_a \to 1` only as :math:`C_a/C_0 \to 0`.
    """
    C_a = check("C_a", C_a, 0, lo_open=True)
    C_0 = check("C_0", C_0, 0, lo_open=True)
    return 1.0 / (1.0 + C_a / C_0)


# --------------------------------------------------------------------------------------
# The field's first two models (more are added in chapter 4's later sections).
# --------------------------------------------------------------------------------------


def amdahl_speedup(f, p):
    r"""Amdahl's law, :math:`S(p) = \dfrac{1}{f + (1-f)/p}` (Amdahl, 1967).

    Parameters
    ----------
    f : float or array, in [0, 1]
        Serial fraction of the *single-processor* run time.
    p : float or array, >= 1
        Number of processors.

    The speedup of a fixed-size problem never exceeds :math:`1/f`.
    """
    f = check("f", f, 0, 1)
    p = check("p", p, 1)
    return 1.0 / (f + (1.0 - f) / p)


def gustafson_speedup(s, p):
    r"""Gustafson's law, :math:`S(p) = p - s\,(p - 1)` (Gustafson, 1988).

    Parameters
    ----------
    s : float or array, in [0, 1]
        Serial fraction of the *parallel* run time (the problem grows with ``p``).
    p : float or array, >= 1
        Number of processors.
    """
    s = check("s", s, 0, 1)
    p = check("p", p, 1)
    return p - s * (p - 1.0)


_N = Param("n", "task size n", default=1000, slider_min=1, slider_max=1e6, log=True)

ARTICLE_FORMULAS: dict[str, Formula] = {
    "E_p": Formula(
        "E_p",
        "Parallel efficiency (article)",
        r"E_p = \frac{1}{1 + \frac{n}{p}}",
        efficiency_parallel,
        (_N, Param("p", "processing units p", default=4, slider_min=1, slider_max=4096, log=True)),
        "E_p",
        "article, section 4.1 (1)",
    ),
    "E_d": Formula(
        "E_d",
        "Distributed efficiency (article)",
        r"E_d = \frac{1}{1 + \frac{n}{d}}",
        efficiency_distributed,
        (_N, Param("d", "nodes d", default=8, slider_min=1, slider_max=4096, log=True)),
        "E_d",
        "article, section 4.1 (2)",
    ),
    "E_m": Formula(
        "E_m",
        "Memory efficiency (article)",
        r"E_m = \frac{1}{1 + \frac{m}{c}}",
        efficiency_memory,
        (
            Param("m", "memory demand m", default=1000, slider_min=1, slider_max=1e6, log=True),
            Param("c", "memory capacity c", default=1024, slider_min=1, slider_max=1e6, log=True),
        ),
        "E_m",
        "article, section 4.1 (3)",
    ),
    "E_a": Formula(
        "E_a",
        "Algorithm efficiency (article)",
        r"E_a = \frac{1}{1 + \frac{C_a}{C_0}}",
        efficiency_algorithm,
        (
            Param("C_a", "optimized complexity C_a", default=1e6, slider_min=1, slider_max=1e9, log=True),
            Param("C_0", "original complexity C_0", default=1e5, slider_min=1, slider_max=1e9, log=True),
        ),
        "E_a",
        "article, section 4.1 (4)",
    ),
}

FORMULAS: dict[str, Formula] = dict(ARTICLE_FORMULAS)
FORMULAS["amdahl"] = Formula(
    "amdahl",
    "Amdahl's law",
    r"S(p) = \frac{1}{f + \frac{1-f}{p}}",
    amdahl_speedup,
    (
        Param("f", "serial fraction f", default=0.05, slider_min=0, slider_max=1),
        Param("p", "processors p", default=8, slider_min=1, slider_max=4096, log=True),
    ),
    "S",
    "Amdahl (1967)",
)
FORMULAS["gustafson"] = Formula(
    "gustafson",
    "Gustafson's law",
    r"S(p) = p - s\,(p-1)",
    gustafson_speedup,
    (
        Param("s", "serial fraction s", default=0.05, slider_min=0, slider_max=1),
        Param("p", "processors p", default=8, slider_min=1, slider_max=4096, log=True),
    ),
    "S",
    "Gustafson (1988)",
)

#: The article's worked example (section 4.3): the inputs it uses and the values it claims.
ARTICLE_EXAMPLE: dict[str, dict] = {
    "E_p": {"inputs": {"n": 1000, "p": 4}, "claimed": 0.75},
    "E_d": {"inputs": {"n": 1000, "d": 8}, "claimed": 0.875},
    "E_m": {"inputs": {"m": 1000, "c": 1024}, "claimed": 0.96875},
    "E_a": {"inputs": {"C_a": 10**6, "C_0": 10**5}, "claimed": 0.9},
}


def evaluate(key: str, **values) -> float:
    """Evaluate the formula ``key`` of :data:`FORMULAS` at ``values``."""
    if key not in FORMULAS:
        raise ValueError(f"formula must be one of {sorted(FORMULAS)}; got {key!r}")
    return FORMULAS[key](**values)


# ======================================================================================
# The models the field uses (chapter 4, "The models the field uses").
# Appended to the module: the functions above and ARTICLE_* are unchanged.
# ======================================================================================

__all__ += [
    "parallel_efficiency",
    "amdahl_efficiency",
    "gustafson_efficiency",
    "amdahl_to_gustafson",
    "gustafson_to_amdahl",
    "karp_flatt",
    "roofline",
    "ridge_point",
    "attained_fraction",
    "alpha_beta_time",
    "half_performance_length",
    "ring_allreduce_time",
    "naive_allreduce_time",
    "tree_allreduce_time",
    "brent_lower",
    "brent_upper",
    "reduction_work_span",
    "reduction_steps",
    "amat",
    "amat2",
    "amat_multilevel",
    "transformer_flops_per_token",
    "model_flops_utilization",
    "gpt_param_count",
    "FIELD_FORMULAS",
]


def _whole(name: str, value, lo: float):
    """``check`` plus: every value is a whole number (scalar or array)."""
    v = check(name, value, lo)
    arr = np.asarray(v)
    if np.any(arr != np.floor(arr)):
        first = arr[arr != np.floor(arr)].flat[0] if arr.ndim else float(arr)
        raise ValueError(f"{name} must be a whole number >= {lo:g}; got {first:g}")
    return v


# --- Speedup, efficiency and the two serial fractions ---------------------------------


def parallel_efficiency(speedup, p):
    r"""Parallel efficiency, :math:`E = S/p`: the share of the ideal speedup you obtained.

    Parameters
    ----------
    speedup : float or array, > 0
        Measured or modelled speedup :math:`S = T_1 / T_p`.
    p : float or array, >= 1
        Number of processors (workers).

    :math:`E > 1` means a superlinear speedup (for example, the parts fit in cache).
    """
    speedup = check("speedup", speedup, 0, lo_open=True)
    p = check("p", p, 1)
    return speedup / p


def amdahl_efficiency(f, p):
    r"""Efficiency under Amdahl's law, :math:`E(p) = \dfrac{S(p)}{p} = \dfrac{1}{1 + f\,(p-1)}`.

    Parameters
    ----------
    f : float or array, in [0, 1]
        Serial fraction of the single-processor run time.
    p : float or array, >= 1
        Number of processors.
    """
    f = check("f", f, 0, 1)
    p = check("p", p, 1)
    return 1.0 / (1.0 + f * (p - 1.0))


def gustafson_efficiency(s, p):
    r"""Efficiency under Gustafson's law, :math:`E(p) = \dfrac{p - s\,(p-1)}{p} = 1 - s\,\dfrac{p-1}{p}`.

    Parameters
    ----------
    s : float or array, in [0, 1]
        Serial fraction of the parallel run time.
    p : float or array, >= 1
        Number of processors.
    """
    s = check("s", s, 0, 1)
    p = check("p", p, 1)
    return 1.0 - s * (p - 1.0) / p


def amdahl_to_gustafson(f, p):
    r"""Gustafson's serial fraction :math:`s` of the same run, from Amdahl's :math:`f`.

    With :math:`T_1 = t_s + t_\parallel` and :math:`T_p = t_s + t_\parallel/p`, Amdahl's
    :math:`f = t_s/T_1` and Gustafson's :math:`s = t_s/T_p`, so

    .. math:: s = \frac{f}{f + (1-f)/p} = f\,S_{\text{Amdahl}}(f, p).

    Parameters
    ----------
    f : float or array, in [0, 1]
        Serial fraction of the one-processor time.
    p : float or array, >= 1
        Number of processors of the parallel run.
    """
    f = check("f", f, 0, 1)
    p = check("p", p, 1)
    return f / (f + (1.0 - f) / p)


def gustafson_to_amdahl(s, p):
    r"""Amdahl's serial fraction :math:`f` of the same run, from Gustafson's :math:`s`.

    .. math:: f = \frac{s}{s + p\,(1-s)}

    (the inverse of :func:`amdahl_to_gustafson`).

    Parameters
    ----------
    s : float or array, in [0, 1]
        Serial fraction of the time on ``p`` processors.
    p : float or array, >= 1
        Number of processors of that run.
    """
    s = check("s", s, 0, 1)
    p = check("p", p, 1)
    return s / (s + p * (1.0 - s))


def karp_flatt(speedup, p):
    r"""The Karp-Flatt metric, the experimentally determined serial fraction (Karp & Flatt, 1990):

    .. math:: e = \frac{1/S - 1/p}{1 - 1/p}

    Parameters
    ----------
    speedup : float or array, > 0
        Measured speedup :math:`S` on ``p`` processors.
    p : float or array, > 1
        Number of processors (the metric is undefined at :math:`p = 1`).

    For data that obey Amdahl's law exactly, :math:`e = f` at every :math:`p`. A value that
    grows with :math:`p` points to overhead that grows with the processor count
    (communication, synchronization, imbalance); :math:`e < 0` means a superlinear speedup.
    """
    speedup = check("speedup", speedup, 0, lo_open=True)
    p = check("p", p, 1, lo_open=True)
    return (1.0 / speedup - 1.0 / p) / (1.0 - 1.0 / p)


# --- The roofline model ----------------------------------------------------------------


def roofline(intensity, peak, bandwidth):
    r"""The roofline bound on attainable performance (Williams, Waterman & Patterson, 2009):

    .. math:: P = \min(P_{\text{peak}},\; B \times I)

    Parameters
    ----------
    intensity : float or array, > 0
        Arithmetic (operational) intensity :math:`I`, in FLOPs per byte of memory traffic.
    peak : float or array, > 0
        Peak compute rate, FLOP/s.
    bandwidth : float or array, > 0
        Memory bandwidth :math:`B`, bytes/s.

    Returns FLOP/s. No kernel whose traffic really comes from that memory can run faster.
    """
    intensity = check("intensity", intensity, 0, lo_open=True)
    peak = check("peak", peak, 0, lo_open=True)
    bandwidth = check("bandwidth", bandwidth, 0, lo_open=True)
    out = np.minimum(peak, bandwidth * np.asarray(intensity))
    return float(out) if np.ndim(out) == 0 else out


def ridge_point(peak, bandwidth):
    r"""The intensity where the roofline's two bounds meet, :math:`I^* = P_{\text{peak}} / B` (FLOPs/byte).

    Parameters
    ----------
    peak : float or array, > 0
        Peak compute rate, FLOP/s.
    bandwidth : float or array, > 0
        Memory bandwidth, bytes/s.
    """
    peak = check("peak", peak, 0, lo_open=True)
    bandwidth = check("bandwidth", bandwidth, 0, lo_open=True)
    return peak / bandwidth


def attained_fraction(performance, intensity, peak, bandwidth):
    r"""The share of its roofline bound a kernel attains, :math:`P_{\text{measured}} / \min(P_{\text{peak}}, B I)`.

    Parameters
    ----------
    performance : float or array, > 0
        The kernel's measured FLOP/s.
    intensity, peak, bandwidth :
        As in :func:`roofline`.

    A value above 1 means the bound did not apply: the traffic came from a faster level
    (a cache) than the one whose bandwidth drew the roof, or the FLOP/byte count was wrong.
    """
    performance = check("performance", performance, 0, lo_open=True)
    return performance / roofline(intensity, peak, bandwidth)


# --- The alpha-beta (latency-bandwidth, Hockney) model and collectives --------------


def alpha_beta_time(n, alpha, beta):
    r"""Time to send one message of ``n`` bytes, :math:`t(n) = \alpha + n/\beta` (Hockney, 1994).

    Parameters
    ----------
    n : float or array, >= 0
        Message size in bytes.
    alpha : float or array, >= 0
        Latency (start-up time) in seconds.
    beta : float or array, > 0
        Asymptotic bandwidth in bytes/s (Hockney's :math:`r_\infty`). Some texts write
        :math:`\beta` for the time per byte, our :math:`1/\beta`.
    """
    n = check("n", n, 0)
    alpha = check("alpha", alpha, 0)
    beta = check("beta", beta, 0, lo_open=True)
    return alpha + n / beta


def half_performance_length(alpha, beta):
    r"""Hockney's :math:`n_{1/2} = \alpha\beta`: the message size that attains half the bandwidth.

    Parameters
    ----------
    alpha : float or array, >= 0
        Latency in seconds.
    beta : float or array, > 0
        Asymptotic bandwidth in bytes/s.

    Messages much shorter than :math:`n_{1/2}` are latency-bound; much longer, bandwidth-bound.
    """
    alpha = check("alpha", alpha, 0)
    beta = check("beta", beta, 0, lo_open=True)
    return alpha * beta


def _collective_args(n, p, alpha, beta):
    return (
        check("n", n, 0),
        _whole("p", p, 1),
        check("alpha", alpha, 0),
        check("beta", beta, 0, lo_open=True),
    )


def ring_allreduce_time(n, p, alpha, beta):
    r"""Ring all-reduce (reduce-scatter then all-gather) of ``n`` bytes on ``p`` workers:

    .. math:: T_{\text{ring}} = 2\,(p-1)\left(\alpha + \frac{n}{p\,\beta}\right)

    Parameters
    ----------
    n : float or array, >= 0
        Bytes each worker contributes (and receives back, reduced).
    p : whole number or array, >= 1
        Workers on the ring.
    alpha : float or array, >= 0
        Per-message latency, seconds.
    beta : float or array, > 0
        Link bandwidth, bytes/s.

    Each worker sends :math:`2(p-1)` messages of :math:`n/p` bytes; its bandwidth term
    :math:`2\frac{p-1}{p}\frac{n}{\beta}` stays below :math:`2n/\beta` however many workers join.
    """
    n, p, alpha, beta = _collective_args(n, p, alpha, beta)
    return 2.0 * (p - 1.0) * (alpha + n / (p * beta))


def naive_allreduce_time(n, p, alpha, beta):
    r"""Naive all-reduce: gather ``n`` bytes from every worker at one root, reduce, broadcast back:

    .. math:: T_{\text{naive}} = 2\,(p-1)\left(\alpha + \frac{n}{\beta}\right)

    The root's link carries every message one after another, :math:`p-1` in and
    :math:`p-1` out. Parameters as in :func:`ring_allreduce_time`.
    """
    n, p, alpha, beta = _collective_args(n, p, alpha, beta)
    return 2.0 * (p - 1.0) * (alpha + n / beta)


def tree_allreduce_time(n, p, alpha, beta):
    r"""Binomial-tree reduce followed by a binomial-tree broadcast:

    .. math:: T_{\text{tree}} = 2\,\lceil \log_2 p \rceil \left(\alpha + \frac{n}{\beta}\right)

    Fewer start-ups than the ring (:math:`2\log_2 p` instead of :math:`2(p-1)`), but the whole
    message on every step: the better choice for short messages. Parameters as in
    :func:`ring_allreduce_time`.
    """
    n, p, alpha, beta = _collective_args(n, p, alpha, beta)
    return 2.0 * np.ceil(np.log2(p)) * (alpha + n / beta)


# --- Brent's work-span bound ---------------------------------------------------------


def _work_span(work, depth, p):
    work = check("work", work, 1)
    depth = check("depth", depth, 1)
    p = check("p", p, 1)
    if np.any(np.asarray(depth) > np.asarray(work)):
        raise ValueError("depth must be <= work (the longest chain is part of the work)")
    return work, depth, p


def brent_lower(work, depth, p):
    r"""The lower bound on :math:`T_p` for a computation of work :math:`W` and depth (span) :math:`D`:

    .. math:: T_p \ge \max\!\left(\frac{W}{p},\, D\right)

    Parameters
    ----------
    work : float or array, >= 1
        Total operations :math:`W` (each of unit time).
    depth : float or array, >= 1, <= work
        Length of the longest chain of dependent operations :math:`D`.
    p : float or array, >= 1
        Processors.
    """
    work, depth, p = _work_span(work, depth, p)
    out = np.maximum(np.divide(work, p), depth)
    return float(out) if np.ndim(out) == 0 else out


def brent_upper(work, depth, p):
    r"""Brent's upper bound (Brent, 1974): a greedy schedule finishes within

    .. math:: T_p \le \frac{W}{p} + D

    Parameters as in :func:`brent_lower`. The bound is never more than twice the lower one.
    """
    work, depth, p = _work_span(work, depth, p)
    return work / p + depth


def reduction_work_span(n):
    r"""Work and depth of a pairwise (tree) reduction of ``n`` numbers: :math:`W = n-1`,
    :math:`D = \lceil \log_2 n \rceil`.

    Parameters
    ----------
    n : int, >= 2
        How many numbers are combined.
    """
    n = check_int("n", n, 2)
    return n - 1, int(np.ceil(np.log2(n)))


def reduction_steps(n, p):
    r"""Time steps of Brent's level-by-level schedule of a tree reduction of ``n`` numbers on
    ``p`` processors: each level of :math:`m` values does :math:`\lfloor m/2 \rfloor` additions,
    :math:`p` at a time.

    Parameters
    ----------
    n : int, >= 2
        How many numbers are combined.
    p : int, >= 1
        Processors.

    The result always lies between :func:`brent_lower` and :func:`brent_upper` of
    :func:`reduction_work_span`.
    """
    n = check_int("n", n, 2)
    p = check_int("p", p, 1)
    steps, m = 0, n
    while m > 1:
        ops = m // 2
        steps += -(-ops // p)
        m -= ops
    return steps


# --- Average memory access time -------------------------------------------------------


def amat(hit_time, miss_rate, miss_penalty):
    r"""Average memory access time of one cache level (Hennessy & Patterson):

    .. math:: \text{AMAT} = t_{\text{hit}} + m \times t_{\text{miss}}

    Parameters
    ----------
    hit_time : float or array, > 0
        Time of a hit, in any time unit (ns, cycles).
    miss_rate : float or array, in [0, 1]
        Fraction of accesses that miss.
    miss_penalty : float or array, >= 0
        Extra time of a miss, same unit as ``hit_time``.
    """
    hit_time = check("hit_time", hit_time, 0, lo_open=True)
    miss_rate = check("miss_rate", miss_rate, 0, 1)
    miss_penalty = check("miss_penalty", miss_penalty, 0)
    return hit_time + miss_rate * miss_penalty


def amat2(h1, m1, h2, m2, memory_time):
    r"""Two cache levels: :math:`\text{AMAT} = h_1 + m_1\,(h_2 + m_2\, t_{\text{mem}})`.

    Parameters
    ----------
    h1, h2 : float or array, > 0
        Hit times of L1 and L2.
    m1, m2 : float or array, in [0, 1]
        *Local* miss rates: misses at that level divided by accesses that reach it.
    memory_time : float or array, >= 0
        Time to fetch from main memory after an L2 miss.
    """
    h1 = check("h1", h1, 0, lo_open=True)
    m1 = check("m1", m1, 0, 1)
    h2 = check("h2", h2, 0, lo_open=True)
    m2 = check("m2", m2, 0, 1)
    memory_time = check("memory_time", memory_time, 0)
    return h1 + m1 * (h2 + m2 * memory_time)


def amat_multilevel(hit_times, miss_rates, memory_time) -> float:
    r"""Average memory access time of any number of cache levels, innermost first:

    .. math:: \text{AMAT} = h_1 + m_1\bigl(h_2 + m_2\,(\cdots (h_k + m_k\, t_{\text{mem}}))\bigr)

    Parameters
    ----------
    hit_times : sequence of floats, each > 0
        Hit time of each level (L1 first).
    miss_rates : sequence of floats, each in [0, 1], same length
        Local miss rate of each level.
    memory_time : float, >= 0
        Time to reach main memory after a miss in the last level.
    """
    h = np.atleast_1d(check("hit_times", hit_times, 0, lo_open=True))
    m = np.atleast_1d(check("miss_rates", miss_rates, 0, 1))
    if h.ndim != 1 or h.shape != m.shape:
        raise ValueError(
            f"hit_times and miss_rates must be 1-D sequences of the same length; got {h.shape} and {m.shape}"
        )
    t = check("memory_time", memory_time, 0)
    for hi, mi in zip(h[::-1], m[::-1], strict=True):
        t = hi + mi * t
    return float(t)


# --- Model FLOPs utilization ------------------------------------------------------------


def transformer_flops_per_token(n_params, n_layer=0, n_head=0, head_dim=0, seq_len=0):
    r"""Training FLOPs per token of a decoder-only transformer (Kaplan et al., 2020; nanoGPT):

    .. math:: C = 6N + 12\,L\,H\,Q\,T

    :math:`6N`: each of the :math:`N` parameters takes part in one multiply-add (2 FLOPs) in
    the forward pass and two in the backward pass. :math:`N` is counted as nanoGPT counts it
    (:func:`gpt_param_count` with ``non_embedding=True``): the token embedding stays in, since
    it is tied to the output layer and so does a multiply-add per token there; only the
    position embeddings, a table lookup with no multiply-add, are left out. The second term
    is attention's own matrix products (scores and weighted sum): :math:`L` layers, :math:`H`
    heads of dimension :math:`Q`, context length :math:`T`. Leave the last four at 0 for the 6N rule.

    Parameters
    ----------
    n_params : float or array, > 0
        Parameters :math:`N`.
    n_layer, n_head, head_dim, seq_len : float or array, >= 0
        :math:`L`, :math:`H`, :math:`Q`, :math:`T`.
    """
    n_params = check("n_params", n_params, 0, lo_open=True)
    n_layer = check("n_layer", n_layer, 0)
    n_head = check("n_head", n_head, 0)
    head_dim = check("head_dim", head_dim, 0)
    seq_len = check("seq_len", seq_len, 0)
    return 6.0 * n_params + 12.0 * n_layer * n_head * head_dim * seq_len


def model_flops_utilization(n_params, tokens_per_s, peak_flops, n_layer=0, n_head=0, head_dim=0, seq_len=0):
    r"""Model FLOPs utilization (Chowdhery et al., 2022): the FLOP/s the model's arithmetic needs
    at the observed throughput, over the hardware's peak:

    .. math:: \text{MFU} = \frac{C \times \text{tokens/s}}{P_{\text{peak}}}, \qquad C = 6N + 12LHQT

    Parameters
    ----------
    n_params : float or array, > 0
        Parameters :math:`N`.
    tokens_per_s : float or array, > 0
        Measured training throughput.
    peak_flops : float or array, > 0
        The hardware's **dense** peak FLOP/s at the training precision (not a
        structured-sparsity figure, which counts skipped multiplications by zero).
    n_layer, n_head, head_dim, seq_len :
        As in :func:`transformer_flops_per_token`.

    Recomputation (activation checkpointing) does not count: MFU measures useful work. A value
    above 1 is impossible and means an input is wrong: it raises ``ValueError``.
    """
    tokens_per_s = check("tokens_per_s", tokens_per_s, 0, lo_open=True)
    peak_flops = check("peak_flops", peak_flops, 0, lo_open=True)
    c = transformer_flops_per_token(n_params, n_layer, n_head, head_dim, seq_len)
    mfu = c * tokens_per_s / peak_flops
    if np.any(mfu > 1):
        worst = float(np.max(mfu))
        raise ValueError(
            f"MFU must be <= 1, but these inputs give {worst:.3g}: the model's arithmetic at "
            "tokens_per_s would exceed peak_flops, so tokens_per_s, n_params or peak_flops is wrong"
        )
    return mfu


def gpt_param_count(n_layer, n_embd, vocab_size, block_size, bias=True, non_embedding=True) -> int:
    r"""Parameters of a GPT-2-style transformer (nanoGPT's ``GPT``, tied input/output embeddings).

    Per layer: :math:`12 d^2` weights (attention :math:`4d^2`, MLP :math:`8d^2`) plus
    :math:`13d` biases and layer-norm parameters with ``bias``; once: token embeddings
    :math:`Vd`, position embeddings :math:`Td` and a final layer norm. With
    ``non_embedding`` the position embeddings are left out, as nanoGPT's
    ``get_num_params`` does for its MFU estimate.

    Parameters
    ----------
    n_layer : int, >= 1
    n_embd : int, >= 1
        Width :math:`d`.
    vocab_size : int, >= 1
    block_size : int, >= 1
        Context length :math:`T`.
    """
    n_layer = check_int("n_layer", n_layer, 1)
    d = check_int("n_embd", n_embd, 1)
    vocab_size = check_int("vocab_size", vocab_size, 1)
    block_size = check_int("block_size", block_size, 1)
    # attention: qkv (d x 3d [+3d]) and projection (d x d [+d]); MLP: d x 4d [+4d], 4d x d [+d];
    # two layer norms (weight [+ bias]).
    per_layer = 12 * d * d + (13 * d if bias else 2 * d)
    final_ln = 2 * d if bias else d
    total = n_layer * per_layer + vocab_size * d + block_size * d + final_ln
    return total - block_size * d if non_embedding else total


# --- Formula records for the widgets ---------------------------------------------------

_P = Param("p", "processors p", default=8, slider_min=1, slider_max=1024, log=True)
_PEAK = Param("peak", "peak P (FLOP/s)", default=1e11, slider_min=1e9, slider_max=1e13, log=True)
_BW = Param("bandwidth", "bandwidth B (bytes/s)", default=2e10, slider_min=1e9, slider_max=1e12, log=True)
_NBYTES = Param("n", "message n (bytes)", default=1e6, slider_min=1, slider_max=1e10, log=True)
_ALPHA = Param("alpha", "latency α (s)", default=5e-6, slider_min=1e-8, slider_max=1e-3, log=True)
_BETA = Param("beta", "bandwidth β (bytes/s)", default=1e10, slider_min=1e7, slider_max=1e12, log=True)
_PRING = Param("p", "workers p", default=8, slider_min=1, slider_max=256, integer=True)
_WORK = Param("work", "work W", default=1023, slider_min=1, slider_max=1e7, log=True)
_DEPTH = Param("depth", "depth D", default=10, slider_min=1, slider_max=1e3, log=True)

#: The field's models (chapter 4), keyed as in :data:`FORMULAS`.
FIELD_FORMULAS: dict[str, Formula] = {
    "amdahl_efficiency": Formula(
        "amdahl_efficiency",
        "Parallel efficiency under Amdahl's law",
        r"E(p) = \frac{S(p)}{p} = \frac{1}{1 + f\,(p-1)}",
        amdahl_efficiency,
        (Param("f", "serial fraction f", default=0.05, slider_min=0, slider_max=1), _P),
        "E",
        "Amdahl (1967)",
    ),
    "gustafson_efficiency": Formula(
        "gustafson_efficiency",
        "Parallel efficiency under Gustafson's law",
        r"E(p) = 1 - s\,\frac{p-1}{p}",
        gustafson_efficiency,
        (Param("s", "serial fraction s", default=0.05, slider_min=0, slider_max=1), _P),
        "E",
        "Gustafson (1988)",
    ),
    "amdahl_to_gustafson": Formula(
        "amdahl_to_gustafson",
        "Gustafson's s of the same run, from Amdahl's f",
        r"s = \frac{f}{f + (1-f)/p}",
        amdahl_to_gustafson,
        (Param("f", "Amdahl's f", default=0.05, slider_min=0, slider_max=1), _P),
        "s",
        "from the definitions of Amdahl (1967) and Gustafson (1988)",
    ),
    "karp_flatt": Formula(
        "karp_flatt",
        "Karp-Flatt metric",
        r"e = \frac{1/S - 1/p}{1 - 1/p}",
        karp_flatt,
        (
            Param("speedup", "measured speedup S", default=6, slider_min=0.5, slider_max=64),
            Param("p", "processors p", default=8, slider_min=2, slider_max=64, integer=True),
        ),
        "e",
        "Karp & Flatt (1990)",
    ),
    "roofline": Formula(
        "roofline",
        "Roofline model",
        r"P = \min(P_{\text{peak}},\ B \times I)",
        roofline,
        (
            Param(
                "intensity",
                "intensity I (FLOP/byte)",
                default=1,
                slider_min=1 / 64,
                slider_max=1024,
                log=True,
            ),
            _PEAK,
            _BW,
        ),
        "P (FLOP/s)",
        "Williams, Waterman & Patterson (2009)",
    ),
    "alpha_beta": Formula(
        "alpha_beta",
        "Alpha-beta (Hockney) message time",
        r"t(n) = \alpha + \frac{n}{\beta}",
        alpha_beta_time,
        (_NBYTES, _ALPHA, _BETA),
        "t (s)",
        "Hockney (1994)",
    ),
    "ring_allreduce": Formula(
        "ring_allreduce",
        "Ring all-reduce time",
        r"T = 2\,(p-1)\left(\alpha + \frac{n}{p\,\beta}\right)",
        ring_allreduce_time,
        (_NBYTES, _PRING, _ALPHA, _BETA),
        "T (s)",
        "Thakur, Rabenseifner & Gropp (2005)",
    ),
    "naive_allreduce": Formula(
        "naive_allreduce",
        "Gather-and-broadcast all-reduce time",
        r"T = 2\,(p-1)\left(\alpha + \frac{n}{\beta}\right)",
        naive_allreduce_time,
        (_NBYTES, _PRING, _ALPHA, _BETA),
        "T (s)",
        "Thakur, Rabenseifner & Gropp (2005)",
    ),
    "tree_allreduce": Formula(
        "tree_allreduce",
        "Binomial-tree reduce + broadcast time",
        r"T = 2\,\lceil\log_2 p\rceil\left(\alpha + \frac{n}{\beta}\right)",
        tree_allreduce_time,
        (_NBYTES, _PRING, _ALPHA, _BETA),
        "T (s)",
        "Thakur, Rabenseifner & Gropp (2005)",
    ),
    "brent_upper": Formula(
        "brent_upper",
        "Brent's upper bound",
        r"T_p \le \frac{W}{p} + D",
        brent_upper,
        (_P, _WORK, _DEPTH),
        "T_p bound",
        "Brent (1974)",
    ),
    "brent_lower": Formula(
        "brent_lower",
        "Work-span lower bound",
        r"T_p \ge \max\left(\frac{W}{p},\ D\right)",
        brent_lower,
        (_P, _WORK, _DEPTH),
        "T_p bound",
        "Brent (1974)",
    ),
    "amat": Formula(
        "amat",
        "Average memory access time",
        r"\text{AMAT} = t_{\text{hit}} + m \times t_{\text{miss}}",
        amat,
        (
            Param("miss_rate", "miss rate m", default=0.05, slider_min=0, slider_max=1),
            Param("hit_time", "hit time (ns)", default=1, slider_min=0.1, slider_max=20),
            Param("miss_penalty", "miss penalty (ns)", default=80, slider_min=0, slider_max=300),
        ),
        "AMAT (ns)",
        "Hennessy & Patterson (2017)",
    ),
    "amat2": Formula(
        "amat2",
        "Average memory access time, two cache levels",
        r"\text{AMAT} = h_1 + m_1\,(h_2 + m_2\,t_{\text{mem}})",
        amat2,
        (
            Param("m1", "L1 miss rate m1", default=0.05, slider_min=0, slider_max=1),
            Param("h1", "L1 hit time h1 (ns)", default=1, slider_min=0.1, slider_max=10),
            Param("h2", "L2 hit time h2 (ns)", default=4, slider_min=0.1, slider_max=40),
            Param("m2", "L2 local miss rate m2", default=0.2, slider_min=0, slider_max=1),
            Param("memory_time", "memory time (ns)", default=80, slider_min=0, slider_max=300),
        ),
        "AMAT (ns)",
        "Hennessy & Patterson (2017)",
    ),
    "mfu": Formula(
        "mfu",
        "Model FLOPs utilization (6N rule)",
        r"\text{MFU} = \frac{6N \times \text{tokens/s}}{P_{\text{peak, dense}}}",
        model_flops_utilization,
        (
            Param("tokens_per_s", "tokens/s", default=1.5e5, slider_min=1, slider_max=1e7, log=True),
            Param("n_params", "parameters N", default=1.24e8, slider_min=1e6, slider_max=1e12, log=True),
            Param(
                "peak_flops",
                "dense peak (FLOP/s)",
                default=3.12e14,
                slider_min=1e9,
                slider_max=1e16,
                log=True,
            ),
        ),
        "MFU",
        "Chowdhery et al. (2022); Kaplan et al. (2020); nanoGPT",
    ),
}
FORMULAS.update(FIELD_FORMULAS)


# ======================================================================================
# The chapters' live readouts: closed forms the widgets compute in the browser
# (computing_change.core.jsgen translates each function; tests/test_live_widgets.py checks
# that the translation equals Python). The fitted constants of a chapter reach them as a
# record's ``fixed`` arguments or as slider defaults (:func:`variant`).
# ======================================================================================

__all__ += [
    "variant",
    "task_time_bound",
    "compute_time",
    "transfer_time",
    "reduction_brent_lower",
    "reduction_brent_upper",
    "fitted_run_time",
    "fitted_serial_time",
    "power_law_time",
    "linear_cost_time",
    "two_pass_scan_speedup",
    "two_pass_scan_limit",
]


def variant(
    formula: Formula,
    *,
    key: str | None = None,
    title: str | None = None,
    fixed: dict | None = None,
    params: dict | None = None,
) -> Formula:
    """A copy of ``formula`` for one chapter's widget.

    ``fixed`` holds arguments at given values (fitted constants, the machine's roofs): they
    leave the sliders and join the record's ``fixed``. ``params`` changes the records of
    the others, ``{name: {"default": ..., "label": ..., "slider_min": ..., ...}}``.
    ``key`` and ``title`` rename it. Every fixed value and default is checked against its
    parameter's range (``ValueError`` naming it).
    """
    from dataclasses import replace

    fixed = dict(fixed or {})
    params = dict(params or {})
    names = [p.name for p in formula.params]
    unknown = (set(fixed) | set(params)) - set(names)
    if unknown:
        raise ValueError(f"{formula.key} has no parameter {sorted(unknown)}; it has {names}")
    for name, value in fixed.items():
        fixed[name] = formula.param(name).validate(value)
    out = []
    for p in formula.params:
        if p.name in fixed:
            continue
        q = replace(p, **params.get(p.name, {}))
        q.validate(q.default)
        out.append(q)
    if not out:
        raise ValueError("fixed must leave at least one parameter to slide")
    return replace(
        formula,
        key=key or formula.key,
        title=title or formula.title,
        params=tuple(out),
        fixed={**formula.fixed, **fixed},
    )


# --- A task's time bound from its work and its data (background chapter) --------------


def compute_time(gflop, peak_gflops):
    r"""The time of a task's arithmetic at the peak rate, :math:`F/P` seconds.

    Parameters
    ----------
    gflop : float, >= 0
        Work :math:`F`, in GFLOP (10^9 floating-point operations).
    peak_gflops : float, > 0
        Peak rate :math:`P`, in GFLOP/s.
    """
    gflop = check("gflop", gflop, 0)
    peak_gflops = check("peak_gflops", peak_gflops, 0, lo_open=True)
    return gflop / peak_gflops


def transfer_time(gbytes, bandwidth_gbs):
    r"""The time of a task's data movement at the memory bandwidth, :math:`B/\beta` seconds.

    Parameters
    ----------
    gbytes : float, >= 0
        Data moved :math:`B`, in GB (10^9 bytes).
    bandwidth_gbs : float, > 0
        Bandwidth :math:`\beta`, in GB/s.
    """
    gbytes = check("gbytes", gbytes, 0)
    bandwidth_gbs = check("bandwidth_gbs", bandwidth_gbs, 0, lo_open=True)
    return gbytes / bandwidth_gbs


def task_time_bound(gflop, gbytes, peak_gflops, bandwidth_gbs):
    r"""The least time a task can take, :math:`T = \max(F/P,\ B/\beta)` seconds: no sooner
    than its arithmetic at the peak rate, nor sooner than its data movement at the bandwidth.
    Real code takes longer; the bound says which of the two limits binds. The units cancel,
    so FLOP, bytes, FLOP/s and bytes/s give the same seconds as the GFLOP and GB the widget
    shows (the course's one definition of the bound, in either units).

    Parameters
    ----------
    gflop : float, >= 0
        Work :math:`F`, GFLOP.
    gbytes : float, >= 0
        Data moved :math:`B`, GB.
    peak_gflops : float, > 0
        Peak rate :math:`P`, GFLOP/s.
    bandwidth_gbs : float, > 0
        Memory bandwidth :math:`\beta`, GB/s.

    The arithmetic binds (compute-bound) when :math:`F/B` exceeds the machine balance
    :math:`P/\beta`; otherwise the memory does (memory-bound).
    """
    return np.maximum(compute_time(gflop, peak_gflops), transfer_time(gbytes, bandwidth_gbs))


# --- Brent's bounds for a tree reduction (field models chapter) ------------------------


def reduction_brent_lower(n, p):
    r"""Brent's lower bound on the steps of a pairwise (tree) reduction of ``n`` numbers on
    ``p`` processors: :func:`brent_lower` with :math:`W = n - 1`, :math:`D = \lceil\log_2 n\rceil`:

    .. math:: T_p \ge \max\!\left(\frac{n-1}{p},\ \lceil \log_2 n \rceil\right)

    Parameters
    ----------
    n : float, >= 2
        How many numbers are combined (a whole number for a real reduction; the bound is
        defined for any value).
    p : float, >= 1
        Processors.
    """
    n = check("n", n, 2)
    p = check("p", p, 1)
    return brent_lower(n - 1.0, np.ceil(np.log2(n)), p)


def reduction_brent_upper(n, p):
    r"""Brent's upper bound on the steps of a greedy schedule of a tree reduction of ``n``
    numbers on ``p`` processors: :func:`brent_upper` with :math:`W = n - 1`,
    :math:`D = \lceil\log_2 n\rceil`:

    .. math:: T_p \le \frac{n-1}{p} + \lceil \log_2 n \rceil

    Parameters as in :func:`reduction_brent_lower`. :func:`reduction_steps` lies between the two.
    """
    n = check("n", n, 2)
    p = check("p", p, 1)
    return brent_upper(n - 1.0, np.ceil(np.log2(n)), p)


# --- A fitted run-time model (fitting chapter) ------------------------------------------


def fitted_run_time(n, p, a, b, c, only_p=0.0):
    r"""The run-time model :math:`T(n, p) = a + b\,n + c\,n/p` seconds
    (the time model fitted in book/models/fitting.ipynb).

    Parameters
    ----------
    n : float, >= 0
        Items.
    p : float, >= 1
        Workers.
    a : float, >= 0
        Fixed overhead per run, seconds.
    b : float, >= 0
        Serial seconds per item.
    c : float, >= 0
        Parallelizable seconds per item.
    only_p : float, >= 0
        0 when the model was fitted on several worker counts; otherwise the one worker
        count it was fitted on (then ``b`` holds :math:`b + c/p`, ``c`` is 0, and any other
        ``p`` is refused).
    """
    n = check("n", n, 0)
    p = check("p", p, 1)
    a = check("a", a, 0)
    b = check("b", b, 0)
    c = check("c", c, 0)
    only_p = check("only_p", only_p, 0)
    if only_p > 0 and p != only_p:
        raise ValueError(f"p must be {only_p:g}: the model was fitted on that worker count only")
    return a + b * n + c * n / p


def fitted_serial_time(n, a, b):
    r"""The part of :func:`fitted_run_time` that no number of workers removes, :math:`a + b\,n`
    seconds: the time :math:`T(n, p)` approaches as :math:`p \to \infty`.

    Parameters as in :func:`fitted_run_time`. Its share of :math:`T(n, 1)` is Amdahl's
    serial fraction at size ``n``, :math:`f(n) = (a + bn)/(a + (b + c)n)`.
    """
    n = check("n", n, 0)
    a = check("a", a, 0)
    b = check("b", b, 0)
    return a + b * n


# --- Fitted costs of the algorithms chapter ---------------------------------------------


def power_law_time(n, prefactor, exponent):
    r"""A fitted power law, :math:`t = a\,n^k` seconds
    (:class:`computing_change.lessons.algorithms.PowerLawFit`).

    Parameters
    ----------
    n : float, in (0, 1e12]
        Input size.
    prefactor : float, > 0
        :math:`a`, the time at :math:`n = 1`, seconds.
    exponent : float, in [0, 10]
        :math:`k`.
    """
    n = check("n", n, 0, 1e12, lo_open=True)
    prefactor = check("prefactor", prefactor, 0, lo_open=True)
    exponent = check("exponent", exponent, 0, 10)
    return prefactor * n**exponent


def linear_cost_time(n, overhead, per_item):
    r"""A fitted fixed cost plus a cost per item, :math:`t = t_0 + c\,n` seconds
    (fitted by ``fit_linear_cost`` in chapter 3.4).

    Parameters
    ----------
    n : float, >= 0
        Items.
    overhead : float, >= 0
        :math:`t_0`, seconds per call.
    per_item : float, >= 0
        :math:`c`, seconds per item.
    """
    n = check("n", n, 0)
    overhead = check("overhead", overhead, 0)
    per_item = check("per_item", per_item, 0)
    return overhead + per_item * n


def two_pass_scan_speedup(p, n, scan_per_item, reduce_per_item, overhead):
    r"""Predicted speedup of the two-pass scan on ``p`` workers over a serial scan of ``n`` items
    (chapter 3.4's model of the two-pass scan):

    .. math:: S(p) = \frac{c_s\,n}{[p > 1]\,c_r\,n/p + c_s\,n/p + r(p)\,o}

    Parameters
    ----------
    p : whole number, >= 1
        Workers.
    n : float, >= 1
        Items.
    scan_per_item : float, > 0
        :math:`c_s`, seconds per item of the serial scan.
    reduce_per_item : float, > 0
        :math:`c_r`, seconds per item of the reduction (pass 1).
    overhead : float, >= 0
        :math:`o`, seconds per round of tasks; :math:`r(p)` is 2 rounds, or 1 when :math:`p = 1`.
    """
    p = _whole("p", p, 1)
    n = check("n", n, 1)
    scan_per_item = check("scan_per_item", scan_per_item, 0, lo_open=True)
    reduce_per_item = check("reduce_per_item", reduce_per_item, 0, lo_open=True)
    overhead = check("overhead", overhead, 0)
    rounds = 2.0 if p > 1 else 1.0
    t_reduce = reduce_per_item * n / p if p > 1 else 0.0
    return scan_per_item * n / (t_reduce + scan_per_item * n / p + rounds * overhead)


def two_pass_scan_limit(p, scan_per_item, reduce_per_item):
    r"""The speedup :func:`two_pass_scan_speedup` approaches as :math:`n \to \infty`:
    :math:`p\,c_s/(c_s + c_r)` for :math:`p > 1` (below :math:`p` by the reduce pass), and 1
    for :math:`p = 1`. Parameters as in :func:`two_pass_scan_speedup`.
    """
    p = _whole("p", p, 1)
    scan_per_item = check("scan_per_item", scan_per_item, 0, lo_open=True)
    reduce_per_item = check("reduce_per_item", reduce_per_item, 0, lo_open=True)
    return p * scan_per_item / (scan_per_item + reduce_per_item) if p > 1 else 1.0


# --- Formula records for the chapters' live widgets ------------------------------------
# Every argument is a slider here, at a representative default; a chapter holds its fitted
# constants or its machine's roofs fixed, or makes them the defaults, with :func:`variant`.


def _log(name, label, lo, default, smin, smax, lo_open=False, hi=None):
    return Param(name, label, default=default, slider_min=smin, slider_max=smax, log=True)


_GFLOP = _log("gflop", "work F (GFLOP)", 0, 2.0, 1e-3, 1e4)
_GBYTES = _log("gbytes", "data moved B (GB)", 0, 0.024, 1e-4, 1e3)
_PEAK_G = _log("peak_gflops", "peak P (GFLOP/s)", 0, 100.0, 1.0, 1e5, lo_open=True)
_BW_G = _log("bandwidth_gbs", "bandwidth β (GB/s)", 0, 20.0, 0.1, 1e4, lo_open=True)
_N_REDUCE = _log("n", "numbers n", 2, 2.0**20, 2.0, 1e9)
_P_REDUCE = _log("p", "processors p", 1, 64.0, 1.0, 1e6)
_N_ITEMS = _log("n", "items n", 0, 1e7, 1e4, 1e9)
_P_WORKERS = Param("p", "workers p", default=2, slider_min=1, slider_max=64, integer=True)
_A_FIT = _log("a", "overhead a (s)", 0, 1e-3, 1e-6, 1.0)
_B_FIT = _log("b", "serial cost b (s per item)", 0, 1e-9, 1e-12, 1e-6)
_C_FIT = _log("c", "parallel cost c (s per item)", 0, 5e-9, 1e-12, 1e-6)
_C_S = _log("scan_per_item", "scan cost c_s (s per number)", 0, 1e-9, 1e-11, 1e-6, lo_open=True)
_C_R = _log("reduce_per_item", "reduce cost c_r (s per number)", 0, 5e-10, 1e-11, 1e-6, lo_open=True)
_P_SCAN = Param("p", "workers p", default=8, slider_min=1, slider_max=64, integer=True)

#: The closed forms behind the chapters' live widgets, keyed as in :data:`FORMULAS`.
CHAPTER_FORMULAS: dict[str, Formula] = {
    "task_time_bound": Formula(
        "task_time_bound",
        "Least time of the task",
        r"T \ge \max\left(\frac{F}{P},\ \frac{B}{\beta}\right)",
        task_time_bound,
        (_GFLOP, _GBYTES, _PEAK_G, _BW_G),
        "T (s)",
        "the roofline's two ceilings (Williams, Waterman & Patterson, 2009)",
    ),
    "compute_time": Formula(
        "compute_time",
        "arithmetic F/P",
        r"t = \frac{F}{P}",
        compute_time,
        (_GFLOP, _PEAK_G),
        "t (s)",
    ),
    "transfer_time": Formula(
        "transfer_time",
        "memory B/β",
        r"t = \frac{B}{\beta}",
        transfer_time,
        (_GBYTES, _BW_G),
        "t (s)",
    ),
    "reduction_brent_upper": Formula(
        "reduction_brent_upper",
        "Brent's upper bound for a tree reduction",
        r"T_p \le \frac{n-1}{p} + \lceil \log_2 n \rceil",
        reduction_brent_upper,
        (_P_REDUCE, _N_REDUCE),
        "T_p (steps)",
        "Brent (1974)",
    ),
    "reduction_brent_lower": Formula(
        "reduction_brent_lower",
        "lower bound max(W/p, D)",
        r"T_p \ge \max\left(\frac{n-1}{p},\ \lceil \log_2 n \rceil\right)",
        reduction_brent_lower,
        (_P_REDUCE, _N_REDUCE),
        "T_p (steps)",
        "Brent (1974)",
    ),
    "fitted_run_time": Formula(
        "fitted_run_time",
        "Predicted run time",
        r"T(n, p) = a + b\,n + c\,\frac{n}{p}",
        fitted_run_time,
        (
            _P_WORKERS,
            _N_ITEMS,
            _A_FIT,
            _B_FIT,
            _C_FIT,
            Param("only_p", "fitted only at p (0: several)", default=0, slider_min=0, slider_max=64),
        ),
        "T (s)",
    ),
    "fitted_serial_time": Formula(
        "fitted_serial_time",
        "serial part a + b n",
        r"T(n, \infty) = a + b\,n",
        fitted_serial_time,
        (_N_ITEMS, _A_FIT, _B_FIT),
        "T (s)",
    ),
    "power_law_time": Formula(
        "power_law_time",
        "Fitted power law",
        r"t = a\,n^k",
        power_law_time,
        (
            _log("n", "input size n", 0, 1e6, 32.0, 1e12, lo_open=True, hi=1e12),
            _log("prefactor", "prefactor a (s)", 0, 1e-8, 1e-12, 1e-3, lo_open=True),
            Param("exponent", "exponent k", default=2, slider_min=0, slider_max=4),
        ),
        "t (s)",
    ),
    "linear_cost_time": Formula(
        "linear_cost_time",
        "Fitted fixed cost plus cost per element",
        r"t = t_0 + c\,n",
        linear_cost_time,
        (
            _log("n", "elements n", 0, 1000.0, 1.0, 1e10),
            _log("overhead", "fixed cost t0 (s)", 0, 1e-6, 1e-9, 1e-3),
            _log("per_item", "cost per element c (s)", 0, 1e-9, 1e-12, 1e-6),
        ),
        "t (s)",
    ),
    "two_pass_scan_speedup": Formula(
        "two_pass_scan_speedup",
        "Two-pass scan, predicted speedup",
        r"S(p) = \frac{c_s\,n}{[p > 1]\,c_r\,n/p + c_s\,n/p + r(p)\,o}",
        two_pass_scan_speedup,
        (
            _P_SCAN,
            _log("n", "numbers n", 1, 2.0**22, 1e3, 1e10),
            _C_S,
            _C_R,
            _log("overhead", "round trip o (s)", 0, 3e-4, 1e-6, 1e-1),
        ),
        "S",
        "Blelloch (1990)",
    ),
    "two_pass_scan_limit": Formula(
        "two_pass_scan_limit",
        "large-n limit",
        r"S_\infty(p) = \frac{p\,c_s}{c_s + c_r}",
        two_pass_scan_limit,
        (_P_SCAN, _C_S, _C_R),
        "S",
    ),
}
FORMULAS.update(CHAPTER_FORMULAS)
__all__ += ["CHAPTER_FORMULAS"]


def layer_intensity(batch, n_in, n_out, itemsize: int = 8):
    r"""Arithmetic intensity (FLOP per byte of memory traffic) of a layer's product
    :math:`(B \times n_\text{in}) \cdot (n_\text{in} \times n_\text{out})`, counting each
    operand read and the result written once:

    .. math:: I = \frac{2 B n_\text{in} n_\text{out}}{s\,(n_\text{in} n_\text{out} + B n_\text{in} + B n_\text{out})}

    with :math:`s` the bytes per number (8 for float64). At :math:`B = 1` and wide layers this
    is about :math:`2/s`, that is :math:`1/4` FLOP/byte in float64; it grows with :math:`B`.
    All sizes >= 1 (scalars or arrays); ``itemsize`` in {2, 4, 8}.
    """
    b = check("batch", batch, 1)
    m = check("n_in", n_in, 1)
    n = check("n_out", n_out, 1)
    if itemsize not in (2, 4, 8):
        raise ValueError(f"itemsize must be 2, 4 or 8 bytes; got {itemsize!r}")
    return 2.0 * b * m * n / (itemsize * (m * n + b * m + b * n))


def matvec_intensity(n, itemsize: int = 8):
    """Arithmetic intensity of an ``n x n`` matrix times a vector (about 1/4 FLOP/byte in float64)."""
    return layer_intensity(1, n, n, itemsize)


def matmul_intensity(n, itemsize: int = 8):
    """Arithmetic intensity of an ``n x n`` by ``n x n`` matrix product: ``2n^3 / (3 n^2 s)``,
    that is ``n / 12`` in float64 (counting three matrices moved once)."""
    return layer_intensity(n, n, n, itemsize)


def layer_roofline(b, n, P, beta):
    r"""Attainable GFLOP/s of a square layer (width ``n``) at batch size ``b``, on a machine
    of peak ``P`` GFLOP/s and bandwidth ``beta`` GB/s: the roofline bound
    :math:`\min(P, I(b, n)\,\beta)` (:func:`~computing_change.models.formulas.roofline`) at the
    layer's intensity (:func:`layer_intensity`). All > 0, ``b`` and ``n`` >= 1."""
    return roofline(layer_intensity(b, n, n), P, beta)


def layer_roofline_formula(peak_gflops: float, bandwidth_gbs: float, width: int = 1024) -> Formula:
    """The batched-layer roofline as a :class:`~computing_change.models.formulas.Formula` for
    :func:`~computing_change.models.views.formula_widget`, with the given machine as defaults."""
    peak_gflops = check("peak_gflops", peak_gflops, 0, 1e7, lo_open=True)
    bandwidth_gbs = check("bandwidth_gbs", bandwidth_gbs, 0, 1e7, lo_open=True)
    width = check_int("width", width, 1, 65536)
    return Formula(
        "layer_roofline",
        "Attainable GFLOP/s of a batched layer",
        r"\min\left(P,\ \beta\,\frac{2 b n^2}{8\,(n^2 + 2 b n)}\right)",
        layer_roofline,
        (
            Param("b", "batch size b", default=1, slider_min=1, slider_max=4096, log=True),
            Param("n", "layer width n", default=width, slider_min=16, slider_max=16384, log=True),
            Param("P", "peak P (GFLOP/s)", default=peak_gflops, slider_min=1, slider_max=10_000, log=True),
            Param(
                "beta", "bandwidth β (GB/s)", default=bandwidth_gbs, slider_min=1, slider_max=10_000, log=True
            ),
        ),
        "GFLOP/s",
        "roofline (Williams, Waterman and Patterson, 2009)",
    )


#: The ways of adding that :func:`sum_error_bound` knows: NumPy's pairwise ``np.sum``,
#: strictly one after the other (``np.cumsum``), or stored narrow but accumulated in float64.
SUM_METHODS = ("pairwise", "sequential", "float64 accumulator")


_DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}


def _dtype(dtype) -> type:
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}; got {dtype!r}")
    return _DTYPES[name]


def _pairwise_depth(n: int) -> int:
    """Most additions any one item goes through in NumPy's pairwise sum of ``n`` items.

    NumPy adds fewer than 8 items one after the other; up to 128 items in 8 interleaved
    running sums that are then added in a tree of depth 3 (the leftover ``n % 8`` items
    last); above 128 it splits the array in two halves (a multiple of 8 first) and recurses.
    """
    if n <= 1:
        return 0
    if n < 8:
        return n - 1
    if n <= 128:
        return (n // 8 - 1) + 3 + n % 8
    half = n // 2
    half -= half % 8
    return 1 + max(_pairwise_depth(half), _pairwise_depth(n - half))


def sum_error_bound(n, dtype="float32", method: str = "pairwise"):
    r"""Worst-case relative error of summing ``n`` nonnegative float64 numbers stored as ``dtype``.

    With unit roundoff :math:`u = \epsilon/2` (half of ``np.finfo(dtype).eps``), rounding the
    data costs at most :math:`u`, and each addition an item goes through costs at most
    :math:`u` more, to first order (Higham, *Accuracy and Stability of Numerical
    Algorithms*, 2nd ed., 2002, chapter 4):

    .. math:: \frac{|\hat s - s|}{s} \lesssim u\,(1 + k),

    where :math:`k = n - 1` for the sequential sum and :math:`k \approx \log_2 n` for a
    pairwise one (NumPy's exact depth, :func:`_pairwise_depth`, is a little larger, since it
    adds short runs of up to 16 items one after the other). With the float64 accumulator the
    additions cost float64's :math:`u` (counted sequentially, an upper bound). Typical errors
    are far below these worst cases. ``n`` >= 1, a whole number.
    """
    n = check_int("n", n, 1, 2**62)
    if method not in SUM_METHODS:
        raise ValueError(f"method must be one of {list(SUM_METHODS)}; got {method!r}")
    u = float(np.finfo(_dtype(dtype)).eps) / 2
    if method == "sequential":
        return u * n
    if method == "pairwise":
        return u * (1 + _pairwise_depth(n))
    return u + (n - 1) * float(np.finfo(np.float64).eps) / 2


def random_access_model(nbytes, levels: dict[str, tuple[float, float]]):
    r"""Expected time per access of uniform random reads over ``nbytes``, level by level.

    ``levels`` maps each cache level to ``(capacity in bytes, time per access when served
    there)``, and must hold a ``"DRAM"`` entry whose capacity is ignored. If the reads are
    uniform over a working set of :math:`m` bytes and level :math:`k` (capacity
    :math:`c_k`, levels sorted by capacity) keeps any :math:`c_k` of them, a read is served
    by level :math:`k` with probability :math:`h_k = \min(1, c_k/m) - \min(1, c_{k-1}/m)`,
    and by DRAM otherwise, so the average memory access time (AMAT) is

    .. math:: t(m) = \sum_k h_k\, t_k + \Bigl(1 - \min\bigl(1, c_K/m\bigr)\Bigr)\, t_\mathrm{DRAM}.

    The share a level serves is 1 while :math:`m` fits in it and falls like :math:`c_k/m`
    beyond, so :math:`t(m)` is flat inside a level, rises past its capacity, and levels off
    at :math:`t_\mathrm{DRAM}`. It ignores associativity, the TLB and prefetching. ``nbytes`` > 0
    (scalar or array); capacities > 0; times >= 0.
    """
    m = check("nbytes", nbytes, 0, lo_open=True)
    if not isinstance(levels, dict) or "DRAM" not in levels:
        raise ValueError("levels must be a dict of name -> (capacity, time) with a 'DRAM' entry")
    t_dram = check("DRAM time", levels["DRAM"][1], 0)
    caches = []
    for name, (cap, t) in levels.items():
        if name == "DRAM":
            continue
        caches.append((check(f"{name} capacity", cap, 0, lo_open=True), check(f"{name} time", t, 0)))
    caches.sort()
    total = 0.0
    served = 0.0  # probability already served by a smaller level
    for cap, t in caches:
        upto = np.minimum(1.0, cap / m)
        total = total + (upto - served) * t
        served = upto
    return total + (1.0 - served) * t_dram


__all__ += [
    "layer_intensity",
    "matvec_intensity",
    "matmul_intensity",
    "layer_roofline",
    "layer_roofline_formula",
    "SUM_METHODS",
    "sum_error_bound",
    "random_access_model",
]
