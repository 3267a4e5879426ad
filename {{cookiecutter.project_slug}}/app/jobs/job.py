"""What a job is: a frozen pydantic model (its payload) with a unique name, an async handler and maybe a schedule.

Definitions are checked when the class is created, so a bad name or schedule stops the app, the worker and
`make jobs` at import with a message naming the job, instead of failing at deployment or, worse, at 3 a.m.
"""

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict

from app.common import messages

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

# The job_run table's column holds the name (app/jobs/models.py).
NAME_MAX_LENGTH = 100
NAME = re.compile("[a-z][a-z0-9._-]*")
# EventBridge Scheduler's expressions ("Schedule types on EventBridge Scheduler"): cron with six fields (minutes,
# hours, day of month, month, day of week, year), one of the two days being "?", or rate with a positive amount.
CRON_FIELDS = (
    re.compile(r"[0-9,*/-]+"),
    re.compile(r"[0-9,*/-]+"),
    re.compile(r"[0-9,*/?LW-]+"),
    re.compile(r"[0-9A-Za-z,*/-]+"),
    re.compile(r"[0-9A-Za-z,*/?L#-]+"),
    re.compile(r"[0-9,*/-]+"),
)
CRON = re.compile(r"cron\((.*)\)")
RATE = re.compile(r"rate\(([1-9][0-9]*) (minute|hour|day)(s?)\)")


class JobDefinitionError(TypeError):
    """A Job subclass that cannot be run as declared; the message names the job, the value and what is allowed."""


@dataclass(frozen=True)
class Schedule:
    """When EventBridge Scheduler runs a job: `cron(0 0 * * ? *)` or `rate(6 hours)`, in the named time zone (cron
    only: a rate does not depend on it)."""

    expression: str
    timezone: str = "UTC"


def valid_expression(expression: str) -> bool:
    """True for an EventBridge Scheduler cron(...) of six fields or rate(N unit)."""
    if rate := RATE.fullmatch(expression):
        # The unit is singular for 1 and plural otherwise, as Scheduler requires.
        return (rate.group(1) == "1") == (rate.group(3) == "")
    cron = CRON.fullmatch(expression)
    if cron is None:
        return False
    fields = cron.group(1).split(" ")
    if len(fields) != len(CRON_FIELDS):
        return False
    if not all(rule.fullmatch(field) for rule, field in zip(CRON_FIELDS, fields, strict=True)):
        return False
    return (fields[2] == "?") != (fields[4] == "?")


def known_timezone(name: str) -> bool:
    """True for an IANA time zone name the time zone database knows, and for any name where there is no database to
    ask: Lambda's minimal runtime images may have none, and only EventBridge Scheduler reads the zone (the packaging
    machine, which writes the schedules, checks it with its own database)."""
    try:
        ZoneInfo(name)
    except ValueError:
        return False
    except ZoneInfoNotFoundError:
        return not available_timezones()
    return True


class Job(BaseModel):
    """A named, typed payload with one async handler. Subclasses set `name` (unique across the app, e.g.
    "challenge.count-words"), declare their payload as fields, and implement `run`.

    `run` gets the worker's session, inside a transaction committed after it returns together with the record that
    the job ran (so a job that writes is never half done nor done twice). A message can be delivered more than once:
    make `run` idempotent, and treat a row that is gone as nothing to do.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str]
    schedule: ClassVar[Schedule | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        job = f"{cls.__module__}.{cls.__qualname__}"
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not NAME.fullmatch(name) or len(name) > NAME_MAX_LENGTH:
            raise JobDefinitionError(messages.INVALID_JOB_NAME.format(job=job, value=name, length=NAME_MAX_LENGTH))
        if cls.schedule is None:
            return
        if not valid_expression(cls.schedule.expression):
            raise JobDefinitionError(messages.INVALID_JOB_SCHEDULE.format(job=job, value=cls.schedule.expression))
        if not known_timezone(cls.schedule.timezone):
            raise JobDefinitionError(messages.INVALID_JOB_TIMEZONE.format(job=job, value=cls.schedule.timezone))
        required = [field for field, info in cls.model_fields.items() if info.is_required()]
        if required:
            raise JobDefinitionError(
                messages.SCHEDULED_JOB_WITH_REQUIRED_FIELDS.format(job=job, fields=", ".join(required))
            )

    async def run(self, session: "AsyncSession") -> None:
        """Do the job's work in the worker's transaction (committed after this returns; an exception rolls it back
        and the message is retried)."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement run()")
