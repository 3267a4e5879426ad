"""The challenge table."""

from datetime import datetime

{% if cookiecutter.api_auth == "jwt" -%}
from sqlalchemy import Index, Integer, String, Text
{%- else -%}
from sqlalchemy import Integer, String, Text
{%- endif %}
from sqlalchemy.orm import Mapped, mapped_column

{% if cookiecutter.api_auth == "jwt" -%}
from app.auth.claims import SUBJECT_MAX_LENGTH
{% endif -%}
from app.database.base import Base
{% if cookiecutter.api_auth == "jwt" -%}
from app.database.types import UTCDateTime, exact_string, utc_now
{%- else -%}
from app.database.types import UTCDateTime, utc_now
{%- endif %}


class Challenge(Base):
    """A challenge people can take part in."""

    __tablename__ = "challenge"
{%- if cookiecutter.api_auth == "jwt" %}
    # A caller's page of its own challenges reads this index alone (app/database/pagination.py).
    __table_args__ = (Index("ix_challenge_owner_subject_id", "owner_subject", "id"), Base.__table_args__)
{%- endif %}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utc_now)
{%- if cookiecutter.background_jobs == "yes" %}
    # Words in the title and description, counted after the response by the job challenge.count-words (jobs.py):
    # null until it ran.
    word_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
{%- endif %}
{%- if cookiecutter.api_auth == "jwt" %}
    # The token subject (`sub`) of the caller that created it (app/module/challenge/access.py), compared byte for byte
    # (app/database/types.py).
    owner_subject: Mapped[str] = mapped_column(exact_string(SUBJECT_MAX_LENGTH), nullable=False)
{%- endif %}
