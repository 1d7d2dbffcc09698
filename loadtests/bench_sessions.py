"""Benchmark: agents' checkout sessions (docs/agents.md) — create / update / complete on one worker.

    .venv/bin/python loadtests/bench_sessions.py [--sessions 200] [--lines 10] [--sellers 3]
    cd /tmp && PYTHONPATH=<tree> <repo>/.venv/bin/python <repo>/loadtests/bench_sessions.py   # another tree

(Started from a repository root, the server's `python -m` finds that root's package before PYTHONPATH's.)

Serves `quote-service serve --workers 1` on a private redis-server and a scratch database seeded with the
demo (loadtests/plumbing.py), adds `--sellers` sellers of 10 TRY products each with a shipping profile
(standard and express), and an `agent` API key. Then, one request at a time, for each session: an ACP
create of a `--lines`-line basket drawn from every seller (with its address), an update that picks the
combined `express` option for every seller, the plain `POST /api/v1/quote` of the same basket with the same
choices (a new customer each time: no identical-request reuse) sent as the update is (the agent's key as a
bearer token) and again with the key as `X-API-Key` (the lean edge's quote, the cheapest way a quote is
served), and a complete that places the order. The update and the two quotes take turns going first. After
20 sessions to warm up it prints p50 and p99 ms of each as the client sees it (HTTP on localhost included),
and the update's cost beside each plain quote's (the ratio of their medians; goal <= 1.15 beside the first).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.plumbing import free_port, private_service

WARM_UP = 20
ACP = "/acp/checkout_sessions"
ADDRESS = {"name": "Bench Agent", "line_one": "Istiklal Cd. 1", "city": "Istanbul", "state": "Istanbul",
           "country": "TR", "postal_code": "34000"}  # fmt: skip


def _admin(http: httpx.Client) -> dict[str, str]:
    login = {"username": "demo-admin", "password": "quote-service-admin"}
    token = http.post("/api/v1/auth/token", json=login).raise_for_status().json()["data"]["access_token"]
    return {"Authorization": f"Bearer {token}"}


def configure(base: str, sellers: int) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each seller's ten products and profile; the products by seller, and an agent key's headers."""
    rng = random.Random(34)
    with httpx.Client(base_url=base, timeout=30) as http:
        admin = _admin(http)
        by_seller: dict[str, list[str]] = {}
        for s in range(sellers):
            seller = f"bench-agent-seller-{s}"
            for n in range(10):
                body = {"sku": f"BENCH-SESSION-{s}-{n}", "name": f"Session bench {s}/{n}", "category_id": "bench",
                        "seller_id": seller, "currency": "TRY", "base_price": f"{rng.randint(20, 400)}.00",
                        "min_price": "0", "stock": 1_000_000, "weight": "0.5"}  # fmt: skip
                made = http.post("/api/v1/products", json=body, headers=admin).raise_for_status()
                by_seller.setdefault(seller, []).append(made.json()["data"]["id"])
            profile = {"seller_id": seller, "countries": ["TR"], "currency": "TRY", "options": [
                {"code": "standard", "name": "Standard", "base_fee": "24.90", "eta_days_min": 2, "eta_days_max": 4},
                {"code": "express", "name": "Express", "base_fee": "59.90", "eta_days_min": 1, "eta_days_max": 1,
                 "express": True}]}  # fmt: skip
            http.post("/api/v1/shipping-profiles", json=profile, headers=admin).raise_for_status()
        key = http.post("/api/v1/api-keys", json={"name": "bench-agent", "role": "agent"}, headers=admin)
        return by_seller, {"Authorization": f"Bearer {key.raise_for_status().json()['data']['key']}"}


def basket(rng: random.Random, by_seller: dict[str, list[str]], lines: int) -> list[dict[str, Any]]:
    """`lines` distinct products, every seller's among them."""
    sellers = list(by_seller)
    picked = [rng.choice(by_seller[sellers[n % len(sellers)]]) for n in range(len(sellers))]
    rest = [p for ids in by_seller.values() for p in ids if p not in picked]
    picked += rng.sample(rest, lines - len(picked))
    return [{"id": p, "quantity": rng.randint(1, 3)} for p in picked]


def timed(http: httpx.Client, method: str, url: str, body: dict[str, Any], expect: int) -> tuple[float, Any]:
    headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" and url.startswith(ACP) else {}
    start = time.perf_counter()
    response = http.request(method, url, json=body, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != expect:
        raise SystemExit(f"{method} {url}: {response.status_code} {response.text[:500]}")
    return elapsed, response.json()


def summary(label: str, took: list[float]) -> float:
    took = sorted(took)
    p50 = statistics.median(took)
    p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
    print(f"{label:>12}: {len(took)} requests, p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {took[-1]:.2f} ms")
    return p50


def run(base: str, by_seller: dict[str, list[str]], agent: dict[str, str], sessions: int, lines: int) -> None:
    rng = random.Random(7)
    took: dict[str, list[float]] = {
        "create": [],
        "update": [],
        "plain quote": [],
        "X-API-Key quote": [],
        "complete": [],
    }
    as_api_key = {"X-API-Key": agent["Authorization"].removeprefix("Bearer ")}
    with (
        httpx.Client(base_url=base, headers=agent, timeout=30) as http,
        httpx.Client(base_url=base, headers=as_api_key, timeout=30) as keyed,
    ):
        for n in range(WARM_UP + sessions):
            items = basket(rng, by_seller, lines)
            create_ms, session = timed(http, "POST", ACP, {"items": items, "fulfillment_address": ADDRESS}, 201)
            plain = {"customer_id": f"bench-{uuid.uuid4().hex[:12]}", "currency": "TRY",
                     "items": [{"product_id": i["id"], "quantity": i["quantity"]} for i in items],
                     "delivery_address": {"city": "Istanbul", "country": "TR", "street": "Istiklal Cd. 1",
                                          "district": "Istanbul", "postal_code": "34000"},
                     "shipping": dict.fromkeys(by_seller, "express"), "channel": "agent"}  # fmt: skip
            lean = {**plain, "customer_id": f"bench-{uuid.uuid4().hex[:12]}"}
            steps = [("update", http, f"{ACP}/{session['id']}", {"fulfillment_option_id": "express"}),
                     ("plain quote", http, "/api/v1/quote", plain),
                     ("X-API-Key quote", keyed, "/api/v1/quote", lean)]  # fmt: skip
            for label, client, url, body in steps[n % 3 :] + steps[: n % 3]:
                ms, answer = timed(client, "POST", url, body, 200)
                if label == "update" and answer["status"] != "ready_for_payment":
                    raise SystemExit(f"the session is not ready: {answer['messages']}")
                if n >= WARM_UP:
                    took[label].append(ms)
            payment = {"payment_data": {"token": f"spt_{n}", "provider": "stripe"}}
            complete_ms, done = timed(http, "POST", f"{ACP}/{session['id']}/complete", payment, 200)
            if done["status"] != "completed":
                raise SystemExit(f"not completed: {done['messages']}")
            if n >= WARM_UP:
                took["create"].append(create_ms)
                took["complete"].append(complete_ms)
    medians = {label: summary(label, values) for label, values in took.items()}
    ratio = medians["update"] / medians["plain quote"]
    print(f"update ÷ plain quote of the same basket, sent as the update is (medians): {ratio:.2f}x (goal <= 1.15)")
    lean = medians["update"] / medians["X-API-Key quote"]
    print(f"update ÷ plain quote of the same basket with the key as X-API-Key (the lean edge's quote): {lean:.2f}x")


def main(args: argparse.Namespace) -> None:
    with private_service(port=free_port(), workers=1, ready_seconds=args.ready_seconds) as service:
        by_seller, agent = configure(service.base, args.sellers)
        run(service.base, by_seller, agent, args.sessions, args.lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=200, help="measured sessions")
    parser.add_argument("--lines", type=int, default=10, help="lines a basket")
    parser.add_argument("--sellers", type=int, default=3)
    parser.add_argument("--ready-seconds", type=float, default=300, help="how long the server may take to start")
    main(parser.parse_args())
