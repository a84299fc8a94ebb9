"""What one load is asked to do: :class:`LoadSpec`, the settings every window of a load shares.

The operator and the ``daily-logs`` CLI build one LoadSpec from their arguments and hand it to
:func:`daily_provider.load.load_window` or :func:`daily_provider.load.load_range`; the walk and each
window's staging read their settings from it. Building it checks the source and the table name,
so a bad argument fails before any request is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from daily_provider.exceptions import DailyConfigError
from daily_provider.normalize import NormalizeConfig
from daily_provider.scope import checked_source
from daily_provider.sql import validate_name

DEFAULT_CHUNK_ROWS = 10_000


def default_table(source: str) -> str:
    """``daily_api_logs`` or ``daily_webhook_logs``."""
    return f"daily_{source}_logs"


@dataclass(frozen=True)
class LoadSpec:
    """The settings of one load: which records, into which table, and how they are staged.

    :param source: ``api`` or ``webhook``.
    :param run_id: The run the rows and ledger rows are marked with (``_run_id``).
    :param table: The target table; empty or None means :func:`default_table` of the source.
    :param url_filter: Load only the records of this URL (Daily's ``url`` filter); empty: every URL.
    :param config: How records become rows (redaction, flattening caps, map paths).
    :param chunk_rows: Rows staged in memory at a time.
    :param staging_dir: Where the staging files go (the system's temp directory when None).
    :param use_anchors: Start walks from the warehouse's stored cursor anchors when it keeps them.
    :param window_source: Where the window came from (``arguments``, ``partition``, ``data_interval``;
        None outside Airflow), written to each ledger row.
    """

    source: str
    run_id: str
    table: str = ""
    url_filter: str = ""
    config: NormalizeConfig = field(default_factory=NormalizeConfig)
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    staging_dir: str | Path | None = None
    use_anchors: bool = True
    window_source: str | None = None

    def __post_init__(self) -> None:
        source = checked_source(self.source)
        table = self.table or default_table(source)
        try:
            # Both warehouses take plain identifiers only; say so before any request, not after the walk.
            validate_name(table, what="table")
        except ValueError as exc:
            raise DailyConfigError(f"{exc}; fix the table argument of the operator or CLI") from None
        object.__setattr__(self, "table", table)
        object.__setattr__(self, "url_filter", self.url_filter or "")
