"""Explicit pools: ids, masking, overlaps, release, address spaces."""

from __future__ import annotations

import ipaddress

import pytest
from allocator_support import drain, snapshot

import ipamcore

LOCAL = ipamcore.LOCAL_DEFAULT


def test_default_address_spaces_capabilities_and_builtin(
    allocator: ipamcore.Allocator,
) -> None:
    assert allocator.get_default_address_spaces() == ("LocalDefault", "GlobalDefault")
    assert allocator.capabilities() == {
        "RequiresMACAddress": False,
        "RequiresRequestReplay": False,
    }
    assert allocator.is_builtin() is True


def test_capabilities_are_a_fresh_dict_each_time(allocator: ipamcore.Allocator) -> None:
    first = allocator.capabilities()
    first["RequiresMACAddress"] = True
    assert allocator.capabilities()["RequiresMACAddress"] is False


@pytest.mark.parametrize(
    ("pool", "pool_id", "network"),
    [
        ("10.0.0.0/8", "LocalDefault/10.0.0.0/8", "10.0.0.0/8"),
        ("10.0.0.5/8", "LocalDefault/10.0.0.0/8", "10.0.0.0/8"),
        ("192.0.2.77/32", "LocalDefault/192.0.2.77/32", "192.0.2.77/32"),
        ("0.0.0.0/0", "LocalDefault/0.0.0.0/0", "0.0.0.0/0"),
        ("2001:DB8:0:0::1/32", "LocalDefault/2001:db8::/32", "2001:db8::/32"),
        ("::/0", "LocalDefault/::/0", "::/0"),
        ("2001:db8::1/128", "LocalDefault/2001:db8::1/128", "2001:db8::1/128"),
    ],
)
def test_request_pool_masks_host_bits_and_returns_canonical_id(
    allocator: ipamcore.Allocator, pool: str, pool_id: str, network: str
) -> None:
    assert allocator.request_pool(LOCAL, pool) == (
        pool_id,
        ipaddress.ip_network(network),
        {},
    )


def test_request_pool_accepts_network_and_interface_objects(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id, network, _ = allocator.request_pool(
        LOCAL, ipaddress.ip_network("10.0.0.0/16")
    )
    assert (pool_id, network) == ("LocalDefault/10.0.0.0/16", network)
    pool_id, _, _ = allocator.request_pool(LOCAL, ipaddress.ip_interface("10.1.2.3/16"))
    assert pool_id == "LocalDefault/10.1.0.0/16"


def test_returned_data_dicts_are_fresh(allocator: ipamcore.Allocator) -> None:
    _, _, first = allocator.request_pool(LOCAL, "10.0.0.0/16")
    first["key"] = "value"
    _, _, second = allocator.request_pool(LOCAL, "10.1.0.0/16")
    assert second == {} and second is not first


@pytest.mark.parametrize(
    ("existing", "requested"),
    [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.0.0.0/8", "10.1.0.0/16"),
        ("10.1.0.0/16", "10.0.0.0/8"),
        ("10.0.0.0/24", "10.0.0.255/32"),
        ("10.0.0.0/31", "0.0.0.0/0"),
        ("2001:db8::/32", "2001:db8:ffff:ffff::/64"),
        ("2001:db8::/64", "::/0"),
    ],
)
def test_overlapping_master_pools_are_refused(
    allocator: ipamcore.Allocator, existing: str, requested: str
) -> None:
    allocator.request_pool(LOCAL, existing)
    before = snapshot(allocator)
    with pytest.raises(ipamcore.PoolOverlapError) as caught:
        allocator.request_pool(LOCAL, requested)
    assert str(caught.value).startswith(ipamcore.PoolOverlapError.message)
    assert snapshot(allocator) == before


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("10.0.0.0/24", "10.0.1.0/24"),
        ("10.0.0.0/25", "10.0.0.128/25"),
        ("0.0.0.0/1", "128.0.0.0/1"),
        ("0.0.0.0/0", "::/0"),
        ("10.0.0.0/8", "::ffff:10.0.0.0/104"),
    ],
)
def test_neighbouring_and_other_family_pools_coexist(
    allocator: ipamcore.Allocator, first: str, second: str
) -> None:
    allocator.request_pool(LOCAL, first)
    allocator.request_pool(LOCAL, second)
    assert len(allocator.pools()) == 2


def test_address_spaces_are_independent(allocator: ipamcore.Allocator) -> None:
    ids = [
        allocator.request_pool(space, "10.0.0.0/24")[0]
        for space in ("LocalDefault", "GlobalDefault", "blue", "a b", "ünïcode")
    ]
    assert ids == [
        "LocalDefault/10.0.0.0/24",
        "GlobalDefault/10.0.0.0/24",
        "blue/10.0.0.0/24",
        "a b/10.0.0.0/24",
        "ünïcode/10.0.0.0/24",
    ]
    assert [str(allocator.request_address(i)[0]) for i in ids] == ["10.0.0.1/24"] * 5
    allocator.release_pool("blue/10.0.0.0/24")
    assert str(allocator.request_address(ids[0])[0]) == "10.0.0.2/24"


def test_release_pool_then_request_again_starts_fresh(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id, _, _ = allocator.request_pool(LOCAL, "192.0.2.0/24")
    allocator.request_address(pool_id)
    allocator.request_address(pool_id)
    allocator.release_pool(pool_id)
    assert allocator.pools() == []
    with pytest.raises(ipamcore.PoolNotFoundError):
        allocator.request_address(pool_id)
    assert allocator.request_pool(LOCAL, "192.0.2.0/24")[0] == pool_id
    assert str(allocator.request_address(pool_id)[0]) == "192.0.2.1/24"


def test_release_pool_twice_is_bad_pool(allocator: ipamcore.Allocator) -> None:
    pool_id, _, _ = allocator.request_pool(LOCAL, "192.0.2.0/24")
    allocator.release_pool(pool_id)
    with pytest.raises(ipamcore.BadPoolError) as caught:
        allocator.release_pool(pool_id)
    assert str(caught.value).startswith(
        "Address space does not contain specified address pool"
    )


@pytest.mark.parametrize(
    "pool_id",
    [
        "LocalDefault/192.0.2.0/25",
        "GlobalDefault/192.0.2.0/24",
        "LocalDefault/192.0.2.0/24/192.0.2.0/25",
    ],
)
def test_release_pool_never_allocated_is_bad_pool(
    allocator: ipamcore.Allocator, pool_id: str
) -> None:
    allocator.request_pool(LOCAL, "192.0.2.0/24")
    before = snapshot(allocator)
    with pytest.raises(ipamcore.BadPoolError):
        allocator.release_pool(pool_id)
    assert snapshot(allocator) == before


def test_ids_in_other_text_forms_name_the_same_pool(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id, _, _ = allocator.request_pool(LOCAL, "2001:db8::/64")
    other_form = "LocalDefault/2001:DB8:0:0:0:0:0:0/64"
    assert str(allocator.request_address(other_form)[0]) == "2001:db8::1/64"
    allocator.release_address(other_form, "2001:db8::1")
    allocator.release_pool(other_form)
    with pytest.raises(ipamcore.PoolNotFoundError):
        allocator.request_address(pool_id)


def test_unknown_pool_id_is_pool_not_found(allocator: ipamcore.Allocator) -> None:
    allocator.request_pool(LOCAL, "192.0.2.0/24")
    for call in (
        lambda: allocator.request_address("LocalDefault/198.51.100.0/24"),
        lambda: allocator.request_address("blue/192.0.2.0/24", "192.0.2.7"),
        lambda: allocator.release_address("LocalDefault/192.0.2.0/25", "192.0.2.7"),
    ):
        with pytest.raises(ipamcore.PoolNotFoundError) as caught:
            call()
        assert str(caught.value).startswith("Address Pool not found")


def test_pools_snapshot_describes_each_id(allocator: ipamcore.Allocator) -> None:
    master, _, _ = allocator.request_pool(LOCAL, "192.0.2.0/24")
    sub, _, _ = allocator.request_pool(LOCAL, "192.0.2.0/24", "192.0.2.128/25")
    allocator.request_address(sub)
    infos = {info.pool_id: info for info in allocator.pools()}
    assert list(infos) == [master, sub]
    assert infos[sub] == ipamcore.PoolInfo(
        pool_id=sub,
        address_space="LocalDefault",
        network=ipaddress.ip_network("192.0.2.0/24"),
        sub_network=ipaddress.ip_network("192.0.2.128/25"),
        size=256,
        free=253,
        runs=5,
        reserved=(
            ipaddress.ip_address("192.0.2.0"),
            ipaddress.ip_address("192.0.2.255"),
        ),
    )
    assert infos[master].sub_network is None
    assert infos[master].free == 253


def test_used_ranges_lists_reserved_and_used_addresses(
    allocator: ipamcore.Allocator,
) -> None:
    pool_id, _, _ = allocator.request_pool(LOCAL, "192.0.2.0/29")
    assert drain(allocator, pool_id)[:2] == ["192.0.2.1/29", "192.0.2.2/29"]
    allocator.release_address(pool_id, "192.0.2.3")
    allocator.release_address(pool_id, "192.0.2.4")
    address = ipaddress.ip_address
    assert allocator.used_ranges(pool_id) == [
        (address("192.0.2.0"), address("192.0.2.2")),
        (address("192.0.2.5"), address("192.0.2.7")),
    ]
