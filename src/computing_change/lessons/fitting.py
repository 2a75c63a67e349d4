"""What chapter 4.3, *Models fitted to your machine*, runs but cannot define in a cell, each
function shown on its page with :func:`computing_change.core.notebook.show`: a Monte Carlo
count of points inside a circle, which a spawn-mode process pool imports (and
:func:`pi_rate`, its speed on one core, to size the jobs), and the echo of a ping-pong
through a pipe, which a spawn-mode child process imports. The measurements, fits and plots
are written in the chapter's cells.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from computing_change.core.checks import check
from computing_change.core.timing import bench

__all__ = ["count_in_circle", "pi_rate", "echo_server"]

#: Points drawn at once. Fixed, and in preallocated buffers, so that the cost per point does
#: not depend on the job's size (no allocation, the same cache footprint for every chunk).
_CHUNK = 1 << 15


def count_in_circle(blocks: Sequence[tuple[int, int]], seed: int = 0) -> int:
    """Count random points of the unit square inside the quarter circle, block by block.

    ``blocks`` holds ``(index, size)`` pairs; block ``index`` draws ``size`` points from its
    own stream, ``default_rng([seed, index])``, so the total does not depend on how the
    blocks are shared among workers. The worker function the fitting chapter's process pool
    runs.
    """
    total = 0
    x, y = np.empty(_CHUNK), np.empty(_CHUNK)
    for index, size in blocks:
        rng = np.random.default_rng([seed, index])
        left = size
        while left > 0:
            m = min(left, _CHUNK)
            xs, ys = x[:m], y[:m]
            rng.random(out=xs)
            rng.random(out=ys)
            xs *= xs
            ys *= ys
            xs += ys
            total += int(np.count_nonzero(xs <= 1.0))
            left -= m
    return total


def pi_rate(seconds: float = 0.05) -> float:
    """Points per second that one core draws and tests with :func:`count_in_circle`, measured
    here for about ``seconds`` (in (0, 60]): the fitting chapter sizes its jobs with it, so
    that they last about as long on a slow machine as on a fast one."""
    seconds = check("seconds", seconds, 0, 60, lo_open=True)
    run = bench(lambda: count_in_circle([(0, _CHUNK)]), repeat=1, warmup=0, min_time=seconds)
    return _CHUNK / run.best


def echo_server(conn) -> None:
    """Send every message that arrives on ``conn`` straight back; stop on an empty one.

    The child process of the fitting chapter's ping-pong through a pipe.
    """
    try:
        while True:
            msg = conn.recv_bytes()
            if not msg:
                break
            conn.send_bytes(msg)
    except (EOFError, OSError):  # the other end closed
        pass
    finally:
        conn.close()
