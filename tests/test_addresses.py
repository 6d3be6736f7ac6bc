"""Parsing addresses and networks, and building the interfaces handed out."""

from __future__ import annotations

import ipaddress
import platform
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipamcore import addresses
from ipamcore.addresses import (
    INTERFACES,
    IPInterface,
    IPNetwork,
    direct_interfaces,
    network_range,
    parse_address,
    parse_network,
    public_interfaces,
    verify_interfaces,
)
from ipamcore.pools import Pool

FACTORIES = [direct_interfaces, public_interfaces]


def reference_address(text: str) -> tuple[int, int]:
    """What `parse_address` must answer for text, by ipaddress alone."""
    interface = ipaddress.ip_interface(text)
    if (
        isinstance(interface, ipaddress.IPv6Interface)
        and interface.scope_id is not None
    ):
        raise ValueError(text)
    return interface.version, int(interface)


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ValueError:
        return ValueError


octet = st.one_of(
    st.integers(0, 255).map(str),
    st.integers(0, 999).map(lambda n: f"{n:03d}"),
    st.text("0123456789", min_size=0, max_size=4),
)
dotted = st.lists(octet, min_size=1, max_size=5).map(".".join)
texts = st.one_of(
    dotted,
    st.text("0123456789.", max_size=18),
    st.text("0123456789abcdefABCDEF:.", max_size=45),
    st.tuples(dotted, st.text("0123456789", max_size=3)).map("/".join),
    st.text(max_size=20),
)


@settings(max_examples=400, deadline=None)
@given(text=texts)
def test_address_text_parses_exactly_as_ipaddress(text: str) -> None:
    assert outcome(lambda: parse_address(text)) == outcome(
        lambda: reference_address(text)
    )


@settings(max_examples=200, deadline=None)
@given(value=st.integers(0, 2**32 - 1))
def test_every_ipv4_address_text_parses_to_its_value(value: int) -> None:
    assert parse_address(str(ipaddress.IPv4Address(value))) == (4, value)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (ipaddress.IPv4Address("192.0.2.1"), (4, 0xC0000201)),
        (ipaddress.IPv4Interface("192.0.2.1/24"), (4, 0xC0000201)),
        (ipaddress.IPv6Address("::1"), (6, 1)),
        (ipaddress.IPv6Interface("2001:db8::1/64"), (6, 0x20010DB8 << 96 | 1)),
        ("192.0.2.1/24", (4, 0xC0000201)),
        ("::ffff:192.0.2.1", (6, 0xFFFF_C0000201)),
    ],
)
def test_address_objects_and_text(address: Any, expected: tuple[int, int]) -> None:
    assert parse_address(address) == expected


@pytest.mark.parametrize(
    "address",
    [
        None,
        5,
        b"192.0.2.1",
        ["192.0.2.1"],
        ipaddress.ip_network("192.0.2.0/24"),
        ipaddress.IPv6Address("fe80::1%eth0"),
        ipaddress.IPv6Interface("fe80::1%eth0/64"),
        "fe80::1%eth0/64",
        "",
    ],
)
def test_addresses_that_are_refused(address: Any) -> None:
    with pytest.raises(ValueError):
        parse_address(address)


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("2001:DB8::1/32", "2001:db8::/32"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        (ipaddress.ip_network("10.0.0.0/8"), "10.0.0.0/8"),
        (ipaddress.ip_interface("10.1.2.3/8"), "10.0.0.0/8"),
    ],
)
def test_networks_are_masked(network: Any, expected: str) -> None:
    assert parse_network(network) == ipaddress.ip_network(expected)


@pytest.mark.parametrize(
    "network",
    [
        "10.0.0.0",
        "10.0.0.0/08",
        "10.0.0.0/255.0.0.0",
        "10.0.0.0/ 8",
        "fe80::%eth0/64",
        ipaddress.ip_network("fe80::%eth0/64"),
        ipaddress.ip_address("10.0.0.0"),
        None,
        8,
    ],
)
def test_networks_that_are_refused(network: Any) -> None:
    with pytest.raises(ValueError):
        parse_network(network)


@settings(max_examples=200, deadline=None)
@given(
    version=st.sampled_from([4, 6]),
    prefix=st.integers(0, 128),
    base=st.integers(0, 2**128 - 1),
)
def test_network_range_is_first_and_last(version: int, prefix: int, base: int) -> None:
    bits = 32 if version == 4 else 128
    prefix = min(prefix, bits)
    network = ipaddress.ip_network((base % 2**bits, prefix), strict=False)
    first, last = network_range(network)
    assert (first, last) == (
        int(network.network_address),
        int(network.broadcast_address),
    )


def views(interface: IPInterface) -> list[Any]:
    """Everything a caller can observe about an interface."""
    return [
        type(interface),
        str(interface),
        repr(interface),
        hash(interface),
        interface.ip,
        interface.network,
        interface.netmask,
        interface.hostmask,
        interface.with_prefixlen,
        interface.with_netmask,
        interface.packed,
        interface.is_private,
        vars(interface),
    ]


@st.composite
def networks_and_values(draw: st.DrawFn) -> tuple[IPNetwork, int]:
    version = draw(st.sampled_from([4, 6]))
    bits = 32 if version == 4 else 128
    prefix = draw(st.integers(0, bits))
    network = ipaddress.ip_network(
        (draw(st.integers(0, 2**bits - 1)), prefix), strict=False
    )
    first, last = network_range(network)
    return network, draw(st.integers(first, last))


@settings(max_examples=300, deadline=None)
@given(case=networks_and_values())
def test_direct_interfaces_equal_the_public_constructors(
    case: tuple[IPNetwork, int],
) -> None:
    network, value = case
    direct = direct_interfaces(network)(value)
    public = public_interfaces(network)(value)
    assert direct == public
    assert views(direct) == views(public)
    assert (
        direct.ip
        == ipaddress.ip_network((value, network.max_prefixlen)).network_address
    )


def test_the_fast_path_is_verified_and_used_on_cpython() -> None:
    assert verify_interfaces(direct_interfaces)
    assert verify_interfaces(public_interfaces)
    if platform.python_implementation() == "CPython":
        assert INTERFACES is direct_interfaces


def forgetful(network: IPNetwork) -> Callable[[int], IPInterface]:
    """A direct maker that leaves the netmask out."""
    make = direct_interfaces(network)

    def build(value: int) -> IPInterface:
        interface = make(value)
        del interface.netmask
        return interface

    return build


def shifted(network: IPNetwork) -> Callable[[int], IPInterface]:
    """A maker whose interfaces carry the wrong prefix length."""
    return public_interfaces(type(network)((0, 0)))


def bare(network: IPNetwork) -> Callable[[int], IPInterface]:
    """A maker that returns plain addresses."""
    return lambda value: ipaddress.ip_address(value)  # type: ignore[return-value]


def failing(network: IPNetwork) -> Callable[[int], IPInterface]:
    """A maker that cannot build anything."""
    raise RuntimeError("unavailable")


@pytest.mark.parametrize("factory", [forgetful, shifted, bare, failing])
def test_verification_refuses_a_factory_that_differs(
    factory: addresses.InterfaceFactory,
) -> None:
    assert not verify_interfaces(factory)


@pytest.mark.parametrize("factory", FACTORIES)
@pytest.mark.parametrize("network", ["192.0.2.0/24", "2001:db8::/64", "::/0"])
def test_pools_hand_out_equal_interfaces_with_either_factory(
    factory: addresses.InterfaceFactory, network: str
) -> None:
    pool = Pool(ipaddress.ip_network(network), factory)
    ordinal = pool.take_lowest(0, pool.bitmap.bits - 1)
    interface = pool.interface(pool.first + ordinal)
    prefix = network.split("/")[1]
    expected = ipaddress.ip_interface(f"{pool.address(ordinal)}/{prefix}")
    assert ordinal == 1
    assert views(interface) == views(expected)
