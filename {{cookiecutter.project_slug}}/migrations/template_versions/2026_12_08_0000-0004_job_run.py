"""Record every completed job, so that a message delivered again is not run twice.

Revision ID: 0004
Revises:{% if cookiecutter.include_example_module == "yes" %} {{ "0003" if cookiecutter.api_auth == "jwt" else "0001" }}{% endif %}
Create Date: 2026-12-08 00:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
{%- if cookiecutter.include_example_module == "yes" %}
# After the example module's last revision, so that the template's revisions have one head.
down_revision: str | Sequence[str] | None = "{{ "0003" if cookiecutter.api_auth == "jwt" else "0001" }}"
{%- else %}
down_revision: str | Sequence[str] | None = None
{%- endif %}
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "job_run",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        # UTC without offset (app.database.types.UTCDateTime), set by the app.
        sa.Column("completed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_run")),
        mysql_charset="utf8mb4",
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("job_run")
