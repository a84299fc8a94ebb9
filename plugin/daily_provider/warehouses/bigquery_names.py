"""Names BigQuery needs from us: validated table references, job ids and job labels (pure).

Project, dataset and table names go into SQL as backtick-quoted identifiers, so each is checked
against a strict rule first. Job ids are deterministic (dag, task, window, step, try and a digest
of what the job does), so a retried call finds the job it already started instead of starting a
second one; labels name the dag, task and run so the jobs can be found and billed per pipeline.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from daily_provider.exceptions import DailyConfigError
from daily_provider.sql import validate_name
from daily_provider.window import Window

# Google's rule for project ids: 6-30 characters, lowercase letters, digits and hyphens, starting
# with a letter and not ending with a hyphen.
_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_JOB_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_LABEL_UNSAFE = re.compile(r"[^a-z0-9_-]+")
MAX_JOB_ID_LENGTH = 1024
_MAX_PREFIX_LENGTH = 900  # leaves room for "_<step>_t<try>_<digest>"
_MAX_LABEL_LENGTH = 63


def validate_project(project: str) -> str:
    """Return ``project`` if it is a valid Google Cloud project id, else raise DailyConfigError."""
    if not isinstance(project, str) or not _PROJECT_ID.match(project):
        raise DailyConfigError(
            f"BigQuery project {project!r} is not a valid project id: use 6-30 lowercase letters, digits "
            "and hyphens, starting with a letter (the id, not the display name or number)"
        )
    return project


def validate_identifier(name: str, *, what: str) -> str:
    """``sql.validate_name`` with the provider's configuration error type."""
    try:
        return validate_name(name, what=what)
    except ValueError as exc:
        raise DailyConfigError(str(exc)) from None


@dataclass(frozen=True)
class TableRef:
    """A validated ``project.dataset.table``."""

    project: str
    dataset: str
    table: str

    @classmethod
    def of(cls, project: str, dataset: str, table: str) -> TableRef:
        return cls(
            validate_project(project),
            validate_identifier(dataset, what="BigQuery dataset"),
            validate_identifier(table, what="BigQuery table"),
        )

    @property
    def table_id(self) -> str:
        """``project.dataset.table`` as the client library takes it."""
        return f"{self.project}.{self.dataset}.{self.table}"

    @property
    def sql(self) -> str:
        """The reference quoted for SQL; every part was validated, so it holds no backtick."""
        return f"`{self.project}`.`{self.dataset}`.`{self.table}`"

    def describe(self) -> str:
        return f"project {self.project}, dataset {self.dataset}, table {self.table}"


def digest(*parts: object) -> str:
    """A short stable hash of ``parts`` for ids: equal inputs give equal ids, others differ."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(repr(part).encode("utf-8", "surrogatepass"))
        hasher.update(b"\x00")
    return hasher.hexdigest()[:16]


def sanitize_job_id(text: str) -> str:
    """Map ``text`` to BigQuery's job id alphabet ``[A-Za-z0-9_-]``, cut to a prefix-sized length."""
    cleaned = _JOB_ID_UNSAFE.sub("_", text).strip("_") or "daily_logs"
    if len(cleaned) > _MAX_PREFIX_LENGTH:
        cleaned = f"{cleaned[: _MAX_PREFIX_LENGTH - 17]}_{digest(text)}"
    return cleaned


def _compact(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S") + (f"{moment.microsecond:06d}" if moment.microsecond else "")


def job_id_prefix(*, dag_id: str, task_id: str, window: Window) -> str:
    """The job id prefix for one task's window: ``daily_logs_<dag>_<task>_<start>_<end>``.

    The warehouse appends the step, the try number and a digest of the step's input, so the same
    call on the same try re-attaches to its job and a new try starts fresh jobs.
    """
    return sanitize_job_id(f"daily_logs_{dag_id}_{task_id}_{_compact(window.start)}_{_compact(window.end)}")


def default_job_id_prefix(*, table: str, source: str, window: Window) -> str:
    """The prefix used when the caller gives none (the CLI): table, source and window."""
    return sanitize_job_id(f"daily_logs_{table}_{source}_{_compact(window.start)}_{_compact(window.end)}")


def job_id(prefix: str, step: str, try_number: int, step_digest: str) -> str:
    """``<prefix>_<step>_t<try>_<digest>``, within BigQuery's 1024-character limit."""
    return f"{sanitize_job_id(prefix)}_{step}_t{try_number}_{step_digest}"[:MAX_JOB_ID_LENGTH]


def label_value(value: object) -> str:
    """A label value: lowercase letters, digits, ``_`` and ``-``, at most 63 characters."""
    text = _LABEL_UNSAFE.sub("_", str(value).lower()).strip("_")
    if len(text) > _MAX_LABEL_LENGTH:
        text = f"{text[: _MAX_LABEL_LENGTH - 9]}_{digest(value)[:8]}"
    return text


def label_key(key: str) -> str:
    """A label key: like a value, and starting with a lowercase letter."""
    text = label_value(key)
    if not text or not text[0].isalpha():
        text = f"k_{text}"[:_MAX_LABEL_LENGTH]
    return text


def sanitize_labels(labels: Mapping[str, object]) -> dict[str, str]:
    """Labels BigQuery accepts, whatever characters the dag, task or run ids hold."""
    return {label_key(key): label_value(value) for key, value in labels.items()}


def job_labels(*, dag_id: str, task_id: str, run_id: str) -> dict[str, str]:
    """The labels the operator gives every job: which dag, task and run started it."""
    return sanitize_labels({"airflow_dag": dag_id, "airflow_task": task_id, "airflow_run": run_id})
