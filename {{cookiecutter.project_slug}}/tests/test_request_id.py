"""Every answer carries X-Request-Id, and the app's log lines written while serving it carry the same id: API
Gateway's request id on Lambda, Lambda's when the event has none, a generated one under uvicorn."""

{% if cookiecutter.include_example_module == "yes" %}import json
{% endif %}import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
{%- if cookiecutter.include_example_module == "yes" %}
from mangum import Mangum
{%- endif %}

from app.common.errors import register_exception_handlers
from app.common.request_id import (
    LOG_FIELD,
    RequestIdMiddleware,
    RequestIdRecordFactory,
    log_records_carry_the_request_id,
)
{%- if cookiecutter.include_example_module == "yes" %}
from main import create_app, handler
{%- else %}
from main import handler
{%- endif %}
{%- if cookiecutter.api_auth == "jwt" and cookiecutter.include_example_module == "yes" %}
from tests.gateway_events import FakeLambdaContext, http_api_v2_event, rest_api_v1_event, verified_by_gateway
{%- else %}
from tests.gateway_events import FakeLambdaContext, http_api_v2_event, rest_api_v1_event
{%- endif %}


@pytest.fixture(autouse=True)
def log_record_factory_restored() -> Iterator[Callable[..., logging.LogRecord]]:
    """The log-record factory as the test found it, restored afterwards: one a test installs would otherwise stamp ids
    on the next tests' records, and hide an app that no longer installs its own."""
    found = logging.getLogRecordFactory()
    yield found
    logging.setLogRecordFactory(found)


def factory_without_request_ids(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    """The factory that was in place before any RequestIdRecordFactory wrapped it."""
    while isinstance(factory, RequestIdRecordFactory):
        factory = factory.previous
    return factory


@pytest.fixture
def app_records() -> Iterator[list[logging.LogRecord]]:
    """The records the app's loggers write during the test."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    collector = Collect()
    app_logger = logging.getLogger("app")
    app_logger.addHandler(collector)
    yield records
    app_logger.removeHandler(collector)


def with_request_id(event: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    """The event with API Gateway's request id replaced, or removed when None."""
    context = dict(event["requestContext"])
    context.pop("requestId")
    if request_id is not None:
        context["requestId"] = request_id
    return {**event, "requestContext": context}


@pytest.mark.usefixtures("lambda_event_loop")
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/health", 200),
        ("GET", "/no-such-route", 404),
        ("PATCH", "/health", 405),
{%- if cookiecutter.include_example_module == "yes" %}
{%- if cookiecutter.api_auth == "jwt" %}
        # Without the claims API Gateway's authorizer verified, the app itself answers 401.
        ("GET", "/challenges", 401),
{%- else %}
        ("GET", "/challenges/not-a-number", 422),
{%- endif %}
{%- endif %}
    ],
)
@pytest.mark.parametrize("make_event", [http_api_v2_event, rest_api_v1_event], ids=["v2", "v1"])
def test_the_answer_carries_api_gateways_request_id(make_event: Any, method: str, path: str, status: int) -> None:
    event = with_request_id(make_event(method, path), "gateway-id-1")
    response = handler(event, FakeLambdaContext())
    assert response["statusCode"] == status
    headers = {name.lower(): value for name, value in response["headers"].items()}
    assert headers["x-request-id"] == "gateway-id-1"


@pytest.mark.usefixtures("lambda_event_loop")
def test_without_a_gateway_request_id_the_answer_carries_lambdas() -> None:
    response = handler(with_request_id(http_api_v2_event("GET", "/health"), None), FakeLambdaContext())
    assert response["headers"]["x-request-id"] == FakeLambdaContext.aws_request_id


@pytest.mark.anyio
async def test_under_uvicorn_each_answer_gets_an_id_of_its_own(client: AsyncClient) -> None:
    first, second = (await client.get("/health"), await client.get("/no-such-route"))
    ids = [response.headers["x-request-id"] for response in (first, second)]
    assert all(len(request_id) == 32 for request_id in ids) and ids[0] != ids[1]


@pytest.mark.anyio
async def test_a_client_cannot_choose_its_request_id(client: AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-Id": "someone-elses-id"})
    assert response.headers["x-request-id"] != "someone-elses-id"


@pytest.mark.anyio
async def test_an_unhandled_error_answers_500_with_the_request_id(app_records: list[logging.LogRecord]) -> None:
    """Starlette answers the 500 from outside the middleware; the error handler adds the id itself, and the
    traceback's log line carries it too."""
    app = FastAPI()
    register_exception_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    log_records_carry_the_request_id()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as http_client:
        response = await http_client.get("/boom")
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert [getattr(record, LOG_FIELD, None) for record in app_records] == [request_id]
{%- if cookiecutter.include_example_module == "yes" %}


@pytest.mark.usefixtures("lambda_event_loop")
def test_the_log_lines_of_a_503_carry_the_request_id_of_its_answer(
    reconfigure: pytest.MonkeyPatch,
    app_records: list[logging.LogRecord],
    log_record_factory_restored: Callable[..., logging.LogRecord],
) -> None:
    """An unreachable database: the 503 and its log line name the same id, which the next request's lines do not.

    The app is built as main builds it, from a factory that adds no id (whatever earlier tests or imports installed):
    the id on the log line is the app's own wiring."""
    reconfigure.setenv("DATABASE_URL", "mysql+aiomysql://app:secret@127.0.0.1:1/app")
    reconfigure.setenv("DB_CONNECT_TIMEOUT", "1")
    logging.setLogRecordFactory(factory_without_request_ids(log_record_factory_restored))
    lambda_handler = Mangum(create_app(), lifespan="off")
{%- if cookiecutter.api_auth == "jwt" %}
    event = with_request_id(verified_by_gateway(http_api_v2_event("GET", "/challenges")), "gateway-id-503")
{%- else %}
    event = with_request_id(http_api_v2_event("GET", "/challenges"), "gateway-id-503")
{%- endif %}
    response = lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["error"]["code"] == "database_unavailable"
    assert response["headers"]["x-request-id"] == "gateway-id-503"
    assert [getattr(record, LOG_FIELD, None) for record in app_records] == ["gateway-id-503"]
    logging.getLogger("app").warning("outside any request")
    assert not hasattr(app_records[-1], LOG_FIELD)
{%- endif %}
