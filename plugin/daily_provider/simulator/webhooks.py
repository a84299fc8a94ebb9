"""Bodies of simulated webhook deliveries (``source=webhook`` rows).

The request is the event Daily POSTed to the customer's endpoint
(``{"version","type","id","payload","event_ts"}``); the status and response are what the customer's
server answered: mostly 200, some 500/404/timeouts, and a response that is often not JSON at all
("OK", an HTML error page, nothing). From day index 3 ``participant.*`` payloads gain
``networkQualityState``, a key that appears over time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from daily_provider.simulator import fakes
from daily_provider.simulator.bodies import Call, Ctx, RawText

ENDPOINTS = (
    ("https://hooks.example-customer.com/daily?env=prod", 9),
    ("https://hooks.example-customer.com/daily?env=staging&region=eu", 1),
)
_HTML_500 = RawText(
    "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>"
    "<body><h1>Internal Server Error</h1><p>The server encountered an unexpected condition.</p></body></html>"
)
_HTML_404 = RawText("<html><body><h1>404 Not Found</h1><p>nginx</p></body></html>")


def _participant_payload(c: Ctx, left: bool) -> dict[str, Any]:
    user_name, user_id = fakes.person(c.rng)
    joined = c.ts - (c.rng.between(60, 3600) if left else 0)
    payload: dict[str, Any] = {
        "room": fakes.room_name(c.rng),
        "session_id": fakes.uuid4(c.rng),
        "user_id": user_id,
        "user_name": user_name,
        "owner": c.rng.chance(0.2),
        "joined_at": joined,
        "will_eject_at": 0,
        "permissions": {
            "hasPresence": True,
            "canSend": c.rng.chance(0.9),
            "canReceive": {"base": True},
            "canAdmin": c.rng.chance(0.1),
        },
    }
    if c.rng.chance(0.1):
        # Per-participant overrides are keyed by participant id: data, not fields (a declared map path).
        payload["permissions"]["canReceive"]["byParticipantId"] = {
            fakes.uuid4(c.rng): {"video": False, "audio": True}
        }
    if left:
        payload["duration"] = c.ts - joined
    if c.day >= 3:
        payload["networkQualityState"] = c.rng.choice(("good", "warning", "bad"))
    return payload


def _meeting_started(c: Ctx) -> dict[str, Any]:
    return {"start_ts": c.ts, "meeting_id": fakes.uuid4(c.rng), "room": fakes.room_name(c.rng)}


def _meeting_ended(c: Ctx) -> dict[str, Any]:
    start = c.ts - c.rng.between(60, 7200)
    return {
        "start_ts": start,
        "end_ts": c.ts,
        "meeting_id": fakes.uuid4(c.rng),
        "room": fakes.room_name(c.rng),
    }


def _participant_joined(c: Ctx) -> dict[str, Any]:
    return _participant_payload(c, left=False)


def _participant_left(c: Ctx) -> dict[str, Any]:
    return _participant_payload(c, left=True)


def _waiting_participant(c: Ctx) -> dict[str, Any]:
    user_name, _ = fakes.person(c.rng)
    return {
        "room": fakes.room_name(c.rng),
        "id": fakes.uuid4(c.rng),
        "user_name": user_name,
        "joined_at": c.ts,
    }


def _recording_started(c: Ctx) -> dict[str, Any]:
    return {
        "action": "cloud-recording",
        "recording_id": fakes.uuid4(c.rng),
        "room_name": fakes.room_name(c.rng),
        "start_ts": c.ts,
        "layout": {"preset": c.rng.choice(("default", "single-participant", "active-participant"))},
        "started_by": fakes.uuid4(c.rng),
    }


def _recording_ready(c: Ctx) -> dict[str, Any]:
    room_name = fakes.room_name(c.rng)
    start = c.ts - c.rng.between(60, 7200)
    duration: int | float = c.ts - start
    if c.day >= 2:
        duration = duration + c.rng.below(1000) / 1000
    return {
        "type": "cloud",
        "recording_id": fakes.uuid4(c.rng),
        "room_name": room_name,
        "start_ts": start,
        "status": "finished",
        "max_participants": c.rng.between(1, 12),
        "duration": duration,
        "s3_key": f"{c.domain.name}/{room_name}/{start}.mp4",
        "share_token": fakes.share_token(c.rng),
        "download_link": fakes.download_link(c.rng, c.domain, room_name, start),
    }


def _recording_error(c: Ctx) -> dict[str, Any]:
    return {
        "action": "cloud-recording-error",
        "error_msg": c.rng.choice(("Recording stopped: no participants", "S3 upload failed: AccessDenied")),
        "instance_id": fakes.uuid4(c.rng),
        "room_name": fakes.room_name(c.rng),
        "timestamp": c.ts,
    }


def _transcript_ready(c: Ctx) -> dict[str, Any]:
    room_name = fakes.room_name(c.rng)
    return {
        "id": fakes.uuid4(c.rng),
        "room_id": fakes.uuid4(c.rng),
        "room_name": room_name,
        "mtg_session_id": fakes.uuid4(c.rng),
        "duration": c.rng.between(60, 7200),
        "status": "finished",
        "out_params": {
            "s3": {
                "bucket": f"{c.domain.name}-transcripts",
                "key": f"{room_name}/{c.ts}.vtt",
                "region": "us-west-2",
                "assume_role_arn": fakes.role_arn(c.domain),
            }
        },
    }


def _dialout_connected(c: Ctx) -> dict[str, Any]:
    return {
        "room": fakes.room_name(c.rng),
        "session_id": fakes.uuid4(c.rng),
        "phone_number": fakes.phone_number(c.rng),
        "timestamp": c.ts,
    }


def _dialin_connected(c: Ctx) -> dict[str, Any]:
    # Capitalized and dashed keys come straight from the SIP headers.
    return {
        "room": fakes.room_name(c.rng),
        "session_id": fakes.uuid4(c.rng),
        "From": fakes.phone_number(c.rng),
        "To": fakes.phone_number(c.rng),
        "sip_headers": {"X-Call-Id": fakes.uuid4(c.rng), "User-Agent": "Daily SIP"},
        "sipUri": fakes.sip_uri(c.rng, c.domain),
    }


EVENTS: tuple[tuple[tuple[str, Callable[[Ctx], dict[str, Any]]], int], ...] = (
    (("meeting.started", _meeting_started), 8),
    (("meeting.ended", _meeting_ended), 8),
    (("participant.joined", _participant_joined), 25),
    (("participant.left", _participant_left), 25),
    (("waiting-participant.joined", _waiting_participant), 4),
    (("recording.started", _recording_started), 6),
    (("recording.ready-to-download", _recording_ready), 8),
    (("recording.error", _recording_error), 2),
    (("transcript.ready-to-download", _transcript_ready), 4),
    (("dialout.connected", _dialout_connected), 3),
    (("dialin.connected", _dialin_connected), 3),
)
_EVENTS_TOTAL = sum(weight for _, weight in EVENTS)
_STATUSES = ((200, 84), (204, 2), (500, 5), (404, 3), (401, 1), (504, 4), (503, 1))


def _customer_response(c: Ctx, status: int) -> Any:
    """The customer's answer, as the text Daily stored (None when the delivery timed out)."""
    if status == 504:
        return None
    if status == 204:
        return RawText("")
    if status == 200:
        pick = c.rng.below(100)
        if pick < 40:
            return RawText("OK")
        if pick < 75:
            return {"received": True}
        if pick < 90:
            return RawText("")
        return {"ok": True, "id": fakes.uuid4(c.rng)}
    if status == 404:
        return _HTML_404 if c.rng.chance(0.7) else {"error": "no route for POST /daily"}
    if status == 401:
        return RawText("Unauthorized")
    return _HTML_500 if c.rng.chance(0.6) else RawText("Internal Server Error")


def webhook_call(c: Ctx) -> Call:
    event_type, payload_of = c.rng.weighted(EVENTS, _EVENTS_TOTAL)
    event = {
        "version": "1.0.0",
        "type": event_type,
        "id": fakes.uuid4(c.rng),
        "payload": payload_of(c),
        "event_ts": c.ts + c.rng.below(1000) / 1000,
    }
    status = c.rng.weighted(_STATUSES, 100)
    url = c.rng.weighted(ENDPOINTS, 10)
    return Call("POST", url, status, event, _customer_response(c, status))
