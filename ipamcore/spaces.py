"""One address space: its master pools, who holds them, what they occupy.

A master pool is held by its own pool id (when it was requested without a
sub-pool) and by the id of each of its sub-pools; it exists while anything
holds it.  Master pools of one address space never overlap.  Per family,
an occupancy bitmap over the family's whole address range (ordinal =
address) has every master pool's range used: it answers overlap questions
and the predefined-pool search (`ipamcore.predefined`) in time that grows
with the number of used runs met, never with the number of pools.

Every change returns an ``Undo``: a function that puts the space back as it
was, used when a journal refuses the change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from ipamcore._bitmap import Bitmap
from ipamcore._messages import failure
from ipamcore.addresses import IPNetwork, make_address, network_range
from ipamcore.errors import BadPoolError, NoAvailablePoolError, PoolOverlapError
from ipamcore.pools import Pool, PoolKey
from ipamcore.predefined import Position, PredefinedPools

__all__ = ["AddressSpace", "Master", "Undo", "nothing"]

Undo = Callable[[], None]
"""Puts back what one change changed; called at most once, right away."""

FAMILY_BITS = {4: 2**32, 6: 2**128}


class Master:
    """A master pool and the pool ids holding it.

    Attributes:
        pool: The master pool.
        holders: The sub-networks of the sub-pool ids holding it, and
            ``None`` if its own id holds it.
    """

    __slots__ = ("holders", "pool")

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.holders: set[IPNetwork | None] = set()


class AddressSpace:
    """The master pools of one address space.

    Args:
        name: The address space's name.
        predefined: The predefined pools of each IP version (4, 6) that has
            any.

    Attributes:
        masters: Every master pool, by network.
    """

    __slots__ = ("_occupancy", "masters", "name", "predefined")

    def __init__(
        self, name: str, predefined: Mapping[int, PredefinedPools] | None = None
    ) -> None:
        self.name = name
        self.predefined = dict(predefined or {})
        self.masters: dict[IPNetwork, Master] = {}
        self._occupancy: dict[int, Bitmap] = {}

    def is_empty(self) -> bool:
        """Tell whether the space holds no pool."""
        return not self.masters

    def next_predefined(self, version: int) -> tuple[IPNetwork, Position]:
        """Find the next predefined pool of IP ``version``; change nothing.

        Raises:
            NoAvailablePoolError: Every predefined pool of that version is
                taken or overlaps a pool, or there are none.
        """
        pools = self.predefined.get(version)
        if pools is None:
            detail = f"{self.name} has no IPv{version} predefined pools"
            raise failure(NoAvailablePoolError, detail)
        position = pools.find(self.occupancy(version))
        if position is None:
            detail = f"every IPv{version} predefined pool of {self.name} is taken"
            raise failure(NoAvailablePoolError, detail)
        return pools.network(position), position

    def hold(
        self,
        network: IPNetwork,
        sub_network: IPNetwork | None,
        position: Position | None = None,
    ) -> tuple[Pool, Undo]:
        """Hold the master pool ``network`` for one pool id, creating it if absent.

        Args:
            network: The master pool.
            sub_network: The sub-pool of the id, or ``None`` for the
                master's own id.
            position: Where ``network`` lies among the predefined pools, if
                it was handed out as one; the cursor moves past it.

        Raises:
            PoolOverlapError: The id's master pool would overlap another, or
                the id is already held.
            ValueError: ``position`` is not the predefined block ``network``.
        """
        master = self.masters.get(network)
        self._check_hold(network, sub_network, master)
        undo_cursor = self._advance(network, position)
        undo_master = nothing
        if master is None:
            master = Master(Pool(network))
            self._insert(master)
            undo_master = partial(self._remove, master)
        master.holders.add(sub_network)
        undo_holder = partial(master.holders.discard, sub_network)
        return master.pool, partial(_run, undo_holder, undo_master, undo_cursor)

    def release(self, network: IPNetwork, sub_network: IPNetwork | None) -> Undo:
        """Release one pool id's hold; remove the master pool if nothing holds it.

        Raises:
            BadPoolError: The id does not hold the pool.
        """
        master = self.masters.get(network)
        if master is None or sub_network not in master.holders:
            raise failure(BadPoolError, PoolKey(self.name, network, sub_network))
        master.holders.discard(sub_network)
        undo_master = nothing
        if not master.holders:
            self._remove(master)
            undo_master = partial(self._insert, master)
        return partial(_run, undo_master, partial(master.holders.add, sub_network))

    def occupancy(self, version: int) -> Bitmap:
        """Return the occupancy bitmap of IP ``version`` (ordinal = address)."""
        bitmap = self._occupancy.get(version)
        if bitmap is None:
            bitmap = self._occupancy[version] = Bitmap(FAMILY_BITS[version])
        return bitmap

    def _check_hold(
        self, network: IPNetwork, sub_network: IPNetwork | None, master: Master | None
    ) -> None:
        """Raise `PoolOverlapError` unless the id may hold ``network``."""
        if master is not None and sub_network is not None:
            if sub_network in master.holders:
                pool_id = PoolKey(self.name, network, sub_network)
                raise failure(PoolOverlapError, f"{pool_id} is already allocated")
            return
        used = self.occupancy(network.version).find_used(*network_range(network))
        if used is not None:
            address = make_address(network.version, used)
            detail = f"{network} overlaps a pool allocated at {address}"
            raise failure(PoolOverlapError, detail)

    def _advance(self, network: IPNetwork, position: Position | None) -> Undo:
        """Move the predefined cursor past ``position``; return how to undo it."""
        if position is None:
            return nothing
        pools = self.predefined.get(network.version)
        if pools is None or not pools.holds(position, network):
            raise ValueError(f"{network} is not the predefined block {position}")
        cursor = pools.cursor
        pools.advance(position)
        return partial(setattr, pools, "cursor", cursor)

    def _insert(self, master: Master) -> None:
        """Add ``master`` and mark its range used in the occupancy bitmap."""
        network = master.pool.network
        self.occupancy(network.version).set_range(master.pool.first, master.pool.last)
        self.masters[network] = master

    def _remove(self, master: Master) -> None:
        """Drop ``master`` and mark its range free in the occupancy bitmap."""
        network = master.pool.network
        del self.masters[network]
        self.occupancy(network.version).unset_range(master.pool.first, master.pool.last)


def nothing() -> None:
    """Undo a change that changed nothing (an `Undo`)."""


def _run(*undos: Undo) -> None:
    """Run several undos, in order."""
    for undo in undos:
        undo()
