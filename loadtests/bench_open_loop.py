"""Open-loop latency, one worker: the quote and the echo at 25, 50 and 75 % of their closed-loop maximum.

    uv run python loadtests/bench_open_loop.py [--body readme] [--seconds 20] [--duration 8] [--repeat 3]

`quote-service serve --workers 1` on a private redis-server and a scratch database (seed-demo, the
README's setup: plumbing.private_service) and the reference echo (reference_app.py: bare Litestar +
msgspec decoding the same bodies). First each one's closed-loop maximum (wrk, 64 connections,
`--duration` s), then for each of 25, 50 and 75 % of it a constant arrival rate for `--seconds`
(open_loop.py: latency from each request's due time, so a queue that builds shows): p50, p99, p99.9,
and whether the latency grows through the run (`stable`), and the worst 100 ms of due times (a
stall). `--repeat N` runs N phases at each share and prints the median p99 of them: one stall of
the box in a 15-second phase moves its p99 by hundreds of ms. Bodies (`--body`, loadtests/workloads.py):
`readme` (the README's one-line basket, a new customer each), `simple` (the cost budget's ad-hoc
line) or `demo` (seed-demo's 3-product basket). Prints the box's load before and after: on a shared
machine the other sessions' work is in every figure.
"""

from __future__ import annotations

import argparse
import random
import statistics
from pathlib import Path

import uvloop
from open_loop import run
from plumbing import free_port, interpreter, private_service, start_reference, stop, wait_ready, wrk
from workloads import body_template, wrk_script


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--body", choices=("readme", "simple", "demo"), default="readme")
    parser.add_argument("--seconds", type=float, default=20.0, help="each open-loop phase")
    parser.add_argument("--duration", type=float, default=8.0, help="each closed-loop (wrk) phase")
    parser.add_argument("--shares", default="25,50,75", help="per cent of the closed-loop maximum")
    parser.add_argument("--repeat", type=int, default=1, help="phases at each share (then the median p99 of them)")
    parser.add_argument("--port", type=int, default=8781)
    args = parser.parse_args()
    reference_port = free_port()
    print(f"{interpreter()}\nload before: {load_average()}", flush=True)
    with private_service(port=args.port, workers=1) as service:
        reference = start_reference(reference_port)
        try:
            wait_ready(f"http://127.0.0.1:{reference_port}", reference, path="/health")
            ids = demo_ids(service.base)
            script = wrk_script(args.body, service.key, ids)
            targets = {"quote": service.base, "echo": f"http://127.0.0.1:{reference_port}"}
            template = body_template(args.body, ids)
            tag = random.randrange(10**6)
            for what, base in targets.items():
                wrk(base, "/api/v1/quote", connections=64, duration=3, script=script)  # warm-up
                most = wrk(base, "/api/v1/quote", connections=64, duration=args.duration, script=script)
                print(f"{what}: closed loop (wrk, 64 connections) {most['rps']:,.0f}/s, p50 {most['p50_ms']:.2f} ms"
                      f" p99 {most['p99_ms']:.2f} ms", flush=True)  # fmt: skip
                for share in (int(s) for s in args.shares.split(",")):
                    rate = most["rps"] * share / 100

                    def body(n: int, share: int = share) -> bytes:
                        return (template % f"o-{tag}-{share}-{n:09d}").encode()

                    p99s, p999s = [], []
                    for phase in range(args.repeat):
                        result = uvloop.run(
                            run(f"{base}/api/v1/quote", rate=rate, seconds=args.seconds,
                                body=lambda n, phase=phase: body(n + phase * 10**8),
                                headers={"Content-Type": "application/json", "X-API-Key": service.key})
                        )  # fmt: skip
                        print(result.line(f"{what} at {share} %"), flush=True)
                        p99s.append(result.percentile(0.99))
                        p999s.append(result.percentile(0.999))
                    if args.repeat > 1:
                        p99, p999 = statistics.median(p99s), statistics.median(p999s)
                        print(f"{what} at {share} %: median of {args.repeat} phases p99 {p99:.2f} ms,"
                              f" p99.9 {p999:.2f} ms", flush=True)  # fmt: skip
            script.unlink(missing_ok=True)
        finally:
            stop(reference)
    print(f"load after: {load_average()}")


def demo_ids(base: str) -> dict[str, str]:
    """The demo products' ids by SKU (seed-demo's catalog)."""
    import httpx

    with httpx.Client(base_url=base, timeout=10) as http:
        login = {"username": "demo-admin", "password": "quote-service-admin"}
        token = http.post("/api/v1/auth/token", json=login).json()["data"]["access_token"]
        listed = http.get("/api/v1/products", params={"limit": 500}, headers={"Authorization": f"Bearer {token}"})
        listed.raise_for_status()
    return {product["sku"]: product["id"] for product in listed.json()["data"]["items"]}


if __name__ == "__main__":
    main()
