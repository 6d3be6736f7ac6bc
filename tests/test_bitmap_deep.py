"""Long random runs on trees several levels deep, against a dense model.

The hypothesis machine keeps bitmaps small enough for its slow model; these
runs grow trees of thousands of entries, so that leaf and inner-node splits,
merges, borrowing and root changes all happen many times, and blocks turn
into chunks and back.  The model is a bytearray with one byte per ordinal.
Seeds are part of the test id.
"""

from __future__ import annotations

import random

import pytest

from ipamcore import BitAllocatedError, Bitmap, NoBitAvailableError

BITS = 1 << 20
# The lower half starts fragmented (chunks), the upper half sparse (run
# entries spaced so that no block holds enough of them to become a chunk).
SPARSE_FROM = BITS // 2
SPARSE_STRIDE = 300


class Dense:
    """One byte per ordinal: 1 used, 0 free."""

    def __init__(self, bits: int) -> None:
        self.cells = bytearray(bits)
        self.cursor = 0

    def first_free(self, start: int, end: int) -> int:
        return self.cells.find(0, start, end + 1)

    def ranges(self) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        i = self.cells.find(1)
        while i >= 0:
            j = self.cells.find(0, i)
            j = len(self.cells) if j < 0 else j
            out.append((i, j - 1))
            i = self.cells.find(1, j)
        return out


def take_any(dense: Dense, start: int, end: int, serial: bool) -> int:
    """The model's answer to set_any_in_range."""
    found = -1
    if serial and start <= dense.cursor <= end:
        found = dense.first_free(dense.cursor, end)
        if found < 0 and dense.cursor > start:
            found = dense.first_free(start, dense.cursor - 1)
    else:
        found = dense.first_free(start, end)
    if found >= 0:
        dense.cells[found] = 1
        if serial:
            dense.cursor = (found + 1) % len(dense.cells)
    return found


def step(rng: random.Random, bm: Bitmap, dense: Dense) -> None:
    """Apply one random operation to both and compare the answers."""
    kind = rng.randrange(6)
    a = rng.randrange(BITS)
    b = min(BITS - 1, a + rng.choice([0, 1, 2, 7, 40, 300]))
    if kind == 0:
        if dense.cells[a]:
            with pytest.raises(BitAllocatedError):
                bm.set(a)
        else:
            bm.set(a)
            dense.cells[a] = 1
    elif kind == 1:
        assert bm.unset(a) == bool(dense.cells[a])
        dense.cells[a] = 0
    elif kind in (2, 3):
        serial = kind == 3
        want = take_any(dense, a, b, serial)
        if want < 0:
            with pytest.raises(NoBitAvailableError):
                bm.set_any_in_range(a, b, serial)
        else:
            assert bm.set_any_in_range(a, b, serial) == want
    elif kind == 4:
        used = dense.cells.count(1, a, b + 1)
        assert bm.unset_range(a, b) == used
        dense.cells[a : b + 1] = bytes(b - a + 1)
    else:
        if dense.cells.find(1, a, b + 1) >= 0:
            with pytest.raises(BitAllocatedError):
                bm.set_range(a, b)
        else:
            bm.set_range(a, b)
            dense.cells[a : b + 1] = b"\x01" * (b - a + 1)


def seed_layout(rng: random.Random, bm: Bitmap, dense: Dense) -> None:
    """Fragment the lower half at random and scatter runs over the upper."""
    for ordinal in rng.sample(range(SPARSE_FROM), SPARSE_FROM // 2):
        bm.set(ordinal)
        dense.cells[ordinal] = 1
    for ordinal in range(SPARSE_FROM, BITS, SPARSE_STRIDE):
        bm.set(ordinal)
        dense.cells[ordinal] = 1


@pytest.mark.parametrize("seed", [1, 2, 3, 42])
def test_deep_tree_random_operations(seed: int) -> None:
    rng = random.Random(seed)
    bm, dense = Bitmap(BITS), Dense(BITS)
    seed_layout(rng, bm, dense)
    assert bm._height >= 2 and bm._chunks == SPARSE_FROM // 4096
    for i in range(20_000):
        step(rng, bm, dense)
        if i % 2000 == 0:
            bm._check_invariants()
    bm._check_invariants()
    assert list(bm.ranges()) == dense.ranges()
    assert bm.free == dense.cells.count(0)


@pytest.mark.parametrize("seed", [5, 6])
def test_tree_grows_and_shrinks_to_a_leaf(seed: int) -> None:
    """Fill with chunks and scattered runs, then empty it in random order."""
    rng = random.Random(seed)
    bm, dense = Bitmap(BITS), Dense(BITS)
    seed_layout(rng, bm, dense)
    assert bm._height >= 2
    used = [i for i in range(BITS) if dense.cells[i]]
    rng.shuffle(used)
    for i, ordinal in enumerate(used):
        assert bm.unset(ordinal)
        if i % 20_000 == 0:
            bm._check_invariants()
    bm._check_invariants()
    assert bm._height == 0 and bm._chunks == 0
    assert bm.free == BITS and bm.runs == 1
