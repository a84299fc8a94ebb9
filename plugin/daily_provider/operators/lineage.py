"""What a load read and wrote, in the forms Airflow's Assets and the OpenLineage provider use.

The Daily logs endpoint is the input dataset, the loaded table the output (with its row count).
The OpenLineage classes are imported only when lineage is asked for, so a task pays nothing for
OpenLineage when the provider is absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

LOGS_PATH = "/logs/api"


@dataclass(frozen=True)
class LineageDataset:
    """An OpenLineage dataset: ``namespace`` (where) and ``name`` (what, inside it)."""

    namespace: str
    name: str


@dataclass(frozen=True)
class LoadTarget:
    """The table a load wrote: its URI (the form the operators' Assets use) and its lineage dataset."""

    uri: str
    dataset: LineageDataset


@dataclass(frozen=True)
class Lineage:
    """What a finished load wrote, kept for ``get_openlineage_facets_on_complete``."""

    target: LoadTarget
    rows: int


def daily_logs_dataset(base_url: str, source: str, url_filter: str | None = None) -> LineageDataset:
    """The Daily logs endpoint as an OpenLineage dataset.

    ``daily_logs_dataset("https://api.daily.co/v1", "api")`` is namespace ``https://api.daily.co``,
    name ``/v1/logs/api?source=api``.
    """
    parts = urlsplit(base_url)
    query = {"source": source, **({"url": url_filter} if url_filter else {})}
    return LineageDataset(f"{parts.scheme}://{parts.netloc}", f"{parts.path}{LOGS_PATH}?{urlencode(query)}")


def operator_lineage(source: LineageDataset, lineage: Lineage) -> Any:
    """An ``OperatorLineage`` from ``source`` to the loaded table; ``None`` without the OpenLineage provider."""
    try:
        from airflow.providers.common.compat.openlineage.facet import (
            Dataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    return OperatorLineage(
        inputs=[Dataset(namespace=source.namespace, name=source.name)],
        outputs=[
            OutputDataset(
                namespace=lineage.target.dataset.namespace,
                name=lineage.target.dataset.name,
                outputFacets={"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=lineage.rows)},
            )
        ],
    )
