"""The record of every job run to completion: what lets the worker skip a message delivered again."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.database.base import Base
from app.database.types import UTCDateTime, utc_now
from app.jobs.job import NAME_MAX_LENGTH

# A queued job's id is 32 hex digits; a scheduled run's is "schedule:<job name>:<scheduled time>".
JOB_ID_MAX_LENGTH = 200


class JobRun(Base):
    """One completed job, written in the same transaction as the job's own writes."""

    __tablename__ = "job_run"

    id: Mapped[str] = mapped_column(String(JOB_ID_MAX_LENGTH), primary_key=True)
    job: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), nullable=False)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utc_now)
