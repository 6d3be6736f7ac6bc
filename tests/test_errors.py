"""The contract's error classes, against the literal text of CONTRACT.md §3."""

from __future__ import annotations

import ipaddress
import pickle

import pytest

import ipamcore
from ipamcore import errors

# Class, its message exactly as CONTRACT.md §3 writes it, and the builtin it
# also derives from (README.md, "Errors"), if any.
CONTRACT_ERRORS: list[tuple[type[ipamcore.IpamError], str, type[Exception] | None]] = [
    (ipamcore.InvalidIpamServiceError, "Invalid IPAM Service", TypeError),
    (ipamcore.InvalidIpamConfigServiceError, "Invalid IPAM Config Service", ValueError),
    (ipamcore.IpamNotAvailableError, "IPAM Service not available", None),
    (ipamcore.IpamInternalError, "IPAM Internal Error", None),
    (ipamcore.InvalidAddressSpaceError, "Invalid Address Space", ValueError),
    (ipamcore.InvalidPoolError, "Invalid Address Pool", ValueError),
    (ipamcore.InvalidSubPoolError, "Invalid Address SubPool", ValueError),
    (ipamcore.InvalidRequestError, "Invalid Request", ValueError),
    (ipamcore.PoolNotFoundError, "Address Pool not found", LookupError),
    (
        ipamcore.OverlapPoolError,
        "Address pool overlaps with existing pool on this address space",
        None,
    ),
    (ipamcore.NoAvailablePoolError, "No available pool", None),
    (ipamcore.NoAvailableIPsError, "No available addresses on this pool", None),
    (ipamcore.IPAlreadyAllocatedError, "Address already in use", None),
    (ipamcore.IPOutOfRangeError, "Requested address is out of range", ValueError),
    (
        ipamcore.PoolOverlapError,
        "Pool overlaps with other one on this address space",
        None,
    ),
    (
        ipamcore.BadPoolError,
        "Address space does not contain specified address pool",
        LookupError,
    ),
]

BUILTIN_BASES = (TypeError, ValueError, LookupError)


@pytest.mark.parametrize(
    ("kind", "message", "builtin"),
    CONTRACT_ERRORS,
    ids=[kind.__name__ for kind, _, _ in CONTRACT_ERRORS],
)
def test_each_error_has_the_contracts_message_and_builtin(
    kind: type[ipamcore.IpamError], message: str, builtin: type[Exception] | None
) -> None:
    error = kind()
    assert str(error) == message
    assert isinstance(error, ipamcore.IpamError)
    bases = {base for base in BUILTIN_BASES if issubclass(kind, base)}
    assert bases == ({builtin} if builtin else set())
    assert str(kind("a caller's own message")) == "a caller's own message"
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy)) == (kind, message)


def test_the_table_covers_every_driver_error() -> None:
    defined = {
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, ipamcore.IpamError)
        and value is not ipamcore.IpamError
    }
    assert defined == {kind for kind, _, _ in CONTRACT_ERRORS}


def test_a_detail_follows_the_contracts_message() -> None:
    allocator = ipamcore.Allocator(host_id="")
    pool_id, _, _ = allocator.request_pool("LocalDefault", "192.0.2.0/24")
    allocator.request_address(pool_id, ipaddress.ip_address("192.0.2.1"))
    with pytest.raises(ipamcore.IPAlreadyAllocatedError) as caught:
        allocator.request_address(pool_id, "192.0.2.1")
    assert str(caught.value) == "Address already in use: 192.0.2.1"
