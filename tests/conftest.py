"""Shared fixtures of the test suite."""

from __future__ import annotations

import pytest

import ipamcore

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
