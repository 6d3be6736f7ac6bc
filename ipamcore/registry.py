"""The driver interface and the registry drivers are looked up in.

`Ipam` is what any IPAM driver offers (the built-in `Allocator`, or later a
remote plugin's proxy); `Callback` is what a driver registers itself with;
`Registry` is the plain implementation of `Callback`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Protocol, TypeVar, overload, runtime_checkable

from ipamcore._messages import failure
from ipamcore.addresses import IPAddress, IPInterface, IPNetwork
from ipamcore.allocator import Allocator
from ipamcore.constants import DEFAULT_IPAM
from ipamcore.errors import InvalidIpamServiceError

__all__ = ["IPAM_METHODS", "Callback", "Ipam", "Registry"]

_log = logging.getLogger(__name__)

T = TypeVar("T")

IPAM_METHODS = (
    "get_default_address_spaces",
    "request_pool",
    "release_pool",
    "request_address",
    "release_address",
)
"""The methods a driver must have to be registered."""


@runtime_checkable
class Ipam(Protocol):
    """An IPAM driver: the five methods of the driver contract."""

    def get_default_address_spaces(self) -> tuple[str, str]:
        """Return the names of the local and global default address spaces."""
        ...

    def request_pool(
        self,
        address_space: str,
        pool: str | IPNetwork = "",
        sub_pool: str | IPNetwork = "",
        options: Mapping[str, str] | None = None,
        v6: bool = False,
    ) -> tuple[str, IPNetwork, dict[str, str]]:
        """Allocate a pool; return its id, its network and driver data."""
        ...

    def release_pool(self, pool_id: str) -> None:
        """Release a pool id."""
        ...

    def request_address(
        self,
        pool_id: str,
        address: str | IPAddress | None = None,
        options: Mapping[str, str] | None = None,
    ) -> tuple[IPInterface, dict[str, str]]:
        """Hand out an address of a pool; return it and driver data."""
        ...

    def release_address(self, pool_id: str, address: str | IPAddress) -> None:
        """Give an address back to its pool."""
        ...


@runtime_checkable
class Callback(Protocol):
    """What IPAM drivers register themselves with."""

    def register_ipam_driver(self, name: str, driver: Ipam) -> None:
        """Make ``driver`` available under ``name``."""
        ...


class Registry:
    """IPAM drivers by name; implements `Callback`.

    Safe to use from many threads.
    """

    def __init__(self) -> None:
        self._drivers: dict[str, Ipam] = {}
        self._lock = threading.Lock()

    @classmethod
    def with_builtin(cls) -> Registry:
        """Return a registry with a fresh `Allocator` under `DEFAULT_IPAM`."""
        registry = cls()
        registry.register_ipam_driver(DEFAULT_IPAM, Allocator())
        return registry

    def register_ipam_driver(self, name: str, driver: Ipam) -> None:
        """Make ``driver`` available under ``name``.

        Raises:
            InvalidIpamServiceError: ``name`` is not a non-empty string, is
                taken, or ``driver`` is a class or lacks a method of
                `IPAM_METHODS`.
        """
        _log.debug("register_ipam_driver(%r, %r)", name, driver)
        if not isinstance(name, str) or not name:
            raise failure(InvalidIpamServiceError, f"bad driver name {name!r}")
        if isinstance(driver, type):
            detail = f"{driver!r} is a class; register an instance of it"
            raise failure(InvalidIpamServiceError, detail)
        missing = [method for method in IPAM_METHODS if not _has_method(driver, method)]
        if missing:
            detail = f"{driver!r} lacks {', '.join(missing)}"
            raise failure(InvalidIpamServiceError, detail)
        with self._lock:
            if name in self._drivers:
                detail = f"a driver is already registered as {name!r}"
                raise failure(InvalidIpamServiceError, detail)
            self._drivers[name] = driver

    def __getitem__(self, name: str) -> Ipam:
        """Return the driver registered as ``name``.

        Raises:
            KeyError: No driver has that name.
        """
        try:
            return self._drivers[name]
        except (KeyError, TypeError):
            raise KeyError(f"no IPAM driver is registered as {name!r}") from None

    @overload
    def get(self, name: str) -> Ipam | None: ...

    @overload
    def get(self, name: str, default: T) -> Ipam | T: ...

    def get(self, name: str, default: object = None) -> object:
        """Return the driver registered as ``name``, or ``default``."""
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name: object) -> bool:
        """Tell whether a driver is registered as ``name``; ``False`` for non-names."""
        try:
            return name in self._drivers
        except TypeError:
            return False

    def __iter__(self) -> Iterator[str]:
        """Iterate over a snapshot of the registered names, in registration order."""
        return iter(self.names())

    def __len__(self) -> int:
        """Return how many drivers are registered."""
        return len(self._drivers)

    def names(self) -> list[str]:
        """Return the registered names, in registration order."""
        with self._lock:
            return list(self._drivers)


def _has_method(driver: object, name: str) -> bool:
    """Tell whether ``driver`` has a callable attribute ``name``."""
    try:
        return callable(getattr(driver, name))
    except Exception:
        return False
