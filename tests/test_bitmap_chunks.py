"""Tests of the Bitmap's chunks: blocks of 4096 ordinals kept as plain bits.

A block turns into a chunk when it fills with many short runs and back into
run entries when it fills up, empties or thins out.  None of that may show
in what the bitmap answers; these tests drive blocks through every change
and compare with the reference model, and check that the change of form
really happens, so that the comparisons are not made on runs alone.
"""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule
from model import ModelBitmap
from test_bitmap_model import BitmapMachine

from ipamcore import Bitmap

BLOCK = 4096


def fragment(bm: Bitmap, start: int, end: int, stride: int = 2) -> None:
    """Set every stride-th ordinal of [start, end]."""
    for ordinal in range(start, end + 1, stride):
        bm.set(ordinal)


def model_runs(bm: Bitmap) -> int:
    """The reference model's run count for the ranges bm reports."""
    model = ModelBitmap(bm.bits)
    model.used = list(bm.ranges())
    return model.runs


def ranges_of(ordinals: list[int]) -> list[tuple[int, int]]:
    """The used ranges of a set of ordinals, the slow way."""
    out: list[tuple[int, int]] = []
    for ordinal in sorted(ordinals):
        if out and out[-1][1] + 1 == ordinal:
            out[-1] = (out[-1][0], ordinal)
        else:
            out.append((ordinal, ordinal))
    return out


# -- a block's changes of form --------------------------------------------


def test_a_fragmented_block_becomes_a_chunk() -> None:
    bm = Bitmap(4 * BLOCK)
    fragment(bm, BLOCK, BLOCK + 99)
    assert bm._chunks == 1
    assert list(bm.ranges()) == [(i, i) for i in range(BLOCK, BLOCK + 100, 2)]
    assert (bm.free, bm.runs) == (4 * BLOCK - 50, 101)
    bm._check_invariants()


def test_a_few_runs_stay_run_entries() -> None:
    bm = Bitmap(4 * BLOCK)
    fragment(bm, 0, 31)
    assert bm._chunks == 0 and bm.runs == 32


def test_a_block_past_the_end_never_becomes_a_chunk() -> None:
    bm = Bitmap(BLOCK + 200)
    fragment(bm, BLOCK, BLOCK + 199)
    assert bm._chunks == 0
    assert len(list(bm.ranges())) == 100
    bm._check_invariants()


def test_a_full_chunk_becomes_one_run_merged_with_its_neighbours() -> None:
    bm = Bitmap(4 * BLOCK)
    bm.set_range(BLOCK - 10, BLOCK - 1)
    bm.set_range(2 * BLOCK, 2 * BLOCK + 9)
    fragment(bm, BLOCK, 2 * BLOCK - 1)
    assert bm._chunks == 1
    while bm.find_free(BLOCK - 10, 2 * BLOCK + 9) is not None:
        bm.set_any_in_range(BLOCK - 10, 2 * BLOCK + 9)
    assert bm._chunks == 0
    assert list(bm.ranges()) == [(BLOCK - 10, 2 * BLOCK + 9)]
    assert bm.runs == 3
    bm._check_invariants()


def test_an_emptied_chunk_is_dropped() -> None:
    bm = Bitmap(4 * BLOCK)
    fragment(bm, BLOCK, 2 * BLOCK - 1, stride=3)
    assert bm._chunks == 1
    assert bm.unset_range(BLOCK, 2 * BLOCK - 1) == len(range(BLOCK, 2 * BLOCK, 3))
    assert bm._chunks == 0 and bm.free == bm.bits and bm.runs == 1
    bm._check_invariants()


def test_a_thinned_chunk_turns_back_into_runs() -> None:
    bm = Bitmap(4 * BLOCK)
    fragment(bm, BLOCK, 2 * BLOCK - 1)
    kept = list(range(BLOCK, 2 * BLOCK, 2))[::400]
    for ordinal in range(BLOCK, 2 * BLOCK, 2):
        if ordinal not in kept:
            bm.unset(ordinal)
    assert len(kept) <= 6
    assert bm._chunks == 0
    assert list(bm.ranges()) == ranges_of(kept)
    bm._check_invariants()


def test_unset_range_thins_the_chunks_at_its_ends() -> None:
    bm = Bitmap(4 * BLOCK)
    fragment(bm, BLOCK, 3 * BLOCK - 1)
    assert bm._chunks == 2
    bm.unset_range(BLOCK + 6, 3 * BLOCK - 7)
    assert bm._chunks == 0
    kept = [BLOCK, BLOCK + 2, BLOCK + 4, 3 * BLOCK - 6, 3 * BLOCK - 4, 3 * BLOCK - 2]
    assert list(bm.ranges()) == ranges_of(kept)
    bm._check_invariants()


def test_a_run_entry_touching_a_chunk_counts_as_one_used_run() -> None:
    bm = Bitmap(4 * BLOCK)
    bm.set_range(BLOCK - 50, BLOCK)
    fragment(bm, BLOCK + 2, BLOCK + 99)
    assert bm._chunks == 1
    ranges = list(bm.ranges())
    assert ranges[0] == (BLOCK - 50, BLOCK)
    bm.set(BLOCK + 1)
    assert next(bm.ranges()) == (BLOCK - 50, BLOCK + 2)
    assert bm.runs == model_runs(bm) == 2 * len(list(bm.ranges())) + 1
    bm.unset(BLOCK)
    assert list(bm.ranges())[:2] == [(BLOCK - 50, BLOCK - 1), (BLOCK + 1, BLOCK + 2)]
    bm._check_invariants()


def test_runs_cross_from_one_chunk_into_the_next() -> None:
    bm = Bitmap(4 * BLOCK)
    fragment(bm, BLOCK, 3 * BLOCK - 1)
    bm.set_range(2 * BLOCK - 1, 2 * BLOCK - 1)
    bm.set(2 * BLOCK + 1)
    assert bm._chunks == 2
    assert (2 * BLOCK - 2, 2 * BLOCK + 2) in list(bm.ranges())
    assert bm.find_free(2 * BLOCK - 2, 3 * BLOCK) == 2 * BLOCK + 3
    bm._check_invariants()


@pytest.mark.parametrize("bits", [2**64, 2**128])
def test_chunks_at_the_top_of_the_largest_bitmaps(bits: int) -> None:
    bm = Bitmap(bits)
    top = bits - 1
    fragment(bm, top - 98, top)
    assert bm._chunks == 1
    assert bm.is_set(top) and not bm.is_set(top - 1)
    assert bm.set_any_in_range(top - 100, top) == top - 100
    assert bm.set_any_in_range(top - 100, top, serial=True) == top - 99
    assert bm.find_used(top - 97, top) == top - 96
    assert list(bm.ranges())[:2] == [(top - 100, top - 98), (top - 96, top - 96)]
    assert bm.runs == model_runs(bm) == 2 * 50
    assert Bitmap.from_bytes(bm.to_bytes()) == bm
    bm._check_invariants()


# -- value semantics across forms -----------------------------------------


def test_equal_content_is_equal_whatever_the_form() -> None:
    """Eight runs kept in a chunk equal the same eight as run entries."""
    chunked = Bitmap(4 * BLOCK)
    fragment(chunked, BLOCK, BLOCK + 99)
    for ordinal in range(BLOCK + 16, BLOCK + 100, 2):
        chunked.unset(ordinal)
    plain = Bitmap(4 * BLOCK)
    fragment(plain, BLOCK, BLOCK + 15)
    assert chunked._chunks == 1 and plain._chunks == 0
    assert chunked == plain
    assert not chunked != plain  # noqa: SIM202 (__ne__ is its own method)
    assert chunked.to_bytes() == plain.to_bytes()
    assert chunked.to_libnetwork() == plain.to_libnetwork()


def test_copy_pickle_and_encodings_keep_chunks_apart() -> None:
    bm = Bitmap(8 * BLOCK)
    fragment(bm, BLOCK, 3 * BLOCK + 17, stride=3)
    bm.set_range(5 * BLOCK, 6 * BLOCK)
    twins = [
        bm.copy(),
        copy.deepcopy(bm),
        pickle.loads(pickle.dumps(bm)),
        Bitmap.from_bytes(bm.to_bytes()),
        Bitmap.from_libnetwork(bm.to_libnetwork()),
    ]
    before = list(bm.ranges())
    for twin in twins:
        assert twin == bm and twin._chunks == bm._chunks == 2
        twin.unset_range(0, twin.bits - 1)
        twin._check_invariants()
    assert list(bm.ranges()) == before
    bm._check_invariants()


def test_libnetwork_import_builds_chunks() -> None:
    alternating = Bitmap(BLOCK * 2)
    fragment(alternating, 0, 2 * BLOCK - 1)
    data = alternating.to_libnetwork()
    assert len(data) == 16 + 12
    back = Bitmap.from_libnetwork(data)
    assert back._chunks == 2 and back == alternating
    back._check_invariants()


# -- the state machine, crowded into a few blocks -------------------------


CHUNK_SIZES = [4 * BLOCK + 17, 2**32 + 5, 2**64, 2**128 - 1, 2**128]


class ChunkMachine(BitmapMachine):
    """BitmapMachine's comparison, with its ordinals packed into three blocks.

    The window lies either at the start of the bitmap's second block or at
    the very top, so that the last block (whole or cut short) is covered.
    """

    @initialize(bits=st.sampled_from(CHUNK_SIZES), top=st.booleans(), data=st.data())
    def start(self, bits: int, top: bool, data: st.DataObject) -> None:
        self.real = Bitmap(bits)
        self.model = ModelBitmap(bits)
        self.data = data
        self.low = bits - 3 * BLOCK - 40 if top else BLOCK - 40
        self.high = min(bits - 1, self.low + 3 * BLOCK + 80)

    def ordinal(self) -> int:
        """Draw an ordinal of the window, often near a block's edge."""
        edges = [self.low, self.high]
        first = -(-self.low // BLOCK) * BLOCK
        edges += list(range(first, self.high + 1, BLOCK))
        edges += [e - 1 for e in edges]
        near = self.data.draw(st.sampled_from(edges)) + self.data.draw(
            st.integers(-3, 3)
        )
        anywhere = self.data.draw(st.integers(self.low, self.high))
        ordinal = self.data.draw(st.sampled_from([near, anywhere]))
        return min(max(ordinal, self.low), self.high)

    @rule(stride=st.integers(2, 4), count=st.integers(1, 80))
    def scatter(self, stride: int, count: int) -> None:
        """Add many short runs, enough to turn a block into a chunk."""
        base = self.ordinal()
        for ordinal in range(base, min(self.high, base + stride * count), stride):
            self.both("set", ordinal)

    @rule()
    def fill_stretch(self) -> None:
        """Take every free ordinal of a stretch, as a full pool does."""
        start, end = sorted([self.ordinal(), self.ordinal()])
        end = min(end, start + 100)
        for _ in range(end - start + 2):
            self.both("set_any_in_range", start, end, False)

    @rule()
    def thin_out(self) -> None:
        """Free most of a stretch one ordinal at a time, sparing a few."""
        start, end = sorted([self.ordinal(), self.ordinal()])
        for ordinal in range(start, min(end, start + 200) + 1):
            if ordinal % 37:
                self.both("unset", ordinal)

    @invariant()
    def note_the_form(self) -> None:
        """Report in hypothesis's statistics how many runs met a chunk."""
        event("chunks present" if self.real._chunks else "run entries only")


ChunkMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=30, deadline=None
)
test_chunks_against_model = ChunkMachine.TestCase


def test_scatter_as_the_machine_does_makes_a_chunk() -> None:
    """The machine's window and scatter rule do reach chunks."""
    bm = Bitmap(CHUNK_SIZES[0])
    fragment(bm, BLOCK - 40, BLOCK + 600, stride=2)
    assert bm._chunks >= 1
