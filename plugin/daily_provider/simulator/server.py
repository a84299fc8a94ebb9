"""The simulator over HTTP on loopback, in a background thread.

A thin ``http.server`` shell around :class:`Simulator`: it parses the request, asks the simulator
for a :class:`Response` and carries out what the simulator cannot do itself without I/O: wait
(latency, stalls), and drop the connection halfway through a body. HTTP/1.1 keep-alive, so a client
session reuses its connection as it would against Daily.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from daily_provider.simulator.config import FaultConfig, SimulatorConfig
from daily_provider.simulator.core import Simulator
from daily_provider.simulator.responses import error_response

log = logging.getLogger(__name__)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        self.stopping = threading.Event()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or hung up mid-answer is business as usual for a fault simulator.
        log.debug("simulator: connection from %s ended early", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes; no 40 ms delayed-ACK stall
    server_version = "DailySimulator/1.0"
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("simulator: %s - %s", self.address_string(), format % args)

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if parts.path.startswith("/_sim/") and not _is_loopback(self.client_address[0]):
            response = error_response(
                403, "forbidden-error", "simulator control endpoints answer loopback clients only"
            )
        else:
            query = parse_qs(parts.query, keep_blank_values=True)
            response = self.server.simulator.handle(
                method, parts.path, query, dict(self.headers.items()), body
            )
        if response.delay > 0 and self.server.stopping.wait(response.delay):
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if response.drop:
            self.send_header("Connection", "close")
        self.end_headers()
        if response.drop:
            # Promise the whole body, send part of it, hang up: the client sees an incomplete read.
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):  # the client may be gone already
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(response.body)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SimulatorServer:
    """:class:`Simulator` served on ``host:port`` (port 0 picks a free one) from a background thread."""

    def __init__(self, config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.simulator = Simulator(config)
        self._address = (host, port)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SimulatorServer:
        if self._httpd is not None:
            raise RuntimeError("the simulator server is already running; stop() it before starting again")
        httpd = _HTTPServer(self._address, self.simulator)
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="daily-simulator", daemon=True
        )
        self._httpd = httpd
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.stopping.set()  # wakes handlers waiting out a stall or latency
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the simulator server is not running; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: what a Daily connection's host should be set to."""
        host = self._address[0]
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/v1"

    def stats(self) -> dict[str, Any]:
        """``{"requests", "by_status", "pages_served", ...}`` for the logs endpoint since the last reset."""
        return self.simulator.stats()

    def reset_stats(self) -> None:
        self.simulator.reset_stats()

    def set_faults(self, faults: FaultConfig) -> None:
        """Use ``faults`` for the following requests, with fresh fault counters."""
        self.simulator.set_faults(faults)
