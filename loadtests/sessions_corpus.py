"""Not a benchmark: every answer of a fixed journey of agents' checkout sessions (docs/agents.md), recorded
from a tree and compared byte for byte with another recording (corpus.py's journeys have no /acp or /ucp).

    cd /tmp && PYTHONPATH=<tree> <repo>/.venv/bin/python <tree>/loadtests/sessions_corpus.py record --out /tmp/A.jsonl
    .venv/bin/python loadtests/sessions_corpus.py compare /tmp/A.jsonl /tmp/B.jsonl

(From another directory: started from a repository root, the server's `python -m` finds that root's package
before PYTHONPATH's.) `record` serves the tree on PYTHONPATH as bench_sessions.py does (one worker, a private
redis-server, a scratch database with the demo, 3 sellers of 10 products with standard and express shipping,
an agent key), then, one request at a time: 12 ACP sessions of 3, 5 or 10 lines (create; updates choosing
express, replayed, another body under the same key, standard, the same again, items with an unknown one,
codes, each seller's group, an empty basket; a read; then a cancel or a complete, each followed by an update
refused, replayed), an update of an unknown session, and 6 UCP sessions (create, PUT with each seller's
choice, replayed, fewer lines, a read, a complete). One JSON line a request: step, method, path, status,
`Idempotent-Replayed` and the answer, with UUIDs numbered in order of appearance, RFC 3339 times and the
server's port replaced. `compare` names each request whose line differs. The server runs with PYTHONHASHSEED=0
(unless set): the order of the messages naming sellers whose choices the quote refused follows a set of seller
ids, whose order string hashing draws anew in each process otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.bench_sessions import ADDRESS, basket, configure
from loadtests.plumbing import free_port, private_service

ACP = "/acp/checkout_sessions"
UCP = "/ucp/checkout-sessions"
UCP_AGENT = {"UCP-Agent": 'profile="https://agent.example/profile"'}
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
_HOST = re.compile(rb"127\.0\.0\.1:\d+")


class Recorder:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.ids: dict[bytes, int] = {}
        self.rows: list[dict[str, Any]] = []

    def normalized(self, text: bytes) -> str:
        text = _UUID.sub(lambda m: b"<id:%d>" % self.ids.setdefault(m[0], len(self.ids)), text)
        return _HOST.sub(b"<host>", _TIME.sub(b"<time>", text)).decode()

    def send(
        self, step: str, method: str, url: str, body: Any, key: str | None = None, extra: dict[str, str] | None = None
    ) -> httpx.Response:
        headers = {"content-type": "application/json", **({"Idempotency-Key": key} if key else {}), **(extra or {})}
        content = b"" if body is None else json.dumps(body).encode()
        response = self.http.request(method, url, content=content, headers=headers)
        self.rows.append(
            {
                "step": step,
                "method": method,
                "path": self.normalized(url.encode()),
                "status": response.status_code,
                "replayed": response.headers.get("idempotent-replayed"),
                "answer": self.normalized(response.content),
            }
        )
        return response


def acp_journeys(rec: Recorder, rng: random.Random, by_seller: dict[str, list[str]]) -> None:
    groups = [{"id": f"seller:{seller}", "selected_option_id": "express"} for seller in by_seller]
    for n in range(12):
        items = basket(rng, by_seller, rng.choice([3, 5, 10]))
        made = rec.send("acp.create", "POST", ACP, {"items": items, "fulfillment_address": ADDRESS}, f"c{n}").json()
        url = f"{ACP}/{made['id']}"
        fewer = [*items[: max(1, len(items) - 2)], {"id": "no-such-product", "quantity": 1}]
        for step, body, key in (
            ("update express", {"fulfillment_option_id": "express"}, "a"),
            ("update replayed", {"fulfillment_option_id": "express"}, "a"),
            ("update another body", {"fulfillment_option_id": "standard"}, "a"),
            ("update standard", {"fulfillment_option_id": "standard"}, "b"),
            ("update the same again", {"fulfillment_option_id": "standard"}, "c"),
            ("update items", {"items": fewer}, "d"),
            ("update codes", {"discounts": {"codes": ["NOPE", "WELCOME10"]}}, "e"),
            ("update groups", {"fulfillment_groups": groups}, "f"),
            ("update no items", {"items": []}, "g"),
        ):
            rec.send(f"acp.{step}", "POST", url, body, f"u{n}{key}")
        rec.send("acp.read", "GET", url, None)
        if n % 3 == 0:
            rec.send("acp.cancel", "POST", f"{url}/cancel", {}, f"x{n}")
        else:
            payment = {"payment_data": {"token": f"t{n}", "provider": "stripe"}}
            rec.send("acp.complete", "POST", f"{url}/complete", payment, f"d{n}")
        for step in ("acp.update after", "acp.update after, replayed"):
            rec.send(step, "POST", url, {"fulfillment_option_id": "express"}, f"u{n}h")
    unknown = f"{ACP}/00000000-0000-4000-8000-000000000000"
    rec.send("acp.update unknown", "POST", unknown, {"fulfillment_option_id": "express"}, "unknown")


def ucp_journeys(rec: Recorder, rng: random.Random, by_seller: dict[str, list[str]]) -> None:
    where = {"address_locality": "Istanbul", "address_country": "TR", "street_address": "Istiklal Cd. 1",
             "postal_code": "34000"}  # fmt: skip
    groups = [{"id": f"seller:{seller}", "selected_option_id": "express"} for seller in by_seller]
    for n in range(6):
        lines = [{"item": {"id": i["id"]}, "quantity": i["quantity"]} for i in basket(rng, by_seller, 4)]
        shipping = {"methods": [{"type": "shipping", "destinations": [where]}]}
        body: dict[str, Any] = {"line_items": lines, "currency": "TRY", "fulfillment": shipping}
        made = rec.send("ucp.create", "POST", UCP, body, f"uc{n}", UCP_AGENT).json()
        url = f"{UCP}/{made.get('id')}"
        chosen = {**body, "fulfillment": {"methods": [{"type": "shipping", "destinations": [where], "groups": groups}]}}
        rec.send("ucp.put", "PUT", url, chosen, f"up{n}", UCP_AGENT)
        rec.send("ucp.put replayed", "PUT", url, chosen, f"up{n}", UCP_AGENT)
        rec.send("ucp.put fewer lines", "PUT", url, {**chosen, "line_items": lines[:2]}, f"uq{n}", UCP_AGENT)
        rec.send("ucp.read", "GET", url, None, None, UCP_AGENT)
        rec.send("ucp.complete", "POST", f"{url}/complete", {"payment_data": {"token": f"u{n}"}}, f"ud{n}", UCP_AGENT)


def record(out: Path) -> None:
    os.environ.setdefault("PYTHONHASHSEED", "0")  # (the service's environment is this one's)
    with private_service(port=free_port(), workers=1, ready_seconds=300) as service:
        by_seller, agent = configure(service.base, 3)
        with httpx.Client(base_url=service.base, headers=agent, timeout=30) as http:
            rec = Recorder(http)
            for products in by_seller.values():  # numbered first: the same numbers in every recording
                for product in products:
                    rec.ids.setdefault(product.encode(), len(rec.ids))
            rng = random.Random(11)
            acp_journeys(rec, rng, by_seller)
            ucp_journeys(rec, rng, by_seller)
    out.write_text("".join(json.dumps(row) + "\n" for row in rec.rows))
    print(f"{len(rec.rows)} requests, {sum(row['status'] >= 400 for row in rec.rows)} refused: {out}")


def compare(first: Path, second: Path) -> int:
    a = first.read_text().splitlines()
    b = second.read_text().splitlines()
    differ = [n for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y]
    for n in differ:
        print(f"request {n}: {json.loads(a[n])['step']} differs")
    if len(a) != len(b):
        print(f"{len(a)} requests against {len(b)}")
    print(f"{len(a)} requests, {len(differ)} differ")
    return 1 if differ or len(a) != len(b) else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    recording = commands.add_parser("record", help="record the tree on PYTHONPATH")
    recording.add_argument("--out", type=Path, required=True)
    comparing = commands.add_parser("compare", help="compare two recordings")
    comparing.add_argument("first", type=Path)
    comparing.add_argument("second", type=Path)
    args = parser.parse_args()
    if args.command == "record":
        record(args.out)
    else:
        raise SystemExit(compare(args.first, args.second))
