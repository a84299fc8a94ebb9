"""The cursor anchors of one walk: where it may start, which anchors it passed, which were refused.

:class:`WalkAnchors` reads the stored anchors of a load's scope before the walk (see ``anchors.py``
for why an anchor at or after the walked range's end is a safe start), records new ones from the
walk's pages, and stores them when the walk ends, dropping the ones the API refused. Anchors only
save requests: any trouble reading or writing them is a warning, never a failed load.
"""

from __future__ import annotations

import logging
from datetime import datetime

from daily_provider.anchors import MAX_CANDIDATES, Anchor, AnchorRecorder, choose_anchors
from daily_provider.hooks.pagination import StartCursor
from daily_provider.scope import LoadScope
from daily_provider.warehouses.base import AnchorStore

log = logging.getLogger(__name__)


class WalkAnchors:
    """The anchor side of one walk; ``store`` None (no AnchorStore, or anchors off) keeps nothing."""

    def __init__(self, store: AnchorStore | None, scope: LoadScope) -> None:
        self.store = store
        self.scope = scope
        self.recorder = AnchorRecorder()
        self.refused: list[str] = []

    def candidates(self, end: datetime) -> list[StartCursor]:
        """The cursors of the stored anchors a walk of a range ending at ``end`` may start after."""
        return [anchor.cursor() for anchor in self._usable(end)]

    def _usable(self, end: datetime) -> list[Anchor]:
        if self.store is None:
            return []
        try:
            found = self.store.find_anchors(self.scope, at_or_after=end, limit=MAX_CANDIDATES)
        except Exception as exc:  # anchors only save requests: never fail a load over them
            log.warning("could not read cursor anchors (%s); walking from the newest record", exc)
            return []
        chosen = choose_anchors(found, end)
        if not chosen:
            log.info(
                "no cursor anchor at or after %s for %s; walking from the newest record", end, self.scope
            )
        return chosen

    def on_refused(self, cursor: StartCursor, reason: str) -> None:
        self.refused.append(cursor.id)

    def save(self, convention: str | None) -> None:
        """Store the anchors the walk passed and drop the refused ones; a failure is only logged."""
        if self.store is None:
            return
        # A refused record the fallback walk passed again is not stored again: it is listed, but the
        # API does not take it as a cursor, and every later walk would pay a request to learn that.
        refused = set(self.refused)
        anchors = [a for a in self.recorder.anchors(convention) if a.record_id not in refused]
        try:
            self.store.drop_anchors(self.scope, self.refused)
            self.store.save_anchors(self.scope, anchors)
        except Exception as exc:  # runs in a finally: must not hide the load's own error
            log.warning(
                "could not store %d cursor anchors (%s); later walks may cost more", len(anchors), exc
            )
        else:
            log.info(
                "stored %d cursor anchors for %s%s",
                len(anchors),
                self.scope,
                f", dropped {len(self.refused)} refused ones" if self.refused else "",
            )
