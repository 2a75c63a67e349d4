"""Pools of workers, one place for each: the start method and a pre-started process pool
(:mod:`concurrent.futures`), the worker counts of a speedup sweep, and the course's one Dask
client factory, :func:`cluster_client` (a running scheduler named by an address or by the
environment variable ``COMPUTING_CHANGE_SCHEDULER``, else a :class:`~distributed.LocalCluster`
it starts and always closes).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

from computing_change.core.checks import check, check_int
from computing_change.core.machine import available_memory, usable_cores

__all__ = [
    "START_METHOD",
    "mp_context",
    "process_pool",
    "worker_counts",
    "SCHEDULER_ENV",
    "MAX_DEFAULT_WORKERS",
    "scheduler_address",
    "local_cluster_kwargs",
    "cluster_client",
]

#: The start method the course uses for every process: the same on Linux, macOS and Windows.
START_METHOD = "spawn"


def mp_context(method: str | None = None) -> multiprocessing.context.BaseContext:
    """The :mod:`multiprocessing` context for ``method`` (default :data:`START_METHOD`).

    ``"spawn"`` starts a fresh interpreter per worker (available everywhere, nothing
    inherited); ``"forkserver"`` forks workers from a clean server process (POSIX only);
    ``"fork"`` copies the parent, threads' locks included (POSIX only, unsafe in a
    process that runs threads, such as a Jupyter kernel).
    """
    method = START_METHOD if method is None else method
    available = multiprocessing.get_all_start_methods()
    if method not in available:
        raise ValueError(f"method must be one of {available} on this platform; got {method!r}")
    return multiprocessing.get_context(method)


def _pid(delay: float) -> int:
    """A task that starts a worker: wait ``delay`` seconds, return the worker's process id."""
    time.sleep(delay)
    return os.getpid()


@contextlib.contextmanager
def process_pool(
    workers: int,
    *,
    method: str | None = None,
    timeout: float = 60.0,
    initializer: Callable | None = None,
    initargs: tuple = (),
) -> Iterator[ProcessPoolExecutor]:
    """A :class:`~concurrent.futures.ProcessPoolExecutor` of ``workers`` processes, all started
    and each having run a task before the block begins, shut down when it ends (even on error).

    Pre-starting keeps the start-up cost (a fresh interpreter importing NumPy and this module,
    for each worker) out of the timings, as a long-lived pool would. ``initializer(*initargs)``
    runs once in each worker as it starts (to hand every worker the same data, say).
    """
    workers = check_int("workers", workers, 1, 1024)
    timeout = check("timeout", timeout, 0, 3600, lo_open=True)
    if initializer is not None and not callable(initializer):
        raise ValueError(f"initializer must be callable or None; got {initializer!r}")
    ctx = mp_context(method)
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=initializer, initargs=tuple(initargs)
    ) as pool:
        seen: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(seen) < workers and time.monotonic() < deadline:
            seen.update(pool.map(_pid, [0.005] * workers, timeout=timeout))
        yield pool


def worker_counts(cores: int, *, oversubscribe: bool = True) -> list[int]:
    """The worker counts a speedup sweep measures on ``cores`` usable cores.

    Every count from 1 to ``cores`` (up to 8; beyond, powers of two and ``cores``), then,
    with ``oversubscribe``, ``cores + 1`` and ``2 * cores`` to show more workers than cores.
    """
    cores = check_int("cores", cores, 1, 4096)
    if cores <= 8:
        counts = list(range(1, cores + 1))
    else:
        counts = sorted({2**k for k in range(int(math.log2(cores)) + 1)} | {cores})
    if oversubscribe:
        counts += [cores + 1, 2 * cores]
    return sorted(set(counts))


#: The environment variable that names a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
SCHEDULER_ENV = "COMPUTING_CHANGE_SCHEDULER"

#: The default local cluster has one worker per usable core, but at most this many: every
#: worker is a Python process (about 100 MB, a second or so to start).
MAX_DEFAULT_WORKERS = 8

_MiB = 1024**2
_SCHEMES = ("tcp://", "tls://", "inproc://", "ucx://", "ws://", "wss://")


# --------------------------------------------------------------------------------------
# The cluster
# --------------------------------------------------------------------------------------


def scheduler_address(environ: dict | None = None) -> str | None:
    """The scheduler address the reader set in ``COMPUTING_CHANGE_SCHEDULER``, or None.

    An empty value counts as unset. A value without a scheme (``tcp://``, ``tls://``, ...)
    is refused with a ``ValueError``, so a typo fails loudly instead of starting a local
    cluster in silence.
    """
    env = os.environ if environ is None else environ
    value = (env.get(SCHEDULER_ENV) or "").strip()
    if not value:
        return None
    if not value.startswith(_SCHEMES) or len(value.split("://", 1)[1]) == 0:
        raise ValueError(
            f"{SCHEDULER_ENV} must be a scheduler address such as tcp://host:8786; got {value!r}"
        )
    return value


def local_cluster_kwargs(n_workers: int | None = None, memory_budget: int | None = None) -> dict:
    """Keyword arguments for the course's :class:`~distributed.LocalCluster`.

    One single-threaded worker process per usable core (at most :data:`MAX_DEFAULT_WORKERS`
    unless ``n_workers`` says otherwise, 1 to 64), each with an equal share of
    ``memory_budget`` bytes (default: 1 GiB or half the available memory, whichever is
    smaller, so a 2 GiB Binder container fits), never below 256 MiB. The scheduler and the
    dashboard listen on 127.0.0.1 only, on free ports, and the logs are quiet.
    """
    if n_workers is None:
        n_workers = min(usable_cores(), MAX_DEFAULT_WORKERS)
    n_workers = check_int("n_workers", n_workers, 1, 64)
    if memory_budget is None:
        avail = available_memory() or 2 * 1024**3
        memory_budget = min(1024 * _MiB, avail // 2)
    memory_budget = check_int("memory_budget", memory_budget, 1)
    per_worker = max(256 * _MiB, memory_budget // n_workers)
    return {
        "n_workers": n_workers,
        "threads_per_worker": 1,
        "processes": True,
        "memory_limit": per_worker,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
        "silence_logs": logging.CRITICAL,  # not the shutdown race (dask/distributed#7105)
    }


@contextlib.contextmanager
def cluster_client(
    n_workers: int | None = None,
    address: str | None = None,
    *,
    memory_budget: int | None = None,
    local: bool = False,
    timeout: float = 60.0,
    **cluster_options,
) -> Iterator:
    """Yield a :class:`distributed.Client`; close everything this function started on exit.

    With ``address`` (or, when it is None, the environment variable
    ``COMPUTING_CHANGE_SCHEDULER``) the client connects to that running scheduler and only
    the client is closed afterwards: the cluster is the reader's. Otherwise a
    :class:`~distributed.LocalCluster` is started with :func:`local_cluster_kwargs`, in a
    temporary directory of its own, and closed with the client in a ``finally`` block, so
    no worker process or scratch file outlives the ``with`` block even if it raises. An
    ``atexit`` hook closes it too if the interpreter exits first (a notebook kernel shut
    down between cells). With ``local=True`` the environment variable is ignored (a
    computation whose data sit in the reader's temporary folder, which remote workers
    could not read); ``cluster_options`` override :func:`local_cluster_kwargs` for a
    local cluster of another shape.
    """
    from distributed import Client

    timeout = check("timeout", timeout, 0, 3600, lo_open=True)
    if address is None:
        address = None if local else scheduler_address()
    elif not isinstance(address, str) or not address.startswith(_SCHEMES):
        raise ValueError(f"address must be a scheduler address such as tcp://host:8786; got {address!r}")
    if address is not None:
        if n_workers is not None or cluster_options:
            raise ValueError(
                "n_workers and cluster options must be unset when connecting to a running scheduler"
            )
        client = Client(address, timeout=timeout)
        try:
            yield client
        finally:
            client.close()
        return

    kwargs = {**local_cluster_kwargs(n_workers, memory_budget), **cluster_options}
    with _local_client(timeout=timeout, **kwargs) as client:
        yield client


@contextlib.contextmanager
def _local_client(timeout: float = 60.0, **cluster_kwargs) -> Iterator:
    """Yield a :class:`distributed.Client` on a :class:`~distributed.LocalCluster` started
    with ``cluster_kwargs``, in a temporary directory of its own; on exit close the client
    and the cluster and remove the directory, even if the block raised.

    Every Dask server (the scheduler too) keeps its scratch files under Dask's
    "temporary-directory", which is pointed at that directory, so nothing is left in the
    system's. An ``atexit`` hook closes everything too if the interpreter exits first (a
    notebook kernel shut down between cells). :func:`cluster_client` starts every local
    cluster of the course through it.
    """
    import dask
    from distributed import Client, LocalCluster

    timeout = check("timeout", timeout, 0, 3600, lo_open=True)
    scratch = tempfile.TemporaryDirectory(prefix="cc-dask-", ignore_cleanup_errors=True)
    cluster = client = None

    def close() -> None:
        nonlocal cluster, client
        this_client, this_cluster = client, cluster
        client = cluster = None  # a second call (atexit after finally) does nothing
        try:
            if this_client is not None:
                this_client.close()
        finally:
            try:
                if this_cluster is not None:
                    this_cluster.close()
            finally:
                scratch.cleanup()

    atexit.register(close)
    try:
        with dask.config.set({"temporary-directory": scratch.name}):
            cluster = LocalCluster(local_directory=scratch.name, **cluster_kwargs)
        client = Client(cluster, timeout=timeout)
        if "n_workers" in cluster_kwargs:
            client.wait_for_workers(cluster_kwargs["n_workers"], timeout=timeout)
        yield client
    finally:
        atexit.unregister(close)
        close()
