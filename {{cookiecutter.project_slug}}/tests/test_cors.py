"""CORS under uvicorn: the origins CORS_ALLOWED_ORIGINS names may call the API from a browser, a preflight never needs
a token, and without the setting the app stays same-origin. (Deployed stages answer CORS at API Gateway.)"""

import jsonschema_rs
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from app.common import messages
from app.common.responses import ERROR_RESPONSE_REF
from app.common.settings import SettingsError, load_settings
from main import create_app

FRONT_END = "https://app.example.com"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}


async def preflight(app: FastAPI, origin: str) -> tuple[int, dict[str, str]]:
    """The status and headers of a browser's preflight for a POST from origin."""
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client:
        response = await client.options("/health", headers={"Origin": origin, **PREFLIGHT})
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
    app = create_app()
    published_error_model = jsonschema_rs.validator_for(
        {"$ref": ERROR_RESPONSE_REF, "components": app.openapi()["components"]}
    )
    headers = {"Origin": origin, **PREFLIGHT, "Access-Control-Request-Headers": requested_headers}
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client:
        response = await client.options("/health", headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    published_error_model.validate(response.json())
    assert response.json()["error"]["message"] == messages.CORS_NOT_ALLOWED
    assert [name for name in response.headers if name.startswith("access-control-")] == []


@pytest.mark.anyio
async def test_a_listed_origin_passes_the_preflight_without_a_token(reconfigure: pytest.MonkeyPatch) -> None:
    reconfigure.setenv("CORS_ALLOWED_ORIGINS", f"{FRONT_END}, http://localhost:3000")
    status, headers = await preflight(create_app(), FRONT_END)
    assert status == 200
    assert headers["access-control-allow-origin"] == FRONT_END
    assert "authorization" in headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in headers


@pytest.mark.anyio
async def test_another_origin_gets_no_cors_headers(reconfigure: pytest.MonkeyPatch) -> None:
    reconfigure.setenv("CORS_ALLOWED_ORIGINS", FRONT_END)
    status, headers = await preflight(create_app(), "https://evil.example.net")
    assert status == 400
    assert "access-control-allow-origin" not in headers


@pytest.mark.anyio
async def test_without_the_setting_the_app_is_same_origin_only(reconfigure: pytest.MonkeyPatch) -> None:
    reconfigure.delenv("CORS_ALLOWED_ORIGINS", raising=False)
    status, headers = await preflight(create_app(), FRONT_END)
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
