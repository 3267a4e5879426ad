"""HTTP routes for challenges."""

from typing import Any

from fastapi import APIRouter, status

from app.database.dependency import SessionDep
from app.database.pagination import DEFAULT_PAGE_SIZE, AfterId, Page, PageSize, page_of
{%- if cookiecutter.background_jobs == "yes" %}
from app.jobs import enqueue
{%- endif %}
from app.module.challenge import service
{%- if cookiecutter.api_auth == "jwt" %}
from app.module.challenge.access import Reader, Writer, owner_filter
{%- endif %}
from app.module.challenge.dependencies import ChallengeDep
from app.module.challenge.models import Challenge
from app.module.challenge.schemas import ChallengeCreate, ChallengeRead

router = APIRouter(prefix="/challenges", tags=["challenges"])


@router.post("", response_model=ChallengeRead, status_code=status.HTTP_201_CREATED)
{% if cookiecutter.api_auth == "jwt" -%}
async def create_challenge(user: Writer, data: ChallengeCreate, session: SessionDep) -> Challenge:
{%- if cookiecutter.background_jobs == "yes" %}
    """Create a challenge owned by the caller (scope challenge/write); its words are counted after the response."""
    challenge = await service.create_challenge(session, data, user.subject)
{%- else %}
    """Create a challenge owned by the caller (scope challenge/write)."""
    return await service.create_challenge(session, data, user.subject)
{%- endif %}
{%- else -%}
async def create_challenge(data: ChallengeCreate, session: SessionDep) -> Challenge:
{%- if cookiecutter.background_jobs == "yes" %}
    """Create a challenge; its words are counted after the response."""
    challenge = await service.create_challenge(session, data)
{%- else %}
    """Create a challenge."""
    return await service.create_challenge(session, data)
{%- endif %}
{%- endif %}
{%- if cookiecutter.background_jobs == "yes" %}
    # Committed first: the job runs in a transaction of its own, which sees committed rows only (the session's own
    # commit after the route then has nothing left to do).
    await session.commit()
    # Imported here: building the module's job classes (and checking their schedules) stays out of the cold start.
    from app.module.challenge.jobs import CountChallengeWords

    await enqueue(CountChallengeWords(challenge_id=challenge.id))
    return challenge
{%- endif %}


@router.get("", response_model=Page[ChallengeRead])
async def list_challenges(
{%- if cookiecutter.api_auth == "jwt" %}
    user: Reader,
{%- endif %}
    session: SessionDep,
    limit: PageSize = DEFAULT_PAGE_SIZE,
    after_id: AfterId = 0,
) -> dict[str, Any]:
{%- if cookiecutter.api_auth == "jwt" %}
    """List the caller's challenges, oldest first, one page at a time (app/database/pagination.py)."""
    return page_of(await service.list_challenges(session, limit, after_id, owner_filter(user)), limit)
{%- else %}
    """List challenges, oldest first, one page at a time (app/database/pagination.py)."""
    return page_of(await service.list_challenges(session, limit, after_id), limit)
{%- endif %}


@router.get("/{challenge_id}", response_model=ChallengeRead)
async def get_challenge(challenge: ChallengeDep) -> Challenge:
    """Read one challenge."""
    return challenge
