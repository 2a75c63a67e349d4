"""The peak memory of a call, measured with :mod:`tracemalloc` (:func:`traced_peak`), and a
``with`` block that keeps the tracer on across several such calls (:func:`tracing`)."""

from __future__ import annotations

import contextlib
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TracedRun", "traced_peak", "tracing"]


@dataclass(frozen=True)
class TracedRun:
    """What :func:`traced_peak` returns.

    Attributes
    ----------
    value
        What the call returned.
    peak : int
        Bytes: the highest traced allocation during the call, above the level at its start.
    retained : int
        Bytes still allocated when the call returned, above the level at its start (what the
        returned value, or anything the call left behind, keeps alive).
    """

    value: object
    peak: int
    retained: int


def traced_peak(func: Callable, /, *args, **kwargs) -> TracedRun:
    """Call ``func(*args, **kwargs)`` under :mod:`tracemalloc`; return its value and memory.

    NumPy reports its array buffers to ``tracemalloc``, so the numbers include array data as
    well as Python objects. Tracing slows Python-level allocation down: time a function
    separately, never under this call. If tracing is already on, it stays on (but its peak
    is reset); otherwise it is switched off again, even if ``func`` raises.
    """
    if not callable(func):
        raise ValueError(f"func must be callable; got {func!r}")
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        value = func(*args, **kwargs)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        if started:
            tracemalloc.stop()
    return TracedRun(value=value, peak=max(0, peak - base), retained=max(0, current - base))


# --------------------------------------------------------------------------------------
# The error of a sum: a model


@contextlib.contextmanager
def tracing():
    """Trace memory allocations (:mod:`tracemalloc`) inside a ``with`` block, and stop on
    leaving it unless tracing was already on. Compare several calls of
    :func:`traced_peak` inside one block: starting and stopping the
    tracer between calls shifts its own bookkeeping by a few bytes."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        yield
    finally:
        if not was_tracing:
            tracemalloc.stop()
