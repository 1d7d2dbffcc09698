"""The pages' registration: the dashboard summary and the HTML pages (their templates: app.py)."""

from __future__ import annotations

from quote_service.pages.controller import ROUTES
from quote_service.pages.summary import dashboard_summary
from quote_service.web.domain import Domain

PAGES = Domain(name="pages", routes=[dashboard_summary, *ROUTES])
