"""What `serve --demo` (`make run`) prints: every page, each with the demo login that opens it."""

from __future__ import annotations

import pytest

from quote_service.cli.seed_demo import print_pages

BASE = "http://127.0.0.1:8001"


def test_the_banner_lists_every_page_with_the_login_that_opens_it(capsys: pytest.CaptureFixture[str]) -> None:
    print_pages(BASE, demo_accounts=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"dashboard:  {BASE}/dashboard  (log in as demo-admin / quote-service-admin)",
        f"books:      {BASE}/dashboard/books  (log in as demo-admin / quote-service-admin)",
        f"governance: {BASE}/dashboard/governance  (log in as demo-admin / quote-service-admin)",
        f"store:      {BASE}/store  (log in as demo-shopper / quote-service-shopper)",
        f"seller:     {BASE}/seller  (log in as demo-seller / quote-service-seller)",
    ]


def test_without_the_demo_accounts_the_banner_names_no_login(capsys: pytest.CaptureFixture[str]) -> None:
    print_pages(BASE, demo_accounts=False)
    out = capsys.readouterr().out
    assert f"{BASE}/seller\n" in out
    assert "log in" not in out
