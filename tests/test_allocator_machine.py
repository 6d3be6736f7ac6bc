"""Random sequences of contract calls against the naive model, in lockstep.

After every call the outcomes must be equal (value or error class) and the
allocator's pools, free counts and used ranges must equal the model's.  The
addresses handed out and still live are tracked separately: none is ever
handed out twice, and each lies in its pool.  At the end the allocator's
journal is replayed onto a fresh allocator, which must be indistinguishable.
"""

from __future__ import annotations

import ipaddress

from allocator_model import (
    CONFIG,
    Call,
    ModelAllocator,
    Network,
    address_calls,
    calls,
    observe,
    observe_model,
    perform,
    probe,
    resolve,
)
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import ipamcore


class AllocatorMachine(RuleBasedStateMachine):
    """Drive an `Allocator` with a journal and the model with the same calls."""

    def __init__(self) -> None:
        super().__init__()
        self.journal = ipamcore.MemoryJournal()
        self.allocator = ipamcore.Allocator(**CONFIG, journal=self.journal)
        self.model = ModelAllocator()
        self.live: dict[tuple[str, Network], set[str]] = {}

    @rule(call=calls)
    def call(self, call: Call) -> None:
        self._check(call)

    @precondition(lambda self: self.model.ids)
    @rule(call=address_calls)
    def address_call(self, call: Call) -> None:
        self._check(call)

    @precondition(lambda self: self.model.ids)
    @rule(call=address_calls)
    def another_address_call(self, call: Call) -> None:
        self._check(call)

    def _check(self, call: Call) -> None:
        """Make a call on both sides and compare the outcomes."""
        call = resolve(call, list(self.model.ids))
        outcome = perform(self.allocator, call)
        assert outcome == perform(self.model, call), call
        if outcome[0] == "value":
            self._track(call, outcome[1])

    @invariant()
    def same_state_as_the_model(self) -> None:
        assert observe(self.allocator) == observe_model(self.model)

    @invariant()
    def live_addresses_lie_in_their_pools_and_match_free_counts(self) -> None:
        for info in self.allocator.pools():
            live = self.live.get((info.address_space, info.network), set())
            assert all(ipaddress.ip_address(text) in info.network for text in live)
            assert info.free == info.size - len(info.reserved) - len(live)

    def teardown(self) -> None:
        replica = ipamcore.Allocator(**CONFIG)
        replica.replay(self.journal)
        assert observe(replica) == observe(self.allocator)
        assert probe(replica) == probe(self.allocator)

    def _track(self, call: Call, result: object) -> None:
        """Keep the live addresses of each pool id's master in step."""
        name = call[0]
        if name == "release_pool":
            self._forget_released()
        elif name == "request_address":
            key = self._master_key(call[1])
            address = str(result).split("/")[0]
            assert address not in self.live.setdefault(key, set()), "handed out twice"
            self.live[key].add(address)
        elif name == "release_address":
            self.live.get(self._master_key(call[1]), set()).discard(call[2])

    def _master_key(self, pool_id: str) -> tuple[str, Network]:
        """The address space and master pool behind ``pool_id``."""
        space, network, _ = self.model.ids[pool_id]
        return space, network

    def _forget_released(self) -> None:
        held = {self._master_key(pool_id) for pool_id in self.model.ids}
        for key in set(self.live) - held:
            del self.live[key]


AllocatorMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAllocatorMachine = AllocatorMachine.TestCase
