"""ipamcore: a fast IP address management engine.

ipamcore implements the IPAM driver contract of Docker's networking library
on top of a compiled run-length-encoded bitmap.  Everything public is
importable from this package.
"""

import importlib.metadata

from ipamcore._bitmap import Bitmap
from ipamcore.allocator import Allocator, PoolInfo
from ipamcore.constants import (
    ALLOC_SERIAL,
    DEFAULT_IPAM,
    GATEWAY,
    GLOBAL_DEFAULT,
    LOCAL_DEFAULT,
    PLUGIN_ENDPOINT_TYPE,
    REQUEST_ADDRESS_TYPE,
)
from ipamcore.errors import (
    BadPoolError,
    BitAllocatedError,
    BitmapError,
    InvalidAddressSpaceError,
    InvalidIpamConfigServiceError,
    InvalidIpamServiceError,
    InvalidPoolError,
    InvalidRequestError,
    InvalidSubPoolError,
    IPAlreadyAllocatedError,
    IpamError,
    IpamInternalError,
    IpamNotAvailableError,
    IPOutOfRangeError,
    NoAvailableIPsError,
    NoAvailablePoolError,
    NoBitAvailableError,
    OverlapPoolError,
    PoolNotFoundError,
    PoolOverlapError,
)
from ipamcore.journal import (
    AddressAllocated,
    AddressReleased,
    Change,
    Journal,
    MemoryJournal,
    PoolAllocated,
    PoolReleased,
)
from ipamcore.registry import Callback, Ipam, Registry

__version__ = importlib.metadata.version("ipamcore")
"""The installed distribution's version, as ``pyproject.toml`` gives it."""

__all__ = [
    "ALLOC_SERIAL",
    "DEFAULT_IPAM",
    "GATEWAY",
    "GLOBAL_DEFAULT",
    "LOCAL_DEFAULT",
    "PLUGIN_ENDPOINT_TYPE",
    "REQUEST_ADDRESS_TYPE",
    "AddressAllocated",
    "AddressReleased",
    "Allocator",
    "BadPoolError",
    "BitAllocatedError",
    "Bitmap",
    "BitmapError",
    "Callback",
    "Change",
    "IPAlreadyAllocatedError",
    "IPOutOfRangeError",
    "InvalidAddressSpaceError",
    "InvalidIpamConfigServiceError",
    "InvalidIpamServiceError",
    "InvalidPoolError",
    "InvalidRequestError",
    "InvalidSubPoolError",
    "Ipam",
    "IpamError",
    "IpamInternalError",
    "IpamNotAvailableError",
    "Journal",
    "MemoryJournal",
    "NoAvailableIPsError",
    "NoAvailablePoolError",
    "NoBitAvailableError",
    "OverlapPoolError",
    "PoolAllocated",
    "PoolInfo",
    "PoolNotFoundError",
    "PoolOverlapError",
    "PoolReleased",
    "Registry",
]
