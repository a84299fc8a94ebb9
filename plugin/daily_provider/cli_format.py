"""How ``daily-logs`` (and ``python -m daily_provider.simulator``) talk: help text, error lines, results.

One formatter so every option shows its default the same way, the environment and exit statuses
written once, one line per error, and each result printed once. Imports nothing heavy: building the
parser must stay cheap for ``--help``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from daily_provider.exceptions import DailyError

# Every variable the command line reads (grep os.environ in cli.py and load.py when adding one).
ENVIRONMENT_EPILOG = """\
environment:
  DAILY_API_KEY                 the Daily API key for load and backfill (required there; never an
                                argument, which would end up in shell history and process lists)
  DAILY_API_BASE_URL            the API's base URL when --base-url is not given
                                (default: https://api.daily.co/v1)
  DAILY_LOGS_REDACTION_SECRET   the key of the keyed SHA-256 for fields redacted by hashing (user
                                names, emails, IPs, phone numbers in bodies); unset, those values
                                are replaced by [redacted]
  ARROW_DEFAULT_MEMORY_POOL     Arrow's allocator in the staging process (default here: system,
                                which hands freed memory back; a value you set wins)
"""

EXIT_EPILOG = """
exit status:
  0 success, 1 error (one line on stderr), 2 usage error, 130 interrupted, 143 stopped by SIGTERM
"""


class HelpFormatter(argparse.HelpFormatter):
    """Wrap one-paragraph descriptions, keep multi-line ones (the epilogs) as written; end each
    option's help with its default.

    Unlike ``ArgumentDefaultsHelpFormatter`` it says nothing for required options, flags and unset
    (None) defaults, where "(default: None)" would only be noise, and it leaves a help text that
    already explains its default alone.
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip():
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "(default" in text
            or not action.option_strings
            or action.required
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or default == []
        ):
            return text
        return f"{text} (default: %(default)s)"


_EXPECTED_ERRORS = (DailyError, ValueError, OSError)


class ResultGoesToStdout(logging.Filter):
    """Drop load.py's closing result log line (success, partial or not covered): the command prints
    that result on stdout itself. In Airflow that log line is the task's summary; here it would show
    the same result twice.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from daily_provider.load import RESULT_RECORD

        return not getattr(record, RESULT_RECORD, False)


def is_expected(exc: BaseException) -> bool:
    """True for errors whose message says it all (bad input, I/O, Daily, DuckDB): no type prefix, no traceback hint."""
    duckdb = sys.modules.get("duckdb")  # not imported: the error cannot be DuckDB's
    return isinstance(exc, _EXPECTED_ERRORS) or (duckdb is not None and isinstance(exc, duckdb.Error))


def error_line(exc: BaseException) -> str:
    """One line for ``exc``: its message with newlines folded, prefixed by its type if it is unexpected."""
    message = " ".join(str(exc).split())
    if is_expected(exc) and message:
        return message
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
