"""Fake but realistic values shared by the API and webhook body generators.

Room names, people (with e-mails as user ids), meeting tokens, pre-signed links, phone numbers and
SIP URIs: the values our redaction must catch, drawn from small pools so the same room or person
shows up in many records, as in a real domain. A few carry accents, CJK or emoji on purpose.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import orjson

from daily_provider.simulator.rng import Rng, digest
from daily_provider.simulator.timeline import format_ms

_ADJECTIVES = (
    "blue",
    "quiet",
    "sunny",
    "daily",
    "team",
    "sales",
    "brave",
    "green",
    "swift",
    "north",
    "amber",
    "calm",
)
_NOUNS = (
    "standup",
    "sync",
    "room",
    "review",
    "demo",
    "clinic",
    "lobby",
    "office",
    "class",
    "huddle",
    "panel",
    "desk",
)
_UNICODE_ROOMS = ("café-møte", "réunion-équipe", "会议室", "straße-süd", "🚀-launch", "señal-día")
PEOPLE = (
    ("Alice Smith", "alice.smith@example.com"),
    ("Bob Jones", "bob.jones@example.org"),
    ("Zoë Müller", "zoe.mueller@example.de"),
    ("José García", "jose.garcia@example.es"),
    ("Åsa Lindqvist", "asa.lindqvist@example.se"),
    ("Chloé Dubois", "chloe.dubois@example.fr"),
    ("Li Wei 李伟", "li.wei@example.cn"),
    ("Priya Patel", "priya.patel@example.in"),
    ("Sam O'Neil", "sam.oneil@example.ie"),
    ("Ngozi Okafor", "ngozi.okafor@example.ng"),
    ("DJ Kai 🎧", "kai@example.net"),
    ("Dr. Emma Brown", "emma.brown@clinic.example.com"),
)
_JWT_HEADER = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"


@dataclass(frozen=True)
class Domain:
    """The one Daily domain (and owner) a seed's records belong to."""

    domain_id: str
    user_id: str
    name: str
    account_id: str

    @classmethod
    def for_seed(cls, seed: int) -> Domain:
        rng = Rng(int.from_bytes(digest(seed, "domain", size=8), "big"))
        name = f"{rng.choice(('acme', 'globex', 'initech', 'umbrella', 'hooli'))}-{rng.choice(('health', 'edu', 'live'))}"
        return cls(domain_id=uuid4(rng), user_id=uuid4(rng), name=name, account_id=rng.digits(12))

    def room_url(self, room: str) -> str:
        return f"https://{self.name}.daily.co/{room}"


def uuid4(rng: Rng) -> str:
    h = rng.hex(32)
    return f"{h[0:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def room_name(rng: Rng) -> str:
    if rng.chance(0.04):
        return f"{rng.choice(_UNICODE_ROOMS)}-{rng.between(1, 9)}"
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{rng.between(1, 9)}"


def person(rng: Rng) -> tuple[str, str]:
    """(user_name, user_id); user ids are e-mails, as many Daily customers set them."""
    return rng.choice(PEOPLE)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def meeting_token(rng: Rng, domain: Domain, room: str, owner: bool, issued_at: int) -> str:
    payload = orjson.dumps({"r": room, "o": owner, "d": domain.domain_id, "iat": issued_at})
    return f"{_JWT_HEADER}.{b64url(payload)}.{b64url(bytes.fromhex(rng.hex(64)))}"


def download_link(rng: Rng, domain: Domain, room: str, start_ts: int) -> str:
    return (
        f"https://daily-co-recordings.s3.us-west-2.amazonaws.com/{domain.name}/{room}/{start_ts}.mp4"
        f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA{rng.hex(16).upper()}%2F20260101%2Fus-west-2"
        f"%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-Signature={rng.hex(64)}"
    )


def share_token(rng: Rng) -> str:
    return b64url(bytes.fromhex(rng.hex(24)))


def phone_number(rng: Rng) -> str:
    return f"+1{rng.choice(('415', '212', '646', '303', '512'))}555{rng.digits(4)}"


def sip_uri(rng: Rng, domain: Domain) -> str:
    return f"sip:{rng.hex(10)}@{domain.name}.sip.daily.co"


def role_arn(domain: Domain) -> str:
    return f"arn:aws:iam::{domain.account_id}:role/DailyRecordingsAccess"


def iso_seconds(ts: int) -> str:
    """An ISO timestamp at whole seconds (how Daily writes ``created_at`` inside bodies)."""
    return format_ms(ts * 1000)
