"""Operator extra links: buttons on a task instance in the Airflow UI that open what the task wrote.

Airflow 3 calls ``get_link`` in the worker when the task finishes, with the operator that ran, and
stores the URL in XCom; the UI then reads it back through the serialized DAG. So the link sees the
rendered fields and whatever ``execute`` learnt (the project of the credentials), and a run whose
names were never known shows no button rather than a wrong one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator

BIGQUERY_CONSOLE = "https://console.cloud.google.com/bigquery"


def bigquery_table_url(project: str, dataset: str, table: str) -> str:
    """The Google Cloud console page of a table, in the form the Google provider's BigQueryTableLink uses."""
    query = {
        "referrer": "search",
        "project": project,
        "d": dataset,
        "p": project,
        "page": "table",
        "t": table,
    }
    return f"{BIGQUERY_CONSOLE}?{urlencode(query)}"


class BigQueryTableLink(BaseOperatorLink):
    """The loaded table in the Google Cloud console, for operators with a ``bigquery_table()`` method.

    That method returns ``(project, dataset, table)`` or ``None`` when they are not known; the link is
    then empty, which the UI shows as a disabled button.
    """

    name = "BigQuery Table"

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        # Airflow 3.0 does not guard this call in the worker: an exception here would fail the task.
        names = getattr(operator, "bigquery_table", lambda: None)()
        if not names:
            return ""
        return bigquery_table_url(*names)
