"""The field cases of ``shared/cases`` that concern the allocator, and their kinds.

Each section replays one case with its exact expected values, then covers
the kind of fault it stands for more widely.
"""

from __future__ import annotations

import ipaddress

import pytest
from allocator_support import GW, SERIAL, drain, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

import ipamcore

LOCAL = ipamcore.LOCAL_DEFAULT

# -- sub-pool equal to its pool (kind: sub-pool bounds) -----------------------


def test_case_sub_pool_equal_to_its_pool(allocator: ipamcore.Allocator) -> None:
    pid, _, _ = allocator.request_pool(LOCAL, "192.0.2.0/24", "192.0.2.0/24")
    assert str(allocator.request_address(pid, options=GW)[0]) == "192.0.2.1/24"
    rest = [str(allocator.request_address(pid)[0]) for _ in range(253)]
    assert rest == [f"192.0.2.{host}/24" for host in range(2, 255)]
    with pytest.raises(ipamcore.NoAvailableIPsError):
        allocator.request_address(pid)
    for reserved in ("192.0.2.0", "192.0.2.255"):
        with pytest.raises(ipamcore.IPAlreadyAllocatedError):
            allocator.request_address(pid, reserved)


def test_case_sub_pool_equal_to_its_pool_ipv6(allocator: ipamcore.Allocator) -> None:
    pid, _, _ = allocator.request_pool(LOCAL, "2001:db8:a::/120", "2001:db8:a::/120")
    assert drain(allocator, pid, options=GW) == [
        f"2001:db8:a::{host:x}/120" for host in range(1, 256)
    ]
    with pytest.raises(ipamcore.IPAlreadyAllocatedError):
        allocator.request_address(pid, "2001:db8:a::")


def usable(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[str]:
    """The addresses a pool hands out, worked out from the contract's rules."""
    hosts = [f"{address}/{network.prefixlen}" for address in network]
    if network.version == 4 and network.prefixlen <= 30:
        return hosts[1:-1]
    if network.version == 6 and network.prefixlen <= 126:
        return hosts[1:]
    return hosts


SMALL_NETWORKS = [
    *(f"198.51.100.0/{length}" for length in range(22, 33)),
    *(f"2001:db8:b::/{length}" for length in range(118, 129)),
]

HALVABLE = [
    network for network in SMALL_NETWORKS if not network.endswith(("/32", "/128"))
]


@pytest.mark.parametrize("network", SMALL_NETWORKS)
def test_sub_pools_equal_to_their_pool_hand_out_every_usable_address(
    allocator: ipamcore.Allocator, network: str
) -> None:
    pid, _, _ = allocator.request_pool(LOCAL, network, network)
    expected = usable(ipaddress.ip_network(network))
    assert drain(allocator, pid) == expected
    allocator.release_pool(pid)
    pid, _, _ = allocator.request_pool(LOCAL, network, network)
    assert drain(allocator, pid, options=SERIAL) == expected


@pytest.mark.parametrize("network", HALVABLE)
def test_sub_pool_halves_together_hand_out_the_whole_pool(
    allocator: ipamcore.Allocator, network: str
) -> None:
    master = ipaddress.ip_network(network)
    handed_out = []
    for half in master.subnets(1):
        pid, _, _ = allocator.request_pool(LOCAL, network, str(half))
        handed_out += drain(allocator, pid)
    assert handed_out == usable(master)


# -- very small IPv4 networks (kind: special addresses) -----------------------


@pytest.mark.parametrize(
    ("network", "sub_pool", "expected"),
    [
        ("192.0.2.136/29", "", [f"192.0.2.{host}/29" for host in range(137, 143)]),
        ("203.0.113.0/30", "", ["203.0.113.1/30", "203.0.113.2/30"]),
        ("203.0.113.8/31", "203.0.113.8/31", ["203.0.113.8/31", "203.0.113.9/31"]),
        ("203.0.113.20/32", "203.0.113.20/32", ["203.0.113.20/32"]),
    ],
)
def test_case_very_small_ipv4_networks(
    allocator: ipamcore.Allocator, network: str, sub_pool: str, expected: list[str]
) -> None:
    pid, _, _ = allocator.request_pool(LOCAL, network, sub_pool)
    assert str(allocator.request_address(pid, options=GW)[0]) == expected[0]
    assert drain(allocator, pid) == expected[1:]


@pytest.mark.parametrize("network", SMALL_NETWORKS)
def test_special_addresses_are_refused_and_never_handed_out(
    allocator: ipamcore.Allocator, network: str
) -> None:
    pool = ipaddress.ip_network(network)
    pid, _, _ = allocator.request_pool(LOCAL, network)
    special = {str(pool.network_address)} if pool.version == 6 else set()
    if pool.version == 4:
        special |= {str(pool.network_address), str(pool.broadcast_address)}
    if len(usable(pool)) == pool.num_addresses:
        special = set()
    for address in special:
        with pytest.raises(ipamcore.IPAlreadyAllocatedError):
            allocator.request_address(pid, address)
        allocator.release_address(pid, address)
    handed_out = {text.split("/")[0] for text in drain(allocator, pid)}
    assert not handed_out & special
    assert len(handed_out) + len(special) == pool.num_addresses


# -- IPv6 pools wider than /64 (kind: offsets past 64 bits) -------------------


def test_case_ipv6_offsets_past_64_bits(allocator: ipamcore.Allocator) -> None:
    pid, _, _ = allocator.request_pool(LOCAL, "2001:db8::/32", v6=True)
    first, _ = allocator.request_address(pid, "2001:db8:5901::101")
    second, _ = allocator.request_address(pid, "2001:db8:5902::101")
    assert (str(first), str(second)) == (
        "2001:db8:5901::101/32",
        "2001:db8:5902::101/32",
    )
    allocator.release_address(pid, "2001:db8:5902::101")
    with pytest.raises(ipamcore.IPAlreadyAllocatedError):
        allocator.request_address(pid, "2001:db8:5901::101")


def test_case_ipv6_address_deep_in_a_slash_48(allocator: ipamcore.Allocator) -> None:
    pid, _, _ = allocator.request_pool(LOCAL, "2001:db8:cafe::/48")
    address = "2001:db8:cafe:face:f00d:1234:abcd:10"
    assert str(allocator.request_address(pid, address)[0]) == f"{address}/48"


def test_case_ipv6_gateway_outside_a_slash_64_sub_pool(
    allocator: ipamcore.Allocator,
) -> None:
    pid, _, _ = allocator.request_pool(LOCAL, "2001:db8:32::/48", "2001:db8:32::/64")
    gateway, _ = allocator.request_address(pid, "2001:db8:32:1::1", GW)
    assert str(gateway) == "2001:db8:32:1::1/48"
    assert str(allocator.request_address(pid)[0]) == "2001:db8:32::1/48"
    assert str(allocator.request_address(pid)[0]) == "2001:db8:32::2/48"


def test_case_ipv6_address_beyond_a_slash_72(allocator: ipamcore.Allocator) -> None:
    pid, _, _ = allocator.request_pool(LOCAL, "2001:db8:1:2::/72")
    with pytest.raises(ipamcore.IPOutOfRangeError):
        allocator.request_address(pid, "2001:db8:1:2:ff00::1")


def test_case_slash_64_sub_pool_of_a_slash_56(allocator: ipamcore.Allocator) -> None:
    pid, _, _ = allocator.request_pool(
        LOCAL, "2001:db8:0:100::/56", "2001:db8:0:1ff::/64"
    )
    assert str(allocator.request_address(pid, "2001:db8:0:100::1", GW)[0]) == (
        "2001:db8:0:100::1/56"
    )
    top = "2001:db8:0:1ff:ffff:ffff:ffff:ffff"
    assert str(allocator.request_address(pid, top)[0]) == f"{top}/56"
    assert str(allocator.request_address(pid)[0]) == "2001:db8:0:1ff::/56"


@settings(max_examples=40, deadline=None)
@given(
    prefix=st.integers(0, 64),
    base=st.integers(0, 2**128 - 1),
    low=st.integers(1, 2**63 - 1),
    high_bits=st.integers(1, 2**64 - 1),
)
def test_ipv6_offsets_differing_only_above_bit_63_never_collide(
    prefix: int, base: int, low: int, high_bits: int
) -> None:
    allocator = ipamcore.Allocator(host_id="")
    network = ipaddress.IPv6Network((base >> (128 - prefix) << (128 - prefix), prefix))
    pid, _, _ = allocator.request_pool(LOCAL, network)
    host_bits = 128 - prefix
    high = (high_bits << 64) & ((1 << host_bits) - 1) if host_bits > 64 else 0
    first = ipaddress.IPv6Address(int(network.network_address) | low)
    assert allocator.request_address(pid, first)[0].ip == first
    if high:
        second = ipaddress.IPv6Address(int(first) | high)
        assert allocator.request_address(pid, second)[0].ip == second
        allocator.release_address(pid, second)
    with pytest.raises(ipamcore.IPAlreadyAllocatedError):
        allocator.request_address(pid, first)


# -- predefined pools at scale (kind: configuration and lazy splitting) -------


def test_case_predefined_slash_96s_of_a_slash_64() -> None:
    allocator = ipamcore.Allocator(
        local_pools=[{"base": "2001:db8:1:1f00::/64", "size": 96}]
    )
    assert [str(allocator.request_pool(LOCAL, v6=True)[1]) for _ in "ab"] == [
        "2001:db8:1:1f00::/96",
        "2001:db8:1:1f00:0:1::/96",
    ]


def test_case_predefined_slash_64s_of_a_slash_48() -> None:
    allocator = ipamcore.Allocator(
        local_pools=[{"base": "2001:db8:beef::/48", "size": 64}]
    )
    assert [str(allocator.request_pool(LOCAL, v6=True)[1]) for _ in "abc"] == [
        "2001:db8:beef::/64",
        "2001:db8:beef:1::/64",
        "2001:db8:beef:2::/64",
    ]


@pytest.mark.parametrize(
    "pools",
    [
        [{"base": "172.17.0.0/16", "size": 50}],
        [{"base": "10.10.0.0/16", "size": 8}],
    ],
)
def test_case_predefined_sizes_out_of_bounds(pools: list[dict[str, object]]) -> None:
    with pytest.raises(ipamcore.InvalidIpamConfigServiceError):
        ipamcore.Allocator(local_pools=pools)


def test_case_predefined_base_with_host_bits() -> None:
    allocator = ipamcore.Allocator(local_pools=[{"base": "172.17.0.0/12", "size": 20}])
    assert str(allocator.request_pool(LOCAL)[1]) == "172.16.0.0/20"


def test_case_addresses_of_a_slash_10_cost_runs_not_addresses(
    allocator: ipamcore.Allocator,
) -> None:
    # A request costs O(log R) in the runs R of the pool's one bitmap (the
    # core's own tests and benchmarks hold it to that); here the pool must
    # stay one bitmap of three runs however many of its addresses are used.
    pid, _, _ = allocator.request_pool(LOCAL, "100.64.0.0/10")
    assert str(allocator.request_address(pid, options=GW)[0]) == "100.64.0.1/10"
    for host in range(2, 12):
        interface, _ = allocator.request_address(pid)
        assert str(interface) == f"100.64.0.{host}/10"
        (info,) = allocator.pools()
        assert (info.size, info.free, info.runs) == (2**22, 2**22 - 2 - host, 3)
    assert allocator.used_ranges(pid) == [
        (ipaddress.ip_address("100.64.0.0"), ipaddress.ip_address("100.64.0.11")),
        (
            ipaddress.ip_address("100.127.255.255"),
            ipaddress.ip_address("100.127.255.255"),
        ),
    ]
    assert str(allocator.request_address(pid, "100.127.255.254")[0]) == (
        "100.127.255.254/10"
    )
    with pytest.raises(ipamcore.IPAlreadyAllocatedError):
        allocator.request_address(pid, "100.127.255.255")


# -- run-length encoding stays canonical (kind: encoding integrity) ----------


@pytest.mark.parametrize("address", ["172.17.255.200", "172.17.128.5", "172.17.0.2"])
def test_case_request_and_release_restore_runs_and_free(
    allocator: ipamcore.Allocator, address: str
) -> None:
    pid, _, _ = allocator.request_pool(LOCAL, "172.17.0.0/16")
    allocator.request_address(pid, options=GW)
    before = snapshot(allocator)
    allocator.request_address(pid, address)
    assert snapshot(allocator) != before
    allocator.release_address(pid, address)
    assert snapshot(allocator) == before


# -- releasing twice (kind: release idempotency) ------------------------------


def test_case_releasing_twice() -> None:
    journal = ipamcore.MemoryJournal()
    allocator = ipamcore.Allocator(journal=journal, host_id="")
    pid, _, _ = allocator.request_pool(LOCAL, "192.0.2.0/24")
    assert str(allocator.request_address(pid, options=GW)[0]) == "192.0.2.1/24"
    assert str(allocator.request_address(pid)[0]) == "192.0.2.2/24"
    allocator.release_address(pid, "192.0.2.2")
    before, recorded = snapshot(allocator), len(journal)
    allocator.release_address(pid, "192.0.2.2")
    assert (snapshot(allocator), len(journal)) == (before, recorded)
    following = [str(allocator.request_address(pid)[0]) for _ in "ab"]
    assert following == ["192.0.2.2/24", "192.0.2.3/24"]
    assert allocator.pools()[0].free == 251


def test_case_releasing_special_and_foreign_addresses(
    allocator: ipamcore.Allocator,
) -> None:
    pid, _, _ = allocator.request_pool(LOCAL, "192.0.2.0/24")
    allocator.request_address(pid, options=GW)
    allocator.request_address(pid)
    before = snapshot(allocator)
    allocator.release_address(pid, "192.0.2.0")
    allocator.release_address(pid, "192.0.2.255")
    assert snapshot(allocator) == before
    handed_out = drain(allocator, pid)
    assert "192.0.2.0/24" not in handed_out and "192.0.2.255/24" not in handed_out
    assert len(handed_out) == 252
    with pytest.raises(ipamcore.IPOutOfRangeError):
        allocator.release_address(pid, "198.51.100.7")
    with pytest.raises(ipamcore.InvalidRequestError):
        allocator.release_address("LocalDefault/192.0.2.0", "192.0.2.2")


@pytest.mark.parametrize("options", [None, SERIAL])
@pytest.mark.parametrize("sub_pool", ["", "192.0.2.0/25"])
def test_an_address_released_many_times_is_handed_out_once(
    allocator: ipamcore.Allocator, options: dict[str, str] | None, sub_pool: str
) -> None:
    pid, _, _ = allocator.request_pool(LOCAL, "192.0.2.0/24", sub_pool)
    handed_out = drain(allocator, pid, options=options)
    for _ in range(3):
        allocator.release_address(pid, "192.0.2.9")
        allocator.release_address(pid, ipaddress.ip_address("192.0.2.9"))
    assert drain(allocator, pid, options=options) == ["192.0.2.9/24"]
    assert len(set(handed_out)) == len(handed_out)
