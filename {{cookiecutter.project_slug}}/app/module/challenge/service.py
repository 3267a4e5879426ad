"""Challenge use cases; they take a session and know nothing about HTTP."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.database.pagination import keyset_page
from app.module.challenge.exceptions import ChallengeNotFoundError
from app.module.challenge.models import Challenge
from app.module.challenge.schemas import ChallengeCreate


{% if cookiecutter.api_auth == "jwt" -%}
async def create_challenge(session: AsyncSession, data: ChallengeCreate, owner_subject: str) -> Challenge:
    """Store a new challenge owned by owner_subject; the request's transaction commits it."""
    challenge = Challenge(title=data.title, description=data.description, owner_subject=owner_subject)
{%- else -%}
async def create_challenge(session: AsyncSession, data: ChallengeCreate) -> Challenge:
    """Store a new challenge; the request's transaction commits it."""
    challenge = Challenge(title=data.title, description=data.description)
{%- endif %}
    session.add(challenge)
    await session.flush()
    await session.refresh(challenge)
    return challenge


{% if cookiecutter.api_auth == "jwt" -%}
async def list_challenges(
    session: AsyncSession, limit: int, after_id: int, owner_subject: str | None
) -> Sequence[Challenge]:
    """Challenges of owner_subject (everyone's when None) with an id above after_id, in id order: up to limit, and
    one more if another page follows."""
    statement = select(Challenge)
    if owner_subject is not None:
        statement = statement.where(Challenge.owner_subject == owner_subject)
    result = await session.scalars(keyset_page(statement, Challenge.id, limit, after_id))
    return result.all()


async def get_challenge(session: AsyncSession, challenge_id: int, owner_subject: str | None) -> Challenge:
    """The challenge with this id owned by owner_subject (anyone's when None), or ChallengeNotFoundError."""
    challenge = await session.get(Challenge, challenge_id)
    if challenge is None or (owner_subject is not None and challenge.owner_subject != owner_subject):
        raise ChallengeNotFoundError(challenge_id)
    return challenge
{%- else -%}
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
{%- endif %}
