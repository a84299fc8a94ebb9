"""How the client describes Daily's answers in its messages: the error body, a status, a body snippet.

Pure functions of a response: Daily's ``{"error", "info"}`` body when there is one, a short quoted
snippet of anything else, and the hint that says what to fix for a status that is not retried. The
client scrubs the key from whatever they return (a careless proxy may echo it).
"""

from __future__ import annotations

import orjson
import requests

from daily_provider.hooks.settings import DEFAULT_BASE_URL


def error_fields(response: requests.Response) -> tuple[str | None, str | None]:
    """Return Daily's ``error`` type and ``info`` text, or a snippet of a body that is not Daily's JSON."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        text = response.content[:200].decode("utf-8", errors="replace").strip()
        return None, text or None
    if not isinstance(body, dict):
        return None, snippet(response.content)
    error, info = body.get("error"), body.get("info")
    return (
        error if isinstance(error, str) else None,
        info if isinstance(info, str) else (None if info is None else str(info)),
    )


def describe_status(response: requests.Response) -> str:
    """``429 rate-limit-error: "info"``: the status with Daily's error type and text when present."""
    error, info = error_fields(response)
    text = str(response.status_code) + (f" {error}" if error else "")
    return text + (f': "{info}"' if info else "")


def snippet(content: bytes, limit: int = 60) -> str:
    """The start of a body, quoted, for a message about a body we could not use."""
    if not content:
        return "nothing (empty body)"
    text = content[:limit].decode("utf-8", errors="replace")
    return repr(text) + ("..." if len(content) > limit else "")


def not_retried_hint(status: int, error: str | None, *, key_origin: str, base_url: str) -> str:
    """What to fix after a status that is not retried (4xx, a redirect)."""
    if status == 401 or error in ("authentication-error", "authorization-header-error"):
        return f"Check the API key ({key_origin}); Daily did not accept it."
    if status == 403:
        return "The key is not allowed to read these logs; check the key's domain and plan."
    if status == 404:
        return f"Check the base URL {base_url}; expected something like {DEFAULT_BASE_URL}."
    if 300 <= status < 400:
        return f"Redirects are not followed; check the base URL {base_url}."
    return "Check the request (source, url filter, limit) and the configuration, then re-run."
