"""One walk of Daily's logs loading one or more consecutive windows, each replaced on its own.

:class:`WalkLoader` asks Daily for the key's domain (the load's scope needs it), walks the whole
range newest to oldest once, and hands each record to the :class:`WindowAttempt` of the window it
falls in. An attempt is one window's try: its row in the ledger (``running``, then ``success``,
``partial``, ``not_covered`` or ``failed``), its staging writer and temp directory. The table
changes only at the warehouse's atomic replace in :meth:`WindowAttempt.finish`; any failure before
it leaves the window as it was and records the attempt as ``failed``.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from daily_provider.hooks.client import DailyClient, WalkStats
from daily_provider.load_spec import LoadSpec
from daily_provider.load_summary import LoadSummary
from daily_provider.maps import MapBody
from daily_provider.schema import ColumnType
from daily_provider.scope import LoadScope, covered_part
from daily_provider.staging import StagingStats, StagingWriter
from daily_provider.walk_anchors import WalkAnchors
from daily_provider.warehouses.base import (
    STATUS_FAILED,
    STATUS_NOT_COVERED,
    STATUS_PARTIAL,
    STATUS_RUNNING,
    STATUS_SUCCESS,
    LoadRecord,
    MapStore,
    Warehouse,
    anchor_store_of,
)
from daily_provider.window import Window

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestCounts:
    """The walk's request counters at one moment, or what was used between two moments."""

    requests: int = 0
    pages: int = 0
    retries: int = 0
    duplicates_skipped: int = 0

    @classmethod
    def of(cls, stats: WalkStats) -> RequestCounts:
        return cls(stats.requests, stats.pages, stats.retries, stats.duplicates_skipped)

    def since(self, before: RequestCounts) -> RequestCounts:
        return RequestCounts(
            requests=self.requests - before.requests,
            pages=self.pages - before.pages,
            retries=self.retries - before.retries,
            duplicates_skipped=self.duplicates_skipped - before.duplicates_skipped,
        )


class WalkLoader:
    """What every window of one walk shares: the client, the warehouse, the spec and the walk's stats."""

    def __init__(self, hook: DailyClient, warehouse: Warehouse, spec: LoadSpec) -> None:
        self.hook = hook
        self.warehouse = warehouse
        self.spec = spec
        self.stats = WalkStats()
        self.anchor_store = anchor_store_of(warehouse) if spec.use_anchors else None
        # Known once the walk has asked Daily for the key's domain (see load): the replace, the
        # anchors and the ledger rows are all scoped by it, so domains sharing a table never touch.
        self.domain_id: str | None = None
        # The walk's counters when the last window was done: each window counts what came after, so
        # the first one also counts the requests made before the walk (the key's domain).
        self.counted = RequestCounts()
        # The table's map-body decisions, read once per walk and kept up to date as windows add some.
        self._map_bodies: set[MapBody] | None = None

    def used_since_counted(self) -> RequestCounts:
        """What the walk used since the last window was done."""
        return RequestCounts.of(self.stats).since(self.counted)

    @property
    def scope(self) -> LoadScope:
        """The load's scope; the one value the replace, the anchors and the ledger rows take it from."""
        if self.domain_id is None:
            raise RuntimeError("the load's scope is known only once the key's domain is")
        return LoadScope(self.spec.table, self.spec.source, self.domain_id, self.spec.url_filter)

    def table_columns(self) -> dict[str, ColumnType]:
        """The target table's columns now: where map paths, the column cap and names carry over between
        windows. A warehouse that cannot say (no ``table_columns``) makes every window start fresh."""
        read = getattr(self.warehouse, "table_columns", None)
        return dict(read(self.spec.table)) if read is not None else {}

    def column_comments(self) -> dict[str, str]:
        """The target table's column comments: a flattened column's original JSON path."""
        read = getattr(self.warehouse, "column_comments", None)
        return dict(read(self.spec.table)) if read is not None else {}

    def map_bodies(self) -> set[MapBody]:
        """The endpoints whose body the table keeps whole (``daily_logs_maps``), when it keeps any."""
        if self._map_bodies is None:
            self._map_bodies = set()
            if isinstance(self.warehouse, MapStore):
                self._map_bodies = self.warehouse.map_bodies(self.spec.table)
        return set(self._map_bodies)

    def save_map_bodies(self, bodies: Sequence[MapBody]) -> None:
        """Record a window's new map bodies, before its replace: later windows must agree with it."""
        if isinstance(self.warehouse, MapStore):
            self.warehouse.save_map_bodies(self.spec.table, bodies)
        if self._map_bodies is not None:
            self._map_bodies.update(bodies)

    def load(self, walked: Window, windows: list[Window]) -> list[LoadSummary]:
        """Walk ``walked`` once and load ``windows`` (newest first, tiling it), each replaced on its own."""
        pending = deque(windows)
        done: list[LoadSummary] = []
        current = WindowAttempt.open(self, pending.popleft())
        anchors: WalkAnchors | None = None
        try:
            self.domain_id = self.hook.domain_id(stats=self.stats)
            anchors = WalkAnchors(self.anchor_store, self.scope)
            entries = self.hook.iter_entries(
                walked.start,
                walked.end,
                self.spec.source,
                url_filter=self.spec.url_filter or None,
                stats=self.stats,
                on_page=anchors.recorder.on_page,
                start_after=anchors.candidates(walked.end),
                on_rejected_cursor=anchors.on_refused,
            )
            if not pending:
                current.writer.add_many(entry.record for entry in entries)
            else:
                for entry in entries:
                    # Entries come newest first, so one older than the window's start means the
                    # walk has passed below it: that window is complete.
                    while entry.created_at < current.window.start and pending:
                        done.append(current.finish())
                        current = WindowAttempt.open(self, pending.popleft())
                    current.writer.add(entry.record)
            done.append(current.finish())
            while pending:
                # Older than every record the walk yielded: the window is empty, replaced by nothing.
                current = WindowAttempt.open(self, pending.popleft())
                done.append(current.finish())
        except BaseException as exc:
            if not current.replaced:
                current.fail(exc)
            raise
        finally:
            if anchors is not None:
                anchors.save(self.stats.convention)
        return done


class WindowAttempt:
    """One window of a walk while it is staged: its ledger row, staging writer and temp directory."""

    def __init__(
        self,
        walk: WalkLoader,
        window: Window,
        record: LoadRecord,
        tmp: tempfile.TemporaryDirectory[str],
    ) -> None:
        self.walk = walk
        self.window = window
        self.record = record
        self._tmp = tmp
        self._clock = time.monotonic()
        self._before = walk.counted
        self.replaced = False
        spec = walk.spec
        self.writer = StagingWriter(
            Path(tmp.name),
            run_id=spec.run_id,
            loaded_at=record.started_at,
            window=window,
            config=spec.config,
            chunk_rows=spec.chunk_rows,
            table_columns=walk.table_columns(),
            column_comments=walk.column_comments(),
            map_bodies=walk.map_bodies(),
        )

    @classmethod
    def open(cls, walk: WalkLoader, window: Window) -> WindowAttempt:
        """Record the attempt as ``running`` and set up its staging."""
        spec = walk.spec
        record = LoadRecord(
            load_id=uuid.uuid4().hex,
            run_id=spec.run_id,
            table_name=spec.table,
            source=spec.source,
            window_start=window.start,
            window_end=window.end,
            status=STATUS_RUNNING,
            started_at=datetime.now(timezone.utc),
            domain_id=walk.domain_id,
            url_filter=spec.url_filter or None,
            window_source=spec.window_source,
        )
        walk.warehouse.record_load(record)
        try:
            tmp = tempfile.TemporaryDirectory(prefix="daily-logs-", dir=spec.staging_dir)
        except BaseException as exc:
            _record_outcome(walk, record, walk.used_since_counted(), status=STATUS_FAILED, error=exc)
            raise
        try:
            return cls(walk, window, record, tmp)
        except BaseException as exc:
            tmp.cleanup()
            _record_outcome(walk, record, walk.used_since_counted(), status=STATUS_FAILED, error=exc)
            raise

    def finish(self) -> LoadSummary:
        """Replace the covered part of the window by the staged rows, record it, return the summary.

        Call it once the walk has passed below the window's start or has ended: the part of the
        window it covered is then known (see ``scope.covered_part``). Nothing covered: nothing changes.
        """
        walk = self.walk
        stats = walk.stats
        covered = covered_part(self.window, reached_end=stats.reached_end, oldest_seen=stats.oldest_seen)
        try:
            staged = self.writer.finish()
            walk.save_map_bodies(self.writer.new_map_bodies)
            rows = 0
            if covered is not None:
                rows = walk.warehouse.replace_window(scope=walk.scope.covering(covered), staged=staged)
            self.replaced = True
        finally:
            self._cleanup()
        walk.counted = RequestCounts.of(stats)
        used = walk.counted.since(self._before)
        if covered is None:
            status = STATUS_NOT_COVERED
        else:
            status = STATUS_SUCCESS if covered == self.window else STATUS_PARTIAL
            self.record.covered_start, self.record.covered_end = covered.start, covered.end
        _record_outcome(walk, self.record, used, status=status, rows=rows, staging=self.writer.stats)
        summary = self._summary(used, status, rows, covered)
        if status != STATUS_SUCCESS:
            log.warning("%s", summary.coverage())
        return summary

    def _summary(self, used: RequestCounts, status: str, rows: int, covered: Window | None) -> LoadSummary:
        walk, stats, staging = self.walk, self.walk.stats, self.writer.stats
        return LoadSummary(
            load_id=self.record.load_id,
            run_id=walk.spec.run_id,
            source=walk.spec.source,
            table=walk.spec.table,
            window_start=self.window.start,
            window_end=self.window.end,
            rows=rows,
            pages=used.pages,
            requests=used.requests,
            retries=used.retries,
            duplicates_skipped=used.duplicates_skipped,
            redacted_values=staging.redacted_values,
            parse_errors=staging.parse_errors,
            seconds=time.monotonic() - self._clock,
            convention=stats.convention,
            started_after=stats.started_after,
            anchors_rejected=stats.cursors_rejected,
            status=status,
            covered_start=covered.start if covered else None,
            covered_end=covered.end if covered else None,
            domain_id=walk.domain_id,
        )

    def fail(self, exc: BaseException) -> None:
        """Record the attempt as ``failed`` (the window was not replaced) and remove its staging."""
        self._cleanup()
        used = RequestCounts.of(self.walk.stats).since(self._before)
        _record_outcome(self.walk, self.record, used, status=STATUS_FAILED, error=exc)

    def _cleanup(self) -> None:
        self.writer.close()
        self._tmp.cleanup()


def _record_outcome(
    walk: WalkLoader,
    record: LoadRecord,
    used: RequestCounts,
    *,
    status: str,
    rows: int = 0,
    staging: StagingStats | None = None,
    error: BaseException | None = None,
) -> None:
    stats = walk.stats
    record.domain_id = walk.domain_id
    record.status = status
    record.finished_at = datetime.now(timezone.utc)
    record.rows = rows
    record.pages = used.pages
    record.requests = used.requests
    record.retries = used.retries
    record.redacted_values = staging.redacted_values if staging else 0
    record.parse_errors = staging.parse_errors if staging else 0
    record.error = f"{type(error).__name__}: {error}"[:2000] if error is not None else None
    record.extra = {
        "convention": stats.convention,
        "started_after": stats.started_after,
        "anchors_rejected": stats.cursors_rejected,
    }
    if status == STATUS_FAILED:
        # The load already failed; a second failure writing the audit row must not hide the first.
        try:
            walk.warehouse.record_load(record)
        except Exception:
            log.exception("could not record the failed load %s in the audit table", record.load_id)
    else:
        walk.warehouse.record_load(record)
