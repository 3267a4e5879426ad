"""CORS under uvicorn: the origins CORS_ALLOWED_ORIGINS names may call the API from a browser, a preflight never needs
a token, and without the setting the app stays same-origin. (Deployed stages answer CORS at API Gateway.)"""

import jsonschema_rs
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

{% if cookiecutter.api_auth == "jwt" and cookiecutter.include_example_module == "no" -%}
from app.auth.identity import CurrentUser
{% endif -%}
from app.common import messages
from app.common.responses import ERROR_RESPONSE_REF
from app.common.settings import SettingsError, load_settings
from main import create_app

FRONT_END = "https://app.example.com"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
{%- if cookiecutter.include_example_module == "yes" %}
{%- if cookiecutter.api_auth == "jwt" %}
# A route that needs a token, which a browser's preflight never carries.
{%- else %}
# A module's route, not a probe: what a front end calls.
{%- endif %}
CALLED_PATH = "/challenges"


def cors_app() -> FastAPI:
    """The app as main builds it, with the settings of the test."""
    return create_app()
{%- elif cookiecutter.api_auth == "jwt" %}
# A route that needs a token, which a browser's preflight never carries (the project has no module to call yet).
CALLED_PATH = "/protected"


def cors_app() -> FastAPI:
    """The app as main builds it, with the settings of the test, and one route that needs a verified caller."""
    app = create_app()

    @app.get(CALLED_PATH)
    async def protected(user: CurrentUser) -> str:
        return user.subject

    return app
{%- else %}
# The one route of a project without modules and without identity.
CALLED_PATH = "/health"


def cors_app() -> FastAPI:
    """The app as main builds it, with the settings of the test."""
    return create_app()
{%- endif %}


async def preflight(app: FastAPI, origin: str) -> tuple[int, dict[str, str]]:
    """The status and headers of a browser's preflight for a POST from origin."""
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client:
        response = await client.options(CALLED_PATH, headers={"Origin": origin, **PREFLIGHT})
    return response.status_code, dict(response.headers)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("origin", "requested_headers"),
    [("https://evil.example.net", PREFLIGHT["Access-Control-Request-Headers"]), (FRONT_END, "x-not-allowed")],
    ids=["origin:not-listed", "header:not-allowed"],
)
async def test_a_refused_preflight_answers_in_the_error_model_without_allow_headers(
    reconfigure: pytest.MonkeyPatch, origin: str, requested_headers: str
) -> None:
    reconfigure.setenv("CORS_ALLOWED_ORIGINS", FRONT_END)
    app = cors_app()
    published_error_model = jsonschema_rs.validator_for(
        {"$ref": ERROR_RESPONSE_REF, "components": app.openapi()["components"]}
    )
    headers = {"Origin": origin, **PREFLIGHT, "Access-Control-Request-Headers": requested_headers}
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client:
        response = await client.options(CALLED_PATH, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    published_error_model.validate(response.json())
    assert response.json()["error"]["message"] == messages.CORS_NOT_ALLOWED
    assert [name for name in response.headers if name.startswith("access-control-")] == []


@pytest.mark.anyio
async def test_a_listed_origin_passes_the_preflight_without_a_token(reconfigure: pytest.MonkeyPatch) -> None:
    reconfigure.setenv("CORS_ALLOWED_ORIGINS", f"{FRONT_END}, http://localhost:3000")
    app = cors_app()
    status, headers = await preflight(app, FRONT_END)
    assert status == 200
    assert headers["access-control-allow-origin"] == FRONT_END
    assert "authorization" in headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in headers
{%- if cookiecutter.api_auth == "jwt" %}
    # The call itself does need a token: without one it is a 401, which the front end may read.
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client:
        call = await client.get(CALLED_PATH, headers={"Origin": FRONT_END})
    assert (call.status_code, call.headers["access-control-allow-origin"]) == (401, FRONT_END)
{%- endif %}


@pytest.mark.anyio
async def test_another_origin_gets_no_cors_headers(reconfigure: pytest.MonkeyPatch) -> None:
    reconfigure.setenv("CORS_ALLOWED_ORIGINS", FRONT_END)
    status, headers = await preflight(cors_app(), "https://evil.example.net")
    assert status == 400
    assert "access-control-allow-origin" not in headers


@pytest.mark.anyio
async def test_without_the_setting_the_app_is_same_origin_only(reconfigure: pytest.MonkeyPatch) -> None:
    reconfigure.delenv("CORS_ALLOWED_ORIGINS", raising=False)
    status, headers = await preflight(cors_app(), FRONT_END)
    assert status == 405
    assert "access-control-allow-origin" not in headers


@pytest.mark.parametrize(
    "origins",
    ["*", f"{FRONT_END}/", f"{FRONT_END}/path", "app.example.com", "https://App.example.com", f"{FRONT_END},*"],
)
def test_what_is_not_an_origin_is_refused_naming_the_setting(origins: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(cors_allowed_origins=origins)
    message = str(raised.value)
    assert "CORS_ALLOWED_ORIGINS" in message and repr(origins.split(",")[-1]) in message
