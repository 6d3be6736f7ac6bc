"""Predefined pools: what `request_pool` hands out when no pool is named.

Predefined pools are configured as Docker's ``default-address-pools``: a
list of bases, each a network split into blocks of one prefix length
(``{"base": "10.0.0.0/8", "size": 24}``).  A base is never expanded into
its blocks: a block is found by searching the address space's occupancy
bitmap (one bitmap over the whole family, where every master pool's range
is used), so ``fd00::/8`` split into /64s costs the same as a /24 split
into /24s, and finding a free block skips whole used runs instead of
looking at every allocated pool.

Each family of each address space has one cursor, ``(base index, block
index)``: the search starts there, runs to the last base, wraps to the
first and ends just before the cursor.  Handing out block ``b`` of base
``j`` moves the cursor to ``(j, b + 1)``, so a released pool is handed out
again only after every other one has been tried.

The default IPv6 base is a unique local /48 (RFC 4193) whose 40-bit Global
ID is derived from a stable host identifier the way Docker derives it from
its engine id: the low 40 bits of the first eight bytes (big-endian) of the
identifier's SHA-256 digest.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv6Network

from ipamcore._bitmap import Bitmap
from ipamcore._messages import failure
from ipamcore.addresses import IPNetwork, parse_network
from ipamcore.errors import InvalidIpamConfigServiceError

__all__ = [
    "DEFAULT_GLOBAL_POOLS",
    "DEFAULT_LOCAL_POOLS",
    "Base",
    "Position",
    "PredefinedPools",
    "machine_id",
    "parse_bases",
    "ula_base",
]

Position = tuple[int, int]
"""``(base index, block index)`` of one predefined block."""

DEFAULT_LOCAL_POOLS: tuple[tuple[str, int], ...] = (
    *((f"172.{second}.0.0/16", 16) for second in range(17, 32)),
    ("192.168.0.0/16", 20),
)
"""Docker's local IPv4 predefined pools; the IPv6 one is `ula_base`."""

DEFAULT_GLOBAL_POOLS: tuple[tuple[str, int], ...] = (("10.0.0.0/8", 24),)
"""Docker's global predefined pools (IPv4 only)."""

ULA_PREFIX = 0xFD << 120
"""``fd00::``: the unique local prefix with the L bit set (RFC 4193)."""

MACHINE_ID_PATH = "/etc/machine-id"


@dataclass(frozen=True, slots=True)
class Base:
    """A base network and the prefix length of the blocks split from it.

    Attributes:
        network: The base network.
        size: Prefix length of every block.
        first: The base's first address, as an integer.
        block: Number of addresses in one block.
        count: Number of blocks in the base.
    """

    network: IPNetwork
    size: int
    first: int = field(init=False, repr=False, compare=False)
    block: int = field(init=False, repr=False, compare=False)
    count: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        network = self.network
        object.__setattr__(self, "first", int(network.network_address))
        object.__setattr__(self, "block", 1 << (network.max_prefixlen - self.size))
        object.__setattr__(self, "count", 1 << (self.size - network.prefixlen))

    def block_network(self, index: int) -> IPNetwork:
        """Return block ``index`` as a network."""
        return type(self.network)((self.first + index * self.block, self.size))

    def is_block(self, index: int, network: IPNetwork) -> bool:
        """Tell whether ``network`` is block ``index``."""
        return (
            0 <= index < self.count
            and network.version == self.network.version
            and network.prefixlen == self.size
            and int(network.network_address) == self.first + index * self.block
        )


def parse_bases(spec: object) -> tuple[Base, ...]:
    """Read predefined pools in Docker's ``default-address-pools`` form.

    Args:
        spec: An iterable of ``{"base": CIDR, "size": prefix_length}``
            mappings or ``(CIDR, prefix_length)`` pairs.  Host bits of a
            base are masked off.

    Raises:
        InvalidIpamConfigServiceError: ``spec`` or one of its entries is
            malformed, or a size is shorter than its base's prefix or longer
            than the family allows.
    """
    if isinstance(spec, str | bytes | Mapping) or not isinstance(spec, Iterable):
        raise failure(InvalidIpamConfigServiceError, f"not a list of pools: {spec!r}")
    return tuple(_parse_base(entry) for entry in spec)


def _parse_base(entry: object) -> Base:
    """Read one ``default-address-pools`` entry."""
    base, size = _unpack(entry)
    try:
        network = parse_network(base)
    except ValueError:
        raise failure(InvalidIpamConfigServiceError, f"bad base {base!r}") from None
    if type(size) is not int or not network.prefixlen <= size <= network.max_prefixlen:
        detail = f"base {network} cannot be split into pools of size {size!r}"
        raise failure(InvalidIpamConfigServiceError, detail)
    return Base(network, size)


def _unpack(entry: object) -> tuple[object, object]:
    """Return ``(base, size)`` of an entry given as a mapping or a pair."""
    if isinstance(entry, Mapping) and set(entry) == {"base", "size"}:
        return entry["base"], entry["size"]
    if isinstance(entry, tuple | list) and len(entry) == 2:
        return entry[0], entry[1]
    detail = f"expected {{'base': CIDR, 'size': prefix length}}, got {entry!r}"
    raise failure(InvalidIpamConfigServiceError, detail)


def ula_base(host_id: str) -> Base:
    """Return the default IPv6 base: a ULA /48 derived from ``host_id``, in /64s.

    The same identifier always gives the same /48; passing Docker's engine
    id gives the /48 Docker uses on that host.

    Raises:
        InvalidIpamConfigServiceError: ``host_id`` is not text.
    """
    if not isinstance(host_id, str):
        raise failure(InvalidIpamConfigServiceError, f"bad host id {host_id!r}")
    digest = hashlib.sha256(host_id.encode("utf-8", "surrogatepass")).digest()
    global_id = int.from_bytes(digest[:8], "big") & ((1 << 40) - 1)
    return Base(IPv6Network((ULA_PREFIX | global_id << 80, 48)), 64)


def machine_id() -> str:
    """Return a stable identifier of this machine.

    The content of ``/etc/machine-id`` if it can be read and is not empty,
    otherwise the host name.
    """
    try:
        with open(MACHINE_ID_PATH, encoding="utf-8") as file:
            identifier = file.read().strip()
    except (OSError, UnicodeDecodeError):
        identifier = ""
    return identifier or socket.gethostname()


class PredefinedPools:
    """The predefined bases of one family in one address space, and the cursor.

    Args:
        bases: The bases, in the order they are searched.

    Attributes:
        cursor: The `Position` the next search starts from.
    """

    __slots__ = ("bases", "cursor")

    def __init__(self, bases: Sequence[Base]) -> None:
        self.bases = tuple(bases)
        self.cursor: Position = (0, 0)

    def find(self, occupancy: Bitmap) -> Position | None:
        """Return the next block, from the cursor on, that is entirely free.

        Args:
            occupancy: The family's occupancy bitmap (ordinal = address).

        Returns:
            The block's position, or ``None`` if every block is taken or
            overlaps a pool.  Nothing is changed.
        """
        for index, first_block, last_block in self._segments():
            block = _first_clear_block(
                self.bases[index], occupancy, first_block, last_block
            )
            if block is not None:
                return index, block
        return None

    def network(self, position: Position) -> IPNetwork:
        """Return the network of the block at ``position``.

        Raises:
            ValueError: No block has that position.
        """
        index, block = position
        if not 0 <= index < len(self.bases) or not 0 <= block < self.bases[index].count:
            raise ValueError(f"no predefined block at {position!r}")
        return self.bases[index].block_network(block)

    def holds(self, position: Position, network: IPNetwork) -> bool:
        """Tell whether the block at ``position`` is ``network``."""
        index, block = position
        return 0 <= index < len(self.bases) and self.bases[index].is_block(
            block, network
        )

    def advance(self, position: Position) -> None:
        """Move the cursor just past the block at ``position``."""
        self.cursor = (position[0], position[1] + 1)

    def _segments(self) -> Iterator[tuple[int, int, int]]:
        """Yield ``(base index, first block, last block)`` in search order."""
        if not self.bases:
            return
        current, block = self.cursor
        yield current, block, self.bases[current].count - 1
        for index in [*range(current + 1, len(self.bases)), *range(current)]:
            yield index, 0, self.bases[index].count - 1
        if block > 0:
            yield current, 0, block - 1


def _first_clear_block(
    base: Base, occupancy: Bitmap, first_block: int, last_block: int
) -> int | None:
    """Return the lowest block of ``first_block, last_block`` with no used address.

    Each round skips a whole used run of the occupancy bitmap, so the cost
    grows with the number of runs met, not with the number of blocks.
    """
    # TODO: a run smaller than a block still costs one round, so a base whose
    # every block holds a small explicit pool is searched block by block; an
    # index of runs by length would skip them all at once.
    if first_block > last_block:
        return None
    size = base.block
    start = base.first + first_block * size
    end = base.first + (last_block + 1) * size - 1
    while True:
        free = occupancy.find_free(start, end)
        if free is None:
            return None
        candidate = free + (-(free - base.first) % size)
        if candidate + size - 1 > end:
            return None
        used = occupancy.find_used(candidate, candidate + size - 1)
        if used is None:
            return (candidate - base.first) // size
        start = used
