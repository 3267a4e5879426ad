"""The Lambda entry point answers real API Gateway events (HTTP API v2 and REST API v1)."""

import json
from typing import Any

import pytest

from main import handler
{%- if cookiecutter.api_auth == "jwt" and cookiecutter.include_example_module == "yes" %}
from tests.gateway_events import FakeLambdaContext, http_api_v2_event, rest_api_v1_event, verified_by_gateway
{%- else %}
from tests.gateway_events import FakeLambdaContext, http_api_v2_event, rest_api_v1_event
{%- endif %}

pytestmark = pytest.mark.usefixtures("lambda_event_loop")


def test_http_api_v2_health() -> None:
    response = handler(http_api_v2_event("GET", "/health"), FakeLambdaContext())
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok"}


def test_rest_api_v1_health() -> None:
    response = handler(rest_api_v1_event("GET", "/health"), FakeLambdaContext())
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok"}
{%- if cookiecutter.include_example_module == "yes" %}


def test_http_api_v2_validation_error_keeps_the_common_shape() -> None:
{%- if cookiecutter.api_auth == "jwt" %}
    request = http_api_v2_event("POST", "/challenges", body=json.dumps({"title": ""}))
    response = handler(verified_by_gateway(request, "challenge/write"), FakeLambdaContext())
{%- else %}
    response = handler(http_api_v2_event("POST", "/challenges", body=json.dumps({"title": ""})), FakeLambdaContext())
{%- endif %}
    assert response["statusCode"] == 422
    assert json.loads(response["body"])["error"]["code"] == "validation_error"
{%- endif %}


@pytest.mark.parametrize("make_event", [http_api_v2_event, rest_api_v1_event], ids=["v2", "v1"])
def test_unknown_route_is_a_404(make_event: Any) -> None:
    response = handler(make_event("GET", "/no-such-route"), FakeLambdaContext())
    assert response["statusCode"] == 404
