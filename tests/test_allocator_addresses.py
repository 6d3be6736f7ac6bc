"""Addresses: first free, preferred, serial, reserved, every prefix length."""

from __future__ import annotations

import ipaddress
import types

import pytest
from allocator_support import GW, SERIAL, drain, snapshot

import ipamcore

LOCAL = ipamcore.LOCAL_DEFAULT


def pool(allocator: ipamcore.Allocator, network: str) -> str:
    """Request ``network`` in LocalDefault and return its id."""
    return allocator.request_pool(LOCAL, network)[0]


def test_first_address_is_returned_with_the_pool_prefix(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id = pool(allocator, "192.0.2.0/24")
    interface, data = allocator.request_address(pool_id, options=GW)
    assert type(interface) is ipaddress.IPv4Interface
    assert interface == ipaddress.ip_interface("192.0.2.1/24")
    assert interface.network == ipaddress.ip_network("192.0.2.0/24")
    assert data == {}


def test_a_slash_24_hands_out_1_to_254_in_order(allocator: ipamcore.Allocator) -> None:
    pool_id = pool(allocator, "192.0.2.0/24")
    assert drain(allocator, pool_id) == [f"192.0.2.{host}/24" for host in range(1, 255)]
    with pytest.raises(ipamcore.NoAvailableIPsError) as caught:
        allocator.request_address(pool_id)
    assert str(caught.value).startswith("No available addresses on this pool")


def test_a_released_address_is_the_next_one_handed_out(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id = pool(allocator, "192.0.2.0/24")
    drain(allocator, pool_id)
    allocator.release_address(pool_id, "192.0.2.100")
    assert str(allocator.request_address(pool_id)[0]) == "192.0.2.100/24"


def test_the_lowest_free_address_comes_first(allocator: ipamcore.Allocator) -> None:
    pool_id = pool(allocator, "192.0.2.0/24")
    drain(allocator, pool_id)
    for host in (200, 7, 100):
        allocator.release_address(pool_id, f"192.0.2.{host}")
    assert drain(allocator, pool_id) == [
        "192.0.2.7/24",
        "192.0.2.100/24",
        "192.0.2.200/24",
    ]


def test_serial_allocation_goes_round_robin(allocator: ipamcore.Allocator) -> None:
    pool_id = pool(allocator, "192.0.2.0/24")
    serial = [str(allocator.request_address(pool_id, options=SERIAL)[0]) for _ in "abc"]
    assert serial == ["192.0.2.1/24", "192.0.2.2/24", "192.0.2.3/24"]
    allocator.release_address(pool_id, "192.0.2.2")
    assert str(allocator.request_address(pool_id, options=SERIAL)[0]) == "192.0.2.4/24"
    assert str(allocator.request_address(pool_id)[0]) == "192.0.2.2/24"


def test_serial_allocation_after_a_fill_does_not_reuse_the_released_address(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id = pool(allocator, "192.0.2.0/24")
    drain(allocator, pool_id, options=SERIAL)
    allocator.release_address(pool_id, "192.0.2.100")
    allocator.release_address(pool_id, "192.0.2.254")
    allocator.release_address(pool_id, "192.0.2.3")
    assert drain(allocator, pool_id, options=SERIAL) == [
        "192.0.2.3/24",
        "192.0.2.100/24",
        "192.0.2.254/24",
    ]


def test_serial_cursor_moves_only_on_serial_requests(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id = pool(allocator, "192.0.2.0/29")
    assert str(allocator.request_address(pool_id, options=SERIAL)[0]) == "192.0.2.1/29"
    assert str(allocator.request_address(pool_id)[0]) == "192.0.2.2/29"
    allocator.request_address(pool_id, "192.0.2.5")
    assert str(allocator.request_address(pool_id, options=SERIAL)[0]) == "192.0.2.3/29"
    allocator.release_address(pool_id, "192.0.2.1")
    assert drain(allocator, pool_id, options=SERIAL) == [
        "192.0.2.4/29",
        "192.0.2.6/29",
        "192.0.2.1/29",
    ]


def test_serial_wraps_inside_a_sub_pool(allocator: ipamcore.Allocator) -> None:
    pool_id, _, _ = allocator.request_pool(LOCAL, "10.0.0.0/24", "10.0.0.8/30")
    handed_out = drain(allocator, pool_id, options=SERIAL)
    assert handed_out == [f"10.0.0.{host}/24" for host in (8, 9, 10, 11)]
    allocator.release_address(pool_id, "10.0.0.9")
    allocator.release_address(pool_id, "10.0.0.8")
    assert drain(allocator, pool_id, options=SERIAL) == ["10.0.0.8/24", "10.0.0.9/24"]


@pytest.mark.parametrize("value", ["false", "True", "1", "yes", ""])
def test_only_the_exact_value_true_asks_for_serial(
    allocator: ipamcore.Allocator, value: str
) -> None:
    pool_id = pool(allocator, "192.0.2.0/29")
    allocator.request_address(pool_id, options=SERIAL)
    allocator.release_address(pool_id, "192.0.2.1")
    options = {ipamcore.ALLOC_SERIAL: value}
    assert str(allocator.request_address(pool_id, options=options)[0]) == "192.0.2.1/29"


def test_options_may_be_any_mapping(allocator: ipamcore.Allocator) -> None:
    pool_id = pool(allocator, "192.0.2.0/29")
    allocator.request_address(pool_id, options=SERIAL)
    allocator.release_address(pool_id, "192.0.2.1")
    options = types.MappingProxyType(SERIAL)
    assert str(allocator.request_address(pool_id, options=options)[0]) == "192.0.2.2/29"


@pytest.mark.parametrize(
    "address",
    [
        "192.0.2.77",
        "192.0.2.77/8",
        ipaddress.IPv4Address("192.0.2.77"),
        ipaddress.IPv4Interface("192.0.2.77/30"),
    ],
)
def test_preferred_address_in_any_form(
    allocator: ipamcore.Allocator, address: object
) -> None:
    pool_id = pool(allocator, "192.0.2.0/24")
    interface, _ = allocator.request_address(pool_id, address)  # type: ignore[arg-type]
    assert str(interface) == "192.0.2.77/24"
    with pytest.raises(ipamcore.IPAlreadyAllocatedError) as caught:
        allocator.request_address(pool_id, "192.0.2.77")
    assert str(caught.value).startswith("Address already in use")
    allocator.release_address(pool_id, address)  # type: ignore[arg-type]
    assert str(allocator.request_address(pool_id, "192.0.2.77")[0]) == "192.0.2.77/24"


def test_empty_address_means_none(allocator: ipamcore.Allocator) -> None:
    pool_id = pool(allocator, "192.0.2.0/24")
    assert str(allocator.request_address(pool_id, "")[0]) == "192.0.2.1/24"


def test_preferred_address_is_not_moved_by_serial_options(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id = pool(allocator, "192.0.2.0/24")
    allocator.request_address(pool_id, "192.0.2.50", SERIAL)
    assert str(allocator.request_address(pool_id, options=SERIAL)[0]) == "192.0.2.1/24"


@pytest.mark.parametrize(
    ("network", "outside"),
    [
        ("192.0.2.0/24", "192.0.3.0"),
        ("192.0.2.0/24", "192.0.1.255"),
        ("192.0.2.0/24", "::ffff:192.0.2.1"),
        ("192.0.2.0/24", "2001:db8::1"),
        ("::/96", "0.0.0.1"),
        ("2001:db8::/64", "2001:db8:0:1::"),
    ],
)
def test_addresses_outside_the_pool_or_family_are_out_of_range(
    allocator: ipamcore.Allocator, network: str, outside: str
) -> None:
    pool_id = pool(allocator, network)
    before = snapshot(allocator)
    with pytest.raises(ipamcore.IPOutOfRangeError) as caught:
        allocator.request_address(pool_id, outside)
    assert str(caught.value).startswith("Requested address is out of range")
    with pytest.raises(ipamcore.IPOutOfRangeError):
        allocator.release_address(pool_id, outside)
    assert snapshot(allocator) == before


@pytest.mark.parametrize(
    ("network", "handed_out", "reserved"),
    [
        ("192.0.2.0/30", ["192.0.2.1/30", "192.0.2.2/30"], ["192.0.2.0", "192.0.2.3"]),
        ("192.0.2.0/31", ["192.0.2.0/31", "192.0.2.1/31"], []),
        ("192.0.2.9/32", ["192.0.2.9/32"], []),
        (
            "2001:db8::/126",
            ["2001:db8::1/126", "2001:db8::2/126", "2001:db8::3/126"],
            ["2001:db8::"],
        ),
        ("2001:db8::/127", ["2001:db8::/127", "2001:db8::1/127"], []),
        ("2001:db8::5/128", ["2001:db8::5/128"], []),
    ],
)
def test_reserved_addresses_by_prefix_length(
    allocator: ipamcore.Allocator,
    network: str,
    handed_out: list[str],
    reserved: list[str],
) -> None:
    pool_id = pool(allocator, network)
    assert drain(allocator, pool_id) == handed_out
    for address in reserved:
        with pytest.raises(ipamcore.IPAlreadyAllocatedError):
            allocator.request_address(pool_id, address)
        allocator.release_address(pool_id, address)
    assert drain(allocator, pool_id) == []
    info = allocator.pools()[0]
    assert [str(address) for address in info.reserved] == reserved


def test_releasing_reserved_or_free_addresses_changes_nothing(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id = pool(allocator, "192.0.2.0/24")
    allocator.request_address(pool_id)
    before = snapshot(allocator)
    for address in ("192.0.2.0", "192.0.2.255", "192.0.2.2", "192.0.2.2"):
        allocator.release_address(pool_id, address)
        assert snapshot(allocator) == before
    assert drain(allocator, pool_id)[0] == "192.0.2.2/24"


@pytest.mark.parametrize(
    ("network", "first", "top"),
    [
        ("0.0.0.0/0", "0.0.0.1/0", "255.255.255.254"),
        ("::/0", "::1/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("2001:db8::/64", "2001:db8::1/64", "2001:db8::ffff:ffff:ffff:ffff"),
        ("2001:db8::/63", "2001:db8::1/63", "2001:db8:0:1:ffff:ffff:ffff:ffff"),
        ("8000::/1", "8000::1/1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
    ],
)
def test_every_pool_size_up_to_the_whole_family(
    allocator: ipamcore.Allocator, network: str, first: str, top: str
) -> None:
    pool_id = pool(allocator, network)
    assert str(allocator.request_address(pool_id)[0]) == first
    prefix = network.split("/")[1]
    assert str(allocator.request_address(pool_id, top)[0]) == f"{top}/{prefix}"
    allocator.release_address(pool_id, top)
    assert str(allocator.request_address(pool_id, top)[0]) == f"{top}/{prefix}"


def test_ipv6_addresses_differing_only_above_bit_63_are_distinct(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id = allocator.request_pool(LOCAL, "::/0")[0]
    low = "::5"
    high = "1::5"
    allocator.request_address(pool_id, low)
    assert str(allocator.request_address(pool_id, high)[0]) == "1::5/0"
    allocator.release_address(pool_id, high)
    with pytest.raises(ipamcore.IPAlreadyAllocatedError):
        allocator.request_address(pool_id, low)


def test_ipv6_interfaces_are_ipv6_even_for_small_values(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id = pool(allocator, "::/96")
    interface, _ = allocator.request_address(pool_id)
    assert type(interface) is ipaddress.IPv6Interface
    assert interface == ipaddress.ip_interface("::1/96")


def test_free_count_follows_requests_and_releases(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id = pool(allocator, "192.0.2.0/28")
    assert allocator.pools()[0].free == 14
    drain(allocator, pool_id)
    assert allocator.pools()[0].free == 0
    allocator.release_address(pool_id, "192.0.2.9")
    assert allocator.pools()[0].free == 1
