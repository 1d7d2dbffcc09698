"""/docs: Swagger UI served from the installed `swagger-ui-bundle-v2` package, no CDN.

The page works offline and under the strict HTML_PAGE_POLICY (web/headers.py): no inline
script (the start-up code is a file of its own), every asset from this origin. It reads the
completed OpenAPI document at /openapi.json. Assets are cached by browsers for a day; their
URLs carry the Swagger UI version, so an upgrade is fetched at once.
"""

from __future__ import annotations

import importlib.metadata
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath
from swagger_ui_bundle import swagger_ui_path

SWAGGER_UI_VERSION = importlib.metadata.version("swagger-ui-bundle-v2")
ASSET_CACHE_CONTROL = "public, max-age=86400"
_START = b"""window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  layout: "BaseLayout",
});
"""
_ASSETS = {  # Litestar adds "; charset=utf-8" to every text/* type
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
    "start.js": "text/javascript",
}


def _asset_url(name: str) -> str:
    return f"/docs/assets/{name}?v={SWAGGER_UI_VERSION}"


@cache
def _asset(name: str) -> bytes:
    return _START if name == "start.js" else (Path(swagger_ui_path) / name).read_bytes()


@get("/assets/{name:str}", sync_to_thread=False, include_in_schema=False)
def docs_asset(name: FromPath[str]) -> Response[bytes]:
    """One of the page's static files (a fixed list: nothing else of the package is served)."""
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise NotFoundException(f"no docs asset {name!r}")
    return Response(_asset(name), media_type=media_type, headers={"Cache-Control": ASSET_CACHE_CONTROL})


class LocalSwaggerUI(OpenAPIRenderPlugin):
    """Litestar's render plugin slot, filled with a page that loads only local files."""

    def __init__(self) -> None:
        super().__init__(path="/", favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = str(openapi_schema["info"]["title"])
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API</title>
<link rel="icon" type="image/png" href="{_asset_url("favicon-32x32.png")}">
<link rel="stylesheet" href="{_asset_url("swagger-ui.css")}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{_asset_url("swagger-ui-bundle.js")}"></script>
<script src="{_asset_url("start.js")}"></script>
</body>
</html>
""".encode()

    def receive_router(self, router: Router) -> None:
        router.register(docs_asset)
