"""pytest-benchmark suite of `ipamcore.Bitmap` on workloads W1-W7 and S.

Run with ``pytest benchmarks/ --benchmark-only``; figures per operation (or
per iteration: an ``unset`` plus an allocation) are in each result's
``extra_info``.  The tests assert correctness only, never a time.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.conftest import Measure
from benchmarks.workloads import SCALING_RUNS
from ipamcore import Bitmap

SCALING_MEDIANS: dict[int, float] = {}


def test_set_any_fill16(measure: Measure) -> None:
    """W1: `set_any()` until a 2**16 bitmap is full."""
    measure("set_any_fill16", Bitmap)


def test_unset_set_any_churn16(measure: Measure, benchmark: Any) -> None:
    """W2: `unset` a random used ordinal, then `set_any()`."""
    trial = measure("unset_set_any_churn16", Bitmap)
    benchmark.extra_info["runs_after"] = trial.subject.runs


def test_unset_set_any_serial_serialchurn16(measure: Measure, benchmark: Any) -> None:
    """W3: as W2 with `set_any(serial=True)`."""
    trial = measure("unset_set_any_serial_serialchurn16", Bitmap)
    benchmark.extra_info["runs_after"] = trial.subject.runs


def test_set_any_fill8(measure: Measure) -> None:
    """W4: 1,000,000 x `set_any()` on a 2**24 bitmap."""
    measure("set_any_fill8", Bitmap, rounds=3)


def test_set_any_serial_v6_64(measure: Measure) -> None:
    """W5, first figure: 1,000,000 x `set_any(serial=True)` on 2**64."""
    measure("set_any_serial_v6_64", Bitmap, rounds=3)


def test_unset_v6_64(measure: Measure) -> None:
    """W5, second figure: `unset` 100,000 random used ordinals."""
    measure("unset_v6_64", Bitmap)


def test_set_any_v6_64(measure: Measure) -> None:
    """W5, third figure: 100,000 x `set_any()` refilling them."""
    measure("set_any_v6_64", Bitmap)


def test_unset_set_any_in_range_rangechurn16(measure: Measure) -> None:
    """W6: `unset` in [32768, 36863], then `set_any_in_range` over it."""
    measure("unset_set_any_in_range_rangechurn16", Bitmap)


def test_set_fragmented20(measure: Measure) -> None:
    """W7, build figure: `set` every even ordinal of a 2**20 bitmap."""
    measure("set_fragmented20", Bitmap)


def test_unset_set_any_fragmented20(measure: Measure, benchmark: Any) -> None:
    """W7: `unset` a random even ordinal, then `set_any()`."""
    trial = measure("unset_set_any_fragmented20", Bitmap)
    benchmark.extra_info["runs_after"] = trial.subject.runs


@pytest.mark.parametrize("runs", SCALING_RUNS)
def test_unset_set_any_scaling(measure: Measure, benchmark: Any, runs: int) -> None:
    """S: `unset` + `set_any` on a bitmap of ``runs`` runs.

    The case with the most runs also records its cost over that of the case
    with the fewest (the S ratio), when both ran in this session.
    """
    trial = measure(f"unset_set_any_scaling_{runs}", Bitmap, rounds=3)
    median = benchmark.extra_info["ns_per_op_median"]
    SCALING_MEDIANS[runs] = median
    benchmark.extra_info["runs_after"] = trial.subject.runs
    fewest = min(SCALING_RUNS)
    if runs == max(SCALING_RUNS) and fewest in SCALING_MEDIANS:
        benchmark.extra_info["ratio_to_fewest_runs"] = median / SCALING_MEDIANS[fewest]
