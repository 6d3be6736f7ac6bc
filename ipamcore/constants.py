"""Names and option keys of the IPAM driver contract."""

from typing import Final

DEFAULT_IPAM: Final = "default"
"""Name under which the built-in driver is registered."""

PLUGIN_ENDPOINT_TYPE: Final = "IpamDriver"
"""Endpoint type a remote IPAM plugin announces in its handshake."""

LOCAL_DEFAULT: Final = "LocalDefault"
"""Address space for networks local to one host."""

GLOBAL_DEFAULT: Final = "GlobalDefault"
"""Address space for networks shared by many hosts."""

ALLOC_SERIAL: Final = "com.docker.network.ipam.serial"
"""Option key; the value ``"true"`` asks for round-robin address allocation."""

REQUEST_ADDRESS_TYPE: Final = "RequestAddressType"
"""Option key naming what an address request is for."""

GATEWAY: Final = "com.docker.network.gateway"
"""Value of ``REQUEST_ADDRESS_TYPE`` for a network's gateway address."""
