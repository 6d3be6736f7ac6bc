"""Addresses and networks at the driver's edge.

Callers pass addresses and networks as text or as `ipaddress` objects; the
driver works on integers inside and hands back `ipaddress` objects.  This
module holds both directions: parsing what callers pass, and building the
interfaces that `Allocator.request_address` returns.

Building an `IPv4Interface` through its public constructor parses a tuple,
builds a fresh network object and copies its netmask, which costs several
microseconds in CPython: more than the whole budget of an address request.
`direct_interfaces` builds the same objects by filling in their attributes,
sharing one network object per pool.  It depends on the private layout of
`ipaddress` objects, so it is used only if `verify_interfaces` finds that
it produces objects indistinguishable from the public constructor's on this
interpreter; otherwise `public_interfaces` is used.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPv6Network,
)
from typing import Any, TypeAlias

__all__ = [
    "INTERFACES",
    "IPAddress",
    "IPInterface",
    "IPNetwork",
    "InterfaceFactory",
    "InterfaceMaker",
    "address_text",
    "direct_interfaces",
    "make_address",
    "network_range",
    "parse_address",
    "parse_network",
    "public_interfaces",
    "verify_interfaces",
]

IPAddress: TypeAlias = IPv4Address | IPv6Address
IPNetwork: TypeAlias = IPv4Network | IPv6Network
IPInterface: TypeAlias = IPv4Interface | IPv6Interface

# A prefix length as Docker's parser accepts it: decimal, no leading zeros.
_PREFIX_LENGTH = re.compile(r"0|[1-9][0-9]{0,2}")


def parse_address(address: object) -> tuple[int, int]:
    """Read an address given as text or as an `ipaddress` object.

    Text may be a bare address or ``address/length``; the length is checked
    for syntax and then ignored, as it is for interface objects, so that
    ``str()`` of a returned interface can be passed back.

    Args:
        address: ``str``, `IPv4Address`, `IPv6Address` or an interface.

    Returns:
        ``(version, value)``: the IP version and the address as an integer.

    Raises:
        ValueError: The address is malformed, of another type, or carries
            an IPv6 zone (``%eth0``), which no pool address has.
    """
    if isinstance(address, str):
        return _parse_address_text(address)
    if isinstance(address, IPv4Address):
        return 4, int(address)
    if isinstance(address, IPv6Address) and address.scope_id is None:
        return 6, int(address)
    raise ValueError(f"not an IP address: {address!r}")


def _parse_address_text(text: str) -> tuple[int, int]:
    """Parse address text; plain IPv4 text takes a fast path through libc."""
    if ":" not in text and "/" not in text:
        try:
            return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
        except (OSError, ValueError):
            pass  # let ipaddress decide, and word the error
    try:
        parsed = ipaddress.ip_interface(text)
    except ValueError:
        raise ValueError(f"not an IP address: {text!r}") from None
    if isinstance(parsed, IPv6Interface) and parsed.scope_id is not None:
        raise ValueError(f"an IPv6 zone is not allowed here: {text!r}")
    return parsed.version, int(parsed)


def parse_network(network: object) -> IPNetwork:
    """Read a network given as CIDR text or as an `ipaddress` object.

    Host bits are masked off (``10.0.0.5/8`` means ``10.0.0.0/8``).  Text
    must carry an explicit decimal prefix length, as in Docker.

    Raises:
        ValueError: The network is malformed or of another type.
    """
    if isinstance(network, IPv4Interface | IPv6Interface):
        network = network.network
    if isinstance(network, IPv4Network | IPv6Network):
        parsed = network
    elif isinstance(network, str):
        parsed = _parse_network_text(network)
    else:
        raise ValueError(f"not a CIDR network: {network!r}")
    if isinstance(parsed, IPv6Network) and parsed.network_address.scope_id:
        raise ValueError(f"an IPv6 zone is not allowed here: {network!r}")
    return parsed


def _parse_network_text(text: str) -> IPNetwork:
    """Parse ``address/length`` text, masking host bits."""
    address, _, length = text.partition("/")
    if not _PREFIX_LENGTH.fullmatch(length):
        raise ValueError(f"not a CIDR network: {text!r}")
    try:
        return ipaddress.ip_network(f"{address}/{length}", strict=False)
    except ValueError:
        raise ValueError(f"not a CIDR network: {text!r}") from None


def network_range(network: IPNetwork) -> tuple[int, int]:
    """Return the first and last addresses of ``network`` as integers.

    Cheaper than ``broadcast_address``, which builds an address object.
    """
    first = int(network.network_address)
    return first, first + (1 << (network.max_prefixlen - network.prefixlen)) - 1


def make_address(version: int, value: int) -> IPAddress:
    """Return the address ``value`` of IP ``version`` as an `ipaddress` object."""
    if version == 4:
        return IPv4Address(value)
    return IPv6Address(value)


def address_text(version: int, value: int) -> str:
    """Return the canonical text of the address ``value`` of IP ``version``."""
    return str(make_address(version, value))


InterfaceMaker: TypeAlias = Callable[[int], IPInterface]
"""Builds the interface of one address (given as an integer) of one network."""

InterfaceFactory: TypeAlias = Callable[[IPNetwork], InterfaceMaker]
"""Returns the `InterfaceMaker` of a network."""


def public_interfaces(network: IPNetwork) -> InterfaceMaker:
    """Return a maker of ``network``'s interfaces using the public constructors."""
    kind = IPv4Interface if network.version == 4 else IPv6Interface
    prefixlen = network.prefixlen

    def make(value: int) -> IPInterface:
        return kind((value, prefixlen))

    return make


def direct_interfaces(network: IPNetwork) -> InterfaceMaker:
    """Return a maker of ``network``'s interfaces that fills in their attributes.

    Every interface built shares the one network object given here;
    networks are immutable values, so sharing is not observable.  The
    attributes are set one by one, in the constructor's order, which lets
    CPython store them in the compact form it uses for constructed objects.
    """
    # The network's constants are bound as defaults rather than closed over:
    # as fast, and three objects per pool fewer for the garbage collector.
    netmask, prefixlen = network.netmask, network.prefixlen
    if network.version == 4:

        def make_v4(
            value: int,
            network: IPNetwork = network,
            netmask: IPAddress = netmask,
            prefixlen: int = prefixlen,
        ) -> IPInterface:
            # Typed Any: the private attributes set here are not in the stubs.
            interface: Any = _new(IPv4Interface)
            interface._ip = value
            interface.network = network
            interface.netmask = netmask
            interface._prefixlen = prefixlen
            built: IPInterface = interface
            return built

        return make_v4

    def make_v6(
        value: int,
        network: IPNetwork = network,
        netmask: IPAddress = netmask,
        prefixlen: int = prefixlen,
    ) -> IPInterface:
        interface: Any = _new(IPv6Interface)
        interface._ip = value
        interface._scope_id = None
        interface.network = network
        interface.netmask = netmask
        interface._prefixlen = prefixlen
        built: IPInterface = interface
        return built

    return make_v6


_new = object.__new__

_SAMPLES = (
    ("10.0.0.0/8", 0x0A000001),
    ("192.0.2.136/29", 0xC0000289),
    ("203.0.113.20/32", 0xCB007114),
    ("2001:db8::/32", 0x20010DB8_5901_0000_0000_0000_0000_0101),
    ("::/0", 1),
    ("2001:db8:1:2::/128", 0x20010DB8_0001_0002_0000_0000_0000_0000),
)


def verify_interfaces(factory: InterfaceFactory) -> bool:
    """Tell whether ``factory`` builds interfaces equal to the public ones.

    Compares, for a few networks of both families, the value, text, hash,
    address, network, every slot and the instance dictionary.
    """
    for network_text, value in _SAMPLES:
        network = ipaddress.ip_network(network_text)
        try:
            built = factory(network)(value)
        except Exception:
            return False
        if not _same_interface(built, public_interfaces(network)(value)):
            return False
    return True


def _same_interface(built: IPInterface, public: IPInterface) -> bool:
    """Compare two interfaces by every means a caller has."""
    views: list[Callable[[IPInterface], object]] = [
        type,
        str,
        repr,
        hash,
        vars,
        lambda interface: interface.ip,
        lambda interface: interface.network,
        lambda interface: interface.hostmask,
        lambda interface: interface.with_prefixlen,
        _slot_values,
    ]
    return built == public and all(view(built) == view(public) for view in views)


_MISSING = object()


def _slot_values(interface: IPInterface) -> list[object]:
    """Return the values of every slot the interface's classes declare."""
    values = []
    for kind in type(interface).__mro__:
        for slot in kind.__dict__.get("__slots__", ()):
            if slot != "__weakref__":
                values.append(getattr(interface, slot, _MISSING))
    return values


INTERFACES: InterfaceFactory = (
    direct_interfaces if verify_interfaces(direct_interfaces) else public_interfaces
)
"""The interface factory this interpreter uses (see the module docstring)."""
