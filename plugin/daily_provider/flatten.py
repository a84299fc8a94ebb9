"""Flattening of parsed bodies into typed column values, redacting them in place on the way.

One pass over a parsed body does both jobs, because both must visit every key: sensitive values
are replaced inside the body (so the stored JSON is redacted too) and every scalar, list or capped
object up to ``max_depth`` becomes a column value. :class:`BodyFlattener` owns the window's column
names and caps. Bodies must be the caller's own freshly parsed objects: they are changed in place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from daily_provider.maps import MapBody, MapRules
from daily_provider.redaction import CompiledPolicy, PathNode
from daily_provider.schema import (
    BODY_PREFIXES,
    FIXED_COLUMNS,
    ColumnType,
    column_name,
    hashed_part,
    join_name,
    json_path_text,
    legacy_column_name,
    name_parts,
    parse_timestamp_text,
    unique_column_name,
)

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# One flattened value of a body: (its path's node id, value, its type); BodyFlattener.column_names
# gives the column of each node id.
FlatValue = tuple[str, Any, ColumnType]


def dump_json(value: Any) -> str:
    """Compact JSON text, keys in order, non-ASCII kept; exact for integers beyond 64 bits."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:  # ints beyond 64 bits, nesting orjson refuses; JSONEncodeError is a TypeError
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _scalar(value: Any) -> tuple[Any, ColumnType]:
    """A JSON scalar's column value and type (TIMESTAMP values stay their text, see schema)."""
    kind = type(value)
    if kind is str:
        is_time = len(value) >= 20 and parse_timestamp_text(value) is not None
        return value, ColumnType.TIMESTAMP if is_time else ColumnType.STRING
    if kind is bool:
        return value, ColumnType.BOOL
    if kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return value, ColumnType.INT64
        return str(value), ColumnType.STRING
    if kind is float:
        return value, ColumnType.FLOAT64
    return str(value), ColumnType.STRING  # not produced by a JSON parser; text rather than a failed load


class Node:
    """One path inside a body: whether it has a column, its children and, while undecided, its keys.

    ``admitted`` is None until a value lands at the path, then True (it has a column) or False (the
    table's column cap refused it: its values stay in the body's JSON column). ``is_map``: objects
    at this path are kept whole as JSON (see ``maps.py``). ``keys`` counts the distinct keys seen
    while the map rule may still call the path a map; None once that is decided. ``users``: for a
    key at a body's root, the endpoints whose bodies had it (the root's map rule is per endpoint).
    """

    __slots__ = ("admitted", "children", "id", "is_map", "keys", "legacy", "new", "path", "plain", "users")

    def __init__(self, path: tuple[str, ...], plain: str, node_id: str) -> None:
        self.path = path
        self.plain = plain  # the column name when no sibling key clashes (schema.column_name)
        self.id = node_id
        self.admitted: bool | None = None
        self.is_map = False
        self.keys: set[str] | None = None
        self.new = False  # its column is not in the table yet: it counts toward max_columns
        self.legacy = False  # the table has this path's column under 0.1's name: the new one replaces it
        self.children: dict[str, Node] = {}
        self.users: set[MapBody] = set()


class TableShape:
    """What the normalizer needs to know of the target table: its flattened columns and their types.

    The table is where a path's decisions live between windows: a JSON column at a path with no
    flattened children means a map; flattened children mean an object that is flattened. A body's
    root is shared by every endpoint, so the endpoints whose root is a map are kept beside the table
    (``map_bodies``, see ``warehouses.base.MapStore``).
    """

    def __init__(
        self,
        columns: Mapping[str, ColumnType] | None = None,
        comments: Mapping[str, str] | None = None,
        map_bodies: Iterable[MapBody] = (),
    ) -> None:
        self.map_bodies = frozenset(map_bodies)
        self.types: dict[str, ColumnType] = {
            name: ColumnType(kind) for name, kind in (columns or {}).items() if name not in FIXED_COLUMNS
        }
        # A flattened column's comment is its original path (schema.json_path_text): who owns a name.
        self.comments = {name: path for name, path in (comments or {}).items() if name in self.types}
        self.owners = {path: name for name, path in self.comments.items()}
        self.parents: set[str] = set()
        for name in self.types:
            if name.endswith("_"):  # a warehouse's own column (BigQuery's STRING siblings), not a path
                continue
            parts = name.split("__")
            for end in range(1, len(parts)):
                self.parents.add("__".join(parts[:end]))


class BodyFlattener:
    """Flattens bodies for one window; the column set it admits is shared by all its records.

    Values are emitted under the id of their path's :class:`Node`; :meth:`column_names` gives the
    columns once the window's keys are all known, because a name can depend on a sibling key
    seen later (``userName`` beside ``user_name``, see ``schema.name_parts``).
    """

    def __init__(
        self,
        policy: CompiledPolicy,
        *,
        max_depth: int,
        max_columns: int,
        maps: MapRules | None = None,
        map_key_threshold: int | None = None,
        table: TableShape | None = None,
    ) -> None:
        self.policy = policy
        self.max_depth = max_depth
        self.max_columns = max_columns
        self.maps = maps or MapRules()
        self.map_key_threshold = map_key_threshold
        self.table = table or TableShape()
        self._ids = 0
        self.roots = {prefix: self._node((prefix,), prefix) for prefix in BODY_PREFIXES}
        # New columns this window may add: the cap is the table's, not the window's.
        self.budget = max(0, max_columns - len(self.table.types))
        self.new_columns = 0
        self.refused = 0  # distinct paths left in the JSON columns by the cap
        self.trimmed = 0  # of those, the ones column_names left out (a clash renamed a table column)
        self.nodes = 0
        # Parent paths cost memory without adding columns; bound them too, against bodies keyed by ids.
        self.node_limit = 4 * max(max_columns, self.map_key_threshold or 0) + 64
        self.overflowed = False  # some path was not even tracked (node_limit)
        self.flipped: list[Node] = []  # paths the key-count rule made maps during this window
        self.map_bodies = set(self.table.map_bodies)  # endpoints whose body root is a map
        self.new_map_bodies: list[MapBody] = []  # of those, the ones this window's rule decided
        self._root_keys: dict[MapBody, set[str]] = {}  # each undecided endpoint's root keys so far
        self.redacted = 0

    def _node(self, path: tuple[str, ...], plain: str) -> Node:
        self._ids += 1
        return Node(path, plain, str(self._ids))

    def flatten(
        self,
        prefix: str,
        body: Any,
        out: list[FlatValue],
        method: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        """Redact ``body`` in place and append an entry for each of its flattened columns."""
        rules = self.policy.path_root(prefix)
        if type(body) is dict and not self._root_is_map(prefix, method, endpoint, body):
            root = self.roots[prefix]
            self._object(body, root, 1, rules, out)
            if self.map_key_threshold is not None:
                user = (method or "", endpoint or "", prefix)
                for key in body:
                    child = root.children.get(key)
                    if child is not None:
                        child.users.add(user)
        elif type(body) is dict or type(body) is list:  # kept whole in the body's own column
            self.redacted += self.policy.redact_tree(body, rules)

    def _root_is_map(
        self, prefix: str, method: str | None, endpoint: str | None, body: dict[str, Any]
    ) -> bool:
        """Whether this endpoint's ``prefix`` body is a map: declared, decided before, or by the key count
        of this endpoint's bodies alone (every endpoint shares the root's columns)."""
        declared = self.maps.body_rule(prefix, method, endpoint)
        if declared is not None:
            return declared
        user = (method or "", endpoint or "", prefix)
        if user in self.map_bodies:
            return True
        if self.map_key_threshold is None or endpoint is None:
            return False
        keys = self._root_keys.setdefault(user, set())
        keys.update(body)
        if len(keys) <= self.map_key_threshold:
            return False
        del self._root_keys[user]
        self.map_bodies.add(user)
        self.new_map_bodies.append(user)
        root = self.roots[prefix]
        for key, child in list(root.children.items()):
            child.users.discard(user)
            if not child.users:  # only this endpoint had the key: its column goes (the JSON keeps it)
                del root.children[key]
                self._forget([child])
        return True

    def _child(self, node: Node, key: str) -> Node | None:
        """``node``'s child for ``key``, created if the node limit allows; None once it refuses."""
        child = node.children.get(key)
        if child is None:
            if self.nodes >= self.node_limit:
                self.overflowed = True
                return None
            path = (*node.path, key)
            child = node.children[key] = self._node(path, column_name(path[0], path[1:]))
            self.nodes += 1
            self._decide(child)
        return child

    def _decide(self, node: Node) -> None:
        """Whether objects at ``node`` are a map: declared, kept by the table, or left to the key count."""
        path = node.path
        maps = self.maps
        if path in maps.not_paths:
            return
        if path in maps.paths:
            node.is_map = True
            return
        table = self.table
        if node.plain in table.parents:  # the table flattens this path already
            return
        if table.types.get(node.plain) is ColumnType.JSON:  # kept whole before: stays whole
            node.is_map = True
            return
        if self.map_key_threshold is not None:
            node.keys = set()

    def _flip(self, node: Node) -> None:
        """Make ``node`` a map mid-window: forget the columns below it (their values are in the JSON)."""
        node.is_map = True
        node.keys = None
        self.flipped.append(node)
        self._forget(node.children.values())
        node.children = {}

    def _forget(self, nodes: Iterable[Node]) -> None:
        """Drop the counts of ``nodes`` and the paths below them, which lose their columns."""
        stack = list(nodes)
        while stack:
            child = stack.pop()
            self.nodes -= 1
            if child.admitted and child.new:
                self.new_columns -= 1
            elif child.admitted is False:
                self.refused -= 1
            stack.extend(child.children.values())

    def _admit(self, node: Node) -> bool:
        """Give ``node`` a column: free when the table has it, else while the table's cap allows.

        A path whose column the table has under the naming rule of 0.1 gets its new name for free:
        the old column stops growing, so a table at the cap still moves to the new names.
        """
        table = self.table.types
        if node.plain in table:
            node.admitted = True
        elif legacy_column_name(node.path[0], node.path[1:]) in table:
            node.admitted = node.legacy = True
        elif self.new_columns < self.budget:
            node.admitted = node.new = True
            self.new_columns += 1
        else:
            node.admitted = False
            self.refused += 1
        return node.admitted

    def column_names(self) -> dict[str, str]:
        """The column of each admitted path's node id, named from the window's keys (schema.name_parts).

        The same keys give the same names whatever order they arrived in. New columns beyond the
        table's cap (possible only when a sibling clash renamed a column the table had) are left out.
        """
        names: dict[str, str] = {}
        taken: set[str] = set(FIXED_COLUMNS)
        new: list[tuple[str, str]] = []
        stack: list[tuple[Node, list[str]]] = [(root, [prefix]) for prefix, root in self.roots.items()]
        while stack:
            node, parts = stack.pop()
            if not node.children:
                continue
            mapping = self._parts(node, parts)
            for key in sorted(node.children):
                child = node.children[key]
                child_parts = [*parts, mapping[key]]
                if child.admitted:
                    name = unique_column_name(join_name(parts[0], child_parts[1:]), child.path, taken)
                    taken.add(name)
                    names[child.id] = name
                    if name not in self.table.types and not child.legacy:
                        new.append((name, child.id))
                stack.append((child, child_parts))
        self.trimmed = max(0, len(new) - self.budget)
        for _, node_id in sorted(new)[self.budget :]:
            del names[node_id]
        return names

    def _parts(self, node: Node, parts: list[str]) -> dict[str, str]:
        """The name part of each child key of ``node`` (named ``parts``), keeping the table's names.

        A path whose column the table has (its comment names the path) keeps that column, and a key
        that lost a clash before keeps its hashed column, even in a window where the key it
        clashed with is absent; a name the table gives another path is not taken again.
        """
        table = self.table
        base = join_name(parts[0], parts[1:]) + "__"
        kept: dict[str, str] = {}
        for key in node.children:
            owned = table.owners.get(json_path_text(node.children[key].path))
            if owned is not None and owned.startswith(base) and "__" not in owned[len(base) :]:
                kept[key] = owned[len(base) :]
                continue
            hashed = hashed_part(key)
            if base + hashed in table.types:
                kept[key] = hashed
        mapping = name_parts(key for key in node.children if key not in kept)
        for key, part in mapping.items():
            owner = table.comments.get(base + part)
            if owner is not None and owner != json_path_text(node.children[key].path):
                mapping[key] = hashed_part(key)
        mapping.update(kept)
        return mapping

    def _object(
        self, obj: dict[str, Any], node: Node, depth: int, rules: PathNode | None, out: list[FlatValue]
    ) -> None:
        policy = self.policy
        key_rule = policy.key_rule
        children = node.children
        for key, value in obj.items():
            if value is None:  # nothing to hide and no type: no column value
                continue
            action, child_rules = key_rule(key, rules)
            if action is not None:
                value = obj[key] = policy.apply(action, value)
                self.redacted += 1
                kind = ColumnType.STRING
            elif type(value) is dict:
                child = children.get(key) or self._child(node, key)
                if (
                    child is not None
                    and depth < self.max_depth
                    and not child.is_map
                    and (child.keys is None or self._still_fields(child, value))
                ):
                    self._object(value, child, depth + 1, child_rules, out)
                    continue
                self.redacted += policy.redact_tree(value, child_rules)
                value, kind = dump_json(value), ColumnType.JSON
            elif type(value) is list:
                self.redacted += policy.redact_tree(value, child_rules)
                value, kind = dump_json(value), ColumnType.JSON
            else:
                value, kind = _scalar(value)
            child = children.get(key) or self._child(node, key)
            if child is None:
                continue
            admitted = child.admitted
            if admitted is None:
                admitted = self._admit(child)
            if admitted:
                out.append((child.id, value, kind))

    def _still_fields(self, node: Node, obj: dict[str, Any]) -> bool:
        """Count ``obj``'s keys at ``node``, which the key-count rule still watches; once they pass
        the threshold the path is a map (False)."""
        keys = node.keys
        assert keys is not None and self.map_key_threshold is not None
        keys.update(obj)
        if len(keys) <= self.map_key_threshold:
            return True
        self._flip(node)
        return False

    def nodes_by_id(self) -> dict[str, Node]:
        """Every path's node, by node id."""
        found: dict[str, Node] = {}
        stack = list(self.roots.values())
        while stack:
            node = stack.pop()
            found[node.id] = node
            stack.extend(node.children.values())
        return found


def json_at(body: Any, path: tuple[str, ...]) -> str | None:
    """The object at ``path`` (keys below the body) inside a parsed body, as JSON text; else None."""
    value = body
    for key in path:
        if type(value) is not dict:
            return None
        value = value.get(key)
    return dump_json(value) if type(value) is dict else None
