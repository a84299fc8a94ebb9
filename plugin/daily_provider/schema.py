"""Column model shared by the normalizer and every warehouse.

Pure code: the logical column types, how two types widen into one, the core columns every
logs table has, and the naming rule for flattened body columns. Warehouses map these logical
types to their own SQL types beside their own code (see ``warehouses/``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container, Iterable, Mapping, Sequence
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


def widen_all(types: Iterable[ColumnType | None]) -> ColumnType | None:
    """Fold :func:`widen` over ``types``."""
    result: ColumnType | None = None
    for column_type in types:
        result = widen(result, column_type)
    return result


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


def sanitize_key(key: str) -> str:
    """Map one body key to a column name part.

    A key that already is a lowercase identifier without ``__`` is kept as it is. Any other key
    (camelCase, spaces, punctuation, non-ASCII, empty, containing ``__``) is lossy to sanitize,
    so its sanitized form gets a short hash of the original key: two keys that sanitize alike
    (``userName``, ``username``) never share a column, whatever order they arrive in.
    """
    if _IDENTIFIER.match(key) and "__" not in key and not key.endswith("_") and len(key) <= 60:
        return key
    cleaned = _UNSAFE.sub("_", key.lower()).strip("_")
    cleaned = re.sub(r"_+", "_", cleaned)[:60]
    if not cleaned or not (cleaned[0].isalpha() or cleaned[0] == "_"):
        cleaned = "k_" + cleaned if cleaned else "k"
    return f"{cleaned}_{_short_hash(key)}"


def column_name(prefix: str, path: Iterable[str]) -> str:
    """Return the flattened column name for ``path`` inside the ``prefix`` body.

    ``column_name("response", ["config", "max_participants"]) == "response__config__max_participants"``.
    Names longer than 300 characters are cut and given a hash of the full path so they stay unique.
    """
    parts = [sanitize_key(key) for key in path]
    name = "__".join([prefix, *parts])
    if len(name) > MAX_COLUMN_NAME_LENGTH:
        name = f"{name[: MAX_COLUMN_NAME_LENGTH - 9]}_{_short_hash(name)}"
    return name


def unique_column_name(prefix: str, path: Sequence[str], taken: Container[str]) -> str:
    """:func:`column_name`, made unique against ``taken`` when two paths meet on one name.

    That takes a key that is literally another key's sanitized form (``username_1a2b3c4d``);
    the later path gets a deterministic hash suffix, so the result depends only on arrival order.
    """
    name = column_name(prefix, path)
    attempt = 0
    while name in taken:
        attempt += 1
        suffix = _short_hash("\x00".join([str(attempt), prefix, *path]))
        name = f"{name[: MAX_COLUMN_NAME_LENGTH - 9]}_{suffix}"
    return name


def merge_columns(current: Mapping[str, ColumnType], new: Mapping[str, ColumnType]) -> dict[str, ColumnType]:
    """Merge two column maps: keep ``current``'s order, widen shared columns, append new ones."""
    merged = dict(current)
    for name, column_type in new.items():
        widened = widen(merged.get(name), column_type)
        assert widened is not None
        merged[name] = widened
    return merged
