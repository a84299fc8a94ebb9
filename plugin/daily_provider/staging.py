"""Staging: the normalized rows of one window, in bounded chunks, into one typed Parquet file.

One process, one pass: each record is checked against the window and normalized (one
:class:`~daily_provider.normalize.Normalizer` per window) into the current chunk. Every
``chunk_rows`` records the chunk becomes an Arrow table written once as an Arrow IPC part, in a
lossless layout (timestamps as their ISO text, a column whose values disagreed as per-value JSON),
because a column's final type is known only after the window's last record.
:meth:`StagingWriter.finish` converts each part to the final types and streams it into the
window's one Parquet file. The one other thread is :func:`~daily_provider.read_ahead.read_ahead`'s,
which fetches records while this one normalizes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import reduce
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from daily_provider.exceptions import DailyConfigError, DailyError
from daily_provider.flatten import FlatValue, json_at
from daily_provider.maps import MapBody
from daily_provider.normalize import CORE_ORDER, DEFAULT_CONFIG, NormalizeConfig, Normalizer
from daily_provider.read_ahead import read_ahead
from daily_provider.redaction import value_text
from daily_provider.schema import (
    CORE_COLUMNS,
    METADATA_COLUMNS,
    ColumnType,
    json_path_text,
    legacy_column_name,
    merge_columns,
    parse_timestamp_text,
    widen,
)
from daily_provider.warehouses.base import StagedWindow
from daily_provider.window import Window

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

log = logging.getLogger(__name__)

PHYSICAL_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.BOOL: pa.bool_(),
    ColumnType.INT64: pa.int64(),
    ColumnType.FLOAT64: pa.float64(),
    ColumnType.STRING: pa.string(),
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    ColumnType.JSON: pa.string(),
}
# Snappy: what DuckDB and BigQuery read fastest; zstd is smaller and slower to write.
_COMPRESSION = "snappy"
# Column statistics are costly to write; only the warehouses' window check reads any.
_STATISTICS = ["source", "created_at"]
# Parts are read back once, by this process: Arrow IPC with LZ4 writes and reads faster than Parquet.
_PART_OPTIONS = ipc.IpcWriteOptions(compression="lz4")
_CORE_TYPES = [CORE_COLUMNS[name] for name in CORE_ORDER]
_CREATED_AT = CORE_ORDER.index("created_at")


@dataclass
class StagingStats:
    """What the writer did so far; ``max_buffered_rows`` is the most rows held in memory at once."""

    rows: int = 0
    chunks: int = 0
    max_buffered_rows: int = 0
    redacted_values: int = 0
    parse_errors: int = 0
    keys_in_json: int = 0  # distinct paths left only in the JSON columns by max_columns


# How a part stores each flattened column: (the chunk's widened type, stored as per-value JSON).
PartLayout = dict[str, tuple[ColumnType, bool]]


class _ChunkRows:
    """The normalized rows of the chunk being filled: core values by row, flattened values by column."""

    def __init__(self) -> None:
        self.rows = 0
        self.core: list[tuple[Any, ...]] = []
        self.columns: dict[str, list[tuple[int, Any, ColumnType]]] = {}

    def add(self, core: tuple[Any, ...], flat: list[FlatValue]) -> None:
        row = self.rows
        self.core.append(core)
        columns = self.columns
        for name, value, kind in flat:
            try:
                columns[name].append((row, value, kind))
            except KeyError:
                columns[name] = [(row, value, kind)]
        self.rows = row + 1

    def table(self) -> tuple[pa.Table, PartLayout]:
        """The chunk as an Arrow table in the lossless part layout, and that layout."""
        count = self.rows
        names = list(CORE_ORDER)
        arrays = [
            pa.array(values, PHYSICAL_TYPES[kind])
            for values, kind in zip(zip(*self.core, strict=True), _CORE_TYPES, strict=True)
        ]
        layout: PartLayout = {}
        for name, entries in self.columns.items():
            rows, values, kinds = zip(*entries, strict=True)
            kind = reduce(widen, set(kinds))
            assert kind is not None
            mixed = len(set(map(type, values))) > 1  # stored as per-value JSON, so each keeps its type
            if len(rows) < count:
                full: list[Any] = [None] * count
                for row, value in zip(rows, values, strict=True):
                    full[row] = value
                values = full  # type: ignore[assignment]
            if mixed:
                array = pa.array(
                    [None if v is None else orjson.dumps(v).decode() for v in values], pa.string()
                )
            elif kind is ColumnType.TIMESTAMP:  # the text, converted once the final type is known
                array = pa.array(values, pa.string())
            else:
                array = pa.array(values, PHYSICAL_TYPES[kind])
            names.append(name)
            arrays.append(array)
            layout[name] = (kind, mixed)
        return pa.Table.from_arrays(arrays, names=names), layout


def _convert(
    array: pa.ChunkedArray, stored: ColumnType, mixed: bool, final: ColumnType
) -> pa.ChunkedArray | pa.Array:
    """Convert a part's column to the window's final type with the deterministic text forms."""
    if mixed:
        values = [None if text is None else orjson.loads(text) for text in array.to_pylist()]
        if final is ColumnType.FLOAT64:
            return pa.array([None if v is None else float(v) for v in values], pa.float64())
        return pa.array([None if v is None else value_text(v) for v in values], pa.string())
    if final is ColumnType.TIMESTAMP:
        return _timestamps(array) if stored is ColumnType.TIMESTAMP else array
    if stored is final:
        return array
    if final is ColumnType.FLOAT64:  # from INT64; the same rounding as Python's float(int)
        return pc.cast(array, pa.float64(), safe=False)
    if final is ColumnType.STRING:
        if stored is ColumnType.FLOAT64:  # Arrow writes 1.0 as "1"; repr() is the documented form
            return pa.array([None if v is None else repr(v) for v in array.to_pylist()], pa.string())
        if stored in (ColumnType.BOOL, ColumnType.INT64):  # Arrow's text is "true"/"false" and str(int)
            return pc.cast(array, pa.string())
        return array  # STRING, JSON and TIMESTAMP are stored as text already
    raise AssertionError(f"no conversion from {stored} to {final}")  # widen() never asks for one


def _timestamps(array: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """ISO texts the normalizer accepted as timestamps, as timestamp[us, UTC]."""
    try:
        return pc.cast(array, PHYSICAL_TYPES[ColumnType.TIMESTAMP])
    except pa.ArrowInvalid:  # Arrow's ISO parser is stricter in corners; Python decided they are valid
        return pa.array(
            [None if text is None else parse_timestamp_text(text) for text in array.to_pylist()],
            PHYSICAL_TYPES[ColumnType.TIMESTAMP],
        )


def _maps_of(
    part: pa.Table, wanted: Mapping[str, tuple[str, tuple[str, ...]]]
) -> dict[str, list[str | None]]:
    """For paths that became maps mid-window: each row's object at the path, from the stored body JSON.

    Rows staged before the path turned into a map have their values in flattened columns that are
    dropped; the body's JSON column has the (redacted) object. Each body is parsed once for all paths.
    """
    found: dict[str, list[str | None]] = {name: [None] * part.num_rows for name in wanted}
    for prefix in {body for body, _ in wanted.values()}:
        paths = [(name, path) for name, (body, path) in wanted.items() if body == prefix]
        for row, text in enumerate(part.column(prefix).to_pylist()):
            if text is None:
                continue
            parsed = orjson.loads(text)
            for name, path in paths:
                found[name][row] = json_at(parsed, path)
    return found


def _map_body_rows(part: pa.Table, bodies: Collection[MapBody]) -> dict[str, pa.Array]:
    """For each body prefix, which rows are calls to an endpoint whose body became a map."""
    if not bodies:
        return {}
    calls = list(zip(part.column("method").to_pylist(), part.column("endpoint").to_pylist(), strict=True))
    return {
        prefix: pa.array([(method or "", endpoint or "", prefix) in bodies for method, endpoint in calls])
        for prefix in {prefix for _, _, prefix in bodies}
    }


def _fill(array: pa.ChunkedArray | pa.Array, values: list[str | None]) -> pa.Array:
    current = array.to_pylist()
    return pa.array(
        [old if old is not None else new for old, new in zip(current, values, strict=True)], array.type
    )


class StagingWriter:
    """Stages one window's records as one Parquet file, holding at most ``chunk_rows`` rows in memory
    (and, in :meth:`add_many`, up to :data:`~daily_provider.read_ahead.READ_AHEAD_RECORDS` records read ahead).

    Use as a context manager: the part files are removed on exit, and so is the output file when
    :meth:`finish` did not complete.
    """

    def __init__(
        self,
        directory: Path,
        *,
        run_id: str,
        loaded_at: datetime,
        window: Window,
        config: NormalizeConfig = DEFAULT_CONFIG,
        chunk_rows: int = 10_000,
        table_columns: Mapping[str, ColumnType] | None = None,
        column_comments: Mapping[str, str] | None = None,
        map_bodies: Iterable[MapBody] = (),
    ) -> None:
        if not isinstance(chunk_rows, int) or isinstance(chunk_rows, bool) or chunk_rows < 1:
            raise DailyConfigError(f"chunk_rows={chunk_rows!r} must be a positive integer")
        if loaded_at.tzinfo is None or loaded_at.utcoffset() is None:
            raise DailyConfigError(f"loaded_at={loaded_at!r} must be an aware datetime (UTC)")
        self.directory = Path(directory)
        self.run_id = run_id
        self.loaded_at = loaded_at.astimezone(timezone.utc)
        self.window = window
        self.chunk_rows = chunk_rows
        self.stats = StagingStats()
        self.config = config
        self.table_columns = dict(table_columns or {})
        self._normalizer = Normalizer(config, self.table_columns, column_comments, map_bodies)
        self._chunk = _ChunkRows()
        self._types: dict[str, ColumnType] = {}
        self._parts: list[tuple[Path, PartLayout]] = []
        self._parts_dir: Path | None = None
        self._output: Path | None = None
        self._staged: StagedWindow | None = None
        self._ids: dict[str, str] = {}  # column name -> the node id its values carry in the parts
        self._backfill: dict[str, tuple[str, tuple[str, ...]]] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Remove the part files, and the output file unless :meth:`finish` completed."""
        if self._parts_dir is not None:
            shutil.rmtree(self._parts_dir, ignore_errors=True)
            self._parts_dir = None
        self._parts.clear()
        if self._staged is None and self._output is not None:
            with contextlib.suppress(FileNotFoundError):
                self._output.unlink()
            self._output = None

    @property
    def new_map_bodies(self) -> list[MapBody]:
        """The endpoints whose body root the key-count rule made a map in this window: the
        warehouse keeps them beside the table (``MapStore``) so later windows agree."""
        return list(self._normalizer.flattener.new_map_bodies)

    def add(self, raw: Mapping[str, Any]) -> None:
        """Normalize one record into the current chunk; write the chunk once it holds ``chunk_rows``."""
        if self._staged is not None:
            raise DailyError("this staging writer already finished its window; start a new writer")
        normalizer = self._normalizer
        core, flat = normalizer.normalize(raw)
        created_at = core[_CREATED_AT]
        if created_at is None or not self.window.contains(created_at):
            record_id = core[0]
            raise DailyError(
                f"record id={record_id!r} has createdAt={raw.get('createdAt')!r}, which is not inside the "
                f"window {self.window}; only the window's records can be staged (a record that sits in "
                "no window would never be replaced). Check the extract that produced it."
            )
        chunk = self._chunk
        chunk.add(core, flat)
        stats = self.stats
        stats.rows += 1
        if chunk.rows > stats.max_buffered_rows:
            stats.max_buffered_rows = chunk.rows
        if chunk.rows >= self.chunk_rows:
            self._write_part()

    def add_many(self, raws: Iterable[Mapping[str, Any]]) -> None:
        """Take every record of ``raws``, read ahead by a thread (see :func:`read_ahead`)."""
        for raw in read_ahead(raws):
            self.add(raw)

    def _write_part(self) -> None:
        table, layout = self._chunk.table()
        self._chunk = _ChunkRows()
        self._types = merge_columns(self._types, {name: kind for name, (kind, _) in layout.items()})
        self.stats.chunks += 1
        self.stats.redacted_values = self._normalizer.redacted_values
        self.stats.parse_errors = self._normalizer.parse_errors
        if self._parts_dir is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._parts_dir = Path(tempfile.mkdtemp(prefix=".daily-logs-parts-", dir=self.directory))
        path = self._parts_dir / f"part-{len(self._parts):06d}.arrow"
        with (
            pa.OSFile(str(path), "wb") as sink,
            ipc.new_file(sink, table.schema, options=_PART_OPTIONS) as part,
        ):
            part.write_table(table)
        self._parts.append((path, layout))

    def finish(self) -> StagedWindow:
        """Write the window's single Parquet file with its final column types and return it."""
        if self._staged is not None:
            return self._staged
        if self._chunk.rows:
            self._write_part()
        names = self._normalizer.column_names()
        self._report_columns(names)
        columns: dict[str, ColumnType] = {**CORE_COLUMNS, **METADATA_COLUMNS}
        self._ids = {}
        for name, node_id in sorted((names[node_id], node_id) for node_id in self._types if node_id in names):
            columns[name] = self._types[node_id]
            self._ids[name] = node_id
        flattener = self._normalizer.flattener
        self._backfill = {
            names[node.id]: (node.path[0], node.path[1:]) for node in flattener.flipped if node.id in names
        }
        nodes = flattener.nodes_by_id()
        paths = {name: json_path_text(nodes[node_id].path) for name, node_id in self._ids.items()}
        schema = pa.schema([pa.field(name, PHYSICAL_TYPES[kind]) for name, kind in columns.items()])
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="daily-logs-", suffix=".parquet", dir=self.directory)
        os.close(handle)
        self._output = Path(name)
        rows = 0
        with pq.ParquetWriter(
            self._output,
            schema,
            compression=_COMPRESSION,
            write_statistics=_STATISTICS,
            # Text only (names, endpoints, bodies repeat); numbers, times and flags gain nothing.
            use_dictionary=[field.name for field in schema if field.type == pa.string()],
            # Values go to the encoder a whole chunk at a time: text columns stay dictionary-encoded
            # longer than in Arrow's default batches of 1,024, so the file is smaller.
            write_batch_size=self.chunk_rows,
        ) as writer:
            for path, layout in self._parts:
                with pa.memory_map(str(path)) as source:
                    part = ipc.open_file(source).read_all()
                writer.write_table(self._conform(part, layout, columns, schema))
                rows += part.num_rows
                del part
                path.unlink()
        self._staged = StagedWindow(path=self._output, columns=columns, rows=rows, paths=paths)
        self.close()
        return self._staged

    def _conform(
        self, part: pa.Table, layout: PartLayout, columns: dict[str, ColumnType], schema: pa.Schema
    ) -> pa.Table:
        """``part`` with every column of the window, each of its final type, in the file's order."""
        count = part.num_rows
        filled = _maps_of(part, self._backfill) if self._backfill else {}
        not_flat = _map_body_rows(part, set(self._normalizer.flattener.new_map_bodies))
        metadata = {
            "_loaded_at": self.loaded_at,
            "_run_id": self.run_id,
            "_window_start": self.window.start,
            "_window_end": self.window.end,
        }
        arrays: list[pa.Array | pa.ChunkedArray] = []
        for name, final in columns.items():
            if name in metadata:
                arrays.append(pa.repeat(pa.scalar(metadata[name], PHYSICAL_TYPES[final]), count))
            elif name in CORE_COLUMNS:
                arrays.append(part.column(name))
            else:
                node_id = self._ids[name]
                if node_id in layout:
                    stored, mixed = layout[node_id]
                    array = _convert(part.column(node_id), stored, mixed, final)
                else:
                    array = pa.nulls(count, PHYSICAL_TYPES[final])
                if name in filled:
                    array = _fill(array, filled[name])
                mask = not_flat.get(name.partition("__")[0])
                if mask is not None:  # rows staged before their endpoint's body became a map
                    array = pc.if_else(mask, pa.nulls(count, array.type), array)
                arrays.append(array)
        return pa.Table.from_arrays(arrays, schema=schema).combine_chunks()

    def _report_columns(self, names: Mapping[str, str]) -> None:
        """Say once per window what the table's column cap left in JSON, and which old names gain new ones."""
        flattener = self._normalizer.flattener
        left = self.stats.keys_in_json = flattener.refused + flattener.trimmed
        if self.config.max_columns and (left or flattener.overflowed):
            log.warning(
                "the table reached max_columns=%d flattened columns (it has %d): %s%d keys of this window "
                "were left only in the request/response JSON columns. Declare map paths for objects keyed "
                "by data (map_paths) or raise max_columns.",
                self.config.max_columns,
                len(flattener.table.types),
                "at least " if flattener.overflowed else "",
                left,
            )
        table = self.table_columns
        if not table:
            return
        renamed = sorted(
            (legacy_column_name(node.path[0], node.path[1:]), names[node.id])
            for node in flattener.nodes_by_id().values()
            if node.legacy and node.id in names and names[node.id] not in table
        )
        if renamed:
            log.info(
                "the table has %d columns named by the naming rule of 0.1 (e.g. %s); this load adds their "
                "snake_case names (e.g. %s) and fills only those from now on. The old columns keep their "
                "rows and are never renamed or dropped (see CHANGELOG.md).",
                len(renamed),
                renamed[0][0],
                renamed[0][1],
            )
