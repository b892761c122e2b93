"""Work spread over processes for batch import (photo checks) and batch issue (signing).

A ProcessPoolExecutor in the "spawn" context: a worker starts as a fresh interpreter and
loads what it needs in its initializer (the signing key, in its own HSM session for
PKCS#11: a PKCS#11 session is per process and must not cross a fork). Results come back in
the order of the inputs. With 0 workers the same functions run in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_workers(main_share: float = 0.0) -> int:
    """Worker processes worth starting when `main_share` of the work stays in the main
    process (database writes): one per usable CPU for work that is nearly all in the workers
    (photo checks); for batch issue, whose main process does most of the work (signing is
    about a third of a card's cost), only the CPUs beyond two (docs/performance.md measures
    it: on 2 CPUs the pool does not pay for its pickling). None on a single CPU."""
    cpus = usable_cpus()
    if cpus < 2:
        return 0
    return cpus if main_share < 0.5 else max(0, cpus - 2)


class Workers:
    """`map(fn, items)` in `count` processes (in order), or here when `count` is 0."""

    def __init__(self, count: int, initializer: Callable[..., None] | None = None, initargs: tuple = ()):
        self.count = max(0, count)
        self._initializer, self._initargs = initializer, initargs
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Workers:
        if self.count:
            self._pool = ProcessPoolExecutor(self.count, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=self._initializer, initargs=self._initargs)
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
