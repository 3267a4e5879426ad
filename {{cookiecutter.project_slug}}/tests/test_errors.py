"""One error model: the OpenAPI document publishes it for every error status of every operation, and every error body
the app sends validates against it, so a client generated from the document can read any error."""

import json
{%- if cookiecutter.api_auth == "jwt" and cookiecutter.include_example_module == "yes" %}
from collections.abc import Callable, Iterator
{%- else %}
from collections.abc import Iterator
{%- endif %}
from typing import Any

import jsonschema_rs
import pytest
from httpx import ASGITransport, AsyncClient
{%- if cookiecutter.include_example_module == "yes" %}
from sqlalchemy.ext.asyncio import AsyncSession
{%- endif %}
from starlette.requests import Request

from app.common.errors import handle_error
from app.common.responses import ERROR_RESPONSE_REF

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The app's OpenAPI document, as GET /openapi.json serves it."""
    from main import app

    return app.openapi()


@pytest.fixture(scope="module")
def published_error_model(document: dict[str, Any]) -> jsonschema_rs.Validator:
    """A validator for the ErrorResponse schema in the document (its references resolved within the document)."""
    return jsonschema_rs.validator_for({"$ref": ERROR_RESPONSE_REF, "components": document["components"]})


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every operation of the document, with its label (e.g. GET /health)."""
    for path, path_item in document["paths"].items():
        for method, operation in path_item.items():
            yield f"{method.upper()} {path}", operation


def assert_documented(document: dict[str, Any], label: str | None, status: int) -> None:
    """The operation (if the request reached one) lists the status with the ErrorResponse body."""
    if label is None:
        return
    operation = dict(operations(document))[label]
    assert str(status) in operation["responses"], f"{label} does not document {status}"
    content = operation["responses"][str(status)]["content"]
    assert content == {"application/json": {"schema": {"$ref": ERROR_RESPONSE_REF}}}


def test_every_error_status_of_every_operation_has_the_error_body(document: dict[str, Any]) -> None:
    for label, operation in operations(document):
        statuses = {int(status) for status in operation["responses"] if int(status) >= 400}
        assert 500 in statuses, label
        if operation.get("parameters") or "requestBody" in operation:
            assert 422 in statuses, label
        for status in statuses:
            assert_documented(document, label, status)
    # FastAPI's own 422 model is gone: the app never sends it.
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_unknown_paths_and_methods_answer_in_the_error_model(
    client: AsyncClient, published_error_model: jsonschema_rs.Validator
) -> None:
    unknown = await client.get("/no-such-route")
    assert unknown.status_code == 404
    published_error_model.validate(unknown.json())
    wrong_method = await client.put("/health")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET"
    published_error_model.validate(wrong_method.json())


async def test_readiness_failure_is_documented_and_in_the_error_model(
    document: dict[str, Any],
    published_error_model: jsonschema_rs.Validator,
    reconfigure: pytest.MonkeyPatch,
) -> None:
    # Nothing listens on port 1: the connection is refused at once.
    reconfigure.setenv("DATABASE_URL", "mysql+aiomysql://app:pw@127.0.0.1:1/app")
    # Only the 503's shape matters here; waiting for the database would repeat the refusal for 20 s.
    reconfigure.setenv("DB_READY_WAIT", "0")
    from main import app

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as http_client:
        response = await http_client.get("/health/ready")
    assert response.status_code == 503
    assert_documented(document, "GET /health/ready", 503)
    published_error_model.validate(response.json())
    from app.database.config import get_engine

    await get_engine().dispose()


async def test_an_unexpected_exception_is_a_500_in_the_error_model(
    published_error_model: jsonschema_rs.Validator,
) -> None:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    response = await handle_error(request, RuntimeError("boom"))
    assert response.status_code == 500
    published_error_model.validate(json.loads(bytes(response.body)))
{%- if cookiecutter.include_example_module == "yes" %}


@pytest.mark.parametrize(
    ("method", "path", "request_options", "status", "label"),
    [
        ("POST", "/challenges", {"content": b'{"title": "\xff"}'}, 400, "POST /challenges"),
        ("POST", "/challenges", {"json": {"title": ""}}, 422, "POST /challenges"),
        ("GET", "/challenges/2147483648", {}, 422, "GET /challenges/{challenge_id}"),
        ("GET", "/challenges", {"params": {"after_id": 2**63}}, 422, "GET /challenges"),
        ("GET", "/challenges/999999", {}, 404, "GET /challenges/{challenge_id}"),
        ("PATCH", "/challenges", {}, 405, None),
    ],
    ids=["unreadable-body", "blank-title", "id-beyond-int", "page-start-beyond-int", "unknown-id", "wrong-method"],
)
async def test_each_error_of_the_example_module_is_documented_and_in_the_error_model(
    client: AsyncClient,
    document: dict[str, Any],
    published_error_model: jsonschema_rs.Validator,
    method: str,
    path: str,
    request_options: dict[str, Any],
    status: int,
    label: str | None,
) -> None:
    headers = {"content-type": "application/json"} if "content" in request_options else None
    response = await client.request(method, path, headers=headers, **request_options)
    assert response.status_code == status, response.text
    assert_documented(document, label, status)
    published_error_model.validate(response.json())


async def test_a_failed_commit_is_a_documented_500_in_the_error_model(
    db_session: AsyncSession,
    document: dict[str, Any],
    published_error_model: jsonschema_rs.Validator,
    monkeypatch: pytest.MonkeyPatch,
{%- if cookiecutter.api_auth == "jwt" %}
    bearer: Callable[..., dict[str, str]],
{%- endif %}
) -> None:
    from main import app

    async def failing_commit(self: AsyncSession) -> None:
        raise RuntimeError("commit failed")

    monkeypatch.setattr(AsyncSession, "commit", failing_commit)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
{%- if cookiecutter.api_auth == "jwt" %}
    async with AsyncClient(transport=transport, base_url="http://testserver", headers=bearer()) as http_client:
{%- else %}
    async with AsyncClient(transport=transport, base_url="http://testserver") as http_client:
{%- endif %}
        response = await http_client.post("/challenges", json={"title": "never stored"})
    # The session dependency commits before the response is sent, so a failing commit never reports success.
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert_documented(document, "POST /challenges", 500)
    published_error_model.validate(response.json())
{%- if cookiecutter.api_auth == "jwt" %}


async def test_the_example_modules_401_and_403_are_documented_and_in_the_error_model(
    anonymous_client: AsyncClient,
    bearer: Callable[..., dict[str, str]],
    document: dict[str, Any],
    published_error_model: jsonschema_rs.Validator,
) -> None:
    for path, label in (("/challenges", "GET /challenges"), ("/challenges/1", "GET /challenges/{challenge_id}")):
        unauthenticated = await anonymous_client.get(path)
        assert unauthenticated.status_code == 401
        assert_documented(document, label, 401)
        published_error_model.validate(unauthenticated.json())
    unscoped = await anonymous_client.post("/challenges", json={"title": "t"}, headers=bearer(scopes=[]))
    assert unscoped.status_code == 403
    assert_documented(document, "POST /challenges", 403)
    published_error_model.validate(unscoped.json())
{%- endif %}
{%- endif %}
