"""The churn engine behind ``ipamcore simulate``, in process."""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from collections.abc import Callable

import pytest

from ipamcore import (
    ALLOC_SERIAL,
    GATEWAY,
    REQUEST_ADDRESS_TYPE,
    Allocator,
    PoolNotFoundError,
)
from ipamcore.protocol import Request, Response
from ipamcore.simulate import InvariantError, Simulation, Summary, Workload

HOST_ID = "499d4bc0-b0b3-416f-b1ee-cf6486315593"

Call = tuple[str, dict[str, object], Response]


def simulate(
    workload: Workload,
    allocator: Allocator | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[Summary, list[Call]]:
    """Run a workload and return its summary and every call it made."""
    calls: list[Call] = []

    def record(call: str, body: Request, response: Response) -> None:
        calls.append((call, dict(body), response))

    driver = Allocator(host_id=HOST_ID) if allocator is None else allocator
    summary = Simulation(driver, workload, record).run(progress)
    return summary, calls


def timeless(summary: Summary) -> dict[str, object]:
    """Return a summary's dictionary without the timing figures."""
    figures = summary.to_dict()
    del figures["seconds"], figures["operations_per_second"]
    return figures


def live_addresses(calls: list[Call]) -> Counter[str]:
    """Replay the recorded answers: the addresses still allocated at the end."""
    live: Counter[str] = Counter()
    for call, body, response in calls:
        if call == "RequestAddress" and "Err" not in response:
            live[str(response["Address"]).partition("/")[0]] += 1
        if call == "ReleaseAddress":
            live[str(body["Address"])] -= 1
    return +live


def test_same_seed_same_run() -> None:
    first, first_calls = simulate(Workload(operations=4000, seed=11))
    second, second_calls = simulate(Workload(operations=4000, seed=11))
    assert timeless(first) == timeless(second)
    assert first_calls == second_calls
    _, other_calls = simulate(Workload(operations=4000, seed=12))
    assert other_calls != first_calls


def test_every_operation_is_one_recorded_call() -> None:
    summary, calls = simulate(Workload(operations=3000, networks=4))
    assert summary.operations == len(calls) == 3000
    assert [call for call, _, _ in calls[:4]] == [
        "GetCapabilities",
        "GetDefaultAddressSpaces",
        "RequestPool",
        "RequestAddress",
    ]
    assert calls[2][1] == {"AddressSpace": "LocalDefault", "V6": False}
    assert calls[3][1] == {
        "PoolID": "LocalDefault/172.17.0.0/16",
        "Options": {REQUEST_ADDRESS_TYPE: GATEWAY},
    }
    assert calls[3][2] == {"Address": "172.17.0.1/16", "Data": {}}


def test_networks_are_removed_container_by_container() -> None:
    summary, calls = simulate(Workload(operations=30_000, networks=3, seed=5))
    assert summary.operations == len(calls) == 30_000
    kinds = [call for call, _, _ in calls]
    assert kinds.count("ReleasePool") > 1
    assert "ReleasePool" in kinds
    released = kinds.index("ReleasePool")
    pool_id = calls[released][1]["PoolID"]
    after = [body.get("PoolID") for _, body, _ in calls[released + 1 :]]
    assert pool_id not in after
    before = calls[released - 1]
    assert before[0] == "ReleaseAddress"
    assert before[1]["PoolID"] == pool_id


def test_summary_matches_the_recorded_answers() -> None:
    summary, calls = simulate(Workload(operations=20_000, networks=5, seed=3))
    live = live_addresses(calls)
    assert summary.addresses == sum(live.values()) == len(live)
    pools = Counter(str(r.get("PoolID")) for c, _, r in calls if c == "RequestPool")
    for call, body, _ in calls:
        if call == "ReleasePool":
            pools[str(body["PoolID"])] -= 1
    assert summary.pools == len(+pools) == 5
    refused = Counter(c for c, _, r in calls if "Err" in r)
    assert sum(summary.failures.values()) == sum(refused.values())
    assert summary.checks == 3
    assert summary.runs >= summary.pools


def test_serial_requests_carry_the_option() -> None:
    _, calls = simulate(Workload(operations=2000, serial=True))
    dynamic = [
        body
        for call, body, _ in calls
        if call == "RequestAddress" and "Address" not in body
    ]
    options = Counter(json.dumps(body["Options"], sort_keys=True) for body in dynamic)
    gateway = json.dumps({REQUEST_ADDRESS_TYPE: GATEWAY})
    serial = json.dumps({ALLOC_SERIAL: "true"})
    assert set(options) == {gateway, serial}
    assert options[serial] > 1000
    pools = [(body, answer) for call, body, answer in calls if call == "RequestPool"]
    assert all(body["Options"] == {ALLOC_SERIAL: "true"} for body, _ in pools)
    assert options[gateway] == len(pools) >= 30


def test_v6_networks() -> None:
    summary, calls = simulate(Workload(operations=2000, networks=3, v6=True))
    pools = [r["Pool"] for c, _, r in calls if c == "RequestPool"]
    assert pools[:3] == [
        "fd62:fb69:18af::/64",
        "fd62:fb69:18af:1::/64",
        "fd62:fb69:18af:2::/64",
    ]
    assert summary.pools == 3


def test_too_many_networks_are_refused_and_counted() -> None:
    summary, _ = simulate(Workload(operations=5000, networks=40))
    assert summary.pools == 31
    assert summary.failures["NoAvailablePoolError"] > 0


@pytest.mark.parametrize(
    ("base", "size", "usable"),
    [
        ("192.0.2.0/24", 29, 6),
        ("192.0.2.0/24", 30, 2),
        ("192.0.2.0/24", 31, 2),
        ("192.0.2.0/24", 32, 1),
        ("2001:db8::/120", 125, 7),
        ("2001:db8::/120", 127, 2),
        ("2001:db8::/120", 128, 1),
    ],
)
def test_small_pools_fill_up_and_checks_pass(base: str, size: int, usable: int) -> None:
    allocator = Allocator(local_pools=[{"base": base, "size": size}], host_id=HOST_ID)
    v6 = ":" in base
    workload = Workload(
        operations=6000, networks=4, seed=size, v6=v6, check_interval=97
    )
    summary, calls = simulate(workload, allocator)
    assert summary.failures["NoAvailableIPsError"] > 0
    assert summary.addresses <= summary.pools * usable
    assert summary.checks == 6000 // 97 + 1
    sizes = {
        ipaddress.ip_network(str(r["Pool"])).prefixlen
        for c, _, r in calls
        if c == "RequestPool" and "Pool" in r
    }
    assert sizes == {size}


def test_static_addresses_collide_and_are_counted() -> None:
    allocator = Allocator(local_pools=[("192.0.2.0/24", 28)], host_id=HOST_ID)
    summary, calls = simulate(Workload(operations=8000, networks=2), allocator)
    static = [r for c, b, r in calls if c == "RequestAddress" and "Address" in b]
    assert static
    collided = [r for r in static if "Err" in r]
    assert len(collided) == summary.failures["IPAlreadyAllocatedError"] > 0
    assert all(str(r["Err"]).startswith("Address already in use") for r in collided)


def test_check_catches_an_address_released_behind_its_back() -> None:
    allocator = Allocator(host_id=HOST_ID)
    simulation = Simulation(allocator, Workload(operations=500, networks=2))
    simulation.run()
    pool_id = allocator.pools()[0].pool_id
    allocator.release_address(pool_id, "172.17.0.1")
    with pytest.raises(InvariantError, match="free, expected"):
        simulation.check()


def test_check_catches_an_address_taken_behind_its_back() -> None:
    allocator = Allocator(host_id=HOST_ID)
    simulation = Simulation(allocator, Workload(operations=500, networks=2))
    simulation.run()
    info = allocator.pools()[0]
    allocator.request_address(info.pool_id, "172.17.200.1")
    with pytest.raises(InvariantError, match="free, expected"):
        simulation.check()


def test_check_catches_a_moved_address() -> None:
    allocator = Allocator(host_id=HOST_ID)
    simulation = Simulation(allocator, Workload(operations=500, networks=2))
    simulation.run()
    pool_id = allocator.pools()[0].pool_id
    allocator.release_address(pool_id, "172.17.0.2")
    allocator.request_address(pool_id, "172.17.250.2")
    with pytest.raises(InvariantError, match="holds other addresses than the books"):
        simulation.check()


def test_check_catches_a_pool_released_behind_its_back() -> None:
    allocator = Allocator(host_id=HOST_ID)
    simulation = Simulation(allocator, Workload(operations=500, networks=2))
    simulation.run()
    allocator.release_pool(allocator.pools()[0].pool_id)
    with pytest.raises(InvariantError, match="pools differ from the books"):
        simulation.check()


def test_run_catches_an_address_handed_out_twice() -> None:
    allocator = Allocator(host_id=HOST_ID)

    def release_gateways(done: int) -> None:
        for info in allocator.pools():
            allocator.release_address(info.pool_id, info.network.network_address + 1)

    workload = Workload(operations=3000, networks=1, check_interval=10**6)
    with pytest.raises(InvariantError, match=r"172\.17\.0\.1/16 handed out twice"):
        simulate(workload, allocator, release_gateways)


def test_run_catches_an_unexpected_refusal() -> None:
    allocator = Allocator(host_id=HOST_ID)

    def release_pools(done: int) -> None:
        for info in allocator.pools():
            allocator.release_pool(info.pool_id)

    workload = Workload(operations=3000, networks=1, check_interval=10**6)
    with pytest.raises(
        InvariantError, match="refused with PoolNotFoundError"
    ) as caught:
        simulate(workload, allocator, release_pools)
    assert isinstance(caught.value.__cause__, PoolNotFoundError)
