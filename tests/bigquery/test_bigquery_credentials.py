"""Where the BigQuery client comes from: an injected client, the Google provider's hook, or ADC.

The Google provider is an optional extra and is not installed in the dev venv, so the "extra
missing" error is tested for real. The provider path is tested with a stand-in module that has the
provider's documented call shape, ``BigQueryHook(gcp_conn_id=...).get_client(project_id=...,
location=...)``: it proves what we call, not that the real provider answers it.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any, ClassVar

import pytest

from daily_provider.exceptions import DailyConfigError
from daily_provider.warehouses.bigquery import GOOGLE_EXTRA_HINT, BigQueryWarehouse

HOOK_MODULE = "airflow.providers.google.cloud.hooks.bigquery"


def test_gcp_conn_id_without_the_google_extra_says_how_to_install_it():
    assert importlib.util.find_spec("airflow.providers.google") is None  # the dev venv has no extra
    warehouse = BigQueryWarehouse(project="daily-prod-1", dataset="logs", gcp_conn_id="google_cloud_default")

    with pytest.raises(DailyConfigError) as raised:
        warehouse.get_client()

    message = str(raised.value)
    assert GOOGLE_EXTRA_HINT == "pip install 'airflow-provider-daily[google]'"
    assert GOOGLE_EXTRA_HINT in message
    assert "gcp_conn_id='google_cloud_default'" in message
    assert "Application Default Credentials" in message


class FakeBigQueryHook:
    calls: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    client: ClassVar[object] = object()

    def __init__(self, *, gcp_conn_id: str, impersonation_chain: str | list[str] | None = None) -> None:
        self.calls.append(("init", {"gcp_conn_id": gcp_conn_id, "impersonation_chain": impersonation_chain}))

    def get_client(self, **kwargs: Any) -> object:
        self.calls.append(("get_client", kwargs))
        return self.client


@pytest.fixture
def google_provider(monkeypatch: pytest.MonkeyPatch) -> type[FakeBigQueryHook]:
    FakeBigQueryHook.calls = []
    parts = HOOK_MODULE.split(".")
    for depth in range(3, len(parts) + 1):  # airflow.providers exists; the rest does not
        name = ".".join(parts[:depth])
        module = types.ModuleType(name)
        module.__path__ = []  # a package, so the next level imports from sys.modules
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(sys.modules[HOOK_MODULE], "BigQueryHook", FakeBigQueryHook, raising=False)
    return FakeBigQueryHook


def test_gcp_conn_id_takes_the_client_from_the_google_provider_hook(google_provider):
    warehouse = BigQueryWarehouse(
        project="daily-prod-1", dataset="logs", location="EU", gcp_conn_id="gcp_logs"
    )

    client = warehouse.get_client()

    assert client is google_provider.client
    assert google_provider.calls == [
        ("init", {"gcp_conn_id": "gcp_logs", "impersonation_chain": None}),
        ("get_client", {"project_id": "daily-prod-1", "location": "EU"}),
    ]
    assert warehouse.get_client() is client  # built once


def test_impersonation_chain_goes_to_the_google_provider_hook(google_provider):
    chain = ["loader@daily-prod-1.iam.gserviceaccount.com"]
    BigQueryWarehouse(
        project="daily-prod-1", dataset="logs", gcp_conn_id="gcp_logs", impersonation_chain=chain
    ).get_client()

    assert google_provider.calls[0] == ("init", {"gcp_conn_id": "gcp_logs", "impersonation_chain": chain})


def test_impersonation_chain_without_gcp_conn_id_is_a_config_error():
    with pytest.raises(DailyConfigError, match="impersonation_chain needs gcp_conn_id"):
        BigQueryWarehouse(
            project="daily-prod-1", dataset="logs", impersonation_chain="sa@x.iam.gserviceaccount.com"
        )


def test_gcp_conn_id_without_project_lets_the_connection_choose_it(google_provider):
    BigQueryWarehouse(project=None, dataset="logs", gcp_conn_id="gcp_logs").get_client()

    assert google_provider.calls[-1] == ("get_client", {"location": None})


def test_nothing_is_looked_up_in_init(google_provider):
    BigQueryWarehouse(project="daily-prod-1", dataset="logs", gcp_conn_id="gcp_logs")

    assert google_provider.calls == []


def test_missing_application_default_credentials_say_how_to_authenticate(monkeypatch, tmp_path):
    # A key file that does not exist fails inside google.auth.default() before any network lookup.
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    warehouse = BigQueryWarehouse(project="daily-prod-1", dataset="logs")

    with pytest.raises(DailyConfigError) as raised:
        warehouse.get_client()

    message = str(raised.value)
    assert "gcloud auth application-default login" in message
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message


def test_injected_client_is_used_as_is_and_not_closed():
    class Client:
        closed = False

        def close(self) -> None:
            self.closed = True

    client = Client()
    warehouse = BigQueryWarehouse(project="daily-prod-1", dataset="logs", client=client)  # type: ignore[arg-type]

    assert warehouse.get_client() is client
    warehouse.close()
    assert client.closed is False


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"project": "My Project", "dataset": "logs"}, "not a valid project id"),
        ({"project": "daily-prod-1", "dataset": "logs`; DROP"}, "BigQuery dataset name"),
        ({"project": "daily-prod-1", "dataset": "logs", "try_number": 0}, "try_number"),
    ],
)
def test_bad_names_and_settings_are_refused_before_any_request(settings, expected):
    with pytest.raises(DailyConfigError, match=expected):
        BigQueryWarehouse(**settings)


def test_without_the_client_library_importing_the_warehouse_says_which_extra_to_install(monkeypatch):
    import google.cloud

    import daily_provider.warehouses.bigquery as installed

    # As if google-cloud-bigquery were not installed.
    monkeypatch.setitem(sys.modules, "google.cloud.bigquery", None)
    monkeypatch.delattr(google.cloud, "bigquery")

    spec = importlib.util.spec_from_file_location("bigquery_without_client", installed.__file__)
    assert spec is not None and spec.loader is not None

    with pytest.raises(ImportError, match=r"pip install 'airflow-provider-daily\[bigquery\]'"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
