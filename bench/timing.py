"""Timing: warm-up, batches sized to a target duration, rounds interleaved across the
cases of one comparison (so drift and noise from other processes hit them alike), and
median / p90 of the per-call time over the rounds."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    rounds: int          # batches per case
    batch_ns: int        # target duration of one batch
    warmup_ns: int       # warm-up per case before calibrating


FULL = Settings(rounds=200, batch_ns=2_000_000, warmup_ns=50_000_000)
QUICK = Settings(rounds=15, batch_ns=500_000, warmup_ns=5_000_000)


@dataclass(frozen=True)
class Stats:
    median_ns: float
    p90_ns: float
    min_ns: float
    rounds: int
    calls_per_round: int
    samples: tuple[float, ...]  # per-call ns of each round, in round order

    def to_dict(self) -> dict:
        return {"median_ns": round(self.median_ns, 1), "p90_ns": round(self.p90_ns, 1),
                "min_ns": round(self.min_ns, 1), "rounds": self.rounds, "calls_per_round": self.calls_per_round}


def _batch(fn: Callable[[], object], n: int) -> int:
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(n):
        fn()
    return clock() - start


def _calls_for(fn: Callable[[], object], settings: Settings) -> int:
    """Warm up for `warmup_ns`, then pick how many calls make one batch of `batch_ns`."""
    calls, spent = 0, 0
    n = 1
    while spent < settings.warmup_ns:
        spent += _batch(fn, n)
        calls += n
        n *= 2
    per_call = spent / calls
    return max(1, round(settings.batch_ns / per_call))


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]


def measure(cases: dict[str, Callable[[], object]], settings: Settings) -> dict[str, Stats]:
    """Per-call time of each case. The cases run in turn within each round."""
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        calls = {name: _calls_for(fn, settings) for name, fn in cases.items()}
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(settings.rounds):
            for name, fn in cases.items():
                samples[name].append(_batch(fn, calls[name]) / calls[name])
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: Stats(statistics.median(s), p90(s), min(s), len(s), calls[name], tuple(s))
            for name, s in samples.items()}


def paired_ratio(subject: Stats, reference: Stats) -> float:
    """Median over rounds of subject/reference in the same round (robust to drift)."""
    return statistics.median(a / b for a, b in zip(subject.samples, reference.samples))


def us(ns: float) -> str:
    """A duration for the report, in the unit that reads best."""
    if ns >= 1_000_000:
        return f"{ns / 1_000_000:.2f} ms"
    return f"{ns / 1000:.1f} µs"
