"""Flattening of parsed bodies into typed column values, redacting them in place on the way.

One pass over a parsed body does both jobs, because both must visit every key: sensitive
values are replaced inside the body (so the stored JSON is redacted too) and every scalar,
list or capped object up to ``max_depth`` becomes a column value. :class:`BodyFlattener` owns
the window's column names and caps and returns :data:`FlatValue` triples.

Bodies must be the caller's own freshly parsed objects: they are changed in place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import orjson

from daily_provider.maps import MapRules
from daily_provider.redaction import Action, CompiledPolicy, PathNode
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
    unique_column_name,
)

BOOL = ColumnType.BOOL
INT64 = ColumnType.INT64
FLOAT64 = ColumnType.FLOAT64
STRING = ColumnType.STRING
TIMESTAMP = ColumnType.TIMESTAMP
JSON = ColumnType.JSON

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
# orjson reads an integer literal beyond 64 bits as a float; such a float is at least 2**63.
_BIG_FLOAT = 9223372036854775808.0

_TIMESTAMP_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"
)
# Daily's own form, 2024-03-15T18:42:00.000Z: nearly every timestamp in its bodies.
_MILLIS_UTC_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")

# One flattened value of a body: (its path's node id, value, its type); BodyFlattener.column_names
# gives the column of each node id.
FlatValue = tuple[str, Any, ColumnType]


class BigNumber(Exception):
    """The body holds an integer orjson could only read as a float; read it again exactly."""


def parse_timestamp_text(text: str) -> datetime | None:
    """The aware UTC datetime of a full ISO-8601 date-time with ``Z`` or an offset, else None.

    Only ``YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM)`` counts: dates alone, naive times and
    sub-microsecond fractions stay text, so a TIMESTAMP column never loses what the text said.
    """
    if not (20 <= len(text) <= 32 and text[10] == "T" and text[4] == "-"):
        return None
    match = _TIMESTAMP_TEXT.fullmatch(text)
    if match is None:
        return None
    fraction, zone = match.group(1), match.group(2)
    iso = text
    # Python 3.10's fromisoformat takes neither "Z" nor fractions other than 3 or 6 digits.
    if zone == "Z" or (fraction and len(fraction) not in (4, 7)):
        iso = text[:19] + (fraction.ljust(7, "0") if fraction else "") + ("+00:00" if zone == "Z" else zone)
    try:
        return datetime.fromisoformat(iso).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def is_timestamp_text(text: str) -> bool:
    """``parse_timestamp_text(text) is not None``, without building the datetime for Daily's own form."""
    if len(text) == 24 and text[23] == "Z" and _MILLIS_UTC_TEXT.fullmatch(text) is not None:
        try:  # the pattern fixes the shape; the calendar (month 13, Feb 30, hour 24) is checked here
            datetime.fromisoformat(text[:23])
        except ValueError:
            return False
        return True
    return parse_timestamp_text(text) is not None


def dump_json(value: Any) -> str:
    """Compact JSON text, keys in order, non-ASCII kept; exact for integers beyond 64 bits."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:  # ints beyond 64 bits, nesting orjson refuses; JSONEncodeError is a TypeError
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def redact_tree(
    policy: CompiledPolicy, root: dict[str, Any] | list[Any], rules: PathNode | None, check_big_numbers: bool
) -> int:
    """Redact a subtree that is kept as JSON (lists, objects past the depth cap) in place; return the count."""
    unmasked = policy.unmasked_keys
    redacted = 0
    stack: list[tuple[Any, PathNode | None]] = [(root, rules)]
    while stack:
        value, rules = stack.pop()
        if type(value) is dict:
            if rules is None:
                # Without path rules only the key rule counts, and most keys here are already known
                # to be unmasked (a masked user name beside ids and times): skip _key_rule for those.
                for key, item in value.items():
                    if item is not None and key not in unmasked:
                        action = policy.key_action(key)
                        if action is not None and action != "keep":
                            value[key] = policy.apply(action, item)
                            redacted += 1
                            continue
                    item_type = type(item)
                    if item_type is dict or item_type is list:
                        stack.append((item, None))
                    elif (
                        item_type is float
                        and check_big_numbers
                        and (item >= _BIG_FLOAT or item <= -_BIG_FLOAT)
                    ):
                        raise BigNumber
                continue
            for key, item in value.items():
                if item is None:
                    continue
                action, child_rules = _key_rule(policy, key, rules)
                if action is not None:
                    value[key] = policy.apply(action, item)
                    redacted += 1
                    continue
                item_type = type(item)
                if item_type is dict or item_type is list:
                    stack.append((item, child_rules))
                elif item_type is float and check_big_numbers and (item >= _BIG_FLOAT or item <= -_BIG_FLOAT):
                    raise BigNumber
        else:
            for item in value:
                item_type = type(item)
                if item_type is dict or item_type is list:
                    stack.append((item, rules))  # list items share their list's path
                elif item_type is float and check_big_numbers and (item >= _BIG_FLOAT or item <= -_BIG_FLOAT):
                    raise BigNumber
    return redacted


def _key_rule(
    policy: CompiledPolicy, key: str, rules: PathNode | None
) -> tuple[Action | None, PathNode | None]:
    """The action for ``key`` below a path-rule node (None for keep) and the rules of its children."""
    action = policy.key_action(key)  # cached per key by the policy
    child_rules = None
    if rules is not None:
        rule = rules.get(key.lower())
        if rule is not None:
            child_rules = rule[1] or None
            if rule[0] is not None:
                action = rule[0]
    return (None if action == "keep" else action), child_rules


class Node:
    """One path inside a body: its column state, its children and, while undecided, its keys.

    ``state`` is None until a value lands at the path, then True (it has a column) or False (the
    table's column cap refused it: its values stay in the body's JSON column). ``is_map``: objects
    at this path are kept whole as JSON (see ``maps.py``). ``keys`` counts the distinct keys seen
    while the map rule may still call the path a map; None once that is decided.
    """

    __slots__ = ("children", "id", "is_map", "keys", "legacy", "new", "path", "plain", "state")

    def __init__(self, path: tuple[str, ...], plain: str, node_id: str) -> None:
        self.path = path
        self.plain = plain  # the column name when no sibling key clashes (schema.column_name)
        self.id = node_id
        self.state: bool | None = None
        self.is_map = False
        self.keys: set[str] | None = None
        self.new = False  # its column is not in the table yet: it counts toward max_columns
        self.legacy = False  # the table has this path's column under 0.1's name: the new one replaces it
        self.children: dict[str, Node] = {}


class TableShape:
    """What the normalizer needs to know of the target table: its flattened columns and their types.

    The table is where a path's decisions live between windows: a JSON column at a path with no
    flattened children means a map; flattened children mean an object that is flattened.
    """

    def __init__(
        self, columns: Mapping[str, ColumnType] | None = None, comments: Mapping[str, str] | None = None
    ) -> None:
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

    @property
    def flattened(self) -> int:
        return len(self.types)


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
        self.budget = max(0, max_columns - self.table.flattened)
        self.new_columns = 0
        self.refused = 0  # distinct paths left in the JSON columns by the cap
        self.trimmed = 0  # of those, the ones column_names left out (a clash renamed a table column)
        self.nodes = 0
        # Parent paths cost memory without adding columns; bound them too, against bodies keyed by ids.
        self.node_limit = 4 * max(max_columns, self.map_key_threshold or 0) + 64
        self.overflowed = False  # some path was not even tracked (node_limit)
        self.flipped: list[Node] = []  # paths the key-count rule made maps during this window
        self.redacted = 0
        self.check_big_numbers = True

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
        kind = type(body)
        if kind is dict:
            if self.maps.body_is_map(prefix, method, endpoint):  # kept whole in the body's own column
                self.redacted += redact_tree(self.policy, body, rules, self.check_big_numbers)
            else:
                self._object(body, self.roots[prefix], 1, rules, out)
        elif kind is list:
            self.redacted += redact_tree(self.policy, body, rules, self.check_big_numbers)
        elif kind is float and self.check_big_numbers and (body >= _BIG_FLOAT or body <= -_BIG_FLOAT):
            raise BigNumber

    def mark(self, out: list[FlatValue]) -> tuple[int, int]:
        """A point :meth:`rollback` can return to."""
        return len(out), self.redacted

    def rollback(self, out: list[FlatValue], mark: tuple[int, int]) -> None:
        """Forget the entries and redaction counts since ``mark`` (admitted columns stay admitted)."""
        del out[mark[0] :]
        self.redacted = mark[1]

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
        if table.types.get(node.plain) is JSON:  # kept whole before: stays whole
            node.is_map = True
            return
        if self.map_key_threshold is not None:
            node.keys = set()

    def _flip(self, node: Node) -> None:
        """Make ``node`` a map mid-window: forget the columns below it (their values are in the JSON)."""
        node.is_map = True
        node.keys = None
        self.flipped.append(node)
        stack = list(node.children.values())
        node.children = {}
        while stack:
            child = stack.pop()
            self.nodes -= 1
            if child.state and child.new:
                self.new_columns -= 1
            elif child.state is False:
                self.refused -= 1
            stack.extend(child.children.values())

    def _admit(self, node: Node) -> bool:
        """Give ``node`` a column: free when the table has it, else while the table's cap allows.

        A path whose column the table has under the naming rule of 0.1 gets its new name for free:
        the old column stops growing, so a table at the cap still moves to the new names.
        """
        table = self.table.types
        if node.plain in table:
            node.state = True
        elif legacy_column_name(node.path[0], node.path[1:]) in table:
            node.state = node.legacy = True
        elif self.new_columns < self.budget:
            node.state = node.new = True
            self.new_columns += 1
        else:
            node.state = False
            self.refused += 1
        return node.state

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
                if child.state:
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
        children = node.children
        for key, value in obj.items():
            if value is None:  # nothing to hide and no type: no column value
                continue
            action, child_rules = _key_rule(policy, key, rules)
            if action is not None:
                value = obj[key] = policy.apply(action, value)
                self.redacted += 1
                kind = STRING
            else:
                value_type = type(value)
                if value_type is str:
                    kind = (
                        TIMESTAMP
                        if len(value) >= 20 and value[4] == "-" and is_timestamp_text(value)
                        else STRING
                    )
                elif value_type is dict:
                    child = children.get(key) or self._child(node, key)
                    if child is None:
                        self.redacted += redact_tree(policy, value, child_rules, self.check_big_numbers)
                        continue
                    if depth < self.max_depth and not child.is_map:
                        keys = child.keys
                        if keys is None:
                            self._object(value, child, depth + 1, child_rules, out)
                            continue
                        keys.update(value)
                        if len(keys) <= self.map_key_threshold:  # type: ignore[operator]
                            self._object(value, child, depth + 1, child_rules, out)
                            continue
                        self._flip(child)
                    self.redacted += redact_tree(policy, value, child_rules, self.check_big_numbers)
                    value = dump_json(value)
                    kind = JSON
                elif value_type is list:
                    self.redacted += redact_tree(policy, value, child_rules, self.check_big_numbers)
                    value = dump_json(value)
                    kind = JSON
                elif value_type is bool:
                    kind = BOOL
                elif value_type is int:
                    if _INT64_MIN <= value <= _INT64_MAX:
                        kind = INT64
                    else:
                        value = str(value)
                        kind = STRING
                elif value_type is float:
                    if self.check_big_numbers and (value >= _BIG_FLOAT or value <= -_BIG_FLOAT):
                        raise BigNumber
                    kind = FLOAT64
                else:  # not produced by a JSON parser; kept as text rather than failing the load
                    value = str(value)
                    kind = STRING
            child = children.get(key) or self._child(node, key)
            if child is None:
                continue
            state = child.state
            if state is None:
                state = self._admit(child)
            if state:
                out.append((child.id, value, kind))


def json_at(body: Any, path: tuple[str, ...]) -> str | None:
    """The object at ``path`` (keys below the body) inside a parsed body, as JSON text; else None."""
    value = body
    for key in path:
        if type(value) is not dict:
            return None
        value = value.get(key)
    return dump_json(value) if type(value) is dict else None
