"""The errors of the IPAM driver contract.

Every error a driver call raises is an `IpamError`.  Each well-known error of
the contract is its own class whose default message is the contract's text;
a caller may pass a more specific message, so callers test the class, never
the text.  Where a builtin fits, the class also derives from it: bad input
is a `ValueError`, something not found a `LookupError`.

The bitmap's own errors (`BitmapError` and its subclasses) are defined by
the compiled core and re-exported here.
"""

from __future__ import annotations

from ipamcore._bitmap import BitAllocatedError, BitmapError, NoBitAvailableError

__all__ = [
    "BadPoolError",
    "BitAllocatedError",
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


class IpamError(Exception):
    """Base class of every error raised by the driver layer.

    Args:
        message: Replaces the class's default message when given.
    """

    message = "IPAM error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(self.message if message is None else message)


class InvalidIpamServiceError(IpamError, TypeError):
    """A driver does not implement the IPAM contract."""

    message = "Invalid IPAM Service"


class InvalidIpamConfigServiceError(IpamError, ValueError):
    """The driver's configuration (for example predefined pools) is invalid."""

    message = "Invalid IPAM Config Service"


class IpamNotAvailableError(IpamError):
    """The IPAM service cannot be reached."""

    message = "IPAM Service not available"


class IpamInternalError(IpamError):
    """The driver failed for a reason of its own, not the caller's."""

    message = "IPAM Internal Error"


class InvalidAddressSpaceError(IpamError, ValueError):
    """An address space name is empty or contains ``/``."""

    message = "Invalid Address Space"


class InvalidPoolError(IpamError, ValueError):
    """A pool is not a valid CIDR network."""

    message = "Invalid Address Pool"


class InvalidSubPoolError(IpamError, ValueError):
    """A sub-pool is malformed, of another family, or outside its pool."""

    message = "Invalid Address SubPool"


class InvalidRequestError(IpamError, ValueError):
    """A request is malformed: a bad pool id or a missing address."""

    message = "Invalid Request"


class PoolNotFoundError(IpamError, LookupError):
    """No pool has the given id."""

    message = "Address Pool not found"


class OverlapPoolError(IpamError):
    """A pool overlaps an existing pool of the address space."""

    message = "Address pool overlaps with existing pool on this address space"


class NoAvailablePoolError(IpamError):
    """Every predefined pool is taken or overlaps one that is."""

    message = "No available pool"


class NoAvailableIPsError(IpamError):
    """Every address of the pool (or sub-pool) is in use."""

    message = "No available addresses on this pool"


class IPAlreadyAllocatedError(IpamError):
    """The requested address is already in use."""

    message = "Address already in use"


class IPOutOfRangeError(IpamError, ValueError):
    """The address does not lie in the pool."""

    message = "Requested address is out of range"


class PoolOverlapError(IpamError):
    """The requested pool overlaps or equals a pool already allocated."""

    message = "Pool overlaps with other one on this address space"


class BadPoolError(IpamError, LookupError):
    """The address space holds no such pool (for example, released twice)."""

    message = "Address space does not contain specified address pool"
