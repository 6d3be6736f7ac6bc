"""pytest-benchmark suite of `ipamcore.Allocator` on workloads I1-I4.

Run with ``pytest benchmarks/ --benchmark-only``; figures per call (or per
iteration: a release plus a request) are in each result's ``extra_info``.
The tests assert correctness only, never a time.
"""

from __future__ import annotations

from typing import Any

from benchmarks.conftest import Measure
from ipamcore import Allocator


def test_request_address_fill(measure: Measure) -> None:
    """I1: `request_address` on 10.0.0.0/16 until no address is left."""
    measure("request_address_fill", Allocator)


def test_release_request_churn(measure: Measure) -> None:
    """I2: release a random taken address of a half-full /16, request one."""
    measure("release_request_churn", Allocator)


def test_request_pool_pools(measure: Measure, benchmark: Any) -> None:
    """I3: `request_pool("GlobalDefault")` until the 65,536 /24s run out."""
    trial = measure("request_pool_pools", Allocator, rounds=3)
    total = benchmark.stats.stats.median
    benchmark.extra_info.update(
        total_s_median=total, us_per_call=total * 1e6 / trial.ops
    )


def test_request_address_v6(measure: Measure) -> None:
    """I4, first figure: 100,000 x `request_address` on 2001:db8::/48."""
    measure("request_address_v6", Allocator)


def test_release_request_v6(measure: Measure) -> None:
    """I4, second figure: release a random taken address, request one."""
    measure("release_request_v6", Allocator)
