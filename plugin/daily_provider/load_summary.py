"""What a load reports: :class:`LoadSummary` per window, :class:`RangeSummary` per range load.

Both are safe to log and to push to XCom (no secrets, no rows); ``as_dict`` makes them JSON-safe
and ``describe`` gives the one line an operator on call reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from daily_provider.warehouses.base import STATUS_NOT_COVERED, STATUS_PARTIAL, STATUS_SUCCESS


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
