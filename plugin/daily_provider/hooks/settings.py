"""Resolve and validate the hook's settings: argument, then connection extra, then default.

Pure: the hook hands in what it was given and what the connection holds; every bad value becomes a
DailyConfigError here, before any request. Messages never repeat the API key.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from daily_provider.exceptions import DailyConfigError

API_ROOT_PATH = "/v1"
DEFAULT_BASE_URL = "https://api.daily.co" + API_ROOT_PATH
DEFAULT_REQUESTS_PER_SECOND = 2.0
DEFAULT_MAX_RETRIES = 6
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_BACKOFF_BASE = 1.0
DEFAULT_BACKOFF_MAX = 60.0
RETRY_AFTER_MAX = 300.0

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class HookSettings:
    """Everything the transport needs, validated. ``api_key`` is kept out of ``repr``."""

    api_key: str = field(repr=False)
    base_url: str
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND
    max_retries: int = DEFAULT_MAX_RETRIES
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    backoff_base: float = DEFAULT_BACKOFF_BASE
    backoff_max: float = DEFAULT_BACKOFF_MAX
    retry_after_max: float = RETRY_AFTER_MAX
    page_limit: int = 100
    allow_insecure_http: bool = False
    redaction_secret: str | None = field(default=None, repr=False)
    settle_seconds: float | None = None  # the connection's settle_seconds extra; None: not set


def resolve_settings(
    *,
    source: str,
    api_key: str | None,
    base_url: str | None,
    requests_per_second: float | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
    backoff_base: float | None = None,
    backoff_max: float | None = None,
    page_limit: int = 100,
    allow_insecure_http: bool | None = None,
    extras: Mapping[str, Any] | None = None,
) -> HookSettings:
    """Merge arguments over connection extras over defaults and validate the result.

    :param source: where the key came from, for messages (e.g. ``connection 'daily_default'``).
    :param api_key: the key from the argument or the connection password.
    :param base_url: the base URL from the argument or the connection host (None: Daily's).
    :param extras: the connection's extras (empty when no connection was looked up).
    """
    extras = extras or {}

    def pick(name: str, argument: Any, default: Any) -> Any:
        # `is not None`, not `or`: an explicit 0 or False is a choice, not a gap.
        if argument is not None:
            return argument
        value = extras.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return default
        return value

    rps = _number(
        "requests_per_second",
        pick("requests_per_second", requests_per_second, DEFAULT_REQUESTS_PER_SECOND),
        minimum=0.0,
        strict=True,
    )
    retries = _integer("max_retries", pick("max_retries", max_retries, DEFAULT_MAX_RETRIES), minimum=0)
    read_timeout = _number(
        "timeout", pick("timeout", timeout, DEFAULT_READ_TIMEOUT), minimum=0.0, strict=True
    )
    if math.isinf(read_timeout):
        raise DailyConfigError("timeout must be a finite number of seconds; the default is 30")
    base = _number(
        "backoff_base", DEFAULT_BACKOFF_BASE if backoff_base is None else backoff_base, minimum=0.0
    )
    cap = _number("backoff_max", DEFAULT_BACKOFF_MAX if backoff_max is None else backoff_max, minimum=0.0)
    insecure = _boolean("allow_insecure_http", pick("allow_insecure_http", allow_insecure_http, False))
    limit = _integer("page_limit", page_limit, minimum=1)
    return HookSettings(
        api_key=validate_api_key(api_key, source=source),
        base_url=normalize_base_url(base_url or DEFAULT_BASE_URL, allow_insecure_http=insecure),
        requests_per_second=rps,
        max_retries=retries,
        connect_timeout=min(DEFAULT_CONNECT_TIMEOUT, read_timeout),
        read_timeout=read_timeout,
        backoff_base=base,
        backoff_max=cap,
        page_limit=limit,
        allow_insecure_http=insecure,
        redaction_secret=_optional_secret(extras.get("redaction_secret")),
        settle_seconds=_optional_number("settle_seconds", extras.get("settle_seconds"), minimum=0.0),
    )


def validate_api_key(api_key: str | None, *, source: str) -> str:
    """Return the key without surrounding whitespace; refuse an empty or unprintable one (never echoed)."""
    key = (api_key or "").strip()
    if not key:
        raise DailyConfigError(
            f"no Daily API key: {source} has an empty key. Put the key in the connection's password "
            "(Airflow) or pass api_key= to the hook."
        )
    if not all("!" <= char <= "~" for char in key):
        # requests would put the raw header value, key included, into its InvalidHeader message.
        raise DailyConfigError(
            f"the Daily API key from {source} contains spaces, control or non-ASCII characters; "
            "copy the key again from the Daily dashboard (Developers page)."
        )
    return key


def normalize_base_url(raw: str, *, allow_insecure_http: bool) -> str:
    """Return the base URL without a trailing slash; a missing scheme means https://, no path /v1.

    Daily serves its API only below ``/v1``, so a bare host (``api.daily.co``, as people type it into a
    connection's host field) means ``https://api.daily.co/v1``; without it every request would 404. An
    explicit path is kept as given (a proxy may mount Daily anywhere). Plain http:// is accepted only
    for loopback hosts (the simulator) or with ``allow_insecure_http``.
    """
    text = raw.strip()
    if not text:
        raise DailyConfigError(f"the base URL is empty; expected something like {DEFAULT_BASE_URL}")
    if "://" not in text:
        if "//" in text or ":/" in text:
            # "https//host" or "https:/host" would become a request to a host named "https".
            raise DailyConfigError(
                f"the base URL {raw!r} has a mistyped scheme (expected '://'); write it like {DEFAULT_BASE_URL}"
            )
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as err:
        raise DailyConfigError(
            f"the base URL {raw!r} is malformed ({err}); expected something like {DEFAULT_BASE_URL}"
        ) from None
    if parts.username is not None or parts.password is not None:
        # Not echoed: the user:password part is a credential.
        raise DailyConfigError(
            "the base URL contains user:password@; remove it and put the API key in the connection's password"
        )
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise DailyConfigError(
            f"the base URL {raw!r} is not an http(s) URL with a host; expected something like {DEFAULT_BASE_URL}"
        )
    if parts.query or parts.fragment:
        raise DailyConfigError(
            f"the base URL {raw!r} has a query or fragment; give only scheme, host and path, e.g. {DEFAULT_BASE_URL}"
        )
    if scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise DailyConfigError(
            f"the base URL {raw!r} uses plain http:// to a host that is not loopback, which would send the "
            "API key in clear; use https://, or set allow_insecure_http=true if a trusted proxy needs it"
        )
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/") or API_ROOT_PATH
    return f"{scheme}://{netloc}{path}"


def is_loopback_host(host: str) -> bool:
    """Return True for localhost, 127.0.0.0/8 and ::1.

    Only the name ``localhost`` itself counts: ``*.localhost`` names go to DNS on common resolvers
    (glibc without systemd-resolved), which could send the key in clear to any host.
    """
    name = host.strip("[]").lower().removesuffix(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def base_url_from_connection(host: str | None, port: int | None) -> str | None:
    """Build the base URL from a connection's host (a full URL, or a bare host meaning https) and port."""
    if host is None or not host.strip():
        return None
    text = host.strip()
    if port is not None and "://" not in text and "/" not in text and ":" not in text:
        # A bare host plus the (hidden) port field, as the URI connection form produces.
        text = f"{text}:{port}"
    return text


def _number(name: str, value: Any, *, minimum: float, strict: bool = False) -> float:
    if isinstance(value, bool):
        raise DailyConfigError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DailyConfigError(f"{name} must be a number, got {value!r}") from None
    too_small = number <= minimum if strict else number < minimum
    if math.isnan(number) or too_small:
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise DailyConfigError(f"{name} must be {bound}, got {value!r}")
    return number


def _integer(name: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool):
        raise DailyConfigError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        number = int(value) if isinstance(value, int | str) else None
    except ValueError:
        number = None
    if number is None:
        raise DailyConfigError(f"{name} must be an integer, got {value!r}")
    if number < minimum:
        raise DailyConfigError(f"{name} must be >= {minimum}, got {value!r}")
    return number


def _optional_number(name: str, value: Any, *, minimum: float) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _number(name, value, minimum=minimum)


def _optional_secret(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise DailyConfigError("the connection extra redaction_secret must be a string")
    return value


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise DailyConfigError(f"{name} must be true or false, got {value!r}")
