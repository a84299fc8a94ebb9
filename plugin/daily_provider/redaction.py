"""Redaction of sensitive values: the policy, its compiled lookup form, and URL and text masking.

A :class:`RedactionPolicy` maps body keys (anywhere, case-insensitive) or dotted paths (one
place) to an action: ``drop`` replaces the value by :data:`REDACTED`, ``hash`` by a keyed
HMAC-SHA256 (so analysts can still join and count distinct values without seeing them), ``keep``
leaves it. The normalizer asks the compiled form once per key; results are cached because the
same few hundred keys repeat across millions of records.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import unquote_plus

import orjson

from daily_provider.exceptions import DailyConfigError
from daily_provider.schema import BODY_PREFIXES

Action = Literal["drop", "hash", "keep"]
ACTIONS: tuple[Action, ...] = ("drop", "hash", "keep")
REDACTED = "[redacted]"
HASH_PREFIX = "sha256:"

# A trie of dotted-path rules: lowercased key -> (action at this key or None, children).
PathNode = dict[str, "tuple[Action | None, PathNode]"]

_CACHE_LIMIT = 65_536

# Query parameters masked even when the policy names no rule for them: credentials and the
# signatures of pre-signed URLs (S3 ``X-Amz-*``, GCS ``X-Goog-*``, CloudFront).
_SENSITIVE_PARAMS = frozenset(
    {
        "token", "access_token", "refresh_token", "id_token", "meeting_token", "share_token",
        "key", "api_key", "apikey", "secret", "client_secret", "password", "passwd", "pwd",
        "signature", "sig", "auth", "authorization", "credential", "credentials", "hmac",
        "session_token", "security_token", "awsaccesskeyid", "googleaccessid", "policy",
        "key-pair-id", "code",
    }
)  # fmt: skip
_SENSITIVE_PARAM_PREFIXES = ("x-amz-", "x-goog-")

_JWT_TEXT = re.compile(r"eyJ[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]*){0,2}")
_URL_TEXT = re.compile(r"https?://[^\s\"'<>\\]+")
# In text that is not JSON no key says what a value is: SIP URIs and E.164 phone numbers (dial-in
# and dial-out parties) are recognisable by shape alone.
_SIP_TEXT = re.compile(r"\bsips?:[^\s\"'<>\\,;]+", re.IGNORECASE)
_PHONE_TEXT = re.compile(r"(?<![\w+])\+[1-9][0-9]{7,14}(?![0-9])")


def looks_like_jwt(text: str) -> bool:
    """True for ``header.payload.signature`` base64url text whose header starts with ``{"``."""
    return text.startswith("eyJ") and text.count(".") == 2 and _JWT_TEXT.fullmatch(text) is not None


@dataclass(frozen=True)
class RedactionPolicy:
    """What to do with sensitive values in bodies, ``url`` and ``ip``.

    ``rules`` keys are either a key name, matched at any depth (also inside lists) and
    case-insensitively, or a dotted path starting with ``request.`` or ``response.`` that matches
    one place (list items share their list's path). A path rule wins over a key rule. ``secret``
    keys the ``hash`` action; without one, ``hash`` acts as ``drop``. Null values stay null.
    """

    rules: Mapping[str, Action] = field(hash=False)
    secret: bytes | None = field(default=None, repr=False)
    _compiled: CompiledPolicy = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        rules = dict(self.rules)
        for name, action in rules.items():
            if not isinstance(name, str) or not name.strip("."):
                raise DailyConfigError(f"redaction rule key {name!r} must be a key name or a dotted path")
            if action not in ACTIONS:
                raise DailyConfigError(
                    f"redaction rule {name!r}: {action!r} is not an action; use one of {', '.join(ACTIONS)}"
                )
        secret = self.secret
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        elif isinstance(secret, bytearray | memoryview):
            secret = bytes(secret)
        elif secret is not None and not isinstance(secret, bytes):
            raise DailyConfigError(f"the redaction secret must be bytes or None, got {type(secret).__name__}")
        object.__setattr__(self, "rules", rules)
        object.__setattr__(self, "secret", secret or None)
        object.__setattr__(self, "_compiled", CompiledPolicy(rules, secret or None))

    def with_overrides(self, overrides: Mapping[str, Action]) -> RedactionPolicy:
        """Return a policy whose rules are these rules with ``overrides`` replacing (case-insensitively) or added."""
        replaced = {name.lower() for name in overrides}
        rules = {name: action for name, action in self.rules.items() if name.lower() not in replaced}
        rules.update(overrides)
        return RedactionPolicy(rules=rules, secret=self.secret)

    @property
    def compiled(self) -> CompiledPolicy:
        return self._compiled


class CompiledPolicy:
    """Lookup form of a policy: per-key actions with a cache, the path trie, and the hasher."""

    def __init__(self, rules: Mapping[str, Action], secret: bytes | None) -> None:
        self.secret = secret
        self.key_actions: dict[str, Action] = {}
        self.path_roots: PathNode = {}
        for name, action in rules.items():
            if "." in name.strip("."):
                self._add_path(name, action)
            else:
                self.key_actions[name.strip(".").lower()] = action
        self.key_cache: dict[str, Action | None] = {}
        # Keys, as written, that no key rule masks: a whole object of them is checked with one set
        # operation (path rules are separate and are looked up by the caller).
        self.unmasked_keys: set[str] = set()
        self._hash_cache: dict[str, str] = {}
        self._text_pattern: re.Pattern[str] | None = None

    def _add_path(self, name: str, action: Action) -> None:
        parts = name.lower().split(".")
        if parts[0] not in BODY_PREFIXES or not all(parts):
            raise DailyConfigError(
                f"redaction rule {name!r} is a dotted path, so it must start with 'request.' or 'response.' "
                "and have no empty parts; use a plain key name to match a key anywhere"
            )
        node = self.path_roots
        for depth, part in enumerate(parts):
            current, children = node.get(part, (None, {}))
            if depth == len(parts) - 1:
                current = action
            node[part] = (current, children)
            node = children

    def path_root(self, prefix: str) -> PathNode | None:
        entry = self.path_roots.get(prefix)
        return entry[1] if entry else None

    def key_action(self, key: str) -> Action | None:
        """The key rule for ``key`` (case-insensitive), cached by the key as written."""
        try:
            return self.key_cache[key]
        except KeyError:
            action = self.key_actions.get(key.lower())
            if len(self.key_cache) < _CACHE_LIMIT:
                self.key_cache[key] = action
                if action is None or action == "keep":
                    self.unmasked_keys.add(key)
            return action

    def key_rule(self, key: str, rules: PathNode | None) -> tuple[Action | None, PathNode | None]:
        """The action for ``key`` below the path-rule node ``rules`` (None for keep) and the path rules
        of its children. A path rule wins over the key rule."""
        action = self.key_action(key)
        child_rules = None
        if rules is not None:
            rule = rules.get(key.lower())
            if rule is not None:
                child_rules = rule[1] or None
                if rule[0] is not None:
                    action = rule[0]
        return (None if action == "keep" else action), child_rules

    def redact_tree(self, root: dict[str, Any] | list[Any], rules: PathNode | None) -> int:
        """Redact a parsed JSON object or list in place (list items share their list's path rules);
        return how many values were masked."""
        unmasked = self.unmasked_keys
        redacted = 0
        stack: list[tuple[Any, PathNode | None]] = [(root, rules)]
        while stack:
            value, rules = stack.pop()
            if type(value) is list:
                stack.extend((item, rules) for item in value if type(item) is dict or type(item) is list)
                continue
            for key, item in value.items():
                if item is None:
                    continue
                if rules is None and key in unmasked:  # the usual case, without a rule lookup
                    action, child_rules = None, None
                else:
                    action, child_rules = self.key_rule(key, rules)
                if action is not None:
                    value[key] = self.apply(action, item)
                    redacted += 1
                elif type(item) is dict or type(item) is list:
                    stack.append((item, child_rules))
        return redacted

    def apply(self, action: Action, value: Any) -> str:
        """The replacement for ``value`` under a ``drop`` or ``hash`` action."""
        if action == "hash" and self.secret is not None:
            text = value if type(value) is str else value_text(value)
            digest = self._hash_cache.get(text)
            if digest is None:
                digest = HASH_PREFIX + hmac.new(self.secret, text.encode("utf-8"), hashlib.sha256).hexdigest()
                if len(self._hash_cache) < _CACHE_LIMIT:
                    self._hash_cache[text] = digest
            return digest
        return REDACTED

    # -- URLs ------------------------------------------------------------------------------------

    def _param_action(self, name: str) -> Action | None:
        lowered = unquote_plus(name).lower()
        action = self.key_actions.get(lowered)
        if action is None and (lowered in _SENSITIVE_PARAMS or lowered.startswith(_SENSITIVE_PARAM_PREFIXES)):
            return "drop"
        return action

    def redact_url(self, url: str) -> tuple[str, int]:
        """Mask credentials, meeting tokens, JWTs and sensitive query values; return (url, masked count)."""
        if (
            "?" not in url
            and "#" not in url
            and "@" not in url
            and "eyJ" not in url
            and "meeting-tokens/" not in url
        ):
            return url, 0
        count = 0
        rest, hash_mark, fragment = url.partition("#")
        rest, question, query = rest.partition("?")
        scheme_end = rest.find("://")
        authority = ""
        path = rest
        if scheme_end >= 0:
            slash = rest.find("/", scheme_end + 3)
            authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
            userinfo_end = authority.rfind("@")
            if userinfo_end > scheme_end:
                authority = f"{authority[: scheme_end + 3]}{REDACTED}{authority[userinfo_end:]}"
                count += 1
        segments = path.split("/")
        for index, segment in enumerate(segments):
            if index and segments[index - 1] == "meeting-tokens" and segment:
                action = self.key_action("token")
                if action == "drop" or action == "hash":
                    segments[index] = self.apply(action, unquote_plus(segment))
                    count += 1
            elif looks_like_jwt(segment):
                segments[index] = REDACTED
                count += 1
        masked_query, query_count = self._redact_query(query)
        masked_fragment, fragment_count = self._redact_query(fragment) if "=" in fragment else (fragment, 0)
        count += query_count + fragment_count
        if not count:
            return url, 0
        return f"{authority}{'/'.join(segments)}{question}{masked_query}{hash_mark}{masked_fragment}", count

    def _redact_query(self, query: str) -> tuple[str, int]:
        if not query:
            return query, 0
        count = 0
        pairs = query.split("&")
        for index, pair in enumerate(pairs):
            name, equals, value = pair.partition("=")
            if not equals or not value:
                continue
            action = self._param_action(name)
            if action == "keep":
                continue
            if action is None and looks_like_jwt(unquote_plus(value)):
                action = "drop"
            if action == "drop" or action == "hash":
                pairs[index] = f"{name}={self.apply(action, unquote_plus(value))}"
                count += 1
        return "&".join(pairs), count

    # -- text that is not JSON -------------------------------------------------------------------

    def _text_rule_pattern(self) -> re.Pattern[str] | None:
        # In truncated JSON or HTML, "key": value pairs of masked keys are still recognisable.
        # A key's place is unknown there, so the leaf key of a path rule counts too (safe side).
        if self._text_pattern is None:
            keys = {key for key, action in self.key_actions.items() if action != "keep"}
            keys.update(_leaf_keys(self.path_roots))
            if not keys:
                return None
            alternatives = "|".join(sorted(re.escape(key) for key in keys))
            self._text_pattern = re.compile(
                rf'("(?:{alternatives})"\s*:\s*)("(?:[^"\\]|\\.)*"?|[-+.\w]+)', re.IGNORECASE
            )
        return self._text_pattern

    def mask_text(self, text: str) -> tuple[str, int]:
        """Mask JWTs, sensitive URL parts, masked keys' values, SIP URIs and phone numbers in free text."""
        count = 0

        def jwt(_: re.Match[str]) -> str:
            nonlocal count
            count += 1
            return REDACTED

        def url(match: re.Match[str]) -> str:
            nonlocal count
            masked, masked_count = self.redact_url(match.group(0))
            count += masked_count
            return masked

        def pair(match: re.Match[str]) -> str:
            nonlocal count
            count += 1
            return f'{match.group(1)}"{REDACTED}"'

        text = _JWT_TEXT.sub(jwt, text)
        if "://" in text:
            text = _URL_TEXT.sub(url, text)
        pattern = self._text_rule_pattern()
        if pattern is not None and '"' in text:
            text = pattern.sub(pair, text)
        if "sip" in text.lower() and self.key_action("sipUri") != "keep":
            text = _SIP_TEXT.sub(jwt, text)
        if "+" in text and self.key_action("phoneNumber") != "keep":
            text = _PHONE_TEXT.sub(jwt, text)
        return text, count


def _leaf_keys(node: PathNode) -> set[str]:
    keys: set[str] = set()
    for key, (action, children) in node.items():
        if action is not None and action != "keep":
            keys.add(key)
        keys |= _leaf_keys(children)
    return keys


def value_text(value: Any) -> str:
    """The one deterministic text form of a JSON value (used for STRING columns and hashing)."""
    kind = type(value)
    if kind is str:
        return cast(str, value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return repr(value)
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:  # ints beyond 64 bits, or not JSON at all
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            return str(value)


def redact_url(url: str | None, policy: RedactionPolicy) -> str | None:
    """Return ``url`` with meeting tokens, JWTs, credentials and sensitive query values masked."""
    if url is None:
        return None
    return policy.compiled.redact_url(url)[0]


_DROP = ("token", "hmac", "basicAuth", "basic_auth", "download_link", "share_token", "assume_role_arn",
         "password", "secret", "api_key", "apikey", "access_token", "refresh_token", "authorization")  # fmt: skip
_HASH = ("user_name", "userName", "user_id", "userId", "ip", "email", "phone", "phone_number",
         "phoneNumber", "sip_uri", "sipUri", "sip", "caller_id", "callerId", "sip_from", "sip_to",
         "display_name", "displayName",
         # Dial-in webhooks deliver the caller's and the called number as From/To in the event's
         # payload; pinless dial-in requests carry them at the top.
         "request.From", "request.To", "request.payload.From", "request.payload.To")  # fmt: skip

DEFAULT_REDACTION = RedactionPolicy(
    rules={**dict.fromkeys(_DROP, cast(Action, "drop")), **dict.fromkeys(_HASH, cast(Action, "hash"))}
)
