"""The driver protocols and the registry."""

from __future__ import annotations

from typing import Any

import pytest

import ipamcore
from ipamcore.registry import IPAM_METHODS


class Minimal:
    """A driver with the five contract methods and nothing else."""

    def get_default_address_spaces(self) -> tuple[str, str]:
        return "A", "B"

    def request_pool(self, *args: Any, **kwargs: Any) -> Any:
        return "A/10.0.0.0/8", None, {}

    def release_pool(self, pool_id: str) -> None:
        return None

    def request_address(self, *args: Any, **kwargs: Any) -> Any:
        return None, {}

    def release_address(self, pool_id: str, address: Any) -> None:
        return None


def without(method: str) -> object:
    """A `Minimal` driver whose ``method`` is missing."""
    methods = {name: vars(Minimal)[name] for name in IPAM_METHODS if name != method}
    return type(f"Without_{method}", (), methods)()


def test_with_builtin_registers_a_fresh_allocator_as_default() -> None:
    registry = ipamcore.Registry.with_builtin()
    driver = registry[ipamcore.DEFAULT_IPAM]
    assert isinstance(driver, ipamcore.Allocator)
    assert driver is not ipamcore.Registry.with_builtin()["default"]
    assert registry.names() == ["default"] == list(registry)
    assert len(registry) == 1 and "default" in registry


def test_drivers_are_looked_up_by_name() -> None:
    registry = ipamcore.Registry()
    minimal = Minimal()
    registry.register_ipam_driver("minimal", minimal)
    registry.register_ipam_driver("builtin", ipamcore.Allocator(host_id=""))
    assert registry["minimal"] is minimal
    assert registry.get("minimal") is minimal
    assert registry.names() == ["minimal", "builtin"]


def test_unknown_names_are_lookup_errors() -> None:
    registry = ipamcore.Registry.with_builtin()
    with pytest.raises(KeyError, match="remote"):
        registry["remote"]
    with pytest.raises(LookupError):
        registry[5]  # type: ignore[index]
    marker = object()
    assert registry.get("remote") is None
    assert registry.get("remote", marker) is marker
    assert "remote" not in registry
    assert [] not in registry


@pytest.mark.parametrize("method", IPAM_METHODS)
def test_a_driver_lacking_a_method_is_refused(method: str) -> None:
    registry = ipamcore.Registry()
    with pytest.raises(ipamcore.InvalidIpamServiceError, match=method) as caught:
        registry.register_ipam_driver("broken", without(method))  # type: ignore[arg-type]
    assert str(caught.value).startswith("Invalid IPAM Service")
    assert "broken" not in registry


@pytest.mark.parametrize("driver", [None, 5, "default", Minimal, object()])
def test_things_that_are_not_drivers_are_refused(driver: Any) -> None:
    registry = ipamcore.Registry()
    with pytest.raises(ipamcore.InvalidIpamServiceError):
        registry.register_ipam_driver("x", driver)
    assert len(registry) == 0


def test_a_method_that_is_not_callable_is_refused() -> None:
    driver = Minimal()
    driver.release_pool = "not callable"  # type: ignore[assignment, method-assign]
    with pytest.raises(ipamcore.InvalidIpamServiceError, match="release_pool"):
        ipamcore.Registry().register_ipam_driver("x", driver)


@pytest.mark.parametrize("name", ["", None, 5, b"default", ["default"]])
def test_bad_names_are_refused(name: Any) -> None:
    registry = ipamcore.Registry()
    with pytest.raises(ipamcore.InvalidIpamServiceError):
        registry.register_ipam_driver(name, ipamcore.Allocator(host_id=""))
    assert len(registry) == 0


def test_a_name_registered_twice_is_refused_and_the_first_kept() -> None:
    registry = ipamcore.Registry.with_builtin()
    first = registry["default"]
    with pytest.raises(ipamcore.InvalidIpamServiceError, match="'default'"):
        registry.register_ipam_driver("default", ipamcore.Allocator(host_id=""))
    assert registry["default"] is first


def test_the_allocator_is_an_ipam_driver() -> None:
    assert isinstance(ipamcore.Allocator(host_id=""), ipamcore.Ipam)
    assert isinstance(Minimal(), ipamcore.Ipam)
    assert not isinstance(without("release_address"), ipamcore.Ipam)


def test_the_registry_is_a_callback() -> None:
    assert isinstance(ipamcore.Registry(), ipamcore.Callback)
    assert not isinstance(ipamcore.Allocator(host_id=""), ipamcore.Callback)


def test_a_plugin_registers_itself_through_the_callback() -> None:
    def init(callback: ipamcore.Callback) -> None:
        callback.register_ipam_driver("plugin", ipamcore.Allocator(host_id=""))

    registry = ipamcore.Registry()
    init(registry)
    pool_id, _, _ = registry["plugin"].request_pool("LocalDefault", "10.0.0.0/8")
    assert str(registry["plugin"].request_address(pool_id)[0]) == "10.0.0.1/8"
