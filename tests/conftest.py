"""Shared fixtures of the test suite, and its Hypothesis profiles.

Two Hypothesis profiles are registered here: ``ci``, loaded when the ``CI``
environment variable is set (as CI services set it), and ``dev`` otherwise;
``pytest --hypothesis-profile=ci`` picks one explicitly.  Both print, with
every failing example, the ``@reproduce_failure`` blob that replays it
exactly; Hypothesis adds the seed to the report when a failure cannot be
replayed from its example alone.  Both draw new examples on every run.
``ci`` also turns off the checks that depend on the machine's speed
(deadlines, the too-slow health check) and the example database, which CI
does not keep between runs.  Tests that set their own settings keep them,
so deadlines they turn off stay off under either profile.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

import ipamcore

# Both derive from Hypothesis's own defaults, not from whatever profile
# Hypothesis loaded on its own (it loads a "ci" of its own on CI machines).
settings.register_profile(
    "ci",
    settings.get_profile("default"),
    print_blob=True,
    derandomize=False,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", settings.get_profile("default"), print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

TEST_HOST_ID = "499d4bc0-b0b3-416f-b1ee-cf6486315593"
"""Host id the allocator fixtures derive their ULA /48 from (fd62:fb69:18af::/48)."""


@pytest.fixture(params=["no journal", "memory journal"])
def allocator(request: pytest.FixtureRequest) -> ipamcore.Allocator:
    """A fresh default `Allocator`, without and with a journal.

    The allocator takes a different path for address requests when it has
    a journal, so every test using this fixture runs on both.
    """
    journal = ipamcore.MemoryJournal() if request.param == "memory journal" else None
    return ipamcore.Allocator(host_id=TEST_HOST_ID, journal=journal)
