"""Bodies of simulated REST API calls (``source=api`` rows), following DAILY_API.md's typical bodies.

Each ``_call`` function draws one call of a kind: method, url, status and the request/response bodies
as Python objects (``records.py`` adds errors, malformed text and oddities, then JSON-encodes them).
Shapes change over time on purpose, because the warehouse must widen as real data does:
- from day 2 (day index 1) rooms' ``config`` gains ``enable_transcription_storage``;
- ``config.max_participants`` is an integer, then from day index 3 a string ("200");
- recordings' ``duration`` is an integer, then from day index 2 a float.
``GET /v1/presence`` answers are keyed by room name, from a pool of rooms that changes every day (see
:func:`presence_room`): a month of them names thousands of rooms, as a real domain's do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from daily_provider.simulator import fakes
from daily_provider.simulator.fakes import Domain
from daily_provider.simulator.rng import Rng

# Presence is keyed by room name, and room names are data: a domain creates rooms all month, often
# one per meeting. Each day has its own pool of rooms, so a month of presence answers holds thousands.
_PRESENCE_PURPOSES = ("all-hands", "support", "standup", "interview", "sales-demo", "office-hours", "1on1")
PRESENCE_ROOMS_PER_DAY = 150
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_BASE62 = _BASE36 + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LANGS = ("en", "fr", "de", "es", "sv", "user")
_RECORDING_MODES = ("cloud", "local", "raw-tracks", "cloud-beta")
_WEBHOOK_EVENTS = (
    "meeting.started",
    "meeting.ended",
    "participant.joined",
    "participant.left",
    "recording.ready-to-download",
    "recording.error",
    "transcript.ready-to-download",
)


class RawText(str):
    """A body that is already final text (not JSON-encoded again): malformed JSON, HTML, plain text."""

    __slots__ = ()


@dataclass
class Ctx:
    """What one record's generator may depend on: its stream, its domain and its time."""

    rng: Rng
    domain: Domain
    day: int  # days since the timeline start; drives keys that appear or change type
    ts: int  # createdAt in whole epoch seconds


@dataclass
class Call:
    method: str
    url: str
    status: int
    request: Any  # object to JSON-encode, RawText, or None
    response: Any


def room_config(c: Ctx, partial: bool = False) -> dict[str, Any]:
    rng = c.rng
    config: dict[str, Any] = {
        "exp": c.ts + rng.between(1, 72) * 3600,
        "nbf": c.ts - rng.below(600),
        "max_participants": rng.choice((2, 10, 50, 200)),
        "enable_chat": rng.chance(0.7),
        "enable_knocking": rng.chance(0.3),
        "start_video_off": rng.chance(0.2),
        "enable_recording": rng.choice(_RECORDING_MODES),
        "lang": rng.choice(_LANGS),
    }
    if c.day >= 3:
        config["max_participants"] = str(config["max_participants"])
    if c.day >= 1:
        config["enable_transcription_storage"] = rng.chance(0.5)
    if partial:
        keys = list(config)
        return {k: config[k] for k in keys[: rng.between(1, len(keys))]}
    return config


def room(c: Ctx, name: str | None = None, config: dict[str, Any] | None = None) -> dict[str, Any]:
    name = name or fakes.room_name(c.rng)
    return {
        "id": fakes.uuid4(c.rng),
        "name": name,
        "api_created": True,
        "privacy": c.rng.choice(("public", "private")),
        "url": c.domain.room_url(name),
        "created_at": fakes.iso_seconds(c.ts - c.rng.below(86_400 * 30)),
        "config": config if config is not None else room_config(c),
    }


def recording(c: Ctx, room_name: str | None = None) -> dict[str, Any]:
    rng = c.rng
    duration: int | float = rng.between(30, 7200)
    if c.day >= 2:
        duration = duration + rng.below(1000) / 1000
    return {
        "id": fakes.uuid4(rng),
        "room_name": room_name or fakes.room_name(rng),
        "start_ts": c.ts - rng.between(60, 86_400),
        "status": rng.choice(("finished", "finished", "finished", "in-progress")),
        "max_participants": rng.between(1, 12),
        "duration": duration,
        "share_token": fakes.share_token(rng),
        "mtgSessionId": fakes.uuid4(rng),
        "tracks": [],
    }


def participant(c: Ctx) -> dict[str, Any]:
    name, email = fakes.person(c.rng)
    return {
        "user_id": email,
        "participant_id": fakes.uuid4(c.rng),
        "user_name": name,
        "join_time": c.ts - c.rng.between(60, 7200),
        "duration": c.rng.between(5, 7200),
    }


def recordings_bucket(c: Ctx) -> dict[str, Any]:
    return {
        "bucket_name": f"{c.domain.name}-recordings",
        "bucket_region": c.rng.choice(("us-west-2", "eu-central-1")),
        "assume_role_arn": fakes.role_arn(c.domain),
        "allow_api_access": c.rng.chance(0.5),
    }


def domain_config(c: Ctx) -> dict[str, Any]:
    return {
        "domain_name": c.domain.name,
        "domain_id": c.domain.domain_id,
        "config": {
            "hide_daily_branding": c.rng.chance(0.5),
            "hipaa": False,
            "intercom_auto_record": False,
            "lang": c.rng.choice(_LANGS),
            "max_api_rooms": 100_000,
            "enable_transcription": c.rng.chance(0.4),
            "recordings_bucket": recordings_bucket(c),
        },
    }


def webhook_settings(c: Ctx) -> dict[str, Any]:
    return {
        "uuid": fakes.uuid4(c.rng),
        "url": "https://hooks.example-customer.com/daily?env=prod",
        "hmac": fakes.b64url(bytes.fromhex(c.rng.hex(64))),
        "basicAuth": fakes.b64url(f"daily:{c.rng.hex(16)}".encode()),
        "retryType": "circuit-breaker",
        "eventTypes": list(_WEBHOOK_EVENTS[: c.rng.between(1, len(_WEBHOOK_EVENTS))]),
        "state": "ACTIVE",
        "failedCount": c.rng.below(3),
        "domainId": c.domain.domain_id,
        "createdAt": fakes.iso_seconds(c.ts - 86_400 * 40),
        "updatedAt": fakes.iso_seconds(c.ts - c.rng.below(86_400)),
    }


# -- one function per kind of call --------------------------------------------------------------


def _rooms_create(c: Ctx) -> Call:
    name = fakes.room_name(c.rng)
    config = room_config(c)
    body = room(c, name, config)
    request = {"name": name, "privacy": body["privacy"], "properties": config}
    return Call("POST", "/v1/rooms", 200, request, body)


def _rooms_list(c: Ctx) -> Call:
    rooms = [room(c) for _ in range(c.rng.below(9))]
    url = "/v1/rooms" if c.rng.chance(0.8) else f"/v1/rooms?limit={c.rng.choice((10, 50, 100))}"
    return Call("GET", url, 200, None, {"total_count": len(rooms) + c.rng.below(40), "data": rooms})


def _rooms_get(c: Ctx) -> Call:
    name = fakes.room_name(c.rng)
    return Call("GET", f"/v1/rooms/{quote(name)}", 200, None, room(c, name))


def _rooms_update(c: Ctx) -> Call:
    name = fakes.room_name(c.rng)
    request = {"properties": room_config(c, partial=True)}
    return Call("POST", f"/v1/rooms/{quote(name)}", 200, request, room(c, name))


def _rooms_delete(c: Ctx) -> Call:
    name = fakes.room_name(c.rng)
    return Call("DELETE", f"/v1/rooms/{quote(name)}", 200, None, {"deleted": True, "name": name})


def _tokens_create(c: Ctx) -> Call:
    name = fakes.room_name(c.rng)
    user_name, user_id = fakes.person(c.rng)
    owner = c.rng.chance(0.3)
    properties = {
        "room_name": name,
        "is_owner": owner,
        "user_name": user_name,
        "user_id": user_id,
        "exp": c.ts + 3600,
    }
    request = {"properties": properties}
    if c.rng.chance(0.08):
        return Call(
            "POST",
            "/v1/meeting-tokens",
            400,
            request,
            {"error": "invalid-request-error", "info": "room not found"},
        )
    token = fakes.meeting_token(c.rng, c.domain, name, owner, c.ts)
    return Call("POST", "/v1/meeting-tokens", 200, request, {"token": token})


def _tokens_get(c: Ctx) -> Call:
    name = fakes.room_name(c.rng)
    user_name, user_id = fakes.person(c.rng)
    owner = c.rng.chance(0.3)
    token = fakes.meeting_token(c.rng, c.domain, name, owner, c.ts - 60)
    body = {
        "room_name": name,
        "is_owner": owner,
        "user_name": user_name,
        "user_id": user_id,
        "exp": c.ts + 3600,
    }
    return Call("GET", f"/v1/meeting-tokens/{token}", 200, None, body)


def _recordings_list(c: Ctx) -> Call:
    data = [recording(c) for _ in range(c.rng.below(11))]
    return Call(
        "GET", "/v1/recordings", 200, None, {"total_count": len(data) + c.rng.below(100), "data": data}
    )


def _recordings_get(c: Ctx) -> Call:
    body = recording(c)
    return Call("GET", f"/v1/recordings/{body['id']}", 200, None, body)


def _recordings_access_link(c: Ctx) -> Call:
    rec_id = fakes.uuid4(c.rng)
    link = fakes.download_link(c.rng, c.domain, fakes.room_name(c.rng), c.ts - 3600)
    return Call(
        "GET",
        f"/v1/recordings/{rec_id}/access-link",
        200,
        None,
        {"download_link": link, "expires": c.ts + 3600},
    )


def presence_room(day: int, number: int) -> str:
    """Room ``number`` of ``day``'s pool: ``all-hands-04jij6``, or a random name like Daily gives a room
    created without one (``AIVWWhzHlLHrSdHdw7EW``). The same day and number give the same room."""
    digest = hashlib.sha256(f"presence-room:{day}:{number}".encode()).digest()
    if digest[0] < 26:  # about one in ten
        return "".join(_BASE62[byte % 62] for byte in digest[1:21])
    purpose = _PRESENCE_PURPOSES[digest[1] % len(_PRESENCE_PURPOSES)]
    return f"{purpose}-" + "".join(_BASE36[byte % 36] for byte in digest[2:8])


def _presence(c: Ctx) -> Call:
    body: dict[str, Any] = {}
    for _ in range(c.rng.below(5)):
        room_name = presence_room(c.day, c.rng.below(PRESENCE_ROOMS_PER_DAY))
        people = []
        for _ in range(c.rng.between(1, 4)):
            user_name, user_id = fakes.person(c.rng)
            people.append(
                {
                    "room": room_name,
                    "id": fakes.uuid4(c.rng),
                    "userId": user_id,
                    "userName": user_name,
                    "joinTime": fakes.iso_seconds(c.ts - c.rng.between(10, 3600)),
                    "duration": c.rng.between(10, 3600),
                }
            )
        body[room_name] = people
    return Call("GET", "/v1/presence", 200, None, body)


def _dialout(c: Ctx) -> Call:
    name = fakes.room_name(c.rng)
    user_name, _ = fakes.person(c.rng)
    request: dict[str, Any] = {"displayName": user_name}
    if c.rng.chance(0.6):
        request["phoneNumber"] = fakes.phone_number(c.rng)
        request["callerId"] = fakes.uuid4(c.rng)
    else:
        request["sipUri"] = fakes.sip_uri(c.rng, c.domain)
        request["video"] = c.rng.chance(0.5)
    return Call(
        "POST", f"/v1/rooms/{quote(name)}/dialOut/start", 200, request, {"sessionId": fakes.uuid4(c.rng)}
    )


def _dialin(c: Ctx) -> Call:
    request = {
        "callId": fakes.uuid4(c.rng),
        "callDomain": fakes.uuid4(c.rng),
        "sipUri": fakes.sip_uri(c.rng, c.domain),
        "phoneNumber": fakes.phone_number(c.rng),
    }
    return Call(
        "POST", "/v1/dialin/pinlessCallUpdate", 200, request, {"status": "ok", "callId": request["callId"]}
    )


def _domain_get(c: Ctx) -> Call:
    return Call("GET", "/v1/", 200, None, domain_config(c))


def _domain_update(c: Ctx) -> Call:
    request = {
        "properties": {"recordings_bucket": recordings_bucket(c), "enable_advanced_chat": c.rng.chance(0.5)}
    }
    return Call("POST", "/v1/", 200, request, domain_config(c))


def _webhooks_create(c: Ctx) -> Call:
    body = webhook_settings(c)
    request = {
        "url": body["url"],
        "hmac": body["hmac"],
        "basicAuth": body["basicAuth"],
        "eventTypes": body["eventTypes"],
    }
    return Call("POST", "/v1/webhooks", 200, request, body)


def _webhooks_list(c: Ctx) -> Call:
    # Daily answers this listing with a bare array.
    return Call("GET", "/v1/webhooks", 200, None, [webhook_settings(c) for _ in range(c.rng.between(0, 2))])


def _meetings_list(c: Ctx) -> Call:
    data = []
    for _ in range(c.rng.below(5)):
        participants = [participant(c) for _ in range(c.rng.between(1, 6))]
        data.append(
            {
                "id": fakes.uuid4(c.rng),
                "room": fakes.room_name(c.rng),
                "start_time": c.ts - c.rng.between(60, 86_400),
                "duration": c.rng.between(60, 7200),
                "ongoing": c.rng.chance(0.2),
                "max_participants": len(participants),
                "participants": participants,
            }
        )
    return Call("GET", "/v1/meetings", 200, None, {"total_count": len(data), "data": data})


def _meeting_participants(c: Ctx) -> Call:
    data = [participant(c) for _ in range(c.rng.between(1, 8))]
    return Call("GET", f"/v1/meetings/{fakes.uuid4(c.rng)}/participants", 200, None, {"data": data})


API_CALLS: tuple[tuple[Callable[[Ctx], Call], int], ...] = (
    (_rooms_create, 10),
    (_rooms_list, 7),
    (_rooms_get, 10),
    (_rooms_update, 5),
    (_rooms_delete, 5),
    (_tokens_create, 14),
    (_tokens_get, 4),
    (_recordings_list, 5),
    (_recordings_get, 4),
    (_recordings_access_link, 4),
    (_presence, 6),
    (_dialout, 3),
    (_dialin, 2),
    (_domain_get, 2),
    (_domain_update, 2),
    (_webhooks_create, 2),
    (_webhooks_list, 1),
    (_meetings_list, 3),
    (_meeting_participants, 2),
)
API_CALLS_TOTAL = sum(weight for _, weight in API_CALLS)

# (status, error type, info): every error type in DAILY_API.md, plus Daily's 404.
API_ERRORS: tuple[tuple[int, str, str], ...] = (
    (400, "invalid-request-error", "properties.exp must be a number"),
    (400, "invalid-request-error", "unknown parameter 'privacy_level'"),
    (400, "authorization-header-error", "Authorization header must be 'Bearer <api key>'"),
    (401, "authentication-error", "Invalid API key"),
    (403, "forbidden-error", "this API key may not manage webhooks"),
    (404, "not-found", "room not found"),
    (429, "rate-limit-error", "Too many requests. Please retry with exponential backoff."),
    (500, "server-error", "An internal error occurred. Please try again."),
    (503, "server-error", "Service temporarily unavailable"),
)


def api_call(c: Ctx) -> Call:
    call = c.rng.weighted(API_CALLS, API_CALLS_TOTAL)(c)
    if call.status == 200 and c.rng.chance(0.09):
        status, error, info = c.rng.choice(API_ERRORS)
        call.status, call.response = status, {"error": error, "info": info}
    return call
