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
from datetime import datetime, timezone
from typing import Any

import orjson

from daily_provider.redaction import Action, CompiledPolicy, PathNode
from daily_provider.schema import BODY_PREFIXES, ColumnType, unique_column_name

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

# One flattened value of a body: (column name, value, its type).
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
    """One path inside a body: its column (None until admitted, "" when refused) and children."""

    __slots__ = ("children", "column", "path")

    def __init__(self, path: tuple[str, ...]) -> None:
        self.path = path
        self.column: str | None = None
        self.children: dict[str, Node] = {}


class BodyFlattener:
    """Flattens bodies for one window; the column set it admits is shared by all its records."""

    def __init__(self, policy: CompiledPolicy, *, max_depth: int, max_columns: int) -> None:
        self.policy = policy
        self.max_depth = max_depth
        self.max_columns = max_columns
        self.roots = {prefix: Node((prefix,)) for prefix in BODY_PREFIXES}
        self.names: set[str] = set()  # the admitted columns
        self.nodes = 0
        # Parent paths cost memory without adding columns; bound them too, against bodies keyed by ids.
        self.node_limit = 4 * max_columns + 64
        self.redacted = 0
        self.check_big_numbers = True

    def flatten(self, prefix: str, body: Any, out: list[FlatValue]) -> None:
        """Redact ``body`` in place and append an entry for each of its flattened columns."""
        rules = self.policy.path_root(prefix)
        kind = type(body)
        if kind is dict:
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
        """``node``'s child for ``key``, created if the caps allow; None once they refuse it."""
        child = node.children.get(key)
        if child is None and len(self.names) < self.max_columns and self.nodes < self.node_limit:
            child = node.children[key] = Node((*node.path, key))
            self.nodes += 1
        return child

    def _admit(self, node: Node) -> str:
        """Give ``node`` its column name, or "" (for good) once ``max_columns`` is reached."""
        if len(self.names) >= self.max_columns:
            node.column = ""
        else:
            node.column = unique_column_name(node.path[0], node.path[1:], self.names)
            self.names.add(node.column)
        return node.column

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
                    if depth < self.max_depth:
                        child = children.get(key) or self._child(node, key)
                        if child is None:
                            self.redacted += redact_tree(policy, value, child_rules, self.check_big_numbers)
                        else:
                            self._object(value, child, depth + 1, child_rules, out)
                        continue
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
            column = child.column
            if column is None:
                column = self._admit(child)
            if column:
                out.append((column, value, kind))
