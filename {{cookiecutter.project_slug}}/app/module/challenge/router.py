"""HTTP routes for challenges."""

from typing import Any

from fastapi import APIRouter, status

from app.database.dependency import SessionDep
from app.database.pagination import DEFAULT_PAGE_SIZE, AfterId, Page, PageSize, page_of
from app.module.challenge import service
from app.module.challenge.dependencies import ChallengeDep
from app.module.challenge.models import Challenge
from app.module.challenge.schemas import ChallengeCreate, ChallengeRead

router = APIRouter(prefix="/challenges", tags=["challenges"])


@router.post("", response_model=ChallengeRead, status_code=status.HTTP_201_CREATED)
async def create_challenge(data: ChallengeCreate, session: SessionDep) -> Challenge:
    """Create a challenge."""
    return await service.create_challenge(session, data)


@router.get("", response_model=Page[ChallengeRead])
async def list_challenges(
    session: SessionDep,
    limit: PageSize = DEFAULT_PAGE_SIZE,
    after_id: AfterId = 0,
) -> dict[str, Any]:
    """List challenges, oldest first, one page at a time (app/database/pagination.py)."""
    return page_of(await service.list_challenges(session, limit, after_id), limit)


@router.get("/{challenge_id}", response_model=ChallengeRead)
async def get_challenge(challenge: ChallengeDep) -> Challenge:
    """Read one challenge."""
    return challenge
