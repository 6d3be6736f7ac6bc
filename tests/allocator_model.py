"""A naive reference model of `ipamcore.Allocator`, and random contract calls.

`ModelAllocator` follows the contract in the plainest way: it scans every
pool to check overlaps, expands the predefined pools into a list and keeps
one `ModelBitmap` (the reference model of the core) per master pool.  The
tests drive it and an `Allocator` with the same `Call`s and compare every
outcome.

The universe is small on purpose: a handful of overlapping networks of
both families, so that random calls collide often.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from model import ModelBitmap

import ipamcore
from ipamcore import BitAllocatedError, NoBitAvailableError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOCAL_POOLS = [("10.1.0.0/29", 30), ("2001:db8:1::/125", 126)]
GLOBAL_POOLS = [("10.1.0.0/28", 29)]
CONFIG: dict[str, Any] = {"local_pools": LOCAL_POOLS, "global_pools": GLOBAL_POOLS}

SPACES = ["LocalDefault", "GlobalDefault", "blue"]
POOLS = [
    ("10.1.0.0/30", ""),
    ("10.1.0.4/30", ""),
    ("10.1.0.0/29", ""),
    ("10.1.0.0/29", "10.1.0.0/30"),
    ("10.1.0.0/29", "10.1.0.4/30"),
    ("10.1.0.0/29", "10.1.0.6/31"),
    ("10.1.0.0/28", ""),
    ("10.1.0.8/29", ""),
    ("10.1.0.8/30", "10.1.0.8/30"),
    ("10.1.0.12/31", ""),
    ("10.1.0.14/32", ""),
    ("2001:db8:1::/126", ""),
    ("2001:db8:1::4/126", ""),
    ("2001:db8:1::/125", ""),
    ("2001:db8:1::/125", "2001:db8:1::/126"),
    ("2001:db8:1::/125", "2001:db8:1::4/127"),
    ("2001:db8:1::8/127", ""),
    ("2001:db8:1::a/128", ""),
]
POOL_IDS = sorted(
    {
        f"{space}/{pool}" + (f"/{sub_pool}" if sub_pool else "")
        for space in SPACES
        for pool, sub_pool in [*POOLS, ("10.1.0.8/29", ""), ("10.1.0.12/30", "")]
    }
)
ADDRESSES = [
    *(str(address) for address in ipaddress.ip_network("10.1.0.0/28")),
    *(str(address) for address in ipaddress.ip_network("2001:db8:1::/124")),
    "10.1.0.16",
]
SERIAL = {ipamcore.ALLOC_SERIAL: "true"}

Call = tuple[Any, ...]
"""A contract call: its method name, then its arguments.

A pool id argument may be an integer: `resolve` replaces it with one of the
pool ids currently held, so that most calls name a pool that exists.
"""

pool_ids = st.integers(0, 1000) | st.sampled_from(POOL_IDS)

address_calls: st.SearchStrategy[Call] = st.one_of(
    st.tuples(
        st.just("request_address"),
        st.integers(0, 1000),
        st.none() | st.sampled_from(ADDRESSES),
        st.booleans(),
    ),
    st.tuples(
        st.just("release_address"), st.integers(0, 1000), st.sampled_from(ADDRESSES)
    ),
)
"""Address calls on pools currently held."""

calls: st.SearchStrategy[Call] = st.one_of(
    st.tuples(st.just("request_pool"), st.sampled_from(SPACES), st.sampled_from(POOLS)),
    st.tuples(st.just("request_predefined"), st.sampled_from(SPACES), st.booleans()),
    st.tuples(st.just("release_pool"), pool_ids),
    st.tuples(
        st.just("request_address"),
        pool_ids,
        st.none() | st.sampled_from(ADDRESSES),
        st.booleans(),
    ),
    st.tuples(st.just("release_address"), pool_ids, st.sampled_from(ADDRESSES)),
    address_calls,
)
"""Any contract call of the universe."""


def resolve(call: Call, held: list[str]) -> Call:
    """Replace an integer pool id with one of ``held`` (or the universe's)."""
    name, *arguments = call
    if arguments and isinstance(arguments[0], int):
        choices = held or POOL_IDS
        arguments[0] = choices[arguments[0] % len(choices)]
    return (name, *arguments)


def perform(driver: Any, call: Call) -> tuple[str, Any]:
    """Make ``call``; return ``("value", result)`` or ``("error", error class)``.

    Results are reduced to text so that the model's can be compared.
    """
    name, *arguments = call
    try:
        return "value", _ACTIONS[name](driver, *arguments)
    except ipamcore.IpamError as exc:
        return "error", type(exc)


def _request_pool(driver: Any, space: str, pool: tuple[str, str]) -> str:
    return str(driver.request_pool(space, pool[0], pool[1])[0])


def _request_predefined(driver: Any, space: str, v6: bool) -> str:
    return str(driver.request_pool(space, v6=v6)[0])


def _release_pool(driver: Any, pool_id: str) -> None:
    driver.release_pool(pool_id)


def _request_address(
    driver: Any, pool_id: str, address: str | None, serial: bool
) -> str:
    return str(driver.request_address(pool_id, address, SERIAL if serial else None)[0])


def _release_address(driver: Any, pool_id: str, address: str) -> None:
    driver.release_address(pool_id, address)


_ACTIONS: dict[str, Callable[..., Any]] = {
    "request_pool": _request_pool,
    "request_predefined": _request_predefined,
    "release_pool": _release_pool,
    "request_address": _request_address,
    "release_address": _release_address,
}


@dataclass
class ModelMaster:
    """A master pool of the model: its bitmap and the ids holding it."""

    network: Network
    bitmap: ModelBitmap
    holders: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, network: Network) -> ModelMaster:
        """A fresh master pool with its reserved addresses set."""
        bitmap = ModelBitmap(network.num_addresses)
        if network.version == 4 and network.prefixlen <= 30:
            bitmap.set(0)
            bitmap.set(network.num_addresses - 1)
        if network.version == 6 and network.prefixlen <= 126:
            bitmap.set(0)
        return cls(network, bitmap)

    def reserved(self) -> set[int]:
        """The reserved ordinals."""
        network = self.network
        if network.version == 4 and network.prefixlen <= 30:
            return {0, network.num_addresses - 1}
        return {0} if network.version == 6 and network.prefixlen <= 126 else set()


class ModelAllocator:
    """The contract, followed naively, for the universe above."""

    def __init__(self) -> None:
        self.ids: dict[str, tuple[str, Network, Network | None]] = {}
        self.masters: dict[tuple[str, Network], ModelMaster] = {}
        self.blocks = {
            ("LocalDefault", 4): _blocks(LOCAL_POOLS[:1]),
            ("LocalDefault", 6): _blocks(LOCAL_POOLS[1:]),
            ("GlobalDefault", 4): _blocks(GLOBAL_POOLS),
        }
        self.cursors = {key: (0, 0) for key in self.blocks}

    def request_pool(
        self, space: str, pool: str = "", sub_pool: str = "", v6: bool = False
    ) -> tuple[str]:
        if not pool:
            return self._predefined(space, 6 if v6 else 4)
        network = ipaddress.ip_network(pool, strict=False)
        sub = ipaddress.ip_network(sub_pool, strict=False) if sub_pool else None
        pool_id = f"{space}/{network}" + (f"/{sub}" if sub else "")
        master = self.masters.get((space, network))
        if master is None and self._overlaps(space, network):
            raise ipamcore.PoolOverlapError
        if master is not None and (sub is None or pool_id in master.holders):
            raise ipamcore.PoolOverlapError
        self._hold(pool_id, space, network, sub)
        return (pool_id,)

    def release_pool(self, pool_id: str) -> None:
        if pool_id not in self.ids:
            raise ipamcore.BadPoolError
        space, network, _ = self.ids.pop(pool_id)
        master = self.masters[(space, network)]
        master.holders.discard(pool_id)
        if not master.holders:
            del self.masters[(space, network)]

    def request_address(
        self, pool_id: str, address: str | None, options: dict[str, str] | None
    ) -> tuple[str]:
        master, start, end = self._lookup(pool_id)
        if address is not None:
            ordinal = self._ordinal(master, address)
            try:
                master.bitmap.set(ordinal)
            except BitAllocatedError:
                raise ipamcore.IPAlreadyAllocatedError from None
        else:
            try:
                ordinal = master.bitmap.set_any_in_range(start, end, bool(options))
            except NoBitAvailableError:
                raise ipamcore.NoAvailableIPsError from None
        network = master.network
        return (f"{network[ordinal]}/{network.prefixlen}",)

    def release_address(self, pool_id: str, address: str) -> None:
        master, _, _ = self._lookup(pool_id)
        ordinal = self._ordinal(master, address)
        if ordinal not in master.reserved():
            master.bitmap.unset(ordinal)

    def _predefined(self, space: str, version: int) -> tuple[str]:
        blocks = self.blocks.get((space, version), [])
        cursor = self.cursors.get((space, version), (0, 0))
        order = [b for b in blocks if b[0] >= cursor] + [
            b for b in blocks if b[0] < cursor
        ]
        for position, network in order:
            if not self._overlaps(space, network):
                self.cursors[(space, version)] = (position[0], position[1] + 1)
                pool_id = f"{space}/{network}"
                self._hold(pool_id, space, network, None)
                return (pool_id,)
        raise ipamcore.NoAvailablePoolError

    def _overlaps(self, space: str, network: Network) -> bool:
        return any(
            key[0] == space
            and key[1].version == network.version
            and key[1].overlaps(network)
            for key in self.masters
        )

    def _hold(
        self, pool_id: str, space: str, network: Network, sub: Network | None
    ) -> None:
        master = self.masters.setdefault((space, network), ModelMaster.build(network))
        master.holders.add(pool_id)
        self.ids[pool_id] = (space, network, sub)

    def _lookup(self, pool_id: str) -> tuple[ModelMaster, int, int]:
        if pool_id not in self.ids:
            raise ipamcore.PoolNotFoundError
        space, network, sub = self.ids[pool_id]
        master = self.masters[(space, network)]
        if sub is None:
            return master, 0, network.num_addresses - 1
        start = int(sub.network_address) - int(network.network_address)
        return master, start, start + sub.num_addresses - 1

    @staticmethod
    def _ordinal(master: ModelMaster, address: str) -> int:
        parsed = ipaddress.ip_address(address)
        if parsed not in master.network:
            raise ipamcore.IPOutOfRangeError
        return int(parsed) - int(master.network.network_address)

    def used(self, pool_id: str) -> list[tuple[str, str]]:
        """The used ranges of a pool id's master pool, as address text."""
        master, _, _ = self._lookup(pool_id)
        network = master.network
        return [
            (str(network[start]), str(network[end]))
            for start, end in master.bitmap.ranges()
        ]

    def free(self, pool_id: str) -> int:
        """Free addresses of a pool id's master pool."""
        return self._lookup(pool_id)[0].bitmap.free


def _blocks(bases: list[tuple[str, int]]) -> list[tuple[tuple[int, int], Network]]:
    """Expand predefined bases into ``((base index, block index), network)``."""
    blocks: list[tuple[tuple[int, int], Network]] = []
    for index, (base, size) in enumerate(bases):
        networks: Iterable[Network] = ipaddress.ip_network(base).subnets(
            new_prefix=size
        )
        blocks += [((index, block), network) for block, network in enumerate(networks)]
    return blocks


def observe(driver: ipamcore.Allocator) -> list[tuple[str, int, list[tuple[str, str]]]]:
    """What a test compares with the model: ids, free counts and used ranges."""
    return [
        (
            info.pool_id,
            info.free,
            [
                (str(first), str(last))
                for first, last in driver.used_ranges(info.pool_id)
            ],
        )
        for info in driver.pools()
    ]


def observe_model(
    model: ModelAllocator,
) -> list[tuple[str, int, list[tuple[str, str]]]]:
    """The model's side of `observe`, in the order `Allocator.pools` promises."""

    def order(pool_id: str) -> tuple[object, ...]:
        space, network, sub = model.ids[pool_id]
        inner = (-1, -1) if sub is None else (int(sub.network_address), sub.prefixlen)
        return (
            space,
            network.version,
            int(network.network_address),
            network.prefixlen,
            *inner,
        )

    return [
        (pool_id, model.free(pool_id), model.used(pool_id))
        for pool_id in sorted(model.ids, key=order)
    ]


def probe(driver: Any) -> list[tuple[str, Any]]:
    """Outcomes of calls that reveal hidden state: the cursors.

    Asks every address space for its next predefined pool of each family
    and every pool id for its next serial address.  Changes the state.
    """
    ids = [info.pool_id for info in driver.pools()]
    outcomes = [
        perform(driver, ("request_predefined", space, v6))
        for space in SPACES
        for v6 in (False, True)
    ]
    outcomes += [
        perform(driver, ("request_address", pool_id, None, True)) for pool_id in ids
    ]
    return outcomes
