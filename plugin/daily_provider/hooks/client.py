"""DailyClient: an API key turned into a rate-limited, retrying HTTP session and the logs page walk.

Plain Python, no Airflow: the CLI and the benchmarks use it as is (importing Airflow is slow and
memory-hungry), and ``DailyHook`` adds the Airflow connection on top. Transport only: it knows
HTTP, retries and the page walk, nothing about columns. The options and settings rules live in
``settings.py``, the retry rules in ``retry.py``, the limiter in ``ratelimit.py``, the page check in
``pages.py``, the walk in ``pagination.py`` (its counters and log lines in ``walk_report.py``), the
wording of Daily's errors in ``errors.py``; which stored anchors a walk may start from is
``anchors.py``'s call (it hands the walk their StartCursors: the hook knows nothing of anchors).
The key never leaves the session's auth object (``auth.py``): not in a log line, an exception
message or ``repr``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple

import orjson
import requests

from daily_provider import __version__
from daily_provider.exceptions import DailyAPIError, DailyConfigError, DailyError, DailyTransportError
from daily_provider.hooks.auth import BearerAuth, Hidden
from daily_provider.hooks.errors import describe_status, error_fields, not_retried_hint, snippet
from daily_provider.hooks.pages import LogEntry, parse_page
from daily_provider.hooks.pagination import (
    CursorWalk,
    PageInfo,
    StartCursor,
    WalkStats,
    checked_cursors,
    walk_from_cursors,
)
from daily_provider.hooks.ratelimit import RateLimiter
from daily_provider.hooks.retry import (
    MalformedResponse,
    is_retryable_exception,
    is_retryable_status,
    parse_retry_after,
    retry_delay,
)
from daily_provider.hooks.settings import ClientOptions, HookSettings, resolve_settings
from daily_provider.scope import checked_source
from daily_provider.window import Window

__all__ = ["ClientOptions", "DailyClient", "PageInfo", "WalkStats"]

LOGS_PATH = "/logs/api"
DOMAIN_PATH = "/"  # GET /v1/: the key's domain configuration, {"domain_name", "domain_id", "config"}

log = logging.getLogger(__name__)


class DailyClient:
    """Talk to Daily's REST API: key -> session, rate limit, retries, and the logs page walk.

    Nothing is sent until a method needs it. Settings come from the options, then the extras
    (``DailyHook`` passes its connection's), then the defaults.

    :param api_key: the Daily API key (required here; ``DailyHook`` takes it from its connection).
    :param options: a :class:`ClientOptions` (rate, retries, timeouts, base URL, page size, ...).
    :param sleep: how to wait (tests pass a recorder).
    :param overrides: any :class:`ClientOptions` field by name, e.g. ``requests_per_second=20``; wins
        over the same field of ``options``. An unknown name is a TypeError.

    ``options`` holds what the caller set; :meth:`settings` gives the resolved, validated values.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        options: ClientOptions | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **overrides: Any,
    ) -> None:
        self.options = ClientOptions.merged(options, overrides)
        self._api_key = Hidden(api_key) if api_key is not None else None
        self._sleep = sleep
        # Memoized on first use; each is a pure function of the options (and the hook's connection).
        self._settings: HookSettings | None = None
        self._limiter: RateLimiter | None = None
        self._session: requests.Session | None = None
        self._domain_id: str | None = None

    def __repr__(self) -> str:
        return "DailyClient(key hidden)"

    # -- public API --------------------------------------------------------------------------------

    def get_conn(self) -> requests.Session:
        """Return the keep-alive session that carries the Bearer key (built on first use, then reused)."""
        if self._session is None:
            settings = self._config()
            session = requests.Session()
            session.auth = BearerAuth(settings.api_key)
            session.headers.update(
                {"Accept": "application/json", "User-Agent": f"airflow-provider-daily/{__version__}"}
            )
            self._session = session
        return self._session

    def iter_logs(
        self,
        start: datetime,
        end: datetime,
        source: str = "api",
        **options: Any,
    ) -> Iterator[dict[str, Any]]:
        """Yield Daily's raw log records with ``createdAt`` in ``[start, end)``, each id exactly once.

        The raw dicts of :meth:`iter_entries` (same arguments); unredacted, as Daily sent them.
        Arguments and settings are checked here, before any request.
        """
        entries = self.iter_entries(start, end, source, **options)
        return (entry.record for entry in entries)

    def iter_entries(
        self,
        start: datetime,
        end: datetime,
        source: str = "api",
        *,
        url_filter: str | None = None,
        stats: WalkStats | None = None,
        on_page: Callable[[PageInfo], None] | None = None,
        start_after: StartCursor | Sequence[StartCursor] | None = None,
        on_rejected_cursor: Callable[[StartCursor, str], None] | None = None,
    ) -> Iterator[LogEntry]:
        """Yield Daily's log records with ``createdAt`` in ``[start, end)`` as LogEntries, each id once.

        A :class:`LogEntry` carries the record's id and parsed ``createdAt`` beside the raw dict;
        :meth:`iter_logs` yields the raw dicts alone.

        Walks pages from the newest record (or from a start cursor) toward older ones and stops once a
        page reaches older than ``start``. Arguments and settings are checked here, before any
        request. The records are the same whichever way the walk starts.

        :param start: window start, an aware datetime (inclusive).
        :param end: window end, an aware datetime (exclusive).
        :param source: ``api`` (REST calls) or ``webhook`` (deliveries).
        :param url_filter: Daily's ``url`` filter: the API route, or the webhook server URL.
        :param stats: counters to fill in while walking (requests, pages, retries, ...).
        :param on_page: called with a PageInfo after each accepted page.
        :param start_after: records a former walk passed (e.g. stored anchors' cursors) to start after
            instead of the newest record, tried in order; each must have ``created_at >= end``. A
            cursor the API refuses (4xx, an empty page where records existed, records newer than
            it) is reported to ``on_rejected_cursor`` with a WARNING and the next one is tried, then
            the newest record. Nothing is yielded before a start is accepted, so nothing is lost.
        :param on_rejected_cursor: called with each refused cursor and the reason, e.g. to drop it.
        """
        window = Window(start, end)
        checked_source(source)
        if url_filter is not None and (not isinstance(url_filter, str) or not url_filter.strip()):
            raise DailyConfigError(f"url_filter={url_filter!r} must be a non-empty string or None")
        cursors = checked_cursors(start_after, window)
        self._config()
        walk_stats = stats if stats is not None else WalkStats()
        describe = f"source={source}, window {window}" + (f", url={url_filter}" if url_filter else "")
        fetch = functools.partial(
            self._fetch_logs_page, source=source, url_filter=url_filter, stats=walk_stats, describe=describe
        )

        def walk(cursor: StartCursor | None) -> CursorWalk:
            return CursorWalk(
                fetch,
                window,
                stats=walk_stats,
                describe=describe,
                on_page=on_page,
                logger=log,
                start_after=cursor,
            )

        if not cursors:
            return iter(walk(None))
        return walk_from_cursors(cursors, walk, walk_stats, describe, on_rejected_cursor)

    def _fetch_logs_page(
        self,
        param: str | None,
        cursor_id: str | None,
        *,
        source: str,
        url_filter: str | None,
        stats: WalkStats,
        describe: str,
    ) -> list[LogEntry]:
        """The walk's ``fetch``: the validated page after ``cursor_id`` by ``param`` (both None: the newest)."""
        params: dict[str, str | int] = {"limit": self._config().page_limit, "source": source}
        if url_filter:
            params["url"] = url_filter
        if param is not None and cursor_id is not None:
            params[param] = cursor_id
            cursor_text = f"cursor {param}={cursor_id}"
        else:
            cursor_text = "first page, no cursor"
        entries: list[LogEntry] = self._request(
            LOGS_PATH, params, stats=stats, context=f"{describe}, {cursor_text}", parse=parse_page
        )
        return entries

    def domain_id(self, *, stats: WalkStats | None = None) -> str:
        """Return the id of the Daily domain the key belongs to (``GET /v1/``, asked once per client).

        A load's replace, anchors and ledger rows are scoped by it, so that several domains can load
        into one table without touching each other's rows.
        """
        if self._domain_id is None:
            self._domain_id = self._request(
                DOMAIN_PATH, {}, stats=stats, context="the key's domain", parse=_parse_domain
            )
        return self._domain_id

    def settings(self) -> HookSettings:
        """The resolved, validated settings: argument, then connection extra, then default (the key
        is never in their repr)."""
        return self._config()

    def settle_seconds(self) -> float | None:
        """Return the connection's ``settle_seconds`` extra (how long after a window's end it is loaded), if set."""
        return self._config().settle_seconds

    def redaction_secret(self) -> str | None:
        """Return the connection's ``redaction_secret`` extra (the key of the hashed redaction), if set."""
        return self._config().redaction_secret

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap request (``limit=1``, no retries) and report whether the key and URL work."""
        try:
            self._request(
                LOGS_PATH,
                {"limit": 1, "source": "api"},
                context="connection test",
                parse=parse_page,
                max_retries=0,
            )
        except DailyError as err:
            return False, str(err)
        return True, "Connection to Daily succeeded"

    # -- transport ---------------------------------------------------------------------------------

    def _request(
        self,
        path: str,
        params: Mapping[str, str | int],
        *,
        stats: WalkStats | None = None,
        context: str = "",
        parse: Callable[[Any], Any] | None = None,
        max_retries: int | None = None,
    ) -> Any:
        """GET ``base_url + path`` and return the decoded JSON (passed through ``parse`` if given).

        Retries 429, 5xx, connection errors, timeouts and 2xx bodies that fail to decode or that
        ``parse`` rejects with MalformedResponse; raises DailyAPIError at once on other statuses and
        DailyTransportError when the retries run out.
        """
        settings = self._config()
        limiter = self._rate_limiter()
        stats = stats if stats is not None else WalkStats()
        retries = settings.max_retries if max_retries is None else max_retries
        where = f"GET {path} ({context})" if context else f"GET {path}"
        attempt = 0
        while True:
            stats.waited_seconds += limiter.acquire()
            stats.requests += 1
            outcome = self._attempt(settings.base_url + path, params, where, parse, stats)
            if not isinstance(outcome, _Retry):
                return outcome
            if attempt >= retries:
                raise DailyTransportError(
                    self._scrub(
                        f"Daily request {where} failed after {attempt + 1} attempts ({retries} retries); "
                        f"last error: {outcome.fault}. Daily or the network "
                        "is unhealthy: re-run the task later, or raise max_retries (or lower "
                        "requests_per_second if 429s dominate)."
                    )
                )
            self._back_off(outcome, attempt, retries, where, stats)
            attempt += 1

    def _attempt(
        self,
        url: str,
        params: Mapping[str, str | int],
        where: str,
        parse: Callable[[Any], Any] | None,
        stats: WalkStats,
    ) -> Any:
        """Send one GET: the parsed body, a :class:`_Retry` saying what went wrong, or an exception."""
        settings = self._config()
        try:
            response = self.get_conn().get(
                url,
                params=params,
                timeout=(settings.connect_timeout, settings.read_timeout),
                # A redirect could carry the request somewhere we did not vet; Daily does not redirect.
                allow_redirects=False,
            )
        except requests.RequestException as err:
            if not is_retryable_exception(err):
                raise DailyTransportError(
                    self._scrub(
                        f"Daily request {where} failed: {type(err).__name__}: {err}. This is not retried; "
                        "check the base URL, proxy and TLS setup (certificates)."
                    )
                ) from err
            return _Retry(f"{type(err).__name__}: {err}")
        status = response.status_code
        if 200 <= status < 300:
            try:
                body = orjson.loads(response.content)
                return parse(body) if parse is not None else body
            except (orjson.JSONDecodeError, MalformedResponse) as err:
                return _Retry(f"malformed {status} body ({err}); it starts with {snippet(response.content)}")
        if not is_retryable_status(status):
            raise self._api_error(response, where)
        if status == 429:
            stats.rate_limited += 1
        retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(timezone.utc))
        return _Retry(describe_status(response), retry_after)

    def _back_off(self, failed: _Retry, attempt: int, retries: int, where: str, stats: WalkStats) -> None:
        """Log the failed attempt and wait before the next one (``Retry-After`` when the server sent it)."""
        settings = self._config()
        delay = retry_delay(
            attempt,
            failed.retry_after,
            base=settings.backoff_base,
            cap=settings.backoff_max,
            retry_after_max=settings.retry_after_max,
        )
        log.warning(
            "Daily request %s attempt %d/%d failed: %s; retrying in %.2f s%s",
            where,
            attempt + 1,
            retries + 1,
            self._scrub(failed.fault),
            delay,
            " (as Retry-After asked)" if failed.retry_after is not None else "",
        )
        stats.retries += 1
        stats.waited_seconds += delay
        self._sleep(delay)

    def _api_error(self, response: requests.Response, where: str) -> DailyAPIError:
        status = response.status_code
        error, info = error_fields(response)
        hint = not_retried_hint(
            status, error, key_origin=self._key_origin(), base_url=self._config().base_url
        )
        label = f"{status} {error}" if error else str(status)
        detail = f': "{info}"' if info else ""
        return DailyAPIError(
            self._scrub(f"Daily answered {label}{detail} for {where}. Not retried. {hint}"),
            status=status,
            error=error,
            info=self._scrub(info) if info is not None else None,
        )

    # -- settings ----------------------------------------------------------------------------------

    def _config(self) -> HookSettings:
        if self._settings is None:
            key, host, extras = self._key_host_extras()
            origin = self._key_origin()
            settings = resolve_settings(
                source=origin, api_key=key, options=self.options, host=host, extras=extras
            )
            self._register_secrets(settings)
            self._settings = settings
            log.info(
                "Daily API %s (%s): at most %s requests/s, %s retries, read timeout %ss",
                settings.base_url,
                origin,
                settings.requests_per_second,
                settings.max_retries,
                settings.read_timeout,
            )
        return self._settings

    def _key_host_extras(self) -> tuple[str | None, str | None, Mapping[str, Any]]:
        """The key, the base URL and the extras to resolve the settings from (the hook reads its connection)."""
        if self._api_key is None:
            raise DailyConfigError(
                "no Daily API key: pass api_key= to DailyClient (or use DailyHook with a connection)"
            )
        return self._api_key.value, None, {}

    def _key_origin(self) -> str:
        """Where the key came from, for messages."""
        return "the api_key argument"

    def _register_secrets(self, settings: HookSettings) -> None:
        """Called once with the resolved settings; the hook registers the secrets with Airflow's log masker."""

    def _rate_limiter(self) -> RateLimiter:
        if self._limiter is None:
            self._limiter = RateLimiter(self._config().requests_per_second, sleep=self._sleep)
        return self._limiter

    def _scrub(self, text: str) -> str:
        """Remove the key from text that came from elsewhere (server bodies, exception strings)."""
        if self._settings is not None:
            key: str | None = self._settings.api_key
        else:
            key = self._api_key.value if self._api_key is not None else None
        return text.replace(key, "***") if key else text


class _Retry(NamedTuple):
    """An attempt that failed in a way a later attempt may fix: what happened, and Retry-After if sent."""

    fault: str
    retry_after: float | None = None


def _parse_domain(body: Any) -> str:
    """The ``domain_id`` of Daily's domain configuration answer (retried as malformed otherwise)."""
    domain_id = body.get("domain_id") if isinstance(body, dict) else None
    if not isinstance(domain_id, str) or not domain_id:
        raise MalformedResponse(
            "expected Daily's domain configuration, a JSON object with a string 'domain_id'"
        )
    return domain_id
