"""What granian's two Python interfaces cost a request: ASGI (what the service is served with) vs
RSGI (granian's own), on an app that does nothing, in one run.

    uv run python loadtests/bench_interfaces.py [--rounds 3] [--duration 8] [--connections 64]

Two granian servers (1 worker, uvloop, as `quote-service serve`) of the same do-nothing app: it
reads the body and answers a fixed 4.6 KB JSON body (a quote's size). One is spoken to over ASGI
(`receive` and two `send`s, as the lean edge does), the other over RSGI (`await protocol()`, one
`response_bytes`). wrk POSTs a quote-sized body to each in turn, round after round, and the
worker's CPU (Python thread and granian's threads, loadtests/cpu.py) is divided by the requests:
what the interface itself costs a request, which is the most a quote could save by being served
over RSGI (BENCHMARKS.md, "Decisions"). Needs wrk.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from cpu import ServerCpu
from plumbing import check_free, interpreter, stop, wait_ready, wrk

BODY = b'{"data":"' + b"x" * 4600 + b'"}'
_HEADERS_ASGI = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]
_HEADERS_RSGI = [("content-type", "application/json"), ("content-length", str(len(BODY)))]
REQUEST = (
    '{"customer_id":"c-1","items":[{"product_id":"0b7e1c52-4a53-4d0e-9a0c-2f4c1e0d9b11","quantity":2}],'
    '"delivery_address":{"city":"Istanbul","country":"TR"},"coupon_codes":["WELCOME10"],"currency":"TRY"}'
)


async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The do-nothing app over ASGI (and its lifespan, which granian runs)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS_ASGI})
    await send({"type": "http.response.body", "body": BODY})


class RSGIApp:
    """The same app over RSGI."""

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        await protocol()
        protocol.response_bytes(200, _HEADERS_RSGI, BODY)


rsgi = RSGIApp()


def serve(interface: str, port: int) -> subprocess.Popen[bytes]:
    target = f"bench_interfaces:{interface}"
    command = [sys.executable, "-m", "granian", "--interface", interface, "--port", str(port), "--workers", "1"]
    command += ["--loop", "uvloop", "--no-ws", "--log-level", "error", target]
    here = str(Path(__file__).resolve().parent)
    return subprocess.Popen(command, cwd=here, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--port", type=int, default=8781)
    args = parser.parse_args()
    ports = {"asgi": args.port, "rsgi": args.port + 1}
    check_free(*ports.values())
    servers = {name: serve(name, port) for name, port in ports.items()}
    cpu: dict[str, list[float]] = {name: [] for name in ports}
    rps: dict[str, list[float]] = {name: [] for name in ports}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        body = REQUEST.replace('"', '\\"')
        lua.write(f'wrk.method = "POST"\nwrk.body = "{body}"\nwrk.headers["Content-Type"] = "application/json"\n')
    script = Path(lua.name)
    try:
        for name, port in ports.items():
            wait_ready(f"http://127.0.0.1:{port}", servers[name], path="/")
            wrk(f"http://127.0.0.1:{port}", "/", connections=args.connections, duration=2, script=script)  # warm-up
        print(interpreter(), flush=True)
        for number in range(args.rounds):
            order = list(ports) if number % 2 == 0 else list(reversed(ports))
            for name in order:
                meter = ServerCpu(servers[name].pid)
                meter.start()
                result = wrk(
                    f"http://127.0.0.1:{ports[name]}", "/", connections=args.connections,
                    duration=args.duration, script=script,
                )  # fmt: skip
                used = meter.stop()
                worker = used["worker_python"] + used["worker_threads"]
                cpu[name].append(worker / result["requests"] * 1e6)
                rps[name].append(result["rps"])
                print(f"round {number + 1} {name}: {result['rps']:.0f} rps, worker CPU {cpu[name][-1]:.1f} µs/request")
    finally:
        script.unlink(missing_ok=True)
        for server in servers.values():
            stop(server)
    asgi_us, rsgi_us = statistics.median(cpu["asgi"]), statistics.median(cpu["rsgi"])
    print(
        f"medians of {args.rounds}: ASGI {statistics.median(rps['asgi']):.0f} rps, {asgi_us:.1f} µs | "
        f"RSGI {statistics.median(rps['rsgi']):.0f} rps, {rsgi_us:.1f} µs | "
        f"RSGI saves {asgi_us - rsgi_us:.1f} µs of worker CPU a request ({rsgi_us / asgi_us:.2f} of ASGI's)"
    )


if __name__ == "__main__":
    main()
