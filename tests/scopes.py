"""The replace scope tests hand a warehouse directly (production builds it in ``load.py``)."""

from __future__ import annotations

from daily_provider.scope import LoadScope, ReplaceScope
from daily_provider.window import Window

TEST_DOMAIN = "domain-1"


def replace_scope(
    table: str, source: str, window: Window, *, domain_id: str = TEST_DOMAIN, url_filter: str = ""
) -> ReplaceScope:
    """The scope of a load of ``source`` into ``table`` that covered all of ``window``."""
    return LoadScope(table, source, domain_id, url_filter).covering(window)
