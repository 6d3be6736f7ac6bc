"""A slow, obviously correct reference model of `ipamcore.Bitmap`.

The model keeps the used ordinals as a sorted list of disjoint inclusive
``(start, end)`` ranges and rebuilds that list from scratch after every
change, so that each method stays a few lines that can be checked by eye.
It raises the same error classes as the compiled bitmap; the tests drive
both with the same calls and compare every answer.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from itertools import pairwise

from ipamcore import BitAllocatedError, NoBitAvailableError

MAX_BITS = 2**128


def canonical(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort inclusive ranges and merge the ones that overlap or touch."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


class ModelBitmap:
    """Reference implementation with the public behaviour of `Bitmap`."""

    def __init__(self, bits: int) -> None:
        bits = operator.index(bits)
        if not 1 <= bits <= MAX_BITS:
            raise ValueError(f"bits must be in [1, 2**128], got {bits}")
        self.bits = bits
        self.used: list[tuple[int, int]] = []
        self.cursor = 0

    # -- queries ---------------------------------------------------------

    @property
    def free(self) -> int:
        return self.bits - sum(end - start + 1 for start, end in self.used)

    @property
    def runs(self) -> int:
        """Count the runs of the full encoding, free stretches included."""
        edges = [0]
        for start, end in self.used:
            edges += [start, end + 1]
        edges.append(self.bits)
        return sum(1 for a, b in pairwise(edges) if b > a)

    def is_set(self, ordinal: int) -> bool:
        ordinal = operator.index(ordinal)
        return any(start <= ordinal <= end for start, end in self.used)

    def __contains__(self, ordinal: int) -> bool:
        return self.is_set(ordinal)

    def ranges(self) -> Iterator[tuple[int, int]]:
        return iter(list(self.used))

    def find_free(self, start: int, end: int) -> int | None:
        self._check_search(start, end)
        candidate = start
        for used_start, used_end in self.used:
            if used_start <= candidate <= used_end:
                candidate = used_end + 1
        return candidate if candidate <= end else None

    def find_used(self, start: int, end: int) -> int | None:
        self._check_search(start, end)
        for used_start, used_end in self.used:
            if used_end >= start and used_start <= end:
                return max(used_start, start)
        return None

    # -- changes ---------------------------------------------------------

    def set(self, ordinal: int) -> None:
        self._check_ordinal(ordinal)
        if self.is_set(ordinal):
            raise BitAllocatedError(ordinal)
        self.used = canonical([*self.used, (ordinal, ordinal)])

    def unset(self, ordinal: int) -> bool:
        self._check_ordinal(ordinal)
        was_used = self.is_set(ordinal)
        self._remove(ordinal, ordinal)
        return was_used

    def set_range(self, start: int, end: int) -> None:
        self._check_range(start, end)
        if self.find_used(start, end) is not None:
            raise BitAllocatedError(start)
        self.used = canonical([*self.used, (start, end)])

    def unset_range(self, start: int, end: int) -> int:
        self._check_range(start, end)
        before = self.free
        self._remove(start, end)
        return self.free - before

    def set_any(self, serial: bool = False) -> int:
        return self.set_any_in_range(0, self.bits - 1, serial)

    def set_any_in_range(self, start: int, end: int, serial: bool = False) -> int:
        self._check_search(start, end)
        found = None
        if serial and start <= self.cursor <= end:
            found = self.find_free(self.cursor, end)
            if found is None and self.cursor > start:
                found = self.find_free(start, self.cursor - 1)
        else:
            found = self.find_free(start, end)
        if found is None:
            raise NoBitAvailableError
        self.used = canonical([*self.used, (found, found)])
        if serial:
            self.cursor = (found + 1) % self.bits
        return found

    # -- helpers ---------------------------------------------------------

    def _remove(self, start: int, end: int) -> None:
        kept: list[tuple[int, int]] = []
        for used_start, used_end in self.used:
            if used_start < start:
                kept.append((used_start, min(used_end, start - 1)))
            if used_end > end:
                kept.append((max(used_start, end + 1), used_end))
        self.used = canonical(kept)

    def _check_ordinal(self, ordinal: int) -> None:
        ordinal = operator.index(ordinal)
        if not 0 <= ordinal < self.bits:
            raise IndexError(ordinal)

    def _check_range(self, start: int, end: int) -> None:
        self._check_ordinal(start)
        self._check_ordinal(end)
        if end < start:
            raise ValueError((start, end))

    def _check_search(self, start: int, end: int) -> None:
        start, end = operator.index(start), operator.index(end)
        if not 0 <= start <= end < self.bits:
            raise ValueError((start, end))
