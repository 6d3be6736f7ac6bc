"""The implementations a comparison runs: ipamcore, the baselines, the floor.

The floor is not an allocator.  It stands in for one with the cheapest calls
the interpreter offers, bound built-in functions and methods of the same
arity as the allocator's (``set.discard`` for ``unset``, ``bool`` for
``set_any``, ``dict.get`` for ``set_any_in_range`` and the driver verbs), so
the same timed loop run on it shows what the loop and the calls themselves
cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import ipamcore
from benchmarks.baselines import BASELINES
from ipamcore._bitmap import MAX_BITS

__all__ = ["FLOOR", "IPAMCORE", "Implementation", "implementations"]


@dataclass(frozen=True)
class Implementation:
    """One implementation under comparison.

    Attributes:
        name: Short name shown in tables.
        max_bits: The largest bitmap it can hold.
        bitmap: Factory of a bitmap from its size, or ``None``.
        allocator: Factory of an allocator, or ``None``.
        real: ``False`` for the floor, whose state is not checked.
    """

    name: str
    max_bits: int
    bitmap: Callable[[int], Any] | None
    allocator: Callable[[], Any] | None
    real: bool = True

    def offers(self, level: str) -> bool:
        """Tell whether it has a factory for a workload level."""
        return getattr(self, level) is not None

    def factory(self, level: str) -> Callable[..., Any]:
        """The factory for a workload level (``bitmap`` or ``allocator``).

        Raises:
            LookupError: It has no factory for that level.
        """
        factory: Callable[..., Any] | None = getattr(self, level)
        if factory is None:
            raise LookupError(f"{self.name} has no {level} factory")
        return factory

    def holds(self, level: str, bits: int) -> bool:
        """Tell whether this implementation can run a workload."""
        return self.offers(level) and bits <= self.max_bits


def floor_bitmap(bits: int) -> SimpleNamespace:
    """A stand-in bitmap whose methods are trivial built-ins."""
    sink: set[int] = set()
    table: dict[int, int] = {}
    return SimpleNamespace(
        bits=bits,
        set=sink.discard,
        unset=sink.discard,
        is_set=sink.__contains__,
        set_any=bool,
        set_any_in_range=table.get,
        set_range=table.get,
        unset_range=table.get,
    )


def floor_allocator() -> SimpleNamespace:
    """A stand-in allocator whose methods are ``dict.get`` of a small dict."""
    pools: dict[str, tuple[str, None, dict[str, str]]] = {
        "LocalDefault": ("LocalDefault/floor", None, {})
    }
    return SimpleNamespace(
        request_pool=pools.get,
        request_address=pools.get,
        release_address=pools.get,
    )


IPAMCORE = Implementation(
    "ipamcore", MAX_BITS, ipamcore.Bitmap, getattr(ipamcore, "Allocator", None)
)
FLOOR = Implementation("floor", MAX_BITS, floor_bitmap, floor_allocator, real=False)


def implementations() -> list[Implementation]:
    """ipamcore, every baseline and the floor, in table order."""
    baselines = [
        Implementation(name, cls.MAX_BITS, cls, None) for name, cls in BASELINES.items()
    ]
    return [IPAMCORE, *baselines, FLOOR]
