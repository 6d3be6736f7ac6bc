"""The journal: what is recorded, replay, and journals that refuse changes."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from allocator_model import CONFIG, Call, calls, observe, perform, probe, resolve
from allocator_support import GW, SERIAL, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

import ipamcore
from ipamcore import (
    AddressAllocated,
    AddressReleased,
    PoolAllocated,
    PoolReleased,
)

LOCAL = ipamcore.LOCAL_DEFAULT


def value(address: str) -> int:
    """The integer form of ``address``, as changes carry it."""
    return int(ipaddress.ip_address(address))


def test_memory_journal_records_exactly_the_changes() -> None:
    journal = ipamcore.MemoryJournal()
    allocator = ipamcore.Allocator(journal=journal, host_id="")
    predefined, _, _ = allocator.request_pool(LOCAL)
    sub = allocator.request_pool(LOCAL, "192.0.2.0/24", "192.0.2.0/25")[0]
    allocator.request_pool(LOCAL, v6=True)
    allocator.request_address(sub, options=GW)
    allocator.request_address(sub, options=SERIAL)
    allocator.request_address(sub, "192.0.2.200")
    allocator.release_address(sub, "192.0.2.1")
    allocator.release_address(sub, "192.0.2.1")
    allocator.release_address(sub, "192.0.2.0")
    with pytest.raises(ipamcore.IPAlreadyAllocatedError):
        allocator.request_address(sub, "192.0.2.200")
    allocator.release_pool(predefined)
    with pytest.raises(ipamcore.BadPoolError):
        allocator.release_pool(predefined)
    assert journal.changes == [
        PoolAllocated("LocalDefault/172.17.0.0/16", (0, 0)),
        PoolAllocated("LocalDefault/192.0.2.0/24/192.0.2.0/25"),
        PoolAllocated("LocalDefault/fd42:98fc:1c14::/64", (0, 0)),
        AddressAllocated(sub, value("192.0.2.1")),
        AddressAllocated(sub, value("192.0.2.2"), serial=True),
        AddressAllocated(sub, value("192.0.2.200")),
        AddressReleased(sub, value("192.0.2.1")),
        PoolReleased("LocalDefault/172.17.0.0/16"),
    ]
    assert list(journal) == journal.changes and len(journal) == 8


@pytest.mark.parametrize("journal", [5, "log", object(), ipamcore.MemoryJournal])
def test_a_journal_without_append_is_refused_at_once(journal: Any) -> None:
    with pytest.raises(TypeError, match="a journal needs an append"):
        ipamcore.Allocator(host_id="", journal=journal)


def test_changes_carry_canonical_pool_ids() -> None:
    journal = ipamcore.MemoryJournal()
    allocator = ipamcore.Allocator(journal=journal, host_id="")
    allocator.request_pool(LOCAL, "2001:DB8::5/64")
    allocator.request_address("LocalDefault/2001:DB8::/64")
    allocator.release_pool("LocalDefault/2001:0db8::/64")
    assert {change.pool_id for change in journal} == {"LocalDefault/2001:db8::/64"}


def test_changes_are_immutable_values() -> None:
    change = AddressAllocated("LocalDefault/10.0.0.0/8", 167772161)
    assert change == AddressAllocated("LocalDefault/10.0.0.0/8", 167772161, False)
    assert hash(change) == hash(AddressAllocated("LocalDefault/10.0.0.0/8", 167772161))
    with pytest.raises(AttributeError):
        change.address = 5  # type: ignore[misc]


def test_replay_rebuilds_the_same_state() -> None:
    journal = ipamcore.MemoryJournal()
    allocator = ipamcore.Allocator(journal=journal, host_id="")
    ids = [allocator.request_pool(LOCAL)[0] for _ in range(3)]
    allocator.release_pool(ids[1])
    sub = allocator.request_pool(LOCAL, "10.0.0.0/24", "10.0.0.0/28")[0]
    for _ in range(5):
        allocator.request_address(sub, options=SERIAL)
    allocator.release_address(sub, "10.0.0.2")
    replica = ipamcore.Allocator(host_id="")
    replica.replay(journal.changes)
    assert snapshot(replica) == snapshot(allocator)
    assert str(replica.request_address(sub, options=SERIAL)[0]) == "10.0.0.6/24"
    assert str(replica.request_pool(LOCAL)[1]) == "172.20.0.0/16"


def test_replay_is_not_journaled_again() -> None:
    journal = ipamcore.MemoryJournal()
    allocator = ipamcore.Allocator(journal=journal)
    allocator.replay([PoolAllocated("blue/10.0.0.0/8")])
    assert len(journal) == 0
    assert [info.pool_id for info in allocator.pools()] == ["blue/10.0.0.0/8"]


@pytest.mark.parametrize(
    "bad",
    [
        PoolReleased("LocalDefault/10.9.0.0/16"),
        PoolAllocated("LocalDefault/192.0.2.0/25"),
        PoolAllocated("LocalDefault/172.18.0.0/16", (0, 0)),
        PoolAllocated("LocalDefault/172.18.0.0/16", (99, 0)),
        PoolAllocated("blue/172.18.0.0/16", (0, 1)),
        PoolAllocated("not an id"),
        AddressAllocated("LocalDefault/10.9.0.0/16", value("10.9.0.1")),
        AddressAllocated("LocalDefault/192.0.2.0/24", value("192.0.2.1")),
        AddressAllocated("LocalDefault/192.0.2.0/24", value("192.0.2.0")),
        AddressAllocated("LocalDefault/192.0.2.0/24", value("198.51.100.1")),
        AddressReleased("LocalDefault/192.0.2.0/24", value("198.51.100.1")),
        "not a change",
    ],
)
def test_replay_is_all_or_nothing(bad: Any) -> None:
    allocator = ipamcore.Allocator(host_id="")
    allocator.request_pool(LOCAL, "203.0.113.0/24")
    before = snapshot(allocator)
    changes = [
        PoolAllocated("LocalDefault/172.17.0.0/16", (0, 0)),
        PoolAllocated("LocalDefault/192.0.2.0/24"),
        AddressAllocated("LocalDefault/192.0.2.0/24", value("192.0.2.1"), serial=True),
        AddressReleased("LocalDefault/192.0.2.0/24", value("192.0.2.1")),
        AddressAllocated("LocalDefault/192.0.2.0/24", value("192.0.2.1")),
        PoolAllocated("LocalDefault/192.0.2.0/24/192.0.2.0/25"),
        bad,
    ]
    with pytest.raises(ipamcore.IpamInternalError) as caught:
        allocator.replay(changes)
    assert caught.value.__cause__ is not None
    assert snapshot(allocator) == before
    assert str(allocator.request_pool(LOCAL)[1]) == "172.17.0.0/16"
    pool_id = allocator.request_pool(LOCAL, "192.0.2.0/24")[0]
    assert str(allocator.request_address(pool_id, options=SERIAL)[0]) == "192.0.2.1/24"


class RefusingJournal:
    """A journal that refuses the changes its pattern says to refuse."""

    def __init__(self, pattern: Iterator[bool], error: BaseException) -> None:
        self.pattern = pattern
        self.error = error
        self.changes: list[ipamcore.Change] = []

    def append(self, change: ipamcore.Change) -> None:
        if next(self.pattern, False):
            raise self.error
        self.changes.append(change)


def refusing_one_after(accepted: int) -> Iterator[bool]:
    """A pattern that accepts ``accepted`` changes, refuses one, accepts the rest."""
    return itertools.chain(itertools.repeat(False, accepted), [True])


CALLS: list[Callable[[ipamcore.Allocator], object]] = [
    lambda a: a.request_pool(LOCAL, "10.9.0.0/16"),
    lambda a: a.request_pool(LOCAL, "192.0.2.0/24", "192.0.2.64/26"),
    lambda a: a.request_pool(LOCAL),
    lambda a: a.request_pool(LOCAL, v6=True),
    lambda a: a.release_pool("LocalDefault/192.0.2.0/24"),
    lambda a: a.release_pool("LocalDefault/172.17.0.0/16"),
    lambda a: a.request_address("LocalDefault/192.0.2.0/24"),
    lambda a: a.request_address("LocalDefault/192.0.2.0/24", options=SERIAL),
    lambda a: a.request_address("LocalDefault/192.0.2.0/24", "192.0.2.99"),
    lambda a: a.release_address("LocalDefault/192.0.2.0/24", "192.0.2.3"),
]


def busy_pair(error: BaseException) -> tuple[ipamcore.Allocator, ipamcore.Allocator]:
    """The same busy state twice: with a journal that will refuse the next
    change with ``error``, and without a journal."""
    journal = RefusingJournal(refusing_one_after(6), error)
    pair = (
        ipamcore.Allocator(host_id="", journal=journal),
        ipamcore.Allocator(host_id=""),
    )
    for allocator in pair:
        allocator.request_pool(LOCAL)
        pool_id = allocator.request_pool(LOCAL, "192.0.2.0/24")[0]
        for _ in range(3):
            allocator.request_address(pool_id, options=SERIAL)
        allocator.release_address(pool_id, "192.0.2.2")
    assert len(journal.changes) == 6
    return pair


@pytest.mark.parametrize("call", CALLS)
def test_a_refused_change_is_undone(
    call: Callable[[ipamcore.Allocator], object],
) -> None:
    refusing, twin = busy_pair(OSError("disk full"))
    before = snapshot(refusing)
    with pytest.raises(ipamcore.IpamInternalError) as caught:
        call(refusing)
    assert isinstance(caught.value.__cause__, OSError)
    assert str(caught.value).startswith("IPAM Internal Error")
    assert snapshot(refusing) == before
    assert probe(refusing) == probe(twin)


@pytest.mark.parametrize("call", CALLS)
def test_an_interrupt_in_the_journal_is_undone_and_propagates(
    call: Callable[[ipamcore.Allocator], object],
) -> None:
    refusing, twin = busy_pair(KeyboardInterrupt())
    before = snapshot(refusing)
    with pytest.raises(KeyboardInterrupt):
        call(refusing)
    assert snapshot(refusing) == before
    assert probe(refusing) == probe(twin)


@settings(max_examples=60, deadline=None)
@given(script=st.lists(st.tuples(calls, st.booleans()), max_size=40))
def test_random_refusals_leave_exactly_the_accepted_changes(
    script: list[tuple[Call, bool]],
) -> None:
    refusals = iter([refuse for _, refuse in script])
    journal = RefusingJournal(refusals, OSError("disk full"))
    refusing = ipamcore.Allocator(**CONFIG, journal=journal)
    twin = ipamcore.Allocator(**CONFIG)
    for call, _ in script:
        call = resolve(call, [info.pool_id for info in twin.pools()])
        accepted = len(journal.changes)
        outcome = perform(refusing, call)
        if outcome == ("error", ipamcore.IpamInternalError):
            assert len(journal.changes) == accepted
        else:
            assert outcome == perform(twin, call)
        assert observe(refusing) == observe(twin)
    replica = ipamcore.Allocator(**CONFIG)
    replica.replay(journal.changes)
    assert observe(replica) == observe(twin)
    journal.pattern = iter(())
    assert probe(replica) == probe(refusing) == probe(twin)
