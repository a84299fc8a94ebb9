"""How a staged window's columns land in a BigQuery logs table (pure, no I/O).

BigQuery can add nullable columns and widen INT64 to FLOAT64 in place, but it cannot turn a typed
column into STRING (``ALTER COLUMN ... SET DATA TYPE`` allows only a few numeric coercions), and
rewriting a partitioned logs table to change one column would bill a scan of the whole table. So
when :func:`daily_provider.schema.widen` says a column must become STRING and the table's column is
INT64, FLOAT64, BOOL, TIMESTAMP or JSON, the column keeps its type and gains a STRING sibling named
by :func:`string_sibling`: each value goes into the typed column when casting it there and back
gives the same text (nothing lost), otherwise into the sibling. Every staged value lands in exactly
one of the two, and old rows keep their values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from daily_provider.exceptions import WarehouseError
from daily_provider.schema import MAX_COLUMN_NAME_LENGTH, ColumnType, is_valid_column_name, widen
from daily_provider.warehouses.base import KEY_COLUMNS

BIGQUERY_TYPES: dict[ColumnType, str] = {
    ColumnType.BOOL: "BOOL",
    ColumnType.INT64: "INT64",
    ColumnType.FLOAT64: "FLOAT64",
    ColumnType.STRING: "STRING",
    ColumnType.TIMESTAMP: "TIMESTAMP",
    ColumnType.JSON: "JSON",
}

# The staging table holds JSON columns as the JSON text the Parquet file carries; the INSERT
# parses them. Loading text into a JSON column directly would fail the whole load on one bad value.
STAGING_TYPES: dict[ColumnType, str] = {**BIGQUERY_TYPES, ColumnType.JSON: "STRING"}

# The REST API reports legacy names (INTEGER, FLOAT, BOOLEAN) for columns created with either name.
_TYPES_BY_API_NAME: dict[str, ColumnType] = {
    **{name: column_type for column_type, name in BIGQUERY_TYPES.items()},
    "INTEGER": ColumnType.INT64,
    "FLOAT": ColumnType.FLOAT64,
    "BOOLEAN": ColumnType.BOOL,
}


# Column names built from body keys never end with "_" (schema.sanitize_key keeps such a key only
# after appending a hash), so a name with this suffix cannot collide with a flattened key path.
SIBLING_SUFFIX = "__str_"

# Huge integers inside bodies must not fail the load: round them like FLOAT64 would.
_PARSE_JSON = "PARSE_JSON({value}, wide_number_mode => 'round')"
_SAFE_PARSE_JSON = "SAFE.PARSE_JSON({value}, wide_number_mode => 'round')"


def quote_column(name: str) -> str:
    """Backtick-quote a column name after checking it follows the column naming rule."""
    if not is_valid_column_name(name):
        raise WarehouseError(
            f"column name {name!r} is not allowed (lowercase letters, digits and '_', starting with a "
            "letter or '_', at most 300 characters); column names must come from schema.column_name"
        )
    return f"`{name}`"


# BigQuery's limit on a column description.
MAX_DESCRIPTION_LENGTH = 1024


def description_literal(text: str) -> str:
    """``text`` as a BigQuery string literal for a column description (escaped, at most 1,024 characters)."""
    out = []
    for char in text[:MAX_DESCRIPTION_LENGTH]:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def string_sibling(name: str) -> str:
    """The STRING column that takes ``name``'s values that its own type cannot hold."""
    sibling = name + SIBLING_SUFFIX
    if len(sibling) <= MAX_COLUMN_NAME_LENGTH:
        return sibling
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    keep = MAX_COLUMN_NAME_LENGTH - len(SIBLING_SUFFIX) - len(digest) - 1
    return f"{name[:keep]}_{digest}{SIBLING_SUFFIX}"


def column_type_from_api(table: str, column: str, api_type: str, mode: str | None) -> ColumnType:
    """Map a BigQuery field type to the logical type; unmanaged types are an error naming the column."""
    column_type = _TYPES_BY_API_NAME.get(api_type.upper())
    if column_type is None or (mode or "NULLABLE").upper() == "REPEATED":
        known = ", ".join(BIGQUERY_TYPES.values())
        raise WarehouseError(
            f"column {column} of BigQuery table {table} is {mode or ''} {api_type}, which this provider does "
            f"not manage (it writes {known}); change the column back to one of those types or use another table"
        )
    return column_type


@dataclass(frozen=True)
class ColumnPlan:
    """What one window needs: schema changes before the load, and the INSERT's column list."""

    add: dict[str, ColumnType] = field(default_factory=dict)
    to_float: list[str] = field(default_factory=list)
    insert_columns: list[str] = field(default_factory=list)
    insert_values: list[str] = field(default_factory=list)
    siblings: dict[str, str] = field(default_factory=dict)

    @property
    def changes_schema(self) -> bool:
        return bool(self.add or self.to_float)


def plan_columns(
    table_types: Mapping[str, ColumnType], staged_types: Mapping[str, ColumnType], *, what: str
) -> ColumnPlan:
    """Decide the schema changes and the INSERT expressions for ``staged_types`` into ``table_types``.

    New columns are added with the staged type; INT64 columns that must hold FLOAT64 are widened
    in place; a column that would have to become STRING keeps its type and gets a STRING sibling
    (module docstring). Table columns the staged window lacks are left out (NULL).
    """
    plan = ColumnPlan()
    for name, staged_type in staged_types.items():
        column = quote_column(name)
        table_type = table_types.get(name)
        if name in KEY_COLUMNS and table_type not in (None, KEY_COLUMNS[name]):
            raise WarehouseError(
                f"the table's key column {name} is {table_type.value if table_type else None}, expected "
                f"{KEY_COLUMNS[name].value}; refusing to load {what}. Use a table this provider created."
            )
        if table_type is None:
            plan.add[name] = staged_type
            table_type = staged_type
        wider = widen(table_type, staged_type)
        assert wider is not None  # both types are known
        if wider == ColumnType.FLOAT64 and table_type == ColumnType.INT64:
            plan.to_float.append(name)
            table_type = wider
        if wider == table_type:
            plan.insert_columns.append(column)
            plan.insert_values.append(_cast(column, table_type, staged_type))
            continue
        sibling = string_sibling(name)
        sibling_type = table_types.get(sibling)
        if sibling_type is None:
            plan.add[sibling] = ColumnType.STRING
        elif sibling_type != ColumnType.STRING:
            raise WarehouseError(
                f"column {sibling} of the table is {sibling_type.value}; it must be STRING to hold the "
                f"values of {name} that its type {table_type.value} cannot, while loading {what}"
            )
        plan.siblings[name] = sibling
        typed, text = _split(column, table_type, staged_type)
        plan.insert_columns.extend([column, quote_column(sibling)])
        plan.insert_values.extend([typed, text])
    return plan


def _cast(column: str, table_type: ColumnType, staged_type: ColumnType) -> str:
    """The value of a staged column for a table column whose type holds it as it is."""
    if table_type == staged_type:
        return _PARSE_JSON.format(value=column) if table_type == ColumnType.JSON else column
    if table_type == ColumnType.STRING and staged_type == ColumnType.JSON:
        return column  # the staged JSON is already text
    return f"CAST({column} AS {BIGQUERY_TYPES[table_type]})"


def _split(column: str, table_type: ColumnType, staged_type: ColumnType) -> tuple[str, str]:
    """(typed value, sibling text) for a staged column whose values may not fit the table's type."""
    text = column if staged_type in (ColumnType.STRING, ColumnType.JSON) else f"CAST({column} AS STRING)"
    if table_type == ColumnType.JSON:
        typed = _SAFE_PARSE_JSON.format(value=text)
        back = f"TO_JSON_STRING({typed})"
    else:
        typed = f"SAFE_CAST({text} AS {BIGQUERY_TYPES[table_type]})"
        back = f"CAST({typed} AS STRING)"
    # A NULL comparison (the cast failed) counts as "does not fit": IF takes the else branch.
    fits = f"{back} = {text}"
    return f"IF({fits}, {typed}, NULL)", f"IF({fits}, NULL, {text})"
