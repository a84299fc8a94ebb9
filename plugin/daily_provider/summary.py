"""A readable summary of what a DuckDB logs database holds (``daily-logs summary``, ``make demo``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from daily_provider.sql import render, validate_name
from daily_provider.warehouses.base import LOADS_TABLE

LOG_TABLES = ("daily_api_logs", "daily_webhook_logs")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("  " + line for line in lines)


def _query(con: duckdb.DuckDBPyConnection, name: str, **identifiers: str) -> tuple[list[str], list[tuple]]:
    cursor = con.execute(render("duckdb", name, **identifiers))
    return [d[0] for d in cursor.description], cursor.fetchall()


def summary_text(path: str | Path, tables: Sequence[str] = LOG_TABLES) -> str:
    """Return the summary of the logs tables in the DuckDB file at ``path`` (read-only)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        present = {
            row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        out = [f"DuckDB file: {path}"]
        for table in tables:
            if table not in present:
                out.append(f"\n{table}: not loaded yet")
                continue
            quoted = f'"{validate_name(table)}"'
            out.append(f"\n{table}")
            out.append("  rows per day:")
            out.append(_table(*_query(con, "summary_rows_per_day", table=quoted)))
            out.append("  top endpoints:")
            out.append(_table(*_query(con, "summary_top_endpoints", table=quoted)))
            out.append("  quality:")
            out.append(_table(*_query(con, "summary_quality", table=quoted)))
        if LOADS_TABLE in present:
            out.append(f"\nloads ({LOADS_TABLE}):")
            out.append(_table(*_query(con, "summary_loads", loads=f'"{LOADS_TABLE}"')))
        return "\n".join(out)
    finally:
        con.close()


def print_summary(path: str | Path) -> None:
    print(summary_text(path))
