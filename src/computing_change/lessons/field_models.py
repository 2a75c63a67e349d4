r"""The course's kernels for the roofline (a dot product, a matrix product, a stencil), each
with its FLOP and byte counts and a check of its result, shown on chapter 4.2's page with
:func:`computing_change.core.notebook.show` and used by chapter 4.3 and by
``benchmarks/models.py``. The measurements and the plots are written in the cells.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Kernel",
    "dot_kernel",
    "matmul_kernel",
    "jacobi_step",
    "stencil_kernel",
    "stream_items",
    "course_kernels",
]


@dataclass(frozen=True)
class Kernel:
    """A kernel to time: its FLOPs and its compulsory memory traffic (bytes) per call, a
    function of no arguments to time, and a check of its result."""

    name: str
    flops: float
    bytes: float
    run: Callable[[], object]
    verify: Callable[[], bool]

    @property
    def intensity(self) -> float:
        """FLOPs per byte of compulsory traffic."""
        return self.flops / self.bytes


def dot_kernel(n: int, seed: int = 0) -> Kernel:
    """``x @ y`` for two float64 vectors of ``n``: 2n FLOPs, 16n bytes read."""
    rng = np.random.default_rng(seed)
    x, y = rng.random(n), rng.random(n)

    def verify() -> bool:
        return bool(np.isclose(x @ y, np.sum(x * y)))

    return Kernel(f"dot n={n:,}", 2.0 * n, 16.0 * n, lambda: x @ y, verify)


def matmul_kernel(n: int, seed: int = 0) -> Kernel:
    """``A @ B`` into a preallocated ``C``, all ``n x n`` float64: 2n^3 FLOPs; compulsory
    traffic 24 n^2 bytes (read A and B, write C once)."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    c = np.empty((n, n))

    def verify() -> bool:  # one column, computed another way
        np.matmul(a, b, out=c)
        j = n // 2
        return bool(np.allclose(c[:, j], np.einsum("ik,k->i", a, b[:, j])))

    return Kernel(f"matmul n={n}", 2.0 * n**3, 24.0 * n * n, lambda: np.matmul(a, b, out=c), verify)


def jacobi_step(u: np.ndarray, out: np.ndarray) -> np.ndarray:
    """One 5-point Jacobi sweep: each interior point of ``out`` becomes the mean of its four
    neighbours in ``u`` (4 FLOPs per point), in place in ``out`` to avoid temporaries."""
    inner = out[1:-1, 1:-1]
    np.add(u[:-2, 1:-1], u[2:, 1:-1], out=inner)
    inner += u[1:-1, :-2]
    inner += u[1:-1, 2:]
    inner *= 0.25
    return out


def stencil_kernel(side: int, seed: int = 0) -> Kernel:
    """A 5-point Jacobi sweep of a ``side x side`` float64 grid: 4 FLOPs per interior point;
    compulsory traffic 16 bytes per point (read the grid, write the new one)."""
    rng = np.random.default_rng(seed)
    u = rng.random((side, side))
    out = np.zeros_like(u)

    def verify() -> bool:  # one point, computed another way
        jacobi_step(u, out)
        i, j = side // 2, side // 3 + 1
        return bool(np.isclose(out[i, j], (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1]) / 4))

    inner = (side - 2) ** 2
    return Kernel(
        f"stencil {side}x{side}", 4.0 * inner, 16.0 * side * side, lambda: jacobi_step(u, out), verify
    )


def stream_items() -> int:
    """Float64 items in each array of the course's largest streaming kernels.

    The size of the arrays the memory roof itself streams (:func:`machine.measure_bandwidth`):
    64 MiB, or twice the largest cache the OS reports if that is more, at most 128 MiB, and
    at most 4 % of the available memory. A dot product of two such vectors repeats the roof's
    own dot kernel, so it can reach the roof and, beyond noise, not exceed it.
    """
    from computing_change.core.machine import cache_sizes, safe_size

    target = min(max(64 * 1024**2, 2 * max(cache_sizes().values(), default=0)), 128 * 1024**2)
    return max(1 << 16, min(target // 8, safe_size(8, fraction=0.04)))


def course_kernels(items: int | None = None) -> list[Kernel]:
    """The course's kernels at the sizes of its roofline: a dot product of two vectors and a
    stencil on a grid of ``items`` float64 each (default :func:`stream_items`, as large as the
    memory roof's own arrays), and matrix products of 64, 256 and 512."""
    n = stream_items() if items is None else items
    return [
        dot_kernel(n),
        matmul_kernel(64),
        matmul_kernel(256),
        matmul_kernel(512),
        stencil_kernel(math.isqrt(n)),
    ]
