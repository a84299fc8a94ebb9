"""One page of Daily's logs endpoint, checked: the typed :class:`LogEntry` records the walk works on.

Pure: a decoded JSON body in, a list of LogEntry out, or MalformedResponse (a transport fault the
client retries) when the body is not a page of log records. ``createdAt`` is parsed here, once; nothing
after the walk parses it again.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, NamedTuple

from daily_provider.hooks.retry import MalformedResponse


class LogEntry(NamedTuple):
    """A validated record of a page: its id and event time next to the raw dict Daily sent."""

    id: str
    created_at: datetime
    record: dict[str, Any]


def parse_created_at(value: object) -> datetime | None:
    """Parse Daily's ``createdAt`` (ISO-8601, UTC, milliseconds) into an aware UTC datetime, or None.

    A timestamp without an offset is read as UTC, which is what Daily documents for this field.
    """
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_page(body: Any) -> list[LogEntry]:
    """Check that a decoded body is a page of log records and return its entries.

    A page is a JSON array of records (the docs' example) or an object whose ``data`` is one
    (Daily's usual list shape, ``{"total_count": N, "data": [...]}``; other keys are ignored).
    Raises MalformedResponse (a transport fault, retried) for anything else, or for an item that
    is not an object with a string ``id`` and a parseable ``createdAt``; an empty list is a valid,
    empty page.
    """
    if isinstance(body, dict) and "data" in body:
        if not isinstance(body["data"], list):
            raise MalformedResponse(
                f"expected 'data' to be a JSON array of log records, got a JSON {_json_type(body['data'])}"
            )
        body = body["data"]
    elif not isinstance(body, list):
        keys = f" with keys {_short(sorted(body)[:8])}" if isinstance(body, dict) else ""
        raise MalformedResponse(
            "expected a JSON array of log records or an object whose 'data' is one, "
            f"got a JSON {_json_type(body)}{keys}"
        )
    entries = []
    for position, item in enumerate(body):
        if not isinstance(item, dict):
            raise MalformedResponse(
                f"item {position} of the page is a JSON {_json_type(item)}, not an object"
            )
        record_id = item.get("id")
        if not isinstance(record_id, str) or not record_id:
            raise MalformedResponse(f"item {position} of the page has no string 'id' ({_short(record_id)})")
        created_at = parse_created_at(item.get("createdAt"))
        if created_at is None:
            raise MalformedResponse(
                f"record {record_id} has createdAt={_short(item.get('createdAt'))}, not an ISO-8601 timestamp"
            )
        entries.append(LogEntry(record_id, created_at, item))
    return entries


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(value), "number")


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
