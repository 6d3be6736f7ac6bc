"""Minimal ordinal allocators that ipamcore's `Bitmap` is measured against.

Each baseline offers the operations of `Bitmap` that the workloads use, with
the same errors and the same serial cursor as the reference model in
``tests/model.py``.  They are kept small enough to check by eye:

- `SetBaseline`: a Python ``set`` of used ordinals, searched by stepping up
  one ordinal at a time;
- `BitarrayBaseline`: one bit per ordinal in a ``bitarray``, searched with
  its C first-zero search;
- `RoaringBaseline`: used ordinals in a ``pyroaring`` bitmap (``BitMap``
  below 2**32 ordinals, ``BitMap64`` above), searched by galloping over its
  range counts.

All three keep a low-water mark: every ordinal below it is known to be used,
so a search for the lowest free ordinal starts there instead of at 0.  This
is what a careful simple allocator does, and keeps sequential fills from
being quadratic.  Ranges are inclusive ``(start, end)`` pairs throughout.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import pairwise
from typing import Protocol

from bitarray import bitarray
from bitarray.util import intervals, zeros
from pyroaring import BitMap, BitMap64

from benchmarks.workloads import OrdinalBitmap
from ipamcore import BitAllocatedError, NoBitAvailableError

__all__ = [
    "BASELINES",
    "Baseline",
    "BitarrayBaseline",
    "RoaringBaseline",
    "SetBaseline",
]


class Baseline(Protocol):
    """A baseline class: the most ordinals it holds, and its constructor."""

    MAX_BITS: int

    def __call__(self, bits: int) -> OrdinalBitmap:
        """Build an empty bitmap of ``bits`` ordinals, 1 to `MAX_BITS`."""
        ...


def group_ranges(ordinals: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Yield the inclusive ranges of consecutive values of a sorted iterable."""
    values = iter(ordinals)
    start = end = next(values, None)
    if start is None or end is None:
        return
    for ordinal in values:
        if ordinal != end + 1:
            yield start, end
            start = ordinal
        end = ordinal
    yield start, end


class _Baseline:
    """Search, cursor and argument checks shared by the baselines.

    A subclass stores the used ordinals and provides ``_scan(start, end)``
    (the lowest free ordinal of the range, or ``None``) and ``_take(ordinal)``
    (mark one free ordinal used).
    """

    MAX_BITS = 0

    def __init__(self, bits: int) -> None:
        if not 1 <= bits <= self.MAX_BITS:
            raise ValueError(f"bits must be in [1, {self.MAX_BITS}], got {bits}")
        self.bits = bits
        self._cursor = 0
        self._low = 0

    @property
    def runs(self) -> int:
        """Number of runs of the full encoding, free stretches included."""
        edges = [0]
        for start, end in self.ranges():
            edges += [start, end + 1]
        edges.append(self.bits)
        return sum(1 for a, b in pairwise(edges) if b > a)

    def __contains__(self, ordinal: int) -> bool:
        """Tell whether ``ordinal`` is used; see `is_set`."""
        return self.is_set(ordinal)

    def set_any(self, serial: bool = False) -> int:
        """Mark the lowest free ordinal (or the next after the cursor) used.

        Raises:
            NoBitAvailableError: Every ordinal is used.
        """
        return self._allocate(0, self.bits - 1, serial)

    def set_any_in_range(self, start: int, end: int, serial: bool = False) -> int:
        """Like `set_any`, restricted to the inclusive range.

        Raises:
            ValueError: ``end < start`` or the range leaves the bitmap.
            NoBitAvailableError: Every ordinal of the range is used.
        """
        if not 0 <= start <= end < self.bits:
            raise ValueError(f"bad search range ({start}, {end})")
        return self._allocate(start, end, serial)

    def ranges(self) -> Iterator[tuple[int, int]]:
        """Iterate over the inclusive ranges of used ordinals, ascending."""
        raise NotImplementedError

    def is_set(self, ordinal: int) -> bool:
        """Tell whether ``ordinal`` is used (``False`` outside the bitmap)."""
        raise NotImplementedError

    def _allocate(self, start: int, end: int, serial: bool) -> int:
        cursor = self._cursor
        if serial and start <= cursor <= end:
            found = self._search(cursor, end)
            if found is None and cursor > start:
                found = self._search(start, cursor - 1)
        else:
            found = self._search(start, end)
        if found is None:
            raise NoBitAvailableError(f"no free ordinal in [{start}, {end}]")

        self._take(found)
        if found == self._low:
            self._low = found + 1
        if serial:
            self._cursor = (found + 1) % self.bits
        return found

    def _search(self, start: int, end: int) -> int | None:
        # A search that begins at or below the mark may start at the mark and,
        # having seen everything up to what it finds, move the mark there.
        low = self._low
        if start > low:
            return self._scan(start, end)
        found = self._scan(low, end)
        self._low = end + 1 if found is None else found
        return found

    def _scan(self, start: int, end: int) -> int | None:
        raise NotImplementedError

    def _take(self, ordinal: int) -> None:
        raise NotImplementedError

    def _check_range(self, start: int, end: int) -> None:
        for ordinal in (start, end):
            if not 0 <= ordinal < self.bits:
                raise IndexError(ordinal)
        if end < start:
            raise ValueError(f"bad range ({start}, {end})")

    def _freed(self, start: int) -> None:
        if start < self._low:
            self._low = start


class SetBaseline(_Baseline):
    """Used ordinals in a Python ``set``; searches step one ordinal at a time.

    It holds any number of ordinals, but a search costs one set lookup per
    used ordinal it steps over, and memory grows with the used count.
    """

    MAX_BITS = 2**128

    def __init__(self, bits: int) -> None:
        super().__init__(bits)
        self._used: set[int] = set()

    @property
    def free(self) -> int:
        """Number of free ordinals."""
        return self.bits - len(self._used)

    def is_set(self, ordinal: int) -> bool:
        """Tell whether ``ordinal`` is used (``False`` outside the bitmap)."""
        return ordinal in self._used

    def set(self, ordinal: int) -> None:
        """Mark ``ordinal`` used; `BitAllocatedError` if it already is."""
        if not 0 <= ordinal < self.bits:
            raise IndexError(ordinal)
        if ordinal in self._used:
            raise BitAllocatedError(ordinal)
        self._used.add(ordinal)

    def unset(self, ordinal: int) -> bool:
        """Mark ``ordinal`` free; return whether it was used."""
        if not 0 <= ordinal < self.bits:
            raise IndexError(ordinal)
        if ordinal not in self._used:
            return False
        self._used.remove(ordinal)
        self._freed(ordinal)
        return True

    def set_range(self, start: int, end: int) -> None:
        """Mark every ordinal of the range used, or none if one already is."""
        self._check_range(start, end)
        if self._used_within(start, end):
            raise BitAllocatedError(start)
        self._used.update(range(start, end + 1))

    def unset_range(self, start: int, end: int) -> int:
        """Mark every ordinal of the range free; return how many were used."""
        self._check_range(start, end)
        gone = self._used_within(start, end)
        self._used.difference_update(gone)
        self._freed(start)
        return len(gone)

    def ranges(self) -> Iterator[tuple[int, int]]:
        """Iterate over the inclusive ranges of used ordinals, ascending."""
        return group_ranges(sorted(self._used))

    def _used_within(self, start: int, end: int) -> list[int]:
        # Walk whichever is shorter: the range or the used set.
        if end - start + 1 <= len(self._used):
            return [x for x in range(start, end + 1) if x in self._used]
        return [x for x in self._used if start <= x <= end]

    def _scan(self, start: int, end: int) -> int | None:
        used = self._used
        while start <= end and start in used:
            start += 1
        return start if start <= end else None

    def _take(self, ordinal: int) -> None:
        self._used.add(ordinal)


class BitarrayBaseline(_Baseline):
    """One bit per ordinal in a ``bitarray``; searches with ``find(0)``.

    Memory is ``bits / 8`` bytes whatever the state, so it stops at 2**32
    ordinals (512 MiB).
    """

    MAX_BITS = 2**32

    def __init__(self, bits: int) -> None:
        super().__init__(bits)
        self._array: bitarray = zeros(bits)

    @property
    def free(self) -> int:
        """Number of free ordinals."""
        return self.bits - self._array.count(1)

    def is_set(self, ordinal: int) -> bool:
        """Tell whether ``ordinal`` is used (``False`` outside the bitmap)."""
        return 0 <= ordinal < self.bits and self._array[ordinal] == 1

    def set(self, ordinal: int) -> None:
        """Mark ``ordinal`` used; `BitAllocatedError` if it already is."""
        if not 0 <= ordinal < self.bits:
            raise IndexError(ordinal)
        if self._array[ordinal]:
            raise BitAllocatedError(ordinal)
        self._array[ordinal] = 1

    def unset(self, ordinal: int) -> bool:
        """Mark ``ordinal`` free; return whether it was used."""
        if not 0 <= ordinal < self.bits:
            raise IndexError(ordinal)
        if not self._array[ordinal]:
            return False
        self._array[ordinal] = 0
        self._freed(ordinal)
        return True

    def set_range(self, start: int, end: int) -> None:
        """Mark every ordinal of the range used, or none if one already is."""
        self._check_range(start, end)
        if self._array.count(1, start, end + 1):
            raise BitAllocatedError(start)
        self._array[start : end + 1] = 1

    def unset_range(self, start: int, end: int) -> int:
        """Mark every ordinal of the range free; return how many were used."""
        self._check_range(start, end)
        gone = self._array.count(1, start, end + 1)
        self._array[start : end + 1] = 0
        self._freed(start)
        return gone

    def ranges(self) -> Iterator[tuple[int, int]]:
        """Iterate over the inclusive ranges of used ordinals, ascending."""
        for value, start, stop in intervals(self._array):
            if value:
                yield start, stop - 1

    def _scan(self, start: int, end: int) -> int | None:
        found: int = self._array.find(0, start, end + 1)
        return None if found < 0 else found

    def _take(self, ordinal: int) -> None:
        self._array[ordinal] = 1


class RoaringBaseline(_Baseline):
    """Used ordinals in a roaring bitmap; searches gallop over range counts.

    ``BitMap`` holds ordinals below 2**32 and ``BitMap64`` below 2**64.  The
    lowest free ordinal at or after ``start`` is found by doubling a window
    while it is entirely used, then halving: O(log gap) range counts.
    """

    MAX_BITS = 2**64

    def __init__(self, bits: int) -> None:
        super().__init__(bits)
        self._used: BitMap | BitMap64 = BitMap() if bits <= 2**32 else BitMap64()

    @property
    def free(self) -> int:
        """Number of free ordinals."""
        return self.bits - len(self._used)

    def is_set(self, ordinal: int) -> bool:
        """Tell whether ``ordinal`` is used (``False`` outside the bitmap)."""
        return 0 <= ordinal < self.bits and ordinal in self._used

    def set(self, ordinal: int) -> None:
        """Mark ``ordinal`` used; `BitAllocatedError` if it already is."""
        if not 0 <= ordinal < self.bits:
            raise IndexError(ordinal)
        if ordinal in self._used:
            raise BitAllocatedError(ordinal)
        self._used.add(ordinal)

    def unset(self, ordinal: int) -> bool:
        """Mark ``ordinal`` free; return whether it was used."""
        if not 0 <= ordinal < self.bits:
            raise IndexError(ordinal)
        if ordinal not in self._used:
            return False
        self._used.discard(ordinal)
        self._freed(ordinal)
        return True

    def set_range(self, start: int, end: int) -> None:
        """Mark every ordinal of the range used, or none if one already is."""
        self._check_range(start, end)
        if self._count(start, end):
            raise BitAllocatedError(start)
        self._used.add_range(start, end)
        self._used.add(end)

    def unset_range(self, start: int, end: int) -> int:
        """Mark every ordinal of the range free; return how many were used."""
        self._check_range(start, end)
        gone = self._count(start, end)
        self._used.remove_range(start, end)
        self._used.discard(end)
        self._freed(start)
        return gone

    def ranges(self) -> Iterator[tuple[int, int]]:
        """Iterate over the inclusive ranges of used ordinals, ascending."""
        return group_ranges(self._used)

    def _count(self, start: int, end: int) -> int:
        # pyroaring's ranges are half-open and their end must fit in 64 bits,
        # so the last ordinal is counted on its own: 2**64 - 1 stays usable.
        inside: int = self._used.range_cardinality(start, end)
        return inside + (end in self._used)

    def _scan(self, start: int, end: int) -> int | None:
        if start > end:
            return None
        if start not in self._used:
            return start
        span, full = end - start + 1, 1
        while True:
            if full == span:
                return None
            width = min(2 * full, span)
            if self._count(start, start + width - 1) < width:
                break
            full = width
        while width - full > 1:
            middle = (full + width) // 2
            if self._count(start, start + middle - 1) == middle:
                full = middle
            else:
                width = middle
        return start + full

    def _take(self, ordinal: int) -> None:
        self._used.add(ordinal)


BASELINES: dict[str, Baseline] = {
    "set": SetBaseline,
    "bitarray": BitarrayBaseline,
    "roaring": RoaringBaseline,
}
