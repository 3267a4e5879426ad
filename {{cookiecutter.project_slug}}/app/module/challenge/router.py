"""HTTP routes for challenges."""

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.database.constant import MAX_OFFSET
from app.database.dependency import SessionDep
from app.module.challenge import service
from app.module.challenge.dependencies import ChallengeDep
from app.module.challenge.models import Challenge
from app.module.challenge.schemas import ChallengeCreate, ChallengeRead

router = APIRouter(prefix="/challenges", tags=["challenges"])


@router.post("", response_model=ChallengeRead, status_code=status.HTTP_201_CREATED)
async def create_challenge(data: ChallengeCreate, session: SessionDep) -> Challenge:
    """Create a challenge."""
    return await service.create_challenge(session, data)


@router.get("", response_model=list[ChallengeRead])
async def list_challenges(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Sequence[Challenge]:
    """List challenges, oldest first."""
    return await service.list_challenges(session, limit, offset)


@router.get("/{challenge_id}", response_model=ChallengeRead)
async def get_challenge(challenge: ChallengeDep) -> Challenge:
    """Read one challenge."""
    return challenge
