{% if cookiecutter.api_auth == "jwt" -%}
"""Reusable dependencies: load a challenge from the path or answer 404, once, for every route that needs it.

ChallengeDep is for routes that read; a route that changes or deletes the challenge takes WritableChallengeDep,
which needs the write scope (tests/test_api_contract.py fails on a write route that needs no scope).
"""
{%- else -%}
"""Reusable dependencies: load a challenge from the path or answer 404, once, for every route that needs it."""
{%- endif %}

from typing import Annotated

from fastapi import Depends, Path

from app.database.constant import MAX_ID
from app.database.dependency import SessionDep
from app.module.challenge import service
{%- if cookiecutter.api_auth == "jwt" %}
from app.module.challenge.access import Reader, Writer, owner_filter
{%- endif %}
from app.module.challenge.models import Challenge
{%- if cookiecutter.api_auth == "jwt" %}

ChallengeId = Annotated[int, Path(ge=1, le=MAX_ID)]


async def valid_challenge(user: Reader, session: SessionDep, challenge_id: ChallengeId) -> Challenge:
    """The challenge named by the path parameter, if the caller may see it (access.py): for reads only."""
    return await service.get_challenge(session, challenge_id, owner_filter(user))


async def writable_challenge(user: Writer, session: SessionDep, challenge_id: ChallengeId) -> Challenge:
    """The challenge named by the path parameter, for a route that changes it: the caller holds the write scope and
    created it. Other callers' challenges are 404 even when SHARED_ROWS lets everyone read them."""
    return await service.get_challenge(session, challenge_id, user.subject)


ChallengeDep = Annotated[Challenge, Depends(valid_challenge)]
WritableChallengeDep = Annotated[Challenge, Depends(writable_challenge)]
{%- else %}


async def valid_challenge(session: SessionDep, challenge_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Challenge:
    """The challenge named by the path parameter."""
    return await service.get_challenge(session, challenge_id)


ChallengeDep = Annotated[Challenge, Depends(valid_challenge)]
{%- endif %}
