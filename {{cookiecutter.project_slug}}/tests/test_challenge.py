"""The example module end to end over HTTP: create, list, get, validation and 404s in the common error shape."""

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.common import messages

pytestmark = pytest.mark.anyio


async def test_create_then_get_and_list(client: AsyncClient) -> None:
    created = await client.post("/challenges", json={"title": "  100 push-ups  ", "description": "Daily"})
    assert created.status_code == 201
    body = created.json()
    assert body["title"] == "100 push-ups"
    assert body["description"] == "Daily"
    assert body["id"] >= 1 and body["created_at"]

    fetched = await client.get(f"/challenges/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body

    listed = await client.get("/challenges")
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()] == [body["id"]]


async def test_list_pages_in_id_order(client: AsyncClient) -> None:
    ids = [(await client.post("/challenges", json={"title": f"challenge {n}"})).json()["id"] for n in range(3)]
    page = await client.get("/challenges", params={"limit": 2, "offset": 1})
    assert [item["id"] for item in page.json()] == ids[1:3]


async def test_each_test_starts_with_an_empty_table(client: AsyncClient) -> None:
    assert (await client.get("/challenges")).json() == []


async def test_unknown_challenge_is_a_404_in_the_common_shape(client: AsyncClient) -> None:
    response = await client.get("/challenges/999999")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "challenge_not_found"
    assert error["message"] == messages.CHALLENGE_NOT_FOUND.format(challenge_id=999999)


@pytest.mark.parametrize(
    "payload",
    [{}, {"title": "   "}, {"title": "x" * 201}, {"title": "ok", "unexpected": 1}, {"title": 5}],
    ids=["missing-title", "blank-title", "long-title", "extra-field", "wrong-type"],
)
async def test_invalid_payload_is_a_422_in_the_common_shape(client: AsyncClient, payload: dict[str, object]) -> None:
    response = await client.post("/challenges", json=payload)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == messages.VALIDATION_FAILED
    assert error["details"]


async def test_blank_title_message_is_in_the_project_language(client: AsyncClient) -> None:
    response = await client.post("/challenges", json={"title": " "})
    assert messages.BLANK_TITLE in response.json()["error"]["details"][0]["message"]


async def test_unknown_route_is_a_404_in_the_common_shape(client: AsyncClient) -> None:
    response = await client.get("/no-such-route")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_a_failed_commit_is_a_500_not_a_201(db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """The session dependency commits before the response is sent, so a failing commit never reports success."""
    from main import app

    async def failing_commit(self: AsyncSession) -> None:
        raise RuntimeError("commit failed")

    monkeypatch.setattr(AsyncSession, "commit", failing_commit)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as http_client:
        response = await http_client.post("/challenges", json={"title": "never stored"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
