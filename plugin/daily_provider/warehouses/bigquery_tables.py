"""What the BigQuery tables look like: the logs table, the audit table and a window's staging table.

Pure definitions (no requests): schemas with descriptions, partitioning and clustering, the
staging table's name and schema, and the checks on a staged window's columns.
"""

from __future__ import annotations

from collections.abc import Mapping

from google.cloud import bigquery

from daily_provider.schema import CORE_COLUMN_DESCRIPTIONS, FIXED_COLUMNS, ColumnType
from daily_provider.warehouses.bigquery_columns import (
    BIGQUERY_TYPES,
    STAGING_TYPES,
    column_type_from_api,
)
from daily_provider.warehouses.bigquery_names import TableRef

TABLE_DESCRIPTION = (
    "Daily (daily.co) REST API and webhook logs loaded by airflow-provider-daily. Each load replaces "
    "one source's [start, end) window of created_at; flattened request__/response__ columns are added "
    "as new body keys appear. A column named <name>__str_ holds the values of <name> that its type "
    "cannot (see the provider's README)."
)
LOADS_DESCRIPTION = (
    "One row per load attempt of airflow-provider-daily: running, success, partial (Daily no longer had "
    "the window's oldest part; only [covered_start, covered_end) was replaced), not_covered (nothing "
    "changed) or failed."
)
LOADS_SCHEMA: dict[str, str] = {
    "load_id": "STRING",
    "run_id": "STRING",
    "table_name": "STRING",
    "source": "STRING",
    "window_start": "TIMESTAMP",
    "window_end": "TIMESTAMP",
    "status": "STRING",
    "started_at": "TIMESTAMP",
    "finished_at": "TIMESTAMP",
    "rows": "INT64",
    "pages": "INT64",
    "requests": "INT64",
    "retries": "INT64",
    "redacted_values": "INT64",
    "parse_errors": "INT64",
    "error": "STRING",
    "extra": "JSON",
    "domain_id": "STRING",
    "url_filter": "STRING",
    "covered_start": "TIMESTAMP",
    "covered_end": "TIMESTAMP",
    "window_source": "STRING",
}
CLUSTERING = ["source", "endpoint", "status"]


def staging_name(table: str, load_digest: str, try_number: int) -> str:
    # The same window, content and try always use the same staging table, so a repeated call
    # finds the table its re-attached load job filled.
    return f"_daily_stage_{table[:200]}_{load_digest}_t{try_number}"


def staging_schema(columns: Mapping[str, ColumnType]) -> list[bigquery.SchemaField]:
    # All nullable: a bad staged row must fail inside the transaction (rolled back), not here.
    return [bigquery.SchemaField(name, STAGING_TYPES[column_type]) for name, column_type in columns.items()]


def logs_table(ref: TableRef, require_partition_filter: bool) -> bigquery.Table:
    schema = [
        bigquery.SchemaField(
            name,
            BIGQUERY_TYPES[column_type],
            mode="REQUIRED" if name in ("id", "created_at") else "NULLABLE",
            description=CORE_COLUMN_DESCRIPTIONS[name],
        )
        for name, column_type in FIXED_COLUMNS.items()
    ]
    table = bigquery.Table(ref.table_id, schema=schema)
    table.time_partitioning = bigquery.TimePartitioning(
        type_=bigquery.TimePartitioningType.DAY, field="created_at"
    )
    table.clustering_fields = list(CLUSTERING)
    table.require_partition_filter = require_partition_filter
    table.description = TABLE_DESCRIPTION
    return table


def loads_table(ref: TableRef) -> bigquery.Table:
    schema = [
        bigquery.SchemaField(name, field_type, mode="REQUIRED" if name == "load_id" else "NULLABLE")
        for name, field_type in LOADS_SCHEMA.items()
    ]
    table = bigquery.Table(ref.table_id, schema=schema)
    table.description = LOADS_DESCRIPTION
    return table


def table_types(ref: TableRef, table: bigquery.Table) -> dict[str, ColumnType]:
    return {
        field.name: column_type_from_api(ref.table_id, field.name, field.field_type, field.mode)
        for field in table.schema
    }
