r"""What chapter 3.4, *Algorithm optimization* (算法优化), needs to import.

The chapter's lessons (counting inversions two ways, the sum of squares four ways, the
two-pass prefix sum and the drivers that hand it to a process pool) are written in its
cells. Two kinds of code live here instead, and the chapter shows both with
:func:`computing_change.core.notebook.show`, from this file:

* :func:`fit_power_law`, the least-squares fit :math:`t \approx a\,n^k` on a log-log scale,
  which the finance chapter reuses;
* the **workers** of the parallel prefix sum: a pool that *spawns* its processes (Windows,
  macOS, and :func:`computing_change.lessons.parallel.process_pool`) sends a function by its
  importable name, which a function defined in a notebook cell does not have. Pass 1 sums a
  block (:func:`block_sum`), pass 2 scans a block from an offset (:func:`block_cumsum`);
  :func:`shared_block_sum` and :func:`shared_block_cumsum` run them on arrays in shared
  memory (:class:`SharedArray`, opened by name in the worker with :func:`open_shared`),
  :func:`copied_block_sum` and :func:`copied_block_cumsum` on blocks sent to the worker,
  pickled; :func:`payload_nbytes` receives data and does nothing with it, to time the
  transfer alone.
"""

from __future__ import annotations

import atexit
import sys
import threading
import weakref
from multiprocessing import shared_memory

import numpy as np

from computing_change.core.checks import check_int

__all__ = [
    "SharedArray",
    "open_shared",
    "SCAN_CHUNK",
    "block_sum",
    "block_cumsum",
    "shared_block_sum",
    "shared_block_cumsum",
    "copied_block_sum",
    "copied_block_cumsum",
    "payload_nbytes",
]


# --------------------------------------------------------------------------------------
# Shared memory: arrays that worker processes open by name (plumbing)
# --------------------------------------------------------------------------------------

_ATTACH_KWARGS = {"track": False} if sys.version_info >= (3, 13) else {}

#: Mappings that could not be closed yet because a NumPy view of them was still alive.
_LINGERING: list[shared_memory.SharedMemory] = []


def _release(shm: shared_memory.SharedMemory) -> None:
    """Unmap ``shm`` and remove its name; a view that is still alive only delays the unmap."""
    try:
        shm.close()
    except BufferError:  # a NumPy view still exists: it keeps the mapping until it dies
        _LINGERING.append(shm)
    try:
        shm.unlink()
    except FileNotFoundError:
        pass


class SharedArray:
    """A 1-D NumPy array in shared memory that worker processes can open by name.

    Use it as a context manager: the block ends by unmapping the memory and removing its
    name, even on error, so nothing outlives the notebook. Inside, ``.array`` is the NumPy
    view; keep no other reference to it past the block (copy what you need). ``.spec`` is
    what a worker needs to open it (:func:`open_shared`).

    Parameters
    ----------
    n : whole number >= 1, the length
    dtype : a NumPy integer or float dtype (default int64)
    """

    def __init__(self, n: int, dtype=np.int64):
        n = check_int("n", n, 1)
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise ValueError(f"dtype must be a NumPy integer or float dtype; got {dtype!r}") from None
        if dt.kind not in "iuf":
            raise ValueError(f"dtype must be a NumPy integer or float dtype; got {dt}")
        self._shm = shared_memory.SharedMemory(create=True, size=n * dt.itemsize)
        self._finalizer = weakref.finalize(self, _release, self._shm)
        self.n = n
        self.dtype = dt
        self.name = self._shm.name
        self.array: np.ndarray | None = np.ndarray((n,), dtype=dt, buffer=self._shm.buf)

    @property
    def spec(self) -> tuple[str, int, str]:
        """``(name, length, dtype)``: all a worker needs to open the array (small to pickle)."""
        return (self.name, self.n, self.dtype.str)

    def close(self) -> None:
        """Drop the view, unmap the memory and remove its name (safe to call twice)."""
        self.array = None
        self._finalizer()

    def __enter__(self) -> SharedArray:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.array is None else "open"
        return f"SharedArray(n={self.n}, dtype={self.dtype}, {state})"


#: Shared arrays a *worker* process keeps open between tasks, most recently used last: opening
#: maps the memory afresh, and the first touch of every page of a new mapping costs a page
#: fault (tens of milliseconds for 64 MiB), which would otherwise be paid by every task.
_OPENED: dict[tuple[str, int, str], tuple[shared_memory.SharedMemory, np.ndarray]] = {}
_MAX_OPENED = 4
_OPEN_LOCK = threading.Lock()


def _forget(shm: shared_memory.SharedMemory) -> None:
    try:
        shm.close()
    except BufferError:  # a task still holds a view: unmapped when the view dies
        _LINGERING.append(shm)


def _close_opened() -> None:
    """Close every shared array this process keeps open (runs at exit)."""
    with _OPEN_LOCK:
        while _OPENED:
            _, (shm, _arr) = _OPENED.popitem()
            del _arr
            _forget(shm)


def open_shared(spec: tuple[str, int, str]) -> np.ndarray:
    """The shared array ``spec`` (a :attr:`SharedArray.spec`) as a NumPy view, in a worker.

    The process keeps the last few arrays it opened mapped, for its later tasks.
    """
    name, n, dtype = spec
    with _OPEN_LOCK:
        hit = _OPENED.pop(spec, None)
        if hit is None:
            shm = shared_memory.SharedMemory(name=name, **_ATTACH_KWARGS)
            hit = (shm, np.ndarray((n,), dtype=np.dtype(dtype), buffer=shm.buf))
            if not _OPENED:
                atexit.register(_close_opened)
        _OPENED[spec] = hit
        while len(_OPENED) > _MAX_OPENED:
            shm, _arr = _OPENED.pop(next(iter(_OPENED)))
            del _arr
            _forget(shm)
        return hit[1]


# --------------------------------------------------------------------------------------
# The workers of the two-pass prefix sum (the chapter's parallelization)
# --------------------------------------------------------------------------------------

#: Items :func:`block_cumsum` scans at a time: 65536 (512 KiB of int64 or float64), small
#: enough to stay in cache between being copied and being scanned in place, large enough that
#: the Python loop over chunks costs little.
SCAN_CHUNK = 1 << 16


def block_sum(x: np.ndarray, start: int, stop: int):
    """Pass 1 on one block: the sum of ``x[start:stop]``."""
    return x[start:stop].sum()


def block_cumsum(x: np.ndarray, out: np.ndarray, start: int, stop: int, offset) -> None:
    """Pass 2 on one block: ``out[start:stop]`` becomes the running sum of ``x[start:stop]``
    continued from ``offset``, the sum of everything before ``start``.

    A chunk at a time: copy it into ``out``, add the running total so far to its first item,
    scan it in place while it is still in cache. The additions are those of a serial scan,
    in the same order.
    """
    carry = offset
    for lo in range(start, stop, SCAN_CHUNK):
        hi = min(lo + SCAN_CHUNK, stop)
        chunk = out[lo:hi]
        chunk[:] = x[lo:hi]
        chunk[0] += carry
        np.cumsum(chunk, out=chunk)
        carry = chunk[-1]


def shared_block_sum(x_spec, start: int, stop: int):
    """Worker, pass 1, shared memory: the sum of one block of the shared array ``x_spec``."""
    return block_sum(open_shared(x_spec), start, stop)


def shared_block_cumsum(x_spec, out_spec, start: int, stop: int, offset) -> None:
    """Worker, pass 2, shared memory: scan one block of shared ``x_spec`` into shared ``out_spec``."""
    block_cumsum(open_shared(x_spec), open_shared(out_spec), start, stop, offset)


def copied_block_sum(block: np.ndarray):
    """Worker, pass 1, copying: the sum of a block that was sent to this process."""
    return block_sum(block, 0, block.size)


def copied_block_cumsum(block: np.ndarray, offset) -> np.ndarray:
    """Worker, pass 2, copying: the scan of a block that was sent here, sent back."""
    out = np.empty_like(block)
    block_cumsum(block, out, 0, block.size, offset)
    return out


def payload_nbytes(payload) -> int:
    """Worker: the size in bytes of what it received (an array or bytes), to time sending alone."""
    return memoryview(payload).nbytes
