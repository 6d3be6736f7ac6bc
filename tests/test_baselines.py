"""The benchmark baselines behave like the reference model, step by step.

Each baseline is driven in lockstep with ``ModelBitmap`` by a hypothesis
state machine; every answer (value or error class) and the used ranges, free
count and run count after every step must match.  Sizes cover the edges each
baseline supports: small bitmaps, 2**32 and 2**64 for the roaring one (the
switch from ``BitMap`` to ``BitMap64`` and the top ordinal), 2**128 for the
set one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from model import ModelBitmap

from benchmarks.baselines import (
    Baseline,
    BitarrayBaseline,
    RoaringBaseline,
    SetBaseline,
    group_ranges,
)
from ipamcore import BitmapError

EDGE = 24
SMALL = st.integers(1, 70)
MACHINE_SETTINGS = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def outcome(call: Callable[[], object]) -> tuple[str, object]:
    """Run ``call`` and return its value or the class of its error."""
    try:
        return "value", call()
    except (BitmapError, IndexError, ValueError) as exc:
        return "error", type(exc)


def ordinals(bits: int) -> st.SearchStrategy[int]:
    """Ordinals inside ``[0, bits)``, mostly near the two ends to collide."""
    return st.one_of(
        st.integers(0, min(bits, EDGE) - 1),
        st.integers(max(0, bits - EDGE), bits - 1),
        st.integers(0, bits - 1),
    )


def outside(bits: int) -> st.SearchStrategy[int]:
    """Ordinals just outside ``[0, bits)`` on either side."""
    return st.one_of(st.integers(-3, -1), st.integers(bits, bits + 2))


class BaselineMachine(RuleBasedStateMachine):
    """Drives one baseline class and the model with the same calls."""

    baseline: ClassVar[Baseline]
    sizes: ClassVar[st.SearchStrategy[int]]

    @initialize(data=st.data())
    def create(self, data: st.DataObject) -> None:
        """Build both bitmaps with a drawn size."""
        self.bits = data.draw(self.sizes, label="bits")
        self.model = ModelBitmap(self.bits)
        self.subject = self.baseline(self.bits)

    def same(self, method: str, *args: object) -> None:
        """Call ``method`` on both and require the same outcome."""
        expected = outcome(lambda: getattr(self.model, method)(*args))
        actual = outcome(lambda: getattr(self.subject, method)(*args))
        assert actual == expected, (method, args)

    def span(self, data: st.DataObject) -> tuple[int, int]:
        """Draw a short inclusive range inside the bitmap."""
        start = data.draw(ordinals(self.bits), label="start")
        length = data.draw(st.integers(1, EDGE), label="length")
        return start, min(start + length - 1, self.bits - 1)

    @rule(data=st.data())
    def set(self, data: st.DataObject) -> None:
        """Mark one ordinal used."""
        self.same("set", data.draw(ordinals(self.bits)))

    @rule(data=st.data())
    def unset(self, data: st.DataObject) -> None:
        """Mark one ordinal free."""
        self.same("unset", data.draw(ordinals(self.bits)))

    @rule(data=st.data())
    def is_set(self, data: st.DataObject) -> None:
        """Ask about an ordinal, possibly outside the bitmap."""
        ordinal = data.draw(st.one_of(ordinals(self.bits), outside(self.bits)))
        self.same("is_set", ordinal)
        self.same("__contains__", ordinal)

    @rule(serial=st.booleans())
    def set_any(self, serial: bool) -> None:
        """Take the lowest free ordinal, or the next one after the cursor."""
        self.same("set_any", serial)

    @rule(data=st.data(), serial=st.booleans())
    def set_any_in_range(self, data: st.DataObject, serial: bool) -> None:
        """Take a free ordinal of a short range."""
        self.same("set_any_in_range", *self.span(data), serial)

    @rule(data=st.data(), serial=st.booleans())
    def set_any_in_prefix(self, data: st.DataObject, serial: bool) -> None:
        """Take a free ordinal of a short range starting at 0."""
        end = data.draw(st.integers(0, min(self.bits, EDGE) - 1), label="end")
        self.same("set_any_in_range", 0, end, serial)

    @rule(data=st.data())
    def set_range(self, data: st.DataObject) -> None:
        """Reserve a short range, all or nothing."""
        self.same("set_range", *self.span(data))

    @rule(data=st.data())
    def unset_range(self, data: st.DataObject) -> None:
        """Free a short range."""
        self.same("unset_range", *self.span(data))

    @rule()
    def unset_everything(self) -> None:
        """Free the whole bitmap in one call."""
        self.same("unset_range", 0, self.bits - 1)

    @rule(data=st.data())
    def bad_ordinal(self, data: st.DataObject) -> None:
        """Single-ordinal calls outside the bitmap fail alike."""
        ordinal = data.draw(outside(self.bits))
        method = data.draw(st.sampled_from(["set", "unset"]))
        self.same(method, ordinal)

    @rule(data=st.data())
    def bad_range(self, data: st.DataObject) -> None:
        """Range calls with reversed or outside ends fail alike."""
        start, end = self.span(data)
        bad = data.draw(
            st.sampled_from(
                [(end + 1, start), (start, self.bits), (-1, end), (end, start - 1)]
            )
        )
        if 0 <= bad[0] <= bad[1] < self.bits:
            return
        for method in ("set_range", "unset_range", "set_any_in_range"):
            self.same(method, *bad)

    @invariant()
    def same_state(self) -> None:
        """The used ranges, free count and run count match the model's."""
        if not hasattr(self, "model"):
            return
        assert list(self.subject.ranges()) == list(self.model.ranges())
        assert self.subject.free == self.model.free
        assert self.subject.runs == self.model.runs


@MACHINE_SETTINGS
class SetMachine(BaselineMachine):
    """`SetBaseline` against the model, up to 2**128 ordinals."""

    baseline = SetBaseline
    sizes = st.one_of(SMALL, st.sampled_from([2**32, 2**64, 2**128]))


@MACHINE_SETTINGS
class BitarrayMachine(BaselineMachine):
    """`BitarrayBaseline` against the model, up to 2**16 + 1 ordinals."""

    baseline = BitarrayBaseline
    sizes = st.one_of(SMALL, st.sampled_from([2**16, 2**16 + 1]))


@MACHINE_SETTINGS
class RoaringMachine(BaselineMachine):
    """`RoaringBaseline` against the model, on both sides of 2**32."""

    baseline = RoaringBaseline
    sizes = st.one_of(SMALL, st.sampled_from([2**32, 2**32 + 1, 2**64]))


TestSetBaseline = SetMachine.TestCase
TestBitarrayBaseline = BitarrayMachine.TestCase
TestRoaringBaseline = RoaringMachine.TestCase


@pytest.mark.parametrize("baseline", [SetBaseline, BitarrayBaseline, RoaringBaseline])
@pytest.mark.parametrize("bits", [0, -1, "too big"])
def test_size_limits(baseline: Baseline, bits: int | str) -> None:
    """A baseline refuses fewer than 1 ordinal and more than ``MAX_BITS``."""
    size = bits if isinstance(bits, int) else baseline.MAX_BITS + 1
    with pytest.raises(ValueError):
        baseline(size)


@pytest.mark.parametrize("baseline", [SetBaseline, RoaringBaseline])
def test_top_ordinal(baseline: Baseline) -> None:
    """The last ordinal of the largest bitmap is usable."""
    subject = baseline(baseline.MAX_BITS)
    top = baseline.MAX_BITS - 1
    subject.set_range(top - 2, top)
    assert subject.set_any_in_range(top - 4, top) == top - 4
    assert list(subject.ranges()) == [(top - 4, top - 4), (top - 2, top)]
    assert subject.unset_range(top - 3, top) == 3


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], []), ([5], [(5, 5)]), ([1, 2, 3, 7, 9, 10], [(1, 3), (7, 7), (9, 10)])],
)
def test_group_ranges(values: list[int], expected: list[tuple[int, int]]) -> None:
    """Consecutive values fold into inclusive ranges."""
    assert list(group_ranges(values)) == expected
