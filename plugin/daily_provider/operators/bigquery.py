"""The BigQuery operator: one window of Daily logs into a BigQuery table (needs the ``bigquery`` extra).

google-cloud-bigquery is imported only when a task runs, never at DAG-parse time.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset

from daily_provider.exceptions import DailyConfigError
from daily_provider.load import default_table
from daily_provider.operators.arguments import blank_to_none, is_templated, renamed
from daily_provider.operators.daily_logs import DailyLogsToWarehouseOperator
from daily_provider.operators.lineage import LineageDataset, LoadTarget
from daily_provider.operators.links import BigQueryTableLink
from daily_provider.warehouses.base import Warehouse
from daily_provider.window import Window

if TYPE_CHECKING:
    from airflow.sdk import Context
    from google.cloud import bigquery

    from daily_provider.warehouses.bigquery import BigQueryWarehouse

log = logging.getLogger(__name__)

# google-cloud-bigquery's own variable for emulators (it sends requests there when set). Emulators
# take no credentials, so with it set the BigQuery operator uses anonymous ones: local testing only.
BIGQUERY_EMULATOR_ENV = "BIGQUERY_EMULATOR_HOST"
DEFAULT_MAXIMUM_BYTES_BILLED = 10 * 1024**3


def emulator_client(project: str | None, location: str | None) -> bigquery.Client | None:
    """A client of the emulator at ``$BIGQUERY_EMULATOR_HOST`` (no credentials), or None when it is unset."""
    endpoint = os.environ.get(BIGQUERY_EMULATOR_ENV)
    if not endpoint:
        return None
    if project is None:
        raise DailyConfigError(
            f"${BIGQUERY_EMULATOR_ENV}={endpoint} points BigQuery at an emulator, which has no default "
            "project: set project_id= on the operator (or unset the variable to use real BigQuery)"
        )
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    log.warning(
        "$%s is set: BigQuery requests go to the emulator at %s without credentials (local testing only)",
        BIGQUERY_EMULATOR_ENV,
        endpoint,
    )
    return bigquery.Client(
        project=project,
        location=location,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=endpoint),
    )


class DailyLogsToBigQueryOperator(DailyLogsToWarehouseOperator):
    """Load one window of Daily logs into a BigQuery table (needs the ``bigquery`` extra).

    :param dataset_id: Dataset of the logs tables and ``daily_logs_loads``; it must exist. (templated)
    :param project_id: Project of the dataset and the jobs; empty or ``None``: the credentials' (or the
        Google Cloud connection's) default project. (templated)
    :param location: Location of the dataset and jobs (e.g. ``"EU"``); empty or ``None``: inferred.
        (templated)
    :param gcp_conn_id: Airflow Google Cloud connection (needs the ``google`` extra); empty or
        ``None``: Application Default Credentials. (templated)
    :param impersonation_chain: Service account(s) to impersonate through ``gcp_conn_id``, as the
        Google provider's operators take it (needs ``gcp_conn_id``). (templated)
    :param dataset: Deprecated alias of ``dataset_id`` (kept for one release).
    :param project: Deprecated alias of ``project_id`` (kept for one release).
    :param maximum_bytes_billed: Fail any query that would bill more bytes; ``None`` disables the guard.
    :param require_partition_filter: Tables this operator creates refuse queries without a
        ``created_at`` filter.

    Jobs get ids derived from dag, task, window and try (a retried call re-attaches to its job) and
    labels naming dag, task and run. An Asset ``bigquery://<project>/<dataset>/<table>`` is added to
    ``outlets`` when project, dataset and table are given and not templated. With
    ``$BIGQUERY_EMULATOR_HOST`` set (e.g. ``http://127.0.0.1:9050``), the client talks to that
    emulator without credentials: for local testing only.

    The task's "BigQuery Table" button in the Airflow UI opens the table in the Google Cloud console
    (once project, dataset and table are known: after the load, or from the rendered arguments).
    """

    template_fields: Sequence[str] = (
        *DailyLogsToWarehouseOperator.template_fields,
        "project_id",
        "dataset_id",
        "location",
        "gcp_conn_id",
        "impersonation_chain",
    )
    warehouse_label = "bigquery"
    operator_extra_links = (BigQueryTableLink(),)

    def __init__(
        self,
        *,
        dataset_id: str | None = None,
        project_id: str | None = None,
        location: str | None = None,
        gcp_conn_id: str | None = None,
        impersonation_chain: str | Sequence[str] | None = None,
        maximum_bytes_billed: int | None = DEFAULT_MAXIMUM_BYTES_BILLED,
        require_partition_filter: bool = False,
        dataset: str | None = None,
        project: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if maximum_bytes_billed is not None and maximum_bytes_billed < 1:
            raise DailyConfigError(
                f"maximum_bytes_billed={maximum_bytes_billed} must be positive, or None to disable the guard"
            )
        dataset_id = renamed("dataset", dataset, "dataset_id", dataset_id)
        project_id = renamed("project", project, "project_id", project_id)
        if dataset_id is None:
            raise DailyConfigError("dataset_id is required: the BigQuery dataset of the logs tables")
        self.dataset_id = dataset_id
        self.project_id = project_id
        self.location = location
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        self.maximum_bytes_billed = maximum_bytes_billed
        self.require_partition_filter = require_partition_filter
        self._loaded_table: tuple[str, str, str] | None = None
        table = self.table or (None if is_templated(self.source) else default_table(self.source))
        names = (project_id, dataset_id, table)
        if not self.outlets and all(names) and not any(is_templated(name) for name in names):
            self.outlets = [
                Asset(
                    name=f"bigquery.{project_id}.{dataset_id}.{table}",
                    uri=f"bigquery://{project_id}/{dataset_id}/{table}",
                )
            ]

    @property
    def dataset(self) -> str:
        """Deprecated alias of :attr:`dataset_id`."""
        return self.dataset_id

    @property
    def project(self) -> str | None:
        """Deprecated alias of :attr:`project_id`."""
        return self.project_id

    def make_warehouse(self, context: Context, window: Window) -> Warehouse:
        # Imported here: google-cloud-bigquery is an optional extra, and importing it costs time.
        from daily_provider.warehouses.bigquery import BigQueryWarehouse, job_id_prefix, job_labels

        ti = context["ti"]
        project = blank_to_none(self.project_id)
        location = blank_to_none(self.location)
        client = emulator_client(project, location)
        warehouse = BigQueryWarehouse(
            project=project,
            dataset=self.dataset_id,
            location=location,
            gcp_conn_id=blank_to_none(self.gcp_conn_id),
            impersonation_chain=self.impersonation_chain or None,
            client=client,
            maximum_bytes_billed=self.maximum_bytes_billed,
            require_partition_filter=self.require_partition_filter,
            job_id_prefix=job_id_prefix(dag_id=ti.dag_id, task_id=ti.task_id, window=window),
            labels=job_labels(dag_id=ti.dag_id, task_id=ti.task_id, run_id=str(context["run_id"])),
            try_number=ti.try_number,
        )
        if client is not None:
            # The warehouse leaves a client it was given open; this one lives as long as the warehouse.
            weakref.finalize(warehouse, client.close)
        return warehouse

    def load_target(self, warehouse: Warehouse, table: str) -> LoadTarget:
        bigquery_warehouse: BigQueryWarehouse = warehouse  # type: ignore[assignment]
        project = bigquery_warehouse.project or bigquery_warehouse.get_client().project
        dataset = bigquery_warehouse.dataset
        self._loaded_table = (project, dataset, table)
        return LoadTarget(
            f"bigquery://{project}/{dataset}/{table}",
            LineageDataset("bigquery", f"{project}.{dataset}.{table}"),
        )

    def bigquery_table(self) -> tuple[str, str, str] | None:
        """``(project, dataset, table)`` this task loads: the loaded table's once a load finished, else
        the rendered arguments when all three are set (no project means the credentials' default,
        known only after the load); ``None`` otherwise. Never raises: the extra link calls it."""
        if self._loaded_table is not None:
            return self._loaded_table
        project, dataset = blank_to_none(self.project_id), blank_to_none(self.dataset_id)
        table = blank_to_none(self.table) or default_table(self.source)
        if project is None or dataset is None or any(map(is_templated, (project, dataset, table))):
            return None
        return project, dataset, table
