"""Map paths: objects whose keys are data (room names, ids, header names), kept as one JSON column.

Flattening such an object would turn every room a domain ever had into a column. A path is a map
when it is declared (Daily's known maps below, or the ``map_paths`` a user gives), or when the
table already stores it as one JSON column, or, for a path nobody declared, when its objects show
more than ``map_key_threshold`` distinct keys (the normalizer applies that rule, see ``flatten``).
At a body's root the rule counts each endpoint's keys on their own, and its decisions are kept
beside the table by the warehouse (:class:`~daily_provider.warehouses.base.MapStore`).

A map path is written as the body (``request`` or ``response``) and the keys below it joined by
dots, as they appear in Daily's JSON: ``request.payload.sip_headers``. A whole body can be
declared a map for one endpoint only, since every endpoint shares the body's root:
``GET /v1/presence response`` (the method is optional: ``/v1/presence response``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from daily_provider.exceptions import DailyConfigError
from daily_provider.schema import BODY_PREFIXES

# Daily's own maps (DAILY_API.md and the webhook payloads).
DEFAULT_MAP_PATHS: tuple[str, ...] = (
    # Presence: room name -> participants; a domain has thousands of rooms a month.
    "GET /v1/presence response",
    # dialin.connected: SIP header name -> value; any header the carrier sends.
    "request.payload.sip_headers",
    # participant.* permissions: user or participant id -> what it may receive.
    "request.payload.permissions.canReceive.byUserId",
    "request.payload.permissions.canReceive.byParticipantId",
)

# More distinct keys than this at one path and its objects are data, not fields.
DEFAULT_MAP_KEY_THRESHOLD = 50

MapPathsArg = Mapping[str, bool] | Iterable[str]
# A whole body kept as a map for one endpoint: (method or "", endpoint template, "request"/"response").
MapBody = tuple[str, str, str]

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class MapRules:
    """Declared map paths, compiled: body paths and whole bodies per endpoint, and undeclared ones."""

    paths: frozenset[tuple[str, ...]] = frozenset()
    not_paths: frozenset[tuple[str, ...]] = frozenset()
    bodies: frozenset[MapBody] = frozenset()
    not_bodies: frozenset[MapBody] = frozenset()

    def body_rule(self, prefix: str, method: str | None, endpoint: str | None) -> bool | None:
        """Whether the whole ``prefix`` body of calls to ``method endpoint`` is declared a map (True),
        undeclared (False), or neither (None: the key-count rule decides)."""
        if endpoint is None or not (self.bodies or self.not_bodies):
            return None
        for key in ((method or "", endpoint, prefix), ("", endpoint, prefix)):
            if key in self.not_bodies:
                return False
            if key in self.bodies:
                return True
        return None


def parse_map_path(spec: str) -> tuple[str, str, tuple[str, ...]]:
    """``(method, endpoint, path)`` of one map path text (method and endpoint "" when not given)."""
    if not isinstance(spec, str) or not spec.strip():
        raise DailyConfigError(f"map path {spec!r} must be a non-empty text such as 'response.data.byRoom'")
    words = spec.split()
    method = endpoint = ""
    if len(words) == 3 and words[0].upper() in _METHODS:
        method, endpoint, body = words[0].upper(), words[1], words[2]
    elif len(words) == 2:
        endpoint, body = words
    elif len(words) == 1:
        body = words[0]
    else:
        raise DailyConfigError(
            f"map path {spec!r} is not understood: write 'request.some.key', or '[METHOD] /v1/endpoint "
            "response' for a whole body of one endpoint"
        )
    if endpoint and not endpoint.startswith("/"):
        raise DailyConfigError(f"map path {spec!r}: the endpoint must be a route such as /v1/presence")
    path = tuple(body.split("."))
    if path[0] not in BODY_PREFIXES or any(not key for key in path):
        raise DailyConfigError(
            f"map path {spec!r} must start with 'request' or 'response' and name keys joined by dots"
        )
    if endpoint and len(path) != 1:
        raise DailyConfigError(
            f"map path {spec!r}: an endpoint can only declare a whole body ('request' or 'response') a map, "
            "because the columns below a body are shared by every endpoint"
        )
    return method, endpoint, path


def compile_map_paths(user: MapPathsArg | None, *, defaults: Iterable[str] = DEFAULT_MAP_PATHS) -> MapRules:
    """The rules for Daily's map paths plus the user's: ``{path: True}`` declares, ``{path: False}``
    undeclares (a default, or a path the key-count rule would call a map). A list declares."""
    wanted: dict[str, bool] = dict.fromkeys(defaults, True)
    if user is not None:
        if isinstance(user, str):
            raise DailyConfigError(f"map_paths={user!r} must be a list of paths or a mapping path -> bool")
        items = user.items() if isinstance(user, Mapping) else ((spec, True) for spec in user)
        for spec, declared in items:
            if not isinstance(declared, bool):
                raise DailyConfigError(f"map_paths[{spec!r}]={declared!r} must be True or False")
            wanted[spec] = declared
    paths: set[tuple[str, ...]] = set()
    not_paths: set[tuple[str, ...]] = set()
    bodies: set[tuple[str, str, str]] = set()
    not_bodies: set[tuple[str, str, str]] = set()
    for spec, declared in wanted.items():
        method, endpoint, path = parse_map_path(spec)
        if endpoint:
            (bodies if declared else not_bodies).add((method, endpoint, path[0]))
        elif len(path) == 1:
            raise DailyConfigError(
                f"map path {spec!r} would keep every {path[0]} body whole; name the endpoint, e.g. "
                f"'GET /v1/presence {path[0]}'"
            )
        else:
            (paths if declared else not_paths).add(path)
    return MapRules(frozenset(paths), frozenset(not_paths), frozenset(bodies), frozenset(not_bodies))
