"""No secret of DAILY_API.md's list reaches the warehouse in clear, wherever it sits in a record.

Two corpora go through the real load path into DuckDB, and then every value of every row of every
table is searched for each planted secret:
- the simulator's own records (thousands of realistic tokens, webhook secrets, pre-signed links,
  names, e-mails, IPs, phone numbers, SIP URIs, role ARNs), the secrets read back from the raw
  records it served;
- hand-made records with secrets in the awkward places: nested, inside lists, deeper than the
  flattening cap, in ``url`` (path, query, credentials), under odd key spellings, and in bodies that
  are not JSON (truncated JSON, HTML, plain text).
Hashing must be keyed by the configured secret: equal values join, nothing is reversible by a plain
SHA-256, and without a secret hashed fields are dropped instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest
import responses

from daily_provider.cli import main as daily_logs
from daily_provider.hooks.daily import DailyHook
from daily_provider.load import LoadSpec, load_window
from daily_provider.normalize import NormalizeConfig
from daily_provider.redaction import DEFAULT_REDACTION
from daily_provider.simulator import SimulatorConfig, SimulatorServer
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window

SECRET = "corpus-redaction-secret-5e1f"
WINDOW = Window.parse("2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z")
LOGS_URL = "https://api.daily.co/v1/logs/api"
DOMAIN_URL = "https://api.daily.co/v1/"  # the key's domain, asked once per load
# Body keys whose values DAILY_API.md lists as sensitive (compared case-insensitively).
SENSITIVE_KEYS = {
    "token", "hmac", "basicauth", "download_link", "share_token", "user_name", "username", "user_id",
    "userid", "ip", "phonenumber", "phone_number", "sipuri", "sip_uri", "assume_role_arn", "callerid",
    "displayname", "email",
}  # fmt: skip
CALLER_NUMBER_KEYS = {"from", "to"}  # dial-in webhook payloads: the caller's and the called number


def all_values_text(db: Path) -> str:
    """Every value of every row of every table in the DuckDB file, as one searchable text."""
    parts = []
    with duckdb.connect(str(db), read_only=True) as con:
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            # Each column cast to text by DuckDB itself (repr of Python values could escape characters).
            for row in con.execute(f'SELECT CAST(COLUMNS(*) AS VARCHAR) FROM "{table}"').fetchall():
                parts.extend(value for value in row if value is not None)
    return "\n".join(parts)


def leaked(text: str, secrets: dict[str, str]) -> dict[str, str]:
    return {where: secret for where, secret in secrets.items() if secret in text}


def secrets_in(value: Any, path: str, keys: set[str], found: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}"
            sensitive = key.lower() in keys and isinstance(item, str | int) and not isinstance(item, bool)
            if sensitive and len(str(item)) >= 6:
                found[here + f"#{len(found)}"] = str(item)
            secrets_in(item, here, keys, found)
    elif isinstance(value, list):
        for item in value:
            secrets_in(item, path + "[]", keys, found)


def simulator_secrets(server: SimulatorServer, keys: set[str]) -> dict[str, str]:
    """The sensitive values in the raw records the simulator serves for the window, both sources."""
    found: dict[str, str] = {}
    for source in ("api", "webhook"):
        for record in server.simulator.truth(source, WINDOW.start, WINDOW.end):
            if "ip" in keys and record.get("ip"):
                found[f"{source}.ip#{len(found)}"] = record["ip"]
            token = re.search(r"/meeting-tokens/([^/?#]+)", record.get("url") or "")
            if "token" in keys and token:
                found[f"{source}.url.token#{len(found)}"] = token.group(1)
            for part in ("request", "response"):
                try:
                    body = json.loads(record.get(part) or "null")
                except json.JSONDecodeError:
                    continue
                secrets_in(body, f"{source}.{part}", keys, found)
    return found


@pytest.fixture(scope="module")
def simulated_load(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimulatorServer, Path]]:
    config = SimulatorConfig(seed=21, days=2, api_per_day=500, webhook_per_day=250)
    db = tmp_path_factory.mktemp("corpus") / "simulated.duckdb"
    policy = DEFAULT_REDACTION.with_overrides({})
    normalize = NormalizeConfig(redaction=type(policy)(rules=policy.rules, secret=SECRET.encode()))
    with SimulatorServer(config) as server:
        hook = DailyHook(api_key=config.api_key, base_url=server.base_url, requests_per_second=1e6)
        with DuckDBWarehouse(db, threads=1) as warehouse:
            warehouse.connect()
            for source in ("api", "webhook"):
                load_window(
                    hook=hook,
                    warehouse=warehouse,
                    window=WINDOW,
                    spec=LoadSpec(source=source, run_id="corpus", config=normalize),
                )
        yield server, db


def test_no_secret_of_the_simulated_records_reaches_the_warehouse_in_clear(
    simulated_load: tuple[SimulatorServer, Path],
) -> None:
    server, db = simulated_load
    secrets = simulator_secrets(server, SENSITIVE_KEYS)
    kinds = {re.sub(r"#\d+$", "", where).rsplit(".", 1)[-1].lower() for where in secrets}
    assert {"token", "hmac", "basicauth", "download_link", "share_token", "user_name", "user_id", "ip",
            "phonenumber", "sipuri", "assume_role_arn"} <= kinds, f"the corpus lacks some kinds: {kinds}"  # fmt: skip
    text = all_values_text(db)
    assert "sha256:" in text, "no hashed value was stored: the search would prove nothing"
    found = leaked(text, secrets)
    assert not found, (
        f"{len(found)} of {len(secrets)} secrets are stored in clear, e.g. {list(found.items())[:5]}"
    )
    assert SECRET not in text, "the redaction secret itself was stored"


def test_caller_numbers_of_dial_in_webhooks_do_not_reach_the_warehouse_in_clear(
    simulated_load: tuple[SimulatorServer, Path],
) -> None:
    server, db = simulated_load
    secrets = simulator_secrets(server, CALLER_NUMBER_KEYS)
    assert secrets, "the simulated window holds no dial-in webhook: the test proves nothing"
    found = leaked(all_values_text(db), secrets)
    assert not found, (
        f"{len(found)} of {len(secrets)} caller numbers are in clear, e.g. {list(found.items())[:3]}"
    )


# -- hand-made records with secrets in awkward places ----------------------------------------------

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyIjoicGxhbnRlZC1yb29tIn0.PlAnTeDsIgNaTuRe0123456789abcdef"
JWT_SIGNATURE = JWT.rsplit(".", 1)[1]
PRESIGNED = (
    "https://daily-recordings.s3.us-west-2.amazonaws.com/planted/rec.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAPLANTEDCRED%2F20260102%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date=20260102T000000Z"
    "&X-Amz-Expires=3600&X-Amz-Signature=9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"
)
PLANTED = {
    "meeting token in a response": JWT,
    "JWT signature": JWT_SIGNATURE,
    "pre-signed link signature": "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "pre-signed link credential": "AKIAPLANTEDCRED",
    "hmac": "hmacPLANTEDc2VjcmV0LXNpZ25pbmcta2V5",
    "basicAuth": "YmFzaWNQTEFOVEVEOnBhc3N3b3Jk",
    "share token deep in a list": "shrPLANTEDtoken77",
    "share token below the flattening cap": "shrPLANTEDdeep88",
    "user name": "Planted Person",
    "user id e-mail in a list": "planted.person@example.org",
    "ip": "203.0.113.77",
    "ip in a body": "198.51.100.23",
    "phone number": "+15005550177",
    "SIP URI": "sip:planted-caller@acme.sip.daily.co",
    "role ARN": "arn:aws:iam::999988887777:role/planted-recordings",
    "webhook URL password": "hookPLANTEDpw",
    "token in a URL query": "qryPLANTEDtoken",
    "token in truncated JSON": "trnPLANTEDtoken",
    "hmac in an HTML body": "htmPLANTEDhmac",
    "JWT in plain text": JWT.replace("PlAnTeD", "TeXt"),
    "pre-signed link in HTML": "4242deadbeef4242deadbeef4242deadbeef",
}
TEXT_DEFECTS = {  # free text that is not "key": value: only patterns can find these
    "SIP URI in a plain-text body": "sip:textonly-caller@acme.sip.daily.co",
    "phone number in an HTML body": "+15005550199",
}


def record(index: int, **fields: Any) -> dict[str, Any]:
    base = {
        "id": f"00000000-0000-4000-8000-{index:012d}",
        "userId": "owner-1",
        "domainId": "domain-1",
        "source": "api",
        "ip": "192.0.2.1",
        "method": "POST",
        "url": "/v1/rooms",
        "status": 200,
        "createdAt": f"2026-01-02T12:00:{59 - index:02d}.000Z",
        "request": None,
        "response": None,
    }
    base.update(fields)
    for part in ("request", "response"):
        if not isinstance(base[part], str | None):
            base[part] = json.dumps(base[part])
    return base


def corpus() -> list[dict[str, Any]]:
    deep: dict[str, Any] = {"share_token": PLANTED["share token below the flattening cap"]}
    for level in "gfedcba":
        deep = {level: deep}
    return [
        record(0, url="/v1/meeting-tokens", response={"token": JWT}),
        record(1, method="GET", url=f"/v1/meeting-tokens/{JWT}", response={"room_name": "r"}),
        record(
            2,
            url="/v1/webhooks",
            request={
                "url": "https://hooks.example.com/daily",
                "HMAC": PLANTED["hmac"],
                "BasicAuth": PLANTED["basicAuth"],
            },
        ),
        record(
            3,
            method="GET",
            url="/v1/recordings",
            response={
                "data": [{"id": "r1", "share_token": PLANTED["share token deep in a list"], "tracks": []}]
            },
        ),
        record(4, method="GET", url="/v1/recordings/r1/access-link", response={"download_link": PRESIGNED}),
        record(
            5,
            url="/v1/meeting-tokens",
            request={
                "properties": {
                    "user_name": PLANTED["user name"],
                    "user_id": PLANTED["user id e-mail in a list"],
                }
            },
            response={
                "data": [[{"userId": PLANTED["user id e-mail in a list"], "userName": PLANTED["user name"]}]]
            },
        ),
        record(6, ip=PLANTED["ip"], response={"client": {"ip": PLANTED["ip in a body"]}}),
        record(
            7,
            url="/v1/rooms/planted/dialOut/start",
            request={"phoneNumber": PLANTED["phone number"], "sipUri": PLANTED["SIP URI"], "callerId": "c-1"},
        ),
        record(
            8,
            url="/v1/",
            request={"properties": {"recordings_bucket": {"assume_role_arn": PLANTED["role ARN"]}}},
        ),
        record(
            9,
            source="webhook",
            url=f"https://daily:{PLANTED['webhook URL password']}@hooks.example.com/in?token={PLANTED['token in a URL query']}",
            request={"type": "recording.ready-to-download", "payload": {"download_link": PRESIGNED}},
            response="OK",
        ),
        record(10, method="GET", url="/v1/recordings", response={"items": [deep]}),
        record(11, response='{"token": "' + PLANTED["token in truncated JSON"] + '", "room": "r'),
        record(
            12,
            response=(
                '<html><body><pre>{"hmac": "' + PLANTED["hmac in an HTML body"] + '"}</pre>'
                f'<a href="https://daily-recordings.s3.amazonaws.com/x.mp4?X-Amz-Signature={PLANTED["pre-signed link in HTML"]}">'
                "download</a></body></html>"
            ),
        ),
        record(13, response="upstream said: Bearer " + PLANTED["JWT in plain text"] + " is expired"),
        record(14, response="call to " + TEXT_DEFECTS["SIP URI in a plain-text body"] + " failed"),
        record(
            15,
            response="<html><p>Caller "
            + TEXT_DEFECTS["phone number in an HTML body"]
            + " hung up</p></html>",
        ),
    ]


@pytest.fixture(scope="module")
def planted_load(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The hand-made corpus loaded through the real hook (HTTP mocked) and warehouse; all values as text."""
    db = tmp_path_factory.mktemp("planted") / "planted.duckdb"
    records = sorted(corpus(), key=lambda r: r["createdAt"], reverse=True)

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlsplit(request.url).query)
        first_page = "starting_after" not in query and "ending_before" not in query
        page = [r for r in records if r["source"] == query["source"][0]] if first_page else []
        return 200, {}, json.dumps(page)

    policy = DEFAULT_REDACTION
    config = NormalizeConfig(redaction=type(policy)(rules=policy.rules, secret=SECRET.encode()))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, LOGS_URL, callback=answer)
        mock.add(responses.GET, DOMAIN_URL, json={"domain_id": "domain-hostile", "domain_name": "d"})
        for source in ("api", "webhook"):
            hook = DailyHook(api_key="sk-planted-0000", requests_per_second=1e6)
            with DuckDBWarehouse(db, threads=1) as warehouse:
                load_window(
                    hook=hook,
                    warehouse=warehouse,
                    window=WINDOW,
                    spec=LoadSpec(source=source, run_id="planted", config=config),
                )
    with duckdb.connect(str(db), read_only=True) as con:
        loaded = con.execute("SELECT count(*) FROM daily_api_logs").fetchone()
    assert loaded == (15,), f"expected the 15 api records of the corpus, got {loaded}"
    return all_values_text(db)


def test_planted_secrets_in_every_placement_never_reach_the_warehouse_in_clear(planted_load: str) -> None:
    assert "[redacted]" in planted_load and "sha256:" in planted_load
    found = leaked(planted_load, PLANTED)
    assert not found, f"secrets stored in clear: {found}"


def test_sip_uris_and_phone_numbers_in_free_text_bodies_never_reach_the_warehouse_in_clear(
    planted_load: str,
) -> None:
    found = leaked(planted_load, TEXT_DEFECTS)
    assert not found, f"secrets stored in clear: {found}"


# -- keyed hashing ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hashed_server() -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorConfig(seed=2, days=2, api_per_day=60, webhook_per_day=5)) as server:
        yield server


def cli_load(
    server: SimulatorServer, db: Path, secret: str | None, monkeypatch: pytest.MonkeyPatch
) -> list[tuple]:
    monkeypatch.setenv("DAILY_API_KEY", server.config.api_key)
    if secret is None:
        monkeypatch.delenv("DAILY_LOGS_REDACTION_SECRET", raising=False)
    else:
        monkeypatch.setenv("DAILY_LOGS_REDACTION_SECRET", secret)
    argv = ["load", "--start", "2026-01-02T00:00:00Z", "--end", "2026-01-03T00:00:00Z", "--duckdb", str(db)]
    assert daily_logs([*argv, "--base-url", server.base_url, "--requests-per-second", "1000"]) == 0
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT id, ip FROM daily_api_logs ORDER BY id").fetchall()


def test_hashes_are_keyed_by_the_configured_secret(
    hashed_server: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = cli_load(hashed_server, tmp_path / "a1.duckdb", "alpha-secret", monkeypatch)
    again = cli_load(hashed_server, tmp_path / "a2.duckdb", "alpha-secret", monkeypatch)
    other = cli_load(hashed_server, tmp_path / "b.duckdb", "beta-secret", monkeypatch)
    unkeyed = cli_load(hashed_server, tmp_path / "none.duckdb", None, monkeypatch)
    raw_ip = {r["id"]: r["ip"] for r in hashed_server.simulator.truth("api", WINDOW.start, WINDOW.end)}

    assert first == again, "the same secret must give the same hashes (values stay joinable)"
    assert len(first) == len(raw_ip) > 10
    for (record_id, hashed), (_, other_hash), (_, dropped) in zip(first, other, unkeyed, strict=True):
        ip = raw_ip[record_id]
        keyed = hmac.new(b"alpha-secret", ip.encode(), hashlib.sha256).hexdigest()
        assert hashed == f"sha256:{keyed}", "expected HMAC-SHA256 keyed by the configured secret"
        assert hashed != other_hash, "another secret must give another hash"
        assert hashlib.sha256(ip.encode()).hexdigest() not in hashed, (
            "an unkeyed SHA-256 is reversible by lookup"
        )
        assert dropped == "[redacted]", "without a secret a hashed field must be dropped, not hashed unkeyed"
