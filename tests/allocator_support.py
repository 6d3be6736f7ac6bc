"""Helpers for the allocator tests: state snapshots and draining pools."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipamcore

GW = {ipamcore.REQUEST_ADDRESS_TYPE: ipamcore.GATEWAY}
SERIAL = {ipamcore.ALLOC_SERIAL: "true"}


def snapshot(allocator: ipamcore.Allocator) -> list[tuple[Any, ...]]:
    """Return everything observable about ``allocator`` without changing it."""
    return [(info, allocator.used_ranges(info.pool_id)) for info in allocator.pools()]


def drain(allocator: ipamcore.Allocator, pool_id: str, **kwargs: Any) -> list[str]:
    """Request addresses until the pool is exhausted; return them as text."""
    handed_out: list[str] = []
    while True:
        try:
            interface, _ = allocator.request_address(pool_id, **kwargs)
        except ipamcore.NoAvailableIPsError:
            return handed_out
        handed_out.append(str(interface))


def unchanged(allocator: ipamcore.Allocator, call: Callable[[], object]) -> Exception:
    """Run a call that must fail; check it changed nothing and return its error."""
    before = snapshot(allocator)
    try:
        call()
    except Exception as exc:
        assert snapshot(allocator) == before
        return exc
    raise AssertionError("the call did not fail")
