"""Column model shared by the normalizer and every warehouse.

Pure code: the logical column types, which text counts as a TIMESTAMP, how two types widen into
one, the core columns every logs table has, and the naming rule for flattened body columns.
Warehouses map these logical types to their own SQL types beside their own code (see ``warehouses/``).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Container, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from enum import Enum


class ColumnType(str, Enum):
    """Logical column types. JSON holds lists, whole bodies and anything kept as a document."""

    BOOL = "BOOL"
    INT64 = "INT64"
    FLOAT64 = "FLOAT64"
    STRING = "STRING"
    TIMESTAMP = "TIMESTAMP"
    JSON = "JSON"


_NUMERIC_ORDER = {ColumnType.INT64: 0, ColumnType.FLOAT64: 1}


def widen(current: ColumnType | None, new: ColumnType | None) -> ColumnType | None:
    """Return the narrowest type that holds values of both types.

    INT64 widens to FLOAT64; any other disagreement widens to STRING, which holds every value as
    text. ``None`` stands for "only nulls seen so far" and never changes the other type.
    """
    if current is None:
        return new
    if new is None or new == current:
        return current
    if current in _NUMERIC_ORDER and new in _NUMERIC_ORDER:
        return max(current, new, key=_NUMERIC_ORDER.__getitem__)
    return ColumnType.STRING


_TIMESTAMP_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def parse_timestamp_text(text: str) -> datetime | None:
    """The aware UTC datetime of a full ISO-8601 date-time with ``Z`` or an offset, else None.

    Only ``YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM)`` counts: dates alone, naive times and
    sub-microsecond fractions stay text, so a TIMESTAMP column never loses what the text said.
    """
    if not (20 <= len(text) <= 32 and text[10] == "T" and text[4] == "-"):
        return None
    match = _TIMESTAMP_TEXT.fullmatch(text)
    if match is None:
        return None
    fraction, zone = match.group(1), match.group(2)
    iso = text
    # Python 3.10's fromisoformat takes neither "Z" nor fractions other than 3 or 6 digits.
    if zone == "Z" or (fraction and len(fraction) not in (4, 7)):
        iso = text[:19] + (fraction.ljust(7, "0") if fraction else "") + ("+00:00" if zone == "Z" else zone)
    try:
        return datetime.fromisoformat(iso).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


# Core columns, in table order. The flattened body columns follow them.
CORE_COLUMNS: dict[str, ColumnType] = {
    "id": ColumnType.STRING,
    "created_at": ColumnType.TIMESTAMP,
    "source": ColumnType.STRING,
    "method": ColumnType.STRING,
    "url": ColumnType.STRING,
    "endpoint": ColumnType.STRING,
    "status": ColumnType.INT64,
    "is_error": ColumnType.BOOL,
    "ip": ColumnType.STRING,
    "user_id": ColumnType.STRING,
    "domain_id": ColumnType.STRING,
    "request": ColumnType.JSON,
    "response": ColumnType.JSON,
    "request_text": ColumnType.STRING,
    "response_text": ColumnType.STRING,
    "request_parse_error": ColumnType.STRING,
    "response_parse_error": ColumnType.STRING,
}

# Load metadata columns, written by the staging step for every row of a window.
METADATA_COLUMNS: dict[str, ColumnType] = {
    "_loaded_at": ColumnType.TIMESTAMP,
    "_run_id": ColumnType.STRING,
    "_window_start": ColumnType.TIMESTAMP,
    "_window_end": ColumnType.TIMESTAMP,
}

FIXED_COLUMNS: dict[str, ColumnType] = {**CORE_COLUMNS, **METADATA_COLUMNS}

CORE_COLUMN_DESCRIPTIONS: dict[str, str] = {
    "id": "Daily log record id (unique).",
    "created_at": "When Daily logged the call or webhook delivery (UTC).",
    "source": "'api' for REST API calls, 'webhook' for webhook deliveries.",
    "method": "HTTP method of the call.",
    "url": "Route called (with /v1 prefix) or the webhook endpoint, sensitive parts redacted.",
    "endpoint": "The route with ids replaced, e.g. /v1/rooms/{name}.",
    "status": "HTTP status Daily answered (api) or the customer's server answered (webhook).",
    "is_error": "True when status is 400 or more.",
    "ip": "Caller IP address (redacted by default).",
    "user_id": "Daily account user id.",
    "domain_id": "Daily domain id.",
    "request": "Request body as JSON, after redaction.",
    "response": "Response body as JSON, after redaction.",
    "request_text": "Request body text when it was not valid JSON (redacted).",
    "response_text": "Response body text when it was not valid JSON (redacted).",
    "request_parse_error": "Why the request body could not be parsed as JSON.",
    "response_parse_error": "Why the response body could not be parsed as JSON.",
    "_loaded_at": "When this row was loaded.",
    "_run_id": "Airflow run id (or CLI run id) of the load.",
    "_window_start": "Start (inclusive) of the window this row was loaded with.",
    "_window_end": "End (exclusive) of the window this row was loaded with.",
}

BODY_PREFIXES = ("request", "response")
MAX_COLUMN_NAME_LENGTH = 300
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_UNSAFE = re.compile(r"[^a-z0-9_]+")


def is_valid_column_name(name: str) -> bool:
    """True when ``name`` follows the naming rule: ``[a-z0-9_]``, starts with a letter or ``_``, <= 300."""
    return len(name) <= MAX_COLUMN_NAME_LENGTH and bool(_IDENTIFIER.match(name))


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


# Longest name part one key gives; a longer key is cut and keeps a hash of the whole key.
MAX_PART_LENGTH = 60
_CAMEL_LOWER_UPPER = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_CAMEL_ACRONYM = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")
_UNDERSCORES = re.compile(r"_+")


def snake_key(key: str) -> str:
    """The snake_case form of one body key, as dlt and most warehouses spell it ("" if none is left).

    ``callId`` -> ``call_id``, ``mtgSessionId`` -> ``mtg_session_id``, ``HTTPServer`` ->
    ``http_server``, ``Room Name`` -> ``room_name``, ``user.name`` -> ``user_name``, ``Größe`` ->
    ``grosse``; a key that is only symbols or non-Latin script has no snake form. The result is
    ``[a-z0-9]`` words joined by single ``_``: never a ``__`` (the path separator), never a ``_`` at
    either end. It may start with a digit (``2fa``): the body prefix comes first in every column.
    """
    if (
        len(key) <= MAX_PART_LENGTH
        and _IDENTIFIER.match(key)
        and "__" not in key
        and not key.startswith("_")
        and not key.endswith("_")
    ):
        return key  # the common case: already snake_case
    text = _CAMEL_ACRONYM.sub("_", _CAMEL_LOWER_UPPER.sub("_", key))
    text = unicodedata.normalize("NFKD", text.casefold())
    text = text.encode("ascii", "ignore").decode("ascii")
    text = _UNDERSCORES.sub("_", _UNSAFE.sub("_", text.lower())).strip("_")
    if len(text) > MAX_PART_LENGTH:
        text = f"{text[: MAX_PART_LENGTH - 9].rstrip('_')}_{_short_hash(key)}"
    return text


def hashed_part(key: str) -> str:
    """The name part ``key`` gets when it clashes with a sibling: its snake form and a hash of the key."""
    return _hashed_part(key, snake_key(key))


def _hashed_part(key: str, snake: str) -> str:
    if not snake:
        return f"k_{_short_hash(key)}"
    return f"{snake[: MAX_PART_LENGTH - 9].rstrip('_')}_{_short_hash(key)}"


def name_parts(keys: Iterable[str]) -> dict[str, str]:
    """The column name part of each key of one object: its snake form, plus a hash only on a clash.

    Keys whose snake forms are equal (``userName``, ``user_name``, ``UserName``) cannot all have
    it: the key that already is its snake form keeps it, else the smallest key (by code point);
    the others get ``<snake>_<hash of the key>``. A key with no snake form gets ``k_<hash>``. The
    answer depends only on the set of keys, not on the order they arrived in.
    """
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(snake_key(key), []).append(key)
    parts: dict[str, str] = {}
    for snake, group in groups.items():
        if not snake:
            parts.update((key, _hashed_part(key, "")) for key in group)
            continue
        owner = snake if snake in group else min(group)
        for key in group:
            parts[key] = snake if key == owner else _hashed_part(key, snake)
    return parts


def plain_part(key: str) -> str:
    """The name part of ``key`` when no sibling key clashes with it."""
    return snake_key(key) or _hashed_part(key, "")


def join_name(prefix: str, parts: Sequence[str]) -> str:
    """``prefix__part__part``; a name over 300 characters is cut and given a hash of the whole name."""
    name = "__".join([prefix, *parts])
    if len(name) > MAX_COLUMN_NAME_LENGTH:
        name = f"{name[: MAX_COLUMN_NAME_LENGTH - 9]}_{_short_hash(name)}"
    return name


def column_name(prefix: str, path: Sequence[str]) -> str:
    """The flattened column for ``path`` inside the ``prefix`` body when no sibling key clashes.

    ``column_name("response", ["config", "maxParticipants"]) == "response__config__max_participants"``.
    Names longer than 300 characters are cut and given a hash of the full path so they stay unique.
    The normalizer names a window's columns with :func:`name_parts`, which agrees with this
    unless two keys of one object have the same snake form.
    """
    return join_name(prefix, [plain_part(key) for key in path])


def unique_column_name(name: str, path: Sequence[str], taken: Container[str]) -> str:
    """``name``, made unique against ``taken`` when two paths still meet on one name.

    That takes a key spelled like another key's hashed form (``user_name_1a2b3c4d``) or two long
    paths cut alike; the later path gets a deterministic hash suffix of itself.
    """
    attempt = 0
    unique = name
    while unique in taken:
        attempt += 1
        suffix = _short_hash("\x00".join([str(attempt), *path]))
        unique = f"{name[: MAX_COLUMN_NAME_LENGTH - 9]}_{suffix}"
    return unique


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_]+$")


def json_path_text(path: Sequence[str]) -> str:
    """A flattened column's original path as a user writes it in SQL's JSON functions:
    ``response.config.maxParticipants``, with a key that is not a plain word quoted as a JSON
    string (``request.payload."X-Call-Id"``). The first element is the body column."""
    return ".".join(
        key if index == 0 or _PLAIN_KEY.match(key) else _quoted(key) for index, key in enumerate(path)
    )


def _quoted(key: str) -> str:
    text = json.dumps(key, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate cannot be stored as text: spell it as an escape
        text = json.dumps(key)
    return text


def legacy_column_name(prefix: str, path: Iterable[str]) -> str:
    """The name the naming rule of 0.1 gave ``path``: any key not already a lowercase identifier
    got a hash suffix (``callId`` -> ``callid_5e9c026c``). Only used to tell a user that a table
    created then gains the snake_case names."""
    parts = []
    for key in path:
        if _IDENTIFIER.match(key) and "__" not in key and not key.endswith("_") and len(key) <= 60:
            parts.append(key)
            continue
        cleaned = _UNSAFE.sub("_", key.lower()).strip("_")
        cleaned = re.sub(r"_+", "_", cleaned)[:60]
        if not cleaned or not (cleaned[0].isalpha() or cleaned[0] == "_"):
            cleaned = "k_" + cleaned if cleaned else "k"
        parts.append(f"{cleaned}_{_short_hash(key)}")
    return join_name(prefix, parts)


def merge_columns(current: Mapping[str, ColumnType], new: Mapping[str, ColumnType]) -> dict[str, ColumnType]:
    """Merge two column maps: keep ``current``'s order, widen shared columns, append new ones."""
    merged = dict(current)
    for name, column_type in new.items():
        widened = widen(merged.get(name), column_type)
        assert widened is not None
        merged[name] = widened
    return merged
