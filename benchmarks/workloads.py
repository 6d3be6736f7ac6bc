"""The benchmark workloads, defined here once for every runner.

The bitmap workloads are W1-W7 and S, the allocator workloads I1-I4; the
docstring of each workload's function (`fill16`, `churn16`, ...,
`release_request_v6`) says what it does and at what scale, and `WORKLOADS`
lists them all under their ids and names.

A workload turns an implementation factory into a `Trial`: the subject is
built and every random choice drawn (from ``random.Random(42)``) before the
clock starts, and the trial's ``run`` is the timed loop.  The pytest-benchmark
suites and ``python -m benchmarks.compare`` both time these same loops.

Random draws are replayed on plain Python data ahead of time ("plans"), so
that each churn loop only calls the allocator: "unset a random used ordinal"
is drawn from the ordinals the replay knows are used at that step, and the
plan also records the used ranges the subject must end with, which
`Trial.check` compares after timing.  Plans are cached per process.

The timed loops run in batches of `BATCH` operations and look at the clock
between batches, so a runner can stop a slow implementation at a deadline;
``run(deadline)`` returns the number of operations done.

For development only, ``IPAMCORE_BENCH_SCALE`` (default 1) multiplies the
number of timed operations (not the sizes of the bitmaps); figures taken at
another scale are not the workloads defined here.
"""

from __future__ import annotations

import ipaddress
import os
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from heapq import heappushpop
from itertools import repeat
from time import perf_counter
from typing import Any, Protocol, TypeVar

__all__ = [
    "BATCH",
    "SCALE",
    "SEED",
    "WORKLOADS",
    "OrdinalBitmap",
    "Trial",
    "Workload",
    "select",
]

SEED = 42
BATCH = 128
SCALE = float(os.environ.get("IPAMCORE_BENCH_SCALE", "1"))
SCALING_RUNS = tuple(10**k for k in range(1, 7))
SCALING_STRETCH = 7
SCALING_ITERATIONS = 100_000

Ranges = list[tuple[int, int]]
Runner = Callable[[float], int]
T = TypeVar("T")


class OrdinalBitmap(Protocol):
    """What the bitmap workloads ask of their subject.

    ipamcore's `Bitmap` has it, and so has every baseline of
    `benchmarks.baselines`; ranges are inclusive ``(start, end)`` pairs.
    """

    @property
    def free(self) -> int:
        """Number of free ordinals."""
        ...

    @property
    def runs(self) -> int:
        """Number of runs, free stretches included."""
        ...

    def set(self, ordinal: int) -> None:
        """Mark a free ordinal used."""
        ...

    def unset(self, ordinal: int) -> bool:
        """Mark an ordinal free; return whether it was used."""
        ...

    def is_set(self, ordinal: int) -> bool:
        """Tell whether an ordinal is used."""
        ...

    def set_any(self, serial: bool = False) -> int:
        """Take the lowest free ordinal, or the next one after the cursor."""
        ...

    def set_any_in_range(self, start: int, end: int, serial: bool = False) -> int:
        """Like `set_any`, within a range."""
        ...

    def set_range(self, start: int, end: int) -> None:
        """Mark every ordinal of a range used, or none."""
        ...

    def unset_range(self, start: int, end: int) -> int:
        """Mark every ordinal of a range free; return how many were used."""
        ...

    def ranges(self) -> Iterator[tuple[int, int]]:
        """Iterate over the ranges of used ordinals, ascending."""
        ...


BitmapFactory = Callable[[int], OrdinalBitmap]


class WorkloadError(AssertionError):
    """A subject did not end a workload in the state the plan predicts."""


@dataclass
class Trial:
    """One prepared run of a workload.

    Attributes:
        subject: The bitmap or allocator under test, in its start state.
        ops: Operations (or iterations) the timed loop performs in full.
        run: The timed loop; takes a `time.perf_counter` deadline and
            returns how many operations it did before stopping.
        check: Verifies the subject's state after a complete run.
    """

    subject: Any
    ops: int
    run: Runner
    check: Callable[[], None]


@dataclass(frozen=True)
class Workload:
    """A named workload and how to prepare it for one implementation.

    Attributes:
        key: The workload's id ("W5", "S", "I2", ...); the figures of one
            workload (W5 has three) share it.
        name: Operation and scale, e.g. ``set_any_fill16``.
        label: A short human-readable title.
        level: ``"bitmap"`` or ``"allocator"``.
        unit: What one timed operation is ("call" or "iteration").
        bits: Ordinals the subject must hold (0 at the allocator level).
        prepare: Builds a `Trial` from an implementation factory.
        draw: Draws the plan ahead (cached), so it can be kept out of a
            memory measurement.
        runs: For the scaling workload, the run count R it is built with.
    """

    key: str
    name: str
    label: str
    level: str
    unit: str
    bits: int
    prepare: Callable[[Callable[..., Any]], Trial]
    draw: Callable[[], object] = field(default=lambda: None)
    runs: int | None = None


# -- plans ---------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Ordinals drawn for a timed loop and the state it must end in."""

    batches: list[list[int]]
    used: Ranges


def scaled(count: int) -> int:
    """Apply the development scale to an operation count."""
    return max(1, round(count * SCALE))


def batched(values: list[T]) -> list[list[T]]:
    """Split a list into batches of `BATCH` values."""
    return [values[i : i + BATCH] for i in range(0, len(values), BATCH)]


def complement(start: int, end: int, free: Iterable[int]) -> Ranges:
    """The inclusive ranges of ``[start, end]`` outside the ``free`` ordinals."""
    used, begin = [], start
    for ordinal in sorted(free):
        if ordinal > begin:
            used.append((begin, ordinal - 1))
        begin = ordinal + 1
    if begin <= end:
        used.append((begin, end))
    return used


def draw_used(free: set[int], pick: Callable[[], int]) -> int:
    """Draw with ``pick`` until the ordinal is not free."""
    ordinal = pick()
    while ordinal in free:
        ordinal = pick()
    return ordinal


def replay_lowest(free: set[int], pick: Callable[[], int], count: int) -> list[int]:
    """Replay ``count`` x (free a drawn used ordinal, take the lowest free).

    Updates ``free`` in place and returns the drawn ordinals.
    """
    heap, drawn = sorted(free), []
    for _ in range(count):
        ordinal = draw_used(free, pick)
        drawn.append(ordinal)
        free.add(ordinal)
        free.remove(heappushpop(heap, ordinal))
    return drawn


def replay_serial(
    free: set[int], pick: Callable[[], int], count: int, bits: int
) -> list[int]:
    """Replay ``count`` x (free a drawn used ordinal, take the next serial one).

    The serial cursor starts at 0 and the search wraps at ``bits``, as in
    `Bitmap.set_any` with ``serial=True``.  Updates ``free`` in place.
    """
    cursor, drawn = 0, []
    for _ in range(count):
        ordinal = draw_used(free, pick)
        drawn.append(ordinal)
        free.add(ordinal)
        while cursor not in free:
            cursor = (cursor + 1) % bits
        free.remove(cursor)
        cursor = (cursor + 1) % bits
    return drawn


@cache
def half16() -> list[int]:
    """The random 50% of ordinals 1..65534 that W2, W3 and I2 start with."""
    return random.Random(SEED).sample(range(1, 2**16 - 1), 2**15 - 1)


def free16() -> set[int]:
    """The free ordinals of the W2/W3/I2 start state."""
    return set(range(1, 2**16 - 1)) - set(half16())


@cache
def churn16_plan() -> Plan:
    """W2: 200,000 x (free a random used ordinal, take the lowest free)."""
    rng, free = random.Random(SEED), free16()
    drawn = replay_lowest(free, lambda: rng.randint(1, 2**16 - 2), scaled(200_000))
    return Plan(batched(drawn), complement(0, 2**16 - 1, free))


@cache
def serialchurn16_plan() -> Plan:
    """W3: 200,000 x (free a random used ordinal, take the next serial one)."""
    rng, free = random.Random(SEED), free16()
    pick, count = (lambda: rng.randint(1, 2**16 - 2)), scaled(200_000)
    drawn = replay_serial(free, pick, count, 2**16)
    return Plan(batched(drawn), complement(0, 2**16 - 1, free))


@cache
def rangechurn16_plan() -> tuple[list[int], Plan]:
    """W6: the starting half of [32768, 36863] and its churn plan."""
    rng = random.Random(SEED)
    start = rng.sample(range(32768, 36864), 2048)
    free = set(range(32768, 36864)) - set(start)
    drawn = replay_lowest(free, lambda: rng.randint(32768, 36863), scaled(200_000))
    return start, Plan(batched(drawn), complement(32768, 36863, free))


@cache
def v6_64_plan() -> Plan:
    """W5: the 100,000 used ordinals freed after the serial fill."""
    fill = scaled(1_000_000)
    drawn = random.Random(SEED).sample(range(fill), min(fill, scaled(100_000)))
    return Plan(batched(drawn), complement(0, fill - 1, drawn))


@cache
def fragmented20_plan() -> Plan:
    """W7: 100,000 x (free a used even ordinal, take the lowest free)."""
    rng = random.Random(SEED)
    free = set(range(1, 2**20, 2))
    drawn = replay_lowest(free, lambda: 2 * rng.randrange(2**19), scaled(100_000))
    return Plan(batched(drawn), complement(0, 2**20 - 1, free))


def scaling_window(runs: int) -> int:
    """Width of the window of S that holds its ``runs`` runs."""
    return runs // 2 * (SCALING_STRETCH + 1)


def scaling_bits(runs: int) -> int:
    """Size of the S bitmap: the window plus room for it to slide up."""
    slide = scaled(SCALING_ITERATIONS) * (SCALING_STRETCH + 1) * 5 // 4
    return scaling_window(runs) + slide + SCALING_STRETCH + 1


def replay_window(
    free: set[int], rng: random.Random, window: int, count: int
) -> tuple[list[int], int]:
    """Replay S: free a used ordinal of the window, take the lowest free.

    The window starts at the lowest free ordinal, so the holes stay spread
    over it instead of piling up at the top as the lowest ones are taken.
    Updates ``free`` in place; returns the drawn ordinals and the first
    ordinal past the highest window.
    """
    heap, drawn, reach = sorted(free), [], 0
    for _ in range(count):
        low = heap[0]
        ordinal = low + rng.randrange(window)
        while ordinal in free:
            ordinal = low + rng.randrange(window)
        drawn.append(ordinal)
        free.add(ordinal)
        free.remove(heappushpop(heap, ordinal))
        reach = max(reach, low + window)
    return drawn, reach


@cache
def scaling_plan(runs: int) -> Plan:
    """S: R/2 used stretches of `SCALING_STRETCH`, each followed by one free.

    Everything above the window is used, so the bitmap starts with R + 1
    runs; each iteration frees a random used ordinal of the window (a split)
    and `set_any` takes the lowest free one (a merge at the front), which
    keeps about R runs while the window slides up.
    """
    rng, bits, window = random.Random(SEED), scaling_bits(runs), scaling_window(runs)
    free = set(range(SCALING_STRETCH, window, SCALING_STRETCH + 1))
    drawn, reach = replay_window(free, rng, window, scaled(SCALING_ITERATIONS))
    if reach > bits:
        raise WorkloadError(f"S window slid to {reach}, past {bits} ordinals")
    return Plan(batched(drawn), complement(0, bits - 1, free))


# -- timed loops ---------------------------------------------------------


def repeat_call(call: Callable[[], Any], total: int) -> Runner:
    """Time ``call()`` repeated ``total`` times."""

    def run(deadline: float) -> int:
        for done in range(0, total, BATCH):
            for _ in repeat(None, min(BATCH, total - done)):
                call()
            if perf_counter() > deadline:
                return min(done + BATCH, total)
        return total

    return run


def repeat_call_with(call: Callable[[Any], Any], argument: Any, total: int) -> Runner:
    """Time ``call(argument)`` repeated ``total`` times."""

    def run(deadline: float) -> int:
        for done in range(0, total, BATCH):
            for _ in repeat(None, min(BATCH, total - done)):
                call(argument)
            if perf_counter() > deadline:
                return min(done + BATCH, total)
        return total

    return run


def call_each(
    call: Callable[[int], object], batches: Iterable[Sequence[int]]
) -> Runner:
    """Time ``call(value)`` for every value of the batches."""

    def run(deadline: float) -> int:
        done = 0
        for batch in batches:
            for value in batch:
                call(value)
            done += len(batch)
            if perf_counter() > deadline:
                break
        return done

    return run


def churn(
    release: Callable[[int], Any], take: Callable[[], Any], batches: list[list[int]]
) -> Runner:
    """Time ``release(ordinal); take()`` for every drawn ordinal."""

    def run(deadline: float) -> int:
        done = 0
        for batch in batches:
            for ordinal in batch:
                release(ordinal)
                take()
            done += len(batch)
            if perf_counter() > deadline:
                break
        return done

    return run


def churn_with(
    release: Callable[[int], Any],
    take: Callable[[Any], Any],
    argument: Any,
    batches: list[list[int]],
) -> Runner:
    """Time ``release(ordinal); take(argument)`` for every drawn ordinal."""

    def run(deadline: float) -> int:
        done = 0
        for batch in batches:
            for ordinal in batch:
                release(ordinal)
                take(argument)
            done += len(batch)
            if perf_counter() > deadline:
                break
        return done

    return run


def churn_in_range(
    release: Callable[[int], Any],
    take: Callable[[int, int], Any],
    span: tuple[int, int],
    batches: list[list[int]],
) -> Runner:
    """Time ``release(ordinal); take(start, end)`` for every drawn ordinal."""
    start, end = span

    def run(deadline: float) -> int:
        done = 0
        for batch in batches:
            for ordinal in batch:
                release(ordinal)
                take(start, end)
            done += len(batch)
            if perf_counter() > deadline:
                break
        return done

    return run


def churn_addresses(allocator: Any, pool_id: str, batches: list[list[Any]]) -> Runner:
    """Time ``release_address(pool_id, address); request_address(pool_id)``."""
    release, request = allocator.release_address, allocator.request_address

    def run(deadline: float) -> int:
        done = 0
        for batch in batches:
            for address in batch:
                release(pool_id, address)
                request(pool_id)
            done += len(batch)
            if perf_counter() > deadline:
                break
        return done

    return run


# -- checks --------------------------------------------------------------


def merge(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sort inclusive ranges and join the ones that touch or overlap."""
    merged: Ranges = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def expect_ranges(subject: OrdinalBitmap, expected: Ranges) -> Callable[[], None]:
    """A check that the subject's used ranges are ``expected``."""

    def check() -> None:
        actual = list(subject.ranges())
        if actual != expected:
            pairs = zip(actual, expected, strict=False)
            first = next((i for i, (a, b) in enumerate(pairs) if a != b), None)
            raise WorkloadError(
                f"{len(actual)} used ranges, expected {len(expected)}; "
                f"first difference at index {first}"
            )

    return check


def expect_next(allocator: Any, pool_id: str, expected: Any) -> Callable[[], None]:
    """A check that the pool's next address is ``expected`` (None: full)."""

    def check() -> None:
        from ipamcore import NoAvailableIPsError

        try:
            got = allocator.request_address(pool_id)[0].ip
        except NoAvailableIPsError:
            got = None
        if got != expected:
            raise WorkloadError(f"next address {got}, expected {expected}")

    return check


# -- bitmap workloads ----------------------------------------------------


def fill16(factory: BitmapFactory) -> Trial:
    """W1: `set_any()` on a 2**16 bitmap with 0 and 65535 used, until full."""
    bitmap = factory(2**16)
    bitmap.set(0)
    bitmap.set(2**16 - 1)
    ops = scaled(2**16 - 2)
    expected = merge([(0, ops), (2**16 - 1, 2**16 - 1)])
    run = repeat_call(bitmap.set_any, ops)
    return Trial(bitmap, ops, run, expect_ranges(bitmap, expected))


def churn16_start(factory: BitmapFactory) -> OrdinalBitmap:
    """The start state of W2 and W3: 0, 65535 and a random half used."""
    bitmap = factory(2**16)
    bitmap.set(0)
    bitmap.set(2**16 - 1)
    for ordinal in half16():
        bitmap.set(ordinal)
    return bitmap


def churn16(factory: BitmapFactory) -> Trial:
    """W2: `unset` a random used ordinal, then `set_any()`."""
    plan, bitmap = churn16_plan(), churn16_start(factory)
    run = churn(bitmap.unset, bitmap.set_any, plan.batches)
    return Trial(bitmap, scaled(200_000), run, expect_ranges(bitmap, plan.used))


def serialchurn16(factory: BitmapFactory) -> Trial:
    """W3: `unset` a random used ordinal, then `set_any(serial=True)`."""
    plan, bitmap = serialchurn16_plan(), churn16_start(factory)
    run = churn_with(bitmap.unset, bitmap.set_any, True, plan.batches)
    return Trial(bitmap, scaled(200_000), run, expect_ranges(bitmap, plan.used))


def fill8(factory: BitmapFactory) -> Trial:
    """W4: 1,000,000 x `set_any()` on a 2**24 bitmap."""
    bitmap, ops = factory(2**24), scaled(1_000_000)
    run = repeat_call(bitmap.set_any, ops)
    return Trial(bitmap, ops, run, expect_ranges(bitmap, [(0, ops - 1)]))


def set_any_serial_v6_64(factory: BitmapFactory) -> Trial:
    """W5, first figure: 1,000,000 x `set_any(serial=True)` on 2**64."""
    bitmap, ops = factory(2**64), scaled(1_000_000)
    run = repeat_call_with(bitmap.set_any, True, ops)
    return Trial(bitmap, ops, run, expect_ranges(bitmap, [(0, ops - 1)]))


def unset_v6_64(factory: BitmapFactory) -> Trial:
    """W5, second figure: `unset` 100,000 random used of the first million."""
    plan, bitmap = v6_64_plan(), factory(2**64)
    bitmap.set_range(0, scaled(1_000_000) - 1)
    run = call_each(bitmap.unset, plan.batches)
    ops = sum(map(len, plan.batches))
    return Trial(bitmap, ops, run, expect_ranges(bitmap, plan.used))


def set_any_v6_64(factory: BitmapFactory) -> Trial:
    """W5, third figure: 100,000 x `set_any()` refilling the freed ordinals."""
    plan, bitmap = v6_64_plan(), factory(2**64)
    fill = scaled(1_000_000)
    bitmap.set_range(0, fill - 1)
    for batch in plan.batches:
        for ordinal in batch:
            bitmap.unset(ordinal)
    ops = sum(map(len, plan.batches))
    run = repeat_call(bitmap.set_any, ops)
    return Trial(bitmap, ops, run, expect_ranges(bitmap, [(0, fill - 1)]))


def rangechurn16(factory: BitmapFactory) -> Trial:
    """W6: `unset` a random used ordinal of [32768, 36863], refill the range."""
    start, plan = rangechurn16_plan()
    bitmap = factory(2**16)
    for ordinal in start:
        bitmap.set(ordinal)
    run = churn_in_range(
        bitmap.unset, bitmap.set_any_in_range, (32768, 36863), plan.batches
    )
    return Trial(bitmap, scaled(200_000), run, expect_ranges(bitmap, plan.used))


def evens20() -> list[range]:
    """The even ordinals of a 2**20 bitmap, in batches."""
    step = 2 * BATCH
    return [range(i, min(i + step, 2**20), 2) for i in range(0, 2**20, step)]


def set_fragmented20(factory: BitmapFactory) -> Trial:
    """W7, build figure: `set` every even ordinal of a 2**20 bitmap."""
    bitmap = factory(2**20)
    expected = [(i, i) for i in range(0, 2**20, 2)]
    run = call_each(bitmap.set, evens20())
    return Trial(bitmap, 2**19, run, expect_ranges(bitmap, expected))


def fragmented20(factory: BitmapFactory) -> Trial:
    """W7: `unset` a random used even ordinal, then `set_any()`."""
    plan, bitmap = fragmented20_plan(), factory(2**20)
    for batch in evens20():
        for ordinal in batch:
            bitmap.set(ordinal)
    run = churn(bitmap.unset, bitmap.set_any, plan.batches)
    return Trial(bitmap, scaled(100_000), run, expect_ranges(bitmap, plan.used))


def scaling(runs: int) -> Callable[[BitmapFactory], Trial]:
    """S at ``runs`` runs: `unset` a random used ordinal, then `set_any()`."""

    def prepare(factory: BitmapFactory) -> Trial:
        plan, bits = scaling_plan(runs), scaling_bits(runs)
        bitmap, window = factory(bits), scaling_window(runs)
        for start in range(0, window, SCALING_STRETCH + 1):
            bitmap.set_range(start, start + SCALING_STRETCH - 1)
        bitmap.set_range(window, bits - 1)
        run = churn(bitmap.unset, bitmap.set_any, plan.batches)
        ops = scaled(SCALING_ITERATIONS)
        return Trial(bitmap, ops, run, expect_ranges(bitmap, plan.used))

    return prepare


# -- allocator workloads -------------------------------------------------

V4_POOL = ipaddress.IPv4Network("10.0.0.0/16")
V6_POOL = ipaddress.IPv6Network("2001:db8::/48")


def local_pool(
    allocator: Any, pool: ipaddress.IPv4Network | ipaddress.IPv6Network
) -> str:
    """Request ``pool`` in ``LocalDefault`` and return its pool id."""
    pool_id: str = allocator.request_pool("LocalDefault", str(pool))[0]
    return pool_id


@dataclass(frozen=True)
class AddressPlan:
    """Addresses released by an allocator churn loop and the next one free."""

    batches: list[list[Any]]
    next_free: Any


@cache
def churn_v4_plan() -> AddressPlan:
    """I2: the addresses released, drawn like W2's ordinals."""
    rng, free = random.Random(SEED), free16()
    drawn = replay_lowest(free, lambda: rng.randint(1, 2**16 - 2), scaled(100_000))
    batches = batched([V4_POOL[ordinal] for ordinal in drawn])
    return AddressPlan(batches, V4_POOL[min(free)])


@cache
def churn_v6_plan() -> AddressPlan:
    """I4, second figure: random taken addresses of the first 100,000."""
    rng, fill = random.Random(SEED), scaled(100_000)
    free = {fill + 1}
    drawn = replay_lowest(free, lambda: rng.randint(1, fill), scaled(100_000))
    batches = batched([V6_POOL[ordinal] for ordinal in drawn])
    return AddressPlan(batches, V6_POOL[min(free)])


def request_address_fill(factory: Callable[[], Any]) -> Trial:
    """I1: `request_address` on 10.0.0.0/16 until no address is left."""
    allocator = factory()
    pool_id, ops = local_pool(allocator, V4_POOL), scaled(2**16 - 2)
    expected = None if ops == 2**16 - 2 else V4_POOL[ops + 1]
    run = repeat_call_with(allocator.request_address, pool_id, ops)
    return Trial(allocator, ops, run, expect_next(allocator, pool_id, expected))


def release_request_churn(factory: Callable[[], Any]) -> Trial:
    """I2: release a random taken address of a half-full /16, request one."""
    plan, allocator = churn_v4_plan(), factory()
    pool_id = local_pool(allocator, V4_POOL)
    for ordinal in half16():
        allocator.request_address(pool_id, V4_POOL[ordinal])
    run = churn_addresses(allocator, pool_id, plan.batches)
    check = expect_next(allocator, pool_id, plan.next_free)
    return Trial(allocator, scaled(100_000), run, check)


def request_pool_pools(factory: Callable[[], Any]) -> Trial:
    """I3: `request_pool("GlobalDefault")` until no /24 of 10/8 is left."""
    allocator, ops = factory(), scaled(2**16)

    def check() -> None:
        from ipamcore import NoAvailablePoolError

        if ops < 2**16:
            return
        try:
            allocator.request_pool("GlobalDefault")
        except NoAvailablePoolError:
            return
        raise WorkloadError("a pool was left after 65,536 /24s")

    run = repeat_call_with(allocator.request_pool, "GlobalDefault", ops)
    return Trial(allocator, ops, run, check)


def request_address_v6(factory: Callable[[], Any]) -> Trial:
    """I4, first figure: 100,000 x `request_address` on 2001:db8::/48."""
    allocator, ops = factory(), scaled(100_000)
    pool_id = local_pool(allocator, V6_POOL)
    run = repeat_call_with(allocator.request_address, pool_id, ops)
    return Trial(allocator, ops, run, expect_next(allocator, pool_id, V6_POOL[ops + 1]))


def release_request_v6(factory: Callable[[], Any]) -> Trial:
    """I4, second figure: release a random taken address, request one."""
    plan, allocator = churn_v6_plan(), factory()
    pool_id = local_pool(allocator, V6_POOL)
    for _ in range(scaled(100_000)):
        allocator.request_address(pool_id)
    run = churn_addresses(allocator, pool_id, plan.batches)
    check = expect_next(allocator, pool_id, plan.next_free)
    return Trial(allocator, scaled(100_000), run, check)


# -- the registry ----------------------------------------------------------


def bitmap_workload(
    key: str,
    name: str,
    title: str,
    unit: str,
    bits: int,
    prepare: Callable[[BitmapFactory], Trial],
    draw: Callable[[], object] = lambda: None,
) -> Workload:
    """Describe one bitmap-level workload."""
    return Workload(key, name, f"{key} {title}", "bitmap", unit, bits, prepare, draw)


def allocator_workload(
    key: str,
    name: str,
    title: str,
    unit: str,
    prepare: Callable[[Callable[[], Any]], Trial],
    draw: Callable[[], object] = lambda: None,
) -> Workload:
    """Describe one allocator-level workload."""
    return Workload(key, name, f"{key} {title}", "allocator", unit, 0, prepare, draw)


def scaling_workload(runs: int) -> Workload:
    """Workload S at ``runs`` runs."""
    title = f"scaling R=10^{len(str(runs)) - 1} unset+set_any"
    name = f"unset_set_any_scaling_{runs}"
    workload = bitmap_workload(
        "S", name, title, "iteration", scaling_bits(runs), scaling(runs)
    )
    return replace(workload, draw=lambda: scaling_plan(runs), runs=runs)


WORKLOADS: list[Workload] = [
    bitmap_workload("W1", "set_any_fill16", "fill16 set_any", "call", 2**16, fill16),
    bitmap_workload(
        "W2",
        "unset_set_any_churn16",
        "churn16 unset+set_any",
        "iteration",
        2**16,
        churn16,
        churn16_plan,
    ),
    bitmap_workload(
        "W3",
        "unset_set_any_serial_serialchurn16",
        "serialchurn16 unset+set_any(serial)",
        "iteration",
        2**16,
        serialchurn16,
        serialchurn16_plan,
    ),
    bitmap_workload("W4", "set_any_fill8", "fill8 set_any", "call", 2**24, fill8),
    bitmap_workload(
        "W5",
        "set_any_serial_v6_64",
        "v6_64 set_any(serial)",
        "call",
        2**64,
        set_any_serial_v6_64,
    ),
    bitmap_workload(
        "W5", "unset_v6_64", "v6_64 unset", "call", 2**64, unset_v6_64, v6_64_plan
    ),
    bitmap_workload(
        "W5", "set_any_v6_64", "v6_64 set_any", "call", 2**64, set_any_v6_64, v6_64_plan
    ),
    bitmap_workload(
        "W6",
        "unset_set_any_in_range_rangechurn16",
        "rangechurn16 unset+set_any_in_range",
        "iteration",
        2**16,
        rangechurn16,
        rangechurn16_plan,
    ),
    bitmap_workload(
        "W7", "set_fragmented20", "fragmented20 set", "call", 2**20, set_fragmented20
    ),
    bitmap_workload(
        "W7",
        "unset_set_any_fragmented20",
        "fragmented20 unset+set_any",
        "iteration",
        2**20,
        fragmented20,
        fragmented20_plan,
    ),
    *(scaling_workload(runs) for runs in SCALING_RUNS),
    allocator_workload(
        "I1",
        "request_address_fill",
        "fill request_address",
        "call",
        request_address_fill,
    ),
    allocator_workload(
        "I2",
        "release_request_churn",
        "churn release+request",
        "iteration",
        release_request_churn,
        churn_v4_plan,
    ),
    allocator_workload(
        "I3", "request_pool_pools", "pools request_pool", "call", request_pool_pools
    ),
    allocator_workload(
        "I4", "request_address_v6", "v6 request_address", "call", request_address_v6
    ),
    allocator_workload(
        "I4",
        "release_request_v6",
        "v6 release+request",
        "iteration",
        release_request_v6,
        churn_v6_plan,
    ),
]


def select(keys: Iterable[str] | None = None) -> list[Workload]:
    """The workloads whose key (``W1`` … ``S`` … ``I4``) is in ``keys``.

    Raises:
        ValueError: A key names no workload.
    """
    if keys is None:
        return list(WORKLOADS)
    wanted = {key.strip().upper() for key in keys}
    unknown = wanted - {workload.key for workload in WORKLOADS}
    if unknown:
        raise ValueError(f"unknown workloads: {', '.join(sorted(unknown))}")
    return [workload for workload in WORKLOADS if workload.key in wanted]
