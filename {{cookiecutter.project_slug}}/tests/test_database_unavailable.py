"""While the database cannot be reached, every route that needs it answers 503 with Retry-After and the common error
body (app/api/database_unavailable.py), publishes that 503, and logs the cause without secrets (app/database/outage.py
describes it); other database errors stay 500s, and routes without the database keep working."""

import logging
import ssl
import uuid
{%- if cookiecutter.api_auth == "jwt" and cookiecutter.include_example_module == "yes" %}
from collections.abc import AsyncIterator, Callable
{%- else %}
from collections.abc import AsyncIterator
{%- endif %}
from typing import Any

import aiomysql  # type: ignore[import-untyped]
import jsonschema_rs
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import exc
from starlette.requests import Request

from app.api.database_unavailable import handle_database_error
from app.common.responses import ERROR_RESPONSE_REF
from app.database.config import get_engine
from app.database.outage import describe_cause, is_connection_failure
from tests.database_routes import app_with_database_routes
from tests.moto_secrets import MotoSecretsManager
from tests.moto_server import free_port

pytestmark = pytest.mark.anyio

# In the database URL's password: it must not reach a response or a log line.
SENTINEL = "sentinel-5b1e-never-shown"  # nosec B105 - a test value
RETRY_AFTER = "7"


def error_model(document: dict[str, Any]) -> jsonschema_rs.Validator:
    """A validator for the ErrorResponse schema the document publishes."""
    return jsonschema_rs.validator_for({"$ref": ERROR_RESPONSE_REF, "components": document["components"]})


@pytest.fixture
def database_down(reconfigure: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Settings whose MySQL host refuses connections: nothing listens on the port."""
    reconfigure.setenv("DATABASE_URL", f"mysql+aiomysql://app:{SENTINEL}@127.0.0.1:{free_port()}/app")
    reconfigure.setenv("DB_RETRY_AFTER", RETRY_AFTER)
    # The readiness probe's 20 s wait would only repeat the refusal; test_resume.py covers the wait itself.
    reconfigure.setenv("DB_READY_WAIT", "0")
    return reconfigure


@pytest.fixture
def own_app() -> FastAPI:
    """app_with_database_routes()."""
    return app_with_database_routes()


@pytest.fixture
async def own_app_client(own_app: FastAPI, database_down: pytest.MonkeyPatch) -> AsyncIterator[AsyncClient]:
    """A client of own_app while the database is down."""
    async with AsyncClient(transport=ASGITransport(app=own_app), base_url="http://testserver") as http_client:
        yield http_client
    await get_engine().dispose()


@pytest.mark.parametrize(("method", "path"), [("GET", "/reads"), ("POST", "/writes")])
async def test_a_route_that_needs_the_database_answers_503_with_retry_after(
    own_app: FastAPI, own_app_client: AsyncClient, caplog: pytest.LogCaptureFixture, method: str, path: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="app.api.database_unavailable"):
        response = await own_app_client.request(method, path)
    assert response.status_code == 503
    assert response.headers["retry-after"] == RETRY_AFTER
    assert response.json()["error"]["code"] == "database_unavailable"
    error_model(own_app.openapi()).validate(response.json())
    # The log names the cause, the response does not; neither shows the password.
    logged = caplog.text
    assert "2003" in logged and "127.0.0.1" in logged
    assert SENTINEL not in logged and SENTINEL not in response.text and "2003" not in response.text


async def test_routes_without_the_database_keep_working(own_app_client: AsyncClient) -> None:
    response = await own_app_client.get("/no-database")
    assert response.status_code == 200


def test_the_503_is_published_on_the_routes_that_need_the_database_only() -> None:
    document = app_with_database_routes().openapi()
    for path, method in (("/reads", "get"), ("/writes", "post")):
        published = document["paths"][path][method]["responses"]["503"]
        assert published["content"] == {"application/json": {"schema": {"$ref": ERROR_RESPONSE_REF}}}
        assert "Retry-After" in published["headers"]
    assert "503" not in document["paths"]["/no-database"]["get"]["responses"]


async def test_readiness_keeps_its_own_503(database_down: pytest.MonkeyPatch) -> None:
    from main import app

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as http_client:
        response = await http_client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "database_unavailable"
        assert (await http_client.get("/health")).status_code == 200
    await get_engine().dispose()


async def test_a_secret_that_cannot_be_read_is_a_503(
    secrets: MotoSecretsManager, database_down: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    missing = f"test/missing-{uuid.uuid4()}"
    database_down.setenv("DB_SECRET_ARN", missing)
    transport = ASGITransport(app=app_with_database_routes())
    with caplog.at_level(logging.WARNING, logger="app.api.database_unavailable"):
        async with AsyncClient(transport=transport, base_url="http://testserver") as http_client:
            response = await http_client.get("/reads")
    await get_engine().dispose()
    assert response.status_code == 503 and response.headers["retry-after"] == RETRY_AFTER
    assert missing in caplog.text and "ResourceNotFoundException" in caplog.text
{%- if cookiecutter.include_example_module == "yes" %}


{% if cookiecutter.api_auth == "jwt" -%}
async def test_the_example_module_answers_503_while_the_database_is_down(
    database_down: pytest.MonkeyPatch, bearer: Callable[..., dict[str, str]]
) -> None:
    from main import app

    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="http://testserver", headers=bearer()) as http_client:
{%- else -%}
async def test_the_example_module_answers_503_while_the_database_is_down(database_down: pytest.MonkeyPatch) -> None:
    from main import app

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as http_client:
{%- endif %}
        for response in (
            await http_client.get("/challenges"),
            await http_client.post("/challenges", json={"title": "t"}),
            await http_client.get("/challenges/1"),
        ):
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == RETRY_AFTER
            assert response.json()["error"]["code"] == "database_unavailable"
    await get_engine().dispose()
    responses = app.openapi()["paths"]["/challenges"]
    assert "503" in responses["get"]["responses"] and "503" in responses["post"]["responses"]
{%- endif %}


def driver_error(code: int, message: str = "") -> exc.OperationalError:
    """SQLAlchemy's error for a MySQL driver error with this code."""
    return exc.OperationalError("SELECT 1", {}, aiomysql.OperationalError(code, message))


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (driver_error(2003), True),
        (driver_error(2013), True),
        (driver_error(1040), True),
        (driver_error(1045), True),
        (exc.TimeoutError("QueuePool limit reached"), True),
        (exc.DisconnectionError("gone"), True),
        (exc.OperationalError("SELECT 1", {}, aiomysql.OperationalError(2013), connection_invalidated=True), True),
        (driver_error(1205, "Lock wait timeout exceeded"), False),
        (driver_error(1213, "Deadlock found"), False),
        (exc.OperationalError("SELECT * FROM t", {}, Exception("no such table: t")), False),
    ],
    ids=[
        "cannot-connect",
        "lost-connection",
        "too-many-connections",
        "access-denied",
        "pool-timeout",
        "disconnection",
        "invalidated",
        "lock-wait",
        "deadlock",
        "no-code",
    ],
)
def test_only_connection_level_failures_count_as_unavailable(error: Exception, unavailable: bool) -> None:
    assert is_connection_failure(error) is unavailable


async def test_other_database_errors_stay_500s() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    response = await handle_database_error(request, driver_error(1213, "Deadlock found"))
    assert response.status_code == 500 and "retry-after" not in response.headers


def test_the_logged_cause_reaches_the_tls_error_and_leaves_out_the_statement() -> None:
    tls = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    driver = aiomysql.OperationalError(2003, "Can't connect to MySQL server on '10.0.0.1'")
    driver.__cause__ = tls
    error = exc.OperationalError(f"SELECT '{SENTINEL}'", {"value": SENTINEL}, driver)
    cause = describe_cause(error)
    assert "2003" in cause and "CERTIFICATE_VERIFY_FAILED" in cause and SENTINEL not in cause
