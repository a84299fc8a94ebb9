"""Exceptions the provider raises. Messages never contain the API key."""

from __future__ import annotations


class DailyError(Exception):
    """Base class for every error this provider raises."""


class DailyConfigError(DailyError, ValueError):
    """Bad configuration, found before any request is made."""


class DailyAPIError(DailyError):
    """Daily answered with an error that retrying will not fix (400/401/403/404, ...).

    Carries Daily's stable ``error`` type and human ``info`` text.
    """

    def __init__(
        self, message: str, *, status: int | None = None, error: str | None = None, info: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.info = info


class DailyTransportError(DailyError):
    """Retries ran out on 429/5xx/connection errors/timeouts or malformed 200 pages."""


class DailyPaginationError(DailyError):
    """The API broke the pagination contract the hook detected (order, overlap, direction)."""


class WarehouseError(DailyError):
    """A warehouse operation failed; the target table was left as it was before the load."""
