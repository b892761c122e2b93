"""Work spread over processes for batch import (photo checks) and batch issue (signing).

A ProcessPoolExecutor in the "spawn" context: a worker starts as a fresh interpreter and
loads what it needs in its initializer (the signing key, in its own HSM session for
PKCS#11: a PKCS#11 session is per process and must not cross a fork). Results come back in
the order of the inputs. With 0 workers the same functions run in this process.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_workers(items: int, *, worth_from: int = 2000, min_cpus: int = 2) -> int:
    """One worker per usable CPU for `items` units of work, when there are enough to pay for
    starting the workers (about a second each: they import the issuer's modules and load the
    key) and at least `min_cpus` CPUs; else none. The import's photo checks are nearly all
    worker work (1.7x faster on 2 CPUs); batch issue's main process keeps the database work,
    most of a card's cost, so it takes workers only from 4 CPUs (docs/performance.md,
    "Issuance station and batch")."""
    cpus = usable_cpus()
    return cpus if cpus >= min_cpus and items >= worth_from else 0


def _start_worker(parent: int, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    """In each worker: exit when the main process is gone (killed with SIGKILL, a worker would
    otherwise wait for work forever: its siblings keep the task queue open), then initialise."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


class Workers:
    """`map(fn, items)` in `count` processes (in order), or here when `count` is 0."""

    def __init__(self, count: int, initializer: Callable[..., None] | None = None, initargs: tuple = ()):
        self.count = max(0, count)
        self._initializer, self._initargs = initializer, initargs
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Workers:
        if self.count:
            self._pool = ProcessPoolExecutor(self.count, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start_worker,
                                             initargs=(os.getpid(), self._initializer, self._initargs))
        elif self._initializer is not None:
            self._initializer(*self._initargs)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, fn: Callable, items: Iterable, *, chunksize: int = 16) -> Iterator:
        if self._pool is None:
            return map(fn, items)
        return self._pool.map(fn, items, chunksize=chunksize)
