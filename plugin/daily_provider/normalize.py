"""Normalization: one raw Daily log record into one warehouse row. Pure, no I/O, deterministic.

The core columns come from the record's top-level fields; ``request`` and ``response`` (JSON
encoded strings in Daily's answer) are parsed, redacted, stored as compact JSON text and
flattened into ``request__*`` / ``response__*`` columns. A body that is not JSON is not an
error: its masked text and the parser's message get their own columns. The staging writer runs
one :class:`Normalizer` per window; :func:`normalize_record` wraps one for a single record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from daily_provider.endpoints import endpoint_template
from daily_provider.exceptions import DailyConfigError
from daily_provider.flatten import BodyFlattener, FlatValue, TableShape, dump_json
from daily_provider.maps import (
    DEFAULT_MAP_KEY_THRESHOLD,
    DEFAULT_MAP_PATHS,
    MapBody,
    MapPathsArg,
    MapRules,
    compile_map_paths,
)
from daily_provider.redaction import DEFAULT_REDACTION, RedactionPolicy, value_text
from daily_provider.schema import CORE_COLUMNS, ColumnType, parse_timestamp_text
from daily_provider.window import parse_timestamp


@dataclass(frozen=True)
class NormalizeConfig:
    """How records become rows.

    ``max_depth``: objects nested deeper are kept as JSON text in the column at the cap.
    ``max_columns``: flattened columns per *table*; keys first seen once it is reached stay only in
    the body's JSON column. ``map_paths``: objects keyed by data, kept as one JSON column (see
    ``maps.py``). ``default_map_paths``: False declares none of Daily's known maps, leaving
    ``map_paths`` and the key-count rule. ``map_key_threshold``: an undeclared path whose objects
    show more distinct keys than this is a map too (None turns that rule off).
    """

    redaction: RedactionPolicy = DEFAULT_REDACTION
    max_depth: int = 5
    max_columns: int = 1000
    map_paths: MapPathsArg | None = None
    map_key_threshold: int | None = DEFAULT_MAP_KEY_THRESHOLD
    default_map_paths: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.max_depth, int) or self.max_depth < 1:
            raise DailyConfigError(f"max_depth={self.max_depth!r} must be an integer of at least 1")
        if not isinstance(self.max_columns, int) or self.max_columns < 0:
            raise DailyConfigError(
                f"max_columns={self.max_columns!r} must be an integer of at least 0 (0 turns flattening off)"
            )
        threshold = self.map_key_threshold
        if threshold is not None and (
            not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1
        ):
            raise DailyConfigError(
                f"map_key_threshold={threshold!r} must be an integer of at least 1, or None to turn the rule off"
            )
        defaults = DEFAULT_MAP_PATHS if self.default_map_paths else ()
        object.__setattr__(self, "_maps", compile_map_paths(self.map_paths, defaults=defaults))

    @property
    def maps(self) -> MapRules:
        """The compiled map paths (checked when the config is made)."""
        maps: MapRules = object.__getattribute__(self, "_maps")
        return maps


DEFAULT_CONFIG = NormalizeConfig()

# The order of the core values a Normalizer returns.
CORE_ORDER = tuple(CORE_COLUMNS)

_TEXT_TYPES = (str, bytes, bytearray, memoryview)
# orjson reads an integer literal beyond 64 bits as a float, and every such literal has 19 digits
# or more: a body with such a run is read again by the stdlib, which keeps integers exact. The run
# is found by mapping digits to "0" and every other byte to "." (cheaper than a regex scan).
_DIGITS_TO_ZEROS = bytes(48 if 48 <= byte <= 57 else 46 for byte in range(256))
# Per-URL results (endpoint template, redacted URL, masked count): the same routes repeat all window long.
_URL_CACHE_LIMIT = 65_536

Body = tuple["str | None", "str | None", "str | None"]
_NO_BODY: Body = (None, None, None)


class Normalizer:
    """Normalizes the records of one window; counts redacted values and unparseable bodies."""

    def __init__(
        self,
        config: NormalizeConfig = DEFAULT_CONFIG,
        table_columns: Mapping[str, ColumnType] | None = None,
        column_comments: Mapping[str, str] | None = None,
        map_bodies: Iterable[MapBody] = (),
    ) -> None:
        """``table_columns``, ``column_comments`` and ``map_bodies`` describe the target table as it
        is: the map paths, the column cap and clashing names carry over between windows through them."""
        self.config = config
        self.policy = config.redaction.compiled
        self.flattener = BodyFlattener(
            self.policy,
            max_depth=config.max_depth,
            max_columns=config.max_columns,
            maps=config.maps,
            map_key_threshold=config.map_key_threshold,
            table=TableShape(table_columns, column_comments, map_bodies),
        )
        self.parse_errors = 0
        self._core_redacted = 0
        self._ip_action = self.policy.key_action("ip")
        self._urls: dict[bool, dict[str, tuple[str, str, int]]] = {False: {}, True: {}}

    def _url(self, url: str, source: str | None) -> tuple[str, str]:
        """(endpoint template, redacted url) of a text url."""
        webhook = source == "webhook"
        cache = self._urls[webhook]
        known = cache.get(url)
        if known is None:
            masked, count = self.policy.redact_url(url)
            known = (endpoint_template(url, "webhook" if webhook else "api") or "", masked, count)
            if len(cache) < _URL_CACHE_LIMIT:
                cache[url] = known
        self._core_redacted += known[2]
        return known[0], known[1]

    def _ip(self, value: Any) -> str | None:
        ip = _text(value)
        if ip is None:
            return None
        action = self._ip_action
        if action == "drop" or action == "hash":
            self._core_redacted += 1
            return self.policy.apply(action, ip)
        return ip

    def column_names(self) -> dict[str, str]:
        """The column of each node id in the flattened entries so far (see BodyFlattener.column_names)."""
        return self.flattener.column_names()

    def _body(
        self, prefix: str, raw: Any, out: list[FlatValue], method: str | None, endpoint: str | None
    ) -> Body:
        """Return (JSON text, masked text when not JSON, parser message when not JSON).

        The body's flattened values are appended to ``out``.
        """
        if raw is None:
            return _NO_BODY
        if isinstance(raw, _TEXT_TYPES):
            if not raw:  # an empty body (204, some DELETEs) is no body, not a parse error
                return _NO_BODY
            source: str | bytes | bytearray | memoryview = raw
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                return self._not_json(raw, str(exc))
        else:
            # An already parsed body is the caller's: redaction works on a copy made by a round trip.
            try:
                source = orjson.dumps(raw, option=orjson.OPT_NON_STR_KEYS)
            except TypeError:  # ints beyond 64 bits, nesting orjson refuses, types JSON lacks
                try:
                    source = json.dumps(raw, ensure_ascii=False, allow_nan=False)
                except (TypeError, ValueError, RecursionError) as exc:
                    return self._not_json(str(raw), f"the {prefix} value is not JSON-serializable: {exc}")
            try:
                body = orjson.loads(source)
            except orjson.JSONDecodeError as exc:
                return self._not_json(source, str(exc))
        data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else bytes(source)
        if b"0000000000000000000" in data.translate(_DIGITS_TO_ZEROS):
            body = _exact_loads(source, body)
        entries, redacted = len(out), self.flattener.redacted
        try:
            self.flattener.flatten(prefix, body, out, method, endpoint)
            return dump_json(body), None, None
        except (RecursionError, ValueError) as exc:  # nested too deep to write back as JSON
            del out[entries:]  # (paths it admitted stay admitted)
            self.flattener.redacted = redacted
            text = source if isinstance(source, str) else bytes(source).decode("utf-8", "replace")
            return self._not_json(text, f"the {prefix} body nests too deeply to store as JSON ({exc})")

    def _not_json(self, raw: str | bytes | bytearray | memoryview, message: str) -> tuple[None, str, str]:
        self.parse_errors += 1
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates cannot be stored as UTF-8
            text = text.encode("utf-8", "replace").decode("utf-8")
        text, masked = self.policy.mask_text(text)
        self._core_redacted += masked
        return None, text, message

    @property
    def redacted_values(self) -> int:
        return self.flattener.redacted + self._core_redacted

    def normalize(self, raw: Mapping[str, Any]) -> tuple[tuple[Any, ...], list[FlatValue]]:
        """Return the core values (in CORE_COLUMNS order) and the flattened ``(node id, value, type)``.

        Flattened values are Python values of their type, except TIMESTAMP ones, which stay the
        original ISO text (so a column that later widens to STRING keeps the exact text).
        :meth:`column_names` names the node ids.
        """
        get = raw.get
        source = _text(get("source"))
        url = _text(get("url"))
        method = _text(get("method"))
        endpoint = None
        if url is not None:
            endpoint, url = self._url(url, source)
        entries: list[FlatValue] = []
        request, request_text, request_error = self._body(
            "request", get("request"), entries, method, endpoint
        )
        response, response_text, response_error = self._body(
            "response", get("response"), entries, method, endpoint
        )
        status = _status(get("status"))
        return (
            _text(get("id")),
            created_at_value(get("createdAt")),
            source,
            method,
            url,
            endpoint,
            status,
            None if status is None else status >= 400,
            self._ip(get("ip")),
            _text(get("userId")),
            _text(get("domainId")),
            request,
            response,
            request_text,
            response_text,
            request_error,
            response_error,
        ), entries


def _exact_loads(source: str | bytes | bytearray | memoryview, parsed: Any) -> Any:
    """``source`` parsed by the stdlib, which keeps integers of any size exact; ``parsed`` (orjson's
    reading) when the stdlib refuses it."""
    try:
        return json.loads(
            bytes(source) if isinstance(source, memoryview) else source, parse_constant=_no_constant
        )
    except (ValueError, RecursionError):
        return parsed


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    return value_text(value)


def _status(value: Any) -> int | None:
    kind = type(value)
    if kind is int:
        return value if -(2**63) <= value < 2**63 else None
    if kind is str:
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) < 19:
            return int(text)
        return None
    if kind is float and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return None


def created_at_value(value: Any) -> datetime | None:
    """The aware UTC moment of a record's ``createdAt`` (ISO text or aware datetime), else None."""
    if type(value) is str:
        parsed = parse_timestamp_text(value)
        if parsed is not None:
            return parsed
        try:
            return parse_timestamp(value, name="createdAt")
        except ValueError:
            return None
    if isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(timezone.utc)
    return None


def normalize_record(raw: Mapping[str, Any], config: NormalizeConfig = DEFAULT_CONFIG) -> dict[str, Any]:
    """Return one row: every CORE_COLUMNS name (None when absent) and the flattened body columns.

    Values are str, int, float, bool or aware UTC datetime (TIMESTAMP); JSON columns hold JSON
    text. Column caps and the map rule apply to this record alone; the staging writer applies them
    per window and table.
    """
    normalizer = Normalizer(config)
    core, entries = normalizer.normalize(raw)
    names = normalizer.column_names()
    row = dict(zip(CORE_ORDER, core, strict=True))
    for node_id, value, kind in entries:
        if node_id in names:
            row[names[node_id]] = parse_timestamp_text(value) if kind is ColumnType.TIMESTAMP else value
    return row
