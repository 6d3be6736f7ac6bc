"""The journal: every change of allocation state, as a small value.

An `Allocator` reports each change it makes to its `Journal` (if it was
given one) while it still holds its lock, after making the change in
memory.  If the journal refuses the change by raising, the allocator undoes
it and the call fails with `IpamInternalError`, so a journal never misses a
change a caller was told about, and a failed call changes nothing.

Replaying the changes in order onto a fresh `Allocator` built with the same
configuration (`Allocator.replay`) reproduces the state exactly: pools,
used addresses, serial cursors and predefined-pool cursors.  A durable
store only needs to persist these values in order.

Addresses are integers (``int(ipaddress.ip_address(text))``); the family
is that of the pool the id names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, TypeAlias

__all__ = [
    "AddressAllocated",
    "AddressReleased",
    "Change",
    "Journal",
    "MemoryJournal",
    "PoolAllocated",
    "PoolReleased",
]


@dataclass(frozen=True, slots=True)
class PoolAllocated:
    """A pool id was allocated.

    Attributes:
        pool_id: The canonical pool id.
        predefined: ``(base index, block index)`` of the predefined block
            handed out, or ``None`` if the caller named the pool.
    """

    pool_id: str
    predefined: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class PoolReleased:
    """A pool id was released.

    Attributes:
        pool_id: The canonical pool id.
    """

    pool_id: str


@dataclass(frozen=True, slots=True)
class AddressAllocated:
    """An address was handed out.

    Attributes:
        pool_id: The canonical id of the pool it was requested from.
        address: The address, as an integer.
        serial: Whether a round-robin request handed it out; replaying it
            moves the pool's serial cursor past the address.
    """

    pool_id: str
    address: int
    serial: bool = False


@dataclass(frozen=True, slots=True)
class AddressReleased:
    """An address in use was released.

    Attributes:
        pool_id: The canonical id of the pool it was released through.
        address: The address, as an integer.
    """

    pool_id: str
    address: int


Change: TypeAlias = PoolAllocated | PoolReleased | AddressAllocated | AddressReleased
"""Any change of allocation state."""


class Journal(Protocol):
    """Where an `Allocator` reports each change of its state."""

    def append(self, change: Change) -> None:
        """Record ``change``; raise to refuse it (the allocator then undoes it)."""


class MemoryJournal:
    """A journal that keeps the changes in a list, oldest first.

    Attributes:
        changes: Every change recorded.
    """

    def __init__(self) -> None:
        self.changes: list[Change] = []

    def append(self, change: Change) -> None:
        """Record ``change``."""
        self.changes.append(change)

    def __iter__(self) -> Iterator[Change]:
        """Iterate over the changes recorded, oldest first."""
        return iter(self.changes)

    def __len__(self) -> int:
        """Return how many changes were recorded."""
        return len(self.changes)
