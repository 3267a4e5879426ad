"""Request and response bodies for challenges."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.common import messages

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000


class ChallengeCreate(BaseModel):
    """What a client sends to create a challenge."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    title: str = Field(max_length=TITLE_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX_LENGTH)

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        if not value:
            raise ValueError(messages.BLANK_TITLE)
        return value


class ChallengeRead(BaseModel):
    """A stored challenge."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    created_at: datetime
