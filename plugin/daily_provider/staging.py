"""Staging: normalized rows of one window, in bounded chunks, into one typed Parquet file.

Records are buffered in chunks of ``min(chunk_rows, UNIT_ROWS)``. Each chunk is normalized column
by column (:class:`~daily_provider.normalize.ChunkNormalizer`), by a worker process while this one
keeps reading records or here when the workers are behind, and written as an Arrow IPC part: its
core columns, and each body path's values with the rows they belong to.
Chunks are merged in arrival order: the window's column registry replays the order in which each
chunk first met its body paths, so column names, caps and types come out exactly as
record-at-a-time normalization gives them, whatever the chunk size or the scheduling.

Part files store values losslessly (timestamps as their ISO text, columns whose values disagreed
in one chunk as per-value JSON) so that :meth:`StagingWriter.finish` can convert each column once
to its final type with the same deterministic text forms whatever the chunk size, put body values
on their rows, and stream the parts into one file: core columns, metadata columns, then flattened
columns by name.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import os
import pickle
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from daily_provider.exceptions import DailyError
from daily_provider.flatten import BodyFlattener, Node, parse_timestamp_text
from daily_provider.normalize import (
    BOOL,
    CLOSED,
    CORE_ORDER,
    DEFAULT_CONFIG,
    FLOAT64,
    INT64,
    TEXT,
    ChunkNormalizer,
    EncodedChunk,
    EncodedColumn,
    NormalizeConfig,
    created_at_value,
    encode_chunk,
    portable_exception,
    read_records,
    receive_message,
    send_message,
    write_records,
)
from daily_provider.redaction import value_text
from daily_provider.schema import CORE_COLUMNS, METADATA_COLUMNS, ColumnType, merge_columns
from daily_provider.staging_base import (
    UNIT_ROWS,
    ChildGone,
    ChildProcess,
    Stager,
    StagingStats,
    WindowCheck,
    check_writer_arguments,
)
from daily_provider.warehouses.base import StagedWindow
from daily_provider.window import Window

log = logging.getLogger(__name__)

PHYSICAL_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.BOOL: pa.bool_(),
    ColumnType.INT64: pa.int64(),
    ColumnType.FLOAT64: pa.float64(),
    ColumnType.STRING: pa.string(),
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    ColumnType.JSON: pa.string(),
}
# Snappy: what DuckDB and BigQuery read fastest; zstd would be ~40% smaller and ~2x slower to write.
_COMPRESSION = "snappy"
# Column statistics cost a quarter of the Parquet writing; only the window check reads any.
_STATISTICS = ["source", "created_at"]
_PART_OPTIONS = ipc.IpcWriteOptions(compression="lz4")
_FAMILY_TYPES = {TEXT: pa.string(), INT64: pa.int64(), FLOAT64: pa.float64(), BOOL: pa.bool_()}
_CREATED_AT = CORE_ORDER.index("created_at")
_ZERO = pa.array([0], pa.int64())

# Windows smaller than this are normalized in this process: starting a worker costs more than it saves.
PARALLEL_AFTER_ROWS = 10_000
# Parts are written to the Parquet file in row groups of at least this many rows.
ROW_GROUP_ROWS = 10_000


# -- parts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotColumn:
    """Where a part keeps one body path's values: ``length`` values from ``index`` in its family's
    values (and, at the same places, the chunk rows they belong to); and their types."""

    slot: int
    family: int
    index: int
    length: int
    kind: ColumnType
    mixed: bool


@dataclass(frozen=True)
class ChunkPart:
    """A chunk on disk, and what the window's column registry needs to merge it."""

    path: str
    values_path: str
    rows: int
    columns: tuple[SlotColumn, ...]
    chunk: EncodedChunk  # its events and paths; the values are dropped (see write_part)


# The values file of a part: for each family, its values and their rows, as one-element lists.
_VALUES_NAMES = [
    f"{name}{suffix}" for name in ("text", "int64", "float64", "bool") for suffix in ("", "_rows")
]


def write_part(chunk: EncodedChunk, base: str) -> ChunkPart:
    """Write ``chunk`` as two Arrow IPC files named after ``base``: the core columns, and the body
    paths' values with their rows, family by family (all text values one path after the other,
    then all integers, and so on).

    The values are put on their rows only at finish (:func:`_on_rows`): most body paths have
    values on few of a chunk's rows, so full columns here were several times the data, and
    building them path by path cost more in Arrow's per-call overhead than in the values.
    """
    count = chunk.rows
    arrays = [_array(column) for column in chunk.core]
    arrays[_CREATED_AT] = _timestamps(arrays[_CREATED_AT], fallback=created_at_value)
    path = f"{base}.arrow"
    _write_ipc(path, pa.Table.from_arrays(arrays, names=list(CORE_ORDER)))
    del arrays
    columns = []
    starts = dict.fromkeys(_FAMILY_TYPES, 0)
    values: dict[int, list[EncodedColumn]] = {family: [] for family in _FAMILY_TYPES}
    rows: dict[int, list[bytes]] = {family: [] for family in _FAMILY_TYPES}
    for slot in chunk.slots:
        family = slot.values.family
        columns.append(
            SlotColumn(slot.slot, family, starts[family], slot.values.length, slot.kind, slot.mixed)
        )
        starts[family] += slot.values.length
        values[family].append(slot.values)
        rows[family].append(slot.rows)
    lists = []
    for family in _FAMILY_TYPES:
        lists.append(_one_list(_array(_joined(values[family], family))))
        lists.append(_one_list(_rows_array(rows[family])))
    values_path = f"{base}-values.arrow"
    _write_ipc(values_path, pa.Table.from_arrays(lists, names=_VALUES_NAMES))
    # Keep only what the merge replays; the values are on disk now.
    meta = chunk._replace(core=[], slots=[])
    _release_memory()
    return ChunkPart(path, values_path, count, tuple(columns), meta)


def _joined(columns: list[EncodedColumn], family: int) -> EncodedColumn:
    """One encoded column of ``columns``' values one after the other (body paths have no nulls)."""
    lengths = b"".join(column.lengths or b"" for column in columns) if family == TEXT else None
    data = b"".join(column.data for column in columns)
    return EncodedColumn(family, sum(column.length for column in columns), data, lengths, None)


def _rows_array(rows: list[bytes]) -> pa.Array:
    data = b"".join(rows)
    return pa.Array.from_buffers(pa.int64(), len(data) // 8, [None, pa.py_buffer(data)])


def _release_memory() -> None:
    # Arrow's allocator keeps freed pages resident (here ~60 MB more than it uses) unless asked.
    pa.default_memory_pool().release_unused()


def _array(column: EncodedColumn) -> pa.Array:
    """The Arrow array of an encoded column, made from its buffers."""
    length = column.length
    validity = None
    if column.validity is not None:
        flags = pa.Array.from_buffers(pa.int8(), length, [None, pa.py_buffer(column.validity)])
        validity = pc.cast(flags, pa.bool_()).buffers()[1]
    data = pa.py_buffer(column.data)
    family = column.family
    if family == TEXT:
        lengths = pa.Array.from_buffers(pa.int64(), length, [None, pa.py_buffer(column.lengths)])
        offsets = pa.concat_arrays([_ZERO, pc.cumulative_sum(lengths)]).buffers()[1]
        array = pa.Array.from_buffers(pa.large_string(), length, [validity, offsets, data])
        return array.cast(pa.string())  # Arrow refuses past 2 GiB, with its own message
    if family == BOOL:
        flags = pa.Array.from_buffers(pa.int8(), length, [None, data])
        return pa.Array.from_buffers(pa.bool_(), length, [validity, pc.cast(flags, pa.bool_()).buffers()[1]])
    return pa.Array.from_buffers(_FAMILY_TYPES[family], length, [validity, data])


def _one_list(values: pa.Array) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array([0, len(values)], pa.int32()), values)


def _write_ipc(path: str, table: pa.Table) -> None:
    # Parts are read back once, by the writer's process: Arrow IPC with LZ4 writes and reads
    # several times faster than Parquet, at a size close to it.
    with pa.OSFile(path, "wb") as sink, ipc.new_file(sink, table.schema, options=_PART_OPTIONS) as part:
        part.write_table(table)


def _read_ipc(path: str) -> pa.Table:
    with pa.memory_map(path) as source:
        return ipc.open_file(source).read_all()


# -- worker processes ----------------------------------------------------------------------------
#
# Workers import only the normalizer (no pyarrow), get each chunk as a records file in the parts
# directory and answer on a pipe with the path of the encoded chunk (see normalize.worker_main).

# Chunks handed to a worker and not collected yet. Answers wait in files, so a worker never stalls
# on them; this many keeps it busy while this process normalizes a chunk itself (1M records: 2 gave
# 24.4 s of staging, 6 gave 21.5 s). The records wait on disk, so memory does not grow with it.
_JOBS_PER_WORKER = 6
# Chunks waiting on disk for a free worker; with more, this process normalizes the next one itself.
_QUEUED_CHUNKS = 4


class _Worker:
    """One worker process and the number of chunks it holds."""

    def __init__(self, config: NormalizeConfig) -> None:
        self.child = ChildProcess("daily_provider.normalize", "worker_main", config)
        self.process = self.child.process
        self.pending = 0

    @property
    def gone(self) -> bool:
        return self.child.gone

    def submit(self, records_path: str) -> None:
        self.pending += 1
        self.child.send(records_path)

    def ready(self) -> bool:
        return self.child.ready()

    def result(self) -> EncodedChunk:
        self.pending -= 1
        kind, value = self.child.receive()
        if kind == "error":
            raise value
        with open(value, "rb") as source:
            chunk: EncodedChunk = pickle.load(source)
        os.unlink(value)
        return chunk

    def stop(self, *, kill: bool = False) -> None:
        self.child.stop(kill=kill)


def default_workers() -> int:
    """Worker processes for large windows: one per core beyond this process's own, two at most."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(2, cores - 1))


@dataclass
class _Job:
    """A chunk on its way to a part: done here (``part`` set) or in a worker."""

    base: str
    rows: int
    part: ChunkPart | None = None
    worker: _Worker | None = None
    records_path: str | None = None


# -- the window's columns ------------------------------------------------------------------------


@dataclass(frozen=True)
class _StagedPart:
    path: str
    values_path: str
    rows: int
    columns: dict[str, SlotColumn]  # final column name -> where its values are


class _ColumnRegistry:
    """The window's body columns: names, caps and widened types, fed chunk by chunk in order."""

    def __init__(self, config: NormalizeConfig) -> None:
        self.flattener = BodyFlattener(
            config.redaction.compiled, max_depth=config.max_depth, max_columns=config.max_columns
        )
        self.types: dict[str, ColumnType] = {}

    def merge(self, part: ChunkPart) -> dict[str, SlotColumn]:
        """Replay ``part``'s path events; return its admitted columns by final name."""
        chunk = part.chunk
        flattener = self.flattener
        roots = flattener.roots
        nodes: dict[int, Node | None] = {}
        for event in chunk.events:
            slot = event >> 1
            if event & 1:  # the path's first value: record-at-a-time admits it here
                node = nodes.get(slot)
                if node is not None and node.column is None:
                    flattener.admit(node)
                continue
            parent_slot = chunk.parents[slot]
            parent = roots[chunk.prefixes[slot]] if parent_slot < 0 else nodes.get(parent_slot)
            # A path under a refused one is never reached record-at-a-time: it stays refused too.
            nodes[slot] = None if parent is None else flattener.child(parent, chunk.keys[slot])
        columns: dict[str, SlotColumn] = {}
        for column in part.columns:
            node = nodes.get(column.slot)
            if node is not None and node.column:
                columns[node.column] = column
        self.types = merge_columns(self.types, {name: column.kind for name, column in columns.items()})
        return columns


# -- conversions at finish -----------------------------------------------------------------------


def _on_rows(part: _StagedPart) -> dict[str, pa.Array]:
    """Each of ``part``'s columns with its values on their rows, null elsewhere."""
    stored = _read_ipc(part.values_path)
    by_family: dict[int, list[tuple[str, SlotColumn]]] = {}
    for name, where in part.columns.items():
        by_family.setdefault(where.family, []).append((name, where))
    on_rows: dict[str, pa.Array] = {}
    for family, members in by_family.items():
        values = stored.column(2 * family).chunk(0).values
        rows = stored.column(2 * family + 1).chunk(0).values
        for first in range(0, len(members), _SCATTER_PATHS):
            batch = members[first : first + _SCATTER_PATHS]
            on_rows.update(_scatter(batch, values, rows, part.rows))
    return on_rows


# Paths of one family put on their rows by one scatter: Arrow's per-call cost is paid a few
# times per part instead of once per path, and its temporary buffers (about three times its
# output) stay a few MB.
_SCATTER_PATHS = 16


def _scatter(
    members: list[tuple[str, SlotColumn]], values: pa.Array, rows: pa.Array, count: int
) -> Iterator[tuple[str, pa.Array]]:
    """``members``' columns from their ``values`` and ``rows``, each on ``count`` rows.

    The paths get consecutive stretches of rows in one output, each path's column is a slice of
    it. Stretches start on a multiple of 64 rows, so that each slice's validity bits start on a byte.
    """
    stretch = -(-count // 64) * 64
    ends = pa.array(list(itertools.accumulate(where.length for _, where in members)), pa.int64())
    firsts = pa.array([number * stretch for number in range(len(members))], pa.int64())
    where_to = pc.add(
        pa.concat_arrays([rows.slice(where.index, where.length) for _, where in members]),
        pc.run_end_decode(pa.RunEndEncodedArray.from_arrays(ends, firsts)),
    )
    spread = pc.scatter(
        pa.concat_arrays([values.slice(where.index, where.length) for _, where in members]),
        where_to,
        max_index=len(members) * stretch - 1,
    )
    for number, (name, _) in enumerate(members):
        yield name, spread.slice(number * stretch, count)


def _convert(
    array: pa.ChunkedArray | pa.Array, stored: ColumnType, mixed: bool, final: ColumnType
) -> pa.ChunkedArray | pa.Array:
    """Convert a part's column to the window's final type with the deterministic text forms."""
    if mixed:
        values = [None if text is None else orjson.loads(text) for text in array.to_pylist()]
        if final is ColumnType.FLOAT64:
            return pa.array([None if v is None else float(v) for v in values], pa.float64())
        return pa.array([None if v is None else value_text(v) for v in values], pa.string())
    if final is ColumnType.TIMESTAMP:
        return _timestamps(array, fallback=parse_timestamp_text) if stored is ColumnType.TIMESTAMP else array
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


def _timestamps(
    array: pa.ChunkedArray | pa.Array, *, fallback: Callable[[str], datetime | None]
) -> pa.ChunkedArray | pa.Array:
    """ISO texts Python accepted as timestamps, as timestamp[us, UTC] (``fallback`` where Arrow refuses)."""
    try:
        return pc.cast(array, PHYSICAL_TYPES[ColumnType.TIMESTAMP])
    except pa.ArrowInvalid:  # Arrow's ISO parser is stricter in corners; Python decided they are valid
        return pa.array(
            [None if text is None else fallback(text) for text in array.to_pylist()],
            PHYSICAL_TYPES[ColumnType.TIMESTAMP],
        )


# -- the writer ----------------------------------------------------------------------------------


class StagingWriter(Stager):
    """Stages one window's records as one Parquet file, holding at most ``chunk_rows`` rows in memory.

    Chunks hold ``min(chunk_rows, UNIT_ROWS)`` records (``stats.chunks`` counts them).

    :param workers: Worker processes that normalize chunks while this process reads records.
        ``None`` (default): :func:`default_workers`, started once the window passes
        :data:`PARALLEL_AFTER_ROWS` records. ``0``: everything in this process. A number: that
        many, from the first chunk. The output is the same either way. A worker holds one chunk
        in memory; the chunks handed to it (at most ``_JOBS_PER_WORKER``) and its answers wait
        on disk, and a few more wait for a free worker (see
        :attr:`StagingStats.max_in_flight_rows`), beyond which this process normalizes chunks itself.

    Use as a context manager: worker processes are stopped and temporary part files removed on
    exit, and so is the output file when :meth:`finish` did not complete.
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
        workers: int | None = None,
    ) -> None:
        check_writer_arguments(chunk_rows=chunk_rows, loaded_at=loaded_at, workers=workers)
        self.directory = Path(directory)
        self.run_id = run_id
        self.loaded_at = loaded_at.astimezone(timezone.utc)
        self.window = window
        self.config = config
        self.chunk_rows = chunk_rows
        self._unit_rows = min(chunk_rows, UNIT_ROWS)
        self.workers = default_workers() if workers is None else workers
        self._parallel_after = PARALLEL_AFTER_ROWS if workers is None else 0
        self.stats = StagingStats()
        self._normalizer = ChunkNormalizer(config)
        self._registry = _ColumnRegistry(config)
        self._pending: list[Mapping[str, Any]] = []
        self._workers: list[_Worker] = []
        self._workers_failed = False
        self._jobs: collections.deque[_Job] = collections.deque()  # every chunk not merged yet, in order
        self._queue: collections.deque[_Job] = collections.deque()  # chunks on disk waiting for a worker
        self._in_flight_rows = 0
        self._parts: list[_StagedPart] = []
        self._parts_dir: Path | None = None
        self._output: Path | None = None
        self._staged: StagedWindow | None = None
        self._check = WindowCheck(window)

    def close(self) -> None:
        """Stop the workers; remove the part files, and the output file unless :meth:`finish` completed."""
        self._stop_workers(kill=True)
        self._jobs.clear()
        self._queue.clear()
        self._in_flight_rows = 0
        if self._parts_dir is not None:
            shutil.rmtree(self._parts_dir, ignore_errors=True)
            self._parts_dir = None
        self._parts.clear()
        if self._staged is None and self._output is not None:
            with contextlib.suppress(FileNotFoundError):
                self._output.unlink()
            self._output = None

    def add(self, raw: Mapping[str, Any]) -> None:
        """Take one record into the current chunk; hand the chunk on once it is full."""
        if self._staged is not None:
            raise DailyError("this staging writer already finished its window; start a new writer")
        self._check(raw)
        pending = self._pending
        pending.append(raw)
        stats = self.stats
        stats.rows += 1
        if len(pending) > stats.max_buffered_rows:
            stats.max_buffered_rows = len(pending)
        if len(pending) >= self._unit_rows:
            self._dispatch()

    def add_chunk_file(self, path: str, rows: int) -> None:
        """Take a chunk of ``rows`` records that :func:`~daily_provider.normalize.write_records` wrote
        to the file at ``path``, which the writer then owns. The records must have passed this
        window's :class:`WindowCheck` already (:class:`~daily_provider.staging_process.StagingProcess`
        checks them in its own process)."""
        if self._staged is not None:
            raise DailyError("this staging writer already finished its window; start a new writer")
        if self._pending:
            self._dispatch()
        self.stats.rows += rows
        job = self._new_job(rows)
        job.records_path = path
        if self._running_workers() and len(self._queue) < _QUEUED_CHUNKS:
            self._queue.append(job)
        else:
            job.part = self._normalize_here(job)
        self._take(job)

    # -- chunks ------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Hand the pending records on as one chunk: to the workers' queue, or normalized here."""
        records, self._pending = self._pending, []
        job = self._new_job(len(records))
        # The queue is bounded: when the workers fall that far behind, this process lends a hand.
        if self._running_workers() and len(self._queue) < _QUEUED_CHUNKS:
            job.records_path = f"{job.base}.records"
            try:
                write_records(job.records_path, records)
            except Exception:  # a record a worker cannot receive (e.g. of a local class) is normalized here
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(job.records_path)
                job.records_path = None
        if job.records_path is None:
            job.part = write_part(encode_chunk(self._normalizer.run(records)), job.base)
        else:
            self._queue.append(job)
        del records
        self._take(job)

    def _new_job(self, rows: int) -> _Job:
        base = str(self._parts_directory() / f"part-{self.stats.chunks:06d}")
        self.stats.chunks += 1
        return _Job(base, rows)

    def _take(self, job: _Job) -> None:
        """Line ``job`` up for merging in arrival order; merge what is done."""
        self._jobs.append(job)
        self._feed_workers()
        self._merge_done(wait=False)

    def _running_workers(self) -> list[_Worker]:
        """The workers, started once due; empty when this process does all the work."""
        if self._workers_failed or self.workers == 0:
            return []
        if not self._workers and self.stats.rows > self._parallel_after:
            try:
                for _ in range(self.workers):
                    self._workers.append(_Worker(self.config))
            except OSError as exc:
                log.warning("could not start staging worker processes (%s); normalizing in this process", exc)
                self._workers_failed = True
                self._stop_workers(kill=True)
        return self._workers

    def _feed_workers(self) -> None:
        """Move queued chunks to workers with room for them, oldest first."""
        while self._queue and self._workers and not self._workers_failed:
            worker = min(self._workers, key=lambda candidate: candidate.pending)
            if worker.pending >= _JOBS_PER_WORKER:
                return
            job = self._queue.popleft()
            worker.submit(job.records_path)  # type: ignore[arg-type]
            job.worker = worker
            self._in_flight_rows += job.rows
            self.stats.max_in_flight_rows = max(self.stats.max_in_flight_rows, self._in_flight_rows)

    def _merge_done(self, *, wait: bool) -> None:
        """Merge finished chunks in arrival order; with ``wait``, all of them.

        While waiting for a worker, this process normalizes the newest queued chunk itself, so
        that the last chunks of a window are shared instead of left to the workers.
        """
        jobs = self._jobs
        while jobs:
            job = jobs[0]
            if job.part is None:
                if job.worker is None:  # still queued: only when finishing, or after a worker failed
                    if not wait and not self._workers_failed:
                        return
                    self._queue.remove(job)
                    job.part = self._normalize_here(job)
                elif job.worker.ready():
                    job.part = self._collect(job)
                elif not wait:
                    return
                elif self._queue:
                    newest = self._queue.pop()
                    newest.part = self._normalize_here(newest)
                    continue
                else:
                    job.part = self._collect(job)
                self._feed_workers()
            jobs.popleft()
            self._merge(job.part)

    def _normalize_here(self, job: _Job) -> ChunkPart:
        assert job.records_path is not None
        records = read_records(job.records_path)
        os.unlink(job.records_path)
        return write_part(encode_chunk(self._normalizer.run(records)), job.base)

    def _collect(self, job: _Job) -> ChunkPart:
        assert job.worker is not None and job.records_path is not None
        self._in_flight_rows -= job.rows
        try:
            chunk = job.worker.result()
        except ChildGone as exc:
            # A worker died (killed for memory, say): the chunk is still on disk; normalize it here,
            # and the rest of the window too.
            log.warning("a staging worker process ended unexpectedly (%s); normalizing in this process", exc)
            self._workers_failed = True
            return self._normalize_here(job)
        os.unlink(job.records_path)
        return write_part(chunk, job.base)

    def _merge(self, part: ChunkPart) -> None:
        columns = self._registry.merge(part)
        self._parts.append(_StagedPart(part.path, part.values_path, part.rows, columns))
        self.stats.redacted_values += part.chunk.redacted_values
        self.stats.parse_errors += part.chunk.parse_errors

    def _parts_directory(self) -> Path:
        if self._parts_dir is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._parts_dir = Path(tempfile.mkdtemp(prefix=".daily-logs-parts-", dir=self.directory))
        return self._parts_dir

    def _stop_workers(self, *, kill: bool) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop(kill=kill)

    # -- the output file ---------------------------------------------------------------------

    def finish(self) -> StagedWindow:
        """Write the window's single Parquet file with its final column types and return it."""
        if self._staged is not None:
            return self._staged
        if self._pending:
            self._dispatch()
        self._merge_done(wait=True)
        self._stop_workers(kill=False)
        types = self._registry.types
        columns: dict[str, ColumnType] = {**CORE_COLUMNS, **METADATA_COLUMNS}
        columns.update((name, types[name]) for name in sorted(types))
        schema = pa.schema([pa.field(name, PHYSICAL_TYPES[kind]) for name, kind in columns.items()])
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="daily-logs-", suffix=".parquet", dir=self.directory)
        os.close(handle)
        self._output = Path(name)
        rows = 0
        # One thread reads and converts the next row group while this one encodes the current:
        # both are Arrow work that runs without the GIL, and the workers are idle by now.
        with (
            pq.ParquetWriter(
                self._output,
                schema,
                compression=_COMPRESSION,
                write_statistics=_STATISTICS,
                # Text only (repeated names, endpoints, bodies): for numbers, times and flags
                # dictionaries cost 8% of the writing at 1M records and made no smaller file.
                use_dictionary=[field.name for field in schema if field.type == pa.string()],
                # A text column's dictionary is checked against its size limit after each batch
                # of values; in batches of a row group (Arrow's default is 1,024) bodies stay
                # dictionary-encoded longer: the 1M-record file is 155 MB instead of 210 MB.
                write_batch_size=ROW_GROUP_ROWS,
            ) as writer,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="daily-logs-staging") as reader,
        ):
            groups = self._row_groups()
            upcoming = reader.submit(self._conform_group, next(groups, []), columns, schema)
            while True:
                table = upcoming.result()
                if table is None:
                    break
                upcoming = reader.submit(self._conform_group, next(groups, []), columns, schema)
                writer.write_table(table, row_group_size=len(table))
                rows += len(table)
                del table
                _release_memory()
        self._staged = StagedWindow(path=self._output, columns=columns, rows=rows)
        self.close()
        return self._staged

    def _row_groups(self) -> Iterator[list[_StagedPart]]:
        """The parts, in order, in groups of at least ROW_GROUP_ROWS rows (the last may be smaller)."""
        group: list[_StagedPart] = []
        for part in self._parts:
            group.append(part)
            if sum(member.rows for member in group) >= ROW_GROUP_ROWS:
                yield group
                group = []
        if group:
            yield group

    def _conform_group(
        self, group: list[_StagedPart], columns: dict[str, ColumnType], schema: pa.Schema
    ) -> pa.Table | None:
        if not group:
            return None
        tables = [self._conform(part, columns, schema) for part in group]
        for part in group:
            os.unlink(part.path)
            os.unlink(part.values_path)
        # One chunk per column: the Parquet writer encodes a column's chunks separately, so
        # two parts of 5,000 rows were two batches whatever write_batch_size says.
        return pa.concat_tables(tables).combine_chunks()

    def _conform(self, part: _StagedPart, columns: dict[str, ColumnType], schema: pa.Schema) -> pa.Table:
        count = part.rows
        main = _read_ipc(part.path)
        on_rows = _on_rows(part)
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
                arrays.append(main.column(name))
            elif name in on_rows:
                where = part.columns[name]
                arrays.append(_convert(on_rows[name], where.kind, where.mixed, final))
            else:
                arrays.append(pa.nulls(count, PHYSICAL_TYPES[final]))
        return pa.Table.from_arrays(arrays, schema=schema)


# -- the staging process -------------------------------------------------------------------------


def stager_main(inbox_fd: int, outbox_fd: int) -> None:
    """The child of :class:`~daily_provider.staging_process.StagingProcess`: windows' writers, in turn.

    Messages in, for each window: the writer's arguments, then ``("chunk", path, rows)`` for each
    chunk file, answered ``("taken",)``, until ``("finish", stay)``, answered ``("staged",
    StagedWindow, StagingStats)``; with ``stay`` false the process then exits, else it waits for
    the next window's arguments. An error is answered ``("error", exception)`` and ends the
    process; so does the end of the inbox, after the writer removed its files.
    """
    # Ctrl-C reaches the whole process group: the process that started this one stops it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The writer's warnings (a worker that died, say) go to the stderr this process shares.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with os.fdopen(inbox_fd, "rb") as inbox, os.fdopen(outbox_fd, "wb") as outbox:
        while (setup := receive_message(inbox)) is not CLOSED:
            try:
                stay = _stage_one_window(setup, inbox, outbox)
            except Exception as exc:  # the parent raises it again, in its own process
                send_message(outbox, ("error", portable_exception(exc)))
                return
            if not stay:
                return


def _stage_one_window(setup: dict[str, Any], inbox: BinaryIO, outbox: BinaryIO) -> bool:
    """Stage one window from its chunk files; return whether to wait for another window."""
    with StagingWriter(**setup) as writer:
        while (message := receive_message(inbox)) is not CLOSED:
            if message[0] == "chunk":
                writer.add_chunk_file(message[1], message[2])
                send_message(outbox, ("taken",))
                continue
            staged = writer.finish()
            send_message(outbox, ("staged", staged, writer.stats))
            return bool(message[1])
    return False  # the inbox ended mid-window: the writer removed its files
