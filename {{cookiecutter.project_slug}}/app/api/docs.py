"""Swagger UI (/docs) for local and test runs, working offline: its files come from the swagger-ui-bundle-v2 package
(the server dependency group, which uvicorn runs with) and are served by the app, where FastAPI's own page loads them
from a CDN. Deployed stages keep FastAPI's page and never import this module; without the package, local runs get
FastAPI's page too.
"""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs/assets"
# The files of Swagger UI's distribution the page links to.
JS_FILE, CSS_FILE, FAVICON_FILE = "swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"


def installed_swagger_ui() -> Path | None:
    """The folder of Swagger UI's distribution, or None when swagger-ui-bundle-v2 is not installed."""
    try:
        from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]
    except ImportError:
        return None
    return Path(str(swagger_ui_path))


def serve_swagger_ui(application: FastAPI) -> None:
    """Answer /docs (and its OAuth2 redirect page, as FastAPI does) with Swagger UI, its files served by the app."""
    files = installed_swagger_ui()
    if files is not None:
        application.mount(ASSETS_URL, StaticFiles(directory=files), name="swagger-ui")
    openapi_url = application.openapi_url or "/openapi.json"

    async def swagger_ui_page(request: Request) -> HTMLResponse:
        # Behind a proxy that strips a path prefix, every URL of the page needs it back.
        root_path = request.scope.get("root_path", "").rstrip("/")
        same_origin_files = (
            {
                "swagger_js_url": f"{root_path}{ASSETS_URL}/{JS_FILE}",
                "swagger_css_url": f"{root_path}{ASSETS_URL}/{CSS_FILE}",
                "swagger_favicon_url": f"{root_path}{ASSETS_URL}/{FAVICON_FILE}",
            }
            if files is not None
            else {}
        )
        return get_swagger_ui_html(
            openapi_url=root_path + openapi_url,
            title=f"{application.title} - Swagger UI",
            oauth2_redirect_url=root_path + OAUTH2_REDIRECT_URL,
            init_oauth=application.swagger_ui_init_oauth,
            swagger_ui_parameters=application.swagger_ui_parameters,
            **same_origin_files,
        )

    async def oauth2_redirect_page(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    application.add_route(DOCS_URL, swagger_ui_page, include_in_schema=False)
    application.add_route(OAUTH2_REDIRECT_URL, oauth2_redirect_page, include_in_schema=False)
