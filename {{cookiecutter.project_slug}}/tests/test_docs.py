"""/docs works without a network in local and test runs: the page loads Swagger UI's files from the app itself (the
server group's swagger-ui-bundle-v2), never from a CDN. Deployed stages keep FastAPI's own page."""

import re
import sys
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from main import create_app
{%- if cookiecutter.background_jobs == "yes" %}
from tests.conftest import JOB_QUEUE_URL
{%- endif %}

pytestmark = pytest.mark.anyio

DEPLOYED_DATABASE = {"DB_HOST": "db.internal", "DB_PASSWORD": "pw", "DB_SSL_TRUST_ANY_SERVER": "true"}
{%- if cookiecutter.background_jobs == "yes" %}
# Deployed stages also refuse to start without a job queue (these tests send nothing to it).
DEPLOYED_DATABASE["JOB_QUEUE_URL"] = JOB_QUEUE_URL
{%- endif %}
LINKED_URL = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


async def docs_links(app: FastAPI) -> dict[str, tuple[int, str] | None]:
    """Every URL the /docs page links to (src or href), with the status and content type of those on the app's
    origin (None for the others)."""
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        links: dict[str, tuple[int, str] | None] = {}
        for url in LINKED_URL.findall(page.text):
            answer = None if urlsplit(url).netloc else await client.get(url)
            links[url] = None if answer is None else (answer.status_code, answer.headers.get("content-type", ""))
    assert links, page.text
    return links


async def test_the_docs_page_loads_swagger_ui_from_the_app_itself() -> None:
    links = await docs_links(create_app())
    assert [url for url, answer in links.items() if answer is None or not url.startswith("/")] == [], links
    assert all(answer is not None and answer[0] == 200 for answer in links.values()), links
    content_types = " ".join(answer[1] for answer in links.values() if answer is not None)
    assert "javascript" in content_types and "text/css" in content_types, links


async def test_without_swagger_ui_installed_the_docs_page_falls_back_to_the_cdn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "swagger_ui_bundle", None)  # import swagger_ui_bundle now raises ImportError
    links = await docs_links(create_app())
    assert any(url.startswith("https://cdn.jsdelivr.net/") for url in links), links


async def test_the_dev_stage_keeps_fastapis_own_docs_page(reconfigure: pytest.MonkeyPatch) -> None:
    for name, value in {"ENVIRONMENT": "dev", "DATABASE_URL": "", **DEPLOYED_DATABASE}.items():
        reconfigure.setenv(name, value)
    app = create_app()
    links = await docs_links(app)
    assert any(url.startswith("https://cdn.jsdelivr.net/") for url in links), links
    paths = {getattr(route, "path", "") for route in app.routes}
    assert {path for path in paths if path.startswith("/docs")} == {"/docs", "/docs/oauth2-redirect"}
