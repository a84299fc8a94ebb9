"""Keeping the API key out of sight: the session's Bearer auth and a holder that hides it from reprs.

The key lives in these two objects only; nothing else of the client stores it, so it cannot reach a
log line, an exception message or ``repr``/``vars`` by accident.
"""

from __future__ import annotations

import requests


class BearerAuth(requests.auth.AuthBase):
    """Sets ``Authorization: Bearer <key>`` on every request.

    An auth object rather than a default header: with no auth set, requests lets a ``~/.netrc``
    entry replace the header.
    """

    def __init__(self, key: str) -> None:
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._key}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(key hidden)"


class Hidden:
    """Holds a secret so that ``vars(hook)`` and debuggers' reprs do not show it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<hidden>"
