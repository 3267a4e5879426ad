"""Reusable dependencies: load a challenge from the path or answer 404, once, for every route that needs it."""

from typing import Annotated

from fastapi import Depends, Path

from app.database.constant import MAX_ID
from app.database.dependency import SessionDep
from app.module.challenge import service
{%- if cookiecutter.api_auth == "jwt" %}
from app.module.challenge.access import Reader, row_owner
{%- endif %}
from app.module.challenge.models import Challenge


{% if cookiecutter.api_auth == "jwt" -%}
async def valid_challenge(
    user: Reader, session: SessionDep, challenge_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> Challenge:
    """The challenge named by the path parameter, if the caller may see it (access.py)."""
    return await service.get_challenge(session, challenge_id, row_owner(user))
{%- else -%}
async def valid_challenge(session: SessionDep, challenge_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Challenge:
    """The challenge named by the path parameter."""
    return await service.get_challenge(session, challenge_id)
{%- endif %}


ChallengeDep = Annotated[Challenge, Depends(valid_challenge)]
