"""The JSON mapping of Docker's remote IPAM plugin protocol.

Docker talks to a remote IPAM plugin by posting a JSON object to an endpoint
named ``IpamDriver.<Call>`` and reading a JSON object back.  This module is
the one place that knows those objects: it checks a request body, turns it
into a call on a driver (any object with the contract's methods, such as
`ipamcore.Allocator`), and turns the answer into the response body.  A driver
error becomes ``{"Err": "<message>"}``, as the protocol wants.

The request fields are exactly the protocol's: a missing field takes its
zero value (``""``, ``false``, no options), as Docker's own decoder does; an
unknown field, a value of the wrong JSON type, an unknown call or text that
is not a JSON object raises `ProtocolError`.  An empty ``Address`` in
``RequestAddress`` asks for any free address.

The module does no I/O.  ``ipamcore replay`` feeds it JSON Lines, each line
an object whose ``"Call"`` member names the call (see `parse_line`); a plugin
server feeds it HTTP bodies, keyed by endpoint name (see `ENDPOINTS`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Protocol

from ipamcore._messages import failure
from ipamcore.constants import PLUGIN_ENDPOINT_TYPE
from ipamcore.errors import InvalidRequestError, IpamError
from ipamcore.registry import Ipam

__all__ = [
    "CALLS",
    "ENDPOINTS",
    "FIELDS",
    "Driver",
    "ProtocolError",
    "Request",
    "Response",
    "error_response",
    "execute",
    "get_capabilities",
    "get_default_address_spaces",
    "parse_line",
    "release_address",
    "release_pool",
    "request_address",
    "request_pool",
    "respond",
]

Request = Mapping[str, object]
"""A decoded request body: field name to JSON value."""

Response = dict[str, object]
"""A response body, ready for `json.dumps`."""


class Driver(Ipam, Protocol):
    """A driver the protocol can serve: the contract's methods and capabilities."""

    def capabilities(self) -> Mapping[str, bool]:
        """Return the ``RequiresMACAddress`` and ``RequiresRequestReplay`` flags."""
        ...


class ProtocolError(InvalidRequestError):
    """A request does not follow the protocol.

    It is an `InvalidRequestError`, so `respond` answers it with ``Err`` like
    any other driver error; ``ipamcore replay`` reports it with a line number.
    This module raises it with the contract's text followed by the offending
    call, field or JSON problem, like the allocator's messages.
    """


Handler = Callable[[Driver, Request], Response]


def _malformed(detail: str) -> ProtocolError:
    """Return the `ProtocolError` whose message ends with ``detail``."""
    return failure(ProtocolError, detail)


def get_default_address_spaces(driver: Driver, body: Request) -> Response:
    """Answer ``GetDefaultAddressSpaces``: the two default space names."""
    local, global_ = driver.get_default_address_spaces()
    return {"LocalDefaultAddressSpace": local, "GlobalDefaultAddressSpace": global_}


def get_capabilities(driver: Driver, body: Request) -> Response:
    """Answer ``GetCapabilities`` with the driver's two capability flags."""
    capabilities = driver.capabilities()
    return {
        "RequiresMACAddress": bool(capabilities["RequiresMACAddress"]),
        "RequiresRequestReplay": bool(capabilities["RequiresRequestReplay"]),
    }


def request_pool(driver: Driver, body: Request) -> Response:
    """Answer ``RequestPool``: the pool id, the pool in CIDR form and data."""
    pool_id, network, data = driver.request_pool(
        _text(body, "AddressSpace"),
        _text(body, "Pool"),
        _text(body, "SubPool"),
        _options(body, "Options"),
        _flag(body, "V6"),
    )
    return {"PoolID": pool_id, "Pool": str(network), "Data": dict(data)}


def release_pool(driver: Driver, body: Request) -> Response:
    """Answer ``ReleasePool`` with an empty body."""
    driver.release_pool(_text(body, "PoolID"))
    return {}


def request_address(driver: Driver, body: Request) -> Response:
    """Answer ``RequestAddress``: the address in CIDR form and data."""
    interface, data = driver.request_address(
        _text(body, "PoolID"),
        _text(body, "Address") or None,
        _options(body, "Options"),
    )
    return {"Address": str(interface), "Data": dict(data)}


def release_address(driver: Driver, body: Request) -> Response:
    """Answer ``ReleaseAddress`` with an empty body."""
    driver.release_address(_text(body, "PoolID"), _text(body, "Address"))
    return {}


CALLS: Mapping[str, Handler] = MappingProxyType(
    {
        "GetCapabilities": get_capabilities,
        "GetDefaultAddressSpaces": get_default_address_spaces,
        "RequestPool": request_pool,
        "ReleasePool": release_pool,
        "RequestAddress": request_address,
        "ReleaseAddress": release_address,
    }
)
"""The handler of each call, keyed by call name (``"RequestPool"``)."""

FIELDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "GetCapabilities": frozenset(),
        "GetDefaultAddressSpaces": frozenset(),
        "RequestPool": frozenset({"AddressSpace", "Pool", "SubPool", "Options", "V6"}),
        "ReleasePool": frozenset({"PoolID"}),
        "RequestAddress": frozenset({"PoolID", "Address", "Options"}),
        "ReleaseAddress": frozenset({"PoolID", "Address"}),
    }
)
"""The request fields each call accepts."""

ENDPOINTS: Mapping[str, str] = MappingProxyType(
    {f"{PLUGIN_ENDPOINT_TYPE}.{call}": call for call in CALLS}
)
"""The call name of each plugin endpoint (``"IpamDriver.RequestPool"``)."""


def execute(driver: Driver, call: str, body: Request) -> Response:
    """Check a request, run it on the driver and return the response body.

    Args:
        driver: The driver that serves the call.
        call: The call name, such as ``"RequestAddress"``.
        body: The request fields, without ``"Call"``.

    Returns:
        The response body of a successful call.

    Raises:
        ProtocolError: The call is unknown, the body is not an object, or a
            field is unknown or has the wrong JSON type; the driver was not
            called.
        IpamError: The driver refused the call.
    """
    handler = CALLS.get(call) if isinstance(call, str) else None
    if handler is None:
        raise _malformed(f"unknown call {call!r}")
    if not isinstance(body, Mapping):
        raise _malformed(f"{call} body must be an object, got {_json_type(body)}")
    fields = FIELDS[call]
    unknown = next((name for name in body if name not in fields), None)
    if unknown is not None:
        raise _malformed(f"unknown field {unknown!r} in {call}")
    return handler(driver, body)


def respond(driver: Driver, call: str, body: Request) -> Response:
    """Like `execute`, but answer every `IpamError` with an ``Err`` body."""
    try:
        return execute(driver, call, body)
    except IpamError as exc:
        return error_response(exc)


def error_response(exc: IpamError) -> Response:
    """Return the response body that reports a driver error."""
    return {"Err": str(exc)}


def parse_line(line: str | bytes) -> tuple[str, dict[str, object]]:
    """Decode one line of a trace into a call name and its request fields.

    A line is a JSON object whose ``"Call"`` member names the call; its other
    members are the request fields, checked later by `execute`.

    Raises:
        ProtocolError: The line is not UTF-8, not JSON, not an object, or has
            no string ``"Call"``.
        TypeError: ``line`` is neither `str` nor `bytes`.
    """
    if not isinstance(line, str | bytes):
        raise TypeError(f"a trace line is str or bytes, not {type(line).__name__}")
    value = _decode_json(line)
    if not isinstance(value, dict):
        raise _malformed(f"expected a JSON object, got {_json_type(value)}")
    body = dict(value)
    if "Call" not in body:
        raise _malformed("missing field Call")
    call = body.pop("Call")
    if not isinstance(call, str):
        raise _malformed(f"field Call must be a string, got {_json_type(call)}")
    return call, body


def _decode_json(line: str | bytes) -> object:
    """Parse JSON text, turning every decoding failure into `ProtocolError`."""
    try:
        text = line.decode() if isinstance(line, bytes) else line
        text = text.strip()
    except UnicodeDecodeError:
        raise _malformed("not valid UTF-8") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        # Some of the decoder's messages end with "at" already.
        problem = exc.msg.removesuffix(" at")
        raise _malformed(f"invalid JSON: {problem} at column {exc.colno}") from None
    except RecursionError:
        raise _malformed("invalid JSON: nested too deeply") from None
    except ProtocolError:
        raise
    except ValueError:
        # The only other refusal: Python converts no integer of thousands
        # of digits.
        raise _malformed("invalid JSON: a number with too many digits") from None


def _refuse_constant(name: str) -> object:
    """Refuse ``NaN`` and ``Infinity``, which Python accepts but JSON does not."""
    raise _malformed(f"invalid JSON: {name} is not a JSON value")


def _text(body: Request, name: str) -> str:
    """Return a string field; a missing one is ``""``."""
    value = body.get(name, "")
    if not isinstance(value, str):
        raise _malformed(f"field {name} must be a string, got {_json_type(value)}")
    return value


def _flag(body: Request, name: str) -> bool:
    """Return a boolean field; a missing one is ``False``."""
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise _malformed(f"field {name} must be a boolean, got {_json_type(value)}")
    return value


def _options(body: Request, name: str) -> dict[str, str] | None:
    """Return an object of strings; a missing one or ``null`` is ``None``."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _malformed(f"field {name} must be an object, got {_json_type(value)}")
    for key, item in value.items():
        if not isinstance(key, str):
            raise _malformed(f"field {name}: key {key!r} must be a string")
        if not isinstance(item, str):
            got = _json_type(item)
            raise _malformed(f"field {name}: {key!r} must map to a string, got {got}")
    return dict(value)


def _json_type(value: object) -> str:
    """Name the JSON type of a decoded value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
