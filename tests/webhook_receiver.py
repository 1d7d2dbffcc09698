"""A real webhook receiver for tests and the benchmark: an HTTP server (the standard library's
ThreadingHTTPServer) on a free port of 127.0.0.1 that records every POST it gets.

It answers `status` (200) after `delay` seconds, with `answer_headers`, its body at once or a byte every
`drip` seconds; `hold()` makes it keep every request open until
`release()`; `stop()` closes the port (a receiver that is down: connections refused) and
`start()` opens the same port again. Signatures are checked by the `standardwebhooks` library
itself (`verified`), never by code of ours.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Received:
    """One request as the receiver got it."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """time.time() when it arrived."""

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Receiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.status = 200
        self.delay = 0.0
        self.location: str | None = None
        """Sent as Location (a redirect, with status 302)."""
        self.answer = b"ok"
        """The body of every answer."""
        self.answer_headers: dict[str, str] = {}
        """Sent with every answer (e.g. `Content-Encoding`)."""
        self.drip: float | None = None
        """Seconds between the answer body's bytes, sent one at a time after the headers (a slow drip)."""
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._held = threading.Event()
        self._held.set()
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver._connections.add(self.connection)

            def finish(self) -> None:
                with receiver._lock:
                    receiver._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                with receiver._lock:
                    receiver.received.append(got)
                    status, delay, location = receiver.status, receiver.delay, receiver.location
                    answer, extra, drip = receiver.answer, dict(receiver.answer_headers), receiver.drip
                receiver._held.wait()
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                if drip is None:
                    self.wfile.write(answer)
                    return
                for index in range(len(answer)):
                    self.wfile.write(answer[index : index + 1])
                    self.wfile.flush()
                    time.sleep(drip)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the sender opens up to WEBHOOK_CONCURRENCY connections at once

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a sender that hung up (killed, timed out): nothing to report

        server = Server(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the port and every open connection: connections are refused until `start()`."""
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def hold(self) -> None:
        """Keep every request open (no answer) until `release()`."""
        self._held.clear()

    def release(self) -> None:
        self._held.set()

    def bodies(self) -> list[bytes]:
        with self._lock:
            return [r.body for r in self.received]

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def verified(self, secret: str, *, path: str | None = None) -> list[dict[str, Any]]:
        """Every request's payload (to `path`, when given), each verified by `standardwebhooks`
        with `secret` (raises WebhookVerificationError when one does not verify)."""
        verifier = Webhook(secret)
        return [verifier.verify(r.body, r.headers) for r in self.snapshot() if path in (None, r.path)]


@contextlib.contextmanager
def receiving(port: int | None = None) -> Iterator[Receiver]:
    receiver = Receiver(port)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
