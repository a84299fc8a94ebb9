"""Airflow names the tests need that moved between Airflow 3 releases (the provider's are in
``daily_provider.compat``; these are test-only, so they stay out of the package)."""

from __future__ import annotations

from typing import Any

from packaging.version import Version


def dagbag(dags_folder: str) -> Any:
    """A ``DagBag`` of ``dags_folder``, in the metadata DB as the dag processor leaves it.

    From Airflow 3.1, ``dag.test()`` syncs the DAG's bundle to the DB itself; 3.0's does not, and a
    run of a DAG the DB does not know fails its tasks on "inactive assets" in their outlets and has no
    serialized DAG for the UI's extra links. So on 3.0 the bag is written here first.
    """
    from daily_provider.compat import AIRFLOW_VERSION

    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0
        from airflow.models.dagbag import DagBag
    bag = DagBag(dags_folder)
    if Version("3.1") > AIRFLOW_VERSION:
        from airflow.dag_processing.bundles.manager import DagBundlesManager

        DagBundlesManager().sync_bundles_to_db()  # the DAG rows point at their bundle's row
        bag.sync_to_db("dags-folder", None)
    return bag


def serialized_roundtrip(dag: Any) -> Any:
    """``dag`` as the scheduler and the API server see it: serialized to JSON and back."""
    try:
        from airflow.serialization.serialized_objects import DagSerialization as Serializer
    except ImportError:  # Airflow 3.0 and 3.1
        from airflow.serialization.serialized_objects import SerializedDAG as Serializer
    return Serializer.from_dict(Serializer.to_dict(dag))


def extra_link(dag_id: str, run_id: str, task_id: str, name: str) -> tuple[list[str], str | None]:
    """The task's extra-link names and the URL of ``name``, as the API server finds them for the UI.

    Like ``GET /dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/links``: the task of the
    serialized DAG in the metadata DB, asked with the task instance row; the serialized task only
    knows the link's name and XCom key, so the URL is the one the worker stored when the task ended.
    """
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalar(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id
            )
        )
        dag = SerializedDagModel.get_dag(dag_id, session=session)
        assert ti is not None and dag is not None, f"no task instance {dag_id}/{run_id}/{task_id} in the DB"
        task = dag.get_task(task_id)
        return list(task.extra_links), task.get_extra_links(ti, name)
