"""Endpoint templates: the route a log record hit, with ids replaced, so calls group by route.

Known Daily routes are matched segment by segment against a small trie (``/v1/rooms/{name}``,
``/v1/recordings/{id}/access-link``, ...). Segments past what the trie knows fall back to a
shape test: UUIDs, long hex or digit runs and JWTs become ``{id}``. Webhook rows point at the
customer's own server, so their template is that URL without credentials, query or fragment.
"""

from __future__ import annotations

import re
from functools import lru_cache

from daily_provider.redaction import looks_like_jwt

# Routes of Daily's REST API (v1). A segment in braces matches any one segment.
KNOWN_ROUTES = (
    "/v1/rooms/{name}/presence",
    "/v1/rooms/{name}/get-session-data",
    "/v1/rooms/{name}/set-session-data",
    "/v1/rooms/{name}/eject",
    "/v1/rooms/{name}/update-permissions",
    "/v1/rooms/{name}/send-app-message",
    "/v1/rooms/{name}/sipCallTransfer",
    "/v1/rooms/{name}/sipRefer",
    *(f"/v1/rooms/{{name}}/{feature}/{verb}"
      for feature in ("recordings", "live-streaming", "transcription")
      for verb in ("start", "update", "stop")),
    "/v1/rooms/{name}/dialOut/start",
    "/v1/rooms/{name}/dialOut/stop",
    "/v1/rooms/{name}/dialOut/sendDTMF",
    "/v1/batch/rooms",
    "/v1/meeting-tokens/{token}",
    "/v1/recordings/{id}/access-link",
    "/v1/transcript/{id}/access-link",
    "/v1/batch-processor/{id}/access-link",
    "/v1/meetings/{id}/participants",
    "/v1/webhooks/{id}",
    "/v1/domain-dialin-config/{id}",
    "/v1/release-phone-number/{id}",
    "/v1/list-available-numbers",
    "/v1/buy-phone-number",
    "/v1/purchased-phone-numbers",
    "/v1/dialin/pinlessCallUpdate",
    "/v1/presence",
    "/v1/logs/api",
)  # fmt: skip

# segment -> (placeholder-or-None, children); "*" holds the wildcard child.
_Trie = dict[str, "tuple[str | None, _Trie]"]


def _build_trie(routes: tuple[str, ...]) -> _Trie:
    root: _Trie = {}
    for route in routes:
        node = root
        for segment in route.strip("/").split("/"):
            key, placeholder = ("*", segment) if segment.startswith("{") else (segment, None)
            entry = node.setdefault(key, (placeholder, {}))
            node = entry[1]
    return root


_TRIE = _build_trie(KNOWN_ROUTES)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LONG_HEX = re.compile(r"[0-9a-fA-F]{16,}")


def looks_like_id(segment: str) -> bool:
    """True for segments that name one object rather than a route: UUIDs, digits, long hex, JWTs."""
    if not segment or not segment.isascii():
        return False
    return (
        segment.isdigit()
        or (len(segment) == 36 and _UUID.fullmatch(segment) is not None)
        or (len(segment) >= 16 and _LONG_HEX.fullmatch(segment) is not None)
        or looks_like_jwt(segment)
    )


def endpoint_template(url: str | None, source: str) -> str | None:
    """Return the route of ``url`` with ids replaced (api rows) or the bare webhook URL (webhook rows).

    ``endpoint_template("/v1/rooms/my-room/presence", "api") == "/v1/rooms/{name}/presence"``;
    ``endpoint_template("https://example.com/hook?secret=x", "webhook") == "https://example.com/hook"``.
    """
    if url is None:
        return None
    return _template(url, source == "webhook")


@lru_cache(maxsize=16_384)
def _template(url: str, webhook: bool) -> str:
    bare = url.partition("#")[0].partition("?")[0]
    scheme_end = bare.find("://")
    if scheme_end >= 0:
        slash = bare.find("/", scheme_end + 3)
        authority, path = (bare, "") if slash < 0 else (bare[:slash], bare[slash:])
        if webhook:
            host = authority[scheme_end + 3 :].rpartition("@")[2].lower()
            segments = ["{token}" if looks_like_jwt(part) else part for part in path.split("/")]
            return f"{authority[:scheme_end].lower()}://{host}{'/'.join(segments)}"
        bare = path or "/"
    return _route_template(bare)


def _route_template(path: str) -> str:
    stripped = path.rstrip("/")
    if not stripped:
        return "/" if path.startswith("/") else path
    segments = stripped.split("/")
    leading = segments[0] == ""
    parts = segments[1:] if leading else segments
    out: list[str] = []
    node: _Trie | None = _TRIE if leading else None
    for part in parts:
        entry = None
        if node is not None:
            entry = node.get(part)
            if entry is not None:
                out.append(part)
            else:
                entry = node.get("*")
                if entry is not None:
                    out.append(entry[0] or part)
            node = entry[1] if entry is not None else None
            if entry is not None:
                continue
        out.append("{id}" if looks_like_id(part) else part)
    return ("/" if leading else "") + "/".join(out)
