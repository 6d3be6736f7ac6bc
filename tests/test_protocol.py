"""The JSON mapping of the remote IPAM plugin protocol, in process."""

from __future__ import annotations

import pickle

import pytest

from ipamcore import (
    ALLOC_SERIAL,
    GATEWAY,
    REQUEST_ADDRESS_TYPE,
    Allocator,
    InvalidRequestError,
    IPAlreadyAllocatedError,
    IpamError,
    NoAvailableIPsError,
)
from ipamcore.protocol import (
    CALLS,
    ENDPOINTS,
    FIELDS,
    ProtocolError,
    error_response,
    execute,
    parse_line,
    respond,
)

HOST_ID = "499d4bc0-b0b3-416f-b1ee-cf6486315593"
POOL_ID = "LocalDefault/192.0.2.0/24"


@pytest.fixture
def driver() -> Allocator:
    """A fresh allocator with a fixed ULA, holding nothing."""
    return Allocator(host_id=HOST_ID)


@pytest.fixture
def pooled(driver: Allocator) -> Allocator:
    """A fresh allocator holding the pool 192.0.2.0/24."""
    execute(
        driver, "RequestPool", {"AddressSpace": "LocalDefault", "Pool": "192.0.2.0/24"}
    )
    return driver


def test_calls_fields_and_endpoints_name_the_whole_protocol() -> None:
    calls = {
        "GetCapabilities",
        "GetDefaultAddressSpaces",
        "RequestPool",
        "ReleasePool",
        "RequestAddress",
        "ReleaseAddress",
    }
    assert set(CALLS) == set(FIELDS) == calls
    assert dict(ENDPOINTS) == {f"IpamDriver.{call}": call for call in calls}
    assert FIELDS["RequestPool"] == {"AddressSpace", "Pool", "SubPool", "Options", "V6"}
    assert FIELDS["RequestAddress"] == {"PoolID", "Address", "Options"}
    assert FIELDS["ReleaseAddress"] == {"PoolID", "Address"}
    assert FIELDS["ReleasePool"] == {"PoolID"}


def test_get_capabilities(driver: Allocator) -> None:
    assert execute(driver, "GetCapabilities", {}) == {
        "RequiresMACAddress": False,
        "RequiresRequestReplay": False,
    }


def test_get_default_address_spaces(driver: Allocator) -> None:
    assert execute(driver, "GetDefaultAddressSpaces", {}) == {
        "LocalDefaultAddressSpace": "LocalDefault",
        "GlobalDefaultAddressSpace": "GlobalDefault",
    }


def test_request_pool_answers_id_cidr_and_data(driver: Allocator) -> None:
    body = {
        "AddressSpace": "LocalDefault",
        "Pool": "10.1.0.0/16",
        "SubPool": "10.1.2.0/24",
        "Options": {},
        "V6": False,
    }
    assert execute(driver, "RequestPool", body) == {
        "PoolID": "LocalDefault/10.1.0.0/16/10.1.2.0/24",
        "Pool": "10.1.0.0/16",
        "Data": {},
    }


def test_request_pool_missing_fields_take_zero_values(driver: Allocator) -> None:
    response = execute(driver, "RequestPool", {"AddressSpace": "LocalDefault"})
    assert response["Pool"] == "172.17.0.0/16"
    response = execute(
        driver, "RequestPool", {"AddressSpace": "LocalDefault", "V6": True}
    )
    assert response["Pool"] == "fd62:fb69:18af::/64"


def test_request_address_empty_address_means_any(pooled: Allocator) -> None:
    gateway = {
        "PoolID": POOL_ID,
        "Address": "",
        "Options": {REQUEST_ADDRESS_TYPE: GATEWAY},
    }
    assert execute(pooled, "RequestAddress", gateway) == {
        "Address": "192.0.2.1/24",
        "Data": {},
    }
    any_address = {"PoolID": POOL_ID, "Options": None}
    assert execute(pooled, "RequestAddress", any_address)["Address"] == "192.0.2.2/24"


def test_request_address_given_and_serial(pooled: Allocator) -> None:
    given = {"PoolID": POOL_ID, "Address": "192.0.2.7"}
    assert execute(pooled, "RequestAddress", given)["Address"] == "192.0.2.7/24"
    serial = {"PoolID": POOL_ID, "Options": {ALLOC_SERIAL: "true"}}
    answers = [execute(pooled, "RequestAddress", serial)["Address"] for _ in range(2)]
    assert answers == ["192.0.2.1/24", "192.0.2.2/24"]
    execute(pooled, "ReleaseAddress", {"PoolID": POOL_ID, "Address": "192.0.2.1"})
    assert execute(pooled, "RequestAddress", serial)["Address"] == "192.0.2.3/24"


def test_release_address_and_pool_answer_empty_bodies(pooled: Allocator) -> None:
    execute(pooled, "RequestAddress", {"PoolID": POOL_ID, "Address": "192.0.2.9"})
    release = {"PoolID": POOL_ID, "Address": "192.0.2.9"}
    assert execute(pooled, "ReleaseAddress", release) == {}
    assert execute(pooled, "ReleaseAddress", release) == {}
    assert execute(pooled, "ReleasePool", {"PoolID": POOL_ID}) == {}
    assert pooled.pools() == []


def test_driver_errors_are_raised_by_execute_and_answered_by_respond(
    pooled: Allocator,
) -> None:
    body = {"PoolID": POOL_ID, "Address": "192.0.2.5"}
    execute(pooled, "RequestAddress", body)
    with pytest.raises(IPAlreadyAllocatedError) as caught:
        execute(pooled, "RequestAddress", body)
    assert respond(pooled, "RequestAddress", body) == {"Err": str(caught.value)}
    assert str(caught.value).startswith("Address already in use")


def test_error_response_uses_the_message() -> None:
    assert error_response(NoAvailableIPsError()) == {
        "Err": "No available addresses on this pool"
    }
    assert error_response(NoAvailableIPsError("full")) == {"Err": "full"}


def test_empty_release_address_is_the_drivers_invalid_request(
    pooled: Allocator,
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        execute(pooled, "ReleaseAddress", {"PoolID": POOL_ID})
    assert not isinstance(caught.value, ProtocolError)


@pytest.mark.parametrize(
    ("call", "body", "message"),
    [
        ("Frobnicate", {}, "unknown call 'Frobnicate'"),
        ("requestpool", {}, "unknown call 'requestpool'"),
        ("GetCapabilities", {"V6": True}, "unknown field 'V6' in GetCapabilities"),
        (
            "RequestPool",
            {"Pool": "", "pool": ""},
            "unknown field 'pool' in RequestPool",
        ),
        ("ReleasePool", {"PoolID": 7}, "field PoolID must be a string, got a number"),
        ("ReleasePool", {"PoolID": None}, "field PoolID must be a string, got null"),
        ("RequestPool", {"V6": "true"}, "field V6 must be a boolean, got a string"),
        ("RequestPool", {"V6": 1}, "field V6 must be a boolean, got a number"),
        ("RequestPool", {"Pool": ["x"]}, "field Pool must be a string, got an array"),
        (
            "RequestPool",
            {"Options": []},
            "field Options must be an object, got an array",
        ),
        (
            "RequestAddress",
            {"PoolID": POOL_ID, "Options": {"k": True}},
            "field Options: 'k' must map to a string, got a boolean",
        ),
        (
            "RequestAddress",
            {"PoolID": POOL_ID, "Address": {}},
            "field Address must be a string, got an object",
        ),
        (
            "RequestAddress",
            {"PoolID": POOL_ID, "Options": {1: "true"}},
            "field Options: key 1 must be a string",
        ),
        ("RequestPool", None, "RequestPool body must be an object, got null"),
        ("RequestPool", [], "RequestPool body must be an object, got an array"),
        ("ReleasePool", "PoolID", "ReleasePool body must be an object, got a string"),
        (None, {}, "unknown call None"),
        ("RequestPool", {1: 2, "a": 3}, "unknown field 1 in RequestPool"),
        ("RequestPool", {"Pool": "", 7: 0, "z": 0}, "unknown field 7 in RequestPool"),
    ],
)
def test_malformed_requests_raise_protocol_error_and_change_nothing(
    pooled: Allocator, call: str, body: dict[str, object], message: str
) -> None:
    before = pooled.pools()
    with pytest.raises(ProtocolError) as caught:
        execute(pooled, call, body)
    assert str(caught.value) == f"Invalid Request: {message}"
    assert isinstance(caught.value, InvalidRequestError)
    assert respond(pooled, call, body) == {"Err": f"Invalid Request: {message}"}
    assert pooled.pools() == before


def test_parse_line_splits_call_from_fields() -> None:
    line = b'  {"Call": "ReleasePool", "PoolID": "LocalDefault/10.0.0.0/8"}\r\n'
    assert parse_line(line) == ("ReleasePool", {"PoolID": "LocalDefault/10.0.0.0/8"})
    assert parse_line('{"Call": "GetCapabilities"}') == ("GetCapabilities", {})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"\xff{}", "not valid UTF-8"),
        (b"", "invalid JSON: Expecting value at column 1"),
        (b'{"Call": "RequestPool",', "invalid JSON: Expecting property name"),
        (b"[" * 100_000, "invalid JSON: nested too deeply"),
        (b"[1, 2]", "expected a JSON object, got an array"),
        (b'"RequestPool"', "expected a JSON object, got a string"),
        (b"null", "expected a JSON object, got null"),
        (b'{"PoolID": "x"}', "missing field Call"),
        (b'{"Call": null}', "field Call must be a string, got null"),
        (b'{"Call": 5}', "field Call must be a string, got a number"),
        (b'{"Call": "RequestPool", "V6": NaN}', "invalid JSON: NaN is not a JSON"),
        (b'{"Call": -Infinity}', "invalid JSON: -Infinity is not a JSON value"),
        (b'{"Pool": ' + b"9" * 5000 + b"}", "invalid JSON: a number with too many"),
        (
            b'{"Call": "x\x01"}',
            "invalid JSON: Invalid control character at column 12",
        ),
    ],
)
def test_parse_line_rejects(line: bytes, message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_line(line)
    assert str(caught.value).startswith(f"Invalid Request: {message}")
    assert " at at " not in str(caught.value)


@pytest.mark.parametrize("line", [5, None, ["{}"]])
def test_parse_line_of_wrong_type_is_type_error(line: object) -> None:
    with pytest.raises(TypeError, match="a trace line is str or bytes"):
        parse_line(line)  # type: ignore[arg-type]


def test_protocol_error_is_an_ipam_error() -> None:
    assert issubclass(ProtocolError, InvalidRequestError)
    assert issubclass(ProtocolError, IpamError)
    assert issubclass(ProtocolError, ValueError)


def test_protocol_error_behaves_like_the_other_errors() -> None:
    assert str(ProtocolError()) == "Invalid Request"
    assert str(ProtocolError("anything")) == "anything"
    with pytest.raises(ProtocolError) as caught:
        parse_line(b"[]")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is ProtocolError
    assert str(copy) == str(caught.value)
    assert str(copy) == "Invalid Request: expected a JSON object, got an array"
