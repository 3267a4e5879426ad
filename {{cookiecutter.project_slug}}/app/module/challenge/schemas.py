"""Request and response bodies for challenges."""

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from app.common.text import NOT_BLANK, PLAIN_TEXT, plain_text
from app.module.challenge import messages

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000


class ChallengeCreate(BaseModel):
    """What a client sends to create a challenge."""

    model_config = ConfigDict(extra="forbid")

    # Lengths count what the client sends; surrounding whitespace is stripped after (see app/common/text.py).
    title: str = Field(max_length=TITLE_MAX_LENGTH, json_schema_extra=NOT_BLANK)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_LENGTH, json_schema_extra=PLAIN_TEXT)

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        title = plain_text(value).strip()
        if not title:
            raise ValueError(messages.BLANK_TITLE)
        return title

    @field_validator("description")
    @classmethod
    def _strip_description(cls, value: str | None) -> str | None:
        return None if value is None else plain_text(value).strip()


class ChallengeRead(BaseModel):
    """A stored challenge."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    # Always with an offset (UTC): RFC 3339, as format date-time promises.
    created_at: AwareDatetime
{%- if cookiecutter.background_jobs == "yes" %}
    # Counted by a job after the challenge is created: null until it ran.
    word_count: int | None
{%- endif %}
