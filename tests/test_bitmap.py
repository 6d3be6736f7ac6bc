"""Tests of the compiled Bitmap: semantics, boundaries, encodings, threads."""

from __future__ import annotations

import contextlib
import copy
import pickle
import random
import sys
import threading
import zlib

import pytest

from ipamcore import BitAllocatedError, Bitmap, NoBitAvailableError
from ipamcore._bitmap import MAX_BITS


def snapshot(bm: Bitmap) -> tuple[object, ...]:
    """Everything observable about a bitmap, serial cursor included."""
    return (bm.bits, bm.free, bm.runs, list(bm.ranges()), bm.to_bytes())


# -- construction and basic verbs -----------------------------------------


@pytest.mark.parametrize("bits", [1, 2, 31, 32, 33, 2**32, 2**64, 2**128])
def test_new_bitmap_is_all_free(bits: int) -> None:
    bm = Bitmap(bits)
    assert (bm.bits, bm.free, bm.runs) == (bits, bits, 1)
    assert list(bm.ranges()) == []


@pytest.mark.parametrize("bits", [0, -1, 2**128 + 1, -(2**200)])
def test_bits_out_of_range_is_value_error(bits: int) -> None:
    with pytest.raises(ValueError, match="bits must be in"):
        Bitmap(bits)


@pytest.mark.parametrize("bits", ["8", 8.0, None, b"\x08", True])
def test_bits_of_wrong_type_is_type_error(bits: object) -> None:
    with pytest.raises(TypeError):
        Bitmap(bits)  # type: ignore[arg-type]


def test_set_unset_and_membership() -> None:
    bm = Bitmap(10)
    bm.set(3)
    assert bm.is_set(3) and 3 in bm and not bm.is_set(4)
    with pytest.raises(BitAllocatedError):
        bm.set(3)
    assert bm.unset(3) is True
    assert bm.unset(3) is False
    assert bm.free == 10


@pytest.mark.parametrize("ordinal", [-1, 10, 2**64, 2**130])
def test_membership_outside_is_false(ordinal: int) -> None:
    bm = Bitmap(10)
    bm.set_range(0, 9)
    assert not bm.is_set(ordinal)
    assert ordinal not in bm


@pytest.mark.parametrize("verb", ["set", "unset"])
@pytest.mark.parametrize("ordinal", [-1, 10, 2**128])
def test_ordinal_outside_is_index_error(verb: str, ordinal: int) -> None:
    bm = Bitmap(10)
    before = snapshot(bm)
    with pytest.raises(IndexError, match="outside the bitmap"):
        getattr(bm, verb)(ordinal)
    assert snapshot(bm) == before


@pytest.mark.parametrize("bad", ["1", 1.0, None, [1], True, False])
def test_ordinal_of_wrong_type_is_type_error(bad: object) -> None:
    bm = Bitmap(10)
    bm.set(1)
    before = snapshot(bm)
    for call in (bm.set, bm.unset, bm.is_set):
        with pytest.raises(TypeError):
            call(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bm.set_range(0, bad)  # type: ignore[arg-type]
    assert snapshot(bm) == before


@pytest.mark.parametrize("bad", [1, 0, "false", None, "true"])
def test_serial_must_be_true_or_false(bad: object) -> None:
    bm = Bitmap(10)
    bm.set_any(serial=True)
    before = snapshot(bm)
    with pytest.raises(TypeError, match="expected True or False"):
        bm.set_any(serial=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected True or False"):
        bm.set_any_in_range(0, 9, serial=bad)  # type: ignore[arg-type]
    assert snapshot(bm) == before
    assert bm.cursor == 1


def test_set_any_hands_out_lowest_free() -> None:
    bm = Bitmap(5)
    bm.set(0)
    bm.set(2)
    assert [bm.set_any() for _ in range(3)] == [1, 3, 4]
    with pytest.raises(NoBitAvailableError):
        bm.set_any()
    assert bm.free == 0 and bm.runs == 1


def test_serial_continues_after_last_handed_out_and_wraps() -> None:
    bm = Bitmap(4)
    assert [bm.set_any(serial=True) for _ in range(2)] == [0, 1]
    bm.unset(0)
    assert bm.set_any(serial=True) == 2
    assert bm.set_any() == 0  # plain calls ignore and keep the cursor
    bm.unset(1)
    assert bm.set_any(serial=True) == 3
    assert bm.set_any(serial=True) == 1  # wrapped around
    with pytest.raises(NoBitAvailableError):
        bm.set_any(serial=True)


def test_set_does_not_move_the_serial_cursor() -> None:
    bm = Bitmap(8)
    assert bm.set_any(serial=True) == 0
    bm.set(5)
    assert bm.set_any(serial=True) == 1


def test_cursor_reads_and_moves_only_the_serial_search() -> None:
    bm = Bitmap(10)
    assert bm.cursor == 0
    bm.set_any(serial=True)
    bm.set(7)
    assert bm.cursor == 1
    bm.cursor = 5
    assert list(bm.ranges()) == [(0, 0), (7, 7)]
    assert bm.set_any(serial=True) == 5
    assert bm.cursor == 6
    bm.cursor = 9
    assert bm.set_any(serial=True) == 9
    assert bm.cursor == 0  # wrapped past the last ordinal


@pytest.mark.parametrize(
    ("bad", "error"),
    [(-1, IndexError), (10, IndexError), (2**128, IndexError), ("1", TypeError)],
)
def test_cursor_rejects_bad_values_and_keeps_its_own(
    bad: int | str, error: type[Exception]
) -> None:
    bm = Bitmap(10)
    bm.cursor = 3
    with pytest.raises(error):
        bm.cursor = bad  # type: ignore[assignment]
    assert bm.cursor == 3


def test_serial_in_range_with_cursor_outside_starts_at_range_start() -> None:
    bm = Bitmap(100)
    assert bm.set_any_in_range(50, 60, serial=True) == 50
    assert bm.set_any_in_range(10, 20, serial=True) == 10
    assert bm.set_any_in_range(10, 20, serial=True) == 11
    assert bm.set_any_in_range(50, 60, serial=True) == 51


def test_set_any_in_range_bounds() -> None:
    bm = Bitmap(10)
    assert bm.set_any_in_range(9, 9) == 9
    with pytest.raises(NoBitAvailableError):
        bm.set_any_in_range(9, 9)
    for start, end in [(5, 4), (0, 10), (-1, 3), (11, 12)]:
        with pytest.raises(ValueError):
            bm.set_any_in_range(start, end)


def test_set_range_is_all_or_nothing() -> None:
    bm = Bitmap(100)
    bm.set(50)
    before = snapshot(bm)
    with pytest.raises(BitAllocatedError):
        bm.set_range(40, 60)
    assert snapshot(bm) == before
    bm.set_range(51, 99)
    bm.set_range(0, 49)
    assert list(bm.ranges()) == [(0, 99)] and bm.runs == 1


def test_range_arguments_are_checked() -> None:
    bm = Bitmap(10)
    with pytest.raises(ValueError, match="below its start"):
        bm.set_range(5, 4)
    with pytest.raises(IndexError):
        bm.unset_range(0, 10)
    with pytest.raises(IndexError):
        bm.set_range(-1, 3)


def test_unset_range_counts_what_was_used() -> None:
    bm = Bitmap(100)
    bm.set_range(10, 19)
    bm.set_range(30, 39)
    assert bm.unset_range(15, 34) == 10
    assert list(bm.ranges()) == [(10, 14), (35, 39)]
    assert bm.unset_range(0, 99) == 10
    assert bm.runs == 1


def test_find_free_and_find_used() -> None:
    bm = Bitmap(100)
    bm.set_range(10, 19)
    assert bm.find_free(10, 99) == 20
    assert bm.find_free(10, 19) is None
    assert bm.find_used(0, 9) is None
    assert bm.find_used(0, 99) == 10
    assert bm.find_used(15, 99) == 15
    assert bm.free == 90


def test_runs_counts_free_stretches_too() -> None:
    bm = Bitmap(10)
    bm.set(0)
    assert bm.runs == 2
    bm.set(5)
    assert bm.runs == 4
    bm.set(9)
    assert bm.runs == 5


# -- boundaries at 2**32, 2**64 and 2**128 ---------------------------------


BOUNDARY_CASES = [
    (bits, point)
    for bits in (2**32 + 2, 2**64 + 2, 2**128)
    for point in (2**32 - 1, 2**32, 2**64 - 1, 2**64, 2**128 - 2)
    if point + 1 < bits
]


@pytest.mark.parametrize(("bits", "point"), BOUNDARY_CASES)
def test_ordinals_across_word_boundaries(bits: int, point: int) -> None:
    bm = Bitmap(bits)
    bm.set(point)
    assert bm.is_set(point) and not bm.is_set(point - 1)
    assert not bm.is_set(point + 1)
    assert bm.set_any_in_range(point - 1, point + 1) == point - 1
    assert bm.set_any_in_range(point - 1, point + 1) == point + 1
    assert list(bm.ranges()) == [(point - 1, point + 1)]
    assert bm.free == bits - 3


def test_whole_2_128_range() -> None:
    bm = Bitmap(MAX_BITS)
    bm.set(MAX_BITS - 1)
    assert bm.set_any_in_range(MAX_BITS - 2, MAX_BITS - 1) == MAX_BITS - 2
    bm.set_range(0, MAX_BITS - 3)
    assert bm.free == 0 and bm.runs == 1
    with pytest.raises(NoBitAvailableError):
        bm.set_any(serial=True)
    assert bm.unset_range(0, MAX_BITS - 1) == MAX_BITS
    assert bm.free == MAX_BITS


def test_serial_cursor_wraps_at_2_128() -> None:
    bm = Bitmap(MAX_BITS)
    bm.set_range(0, 9)
    assert bm.set_any_in_range(MAX_BITS - 1, MAX_BITS - 1, serial=True) == (
        MAX_BITS - 1
    )
    assert bm.set_any(serial=True) == 10


# -- value semantics ---------------------------------------------------------


def test_copy_is_independent_and_equal() -> None:
    bm = Bitmap(1000)
    for ordinal in range(0, 1000, 3):
        bm.set(ordinal)
    bm.set_any(serial=True)
    twin = bm.copy()
    assert twin == bm and copy.copy(bm) == bm and copy.deepcopy(bm) == bm
    twin.unset(0)
    assert twin != bm and bm.is_set(0)


def test_equality_includes_serial_cursor() -> None:
    a, b = Bitmap(8), Bitmap(8)
    a.set_any(serial=True)
    b.set(0)
    assert list(a.ranges()) == list(b.ranges())
    assert a != b
    assert Bitmap(8) != Bitmap(9)
    assert Bitmap(8) != "Bitmap(8)"


def test_bitmap_is_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(Bitmap(8))


def test_repr_is_short() -> None:
    bm = Bitmap(2**24)
    bm.set_range(0, 99)
    assert repr(bm) == "Bitmap(bits=16777216, free=16777116, runs=2)"


@pytest.mark.parametrize("bits", [4, 77, 2**64, 2**128])
def test_pickle_round_trip(bits: int) -> None:
    bm = Bitmap(bits)
    bm.set_range(0, 0)
    bm.set_any(serial=True)
    if bits > 2:
        bm.set(bits - 1)
    back = pickle.loads(pickle.dumps(bm))
    assert back == bm and back.set_any(serial=True) == bm.set_any(serial=True)


def test_ranges_survive_changes_while_iterating() -> None:
    bm = Bitmap(100)
    for start in range(0, 100, 10):
        bm.set_range(start, start + 4)
    seen = []
    for start, end in bm.ranges():
        seen.append((start, end))
        if start % 10 == 0 and start + 10 < 100:
            bm.unset(start + 10)
    assert seen[0] == (0, 4) and seen[1] == (11, 14)
    assert len(seen) == 10


# -- our own encoding --------------------------------------------------------


def test_to_bytes_round_trips_cursor_and_runs() -> None:
    bm = Bitmap(2**64 + 3)
    bm.set_range(2**64 - 5, 2**64 + 2)
    bm.set(7)
    bm.set_any(serial=True)
    data = bm.to_bytes()
    back = Bitmap.from_bytes(data)
    assert back == bm
    assert Bitmap.from_bytes(bytearray(data)) == bm
    assert Bitmap.from_bytes(memoryview(data)) == bm


def test_to_bytes_of_new_bitmap_is_exact() -> None:
    body = b"IPMB\x01\x07\x00\x00"
    crc = zlib.crc32(body).to_bytes(4, "little")
    assert Bitmap(8).to_bytes() == body + crc


def test_from_bytes_rejects_corruption() -> None:
    bm = Bitmap(1000)
    bm.set_range(3, 9)
    data = bytearray(bm.to_bytes())
    for i in range(len(data)):
        broken = bytearray(data)
        broken[i] ^= 0x10
        with pytest.raises(ValueError):
            Bitmap.from_bytes(bytes(broken))
    for cut in range(len(data)):
        with pytest.raises(ValueError):
            Bitmap.from_bytes(bytes(data[:cut]))


def with_crc(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(4, "little")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"IPMB\x02\x07\x00\x00", "version 2"),
        (b"IPMB\x01\x07\x08\x00", "inconsistent"),  # cursor past the end
        (b"IPMB\x01\x07\x00\x05\x00\x00", "inconsistent"),  # 5 runs, no room
        (b"IPMB\x01\x07\x00\x01\x08\x00", "outside"),  # run starts at 8
        (b"IPMB\x01\x07\x00\x01\x00\x08", "outside"),  # run of 9
        (b"IPMB\x01\x87\x00\x00\x00", "padded"),
        (b"IPMB\x01\x07\x00\x00\x00\x00", "trailing"),
        (b"IPMB\x01" + b"\xff" * 18 + b"\x04\x00\x00", "over 128 bits"),
    ],
)
def test_from_bytes_names_the_fault(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Bitmap.from_bytes(with_crc(body))


def leb128(value: int) -> bytes:
    """The LEB128 encoding of value, written out by hand for these tests."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@pytest.mark.parametrize(
    ("bits", "runs"),
    [
        (8, [(0, 6), (0, 0)]),  # [0, 6], then nothing free for a run after it
        (2**128, [(0, 2**128 - 2), (0, 0)]),  # the next start would wrap
        (2**128, [(2**128 - 1, 0), (0, 0)]),
    ],
)
def test_from_bytes_refuses_runs_that_leave_no_room(
    bits: int, runs: list[tuple[int, int]]
) -> None:
    body = b"IPMB\x01" + leb128(bits - 1) + leb128(0) + leb128(len(runs))
    body += b"".join(leb128(gap) + leb128(length) for gap, length in runs)
    with pytest.raises(ValueError, match="outside"):
        Bitmap.from_bytes(with_crc(body))


@pytest.mark.parametrize("bits", [8, 2**128])
def test_from_bytes_takes_runs_that_just_fit(bits: int) -> None:
    body = b"IPMB\x01" + leb128(bits - 1) + leb128(0) + leb128(2)
    body += leb128(0) + leb128(bits - 3) + leb128(0) + leb128(0)
    back = Bitmap.from_bytes(with_crc(body))
    assert list(back.ranges()) == [(0, bits - 3), (bits - 1, bits - 1)]


def test_from_bytes_wrong_type() -> None:
    with pytest.raises(TypeError):
        Bitmap.from_bytes("IPMB")  # type: ignore[arg-type]


# -- libnetwork's layout ------------------------------------------------------


def entries(*pairs: tuple[int, int]) -> bytes:
    return b"".join(
        block.to_bytes(4, "big") + count.to_bytes(8, "big") for block, count in pairs
    )


def header(bits: int, free: int) -> bytes:
    return bits.to_bytes(8, "big") + free.to_bytes(8, "big")


LIBNETWORK_VECTORS = [
    # (bits, used ranges, encoding)
    (64, [(0, 1)], header(64, 62) + entries((0xC0000000, 1), (0, 1))),
    (40, [(0, 31), (39, 39)], header(40, 7) + entries((0xFFFFFFFF, 1), (0x1000000, 1))),
    (320, [(32, 127)], header(320, 224) + entries((0, 1), (0xFFFFFFFF, 3), (0, 6))),
    # a /24 as Docker keeps it: network, gateway and broadcast taken
    (
        256,
        [(0, 1), (255, 255)],
        header(256, 253) + entries((0xC0000000, 1), (0, 6), (1, 1)),
    ),
    # every other ordinal: one block pattern repeated
    (
        96,
        [(i, i) for i in range(0, 96, 2)],
        header(96, 48) + entries((0xAAAAAAAA, 3)),
    ),
    (1, [], header(1, 1) + entries((0, 1))),
    (33, [(32, 32)], header(33, 32) + entries((0, 1), (0x80000000, 1))),
]


@pytest.mark.parametrize(("bits", "used", "data"), LIBNETWORK_VECTORS)
def test_to_libnetwork_vectors(
    bits: int, used: list[tuple[int, int]], data: bytes
) -> None:
    bm = Bitmap(bits)
    for start, end in used:
        bm.set_range(start, end)
    assert bm.to_libnetwork() == data


@pytest.mark.parametrize(("bits", "used", "data"), LIBNETWORK_VECTORS)
def test_from_libnetwork_vectors(
    bits: int, used: list[tuple[int, int]], data: bytes
) -> None:
    bm = Bitmap.from_libnetwork(data)
    assert bm.bits == bits and list(bm.ranges()) == used
    bm._check_invariants()


def test_from_libnetwork_drops_zero_counts_and_recounts_free() -> None:
    data = header(64, 0) + entries((0x80000000, 1), (0xFFFFFFFF, 0), (0, 1), (5, 0))
    bm = Bitmap.from_libnetwork(data)
    assert list(bm.ranges()) == [(0, 0)] and bm.free == 63 and bm.runs == 2


def test_from_libnetwork_merges_runs_across_blocks() -> None:
    data = header(96, 0) + entries((0x00000001, 1), (0xFFFFFFFF, 1), (0x80000000, 1))
    bm = Bitmap.from_libnetwork(data)
    assert list(bm.ranges()) == [(31, 64)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "malformed"),
        (header(64, 0)[:15], "malformed"),
        (header(64, 64) + entries((0, 1))[:11], "malformed"),
        (header(0, 0), "zero bits"),
        (header(64, 64) + entries((0, 1)), "blocks"),
        (header(64, 64) + entries((0, 3)), "blocks"),
        (header(40, 40) + entries((0, 1), (0x00800000, 1)), "past its bit count"),
        (header(2**63, 0) + entries((0x55555555, 2**58)), "runs"),
    ],
)
def test_from_libnetwork_rejects_malformed(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Bitmap.from_libnetwork(data)


def test_from_libnetwork_max_runs_is_adjustable() -> None:
    data = header(3200, 0) + entries((0xAAAAAAAA, 100))
    with pytest.raises(ValueError, match="runs"):
        Bitmap.from_libnetwork(data, max_runs=1000)
    assert Bitmap.from_libnetwork(data, max_runs=10_000).free == 1600


def test_from_libnetwork_huge_uniform_bitmap_is_cheap() -> None:
    data = header(2**64 - 1, 0) + entries((0, 2**59 - 1), (0xFFFFFFFE, 1))
    bm = Bitmap.from_libnetwork(data)
    assert list(bm.ranges()) == [(2**64 - 32, 2**64 - 2)]


def test_to_libnetwork_needs_fewer_than_2_64_bits() -> None:
    assert Bitmap(2**64 - 1).to_libnetwork()[:8] == b"\xff" * 8
    with pytest.raises(ValueError, match="fewer than 2\\*\\*64"):
        Bitmap(2**64).to_libnetwork()


def test_libnetwork_round_trip_random() -> None:
    rng = random.Random(7)
    for _ in range(200):
        bits = rng.choice([1, 31, 32, 33, 64, 65, 1000, 4097])
        bm = Bitmap(bits)
        for _ in range(rng.randrange(30)):
            start = rng.randrange(bits)
            end = min(bits - 1, start + rng.randrange(70))
            bm.unset_range(start, end)
            bm.set_range(start, end)
        back = Bitmap.from_libnetwork(bm.to_libnetwork())
        assert list(back.ranges()) == list(bm.ranges())
        assert back.free == bm.free


# -- hostile input to the decoders -------------------------------------------


def check_decoder_survives(decode: object, data: bytes) -> None:
    """A decoder either raises ValueError or returns a sound bitmap."""
    try:
        bm = decode(data)  # type: ignore[operator]
    except ValueError:
        return
    bm._check_invariants()
    assert Bitmap.from_bytes(bm.to_bytes()) == bm


def test_decoders_survive_random_and_mutated_input() -> None:
    rng = random.Random(20261203)
    seeds = []
    for bits in (1, 40, 256, 5000, 2**40):
        bm = Bitmap(bits)
        for _ in range(20):
            start = rng.randrange(bits)
            end = min(bits - 1, start + rng.randrange(9))
            bm.unset_range(start, end)
            bm.set_range(start, end)
        seeds += [bm.to_bytes(), bm.to_libnetwork()]
    for _ in range(4000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            action = rng.randrange(3)
            if action == 0 and data:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif action == 1:
                del data[rng.randrange(len(data) + 1) :]
            else:
                data += bytes(rng.randrange(256) for _ in range(rng.randrange(13)))
        check_decoder_survives(Bitmap.from_bytes, bytes(data))
        check_decoder_survives(Bitmap.from_libnetwork, bytes(data))
    for _ in range(2000):
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(60)))
        check_decoder_survives(Bitmap.from_bytes, noise)
        check_decoder_survives(Bitmap.from_libnetwork, noise)


# -- threads -----------------------------------------------------------------


def test_threads_never_share_an_ordinal() -> None:
    bits, workers, rounds = 4096, 8, 4000
    bm = Bitmap(bits)
    held: list[list[int]] = [[] for _ in range(workers)]
    failures: list[BaseException] = []

    def work(mine: list[int], seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(rounds):
                if mine and rng.random() < 0.45:
                    assert bm.unset(mine.pop(rng.randrange(len(mine))))
                else:
                    with contextlib.suppress(NoBitAvailableError):
                        mine.append(bm.set_any(serial=rng.random() < 0.5))
        except BaseException as exc:  # reported below, in the main thread
            failures.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [
            threading.Thread(target=work, args=(held[i], i)) for i in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not failures
    everything = [o for mine in held for o in mine]
    assert len(everything) == len(set(everything))
    assert bm.free == bits - len(everything)
    assert sorted(everything) == [
        o for start, end in bm.ranges() for o in range(start, end + 1)
    ]
    bm._check_invariants()
