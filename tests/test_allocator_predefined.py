"""Predefined pools: defaults, configuration, lazy splitting, the cursor, the ULA."""

from __future__ import annotations

import ipaddress
import socket
from collections import Counter
from pathlib import Path
from typing import cast

import pytest
from conftest import TEST_HOST_ID

import ipamcore
from ipamcore import predefined
from ipamcore.predefined import Position, PredefinedPools
from ipamcore.spaces import AddressSpace

LOCAL = ipamcore.LOCAL_DEFAULT
GLOBAL = ipamcore.GLOBAL_DEFAULT

DEFAULT_LOCAL_V4 = [f"172.{second}.0.0/16" for second in range(17, 32)] + [
    f"192.168.{third}.0/20" for third in range(0, 256, 16)
]


def networks(
    allocator: ipamcore.Allocator, space: str, count: int, v6: bool = False
) -> list[str]:
    """Request ``count`` predefined pools and return their networks as text."""
    return [str(allocator.request_pool(space, v6=v6)[1]) for _ in range(count)]


def test_local_ipv4_defaults_in_docker_order(allocator: ipamcore.Allocator) -> None:
    assert networks(allocator, LOCAL, 31) == DEFAULT_LOCAL_V4
    with pytest.raises(ipamcore.NoAvailablePoolError) as caught:
        allocator.request_pool(LOCAL)
    assert str(caught.value).startswith("No available pool")


def test_predefined_pool_ids_and_data(allocator: ipamcore.Allocator) -> None:
    assert allocator.request_pool(LOCAL) == (
        "LocalDefault/172.17.0.0/16",
        ipaddress.ip_network("172.17.0.0/16"),
        {},
    )
    assert allocator.request_pool(GLOBAL)[0] == "GlobalDefault/10.0.0.0/24"


def test_global_ipv4_defaults_are_slash_24s_of_10_slash_8(
    allocator: ipamcore.Allocator,
) -> None:
    assert networks(allocator, GLOBAL, 3) == [
        "10.0.0.0/24",
        "10.0.1.0/24",
        "10.0.2.0/24",
    ]


def test_local_ipv6_default_is_a_ula_slash_48_in_slash_64s(
    allocator: ipamcore.Allocator,
) -> None:
    assert networks(allocator, LOCAL, 3, v6=True) == [
        "fd62:fb69:18af::/64",
        "fd62:fb69:18af:1::/64",
        "fd62:fb69:18af:2::/64",
    ]


@pytest.mark.parametrize(
    ("host_id", "base"),
    [
        ("", "fd42:98fc:1c14::/48"),
        (TEST_HOST_ID, "fd62:fb69:18af::/48"),
    ],
)
def test_ula_derivation_matches_docker(host_id: str, base: str) -> None:
    assert str(predefined.ula_base(host_id).network) == base
    assert predefined.ula_base(host_id).size == 64


def test_ula_is_stable_and_differs_between_hosts() -> None:
    first = ipamcore.Allocator(host_id="host-a").request_pool(LOCAL, v6=True)[1]
    again = ipamcore.Allocator(host_id="host-a").request_pool(LOCAL, v6=True)[1]
    other = ipamcore.Allocator(host_id="host-b").request_pool(LOCAL, v6=True)[1]
    assert first == again != other
    assert isinstance(first, ipaddress.IPv6Network)
    assert first.subnet_of(ipaddress.IPv6Network("fd00::/8"))


def test_default_host_id_is_the_machine_id() -> None:
    expected = predefined.ula_base(predefined.machine_id()).block_network(0)
    assert ipamcore.Allocator().request_pool(LOCAL, v6=True)[1] == expected


def test_machine_id_reads_etc_machine_id_or_falls_back_to_host_name() -> None:
    path = Path(predefined.MACHINE_ID_PATH)
    content = path.read_text().strip() if path.is_file() else ""
    assert predefined.machine_id() == (content or socket.gethostname())


def test_global_and_other_spaces_have_no_ipv6_defaults(
    allocator: ipamcore.Allocator,
) -> None:
    with pytest.raises(ipamcore.NoAvailablePoolError):
        allocator.request_pool(GLOBAL, v6=True)
    for v6 in (False, True):
        with pytest.raises(ipamcore.NoAvailablePoolError):
            allocator.request_pool("blue", v6=v6)
    allocator.request_pool("blue", "10.0.0.0/8")
    with pytest.raises(ipamcore.NoAvailablePoolError):
        allocator.request_pool("blue")
    assert len(allocator.pools()) == 1


def test_released_predefined_pool_is_reused_only_after_the_others(
    allocator: ipamcore.Allocator,
) -> None:
    first, _, _ = allocator.request_pool(LOCAL)
    allocator.request_pool(LOCAL)
    allocator.release_pool(first)
    assert networks(allocator, LOCAL, 30) == [*DEFAULT_LOCAL_V4[2:], "172.17.0.0/16"]
    with pytest.raises(ipamcore.NoAvailablePoolError):
        allocator.request_pool(LOCAL)


def test_cursor_wraps_to_a_pool_released_before_it(
    allocator: ipamcore.Allocator,
) -> None:
    ids = [allocator.request_pool(LOCAL)[0] for _ in range(31)]
    allocator.release_pool(ids[20])
    allocator.release_pool(ids[3])
    assert networks(allocator, LOCAL, 2) == [DEFAULT_LOCAL_V4[3], DEFAULT_LOCAL_V4[20]]


def test_explicit_pools_are_skipped(allocator: ipamcore.Allocator) -> None:
    allocator.request_pool(LOCAL, "172.18.5.0/24")
    allocator.request_pool(LOCAL, "172.20.0.0/15")
    assert networks(allocator, LOCAL, 3) == [
        "172.17.0.0/16",
        "172.19.0.0/16",
        "172.22.0.0/16",
    ]


def test_an_explicit_pool_covering_several_bases(allocator: ipamcore.Allocator) -> None:
    allocator.request_pool(LOCAL, "172.16.0.0/12")
    allocator.request_pool(LOCAL, "192.168.0.0/19", "192.168.1.0/24")
    assert networks(allocator, LOCAL, 2) == ["192.168.32.0/20", "192.168.48.0/20"]


def test_the_family_cursors_and_space_cursors_are_separate(
    allocator: ipamcore.Allocator,
) -> None:
    assert networks(allocator, LOCAL, 1) == ["172.17.0.0/16"]
    assert networks(allocator, LOCAL, 1, v6=True) == ["fd62:fb69:18af::/64"]
    assert networks(allocator, GLOBAL, 1) == ["10.0.0.0/24"]
    assert networks(allocator, LOCAL, 1) == ["172.18.0.0/16"]
    assert networks(allocator, LOCAL, 1, v6=True) == ["fd62:fb69:18af:1::/64"]


def test_explicit_pool_may_not_take_a_predefined_pool_in_use(
    allocator: ipamcore.Allocator,
) -> None:
    allocator.request_pool(LOCAL)
    with pytest.raises(ipamcore.PoolOverlapError):
        allocator.request_pool(LOCAL, "172.17.3.0/24")


def test_local_pools_replace_the_ipv4_defaults_and_keep_the_ula() -> None:
    allocator = ipamcore.Allocator(
        local_pools=[{"base": "10.10.0.0/16", "size": 24}], host_id=TEST_HOST_ID
    )
    assert networks(allocator, LOCAL, 2) == ["10.10.0.0/24", "10.10.1.0/24"]
    assert networks(allocator, LOCAL, 1, v6=True) == ["fd62:fb69:18af::/64"]
    assert networks(allocator, GLOBAL, 1) == ["10.0.0.0/24"]


def test_an_ipv6_base_replaces_the_ula() -> None:
    allocator = ipamcore.Allocator(local_pools=[("2001:db8:beef::/48", 64)])
    assert networks(allocator, LOCAL, 3, v6=True) == [
        "2001:db8:beef::/64",
        "2001:db8:beef:1::/64",
        "2001:db8:beef:2::/64",
    ]
    with pytest.raises(ipamcore.NoAvailablePoolError):
        allocator.request_pool(LOCAL)


def test_empty_local_pools_leave_only_the_ula() -> None:
    allocator = ipamcore.Allocator(local_pools=[], host_id="")
    with pytest.raises(ipamcore.NoAvailablePoolError):
        allocator.request_pool(LOCAL)
    assert networks(allocator, LOCAL, 1, v6=True) == ["fd42:98fc:1c14::/64"]


def test_empty_global_pools_leave_none_at_all() -> None:
    allocator = ipamcore.Allocator(global_pools=[], host_id="")
    for v6 in (False, True):
        with pytest.raises(ipamcore.NoAvailablePoolError):
            allocator.request_pool(GLOBAL, v6=v6)
    assert networks(allocator, LOCAL, 1) == ["172.17.0.0/16"]


def test_global_pools_replace_the_global_defaults() -> None:
    allocator = ipamcore.Allocator(
        global_pools=[["10.200.0.0/30", 31], ("::/127", 128)]
    )
    assert networks(allocator, GLOBAL, 2) == ["10.200.0.0/31", "10.200.0.2/31"]
    assert networks(allocator, GLOBAL, 2, v6=True) == ["::/128", "::1/128"]
    with pytest.raises(ipamcore.NoAvailablePoolError):
        allocator.request_pool(GLOBAL)


def test_bases_are_masked_and_searched_in_order() -> None:
    allocator = ipamcore.Allocator(
        local_pools=[{"base": "172.17.0.0/12", "size": 20}, ("10.0.0.0/8", 8)]
    )
    assert networks(allocator, LOCAL, 2) == ["172.16.0.0/20", "172.16.16.0/20"]


def test_overlapping_bases_never_hand_out_a_pool_twice() -> None:
    allocator = ipamcore.Allocator(
        local_pools=[("10.0.0.0/30", 31), ("10.0.0.0/29", 31), ("10.0.0.0/29", 30)]
    )
    assert networks(allocator, LOCAL, 4) == [
        "10.0.0.0/31",
        "10.0.0.2/31",
        "10.0.0.4/31",
        "10.0.0.6/31",
    ]
    with pytest.raises(ipamcore.NoAvailablePoolError):
        allocator.request_pool(LOCAL)


def test_blocks_are_aligned_to_their_size() -> None:
    allocator = ipamcore.Allocator(local_pools=[("10.0.0.0/24", 25)])
    allocator.request_pool(LOCAL, "10.0.0.0/26")
    assert networks(allocator, LOCAL, 1) == ["10.0.0.128/25"]
    with pytest.raises(ipamcore.NoAvailablePoolError):
        allocator.request_pool(LOCAL)


def test_a_base_with_pools_larger_than_64_bits() -> None:
    allocator = ipamcore.Allocator(local_pools=[("::/0", 1)])
    assert networks(allocator, LOCAL, 2, v6=True) == ["::/1", "8000::/1"]
    with pytest.raises(ipamcore.NoAvailablePoolError):
        allocator.request_pool(LOCAL, v6=True)


def test_fd00_slash_8_in_slash_64s_is_never_expanded() -> None:
    def layout(pools: list[tuple[str, int]]) -> tuple[int, int, int, Position]:
        """Hand out one pool; return its runs, the occupancy's, bases and cursor."""
        (base,) = predefined.parse_bases(pools)
        version = base.network.version
        space = AddressSpace(LOCAL, {version: PredefinedPools([base])})
        network, position = space.next_predefined(version)
        pool, _ = space.hold(network, None, position)
        pools_of_version = space.predefined[version]
        return (
            pool.bitmap.runs,
            space.occupancy(version).runs,
            len(pools_of_version.bases),
            pools_of_version.cursor,
        )

    # The compiled core's memory is O(runs): equal runs, equal memory.
    huge = layout([("fd00::/8", 64)])
    small = layout([("10.0.0.0/24", 24)])
    assert huge == (2, 3, 1, (0, 1))
    assert small == (3, 3, 1, (0, 1))
    allocator = ipamcore.Allocator(local_pools=[("fd00::/8", 64)])
    allocator.request_pool(LOCAL, v6=True)
    (info,) = allocator.pools()
    assert (info.size, info.runs) == (2**64, 2)


class CountingOccupancy:
    """An occupancy bitmap that counts the searches made in it.

    Args:
        bitmap: The bitmap searched.
        counts: Where the searches are counted, under ``"searches"``.
    """

    def __init__(self, bitmap: ipamcore.Bitmap, counts: Counter[str]) -> None:
        self.bitmap = bitmap
        self.counts = counts

    def find_free(self, start: int, end: int) -> int | None:
        """Count a search for a free ordinal, and make it."""
        self.counts["searches"] += 1
        return self.bitmap.find_free(start, end)

    def find_used(self, start: int, end: int) -> int | None:
        """Count a search for a used ordinal, and make it."""
        self.counts["searches"] += 1
        return self.bitmap.find_used(start, end)

    def __getattr__(self, name: str) -> object:
        return getattr(self.bitmap, name)


def searches_for_next_pool(allocator: ipamcore.Allocator) -> int:
    """Request a global predefined pool; count the occupancy searches it made."""
    counts: Counter[str] = Counter()
    occupancy = AddressSpace.occupancy

    def counting(space: AddressSpace, version: int) -> ipamcore.Bitmap:
        return cast(
            ipamcore.Bitmap, CountingOccupancy(occupancy(space, version), counts)
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AddressSpace, "occupancy", counting)
        allocator.request_pool(GLOBAL)
    return counts["searches"]


@pytest.mark.parametrize("named", [False, True])
def test_next_predefined_pool_costs_the_same_with_many_pools_taken(
    named: bool,
) -> None:
    # 20,000 /24s of 10.0.0.0/8 are taken, by predefined requests (the
    # cursor moves past them) or as named pools (the search starts before
    # them).  Either way the next block is found in one search that skips
    # the whole used run, one more finds it clear, and the overlap check is
    # one search: as many as in a fresh allocator.
    crowded = ipamcore.Allocator(host_id="")
    for index in range(20_000):
        pool = f"10.{index >> 8}.{index & 255}.0/24" if named else ""
        crowded.request_pool(GLOBAL, pool)
    fresh = ipamcore.Allocator(host_id="")
    assert searches_for_next_pool(crowded) == searches_for_next_pool(fresh) == 3
    assert [str(info.network) for info in crowded.pools()][-1] == "10.78.32.0/24"


def test_fragmented_occupancy_is_skipped_a_run_at_a_time() -> None:
    allocator = ipamcore.Allocator(local_pools=[("10.0.0.0/16", 24)])
    for third in range(0, 250, 2):
        allocator.request_pool(LOCAL, f"10.0.{third}.128/25")
    assert networks(allocator, LOCAL, 4) == [
        "10.0.1.0/24",
        "10.0.3.0/24",
        "10.0.5.0/24",
        "10.0.7.0/24",
    ]


@pytest.mark.parametrize(
    "pools",
    [
        [{"base": "172.17.0.0/16", "size": 50}],
        [{"base": "10.10.0.0/16", "size": 8}],
        [{"base": "2001:db8::/64", "size": 129}],
        [{"base": "2001:db8::/64", "size": 63}],
        [{"base": "10.0.0.0/8", "size": -1}],
        [{"base": "10.0.0.0/8", "size": True}],
        [{"base": "10.0.0.0/8", "size": "24"}],
        [{"base": "10.0.0.0/8", "size": 24.0}],
        [{"base": "10.0.0.0/8", "size": None}],
        [{"base": "10.0.0.0", "size": 24}],
        [{"base": "10.0.0.0/33", "size": 33}],
        [{"base": "not a network", "size": 24}],
        [{"base": None, "size": 24}],
        [{"base": 167772160, "size": 24}],
        [{"base": "10.0.0.0/8"}],
        [{"base": "10.0.0.0/8", "size": 24, "extra": 1}],
        [("10.0.0.0/8", 24, 1)],
        [("10.0.0.0/8",)],
        ["10.0.0.0/8"],
        [None],
        "10.0.0.0/8",
        {"base": "10.0.0.0/8", "size": 24},
        24,
    ],
)
def test_bad_predefined_pools_are_refused_when_built(pools: object) -> None:
    for arguments in ({"local_pools": pools}, {"global_pools": pools}):
        with pytest.raises(ipamcore.InvalidIpamConfigServiceError) as caught:
            ipamcore.Allocator(**arguments)  # type: ignore[arg-type]
        assert isinstance(caught.value, ValueError)
        assert str(caught.value).startswith("Invalid IPAM Config Service: ")


def test_bad_base_and_size_are_named_in_the_message() -> None:
    with pytest.raises(
        ipamcore.InvalidIpamConfigServiceError, match=r"172\.17\.0\.0/16 .* 50"
    ):
        ipamcore.Allocator(local_pools=[{"base": "172.17.0.0/16", "size": 50}])
    with pytest.raises(ipamcore.InvalidIpamConfigServiceError, match="bogus"):
        ipamcore.Allocator(global_pools=[{"base": "bogus", "size": 24}])


@pytest.mark.parametrize("host_id", [5, b"host", ["host"]])
def test_bad_host_id_is_refused(host_id: object) -> None:
    with pytest.raises(ipamcore.InvalidIpamConfigServiceError, match="bad host id"):
        ipamcore.Allocator(host_id=host_id)  # type: ignore[arg-type]
    with pytest.raises(ipamcore.InvalidIpamConfigServiceError, match="bad host id"):
        ipamcore.Allocator(
            local_pools=[("fd00::/8", 64)],
            host_id=host_id,  # type: ignore[arg-type]
        )


def test_no_available_pool_says_why_in_the_same_words() -> None:
    allocator = ipamcore.Allocator(local_pools=[("10.0.0.0/24", 25)], host_id="")
    networks(allocator, LOCAL, 2)
    for space, v6, detail in [
        ("Empty", False, "Empty has no IPv4 predefined pools"),
        (GLOBAL, True, "GlobalDefault has no IPv6 predefined pools"),
        (LOCAL, False, "every IPv4 predefined pool of LocalDefault is taken"),
    ]:
        with pytest.raises(ipamcore.NoAvailablePoolError) as caught:
            allocator.request_pool(space, v6=v6)
        assert str(caught.value) == f"No available pool: {detail}"
