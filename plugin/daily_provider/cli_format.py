"""Help text shared by ``daily-logs`` and ``python -m daily_provider.simulator``.

One formatter so every option shows its default the same way, and the environment and exit statuses
written once. Imports nothing heavy: building the parser must stay cheap for ``--help``.
"""

from __future__ import annotations

import argparse

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
