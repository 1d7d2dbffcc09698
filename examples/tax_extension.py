"""An example tax extension (docs/extensions.md): a tax engine answering per-line amounts.

It checks every call's Standard Webhooks signature with the secret the service showed when the
extension was made (the `standardwebhooks` library), then answers each line it was asked about with
one tax, `code` at `rate` percent of the line's net, rounded half up to the net's own decimals (the
currency's). A call whose signature does not verify gets 401.

    python examples/tax_extension.py --port 8085 --secret whsec_... [--rate 20] [--code VAT] [--delay-ms 0]

Only the standard library and `standardwebhooks`; the tests and loadtests/extension_latency.py run it too.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


def taxes(payload: dict[str, Any], *, rate: Decimal, code: str) -> dict[str, Any]:
    """The answer to one call: a tax per line, on its net."""
    lines = []
    for line in payload["lines"]:
        net = Decimal(line["net"])
        amount = (net * rate / 100).quantize(net, ROUND_HALF_UP) if net else net
        lines.append({"line": line["line"], "taxes": [{"code": code, "rate": str(rate), "amount": str(amount)}]})
    return {"lines": lines}


def make_server(
    port: int, secret: str, *, rate: Decimal = Decimal(20), code: str = "VAT", delay_ms: float = 0.0
) -> ThreadingHTTPServer:
    """The server (not yet serving): `serve_forever()` runs it."""
    verifier = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps connections alive, as the service's client does
        disable_nagle_algorithm = True  # the answer goes out at once, not after the client's delayed ACK

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                payload = verifier.verify(body, {k.lower(): v for k, v in self.headers.items()})
            except WebhookVerificationError:
                self._answer(401, b'{"error": "bad signature"}')
                return
            if delay_ms:
                time.sleep(delay_ms / 1000)
            self._answer(200, json.dumps(taxes(payload, rate=rate, code=code)).encode())

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    """Serve `server` on a daemon thread (stop it with `server.shutdown()`)."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8085)
    parser.add_argument("--secret", required=True, help="the extension's secret (whsec_...)")
    parser.add_argument("--rate", type=Decimal, default=Decimal(20), help="percent of each line's net")
    parser.add_argument("--code", default="VAT")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="answer this much later (a slow engine)")
    args = parser.parse_args()
    server = make_server(args.port, args.secret, rate=args.rate, code=args.code, delay_ms=args.delay_ms)
    print(f"tax extension on http://127.0.0.1:{args.port}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
