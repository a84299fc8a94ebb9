"""Airflow discovers the provider and the ``daily`` connection type with relabelled form fields."""

from __future__ import annotations

import pytest

import daily_provider


def test_provider_info_declares_the_daily_connection_type_with_relabelled_fields() -> None:
    info = daily_provider.get_provider_info()
    assert info["package-name"] == "airflow-provider-daily"
    (connection,) = info["connection-types"]
    assert connection["connection-type"] == "daily"
    assert connection["hook-class-name"] == "daily_provider.hooks.daily.DailyHook"
    assert connection["ui-field-behaviour"]["relabeling"] == {"password": "API key", "host": "Base URL"}
    assert {"requests_per_second", "max_retries", "timeout", "redaction_secret", "settle_seconds"} <= set(
        connection["conn-fields"]
    )
    assert connection["conn-fields"]["redaction_secret"]["schema"]["format"] == "password"


def test_airflow_providers_manager_finds_the_provider_and_its_hook() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-daily" in manager.providers
    try:  # Airflow 3.3 serves hooks from the Task SDK's manager; earlier releases from this one
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        hooks = ProvidersManagerTaskRuntime().hooks
    except ImportError:
        hooks = manager.hooks
    assert hooks["daily"] is not None
    assert hooks["daily"].hook_class_name == "daily_provider.hooks.daily.DailyHook"


@pytest.mark.airflow_3_2
def test_airflow_builds_the_connection_form_from_the_declared_fields() -> None:
    # Airflow reads ui-field-behaviour and conn-fields from provider info from 3.2 on; before, the
    # form shows Airflow's generic fields (extras as JSON), which work the same.
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert manager.field_behaviours["daily"]["relabeling"]["password"] == "API key"
    assert "extra__daily__requests_per_second" in manager.connection_form_widgets
