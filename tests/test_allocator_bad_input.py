"""Bad input of every kind gets the contract's error class and changes nothing."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
from allocator_support import unchanged

import ipamcore

LOCAL = ipamcore.LOCAL_DEFAULT
V4_ID = "LocalDefault/192.0.2.0/24"
WRONG_TYPES: list[Any] = [None, 5, 1.5, b"LocalDefault", ["x"], ("x",), {"x": 1}]

BAD_SPACES: list[Any] = ["", "/", "a/b", "LocalDefault/", *WRONG_TYPES]

BAD_NETWORKS: list[Any] = [
    *WRONG_TYPES,
    167772160,
    b"10.0.0.0/8",
    "10.0.0.0",
    "10.0.0.0/",
    "/8",
    "10.0.0.256/8",
    "010.0.0.0/8",
    " 10.0.0.0/8",
    "10.0.0.0/8 ",
    "10.0.0.0/33",
    "10.0.0.0/-1",
    "10.0.0.0/+8",
    "10.0.0.0/08",
    "10.0.0.0/4294967296",
    "10.0.0.0/255.0.0.0",
    "10.0.0.0/0.255.255.255",
    "10.0.0.0/8/8",
    "::/129",
    "::/99999999999999999999",
    "fe80::%eth0/64",
    "2001:db8::g/64",
    "garbage",
    "\uff11\uff10.0.0.0/8",
    ipaddress.IPv4Address("10.0.0.0"),
]

BAD_POOL_IDS: list[Any] = [
    *WRONG_TYPES,
    "",
    "LocalDefault",
    "LocalDefault/",
    "LocalDefault/192.0.2.0",
    "/192.0.2.0/24",
    "LocalDefault/192.0.2.1/24",
    "LocalDefault/192.0.2.0/024",
    "LocalDefault/192.0.2.0/33",
    "LocalDefault/192.0.2.0/24/",
    "LocalDefault/192.0.2.0/24/192.0.2.0",
    "LocalDefault/192.0.2.0/24/192.0.3.0/24",
    "LocalDefault/192.0.2.0/24/192.0.2.0/23",
    "LocalDefault/192.0.2.0/24/2001:db8::/120",
    "LocalDefault/192.0.2.0/24/192.0.2.1/25",
    "LocalDefault/junk/24",
    "LocalDefault/fe80::%eth0/64",
    "a/b/c/d",
    "a/b/c/d/e/f/g",
]

BAD_ADDRESSES: list[Any] = [
    5,
    3221225985,
    1.5,
    b"\xc0\x00\x02\x01",
    ["192.0.2.1"],
    ("192.0.2.1",),
    {"192.0.2.1": 1},
    "10.0.0",
    "192.0.2.256",
    "192.0.2.1.",
    "192.0.2.01",
    " 192.0.2.1",
    "192.0.2.1 ",
    "192.0.2.1\x00",
    "\uff11\uff19\uff12.0.2.1",
    "192.0.2.1/33",
    "192.0.2.1/",
    "fe80::1%eth0",
    "2001:db8::1%1",
    "2001:db8::g",
    "junk",
    ipaddress.ip_network("192.0.2.0/24"),
    ipaddress.IPv6Address("fe80::1%eth0"),
]

BAD_OPTIONS: list[Any] = [[("a", "b")], "serial", 5, ("x",), b"", 1.5]


@pytest.fixture
def busy(allocator: ipamcore.Allocator) -> ipamcore.Allocator:
    """An allocator holding a few pools and addresses of both families."""
    pool_id, _, _ = allocator.request_pool(LOCAL, "192.0.2.0/24")
    allocator.request_address(pool_id)
    allocator.request_pool(LOCAL, "198.51.100.0/24", "198.51.100.128/25")
    allocator.request_pool(LOCAL)
    v6_id, _, _ = allocator.request_pool(LOCAL, "2001:db8::/64")
    allocator.request_address(v6_id, "2001:db8::77")
    return allocator


def refused(
    allocator: ipamcore.Allocator,
    call: Callable[[], object],
    kind: type[ipamcore.IpamError],
) -> None:
    """Check that ``call`` raises ``kind`` with its message and changes nothing."""
    error = unchanged(allocator, call)
    assert type(error) is kind
    assert str(error).startswith(kind.message)


@pytest.mark.parametrize("space", BAD_SPACES)
def test_bad_address_space(busy: ipamcore.Allocator, space: Any) -> None:
    kind = ipamcore.InvalidAddressSpaceError
    refused(busy, lambda: busy.request_pool(space, "10.9.0.0/16"), kind)
    refused(busy, lambda: busy.request_pool(space), kind)


@pytest.mark.parametrize("pool", BAD_NETWORKS)
def test_bad_pool(busy: ipamcore.Allocator, pool: Any) -> None:
    kind = ipamcore.InvalidPoolError
    refused(busy, lambda: busy.request_pool(LOCAL, pool), kind)
    refused(busy, lambda: busy.request_pool(LOCAL, pool, "10.0.0.0/24"), kind)


@pytest.mark.parametrize(
    "sub_pool",
    [*BAD_NETWORKS, "10.8.0.0/16", "10.0.0.0/8", "2001:db8::/120", "0.0.0.0/0"],
)
def test_bad_sub_pool(busy: ipamcore.Allocator, sub_pool: Any) -> None:
    kind = ipamcore.InvalidSubPoolError
    refused(busy, lambda: busy.request_pool(LOCAL, "10.9.0.0/16", sub_pool), kind)
    refused(busy, lambda: busy.request_pool(LOCAL, "", sub_pool), kind)


@pytest.mark.parametrize("pool_id", BAD_POOL_IDS)
def test_malformed_pool_id(busy: ipamcore.Allocator, pool_id: Any) -> None:
    kind = ipamcore.InvalidRequestError
    refused(busy, lambda: busy.request_address(pool_id), kind)
    refused(busy, lambda: busy.request_address(pool_id, "192.0.2.9"), kind)
    refused(busy, lambda: busy.release_address(pool_id, "192.0.2.1"), kind)
    refused(busy, lambda: busy.release_pool(pool_id), kind)
    refused(busy, lambda: busy.used_ranges(pool_id), kind)


@pytest.mark.parametrize(
    "pool_id",
    [
        "LocalDefault/192.0.2.0/25",
        "GlobalDefault/192.0.2.0/24",
        "LocalDefault/198.51.100.0/24",
        "LocalDefault/198.51.100.0/24/198.51.100.0/25",
        "LocalDefault/192.0.2.0/24/192.0.2.0/24",
        "blue/192.0.2.0/24",
    ],
)
def test_unknown_pool_id(busy: ipamcore.Allocator, pool_id: str) -> None:
    kind = ipamcore.PoolNotFoundError
    refused(busy, lambda: busy.request_address(pool_id), kind)
    refused(busy, lambda: busy.request_address(pool_id, "192.0.2.9"), kind)
    refused(busy, lambda: busy.release_address(pool_id, "192.0.2.1"), kind)
    refused(busy, lambda: busy.release_pool(pool_id), ipamcore.BadPoolError)


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_bad_address(busy: ipamcore.Allocator, address: Any) -> None:
    kind = ipamcore.InvalidRequestError
    refused(busy, lambda: busy.request_address(V4_ID, address), kind)
    refused(busy, lambda: busy.release_address(V4_ID, address), kind)


@pytest.mark.parametrize("address", [None, ""])
def test_missing_address_on_release(busy: ipamcore.Allocator, address: Any) -> None:
    kind = ipamcore.InvalidRequestError
    refused(busy, lambda: busy.release_address(V4_ID, address), kind)


@pytest.mark.parametrize("options", BAD_OPTIONS)
def test_bad_options(busy: ipamcore.Allocator, options: Any) -> None:
    kind = ipamcore.InvalidRequestError
    refused(busy, lambda: busy.request_address(V4_ID, options=options), kind)
    refused(busy, lambda: busy.request_address(V4_ID, "192.0.2.9", options), kind)
    refused(busy, lambda: busy.request_pool(LOCAL, options=options), kind)
    refused(
        busy, lambda: busy.request_pool(LOCAL, "10.9.0.0/16", options=options), kind
    )


@pytest.mark.parametrize("v6", ["yes", "true", 1, 0, None, 1.0])
def test_bad_v6_flag(busy: ipamcore.Allocator, v6: Any) -> None:
    kind = ipamcore.InvalidRequestError
    refused(busy, lambda: busy.request_pool(LOCAL, v6=v6), kind)
    refused(busy, lambda: busy.request_pool(LOCAL, "10.9.0.0/16", v6=v6), kind)


def test_v6_flag_is_ignored_when_a_pool_is_named(busy: ipamcore.Allocator) -> None:
    pool_id, network, _ = busy.request_pool(LOCAL, "10.9.0.0/16", v6=True)
    assert (pool_id, network.version) == ("LocalDefault/10.9.0.0/16", 4)


def test_failures_in_the_state_change_nothing(busy: ipamcore.Allocator) -> None:
    refused(
        busy,
        lambda: busy.request_pool(LOCAL, "192.0.2.128/25"),
        ipamcore.PoolOverlapError,
    )
    refused(
        busy,
        lambda: busy.request_address(V4_ID, "192.0.2.1"),
        ipamcore.IPAlreadyAllocatedError,
    )
    refused(
        busy,
        lambda: busy.request_address(V4_ID, "192.0.2.255"),
        ipamcore.IPAlreadyAllocatedError,
    )
    refused(
        busy,
        lambda: busy.request_address(V4_ID, "192.0.3.1"),
        ipamcore.IPOutOfRangeError,
    )
    refused(
        busy,
        lambda: busy.release_address(V4_ID, "2001:db8::1"),
        ipamcore.IPOutOfRangeError,
    )
    refused(
        busy,
        lambda: busy.request_pool("GlobalDefault", v6=True),
        ipamcore.NoAvailablePoolError,
    )
    pool_id, _, _ = busy.request_pool(LOCAL, "203.0.113.0/31")
    busy.request_address(pool_id)
    busy.request_address(pool_id)
    refused(busy, lambda: busy.request_address(pool_id), ipamcore.NoAvailableIPsError)
    refused(
        busy,
        lambda: busy.request_address(pool_id, options={ipamcore.ALLOC_SERIAL: "true"}),
        ipamcore.NoAvailableIPsError,
    )


def test_errors_are_also_the_builtin_a_caller_would_catch(
    busy: ipamcore.Allocator,
) -> None:
    with pytest.raises(ValueError):
        busy.request_pool(LOCAL, "junk")
    with pytest.raises(ValueError):
        busy.request_address("junk")
    with pytest.raises(LookupError):
        busy.request_address("LocalDefault/10.99.0.0/16")
    with pytest.raises(LookupError):
        busy.release_pool("LocalDefault/10.99.0.0/16")
