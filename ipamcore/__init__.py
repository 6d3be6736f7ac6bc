"""ipamcore: a fast IP address management engine.

ipamcore implements the IPAM driver contract of Docker's networking library
on top of a compiled run-length-encoded bitmap.  Everything public is
importable from this package.
"""

from ipamcore._bitmap import Bitmap
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

__version__ = "0.1.0"

__all__ = [
    "ALLOC_SERIAL",
    "DEFAULT_IPAM",
    "GATEWAY",
    "GLOBAL_DEFAULT",
    "LOCAL_DEFAULT",
    "PLUGIN_ENDPOINT_TYPE",
    "REQUEST_ADDRESS_TYPE",
    "BadPoolError",
    "BitAllocatedError",
    "Bitmap",
    "BitmapError",
    "IPAlreadyAllocatedError",
    "IPOutOfRangeError",
    "InvalidAddressSpaceError",
    "InvalidIpamConfigServiceError",
    "InvalidIpamServiceError",
    "InvalidPoolError",
    "InvalidRequestError",
    "InvalidSubPoolError",
    "IpamError",
    "IpamInternalError",
    "IpamNotAvailableError",
    "NoAvailableIPsError",
    "NoAvailablePoolError",
    "NoBitAvailableError",
    "OverlapPoolError",
    "PoolNotFoundError",
    "PoolOverlapError",
]
