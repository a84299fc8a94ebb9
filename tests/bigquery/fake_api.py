"""A scripted BigQuery REST API on ``responses``, for request-level tests of the warehouse.

It answers the handful of calls the warehouse makes (tables get/insert/delete, datasets get,
jobs insert/get, multipart uploads, getQueryResults) from small in-memory state, records every
request body, and lets a test make one kind of call fail with a given status and reason. Jobs
finish at once. This is the HTTP boundary only: the real google-cloud-bigquery client runs on it.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import pyarrow.parquet as pq
import responses

BASE = "https://bigquery.googleapis.com"
_API = re.escape(BASE) + r"/bigquery/v2/projects/(?P<project>[^/]+)"
_UPLOAD = re.escape(BASE) + r"/upload/bigquery/v2/projects/(?P<project>[^/]+)/jobs"


@dataclass
class Failure:
    status: int
    reason: str
    message: str
    times: int = 1


@dataclass
class FakeBigQueryAPI:
    """In-memory tables and jobs behind ``responses`` callbacks."""

    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasets: set[str] = field(default_factory=set)
    created_tables: list[dict[str, Any]] = field(default_factory=list)
    deleted_tables: list[str] = field(default_factory=list)
    submitted_jobs: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[bytes] = field(default_factory=list)
    failures: dict[str, Failure] = field(default_factory=dict)
    job_errors: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    lost: set[str] = field(default_factory=set)

    # -- scripting ---------------------------------------------------------------------------

    def fail(self, call: str, status: int, reason: str, message: str, *, times: int = 1) -> None:
        """Make the next ``times`` calls of kind ``call`` answer ``status`` with ``reason``.

        Kinds: ``tables.get``, ``tables.insert``, ``tables.delete``, ``datasets.get``, ``jobs.insert``,
        ``upload``, ``jobs.get``.
        """
        self.failures[call] = Failure(status, reason, message, times)

    def lose_response(self, call: str) -> None:
        """The next ``call`` (``jobs.insert`` or ``upload``) is carried out, but answered 503."""
        self.lost.add(call)

    def fail_job(self, step: str, reason: str, message: str, *, times: int = 1) -> None:
        """Jobs of ``step`` (ids ``..._<step>_t<try>_...``) finish with this error, the next ``times``."""
        self.job_errors.setdefault(step, []).extend([{"reason": reason, "message": message}] * times)

    def add_table(self, project: str, dataset: str, table: str, fields: list[dict[str, Any]]) -> None:
        self.tables[f"{project}.{dataset}.{table}"] = {
            "tableReference": {"projectId": project, "datasetId": dataset, "tableId": table},
            "schema": {"fields": fields},
            "timePartitioning": {"type": "DAY", "field": "created_at"},
            "creationTime": "1700000000000",
        }

    def queries(self) -> list[dict[str, Any]]:
        """The submitted query jobs' resources, in order."""
        return [job for job in self.submitted_jobs if "query" in job["configuration"]]

    def loads(self) -> list[dict[str, Any]]:
        return [job for job in self.submitted_jobs if "load" in job["configuration"]]

    # -- wiring ------------------------------------------------------------------------------

    def register(self, mock: responses.RequestsMock) -> None:
        table = _API + r"/datasets/(?P<dataset>[^/]+)/tables/(?P<table>[^/?]+)"
        mock.add_callback(responses.GET, re.compile(table + r"(\?.*)?$"), self._get_table)
        mock.add_callback(responses.DELETE, re.compile(table + r"(\?.*)?$"), self._delete_table)
        mock.add_callback(
            responses.POST,
            re.compile(_API + r"/datasets/(?P<dataset>[^/]+)/tables(\?.*)?$"),
            self._insert_table,
        )
        mock.add_callback(
            responses.GET, re.compile(_API + r"/datasets/(?P<dataset>[^/?]+)(\?.*)?$"), self._get_dataset
        )
        mock.add_callback(responses.POST, re.compile(_API + r"/jobs(\?.*)?$"), self._insert_job)
        mock.add_callback(responses.POST, re.compile(_UPLOAD + r"\?.*uploadType=multipart.*$"), self._upload)
        mock.add_callback(responses.GET, re.compile(_API + r"/jobs/(?P<job>[^/?]+)(\?.*)?$"), self._get_job)
        mock.add_callback(
            responses.GET, re.compile(_API + r"/queries/(?P<job>[^/?]+)(\?.*)?$"), self._query_results
        )

    # -- handlers ----------------------------------------------------------------------------

    def _failure(self, call: str) -> tuple[int, dict[str, str], str] | None:
        failure = self.failures.get(call)
        if failure is None or failure.times <= 0:
            return None
        failure.times -= 1
        return _error(failure.status, failure.reason, failure.message)

    def _get_table(self, request: Any) -> tuple[int, dict[str, str], str]:
        if failed := self._failure("tables.get"):
            return failed
        key = _table_key(request.url)
        if key not in self.tables:
            return _error(404, "notFound", f"Not found: Table {key}")
        return 200, _JSON, json.dumps(self.tables[key])

    def _delete_table(self, request: Any) -> tuple[int, dict[str, str], str]:
        if failed := self._failure("tables.delete"):
            return failed
        key = _table_key(request.url)
        self.deleted_tables.append(key)
        if self.tables.pop(key, None) is None:
            return _error(404, "notFound", f"Not found: Table {key}")
        return 204, {}, ""

    def _insert_table(self, request: Any) -> tuple[int, dict[str, str], str]:
        if failed := self._failure("tables.insert"):
            return failed
        body = json.loads(request.body)
        reference = body["tableReference"]
        key = f"{reference['projectId']}.{reference['datasetId']}.{reference['tableId']}"
        if f"{reference['projectId']}.{reference['datasetId']}" not in self.datasets:
            return _error(
                404, "notFound", f"Not found: Dataset {reference['projectId']}:{reference['datasetId']}"
            )
        self.created_tables.append(body)
        if key in self.tables:
            return _error(409, "duplicate", f"Already Exists: Table {key}")
        self.tables[key] = {**body, "creationTime": "1700000000000"}
        return 200, _JSON, json.dumps(self.tables[key])

    def _get_dataset(self, request: Any) -> tuple[int, dict[str, str], str]:
        if failed := self._failure("datasets.get"):
            return failed
        match = re.search(_API + r"/datasets/(?P<dataset>[^/?]+)", request.url)
        assert match
        name = f"{match['project']}.{match['dataset']}"
        if name not in self.datasets:
            return _error(404, "notFound", f"Not found: Dataset {name}")
        return (
            200,
            _JSON,
            json.dumps({"datasetReference": {"projectId": match["project"], "datasetId": match["dataset"]}}),
        )

    def _insert_job(self, request: Any) -> tuple[int, dict[str, str], str]:
        if failed := self._failure("jobs.insert"):
            return failed
        answer = self._accept_job(json.loads(request.body))
        if "jobs.insert" in self.lost:
            self.lost.discard("jobs.insert")
            return _error(503, "backendError", "The service is currently unavailable.")
        return answer

    def _upload(self, request: Any) -> tuple[int, dict[str, str], str]:
        if failed := self._failure("upload"):
            return failed
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        content_type = request.headers["Content-Type"]
        if isinstance(content_type, str):
            content_type = content_type.encode()
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type + b"\r\n\r\n" + body)
        metadata, media = [part.get_payload(decode=True) for part in message.iter_parts()]
        self.uploads.append(media)
        return self._accept_job(json.loads(metadata))

    def _accept_job(self, resource: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        job_id = resource["jobReference"]["jobId"]
        if job_id in self.jobs:
            return _error(409, "duplicate", f"Already Exists: Job {job_id}")
        self.submitted_jobs.append(resource)
        done: dict[str, Any] = {**resource, "status": {"state": "DONE"}, "statistics": {}}
        for step, errors in self.job_errors.items():
            if re.search(rf"_{step}_t\d+_", job_id) and errors:
                error = errors.pop(0)
                done["status"] = {"state": "DONE", "errorResult": error, "errors": [error]}
        if "load" in resource["configuration"] and "errorResult" not in done["status"]:
            try:
                rows = pq.read_metadata(io.BytesIO(self.uploads[-1])).num_rows
            except (OSError, ValueError) as exc:
                error = {"reason": "invalid", "message": f"Error while reading data: {exc}"}
                done["status"] = {"state": "DONE", "errorResult": error, "errors": [error]}
            else:
                done["statistics"] = {"load": {"outputRows": str(rows)}}
        self.jobs[job_id] = done
        return 200, _JSON, json.dumps(done)

    def _get_job(self, request: Any) -> tuple[int, dict[str, str], str]:
        if failed := self._failure("jobs.get"):
            return failed
        match = re.search(_API + r"/jobs/(?P<job>[^/?]+)", request.url)
        assert match
        job = self.jobs.get(match["job"])
        if job is None:
            return _error(404, "notFound", f"Not found: Job {match['job']}")
        return 200, _JSON, json.dumps(job)

    def _query_results(self, request: Any) -> tuple[int, dict[str, str], str]:
        match = re.search(_API + r"/queries/(?P<job>[^/?]+)", request.url)
        assert match
        job = self.jobs[match["job"]]
        return (
            200,
            _JSON,
            json.dumps(
                {
                    "jobReference": job["jobReference"],
                    "jobComplete": True,
                    "totalRows": "0",
                    "schema": {"fields": []},
                    "rows": [],
                }
            ),
        )


_JSON = {"Content-Type": "application/json"}


def _table_key(url: str) -> str:
    match = re.search(_API + r"/datasets/(?P<dataset>[^/]+)/tables/(?P<table>[^/?]+)", url)
    assert match, url
    return f"{match['project']}.{match['dataset']}.{match['table']}"


def _error(status: int, reason: str, message: str) -> tuple[int, dict[str, str], str]:
    body = {"error": {"code": status, "message": message, "errors": [{"reason": reason, "message": message}]}}
    return status, _JSON, json.dumps(body)
