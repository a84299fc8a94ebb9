"""Resolve and validate the hook's settings: option, then connection extra, then default.

Pure: the hook hands in the :class:`ClientOptions` it was given and what the connection holds; every
bad value becomes a DailyConfigError here, before any request. Messages never repeat the API key.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
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
DEFAULT_PAGE_LIMIT = 100

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class ClientOptions:
    """What a caller may set on a :class:`DailyClient` or ``DailyHook``: the one list of the options.

    Each ``None`` means "not set here": the connection's extra applies (for ``requests_per_second``,
    ``max_retries``, ``timeout`` and ``allow_insecure_http``), then the default. Nothing is checked
    when the object is built; :func:`resolve_settings` validates, before the first request.

    :param base_url: API base URL; default ``https://api.daily.co/v1`` (a host without scheme means
        https). Wins over the connection's host.
    :param requests_per_second: client-side rate limit shared by all requests of a client (default 2).
    :param max_retries: retries for 429, 5xx, timeouts, dropped connections, malformed pages (default 6).
    :param timeout: read timeout per request in seconds (default 30; connect timeout 10).
    :param backoff_base: first backoff ceiling in seconds, doubled per retry, with full jitter (default 1).
    :param backoff_max: backoff cap in seconds (default 60); ``Retry-After`` is honoured up to 300 s.
    :param page_limit: records per page to ask for (Daily caps it; default 100).
    :param allow_insecure_http: allow a plain ``http://`` base URL that is not on loopback.
    """

    base_url: str | None = None
    requests_per_second: float | None = None
    max_retries: int | None = None
    timeout: float | None = None
    backoff_base: float | None = None
    backoff_max: float | None = None
    page_limit: int | None = None
    allow_insecure_http: bool | None = None

    @classmethod
    def merged(cls, options: ClientOptions | None, overrides: Mapping[str, Any]) -> ClientOptions:
        """``options`` (or none) with the keyword ``overrides`` on top; an unknown name is a TypeError."""
        names = [option.name for option in fields(cls)]
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise TypeError(
                f"unknown Daily client option(s) {', '.join(unknown)}; the options are {', '.join(names)}"
            )
        return replace(options or cls(), **overrides)


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
    page_limit: int = DEFAULT_PAGE_LIMIT
    allow_insecure_http: bool = False
    redaction_secret: str | None = field(default=None, repr=False)
    settle_seconds: float | None = None  # the connection's settle_seconds extra; None: not set


def resolve_settings(
    *,
    source: str,
    api_key: str | None,
    options: ClientOptions = ClientOptions(),
    host: str | None = None,
    extras: Mapping[str, Any] | None = None,
) -> HookSettings:
    """Merge options over connection extras over defaults and validate the result.

    :param source: where the key came from, for messages (e.g. ``connection 'daily_default'``).
    :param api_key: the key from the argument or the connection password.
    :param options: what the caller set (``None`` fields fall back to the connection, then the default).
    :param host: the connection's base URL, used when ``options.base_url`` is not set (None: Daily's).
    :param extras: the connection's extras (empty when no connection was looked up).
    """
    extras = extras or {}
    rps = _pick("requests_per_second", options.requests_per_second, extras, DEFAULT_REQUESTS_PER_SECOND)
    retries = _pick("max_retries", options.max_retries, extras, DEFAULT_MAX_RETRIES)
    timeout = _pick("timeout", options.timeout, extras, DEFAULT_READ_TIMEOUT)
    insecure = _boolean(
        "allow_insecure_http", _pick("allow_insecure_http", options.allow_insecure_http, extras, False)
    )
    read_timeout = _number("timeout", timeout, minimum=0.0, strict=True)
    if math.isinf(read_timeout):
        raise DailyConfigError("timeout must be a finite number of seconds; the default is 30")
    base_url = options.base_url if options.base_url is not None else host
    return HookSettings(
        api_key=validate_api_key(api_key, source=source),
        base_url=normalize_base_url(base_url or DEFAULT_BASE_URL, allow_insecure_http=insecure),
        requests_per_second=_number("requests_per_second", rps, minimum=0.0, strict=True),
        max_retries=_integer("max_retries", retries, minimum=0),
        connect_timeout=min(DEFAULT_CONNECT_TIMEOUT, read_timeout),
        read_timeout=read_timeout,
        backoff_base=_number("backoff_base", _or(options.backoff_base, DEFAULT_BACKOFF_BASE), minimum=0.0),
        backoff_max=_number("backoff_max", _or(options.backoff_max, DEFAULT_BACKOFF_MAX), minimum=0.0),
        page_limit=_integer("page_limit", _or(options.page_limit, DEFAULT_PAGE_LIMIT), minimum=1),
        allow_insecure_http=insecure,
        redaction_secret=_optional_secret(extras.get("redaction_secret")),
        settle_seconds=_optional_number("settle_seconds", extras.get("settle_seconds"), minimum=0.0),
    )


def _pick(name: str, argument: Any, extras: Mapping[str, Any], default: Any) -> Any:
    """The argument, else the connection's extra, else the default."""
    # `is not None`, not `or`: an explicit 0 or False is a choice, not a gap.
    if argument is not None:
        return argument
    value = extras.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return value


def _or(argument: Any, default: Any) -> Any:
    """The argument unless it is None (an option no connection extra sets)."""
    return default if argument is None else argument


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
