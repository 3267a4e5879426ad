"""FastAPI dependency that gives each request one AsyncSession and one transaction."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.database.config import get_sessionmaker


async def get_session() -> AsyncIterator[AsyncSession]:
    """Yield a session; commit when the request succeeds, roll back when it raises."""
    async with get_sessionmaker()() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


# scope="function": commit before the response is sent, so a failed commit is a 500 rather than a success the
# client was already told about (FastAPI's default runs this exit code after the response).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
