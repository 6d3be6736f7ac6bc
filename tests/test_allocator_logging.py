"""What the allocator logs: each call that can change the state, at DEBUG."""

from __future__ import annotations

import logging

import pytest

import ipamcore

LOCAL = ipamcore.LOCAL_DEFAULT


def test_calls_that_change_state_are_logged_and_queries_are_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = ipamcore.MemoryJournal()
    allocator = ipamcore.Allocator(host_id="", journal=journal)
    with caplog.at_level(logging.DEBUG, logger="ipamcore"):
        pool_id, _, _ = allocator.request_pool(LOCAL, "192.0.2.0/24")
        allocator.request_address(pool_id)
        allocator.used_ranges(pool_id)
        allocator.release_address(pool_id, "192.0.2.1")
        allocator.release_pool(pool_id)
        ipamcore.Allocator(host_id="").replay(journal)
        allocator.get_default_address_spaces()
        allocator.capabilities()
        allocator.is_builtin()
        allocator.pools()
    logged = [record.getMessage().partition("(")[0] for record in caplog.records]
    assert logged == [
        "request_pool",
        "request_address",
        "release_address",
        "release_pool",
        "replay of 4 changes",
    ]
    assert {record.name for record in caplog.records} == {"ipamcore.allocator"}
    assert {record.levelno for record in caplog.records} == {logging.DEBUG}
