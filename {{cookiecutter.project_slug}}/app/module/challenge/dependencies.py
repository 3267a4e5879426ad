"""Reusable dependencies: load a challenge from the path or answer 404, once, for every route that needs it."""

from typing import Annotated

from fastapi import Depends, Path

from app.database.constant import MAX_ID
from app.database.dependency import SessionDep
from app.module.challenge import service
from app.module.challenge.models import Challenge


async def valid_challenge(session: SessionDep, challenge_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Challenge:
    """The challenge named by the path parameter."""
    return await service.get_challenge(session, challenge_id)


ChallengeDep = Annotated[Challenge, Depends(valid_challenge)]
