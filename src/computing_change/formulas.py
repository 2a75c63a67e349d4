r"""Every formula of the course, written once, validated, with its LaTeX and valid ranges.

Two families live here:

* the source article's four "efficiency" formulas (section 4.1 of the article), shown
  faithfully so the course can compute what they really give;
* the models the field uses (Amdahl, Gustafson, ...), which later chapters add to.

Each formula is a plain function (scalars or NumPy arrays in, same shape out) and is also
described by a :class:`Formula` record (LaTeX, parameters with their ranges and defaults)
that :mod:`computing_change.widgets` turns into an interactive widget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


from ._validate import check

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


@dataclass(frozen=True)
class Param:
    """One parameter of a formula: its valid range and the range a slider offers."""

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
    extra: dict = field(default_factory=dict)

    def __call__(self, **kwargs):
        return self.func(**kwargs)

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

    This is the formula as the article prints it. It *falls* as the task grows, which is
    the opposite of measured weak scaling; see chapter 4.
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

    Note that :math:`E_a < 1/2` whenever the "optimized" algorithm is no cheaper than the
    original, and :math:`E_a \to 1` only as :math:`C_a/C_0 \to 0`.
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


_N = Param("n", "task size n", 0, None, lo_open=True, default=1000, slider_min=1, slider_max=1e6, log=True)

ARTICLE_FORMULAS: dict[str, Formula] = {
    "E_p": Formula(
        "E_p",
        "Parallel efficiency (article)",
        r"E_p = \frac{1}{1 + \frac{n}{p}}",
        efficiency_parallel,
        (_N, Param("p", "processing units p", 1, None, default=4, slider_min=1, slider_max=4096, log=True)),
        "E_p",
        "article, section 4.1 (1)",
    ),
    "E_d": Formula(
        "E_d",
        "Distributed efficiency (article)",
        r"E_d = \frac{1}{1 + \frac{n}{d}}",
        efficiency_distributed,
        (_N, Param("d", "nodes d", 1, None, default=8, slider_min=1, slider_max=4096, log=True)),
        "E_d",
        "article, section 4.1 (2)",
    ),
    "E_m": Formula(
        "E_m",
        "Memory efficiency (article)",
        r"E_m = \frac{1}{1 + \frac{m}{c}}",
        efficiency_memory,
        (
            Param("m", "memory demand m", 0, None, default=1000, slider_min=1, slider_max=1e6, log=True),
            Param("c", "memory capacity c", 0, None, lo_open=True, default=1024, slider_min=1, slider_max=1e6, log=True),
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
            Param("C_a", "optimized complexity C_a", 0, None, lo_open=True, default=1e6, slider_min=1, slider_max=1e9, log=True),
            Param("C_0", "original complexity C_0", 0, None, lo_open=True, default=1e5, slider_min=1, slider_max=1e9, log=True),
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
        Param("f", "serial fraction f", 0, 1, default=0.05, slider_min=0, slider_max=1),
        Param("p", "processors p", 1, None, default=8, slider_min=1, slider_max=4096, log=True),
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
        Param("s", "serial fraction s", 0, 1, default=0.05, slider_min=0, slider_max=1),
        Param("p", "processors p", 1, None, default=8, slider_min=1, slider_max=4096, log=True),
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


