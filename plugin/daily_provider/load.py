"""Loads, start to finish: walk the API, stage normalized rows, replace windows, keep anchors.

:func:`load_window` loads one window; :func:`load_range` loads a multi-day range in one walk and
replaces each day (or ``step``) as soon as the walk has passed below its start. Both are shared by
the operator and the ``daily-logs`` CLI so every path does exactly the same thing. Each window's
attempt is recorded in the audit table (``running``, then ``success`` or ``failed``), and each
returns a small summary that is safe to log and to push to XCom (no secrets, no rows).

Walks start from the nearest cursor anchor at or after the walked range's end when the warehouse
keeps anchors (see ``anchors.py``), and record new anchors for later walks. Anchors only save
requests: any trouble reading or writing them is a warning, never a failed load.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from daily_provider.anchors import (
    MAX_CANDIDATES,
    Anchor,
    AnchorRecorder,
    choose_anchors,
    mark_at_or_before,
)
from daily_provider.exceptions import DailyConfigError
from daily_provider.hooks.client import DailyClient, WalkStats
from daily_provider.hooks.pagination import StartCursor
from daily_provider.normalize import NormalizeConfig
from daily_provider.redaction import DEFAULT_REDACTION, Action, RedactionPolicy
from daily_provider.schema import ColumnType
from daily_provider.scope import LoadScope, checked_source, covered_part
from daily_provider.sql import validate_name
from daily_provider.staging import StagingStats, StagingWriter
from daily_provider.warehouses.base import (
    STATUS_FAILED,
    STATUS_NOT_COVERED,
    STATUS_PARTIAL,
    STATUS_RUNNING,
    STATUS_SUCCESS,
    AnchorStore,
    LoadRecord,
    MapStore,
    Warehouse,
)
from daily_provider.window import Window

log = logging.getLogger(__name__)

REDACTION_SECRET_ENV = "DAILY_LOGS_REDACTION_SECRET"
DEFAULT_CHUNK_ROWS = 10_000
DEFAULT_RANGE_STEP = timedelta(days=1)


def redaction_policy(
    overrides: Mapping[str, Action] | None = None, *, connection_secret: str | None = None
) -> RedactionPolicy:
    """The redaction policy of a load, built from configuration (the operator and the CLI both call it).

    The default rules with ``overrides`` (key name or dotted path -> action), hashing with the secret
    from ``$DAILY_LOGS_REDACTION_SECRET``, else ``connection_secret`` (the connection's extra), else
    none (hashed fields are then dropped).
    """
    secret = os.environ.get(REDACTION_SECRET_ENV) or connection_secret
    policy = DEFAULT_REDACTION.with_overrides(overrides or {})
    return RedactionPolicy(rules=policy.rules, secret=secret.encode("utf-8")) if secret else policy


def default_table(source: str) -> str:
    """``daily_api_logs`` or ``daily_webhook_logs``."""
    return f"daily_{source}_logs"


@dataclass(frozen=True)
class LoadSummary:
    """What one window load did. Every field is JSON-safe once :meth:`as_dict` has run.

    In range mode the walk's counters (requests, pages, retries, duplicates) are split between
    the windows: each window counts what the walk did since the previous window was replaced.
    """

    load_id: str
    run_id: str
    source: str
    table: str
    window_start: datetime
    window_end: datetime
    rows: int
    pages: int
    requests: int
    retries: int
    duplicates_skipped: int
    redacted_values: int
    parse_errors: int
    seconds: float
    convention: str | None
    started_after: str | None = None  # the anchor's record id the walk started after, None: the newest record
    anchors_rejected: int = 0
    status: str = STATUS_SUCCESS  # success, partial or not_covered (see warehouses.base)
    covered_start: datetime | None = None  # the part of the window replaced; None: nothing
    covered_end: datetime | None = None
    domain_id: str | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("window_start", "window_end", "covered_start", "covered_end"):
            moment = getattr(self, name)
            data[name] = moment.isoformat() if moment is not None else None
        data["seconds"] = round(self.seconds, 3)
        data["rows_per_second"] = round(self.rows_per_second, 1)
        return data

    def coverage(self) -> str:
        """One line on what Daily still had of the window, when it was not all of it ('' otherwise)."""
        window = f"[{self.window_start.isoformat()}, {self.window_end.isoformat()})"
        if self.status == STATUS_NOT_COVERED:
            return (
                f"Daily no longer has any {self.source} record of {window} (retention): the window was "
                "left as it was"
            )
        if self.status == STATUS_PARTIAL and self.covered_start is not None:
            return (
                f"Daily's oldest {self.source} record is from {self.covered_start.isoformat()} (retention): "
                f"only [{self.covered_start.isoformat()}, {self.window_end.isoformat()}) of {window} was "
                "replaced, older rows were kept"
            )
        return ""

    def describe(self) -> str:
        start = f"after anchor {self.started_after}" if self.started_after else "at the newest record"
        coverage = self.coverage()
        return (
            (f"{self.status.upper()}: {coverage}; " if coverage else "")
            + f"loaded {self.rows} {self.source} records into {self.table} for [{self.window_start.isoformat()}, "
            f"{self.window_end.isoformat()}) in {self.seconds:.1f}s ({self.rows_per_second:,.0f} rows/s); "
            f"{self.requests} requests, {self.pages} pages, {self.retries} retries, "
            f"{self.duplicates_skipped} duplicates skipped, {self.redacted_values} values redacted, "
            f"{self.parse_errors} bodies not JSON; walk started {start}"
            + (f", {self.anchors_rejected} anchors refused" if self.anchors_rejected else "")
        )


@dataclass(frozen=True)
class RangeSummary:
    """What one range load did: the walk's totals and one LoadSummary per replaced window."""

    source: str
    table: str
    range_start: datetime
    range_end: datetime
    windows: tuple[LoadSummary, ...]
    requests: int
    pages: int
    retries: int
    seconds: float
    convention: str | None
    started_after: str | None
    anchors_rejected: int

    @property
    def rows(self) -> int:
        return sum(window.rows for window in self.windows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "table": self.table,
            "range_start": self.range_start.isoformat(),
            "range_end": self.range_end.isoformat(),
            "rows": self.rows,
            "requests": self.requests,
            "pages": self.pages,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "convention": self.convention,
            "started_after": self.started_after,
            "anchors_rejected": self.anchors_rejected,
            "windows": [window.as_dict() for window in self.windows],
        }

    def describe(self) -> str:
        start = f"after anchor {self.started_after}" if self.started_after else "at the newest record"
        partial = [w for w in self.windows if w.status == STATUS_PARTIAL]
        missing = [w for w in self.windows if w.status == STATUS_NOT_COVERED]
        coverage = ""
        if partial or missing:
            oldest = partial[0].covered_start.isoformat() if partial and partial[0].covered_start else None
            coverage = (
                f"; Daily no longer has the oldest records (retention): {len(partial)} windows partly and "
                f"{len(missing)} not covered"
                + (f", its oldest record is from {oldest}" if oldest else "")
                + ", rows older than what Daily has were kept"
            )
        return (
            f"loaded {self.rows} {self.source} records into {self.table} for [{self.range_start.isoformat()}, "
            f"{self.range_end.isoformat()}) as {len(self.windows)} windows in one walk, {self.seconds:.1f}s; "
            f"{self.requests} requests, {self.pages} pages, {self.retries} retries; walk started {start}"
            + coverage
        )


def load_window(
    *,
    hook: DailyClient,
    warehouse: Warehouse,
    window: Window,
    source: str,
    table: str | None = None,
    run_id: str,
    config: NormalizeConfig | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    staging_dir: str | Path | None = None,
    url_filter: str | None = None,
    use_anchors: bool = True,
) -> LoadSummary:
    """Load ``source`` records of ``window`` into ``table``, replacing what the window held.

    The table changes only at the warehouse's atomic replace, after every page was fetched and
    staged; any failure before or during it leaves the table as it was and is re-raised after the
    attempt is recorded as ``failed`` in ``daily_logs_loads``. With ``use_anchors`` (and a
    warehouse that is an AnchorStore) the walk starts from the nearest anchor at or after the
    window's end, and the anchors it passes are stored for later walks.
    """
    walk = _Walk.create(
        hook=hook,
        warehouse=warehouse,
        source=source,
        table=table,
        run_id=run_id,
        config=config,
        chunk_rows=chunk_rows,
        staging_dir=staging_dir,
        url_filter=url_filter,
        use_anchors=use_anchors,
    )
    log.info("loading %s records for %s into %s", source, window, walk.table)
    (summary,) = walk.run(window, [window])
    log.info("%s", summary.describe())
    return summary


def load_range(
    *,
    hook: DailyClient,
    warehouse: Warehouse,
    window: Window,
    source: str,
    table: str | None = None,
    run_id: str,
    step: timedelta = DEFAULT_RANGE_STEP,
    config: NormalizeConfig | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    staging_dir: str | Path | None = None,
    url_filter: str | None = None,
    use_anchors: bool = True,
) -> RangeSummary:
    """Load a multi-window range in one walk, replacing each ``step`` window atomically.

    ``window`` is cut at the multiples of ``step`` since the Unix epoch (UTC midnights for the
    default one day), so the pieces are the windows a ``step``-interval DAG loads; the first and
    last may be partial. The walk goes newest to oldest; each piece is staged while the walk is in
    it and replaced as soon as the walk has passed below its start, so at most one piece is staged
    at a time and a failure leaves every piece either fully replaced or as it was (the failed
    piece's attempt is recorded as ``failed``; older pieces were not attempted). Costs about one
    request per ``page_limit`` records of the range, instead of one walk per window.
    """
    pieces = split_window(window, step)
    walk = _Walk.create(
        hook=hook,
        warehouse=warehouse,
        source=source,
        table=table,
        run_id=run_id,
        config=config,
        chunk_rows=chunk_rows,
        staging_dir=staging_dir,
        url_filter=url_filter,
        use_anchors=use_anchors,
    )
    log.info(
        "loading %s records for %s into %s as %d windows of at most %s, in one walk",
        source,
        window,
        walk.table,
        len(pieces),
        step,
    )
    clock = time.monotonic()
    windows = walk.run(window, list(reversed(pieces)))
    stats = walk.stats
    summary = RangeSummary(
        source=source,
        table=walk.table,
        range_start=window.start,
        range_end=window.end,
        windows=tuple(sorted(windows, key=lambda s: s.window_start)),
        requests=stats.requests,
        pages=stats.pages,
        retries=stats.retries,
        seconds=time.monotonic() - clock,
        convention=stats.convention,
        started_after=stats.started_after,
        anchors_rejected=stats.cursors_rejected,
    )
    log.info("%s", summary.describe())
    return summary


def split_window(window: Window, step: timedelta) -> list[Window]:
    """Cut ``window`` at the multiples of ``step`` since the Unix epoch; oldest piece first."""
    if step <= timedelta(0):
        raise DailyConfigError(f"step={step} must be positive, e.g. timedelta(days=1)")
    pieces = []
    start = window.start
    while start < window.end:
        end = min(mark_at_or_before(start, step) + step, window.end)
        pieces.append(Window(start, end))
        start = end
    return pieces


# -- one walk ------------------------------------------------------------------------------------


class _Anchoring:
    """The anchor side of one walk: where to start, which anchors it passed, which were refused."""

    def __init__(self, store: AnchorStore | None, scope: LoadScope) -> None:
        self.store = store
        self.scope = scope
        self.recorder = AnchorRecorder()
        self.refused: list[str] = []

    def candidates(self, end: datetime) -> list[StartCursor]:
        """The cursors of the stored anchors a walk of a range ending at ``end`` may start after."""
        return [anchor.cursor() for anchor in self._usable(end)]

    def _usable(self, end: datetime) -> list[Anchor]:
        if self.store is None:
            return []
        try:
            found = self.store.find_anchors(self.scope, at_or_after=end, limit=MAX_CANDIDATES)
        except Exception as exc:  # anchors only save requests: never fail a load over them
            log.warning("could not read cursor anchors (%s); walking from the newest record", exc)
            return []
        chosen = choose_anchors(found, end)
        if not chosen:
            log.info(
                "no cursor anchor at or after %s for %s; walking from the newest record", end, self.scope
            )
        return chosen

    def on_refused(self, cursor: StartCursor, reason: str) -> None:
        self.refused.append(cursor.id)

    def save(self, convention: str | None) -> None:
        if self.store is None:
            return
        # A refused record the fallback walk passed again is not stored again: it is listed, but the
        # API does not take it as a cursor, and every later walk would pay a request to learn that.
        refused = set(self.refused)
        anchors = [a for a in self.recorder.anchors(convention) if a.record_id not in refused]
        try:
            self.store.drop_anchors(self.scope, self.refused)
            self.store.save_anchors(self.scope, anchors)
        except Exception as exc:  # runs in a finally: must not hide the load's own error
            log.warning(
                "could not store %d cursor anchors (%s); later walks may cost more", len(anchors), exc
            )
        else:
            log.info(
                "stored %d cursor anchors for %s%s",
                len(anchors),
                self.scope,
                f", dropped {len(self.refused)} refused ones" if self.refused else "",
            )


@dataclass(frozen=True)
class _Counters:
    requests: int
    pages: int
    retries: int
    duplicates_skipped: int

    @classmethod
    def of(cls, stats: WalkStats) -> _Counters:
        return cls(stats.requests, stats.pages, stats.retries, stats.duplicates_skipped)


@dataclass
class _Walk:
    """What every window of one walk shares: the hook, the warehouse, settings and the walk's stats."""

    hook: DailyClient
    warehouse: Warehouse
    table: str
    source: str
    run_id: str
    config: NormalizeConfig
    chunk_rows: int
    staging_dir: str | Path | None
    url_filter: str | None
    stats: WalkStats
    anchor_store: AnchorStore | None
    # Known once the walk has asked Daily for the key's domain (see run): the replace, the anchors
    # and the ledger rows are all scoped by it, so domains sharing a table never touch each other.
    domain_id: str | None = None
    anchoring: _Anchoring | None = None
    # The walk's counters when the last window was done: each window counts what came after, so
    # the first one also counts the requests made before the walk (the key's domain).
    counted: _Counters = _Counters(0, 0, 0, 0)

    @classmethod
    def create(
        cls,
        *,
        hook: DailyClient,
        warehouse: Warehouse,
        source: str,
        table: str | None,
        run_id: str,
        config: NormalizeConfig | None,
        chunk_rows: int,
        staging_dir: str | Path | None,
        url_filter: str | None,
        use_anchors: bool,
    ) -> _Walk:
        table = table or default_table(checked_source(source))
        try:
            # Both warehouses take plain identifiers only; say so before any request, not after the walk.
            validate_name(table, what="table")
        except ValueError as exc:
            raise DailyConfigError(f"{exc}; fix the table argument of the operator or CLI") from None
        return cls(
            hook=hook,
            warehouse=warehouse,
            table=table,
            source=source,
            run_id=run_id,
            config=config or NormalizeConfig(),
            chunk_rows=chunk_rows,
            staging_dir=staging_dir,
            url_filter=url_filter,
            stats=WalkStats(),
            anchor_store=warehouse if use_anchors and isinstance(warehouse, AnchorStore) else None,
        )

    def table_columns(self) -> dict[str, ColumnType]:
        """The target table's columns now: where map paths, the column cap and names carry over between
        windows. A warehouse that cannot say (no ``table_columns``) makes every window start fresh."""
        read = getattr(self.warehouse, "table_columns", None)
        return dict(read(self.table)) if read is not None else {}

    def column_comments(self) -> dict[str, str]:
        """The target table's column comments: a flattened column's original JSON path."""
        read = getattr(self.warehouse, "column_comments", None)
        return dict(read(self.table)) if read is not None else {}

    @property
    def scope(self) -> LoadScope:
        """The load's scope; the one value the replace, the anchors and the ledger rows take it from."""
        if self.domain_id is None:
            raise RuntimeError("the load's scope is known only once the key's domain is")
        return LoadScope(self.table, self.source, self.domain_id, self.url_filter or "")

    def run(self, walked: Window, pieces: list[Window]) -> list[LoadSummary]:
        """Walk ``walked`` once and load ``pieces`` (newest first, tiling it), each replaced on its own."""
        pending = deque(pieces)
        done: list[LoadSummary] = []
        current = _Piece.open(self, pending.popleft())
        try:
            self.domain_id = self.hook.domain_id(stats=self.stats)
            self.anchoring = anchoring = _Anchoring(self.anchor_store, self.scope)
            entries = self.hook.iter_entries(
                walked.start,
                walked.end,
                self.source,
                url_filter=self.url_filter,
                stats=self.stats,
                on_page=anchoring.recorder.on_page,
                start_after=anchoring.candidates(walked.end),
                on_rejected_cursor=anchoring.on_refused,
            )
            if not pending:
                current.writer.add_many(entry.record for entry in entries)
            else:
                for entry in entries:
                    # Entries come newest first, so one older than the piece's start means the
                    # walk has passed below it: the piece is complete.
                    while entry.created_at < current.window.start and pending:
                        done.append(current.finish())
                        current = _Piece.open(self, pending.popleft())
                    current.writer.add(entry.record)
            done.append(current.finish())
            while pending:
                # Older than every record the walk yielded: the window is empty, replaced by nothing.
                current = _Piece.open(self, pending.popleft())
                done.append(current.finish())
        except BaseException as exc:
            if not current.replaced:
                current.fail(exc)
            raise
        finally:
            if self.anchoring is not None:
                self.anchoring.save(self.stats.convention)
        return done


class _Piece:
    """One window of a walk while it is staged: its audit row, staging writer and temp directory."""

    def __init__(
        self, walk: _Walk, window: Window, record: LoadRecord, tmp: tempfile.TemporaryDirectory[str]
    ):
        self.walk = walk
        self.window = window
        self.record = record
        self._tmp = tmp
        self._clock = time.monotonic()
        self._before = walk.counted
        self.replaced = False
        self.writer = StagingWriter(
            Path(tmp.name),
            run_id=walk.run_id,
            loaded_at=record.started_at,
            window=window,
            config=walk.config,
            chunk_rows=walk.chunk_rows,
            table_columns=walk.table_columns(),
            column_comments=walk.column_comments(),
            map_bodies=walk.warehouse.map_bodies(walk.table) if isinstance(walk.warehouse, MapStore) else (),
        )

    @classmethod
    def open(cls, walk: _Walk, window: Window) -> _Piece:
        """Record the attempt as ``running`` and set up its staging."""
        record = LoadRecord(
            load_id=uuid.uuid4().hex,
            run_id=walk.run_id,
            table_name=walk.table,
            source=walk.source,
            window_start=window.start,
            window_end=window.end,
            status=STATUS_RUNNING,
            started_at=datetime.now(timezone.utc),
            domain_id=walk.domain_id,
            url_filter=walk.url_filter or None,
        )
        walk.warehouse.record_load(record)
        try:
            tmp = tempfile.TemporaryDirectory(prefix="daily-logs-", dir=walk.staging_dir)
        except BaseException as exc:
            _record_outcome(walk, record, _Counters.of(walk.stats), status=STATUS_FAILED, error=exc)
            raise
        try:
            return cls(walk, window, record, tmp)
        except BaseException as exc:
            tmp.cleanup()
            _record_outcome(walk, record, _Counters.of(walk.stats), status=STATUS_FAILED, error=exc)
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
            if isinstance(walk.warehouse, MapStore):  # before the replace: later windows must agree
                walk.warehouse.save_map_bodies(walk.table, self.writer.new_map_bodies)
            rows = 0
            if covered is not None:
                rows = walk.warehouse.replace_window(scope=walk.scope.covering(covered), staged=staged)
            self.replaced = True
        finally:
            self._cleanup()
        staging = self.writer.stats
        walk.counted = _Counters.of(walk.stats)
        used = _used(self._before, walk.counted)
        if covered is None:
            status = STATUS_NOT_COVERED
        else:
            status = STATUS_SUCCESS if covered == self.window else STATUS_PARTIAL
            self.record.covered_start, self.record.covered_end = covered.start, covered.end
        _record_outcome(walk, self.record, used, status=status, rows=rows, staging=staging)
        summary = LoadSummary(
            load_id=self.record.load_id,
            run_id=walk.run_id,
            source=walk.source,
            table=walk.table,
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
        if status != STATUS_SUCCESS:
            log.warning("%s", summary.coverage())
        return summary

    def fail(self, exc: BaseException) -> None:
        """Record the attempt as ``failed`` (the window was not replaced) and remove its staging."""
        self._cleanup()
        used = _used(self._before, _Counters.of(self.walk.stats))
        _record_outcome(self.walk, self.record, used, status=STATUS_FAILED, error=exc)

    def _cleanup(self) -> None:
        self.writer.close()
        self._tmp.cleanup()


def _used(before: _Counters, after: _Counters) -> _Counters:
    return _Counters(
        requests=after.requests - before.requests,
        pages=after.pages - before.pages,
        retries=after.retries - before.retries,
        duplicates_skipped=after.duplicates_skipped - before.duplicates_skipped,
    )


def _record_outcome(
    walk: _Walk,
    record: LoadRecord,
    used: _Counters,
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
