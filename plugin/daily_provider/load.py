"""One window's load, start to finish: walk the API, stage normalized rows, replace the window.

Shared by the operator and the ``daily-logs`` CLI so both do exactly the same thing. It records
every attempt in the audit table (``running``, then ``success`` or ``failed``) and returns a
small summary that is safe to log and to push to XCom (no secrets, no rows).
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from daily_provider.hooks.daily import DailyHook, WalkStats
from daily_provider.normalize import NormalizeConfig
from daily_provider.staging import StagingWriter
from daily_provider.warehouses.base import LoadRecord, Warehouse
from daily_provider.window import Window

log = logging.getLogger(__name__)

SOURCES = ("api", "webhook")
REDACTION_SECRET_ENV = "DAILY_LOGS_REDACTION_SECRET"
DEFAULT_CHUNK_ROWS = 10_000


def default_table(source: str) -> str:
    """``daily_api_logs`` or ``daily_webhook_logs``."""
    return f"daily_{source}_logs"


@dataclass(frozen=True)
class LoadSummary:
    """What one window load did. Every field is JSON-safe once :meth:`as_dict` has run."""

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

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["window_start"] = self.window_start.isoformat()
        data["window_end"] = self.window_end.isoformat()
        data["seconds"] = round(self.seconds, 3)
        data["rows_per_second"] = round(self.rows_per_second, 1)
        return data

    def describe(self) -> str:
        return (
            f"loaded {self.rows} {self.source} records into {self.table} for [{self.window_start.isoformat()}, "
            f"{self.window_end.isoformat()}) in {self.seconds:.1f}s ({self.rows_per_second:,.0f} rows/s); "
            f"{self.requests} requests, {self.pages} pages, {self.retries} retries, "
            f"{self.duplicates_skipped} duplicates skipped, {self.redacted_values} values redacted, "
            f"{self.parse_errors} bodies not JSON"
        )


def load_window(
    *,
    hook: DailyHook,
    warehouse: Warehouse,
    window: Window,
    source: str,
    table: str | None = None,
    run_id: str,
    config: NormalizeConfig | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    staging_dir: str | Path | None = None,
    url_filter: str | None = None,
) -> LoadSummary:
    """Load ``source`` records of ``window`` into ``table``, replacing what the window held.

    The table changes only at the warehouse's atomic replace, after every page was fetched and
    staged; any failure before or during it leaves the table as it was and is re-raised after the
    attempt is recorded as ``failed`` in ``daily_logs_loads``.
    """
    if source not in SOURCES:
        raise ValueError(f"source={source!r} is not one of {', '.join(SOURCES)}")
    table = table or default_table(source)
    config = config or NormalizeConfig()
    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    record = LoadRecord(
        load_id=uuid.uuid4().hex,
        run_id=run_id,
        table_name=table,
        source=source,
        window_start=window.start,
        window_end=window.end,
        status="running",
        started_at=started,
    )
    warehouse.record_load(record)
    stats = WalkStats()
    log.info("loading %s records for %s into %s", source, window, table)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="daily-logs-", dir=staging_dir) as tmp,
            StagingWriter(
                Path(tmp),
                run_id=run_id,
                loaded_at=started,
                window=window,
                config=config,
                chunk_rows=chunk_rows,
            ) as writer,
        ):
            writer.add_many(
                hook.iter_logs(window.start, window.end, source, url_filter=url_filter, stats=stats)
            )
            staged = writer.finish()
            rows = warehouse.replace_window(table=table, source=source, window=window, staged=staged)
            staging_stats = writer.stats
    except BaseException as exc:
        _record_outcome(warehouse, record, stats, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    _record_outcome(
        warehouse,
        record,
        stats,
        status="success",
        rows=rows,
        redacted=staging_stats.redacted_values,
        parse_errors=staging_stats.parse_errors,
    )
    summary = LoadSummary(
        load_id=record.load_id,
        run_id=run_id,
        source=source,
        table=table,
        window_start=window.start,
        window_end=window.end,
        rows=rows,
        pages=stats.pages,
        requests=stats.requests,
        retries=stats.retries,
        duplicates_skipped=stats.duplicates_skipped,
        redacted_values=staging_stats.redacted_values,
        parse_errors=staging_stats.parse_errors,
        seconds=time.monotonic() - clock,
        convention=stats.convention,
    )
    log.info("%s", summary.describe())
    return summary


def _record_outcome(
    warehouse: Warehouse,
    record: LoadRecord,
    stats: WalkStats,
    *,
    status: str,
    rows: int = 0,
    redacted: int = 0,
    parse_errors: int = 0,
    error: str | None = None,
) -> None:
    record.status = status
    record.finished_at = datetime.now(timezone.utc)
    record.rows = rows
    record.pages = stats.pages
    record.requests = stats.requests
    record.retries = stats.retries
    record.redacted_values = redacted
    record.parse_errors = parse_errors
    record.error = error[:2000] if error else None
    if status == "failed":
        # The load already failed; a second failure writing the audit row must not hide the first.
        try:
            warehouse.record_load(record)
        except Exception:
            log.exception("could not record the failed load %s in the audit table", record.load_id)
    else:
        warehouse.record_load(record)
