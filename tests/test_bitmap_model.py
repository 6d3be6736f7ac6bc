"""Stateful tests: the compiled Bitmap against the reference model."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from model import ModelBitmap

from ipamcore import BitAllocatedError, Bitmap, NoBitAvailableError

SIZES = [
    1,
    2,
    3,
    31,
    32,
    33,
    64,
    100,
    1000,
    65536,
    2**32 + 5,
    2**64,
    2**64 + 1,
    2**128 - 1,
    2**128,
]


def outcome(call: Callable[..., object], *args: object) -> tuple[str, object]:
    """Return ("ok", result) or ("error", exception class)."""
    try:
        return ("ok", call(*args))
    except (BitAllocatedError, NoBitAvailableError, IndexError, ValueError) as exc:
        return ("error", type(exc))


class BitmapMachine(RuleBasedStateMachine):
    """Drive Bitmap and ModelBitmap with the same calls; compare everything."""

    @initialize(bits=st.sampled_from(SIZES), data=st.data())
    def start(self, bits: int, data: st.DataObject) -> None:
        self.real = Bitmap(bits)
        self.model = ModelBitmap(bits)
        self.data = data

    def ordinal(self) -> int:
        """Draw an ordinal near something interesting."""
        bits = self.model.bits
        anchors = [0, bits - 1, bits // 2, 2**32, 2**64]
        for start, end in self.model.used[:50]:
            anchors += [start, end]
        anchor = self.data.draw(st.sampled_from(anchors))
        offset = self.data.draw(st.integers(-3, 3))
        return min(max(anchor + offset, 0), bits - 1)

    def both(self, name: str, *args: object) -> object:
        got = outcome(getattr(self.real, name), *args)
        want = outcome(getattr(self.model, name), *args)
        assert got == want, (name, args)
        return got

    @rule()
    def set_one(self) -> None:
        self.both("set", self.ordinal())

    @rule()
    def unset_one(self) -> None:
        self.both("unset", self.ordinal())

    @rule(serial=st.booleans())
    def set_any(self, serial: bool) -> None:
        self.both("set_any", serial)

    @rule(serial=st.booleans())
    def set_any_in_range(self, serial: bool) -> None:
        start, end = sorted([self.ordinal(), self.ordinal()])
        self.both("set_any_in_range", start, end, serial)

    @rule()
    def move_cursor(self) -> None:
        ordinal = self.ordinal()
        self.real.cursor = ordinal
        self.model.cursor = ordinal

    @rule()
    def set_range(self) -> None:
        start, end = sorted([self.ordinal(), self.ordinal()])
        self.both("set_range", start, end)

    @rule()
    def unset_range(self) -> None:
        start, end = sorted([self.ordinal(), self.ordinal()])
        self.both("unset_range", start, end)

    @rule()
    def queries(self) -> None:
        a, b = self.ordinal(), self.ordinal()
        self.both("is_set", a)
        self.both("find_free", min(a, b), max(a, b))
        self.both("find_used", min(a, b), max(a, b))

    @precondition(lambda self: self.model.bits >= 4096)
    @rule(base=st.integers(0, 2**20), step=st.integers(2, 5), count=st.integers(1, 400))
    def scatter(self, base: int, step: int, count: int) -> None:
        """Add many separate runs at once, to grow the tree several levels."""
        base = min(base, self.model.bits - step * count - 1)
        for i in range(count):
            self.both("set", base + i * step)

    @rule()
    def copy_and_roundtrip(self) -> None:
        twin = self.real.copy()
        assert twin == self.real
        assert Bitmap.from_bytes(self.real.to_bytes()) == self.real
        if self.model.bits < 2**64:
            back = Bitmap.from_libnetwork(self.real.to_libnetwork())
            assert list(back.ranges()) == self.model.used

    @invariant()
    def same_state(self) -> None:
        self.real._check_invariants()
        assert list(self.real.ranges()) == self.model.used
        assert self.real.free == self.model.free
        assert self.real.runs == self.model.runs
        assert self.real.cursor == self.model.cursor


BitmapMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=50, deadline=None
)
test_bitmap_against_model = BitmapMachine.TestCase
