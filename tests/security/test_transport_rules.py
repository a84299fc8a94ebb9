"""Transport rules that keep the key on the wire safe: TLS always verified, plain http only to loopback.

TLS is tested against a real HTTPS server on loopback with a self-signed certificate: the hook must
refuse it (once, without retrying), whatever the connection's extras or the environment say, and
must accept it once the certificate is trusted the standard way (``REQUESTS_CA_BUNDLE``), which
proves the refusal was certificate verification. Plain ``http://`` is refused, before any request,
unless the host is loopback or the connection explicitly allows it; redirects are never followed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from daily_provider.exceptions import DailyAPIError, DailyConfigError, DailyTransportError
from daily_provider.hooks.daily import DailyHook, WalkStats
from daily_provider.window import Window

KEY = "sk-transport-7d2b9e"
WINDOW = Window.parse("2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "daily-test-loopback")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class _EmptyLogs(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS Daily stand-in on loopback with a self-signed certificate: (base URL, certificate)."""
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _EmptyLogs)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}/v1", cert
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def connection_hook(monkeypatch: pytest.MonkeyPatch, host: str, **extra: Any) -> DailyHook:
    monkeypatch.setenv(
        "AIRFLOW_CONN_DAILY_TRANSPORT",
        json.dumps({"conn_type": "daily", "host": host, "password": KEY, "extra": extra}),
    )
    return DailyHook("daily_transport", backoff_base=0.0, sleep=lambda _: None)


@pytest.mark.parametrize(
    "extra",
    [{}, {"verify": False, "verify_ssl": False, "insecure": True, "ssl_verify": "false"}],
    ids=["plain", "extras-asking-to-skip-verification"],
)
def test_an_untrusted_certificate_is_refused_at_once_whatever_the_extras_say(
    https_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any]
) -> None:
    base_url, _ = https_server
    monkeypatch.setenv("CURL_CA_BUNDLE", "")  # an empty bundle variable must not turn verification off
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    hook = connection_hook(monkeypatch, base_url, **extra)
    stats = WalkStats()
    with pytest.raises(DailyTransportError, match="not retried; check the base URL, proxy and TLS") as caught:
        list(hook.iter_logs(WINDOW.start, WINDOW.end, stats=stats))
    assert stats.requests == 1, "a certificate failure needs a fix, not retries"
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value) or "certificate" in str(caught.value).lower()
    assert hook.get_conn().verify is True
    assert KEY not in str(caught.value)


def test_the_same_server_is_accepted_once_its_certificate_is_trusted(
    https_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, cert = https_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    hook = connection_hook(monkeypatch, base_url)
    stats = WalkStats()
    assert list(hook.iter_logs(WINDOW.start, WINDOW.end, stats=stats)) == []
    assert stats.requests == 1


@pytest.mark.parametrize(
    "host",
    [
        "http://api.daily.co/v1",
        "HTTP://API.DAILY.CO/v1",
        "http://10.0.0.5:8080/v1",
        "http://0.0.0.0:8765/v1",
        "http://127.0.0.1.nip.io/v1",
        "http://localhost.evil.example/v1",
        "http://evil.localhost/v1",
        "http://[::ffff:10.0.0.5]/v1",
    ],
)
def test_plain_http_to_a_host_that_is_not_loopback_is_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        hook = connection_hook(monkeypatch, host)
        with pytest.raises(DailyConfigError, match="plain http://") as caught:
            hook.iter_logs(WINDOW.start, WINDOW.end)
        assert "allow_insecure_http" in str(caught.value) and "use https://" in str(caught.value)
        hook = connection_hook(monkeypatch, host, allow_insecure_http="false")
        with pytest.raises(DailyConfigError, match="plain http://"):
            hook.iter_logs(WINDOW.start, WINDOW.end)
        assert len(mock.calls) == 0


@pytest.mark.parametrize(
    "host",
    ["http://127.0.0.1:8765/v1", "http://127.8.9.10/v1", "http://localhost:8765/v1", "http://[::1]:8765/v1"],
)
def test_plain_http_to_loopback_is_allowed(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    hook = connection_hook(monkeypatch, host)
    hook.iter_logs(WINDOW.start, WINDOW.end)  # settings are checked here; no request until iterated
    assert hook.get_conn().verify is True


def test_plain_http_to_a_remote_proxy_needs_the_connection_to_allow_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, "http://proxy.internal:3128/v1/logs/api", json=[])
        hook = connection_hook(monkeypatch, "http://proxy.internal:3128/v1", allow_insecure_http=True)
        assert list(hook.iter_logs(WINDOW.start, WINDOW.end)) == []
        assert len(mock.calls) == 1


def test_a_redirect_is_not_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(
            responses.GET,
            "https://api.daily.co/v1/logs/api",
            status=302,
            headers={"Location": "http://collector.evil.example/steal"},
        )
        hook = connection_hook(monkeypatch, "https://api.daily.co/v1")
        with pytest.raises(DailyAPIError, match="Redirects are not followed"):
            list(hook.iter_logs(WINDOW.start, WINDOW.end))
        assert [call.request.url.split("?")[0] for call in mock.calls] == ["https://api.daily.co/v1/logs/api"]
