"""A readable summary of what a DuckDB logs database holds (``daily-logs summary``, ``make demo``).

The same queries feed the text (:func:`summary_text`) and the JSON document for scripts
(:func:`summary_data`). The file is opened read-only and must exist: a summary never creates one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from daily_provider.exceptions import DailyConfigError
from daily_provider.sql import render, validate_name
from daily_provider.warehouses.base import LOADS_TABLE

LOG_TABLES = ("daily_api_logs", "daily_webhook_logs")
# Per logs table: section name in the JSON document, its title in the text, its SQL file.
_SECTIONS = (
    ("rows_per_day", "rows per day", "summary_rows_per_day"),
    ("top_endpoints", "top endpoints", "summary_top_endpoints"),
    ("quality", "quality", "summary_quality"),
    ("columns", "columns", "summary_columns"),
)

Result = tuple[list[str], list[tuple[Any, ...]]]


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("  " + line for line in lines)


def _query(con: duckdb.DuckDBPyConnection, name: str, **identifiers: str) -> Result:
    cursor = con.execute(render("duckdb", name, **identifiers))
    return [d[0] for d in cursor.description], cursor.fetchall()


def _read(
    path: str | Path, tables: Sequence[str]
) -> tuple[dict[str, dict[str, Result] | None], Result | None]:
    """Run the summary queries: per logs table its sections (None: not loaded), and the loads."""
    if not Path(path).is_file():
        raise DailyConfigError(
            f"no DuckDB file at {path}; give the --duckdb path a load wrote (daily-logs load --duckdb ...)"
        )
    con = duckdb.connect(str(path), read_only=True)
    try:
        present = {
            row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        logs: dict[str, dict[str, Result] | None] = {}
        for table in tables:
            if table not in present:
                logs[table] = None
                continue
            quoted = f'"{validate_name(table)}"'
            logs[table] = {key: _query(con, sql, table=quoted) for key, _, sql in _SECTIONS}
        loads = _query(con, "summary_loads", loads=f'"{LOADS_TABLE}"') if LOADS_TABLE in present else None
        return logs, loads
    finally:
        con.close()


def summary_text(path: str | Path, tables: Sequence[str] = LOG_TABLES) -> str:
    """Return the summary of the logs tables in the DuckDB file at ``path`` (read-only)."""
    logs, loads = _read(path, tables)
    out = [f"DuckDB file: {path}"]
    for table, sections in logs.items():
        if sections is None:
            out.append(f"\n{table}: not loaded yet")
            continue
        out.append(f"\n{table}")
        for key, title, _ in _SECTIONS:
            out.append(f"  {title}:")
            out.append(_table(*sections[key]))
    if loads is not None:
        out.append(f"\nloads ({LOADS_TABLE}):")
        out.append(_table(*loads))
    return "\n".join(out)


def summary_data(path: str | Path, tables: Sequence[str] = LOG_TABLES) -> dict[str, Any]:
    """Return the summary as a JSON-safe dict: each section a list of row objects.

    ``{"duckdb": path, "tables": {table: null | {"rows_per_day": [...], "top_endpoints": [...],
    "quality": [...]}}, "loads": null | [...]}``; a table that was never loaded is ``null``.
    """
    logs, loads = _read(path, tables)
    return {
        "duckdb": str(path),
        "tables": {
            table: None if sections is None else {key: _records(*result) for key, result in sections.items()}
            for table, sections in logs.items()
        },
        "loads": None if loads is None else _records(*loads),
    }


def _records(headers: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(headers, map(_json_value, row), strict=True)) for row in rows]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
