"""One address pool: a network mapped onto a `Bitmap` of its addresses.

A master pool's ordinal ``i`` is the address ``first + i``.  Sub-pools own
no bitmap: a `PoolRef` names the master pool and the inclusive ordinal range
``start, end`` that a pool id hands out from.  Pool ids are the contract's
text form, ``<space>/<network>`` or ``<space>/<network>/<sub-network>``,
modelled by `PoolKey`.

Reserved ordinals are set in the bitmap when the pool is built, so that no
search can return them: the network and broadcast addresses of IPv4 pools
up to /30 and the subnet-router anycast address (the first) of IPv6 pools
up to /126.  A /31 or /127 has two usable addresses and a /32 or /128 one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ipamcore._bitmap import BitAllocatedError, Bitmap, NoBitAvailableError
from ipamcore._messages import failure
from ipamcore.addresses import (
    INTERFACES,
    InterfaceFactory,
    IPAddress,
    IPNetwork,
    address_text,
    make_address,
    network_range,
    parse_network,
)
from ipamcore.errors import (
    IPAlreadyAllocatedError,
    IPOutOfRangeError,
    NoAvailableIPsError,
)

__all__ = ["Pool", "PoolKey", "PoolRef", "contains", "reserved_ordinals"]


def contains(network: IPNetwork, inner: IPNetwork) -> bool:
    """Tell whether ``inner`` lies inside ``network`` (same family)."""
    if network.version != inner.version:
        return False
    return network.supernet_of(inner)  # type: ignore[arg-type]


def reserved_ordinals(network: IPNetwork) -> tuple[int, ...]:
    """Return the ordinals of ``network`` that are never handed out."""
    if network.version == 4:
        return (
            (0, (1 << (32 - network.prefixlen)) - 1) if network.prefixlen <= 30 else ()
        )
    return (0,) if network.prefixlen <= 126 else ()


@dataclass(frozen=True, slots=True)
class PoolKey:
    """The parts of a pool id.

    Attributes:
        address_space: Name of the address space.
        network: The master pool.
        sub_network: The sub-pool, or ``None`` for the master pool's own id.
    """

    address_space: str
    network: IPNetwork
    sub_network: IPNetwork | None = None

    def __str__(self) -> str:
        text = f"{self.address_space}/{self.network}"
        if self.sub_network is None:
            return text
        return f"{text}/{self.sub_network}"

    @classmethod
    def parse(cls, pool_id: object) -> PoolKey:
        """Read a pool id.

        Networks in an id must have no host bits set, and a sub-network
        must lie inside its network; other text forms of the same networks
        (``2001:DB8::/32``) are accepted, and ``str()`` gives the canonical
        id.

        Raises:
            ValueError: ``pool_id`` is not a well-formed pool id.
        """
        if not isinstance(pool_id, str):
            raise ValueError(f"not a pool id: {pool_id!r}")
        parts = pool_id.split("/")
        if len(parts) not in (3, 5) or not parts[0]:
            raise ValueError(f"not a pool id: {pool_id!r}")
        network = _exact_network(parts[1], parts[2])
        if len(parts) == 3:
            return cls(parts[0], network)
        sub_network = _exact_network(parts[3], parts[4])
        if not contains(network, sub_network):
            raise ValueError(f"sub-pool outside its pool: {pool_id!r}")
        return cls(parts[0], network, sub_network)


def _exact_network(address: str, length: str) -> IPNetwork:
    """Parse a network of a pool id, which must have no host bits set."""
    network = parse_network(f"{address}/{length}")
    if network.network_address != ipaddress.ip_address(address):
        raise ValueError(f"host bits set in {address}/{length}")
    return network


class Pool:
    """A master pool: its network, its bitmap and how to build its addresses.

    Args:
        network: The pool's network.
        interfaces: Builds the interfaces handed out (see `ipamcore.addresses`).
    """

    __slots__ = (
        "bitmap",
        "first",
        "interface",
        "last",
        "network",
        "reserved",
        "version",
    )

    def __init__(self, network: IPNetwork, interfaces: InterfaceFactory = INTERFACES):
        self.network = network
        self.version = network.version
        self.first, self.last = network_range(network)
        self.bitmap = Bitmap(self.last - self.first + 1)
        self.reserved = reserved_ordinals(network)
        for ordinal in self.reserved:
            self.bitmap.set(ordinal)
        self.interface = interfaces(network)

    @property
    def cursor(self) -> int:
        """Where the bitmap's serial search starts next."""
        return self.bitmap.cursor

    def ordinal(self, version: int, value: int) -> int:
        """Return the ordinal of an address given as ``(version, value)``.

        Raises:
            IPOutOfRangeError: The address is not in the pool.
        """
        if version != self.version or not self.first <= value <= self.last:
            raise self._outside(version, value)
        return value - self.first

    def address(self, ordinal: int) -> IPAddress:
        """Return the address of ``ordinal``."""
        return make_address(self.version, self.first + ordinal)

    def take(self, ordinal: int) -> None:
        """Mark the address at ``ordinal`` used.

        Raises:
            IPAlreadyAllocatedError: It is used or reserved.
        """
        try:
            self.bitmap.set(ordinal)
        except BitAllocatedError:
            raise self._in_use(ordinal) from None

    def take_serial(self, ordinal: int) -> None:
        """Mark ``ordinal`` used as a serial allocation, moving the cursor past it.

        Replays a serial allocation exactly.

        Raises:
            IPAlreadyAllocatedError: It is used or reserved.
        """
        try:
            self.bitmap.set_any_in_range(ordinal, ordinal, serial=True)
        except NoBitAvailableError:
            raise self._in_use(ordinal) from None

    def take_lowest(self, start: int, end: int) -> int:
        """Mark the lowest free ordinal of ``start, end`` used and return it.

        Raises:
            NoAvailableIPsError: None is free.
        """
        try:
            return self.bitmap.set_any_in_range(start, end)
        except NoBitAvailableError:
            raise self._exhausted(start, end) from None

    def take_next(self, start: int, end: int) -> int:
        """Like `take_lowest`, searching round-robin from the serial cursor.

        Raises:
            NoAvailableIPsError: None is free.
        """
        try:
            ordinal = self.bitmap.set_any_in_range(start, end, serial=True)
        except NoBitAvailableError:
            raise self._exhausted(start, end) from None
        return ordinal

    def release(self, version: int, value: int) -> int | None:
        """Mark the address ``(version, value)`` free.

        Returns:
            Its ordinal if it was in use, else ``None``: releasing a free or
            reserved address changes nothing.

        Raises:
            IPOutOfRangeError: The address is not in the pool.
        """
        ordinal = self.ordinal(version, value)
        if ordinal in self.reserved or not self.bitmap.unset(ordinal):
            return None
        return ordinal

    def undo_take(self, ordinal: int, cursor: int) -> None:
        """Undo a ``take*`` of ``ordinal`` made while the cursor was ``cursor``."""
        self.bitmap.unset(ordinal)
        self.bitmap.cursor = cursor

    def _outside(self, version: int, value: int) -> IPOutOfRangeError:
        """Return the error for an address outside the pool."""
        text = address_text(version, value)
        return failure(IPOutOfRangeError, f"{text} is not in {self.network}")

    def _in_use(self, ordinal: int) -> IPAlreadyAllocatedError:
        """Return the error for an ordinal already used or reserved."""
        return failure(IPAlreadyAllocatedError, self.address(ordinal))

    def _exhausted(self, start: int, end: int) -> NoAvailableIPsError:
        """Return the error for a range with no free ordinal."""
        detail = f"{self.address(start)} to {self.address(end)} of {self.network}"
        return failure(NoAvailableIPsError, detail)


class PoolRef:
    """What one pool id hands out from: its master pool and an ordinal range.

    Args:
        pool_id: The canonical pool id, ``str(key)``.
        key: The pool id's parts.
        pool: The master pool.

    Attributes:
        start: First ordinal handed out (inclusive).
        end: Last ordinal handed out (inclusive).
    """

    __slots__ = ("end", "key", "pool", "pool_id", "start")

    def __init__(self, pool_id: str, key: PoolKey, pool: Pool) -> None:
        self.pool_id = pool_id
        self.key = key
        self.pool = pool
        sub_network = key.sub_network
        if sub_network is None:
            self.start, self.end = 0, pool.bitmap.bits - 1
        else:
            first, last = network_range(sub_network)
            self.start, self.end = first - pool.first, last - pool.first
