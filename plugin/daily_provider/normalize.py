"""Normalization: one raw Daily log record into one warehouse row. Pure, no I/O, deterministic.

The core columns come from the record's top-level fields; ``request`` and ``response`` (JSON
encoded strings in Daily's answer) are parsed, redacted, stored as compact JSON text and
flattened into ``request__*`` / ``response__*`` columns. A body that is not JSON is not an
error: its masked text and the parser's message get their own columns. :class:`Normalizer`
carries the state one window shares (admitted columns, caches, counters) and
:func:`normalize_record` wraps it for a single record. :class:`ChunkNormalizer` is the same
normalization for a chunk of records at once, column by column, for the staging writer: it
needs no window state, so chunks can be normalized in worker processes (see ``staging``).
"""

from __future__ import annotations

import json
import marshal
import os
import pickle
import signal
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import repeat
from operator import is_not
from typing import Any, BinaryIO, NamedTuple

import orjson

from daily_provider.endpoints import endpoint_template
from daily_provider.exceptions import DailyConfigError
from daily_provider.flatten import (
    TIMESTAMP,
    BigNumber,
    BodyFlattener,
    ChunkFlattener,
    Entry,
    Slot,
    dump_json,
    parse_timestamp_text,
)
from daily_provider.redaction import (
    DEFAULT_REDACTION,
    REDACTED,
    Action,
    RedactionPolicy,
    redact_url,
    value_text,
)
from daily_provider.schema import CORE_COLUMNS, ColumnType
from daily_provider.window import parse_timestamp

__all__ = [
    "DEFAULT_REDACTION",
    "REDACTED",
    "Action",
    "ChunkNormalizer",
    "EncodedChunk",
    "NormalizeConfig",
    "NormalizedChunk",
    "Normalizer",
    "RedactionPolicy",
    "endpoint_template",
    "normalize_record",
    "redact_url",
]


@dataclass(frozen=True)
class NormalizeConfig:
    """How records become rows.

    ``max_depth``: keys nested deeper than this many levels are not flattened; the object at the
    cap is stored as JSON text in its column. ``max_columns``: flattened columns per window;
    paths first seen after the cap is reached are not flattened (their values stay in the body's
    JSON column).
    """

    redaction: RedactionPolicy = DEFAULT_REDACTION
    max_depth: int = 5
    max_columns: int = 1000

    def __post_init__(self) -> None:
        if not isinstance(self.max_depth, int) or self.max_depth < 1:
            raise DailyConfigError(f"max_depth={self.max_depth!r} must be an integer of at least 1")
        if not isinstance(self.max_columns, int) or self.max_columns < 0:
            raise DailyConfigError(
                f"max_columns={self.max_columns!r} must be an integer of at least 0 (0 turns flattening off)"
            )


DEFAULT_CONFIG = NormalizeConfig()

# The order of the core values a Normalizer returns; it is CORE_COLUMNS' order.
CORE_ORDER = (
    "id", "created_at", "source", "method", "url", "endpoint", "status", "is_error", "ip", "user_id",
    "domain_id", "request", "response", "request_text", "response_text", "request_parse_error",
    "response_parse_error",
)  # fmt: skip
assert tuple(CORE_COLUMNS) == CORE_ORDER, "CORE_ORDER must follow schema.CORE_COLUMNS"

_TEXT_TYPES = (str, bytes, bytearray, memoryview)
# Per-URL results (endpoint template, redacted URL, masked count): the same routes repeat all window long.
_URL_CACHE_LIMIT = 65_536

Body = tuple["str | None", "str | None", "str | None"]
_NO_BODY: Body = (None, None, None)


class _BodyNormalizer:
    """What both normalizers share: body parsing with its fallbacks, URL and IP handling, counters."""

    flattener: BodyFlattener | ChunkFlattener

    def __init__(self, config: NormalizeConfig) -> None:
        self.config = config
        self.policy = config.redaction.compiled
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

    def _body(self, prefix: str, raw: Any, target: Any) -> Body:
        """Return (JSON text, masked text when not JSON, parser message when not JSON).

        The body's flattened values go to ``target``: the entries list of one record for
        :class:`BodyFlattener`, the chunk row for :class:`ChunkFlattener`.
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
        flattener = self.flattener
        mark = flattener.mark(target)
        try:
            try:
                flattener.flatten(prefix, body, target)
            except BigNumber:
                flattener.rollback(prefix, target, mark)
                body = _exact_loads(source)
                flattener.check_big_numbers = False
                if body is None:  # only orjson reads it; keep its floats
                    body = orjson.loads(source)
                try:
                    flattener.flatten(prefix, body, target)
                finally:
                    flattener.check_big_numbers = True
            return dump_json(body), None, None
        except (RecursionError, ValueError) as exc:  # nested too deep to write back as JSON
            flattener.rollback(prefix, target, mark)
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


class Normalizer(_BodyNormalizer):
    """Normalizes the records of one window; counts redacted values and unparseable bodies."""

    flattener: BodyFlattener

    def __init__(self, config: NormalizeConfig = DEFAULT_CONFIG) -> None:
        super().__init__(config)
        self.flattener = BodyFlattener(
            self.policy, max_depth=config.max_depth, max_columns=config.max_columns
        )

    @property
    def redacted_values(self) -> int:
        return self.flattener.redacted + self._core_redacted

    def normalize(self, raw: Mapping[str, Any]) -> tuple[tuple[Any, ...], list[Entry]]:
        """Return the core values (in CORE_COLUMNS order) and the flattened ``(column, value, type)``.

        Flattened values are Python values of their type, except TIMESTAMP ones, which stay the
        original ISO text (so a column that later widens to STRING keeps the exact text).
        """
        get = raw.get
        entries: list[Entry] = []
        request, request_text, request_error = self._body("request", get("request"), entries)
        response, response_text, response_error = self._body("response", get("response"), entries)
        source = _text(get("source"))
        url = _text(get("url"))
        endpoint = None
        if url is not None:
            endpoint, url = self._url(url, source)
        status = _status(get("status"))
        return (
            _text(get("id")),
            created_at_value(get("createdAt")),
            source,
            _text(get("method")),
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


class NormalizedChunk:
    """A chunk of records, normalized: core values by column, body values by path, and counters.

    ``core`` holds one list per CORE_COLUMNS column; ``created_at`` values are ISO texts (Daily's
    own text when it is in Daily's form) so that they travel and convert as text. ``slots`` are
    the body paths reached, in the order they were first reached; ``events`` is the order the
    window's column registry replays (see :class:`ChunkFlattener`). Nothing here depends on
    other chunks.
    """

    __slots__ = ("core", "events", "parse_errors", "redacted_values", "rows", "slots")

    def __init__(
        self,
        rows: int,
        core: list[list[Any]],
        slots: list[Slot],
        events: list[int],
        redacted_values: int,
        parse_errors: int,
    ) -> None:
        self.rows = rows
        self.core = core
        self.slots = slots
        self.events = events
        self.redacted_values = redacted_values
        self.parse_errors = parse_errors


class ChunkNormalizer(_BodyNormalizer):
    """Normalizes chunks of records column by column; holds only caches between chunks.

    The values are exactly those :class:`Normalizer` gives, once the window's column registry
    has replayed the chunk's events (``staging`` does); the equivalence is tested.
    """

    flattener: ChunkFlattener

    def __init__(self, config: NormalizeConfig = DEFAULT_CONFIG) -> None:
        super().__init__(config)

    def run(self, records: Iterable[Mapping[str, Any]]) -> NormalizedChunk:
        """Normalize ``records`` (one chunk) into a :class:`NormalizedChunk`."""
        self.flattener = flattener = ChunkFlattener(self.policy, max_depth=self.config.max_depth)
        self.parse_errors = self._core_redacted = 0
        # The same steps as Normalizer.normalize, with the calls that nearly always take their
        # first branch written out: this loop runs once per record of the window.
        body = self._body
        urls = self._urls
        policy = self.policy
        ip_masked = self._ip_action if self._ip_action in ("drop", "hash") else None
        ips_masked = 0
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        row = -1
        for row, raw in enumerate(records):
            get = raw.get
            request = get("request")
            request_text = request_error = None
            if request is not None:
                request, request_text, request_error = body("request", request, row)
            response = get("response")
            response_text = response_error = None
            if response is not None:
                response, response_text, response_error = body("response", response, row)
            source = get("source")
            if source is not None and type(source) is not str:
                source = value_text(source)
            url = get("url")
            endpoint = None
            if url is not None:
                if type(url) is not str:
                    url = value_text(url)
                known = urls[source == "webhook"].get(url)
                if known is None:
                    endpoint, url = self._url(url, source)
                else:
                    endpoint, url = known[0], known[1]
                    self._core_redacted += known[2]
            status = get("status")
            if type(status) is not int or not -(2**63) <= status < 2**63:
                status = _status(status)
            created_at = get("createdAt")
            if not (type(created_at) is str and len(created_at) == 24 and created_at[23] == "Z"):
                created_at = _created_at_text(created_at)
            ip = get("ip")
            if ip is not None:
                if type(ip) is not str:
                    ip = value_text(ip)
                if ip_masked is not None:
                    ip = policy.apply(ip_masked, ip)
                    ips_masked += 1
            append(
                (
                    get("id"),
                    created_at,
                    source,
                    get("method"),
                    url,
                    endpoint,
                    status,
                    None if status is None else status >= 400,
                    ip,
                    get("userId"),
                    get("domainId"),
                    request,
                    response,
                    request_text,
                    response_text,
                    request_error,
                    response_error,
                )
            )
        if not rows:
            core: list[list[Any]] = [[] for _ in CORE_ORDER]
        else:
            core = [list(column) for column in zip(*rows, strict=True)]
            for index in _TEXT_AS_GIVEN:  # ids and names given as another JSON type become text
                column = core[index]
                if not _NONE_OR_STR.issuperset(map(type, column)):
                    core[index] = [_text(value) for value in column]
        return NormalizedChunk(
            row + 1,
            core,
            flattener.slots,
            flattener.events,
            flattener.redacted + self._core_redacted + ips_masked,
            self.parse_errors,
        )


# Core columns taken from the record as they are when they are text.
_TEXT_AS_GIVEN = tuple(CORE_ORDER.index(name) for name in ("id", "method", "user_id", "domain_id"))
_NONE_OR_STR = frozenset({type(None), str})


# -- chunks between processes --------------------------------------------------------------------
#
# A chunk normalized in a worker process travels back as an EncodedChunk: Arrow's own column
# layout (UTF-8 data with each value's length, little-endian numbers, a validity byte per value) in
# plain bytes. Building it here is cheap C work (join, encode, struct); the receiving process makes Arrow
# arrays of it without touching each value, and the worker never imports pyarrow (which would cost
# it about 60 MB). The staging writer turns it into Arrow; see staging.write_part.

TEXT, INT64, FLOAT64, BOOL = range(4)  # value families: how a column's values are stored
_FAMILY_OF = {
    ColumnType.STRING: TEXT,
    ColumnType.TIMESTAMP: TEXT,
    ColumnType.JSON: TEXT,
    ColumnType.INT64: INT64,
    ColumnType.FLOAT64: FLOAT64,
    ColumnType.BOOL: BOOL,
}
# The families of the core columns; created_at travels as text and becomes a timestamp on arrival.
CORE_FAMILIES = tuple(_FAMILY_OF[CORE_COLUMNS[name]] for name in CORE_ORDER)


class EncodedColumn(NamedTuple):
    """One column's values: ``data`` (and each value's int64 byte ``lengths`` for text), ``validity``
    (one byte per value, None when there are no nulls)."""

    family: int
    length: int
    data: bytes
    lengths: bytes | None
    validity: bytes | None


class EncodedSlot(NamedTuple):
    """One body path's values in a chunk: the rows they sit on, and how they were typed."""

    slot: int
    kind: ColumnType
    mixed: bool
    rows: bytes  # int64
    values: EncodedColumn


class EncodedChunk(NamedTuple):
    """A :class:`NormalizedChunk` as bytes, plus what the window's column registry replays."""

    rows: int
    core: list[EncodedColumn]
    slots: list[EncodedSlot]
    parents: list[int]
    keys: list[str]
    prefixes: list[str]
    events: list[int]
    redacted_values: int
    parse_errors: int


def encode_chunk(chunk: NormalizedChunk) -> EncodedChunk:
    """Encode ``chunk`` for the staging writer (in whichever process it runs)."""
    core = [encode_values(values, family) for values, family in zip(chunk.core, CORE_FAMILIES, strict=True)]
    slots = []
    for slot in chunk.slots:
        values = slot.values
        if not values:
            continue
        kind = slot.kind
        assert kind is not None
        if slot.mixed:  # values of several Python types keep them all, as per-value JSON
            encoded = encode_values([orjson.dumps(value).decode() for value in values], TEXT, nullable=False)
        else:
            encoded = encode_values(values, _FAMILY_OF[kind], nullable=False)
        slots.append(EncodedSlot(slot.id, kind, slot.mixed, _pack(slot.rows, "q"), encoded))
    every = chunk.slots
    return EncodedChunk(
        chunk.rows,
        core,
        slots,
        [slot.parent for slot in every],
        [slot.key for slot in every],
        [slot.prefix for slot in every],
        chunk.events,
        chunk.redacted_values,
        chunk.parse_errors,
    )


def encode_values(values: list[Any], family: int, *, nullable: bool = True) -> EncodedColumn:
    """Encode one column's values (str, int, float or bool by ``family``; None for null)."""
    validity = None
    if nullable and None in values:
        validity = bytes(map(is_not, values, repeat(None)))
        fill: Any = "" if family == TEXT else 0
        values = [fill if value is None else value for value in values]
    if family == TEXT:
        text = "".join(values)
        if text.isascii():  # nearly every column: characters are bytes
            data = text.encode("ascii")
            lengths = _pack(list(map(len, values)), "q")
        else:  # value by value, so that one wide character does not widen the whole column
            parts = list(map(str.encode, values))
            data = b"".join(parts)
            lengths = _pack(list(map(len, parts)), "q")
        return EncodedColumn(TEXT, len(values), data, lengths, validity)
    if family == BOOL:
        return EncodedColumn(BOOL, len(values), bytes(values), None, validity)
    return EncodedColumn(
        family, len(values), _pack(values, "d" if family == FLOAT64 else "q"), None, validity
    )


def _pack(values: list[Any], code: str) -> bytes:
    # struct packs a list several times faster than array.array converts one.
    return struct.pack(f"<{len(values)}{code}", *values)


# Chunk files of records, between this process and a worker or the staging process. Records are
# JSON values (dicts, lists, text, numbers), which marshal writes twice as fast as pickle; anything
# else (a Mapping that is not a dict, say) goes by pickle. Both only ever read files this package
# wrote in its own private directory.
_MARSHAL, _PICKLE = b"M", b"P"


def write_records(path: str, records: list[Mapping[str, Any]]) -> None:
    """Write one chunk of records to ``path``; raises what pickle raises for a record it cannot take."""
    try:
        data = _MARSHAL + marshal.dumps(records, 4)
    except ValueError:  # an object marshal does not know
        data = _PICKLE + pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)
    with open(path, "wb") as sink:
        sink.write(data)


def read_records(path: str) -> list[Mapping[str, Any]]:
    """The chunk of records :func:`write_records` wrote to ``path``."""
    with open(path, "rb") as source:
        data = source.read()
    if data[:1] == _MARSHAL:
        records: list[Mapping[str, Any]] = marshal.loads(memoryview(data)[1:])
        return records
    records = pickle.loads(memoryview(data)[1:])
    return records


def worker_main(inbox_fd: int, outbox_fd: int) -> None:
    """A chunk worker's loop (see staging): a NormalizeConfig, then records files until EOF.

    Messages are length-prefixed pickles. Each job is the path of a chunk of records (see
    :func:`write_records`); the
    answer is ``("chunk", path)``, where ``path`` (the job's path plus ``.encoded``) holds the
    pickled EncodedChunk, or ``("error", exception)``. The chunk goes through a file, not the
    pipe: a pipe holds 64 KiB, so a worker writing megabytes into it waited until the writer
    read it, which the writer does in chunk order, and the workers idled half the time.
    """
    # Ctrl-C reaches the whole process group: the writer that started this worker stops it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with os.fdopen(inbox_fd, "rb") as inbox, os.fdopen(outbox_fd, "wb") as outbox:
        config = receive_message(inbox)
        if config is CLOSED:
            return
        normalizer = ChunkNormalizer(config)
        while (job := receive_message(inbox)) is not CLOSED:
            try:
                records = read_records(job)
                encoded = encode_chunk(normalizer.run(records))
                del records
                with open(job + ".encoded", "wb") as sink:
                    pickle.dump(encoded, sink, protocol=pickle.HIGHEST_PROTOCOL)
                del encoded
                reply: tuple[str, Any] = ("chunk", job + ".encoded")
            except Exception as exc:  # the writer raises it again, in its own process
                reply = ("error", portable_exception(exc))
            send_message(outbox, reply)


CLOSED: Any = object()


def send_message(stream: BinaryIO, message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(8, "little"))
    stream.write(data)
    stream.flush()


def receive_message(stream: BinaryIO) -> Any:
    """The next message, or :data:`CLOSED` at the end of the stream (unbuffered streams too)."""
    header = _read_exactly(stream, 8)
    if header is None:
        return CLOSED
    data = _read_exactly(stream, int.from_bytes(header, "little"))
    return CLOSED if data is None else pickle.loads(data)


def _read_exactly(stream: BinaryIO, size: int) -> bytearray | None:
    data = bytearray(size)
    view = memoryview(data)
    done = 0
    while done < size:
        count = stream.readinto(view[done:])  # type: ignore[attr-defined]
        if not count:
            return None
        done += count
    return data


def portable_exception(exc: Exception) -> Exception:
    """``exc`` if it survives pickling (to cross to another process), else a RuntimeError saying what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"normalizing a chunk failed in a worker process: {type(exc).__name__}: {exc}")
    return exc


def _exact_loads(source: str | bytes | bytearray | memoryview) -> Any:
    """Parse with the stdlib, which keeps integers of any size exact; None if it refuses."""
    try:
        return json.loads(
            bytes(source) if isinstance(source, memoryview) else source, parse_constant=_no_constant
        )
    except (ValueError, RecursionError):
        return None


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
        # Daily's own form, 2024-03-15T18:42:00.000Z, is nearly every record: skip the general parser.
        # (datetime.replace costs ten times what parsing with the offset spelled out does.)
        if len(value) == 24 and value[23] == "Z" and value[19] == "." and value[10] == "T":
            try:
                moment = datetime.fromisoformat(value[:23] + "+00:00")
            except ValueError:
                moment = None
            if moment is not None and moment.tzinfo is timezone.utc:
                return moment
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


def _created_at_text(value: Any) -> str | None:
    """``createdAt`` as ISO text of :func:`created_at_value`'s moment: Daily's own text when valid.

    ChunkNormalizer keeps text of Daily's shape (24 characters ending in ``Z``) without this
    check; the staging writer's conversion to timestamps checks it, and falls back to
    :func:`created_at_value` for the text Arrow does not take.
    """
    if type(value) is str and len(value) == 24 and value[23] == "Z" and value[19] == "." and value[10] == "T":
        try:
            if datetime.fromisoformat(value[:23] + "+00:00").tzinfo is timezone.utc:
                return value
        except ValueError:
            pass
    moment = created_at_value(value)
    return None if moment is None else moment.isoformat()


def normalize_record(raw: Mapping[str, Any], config: NormalizeConfig = DEFAULT_CONFIG) -> dict[str, Any]:
    """Return one row: every CORE_COLUMNS name (None when absent) and the flattened body columns.

    Values are str, int, float, bool or aware UTC datetime (TIMESTAMP); JSON columns hold JSON
    text. Column caps apply to this record alone; the staging writer applies them per window.
    """
    core, entries = Normalizer(config).normalize(raw)
    row = dict(zip(CORE_ORDER, core, strict=True))
    for column, value, kind in entries:
        row[column] = parse_timestamp_text(value) if kind is TIMESTAMP else value
    return row
