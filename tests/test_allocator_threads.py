"""Many threads on one allocator: no address twice, no pool corrupted."""

from __future__ import annotations

import ipaddress
import random
import sys
import threading
from collections.abc import Callable, Iterator

import pytest
from allocator_support import SERIAL, snapshot

import ipamcore

LOCAL = ipamcore.LOCAL_DEFAULT
THREADS = 8
POOL = "10.0.0.0/22"
POOL_ID = f"LocalDefault/{POOL}"
USABLE = 1022


@pytest.fixture(autouse=True)
def frequent_switches() -> Iterator[None]:
    """Make the interpreter switch threads often, to mix the calls finely."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def run_threads(work: Callable[[int], None]) -> None:
    """Run ``work(index)`` in ``THREADS`` threads at once; re-raise any failure."""
    barrier = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def main(index: int) -> None:
        barrier.wait()
        try:
            work(index)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=main, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


class Books:
    """Which thread holds which address, kept under a lock of the test's own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: set[str] = set()
        self.held: list[list[str]] = [[] for _ in range(THREADS)]

    def got(self, index: int, interface: ipamcore.addresses.IPInterface) -> None:
        address = str(interface.ip)
        assert interface.network == ipaddress.ip_network(POOL)
        with self.lock:
            assert address not in self.live, f"{address} handed out twice"
            self.live.add(address)
        self.held[index].append(address)

    def give_up(self, index: int, rng: random.Random) -> str:
        """Forget one address of thread ``index``; return it for release."""
        address = self.held[index].pop(rng.randrange(len(self.held[index])))
        with self.lock:
            self.live.remove(address)
        return address


def churn(allocator: ipamcore.Allocator, books: Books, index: int) -> None:
    """One thread's mix of calls on the shared pool and pools of its own."""
    rng = random.Random(index)
    for step in range(600):
        choice = rng.random()
        if choice < 0.45:
            request(allocator, books, index, rng.choice([None, SERIAL]))
        elif choice < 0.55:
            request_explicit(allocator, books, index, rng.randrange(1, USABLE + 1))
        elif choice < 0.85 and books.held[index]:
            allocator.release_address(POOL_ID, books.give_up(index, rng))
        elif choice < 0.95:
            own_pool(allocator, index, step)
        else:
            allocator.pools()
            allocator.used_ranges(POOL_ID)


def request(
    allocator: ipamcore.Allocator,
    books: Books,
    index: int,
    options: dict[str, str] | None,
) -> None:
    try:
        interface, _ = allocator.request_address(POOL_ID, options=options)
    except ipamcore.NoAvailableIPsError:
        return
    books.got(index, interface)


def request_explicit(
    allocator: ipamcore.Allocator, books: Books, index: int, host: int
) -> None:
    address = ipaddress.ip_network(POOL)[host]
    try:
        interface, _ = allocator.request_address(POOL_ID, address)
    except ipamcore.IPAlreadyAllocatedError:
        return
    books.got(index, interface)


def own_pool(allocator: ipamcore.Allocator, index: int, step: int) -> None:
    """Request, use and release a pool only this thread touches."""
    pool_id, _, _ = allocator.request_pool(f"space-{index}", f"10.{index}.0.0/24")
    allocator.request_address(pool_id)
    predefined, _, _ = allocator.request_pool(LOCAL, v6=step % 2 == 0)
    allocator.release_pool(predefined)
    allocator.release_pool(pool_id)


@pytest.mark.parametrize("journal", [None, ipamcore.MemoryJournal])
def test_eight_threads_on_one_pool(
    journal: type[ipamcore.MemoryJournal] | None,
) -> None:
    recorded = journal() if journal else None
    allocator = ipamcore.Allocator(host_id="", journal=recorded)
    allocator.request_pool(LOCAL, POOL)
    books = Books()
    run_threads(lambda index: churn(allocator, books, index))
    held = [address for addresses in books.held for address in addresses]
    assert len(held) == len(set(held)) == len(books.live)
    infos = allocator.pools()
    assert [info.pool_id for info in infos] == [POOL_ID]
    assert infos[0].free == USABLE - len(held)
    used = {
        str(ipaddress.ip_address(value))
        for first, last in allocator.used_ranges(POOL_ID)
        for value in range(int(first), int(last) + 1)
    }
    assert used == set(held) | {"10.0.0.0", "10.0.3.255"}
    if recorded is not None:
        replica = ipamcore.Allocator(host_id="")
        replica.replay(recorded)
        assert snapshot(replica) == snapshot(allocator)


def test_threads_draining_one_pool_share_it_exactly() -> None:
    allocator = ipamcore.Allocator(host_id="")
    allocator.request_pool(LOCAL, POOL)
    got: list[list[str]] = [[] for _ in range(THREADS)]

    def drain(index: int) -> None:
        options = SERIAL if index % 2 else None
        while True:
            try:
                interface, _ = allocator.request_address(POOL_ID, options=options)
            except ipamcore.NoAvailableIPsError:
                return
            got[index].append(str(interface))

    run_threads(drain)
    every = sorted(address for addresses in got for address in addresses)
    expected = sorted(f"{host}/22" for host in ipaddress.ip_network(POOL).hosts())
    assert every == expected


def test_threads_requesting_predefined_pools_get_distinct_ones() -> None:
    allocator = ipamcore.Allocator(host_id="")
    got: list[list[str]] = [[] for _ in range(THREADS)]

    def take(index: int) -> None:
        while True:
            try:
                got[index].append(allocator.request_pool(LOCAL)[0])
            except ipamcore.NoAvailablePoolError:
                return

    run_threads(take)
    every = [pool_id for pool_ids in got for pool_id in pool_ids]
    assert len(every) == len(set(every)) == 31


def test_threads_registering_one_name_leave_one_driver() -> None:
    registry = ipamcore.Registry()
    drivers = [ipamcore.Allocator(host_id="") for _ in range(THREADS)]
    won: list[int] = []

    def register(index: int) -> None:
        try:
            registry.register_ipam_driver("shared", drivers[index])
        except ipamcore.InvalidIpamServiceError:
            return
        won.append(index)

    run_threads(register)
    assert len(won) == 1
    assert registry["shared"] is drivers[won[0]]
