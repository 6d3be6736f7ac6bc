"""Shared fixture of the pytest-benchmark suites: time one workload.

Every test prepares a fresh subject per round outside the timed call
(``benchmark.pedantic`` with a ``setup``), times the workload's loop once per
round, checks the subject's final state, and records the per-operation
figures in ``extra_info`` so they land in ``--benchmark-json``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from benchmarks.workloads import WORKLOADS, Trial, Workload

Measure = Callable[..., Trial]


def workload_named(name: str) -> Workload:
    """The workload whose `Workload.name` is ``name``."""
    return next(workload for workload in WORKLOADS if workload.name == name)


def run_to_end(trial: Trial) -> int:
    """The timed call: the trial's whole loop, with no deadline."""
    return trial.run(math.inf)


@pytest.fixture
def measure(benchmark: Any) -> Measure:
    """Time a workload on a factory; return the last round's checked trial.

    The returned function takes the workload name, the implementation
    factory and optionally ``rounds`` (default 5).
    """

    def timed(name: str, factory: Callable[..., Any], rounds: int = 5) -> Trial:
        workload = workload_named(name)
        workload.draw()
        latest: list[Trial] = []

        def setup() -> tuple[tuple[Trial], dict[str, Any]]:
            latest[:] = [workload.prepare(factory)]
            return (latest[0],), {}

        benchmark.pedantic(run_to_end, setup=setup, rounds=rounds, iterations=1)
        trial = latest[0]
        trial.check()
        record(benchmark, workload, trial)
        return trial

    return timed


def record(benchmark: Any, workload: Workload, trial: Trial) -> None:
    """Store per-operation figures of a finished benchmark in ``extra_info``."""
    stats = benchmark.stats.stats
    benchmark.extra_info.update(
        workload=workload.label,
        unit=workload.unit,
        ops=trial.ops,
        ns_per_op_median=stats.median * 1e9 / trial.ops,
        ns_per_op_min=stats.min * 1e9 / trial.ops,
        ns_per_op_max=stats.max * 1e9 / trial.ops,
    )
