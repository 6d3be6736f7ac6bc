"""Error messages that keep the contract's text and name the bad value."""

from __future__ import annotations

from typing import TypeVar

from ipamcore.errors import IpamError

__all__ = ["failure"]

E = TypeVar("E", bound=IpamError)


def failure(kind: type[E], detail: object) -> E:
    """Return an error of class ``kind`` whose message ends with ``detail``.

    The message starts with the class's contract text, so that callers who
    match Docker's messages by prefix keep working, e.g.
    ``Address already in use: 192.0.2.1``.
    """
    return kind(f"{kind.message}: {detail}")
