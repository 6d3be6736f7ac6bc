"""An orchestrator-like churn on the embedded allocator, checked as it runs.

`Simulation` plays a container orchestrator against one driver through the
remote protocol mapping (`ipamcore.protocol`), so that every call it makes
can be saved as a line of a replayable trace.  Networks are made the way
Docker makes them: a predefined pool, then its gateway address, then one
address per container; a network is removed by releasing its containers,
then its gateway, then its pool.  Each operation is exactly one driver call,
chosen at random from a seeded generator, so a run is reproducible.

As it goes, the simulation checks the allocator against its own books: no
address is handed out twice, every address lies in its pool with the pool's
prefix length, refusals are justified (a pool said to be full is full, an
address said to be in use is), and, every `Workload.check_interval`
operations and at the end, the allocator's pools and free counts match the
books.  A mismatch raises `InvariantError`.  Refusals that the contract
allows (`NoAvailablePoolError`, `NoAvailableIPsError`,
`IPAlreadyAllocatedError`) are normal answers: they are counted by class
name in the `Summary`.

Nothing here prints; the command line renders the summary.
"""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import NoReturn

from ipamcore import protocol
from ipamcore.allocator import Allocator
from ipamcore.constants import (
    ALLOC_SERIAL,
    GATEWAY,
    LOCAL_DEFAULT,
    REQUEST_ADDRESS_TYPE,
)
from ipamcore.errors import (
    IPAlreadyAllocatedError,
    IpamError,
    NoAvailableIPsError,
    NoAvailablePoolError,
)

__all__ = ["InvariantError", "Recorder", "Simulation", "Summary", "Workload"]

_FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

Recorder = Callable[[str, protocol.Request, protocol.Response], None]
"""Receives every call made: its name, its request fields and the response."""

CONTAINERS_PER_NETWORK = 100
"""The mean number of containers per network the churn settles around."""

CREATE_NETWORK = 0.05
"""Chance per operation of creating a network while below the target
(less `REMOVE_NETWORK`)."""

REMOVE_NETWORK = 0.0002
"""Chance per operation of removing a network."""

STATIC_ADDRESS = 0.02
"""Chance that a new container asks for a fixed address, as ``--ip`` does."""


class InvariantError(AssertionError):
    """The allocator disagrees with the simulation's books.

    The message names the operation number and what disagreed.
    """


@dataclass(frozen=True)
class Workload:
    """What to simulate.

    Attributes:
        networks: How many networks the churn keeps alive, at most.
        operations: How many driver calls to make.
        seed: Seed of the random generator; equal seeds give equal runs.
        serial: Ask for round-robin addresses (``ALLOC_SERIAL``).
        v6: Use IPv6 pools instead of IPv4 ones.
        check_interval: Operations between two full checks of the counts.
    """

    networks: int = 30
    operations: int = 1_000_000
    seed: int = 0
    serial: bool = False
    v6: bool = False
    check_interval: int = 10_000


@dataclass(frozen=True)
class Summary:
    """The outcome of a run.

    Attributes:
        workload: What was simulated.
        operations: Driver calls made.
        seconds: Wall-clock time of the run, checks included.
        pools: Pools allocated at the end.
        addresses: Addresses allocated at the end (gateways included).
        runs: Runs of all the pools' bitmaps at the end.
        checks: Full checks passed.
        failures: Refused calls by error class name, such as
            ``"NoAvailablePoolError"``; these are normal driver answers.
    """

    workload: Workload
    operations: int
    seconds: float
    pools: int
    addresses: int
    runs: int
    checks: int
    failures: Mapping[str, int]

    @property
    def operations_per_second(self) -> float:
        """Driver calls per second of wall-clock time."""
        return self.operations / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, object]:
        """Return the summary as a JSON-ready dictionary."""
        return {
            "workload": asdict(self.workload),
            "operations": self.operations,
            "seconds": round(self.seconds, 6),
            "operations_per_second": round(self.operations_per_second, 1),
            "pools": self.pools,
            "addresses": self.addresses,
            "runs": self.runs,
            "checks": self.checks,
            "failures": dict(sorted(self.failures.items())),
        }


@dataclass
class _Network:
    """The books kept on one network: its pool and its live addresses."""

    pool_id: str
    pool: Network
    gateway: str = ""
    containers: list[str] = field(default_factory=list)


class Simulation:
    """A seeded orchestrator churn against one driver.

    Args:
        driver: The allocator to exercise.
        workload: What to simulate.
        recorder: Called with every call made and its response, for traces.
    """

    def __init__(
        self,
        driver: Allocator,
        workload: Workload,
        recorder: Recorder | None = None,
    ) -> None:
        self._driver = driver
        self._workload = workload
        self._recorder = recorder
        self._random = random.Random(workload.seed)
        self._networks: dict[str, _Network] = {}
        self._active: list[str] = []
        self._live: dict[str, int] = {}
        self._pending: deque[Callable[[], None]] = deque(
            [self._get_capabilities, self._get_default_address_spaces]
        )
        self._failures: Counter[str] = Counter()
        self._done = 0
        self._checks = 0
        self._request: tuple[str, protocol.Request] = ("", {})

    def run(self, progress: Callable[[int], None] | None = None) -> Summary:
        """Make the workload's calls, checking as it goes, and sum them up.

        Args:
            progress: Called now and then with the number of calls made.

        Raises:
            InvariantError: A check failed; the run stops there.
        """
        started = time.perf_counter()
        while self._done < self._workload.operations:
            self._step()
            if self._done % self._workload.check_interval == 0:
                self.check()
            if progress is not None and self._done % 1000 == 0:
                progress(self._done)
        self.check()
        return self._summary(time.perf_counter() - started)

    def check(self) -> None:
        """Compare the allocator's pools, free counts and used addresses with the books.

        Raises:
            InvariantError: A pool is missing or extra, a count differs, or
                the addresses the allocator holds used are not the live and
                reserved ones.
        """
        snapshots = {info.pool_id: info for info in self._driver.pools()}
        if snapshots.keys() != self._networks.keys():
            differ = sorted(snapshots.keys() ^ self._networks.keys())
            self._fail(f"the allocator's pools differ from the books: {differ}")
        for pool_id, network in self._networks.items():
            info = snapshots[pool_id]
            expected = info.size - len(_reserved(network.pool)) - _live_count(network)
            if info.free != expected:
                self._fail(f"{pool_id} has {info.free} free, expected {expected}")
            used = [(int(a), int(b)) for a, b in self._driver.used_ranges(pool_id)]
            if used != self._used_ranges(network):
                self._fail(f"{pool_id} holds other addresses than the books")
        self._checks += 1

    # -- choosing the next call --------------------------------------------

    def _step(self) -> None:
        """Make one driver call: the next step of a started action, or a new one.

        Raises:
            InvariantError: A check failed, or the driver refused a call that
                should have succeeded.
        """
        action = self._pending.popleft() if self._pending else self._choose()
        self._done += 1
        try:
            action()
        except IpamError as exc:
            call, body = self._request
            refusal = f"{type(exc).__name__}: {exc}"
            message = f"{call} {json.dumps(body)} refused with {refusal}"
            raise self._invariant_error(message) from exc

    def _choose(self) -> Callable[[], None]:
        """Pick the next action at random, steering towards the targets."""
        live = len(self._active)
        draw = self._random.random()
        if live and draw < REMOVE_NETWORK:
            return self._remove_network
        if live == 0 or (live < self._workload.networks and draw < CREATE_NETWORK):
            return self._create_network
        network = self._networks[self._random.choice(self._active)]
        containers = len(network.containers)
        if self._random.random() * (containers + CONTAINERS_PER_NETWORK) < containers:
            return partial(self._stop_container, network)
        if self._random.random() < STATIC_ADDRESS:
            return partial(self._start_static_container, network)
        return partial(self._start_container, network)

    # -- the actions ---------------------------------------------------------

    def _get_capabilities(self) -> None:
        """Ask for the capabilities, as Docker does when it loads a driver."""
        self._call("GetCapabilities", {})

    def _get_default_address_spaces(self) -> None:
        """Ask for the default address spaces, as Docker does at start."""
        self._call("GetDefaultAddressSpaces", {})

    def _create_network(self) -> None:
        """Request a predefined pool; its gateway is the next operation."""
        body: dict[str, object] = {
            "AddressSpace": LOCAL_DEFAULT,
            "V6": self._workload.v6,
        }
        body |= self._serial_options()
        response = self._call_allowing("RequestPool", body, (NoAvailablePoolError,))
        if response is None:
            return
        pool_id = str(response["PoolID"])
        pool = ipaddress.ip_network(str(response["Pool"]))
        self._networks[pool_id] = _Network(pool_id, pool)
        self._pending.append(partial(self._request_gateway, pool_id))

    def _request_gateway(self, pool_id: str) -> None:
        """Request a new network's gateway; the network is then usable."""
        options = {REQUEST_ADDRESS_TYPE: GATEWAY}
        body = {"PoolID": pool_id, "Options": options}
        response = self._call("RequestAddress", body)
        network = self._networks[pool_id]
        network.gateway = self._admit(network, response)
        self._active.append(pool_id)

    def _start_container(self, network: _Network) -> None:
        """Request the next free address of a network for a new container."""
        body = {"PoolID": network.pool_id} | self._serial_options()
        response = self._call_allowing("RequestAddress", body, (NoAvailableIPsError,))
        if response is None:
            self._expect_full(network)
            return
        network.containers.append(self._admit(network, response))

    def _start_static_container(self, network: _Network) -> None:
        """Request a fixed address, chosen at random inside the pool."""
        address = _random_host(self._random, network.pool)
        body = {"PoolID": network.pool_id, "Address": str(address)}
        allowed = (IPAlreadyAllocatedError,)
        response = self._call_allowing("RequestAddress", body, allowed)
        wanted = f"{address}/{network.pool.prefixlen}"
        if response is None:
            self._expect_live(wanted)
            return
        if response["Address"] != wanted:
            self._fail(f"asked for {wanted}, got {response['Address']}")
        network.containers.append(self._admit(network, response))

    def _stop_container(self, network: _Network) -> None:
        """Release the address of a random container of a network."""
        self._release(network, _pop_random(self._random, network.containers))

    def _remove_network(self) -> None:
        """Retire a random network: queue its containers, gateway and pool.

        The first of those releases is made at once, as this operation's call.
        """
        pool_id = self._active.pop(self._random.randrange(len(self._active)))
        network = self._networks[pool_id]
        for _ in network.containers:
            self._pending.append(partial(self._stop_last_container, network))
        self._pending.append(partial(self._release_gateway, network))
        self._pending.append(partial(self._release_pool, network))
        self._pending.popleft()()

    def _stop_last_container(self, network: _Network) -> None:
        """Release the address of a retired network's newest container."""
        self._release(network, network.containers.pop())

    def _release_gateway(self, network: _Network) -> None:
        """Release a retired network's gateway address."""
        self._release(network, network.gateway)
        network.gateway = ""

    def _release_pool(self, network: _Network) -> None:
        """Release a retired network's pool and drop its books."""
        self._call("ReleasePool", {"PoolID": network.pool_id})
        del self._networks[network.pool_id]

    def _release(self, network: _Network, address: str) -> None:
        """Release one address of a network and take it off the books."""
        body = {"PoolID": network.pool_id, "Address": address.partition("/")[0]}
        self._call("ReleaseAddress", body)
        del self._live[address]

    # -- making calls and checking answers ------------------------------------

    def _call(self, call: str, body: protocol.Request) -> protocol.Response:
        """Make one call and record it; a refusal is recorded, then raised."""
        self._request = (call, body)
        try:
            response = protocol.execute(self._driver, call, body)
        except IpamError as exc:
            self._record(call, body, protocol.error_response(exc))
            raise
        self._record(call, body, response)
        return response

    def _call_allowing(
        self,
        call: str,
        body: protocol.Request,
        allowed: tuple[type[IpamError], ...],
    ) -> protocol.Response | None:
        """Make one call; count a refusal of an ``allowed`` class, return ``None``."""
        try:
            return self._call(call, body)
        except allowed as exc:
            self._failures[type(exc).__name__] += 1
            return None

    def _record(
        self, call: str, body: protocol.Request, response: protocol.Response
    ) -> None:
        """Pass a call and its response to the recorder, if there is one."""
        if self._recorder is not None:
            self._recorder(call, body, response)

    def _admit(self, network: _Network, response: protocol.Response) -> str:
        """Check a newly handed out address and put it on the books."""
        address = str(response["Address"])
        if address in self._live:
            self._fail(f"{address} handed out twice")
        host, _, length = address.partition("/")
        value = _value(network.pool, host)
        if length != str(network.pool.prefixlen) or value is None:
            self._fail(f"{address} is not an address of {network.pool}")
        self._live[address] = value
        return address

    def _expect_full(self, network: _Network) -> None:
        """Check that a pool said to be full is full by the books."""
        if _live_count(network) != _capacity(network.pool):
            self._fail(f"{network.pool_id} said full with {_live_count(network)} live")

    def _expect_live(self, address: str) -> None:
        """Check that an address said to be in use is on the books."""
        if address not in self._live:
            self._fail(f"{address} said to be in use but was never handed out")

    def _fail(self, message: str) -> NoReturn:
        """Raise `InvariantError` naming the current operation."""
        raise self._invariant_error(message)

    def _invariant_error(self, message: str) -> InvariantError:
        """Return the `InvariantError` naming the current operation."""
        return InvariantError(f"operation {self._done}: {message}")

    # -- helpers -------------------------------------------------------------

    def _serial_options(self) -> dict[str, object]:
        """Return the request fields that ask for round-robin allocation."""
        if not self._workload.serial:
            return {}
        return {"Options": {ALLOC_SERIAL: "true"}}

    def _used_ranges(self, network: _Network) -> list[tuple[int, int]]:
        """Return the inclusive ranges the books say are used, reserved included."""
        used = set(_reserved(network.pool))
        if network.gateway:
            used.add(self._live[network.gateway])
        used.update(self._live[text] for text in network.containers)
        ranges: list[tuple[int, int]] = []
        for value in sorted(used):
            if ranges and ranges[-1][1] + 1 == value:
                ranges[-1] = (ranges[-1][0], value)
            else:
                ranges.append((value, value))
        return ranges

    def _summary(self, seconds: float) -> Summary:
        """Sum up the run from the books and the allocator's snapshots."""
        masters = {info.network: info.runs for info in self._driver.pools()}
        return Summary(
            workload=self._workload,
            operations=self._done,
            seconds=seconds,
            pools=len(self._networks),
            addresses=len(self._live),
            runs=sum(masters.values()),
            checks=self._checks,
            failures=dict(self._failures),
        )


def _reserved(pool: Network) -> tuple[int, ...]:
    """Return the addresses of a pool that are never handed out (contract 5)."""
    first, last = int(pool.network_address), int(pool.broadcast_address)
    if pool.version == 4 and pool.prefixlen <= 30:
        return (first, last)
    if pool.version == 6 and pool.prefixlen <= 126:
        return (first,)
    return ()


def _capacity(pool: Network) -> int:
    """Count the addresses of a pool that may be handed out."""
    return pool.num_addresses - len(_reserved(pool))


def _value(pool: Network, host: str) -> int | None:
    """Return an address of ``pool`` given as text as an integer, or ``None``.

    ``socket.inet_pton`` reads the text many times faster than `ipaddress`.
    """
    try:
        packed = socket.inet_pton(_FAMILIES[pool.version], host)
    except OSError:
        return None
    value = int.from_bytes(packed, "big")
    first, last = int(pool.network_address), int(pool.broadcast_address)
    return value if first <= value <= last else None


def _random_host(
    rng: random.Random, pool: Network
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Pick a random address of a pool that is never reserved."""
    first = 1 if _capacity(pool) < pool.num_addresses else 0
    last = pool.num_addresses - (2 if pool.version == 4 and first else 1)
    return pool.network_address + rng.randint(first, last)


def _live_count(network: _Network) -> int:
    """Count a network's live addresses, gateway included."""
    return len(network.containers) + (1 if network.gateway else 0)


def _pop_random(rng: random.Random, items: list[str]) -> str:
    """Remove and return a random item in O(1), by swapping it to the end."""
    index = rng.randrange(len(items))
    items[index], items[-1] = items[-1], items[index]
    return items.pop()
