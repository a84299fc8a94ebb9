"""Apache Airflow provider for Daily (daily.co) REST API logs."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow's providers manager (entry point ``apache_airflow_provider``)."""
    return {
        "package-name": "airflow-provider-daily",
        "name": "Daily",
        "description": "Daily (daily.co) REST API and webhook logs into DuckDB or BigQuery.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "daily",
                "hook-class-name": "daily_provider.hooks.daily.DailyHook",
                "hook-name": "Daily",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"password": "API key", "host": "Base URL"},
                    "placeholders": {
                        "host": "https://api.daily.co/v1",
                        "password": "your Daily API key",
                    },
                },
                "conn-fields": {
                    "requests_per_second": {
                        "label": "Requests per second",
                        "description": "Client-side rate limit for the logs endpoint (default 2).",
                        "schema": {"type": ["number", "null"], "minimum": 0.01},
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "description": "Retries for 429, 5xx, timeouts and dropped connections (default 6).",
                        "schema": {"type": ["integer", "null"], "minimum": 0},
                    },
                    "timeout": {
                        "label": "Timeout (s)",
                        "description": "Read timeout per request in seconds (default 30).",
                        "schema": {"type": ["number", "null"], "minimum": 1},
                    },
                    "redaction_secret": {
                        "label": "Redaction hash secret",
                        "description": "Key for the keyed SHA-256 used to hash personal data in bodies.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "settle_seconds": {
                        "label": "Settle (s)",
                        "description": "Load a window only once its end is this many seconds past (default 600).",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                    },
                    "allow_insecure_http": {
                        "label": "Allow plain http://",
                        "description": "Allow a non-TLS base URL that is not on loopback.",
                        "schema": {"type": ["boolean", "null"]},
                    },
                },
            }
        ],
    }
