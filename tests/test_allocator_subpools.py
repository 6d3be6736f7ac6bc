"""Sub-pools: ranges, shared master pools and their reference counts."""

from __future__ import annotations

import ipaddress

import pytest
from allocator_support import GW, drain, snapshot

import ipamcore

LOCAL = ipamcore.LOCAL_DEFAULT


def test_sub_pool_id_and_network(allocator: ipamcore.Allocator) -> None:
    assert allocator.request_pool(LOCAL, "172.28.0.0/16", "172.28.30.0/24") == (
        "LocalDefault/172.28.0.0/16/172.28.30.0/24",
        ipaddress.ip_network("172.28.0.0/16"),
        {},
    )


def test_sub_pool_host_bits_are_masked(allocator: ipamcore.Allocator) -> None:
    pool_id, _, _ = allocator.request_pool(LOCAL, "172.28.1.1/16", "172.28.30.9/24")
    assert pool_id == "LocalDefault/172.28.0.0/16/172.28.30.0/24"


def test_sub_pool_hands_out_its_own_first_and_last_address(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id, _, _ = allocator.request_pool(LOCAL, "172.28.0.0/16", "172.28.30.0/24")
    handed_out = drain(allocator, pool_id)
    assert handed_out == [f"172.28.30.{host}/16" for host in range(256)]


@pytest.mark.parametrize(
    ("sub_pool", "first", "last", "count"),
    [
        ("172.28.0.0/24", "172.28.0.1/16", "172.28.0.255/16", 255),
        ("172.28.255.0/24", "172.28.255.0/16", "172.28.255.254/16", 255),
        ("172.28.0.0/16", "172.28.0.1/16", "172.28.255.254/16", 65534),
        ("172.28.7.7/32", "172.28.7.7/16", "172.28.7.7/16", 1),
    ],
)
def test_sub_pool_at_the_edges_of_its_pool_skips_reserved_addresses(
    allocator: ipamcore.Allocator, sub_pool: str, first: str, last: str, count: int
) -> None:
    pool_id, _, _ = allocator.request_pool(LOCAL, "172.28.0.0/16", sub_pool)
    handed_out = drain(allocator, pool_id)
    assert (handed_out[0], handed_out[-1], len(handed_out)) == (first, last, count)


def test_ipv6_sub_pool_at_the_start_skips_the_anycast_address(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id, _, _ = allocator.request_pool(LOCAL, "2001:db8::/64", "2001:db8::/120")
    handed_out = drain(allocator, pool_id)
    assert handed_out[0] == "2001:db8::1/64"
    assert handed_out[-1] == "2001:db8::ff/64"
    assert len(handed_out) == 255


def test_gateway_may_sit_outside_the_sub_pool(allocator: ipamcore.Allocator) -> None:
    pool_id, _, _ = allocator.request_pool(LOCAL, "172.28.0.0/16", "172.28.30.0/24")
    gateway, _ = allocator.request_address(pool_id, "172.28.0.1", GW)
    assert str(gateway) == "172.28.0.1/16"
    assert str(allocator.request_address(pool_id)[0]) == "172.28.30.0/16"
    allocator.release_address(pool_id, "172.28.0.1")
    assert allocator.used_ranges(pool_id)[:2] == [
        (ipaddress.ip_address("172.28.0.0"), ipaddress.ip_address("172.28.0.0")),
        (ipaddress.ip_address("172.28.30.0"), ipaddress.ip_address("172.28.30.0")),
    ]


def test_addresses_outside_the_master_pool_are_out_of_range(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id, _, _ = allocator.request_pool(LOCAL, "172.28.0.0/16", "172.28.30.0/24")
    with pytest.raises(ipamcore.IPOutOfRangeError):
        allocator.request_address(pool_id, "172.29.0.1")
    with pytest.raises(ipamcore.IPOutOfRangeError):
        allocator.release_address(pool_id, "172.29.0.1")


def test_sub_pool_creates_its_master_and_releases_it_with_itself(
    allocator: ipamcore.Allocator,
) -> None:
    sub_id, _, _ = allocator.request_pool(LOCAL, "10.0.0.0/16", "10.0.1.0/24")
    with pytest.raises(ipamcore.PoolOverlapError):
        allocator.request_pool(LOCAL, "10.0.0.0/16")
    with pytest.raises(ipamcore.BadPoolError):
        allocator.release_pool("LocalDefault/10.0.0.0/16")
    allocator.release_pool(sub_id)
    assert allocator.pools() == []
    assert allocator.request_pool(LOCAL, "10.0.0.0/16")[0] == "LocalDefault/10.0.0.0/16"


def test_sub_pools_share_their_master_until_the_last_goes(
    allocator: ipamcore.Allocator,
) -> None:
    first, _, _ = allocator.request_pool(LOCAL, "10.0.0.0/24", "10.0.0.0/25")
    second, _, _ = allocator.request_pool(LOCAL, "10.0.0.0/24", "10.0.0.128/25")
    assert str(allocator.request_address(first)[0]) == "10.0.0.1/24"
    assert str(allocator.request_address(second)[0]) == "10.0.0.128/24"
    allocator.release_pool(first)
    with pytest.raises(ipamcore.IPAlreadyAllocatedError):
        allocator.request_address(second, "10.0.0.1")
    assert [info.pool_id for info in allocator.pools()] == [second]
    allocator.release_pool(second)
    assert allocator.pools() == []
    third, _, _ = allocator.request_pool(LOCAL, "10.0.0.0/24", "10.0.0.0/25")
    assert str(allocator.request_address(third)[0]) == "10.0.0.1/24"


def test_explicit_master_and_sub_pools_hold_one_pool(
    allocator: ipamcore.Allocator,
) -> None:
    master, _, _ = allocator.request_pool(LOCAL, "10.0.0.0/24")
    allocator.request_address(master, "10.0.0.5")
    sub, _, _ = allocator.request_pool(LOCAL, "10.0.0.0/24", "10.0.0.0/29")
    assert drain(allocator, sub) == [f"10.0.0.{host}/24" for host in (1, 2, 3, 4, 6, 7)]
    allocator.release_pool(master)
    with pytest.raises(ipamcore.BadPoolError):
        allocator.release_pool(master)
    with pytest.raises(ipamcore.IPAlreadyAllocatedError):
        allocator.request_address(sub, "10.0.0.5")
    assert allocator.request_pool(LOCAL, "10.0.0.0/24", "10.0.0.8/29")


def test_same_sub_pool_twice_is_refused(allocator: ipamcore.Allocator) -> None:
    allocator.request_pool(LOCAL, "10.0.0.0/24", "10.0.0.0/25")
    before = snapshot(allocator)
    with pytest.raises(ipamcore.PoolOverlapError):
        allocator.request_pool(LOCAL, "10.0.0.7/24", "10.0.0.9/25")
    assert snapshot(allocator) == before


def test_different_overlapping_sub_pools_of_one_master_are_allowed(
    allocator: ipamcore.Allocator,
) -> None:
    wide, _, _ = allocator.request_pool(LOCAL, "10.0.0.0/24", "10.0.0.0/28")
    narrow, _, _ = allocator.request_pool(LOCAL, "10.0.0.0/24", "10.0.0.0/30")
    assert drain(allocator, narrow) == ["10.0.0.1/24", "10.0.0.2/24", "10.0.0.3/24"]
    assert str(allocator.request_address(wide)[0]) == "10.0.0.4/24"
    equal, _, _ = allocator.request_pool(LOCAL, "10.0.0.0/24", "10.0.0.0/24")
    assert str(allocator.request_address(equal)[0]) == "10.0.0.5/24"


def test_sub_pool_of_a_new_master_must_not_overlap_other_masters(
    allocator: ipamcore.Allocator,
) -> None:
    allocator.request_pool(LOCAL, "10.0.0.0/16")
    before = snapshot(allocator)
    with pytest.raises(ipamcore.PoolOverlapError):
        allocator.request_pool(LOCAL, "10.0.0.0/8", "10.200.0.0/16")
    with pytest.raises(ipamcore.PoolOverlapError):
        allocator.request_pool(LOCAL, "10.0.0.0/24", "10.0.0.0/25")
    assert snapshot(allocator) == before


@pytest.mark.parametrize(
    ("pool", "sub_pool"),
    [
        ("10.0.0.0/24", "10.0.1.0/24"),
        ("10.0.0.0/24", "10.0.0.0/23"),
        ("10.0.0.0/24", "0.0.0.0/0"),
        ("10.0.0.0/24", "2001:db8::/120"),
        ("2001:db8::/64", "10.0.0.0/24"),
        ("::/0", "0.0.0.0/0"),
        ("10.0.0.0/24", "10.0.0.0"),
        ("10.0.0.0/24", "10.0.0.0/33"),
        ("10.0.0.0/24", "junk"),
    ],
)
def test_sub_pool_outside_its_pool_or_malformed_is_invalid(
    allocator: ipamcore.Allocator, pool: str, sub_pool: str
) -> None:
    with pytest.raises(ipamcore.InvalidSubPoolError) as caught:
        allocator.request_pool(LOCAL, pool, sub_pool)
    assert str(caught.value).startswith("Invalid Address SubPool")
    assert allocator.pools() == []


def test_sub_pool_without_pool_is_invalid(allocator: ipamcore.Allocator) -> None:
    with pytest.raises(ipamcore.InvalidSubPoolError):
        allocator.request_pool(LOCAL, "", "10.0.0.0/24")
    with pytest.raises(ipamcore.InvalidSubPoolError):
        allocator.request_pool(LOCAL, sub_pool="10.0.0.0/24", v6=True)
    assert allocator.pools() == []


def test_ipv6_sub_pool_of_a_huge_pool(allocator: ipamcore.Allocator) -> None:
    pool_id, _, _ = allocator.request_pool(
        LOCAL, "2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:fff0/124"
    )
    handed_out = drain(allocator, pool_id)
    assert handed_out[0] == "2001:db8:ffff:ffff:ffff:ffff:ffff:fff0/32"
    assert handed_out[-1] == "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/32"
    assert len(handed_out) == 16
