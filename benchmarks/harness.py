"""The benchmark harness behind `make bench`.

A benchmark module ``benchmarks/bench_<topic>.py`` defines functions decorated with
:func:`case`. Each case times our code and its baseline *in the same run* and returns
:class:`Measurement` rows; the runner prints them as one table of ratios. Times are
medians of repeats (the machine is shared and noisy); a ratio is ours / baseline, so
lower is better, and ``goal`` (when given) is the ratio we aim to stay under.

Example::

    from harness import case, median_time, Measurement

    @case("xanes")
    def normalization_vs_numpy_sum():
        stack = ...
        ours = median_time(lambda: bz.xanes.normalize(stack), repeat=3)
        limit = median_time(lambda: stack.sum(), repeat=3)
        return [Measurement("normalize vs one numpy.sum pass", ours, limit, goal=3.0)]
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

CASES: list[tuple[str, str, Callable[[], list["Measurement"]]]] = []


@dataclass
class Measurement:
    """One row of the table: our time against a baseline's, measured in the same run."""

    name: str
    ours_s: float
    baseline_s: float | None = None
    goal: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline_s is None or self.baseline_s <= 0:
            return None
        return self.ours_s / self.baseline_s

    @property
    def verdict(self) -> str:
        if self.goal is None or self.ratio is None:
            return ""
        return "ok" if self.ratio <= self.goal else "over goal"


def case(group: str):
    """Register a benchmark case under ``group`` (used by ``-k`` filtering)."""

    def register(func):
        CASES.append((group, func.__name__, func))
        return func

    return register


def median_time(func: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``func()`` in seconds over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        func()
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
