"""Challenge use cases; they take a session and know nothing about HTTP."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.database.pagination import keyset_page
from app.module.challenge.exceptions import ChallengeNotFoundError
from app.module.challenge.models import Challenge
from app.module.challenge.schemas import ChallengeCreate


async def create_challenge(session: AsyncSession, data: ChallengeCreate) -> Challenge:
    """Store a new challenge; the request's transaction commits it."""
    challenge = Challenge(title=data.title, description=data.description)
    session.add(challenge)
    await session.flush()
    await session.refresh(challenge)
    return challenge


async def list_challenges(session: AsyncSession, limit: int, after_id: int) -> Sequence[Challenge]:
    """Challenges with an id above after_id, in id order: up to limit, and one more if another page follows."""
    result = await session.scalars(keyset_page(select(Challenge), Challenge.id, limit, after_id))
    return result.all()


async def get_challenge(session: AsyncSession, challenge_id: int) -> Challenge:
    """The challenge with this id, or ChallengeNotFoundError."""
    challenge = await session.get(Challenge, challenge_id)
    if challenge is None:
        raise ChallengeNotFoundError(challenge_id)
    return challenge
