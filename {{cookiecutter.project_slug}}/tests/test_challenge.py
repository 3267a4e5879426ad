{% if cookiecutter.api_auth == "jwt" -%}
"""The example module end to end over HTTP: create, list, get, validation and 404s in the common error shape, and who
may call it: a token for every route, the write scope for writes, and each caller sees its own challenges only."""
{%- else -%}
"""The example module end to end over HTTP: create, list, get, validation and 404s in the common error shape."""
{%- endif %}

{% if cookiecutter.api_auth == "jwt" -%}
from collections.abc import Callable
{% endif -%}
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
{%- if cookiecutter.api_auth == "jwt" %}
from fastapi import FastAPI, status
from httpx import ASGITransport, AsyncClient
{%- else %}
from httpx import AsyncClient
{%- endif %}
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from app.common import messages
{%- if cookiecutter.api_auth == "jwt" %}
from app.common.errors import register_exception_handlers
{%- endif %}
from app.database.constant import MAX_ID
{%- if cookiecutter.api_auth == "jwt" %}
from app.database.dependency import SessionDep
from app.module.challenge import access
{%- endif %}
from app.module.challenge import messages as challenge_messages
{%- if cookiecutter.api_auth == "jwt" %}
from app.module.challenge.dependencies import ChallengeDep, WritableChallengeDep
{%- endif %}
from app.module.challenge.models import Challenge

pytestmark = pytest.mark.anyio


async def test_create_then_get_and_list(client: AsyncClient) -> None:
    created = await client.post("/challenges", json={"title": "  100 push-ups  ", "description": "Daily"})
    assert created.status_code == 201
    body = created.json()
    assert body["title"] == "100 push-ups"
    assert body["description"] == "Daily"
    assert body["id"] >= 1 and body["created_at"]

{%- if cookiecutter.background_jobs == "yes" %}
    # Counted by a job after the response, which in tests has run when the client gets it.
    assert body["word_count"] is None
    body["word_count"] = 3
{%- endif %}

    fetched = await client.get(f"/challenges/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body

    listed = await client.get("/challenges")
    assert listed.status_code == 200
    assert listed.json() == {"items": [body], "next_after_id": None}


async def pages(client: AsyncClient, limit: int) -> list[tuple[list[int], int | None]]:
    """Every page of the list from the first on, following next_after_id: (ids, next_after_id) each."""
    found: list[tuple[list[int], int | None]] = []
    after_id: int | None = 0
    while after_id is not None:
        page = (await client.get("/challenges", params={"limit": limit, "after_id": after_id})).json()
        found.append(([item["id"] for item in page["items"]], page["next_after_id"]))
        after_id = page["next_after_id"]
    return found


async def test_list_pages_follow_next_after_id_in_id_order(client: AsyncClient) -> None:
    ids = [(await client.post("/challenges", json={"title": f"challenge {n}"})).json()["id"] for n in range(5)]
    assert await pages(client, limit=2) == [(ids[0:2], ids[1]), (ids[2:4], ids[3]), (ids[4:], None)]
    # A last page that is exactly full says so: no empty page after it.
    assert await pages(client, limit=5) == [(ids, None)]


async def test_a_deep_page_skips_no_rows_in_the_database(client: AsyncClient, db_session: AsyncSession) -> None:
    """Keyset pagination: the statement starts at the id, it never reads and drops the rows before it (an OFFSET
    above 0; SQLite's compiler writes OFFSET 0 with every LIMIT)."""
    executed: list[tuple[str, Any]] = []

    def record(connection: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        executed.append((statement, parameters))

    # The connection the client's requests share with this test (conftest.py), so every statement they run.
    connection = db_session.get_bind()
    event.listen(connection, "before_cursor_execute", record)
    try:
        assert (await client.get("/challenges", params={"after_id": MAX_ID})).json()["items"] == []
    finally:
        event.remove(connection, "before_cursor_execute", record)
    table = Challenge.__tablename__
    ((statement, parameters),) = [(sql, values) for sql, values in executed if f"FROM {table}" in sql]
    assert f"{table}.id >" in statement and MAX_ID in parameters
    assert "OFFSET" not in statement or parameters[-1] == 0, (statement, parameters)


async def test_each_test_starts_with_an_empty_table(client: AsyncClient) -> None:
    assert (await client.get("/challenges")).json()["items"] == []


async def test_unknown_challenge_is_a_404_in_the_common_shape(client: AsyncClient) -> None:
    response = await client.get("/challenges/999999")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "challenge_not_found"
    assert error["message"] == challenge_messages.CHALLENGE_NOT_FOUND.format(challenge_id=999999)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"title": "   "},
        {"title": "\u3000\x1f"},
        {"title": "x" * 201},
        {"title": " " + "x" * 200},
        {"title": "ok", "unexpected": 1},
        {"title": 5},
        {"title": "a\u0000b"},
        {"title": "a\x1b[31mb"},
        {"title": "ok", "description": "a\u007fb"},
        {"title": "ok", "description": "a\rb"},
    ],
    ids=[
        "missing-title",
        "blank-title",
        "unicode-blank-title",
        "long-title",
        "padded-long-title",
        "extra-field",
        "wrong-type",
        "nul-in-title",
        "escape-in-title",
        "delete-in-description",
        "carriage-return-in-description",
    ],
)
async def test_invalid_payload_is_a_422_in_the_common_shape(client: AsyncClient, payload: dict[str, object]) -> None:
    response = await client.post("/challenges", json=payload)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == messages.VALIDATION_FAILED
    assert error["details"]


async def test_tab_and_newline_are_kept_inside_text(client: AsyncClient) -> None:
    response = await client.post("/challenges", json={"title": "a\tb", "description": "one\ntwo"})
    assert response.status_code == 201, response.text
    assert (response.json()["title"], response.json()["description"]) == ("a\tb", "one\ntwo")


async def test_control_character_message_is_in_the_project_language(client: AsyncClient) -> None:
    response = await client.post("/challenges", json={"title": "a\u0000b"})
    assert messages.CONTROL_CHARACTERS in response.json()["error"]["details"][0]["message"]


async def test_blank_title_message_is_in_the_project_language(client: AsyncClient) -> None:
    response = await client.post("/challenges", json={"title": " "})
    assert challenge_messages.BLANK_TITLE in response.json()["error"]["details"][0]["message"]


async def test_an_unreadable_body_is_a_400_in_the_common_shape(client: AsyncClient) -> None:
    """Not UTF-8: FastAPI cannot even read it as JSON, so this is not a 422."""
    headers = {"content-type": "application/json"}
    response = await client.post("/challenges", content=b'{"title": "\xff"}', headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == {"code": "malformed_body", "message": messages.MALFORMED_BODY, "details": []}


async def test_created_at_is_utc_with_an_explicit_offset(client: AsyncClient) -> None:
    """RFC 3339, as format date-time promises: strict clients and generated SDKs reject a time without an offset."""
    before = datetime.now(UTC).replace(microsecond=0)
    body = (await client.post("/challenges", json={"title": "timed"})).json()
    created_at = datetime.fromisoformat(body["created_at"])
    assert created_at.utcoffset() == timedelta(0)
    assert before <= created_at <= datetime.now(UTC)
    assert (await client.get(f"/challenges/{body['id']}")).json()["created_at"] == body["created_at"]


async def test_ids_and_page_starts_work_up_to_the_column_limit_and_are_a_422_beyond(client: AsyncClient) -> None:
    assert (await client.get(f"/challenges/{MAX_ID}")).status_code == 404
    assert (await client.get(f"/challenges/{MAX_ID + 1}")).status_code == 422
    assert (await client.get("/challenges", params={"after_id": MAX_ID})).json()["items"] == []
    assert (await client.get("/challenges", params={"after_id": MAX_ID + 1})).status_code == 422


async def test_a_wrong_method_lists_every_method_of_the_path(client: AsyncClient) -> None:
    """GET and POST /challenges are two routes; Allow names both, not only the first that matched."""
    response = await client.request("PATCH", "/challenges")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error"]["message"] == messages.METHOD_NOT_ALLOWED


async def test_unknown_route_is_a_404_in_the_common_shape(client: AsyncClient) -> None:
    response = await client.get("/no-such-route")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
{%- if cookiecutter.api_auth == "jwt" %}


async def test_without_a_token_every_route_is_a_401_asking_for_one(anonymous_client: AsyncClient) -> None:
    for method, path in (("GET", "/challenges"), ("POST", "/challenges"), ("GET", "/challenges/1")):
        response = await anonymous_client.request(method, path, json={"title": "Run"})
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "not_authenticated"


async def test_a_write_without_the_write_scope_is_a_403_naming_it(
    anonymous_client: AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    unscoped = bearer("alice", scopes=[])
    response = await anonymous_client.post("/challenges", json={"title": "Run"}, headers=unscoped)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert response.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
    assert f'scope="{access.WRITE_SCOPE}"' in response.headers["www-authenticate"]
    # Reads need an identity only.
    assert (await anonymous_client.get("/challenges", headers=unscoped)).status_code == 200


async def test_a_challenge_is_visible_to_the_subject_that_created_it_only(
    anonymous_client: AsyncClient, bearer: Callable[..., dict[str, str]], db_session: AsyncSession
) -> None:
    alice, bob = bearer("alice"), bearer("bob")
    alices = (await anonymous_client.post("/challenges", json={"title": "Alice's"}, headers=alice)).json()
    bobs = (await anonymous_client.post("/challenges", json={"title": "Bob's"}, headers=bob)).json()
{%- if cookiecutter.background_jobs == "yes" %}
    # Each one's words were counted after its response (one-word titles).
    alices["word_count"] = bobs["word_count"] = 1
{%- endif %}
    stored = await db_session.get(Challenge, alices["id"])
    assert stored is not None and stored.owner_subject == "alice"
    assert (await anonymous_client.get("/challenges", headers=bob)).json()["items"] == [bobs]
    assert (await anonymous_client.get("/challenges", headers=alice)).json()["items"] == [alices]
    assert (await anonymous_client.get(f"/challenges/{alices['id']}", headers=alice)).json() == alices

    # Exactly what an unknown id answers: bob cannot even tell that the challenge exists. Checked last: an error rolls
    # back the request's work, which in this suite is the test's whole transaction (conftest.py).
    hidden = await anonymous_client.get(f"/challenges/{alices['id']}", headers=bob)
    assert hidden.status_code == 404
    assert hidden.json()["error"] == {
        "code": "challenge_not_found",
        "message": challenge_messages.CHALLENGE_NOT_FOUND.format(challenge_id=alices["id"]),
        "details": [],
    }


async def test_shared_rows_let_every_caller_read_every_challenge(
    anonymous_client: AsyncClient, bearer: Callable[..., dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access, "SHARED_ROWS", True)
    alices = (await anonymous_client.post("/challenges", json={"title": "Alice's"}, headers=bearer("alice"))).json()
{%- if cookiecutter.background_jobs == "yes" %}
    # Its words were counted after the response (a one-word title).
    alices["word_count"] = 1
{%- endif %}
    bob = bearer("bob")
    assert (await anonymous_client.get(f"/challenges/{alices['id']}", headers=bob)).json() == alices
    assert (await anonymous_client.get("/challenges", headers=bob)).json()["items"] == [alices]


async def test_a_route_that_changes_a_challenge_takes_the_dependency_that_needs_the_write_scope(
    anonymous_client: AsyncClient, bearer: Callable[..., dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a team's PUT or DELETE /challenges/{id} starts from: WritableChallengeDep needs the write scope where
    ChallengeDep needs an identity only, and it finds the caller's own challenges even when every caller may read
    every one (SHARED_ROWS)."""
    api = FastAPI()
    register_exception_handlers(api)

    @api.get("/challenges/{challenge_id}")
    async def read_challenge(challenge: ChallengeDep) -> int:
        return challenge.id

    @api.delete("/challenges/{challenge_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete_challenge(challenge: WritableChallengeDep, session: SessionDep) -> None:
        await session.delete(challenge)

    path = api.openapi()["paths"]["/challenges/{challenge_id}"]
    assert path["get"]["security"] == [{"bearer": list(access.READ_SCOPES)}]
    assert path["delete"]["security"] == [{"bearer": [access.WRITE_SCOPE]}]
    monkeypatch.setattr(access, "SHARED_ROWS", True)
    alices = (await anonymous_client.post("/challenges", json={"title": "Alice's"}, headers=bearer("alice"))).json()
    async with AsyncClient(transport=ASGITransport(app=api), base_url="http://testserver") as team_api:
        assert (await team_api.get(f"/challenges/{alices['id']}", headers=bearer("bob"))).json() == alices["id"]
        # Last: an error rolls back the test's transaction (conftest.py).
        response = await team_api.delete(f"/challenges/{alices['id']}", headers=bearer("bob"))
    assert response.status_code == 404, response.text


# Subjects that MySQL's default collations (case- and accent-insensitive, trailing spaces ignored) take for "alice".
LOOKALIKE_SUBJECTS = ["ALICE", "Alicé", "alice "]


@pytest.mark.parametrize("subject", LOOKALIKE_SUBJECTS)
@pytest.mark.parametrize("route", ["list", "get"])
async def test_a_subject_that_only_collates_like_the_owner_sees_none_of_its_challenges_on_mysql(
    anonymous_client: AsyncClient,
    bearer: Callable[..., dict[str, str]],
    mysql_session: AsyncSession,
    route: str,
    subject: str,
) -> None:
    """Subjects are compared byte for byte (utf8mb4_bin), and one with surrounding whitespace is refused (401) since
    MariaDB's utf8mb4_bin still ignores trailing spaces. One request per test: an error rolls back the test's row."""
    alices = (await anonymous_client.post("/challenges", json={"title": "Alice's"}, headers=bearer("alice"))).json()
    path = "/challenges" if route == "list" else f"/challenges/{alices['id']}"
    response = await anonymous_client.get(path, headers=bearer(subject))
    if subject != subject.strip():
        assert response.status_code == 401, response.text
    elif route == "list":
        assert response.status_code == 200 and response.json()["items"] == [], response.text
    else:
        assert response.status_code == 404, response.text
{%- endif %}
