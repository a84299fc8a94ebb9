"""DailyHook: an Airflow connection (or an explicit key) turned into a :class:`DailyClient`.

Everything about HTTP, retries and the page walk is the client's (``client.py``, no Airflow
imports); the hook adds what only Airflow has: the connection lookup, the connection form's
name, and registering the key with Airflow's log masker. The key never leaves the session's
auth object: not in a log line, an exception message or ``repr``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from daily_provider.compat import AirflowNotFoundException, BaseHook, mask_secret
from daily_provider.exceptions import DailyConfigError
from daily_provider.hooks.client import DailyClient, PageInfo, WalkStats
from daily_provider.hooks.settings import ClientOptions, HookSettings, base_url_from_connection

__all__ = ["ClientOptions", "DailyHook", "PageInfo", "WalkStats"]


class DailyHook(DailyClient, BaseHook):
    """Talk to Daily's REST API: connection -> session, rate limit, retries, and the logs page walk.

    Nothing is looked up and nothing is sent until a method needs it. Settings come from the options,
    then the connection's extras, then the defaults; with ``api_key`` given, no connection is used.
    The methods (``iter_logs``, ``test_connection``, ``redaction_secret``, ``get_conn``) are
    :class:`DailyClient`'s.

    ``DailyHook("daily_default", requests_per_second=20, timeout=60)`` and
    ``DailyHook(options=ClientOptions(requests_per_second=20, timeout=60))`` are the same hook.

    :param daily_conn_id: Airflow connection (type ``daily``): password = API key, host = base URL.
    :param api_key: use this key and skip the connection (the CLI's path, outside Airflow).
    :param options: a :class:`ClientOptions`: base URL, rate limit, retries, timeouts, backoff, page size.
    :param sleep: how to wait (tests pass a recorder).
    :param overrides: any :class:`ClientOptions` field by name (``base_url``, ``requests_per_second``,
        ``max_retries``, ``timeout``, ``backoff_base``, ``backoff_max``, ``page_limit``,
        ``allow_insecure_http``); wins over the same field of ``options``. An unknown name is a TypeError.
    """

    conn_name_attr = "daily_conn_id"
    default_conn_name = "daily_default"
    conn_type = "daily"
    hook_name = "Daily"

    def __init__(
        self,
        daily_conn_id: str = default_conn_name,
        *,
        api_key: str | None = None,
        options: ClientOptions | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **overrides: Any,
    ) -> None:
        BaseHook.__init__(self)
        DailyClient.__init__(self, api_key=api_key, options=options, sleep=sleep, **overrides)
        self.daily_conn_id = daily_conn_id

    def __repr__(self) -> str:
        return f"DailyHook(key from {self._key_origin()})"

    # -- what the client asks of its host ----------------------------------------------------------

    def _key_host_extras(self) -> tuple[str | None, str | None, Mapping[str, Any]]:
        if self._api_key is not None:
            return self._api_key.value, None, {}
        connection = self._connection()
        host = base_url_from_connection(connection.host, connection.port)
        return connection.password, host, connection.extra_dejson

    def _key_origin(self) -> str:
        if self._api_key is not None:
            return "the api_key argument"
        return f"connection {self.daily_conn_id!r}"

    def _register_secrets(self, settings: HookSettings) -> None:
        # Our code never logs the key; registering it also covers whatever else logs in the task.
        mask_secret(settings.api_key)
        if settings.redaction_secret:
            mask_secret(settings.redaction_secret)

    def _connection(self) -> Any:
        try:
            return self.get_connection(self.daily_conn_id)
        except AirflowNotFoundException:
            env_name = "AIRFLOW_CONN_" + self.daily_conn_id.upper()
            raise DailyConfigError(
                f"the Airflow connection {self.daily_conn_id!r} is not defined; create it (type daily, "
                f"password = API key, host = base URL), set {env_name}, or pass api_key= to the hook"
            ) from None
