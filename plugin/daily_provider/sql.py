"""Load the SQL files shipped in ``sql/<dialect>/`` and fill in identifiers.

SQL lives only in those files. Identifiers (tables, datasets, columns) cannot be bound
parameters, so a file names them as ``{{table}}`` placeholders, and :func:`render` fills them with
names that the caller has already validated and quoted. Values are always bound parameters.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")


def _sql_root() -> Path:
    packaged = resources.files("daily_provider") / "sql"
    if packaged.is_dir():  # installed wheel: sql/ is package data
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "sql"  # source checkout / editable install


@cache
def sql_text(dialect: str, name: str) -> str:
    """Return the text of ``sql/<dialect>/<name>.sql``."""
    path = _sql_root() / dialect / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {dialect}/{name}.sql under {_sql_root()}")
    return path.read_text(encoding="utf-8")


def render(dialect: str, name: str, **identifiers: str) -> str:
    """Return ``sql/<dialect>/<name>.sql`` with each ``{{key}}`` replaced by ``identifiers[key]``.

    The values must already be validated and quoted (see :func:`validate_name` and the
    warehouse's own quoting); an unfilled placeholder is an error, never left in the SQL.
    """
    text = sql_text(dialect, name)

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in identifiers:
            raise KeyError(f"{dialect}/{name}.sql needs identifier {{{{{key}}}}}")
        return identifiers[key]

    return _PLACEHOLDER.sub(fill, text)


def validate_name(name: str, *, what: str = "table") -> str:
    """Return ``name`` if it is a plain identifier (letters, digits, ``_``; not starting with a digit).

    Table and dataset names from configuration go through here before they are quoted, so a
    hostile name fails loudly instead of changing the SQL.
    """
    if not isinstance(name, str) or not _SAFE_NAME.match(name):
        raise ValueError(
            f"{what} name {name!r} is not allowed: use letters, digits and underscores, "
            "starting with a letter or underscore"
        )
    return name
