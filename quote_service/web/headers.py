"""Security headers on every response, decided in one place.

- `X-Content-Type-Options: nosniff` on everything.
- `Cache-Control: no-store` unless the response states its own caching (the docs page's
  static assets do): API answers carry prices, tokens and keys no shared cache may keep.
- Every HTML page (the API docs today, any later page automatically) gets HTML_PAGE_POLICY,
  a Content-Security-Policy allowing only this origin's scripts, styles and images and no
  framing, plus `X-Frame-Options` for old browsers and no referrer.
"""

from __future__ import annotations

from collections.abc import Iterable

HTML_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
"""CSP of HTML pages. Inline styles only: Swagger UI sets style attributes; no inline script."""

_ALWAYS = ((b"x-content-type-options", b"nosniff"),)
_NO_STORE = (b"cache-control", b"no-store")
_HTML_PAGE = (
    (b"content-security-policy", HTML_PAGE_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


def with_security_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` (lower-case ASGI names) plus the security headers this response needs."""
    result = [*headers, *_ALWAYS]
    cached = html = False
    for name, value in result:
        if name == b"cache-control":
            cached = True
        elif name == b"content-type":
            html = value.startswith(b"text/html")
    if not cached:
        result.append(_NO_STORE)
    if html:
        result.extend(_HTML_PAGE)
    return result
