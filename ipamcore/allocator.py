"""`Allocator`: the built-in IPAM driver of the contract.

This layer checks what callers pass, turns it into the contract's errors,
takes the allocator's lock and logs at DEBUG each call that can change the
state (the queries are not logged).  The state lives below it: address
spaces (`ipamcore.spaces`) holding master pools (`ipamcore.pools`), and an
index from each pool id to what it hands out.

Every change of state reaches the allocator's journal, if it has one
(`ipamcore.journal`), through one function, `_record`, which undoes
the change if the journal refuses it.  Pools are held and dropped by the
same methods live and on replay (`Allocator.replay`).  Address requests,
the hot path, let the bitmap choose and mark the address in one step and
then describe what it did; without a journal they build no change object at
all, which would cost a noticeable part of a request's time budget.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from logging import DEBUG

from ipamcore._messages import failure
from ipamcore.addresses import (
    IPAddress,
    IPInterface,
    IPNetwork,
    parse_address,
    parse_network,
)
from ipamcore.constants import ALLOC_SERIAL, GLOBAL_DEFAULT, LOCAL_DEFAULT
from ipamcore.errors import (
    BadPoolError,
    InvalidAddressSpaceError,
    InvalidPoolError,
    InvalidRequestError,
    InvalidSubPoolError,
    IpamInternalError,
    PoolNotFoundError,
)
from ipamcore.journal import (
    AddressAllocated,
    AddressReleased,
    Change,
    Journal,
    PoolAllocated,
    PoolReleased,
)
from ipamcore.pools import PoolKey, PoolRef, contains
from ipamcore.predefined import (
    DEFAULT_GLOBAL_POOLS,
    DEFAULT_LOCAL_POOLS,
    Base,
    Position,
    PredefinedPools,
    machine_id,
    parse_bases,
    ula_base,
)
from ipamcore.spaces import AddressSpace, Undo, nothing

__all__ = ["Allocator", "PoolInfo", "PoolsSpec"]

_log = logging.getLogger(__name__)

PoolsSpec = Iterable[Mapping[str, object] | tuple[object, object] | list[object]]
"""Predefined pools in Docker's ``default-address-pools`` form."""

CAPABILITIES = {"RequiresMACAddress": False, "RequiresRequestReplay": False}


@dataclass(frozen=True, slots=True)
class PoolInfo:
    """A read-only snapshot of one allocated pool id.

    Attributes:
        pool_id: The pool id.
        address_space: Its address space.
        network: Its master pool.
        sub_network: Its sub-pool, or ``None`` for the master pool's own id.
        size: Number of addresses in the master pool.
        free: Free addresses in the master pool (shared by all its ids).
        runs: Runs in the master pool's bitmap.
        reserved: The master pool's addresses that are never handed out.
    """

    pool_id: str
    address_space: str
    network: IPNetwork
    sub_network: IPNetwork | None
    size: int
    free: int
    runs: int
    reserved: tuple[IPAddress, ...]


class Allocator:
    """The built-in IPAM driver: address spaces, pools and addresses.

    All methods are safe to call from many threads at once: one lock guards
    the whole state.

    Args:
        local_pools: Predefined pools of ``LocalDefault``, replacing
            Docker's IPv4 defaults.  As in Docker, if none of them is IPv6,
            the IPv6 default (a ULA /48 in /64s) is added.
        global_pools: Predefined pools of ``GlobalDefault``, replacing the
            default ``10.0.0.0/8`` in /24s.
        host_id: Identifier the default ULA /48 is derived from; by default
            ``/etc/machine-id``, or the host name where that cannot be read.
            Pass Docker's engine id to get the /48 Docker uses.
        journal: Receives every change of state (`ipamcore.journal`); it
            is called with the allocator's lock held and must not call back.

    Raises:
        InvalidIpamConfigServiceError: The predefined pools or ``host_id``
            are malformed.
        TypeError: ``journal`` has no ``append`` method.
    """

    def __init__(
        self,
        local_pools: PoolsSpec | None = None,
        global_pools: PoolsSpec | None = None,
        *,
        host_id: str | None = None,
        journal: Journal | None = None,
    ) -> None:
        if journal is not None and (
            isinstance(journal, type) or not callable(getattr(journal, "append", None))
        ):
            raise TypeError(f"a journal needs an append(change) method: {journal!r}")
        self._lock = threading.Lock()
        self._journal = journal
        self._refs: dict[str, PoolRef] = {}
        self._spaces: dict[str, AddressSpace] = {}
        bases = {
            LOCAL_DEFAULT: _local_bases(local_pools, host_id),
            GLOBAL_DEFAULT: parse_bases(
                DEFAULT_GLOBAL_POOLS if global_pools is None else global_pools
            ),
        }
        for name, space_bases in bases.items():
            self._spaces[name] = AddressSpace(name, _by_version(space_bases))

    def __repr__(self) -> str:
        return f"<Allocator with {len(self._refs)} pool ids>"

    # -- the driver contract ---------------------------------------------

    def get_default_address_spaces(self) -> tuple[str, str]:
        """Return the names of the local and global default address spaces."""
        return LOCAL_DEFAULT, GLOBAL_DEFAULT

    def request_pool(
        self,
        address_space: str,
        pool: str | IPNetwork | IPInterface = "",
        sub_pool: str | IPNetwork | IPInterface = "",
        options: Mapping[str, str] | None = None,
        v6: bool = False,
    ) -> tuple[str, IPNetwork, dict[str, str]]:
        """Allocate a pool, or the next free predefined pool if none is named.

        Args:
            address_space: A non-empty name without ``/``.
            pool: The master pool (CIDR; host bits are masked off), or
                ``""`` for the next predefined pool of the family ``v6``
                selects.
            sub_pool: A part of ``pool`` to hand addresses out from, or
                ``""``.
            options: Ignored, as by Docker's driver; ``None`` or a mapping.
            v6: With no ``pool``, hand out an IPv6 pool.  Ignored otherwise.

        Returns:
            ``(pool_id, network, data)``: the id to use in later calls, the
            master pool, and an empty dict.

        Raises:
            InvalidAddressSpaceError: Bad ``address_space``.
            InvalidPoolError: Bad ``pool``.
            InvalidSubPoolError: ``sub_pool`` is bad, of another family,
                not inside ``pool``, or given without it.
            InvalidRequestError: ``options`` is not a mapping or ``v6`` not
                a bool.
            PoolOverlapError: The master pool overlaps or equals one of the
                address space, or the sub-pool is already allocated.
            NoAvailablePoolError: No predefined pool is left.
        """
        _log.debug(
            "request_pool(%r, pool=%r, sub_pool=%r, options=%r, v6=%r)",
            *(address_space, pool, sub_pool, options, v6),
        )
        _check_address_space(address_space)
        _check_options(options)
        if type(v6) is not bool:
            raise failure(InvalidRequestError, f"v6 must be a bool, not {v6!r}")
        if isinstance(pool, str) and not pool:
            if not (isinstance(sub_pool, str) and not sub_pool):
                raise failure(InvalidSubPoolError, f"{sub_pool!r} without a pool")
            return self._request_predefined(address_space, 6 if v6 else 4)
        key = _pool_key(address_space, pool, sub_pool)
        pool_id = str(key)
        with self._lock:
            undo = self._hold(pool_id, key, None)
            if self._journal is not None:
                _record(self._journal, PoolAllocated(pool_id), undo)
        return pool_id, key.network, {}

    def release_pool(self, pool_id: str) -> None:
        """Release a pool id; the master pool goes when nothing holds it.

        Raises:
            InvalidRequestError: ``pool_id`` is malformed.
            BadPoolError: ``pool_id`` is not allocated (released twice).
        """
        _log.debug("release_pool(%r)", pool_id)
        key = _parse_pool_id(pool_id)
        canonical = str(key)
        with self._lock:
            undo = self._drop(canonical, key)
            if self._journal is not None:
                _record(self._journal, PoolReleased(canonical), undo)

    def request_address(
        self,
        pool_id: str,
        address: str | IPAddress | None = None,
        options: Mapping[str, str] | None = None,
    ) -> tuple[IPInterface, dict[str, str]]:
        """Hand out an address of a pool.

        Args:
            pool_id: An id from `request_pool`.
            address: The address wanted, anywhere in the master pool; or
                ``None`` (or ``""``) for the lowest free address of the id's
                range.
            options: ``None`` or a mapping; ``{ALLOC_SERIAL: "true"}`` hands
                addresses out round-robin, after the last one handed out.

        Returns:
            ``(interface, data)``: the address with the master pool's prefix
            length, and an empty dict.

        Raises:
            InvalidRequestError: ``pool_id``, ``address`` or ``options`` is
                malformed.
            PoolNotFoundError: No such pool id is allocated.
            IPOutOfRangeError: ``address`` is not in the master pool.
            IPAlreadyAllocatedError: ``address`` is in use or reserved.
            NoAvailableIPsError: No address of the range is free.
        """
        if _log.isEnabledFor(DEBUG):
            _log.debug("request_address(%r, %r, %r)", pool_id, address, options)
        serial = False if options is None else _serial(options)
        if address is not None and address != "":
            return self._request_given(pool_id, address)
        lock = self._lock
        lock.acquire()  # not `with`, which costs twice as much: this is the hot path
        try:
            try:
                ref = self._refs[pool_id]
            except (KeyError, TypeError):
                ref = self._resolve(pool_id)
            pool = ref.pool
            if serial:
                ordinal = self._take_next(ref)
            else:
                ordinal = pool.take_lowest(ref.start, ref.end)
                if self._journal is not None:
                    change = AddressAllocated(ref.pool_id, pool.first + ordinal)
                    _record(
                        self._journal,
                        change,
                        partial(pool.undo_take, ordinal, pool.cursor),
                    )
        finally:
            lock.release()
        return pool.interface(pool.first + ordinal), {}

    def release_address(self, pool_id: str, address: str | IPAddress) -> None:
        """Give an address back to its pool; releasing a free one does nothing.

        Raises:
            InvalidRequestError: ``pool_id`` or ``address`` is malformed or
                ``address`` is missing.
            PoolNotFoundError: No such pool id is allocated.
            IPOutOfRangeError: ``address`` is not in the master pool.
        """
        if _log.isEnabledFor(DEBUG):
            _log.debug("release_address(%r, %r)", pool_id, address)
        try:
            version, value = parse_address(address)
        except ValueError as exc:
            raise failure(InvalidRequestError, exc) from None
        lock = self._lock
        lock.acquire()  # not `with`, which costs twice as much: this is the hot path
        try:
            try:
                ref = self._refs[pool_id]
            except (KeyError, TypeError):
                ref = self._resolve(pool_id)
            ordinal = ref.pool.release(version, value)
            if ordinal is not None and self._journal is not None:
                change = AddressReleased(ref.pool_id, value)
                _record(self._journal, change, partial(ref.pool.take, ordinal))
        finally:
            lock.release()

    def capabilities(self) -> dict[str, bool]:
        """Return the driver's capabilities: it needs no MAC and no replay."""
        return dict(CAPABILITIES)

    def is_builtin(self) -> bool:
        """Return ``True``: this is the built-in driver."""
        return True

    # -- recovery and introspection ---------------------------------------

    def replay(self, changes: Iterable[Change]) -> None:
        """Apply journaled changes, in order, to rebuild a state.

        Built with the same configuration and given every change a journal
        recorded, a fresh allocator ends in exactly the state of the one
        that recorded them.  Replayed changes are not journaled again.  All
        or nothing: if one change does not fit, none is kept.

        Raises:
            IpamInternalError: A change does not fit the state (its cause
                is chained).
        """
        pending = list(changes)
        _log.debug("replay of %d changes", len(pending))
        with self._lock:
            undos: list[Undo] = []
            for index, change in enumerate(pending):
                try:
                    undos.append(self._apply(change))
                except Exception as exc:
                    for undo in reversed(undos):
                        undo()
                    detail = f"change {index} does not fit: {change!r}"
                    raise failure(IpamInternalError, detail) from exc

    def pools(self) -> list[PoolInfo]:
        """Return a snapshot of every allocated pool id.

        Sorted by address space, then IP version, then network and
        sub-network (a master pool's own id before its sub-pools').
        """
        with self._lock:
            infos = [_info(ref) for ref in self._refs.values()]
        return sorted(infos, key=_order)

    def used_ranges(self, pool_id: str) -> list[tuple[IPAddress, IPAddress]]:
        """Return the inclusive ranges of used addresses of a pool id's master pool.

        Reserved addresses count as used.  Ascending.

        Raises:
            InvalidRequestError: ``pool_id`` is malformed.
            PoolNotFoundError: No such pool id is allocated.
        """
        with self._lock:
            pool = self._held(pool_id).pool
            ranges = list(pool.bitmap.ranges())
        return [(pool.address(start), pool.address(end)) for start, end in ranges]

    # -- internals ---------------------------------------------------------

    def _request_predefined(
        self, name: str, version: int
    ) -> tuple[str, IPNetwork, dict[str, str]]:
        """Allocate the next free predefined pool of ``version`` in space ``name``."""
        with self._lock:
            # A space not yet known has no predefined pools; its own search
            # says so, in the same words as for a known one.
            space = self._spaces.get(name) or AddressSpace(name)
            network, position = space.next_predefined(version)
            key = PoolKey(name, network)
            pool_id = str(key)
            undo = self._hold(pool_id, key, position)
            if self._journal is not None:
                _record(self._journal, PoolAllocated(pool_id, position), undo)
        return pool_id, network, {}

    def _take_next(self, ref: PoolRef) -> int:
        """Hand out the next free ordinal of ``ref`` round-robin (lock held)."""
        pool = ref.pool
        cursor = pool.cursor
        ordinal = pool.take_next(ref.start, ref.end)
        if self._journal is not None:
            change = AddressAllocated(ref.pool_id, pool.first + ordinal, serial=True)
            _record(self._journal, change, partial(pool.undo_take, ordinal, cursor))
        return ordinal

    def _request_given(
        self, pool_id: str, address: object
    ) -> tuple[IPInterface, dict[str, str]]:
        """Hand out the address the caller asked for."""
        version, value = _address(address)
        with self._lock:
            ref = self._held(pool_id)
            pool = ref.pool
            ordinal = pool.ordinal(version, value)
            pool.take(ordinal)
            if self._journal is not None:
                change = AddressAllocated(ref.pool_id, value)
                _record(
                    self._journal, change, partial(pool.undo_take, ordinal, pool.cursor)
                )
        return pool.interface(value), {}

    def _held(self, pool_id: str) -> PoolRef:
        """Return what an allocated pool id refers to (lock held).

        The hot paths inline the first lookup and call `_resolve` on a miss.

        Raises:
            InvalidRequestError: ``pool_id`` is malformed.
            PoolNotFoundError: ``pool_id`` is not allocated.
        """
        try:
            return self._refs[pool_id]
        except (KeyError, TypeError):
            return self._resolve(pool_id)

    def _resolve(self, pool_id: object) -> PoolRef:
        """Find a pool id given in another text form, or say why there is none.

        Raises:
            InvalidRequestError: ``pool_id`` is malformed.
            PoolNotFoundError: ``pool_id`` is not allocated.
        """
        canonical = str(_parse_pool_id(pool_id))
        ref = self._refs.get(canonical)
        if ref is None:
            raise failure(PoolNotFoundError, canonical)
        return ref

    def _apply(self, change: Change) -> Undo:
        """Replay one change and return how to undo it (lock held).

        Raises:
            IpamError: The change does not fit the state.
            ValueError: A predefined position does not fit the configuration.
            TypeError: ``change`` is not a change.
        """
        if isinstance(change, PoolAllocated):
            return self._apply_pool_allocated(change)
        if isinstance(change, PoolReleased):
            return self._apply_pool_released(change)
        if isinstance(change, AddressAllocated):
            return self._apply_address_allocated(change)
        if isinstance(change, AddressReleased):
            return self._apply_address_released(change)
        raise TypeError(f"not a change: {change!r}")

    def _apply_pool_allocated(self, change: PoolAllocated) -> Undo:
        """Replay the allocation of a pool id."""
        key = _parse_pool_id(change.pool_id)
        return self._hold(str(key), key, change.predefined)

    def _apply_pool_released(self, change: PoolReleased) -> Undo:
        """Replay the release of a pool id."""
        key = _parse_pool_id(change.pool_id)
        return self._drop(str(key), key)

    def _hold(self, pool_id: str, key: PoolKey, position: Position | None) -> Undo:
        """Allocate a pool id: hold its master pool (lock held).

        Args:
            pool_id: The canonical id, ``str(key)``.
            key: The id's parts.
            position: The predefined block it is, if it is one.
        """
        space = self._spaces.get(key.address_space)
        if space is None:
            space = AddressSpace(key.address_space)
        pool, undo_hold = space.hold(key.network, key.sub_network, position)
        self._spaces[space.name] = space
        self._refs[pool_id] = PoolRef(pool_id, key, pool)
        return partial(self._undo_hold, pool_id, space, undo_hold)

    def _undo_hold(self, pool_id: str, space: AddressSpace, undo_hold: Undo) -> None:
        """Undo `_hold`: forget the id, give up its hold, drop an emptied space.

        Args:
            pool_id: The id `_hold` allocated.
            space: The address space it was held in.
            undo_hold: What the space's own ``hold`` returned.
        """
        del self._refs[pool_id]
        undo_hold()
        self._prune(space)

    def _drop(self, pool_id: str, key: PoolKey) -> Undo:
        """Release a pool id: drop its hold on its master pool (lock held).

        Raises:
            BadPoolError: The id is not allocated.
        """
        ref = self._refs.get(pool_id)
        if ref is None:
            raise failure(BadPoolError, pool_id)
        space = self._spaces[key.address_space]
        undo_release = space.release(key.network, key.sub_network)
        del self._refs[pool_id]
        self._prune(space)
        return partial(self._undo_drop, ref, space, undo_release)

    def _undo_drop(self, ref: PoolRef, space: AddressSpace, undo_release: Undo) -> None:
        """Undo `_drop`: bring back the space, the id's hold and the id.

        Args:
            ref: What the released id referred to.
            space: Its address space, which `_drop` may have forgotten.
            undo_release: What the space's own ``release`` returned.
        """
        self._spaces[space.name] = space
        undo_release()
        self._refs[ref.pool_id] = ref

    def _apply_address_allocated(self, change: AddressAllocated) -> Undo:
        """Mark an address used, as the recorded request did."""
        pool = self._held(change.pool_id).pool
        ordinal = pool.ordinal(pool.version, change.address)
        cursor = pool.cursor
        if change.serial:
            pool.take_serial(ordinal)
        else:
            pool.take(ordinal)
        return partial(pool.undo_take, ordinal, cursor)

    def _apply_address_released(self, change: AddressReleased) -> Undo:
        """Mark an address free."""
        pool = self._held(change.pool_id).pool
        ordinal = pool.release(pool.version, change.address)
        if ordinal is None:
            return nothing
        return partial(pool.take, ordinal)

    def _prune(self, space: AddressSpace) -> None:
        """Forget an address space that holds nothing and has no defaults."""
        if space.is_empty() and space.name not in (LOCAL_DEFAULT, GLOBAL_DEFAULT):
            self._spaces.pop(space.name, None)


def _local_bases(
    local_pools: PoolsSpec | None, host_id: str | None
) -> tuple[Base, ...]:
    """Return the local predefined bases, the ULA added if none is IPv6.

    Raises:
        InvalidIpamConfigServiceError: A base or ``host_id`` is malformed,
            even where the ULA is not needed.
    """
    bases = parse_bases(DEFAULT_LOCAL_POOLS if local_pools is None else local_pools)
    given = None if host_id is None else ula_base(host_id)
    if any(base.network.version == 6 for base in bases):
        return bases
    return (*bases, ula_base(machine_id()) if given is None else given)


def _record(journal: Journal, change: Change, undo: Undo) -> None:
    """Journal a change already applied; undo it if the journal refuses.

    Callers check first that the allocator has a journal, so that without
    one no change object is built.

    Raises:
        IpamInternalError: The journal raised; the change is undone.
    """
    try:
        journal.append(change)
    except BaseException as exc:
        undo()
        if not isinstance(exc, Exception):
            raise
        raise failure(IpamInternalError, f"journal refused {change!r}") from exc


def _by_version(bases: Iterable[Base]) -> dict[int, PredefinedPools]:
    """Group bases by IP version, keeping their order."""
    grouped: dict[int, list[Base]] = {}
    for base in bases:
        grouped.setdefault(base.network.version, []).append(base)
    return {version: PredefinedPools(group) for version, group in grouped.items()}


def _check_address_space(address_space: object) -> None:
    """Raise `InvalidAddressSpaceError` unless the name is usable."""
    if not isinstance(address_space, str) or not address_space or "/" in address_space:
        raise failure(InvalidAddressSpaceError, repr(address_space))


def _check_options(options: object) -> None:
    """Raise `InvalidRequestError` unless ``options`` is ``None`` or a mapping."""
    if options is not None and not isinstance(options, Mapping):
        raise failure(InvalidRequestError, f"options must be a mapping: {options!r}")


def _serial(options: Mapping[str, str]) -> bool:
    """Tell whether ``options`` ask for round-robin allocation."""
    if type(options) is not dict:
        _check_options(options)
    return options.get(ALLOC_SERIAL) == "true"


def _address(address: object) -> tuple[int, int]:
    """Read an address as ``(version, value)``, or raise `InvalidRequestError`."""
    try:
        return parse_address(address)
    except ValueError as exc:
        raise failure(InvalidRequestError, exc) from None


def _parse_pool_id(pool_id: object) -> PoolKey:
    """Read a pool id, or raise `InvalidRequestError`."""
    try:
        return PoolKey.parse(pool_id)
    except ValueError as exc:
        raise failure(InvalidRequestError, exc) from None


def _pool_key(address_space: str, pool: object, sub_pool: object) -> PoolKey:
    """Build the key of a requested pool and sub-pool.

    Raises:
        InvalidPoolError: ``pool`` is malformed.
        InvalidSubPoolError: ``sub_pool`` is malformed, of another family
            or not inside ``pool``.
    """
    try:
        network = parse_network(pool)
    except ValueError as exc:
        raise failure(InvalidPoolError, exc) from None
    if isinstance(sub_pool, str) and not sub_pool:
        return PoolKey(address_space, network)
    try:
        sub_network = parse_network(sub_pool)
    except ValueError as exc:
        raise failure(InvalidSubPoolError, exc) from None
    if not contains(network, sub_network):
        raise failure(InvalidSubPoolError, f"{sub_network} is not inside {network}")
    return PoolKey(address_space, network, sub_network)


def _info(ref: PoolRef) -> PoolInfo:
    """Take a snapshot of one pool id (lock held)."""
    pool = ref.pool
    return PoolInfo(
        pool_id=ref.pool_id,
        address_space=ref.key.address_space,
        network=pool.network,
        sub_network=ref.key.sub_network,
        size=pool.bitmap.bits,
        free=pool.bitmap.free,
        runs=pool.bitmap.runs,
        reserved=tuple(pool.address(ordinal) for ordinal in pool.reserved),
    )


def _order(info: PoolInfo) -> tuple[object, ...]:
    """Sort key of `Allocator.pools`."""
    sub_network = info.sub_network
    inner = (-1, -1) if sub_network is None else _place(sub_network)
    return (info.address_space, info.network.version, *_place(info.network), *inner)


def _place(network: IPNetwork) -> tuple[int, int]:
    """Where a network sorts among networks of its version."""
    return int(network.network_address), network.prefixlen
