"""Work on challenges after the response (app/jobs): counting a new challenge's words, and a daily report."""

import logging
from typing import ClassVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs import Job, Schedule
from app.module.challenge.models import Challenge

logger = logging.getLogger(__name__)


def count_words(title: str, description: str | None) -> int:
    """Whitespace-separated words of the title and description together."""
    return len(title.split()) + len((description or "").split())


class CountChallengeWords(Job):
    """Set a challenge's word_count (the create route enqueues it)."""

    name: ClassVar[str] = "challenge.count-words"

    challenge_id: int

    async def run(self, session: AsyncSession) -> None:
        challenge = await session.get(Challenge, self.challenge_id)
        # Gone since it was enqueued: nothing to count.
        if challenge is not None:
            challenge.word_count = count_words(challenge.title, challenge.description)


class DailyChallengeReport(Job):
    """Log how many challenges there are, every day at midnight in Seoul (EventBridge Scheduler)."""

    name: ClassVar[str] = "challenge.daily-report"
    schedule: ClassVar[Schedule | None] = Schedule("cron(0 0 * * ? *)", "Asia/Seoul")

    async def run(self, session: AsyncSession) -> None:
        count = await session.scalar(select(func.count()).select_from(Challenge))
        logger.info("Challenges: %d", count or 0)
