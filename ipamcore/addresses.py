"""Addresses and networks at the driver's edge.

Callers pass addresses and networks as text or as `ipaddress` objects; the
driver works on integers inside and hands back `ipaddress` objects.  This
module holds both directions: parsing what callers pass, and building the
interfaces that `Allocator.request_address` returns.

Building an `IPv4Interface` through its public constructor parses a tuple,
builds a fresh network object and copies its netmask, which costs several
microseconds in CPython: more than the whole budget of an address request.
`DirectInterfaces` builds the same objects by filling in their attributes,
sharing one network object per pool.  It depends on the private layout of
`ipaddress` objects, so it is used only if `verify_interfaces` finds that
it produces objects indistinguishable from the public constructor's on this
interpreter; otherwise `PublicInterfaces` is used.
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
    "DirectInterfaces",
    "IPAddress",
    "IPInterface",
    "IPNetwork",
    "InterfaceFactory",
    "PublicInterfaces",
    "address_text",
    "make_address",
    "parse_address",
    "parse_network",
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


def make_address(version: int, value: int) -> IPAddress:
    """Return the address ``value`` of IP ``version`` as an `ipaddress` object."""
    if version == 4:
        return IPv4Address(value)
    return IPv6Address(value)


def address_text(version: int, value: int) -> str:
    """Return the canonical text of the address ``value`` of IP ``version``."""
    return str(make_address(version, value))


class PublicInterfaces:
    """Build the interfaces of one network with the public constructors.

    Args:
        network: The network every interface built belongs to.
    """

    __slots__ = ("_kind", "_prefixlen")

    def __init__(self, network: IPNetwork) -> None:
        self._kind = IPv4Interface if network.version == 4 else IPv6Interface
        self._prefixlen = network.prefixlen

    def make(self, value: int) -> IPInterface:
        """Return the interface of address ``value`` in the network."""
        return self._kind((value, self._prefixlen))


class DirectInterfaces:
    """Build the interfaces of one network by filling in their attributes.

    Every interface built shares the one network object given here;
    networks are immutable values, so sharing is not observable.

    Args:
        network: The network every interface built belongs to.
    """

    __slots__ = ("_attributes", "_kind", "_slots")

    def __init__(self, network: IPNetwork) -> None:
        self._kind = IPv4Interface if network.version == 4 else IPv6Interface
        self._attributes = {
            "network": network,
            "netmask": network.netmask,
            "_prefixlen": network.prefixlen,
        }

    def make(self, value: int) -> IPInterface:
        """Return the interface of address ``value`` in the network."""
        # Typed Any: the private attributes set here are not in the stubs.
        interface: Any = object.__new__(self._kind)
        interface._ip = value
        if self._kind is IPv6Interface:
            interface._scope_id = None
        interface.__dict__.update(self._attributes)
        built: IPInterface = interface
        return built


InterfaceFactory: TypeAlias = Callable[[IPNetwork], PublicInterfaces | DirectInterfaces]

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
            built = factory(network).make(value)
        except Exception:
            return False
        if not _same_interface(built, PublicInterfaces(network).make(value)):
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
    DirectInterfaces if verify_interfaces(DirectInterfaces) else PublicInterfaces
)
"""The interface factory this interpreter uses (see the module docstring)."""
